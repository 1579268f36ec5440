/* Unit tests for src/sy_kinto.c: the Kinto <-> Sync mapping, from tables. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncto/sy_kinto.h"
#include "syncto/sy_request.h"
#include "syncto/sy_response.h"
#include "sy_test_util.h"

static int setup(void **state)
{
    *state = sy_pool_new(4096);
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    sy_pool_free(*state);
    return 0;
}

/* ---- names ----------------------------------------------------------- */

struct name_case {
    const char *s;
    bool ok;
};

static const struct name_case collection_cases[] = {
    {"tabs", true},
    {"history", true},
    {"Tabs.v2_x-y", true},
    {"a", true},
    {"abcdefghijabcdefghijabcdefghij12", true},   /* 32 */
    {"abcdefghijabcdefghijabcdefghij123", false}, /* 33 */
    {"", false},
    {"ta bs", false},
    {"tabs/x", false},
    {"t{abs}", false},
    {"t\xc3\xa9", false},
};

static const struct name_case record_id_cases[] = {
    {"abcdefghijkl", true},
    {"{6b3f1c1e-0000-4a4a-8000-000000000000}", true},
    {"-BBBBBBBBBBB", true},
    {"with space", true},
    {" ", true},
    {"~!@#$%^&*()/?\"'<>\\", true},
    {"0123456789012345678901234567890123456789012345678901234567890123", true}, /* 64 */
    {"01234567890123456789012345678901234567890123456789012345678901234", false},
    {"", false},
    {"tab\there", false},
    {"new\nline", false},
    {"caf\xc3\xa9", false},
    {"del\x7f", false},
};

static void test_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(collection_cases) / sizeof(collection_cases[0]); i++)
        assert_int_equal(sy_kinto_valid_collection(collection_cases[i].s), collection_cases[i].ok);
    for (size_t i = 0; i < sizeof(record_id_cases) / sizeof(record_id_cases[0]); i++)
        assert_int_equal(sy_kinto_valid_record_id(record_id_cases[i].s), record_id_cases[i].ok);
    assert_false(sy_kinto_valid_collection(NULL));
    assert_false(sy_kinto_valid_record_id(NULL));
}

/* ---- BSO -> record --------------------------------------------------- */

struct record_case {
    const char *bso;
    unsigned fields;
    const char *record; /* NULL: not a BSO */
};

static const struct record_case record_cases[] = {
    {"{\"id\":\"abc\",\"modified\":1441868927.07,\"payload\":\"p\",\"sortindex\":2000}",
     SY_KINTO_F_ALL,
     "{\"id\":\"abc\",\"last_modified\":1441868927070,\"payload\":\"p\",\"sortindex\":2000}"},
    /* the double nearest to .69 is below it: the text must win */
    {"{\"id\":\"x\",\"modified\":14377478425.69,\"payload\":\"\"}", SY_KINTO_F_ALL,
     "{\"id\":\"x\",\"last_modified\":14377478425690,\"payload\":\"\"}"},
    {"{\"id\":\"x\",\"modified\":1441868927.1}", SY_KINTO_F_ALL,
     "{\"id\":\"x\",\"last_modified\":1441868927100}"},
    {"{\"id\":\"x\",\"modified\":1441868927}", SY_KINTO_F_ALL,
     "{\"id\":\"x\",\"last_modified\":1441868927000}"},
    {"{\"id\":\"x\",\"modified\":0.01}", SY_KINTO_F_ALL, "{\"id\":\"x\",\"last_modified\":10}"},
    /* the largest timestamp there is: 19 digits */
    {"{\"id\":\"x\",\"modified\":9223372036854775.807}", SY_KINTO_F_ALL,
     "{\"id\":\"x\",\"last_modified\":9223372036854775807}"},
    /* no usable modified: 0 */
    {"{\"id\":\"x\"}", SY_KINTO_F_ALL, "{\"id\":\"x\",\"last_modified\":0}"},
    {"{\"id\":\"x\",\"modified\":\"12.00\"}", SY_KINTO_F_ALL, "{\"id\":\"x\",\"last_modified\":0}"},
    {"{\"id\":\"x\",\"modified\":-1.5}", SY_KINTO_F_ALL, "{\"id\":\"x\",\"last_modified\":0}"},
    /* null sortindex is left out; ttl when Sync sends one */
    {"{\"id\":\"x\",\"modified\":1.00,\"sortindex\":null,\"ttl\":30}", SY_KINTO_F_ALL,
     "{\"id\":\"x\",\"last_modified\":1000,\"ttl\":30}"},
    {"{\"id\":\"x\",\"modified\":1.00,\"sortindex\":-5}", SY_KINTO_F_ALL,
     "{\"id\":\"x\",\"last_modified\":1000,\"sortindex\":-5}"},
    /* unknown BSO fields do not leak */
    {"{\"id\":\"x\",\"modified\":1.00,\"collection\":\"tabs\",\"payload_size\":3}", SY_KINTO_F_ALL,
     "{\"id\":\"x\",\"last_modified\":1000}"},
    /* escapes: quote, backslash, control characters, "/" kept, UTF-8 raw */
    {"{\"id\":\"{g/1}\",\"modified\":1.00,\"payload\":\"a\\\"b\\\\c\\nd\\u0001\\/e\\u00e9\"}",
     SY_KINTO_F_ALL,
     "{\"id\":\"{g/1}\",\"last_modified\":1000,\"payload\":\"a\\\"b\\\\c\\nd\\u0001/e\xc3\xa9\"}"},
    /* _fields */
    {"{\"id\":\"x\",\"modified\":1.00,\"payload\":\"p\",\"sortindex\":1}", SY_KINTO_F_PAYLOAD,
     "{\"id\":\"x\",\"last_modified\":1000,\"payload\":\"p\"}"},
    {"{\"id\":\"x\",\"modified\":1.00,\"payload\":\"p\",\"sortindex\":1}", SY_KINTO_F_SORTINDEX,
     "{\"id\":\"x\",\"last_modified\":1000,\"sortindex\":1}"},
    {"{\"id\":\"x\",\"modified\":1.00,\"payload\":\"p\",\"sortindex\":1}", 0,
     "{\"id\":\"x\",\"last_modified\":1000}"},
    /* not BSOs */
    {"{\"modified\":1.00}", SY_KINTO_F_ALL, NULL},
    {"{\"id\":12,\"modified\":1.00}", SY_KINTO_F_ALL, NULL},
    {"\"abc\"", SY_KINTO_F_ALL, NULL},
    {"[1]", SY_KINTO_F_ALL, NULL},
};

