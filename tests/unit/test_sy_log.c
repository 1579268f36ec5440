#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "syncto/sy_log.h"
#include "sy_test_util.h"

/* stderr is redirected to a temporary file while a test logs. */
static sy_test_capture_t capture;

static void capture_start(void)
{
    sy_test_capture_start(&capture);
}

/* Returns the captured lines (malloc'ed, NUL-terminated) and restores stderr. */
static char *capture_end(void)
{
    return sy_test_capture_end(&capture);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

static void init(const char *renderer, const char *level)
{
    sy_settings_t s;

    memset(&s, 0, sizeof(s));
    s.logging_renderer = (char *)renderer;
    s.log_level = (char *)level;
    sy_log_init(&s);
}

static void test_json_levels(void **state)
{
    static const struct {
        const char *level;
        size_t lines; /* of the 4 logged below */
        int first_severity;
    } cases[] = {
        {"debug", 4, 7},
        {"info", 3, 6},
        {"warning", 2, 4},
        {"error", 1, 3},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out, *nl;
        json_object *o, *fields;

        init("json", cases[i].level);
        capture_start();
        sy_log_debug("rid-1", "debug %d", 1);
        sy_log_info("rid-1", "info %s", "two");
        sy_log_warn(NULL, "warn");
        sy_log_error("rid-1", "error");
        out = capture_end();
        assert_int_equal(count_lines(out), cases[i].lines);
        nl = strchr(out, '\n');
        assert_non_null(nl);
        *nl = '\0';
        o = sy_test_json(out);
        assert_int_equal(json_object_get_int(sy_test_member(o, "Severity")),
                         cases[i].first_severity);
        assert_string_equal(sy_test_string(o, "Type"), "syncto");
        assert_string_equal(sy_test_string(o, "Logger"), "syncto");
        assert_int_equal(json_object_get_int(sy_test_member(o, "Pid")), getpid());
        assert_true(json_object_get_int64(sy_test_member(o, "Timestamp")) > 1000000000000000000LL);
        assert_true(json_object_get_string_len(sy_test_member(o, "Hostname")) > 0);
        fields = sy_test_member(o, "Fields");
        if (cases[i].first_severity != 4)
            assert_string_equal(sy_test_string(fields, "rid"), "rid-1");
        json_object_put(o);
        free(out);
    }
}

static void test_json_escaping(void **state)
{
    static const char *const messages[] = {
        "quote \" backslash \\ newline \n tab \t",
        "control \x01\x1f del \x7f",
        "utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 ok",
        "bad \xff\xfe \xc3 \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80",
        "",
    };

    init("json", "info");
    for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
        char *out;
        json_object *o;
        const char *msg;

        capture_start();
        sy_log_info("r\"id\n", "%s", messages[i]);
        out = capture_end();
        assert_int_equal(count_lines(out), 1);
        o = sy_test_json(out);
        msg = sy_test_string(sy_test_member(o, "Fields"), "msg");
        if (i != 3)
            assert_string_equal(msg, messages[i]);
        else
            assert_non_null(strstr(msg, "\xef\xbf\xbd")); /* U+FFFD */
        assert_string_equal(sy_test_string(sy_test_member(o, "Fields"), "rid"), "r\"id\n");
        json_object_put(o);
        free(out);
    }
}

static void test_long_lines_stay_valid(void **state)
{
    char *big = malloc(20000);
    char *out;
    json_object *o;

    memset(big, '"', 19999); /* every byte doubles when escaped */
    big[19999] = '\0';
    init("json", "info");
    capture_start();
    sy_log_info(big, "%s", big);
    out = capture_end();
    assert_int_equal(count_lines(out), 1);
    o = sy_test_json(out);
    assert_true(json_object_get_string_len(sy_test_member(sy_test_member(o, "Fields"), "msg")) >
                1000);
    json_object_put(o);
    free(out);
    free(big);
}

