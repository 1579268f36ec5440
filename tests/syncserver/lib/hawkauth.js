'use strict';
// Hawk verification of storage requests, in go-syncstorage's order and with
// its statuses and messages (as go-syncstorage answers):
//   no Authorization            -> 401 + Www-Authenticate: Hawk
//   malformed header            -> 403 "Hawk: Malformed hawk header, ..."
//   replayed nonce              -> 403 "Hawk: Replay nonce=..." + Www-Authenticate
//   id not signed by our secret -> 401 "Hawk: Invalid token: ..."
//   ts off by more than skewSec -> 403 "Hawk: timestamp skew too large N.NNN"
//   bad MAC                     -> 403 "Hawk: auth invalid: hawk: invalid MAC"
//   uid in URL != token uid     -> 401 "Hawk: UID in URL (a) != Token UID (b)"
//   hash without Content-Type   -> 400; hash mismatch -> 403
// The MAC and payload hash themselves are checked by the npm `hawk` package
// (server.authenticate / server.authenticatePayload). Host and port come
// from the Host header; with no port there, 443 is assumed even over plain
// HTTP, as go-syncstorage does.
//
// After Hawk succeeds, two token-expiry rules may answer 401 with the bare
// body 0 (rs style): tokens issued before a control cut-off, and, when
// `enforceTokenExpiry` is set, tokens whose `expires` has passed (except
// GET info/collections, as rs does).

const hawk = require('hawk');
const tokenlib = require('./tokenlib');
const { fmtTs } = require('./util');

const NONCE_WINDOW_MS = 120000;
const HUGE_SKEW_SEC = 10 * 365 * 86400; // skew is checked before calling hawk

// go's extractReqHostPort on a server-side request: "host:port" is split,
// a bare host gets port 443 (the request URL has no scheme server-side).
function hostPort(hostHeader) {
  const h = hostHeader || '';
  if (!h.includes(':')) return { host: h, port: '443' };
  const m = /^\[([^\]]*)\]:(\d*)$/.exec(h) || /^([^:]*):(\d*)$/.exec(h);
  if (!m) return { host: '', port: '443' };
  return { host: m[1], port: m[2] === '' ? '443' : m[2] };
}

function sweepNonces(nonces, now) {
  for (const [k, seen] of nonces) {
    if (now - seen <= NONCE_WINDOW_MS) break;
    nonces.delete(k);
  }
}