static void test_records(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(record_cases) / sizeof(record_cases[0]); i++) {
        const struct record_case *c = &record_cases[i];
        json_object *bso = sy_test_json(c->bso), *rec;
        sy_buf_t b;
        sy_rc_t rc;

        sy_buf_init(&b, 1 << 20);
        sy_buf_append(&b, "[", 1);
        rc = sy_kinto_write_record(&b, bso, c->fields);
        rec = sy_kinto_record_new(bso, c->fields);
        if (c->record == NULL) {
            assert_int_equal(rc, SY_ERR_INVALID);
            assert_string_equal(b.data, "["); /* nothing appended */
            assert_null(rec);
        } else {
            assert_int_equal(rc, SY_OK);
            assert_string_equal(b.data + 1, c->record);
            /* the json-c form serialises to the same text */
            assert_non_null(rec);
            assert_string_equal(json_object_to_json_string_ext(rec, SY_JSON_FLAGS), c->record);
        }
        json_object_put(rec);
        json_object_put(bso);
        sy_buf_free(&b);
    }
}

static void test_record_cap(void **state)
{
    json_object *bso = sy_test_json("{\"id\":\"x\",\"modified\":1.00,\"payload\":\"0123456789\"}");
    sy_buf_t b;

    (void)state;
    sy_buf_init(&b, 30);
    sy_buf_append(&b, "[", 1);
    assert_int_equal(sy_kinto_write_record(&b, bso, SY_KINTO_F_ALL), SY_ERR_TOO_LARGE);
    assert_int_equal(b.len, 1); /* rolled back */
    assert_string_equal(b.data, "[");
    sy_buf_free(&b);
    json_object_put(bso);
}

/* Every byte escapes exactly as json-c would escape it. */
static void test_write_string_matches_json_c(void **state)
{
    (void)state;
    for (int c = 1; c < 256; c++) {
        char s[4] = {'a', (char)c, 'z', '\0'};
        json_object *o = json_object_new_string(s);
        sy_buf_t b;

        sy_buf_init(&b, 64);
        assert_int_equal(sy_kinto_write_string(&b, s, 3), SY_OK);
        assert_string_equal(b.data, json_object_to_json_string_ext(o, SY_JSON_FLAGS));
        sy_buf_free(&b);
        json_object_put(o);
    }
    {
        sy_buf_t b;
        sy_buf_init(&b, 64);
        assert_int_equal(sy_kinto_write_string(&b, "a\0b", 3), SY_OK);
        assert_string_equal(b.data, "\"a\\u0000b\"");
        sy_buf_free(&b);
    }
}

