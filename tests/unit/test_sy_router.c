#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "syncto/sy_ctx.h"
#include "syncto/sy_router.h"
#include "sy_test_util.h"
#include "sy_version.h"

typedef sy_test_fx_t fx_t;

static int setup(void **state)
{
    fx_t *f = sy_test_fx_new();

    f->settings.fxa_oauth_client_id = "cid";
    f->settings.fxa_oauth_uri = "https://oauth.example/v1";
    f->settings.fxa_oauth_scope = "sync:addon_storage";
    *state = f;
    return 0;
}

/* Builds a request as the FastCGI front would, dispatches and finishes it.
 * headers: NULL-terminated name, value pairs (lowercase names). */
static void run(fx_t *f, const char *method, const char *path, const char *query,
                const char *const *headers)
{
    sy_pool_reset(f->ctx.pool);
    sy_test_request(&f->req, &f->ctx, method);
    f->req.scheme = "http";
    f->req.host = "localhost:8000";
    assert_true(sy_request_set_path(&f->req, path));
    assert_true(sy_request_set_query(&f->req, query));
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i += 2)
        sy_kv_add(f->req.pool, &f->req.headers, headers[i], headers[i + 1]);
    sy_resp_init(&f->req, &f->resp);
    sy_router_dispatch(&f->req, &f->resp);
    sy_resp_finish(&f->req, &f->resp);
}

static json_object *body(fx_t *f)
{
    assert_true(f->resp.has_body);
    return sy_test_json(f->resp.body.data);
}

static int errno_of(fx_t *f)
{
    json_object *o = body(f);
    int e = json_object_get_int(sy_test_member(o, "errno"));

    json_object_put(o);
    return e;
}

static void test_redirects(void **state)
{
    static const struct {
        const char *method, *path, *query, *location;
    } cases[] = {
        {"GET", "/", "", "/v1/"},
        {"GET", "/", "a=b", "/v1/?a=b"},
        {"GET", "/__heartbeat__", "", "/v1/__heartbeat__"},
        {"GET", "/buckets/x/collections/tabs/records", "_since=1&_limit=2",
         "/v1/buckets/x/collections/tabs/records?_since=1&_limit=2"},
        {"PUT", "/buckets/b/collections/c/records/%7Bid%7D", "",
         "/v1/buckets/b/collections/c/records/%7Bid%7D"},
        {"GET", "/vendor", "", "/v1/vendor"},
        {"GET", "//evil.example/x", "", "/v1//evil.example/x"},
        {"GET", "/v1", "", "/v1/"},
        {"GET", "/v1", "x=1", "/v1/?x=1"},
        {"GET", "/v1/buckets/", "", "/v1/buckets"},
        {"GET", "/v1/__heartbeat__/", "", "/v1/__heartbeat__"},
        {"GET", "/v1/buckets/b/collections/c/records/", "_limit=2&_sort=index",
         "/v1/buckets/b/collections/c/records?_limit=2&_sort=index"},
        {"POST", "/v1/batch/", "", "/v1/batch"},
        {"GET", "/v1/buckets//", "", "/v1/buckets"},
        {"GET", "/v1//", "", "/v1/"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_t *f = *state;
        run(f, cases[i].method, cases[i].path, cases[i].query, NULL);
        assert_int_equal(f->resp.status, 307);
        assert_string_equal(sy_resp_header(&f->resp, "Location"), cases[i].location);
        assert_false(f->resp.has_body);
        assert_null(sy_resp_header(&f->resp, "Retry-After"));
    }
}

static void test_not_found(void **state)
{
    static const struct {
        const char *path;
        int errno_;
    } cases[] = {
        {"/v1/unknown", 111},
        {"/v1/buckets/b/unknown", 111},
        {"/v1/buckets/b/collections/c/records/r/x", 111},
        {"/v1/buckets//collections", 111},
        {"/v1/buckets/b/collections//records", 111},
        {"/v1/Buckets/b", 111},
        {"/v1/fxa-oauth", 111},
        {"/v2/buckets", 116},
        {"/v11/", 116},
    };
    const char *const origin[] = {"origin", "notmyidea.org", NULL};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_t *f = *state;
        json_object *o;

        run(f, "GET", cases[i].path, "", origin);
        assert_int_equal(f->resp.status, 404);
        o = body(f);
        assert_int_equal(json_object_get_int(sy_test_member(o, "errno")), cases[i].errno_);
        assert_string_equal(sy_test_string(o, "error"), "Not Found");
        if (cases[i].errno_ == 111)
            assert_string_equal(sy_test_string(o, "message"),
                                "The resource you are looking for could not be found.");
        json_object_put(o);
        /* Errors carry CORS too. */
        assert_string_equal(sy_resp_header(&f->resp, "Access-Control-Allow-Origin"),
                            "notmyidea.org");
        assert_string_equal(sy_resp_header(&f->resp, "Content-Type"),
                            "application/json; charset=UTF-8");
    }
}

