/* POST /v1/batch: the body (sy_batch_parse: what is refused and under which
 * name, the request limit, the defaults merged into each request without
 * overriding it), then the batch itself through the router with
 * sub-requests that are answered without Sync: statuses and paths in
 * order, the limit's own message, the headers a sub-request gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "syncto/sy_batch.h"
#include "syncto/sy_router.h"
#include "sy_test_util.h"

#define CS "601c4497372419ee1789bf931f8c68f5"

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

static sy_rc_t parse(fx_t *f, const char *body, int max, json_object **requests,
                     json_object **defaults, sy_kinto_invalid_t *err)
{
    sy_pool_reset(f->ctx.pool);
    memset(err, 0, sizeof(*err));
    return sy_batch_parse(f->ctx.pool, body, strlen(body), max, requests, defaults, err);
}

/* What the body may not be, and the name the refusal gives (all under
 * location "body"). */
static void test_parse_refusals(void **state)
{
    static const struct {
        const char *body;
        const char *name; /* NULL: none */
        const char *description;
    } rows[] = {
        {"not json", NULL, "Invalid JSON"},
        {"", NULL, "Invalid JSON"},
        {"{\"requests\":[]} x", NULL, "Invalid JSON"},
        {"[1]", NULL, "Should be an object"},
        {"{\"requests\":[],\"extra\":1}", "extra", "Unrecognized key"},
        {"{}", "requests", "Required"},
        {"{\"requests\":{}}", "requests", "Should be an array"},
        {"{\"requests\":[1]}", "requests.0", "Should be an object"},
        {"{\"requests\":[{\"path\":\"/\",\"verb\":\"GET\"}]}", "requests.0.verb",
         "Unrecognized key"},
        {"{\"requests\":[{\"path\":\"/\"},{\"method\":\"get\",\"path\":\"/\"}]}",
         "requests.1.method", "Should be one of GET, HEAD, DELETE, TRACE, POST, PUT, PATCH"},
        {"{\"requests\":[{\"method\":1,\"path\":\"/\"}]}", "requests.0.method",
         "Should be one of GET, HEAD, DELETE, TRACE, POST, PUT, PATCH"},
        {"{\"requests\":[{\"method\":\"GET\"}]}", "requests.0.path", "Required"},
        {"{\"requests\":[{\"path\":\"v1/\"}]}", "requests.0.path",
         "Should be a path starting with /"},
        {"{\"requests\":[{\"path\":\"/a\\u0000b\"}]}", "requests.0.path",
         "Should be a path starting with /"},
        {"{\"requests\":[{\"path\":5}]}", "requests.0.path", "Should be a path starting with /"},
        {"{\"requests\":[{\"path\":\"/\",\"headers\":[]}]}", "requests.0.headers",
         "Should be an object"},
        {"{\"requests\":[{\"path\":\"/\",\"headers\":{\"X-A\":1}}]}", "requests.0.headers.X-A",
         "Should be a string"},
        {"{\"requests\":[{\"path\":\"/\",\"headers\":{\"\":\"v\"}}]}", "requests.0.headers.",
         "Should be a string"},
        {"{\"requests\":[{\"path\":\"/\",\"body\":\"x\"}]}", "requests.0.body",
         "Should be an object"},
        {"{\"requests\":[],\"defaults\":{\"method\":\"FETCH\"}}", "defaults.method",
         "Should be one of GET, HEAD, DELETE, TRACE, POST, PUT, PATCH"},
        {"{\"requests\":[],\"defaults\":[]}", "defaults", "Should be an object"},
        {"{\"requests\":[],\"defaults\":{\"query\":1}}", "defaults.query", "Unrecognized key"},
        /* the batch endpoint itself, however it is spelt */
        {"{\"requests\":[{\"path\":\"/batch\"}]}", "path",
         "Recursive call on /batch endpoint is forbidden."},
        {"{\"requests\":[{\"path\":\"/v1/batch/?x=1\"}]}", "path",
         "Recursive call on /batch endpoint is forbidden."},
        {"{\"requests\":[{\"path\":\"//batch#f\"}]}", "path",
         "Recursive call on /batch endpoint is forbidden."},
        {"{\"requests\":[{\"path\":\"/%62atch\"}]}", "path",
         "Recursive call on /batch endpoint is forbidden."},
        {"{\"requests\":[{}],\"defaults\":{\"path\":\"/v1/batch\"}}", "path",
         "Recursive call on /batch endpoint is forbidden."},
    };
    fx_t *f = *state;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_object *requests = (json_object *)1, *defaults = (json_object *)1;
        sy_kinto_invalid_t err;
        sy_rc_t rc = parse(f, rows[i].body, 25, &requests, &defaults, &err);

        if (rc != SY_ERR_INVALID || err.location == NULL || strcmp(err.location, "body") != 0 ||
            (rows[i].name == NULL) != (err.name == NULL) ||
            (rows[i].name != NULL && strcmp(rows[i].name, err.name) != 0) ||
            err.description == NULL || strcmp(err.description, rows[i].description) != 0)
            fail_msg("row %zu (%s): rc %d, %s %s: %s", i, rows[i].body, rc,
                     err.location ? err.location : "-", err.name ? err.name : "-",
                     err.description ? err.description : "-");
        assert_null(requests);
        assert_null(defaults);
    }
}

