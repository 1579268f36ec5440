/* HMAC, HKDF, the credential-cache cipher and base64 helpers.
 *
 * Why these exact constructions: cache rows written by the original Syncto
 * must stay readable, so the key is HKDF-SHA256(salt = "", IKM = the cache
 * secret, info = the client state, L = 32) and the value is hex of
 * nonce || mac || ciphertext from NaCl's secretbox (XSalsa20-Poly1305).
 * An empty HKDF salt means HashLen zero bytes (RFC 5869 section 2.2), and with
 * L = 32 the expansion is a single block T(1) = HMAC(PRK, info || 0x01).
 *
 * libsodium 1.0.18 has no HKDF and its one-shot crypto_auth_hmacsha256()
 * takes a 32-byte key only; the init/update/final API accepts any length. */

#include "syncto/sy_crypto.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define NONCE_LEN crypto_secretbox_NONCEBYTES /* 24 */
#define MAC_LEN crypto_secretbox_MACBYTES     /* 16 */

static void *xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);

    if (p == NULL) {
        abort(); /* out of memory: the master respawns the worker */
    }
    return p;
}

/* HMAC-SHA256 over the concatenation of two message parts. */
static void hmac2(const void *key, size_t keylen, const void *m1, size_t m1len, const void *m2,
                  size_t m2len, uint8_t out[32])
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, key, keylen);
    if (m1len > 0) {
        crypto_auth_hmacsha256_update(&st, m1, m1len);
    }
    if (m2len > 0) {
        crypto_auth_hmacsha256_update(&st, m2, m2len);
    }
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

void sy_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen, uint8_t out[32])
{
    hmac2(key, keylen, msg, msglen, NULL, 0, out);
}

void sy_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen, char *out)
{
    uint8_t raw[32];

    sy_hmac_sha256(key, keylen, msg, msglen, raw);
    sodium_bin2hex(out, 65, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
}

void sy_hkdf_sha256(const void *ikm, size_t ikmlen, const void *info, size_t infolen,
                    uint8_t out[32])
{
    static const uint8_t zero_salt[32];
    static const uint8_t counter = 0x01;
    uint8_t prk[32];

    hmac2(zero_salt, sizeof(zero_salt), ikm, ikmlen, NULL, 0, prk);
    hmac2(prk, sizeof(prk), info, infolen, &counter, 1, out);
    sodium_memzero(prk, sizeof(prk));
}

static void cache_key(const char *secret, const char *client_state,
                      uint8_t key[crypto_secretbox_KEYBYTES])
{
    sy_hkdf_sha256(secret, strlen(secret), client_state, strlen(client_state), key);
}

sy_rc_t sy_cache_encrypt(const char *secret, const char *client_state, const char *plain,
                         size_t len, char **hex_out)
{
    uint8_t key[crypto_secretbox_KEYBYTES];
    uint8_t *box = NULL;
    size_t boxlen, hexlen;
    char *hex;

    if (hex_out == NULL) {
        return SY_ERR_INVALID;
    }
    *hex_out = NULL;
    if (secret == NULL || client_state == NULL || (plain == NULL && len > 0)) {
        return SY_ERR_INVALID;
    }
    if (len > (SIZE_MAX - 1) / 2 - NONCE_LEN - MAC_LEN) {
        return SY_ERR_TOO_LARGE;
    }
    boxlen = NONCE_LEN + MAC_LEN + len;
    hexlen = boxlen * 2 + 1;

    cache_key(secret, client_state, key);
    box = xmalloc(boxlen);
    randombytes_buf(box, NONCE_LEN);
    crypto_secretbox_easy(box + NONCE_LEN, (const unsigned char *)(plain != NULL ? plain : ""), len,
                          box, key);
    hex = xmalloc(hexlen);
    sodium_bin2hex(hex, hexlen, box, boxlen);
    sodium_memzero(key, sizeof(key));
    free(box); /* ciphertext only, nothing to wipe */
    *hex_out = hex;
    return SY_OK;
}

sy_rc_t sy_cache_decrypt(const char *secret, const char *client_state, const char *hex,
                         char **plain_out, size_t *len_out)
{
    uint8_t key[crypto_secretbox_KEYBYTES];
    uint8_t *box = NULL;
    char *plain = NULL;
    size_t hexlen, boxlen, binlen = 0, plainlen = 0;
    const char *end = NULL;
    sy_rc_t rc = SY_ERR_CRYPTO;

    if (plain_out == NULL) {
        return SY_ERR_INVALID;
    }
    *plain_out = NULL;
    if (len_out != NULL) {
        *len_out = 0;
    }
    if (secret == NULL || client_state == NULL || hex == NULL) {
        return SY_ERR_INVALID;
    }
    hexlen = strlen(hex);
    if (hexlen % 2 != 0 || hexlen < (size_t)2 * (NONCE_LEN + MAC_LEN)) {
        return SY_ERR_CRYPTO;
    }
    boxlen = hexlen / 2;
    box = xmalloc(boxlen);
    if (sodium_hex2bin(box, boxlen, hex, hexlen, NULL, &binlen, &end) != 0 || binlen != boxlen ||
        end != hex + hexlen) {
        goto done;
    }
    plainlen = boxlen - NONCE_LEN - MAC_LEN;
    plain = xmalloc(plainlen + 1);
    cache_key(secret, client_state, key);
    if (crypto_secretbox_open_easy((unsigned char *)plain, box + NONCE_LEN, boxlen - NONCE_LEN, box,
                                   key) != 0) {
        goto done;
    }
    plain[plainlen] = '\0';
    *plain_out = plain;
    if (len_out != NULL) {
        *len_out = plainlen;
    }
    plain = NULL;
    rc = SY_OK;

done:
    sodium_memzero(key, sizeof(key));
    if (plain != NULL) {
        sy_secure_free(plain, plainlen + 1);
    }
    free(box);
    return rc;
}

void sy_secure_free(void *p, size_t len)
{
    if (p == NULL) {
        return;
    }
    sodium_memzero(p, len);
    free(p);
}

char *sy_b64_encode(const void *p, size_t n)
{
    const int variant = sodium_base64_VARIANT_ORIGINAL;
    size_t outlen;
    char *out;

    if (p == NULL && n > 0) {
        return NULL;
    }
    if (n > (SIZE_MAX / 4) * 3 - 3) {
        return NULL;
    }
    outlen = sodium_base64_ENCODED_LEN(n, variant);
    out = xmalloc(outlen);
    sodium_bin2base64(out, outlen, (const unsigned char *)(p != NULL ? p : ""), n, variant);
    return out;
}

long sy_b64url_decode(const char *s, uint8_t *out, size_t outlen)
{
    size_t slen, binlen = 0;
    const char *end = NULL;

    if (s == NULL || out == NULL) {
        return -1;
    }
    /* Unpadded is the norm (JWT/BrowserID segments); up to two '=' of
     * padding are tolerated, like the tokenserver's own decoder. */
    slen = strlen(s);
    if (slen > 0 && s[slen - 1] == '=') {
        if (slen % 4 != 0) {
            return -1; /* padding must complete a 4-char group */
        }
        slen--;
        if (s[slen - 1] == '=') {
            slen--;
        }
    }
    if (slen > (size_t)LONG_MAX) {
        return -1;
    }
    if (sodium_base642bin(out, outlen, s, slen, NULL, &binlen, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != s + slen) {
        return -1;
    }
    return (long)binlen;
}
