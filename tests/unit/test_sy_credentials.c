/* Credential cache, the pure parts: cache keys, expiry read from BrowserID
 * assertions and OAuth JWTs, the TTL arithmetic, and the encryption of
 * cached values (tokenserver bodies: test_sy_tokenserver.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "syncto/sy_credentials.h"
#include "syncto/sy_crypto.h"
#include "syncto/sy_json.h"
#include "syncto/sy_tokenserver.h"

#define SECRET "This is not a secret"
#define CS "601c4497372419ee1789bf931f8c68f5"
#define CS2 "0123456789abcdef0123456789abcdef"
#define KID "1444122508836-YBxElzckGe4Xib-TH4xo9Q"

/* cert JWT (exp 1444124383580 ms) ~ assertion JWT (exp 1444126183000 ms) */
#define ASSERTION                                                                                  \
    "eyJhbGciOiJSUzI1NiJ9."                                                                        \
    "eyJwdWJsaWMta2V5Ijp7Imt0eSI6IlJTQSJ9LCJwcmluY2lwYWwiOnsiZW1haWwiOiJhYmNA"                     \
    "YXBpLmFjY291bnRzLmZpcmVmb3guY29tIn0sImlhdCI6MTQ0NDEyMDc4MzU4MCwiZXhwIjoxNDQ0MTI0MzgzNTgwLCJm" \
    "eGEtZ2VuZXJhdGlvbiI6MTQ0NDEyMjUwODgzNn0.c2lnbmF0dXJl~eyJhbGciOiJSUzI1NiJ9."                   \
    "eyJleHAiOjE0NDQxMjY"                                                                          \
    "xODMwMDAsImF1ZCI6Imh0dHBzOi8vdG9rZW4uc2VydmljZXMubW96aWxsYS5jb20vIn0.c2ln"
/* JWT with exp 1700000000 s */
#define JWT                                                                                        \
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiZXhwIjoxNzAwMDAwMDAwLCJzY29wZSI6IngifQ." \
    "c2ln"
#define JWT_NO_EXP "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"

static sy_auth_t make_auth(sy_auth_kind_t kind, const char *cred, const char *cs, const char *kid)
{
    sy_auth_t a;

    memset(&a, 0, sizeof(a));
    a.kind = kind;
    a.credential = cred;
    a.client_state = cs;
    a.key_id = kid;
    return a;
}

static void test_cache_key(void **state)
{
    char k1[SY_CREDENTIALS_KEY_LEN + 1], k2[SY_CREDENTIALS_KEY_LEN + 1];
    sy_auth_t a;

    /* BrowserID: HMAC(secret, assertion "\n" client_state) */
    a = make_auth(SY_AUTH_BROWSERID, "1234", CS, NULL);
    sy_credentials_cache_key(SECRET, &a, k1);
    assert_string_equal(
        k1, "credentials_45f5335354132d554366280e5ad257540d3deecf6145019a6781485bb15cfbab");
    assert_int_equal(strlen(k1), SY_CREDENTIALS_KEY_LEN);

    /* the same assertion with another client state gets another row */
    a.client_state = CS2;
    sy_credentials_cache_key(SECRET, &a, k2);
    assert_string_not_equal(k1, k2);
    /* and is never the old Syncto's key (HMAC of the assertion alone) */
    assert_string_not_equal(
        k1, "credentials_636130e072155efd00d8e27196500d29110fb2e8e93bcedb2a30e0aa0e5ccf61");

    /* Bearer: HMAC(secret, "bearer\n" key_id "\n" token) */
    a = make_auth(SY_AUTH_BEARER, "tok", CS, KID);
    sy_credentials_cache_key(SECRET, &a, k1);
    assert_string_equal(
        k1, "credentials_480036b49d7316c6be7c4c753d3a077591e00261333de25d78de094db1410f9e");
    a.key_id = "1444122508837-YBxElzckGe4Xib-TH4xo9Q";
    sy_credentials_cache_key(SECRET, &a, k2);
    assert_string_not_equal(k1, k2);

    /* another secret, another key */
    a = make_auth(SY_AUTH_BROWSERID, "1234", CS, NULL);
    sy_credentials_cache_key("other secret", &a, k2);
    assert_string_not_equal(
        k2, "credentials_45f5335354132d554366280e5ad257540d3deecf6145019a6781485bb15cfbab");
}