static char *n_requests(size_t n)
{
    size_t cap = 32 + n * 16, o;
    char *s = malloc(cap);

    assert_non_null(s);
    o = (size_t)snprintf(s, cap, "{\"requests\":[");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(s + o, cap - o, "%s{\"path\":\"/\"}", i > 0 ? "," : "");
    snprintf(s + o, cap - o, "]}");
    return s;
}

/* At most max requests: one more is SY_ERR_TOO_LARGE (the view's own 400),
 * whatever the rest of the body; none is fine. */
static void test_parse_limit(void **state)
{
    fx_t *f = *state;
    json_object *requests, *defaults;
    sy_kinto_invalid_t err;
    char *body;

    body = n_requests(25);
    assert_int_equal(parse(f, body, 25, &requests, &defaults, &err), SY_OK);
    assert_int_equal(json_object_array_length(requests), 25);
    assert_null(defaults);
    assert_int_equal(parse(f, body, 24, &requests, &defaults, &err), SY_ERR_TOO_LARGE);
    assert_null(requests);
    free(body);
    body = n_requests(1);
    assert_int_equal(parse(f, body, 1, &requests, &defaults, &err), SY_OK);
    free(body);
    assert_int_equal(parse(f, "{\"requests\":[]}", 1, &requests, &defaults, &err), SY_OK);
    assert_int_equal(json_object_array_length(requests), 0);
    assert_int_equal(parse(f, "{\"requests\":[1,2,3]}", 2, &requests, &defaults, &err),
                     SY_ERR_TOO_LARGE);
}

/* Defaults fill in what a request lacks, into nested objects too, never
 * over its own values; their headers stay in the defaults (dispatch layers
 * them, names compared without case). */
