'use strict';
// sync-crypto.js: Sync 1.5 record encryption with Web Crypto, for Node (>= 20)
// and browsers alike (bundlers accept this CommonJS module).
//
// A Sync record's payload is the JSON text
//   {"ciphertext": base64(AES-256-CBC(cleartext JSON)),
//    "IV": base64(16 random bytes),
//    "hmac": hex(HMAC-SHA-256(base64 ciphertext text))}
// under a key bundle: 32 bytes of AES key, then 32 bytes of HMAC key.

const subtle = globalThis.crypto.subtle;

function b64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesToB64(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function hexToBytes(hex) {
  if (!/^([0-9a-f]{2})*$/i.test(hex)) throw new Error('not hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Key bundle from 64 bytes (AES key then HMAC key), e.g. the oldsync scoped key. */
async function importKeyBundle(keyBytes) {
  if (keyBytes.length !== 64) throw new Error('a Sync key bundle is 64 bytes');
  return {
    enc: await subtle.importKey('raw', keyBytes.slice(0, 32), { name: 'AES-CBC' }, false, ['encrypt', 'decrypt']),
    hmac: await subtle.importKey('raw', keyBytes.slice(32, 64), { name: 'HMAC', hash: 'SHA-256' }, false,
      ['sign', 'verify']),
  };
}

/** Key bundle from the pair of base64 keys held by the crypto/keys record. */
async function importKeyPair([encB64, hmacB64]) {
  const key = new Uint8Array(64);
  key.set(b64ToBytes(encB64), 0);
  key.set(b64ToBytes(hmacB64), 32);
  return importKeyBundle(key);
}

/** Payload text -> cleartext object; throws when the HMAC does not match. */
async function decryptPayload(bundle, payload) {
  const { ciphertext, IV, hmac } = JSON.parse(payload);
  const ok = await subtle.verify('HMAC', bundle.hmac, hexToBytes(hmac), new TextEncoder().encode(ciphertext));
  if (!ok) throw new Error('HMAC mismatch: wrong key bundle or tampered record');
  const clear = await subtle.decrypt({ name: 'AES-CBC', iv: b64ToBytes(IV) }, bundle.enc, b64ToBytes(ciphertext));
  return JSON.parse(new TextDecoder().decode(clear));
}

/** Cleartext object -> payload text (a fresh random IV each time). */
async function encryptPayload(bundle, cleartext) {
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(16));
  const data = new TextEncoder().encode(JSON.stringify(cleartext));
  const ciphertext = bytesToB64(new Uint8Array(await subtle.encrypt({ name: 'AES-CBC', iv }, bundle.enc, data)));
  const mac = new Uint8Array(await subtle.sign('HMAC', bundle.hmac, new TextEncoder().encode(ciphertext)));
  return JSON.stringify({ ciphertext, IV: bytesToB64(iv), hmac: bytesToHex(mac) });
}

/**
 * X-KeyID "<keysChangedAt>-<base64url(16 bytes)>" -> Syncto bucket id (the
 * same 16 bytes in hex). The base64url part may itself contain "-": split at
 * the first one only.
 */
function bucketFromKeyId(keyId) {
  const dash = keyId.indexOf('-');
  const b64 = keyId.slice(dash + 1).replace(/-/g, '+').replace(/_/g, '/');
  return bytesToHex(b64ToBytes(b64 + '='.repeat((4 - (b64.length % 4)) % 4)));
}

/** X-KeyID from the Sync key kB (bytes) and the account's keysChangedAt (ms). */
async function keyIdFromKb(kB, keysChangedAt) {
  const digest = new Uint8Array(await subtle.digest('SHA-256', kB)).slice(0, 16);
  const b64url = bytesToB64(digest).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return `${String(keysChangedAt).padStart(13, '0')}-${b64url}`;
}

module.exports = {
  bucketFromKeyId,
  bytesToHex,
  decryptPayload,
  encryptPayload,
  hexToBytes,
  importKeyBundle,
  importKeyPair,
  keyIdFromKb,
};
