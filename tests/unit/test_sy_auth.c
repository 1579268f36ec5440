/* Kinto request credentials: every accepted and refused combination of
 * Authorization / Backend-Authorization / X-KeyID / X-Client-State / bucket
 * id, with the 401 messages the original Syncto tests pin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <sodium.h>

#include "syncto/sy_auth.h"
#include "syncto/sy_ctx.h"
#include "syncto/sy_settings.h"

#define CS "601c4497372419ee1789bf931f8c68f5"
#define CS_UPPER "601C4497372419EE1789BF931F8C68F5"
#define KID "1444122508836-YBxElzckGe4Xib-TH4xo9Q"
#define CS2 "0123456789abcdef0123456789abcdef"
#define KID2 "1444122508836-ASNFZ4mrze8BI0VniavN7w"

typedef struct {
    const char *name;
    const char *headers[8]; /* name, value pairs (lowercased names), NULL-terminated */
    const char *bucket;
    bool browserid;
    sy_rc_t rc;
    const char *message; /* on failure */
    sy_auth_kind_t kind; /* on success */
    const char *credential;
    const char *client_state;
    const char *key_id;
    bool client_state_header;
} auth_case_t;

static const auth_case_t cases[] = {
    /* missing or unusable Authorization */
    {"no header",
     {NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MISSING_BID,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"no header, bucket syncto",
     {NULL},
     "syncto",
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MISSING_BID,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"no header, BrowserID off",
     {NULL},
     CS,
     false,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MISSING_BEARER,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"Basic scheme",
     {"authorization", "Basic Zm9vOmJhcg==", NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MISSING_BID,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"scheme without credential",
     {"authorization", "BrowserID", NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MISSING_BID,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"scheme and spaces only",
     {"authorization", "Bearer   ", "x-keyid", KID, NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MISSING_BID,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"empty header",
     {"authorization", "", NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MISSING_BID,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"BrowserID while disabled",
     {"authorization", "BrowserID abcd", NULL},
     CS,
     false,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MISSING_BEARER,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"BrowserIDabcd (no space)",
     {"authorization", "BrowserIDabcd", NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MISSING_BID,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"control character in credential",
     {"authorization",
      "BrowserID ab\x01"
      "cd",
      NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MALFORMED,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"CR LF in credential",
     {"authorization", "Bearer a\r\nX-Evil: 1", "x-keyid", KID, NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MALFORMED,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},

    /* BrowserID */
    {"BrowserID, hex bucket",
     {"authorization", "BrowserID abcd", NULL},
     CS,
     true,
     SY_OK,
     NULL,
     SY_AUTH_BROWSERID,
     "abcd",
     CS,
     NULL,
     false},
    {"browserid scheme lowercase",
     {"authorization", "browserid a.b~c.d", NULL},
     CS,
     true,
     SY_OK,
     NULL,
     SY_AUTH_BROWSERID,
     "a.b~c.d",
     CS,
     NULL,
     false},
    {"BROWSERID, upper-case bucket is lowercased",
     {"authorization", "BROWSERID  abcd  ", NULL},
     CS_UPPER,
     true,
     SY_OK,
     NULL,
     SY_AUTH_BROWSERID,
     "abcd",
     CS,
     NULL,
     false},
    {"BrowserID, bucket syncto without X-Client-State",
     {"authorization", "BrowserID abcd", NULL},
     "syncto",
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MISSING_STATE,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"BrowserID, bucket syncto + X-Client-State",
     {"authorization", "BrowserID abcd", "x-client-state", CS_UPPER, NULL},
     "syncto",
     true,
     SY_OK,
     NULL,
     SY_AUTH_BROWSERID,
     "abcd",
     CS,
     NULL,
     true},
    {"BrowserID, bucket syncto + bad X-Client-State",
     {"authorization", "BrowserID abcd", "x-client-state", "12345", NULL},
     "syncto",
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_BAD_STATE,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"BrowserID, hex bucket wins over X-Client-State",
     {"authorization", "BrowserID abcd", "x-client-state", CS2, NULL},
     CS,
     true,
     SY_OK,
     NULL,
     SY_AUTH_BROWSERID,
     "abcd",
     CS,
     NULL,
     true},
    {"bucket of another length",
     {"authorization", "BrowserID abcd", NULL},
     "1234",
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_BAD_BUCKET,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"bucket of 32 non-hex chars",
     {"authorization", "BrowserID abcd", NULL},
     "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_BAD_BUCKET,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"bucket of 33 hex chars",
     {"authorization", "BrowserID abcd", NULL},
     CS "0",
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_BAD_BUCKET,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"no bucket",
     {"authorization", "BrowserID abcd", NULL},
     NULL,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_BAD_BUCKET,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},

    /* Bearer + X-KeyID */
    {"Bearer + X-KeyID",
     {"authorization", "Bearer tok", "x-keyid", KID, NULL},
     CS,
     true,
     SY_OK,
     NULL,
     SY_AUTH_BEARER,
     "tok",
     CS,
     KID,
     false},
    {"bearer scheme lowercase, BrowserID off",
     {"authorization", "bearer tok", "x-keyid", KID, NULL},
     CS,
     false,
     SY_OK,
     NULL,
     SY_AUTH_BEARER,
     "tok",
     CS,
     KID,
     false},
    {"Bearer, upper-case bucket",
     {"authorization", "Bearer tok", "x-keyid", KID, NULL},
     CS_UPPER,
     true,
     SY_OK,
     NULL,
     SY_AUTH_BEARER,
     "tok",
     CS,
     KID,
     false},
    {"Bearer without X-KeyID",
     {"authorization", "Bearer tok", NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MISSING_KEYID,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"Bearer, X-KeyID of another client state",
     {"authorization", "Bearer tok", "x-keyid", KID2, NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_KEYID_MISMATCH,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"Bearer, X-KeyID without dash",
     {"authorization", "Bearer tok", "x-keyid", "YBxElzckGe4Xib", NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_BAD_KEYID,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"Bearer, X-KeyID non-integer prefix",
     {"authorization", "Bearer tok", "x-keyid", "abc-YBxElzckGe4Xib-TH4xo9Q", NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_BAD_KEYID,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"Bearer, X-KeyID padded",
     // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): the key id with "==" appended
     {"authorization", "Bearer tok", "x-keyid", KID "==", NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_BAD_KEYID,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"Bearer, X-KeyID of 15 bytes",
     {"authorization", "Bearer tok", "x-keyid", "1-YBxElzckGe4Xib-TH4xo", NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_BAD_KEYID,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"Bearer, bucket syncto + X-Client-State + X-KeyID",
     {"authorization", "Bearer tok", "x-keyid", KID, "x-client-state", CS, NULL},
     "syncto",
     true,
     SY_OK,
     NULL,
     SY_AUTH_BEARER,
     "tok",
     CS,
     KID,
     true},
    {"Bearer, bucket syncto, X-Client-State differs from X-KeyID",
     {"authorization", "Bearer tok", "x-keyid", KID, "x-client-state", CS2, NULL},
     "syncto",
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_KEYID_MISMATCH,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
    {"Bearer, bucket syncto without X-Client-State",
     {"authorization", "Bearer tok", "x-keyid", KID, NULL},
     "syncto",
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MISSING_STATE,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},

    /* Backend-Authorization replaces Authorization */
    {"Backend-Authorization wins",
     {"authorization", "Basic Zm9v", "backend-authorization", "BrowserID xyz", NULL},
     CS,
     true,
     SY_OK,
     NULL,
     SY_AUTH_BROWSERID,
     "xyz",
     CS,
     NULL,
     false},
    {"Backend-Authorization Bearer over BrowserID",
     {"authorization", "BrowserID abc", "backend-authorization", "Bearer t2", "x-keyid", KID, NULL},
     CS,
     true,
     SY_OK,
     NULL,
     SY_AUTH_BEARER,
     "t2",
     CS,
     KID,
     false},
    {"Backend-Authorization of another scheme",
     {"authorization", "BrowserID abc", "backend-authorization", "Basic Zm9v", NULL},
     CS,
     true,
     SY_ERR_INVALID,
     SY_AUTH_MSG_MISSING_BID,
     (sy_auth_kind_t)0,
     NULL,
     NULL,
     NULL,
     false},
};

static void test_parse_table(void **state)
{
    size_t i, j;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const auth_case_t *c = &cases[i];
        sy_pool_t *pool = sy_pool_new(0);
        sy_kvlist_t headers = {0};
        sy_auth_t auth;
        const char *message = (const char *)1;
        sy_rc_t rc;

        for (j = 0; c->headers[j] != NULL; j += 2)
            sy_kv_add(pool, &headers, c->headers[j], c->headers[j + 1]);
        rc = sy_auth_parse(pool, &headers, c->bucket, c->browserid, &auth, &message);
        if (rc != c->rc)
            fail_msg("%s: rc %d, expected %d (%s)", c->name, rc, c->rc,
                     message != NULL ? message : "-");
        if (c->rc != SY_OK) {
            if (message == NULL || strcmp(message, c->message) != 0)
                fail_msg("%s: message \"%s\", expected \"%s\"", c->name,
                         message != NULL ? message : "(null)", c->message);
        } else {
            assert_null(message);
            if (auth.kind != c->kind)
                fail_msg("%s: kind %d", c->name, auth.kind);
            assert_string_equal(auth.credential, c->credential);
            assert_string_equal(auth.client_state, c->client_state);
            if (c->key_id == NULL)
                assert_null(auth.key_id);
            else
                assert_string_equal(auth.key_id, c->key_id);
            if (auth.client_state_header != c->client_state_header)
                fail_msg("%s: client_state_header", c->name);
        }
        sy_pool_free(pool);
    }
}

static void test_key_id_client_state(void **state)
{
    static const struct {
        const char *kid;
        sy_rc_t rc;
        const char *cs;
    } kids[] = {
        {KID, SY_OK, CS},
        {"0-YBxElzckGe4Xib-TH4xo9Q", SY_OK, CS},
        {KID2, SY_OK, CS2},
        /* the url-safe alphabet contains '-': split at the first one only */
        {"12-ASNFZ4mrze8BI0VniavN7w", SY_OK, CS2},
        {"-YBxElzckGe4Xib-TH4xo9Q", SY_ERR_INVALID, NULL},
        {"1444122508836-", SY_ERR_INVALID, NULL},
        {"1444122508836", SY_ERR_INVALID, NULL},
        {"14441225088361234567-YBxElzckGe4Xib-TH4xo9Q", SY_ERR_INVALID, NULL},
        {"1444122508836-YBxElzckGe4Xib+TH4xo9Q", SY_ERR_INVALID, NULL},
        {"1444122508836-u7s", SY_ERR_INVALID, NULL},
    };
    size_t i;

    for (i = 0; i < sizeof(kids) / sizeof(kids[0]); i++) {
        char out[33] = "";
        sy_rc_t rc = sy_auth_key_id_client_state(kids[i].kid, out);

        if (rc != kids[i].rc)
            fail_msg("%s: rc %d", kids[i].kid, rc);
        if (rc == SY_OK)
            assert_string_equal(out, kids[i].cs);
    }
    assert_int_equal(sy_auth_key_id_client_state(NULL, (char[33]){0}), SY_ERR_INVALID);
}

/* The request-level entry point: 401 errno 104 body, the soft-eol Alert,
 * and never a WWW-Authenticate header. */
static void test_from_request(void **state)
{
    static sy_settings_t settings;
    sy_ctx_t ctx = {0};
    sy_pool_t *pool = sy_pool_new(0);
    sy_request_t req = {0};
    sy_response_t resp;
    sy_auth_t auth;
    json_object *alert, *v;

    settings.browserid_enabled = true;
    settings.retry_after_seconds = 30;
    ctx.settings = &settings;
    ctx.pool = pool;
    req.pool = pool;
    req.ctx = &ctx;
    req.params[0] = "syncto";
    req.nparams = 3;

    /* missing X-Client-State with bucket syncto */
    sy_kv_add(pool, &req.headers, "authorization", "BrowserID abcd");
    sy_resp_init(&req, &resp);
    assert_int_equal(sy_auth_from_request(&req, &resp, &auth), SY_ERR_INVALID);
    assert_int_equal(resp.status, 401);
    assert_non_null(resp.json);
    assert_true(json_object_object_get_ex(resp.json, "errno", &v));
    assert_int_equal(json_object_get_int(v), 104);
    assert_true(json_object_object_get_ex(resp.json, "message", &v));
    assert_string_equal(json_object_get_string(v), SY_AUTH_MSG_MISSING_STATE);
    assert_true(json_object_object_get_ex(resp.json, "error", &v));
    assert_string_equal(json_object_get_string(v), "Unauthorized");
    assert_null(sy_resp_header(&resp, "WWW-Authenticate"));
    assert_null(sy_resp_header(&resp, "Alert"));

    /* with X-Client-State: accepted, and the deprecation Alert */
    sy_kv_add(pool, &req.headers, "x-client-state", CS);
    sy_resp_init(&req, &resp);
    assert_int_equal(sy_auth_from_request(&req, &resp, &auth), SY_OK);
    assert_string_equal(auth.client_state, CS);
    assert_non_null(sy_resp_header(&resp, "Alert"));
    alert = json_tokener_parse(sy_resp_header(&resp, "Alert"));
    assert_non_null(alert);
    assert_true(json_object_object_get_ex(alert, "code", &v));
    assert_string_equal(json_object_get_string(v), "soft-eol");
    assert_true(json_object_object_get_ex(alert, "message", &v));
    assert_string_equal(json_object_get_string(v),
                        "X-Client-State header is deprecated and should not be provided anymore.");
    assert_true(json_object_object_get_ex(alert, "url", &v));
    assert_string_equal(json_object_get_string(v), "https://syncto.readthedocs.io/");
    json_object_put(alert);

    /* a failure still carries the Alert when X-Client-State was sent */
    req.params[0] = "nope";
    sy_resp_init(&req, &resp);
    assert_int_equal(sy_auth_from_request(&req, &resp, &auth), SY_ERR_INVALID);
    assert_int_equal(resp.status, 401);
    assert_non_null(sy_resp_header(&resp, "Alert"));
    assert_true(json_object_object_get_ex(resp.json, "message", &v));
    assert_string_equal(json_object_get_string(v), SY_AUTH_MSG_BAD_BUCKET);
    sy_pool_free(pool);
}

/* Credentials copied by the parser are wiped when the pool is reset: a
 * cleanup registered before the copy runs after the wipe (cleanups run last
 * in, first out) and still sees the pool memory. */
typedef struct {
    const char *secret;
    size_t len;
    bool checked;
    bool zero;
} wipe_probe_t;

static void probe_cleanup(void *data)
{
    wipe_probe_t *p = data;
    size_t i;

    p->checked = true;
    p->zero = true;
    for (i = 0; i < p->len; i++)
        if (p->secret[i] != '\0')
            p->zero = false;
}

static void test_secret_wiped(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    wipe_probe_t probe = {0};

    sy_pool_cleanup_add(pool, probe_cleanup, &probe);
    probe.secret = sy_auth_secret_dup(pool, "top-secret", 10);
    probe.len = 10;
    assert_string_equal(probe.secret, "top-secret");
    sy_pool_reset(pool);
    assert_true(probe.checked);
    assert_true(probe.zero);
    sy_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_key_id_client_state),
        cmocka_unit_test(test_from_request),
        cmocka_unit_test(test_secret_wiped),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