static void test_parse_defaults_merge(void **state)
{
    static const char body[] =
        "{\"defaults\":{\"method\":\"PUT\",\"path\":\"/buckets/" CS "/collections/tabs/records/d\","
        "\"headers\":{\"If-Match\":\"\\\"1\\\"\"},\"body\":{\"data\":{\"a\":1,\"b\":2},\"x\":[1]}},"
        "\"requests\":[{\"path\":\"/buckets/" CS "/collections/tabs/records/r1\","
        "\"body\":{\"data\":{\"a\":9}}},"
        "{\"method\":\"GET\",\"headers\":{\"if-match\":\"\\\"2\\\"\"}},"
        "{\"body\":{\"data\":\"not an object\"}}]}";
    fx_t *f = *state;
    json_object *requests, *defaults, *r, *data;
    sy_kinto_invalid_t err;

    assert_int_equal(parse(f, body, 25, &requests, &defaults, &err), SY_OK);
    assert_non_null(defaults);
    assert_int_equal(json_object_array_length(requests), 3);

    r = json_object_array_get_idx(requests, 0);
    assert_string_equal(sy_test_string(r, "method"), "PUT");
    assert_string_equal(sy_test_string(r, "path"), "/buckets/" CS "/collections/tabs/records/r1");
    data = sy_test_member(sy_test_member(r, "body"), "data");
    assert_int_equal(json_object_get_int(sy_test_member(data, "a")), 9);
    assert_int_equal(json_object_get_int(sy_test_member(data, "b")), 2);
    assert_true(
        json_object_is_type(sy_test_member(sy_test_member(r, "body"), "x"), json_type_array));
    assert_false(json_object_object_get_ex(r, "headers", NULL));

    r = json_object_array_get_idx(requests, 1);
    assert_string_equal(sy_test_string(r, "method"), "GET");
    assert_string_equal(sy_test_string(r, "path"), "/buckets/" CS "/collections/tabs/records/d");
    assert_string_equal(sy_test_string(sy_test_member(r, "headers"), "if-match"), "\"2\"");
    assert_false(json_object_object_get_ex(sy_test_member(r, "headers"), "If-Match", NULL));

    /* a request's own non-object value is kept as it is */
    r = json_object_array_get_idx(requests, 2);
    assert_string_equal(sy_test_string(sy_test_member(r, "body"), "data"), "not an object");
    assert_string_equal(sy_test_string(r, "method"), "PUT");

    /* a default path makes the requests' own optional */
    assert_int_equal(
        parse(f, "{\"defaults\":{\"path\":\"/\"},\"requests\":[{},{\"method\":\"HEAD\"}]}", 25,
              &requests, &defaults, &err),
        SY_OK);
    assert_string_equal(sy_test_string(json_object_array_get_idx(requests, 1), "path"), "/");
}

/* ---- the batch through the router ------------------------------------ */

static void post(fx_t *f, const char *body, const char *const *headers)
{
    sy_pool_reset(f->ctx.pool);
    sy_test_request(&f->req, &f->ctx, "POST");
    f->req.scheme = "http";
    f->req.host = "localhost:8000";
    assert_true(sy_request_set_path(&f->req, "/v1/batch"));
    assert_true(sy_request_set_query(&f->req, ""));
    sy_kv_add(f->req.pool, &f->req.headers, "content-type", "application/json");
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i += 2)
        sy_kv_add(f->req.pool, &f->req.headers, headers[i], headers[i + 1]);
    f->req.body = body;
    f->req.body_len = strlen(body);
    f->ctx.request = &f->req;
    sy_resp_init(&f->req, &f->resp);
    sy_router_dispatch(&f->req, &f->resp);
    sy_resp_finish(&f->req, &f->resp);
}

/* Sub-requests answered before any Sync call: in order, each with its
 * status and decoded path; client errors stay inside the 200. */
static void test_batch_without_sync(void **state)
{
    static const char body[] =
        "{\"requests\":["
        "{\"path\":\"/\"},"
        "{\"path\":\"/v1/unknown?x=1\"},"
        "{\"path\":\"/buckets/" CS "/collections/tabs/records\"},"
        "{\"method\":\"PUT\",\"path\":\"/buckets/" CS "/collections/tabs/records/r%31\","
        "\"body\":{\"data\":{}}},"
        "{\"method\":\"PATCH\",\"path\":\"/buckets/" CS "/collections/tabs/records/r1\"},"
        "{\"path\":\"/buckets/%zz\"}]}";
    static const struct {
        int status;
        const char *path;
        int kinto_errno; /* 0: not an error */
    } want[] = {
        {200, "/v1/", 0},
        {404, "/v1/unknown", 111},
        {401, "/v1/buckets/" CS "/collections/tabs/records", 104},
        {405, "/v1/buckets/" CS "/collections/tabs/records/r1", 115},
        {405, "/v1/buckets/" CS "/collections/tabs/records/r1", 115},
        {400, "/v1/buckets/%zz", 107},
    };
    fx_t *f = *state;
    json_object *o, *responses;

    post(f, body, NULL);
    assert_int_equal(f->resp.status, 200);
    o = sy_test_json(f->resp.body.data);
    responses = sy_test_member(o, "responses");
    assert_int_equal(json_object_array_length(responses), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        json_object *r = json_object_array_get_idx(responses, i), *b = sy_test_member(r, "body");

        if (json_object_get_int(sy_test_member(r, "status")) != want[i].status ||
            strcmp(sy_test_string(r, "path"), want[i].path) != 0)
            fail_msg("response %zu: %s", i, json_object_to_json_string(r));
        if (want[i].kinto_errno != 0)
            assert_int_equal(json_object_get_int(sy_test_member(b, "errno")), want[i].kinto_errno);
        assert_true(json_object_is_type(sy_test_member(r, "headers"), json_type_object));
    }
    json_object_put(o);
}

