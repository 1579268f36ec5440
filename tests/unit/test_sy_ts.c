/* Unit tests for src/sy_ts.c: Sync seconds <-> ms, ms parsing, HTTP-dates. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "syncto/sy_ts.h"

#define SENTINEL ((int64_t)-777)

struct parse_case {
    const char *in;
    bool ok;
    int64_t ms;
};

static const struct parse_case sync_cases[] = {
    {"1441868927.07", true, 1441868927070},
    {"14377478425.69", true, 14377478425690},
    {"0.00", true, 0},
    {"12", true, 12000},
    {"1.5", true, 1500},
    {"1.005", true, 1005},
    {"1.0059", true, 1005}, /* truncated beyond ms, not rounded */
    {"1441868927.00", true, 1441868927000},
    {"1441868927.999999", true, 1441868927999},
    {"0", true, 0},
    {"0.01", true, 10},
    {"007.1", true, 7100},
    {"1700000000.001", true, 1700000000001},
    {"9223372036854775.807", true, INT64_MAX},
    {"9223372036854775.8079", true, INT64_MAX},
    {"", false, 0},
    {"-1", false, 0},
    {"-0.5", false, 0},
    {"abc", false, 0},
    {"1.2.3", false, 0},
    {"1e5", false, 0},
    {"1.5e3", false, 0},
    {" 1", false, 0},
    {"1 ", false, 0},
    {"1\n", false, 0},
    {"+1", false, 0},
    {"12.", false, 0},
    {".5", false, 0},
    {".", false, 0},
    {"1.-5", false, 0},
    {"1,5", false, 0},
    {"0x10", false, 0},
    {"1.5x", false, 0},
    {"\"12\"", false, 0},
    {"nan", false, 0},
    {"inf", false, 0},
    {"9223372036854775.808", false, 0}, /* INT64_MAX + 1 ms */
    {"9223372036854776", false, 0},
    {"9223372036854775807", false, 0},
    {"99999999999999999999999", false, 0},
};

static void test_parse_sync_table(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(sync_cases) / sizeof(sync_cases[0]); i++) {
        const struct parse_case *c = &sync_cases[i];
        int64_t ms = SENTINEL;
        bool ok = sy_ts_parse_sync(c->in, &ms);

        if (ok != c->ok) {
            fail_msg("sy_ts_parse_sync(\"%s\") returned %d, expected %d", c->in, ok, c->ok);
        }
        if (c->ok) {
            if (ms != c->ms) {
                fail_msg("sy_ts_parse_sync(\"%s\") = %lld, expected %lld", c->in, (long long)ms,
                         (long long)c->ms);
            }
        } else {
            assert_int_equal(ms, SENTINEL); /* untouched on failure */
        }
    }
}

static void test_parse_sync_null(void **state)
{
    int64_t ms = SENTINEL;

    assert_false(sy_ts_parse_sync(NULL, &ms));
    assert_int_equal(ms, SENTINEL);
}

struct format_case {
    int64_t ms;
    const char *out;
};

static const struct format_case format_cases[] = {
    {14377478425700, "14377478425.70"},
    {1700000000001, "1700000000.00"},
    {1441868927070, "1441868927.07"},
    {1441868927079, "1441868927.07"}, /* truncated below 10 ms */
    {1441868927000, "1441868927.00"},
    {0, "0.00"},
    {5, "0.00"},
    {10, "0.01"},
    {999, "0.99"},
    {1000, "1.00"},
    {12000, "12.00"},
    {INT64_MAX, "9223372036854775.80"},
    {-5, "0.00"},
    {INT64_MIN, "0.00"},
};

static void test_format_sync_table(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
        char buf[32];

        memset(buf, 'x', sizeof(buf));
        sy_ts_format_sync(format_cases[i].ms, buf, sizeof(buf));
        assert_string_equal(buf, format_cases[i].out);
    }
}

static void test_format_sync_truncates_to_buffer(void **state)
{
    char buf[6];

    memset(buf, 'x', sizeof(buf));
    sy_ts_format_sync(1441868927070, buf, sizeof(buf));
    assert_string_equal(buf, "14418");

    buf[0] = 'x';
    sy_ts_format_sync(1441868927070, buf, 0); /* no room: nothing written */
    assert_int_equal(buf[0], 'x');
}

/* Every multiple of 10 ms survives format -> parse unchanged. */
static void test_format_parse_round_trip(void **state)
{
    static const int64_t bases[] = {0, 1441868927000, 14377478425000, 1700000000000,
                                    9223372036854000};
    size_t i;
    int64_t k;

    for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        for (k = 0; k < 1000; k += 10) {
            char buf[32];
            int64_t ms = SENTINEL;

            sy_ts_format_sync(bases[i] + k, buf, sizeof(buf));
            assert_true(sy_ts_parse_sync(buf, &ms));
            assert_int_equal(ms, bases[i] + k);
        }
    }
}

struct ms_case {
    const char *in;
    bool quotes;
    bool ok;
    int64_t ms;
};