static void test_request_summary(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    sy_request_t req = {.pool = pool};
    json_object *o, *f;
    char *out;

    req.request_id = "abc123";
    req.method = SY_M_GET;
    req.method_str = "GET";
    assert_true(sy_request_set_path(&req, "/v1/buckets/b/collections/tabs/records"));
    assert_true(sy_request_set_query(&req, "_token=secret-offset&_limit=2"));
    req.route = "/v1/buckets/{}/collections/{}/records";
    sy_kv_add(pool, &req.headers, "user-agent", "HTTPie/0.9.2");
    sy_kv_add(pool, &req.headers, "authorization", "BrowserID very-secret");

    init("json", "info");
    capture_start();
    sy_log_request(&req, 401, 104, 12.6);
    out = capture_end();
    assert_null(strstr(out, "secret"));
    o = sy_test_json(out);
    assert_string_equal(sy_test_string(o, "Type"), "syncto.request.summary");
    assert_int_equal(json_object_get_int(sy_test_member(o, "Severity")), 6);
    f = sy_test_member(o, "Fields");
    assert_string_equal(sy_test_string(f, "rid"), "abc123");
    assert_string_equal(sy_test_string(f, "method"), "GET");
    assert_string_equal(sy_test_string(f, "path"), "/v1/buckets/b/collections/tabs/records");
    assert_int_equal(json_object_get_int(sy_test_member(f, "code")), 401);
    assert_int_equal(json_object_get_int(sy_test_member(f, "errno")), 104);
    assert_int_equal(json_object_get_int(sy_test_member(f, "t")), 13);
    assert_string_equal(sy_test_string(f, "agent"), "HTTPie/0.9.2");
    json_object_put(o);
    free(out);

    /* No errno below 400, nor without one. */
    capture_start();
    sy_log_request(&req, 200, 104, 1.0);
    sy_log_request(&req, 503, 0, 1.0);
    out = capture_end();
    assert_int_equal(count_lines(out), 2);
    assert_null(strstr(out, "errno"));
    assert_non_null(strstr(out, "\"code\":503"));
    free(out);

    /* Filtered out below info. */
    init("json", "warning");
    capture_start();
    sy_log_request(&req, 401, 104, 1.0);
    out = capture_end();
    assert_string_equal(out, "");
    free(out);

    /* Text renderer: one line, the request id in it, no raw control bytes. */
    init("text", "info");
    sy_kv_add(pool, &req.headers, "accept-language", "fr\r\nFAKE");
    capture_start();
    sy_log_request(&req, 401, 104, 1.0);
    sy_log_warn("abc123", "upstream said %s", "x\ny");
    out = capture_end();
    assert_int_equal(count_lines(out), 2);
    assert_non_null(strstr(out, "abc123"));
    assert_non_null(strstr(out, "code=401"));
    assert_non_null(strstr(out, "WARNING"));
    assert_null(strstr(out, "\r"));
    assert_null(strstr(out, "secret"));
    free(out);
    sy_pool_free(pool);
}

/* A module that only has the thread context (cache, tokenserver,
 * credentials) logs with sy_log_ctx: the line carries the id of the request
 * the context is serving, and none between requests. */
static void test_ctx_request_id(void **state)
{
    sy_settings_t settings;
    sy_ctx_t ctx;
    sy_request_t req;
    json_object *o, *f;
    char *out;

    sy_test_settings(&settings);
    memset(&ctx, 0, sizeof(ctx));
    sy_test_ctx(&ctx, &settings);
    sy_test_request(&req, &ctx, "GET");
    req.request_id = "rid-42";
    ctx.request = &req;
    assert_string_equal(sy_log_rid(&ctx), "rid-42");

    init("json", "info");
    capture_start();
    sy_log_ctx_warn(&ctx, "cache: %s", "PostgreSQL went away");
    sy_log_ctx_debug(&ctx, "below the level");
    out = capture_end();
    assert_int_equal(count_lines(out), 1);
    o = sy_test_json(out);
    assert_int_equal(json_object_get_int(sy_test_member(o, "Severity")), 4);
    f = sy_test_member(o, "Fields");
    assert_string_equal(sy_test_string(f, "rid"), "rid-42");
    assert_string_equal(sy_test_string(f, "msg"), "cache: PostgreSQL went away");
    json_object_put(o);
    free(out);

    /* between requests, and without a context: no rid at all */
    ctx.request = NULL;
    assert_null(sy_log_rid(&ctx));
    assert_null(sy_log_rid(NULL));
    capture_start();
    sy_log_ctx_error(&ctx, "between requests");
    sy_log_ctx_error(NULL, "no context");
    out = capture_end();
    assert_int_equal(count_lines(out), 2);
    assert_null(strstr(out, "\"rid\""));
    assert_non_null(strstr(out, "\"msg\":\"between requests\""));
    free(out);

    /* text renderer: rid=<id> */
    ctx.request = &req;
    init("text", "info");
    capture_start();
    sy_log_ctx_info(&ctx, "tokenserver answered %d", 503);
    out = capture_end();
    assert_non_null(strstr(out, "rid=rid-42"));
    assert_non_null(strstr(out, "tokenserver answered 503"));
    free(out);
    sy_pool_free(ctx.pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_levels),           cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_long_lines_stay_valid), cmocka_unit_test(test_request_summary),
        cmocka_unit_test(test_ctx_request_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
