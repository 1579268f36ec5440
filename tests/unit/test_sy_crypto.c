/* Unit tests for src/sy_crypto.c: HMAC, HKDF, the credential-cache cipher
 * (byte-compatible with the original Syncto) and the base64 helpers. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "syncto/sy_crypto.h"

/* Cache row written by the original Syncto for secret "This is not a secret"
 * and client state "12345" (its test suite's ENCRYPTED_CREDENTIALS). */
static const char encrypted_credentials[] =
    "6d4d20478dd81484aef640931d44787d24fc591382782f3aa724a77346dd4bbc22"
    "6b84e42eaadf7f6baa6f1aefd6b60251abf11c1deb1a8f861b4955ce21c4b9979d"
    "9585ca14e2f2581aa2bc3e80915743dacdb244e5f21a6dd8c054bc8826bbf9ca44"
    "6344e1ccebe7f0c9953aaefd44600e9d21f98fc4cda2ed2c58db890a235ce6cdf8"
    "640de4b2506c5b73fe6617bd2e90de64a01aee89306accae133e45e3e64818c426";
static const char credentials_json[] =
    "{\"api_endpoint\": \"http://example.org/\", \"id\": \"mon-id\", \"uid\": \"123456\", "
    "\"key\": \"I am not a secure key\", \"hashalg\": \"sha256\"}";
static const char cache_secret[] = "This is not a secret";

static int setup(void **state)
{
    return sodium_init() < 0 ? -1 : 0;
}

static size_t unhex(const char *hex, uint8_t *out, size_t outlen)
{
    size_t n = 0;

    assert_int_equal(sodium_hex2bin(out, outlen, hex, strlen(hex), NULL, &n, NULL), 0);
    return n;
}

/* ---- HMAC-SHA256 ------------------------------------------------------ */

struct hmac_case {
    const char *name;
    const char *key_hex; /* key given in hex, or */
    const char *key_str; /* as a string */
    const char *msg;
    const char *mac_hex;
};

