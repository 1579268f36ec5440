'use strict';
// Tokenserver 1.0: GET /token/1.0/sync/1.5 with either
//   Authorization: Bearer <JWT>  + X-KeyID  [+ X-Client-State]   (rs)
//   Authorization: BrowserID <cert~assertion> + X-Client-State    (py-token)
// plus /token/__heartbeat__ and /token/__lbheartbeat__. Test credentials are
// decoded, never signature-checked; everything else (scope, expiry, key id
// syntax, client-state cross-check, duration rule, error bodies) follows
// the real servers.

const crypto = require('node:crypto');
const tokenlib = require('./tokenlib');
const { b64urlEncode, b64urlDecodeNoPad, b64urlDecodeLoose, parseQuery } = require('./util');

const VERSION = '0.21.1';
const SYNC_SCOPE = 'https://identity.mozilla.com/apps/oldsync';
const CLIENT_STATE_RE = /^[a-zA-Z0-9._-]{1,32}$/;

function tsError(ctx, status, statusName, location, name, description, headers) {
  ctx.json(status, { status: statusName, errors: [{ location, name, description }] }, headers);
}

const unauthorized = (ctx, statusName) => tsError(ctx, 401, statusName, 'body', '', 'Unauthorized');

// Maps (fxa uid, client state) to a stable storage uid of at most 10 digits
// (rs routes accept /1.5/{uid:[0-9]{1,10}}). Derived from a hash so that the
// same identity gets the same uid in every run; a uid already in use (by
// another identity, or seeded directly by number) moves to the next free one.
function uidFor(state, fxaUid, clientState) {
  const key = fxaUid + '\n' + clientState;
  const known = state.identities.get(key);
  if (known !== undefined) return known;
  const h = crypto.createHash('sha256').update(key).digest();
  let n = (h.readUInt32BE(0) % 2000000000) + 1;
  while (state.uidOwners.has(n) || state.users.has(String(n))) n++; // taken, or seeded by raw uid
  state.identities.set(key, n);
  state.uidOwners.set(n, key);
  return n;
}

function decodeJwtPayload(jwt) {
  const parts = jwt.split('.');
  if (parts.length !== 3 || !parts[0] || !parts[1]) return null;
  const raw = b64urlDecodeLoose(parts[1]);
  if (!raw) return null;
  try {
    const obj = JSON.parse(raw.toString('utf8'));
    return obj && typeof obj === 'object' && !Array.isArray(obj) ? obj : null;
  } catch (e) {
    return null;
  }
}

function pad13(n) {
  return String(n).padStart(13, '0');
}

// Bearer flow. Returns {fxaUid, clientState, fxaKid, generation} or null
// after answering.
function oauthIdentity(ctx, token) {
  const claims = decodeJwtPayload(token);
  const scopes = claims && typeof claims.scope === 'string' ? claims.scope.split(/[\s,]+/) : [];
  if (!claims || typeof claims.sub !== 'string' || claims.sub === '' || typeof claims.exp !== 'number' ||
      !scopes.includes(SYNC_SCOPE) || claims.exp * 1000 <= Date.now()) {
    unauthorized(ctx, 'invalid-credentials');
    return null;
  }
  const kid = ctx.headers['x-keyid'];
  if (kid === undefined) {
    tsError(ctx, 401, 'invalid-key-id', 'header', '', 'Missing X-KeyID header');
    return null;
  }
  const dash = kid.indexOf('-');
  const kcaText = dash === -1 ? '' : kid.slice(0, dash);
  const stateBytes = dash === -1 ? null : b64urlDecodeNoPad(kid.slice(dash + 1));
  if (!/^\d{1,18}$/.test(kcaText) || !stateBytes || stateBytes.length === 0) {
    unauthorized(ctx, 'invalid-credentials');
    return null;
  }
  const clientState = stateBytes.toString('hex');
  const sent = ctx.headers['x-client-state'];
  if (sent !== undefined) {
    if (!CLIENT_STATE_RE.test(sent)) {
      tsError(ctx, 400, 'error', 'header', 'X-Client-State', 'Invalid client state value');
      return null;
    }
    if (sent !== clientState) {
      unauthorized(ctx, 'invalid-client-state');
      return null;
    }
  }
  return {
    fxaUid: claims.sub,
    clientState,
    fxaKid: pad13(Number(kcaText)) + '-' + b64urlEncode(stateBytes, false),
  };
}

