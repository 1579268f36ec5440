/* StatsD client against a real UDP receiver on 127.0.0.1. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "syncto/sy_statsd.h"

typedef struct {
    int fd;
    int port;
} receiver_t;

static receiver_t rx;

/* Binds a UDP socket on 127.0.0.1:0; returns the fd and the chosen port. */
static int bind_udp(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    /* A safety net so that a missing datagram fails the test, not hangs it. */
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static sy_rc_t init_client(int port, const char *prefix)
{
    char url[64];
    sy_settings_t s;

    memset(&s, 0, sizeof(s));
    snprintf(url, sizeof(url), "udp://127.0.0.1:%d", port);
    s.statsd_url = url;
    s.statsd_prefix = (char *)prefix;
    return sy_statsd_init(&s);
}

static int setup(void **state)
{
    rx.fd = bind_udp(&rx.port);
    return init_client(rx.port, "syncto") == SY_OK ? 0 : -1;
}

static int teardown(void **state)
{
    sy_statsd_close();
    close(rx.fd);
    return 0;
}

/* Receives one datagram as a string. */
static void recv_one(char *buf, size_t cap)
{
    ssize_t n = recv(rx.fd, buf, cap - 1, 0);

    assert_true(n > 0);
    buf[n] = '\0';
}

static void expect_datagram(const char *want)
{
    char buf[2048];

    recv_one(buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void test_counters(void **state)
{
    sy_statsd_stats_t st;

    assert_true(sy_statsd_enabled());
    sy_statsd_incr("request.records.get.200");
    expect_datagram("syncto.request.records.get.200:1|c");
    sy_statsd_count("syncclient.status_code.304", 3);
    expect_datagram("syncto.syncclient.status_code.304:3|c");
    sy_statsd_count("cache.hit", -2);
    expect_datagram("syncto.cache.hit:-2|c");
    sy_statsd_stats(&st);
    assert_int_equal(st.sent, 3);
    assert_int_equal(st.send_errors, 0);
    assert_int_equal(st.dropped, 0);
}

static void test_timers_and_gauges(void **state)
{
    static const struct {
        double v;
        const char *want;
    } timers[] = {
        {12.5, "syncto.request.records.get:12.5|ms"},
        {3.0, "syncto.request.records.get:3|ms"},
        {0.1234, "syncto.request.records.get:0.123|ms"},
        {0.0005, "syncto.request.records.get:0.001|ms"},
        {0.0, "syncto.request.records.get:0|ms"},
        {-4.0, "syncto.request.records.get:0|ms"}, /* clock skew: never negative */
        {1234567.25, "syncto.request.records.get:1234567.25|ms"},
    };
    static const struct {
        double v;
        const char *want;
    } gauges[] = {
        {4, "syncto.pool.busy_threads:4|g"},
        {0, "syncto.pool.busy_threads:0|g"},
        {-1, "syncto.pool.busy_threads:0|g"}, /* "-1|g" would mean "minus one" */
        {2.75, "syncto.pool.busy_threads:2.75|g"},
    };
    size_t i;

    for (i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
        sy_statsd_timing("request.records.get", timers[i].v);
        expect_datagram(timers[i].want);
    }
    for (i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
        sy_statsd_gauge("pool.busy_threads", gauges[i].v);
        expect_datagram(gauges[i].want);
    }
}

static void test_unusable_values_dropped(void **state)
{
    sy_statsd_stats_t st;

    sy_statsd_timing("t", NAN);
    sy_statsd_timing("t", INFINITY);
    sy_statsd_gauge("g", 1e300);
    sy_statsd_incr("");
    sy_statsd_incr(NULL);
    sy_statsd_incr("after");
    /* None of the above reached the wire: the next datagram is "after". */
    expect_datagram("syncto.after:1|c");
    sy_statsd_stats(&st);
    assert_int_equal(st.dropped, 5);
    assert_int_equal(st.sent, 1);
}

static void test_sanitising(void **state)
{
    static const struct {
        const char *name;
        const char *want;
    } cases[] = {
        {"request.records.get.200", "syncto.request.records.get.200:1|c"},
        {"request.rec ords.get", "syncto.request.rec_ords.get:1|c"},
        {"a:b|c", "syncto.a_b_c:1|c"},
        {"line\nbreak", "syncto.line_break:1|c"},
        {"path/with/slashes", "syncto.path_with_slashes:1|c"},
        {"caf\xc3\xa9", "syncto.caf__:1|c"},
        {"keep_these-chars.OK09", "syncto.keep_these-chars.OK09:1|c"},
        {"@#%", "syncto.___:1|c"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sy_statsd_incr(cases[i].name);
        expect_datagram(cases[i].want);
    }
}

static void test_prefix(void **state)
{
    assert_int_equal(init_client(rx.port, "my app:1"), SY_OK);
    sy_statsd_incr("cache.miss");
    expect_datagram("my_app_1.cache.miss:1|c");

    assert_int_equal(init_client(rx.port, ""), SY_OK);
    sy_statsd_incr("cache.miss");
    expect_datagram("cache.miss:1|c");

    assert_int_equal(init_client(rx.port, NULL), SY_OK);
    sy_statsd_gauge("pool.busy_threads", 1);
    expect_datagram("pool.busy_threads:1|g");
}

static void test_too_long_dropped(void **state)
{
    char name[SY_STATSD_DATAGRAM_MAX + 10];
    sy_statsd_stats_t st;

    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    sy_statsd_incr(name);
    /* Longest name that still fits: prefix "syncto." (7) + name + ":1|c" (4). */
    name[SY_STATSD_DATAGRAM_MAX - 7 - 4] = '\0';
    sy_statsd_incr(name);
    {
        char buf[2048];
        recv_one(buf, sizeof(buf));
        assert_int_equal(strlen(buf), SY_STATSD_DATAGRAM_MAX);
        assert_memory_equal(buf, "syncto.xxx", 10);
        assert_string_equal(buf + SY_STATSD_DATAGRAM_MAX - 4, ":1|c");
    }
    sy_statsd_stats(&st);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.sent, 1);
}

static void test_batch_small(void **state)
{
    sy_statsd_batch_t b;
    sy_statsd_stats_t st;

    sy_statsd_batch_init(&b);
    sy_statsd_batch_timing(&b, "request.records.get", 12.5);
    sy_statsd_batch_incr(&b, "request.records.get.200");
    sy_statsd_batch_count(&b, "syncclient.status_code.200", 2);
    sy_statsd_batch_gauge(&b, "pool.busy_threads", 3);
    sy_statsd_batch_incr(&b, "bad name");
    sy_statsd_batch_flush(&b);
    expect_datagram("syncto.request.records.get:12.5|ms\n"
                    "syncto.request.records.get.200:1|c\n"
                    "syncto.syncclient.status_code.200:2|c\n"
                    "syncto.pool.busy_threads:3|g\n"
                    "syncto.bad_name:1|c");
    sy_statsd_stats(&st);
    assert_int_equal(st.sent, 1);

    /* Flushing an empty batch sends nothing; the next datagram proves it. */
    sy_statsd_batch_flush(&b);
    sy_statsd_incr("next");
    expect_datagram("syncto.next:1|c");
}

/* Lines that overflow one datagram go out in several, each at most
 * SY_STATSD_DATAGRAM_MAX bytes, every line exactly once and in order. */
static void test_batch_splits(void **state)
{
    char name[64], want[64], buf[2048], all[8192];
    sy_statsd_batch_t b;
    size_t alllen = 0, total;
    int i, datagrams = 0;

    sy_statsd_batch_init(&b);
    for (i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "syncclient.syncclient.get_records_%02d", i);
        sy_statsd_batch_timing(&b, name, i + 0.5);
    }
    sy_statsd_batch_flush(&b);

    /* Each line is "syncto.syncclient.syncclient.get_records_NN:V|ms". */
    total = 0;
    for (i = 0; i < 40; i++) {
        snprintf(want, sizeof(want), "syncto.syncclient.syncclient.get_records_%02d:%d.5|ms", i, i);
        total += strlen(want) + 1;
    }
    while (alllen + 1 < total) {
        size_t n;
        recv_one(buf, sizeof(buf));
        n = strlen(buf);
        assert_true(n <= SY_STATSD_DATAGRAM_MAX);
        assert_true(buf[0] != '\n' && buf[n - 1] != '\n');
        datagrams++;
        memcpy(all + alllen, buf, n);
        alllen += n;
        all[alllen++] = '\n';
    }
    all[alllen] = '\0';
    assert_true(datagrams >= 2);
    alllen = 0;
    for (i = 0; i < 40; i++) {
        snprintf(want, sizeof(want), "syncto.syncclient.syncclient.get_records_%02d:%d.5|ms\n", i,
                 i);
        assert_memory_equal(all + alllen, want, strlen(want));
        alllen += strlen(want);
    }
    assert_int_equal(all[alllen], '\0');
}

#define NTHREADS 4
#define PER_THREAD 25

static void *sender(void *arg)
{
    char name[32];
    int t = *(const int *)arg, i;

    for (i = 0; i < PER_THREAD; i++) {
        snprintf(name, sizeof(name), "thread%d.metric%02d", t, i);
        sy_statsd_timing(name, 1.5);
    }
    return NULL;
}

/* Concurrent senders share the socket; every datagram arrives whole. */
static void test_threads(void **state)
{
    pthread_t th[NTHREADS];
    int ids[NTHREADS];
    int seen[NTHREADS][PER_THREAD];
    char buf[2048];
    int i, t, k;

    memset(seen, 0, sizeof(seen));
    for (i = 0; i < NTHREADS; i++) {
        ids[i] = i;
        assert_int_equal(pthread_create(&th[i], NULL, sender, &ids[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    for (i = 0; i < NTHREADS * PER_THREAD; i++) {
        int used = 0;
        recv_one(buf, sizeof(buf));
        assert_int_equal(sscanf(buf, "syncto.thread%d.metric%d:1.5|ms%n", &t, &k, &used), 2);
        assert_int_equal((size_t)used, strlen(buf));
        assert_true(t >= 0 && t < NTHREADS && k >= 0 && k < PER_THREAD);
        seen[t][k]++;
    }
    for (t = 0; t < NTHREADS; t++)
        for (k = 0; k < PER_THREAD; k++)
            assert_int_equal(seen[t][k], 1);
}

/* Nobody listens: the kernel reports ECONNREFUSED on later sends. Nothing
 * blocks, nothing fails, the errors are counted. */
static void test_no_receiver(void **state)
{
    sy_statsd_batch_t b;
    sy_statsd_stats_t st;
    int port, fd, i;

    fd = bind_udp(&port);
    close(fd);
    assert_int_equal(init_client(port, "syncto"), SY_OK);
    for (i = 0; i < 20; i++)
        sy_statsd_incr("request.hello.get.200");
    sy_statsd_batch_init(&b);
    sy_statsd_batch_timing(&b, "request.hello.get", 1);
    sy_statsd_batch_flush(&b);
    sy_statsd_stats(&st);
    assert_int_equal(st.sent + st.send_errors, 21);
    assert_true(st.send_errors >= 1);
    assert_true(sy_statsd_enabled());
}

static void test_disabled(void **state)
{
    sy_settings_t s;
    sy_statsd_batch_t b;
    sy_statsd_stats_t st;

    memset(&s, 0, sizeof(s));
    s.statsd_url = "";
    s.statsd_prefix = "syncto";
    assert_int_equal(sy_statsd_init(&s), SY_OK);
    assert_false(sy_statsd_enabled());
    sy_statsd_incr("a");
    sy_statsd_count("a", 2);
    sy_statsd_timing("a", 1);
    sy_statsd_gauge("a", 1);
    sy_statsd_batch_init(&b);
    sy_statsd_batch_incr(&b, "a");
    sy_statsd_batch_timing(&b, "a", 1);
    assert_int_equal(b.len, 0);
    sy_statsd_batch_flush(&b);
    sy_statsd_stats(&st);
    assert_int_equal(st.sent + st.send_errors + st.dropped, 0);

    s.statsd_url = NULL;
    assert_int_equal(sy_statsd_init(&s), SY_OK);
    assert_false(sy_statsd_enabled());
    assert_int_equal(sy_statsd_init(NULL), SY_OK);
    sy_statsd_close();
    sy_statsd_close();
}

static void test_url_validation(void **state)
{
    static const struct {
        const char *url;
        bool ok;
    } cases[] = {
        {"", true},
        {"udp://127.0.0.1:8125", true},
        {"udp://localhost", true},
        {"udp://statsd.internal-net.example:9125", true},
        {"udp://[::1]:8125", true},
        {"udp://[::1]", true},
        {"tcp://127.0.0.1:8125", false},
        {"127.0.0.1:8125", false},
        {"udp://", false},
        {"udp://:8125", false},
        {"udp://host:0", false},
        {"udp://host:65536", false},
        {"udp://host:abc", false},
        {"udp://host:", false},
        {"udp://host:-1", false},
        {"udp://host:8125/path", false},
        {"udp://ho st:1", false},
        {"udp://[::1:8125", false},
        {"udp://[zz]:1", false},
    };
    char err[160];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool ok;
        err[0] = '\0';
        ok = sy_statsd_url_valid(cases[i].url, err, sizeof(err));
        if (ok != cases[i].ok)
            fail_msg("%s: expected %s", cases[i].url, cases[i].ok ? "valid" : "invalid");
        if (!ok)
            assert_non_null(strstr(err, "statsd_url"));
    }
    assert_true(sy_statsd_url_valid(NULL, err, sizeof(err)));
}

static void test_init_errors(void **state)
{
    sy_settings_t s;
    char prefix[200];

    memset(&s, 0, sizeof(s));
    s.statsd_prefix = "syncto";
    s.statsd_url = "tcp://127.0.0.1:8125";
    assert_int_equal(sy_statsd_init(&s), SY_ERR_CONFIG);
    assert_false(sy_statsd_enabled());
    sy_statsd_incr("a"); /* still a harmless no-op */

    memset(prefix, 'p', sizeof(prefix) - 1);
    prefix[sizeof(prefix) - 1] = '\0';
    s.statsd_url = "udp://127.0.0.1:8125";
    s.statsd_prefix = prefix;
    assert_int_equal(sy_statsd_init(&s), SY_ERR_CONFIG);
    assert_false(sy_statsd_enabled());

    /* ".invalid" is reserved and never resolves. */
    s.statsd_prefix = "syncto";
    s.statsd_url = "udp://statsd.invalid:8125";
    assert_int_equal(sy_statsd_init(&s), SY_ERR_UNREACHABLE);
    assert_false(sy_statsd_enabled());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timers_and_gauges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_values_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sanitising, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_long_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_small, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_splits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_receiver, setup, teardown),
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_url_validation),
        cmocka_unit_test(test_init_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