static const struct hmac_case hmac_cases[] = {
    /* RFC 4231 test case 1: 20-byte key */
    {"rfc4231-1", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", NULL, "Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    /* RFC 4231 test case 2: 4-byte key */
    {"rfc4231-2", NULL, "Jefe", "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    /* RFC 4231 test case 6: 131-byte key (hashed first) */
    {"rfc4231-6",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     NULL, "Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    /* the credential-cache key of the original Syncto (secret, assertion) */
    {"cache-key", NULL, "This is not a secret", "1234",
     "636130e072155efd00d8e27196500d29110fb2e8e93bcedb2a30e0aa0e5ccf61"},
    /* empty key and message */
    {"empty", NULL, "", "", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"},
};

static void test_hmac_table(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(hmac_cases) / sizeof(hmac_cases[0]); i++) {
        const struct hmac_case *c = &hmac_cases[i];
        uint8_t key[256], raw[32], want[32];
        size_t keylen;
        char hex[65];

        if (c->key_hex != NULL) {
            keylen = unhex(c->key_hex, key, sizeof(key));
        } else {
            keylen = strlen(c->key_str);
            memcpy(key, c->key_str, keylen);
        }
        memset(hex, 'x', sizeof(hex));
        sy_hmac_sha256_hex(key, keylen, c->msg, strlen(c->msg), hex);
        if (strcmp(hex, c->mac_hex) != 0) {
            fail_msg("%s: got %s", c->name, hex);
        }
        sy_hmac_sha256(key, keylen, c->msg, strlen(c->msg), raw);
        unhex(c->mac_hex, want, sizeof(want));
        assert_memory_equal(raw, want, 32);
    }
}

/* The full cache key string of the original Syncto. */
static void test_cache_key_vector(void **state)
{
    char hex[65], key[80];

    sy_hmac_sha256_hex(cache_secret, strlen(cache_secret), "1234", 4, hex);
    snprintf(key, sizeof(key), "credentials_%s", hex);
    assert_string_equal(
        key, "credentials_636130e072155efd00d8e27196500d29110fb2e8e93bcedb2a30e0aa0e5ccf61");
    assert_int_equal(strlen(key), 76);
}

/* ---- HKDF-SHA256 ------------------------------------------------------ */

struct hkdf_case {
    const char *name;
    const char *ikm_hex; /* IKM given in hex, or */
    const char *ikm_str; /* as a string */
    const char *info;
    const char *okm_hex; /* first 32 bytes */
};

static const struct hkdf_case hkdf_cases[] = {
    /* RFC 5869 A.3: SHA-256, salt not provided (= 32 zero bytes), info empty;
     * OKM's first 32 of 42 bytes. */
    {"rfc5869-3", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", NULL, "",
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"},
    /* key of the ENCRYPTED_CREDENTIALS vector (info = client state) */
    {"cache-12345", NULL, "This is not a secret", "12345",
     "e2d4a9adaf266f1ddfb82b648c46b33f310cb2ed2c0d3f7b7647568fc81eff3d"},
    {"cache-empty-info", NULL, "This is not a secret", "",
     "6b348ec8a2a4adf53da917a47c2783aec586f511fe98f0247bd9e1d127a0a51c"},
};

static void test_hkdf_table(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(hkdf_cases) / sizeof(hkdf_cases[0]); i++) {
        const struct hkdf_case *c = &hkdf_cases[i];
        uint8_t ikm[64], out[32], want[32];
        size_t ikmlen;

        if (c->ikm_hex != NULL) {
            ikmlen = unhex(c->ikm_hex, ikm, sizeof(ikm));
        } else {
            ikmlen = strlen(c->ikm_str);
            memcpy(ikm, c->ikm_str, ikmlen);
        }
        sy_hkdf_sha256(ikm, ikmlen, c->info, strlen(c->info), out);
        unhex(c->okm_hex, want, sizeof(want));
        if (memcmp(out, want, 32) != 0) {
            fail_msg("%s: HKDF mismatch", c->name);
        }
    }
}

/* HKDF's PRK step with an empty salt is HMAC keyed with 32 zero bytes
 * (RFC 5869 A.3 PRK), and the expansion is HMAC(PRK, info || 0x01). */
static void test_hkdf_structure(void **state)
{
    static const uint8_t zero[32];
    uint8_t ikm[22], prk[32], want_prk[32], t1[32], out[32], msg[6];

    memset(ikm, 0x0b, sizeof(ikm));
    sy_hmac_sha256(zero, sizeof(zero), ikm, sizeof(ikm), prk);
    unhex("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04", want_prk, 32);
    assert_memory_equal(prk, want_prk, 32);

    // NOLINTNEXTLINE(bugprone-not-null-terminated-result): bytes, not a string
    memcpy(msg, "12345", 5);
    msg[5] = 0x01;
    sy_hmac_sha256(zero, sizeof(zero), cache_secret, strlen(cache_secret), prk);
    sy_hmac_sha256(prk, sizeof(prk), msg, sizeof(msg), t1);
    sy_hkdf_sha256(cache_secret, strlen(cache_secret), "12345", 5, out);
    assert_memory_equal(out, t1, 32);
}

/* ---- credential-cache cipher ------------------------------------------ */

static void test_decrypt_original_vector(void **state)
{
    char *plain = NULL;
    size_t len = 0;

    assert_int_equal(strlen(encrypted_credentials), 330);
    assert_int_equal(sy_cache_decrypt(cache_secret, "12345", encrypted_credentials, &plain, &len),
                     SY_OK);
    assert_non_null(plain);
    assert_int_equal(len, 125);
    assert_int_equal(strlen(plain), len);
    assert_string_equal(plain, credentials_json);
    sy_secure_free(plain, len + 1);
}

static void test_decrypt_len_out_optional(void **state)
{
    char *plain = NULL;

    assert_int_equal(sy_cache_decrypt(cache_secret, "12345", encrypted_credentials, &plain, NULL),
                     SY_OK);
    assert_string_equal(plain, credentials_json);
    sy_secure_free(plain, strlen(plain) + 1);
}

struct bad_decrypt_case {
    const char *name;
    const char *secret;
    const char *client_state;
    const char *hex; /* NULL = the original vector */
};

static const struct bad_decrypt_case bad_decrypt_cases[] = {
    {"wrong client state", cache_secret, "12346", NULL},
    {"empty client state", cache_secret, "", NULL},
    {"other bucket", cache_secret, "601c4497372419ee1789bf931f8c68f5", NULL},
    {"wrong secret", "This is not a secreT", "12345", NULL},
    {"empty hex", cache_secret, "12345", ""},
    {"odd length", cache_secret, "12345", "6d4d2"},
    {"short: 39 bytes", cache_secret, "12345",
     "6d4d20478dd81484aef640931d44787d24fc591382782f3aa724a77346dd4bbc226b84e42eaadf"},
    {"40 zero bytes, empty plaintext", cache_secret, "12345",
     "00000000000000000000000000000000000000000000000000000000000000000000000000000000"},
};

static void test_decrypt_rejects(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(bad_decrypt_cases) / sizeof(bad_decrypt_cases[0]); i++) {
        const struct bad_decrypt_case *c = &bad_decrypt_cases[i];
        char *plain = (char *)"sentinel";
        size_t len = 99;
        sy_rc_t rc =
            sy_cache_decrypt(c->secret, c->client_state,
                             c->hex != NULL ? c->hex : encrypted_credentials, &plain, &len);

        if (rc != SY_ERR_CRYPTO) {
            fail_msg("%s: rc %d, expected SY_ERR_CRYPTO", c->name, (int)rc);
        }
        assert_null(plain);
        assert_int_equal(len, 0);
    }
}

/* A stray non-hex character anywhere, or surrounding quotes, is refused. */
static void test_decrypt_rejects_non_hex(void **state)
{
    static const size_t positions[] = {0, 1, 79, 80, 200, 329};
    static const char bad[] = {'g', 'G', ' ', '"', ':', 'x', '\n'};
    char hex[sizeof(encrypted_credentials) + 2];
    char *plain = NULL;
    size_t i, j;

    for (i = 0; i < sizeof(positions) / sizeof(positions[0]); i++) {
        for (j = 0; j < sizeof(bad); j++) {
            memcpy(hex, encrypted_credentials, sizeof(encrypted_credentials));
            hex[positions[i]] = bad[j];
            if (sy_cache_decrypt(cache_secret, "12345", hex, &plain, NULL) != SY_ERR_CRYPTO) {
                fail_msg("'%c' at %zu was accepted", bad[j], positions[i]);
            }
            assert_null(plain);
        }
    }
    /* the value as the cache table stores it, JSON-quoted */
    snprintf(hex, sizeof(hex), "\"%s\"", encrypted_credentials);
    assert_int_equal(strlen(hex), 332);
    assert_int_equal(sy_cache_decrypt(cache_secret, "12345", hex, &plain, NULL), SY_ERR_CRYPTO);
    assert_null(plain);
}

/* Changing any single hex digit of the stored value (nonce, MAC or
 * ciphertext) must make decryption fail. */
static void test_decrypt_detects_every_tamper(void **state)
{
    char hex[sizeof(encrypted_credentials)];
    size_t i;

    for (i = 0; i < strlen(encrypted_credentials); i++) {
        char *plain = NULL;

        memcpy(hex, encrypted_credentials, sizeof(hex));
        hex[i] = hex[i] == '0' ? '1' : '0';
        if (sy_cache_decrypt(cache_secret, "12345", hex, &plain, NULL) != SY_ERR_CRYPTO) {
            fail_msg("tampered digit %zu was accepted", i);
        }
        assert_null(plain);
    }
}

/* The original project's own tamper test: every '0' becomes 'a'. */
static void test_decrypt_original_tamper(void **state)
{
    char hex[sizeof(encrypted_credentials)];
    char *plain = NULL;
    size_t i;

    memcpy(hex, encrypted_credentials, sizeof(hex));
    for (i = 0; hex[i] != '\0'; i++) {
        if (hex[i] == '0') {
            hex[i] = 'a';
        }
    }
    assert_int_equal(sy_cache_decrypt(cache_secret, "12345", hex, &plain, NULL), SY_ERR_CRYPTO);
    assert_null(plain);

    /* truncated and extended values */
    memcpy(hex, encrypted_credentials, sizeof(hex));
    hex[sizeof(hex) - 3] = '\0';
    assert_int_equal(sy_cache_decrypt(cache_secret, "12345", hex, &plain, NULL), SY_ERR_CRYPTO);
    assert_null(plain);
}

static void test_encrypt_round_trip(void **state)
{
    static const size_t sizes[] = {0, 1, 15, 16, 17, 125, 1000, 4096};
    size_t i, j;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        char *in = malloc(n + 1);
        char *hex = NULL, *hex2 = NULL, *out = NULL;
        size_t outlen = 0;

        assert_non_null(in);
        for (j = 0; j < n; j++) {
            in[j] = (char)(j * 7 + 3); /* includes NUL bytes */
        }
        assert_int_equal(sy_cache_encrypt(cache_secret, "12345", in, n, &hex), SY_OK);
        assert_non_null(hex);
        assert_int_equal(strlen(hex), 2 * (24 + 16 + n));
        assert_int_equal(strspn(hex, "0123456789abcdef"), strlen(hex));

        /* a fresh random nonce every time */
        assert_int_equal(sy_cache_encrypt(cache_secret, "12345", in, n, &hex2), SY_OK);
        assert_string_not_equal(hex, hex2);

        assert_int_equal(sy_cache_decrypt(cache_secret, "12345", hex, &out, &outlen), SY_OK);
        assert_int_equal(outlen, n);
        assert_memory_equal(out, in, n);
        assert_int_equal(out[n], '\0');
        sy_secure_free(out, outlen + 1);
        out = NULL;

        assert_int_equal(sy_cache_decrypt(cache_secret, "12346", hex, &out, &outlen),
                         SY_ERR_CRYPTO);
        assert_null(out);

        free(in);
        free(hex);
        free(hex2);
    }
}

/* What sy_cache_encrypt stores opens with plain libsodium under the key
 * HKDF(secret, client state), laid out as nonce || mac || ciphertext. */
static void test_encrypt_layout(void **state)
{
    uint8_t key[32], box[40 + 125];
    unsigned char plain[126];
    char *hex = NULL;
    size_t boxlen;

    assert_int_equal(
        sy_cache_encrypt(cache_secret, "12345", credentials_json, strlen(credentials_json), &hex),
        SY_OK);
    boxlen = unhex(hex, box, sizeof(box));
    assert_int_equal(boxlen, sizeof(box));
    unhex("e2d4a9adaf266f1ddfb82b648c46b33f310cb2ed2c0d3f7b7647568fc81eff3d", key, 32);
    assert_int_equal(crypto_secretbox_open_easy(plain, box + 24, boxlen - 24, box, key), 0);
    plain[125] = '\0';
    assert_string_equal((char *)plain, credentials_json);
    free(hex);
}

static void test_encrypt_invalid_args(void **state)
{
    char *hex = (char *)"sentinel";
    char *plain = (char *)"sentinel";

    assert_int_equal(sy_cache_encrypt(NULL, "12345", "x", 1, &hex), SY_ERR_INVALID);
    assert_null(hex);
    assert_int_equal(sy_cache_encrypt(cache_secret, NULL, "x", 1, &hex), SY_ERR_INVALID);
    assert_int_equal(sy_cache_encrypt(cache_secret, "12345", NULL, 1, &hex), SY_ERR_INVALID);
    assert_int_equal(sy_cache_encrypt(cache_secret, "12345", "x", 1, NULL), SY_ERR_INVALID);
    assert_int_equal(sy_cache_decrypt(cache_secret, "12345", NULL, &plain, NULL), SY_ERR_INVALID);
    assert_null(plain);
    assert_int_equal(sy_cache_decrypt(cache_secret, "12345", encrypted_credentials, NULL, NULL),
                     SY_ERR_INVALID);

    /* NULL plaintext with length 0 is an empty value */
    assert_int_equal(sy_cache_encrypt(cache_secret, "12345", NULL, 0, &hex), SY_OK);
    assert_int_equal(strlen(hex), 80);
    assert_int_equal(sy_cache_decrypt(cache_secret, "12345", hex, &plain, NULL), SY_OK);
    assert_string_equal(plain, "");
    sy_secure_free(plain, 1);
    free(hex);
}

static void test_secure_free(void **state)
{
    char *p = malloc(32);

    assert_non_null(p);
    memset(p, 'k', 32);
    sy_secure_free(p, 32); /* valgrind/ASan check the release */
    sy_secure_free(NULL, 32);
}

/* ---- base64 ----------------------------------------------------------- */

struct b64_case {
    const char *bin;
    size_t len;
    const char *std;
};

static const struct b64_case b64_cases[] = {
    /* RFC 4648 section 10 */
    {"", 0, ""},
    {"f", 1, "Zg=="},
    {"fo", 2, "Zm8="},
    {"foo", 3, "Zm9v"},
    {"foob", 4, "Zm9vYg=="},
    {"fooba", 5, "Zm9vYmE="},
    {"foobar", 6, "Zm9vYmFy"},
    /* standard alphabet, not url-safe */
    {"\xfb\xff", 2, "+/8="},
    {"\x00\x00\x00", 3, "AAAA"},
};

static void test_b64_encode_table(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
        char *s = sy_b64_encode(b64_cases[i].bin, b64_cases[i].len);

        assert_non_null(s);
        assert_string_equal(s, b64_cases[i].std);
        free(s);
    }
    assert_null(sy_b64_encode(NULL, 1));
}

