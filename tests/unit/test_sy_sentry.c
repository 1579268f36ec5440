/* Sentry reporting against a real HTTP receiver thread on 127.0.0.1. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "syncto/sy_sentry.h"
#include "sy_version.h"

/* ---- a tiny HTTP receiver ----------------------------------------------- */

#define MAX_REQUESTS 128

typedef struct {
    char method[16];
    char path[256];
    char auth[512];
    char ctype[128];
    char *body;
} captured_t;

static struct {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool hold; /* keep answering back until released */
    captured_t req[MAX_REQUESTS];
    int nreq;
} rx = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void copy_header(char *dst, size_t cap, const char *head, const char *name)
{
    const char *p = head;
    size_t nlen = strlen(name);

    dst[0] = '\0';
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1, *e;
            while (*v == ' ')
                v++;
            e = strstr(v, "\r\n");
            snprintf(dst, cap, "%.*s", (int)(e - v), v);
            return;
        }
    }
}

static void handle(int c)
{
    char head[8192], clen[32], resp[256];
    size_t len = 0;
    char *end = NULL, *body;
    long want;
    size_t have;
    captured_t *r;
    int n;

    while (len + 1 < sizeof(head)) {
        ssize_t k = recv(c, head + len, sizeof(head) - 1 - len, 0);
        if (k <= 0)
            return;
        len += (size_t)k;
        head[len] = '\0';
        if ((end = strstr(head, "\r\n\r\n")) != NULL)
            break;
    }
    if (end == NULL)
        return;
    copy_header(clen, sizeof(clen), head, "Content-Length");
    want = strtol(clen, NULL, 10);
    if (want < 0 || want > 1000000)
        return;
    body = calloc(1, (size_t)want + 1);
    have = len - (size_t)(end + 4 - head);
    if (have > (size_t)want)
        have = (size_t)want;
    memcpy(body, end + 4, have);
    while (have < (size_t)want) {
        ssize_t k = recv(c, body + have, (size_t)want - have, 0);
        if (k <= 0) {
            free(body);
            return;
        }
        have += (size_t)k;
    }

    pthread_mutex_lock(&rx.mu);
    if (rx.nreq >= MAX_REQUESTS) {
        pthread_mutex_unlock(&rx.mu);
        free(body);
        return;
    }
    r = &rx.req[rx.nreq];
    sscanf(head, "%15s %255s", r->method, r->path);
    copy_header(r->auth, sizeof(r->auth), head, "X-Sentry-Auth");
    copy_header(r->ctype, sizeof(r->ctype), head, "Content-Type");
    r->body = body;
    rx.nreq++;
    pthread_cond_broadcast(&rx.cv);
    while (rx.hold && !rx.stop)
        pthread_cond_wait(&rx.cv, &rx.mu);
    pthread_mutex_unlock(&rx.mu);

    {
        static const char answer[] = "{\"id\":\"00000000000000000000000000000000\"}";
        n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     sizeof(answer) - 1, answer);
    }
    (void)!send(c, resp, (size_t)n, MSG_NOSIGNAL);
}