struct modified_case {
    const char *json;
    bool ok;
    int64_t ms;
};

static const struct modified_case modified_cases[] = {
    {"1441868927.07", true, 1441868927070},
    {"14377478425.70", true, 14377478425700},
    {"1700000000.005", true, 1700000000005},
    {"1700000000", true, 1700000000000},
    {"1.0e3", false, 0},
    {"\"1.00\"", false, 0},
    {"-1.00", false, 0},
    {"null", false, 0},
    {"true", false, 0},
};

static void test_bso_modified(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(modified_cases) / sizeof(modified_cases[0]); i++) {
        json_object *v = json_tokener_parse(modified_cases[i].json);
        int64_t ms = -7;

        assert_int_equal(sy_kinto_bso_modified(v, &ms), modified_cases[i].ok);
        if (modified_cases[i].ok)
            assert_int_equal(ms, modified_cases[i].ms);
        json_object_put(v);
    }
}

/* ---- list parameters ------------------------------------------------- */

struct list_case {
    const char *query;    /* raw query string */
    const char *sync;     /* expected Sync query, NULL on error */
    const char *err_name; /* on error */
    const char *err_desc;
    bool has_since;
    bool has_limit;
    unsigned fields;
    const char *exclude; /* comma-joined exclusions */
};

#define SORT_MSG                                                                                   \
    "_sort should be one of ('-last_modified', 'newest', '-sortindex', 'index', "                  \
    "'last_modified', 'oldest')"

static const struct list_case list_cases[] = {
    {"", "full=1", NULL, NULL, false, false, SY_KINTO_F_ALL, ""},
    /* Syncto pins: newer with two decimals, sort, limit, offset */
    {"_since=14377478425700&_sort=newest", "full=1&newer=14377478425.70&sort=newest", NULL, NULL,
     true, false, SY_KINTO_F_ALL, ""},
    {"_limit=2&_token=12345&_sort=index", "full=1&sort=index&limit=2&offset=12345", NULL, NULL,
     false, true, SY_KINTO_F_ALL, ""},
    {"_sort=oldest", "full=1&sort=oldest", NULL, NULL, false, false, SY_KINTO_F_ALL, ""},
    {"_sort=-last_modified", "full=1&sort=newest", NULL, NULL, false, false, SY_KINTO_F_ALL, ""},
    {"_sort=last_modified", "full=1&sort=oldest", NULL, NULL, false, false, SY_KINTO_F_ALL, ""},
    {"_sort=-sortindex", "full=1&sort=index", NULL, NULL, false, false, SY_KINTO_F_ALL, ""},
    /* quoted _since (kinto-http passes the ETag), _before */
    {"_since=%221441868927070%22", "full=1&newer=1441868927.07", NULL, NULL, true, false,
     SY_KINTO_F_ALL, ""},
    {"_before=1441868927070&_since=1000", "full=1&newer=1.00&older=1441868927.07", NULL, NULL, true,
     false, SY_KINTO_F_ALL, ""},
    {"_before=%225000%22", "full=1&older=5.00", NULL, NULL, false, false, SY_KINTO_F_ALL, ""},
    /* ids: in_ids and in_id, split, trimmed, empties and repeats dropped */
    {"in_ids=123,456,789", "full=1&ids=123%2C456%2C789", NULL, NULL, false, false, SY_KINTO_F_ALL,
     ""},
    {"in_id=a%2Cb", "full=1&ids=a%2Cb", NULL, NULL, false, false, SY_KINTO_F_ALL, ""},
    {"in_ids=%20a%20,,b,,a", "full=1&ids=a%2Cb", NULL, NULL, false, false, SY_KINTO_F_ALL, ""},
    {"in_ids=a&in_id=b", "full=1&ids=a%2Cb", NULL, NULL, false, false, SY_KINTO_F_ALL, ""},
    {"in_ids=", "full=1", NULL, NULL, false, false, SY_KINTO_F_ALL, ""},
    {"in_id=%7Bguid%7D", "full=1&ids=%7Bguid%7D", NULL, NULL, false, false, SY_KINTO_F_ALL, ""},
    /* ignored: _expected, unknown parameters; exclude_id is kept aside */
    {"_expected=123&foo=bar&sort=index", "full=1", NULL, NULL, false, false, SY_KINTO_F_ALL, ""},
    {"exclude_id=A%2CB&exclude_id=C,%20A", "full=1", NULL, NULL, false, false, SY_KINTO_F_ALL,
     "A,B,C"},
    /* _fields */
    {"_fields=payload", "full=1", NULL, NULL, false, false, SY_KINTO_F_PAYLOAD, ""},
    {"_fields=id,last_modified", "full=1", NULL, NULL, false, false, 0, ""},
    {"_fields=sortindex,ttl,nope", "full=1", NULL, NULL, false, false,
     SY_KINTO_F_SORTINDEX | SY_KINTO_F_TTL, ""},
    /* _limit: large values are brought down to Sync's ceiling */
    {"_limit=99999999999999999999", "full=1&limit=999999999", NULL, NULL, false, true,
     SY_KINTO_F_ALL, ""},
    {"_limit=007", "full=1&limit=7", NULL, NULL, false, true, SY_KINTO_F_ALL, ""},
    {"_token=", "full=1", NULL, NULL, false, false, SY_KINTO_F_ALL, ""},
    {"_token=1700000000000%3A25", "full=1&offset=1700000000000%3A25", NULL, NULL, false, false,
     SY_KINTO_F_ALL, ""},
    /* errors */
    {"_since=not-a-number", NULL, "_since", "_since should be a number.", false, false, 0, NULL},
    {"_since=", NULL, "_since", "_since should be a number.", false, false, 0, NULL},
    {"_since=12.5", NULL, "_since", "_since should be a number.", false, false, 0, NULL},
    {"_since=-1", NULL, "_since", "_since should be a number.", false, false, 0, NULL},
    {"_since=%2212", NULL, "_since", "_since should be a number.", false, false, 0, NULL},
    {"_before=x", NULL, "_before", "_before should be a number.", false, false, 0, NULL},
    {"_sort=unknown", NULL, "_sort", SORT_MSG, false, false, 0, NULL},
    {"_sort=", NULL, "_sort", SORT_MSG, false, false, 0, NULL},
    {"_limit=0", NULL, "_limit", "_limit should be a positive integer.", false, false, 0, NULL},
    {"_limit=-1", NULL, "_limit", "_limit should be a positive integer.", false, false, 0, NULL},
    {"_limit=abc", NULL, "_limit", "_limit should be a positive integer.", false, false, 0, NULL},
    {"_limit=", NULL, "_limit", "_limit should be a positive integer.", false, false, 0, NULL},
    {"_limit=1.5", NULL, "_limit", "_limit should be a positive integer.", false, false, 0, NULL},
    {"in_ids=a%01", NULL, "in_ids", "in_ids should list valid record ids.", false, false, 0, NULL},
    {"in_ids=a&in_id=b%7F", NULL, "in_id", "in_id should list valid record ids.", false, false, 0,
     NULL},
    {"in_id=", "full=1", NULL, NULL, false, false, SY_KINTO_F_ALL, ""},
};