struct b64url_case {
    const char *in;
    long len; /* -1 = rejected */
    const char *bin;
    size_t outlen;
};

static const struct b64url_case b64url_cases[] = {
    {"", 0, "", 16},
    {"Zg", 1, "f", 16},
    {"Zm8", 2, "fo", 16},
    {"Zm9v", 3, "foo", 16},
    {"Zm9vYg", 4, "foob", 16},
    {"Zm9vYmE", 5, "fooba", 16},
    {"Zm9vYmFy", 6, "foobar", 16},
    {"Zm9vYg==", 4, "foob", 16}, /* padding tolerated */
    {"Zm9vYmE=", 5, "fooba", 16},
    {"-_8", 2, "\xfb\xff", 16},
    {"eyJhbGciOiJSUzI1NiJ9", 15, "{\"alg\":\"RS256\"}", 16},
    {"Zm9vYmFy", 6, "foobar", 6}, /* exact fit */
    {"Zm9vYmFy", -1, NULL, 5},    /* does not fit */
    {"A", -1, NULL, 16},          /* one char cannot be a byte */
    {"Zh", -1, NULL, 16},         /* non-zero trailing bits */
    {"+/8", -1, NULL, 16},        /* standard alphabet */
    {"Zm9vYg=", -1, NULL, 16},    /* incomplete padding */
    {"Zm9v=", -1, NULL, 16},
    {"Zg===", -1, NULL, 16},
    {"Zg=a", -1, NULL, 16},
    {" Zm9v", -1, NULL, 16},
    {"Zm9v\n", -1, NULL, 16},
    {"Zm.9v", -1, NULL, 16},
};

