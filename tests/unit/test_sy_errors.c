/* Upstream outcome -> Kinto response: the mapping table, the bodies, the
 * exported Sync headers and Retry-After. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <sodium.h>

#include "syncto/sy_backoff.h"
#include "syncto/sy_ctx.h"
#include "syncto/sy_errors.h"

static void test_map_table(void **state)
{
    static const struct {
        sy_rc_t rc;
        int upstream;
        int status, kerrno;
        const char *message; /* NULL: the upstream message */
        bool empty;
    } rows[] = {
        {SY_ERR_UNREACHABLE, 0, 503, 201, SY_ERRORS_MSG_UNREACHABLE, false},
        {SY_ERR_TOO_LARGE, 0, 503, 201, SY_ERRORS_MSG_UNAVAILABLE, false},
        {SY_ERR_UPSTREAM, 200, 503, 201, SY_ERRORS_MSG_UNAVAILABLE, false},
        {SY_ERR_INVALID, 0, 503, 201, SY_ERRORS_MSG_UNAVAILABLE, false},
        {SY_OK, 304, 304, 0, NULL, true},
        {SY_OK, 400, 400, 107, NULL, false},
        {SY_OK, 401, 401, 105, NULL, false},
        {SY_OK, 403, 403, 121, NULL, false},
        {SY_OK, 404, 404, 110, NULL, false},
        {SY_OK, 412, 412, 114, SY_ERRORS_MSG_MODIFIED, false},
        {SY_OK, 413, 413, 113, NULL, false},
        {SY_OK, 409, 503, 201, SY_ERRORS_MSG_UNAVAILABLE, false},
        {SY_OK, 415, 503, 201, SY_ERRORS_MSG_UNAVAILABLE, false},
        {SY_OK, 500, 503, 201, SY_ERRORS_MSG_UNAVAILABLE, false},
        {SY_OK, 502, 503, 201, SY_ERRORS_MSG_UNAVAILABLE, false},
        {SY_OK, 503, 503, 201, SY_ERRORS_MSG_UNAVAILABLE, false},
        {SY_OK, 513, 503, 201, SY_ERRORS_MSG_UNAVAILABLE, false},
        {SY_OK, 302, 503, 201, SY_ERRORS_MSG_UNAVAILABLE, false},
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sy_error_map_t m;

        sy_errors_map(rows[i].rc, rows[i].upstream, &m);
        /* the wire values, as numbers: the protocol pins them */
        if (m.status != rows[i].status || (int)m.kinto_errno != rows[i].kerrno ||
            m.empty != rows[i].empty)
            fail_msg("row %zu (rc %d, %d): got %d/%d", i, rows[i].rc, rows[i].upstream, m.status,
                     (int)m.kinto_errno);
        if (rows[i].message == NULL)
            assert_null(m.message);
        else
            assert_string_equal(m.message, rows[i].message);
    }
}

static void test_message(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    static const char body[] = "{\"status\": \"invalid-credentials\", \"errors\": []}\n";
    char big[3000];

    assert_string_equal(sy_errors_upstream_message(pool, 401, body, strlen(body)),
                        "401 Unauthorized: {\"status\": \"invalid-credentials\", \"errors\": []}");
    assert_string_equal(sy_errors_upstream_message(pool, 400, "8", 1), "400 Bad Request: 8");
    assert_string_equal(sy_errors_upstream_message(pool, 404, "", 0), "404 Not Found: ");
    assert_string_equal(sy_errors_upstream_message(pool, 403,
                                                   "a\x01\xff"
                                                   "b",
                                                   4),
                        "403 Forbidden: a??b");
    memset(big, 'x', sizeof(big));
    assert_int_equal(strlen(sy_errors_upstream_message(pool, 400, big, sizeof(big))),
                     strlen("400 Bad Request: ") + SY_ERRORS_BODY_MAX);
    sy_pool_free(pool);
}