static void run_list_case(sy_pool_t *pool, const struct list_case *c)
{
    sy_request_t req;
    sy_kinto_list_t out;
    sy_kinto_invalid_t err = {NULL, NULL, NULL};
    sy_rc_t rc;

    memset(&req, 0, sizeof(req));
    req.pool = pool;
    assert_true(sy_request_set_query(&req, c->query));
    rc = sy_kinto_list_parse(pool, &req.query, &out, &err);
    if (c->sync == NULL) {
        assert_int_equal(rc, SY_ERR_INVALID);
        assert_string_equal(err.location, "querystring");
        assert_string_equal(err.name, c->err_name);
        assert_string_equal(err.description, c->err_desc);
        return;
    }
    if (rc != SY_OK)
        fail_msg("%s: %s", c->query, err.description);
    assert_string_equal(sy_sync_build_query(pool, &out.q), c->sync);
    assert_int_equal(out.has_since, c->has_since);
    assert_int_equal(out.has_limit, c->has_limit);
    assert_int_equal(out.fields, c->fields);
    {
        char joined[256] = "";
        for (size_t i = 0; i < out.nexclude; i++) {
            strncat(joined, i > 0 ? "," : "", sizeof(joined) - strlen(joined) - 1);
            strncat(joined, out.exclude[i], sizeof(joined) - strlen(joined) - 1);
        }
        assert_string_equal(joined, c->exclude);
    }
}

static void test_list_parse(void **state)
{
    for (size_t i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++)
        run_list_case(*state, &list_cases[i]);
}

