#ifndef SY_CRYPTO_H
#define SY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include "syncto/sy_rc.h"

/* Crypto for the credential cache, byte-compatible with the original Syncto.
 * libsodium 1.0.18 has no HKDF: it is built on crypto_auth_hmacsha256_*.
 * sodium_init() must have been called. */

/* Lowercase hex HMAC-SHA256(key, msg); out must hold 65 bytes. Any key length. */
void sy_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen, char *out);
/* Raw HMAC-SHA256; out 32 bytes. */
void sy_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                    uint8_t out[32]);
/* HKDF-SHA256 with an empty salt (32 zero bytes), L = 32 bytes. */
void sy_hkdf_sha256(const void *ikm, size_t ikmlen, const void *info, size_t infolen,
                    uint8_t out[32]);

/* Encrypts plaintext with XSalsa20-Poly1305 under HKDF(secret, info=client_state)
 * and returns malloc'ed lowercase hex of nonce(24) || mac(16) || ciphertext. */
SY_MUST_CHECK sy_rc_t sy_cache_encrypt(const char *secret, const char *client_state,
                                       const char *plain, size_t len, char **hex_out);
/* Inverse; returns SY_ERR_CRYPTO on a bad hex string or failed MAC. The
 * malloc'ed plaintext is NUL-terminated; the caller must wipe and free it
 * (sy_secure_free). */
SY_MUST_CHECK sy_rc_t sy_cache_decrypt(const char *secret, const char *client_state,
                                       const char *hex, char **plain_out, size_t *len_out);
/* sodium_memzero + free, NULL-safe. */
void sy_secure_free(void *p, size_t len);

/* base64 helpers: standard with padding; url-safe without padding. Return
 * malloc'ed strings / decoded length, or NULL / -1 on error. */
char *sy_b64_encode(const void *p, size_t n);
long sy_b64url_decode(const char *s, uint8_t *out, size_t outlen);

#endif