static void test_method_not_allowed(void **state)
{
    static const struct {
        const char *method, *path, *allow, *route;
        size_t nparams;
        const char *params[3];
    } cases[] = {
        {"POST", "/v1/", "GET, HEAD", "/v1/", 0, {NULL}},
        {"DELETE", "/v1/__heartbeat__", "GET, HEAD", "/v1/__heartbeat__", 0, {NULL}},
        {"GET", "/v1/batch", "POST", "/v1/batch", 0, {NULL}},
        {"PUT", "/v1/batch", "POST", "/v1/batch", 0, {NULL}},
        {"PUT", "/v1/buckets/syncto", "GET, HEAD", "/v1/buckets/{}", 1, {"syncto"}},
        {"DELETE",
         "/v1/buckets/b/collections/tabs",
         "GET, HEAD",
         "/v1/buckets/{}/collections/{}",
         2,
         {"b", "tabs"}},
        {"POST",
         "/v1/buckets/b/collections/tabs/records",
         "GET, HEAD",
         "/v1/buckets/{}/collections/{}/records",
         2,
         {"b", "tabs"}},
        {"DELETE",
         "/v1/buckets/b/collections/tabs/records",
         "GET, HEAD",
         "/v1/buckets/{}/collections/{}/records",
         2,
         {"b", "tabs"}},
        {"PATCH",
         "/v1/buckets/b/collections/tabs/records/%7Bab%20c%7D",
         "GET, HEAD, PUT, DELETE",
         "/v1/buckets/{}/collections/{}/records/{}",
         3,
         {"b", "tabs", "{ab c}"}},
        {"POST",
         "/v1/buckets/b/collections/tabs/records/r1",
         "GET, HEAD, PUT, DELETE",
         "/v1/buckets/{}/collections/{}/records/{}",
         3,
         {"b", "tabs", "r1"}},
        {"TRACE",
         "/v1/buckets/b/collections/tabs/records/r1",
         "GET, HEAD, PUT, DELETE",
         "/v1/buckets/{}/collections/{}/records/{}",
         3,
         {"b", "tabs", "r1"}},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_t *f = *state;
        json_object *o;

        run(f, cases[i].method, cases[i].path, "", NULL);
        assert_int_equal(f->resp.status, 405);
        o = body(f);
        assert_int_equal(json_object_get_int(sy_test_member(o, "errno")), 115);
        assert_string_equal(sy_test_string(o, "error"), "Method Not Allowed");
        assert_string_equal(sy_test_string(o, "message"), "Method not allowed on this endpoint.");
        json_object_put(o);
        assert_string_equal(sy_resp_header(&f->resp, "Allow"), cases[i].allow);
        assert_string_equal(f->req.route, cases[i].route);
        assert_int_equal(f->req.nparams, cases[i].nparams);
        for (size_t j = 0; j < cases[i].nparams; j++)
            assert_string_equal(f->req.params[j], cases[i].params[j]);
    }
}

