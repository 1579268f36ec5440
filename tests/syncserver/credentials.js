'use strict';
// Inputs for the test tokenserver: BrowserID assertions, FxA OAuth access
// tokens (JWT) and X-KeyID values. They look like the real thing (same
// structure, same claims) but carry random signatures: the test tokenserver
// decodes them without checking signatures.

const crypto = require('node:crypto');

const SYNC_SCOPE = 'https://identity.mozilla.com/apps/oldsync';

// Every assertion and token made in this process, for tests that check no
// log holds one (tests/lib/stack.js).
const made = [];
const FXA_DOMAIN = 'api.accounts.firefox.com';

function b64url(buf) {
  return Buffer.from(buf).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function jwt(header, payload, sigBytes) {
  return b64url(JSON.stringify(header)) + '.' + b64url(JSON.stringify(payload)) + '.' +
    b64url(crypto.randomBytes(sigBytes));
}

/** A random FxA user id: 32 lowercase hex characters. */
function randomFxaUid() {
  return crypto.randomBytes(16).toString('hex');
}

/**
 * Backed BrowserID assertion "<cert JWT>~<assertion JWT>".
 * opts: email (default "<fxaUid>@api.accounts.firefox.com"), fxaUid,
 *       expMs (assertion exp, ms; default now + 1 h), certExpMs (default
 *       expMs), aud (default "http://127.0.0.1/"), generation,
 *       keysChangedAt, tokenVerified, issuer.
 */
function makeBrowserIdAssertion(opts) {
  const o = opts || {};
  const now = Date.now();
  const fxaUid = o.fxaUid || randomFxaUid();
  const email = o.email || fxaUid + '@' + FXA_DOMAIN;
  const expMs = o.expMs !== undefined ? o.expMs : now + 3600 * 1000;
  const certExpMs = o.certExpMs !== undefined ? o.certExpMs : expMs;
  const cert = {
    'public-key': { algorithm: 'DS', y: crypto.randomBytes(64).toString('hex'), p: 'ff', q: 'e2', g: '02' },
    principal: { email },
    iat: now - 10000,
    exp: certExpMs,
    'fxa-generation': o.generation !== undefined ? o.generation : now - 60000,
    'fxa-lastAuthAt': Math.floor(now / 1000) - 60,
    'fxa-verifiedEmail': 'user@example.com',
    iss: o.issuer || FXA_DOMAIN,
  };
  if (o.keysChangedAt !== undefined) cert['fxa-keysChangedAt'] = o.keysChangedAt;
  if (o.tokenVerified !== undefined) cert['fxa-tokenVerified'] = o.tokenVerified;
  const assertion = { exp: expMs, aud: o.aud !== undefined ? o.aud : 'http://127.0.0.1/' };
  const out = jwt({ alg: 'RS256' }, cert, 256) + '~' + jwt({ alg: 'DS128' }, assertion, 40);
  made.push({ kind: 'BrowserID assertion', value: out });
  return out;
}

/**
 * FxA OAuth access token as a JWT.
 * opts: sub (default random fxa uid), scope (default "profile" + the
 *       oldsync scope), expSec (exp, seconds; default now + 1 h),
 *       generation (fxa-generation claim), clientId.
 */
function makeOAuthToken(opts) {
  const o = opts || {};
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: 'https://accounts.firefox.com',
    sub: o.sub || randomFxaUid(),
    aud: 'https://token.services.mozilla.com',
    client_id: o.clientId || '5882386c6d801776',
    scope: o.scope !== undefined ? o.scope : 'profile ' + SYNC_SCOPE,
    iat: now,
    exp: o.expSec !== undefined ? o.expSec : now + 3600,
    jti: crypto.randomBytes(16).toString('hex'),
  };
  if (o.generation !== undefined) claims['fxa-generation'] = o.generation;
  const out = jwt({ alg: 'RS256', typ: 'at+jwt', kid: 'test' }, claims, 256);
  made.push({ kind: 'OAuth token', value: out });
  return out;
}

/** [{kind, value}] of every assertion and token made so far in this process. */
function madeCredentials() {
  return made.slice();
}

/**
 * X-KeyID value: keysChangedAt zero-padded to 13 digits, "-", then the
 * client-state bytes in URL-safe base64 without padding.
 * keyIdFor('601c4497372419ee1789bf931f8c68f5', 1444122508836)
 *   === '1444122508836-YBxElzckGe4Xib-TH4xo9Q'
 */
function keyIdFor(clientStateHex, keysChangedAt) {
  if (!/^([0-9a-fA-F]{2})+$/.test(clientStateHex)) throw new Error('client state must be hex');
  const kca = keysChangedAt !== undefined ? keysChangedAt : 0;
  if (!Number.isSafeInteger(kca) || kca < 0) throw new Error('keysChangedAt must be a non-negative integer');
  return String(kca).padStart(13, '0') + '-' + b64url(Buffer.from(clientStateHex, 'hex'));
}

/** Client state for a Sync key kB: hex of the first 16 bytes of SHA-256(kB). */
function clientStateFromKb(kB) {
  const bytes = typeof kB === 'string' ? Buffer.from(kB, 'hex') : kB;
  return crypto.createHash('sha256').update(bytes).digest().subarray(0, 16).toString('hex');
}

/** A random 32-hex client state. */
function randomClientState() {
  return crypto.randomBytes(16).toString('hex');
}

module.exports = {
  SYNC_SCOPE,
  madeCredentials,
  makeBrowserIdAssertion,
  makeOAuthToken,
  keyIdFor,
  clientStateFromKb,
  randomClientState,
  randomFxaUid,
};