/* 100 ids pass, 101 do not (Sync's own limit). */
static void test_list_ids_limit(void **state)
{
    sy_pool_t *pool = *state;
    char q[2048];
    size_t len = 0;
    sy_request_t req;
    sy_kinto_list_t out;
    sy_kinto_invalid_t err;

    for (int n = 100; n <= 101; n++) {
        len = (size_t)snprintf(q, sizeof(q), "in_ids=");
        for (int i = 0; i < n; i++)
            len += (size_t)snprintf(q + len, sizeof(q) - len, "%sid%d", i > 0 ? "," : "", i);
        memset(&req, 0, sizeof(req));
        req.pool = pool;
        assert_true(sy_request_set_query(&req, q));
        if (n == 100) {
            assert_int_equal(sy_kinto_list_parse(pool, &req.query, &out, &err), SY_OK);
            assert_int_equal(out.q.nids, 100);
        } else {
            assert_int_equal(sy_kinto_list_parse(pool, &req.query, &out, &err), SY_ERR_INVALID);
            assert_string_equal(err.name, "in_ids");
        }
    }
}

static void test_query_fields(void **state)
{
    sy_pool_t *pool = *state;
    sy_request_t req;

    memset(&req, 0, sizeof(req));
    req.pool = pool;
    assert_true(sy_request_set_query(&req, "_since=bad"));
    assert_int_equal(sy_kinto_query_fields(pool, &req.query), SY_KINTO_F_ALL);
    assert_true(sy_request_set_query(&req, "_fields=payload&_fields=ttl"));
    assert_int_equal(sy_kinto_query_fields(pool, &req.query), SY_KINTO_F_PAYLOAD | SY_KINTO_F_TTL);
}

static void test_write_list(void **state)
{
    sy_pool_t *pool = *state;
    json_object *bsos =
        sy_test_json("[{\"id\":\"a\",\"modified\":1.00,\"payload\":\"1\"},"
                     "{\"id\":\"b\",\"modified\":2.00,\"payload\":\"2\"},"
                     "\"not-a-bso\","
                     "{\"id\":\"c\",\"modified\":3.00,\"payload\":\"3\",\"sortindex\":3}]");
    sy_request_t req;
    sy_kinto_list_t p;
    sy_buf_t b;
    size_t n = 99;

    memset(&req, 0, sizeof(req));
    req.pool = pool;
    assert_true(sy_request_set_query(&req, "exclude_id=b&_fields=sortindex"));
    assert_int_equal(sy_kinto_list_parse(pool, &req.query, &p, NULL), SY_OK);
    assert_true(sy_kinto_list_excluded(&p, "b"));
    assert_false(sy_kinto_list_excluded(&p, "a"));
    sy_buf_init(&b, 1 << 20);
    assert_int_equal(sy_kinto_write_list(&b, bsos, &p, &n), SY_OK);
    assert_int_equal(n, 2);
    assert_string_equal(b.data, "{\"data\":[{\"id\":\"a\",\"last_modified\":1000},"
                                "{\"id\":\"c\",\"last_modified\":3000,\"sortindex\":3}]}");
    sy_buf_reset(&b);
    json_object_put(bsos);
    bsos = sy_test_json("[]");
    assert_int_equal(sy_kinto_write_list(&b, bsos, &p, &n), SY_OK);
    assert_int_equal(n, 0);
    assert_string_equal(b.data, "{\"data\":[]}");
    json_object_put(bsos);
    bsos = sy_test_json("{}");
    sy_buf_reset(&b);
    assert_int_equal(sy_kinto_write_list(&b, bsos, &p, &n), SY_ERR_INVALID);
    json_object_put(bsos);
    sy_buf_free(&b);
}

struct etag_case {
    bool has_since;
    int64_t since, collection;
    size_t nsync;
    int64_t etag;
};

static const struct etag_case etag_cases[] = {
    {false, 0, 1441868927070, 0, 1441868927070},
    {false, 0, 1441868927070, 3, 1441868927070},
    {false, 0, SY_SYNC_NO_TS, 0, 0},
    /* an empty _since poll keeps the client's timestamp */
    {true, 1000, 5000, 0, 1000},
    {true, 1000, SY_SYNC_NO_TS, 0, 1000},
    {true, 9000, 5000, 0, 9000},
    {true, 1000, 5000, 2, 5000},
    {true, 1000, SY_SYNC_NO_TS, 2, 0},
};

static void test_list_etag(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(etag_cases) / sizeof(etag_cases[0]); i++) {
        sy_kinto_list_t p;
        memset(&p, 0, sizeof(p));
        p.has_since = etag_cases[i].has_since;
        p.since_ms = etag_cases[i].since;
        assert_int_equal(sy_kinto_list_etag(&p, etag_cases[i].collection, etag_cases[i].nsync),
                         etag_cases[i].etag);
    }
}

struct next_case {
    const char *query, *token, *expected;
};