static void test_preflight(void **state)
{
    static const struct {
        const char *path;
        const char *req_headers; /* Access-Control-Request-Headers */
        const char *allow_headers;
    } cases[] = {
        {"/v1/", "authorization,content-type", "authorization,content-type"},
        {"/v1/batch", "authorization,content-type,x-client-state",
         "authorization,content-type,x-client-state"},
        {"/v1/buckets/b/collections/c/records/r", "if-match, content-type",
         "if-match, content-type"},
        {"/", NULL, NULL},
        {"/v1/unknown/", "authorization", "authorization"},
        {"/v1/buckets/b/collections/c/records", "x\r\ninjected: 1", NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_t *f = *state;
        const char *hdrs[] = {"origin",
                              "https://app.example",
                              "access-control-request-method",
                              "PUT",
                              "access-control-request-headers",
                              cases[i].req_headers,
                              NULL};

        if (cases[i].req_headers == NULL)
            hdrs[4] = NULL;
        run(f, "OPTIONS", cases[i].path, "", hdrs);
        assert_int_equal(f->resp.status, 200);
        assert_false(f->resp.has_body);
        assert_string_equal(sy_resp_header(&f->resp, "Access-Control-Allow-Origin"),
                            "https://app.example");
        assert_string_equal(sy_resp_header(&f->resp, "Access-Control-Allow-Methods"),
                            "GET,HEAD,PUT,DELETE,POST,OPTIONS");
        assert_string_equal(sy_resp_header(&f->resp, "Access-Control-Max-Age"), "3600");
        assert_string_equal(sy_resp_header(&f->resp, "Vary"), "Origin");
        if (cases[i].allow_headers == NULL)
            assert_null(sy_resp_header(&f->resp, "Access-Control-Allow-Headers"));
        else
            assert_string_equal(sy_resp_header(&f->resp, "Access-Control-Allow-Headers"),
                                cases[i].allow_headers);
    }

    /* An origin outside syncto.cors_origins gets no ACAO. */
    fx_t *f = *state;
    const char *hdrs[] = {"origin", "https://other.example", NULL};
    f->settings.cors_origins = "https://app.example";
    run(f, "OPTIONS", "/v1/", "", hdrs);
    assert_int_equal(f->resp.status, 200);
    assert_null(sy_resp_header(&f->resp, "Access-Control-Allow-Origin"));
    f->settings.cors_max_age_seconds = 60;
    run(f, "OPTIONS", "/v1/", "", NULL);
    assert_string_equal(sy_resp_header(&f->resp, "Access-Control-Max-Age"), "60");
}

static void test_hello(void **state)
{
    static const struct {
        const char *http_scheme, *http_host, *url;
        int batch_max;
        bool readonly;
    } cases[] = {
        {"", "", "http://localhost:8000/v1/", 25, false},
        {"https", "sync.example.com", "https://sync.example.com/v1/", 50, true},
    };
    /* Auth headers must not get in the way of the hello view. */
    const char *const hdrs[] = {"authorization", "BrowserID abcd", "x-client-state",
                                "0123456789abcdef0123456789abcdef", NULL};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_t *f = *state;
        json_object *o, *s;

        f->settings.http_scheme = (char *)cases[i].http_scheme;
        f->settings.http_host = (char *)cases[i].http_host;
        f->settings.batch_max_requests = cases[i].batch_max;
        f->settings.readonly = cases[i].readonly;
        run(f, "GET", "/v1/", "", hdrs);
        assert_int_equal(f->resp.status, 200);
        assert_string_equal(f->req.route, "/v1/");
        o = body(f);
        assert_string_equal(sy_test_string(o, "project_name"), "syncto");
        assert_string_equal(sy_test_string(o, "project_version"), SY_VERSION);
        assert_string_equal(sy_test_string(o, "project_docs"), SY_PROJECT_DOCS);
        assert_string_equal(sy_test_string(o, "http_api_version"), SY_HTTP_API_VERSION);
        assert_string_equal(sy_test_string(o, "cliquet_protocol_version"), "2");
        assert_string_equal(sy_test_string(o, "url"), cases[i].url);
        assert_false(json_object_object_get_ex(o, "eos", NULL));
        assert_false(json_object_object_get_ex(o, "user", NULL));
        s = sy_test_member(o, "settings");
        assert_int_equal(json_object_get_int(sy_test_member(s, "batch_max_requests")),
                         cases[i].batch_max);
        assert_int_equal(json_object_get_int(sy_test_member(s, "cliquet.batch_max_requests")),
                         cases[i].batch_max);
        assert_int_equal(json_object_get_boolean(sy_test_member(s, "readonly")), cases[i].readonly);
        assert_true(json_object_is_type(sy_test_member(o, "capabilities"), json_type_object));
        assert_int_equal(json_object_object_length(sy_test_member(o, "capabilities")), 0);
        json_object_put(o);
        assert_null(sy_resp_header(&f->resp, "Alert"));
    }
}

