/* Sync client, the pure parts: record-id and query encoding, paths, the Hawk
 * request built for an operation (checked against the spec's vectors,
 * published vectors), User-Agent, response headers, api_endpoint URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "syncto/sy_http.h"
#include "syncto/sy_sync.h"
#include "syncto/sy_ts.h"
#include "sy_version.h"

#define KEY "dSi3EoZyHwgDp-O9OG1jRHtmbGl2M1bwcWsi04C4F58="

static void test_encode_id(void **state)
{
    static const struct {
        const char *in, *out;
    } ids[] = {
        {"d2X1O6-DyeFS", "d2X1O6-DyeFS"},
        {"{1a2b3c4d-0000-4000-8000-000000000000}", "{1a2b3c4d-0000-4000-8000-000000000000}"},
        {"a b", "a%20b"},
        {"100%", "100%25"},
        {"a/b", "a%2Fb"},
        {"a?b#c", "a%3Fb%23c"},
        {"\"<>\\", "%22%3C%3E%5C"},
        {"tab\there", "tab%09here"},
        {"del\x7f", "del%7F"},
        {"caf\xc3\xa9", "caf%C3%A9"},
        {"!$&'()*+,;=:@[]^`|~", "!$&'()*+,;=:@[]^`|~"},
        {"", ""},
    };
    sy_pool_t *pool = sy_pool_new(0);
    size_t i;

    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        assert_string_equal(sy_sync_encode_id(pool, ids[i].in), ids[i].out);
    assert_string_equal(sy_sync_storage_path(pool, "Tabs", NULL), "/storage/tabs");
    assert_string_equal(sy_sync_storage_path(pool, "history", "{a b}"), "/storage/history/{a%20b}");
    sy_pool_free(pool);
}

static void test_query(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    sy_sync_query_t q;
    const char *ids[] = {"123", "456", "{7 8}"};

    sy_sync_query_init(&q);
    assert_string_equal(sy_sync_build_query(pool, &q), "full=1");

    /* every parameter, in the fixed order whatever the order they are set */
    q.ids = ids;
    q.nids = 3;
    q.offset = "12345:2";
    q.limit = "2";
    q.sort = "index";
    q.older_ms = 1441868927999;
    q.newer_ms = 14377478425700;
    assert_string_equal(sy_sync_build_query(pool, &q),
                        "full=1&newer=14377478425.70&older=1441868927.99&sort=index&limit=2"
                        "&offset=12345%3A2&ids=123%2C456%2C%7B7%208%7D");

    sy_sync_query_init(&q);
    q.full = false;
    assert_string_equal(sy_sync_build_query(pool, &q), "");
    q.limit = "a&b=c";
    assert_string_equal(sy_sync_build_query(pool, &q), "limit=a%26b%3Dc");
    assert_string_equal(sy_http_query_escape(pool, "AZaz09-._~ /+"), "AZaz09-._~%20%2F%2B");
    sy_pool_free(pool);
}

static void test_ops(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    sy_sync_op_t op;
    sy_sync_query_t q;

    sy_sync_query_init(&q);
    q.sort = "newest";
    sy_sync_op_get_collection(pool, &op, "Tabs", &q);
    assert_string_equal(op.method, "GET");
    assert_string_equal(op.path, "/storage/tabs");
    assert_string_equal(op.query, "full=1&sort=newest");
    assert_null(op.body);
    assert_true(op.if_modified_since_ms == SY_SYNC_NO_TS);
    assert_true(op.if_unmodified_since_ms == SY_SYNC_NO_TS);
    assert_string_equal(op.metric, "get_records");

    sy_sync_op_get_record(pool, &op, "tabs", "{x}");
    assert_string_equal(op.path, "/storage/tabs/{x}");
    assert_null(op.query);
    sy_sync_op_put_record(pool, &op, "tabs", "r1", "{\"payload\":\"x\"}", 15);
    assert_string_equal(op.method, "PUT");
    assert_int_equal(op.body_len, 15);
    sy_sync_op_delete_record(pool, &op, "tabs", "r1");
    assert_string_equal(op.method, "DELETE");
    sy_sync_op_info_collections(&op);
    assert_string_equal(op.path, "/info/collections");
    sy_sync_op_info_quota(&op);
    assert_string_equal(op.path, "/info/quota");

    sy_sync_op_post_records(pool, &op, "history", "[]", 2, NULL, false);
    assert_string_equal(op.query, "");
    sy_sync_op_post_records(pool, &op, "history", "[]", 2, "true", false);
    assert_string_equal(op.query, "batch=true");
    sy_sync_op_post_records(pool, &op, "history", "[]", 2, "MTUzNjE5ODk3NjkyMQ==", true);
    assert_string_equal(op.query, "batch=MTUzNjE5ODk3NjkyMQ%3D%3D&commit=true");
    sy_pool_free(pool);
}

