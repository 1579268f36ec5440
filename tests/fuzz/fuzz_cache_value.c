/* A credential cache row, read back: the stored JSON string literal
 * (sy_cache_value_unquote, what sy_cache_get returns), its decryption
 * (sy_cache_decrypt) and the tokenserver answer inside (sy_token_parse).
 * The first input byte picks the mode:
 *   even: the rest is a row's value column as PostgreSQL returns it;
 *   odd:  the rest is a plaintext, sealed and stored as sy_credentials
 *         does (encrypt, quote), then read back.
 *
 * Invariants: an accepted literal decodes to what json-c decodes it to;
 * quote∘unquote and unquote∘quote round trip (UTF-8 values); decrypt∘encrypt gives the
 * plaintext back, and fails under another client state or with any one
 * hex digit changed. */
#include "fuzz_util.h"

#include <sodium.h>

#include "syncto/sy_cache.h"
#include "syncto/sy_crypto.h"
#include "syncto/sy_tokenserver.h"

static const char SECRET[] = "fuzzing cache secret";
static const char STATE[] = "0123456789abcdef0123456789abcdef";
static const char OTHER_STATE[] = "fedcba9876543210fedcba9876543210";

/* unquote(quote(v)) == v for a NUL-free UTF-8 v, and json-c reads the
 * literal the same way. */
static void check_quote(sy_pool_t *pool, const char *v, size_t n)
{
    char *lit = sy_cache_value_quote(v, n), *back = NULL;
    json_object *o;

    FUZZ_CHECK(lit != NULL);
    if (!sy_json_utf8_valid((const unsigned char *)v, n)) {
        /* bytes that are not UTF-8 are quoted as they are, and such a
         * literal is not JSON text: never read back (stored values are
         * hex, this is only the codec's own contract) */
        FUZZ_CHECK(sy_cache_value_unquote(pool, lit, strlen(lit), &back) == SY_ERR_INVALID);
        sy_secure_free(lit, strlen(lit));
        return;
    }
    FUZZ_CHECK(sy_cache_value_unquote(pool, lit, strlen(lit), &back) == SY_OK);
    FUZZ_CHECK(fuzz_same(back, strlen(back), v, n));
    o = fuzz_json(pool, lit, strlen(lit));
    FUZZ_CHECK(o != NULL && json_object_is_type(o, json_type_string));
    FUZZ_CHECK(fuzz_same(json_object_get_string(o), (size_t)json_object_get_string_len(o), v, n));
    sy_secure_free(lit, strlen(lit));
}

static void read_row(sy_pool_t *pool, const char *row, size_t n)
{
    char *value = NULL, *plain = NULL;
    size_t plen = 0;
    json_object *o;
    sy_token_t tok;

    if (sy_cache_value_unquote(pool, row, n, &value) != SY_OK)
        return;
    FUZZ_CHECK(value != NULL);
    /* json-c reads the same string (it may accept more: \u0000, lone
     * surrogates; never less) */
    o = fuzz_json(pool, row, n);
    FUZZ_CHECK(o != NULL && json_object_is_type(o, json_type_string));
    FUZZ_CHECK(fuzz_same(json_object_get_string(o), (size_t)json_object_get_string_len(o), value,
                         strlen(value)));
    check_quote(pool, value, strlen(value));
    if (sy_cache_decrypt(SECRET, STATE, value, &plain, &plen) == SY_OK) {
        FUZZ_CHECK(plain[plen] == '\0');
        /* any plaintext: only crashes and leaks count here */
        sy_rc_ignore(sy_token_parse(pool, plain, plen, &tok));
        sy_secure_free(plain, plen + 1);
    }
}

static void seal_and_read(sy_pool_t *pool, const char *plain, size_t n, unsigned pick)
{
    char *hex = NULL, *lit, *value = NULL, *back = NULL;
    size_t blen = 0, hlen;
    sy_token_t tok;

    FUZZ_CHECK(sy_cache_encrypt(SECRET, STATE, plain, n, &hex) == SY_OK);
    hlen = strlen(hex);
    FUZZ_CHECK(hlen == 2 * (24 + 16 + n));
    lit = sy_cache_value_quote(hex, hlen);
    FUZZ_CHECK(sy_cache_value_unquote(pool, lit, strlen(lit), &value) == SY_OK);
    FUZZ_CHECK(strcmp(value, hex) == 0);
    FUZZ_CHECK(sy_cache_decrypt(SECRET, STATE, value, &back, &blen) == SY_OK);
    FUZZ_CHECK(fuzz_same(back, blen, plain, n) && back[blen] == '\0');
    sy_rc_ignore(sy_token_parse(pool, back, blen, &tok)); /* any plaintext, as above */
    sy_secure_free(back, blen + 1);

    /* another client state's key, or one changed digit: refused */
    back = NULL;
    FUZZ_CHECK(sy_cache_decrypt(SECRET, OTHER_STATE, value, &back, &blen) == SY_ERR_CRYPTO);
    FUZZ_CHECK(back == NULL && blen == 0);
    {
        size_t at = pick % hlen;
        char *bad = sy_pstrdup(pool, value);

        bad[at] = bad[at] == '0' ? '1' : '0';
        FUZZ_CHECK(sy_cache_decrypt(SECRET, STATE, bad, &back, &blen) == SY_ERR_CRYPTO);
        FUZZ_CHECK(back == NULL);
    }
    sy_secure_free(lit, strlen(lit));
    sy_secure_free(hex, hlen);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sy_pool_t *pool = sy_pool_new(0);
    fuzz_part_t rest;
    unsigned mode, pick = 0;

    if (size == 0)
        goto done;
    mode = data[0];
    rest.p = (const char *)data + 1;
    rest.n = size - 1;
    for (size_t i = 0; i < rest.n && i < 4; i++)
        pick = pick << 8 | (unsigned char)rest.p[i];
    if (mode % 2 == 0) {
        read_row(pool, fuzz_exact(pool, rest), rest.n);
    } else {
        seal_and_read(pool, fuzz_exact(pool, rest), rest.n, pick);
        /* any NUL-free text survives the stored form */
        if (memchr(rest.p, '\0', rest.n) == NULL)
            check_quote(pool, rest.p, rest.n);
    }
done:
    sy_pool_free(pool);
    return 0;
}