static void test_head(void **state)
{
    fx_t *f = *state;
    size_t get_len;
    char len[32];

    run(f, "GET", "/v1/", "", NULL);
    get_len = f->resp.body.len;
    assert_true(get_len > 0);
    run(f, "HEAD", "/v1/", "", NULL);
    assert_int_equal(f->resp.status, 200);
    assert_false(f->resp.has_body);
    assert_null(f->resp.json);
    assert_int_equal(f->resp.body.len, 0);
    snprintf(len, sizeof(len), "%zu", get_len);
    assert_string_equal(sy_resp_header(&f->resp, "Content-Length"), len);
    assert_string_equal(sy_resp_header(&f->resp, "Content-Type"),
                        "application/json; charset=UTF-8");

    run(f, "HEAD", "/v1/__lbheartbeat__", "", NULL);
    assert_int_equal(f->resp.status, 200);
    assert_false(f->resp.has_body);
    assert_string_equal(sy_resp_header(&f->resp, "Content-Length"), "2");
}

static void test_utility_views(void **state)
{
    fx_t *f = *state;
    json_object *o;

    run(f, "GET", "/v1/__lbheartbeat__", "", NULL);
    assert_int_equal(f->resp.status, 200);
    assert_string_equal(f->resp.body.data, "{}");

    run(f, "GET", "/v1/__version__", "", NULL);
    assert_int_equal(f->resp.status, 200);
    o = body(f);
    assert_string_equal(sy_test_string(o, "name"), "syncto");
    assert_string_equal(sy_test_string(o, "version"), SY_VERSION);
    assert_string_equal(sy_test_string(o, "commit"), SY_GIT_COMMIT);
    assert_string_equal(sy_test_string(o, "source"), SY_SOURCE_URL);
    json_object_put(o);

    run(f, "GET", "/v1/fxa-oauth/params", "", NULL);
    assert_int_equal(f->resp.status, 200);
    o = body(f);
    assert_string_equal(sy_test_string(o, "client_id"), "cid");
    assert_string_equal(sy_test_string(o, "oauth_uri"), "https://oauth.example/v1");
    assert_string_equal(sy_test_string(o, "scope"), "sync:addon_storage");
    assert_int_equal(json_object_object_length(o), 3);
    json_object_put(o);
    assert_string_equal(sy_resp_header(&f->resp, "Cache-Control"), "no-cache");
}

static void test_end_of_service(void **state)
{
    fx_t *f = *state;
    json_object *o, *a;

    f->settings.eos_message = "Moving on";
    f->settings.eos_url = "https://docs.example/eos";

    f->settings.eos = "2999-01-01";
    run(f, "GET", "/v1/", "", NULL);
    assert_int_equal(f->resp.status, 200);
    o = body(f);
    assert_string_equal(sy_test_string(o, "eos"), "2999-01-01");
    json_object_put(o);
    a = sy_test_json(sy_resp_header(&f->resp, "Alert"));
    assert_string_equal(sy_test_string(a, "code"), "soft-eol");
    assert_string_equal(sy_test_string(a, "message"), "Moving on");
    assert_string_equal(sy_test_string(a, "url"), "https://docs.example/eos");
    json_object_put(a);

    f->settings.eos = "2000-01-01";
    run(f, "GET", "/v1/", "", NULL);
    assert_int_equal(f->resp.status, 410);
    assert_int_equal(errno_of(f), 202);
    a = sy_test_json(sy_resp_header(&f->resp, "Alert"));
    assert_string_equal(sy_test_string(a, "code"), "hard-eol");
    assert_string_equal(sy_test_string(a, "message"), "Moving on");
    json_object_put(a);

    /* Load balancers and monitoring keep their heartbeats (with the
     * Alert), so the node stays in service to answer the 410s. */
    run(f, "GET", "/v1/__lbheartbeat__", "", NULL);
    assert_int_equal(f->resp.status, 200);
    a = sy_test_json(sy_resp_header(&f->resp, "Alert"));
    assert_string_equal(sy_test_string(a, "code"), "hard-eol");
    json_object_put(a);

    /* Empty message and url: a stock sentence and the documentation. */
    f->settings.eos_message = "";
    f->settings.eos_url = "";
    run(f, "GET", "/v1/buckets/syncto/collections/tabs/records", "", NULL);
    assert_int_equal(f->resp.status, 410);
    a = sy_test_json(sy_resp_header(&f->resp, "Alert"));
    assert_true(strlen(sy_test_string(a, "message")) > 0);
    assert_string_equal(sy_test_string(a, "url"), "https://syncto.readthedocs.io/");
    json_object_put(a);

    /* Preflights still pass, so that browsers can read the 410. */
    run(f, "OPTIONS", "/v1/", "", NULL);
    assert_int_equal(f->resp.status, 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_redirects, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_not_found, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_method_not_allowed, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_preflight, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_hello, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_head, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_utility_views, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_end_of_service, setup, sy_test_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