static const struct next_case next_cases[] = {
    {"", "12345", "_token=12345"},
    {NULL, "12345", "_token=12345"},
    /* Syncto pin: original order, unknown parameters kept, _token last */
    {"_limit=2&sort=index", "12345", "_limit=2&sort=index&_token=12345"},
    {"_token=old&_limit=2", "new", "_limit=2&_token=new"},
    {"_limit=2&_token=old&_sort=oldest", "new", "_limit=2&_sort=oldest&_token=new"},
    {"%5Ftoken=old&a=1", "t", "a=1&_token=t"},
    {"_tokens=1", "t", "_tokens=1&_token=t"},
    /* raw spelling kept, empty pieces dropped, the token encoded */
    {"a=%22x%22&&b=&in_id=A%2CB", "1700000000000:25",
     "a=%22x%22&b=&in_id=A%2CB&_token=1700000000000%3A25"},
    {"_since=%22123%22",
     "MTUzNjE5ODk3NjkyMQ==", "_since=%22123%22&_token=MTUzNjE5ODk3NjkyMQ%3D%3D"},
};

static void test_next_page(void **state)
{
    for (size_t i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]); i++)
        assert_string_equal(
            sy_kinto_next_page_query(*state, next_cases[i].query, next_cases[i].token),
            next_cases[i].expected);
}

/* ---- preconditions --------------------------------------------------- */

struct precond_case {
    const char *if_match, *if_none_match;
    const char *bad;              /* expected error description */
    int64_t unmodified, modified; /* on the Sync op */
};

static const struct precond_case precond_cases[] = {
    {NULL, NULL, NULL, SY_SYNC_NO_TS, SY_SYNC_NO_TS},
    {"\"14377478425700\"", NULL, NULL, 14377478425700, SY_SYNC_NO_TS},
    {NULL, "\"14377478425700\"", NULL, SY_SYNC_NO_TS, 14377478425700},
    {NULL, "*", NULL, 0, SY_SYNC_NO_TS},
    /* If-None-Match: * wins over If-Match */
    {"\"5\"", "*", NULL, 0, SY_SYNC_NO_TS},
    {"\"5\"", "\"7\"", NULL, 5, 7},
    {" \"5\" ", NULL, NULL, 5, SY_SYNC_NO_TS},
    {"\"0\"", NULL, NULL, 0, SY_SYNC_NO_TS},
    {"42", NULL, "Invalid value for If-Match", 0, 0},
    {"*", NULL, "Invalid value for If-Match", 0, 0},
    {"W/\"5\"", NULL, "Invalid value for If-Match", 0, 0},
    {"\"abc\"", NULL, "Invalid value for If-Match", 0, 0},
    {"\"\"", NULL, "Invalid value for If-Match", 0, 0},
    {"", NULL, "Invalid value for If-Match", 0, 0},
    {NULL, "abc", "Invalid value for If-None-Match", 0, 0},
    {NULL, "42", "Invalid value for If-None-Match", 0, 0},
    {NULL, "\"1\", \"2\"", "Invalid value for If-None-Match", 0, 0},
    {NULL, "**", "Invalid value for If-None-Match", 0, 0},
    {"\"1\"", "abc", "Invalid value for If-None-Match", 0, 0},
};

static void test_preconditions(void **state)
{
    sy_pool_t *pool = *state;

    for (size_t i = 0; i < sizeof(precond_cases) / sizeof(precond_cases[0]); i++) {
        const struct precond_case *c = &precond_cases[i];
        sy_kinto_precond_t p;
        sy_kinto_invalid_t err = {NULL, NULL, NULL};
        sy_sync_op_t op;
        sy_rc_t rc = sy_kinto_precond_parse(c->if_match, c->if_none_match, &p, &err);

        if (c->bad != NULL) {
            assert_int_equal(rc, SY_ERR_INVALID);
            assert_string_equal(err.location, "headers");
            assert_null(err.name);
            assert_string_equal(err.description, c->bad);
            continue;
        }
        assert_int_equal(rc, SY_OK);
        sy_sync_op_get_record(pool, &op, "tabs", "abc");
        sy_kinto_precond_apply(&p, &op);
        assert_int_equal(op.if_unmodified_since_ms, c->unmodified);
        assert_int_equal(op.if_modified_since_ms, c->modified);
        assert_int_equal(sy_kinto_precond_none(&p),
                         c->if_match == NULL && c->if_none_match == NULL);
    }
}

/* ---- PUT ------------------------------------------------------------- */