static void *receiver_main(void *arg)
{
    for (;;) {
        struct pollfd pfd = {.fd = rx.fd, .events = POLLIN};
        bool stop;
        int c;

        pthread_mutex_lock(&rx.mu);
        stop = rx.stop;
        pthread_mutex_unlock(&rx.mu);
        if (stop)
            break;
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        c = accept4(rx.fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        handle(c);
        close(c);
    }
    return NULL;
}

static int start_receiver(void **state)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    rx.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rx.fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(rx.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(rx.fd, 128) != 0 ||
        getsockname(rx.fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    rx.port = ntohs(sa.sin_port);
    rx.stop = false;
    rx.hold = false;
    rx.nreq = 0;
    return pthread_create(&rx.thread, NULL, receiver_main, NULL) == 0 ? 0 : -1;
}

static int stop_receiver(void **state)
{
    int i;

    sy_sentry_shutdown(0);
    pthread_mutex_lock(&rx.mu);
    rx.stop = true;
    pthread_cond_broadcast(&rx.cv);
    pthread_mutex_unlock(&rx.mu);
    pthread_join(rx.thread, NULL);
    close(rx.fd);
    for (i = 0; i < rx.nreq; i++)
        free(rx.req[i].body);
    rx.nreq = 0;
    return 0;
}

static void release_receiver(void)
{
    pthread_mutex_lock(&rx.mu);
    rx.hold = false;
    pthread_cond_broadcast(&rx.cv);
    pthread_mutex_unlock(&rx.mu);
}

/* Waits until the receiver has read n requests. The bound is only a safety
 * net against a hang, not a timing assertion. */
static void wait_requests(int n)
{
    struct timespec ts;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 60;
    pthread_mutex_lock(&rx.mu);
    while (rx.nreq < n && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&rx.cv, &rx.mu, &ts);
    pthread_mutex_unlock(&rx.mu);
    assert_true(rx.nreq >= n);
}

static sy_rc_t init_with_dsn(const char *dsn)
{
    sy_settings_t s;

    memset(&s, 0, sizeof(s));
    s.sentry_dsn = (char *)dsn;
    return sy_sentry_init(&s);
}

static void init_local(const char *userinfo, const char *path)
{
    char dsn[256];

    snprintf(dsn, sizeof(dsn), "http://%s@127.0.0.1:%d/%s", userinfo, rx.port, path);
    assert_int_equal(init_with_dsn(dsn), SY_OK);
    assert_true(sy_sentry_enabled());
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- helpers on captured requests --------------------------------------- */

/* Finds "name=value" in an X-Sentry-Auth header ("Sentry k=v, k=v");
 * returns the value (copied into out) or NULL. */
static const char *auth_field(const char *auth, const char *name, char *out, size_t cap)
{
    const char *p, *eq, *end;
    size_t nlen = strlen(name);

    assert_true(strncmp(auth, "Sentry ", 7) == 0);
    p = auth + 7;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        eq = memchr(p, '=', (size_t)(end - p));
        assert_non_null(eq);
        if ((size_t)(eq - p) == nlen && strncmp(p, name, nlen) == 0) {
            snprintf(out, cap, "%.*s", (int)(end - eq - 1), eq + 1);
            return out;
        }
        p = *end == ',' ? end + 1 : end;
    }
    return NULL;
}

static json_object *parse_body(int i)
{
    json_object *o = json_tokener_parse(rx.req[i].body);

    assert_non_null(o);
    assert_true(json_object_is_type(o, json_type_object));
    return o;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

/* ---- tests -------------------------------------------------------------- */

static void test_dsn_parse_valid(void **state)
{
    static const struct {
        const char *dsn, *pk, *sk, *project, *store;
    } cases[] = {
        {"https://pub@sentry.example.com/42", "pub", "", "42",
         "https://sentry.example.com/api/42/store/"},
        {"https://0123abcd:5678ef@sentry.example.com:9000/prefix/sub/7", "0123abcd", "5678ef", "7",
         "https://sentry.example.com:9000/prefix/sub/api/7/store/"},
        {"http://abc_1-2:def@127.0.0.1:8080/1", "abc_1-2", "def", "1",
         "http://127.0.0.1:8080/api/1/store/"},
        {"https://k@[::1]:443/3", "k", "", "3", "https://[::1]:443/api/3/store/"},
        {"https://k@o123.ingest.sentry.io/4504", "k", "", "4504",
         "https://o123.ingest.sentry.io/api/4504/store/"},
        {"https://k@host/a/1", "k", "", "1", "https://host/a/api/1/store/"},
    };
    sy_sentry_dsn_t d;
    char err[160];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        if (sy_sentry_dsn_parse(cases[i].dsn, &d, err, sizeof(err)) != SY_OK)
            fail_msg("%s: %s", cases[i].dsn, err);
        assert_string_equal(d.public_key, cases[i].pk);
        assert_string_equal(d.secret_key, cases[i].sk);
        assert_string_equal(d.project_id, cases[i].project);
        assert_string_equal(d.store_url, cases[i].store);
        assert_true(sy_sentry_dsn_valid(cases[i].dsn, err, sizeof(err)));
    }
    assert_true(sy_sentry_dsn_valid("", err, sizeof(err)));
    assert_true(sy_sentry_dsn_valid(NULL, err, sizeof(err)));
}

static void test_dsn_parse_invalid(void **state)
{
    static const struct {
        const char *dsn;
        const char *reason; /* a word the message must contain */
    } cases[] = {
        {"ftp://SECRETKEY@host/1", "https://"},
        {"sentry.example.com/1", "https://"},
        {"https://host/1", "public key"},
        {"https://@host/1", "public key"},
        {"https://SECRETKEY:@host/1", "secret key"},
        {"https://SECRET!KEY@host/1", "public key"},
        {"https://SECRETKEY:sec ret@host/1", "secret key"},
        {"https://SECRETKEY@/1", "host"},
        {"https://SECRETKEY@host", "project"},
        {"https://SECRETKEY@host/", "project"},
        {"https://SECRETKEY@host/p/1/", "project"},
        {"https://SECRETKEY@host/abc", "project id must be a number"},
        {"https://SECRETKEY@host:0/1", "port"},
        {"https://SECRETKEY@host:99999/1", "port"},
        {"https://SECRETKEY@host:x/1", "port"},
        {"https://SECRETKEY@host/1?x=1", "path"},
        {"https://SECRETKEY@host/1#frag", "path"},
        {"https://SECRETKEY@ho st/1", "project"},
        {"https://SECRETKEY@[zz]/1", "IPv6"},
        {"https://SECRETKEY0123456789012345678901234567890123456789012345678901234567890@h/1",
         "public key"},
    };
    sy_sentry_dsn_t d;
    char err[160];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        if (sy_sentry_dsn_parse(cases[i].dsn, &d, err, sizeof(err)) != SY_ERR_CONFIG)
            fail_msg("%s: accepted", cases[i].dsn);
        if (strstr(err, cases[i].reason) == NULL)
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].dsn, err, cases[i].reason);
        /* The DSN is a secret: messages never quote it. */
        assert_null(strstr(err, "SECRET"));
        assert_string_equal(d.public_key, "");
        assert_false(sy_sentry_dsn_valid(cases[i].dsn, err, sizeof(err)));
    }
}