/* Signs op against endpoint and returns the mac attribute's value. */
static char *mac_of(sy_pool_t *pool, const char *endpoint, const sy_sync_op_t *op, long long ts,
                    const char *nonce, char **normalized)
{
    sy_url_t ep;
    sy_hawk_req_t hr;
    char header[4096], *mac, *end, hash[45];

    assert_int_equal(sy_http_parse_url(pool, endpoint, &ep), SY_OK);
    sy_sync_hawk_request(pool, &ep, op, "the-id", KEY, ts, nonce, &hr);
    assert_int_equal(sy_hawk_header(&hr, header, sizeof(header)), SY_OK);
    if (hr.content_type != NULL) {
        sy_hawk_payload_hash(hr.content_type, hr.body, hr.body_len, hash);
        assert_non_null(strstr(header, "hash=\""));
        *normalized = sy_hawk_normalized(&hr, nonce, hash);
    } else {
        assert_null(strstr(header, "hash="));
        *normalized = sy_hawk_normalized(&hr, nonce, NULL);
    }
    assert_non_null(strstr(header, "id=\"the-id\""));
    mac = strstr(header, "mac=\"");
    assert_non_null(mac);
    mac += 5;
    end = strchr(mac, '"');
    assert_non_null(end);
    return sy_pstrndup(pool, mac, (size_t)(end - mac));
}

static void test_hawk_vectors(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    sy_sync_op_t op;
    sy_sync_query_t q;
    char *norm;
    static const char body_b[] =
        "{\"payload\": "
        "\"{\\\"ciphertext\\\":\\\"abc\\\",\\\"IV\\\":\\\"def\\\",\\\"hmac\\\":\\\"012\\\"}\", "
        "\"sortindex\": 2000}";

    /* A: collection GET with a query, no payload hash */
    sy_sync_query_init(&q);
    q.newer_ms = 1441868927070;
    q.sort = "newest";
    q.limit = "2";
    sy_sync_op_get_collection(pool, &op, "history", &q);
    assert_string_equal(
        mac_of(pool, "http://localhost:5000/1.5/1", &op, 1700000000, "Xy3k9Q", &norm),
        "Mx+scUz024k/8b2NDpzxguqHHMkD1duXNdC4HyolZBQ=");
    assert_string_equal(norm,
                        "hawk.1.header\n1700000000\nXy3k9Q\nGET\n"
                        "/1.5/1/storage/history?full=1&newer=1441868927.07&sort=newest&limit=2\n"
                        "localhost\n5000\n\n\n");
    free(norm);

    /* B: PUT with a JSON body: payload hash over application/json */
    assert_int_equal(strlen(body_b), 90);
    sy_sync_op_put_record(pool, &op, "history", "d2X1O6-DyeFS", body_b, strlen(body_b));
    assert_string_equal(
        mac_of(pool, "http://localhost:5000/1.5/1/", &op, 1700000000, "Xy3k9Q", &norm),
        "nor9RhTVV+bPcFpa3WS6xQ4jpxNlVykmgKMF5t6dG8E=");
    assert_non_null(strstr(norm, "\nf4V2T0cAesvH+BYV8hYwa3oJrvdzhPWwCbl9tZvexxc=\n"));
    free(norm);

    /* C: upper-case host is signed lowercased, default https port 443 */
    sy_sync_op_get_record(pool, &op, "History", "d2X1O6-DyeFS");
    assert_string_equal(mac_of(pool, "https://Sync-1-US-West1-g.sync.services.mozilla.com/1.5/1",
                               &op, 1700000000, "Xy3k9Q", &norm),
                        "Q9RVMheXUHGdMK7xANusdTR0F4Ghn4SjIazXg381XgA=");
    assert_non_null(strstr(norm, "\nsync-1-us-west1-g.sync.services.mozilla.com\n443\n"));
    free(norm);

    /* syncstorage-rs fixture: a query carried verbatim into the resource */
    memset(&op, 0, sizeof(op));
    op.method = "POST";
    op.path = "/storage/col2";
    op.query = "batch=MTUzNjE5ODk3NjkyMQ==&commit=true";
    assert_string_equal(
        mac_of(pool, "http://localhost:5000/storage/1.5/1", &op, 1569608439, "4Rj7c+0=", &norm),
        "E7j1UjN7//mh7pYXsgGi3n0KGR+sUPpuyogDVzJWaHg=");
    free(norm);
    sy_pool_free(pool);
}