static void test_expiry(void **state)
{
    static const struct {
        sy_auth_kind_t kind;
        const char *cred;
        int64_t exp_ms;
    } rows[] = {
        /* the smallest exp (ms) of the cert and the assertion */
        {SY_AUTH_BROWSERID, ASSERTION, 1444124383580},
        {SY_AUTH_BROWSERID, "abcd", -1},
        {SY_AUTH_BROWSERID, "a.b~c.d", -1},
        {SY_AUTH_BROWSERID, JWT_NO_EXP, -1},
        /* OAuth JWT: exp in seconds */
        {SY_AUTH_BEARER, JWT, 1700000000000},
        {SY_AUTH_BEARER, JWT_NO_EXP, -1},
        /* opaque tokens and non-JWT shapes */
        {SY_AUTH_BEARER, "2b0f2d27e4b1d7a0c5e6", -1},
        {SY_AUTH_BEARER, "a.b", -1},
        {SY_AUTH_BEARER, JWT ".extra", -1},
        {SY_AUTH_BEARER, "..", -1},
        {SY_AUTH_BEARER, "", -1},
        /* an exp that is no int64_t of ms (1e300, 1e16 s, NaN, -Infinity):
         * none, not undefined behaviour */
        {SY_AUTH_BEARER, "e30.eyJleHAiOjFlMzAwfQ.c2ln", -1},
        {SY_AUTH_BEARER, "e30.eyJleHAiOjFlMTZ9.c2ln", -1},
        {SY_AUTH_BEARER, "e30.eyJleHAiOk5hTn0.c2ln", -1},
        {SY_AUTH_BROWSERID, "eyJleHAiOjFlMzAwfQ.c2ln~e30.eyJleHAiOi1JbmZpbml0eX0.c2ln", -1},
        {SY_AUTH_BROWSERID, "eyJleHAiOk5hTn0.x~e30.eyJleHAiOjE0NDQxMjQzODM1ODB9.c2ln",
         1444124383580},
        {SY_AUTH_BROWSERID, "eyJleHAiOjFlMzAwfQ.x~e30.eyJleHAiOjE0NDQxMjQzODM1ODB9.c2ln",
         1444124383580},
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sy_auth_t a = make_auth(rows[i].kind, rows[i].cred, CS, KID);
        int64_t got = sy_credentials_expiry_ms(&a);

        if (got != rows[i].exp_ms)
            fail_msg("row %zu: %lld, expected %lld", i, (long long)got, (long long)rows[i].exp_ms);
    }
}

typedef struct {
    int trees, tokeners;
    size_t dirty; /* bytes not zero in what json-c is about to free */
} seen_t;

static void count_strings(seen_t *s, json_object *o)
{
    if (json_object_is_type(o, json_type_string)) {
        for (int i = 0; i < json_object_get_string_len(o); i++)
            s->dirty += json_object_get_string(o)[i] != '\0';
    } else if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach (o, name, value) {
            (void)name;
            count_strings(s, value);
        }
    }
}

static void on_wipe(json_object *tree, json_tokener *tok, void *arg)
{
    seen_t *s = arg;

    if (tree != NULL) {
        s->trees++;
        count_strings(s, tree);
    }
    if (tok != NULL) {
        s->tokeners++;
        for (int i = 0; i < tok->pb->size; i++) /* its work buffer, see sy_json.c */
            s->dirty += tok->pb->buf[i] != '\0';
    }
}

/* Reading the expiry decodes parts of the credential: what json-c made of
 * them is wiped before it is freed (a BrowserID assertion has two JSON
 * parts, the cert's and the assertion's; its signatures are not JSON). */
static void test_expiry_leaves_no_copy(void **state)
{
    sy_auth_t bid = make_auth(SY_AUTH_BROWSERID, ASSERTION, CS, NULL);
    sy_auth_t bearer = make_auth(SY_AUTH_BEARER, JWT, CS, KID);
    seen_t seen = {0};

    sy_json_test_wipe_hook(on_wipe, &seen);
    assert_true(sy_credentials_expiry_ms(&bid) == 1444124383580);
    assert_true(seen.trees >= 2 && seen.tokeners >= seen.trees);
    assert_true(sy_credentials_expiry_ms(&bearer) == 1700000000000);
    sy_json_test_wipe_hook(NULL, NULL);
    assert_true(seen.trees >= 3);
    assert_int_equal(seen.dirty, 0);
}

static void test_ttl(void **state)
{
    const int64_t now = 1700000000000;

    /* no readable expiry: the setting */
    assert_int_equal(sy_credentials_request_ttl(300, -1, now), 300);
    /* expiry sooner than the setting */
    assert_int_equal(sy_credentials_request_ttl(300, now + 100500, now), 100);
    /* expiry later than the setting */
    assert_int_equal(sy_credentials_request_ttl(300, now + 10000000, now), 300);
    /* expires now, or already expired: <= 0 */
    assert_int_equal(sy_credentials_request_ttl(300, now, now), 0);
    assert_int_equal(sy_credentials_request_ttl(300, now - 1500, now), -2);

    /* cache ttl = min(request ttl, token duration) - margin */
    assert_int_equal(sy_credentials_cache_ttl(300, 3600, 30), 270);
    assert_int_equal(sy_credentials_cache_ttl(300, 60, 30), 30);
    assert_int_equal(sy_credentials_cache_ttl(300, 0, 30), 270);
    assert_int_equal(sy_credentials_cache_ttl(20, 3600, 30), -10);
    assert_int_equal(sy_credentials_cache_ttl(300, 30, 30), 0);
}

/* The cached value is the tokenserver JSON encrypted under the client
 * state: another client state cannot read it. */
static void test_encryption_binds_client_state(void **state)
{
    static const char json[] = "{\"id\":\"i\",\"key\":\"k\",\"api_endpoint\":\"http://e/1\"}";
    char *hex = NULL, *plain = NULL;
    size_t len = 0;

    assert_int_equal(sy_cache_encrypt(SECRET, CS, json, strlen(json), &hex), SY_OK);
    assert_null(strstr(hex, "api_endpoint"));
    assert_int_equal(sy_cache_decrypt(SECRET, CS2, hex, &plain, &len), SY_ERR_CRYPTO);
    assert_int_equal(sy_cache_decrypt(SECRET, CS, hex, &plain, &len), SY_OK);
    assert_string_equal(plain, json);
    sy_secure_free(plain, len + 1);
    free(hex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_key),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_expiry_leaves_no_copy),
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_encryption_binds_client_state),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