struct put_case {
    const char *body;
    const char *bso;      /* NULL on error */
    const char *err_name; /* may be NULL on error */
    const char *err_desc;
    bool needs_fetch; /* without If-None-Match: * */
};

static const struct put_case put_cases[] = {
    {"{\"data\":{\"payload\":\"abcd\"}}", "{\"payload\":\"abcd\"}", NULL, NULL, true},
    /* Kinto.js sends its whole record: only payload, sortindex, ttl go */
    {"{\"data\":{\"id\":\"x\",\"payload\":\"a\",\"sortindex\":5,\"ttl\":10,"
     "\"last_modified\":1700000000001,\"_status\":\"created\",\"foo\":{\"b\":1}}}",
     "{\"payload\":\"a\",\"sortindex\":5,\"ttl\":10}", NULL, NULL, false},
    {"{\"data\":{\"payload\":\"a\",\"sortindex\":-999999999},\"permissions\":{}}",
     "{\"payload\":\"a\",\"sortindex\":-999999999}", NULL, NULL, false},
    {"  {\"data\":{\"sortindex\":3}}\n", "{\"sortindex\":3}", NULL, NULL, true},
    {"{\"data\":{}}", "{}", NULL, NULL, true},
    {"{\"data\":{\"payload\":null,\"sortindex\":null,\"ttl\":null}}", "{}", NULL, NULL, true},
    {"{\"data\":{\"payload\":\"\\u00e9\\\"/\"}}", "{\"payload\":\"\xc3\xa9\\\"/\"}", NULL, NULL,
     true},
    {"{\"data\":{\"ttl\":0,\"payload\":\"p\",\"sortindex\":0}}",
     "{\"payload\":\"p\",\"sortindex\":0,\"ttl\":0}", NULL, NULL, false},
    /* errors */
    {"not json", NULL, NULL, "Invalid JSON", false},
    {"", NULL, NULL, "Invalid JSON", false},
    {"{\"data\":{}", NULL, NULL, "Invalid JSON", false},
    {"{\"data\":{}} x", NULL, NULL, "Invalid JSON", false},
    {"[]", NULL, NULL, "Should be an object", false},
    {"12", NULL, NULL, "Should be an object", false},
    {"null", NULL, NULL, "Invalid JSON", false},
    {"{\"payload\":\"foobar\"}", NULL, "data", "Required", false},
    {"{\"data\":{},\"foo\":1}", NULL, "foo", "Unrecognized key", false},
    {"{\"data\":{},\"permissions\":[]}", NULL, "permissions", "permissions should be an object",
     false},
    {"{\"data\":null}", NULL, "data", "data should be an object", false},
    {"{\"data\":\"x\"}", NULL, "data", "data should be an object", false},
    {"{\"data\":{\"payload\":12}}", NULL, "data.payload", "data.payload should be a string", false},
    {"{\"data\":{\"payload\":{}}}", NULL, "data.payload", "data.payload should be a string", false},
    {"{\"data\":{\"sortindex\":\"5\"}}", NULL, "data.sortindex",
     "data.sortindex should be an integer between -999999999 and 999999999", false},
    {"{\"data\":{\"sortindex\":1.5}}", NULL, "data.sortindex",
     "data.sortindex should be an integer between -999999999 and 999999999", false},
    {"{\"data\":{\"sortindex\":1000000000}}", NULL, "data.sortindex",
     "data.sortindex should be an integer between -999999999 and 999999999", false},
    {"{\"data\":{\"sortindex\":99999999999999999999999}}", NULL, "data.sortindex",
     "data.sortindex should be an integer between -999999999 and 999999999", false},
    {"{\"data\":{\"ttl\":-1}}", NULL, "data.ttl",
     "data.ttl should be an integer between 0 and 999999999", false},
    {"{\"data\":{\"ttl\":\"10\"}}", NULL, "data.ttl",
     "data.ttl should be an integer between 0 and 999999999", false},
};