typedef struct {
    sy_settings_t settings;
    sy_ctx_t ctx;
    sy_pool_t *pool;
    sy_request_t req;
    sy_response_t resp;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    f->settings.retry_after_seconds = 30;
    f->pool = sy_pool_new(0);
    f->ctx.settings = &f->settings;
    f->ctx.pool = f->pool;
    f->req.pool = f->pool;
    f->req.ctx = &f->ctx;
    sy_resp_init(&f->req, &f->resp);
    sy_backoff_reset_memo();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    sy_pool_free(f->pool);
    free(f);
    return 0;
}

static void result(sy_pool_t *pool, sy_sync_result_t *r, sy_rc_t rc, int status, const char *body,
                   const char *const *headers)
{
    size_t i;

    memset(r, 0, sizeof(*r));
    r->rc = rc;
    r->stage = SY_SYNC_STAGE_SYNC;
    r->status = status;
    r->host = "sync.example.com";
    r->body = body;
    r->body_len = strlen(body);
    for (i = 0; headers != NULL && headers[i] != NULL; i += 2)
        sy_kv_add(pool, &r->headers, headers[i], headers[i + 1]);
    sy_sync_parse_headers(r, &r->headers);
}

static void expect_body(const sy_response_t *resp, int code, int kerrno, const char *error,
                        const char *message)
{
    json_object *v;

    assert_non_null(resp->json);
    assert_true(json_object_object_get_ex(resp->json, "code", &v));
    assert_int_equal(json_object_get_int(v), code);
    assert_true(json_object_object_get_ex(resp->json, "errno", &v));
    assert_int_equal(json_object_get_int(v), kerrno);
    assert_true(json_object_object_get_ex(resp->json, "error", &v));
    assert_string_equal(json_object_get_string(v), error);
    assert_true(json_object_object_get_ex(resp->json, "message", &v));
    assert_string_equal(json_object_get_string(v), message);
    assert_false(json_object_object_get_ex(resp->json, "info", &v));
}

static void test_respond_400_alert_backoff(void **state)
{
    fixture_t *f = *state;
    sy_sync_result_t r;
    const char *h[] = {"x-weave-alert",
                       "Sync is going away",
                       "x-weave-backoff",
                       "3600",
                       "x-weave-quota-remaining",
                       "125",
                       NULL};

    result(f->pool, &r, SY_OK, 400, "8", h);
    sy_errors_respond(&f->req, &f->resp, &r);
    assert_int_equal(f->resp.status, 400);
    expect_body(&f->resp, 400, 107, "Bad Request", "400 Bad Request: 8");
    assert_string_equal(sy_resp_header(&f->resp, "Alert"), "Sync is going away");
    assert_string_equal(sy_resp_header(&f->resp, "Backoff"), "3600");
    assert_string_equal(sy_resp_header(&f->resp, "Quota-Remaining"), "125");
    assert_null(sy_resp_header(&f->resp, "Retry-After"));
}

static void test_respond_401_from_tokenserver(void **state)
{
    fixture_t *f = *state;
    sy_sync_result_t r;
    static const char body[] = "{\"status\": \"invalid-credentials\"}";

    result(f->pool, &r, SY_OK, 401, body, NULL);
    r.stage = SY_SYNC_STAGE_TOKENSERVER;
    sy_errors_respond(&f->req, &f->resp, &r);
    expect_body(&f->resp, 401, 105, "Unauthorized",
                "401 Unauthorized: {\"status\": \"invalid-credentials\"}");
    assert_null(sy_resp_header(&f->resp, "WWW-Authenticate"));
}

static void test_respond_412_etag(void **state)
{
    fixture_t *f = *state;
    sy_sync_result_t r;
    const char *h[] = {"x-last-modified", "14377478425.69", NULL};

    result(f->pool, &r, SY_OK, 412, "", h);
    sy_errors_respond(&f->req, &f->resp, &r);
    expect_body(&f->resp, 412, 114, "Precondition Failed", SY_ERRORS_MSG_MODIFIED);
    assert_string_equal(sy_resp_header(&f->resp, "ETag"), "\"14377478425690\"");
}