static void test_parse_url(void **state)
{
    static const struct {
        const char *url;
        sy_rc_t rc;
        const char *scheme, *host;
        int port;
        const char *authority, *path;
    } urls[] = {
        {"http://localhost:5000/1.5/1", SY_OK, "http", "localhost", 5000, "localhost:5000",
         "/1.5/1"},
        {"https://DB42.Sync.example.com/1.5/12345/", SY_OK, "https", "db42.sync.example.com", 443,
         "db42.sync.example.com", "/1.5/12345"},
        {"HTTPS://h:443/x", SY_OK, "https", "h", 443, "h", "/x"},
        {"http://h:80", SY_OK, "http", "h", 80, "h", ""},
        {"http://h:443/", SY_OK, "http", "h", 443, "h:443", ""},
        {"http://127.0.0.1:8080/a/b", SY_OK, "http", "127.0.0.1", 8080, "127.0.0.1:8080", "/a/b"},
        {"http://[::1]:8080/a", SY_OK, "http", "[::1]", 8080, "[::1]:8080", "/a"},
        {"ftp://h/x", SY_ERR_INVALID, NULL, NULL, 0, NULL, NULL},
        {"http://", SY_ERR_INVALID, NULL, NULL, 0, NULL, NULL},
        {"http://:80/x", SY_ERR_INVALID, NULL, NULL, 0, NULL, NULL},
        {"http://user:pw@h/x", SY_ERR_INVALID, NULL, NULL, 0, NULL, NULL},
        {"http://h:0/x", SY_ERR_INVALID, NULL, NULL, 0, NULL, NULL},
        {"http://h:65536/x", SY_ERR_INVALID, NULL, NULL, 0, NULL, NULL},
        {"http://h:8a/x", SY_ERR_INVALID, NULL, NULL, 0, NULL, NULL},
        {"http://h/x?y=1", SY_ERR_INVALID, NULL, NULL, 0, NULL, NULL},
        {"http://h/x#f", SY_ERR_INVALID, NULL, NULL, 0, NULL, NULL},
        {"http://h/a b", SY_ERR_INVALID, NULL, NULL, 0, NULL, NULL},
        {"http://h/a\\b", SY_ERR_INVALID, NULL, NULL, 0, NULL, NULL},
        {"http://h\r\n/x", SY_ERR_INVALID, NULL, NULL, 0, NULL, NULL},
        {"h/x", SY_ERR_INVALID, NULL, NULL, 0, NULL, NULL},
    };
    sy_pool_t *pool = sy_pool_new(0);
    size_t i;

    for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        sy_url_t u;
        sy_rc_t rc = sy_http_parse_url(pool, urls[i].url, &u);

        if (rc != urls[i].rc)
            fail_msg("%s: rc %d", urls[i].url, rc);
        if (rc != SY_OK)
            continue;
        assert_string_equal(u.scheme, urls[i].scheme);
        assert_string_equal(u.host, urls[i].host);
        assert_int_equal(u.port, urls[i].port);
        assert_string_equal(u.authority, urls[i].authority);
        assert_string_equal(u.path, urls[i].path);
    }
    sy_pool_free(pool);
}

