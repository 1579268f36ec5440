#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "syncto/sy_ctx.h"
#include "syncto/sy_request.h"

static sy_pool_t *pool;

static int setup(void **state)
{
    pool = sy_pool_new(0);
    return 0;
}

static int teardown(void **state)
{
    sy_pool_free(pool);
    return 0;
}

static void test_methods(void **state)
{
    static const struct {
        const char *s;
        sy_method_t m;
    } cases[] = {
        {"GET", SY_M_GET},         {"HEAD", SY_M_HEAD},     {"PUT", SY_M_PUT},
        {"POST", SY_M_POST},       {"DELETE", SY_M_DELETE}, {"PATCH", SY_M_PATCH},
        {"OPTIONS", SY_M_OPTIONS}, {"get", SY_M_OTHER},     {"TRACE", SY_M_OTHER},
        {"", SY_M_OTHER},          {"GETS", SY_M_OTHER},    {NULL, SY_M_OTHER},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(sy_method_parse(cases[i].s), cases[i].m);
        if (cases[i].m != SY_M_OTHER)
            assert_string_equal(sy_method_name(cases[i].m), cases[i].s);
    }
}

static void test_url_decode(void **state)
{
    static const struct {
        const char *in;
        bool plus;
        const char *out; /* NULL = rejected */
    } cases[] = {
        {"abc", false, "abc"},   {"", false, ""},         {"%7Bguid%7d", false, "{guid}"},
        {"a%20b", false, "a b"}, {"a+b", false, "a+b"},   {"a+b", true, "a b"},
        {"a%2Bb", true, "a+b"},  {"%2F%2f", false, "//"}, {"%C3%A9", false, "\xc3\xa9"},
        {"%", false, NULL},      {"%4", false, NULL},     {"a%4", false, NULL},
        {"%zz", false, NULL},    {"%g0", false, NULL},    {"%0g", false, NULL},
        {"%00", false, NULL},    {"a%00b", true, NULL},   {"100%", false, NULL},
        {"%25", false, "%"},     {"%2525", false, "%25"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *r = sy_url_decode(pool, cases[i].in, strlen(cases[i].in), cases[i].plus);
        if (cases[i].out == NULL)
            assert_null(r);
        else
            assert_string_equal(r, cases[i].out);
    }
    /* Only n bytes are read, and a raw NUL inside them is refused. */
    assert_string_equal(sy_url_decode(pool, "abcdef", 3, false), "abc");
    assert_string_equal(sy_url_decode(pool, "%41%42", 3, false), "A");
    assert_null(sy_url_decode(pool, "a\0b", 3, false));
}

static void test_set_path(void **state)
{
    static const struct {
        const char *raw;
        bool ok;
        size_t n;
        const char *segs[8];
        bool trailing;
    } cases[] = {
        {"/", true, 0, {NULL}, false},
        {"/v1", true, 1, {"v1"}, false},
        {"/v1/", true, 1, {"v1"}, true},
        {"/v1/buckets/syncto/collections/tabs/records/abc",
         true,
         7,
         {"v1", "buckets", "syncto", "collections", "tabs", "records", "abc"},
         false},
        {"/v1/buckets/", true, 2, {"v1", "buckets"}, true},
        {"/v1//x", true, 3, {"v1", "", "x"}, false},
        {"/v1/records/%7B6b3f%7D", true, 3, {"v1", "records", "{6b3f}"}, false},
        {"/v1/records/a%2Fb", true, 3, {"v1", "records", "a/b"}, false},
        {"/v1/records/a+b", true, 3, {"v1", "records", "a+b"}, false},
        {"/v1/records/a%20b", true, 3, {"v1", "records", "a b"}, false},
        {"/v1/records/%zz", false, 0, {NULL}, false},
        {"/v1/records/%00", false, 0, {NULL}, false},
        {"/v1/records/%", false, 0, {NULL}, false},
        {"/v1/records/..", false, 0, {NULL}, false},
        {"/v1/records/%2e%2E", false, 0, {NULL}, false},
        {"/v1/./records", false, 0, {NULL}, false},
        {"/v1/records/...", true, 3, {"v1", "records", "..."}, false},
        {"/v1/records/.x", true, 3, {"v1", "records", ".x"}, false},
        {"v1/records", false, 0, {NULL}, false},
        {"", false, 0, {NULL}, false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sy_request_t req = {.pool = pool};
        bool ok = sy_request_set_path(&req, cases[i].raw);
        assert_int_equal(ok, cases[i].ok);
        if (!ok)
            continue;
        assert_string_equal(req.path, cases[i].raw);
        assert_int_equal(req.trailing_slash, cases[i].trailing);
        assert_int_equal(req.nsegments, cases[i].n);
        for (size_t j = 0; j < cases[i].n; j++)
            assert_string_equal(req.segments[j], cases[i].segs[j]);
    }
    assert_false(sy_request_set_path(&(sy_request_t){.pool = pool}, NULL));
}

static void test_set_query(void **state)
{
    static const struct {
        const char *raw;
        bool ok;
        size_t n;
        const char *kv[8]; /* name, value pairs */
    } cases[] = {
        {"", true, 0, {NULL}},
        {"a=1", true, 1, {"a", "1"}},
        {"_limit=2&_token=12345&_sort=index",
         true,
         3,
         {"_limit", "2", "_token", "12345", "_sort", "index"}},
        {"in_id=a%2Cb&in_id=c", true, 2, {"in_id", "a,b", "in_id", "c"}},
        {"_since=%221700000000004%22", true, 1, {"_since", "\"1700000000004\""}},
        {"q=a+b%2Bc", true, 1, {"q", "a b+c"}},
        {"a+b=c", true, 1, {"a b", "c"}},
        {"flag&x=", true, 2, {"flag", "", "x", ""}},
        {"&&a=1&&", true, 1, {"a", "1"}},
        {"a=b=c", true, 1, {"a", "b=c"}},
        {"=v", true, 1, {"", "v"}},
        {"a=%zz", false, 0, {NULL}},
        {"%zz=1", false, 0, {NULL}},
        {"a=%00", false, 0, {NULL}},
        {"a=1&b=%", false, 0, {NULL}},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sy_request_t req = {.pool = pool};
        bool ok = sy_request_set_query(&req, cases[i].raw);
        assert_int_equal(ok, cases[i].ok);
        if (!ok)
            continue;
        assert_string_equal(req.query_string, cases[i].raw);
        assert_int_equal(req.query.n, cases[i].n);
        for (size_t j = 0; j < cases[i].n; j++) {
            assert_string_equal(req.query.items[j].name, cases[i].kv[2 * j]);
            assert_string_equal(req.query.items[j].value, cases[i].kv[2 * j + 1]);
        }
    }
    sy_request_t req = {.pool = pool};
    assert_true(sy_request_set_query(&req, NULL));
    assert_string_equal(req.query_string, "");
    assert_int_equal(req.query.n, 0);
}

static void test_lookups(void **state)
{
    sy_request_t req = {.pool = pool};

    assert_true(sy_request_set_query(&req, "_since=5&_SINCE=6&x=1"));
    sy_kv_add(pool, &req.headers, "x-client-state", "abcd");
    assert_string_equal(sy_req_query(&req, "_since"), "5");
    assert_string_equal(sy_req_query(&req, "X"), "1");
    assert_null(sy_req_query(&req, "y"));
    assert_string_equal(sy_req_header(&req, "X-Client-State"), "abcd");
    assert_null(sy_req_header(&req, "authorization"));
}

static void test_public_url(void **state)
{
    static const struct {
        const char *set_scheme, *set_host, *req_scheme, *req_host, *want;
    } cases[] = {
        {"", "", "https", "sync.example.com", "https://sync.example.com/v1/"},
        {"https", "public.example:8443", "http", "127.0.0.1:9000",
         "https://public.example:8443/v1/"},
        {"", "public.example", "http", "127.0.0.1", "http://public.example/v1/"},
        {"https", "", "http", "h", "https://h/v1/"},
        {"", "", NULL, NULL, "http://localhost/v1/"},
        {NULL, NULL, "http", "localhost:8000", "http://localhost:8000/v1/"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sy_settings_t s;
        memset(&s, 0, sizeof(s));
        s.http_scheme = (char *)cases[i].set_scheme;
        s.http_host = (char *)cases[i].set_host;
        sy_ctx_t ctx = {.settings = &s, .pool = pool};
        sy_request_t req = {.pool = pool, .ctx = &ctx};
        req.scheme = cases[i].req_scheme;
        req.host = cases[i].req_host;
        assert_string_equal(sy_req_public_url(&req, "/v1/"), cases[i].want);
    }
    sy_request_t bare = {.pool = pool, .scheme = "https", .host = "x.y"};
    assert_string_equal(sy_req_public_url(&bare, "/v1/buckets/a?b=c"),
                        "https://x.y/v1/buckets/a?b=c");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_methods),  cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_set_path), cmocka_unit_test(test_set_query),
        cmocka_unit_test(test_lookups),  cmocka_unit_test(test_public_url),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