/* One request over the limit: 400 errno 107 with the message Kinto
 * clients recognise, and the limit from the settings. */
static void test_batch_too_many(void **state)
{
    fx_t *f = *state;
    json_object *o, *d;
    char *body = n_requests(4);

    f->settings.batch_max_requests = 3;
    post(f, body, NULL);
    free(body);
    assert_int_equal(f->resp.status, 400);
    o = sy_test_json(f->resp.body.data);
    assert_int_equal(json_object_get_int(sy_test_member(o, "errno")), 107);
    assert_string_equal(sy_test_string(o, "message"),
                        "requests in body: Number of requests is limited to 3");
    d = json_object_array_get_idx(sy_test_member(o, "details"), 0);
    assert_string_equal(sy_test_string(d, "location"), "body");
    assert_string_equal(sy_test_string(d, "name"), "requests");
    json_object_put(o);

    /* an invalid body is the generic 400 naming the field */
    post(f, "{\"requests\":[{\"path\":\"/\",\"body\":1}]}", NULL);
    assert_int_equal(f->resp.status, 400);
    o = sy_test_json(f->resp.body.data);
    assert_int_equal(json_object_get_int(sy_test_member(o, "errno")), 107);
    assert_string_equal(sy_test_string(o, "message"),
                        "requests.0.body in body: Should be an object");
    json_object_put(o);
}

/* A sub-request gets the batch's headers, then the defaults', then its
 * own, a later layer replacing a header whatever its case. Authentication
 * tells which one won: the batch's Bearer token with the defaults' empty
 * X-KeyID, with the request's own malformed one, and the request's own
 * Authorization of another scheme. */
static void test_batch_header_layers(void **state)
{
    static const char body[] = "{\"defaults\":{\"headers\":{\"X-KeyID\":\"\"}},\"requests\":["
                               "{\"path\":\"/buckets/" CS "/collections/tabs/records\"},"
                               "{\"path\":\"/buckets/" CS "/collections/tabs/records\","
                               "\"headers\":{\"x-keyid\":\"1-abc\"}},"
                               "{\"path\":\"/buckets/" CS "/collections/tabs/records\","
                               "\"headers\":{\"AUTHORIZATION\":\"Basic eA==\"}}]}";
    static const char *const hdrs[] = {"authorization", "Bearer tok", "x-keyid",
                                       "1444122508836-YBxElzckGe4Xib-TH4xo9Q", NULL};
    static const char *const messages[] = {SY_AUTH_MSG_MISSING_KEYID, SY_AUTH_MSG_BAD_KEYID,
                                           SY_AUTH_MSG_MISSING_BEARER};
    fx_t *f = *state;
    json_object *o, *responses;

    post(f, body, hdrs);
    assert_int_equal(f->resp.status, 200);
    o = sy_test_json(f->resp.body.data);
    responses = sy_test_member(o, "responses");
    for (size_t i = 0; i < 3; i++) {
        json_object *r = json_object_array_get_idx(responses, i), *b = sy_test_member(r, "body");

        assert_int_equal(json_object_get_int(sy_test_member(r, "status")), 401);
        assert_int_equal(json_object_get_int(sy_test_member(b, "errno")), 104);
        assert_string_equal(sy_test_string(b, "message"), messages[i]);
    }
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse_refusals, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_parse_limit, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_parse_defaults_merge, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_batch_without_sync, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_batch_too_many, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_batch_header_layers, setup, sy_test_fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