static void test_user_agent(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    char long_ua[2000];

    assert_string_equal(sy_sync_user_agent(pool, "HTTPie/0.9.2"),
                        "Syncto/" SY_VERSION " (on behalf of HTTPie/0.9.2)");
    assert_string_equal(sy_sync_user_agent(pool, NULL), "Syncto/" SY_VERSION);
    assert_string_equal(sy_sync_user_agent(pool, ""), "Syncto/" SY_VERSION);
    assert_string_equal(sy_sync_user_agent(pool, " \r\n "), "Syncto/" SY_VERSION);
    assert_string_equal(sy_sync_user_agent(pool, "a\r\nX-Injected: 1\x7f\tb"),
                        "Syncto/" SY_VERSION " (on behalf of aX-Injected: 1b)");
    memset(long_ua, 'u', sizeof(long_ua) - 1);
    long_ua[sizeof(long_ua) - 1] = '\0';
    assert_true(strlen(sy_sync_user_agent(pool, long_ua)) < 600);
    sy_pool_free(pool);
}

static void test_parse_headers(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    sy_kvlist_t h = {0};
    sy_sync_result_t r;

    memset(&r, 0, sizeof(r));
    sy_sync_parse_headers(&r, &h);
    assert_true(r.last_modified_ms == SY_SYNC_NO_TS);
    assert_true(r.weave_timestamp_ms == SY_SYNC_NO_TS);
    assert_null(r.next_offset);
    assert_int_equal(r.records, -1);
    assert_int_equal(r.backoff, 0);
    assert_int_equal(r.retry_after, -1);

    sy_kv_add(pool, &h, "x-last-modified", "14377478425.69");
    sy_kv_add(pool, &h, "x-weave-timestamp", "1441868927.07");
    sy_kv_add(pool, &h, "x-weave-next-offset", "12345");
    sy_kv_add(pool, &h, "x-weave-records", "7");
    sy_kv_add(pool, &h, "x-weave-quota-remaining", "125");
    sy_kv_add(pool, &h, "x-weave-alert", "{\"code\":\"soft-eol\"}");
    sy_kv_add(pool, &h, "x-weave-backoff", "30");
    sy_kv_add(pool, &h, "x-backoff", "3600");
    sy_kv_add(pool, &h, "retry-after", "10");
    sy_sync_parse_headers(&r, &h);
    assert_true(r.last_modified_ms == 14377478425690);
    assert_true(r.weave_timestamp_ms == 1441868927070);
    assert_string_equal(r.next_offset, "12345");
    assert_int_equal(r.records, 7);
    assert_string_equal(r.quota_remaining, "125");
    assert_string_equal(r.alert, "{\"code\":\"soft-eol\"}");
    assert_int_equal(r.backoff, 3600);
    assert_int_equal(r.retry_after, 10);
    sy_pool_free(pool);
}

static void test_clock(void **state)
{
    int64_t local = 1700000000000;
    int64_t before, after;

    sy_sync_clock_learn(local + 120000, local);
    before = sy_ts_now_ms() + 120000;
    after = sy_sync_clock_now_ms();
    /* corrected by two minutes (allowing for the time between the calls) */
    assert_true(after >= before && after - before < 60000);
    /* "0.00" (an empty collection's timestamp copied over) is not a clock */
    sy_sync_clock_learn(0, local);
    after = sy_sync_clock_now_ms();
    assert_true(after - sy_ts_now_ms() > 60000);
    sy_sync_clock_learn(local, local);
    assert_true(llabs(sy_sync_clock_now_ms() - sy_ts_now_ms()) < 60000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_id),     cmocka_unit_test(test_query),
        cmocka_unit_test(test_ops),           cmocka_unit_test(test_hawk_vectors),
        cmocka_unit_test(test_parse_url),     cmocka_unit_test(test_user_agent),
        cmocka_unit_test(test_parse_headers), cmocka_unit_test(test_clock),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