// Returns {payload, uid} on success; otherwise answers and returns null.
async function authenticate(ctx, decodedPath) {
  const state = ctx.state;
  const cfg = state.config;
  const verdict = { ok: false };
  if (ctx.entry) ctx.entry.hawk = verdict;

  const fail = (status, msg, wwwAuth) => {
    verdict.status = status;
    verdict.error = msg;
    const h = { 'Content-Type': 'application/json' };
    if (wwwAuth) h['Www-Authenticate'] = 'Hawk';
    ctx.send(status, h, JSON.stringify({ err: msg }));
    return null;
  };
  const malformed = (field, err) => fail(403, 'Hawk: Malformed hawk header, field: ' + field + ', err: ' + err, false);

  const header = ctx.headers.authorization;
  if (!header) return fail(401, 'Hawk: AuthError: hawk: no Authorization header or bewit parameter found', true);
  if (header.length < 4 || header.slice(0, 4).toLowerCase() !== 'hawk') return malformed('scheme', 'must be Hawk');

  let attrs;
  try {
    attrs = hawk.utils.parseAuthorizationHeader(header);
  } catch (e) {
    const msg = (e.output && e.output.payload && e.output.payload.message) || e.message;
    const fm = /: (\w+)$/.exec(msg);
    return malformed(fm ? fm[1] : 'header', msg);
  }
  if (!attrs.id) return malformed('id', 'missing or empty');
  if (!attrs.ts || !/^\d+$/.test(attrs.ts)) return malformed('ts', attrs.ts ? 'not an integer' : 'missing, empty, or zero');
  if (!attrs.nonce) return malformed('nonce', 'missing or empty');
  if (!attrs.mac) return malformed('mac', 'missing or empty');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(attrs.mac) || attrs.mac.length % 4 !== 0) return malformed('mac', 'malformed base64 encoding');
  if (attrs.hash !== undefined && (!/^[A-Za-z0-9+/]*={0,2}$/.test(attrs.hash) || attrs.hash.length % 4 !== 0)) {
    return malformed('hash', 'malformed base64 encoding');
  }
  verdict.id = attrs.id;
  verdict.ts = Number(attrs.ts);
  verdict.nonce = attrs.nonce;
  verdict.hash = attrs.hash !== undefined;

  const now = Date.now();
  if (cfg.checkNonce) {
    sweepNonces(state.nonces, now);
    const nkey = attrs.nonce + '\n' + attrs.ts + '\n' + attrs.id;
    if (state.nonces.has(nkey)) {
      return fail(403, 'Hawk: Replay nonce=' + attrs.nonce, true);
    }
    state.nonces.set(nkey, now);
  }

  let token;
  try {
    token = tokenlib.parseToken(state.secret, attrs.id);
  } catch (e) {
    return fail(401, 'Hawk: Invalid token: ' + e.message, false);
  }
  const tokenUid = String(token.payload.uid);
  verdict.tokenUid = tokenUid;

  const skew = (now - Number(attrs.ts) * 1000) / 1000;
  if (Math.abs(skew) > cfg.skewSec) return fail(403, 'Hawk: timestamp skew too large ' + skew.toFixed(3), true);

  const { host, port } = hostPort(ctx.headers.host);
  const resource = cfg.hawkResource === 'raw'
    ? ctx.rawPath + (ctx.hasQuery ? '?' + ctx.rawQuery : '')
    : decodedPath + (ctx.rawQuery !== '' ? '?' + ctx.rawQuery : '');
  verdict.host = host;
  verdict.port = port;
  verdict.resource = resource;
  const credentials = { key: token.key, algorithm: 'sha256', uid: tokenUid };
  let artifacts;
  try {
    const result = await hawk.server.authenticate(
      {
        method: ctx.method,
        url: resource,
        host,
        port,
        authorization: header,
        contentType: ctx.headers['content-type'] || '',
      },
      async () => credentials,
      { timestampSkewSec: HUGE_SKEW_SEC },
    );
    artifacts = result.artifacts;
  } catch (e) {
    const msg = (e.output && e.output.payload && e.output.payload.message) || e.message;
    if (msg === 'Bad mac') return fail(403, 'Hawk: auth invalid: hawk: invalid MAC', true);
    return malformed('header', msg);
  }

  if (decodedPath.startsWith('/1.5/')) {
    const m = /\/1\.5\/([0-9]+)/.exec(decodedPath);
    const pathUid = m ? m[1] : '';
    if (pathUid !== tokenUid) return fail(401, 'Hawk: UID in URL (' + pathUid + ') != Token UID (' + tokenUid + ')', false);
  }

  if (attrs.hash !== undefined && !ctx.bodyTooLarge) {
    const ct = ctx.headers['content-type'];
    if (!ct) return fail(400, 'Hawk: Content-Type required', false);
    try {
      hawk.server.authenticatePayload(ctx.body, credentials, artifacts, ct);
    } catch (e) {
      return fail(403, 'Hawk: payload hash invalid', true);
    }
  }

  const expiredBy = expiryReason(state, attrs.id, token.payload, ctx.method, decodedPath, now);
  if (expiredBy) {
    verdict.status = 401;
    verdict.error = expiredBy;
    ctx.send(401, { 'Content-Type': 'application/json', 'X-Weave-Timestamp': fmtTs(now) }, '0');
    return null;
  }

  verdict.ok = true;
  verdict.uid = tokenUid;
  return { payload: token.payload, uid: tokenUid, tokenId: attrs.id };
}

function expiryReason(state, id, payload, method, path, now) {
  if (state.tokensExpiredBefore !== null) {
    const rec = state.tokens.get(id);
    const issuedAt = rec ? rec.issuedAt : 0;
    if (issuedAt <= state.tokensExpiredBefore) return 'token expired (issued before the control cut-off)';
  }
  if (state.config.enforceTokenExpiry && typeof payload.expires === 'number' &&
      Math.round(payload.expires) * 1000 <= now &&
      !(method === 'GET' && /^\/1\.5\/\d+\/info\/collections$/.test(path))) {
    return 'token expired';
  }
  return null;
}

module.exports = { authenticate, hostPort };
