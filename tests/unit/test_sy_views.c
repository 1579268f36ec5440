/* The Kinto resource views (sy_views_records.c) up to the point where they
 * would call Sync, through the router: which check answers first for each
 * method (reads authenticate, then validate; PUT validates the body, then
 * whether writes are enabled, then the If-* headers and the ids, then
 * authenticates; DELETE checks enabled, If-*, ids, then authenticates) and
 * the Kinto error each check gives. Every request here is answered without
 * an upstream call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "syncto/sy_auth.h"
#include "syncto/sy_router.h"
#include "sy_test_util.h"

#define CS "601c4497372419ee1789bf931f8c68f5"
/* an X-KeyID whose key hash is CS */
#define KID "1444122508836-YBxElzckGe4Xib-TH4xo9Q"
#define COLL "/v1/buckets/" CS "/collections/"

typedef sy_test_fx_t fx_t;

static int setup(void **state)
{
    fx_t *f = sy_test_fx_new();

    /* Writes enabled on "tabs" only. No tokenserver and no cache secret:
     * a request that got as far as Sync would be a 503, which no row
     * expects. */
    snprintf(f->settings.rules[0].collection, sizeof(f->settings.rules[0].collection), "tabs");
    f->settings.rules[0].put_enabled = true;
    f->settings.rules[0].delete_enabled = true;
    f->settings.nrules = 1;
    *state = f;
    return 0;
}

typedef struct {
    const char *method, *path, *query;
    bool auth;            /* send working credentials */
    const char *if_match; /* If-Match, or NULL */
    const char *body;     /* PUT body, or NULL */
    int status, kinto_errno;
    const char *message;
} row_t;

static void run(fx_t *f, const row_t *r)
{
    sy_pool_reset(f->ctx.pool);
    sy_test_request(&f->req, &f->ctx, r->method);
    f->req.scheme = "http";
    f->req.host = "localhost:8000";
    assert_true(sy_request_set_path(&f->req, r->path));
    assert_true(sy_request_set_query(&f->req, r->query != NULL ? r->query : ""));
    if (r->auth) {
        sy_kv_add(f->req.pool, &f->req.headers, "authorization", "Bearer some-oauth-token");
        sy_kv_add(f->req.pool, &f->req.headers, "x-keyid", KID);
    }
    if (r->if_match != NULL)
        sy_kv_add(f->req.pool, &f->req.headers, "if-match", r->if_match);
    if (r->body != NULL) {
        f->req.body = r->body;
        f->req.body_len = strlen(r->body);
        sy_kv_add(f->req.pool, &f->req.headers, "content-type", "application/json");
    }
    f->ctx.request = &f->req;
    sy_resp_init(&f->req, &f->resp);
    sy_router_dispatch(&f->req, &f->resp);
    sy_resp_finish(&f->req, &f->resp);
}

static void check(fx_t *f, const row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_object *o;

        run(f, &rows[i]);
        if (f->resp.status != rows[i].status || !f->resp.has_body)
            fail_msg("row %zu (%s %s): %d %s", i, rows[i].method, rows[i].path, f->resp.status,
                     f->resp.has_body ? f->resp.body.data : "");
        o = sy_test_json(f->resp.body.data);
        if (json_object_get_int(sy_test_member(o, "errno")) != rows[i].kinto_errno ||
            strcmp(sy_test_string(o, "message"), rows[i].message) != 0)
            fail_msg("row %zu (%s %s): %s", i, rows[i].method, rows[i].path, f->resp.body.data);
        json_object_put(o);
    }
}