static void test_init_invalid_and_disabled(void **state)
{
    sy_sentry_stats_t st;

    assert_int_equal(init_with_dsn("https://nokey.example.com/1"), SY_ERR_CONFIG);
    assert_false(sy_sentry_enabled());
    sy_sentry_capture("error", "ignored", NULL, NULL, NULL, 0);

    assert_int_equal(init_with_dsn(""), SY_OK);
    assert_false(sy_sentry_enabled());
    sy_sentry_capture("error", "ignored", "rid", "records", NULL, 0);
    assert_int_equal(init_with_dsn(NULL), SY_OK);
    assert_int_equal(sy_sentry_init(NULL), SY_OK);
    sy_sentry_stats(&st);
    assert_int_equal(st.queued + st.sent + st.failed + st.dropped, 0);
    sy_sentry_shutdown(100);
    sy_sentry_shutdown(100);
}

static void test_event_delivered(void **state)
{
    static const char *const allowed[] = {"event_id",    "timestamp", "level",
                                          "logger",      "platform",  "message",
                                          "server_name", "release",   "tags"};
    const sy_sentry_tag_t extra[] = {{"upstream", "sync"}};
    char v[128], host[256];
    sy_sentry_stats_t st;
    json_object *ev, *tags;
    const char *s;
    long long ts;
    size_t i;

    init_local("public1:secret1", "sentry/42");
    sy_sentry_capture("warning", "upstream timed out", "rid-123", "records", extra, 1);
    wait_requests(1);
    sy_sentry_shutdown(10000);

    sy_sentry_stats(&st);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.dropped, 0);

    assert_int_equal(rx.nreq, 1);
    assert_string_equal(rx.req[0].method, "POST");
    assert_string_equal(rx.req[0].path, "/sentry/api/42/store/");
    assert_string_equal(rx.req[0].ctype, "application/json");

    assert_non_null(auth_field(rx.req[0].auth, "sentry_version", v, sizeof(v)));
    assert_string_equal(v, "7");
    assert_non_null(auth_field(rx.req[0].auth, "sentry_client", v, sizeof(v)));
    assert_string_equal(v, "syncto/" SY_VERSION);
    assert_non_null(auth_field(rx.req[0].auth, "sentry_key", v, sizeof(v)));
    assert_string_equal(v, "public1");
    assert_non_null(auth_field(rx.req[0].auth, "sentry_secret", v, sizeof(v)));
    assert_string_equal(v, "secret1");
    assert_non_null(auth_field(rx.req[0].auth, "sentry_timestamp", v, sizeof(v)));
    ts = strtoll(v, NULL, 10);
    assert_true(llabs(ts - (long long)time(NULL)) < 3600);

    /* Credentials never travel in the body. */
    assert_null(strstr(rx.req[0].body, "secret1"));
    assert_null(strstr(rx.req[0].body, "public1"));

    ev = parse_body(0);
    json_object_object_foreach (ev, key, val) {
        bool known = false;
        (void)val;
        for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
            known = known || strcmp(key, allowed[i]) == 0;
        if (!known)
            fail_msg("unexpected event field %s", key);
    }
    s = jstr(ev, "event_id");
    assert_non_null(s);
    assert_int_equal(strlen(s), 32);
    for (i = 0; i < 32; i++)
        assert_true(isxdigit((unsigned char)s[i]) && !isupper((unsigned char)s[i]));
    s = jstr(ev, "timestamp");
    assert_non_null(s);
    {
        int y, mo, d, h, mi, sec, ms, used = 0;
        assert_int_equal(
            sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi, &sec, &ms, &used), 7);
        assert_int_equal(used, 24);
        assert_int_equal(strlen(s), 24);
        assert_true(y >= 2024 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31);
    }
    assert_string_equal(jstr(ev, "level"), "warning");
    assert_string_equal(jstr(ev, "logger"), "syncto");
    assert_string_equal(jstr(ev, "platform"), "c");
    assert_string_equal(jstr(ev, "message"), "upstream timed out");
    assert_string_equal(jstr(ev, "release"), SY_VERSION);
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    assert_string_equal(jstr(ev, "server_name"), host);

    assert_true(json_object_object_get_ex(ev, "tags", &tags));
    assert_int_equal(json_object_object_length(tags), 3);
    assert_string_equal(jstr(tags, "request_id"), "rid-123");
    assert_string_equal(jstr(tags, "route"), "records");
    assert_string_equal(jstr(tags, "upstream"), "sync");
    json_object_put(ev);
}

