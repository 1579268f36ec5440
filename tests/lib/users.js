'use strict';
// Test identities for both authentication flows. Each call makes a new
// Firefox Account (fxaUid) with a new Sync key (client state, which is also
// its Kinto bucket), unknown to the test Sync server until first used.
//
//   const { bearerUser, browserIdUser } = require('../lib/users');
//   const u = bearerUser();
//   await fetch(`${stack.v1}/buckets/${u.bucket}/collections/tabs/records`, { headers: u.headers });

const creds = require('../syncserver/credentials');

/** keys_changed_at in the X-KeyID of Bearer identities. */
const KCA = 1444122508836;

/**
 * A BrowserID identity: {fxaUid, clientState, bucket, assertion, auth,
 * headers}, auth being the Authorization value. opts go to
 * makeBrowserIdAssertion (e.g. expMs); fxaUid is random unless given.
 */
function browserIdUser(opts = {}) {
  const fxaUid = opts.fxaUid || creds.randomFxaUid();
  const clientState = creds.randomClientState();
  const assertion = creds.makeBrowserIdAssertion({ ...opts, fxaUid });
  const auth = `BrowserID ${assertion}`;
  return { fxaUid, clientState, bucket: clientState, assertion, auth, headers: { Authorization: auth } };
}

/**
 * An FxA OAuth identity: {fxaUid, clientState, bucket, token, keyId, auth,
 * headers}; the headers carry the Bearer token and the X-KeyID of its
 * client state. opts go to makeOAuthToken (e.g. expSec); its subject is
 * fxaUid, random unless opts.sub is given.
 */
function bearerUser(opts = {}) {
  const fxaUid = opts.sub || creds.randomFxaUid();
  const clientState = creds.randomClientState();
  const token = creds.makeOAuthToken({ ...opts, sub: fxaUid });
  const keyId = creds.keyIdFor(clientState, KCA);
  const auth = `Bearer ${token}`;
  return { fxaUid, clientState, bucket: clientState, token, keyId, auth, headers: { Authorization: auth, 'X-KeyID': keyId } };
}

module.exports = { KCA, bearerUser, browserIdUser };