// BrowserID flow (legacy py-token). Returns the identity or null after
// answering.
function browseridIdentity(ctx, assertion) {
  const state = ctx.state;
  const sent = ctx.headers['x-client-state'];
  if (sent !== undefined && !CLIENT_STATE_RE.test(sent)) {
    tsError(ctx, 400, 'error', 'header', 'X-Client-State', 'Invalid client state value');
    return null;
  }
  const parts = assertion.split('~');
  const cert = parts.length >= 2 ? decodeJwtPayload(parts[0]) : null;
  const claim = parts.length >= 2 ? decodeJwtPayload(parts[parts.length - 1]) : null;
  const email = cert && cert.principal && typeof cert.principal.email === 'string' ? cert.principal.email : '';
  const at = email.indexOf('@');
  if (!cert || !claim || at <= 0 || typeof cert.exp !== 'number' || typeof claim.exp !== 'number' ||
      cert['fxa-tokenVerified'] === false ||
      (state.config.browseridAudience !== null && claim.aud !== state.config.browseridAudience)) {
    unauthorized(ctx, 'invalid-credentials');
    return null;
  }
  const now = Date.now();
  if (cert.exp < now || claim.exp < now) {
    tsError(ctx, 401, 'invalid-timestamp', 'body', '', 'Unauthorized', { 'X-Timestamp': String(Math.floor(now / 1000)) });
    return null;
  }
  const clientState = sent === undefined ? '' : sent;
  const kca = Number.isSafeInteger(cert['fxa-keysChangedAt']) ? cert['fxa-keysChangedAt']
    : Number.isSafeInteger(cert['fxa-generation']) ? cert['fxa-generation'] : 0;
  const stateBytes = /^([0-9a-fA-F]{2})*$/.test(clientState) ? Buffer.from(clientState, 'hex') : Buffer.from(clientState);
  return {
    fxaUid: email.slice(0, at),
    clientState,
    fxaKid: pad13(kca) + '-' + b64urlEncode(stateBytes, false),
  };
}

function issueToken(ctx, ident) {
  const state = ctx.state;
  const q = parseQuery(ctx.rawQuery);
  let duration = state.config.tokenDuration;
  if (q.duration !== undefined && /^\d{1,15}$/.test(q.duration) && Number(q.duration) <= duration) {
    duration = Number(q.duration);
  }
  const now = Date.now();
  const uid = uidFor(state, ident.fxaUid, ident.clientState);
  const hashedFxaUid = crypto.createHmac('sha256', state.metricsSecret).update(ident.fxaUid).digest('hex').slice(0, 32);
  const hashedDevice = crypto.createHmac('sha256', state.metricsSecret).update(ident.fxaUid + 'none').digest('hex');
  const { id, key } = tokenlib.makeToken(state.secret, {
    uid,
    node: state.nodeUrl,
    expires: Math.floor(now / 1000) + duration,
    fxa_uid: ident.fxaUid,
    fxa_kid: ident.fxaKid,
    hashed_fxa_uid: hashedFxaUid,
    hashed_device_id: hashedDevice,
  });
  state.tokens.set(id, { issuedAt: now, uid, key });
  ctx.json(200, {
    id,
    key,
    uid,
    api_endpoint: state.nodeUrl + '/1.5/' + uid,
    duration,
    hashalg: 'sha256',
    hashed_fxa_uid: hashedFxaUid,
    node_type: state.config.nodeType,
  }, { 'X-Timestamp': String(Math.floor(now / 1000)), 'X-Content-Type-Options': 'nosniff' });
}

function handle(ctx) {
  const p = ctx.rawPath.slice('/token'.length);
  if (p === '/__heartbeat__') {
    ctx.json(200, { version: VERSION, database: 'Ok', status: 'Ok' });
    return;
  }
  if (p === '/__lbheartbeat__') {
    ctx.json(200, {});
    return;
  }
  const m = /^\/1\.0\/([^/]+)\/([^/]+)$/.exec(p);
  if (!m) {
    tsError(ctx, 404, 'error', 'url', '', 'Not Found');
    return;
  }
  if (ctx.method !== 'GET') {
    tsError(ctx, 405, 'error', 'url', '', 'Method Not Allowed');
    return;
  }
  if (m[1] !== 'sync') {
    tsError(ctx, 404, 'error', 'url', 'application', 'Unsupported application');
    return;
  }
  if (m[2] !== '1.5') {
    tsError(ctx, 404, 'error', 'url', m[2], 'Unsupported application version');
    return;
  }
  const auth = ctx.headers.authorization;
  const sp = auth === undefined ? -1 : auth.indexOf(' ');
  if (sp <= 0 || auth.slice(sp + 1).trim() === '') {
    tsError(ctx, 401, 'error', 'body', '', 'Unauthorized');
    return;
  }
  const scheme = auth.slice(0, sp).toLowerCase();
  const credential = auth.slice(sp + 1).trim();
  let ident = null;
  if (scheme === 'bearer') {
    ident = oauthIdentity(ctx, credential);
  } else if (scheme === 'browserid' && ctx.state.config.browserid) {
    ident = browseridIdentity(ctx, credential);
  } else {
    tsError(ctx, 401, 'error', 'body', '', 'Unsupported');
    return;
  }
  if (ident) issueToken(ctx, ident);
}

module.exports = { handle, uidFor, SYNC_SCOPE, VERSION };