static void test_no_secret_in_dsn(void **state)
{
    char v[128];

    init_local("public2", "7");
    sy_sentry_capture("error", "boom", NULL, NULL, NULL, 0);
    wait_requests(1);
    sy_sentry_shutdown(10000);
    assert_string_equal(rx.req[0].path, "/api/7/store/");
    assert_non_null(auth_field(rx.req[0].auth, "sentry_key", v, sizeof(v)));
    assert_string_equal(v, "public2");
    assert_null(auth_field(rx.req[0].auth, "sentry_secret", v, sizeof(v)));
}

static void test_event_contents(void **state)
{
    char longmsg[SY_SENTRY_MESSAGE_MAX + 100], longval[300], want[SY_SENTRY_MESSAGE_MAX + 1];
    const sy_sentry_tag_t tags[] = {
        {"bad key!", "v1"},
        {"k2", longval},
        {"", "ignored"},
        {"empty", ""},
        {NULL, "ignored"},
        {"nullvalue", NULL},
        {"a_really_long_tag_key_that_goes_beyond_32", "v3"},
    };
    sy_sentry_stats_t st;
    json_object *ev, *tags_o;
    const char *id0;
    char id0copy[33];
    size_t i;

    /* "x" then 2-byte characters: the cut at SY_SENTRY_MESSAGE_MAX (even)
     * would fall inside a character, so one byte less is kept. */
    longmsg[0] = 'x';
    for (i = 1; i + 2 < sizeof(longmsg); i += 2) {
        longmsg[i] = (char)0xC3;
        longmsg[i + 1] = (char)0xA9;
    }
    longmsg[i] = '\0';
    memset(longval, 'v', sizeof(longval) - 1);
    longval[sizeof(longval) - 1] = '\0';

    init_local("pk", "1");
    sy_sentry_capture("bogus", "a \"quoted\" \\ back/slash\nnew line \xff\xfe end", "", NULL, tags,
                      sizeof(tags) / sizeof(tags[0]));
    sy_sentry_capture(NULL, longmsg, "r2", "batch", NULL, 0);
    sy_sentry_capture("debug", NULL, "r3", "hello", NULL, 0);
    wait_requests(3);
    sy_sentry_shutdown(10000);
    sy_sentry_stats(&st);
    assert_int_equal(st.sent, 3);

    ev = parse_body(0);
    assert_string_equal(jstr(ev, "level"), "error");
    assert_string_equal(jstr(ev, "message"), "a \"quoted\" \\ back/slash\nnew line ?? end");
    assert_true(json_object_object_get_ex(ev, "tags", &tags_o));
    assert_null(jstr(tags_o, "request_id"));
    assert_null(jstr(tags_o, "route"));
    assert_string_equal(jstr(tags_o, "bad_key_"), "v1");
    assert_int_equal(strlen(jstr(tags_o, "k2")), SY_SENTRY_TAG_VALUE_MAX);
    assert_string_equal(jstr(tags_o, "a_really_long_tag_key_that_goes_"), "v3");
    assert_null(jstr(tags_o, "empty"));
    assert_null(jstr(tags_o, "nullvalue"));
    assert_int_equal(json_object_object_length(tags_o), 3);
    id0 = jstr(ev, "event_id");
    snprintf(id0copy, sizeof(id0copy), "%s", id0);
    json_object_put(ev);

    ev = parse_body(1);
    assert_string_equal(jstr(ev, "level"), "error");
    memcpy(want, longmsg, SY_SENTRY_MESSAGE_MAX - 1);
    want[SY_SENTRY_MESSAGE_MAX - 1] = '\0';
    assert_string_equal(jstr(ev, "message"), want);
    assert_string_not_equal(jstr(ev, "event_id"), id0copy);
    json_object_put(ev);

    ev = parse_body(2);
    assert_string_equal(jstr(ev, "level"), "debug");
    assert_string_equal(jstr(ev, "message"), "");
    json_object_put(ev);
}