static void test_reads(void **state)
{
    static const row_t rows[] = {
        /* credentials first, whatever else is wrong */
        {"GET", COLL "tabs/records", "_since=x", false, "bad", NULL, 401, 104,
         SY_AUTH_MSG_MISSING_BEARER},
        {"GET", COLL "tabs/records/a%20b", NULL, false, NULL, NULL, 401, 104,
         SY_AUTH_MSG_MISSING_BEARER},
        {"GET", "/v1/buckets/" CS, NULL, false, NULL, NULL, 401, 104, SY_AUTH_MSG_MISSING_BEARER},
        {"GET", "/v1/buckets/nothex/collections/tabs/records", NULL, true, NULL, NULL, 401, 104,
         SY_AUTH_MSG_BAD_BUCKET},
        /* then the ids, the list parameters, the preconditions */
        {"GET", COLL "ta%21bs/records", NULL, true, NULL, NULL, 400, 107,
         "path: Invalid collection id"},
        {"GET", COLL "ta%21bs", NULL, true, NULL, NULL, 400, 107, "path: Invalid collection id"},
        {"GET", COLL "tabs/records/caf%C3%A9", NULL, true, NULL, NULL, 400, 107,
         "path: Invalid record id"},
        {"GET", COLL "tabs/records", "_since=x", true, "bad", NULL, 400, 107,
         "_since should be a number."},
        {"GET", COLL "tabs/records", "_sort=size", true, NULL, NULL, 400, 107,
         "_sort should be one of ('-last_modified', 'newest', '-sortindex', 'index', "
         "'last_modified', 'oldest')"},
        {"GET", COLL "tabs/records", NULL, true, "bad", NULL, 400, 107,
         "headers: Invalid value for If-Match"},
        {"GET", COLL "tabs/records/r1", NULL, true, "\"12", NULL, 400, 107,
         "headers: Invalid value for If-Match"},
        {"GET", "/v1/buckets/" CS, NULL, true, "1", NULL, 400, 107,
         "headers: Invalid value for If-Match"},
    };

    check(*state, rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_writes(void **state)
{
    static const row_t rows[] = {
        /* PUT: the body comes first, even on a disabled collection */
        {"PUT", COLL "history/records/r1", NULL, false, "bad", "not json", 400, 107,
         "body: Invalid JSON"},
        {"PUT", COLL "history/records/r1", NULL, false, "bad", "{\"data\":{}}", 405, 115,
         "Endpoint disabled for this collection in configuration."},
        /* enabled: preconditions and ids before credentials */
        {"PUT", COLL "tabs/records/r1", NULL, false, "bad", "{\"data\":{}}", 400, 107,
         "headers: Invalid value for If-Match"},
        {"PUT", COLL "tabs/records/caf%C3%A9", NULL, false, NULL, "{\"data\":{}}", 400, 107,
         "path: Invalid record id"},
        {"PUT", COLL "tabs/records/r1", NULL, false, NULL, "{\"data\":{}}", 401, 104,
         SY_AUTH_MSG_MISSING_BEARER},
        /* DELETE: enabled, then If-*, the ids, credentials */
        {"DELETE", COLL "history/records/r1", NULL, true, "bad", NULL, 405, 115,
         "Endpoint disabled for this collection in configuration."},
        {"DELETE", COLL "tabs/records/r1", NULL, false, "bad", NULL, 400, 107,
         "headers: Invalid value for If-Match"},
        {"DELETE", COLL "tabs/records/caf%C3%A9", NULL, false, NULL, NULL, 400, 107,
         "path: Invalid record id"},
        {"DELETE", COLL "tabs/records/r1", NULL, false, NULL, NULL, 401, 104,
         SY_AUTH_MSG_MISSING_BEARER},
    };
    fx_t *f = *state;
    /* read-only as a whole: every write is disabled */
    static const row_t readonly = {"PUT",
                                   COLL "tabs/records/r1",
                                   NULL,
                                   true,
                                   NULL,
                                   "{\"data\":{}}",
                                   405,
                                   115,
                                   "Endpoint disabled for this collection in configuration."};

    check(f, rows, sizeof(rows) / sizeof(rows[0]));
    f->settings.readonly = true;
    check(f, &readonly, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads, setup, sy_test_fx_teardown),
        cmocka_unit_test_setup_teardown(test_writes, setup, sy_test_fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