static void test_respond_304(void **state)
{
    fixture_t *f = *state;
    sy_sync_result_t r;
    const char *h[] = {"x-last-modified", "14377478425.70", NULL};

    result(f->pool, &r, SY_OK, 304, "", h);
    sy_errors_respond(&f->req, &f->resp, &r);
    assert_int_equal(f->resp.status, 304);
    assert_null(f->resp.json);
    assert_string_equal(sy_resp_header(&f->resp, "ETag"), "\"14377478425700\"");
}

static void test_respond_503_retry_after(void **state)
{
    fixture_t *f = *state;
    sy_sync_result_t r;
    const char *sane[] = {"retry-after", "10", NULL};
    const char *insane[] = {"retry-after", "99999999", NULL};

    /* upstream's Retry-After when sane */
    result(f->pool, &r, SY_OK, 503, "0", sane);
    sy_errors_respond(&f->req, &f->resp, &r);
    expect_body(&f->resp, 503, 201, "Service Unavailable", SY_ERRORS_MSG_UNAVAILABLE);
    assert_string_equal(sy_resp_header(&f->resp, "Retry-After"), "10");

    /* else the setting */
    sy_resp_init(&f->req, &f->resp);
    result(f->pool, &r, SY_OK, 500, "0", insane);
    sy_errors_respond(&f->req, &f->resp, &r);
    assert_string_equal(sy_resp_header(&f->resp, "Retry-After"), "30");

    sy_resp_init(&f->req, &f->resp);
    f->settings.retry_after_seconds = 45;
    result(f->pool, &r, SY_OK, 409, "0", NULL);
    sy_errors_respond(&f->req, &f->resp, &r);
    assert_string_equal(sy_resp_header(&f->resp, "Retry-After"), "45");

    /* network failure */
    sy_resp_init(&f->req, &f->resp);
    result(f->pool, &r, SY_ERR_UNREACHABLE, 0, "", NULL);
    sy_errors_respond(&f->req, &f->resp, &r);
    expect_body(&f->resp, 503, 201, "Service Unavailable", SY_ERRORS_MSG_UNREACHABLE);
    assert_string_equal(sy_resp_header(&f->resp, "Retry-After"), "45");
}

static void test_export_success(void **state)
{
    fixture_t *f = *state;
    sy_sync_result_t r;
    const char *h[] = {
        "x-backoff", "60", "retry-after", "10", "x-weave-alert", "{\"code\":\"hard-eol\"}", NULL};

    result(f->pool, &r, SY_OK, 200, "[]", h);
    sy_errors_export(&f->req, &f->resp, &r);
    assert_string_equal(sy_resp_header(&f->resp, "Backoff"), "60");
    assert_string_equal(sy_resp_header(&f->resp, "Alert"), "{\"code\":\"hard-eol\"}");
    assert_null(sy_resp_header(&f->resp, "Retry-After"));
    assert_null(sy_resp_header(&f->resp, "Quota-Remaining"));

    /* a back-off recorded earlier for that node still shows */
    sy_backoff_note(&f->ctx, "sync.example.com", 200, &r.headers);
    sy_resp_init(&f->req, &f->resp);
    result(f->pool, &r, SY_OK, 200, "[]", NULL);
    sy_errors_export(&f->req, &f->resp, &r);
    assert_non_null(sy_resp_header(&f->resp, "Backoff"));
    {
        long v = strtol(sy_resp_header(&f->resp, "Backoff"), NULL, 10);

        assert_true(v >= 59 && v <= 60);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_table),
        cmocka_unit_test(test_message),
        cmocka_unit_test_setup_teardown(test_respond_400_alert_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_respond_401_from_tokenserver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_respond_412_etag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_respond_304, setup, teardown),
        cmocka_unit_test_setup_teardown(test_respond_503_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_success, setup, teardown),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