/* Sentry stalls: capture keeps returning, the queue holds
 * SY_SENTRY_QUEUE_MAX events and the rest are dropped and counted. */
static void test_slow_receiver_drops(void **state)
{
    sy_sentry_stats_t st;
    int i;

    rx.hold = true;
    init_local("pk:sk", "5");
    sy_sentry_capture("error", "first", "r0", "records", NULL, 0);
    /* The uploader has taken the first event and waits on the receiver. */
    wait_requests(1);
    for (i = 0; i < SY_SENTRY_QUEUE_MAX + 10; i++)
        sy_sentry_capture("error", "more", "r", "records", NULL, 0);
    sy_sentry_stats(&st);
    assert_int_equal(st.queued, 1 + SY_SENTRY_QUEUE_MAX);
    assert_int_equal(st.dropped, 10);
    assert_int_equal(st.sent, 0);

    release_receiver();
    sy_sentry_shutdown(60000);
    sy_sentry_stats(&st);
    assert_int_equal(st.dropped, 10);
    assert_int_equal(st.sent + st.failed, 1 + SY_SENTRY_QUEUE_MAX);
    /* Only the first upload waited on the receiver. */
    assert_true(st.sent >= SY_SENTRY_QUEUE_MAX);
    assert_int_equal(rx.nreq, 1 + SY_SENTRY_QUEUE_MAX);
}

/* Shutdown honours its timeout even with an upload stuck in flight: the
 * upload is aborted, the rest is dropped. The bound is generous but below
 * libcurl's 3 s total timeout, which would otherwise be what ends it. */
