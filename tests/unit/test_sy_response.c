#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "syncto/sy_ctx.h"
#include "syncto/sy_response.h"
#include "sy_test_util.h"

#define EXPOSE                                                                                     \
    "Alert, Backoff, Retry-After, Content-Length, Content-Type, ETag, Last-Modified, "             \
    "Next-Page, Total-Records, Total-Objects, Quota-Remaining, Cache-Control, Expires, Pragma"

typedef sy_test_fx_t fx_t;

static int setup(void **state)
{
    fx_t *f = sy_test_fx_new();

    f->settings.retry_after_seconds = 17;
    sy_test_request(&f->req, &f->ctx, "GET");
    sy_resp_init(&f->req, &f->resp);
    *state = f;
    return 0;
}

/* Parses the serialised body written by sy_resp_finish. */
static json_object *body_json(fx_t *f)
{
    assert_true(f->resp.has_body);
    return sy_test_json(f->resp.body.data);
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    return json_object_get_string(v);
}

static void test_error_shape(void **state)
{
    static const struct {
        int status, errno_;
        const char *message;
        const char *error;
    } cases[] = {
        {404, 111, "The resource you are looking for could not be found.", "Not Found"},
        {401, 104, "Provide a BID assertion Authorization header.", "Unauthorized"},
        {405, 115, "Method not allowed on this endpoint.", "Method Not Allowed"},
        {412, 114, "Resource was modified meanwhile", "Precondition Failed"},
        {413, 113, "Request body too large", "Request Entity Too Large"},
        {400, 107, "_since should be a number.", "Invalid parameters"},
        {400, 109, "bad data", "Bad Request"},
        {410, 202, NULL, "Gone"},
        {500, 999, NULL, "Internal Server Error"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_t *f = *state;
        json_object *o, *v;
        char len[32];

        sy_pool_reset(f->ctx.pool);
        sy_resp_init(&f->req, &f->resp);
        sy_resp_error(&f->req, &f->resp, cases[i].status, cases[i].errno_, cases[i].message, NULL);
        sy_resp_finish(&f->req, &f->resp);
        assert_int_equal(f->resp.status, cases[i].status);
        assert_string_equal(sy_resp_header(&f->resp, "Content-Type"),
                            "application/json; charset=UTF-8");
        o = body_json(f);
        assert_true(json_object_object_get_ex(o, "code", &v));
        assert_int_equal(json_object_get_int(v), cases[i].status);
        assert_true(json_object_object_get_ex(o, "errno", &v));
        assert_int_equal(json_object_get_int(v), cases[i].errno_);
        assert_string_equal(jstr(o, "error"), cases[i].error);
        if (cases[i].message != NULL)
            assert_string_equal(jstr(o, "message"), cases[i].message);
        else
            assert_false(json_object_object_get_ex(o, "message", NULL));
        assert_false(json_object_object_get_ex(o, "info", NULL));
        assert_false(json_object_object_get_ex(o, "details", NULL));
        /* Every 5xx says when to come back; nothing else does. */
        if (cases[i].status >= 500)
            assert_string_equal(sy_resp_header(&f->resp, "Retry-After"), "17");
        else
            assert_null(sy_resp_header(&f->resp, "Retry-After"));
        snprintf(len, sizeof(len), "%zu", f->resp.body.len);
        assert_string_equal(sy_resp_header(&f->resp, "Content-Length"), len);
        json_object_put(o);
    }
}

static void test_error_details_and_503(void **state)
{
    fx_t *f = *state;
    json_object *details = json_object_new_object();
    json_object *o, *d;

    json_object_object_add(details, "id", json_object_new_string("abc"));
    sy_resp_error(&f->req, &f->resp, 503, 201, "retry later", details);
    assert_string_equal(sy_resp_header(&f->resp, "Retry-After"), "17");
    sy_resp_finish(&f->req, &f->resp);
    /* An error keeps its Retry-After through finish. */
    assert_string_equal(sy_resp_header(&f->resp, "Retry-After"), "17");
    o = body_json(f);
    assert_string_equal(jstr(o, "error"), "Service Unavailable");
    assert_true(json_object_object_get_ex(o, "details", &d));
    assert_string_equal(jstr(d, "id"), "abc");
    json_object_put(o);
}

static void test_invalid_param_message(void **state)
{
    static const struct {
        const char *location, *name, *description, *message;
    } cases[] = {
        {"querystring", "_since", "_since should be a number.", "_since should be a number."},
        {"querystring", "_sort", "should be one of newest, index",
         "_sort in querystring: should be one of newest, index"},
        {"headers", NULL, "Invalid value for If-Match", "headers: Invalid value for If-Match"},
        {"body", "data", "Required", "data in body: Required"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_t *f = *state;
        json_object *o, *details, *d, *v;

        sy_pool_reset(f->ctx.pool);
        sy_resp_init(&f->req, &f->resp);
        sy_resp_invalid_param(&f->req, &f->resp, cases[i].location, cases[i].name,
                              cases[i].description);
        sy_resp_finish(&f->req, &f->resp);
        assert_int_equal(f->resp.status, 400);
        o = body_json(f);
        assert_string_equal(jstr(o, "error"), "Invalid parameters");
        assert_true(json_object_object_get_ex(o, "errno", &v));
        assert_int_equal(json_object_get_int(v), 107);
        assert_string_equal(jstr(o, "message"), cases[i].message);
        assert_true(json_object_object_get_ex(o, "details", &details));
        assert_true(json_object_is_type(details, json_type_array));
        assert_int_equal(json_object_array_length(details), 1);
        d = json_object_array_get_idx(details, 0);
        assert_string_equal(jstr(d, "location"), cases[i].location);
        assert_string_equal(jstr(d, "description"), cases[i].description);
        assert_true(json_object_object_get_ex(d, "name", &v));
        if (cases[i].name == NULL)
            assert_null(v);
        else
            assert_string_equal(json_object_get_string(v), cases[i].name);
        json_object_put(o);
    }
}

static void test_json_body(void **state)
{
    fx_t *f = *state;
    json_object *o = json_object_new_object();

    json_object_object_add(o, "url", json_object_new_string("https://h/v1/"));
    json_object_object_add(o, "n", json_object_new_int(3));
    sy_resp_json(&f->req, &f->resp, 200, o);
    sy_resp_finish(&f->req, &f->resp);
    assert_string_equal(f->resp.body.data, "{\"url\":\"https://h/v1/\",\"n\":3}");
    assert_string_equal(sy_resp_header(&f->resp, "Content-Length"), "29");
    assert_string_equal(sy_resp_header(&f->resp, "Cache-Control"), "no-cache");
    assert_string_equal(sy_resp_header(&f->resp, "Access-Control-Expose-Headers"), EXPOSE);
    /* No Origin, no ACAO. */
    assert_null(sy_resp_header(&f->resp, "Access-Control-Allow-Origin"));
}

static void test_json_replaced(void **state)
{
    fx_t *f = *state;

    /* The first object is released at pool reset although it was replaced
     * (checked by the leak checkers running this test). */
    sy_resp_json(&f->req, &f->resp, 200, json_object_new_string("first"));
    sy_resp_json(&f->req, &f->resp, 201, json_object_new_string("second"));
    sy_resp_json(&f->req, &f->resp, 201, f->resp.json); /* same object again */
    sy_resp_finish(&f->req, &f->resp);
    assert_int_equal(f->resp.status, 201);
    assert_string_equal(f->resp.body.data, "\"second\"");
}

static void test_cors(void **state)
{
    static const struct {
        const char *origins, *origin, *vary_before, *acao, *vary;
    } cases[] = {
        {"*", "notmyidea.org", NULL, "notmyidea.org", "Origin"},
        {"*", "https://a.example", "Accept", "https://a.example", "Accept, Origin"},
        {"https://a.example https://b.example", "https://b.example", NULL, "https://b.example",
         "Origin"},
        {"https://a.example,https://b.example", "HTTPS://A.example", NULL, "HTTPS://A.example",
         "Origin"},
        {"https://a.example https://b.example", "https://c.example", NULL, NULL, NULL},
        {"https://a.example", "https://a.example.evil", NULL, NULL, NULL},
        {"", "https://a.example", NULL, NULL, NULL},
        {"*", NULL, NULL, NULL, NULL},
        {"*", "https://a.example", "origin", "https://a.example", "origin"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_t *f = *state;

        sy_pool_reset(f->ctx.pool);
        memset(&f->req.headers, 0, sizeof(f->req.headers));
        f->settings.cors_origins = (char *)cases[i].origins;
        if (cases[i].origin != NULL)
            sy_kv_add(f->req.pool, &f->req.headers, "origin", cases[i].origin);
        sy_resp_init(&f->req, &f->resp);
        if (cases[i].vary_before != NULL)
            sy_resp_set_header(&f->req, &f->resp, "Vary", cases[i].vary_before);
        sy_resp_error(&f->req, &f->resp, 404, 111, "x", NULL);
        sy_resp_finish(&f->req, &f->resp);
        if (cases[i].acao == NULL)
            assert_null(sy_resp_header(&f->resp, "Access-Control-Allow-Origin"));
        else
            assert_string_equal(sy_resp_header(&f->resp, "Access-Control-Allow-Origin"),
                                cases[i].acao);
        if (cases[i].vary == NULL)
            assert_null(sy_resp_header(&f->resp, "Vary"));
        else
            assert_string_equal(sy_resp_header(&f->resp, "Vary"), cases[i].vary);
        assert_string_equal(sy_resp_header(&f->resp, "Access-Control-Expose-Headers"), EXPOSE);
    }
}

static void test_retry_after_and_bodyless(void **state)
{
    static const struct {
        int status;
        sy_method_t method;
        bool retry_kept;
        bool body;
        const char *content_length; /* NULL = absent */
    } cases[] = {
        {200, SY_M_GET, false, true, "2"},      {201, SY_M_PUT, false, true, "2"},
        {204, SY_M_DELETE, false, false, NULL}, {304, SY_M_GET, false, false, NULL},
        {307, SY_M_GET, false, true, "2"},      {200, SY_M_HEAD, false, true, "2"},
        {409, SY_M_PUT, true, true, "2"},       {429, SY_M_GET, true, true, "2"},
        {503, SY_M_GET, true, true, "2"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_t *f = *state;

        sy_pool_reset(f->ctx.pool);
        f->req.method = cases[i].method;
        sy_resp_init(&f->req, &f->resp);
        sy_resp_json(&f->req, &f->resp, cases[i].status, json_object_new_object());
        sy_resp_set_header(&f->req, &f->resp, "Retry-After", "30");
        sy_resp_finish(&f->req, &f->resp);
        assert_int_equal(sy_resp_header(&f->resp, "Retry-After") != NULL, cases[i].retry_kept);
        assert_int_equal(f->resp.has_body, cases[i].body);
        if (cases[i].content_length == NULL) {
            assert_null(sy_resp_header(&f->resp, "Content-Length"));
            assert_null(sy_resp_header(&f->resp, "Content-Type"));
            assert_null(f->resp.json);
        } else {
            assert_string_equal(sy_resp_header(&f->resp, "Content-Length"),
                                cases[i].content_length);
            assert_string_equal(f->resp.body.data, "{}");
        }
    }
}

static void test_empty_and_redirect(void **state)
{
    fx_t *f = *state;

    sy_resp_json(&f->req, &f->resp, 200, json_object_new_object());
    sy_resp_empty(&f->req, &f->resp, 200);
    sy_resp_finish(&f->req, &f->resp);
    assert_false(f->resp.has_body);
    assert_null(sy_resp_header(&f->resp, "Content-Type"));
    assert_string_equal(sy_resp_header(&f->resp, "Content-Length"), "0");

    sy_pool_reset(f->ctx.pool);
    sy_resp_init(&f->req, &f->resp);
    sy_resp_redirect(&f->req, &f->resp, "/v1/");
    sy_resp_finish(&f->req, &f->resp);
    assert_int_equal(f->resp.status, 307);
    assert_string_equal(sy_resp_header(&f->resp, "Location"), "/v1/");
    assert_false(f->resp.has_body);

    /* HEAD without a body gets no Content-Length from finish. */
    sy_pool_reset(f->ctx.pool);
    f->req.method = SY_M_HEAD;
    sy_resp_init(&f->req, &f->resp);
    sy_resp_empty(&f->req, &f->resp, 200);
    sy_resp_finish(&f->req, &f->resp);
    assert_null(sy_resp_header(&f->resp, "Content-Length"));
}

static void test_cache_control_and_backoff(void **state)
{
    fx_t *f = *state;

    f->settings.backoff = 60;
    sy_resp_json(&f->req, &f->resp, 200, json_object_new_object());
    sy_resp_set_header(&f->req, &f->resp, "Cache-Control", "no-cache, no-store");
    sy_resp_finish(&f->req, &f->resp);
    assert_string_equal(sy_resp_header(&f->resp, "Cache-Control"), "no-cache, no-store");
    assert_string_equal(sy_resp_header(&f->resp, "Backoff"), "60");

    /* An upstream Backoff wins; errors get no static one. */
    sy_pool_reset(f->ctx.pool);
    sy_resp_init(&f->req, &f->resp);
    sy_resp_json(&f->req, &f->resp, 200, json_object_new_object());
    sy_resp_set_header(&f->req, &f->resp, "Backoff", "3600");
    sy_resp_finish(&f->req, &f->resp);
    assert_string_equal(sy_resp_header(&f->resp, "Backoff"), "3600");

    sy_pool_reset(f->ctx.pool);
    sy_resp_init(&f->req, &f->resp);
    sy_resp_error(&f->req, &f->resp, 404, 110, NULL, NULL);
    sy_resp_finish(&f->req, &f->resp);
    assert_null(sy_resp_header(&f->resp, "Backoff"));

    /* With a threshold, only a busy worker sends it: no worker here, so
     * no thread is busy. */
    f->settings.backoff_threshold = 0.5;
    sy_pool_reset(f->ctx.pool);
    sy_resp_init(&f->req, &f->resp);
    sy_resp_json(&f->req, &f->resp, 200, json_object_new_object());
    sy_resp_finish(&f->req, &f->resp);
    assert_null(sy_resp_header(&f->resp, "Backoff"));
}

static void test_body_cap(void **state)
{
    fx_t *f = *state;
    size_t n = ((size_t)1 << 20) + 4000;
    char *big = malloc(n + 1);
    json_object *o, *v;

    /* Cap = 3 x 1000 + 1 MiB: a string of 1 MiB + 4000 does not fit. */
    f->settings.max_upstream_response_bytes = 1000;
    sy_pool_reset(f->ctx.pool);
    sy_resp_init(&f->req, &f->resp);
    memset(big, 'a', n);
    big[n] = '\0';
    sy_resp_json(&f->req, &f->resp, 200, json_object_new_string(big));
    free(big);
    sy_resp_finish(&f->req, &f->resp);
    assert_int_equal(f->resp.status, 500);
    o = body_json(f);
    assert_true(json_object_object_get_ex(o, "errno", &v));
    assert_int_equal(json_object_get_int(v), 999);
    json_object_put(o);
}

static void test_reasons(void **state)
{
    static const struct {
        int status;
        const char *reason;
    } cases[] = {
        {200, "OK"},
        {204, "No Content"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {412, "Precondition Failed"},
        {413, "Request Entity Too Large"},
        {429, "Too Many Requests"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {299, "OK"},
        {499, "Bad Request"},
        {599, "Internal Server Error"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(sy_http_reason(cases[i].status), cases[i].reason);
}

/* Backoff: the larger of what is there and what is asked for. */
static void test_backoff_keeps_the_larger(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    sy_ctx_t ctx = {.pool = pool};
    sy_request_t req = {.pool = pool, .ctx = &ctx};
    sy_response_t resp;

    sy_resp_init(&req, &resp);
    sy_resp_backoff(&req, &resp, 0);
    assert_null(sy_resp_header(&resp, "Backoff"));
    sy_resp_backoff(&req, &resp, 60);
    assert_string_equal(sy_resp_header(&resp, "Backoff"), "60");
    sy_resp_backoff(&req, &resp, 30);
    assert_string_equal(sy_resp_header(&resp, "Backoff"), "60");
    sy_resp_backoff(&req, &resp, 3600);
    assert_string_equal(sy_resp_header(&resp, "Backoff"), "3600");
    sy_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_keeps_the_larger),
        cmocka_unit_test_setup_teardown(test_error_shape, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_error_details_and_503, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_param_message, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_json_body, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_json_replaced, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_cors, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_and_bodyless, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_redirect, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_cache_control_and_backoff, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_body_cap, setup, sy_test_fx_teardown),
        cmocka_unit_test(test_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