static void test_b64url_decode_table(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(b64url_cases) / sizeof(b64url_cases[0]); i++) {
        const struct b64url_case *c = &b64url_cases[i];
        uint8_t out[16];
        long n = sy_b64url_decode(c->in, out, c->outlen);

        if (n != c->len) {
            fail_msg("sy_b64url_decode(\"%s\") = %ld, expected %ld", c->in, n, c->len);
        }
        if (n > 0) {
            assert_memory_equal(out, c->bin, (size_t)n);
        }
    }
    assert_int_equal(sy_b64url_decode(NULL, (uint8_t[4]){0}, 4), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_table),
        cmocka_unit_test(test_cache_key_vector),
        cmocka_unit_test(test_hkdf_table),
        cmocka_unit_test(test_hkdf_structure),
        cmocka_unit_test(test_decrypt_original_vector),
        cmocka_unit_test(test_decrypt_len_out_optional),
        cmocka_unit_test(test_decrypt_rejects),
        cmocka_unit_test(test_decrypt_rejects_non_hex),
        cmocka_unit_test(test_decrypt_detects_every_tamper),
        cmocka_unit_test(test_decrypt_original_tamper),
        cmocka_unit_test(test_encrypt_round_trip),
        cmocka_unit_test(test_encrypt_layout),
        cmocka_unit_test(test_encrypt_invalid_args),
        cmocka_unit_test(test_secure_free),
        cmocka_unit_test(test_b64_encode_table),
        cmocka_unit_test(test_b64url_decode_table),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