static void test_shutdown_timeout(void **state)
{
    sy_sentry_stats_t st;
    int64_t t0, elapsed;

    rx.hold = true;
    init_local("pk", "9");
    sy_sentry_capture("error", "one", NULL, NULL, NULL, 0);
    sy_sentry_capture("error", "two", NULL, NULL, NULL, 0);
    sy_sentry_capture("error", "three", NULL, NULL, NULL, 0);
    wait_requests(1);

    t0 = now_ms();
    sy_sentry_shutdown(200);
    elapsed = now_ms() - t0;
    assert_true(elapsed < 2000);
    assert_false(sy_sentry_enabled());

    sy_sentry_stats(&st);
    assert_int_equal(st.queued, 3);
    assert_int_equal(st.sent, 0);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.dropped, 2);

    /* After shutdown, capture is a no-op. */
    sy_sentry_capture("error", "late", NULL, NULL, NULL, 0);
    sy_sentry_stats(&st);
    assert_int_equal(st.queued, 3);
    assert_int_equal(st.dropped, 2);
    release_receiver();
}

/* Nothing listens: uploads fail, are counted, and nothing hangs. */
static void test_unreachable(void **state)
{
    sy_sentry_stats_t st;
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    char dsn[128];
    int fd;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(dsn, sizeof(dsn), "http://pk@127.0.0.1:%d/1", ntohs(sa.sin_port));
    close(fd); /* bound then closed: connections are refused */

    assert_int_equal(init_with_dsn(dsn), SY_OK);
    sy_sentry_capture("error", "a", NULL, NULL, NULL, 0);
    sy_sentry_capture("error", "b", NULL, NULL, NULL, 0);
    sy_sentry_shutdown(30000);
    sy_sentry_stats(&st);
    assert_int_equal(st.queued, 2);
    assert_int_equal(st.failed, 2);
    assert_int_equal(st.sent, 0);
}

/* Several request threads capture at once; every event arrives once. */
#define NTHREADS 4
#define PER_THREAD 8

static void *capturer(void *arg)
{
    char msg[32];
    int t = *(const int *)arg, i;

    for (i = 0; i < PER_THREAD; i++) {
        snprintf(msg, sizeof(msg), "t%d-e%d", t, i);
        sy_sentry_capture("error", msg, NULL, NULL, NULL, 0);
    }
    return NULL;
}

static void test_concurrent_capture(void **state)
{
    pthread_t th[NTHREADS];
    int ids[NTHREADS];
    int seen[NTHREADS][PER_THREAD];
    sy_sentry_stats_t st;
    int i, t, k;

    memset(seen, 0, sizeof(seen));
    init_local("pk", "2");
    for (i = 0; i < NTHREADS; i++) {
        ids[i] = i;
        assert_int_equal(pthread_create(&th[i], NULL, capturer, &ids[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    sy_sentry_shutdown(60000);
    sy_sentry_stats(&st);
    /* 32 events never exceed the 64-event queue. */
    assert_int_equal(st.queued, NTHREADS * PER_THREAD);
    assert_int_equal(st.sent, NTHREADS * PER_THREAD);
    assert_int_equal(rx.nreq, NTHREADS * PER_THREAD);
    for (i = 0; i < rx.nreq; i++) {
        json_object *ev = parse_body(i);
        assert_int_equal(sscanf(jstr(ev, "message"), "t%d-e%d", &t, &k), 2);
        seen[t][k]++;
        json_object_put(ev);
    }
    for (t = 0; t < NTHREADS; t++)
        for (k = 0; k < PER_THREAD; k++)
            assert_int_equal(seen[t][k], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dsn_parse_valid),
        cmocka_unit_test(test_dsn_parse_invalid),
        cmocka_unit_test(test_init_invalid_and_disabled),
        cmocka_unit_test_setup_teardown(test_event_delivered, start_receiver, stop_receiver),
        cmocka_unit_test_setup_teardown(test_no_secret_in_dsn, start_receiver, stop_receiver),
        cmocka_unit_test_setup_teardown(test_event_contents, start_receiver, stop_receiver),
        cmocka_unit_test_setup_teardown(test_slow_receiver_drops, start_receiver, stop_receiver),
        cmocka_unit_test_setup_teardown(test_shutdown_timeout, start_receiver, stop_receiver),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test_setup_teardown(test_concurrent_capture, start_receiver, stop_receiver),
    };

    /* The receiver is on loopback; never go through a proxy from the environment. */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
