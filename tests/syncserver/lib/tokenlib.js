'use strict';
// Tokenserver token ids and Hawk keys, built as the tokenserver's tokenlib
// scheme does:
//   signing_key = HKDF-SHA256(master, salt=none, info=".../signing", 32)
//   id          = b64url_pad(JSON(payload) || HMAC-SHA256(signing_key, JSON))
//   key         = b64url_pad(HKDF-SHA256(master, salt=payload.salt,
//                                        info=".../derive/" + id, 32))
// The storage side parses an id back, checks its signature and derives the
// same key, so any id signed with the master secret is accepted.

const crypto = require('node:crypto');
const { b64urlEncode } = require('./util');

const INFO_SIGNING = 'services.mozilla.com/tokenlib/v1/signing';
const INFO_DERIVE = 'services.mozilla.com/tokenlib/v1/derive/';

function hkdf32(ikm, salt, info) {
  return Buffer.from(crypto.hkdfSync('sha256', Buffer.from(ikm), Buffer.from(salt), Buffer.from(info), 32));
}

function signingKey(masterSecret) {
  return hkdf32(masterSecret, Buffer.alloc(0), INFO_SIGNING);
}

function deriveKey(masterSecret, salt, id) {
  return b64urlEncode(hkdf32(masterSecret, salt, INFO_DERIVE + id), true);
}

// Builds {id, key} from a payload object. The payload is serialised in the
// order given; `salt` is added (6 hex chars) when absent.
function makeToken(masterSecret, payload) {
  const p = Object.assign({}, payload);
  if (!p.salt) p.salt = crypto.randomBytes(3).toString('hex');
  const json = Buffer.from(JSON.stringify(p), 'utf8');
  const sig = crypto.createHmac('sha256', signingKey(masterSecret)).update(json).digest();
  const id = b64urlEncode(Buffer.concat([json, sig]), true);
  return { id, key: deriveKey(masterSecret, p.salt, id), payload: p };
}

class TokenError extends Error {}

// Go's base64.URLEncoding.DecodeString: padded, strict alphabet. The error
// text imitates Go's "illegal base64 data at input byte N".
function strictB64urlPadded(text) {
  const bad = /[^A-Za-z0-9_=-]/.exec(text);
  if (bad) throw new TokenError('illegal base64 data at input byte ' + bad.index);
  const eq = text.indexOf('=');
  if (eq !== -1 && (!/^=+$/.test(text.slice(eq)) || text.length - eq > 2)) {
    throw new TokenError('illegal base64 data at input byte ' + eq);
  }
  if (text.length % 4 !== 0) {
    throw new TokenError('illegal base64 data at input byte ' + (text.length - (text.length % 4)));
  }
  return Buffer.from(text.replace(/=+$/, ''), 'base64url');
}

// Verifies an id against the master secret. Returns {payload, key} or throws
// a TokenError whose message is what go-syncstorage reports
// (TokenSignatureMismatchErr, TokenPayloadDecodingErr, base64 errors).
function parseToken(masterSecret, id) {
  const raw = strictB64urlPadded(id);
  if (raw.length <= 32) throw new TokenError('TokenSignatureMismatchErr');
  const json = raw.subarray(0, raw.length - 32);
  const sig = raw.subarray(raw.length - 32);
  const want = crypto.createHmac('sha256', signingKey(masterSecret)).update(json).digest();
  if (!crypto.timingSafeEqual(sig, want)) throw new TokenError('TokenSignatureMismatchErr');
  let payload;
  try {
    payload = JSON.parse(json.toString('utf8'));
  } catch (e) {
    throw new TokenError('TokenPayloadDecodingErr');
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new TokenError('TokenPayloadDecodingErr');
  }
  const salt = typeof payload.salt === 'string' ? payload.salt : '';
  return { payload, key: deriveKey(masterSecret, salt, id) };
}

module.exports = { makeToken, parseToken, deriveKey, signingKey, TokenError };