static void test_put_parse(void **state)
{
    sy_pool_t *pool = *state;

    for (size_t i = 0; i < sizeof(put_cases) / sizeof(put_cases[0]); i++) {
        const struct put_case *c = &put_cases[i];
        sy_kinto_put_t p;
        sy_kinto_invalid_t err = {NULL, NULL, NULL};
        sy_kinto_precond_t create_only;
        sy_rc_t rc = sy_kinto_put_parse(pool, c->body, strlen(c->body), &p, &err);

        if (c->bso == NULL) {
            if (rc != SY_ERR_INVALID)
                fail_msg("accepted: %s", c->body);
            assert_string_equal(err.location, "body");
            if (c->err_name == NULL)
                assert_null(err.name);
            else
                assert_string_equal(err.name, c->err_name);
            assert_string_equal(err.description, c->err_desc);
            continue;
        }
        if (rc != SY_OK)
            fail_msg("refused: %s (%s)", c->body, err.description);
        assert_int_equal(p.bso_len, strlen(c->bso));
        assert_string_equal(p.bso, c->bso);
        assert_int_equal(sy_kinto_put_needs_fetch(&p, NULL), c->needs_fetch);
        assert_int_equal(sy_kinto_precond_parse(NULL, "*", &create_only, NULL), SY_OK);
        assert_false(sy_kinto_put_needs_fetch(&p, &create_only));
    }
    assert_int_equal(sy_kinto_put_parse(pool, NULL, 0, &(sy_kinto_put_t){0}, NULL), SY_ERR_INVALID);
}

static void test_put_and_delete_records(void **state)
{
    sy_pool_t *pool = *state;
    const char *body = "{\"data\":{\"id\":\"ignored\",\"payload\":\"a\\u0000b\",\"sortindex\":5,"
                       "\"ttl\":60,\"last_modified\":1}}";
    sy_kinto_put_t p;
    json_object *r;

    assert_int_equal(sy_kinto_put_parse(pool, body, strlen(body), &p, NULL), SY_OK);
    assert_int_equal(p.payload_len, 3);
    r = sy_kinto_put_record("{g}", &p, 1441868927070);
    assert_string_equal(json_object_to_json_string_ext(r, SY_JSON_FLAGS),
                        "{\"id\":\"{g}\",\"last_modified\":1441868927070,\"payload\":\"a\\u0000b\","
                        "\"sortindex\":5,\"ttl\":60}");
    json_object_put(r);

    body = "{\"data\":{\"payload\":\"x\"}}";
    assert_int_equal(sy_kinto_put_parse(pool, body, strlen(body), &p, NULL), SY_OK);
    r = sy_kinto_put_record("abc", &p, 5);
    assert_string_equal(json_object_to_json_string_ext(r, SY_JSON_FLAGS),
                        "{\"id\":\"abc\",\"last_modified\":5,\"payload\":\"x\"}");
    json_object_put(r);

    r = sy_kinto_deleted_record("abc", 1441868927070);
    assert_string_equal(json_object_to_json_string_ext(r, SY_JSON_FLAGS),
                        "{\"id\":\"abc\",\"last_modified\":1441868927070,\"deleted\":true}");
    json_object_put(r);
}

/* ---- info/collections ------------------------------------------------ */

static void test_info_collections(void **state)
{
    json_object *info = sy_test_json("{\"tabs\":1441868927.07,\"history\":14377478425.69,"
                                     "\"bookmarks\":1441868927.07,\"meta\":1.00}");
    json_object *list, *empty = sy_test_json("{}");

    (void)state;
    assert_int_equal(sy_kinto_info_collection(info, "tabs"), 1441868927070);
    assert_int_equal(sy_kinto_info_collection(info, "Tabs"), 1441868927070);
    assert_int_equal(sy_kinto_info_collection(info, "history"), 14377478425690);
    assert_int_equal(sy_kinto_info_collection(info, "forms"), 0);
    assert_int_equal(sy_kinto_info_collection(empty, "tabs"), 0);
    assert_int_equal(sy_kinto_info_max(info), 14377478425690);
    assert_int_equal(sy_kinto_info_max(empty), 0);
    list = sy_kinto_info_list(info);
    assert_string_equal(json_object_to_json_string_ext(list, SY_JSON_FLAGS),
                        "[{\"id\":\"history\",\"last_modified\":14377478425690},"
                        "{\"id\":\"bookmarks\",\"last_modified\":1441868927070},"
                        "{\"id\":\"tabs\",\"last_modified\":1441868927070},"
                        "{\"id\":\"meta\",\"last_modified\":1000}]");
    json_object_put(list);
    list = sy_kinto_info_list(empty);
    assert_string_equal(json_object_to_json_string_ext(list, SY_JSON_FLAGS), "[]");
    json_object_put(list);
    json_object_put(empty);
    json_object_put(info);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_record_cap),
        cmocka_unit_test(test_write_string_matches_json_c),
        cmocka_unit_test(test_bso_modified),
        cmocka_unit_test_setup_teardown(test_list_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_ids_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_list, setup, teardown),
        cmocka_unit_test(test_list_etag),
        cmocka_unit_test_setup_teardown(test_next_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preconditions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_and_delete_records, setup, teardown),
        cmocka_unit_test(test_info_collections),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
