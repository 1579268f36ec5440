'use strict';
// Small helpers shared by the test Sync server: Sync timestamps, JSON text
// the way the Go storage server writes it, base64url, body reading.

// Sync timestamps travel as seconds with exactly two decimals; inside the
// server they are integer milliseconds, multiples of 10.
function floor10(ms) {
  return ms - (ms % 10);
}

// Formats integer ms as "S.CC" ("1795678960.73", "0.00", "-0.03").
function fmtTs(ms) {
  const neg = ms < 0;
  let v = Math.abs(Math.trunc(ms));
  const cs = Math.floor(v / 10); // centiseconds
  const s = Math.floor(cs / 100);
  const frac = String(cs % 100).padStart(2, '0');
  return (neg && cs !== 0 ? '-' : '') + s + '.' + frac;
}

// Parses a decimal seconds string ("123", "123.4", "123.456") to integer ms
// without going through a float. Returns null when the text is not a
// non-negative decimal number.
function parseTsMs(text) {
  if (typeof text !== 'string') return null;
  const m = /^\s*(\d+)(?:\.(\d*))?\s*$/.exec(text);
  if (!m) return null;
  const frac = ((m[2] || '') + '000').slice(0, 3);
  const v = Number(m[1]) * 1000 + Number(frac);
  if (!Number.isSafeInteger(v)) return null;
  return v;
}

// JSON string escaping as Go's encoding/json does it: like JSON.stringify
// plus \u003c \u003e \u0026 and the two line separators.
function goJsonString(s) {
  return JSON.stringify(s)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function b64urlEncode(buf, pad) {
  const s = Buffer.from(buf).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
  return pad ? s : s.replace(/=+$/, '');
}

// Strict URL-safe base64 without padding (what the tokenserver requires in
// X-KeyID). Returns a Buffer, or null when the text is not canonical.
function b64urlDecodeNoPad(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) return null;
  if (text.length % 4 === 1) return null;
  const buf = Buffer.from(text, 'base64url');
  if (b64urlEncode(buf, false) !== text) return null;
  return buf;
}

// Lenient base64url decode for JWT segments (padding optional).
function b64urlDecodeLoose(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(text)) return null;
  return Buffer.from(text.replace(/=+$/, ''), 'base64url');
}

// Reads a request body into a Buffer. Stops storing after `cap` bytes but
// keeps draining, and reports `tooLarge`.
function readBody(req, cap) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c) => {
      size += c.length;
      if (size > cap) {
        tooLarge = true;
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve({ buf: Buffer.concat(chunks), size, tooLarge }));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('request aborted')));
  });
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Percent-decodes a URL path byte-wise, like Go's url.PathUnescape ('+' is
// kept). Returns null on a malformed escape.
function decodePath(raw) {
  if (!raw.includes('%')) return raw;
  const out = [];
  const src = Buffer.from(raw, 'utf8');
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c !== 0x25) {
      out.push(c);
      continue;
    }
    const hex = src.slice(i + 1, i + 3).toString('latin1');
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
    out.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(out).toString('utf8');
}

// Parses "a=1&b=2" into {a: '1', b: '2'}; repeated keys keep the first value
// (Go's Form.Get), and `has` answers presence.
function parseQuery(raw) {
  const params = new URLSearchParams(raw || '');
  const first = {};
  for (const [k, v] of params) {
    if (!(k in first)) first[k] = v;
  }
  return first;
}

module.exports = {
  floor10,
  fmtTs,
  parseTsMs,
  goJsonString,
  b64urlEncode,
  b64urlDecodeNoPad,
  b64urlDecodeLoose,
  readBody,
  sleep,
  decodePath,
  parseQuery,
};
