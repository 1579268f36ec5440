'use strict';
// Searches log files for secrets: a test stack hands out credentials
// (BrowserID assertions, OAuth tokens), the tokenserver issues Hawk ids and
// keys, syncto gets a cache HMAC secret; none of them may ever be written to
// syncto's, nginx's or PostgreSQL's logs. tests/lib/stack.js runs this when
// a stack stops and fails the test file when one is found.
//
//   const { secretIndex, scanFiles } = require('../lib/secrets');
//   const index = secretIndex([{ kind: 'OAuth token', value: token, jwt: true }]);
//   const hits = scanFiles(index, ['/tmp/x/syncto.log']);   // [{file, line, kind, hint}]
//
// Secrets are base64url or hex text. Each is split into its runs of
// [A-Za-z0-9_-] (a JWT's header segment, common to every token, is left
// out) and each run into BLOCK-character blocks; a log "leaks" a secret when
// one of these blocks appears in it. So a whole secret is found, and so is
// any piece of one at least 2 * BLOCK - 1 characters long, wherever it sits
// in a line, with one set lookup per character of the log.

const fs = require('node:fs');

const BLOCK = 20;
const RUN = /[A-Za-z0-9_-]+/g;

/** The runs of a secret worth searching for. */
function pieces(secret) {
  const parts = [];
  if (secret.jwt) {
    // "<jwt>~<jwt>" or "<jwt>": header.payload.signature each
    for (const token of secret.value.split('~')) parts.push(...token.split('.').slice(1));
  } else {
    parts.push(secret.value);
  }
  const out = [];
  for (const p of parts) for (const m of p.matchAll(RUN)) if (m[0].length >= BLOCK) out.push(m[0]);
  return out;
}

/**
 * Index of `secrets` ([{kind, value, jwt}]): a Map from each block to the
 * kind of secret it comes from.
 */
function secretIndex(secrets) {
  const index = new Map();
  for (const s of secrets) {
    if (typeof s.value !== 'string' || s.value === '') continue;
    for (const p of pieces(s)) {
      for (let i = 0; i + BLOCK <= p.length; i += BLOCK) index.set(p.slice(i, i + BLOCK), s.kind);
      index.set(p.slice(p.length - BLOCK), s.kind);
    }
  }
  return index;
}

/** Hits of `index` in `text`: [{line, kind, hint}] (hint: the block's first 8 characters). */
function scanText(index, text, max = 20) {
  const hits = [];
  if (index.size === 0) return hits;
  for (const m of text.matchAll(RUN)) {
    const run = m[0];
    for (let i = 0; i + BLOCK <= run.length; i++) {
      const kind = index.get(run.slice(i, i + BLOCK));
      if (kind === undefined) continue;
      const line = text.slice(0, m.index + i).split('\n').length;
      hits.push({ line, kind, hint: `${run.slice(i, i + 8)}...` });
      if (hits.length >= max) return hits;
      break; // one hit per run is enough
    }
  }
  return hits;
}

/** Hits of `index` in each existing file of `files`: [{file, line, kind, hint}]. */
function scanFiles(index, files) {
  const hits = [];
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, 'latin1');
    } catch {
      continue; // never written
    }
    for (const h of scanText(index, text)) hits.push({ file, ...h });
  }
  return hits;
}

module.exports = { BLOCK, secretIndex, scanText, scanFiles };