static const struct ms_case ms_cases[] = {
    {"123", false, true, 123},
    {"123", true, true, 123},
    {"\"123\"", true, true, 123},
    {"\"123\"", false, false, 0},
    {"0", false, true, 0},
    {"\"0\"", true, true, 0},
    {"1441868927070", false, true, 1441868927070},
    {"\"1441868927070\"", true, true, 1441868927070},
    {"0001", false, true, 1},
    {"9223372036854775807", false, true, INT64_MAX},
    {"\"9223372036854775807\"", true, true, INT64_MAX},
    {"9223372036854775808", false, false, 0},
    {"\"9223372036854775808\"", true, false, 0},
    {"18446744073709551616", false, false, 0},
    {"", false, false, 0},
    {"", true, false, 0},
    {"\"\"", true, false, 0},
    {"\"", true, false, 0},
    {"\"123", true, false, 0},
    {"123\"", true, false, 0},
    {"\"123\"\"", true, false, 0},
    {"\"12\"3", true, false, 0},
    {"'123'", true, false, 0},
    {"-1", false, false, 0},
    {"\"-1\"", true, false, 0},
    {"+1", false, false, 0},
    {" 1", false, false, 0},
    {"1 ", false, false, 0},
    {"\" 1\"", true, false, 0},
    {"1.5", false, false, 0},
    {"1e5", false, false, 0},
    {"abc", false, false, 0},
    {"0x1f", false, false, 0},
    {"W/\"123\"", true, false, 0},
};

static void test_parse_ms_table(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(ms_cases) / sizeof(ms_cases[0]); i++) {
        const struct ms_case *c = &ms_cases[i];
        int64_t ms = SENTINEL;
        bool ok = sy_ts_parse_ms(c->in, c->quotes, &ms);

        if (ok != c->ok) {
            fail_msg("sy_ts_parse_ms(\"%s\", %d) returned %d, expected %d", c->in, c->quotes, ok,
                     c->ok);
        }
        assert_int_equal(ms, c->ok ? c->ms : SENTINEL);
    }
    assert_false(sy_ts_parse_ms(NULL, true, &(int64_t){0}));
}

struct date_case {
    int64_t ms;
    const char *out;
};

static const struct date_case date_cases[] = {
    {1442849064000, "Mon, 21 Sep 2015 15:24:24 GMT"},
    {1442849064999, "Mon, 21 Sep 2015 15:24:24 GMT"}, /* rounded down */
    {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
    {-1, "Thu, 01 Jan 1970 00:00:00 GMT"},
    {951782400000, "Tue, 29 Feb 2000 00:00:00 GMT"},
    {1441868927070, "Thu, 10 Sep 2015 07:08:47 GMT"},
    {1700000000001, "Tue, 14 Nov 2023 22:13:20 GMT"},
    {2147483648000, "Tue, 19 Jan 2038 03:14:08 GMT"},
    {253402300799000, "Fri, 31 Dec 9999 23:59:59 GMT"},
};

static void check_dates(void)
{
    size_t i;

    for (i = 0; i < sizeof(date_cases) / sizeof(date_cases[0]); i++) {
        char buf[40];

        memset(buf, 'x', sizeof(buf));
        sy_ts_http_date(date_cases[i].ms, buf, sizeof(buf));
        assert_string_equal(buf, date_cases[i].out);
    }
}

static void test_http_date_table(void **state)
{
    check_dates();
}

/* The local time zone must not leak into an HTTP-date. */
static void test_http_date_ignores_tz(void **state)
{
    char *old = getenv("TZ");
    char *saved = old != NULL ? strdup(old) : NULL;

    assert_int_equal(setenv("TZ", "XYZ-10", 1), 0);
    tzset();
    check_dates();
    if (saved != NULL) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
}

struct date_thread {
    int64_t base;
    int bad;
};

/* Each thread formats its own instants; a shared static struct tm (gmtime)
 * would mix them up. Expectations come from a fixed day/time per thread. */
static void *date_worker(void *arg)
{
    struct date_thread *t = arg;
    char want[40], buf[40];
    int i;

    sy_ts_http_date(t->base, want, sizeof(want));
    for (i = 0; i < 3000; i++) {
        sy_ts_http_date(t->base + (i % 1000), buf, sizeof(buf));
        if (strcmp(buf, want) != 0) {
            t->bad++;
        }
    }
    return NULL;
}

static void test_http_date_threads(void **state)
{
    struct date_thread th[4] = {{1442849064000, 0}, {951782400000, 0}, {2147483648000, 0}, {0, 0}};
    const char *want[4] = {"Mon, 21 Sep 2015 15:24:24 GMT", "Tue, 29 Feb 2000 00:00:00 GMT",
                           "Tue, 19 Jan 2038 03:14:08 GMT", "Thu, 01 Jan 1970 00:00:00 GMT"};
    pthread_t tid[4];
    int i;

    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&tid[i], NULL, date_worker, &th[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        char buf[40];

        assert_int_equal(pthread_join(tid[i], NULL), 0);
        assert_int_equal(th[i].bad, 0);
        sy_ts_http_date(th[i].base, buf, sizeof(buf));
        assert_string_equal(buf, want[i]);
    }
}

static void test_http_date_small_buffer(void **state)
{
    char buf[8];

    sy_ts_http_date(1442849064000, buf, sizeof(buf));
    assert_string_equal(buf, "Mon, 21");
}

static void test_now_ms(void **state)
{
    time_t before = time(NULL);
    int64_t now = sy_ts_now_ms();
    time_t after = time(NULL);

    assert_true(now >= (int64_t)before * 1000);
    assert_true(now < ((int64_t)after + 2) * 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_sync_table),
        cmocka_unit_test(test_parse_sync_null),
        cmocka_unit_test(test_format_sync_table),
        cmocka_unit_test(test_format_sync_truncates_to_buffer),
        cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_parse_ms_table),
        cmocka_unit_test(test_http_date_table),
        cmocka_unit_test(test_http_date_ignores_tz),
        cmocka_unit_test(test_http_date_threads),
        cmocka_unit_test(test_http_date_small_buffer),
        cmocka_unit_test(test_now_ms),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
