/* Outgoing HTTP and the upstream path against a small scripted server that
 * runs in this process on 127.0.0.1: libcurl wrapper (status, headers,
 * caps, timeouts, refused connections, keep-alive, concurrency), the
 * tokenserver call (headers per flow, clock offset), the Sync call (Hawk
 * header, Host, User-Agent, one retry after a 401), the heartbeat and the
 * back-off memo. The credential cache is off here (ctx->cache NULL); the
 * integration tests cover it with PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include "syncto/sy_backoff.h"
#include "syncto/sy_errors.h"
#include "syncto/sy_http.h"
#include "syncto/sy_sync.h"
#include "syncto/sy_tokenserver.h"
#include "syncto/sy_ts.h"
#include "sy_version.h"

#define KID "1444122508836-YBxElzckGe4Xib-TH4xo9Q"
#define CS "601c4497372419ee1789bf931f8c68f5"

/* ---- scripted server ------------------------------------------------- */

static int srv_port;
static int srv_listen_fd = -1;
static pthread_t srv_accept_tid;
static bool srv_stopping;
static int srv_active; /* connection threads still running */
static pthread_mutex_t srv_mu = PTHREAD_MUTEX_INITIALIZER;
static int srv_connections; /* accepted connections */
static int srv_token_calls; /* tokenserver requests */
static int srv_token_status = 200;
static long srv_token_skew_s;           /* X-Timestamp = now + skew */
static int srv_sync_401;                /* next N Sync requests answer 401 */
static const char *srv_sync_extra = ""; /* extra headers on Sync answers */
static int srv_heartbeat_mode;          /* 0 Ok, 1 Err, 2 503, 3 text */
static char srv_last_token_req[8192];
static char srv_last_sync_req[8192];

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void reply(int fd, int status, const char *headers, const char *body, size_t len)
{
    char head[1024];
    int n =
        snprintf(head, sizeof(head),
                 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nContent-Type: application/json\r\n%s\r\n",
                 status, len, headers);

    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

/* Bytes of the large answers: a pattern that tells offsets apart. */
#define LARGE_N ((size_t)1500000)

static char large_byte(size_t i)
{
    return (char)('a' + i % 23);
}

/* GET /large: LARGE_N bytes with a Content-Length; /large-chunked: the same
 * in chunks of 64 KiB without one; /large-short: a Content-Length of
 * LARGE_N, 1,000 bytes, then the end of the connection. */
static void send_large(int fd, const char *req)
{
    bool chunked = strncmp(req, "GET /large-chunked ", 19) == 0;
    bool cut = strncmp(req, "GET /large-short ", 17) == 0;
    size_t n = cut ? 1000 : LARGE_N;
    char *body = malloc(LARGE_N), head[256];
    int hn;

    for (size_t i = 0; i < LARGE_N; i++)
        body[i] = large_byte(i);
    hn = snprintf(head, sizeof(head), "HTTP/1.1 200 X\r\n%s\r\n\r\n",
                  chunked ? "Transfer-Encoding: chunked" : "Content-Length: 1500000");
    send_all(fd, head, (size_t)hn);
    for (size_t off = 0; off < n;) {
        size_t k = n - off < 65536 ? n - off : 65536;
        if (chunked) {
            hn = snprintf(head, sizeof(head), "%zx\r\n", k);
            send_all(fd, head, (size_t)hn);
        }
        send_all(fd, body + off, k);
        if (chunked)
            send_all(fd, "\r\n", 2);
        off += k;
    }
    if (chunked)
        send_all(fd, "0\r\n\r\n", 5);
    if (cut)
        shutdown(fd, SHUT_WR);
    free(body);
}

static void handle(int fd, const char *req, size_t len)
{
    char body[1024], hdrs[512];

    if (strncmp(req, "GET /ok ", 8) == 0) {
        reply(fd, 200, "X-Weave-Records: 3\r\nX-Test:  Padded  \r\n", "[1,2]", 5);
    } else if (strncmp(req, "GET /status/", 12) == 0) {
        reply(fd, (int)strtol(req + 12, NULL, 10), "", "0", 1);
    } else if (strstr(req, " /echo") != NULL && strstr(req, " /echo") < strchr(req, '\n')) {
        reply(fd, 200, "", req, len);
    } else if (strncmp(req, "GET /big ", 9) == 0) {
        size_t n = 200000;
        char *big = malloc(n);

        memset(big, 'x', n);
        reply(fd, 200, "", big, n);
        free(big);
    } else if (strncmp(req, "GET /large", 10) == 0) {
        send_large(fd, req);
    } else if (strncmp(req, "GET /slow ", 10) == 0) {
        sleep(3);
        reply(fd, 200, "", "late", 4);
    } else if (strncmp(req, "GET /__heartbeat__ ", 19) == 0) {
        int mode;

        pthread_mutex_lock(&srv_mu);
        mode = srv_heartbeat_mode;
        pthread_mutex_unlock(&srv_mu);
        if (mode == 0)
            reply(fd, 200, "", "{\"status\":\"Ok\"}", 15);
        else if (mode == 1)
            reply(fd, 200, "", "{\"status\":\"Err\"}", 16);
        else if (mode == 2)
            reply(fd, 503, "", "{\"status\":\"Ok\"}", 15);
        else
            reply(fd, 200, "", "OK", 2);
    } else if (strncmp(req, "GET /1.0/sync/1.5", 17) == 0) {
        int n, st;
        long skew;

        pthread_mutex_lock(&srv_mu);
        n = ++srv_token_calls;
        st = srv_token_status;
        skew = srv_token_skew_s;
        snprintf(srv_last_token_req, sizeof(srv_last_token_req), "%.*s", (int)len, req);
        pthread_mutex_unlock(&srv_mu);
        snprintf(hdrs, sizeof(hdrs), "X-Timestamp: %lld\r\n",
                 (long long)(sy_ts_now_ms() / 1000 + skew));
        if (st != 200) {
            snprintf(body, sizeof(body), "{\"status\": \"invalid-credentials\"}");
            reply(fd, st, st == 503 ? "Retry-After: 120\r\n" : "", body, strlen(body));
            return;
        }
        snprintf(body, sizeof(body),
                 "{\"id\":\"tid%d\",\"key\":\"key%d\",\"uid\":1,\"api_endpoint\":"
                 "\"http://127.0.0.1:%d/1.5/1\",\"duration\":3600,\"hashalg\":\"sha256\"}",
                 n, n, srv_port);
        reply(fd, 200, hdrs, body, strlen(body));
    } else if (strncmp(req + strcspn(req, " ") + 1, "/1.5/1/", 7) == 0) {
        bool unauthorized;

        pthread_mutex_lock(&srv_mu);
        unauthorized = srv_sync_401 > 0;
        if (unauthorized)
            srv_sync_401--;
        snprintf(srv_last_sync_req, sizeof(srv_last_sync_req), "%.*s", (int)len, req);
        snprintf(hdrs, sizeof(hdrs),
                 "X-Weave-Timestamp: %lld.00\r\nX-Last-Modified: 1441868927.07\r\n%s",
                 (long long)(sy_ts_now_ms() / 1000), srv_sync_extra);
        pthread_mutex_unlock(&srv_mu);
        if (unauthorized)
            reply(fd, 401, hdrs, "0", 1);
        else
            reply(fd, 200, hdrs, "[]", 2);
    } else {
        reply(fd, 404, "", "0", 1);
    }
}

static void *conn_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    size_t have = 0;

    for (;;) {
        char *end = NULL;
        ssize_t r;

        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end != NULL) {
            size_t head = (size_t)(end + 4 - buf), clen = 0, total;
            const char *cl = strcasestr(buf, "\r\nContent-Length:");

            if (cl != NULL && cl < end)
                clen = (size_t)strtoul(cl + 17, NULL, 10);
            total = head + clen;
            if (have >= total) {
                char saved = buf[total];

                buf[total] = '\0';
                handle(fd, buf, total);
                buf[total] = saved;
                memmove(buf, buf + total, have - total);
                have -= total;
                continue;
            }
        }
        if (have >= sizeof(buf) - 1)
            break;
        r = read(fd, buf + have, sizeof(buf) - 1 - have);
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    close(fd);
    pthread_mutex_lock(&srv_mu);
    srv_active--;
    pthread_mutex_unlock(&srv_mu);
    return NULL;
}

static void *accept_thread(void *arg)
{
    int lfd = (int)(intptr_t)arg;

    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        pthread_t t;

        if (fd < 0) {
            bool stop;

            pthread_mutex_lock(&srv_mu);
            stop = srv_stopping;
            pthread_mutex_unlock(&srv_mu);
            if (stop)
                break;
            continue;
        }
        pthread_mutex_lock(&srv_mu);
        srv_connections++;
        srv_active++;
        pthread_mutex_unlock(&srv_mu);
        pthread_create(&t, NULL, conn_thread, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
    return NULL;
}

static int start_server(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 64) != 0)
        return -1;
    getsockname(fd, (struct sockaddr *)&a, &alen);
    srv_port = ntohs(a.sin_port);
    srv_listen_fd = fd;
    pthread_create(&srv_accept_tid, NULL, accept_thread, (void *)(intptr_t)fd);
    return 0;
}

/* Stops accepting and waits (at most 10 s) for the connection threads, which
 * end when the clients close their connections. */
static void stop_server(void)
{
    int i, active = 0;

    pthread_mutex_lock(&srv_mu);
    srv_stopping = true;
    pthread_mutex_unlock(&srv_mu);
    shutdown(srv_listen_fd, SHUT_RDWR);
    pthread_join(srv_accept_tid, NULL);
    close(srv_listen_fd);
    for (i = 0; i < 1000; i++) {
        pthread_mutex_lock(&srv_mu);
        active = srv_active;
        pthread_mutex_unlock(&srv_mu);
        if (active == 0)
            break;
        usleep(10000);
    }
}

/* A port nothing listens on: bound, then closed. */
static int closed_port(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &alen);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* ---- fixture --------------------------------------------------------- */

typedef struct {
    sy_settings_t settings;
    sy_ctx_t ctx;
    sy_pool_t *pool;
    char ts_url[128];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    snprintf(f->ts_url, sizeof(f->ts_url), "http://127.0.0.1:%d/", srv_port);
    f->settings.token_server_url = f->ts_url;
    f->settings.token_server_connect_timeout_seconds = 2;
    f->settings.token_server_timeout_seconds = 2;
    f->settings.token_server_heartbeat_timeout_seconds = 1;
    f->settings.sync_connect_timeout_seconds = 2;
    f->settings.sync_timeout_seconds = 2;
    f->settings.sync_max_concurrency = 4;
    f->settings.max_upstream_response_bytes = 100000;
    f->settings.cache_hmac_secret = (char *)"secret";
    f->settings.cache_credentials_ttl_seconds = 300;
    f->settings.cache_credentials_safety_margin_seconds = 30;
    f->settings.retry_after_seconds = 30;
    f->settings.browserid_enabled = true;
    f->pool = sy_pool_new(0);
    f->ctx.settings = &f->settings;
    f->ctx.pool = f->pool;
    pthread_mutex_lock(&srv_mu);
    srv_token_status = 200;
    srv_token_skew_s = 0;
    srv_sync_401 = 0;
    srv_sync_extra = "";
    srv_heartbeat_mode = 0;
    pthread_mutex_unlock(&srv_mu);
    sy_backoff_reset_memo();
    sy_sync_clock_learn(0, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    sy_http_free(f->ctx.http);
    sy_pool_free(f->pool);
    free(f);
    return 0;
}

static char *url(fixture_t *f, const char *path)
{
    return sy_psprintf(f->pool, "http://127.0.0.1:%d%s", srv_port, path);
}

static void req_init(sy_http_req_t *r, const char *method, const char *u)
{
    memset(r, 0, sizeof(*r));
    r->method = method;
    r->url = u;
    r->connect_timeout_ms = 1000;
    r->timeout_ms = 2000;
}

static int connections(void)
{
    int n;

    pthread_mutex_lock(&srv_mu);
    n = srv_connections;
    pthread_mutex_unlock(&srv_mu);
    return n;
}

/* ---- sy_http --------------------------------------------------------- */

static void test_perform_basic(void **state)
{
    fixture_t *f = *state;
    sy_http_req_t r;
    sy_http_resp_t resp;
    int before;

    req_init(&r, "GET", url(f, "/ok"));
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_OK);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.body, "[1,2]");
    assert_int_equal(resp.body_len, 5);
    /* names lowercased, values trimmed */
    assert_string_equal(sy_kv_get(&resp.headers, "x-weave-records"), "3");
    assert_string_equal(resp.headers.items[0].name, "content-length");
    assert_string_equal(sy_kv_get(&resp.headers, "x-test"), "Padded");

    /* the connection is reused for the next request */
    before = connections();
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_OK);
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_OK);
    assert_int_equal(connections(), before);

    /* status codes are answers, not errors */
    req_init(&r, "GET", url(f, "/status/503"));
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_OK);
    assert_int_equal(resp.status, 503);
}

static void test_perform_body_and_headers(void **state)
{
    fixture_t *f = *state;
    sy_http_req_t r;
    sy_http_resp_t resp;
    sy_kvlist_t h = {0};

    sy_kv_add(f->pool, &h, "X-Custom", "v1");
    req_init(&r, "PUT", url(f, "/echo"));
    r.headers = &h;
    r.body = "{\"payload\":\"x\"}";
    r.body_len = 15;
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_OK);
    assert_non_null(strstr(resp.body, "PUT /echo HTTP/1.1\r\n"));
    assert_non_null(strstr(resp.body, "\r\nX-Custom: v1\r\n"));
    assert_non_null(strstr(resp.body, "\r\nContent-Length: 15\r\n"));
    assert_null(strstr(resp.body, "Expect:"));
    assert_non_null(strstr(resp.body, "\r\n\r\n{\"payload\":\"x\"}"));

    /* DELETE without a body, then GET on the same handle: no leftovers */
    req_init(&r, "DELETE", url(f, "/echo"));
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_OK);
    assert_non_null(strstr(resp.body, "DELETE /echo HTTP/1.1\r\n"));
    assert_null(strstr(resp.body, "Content-Length"));
    req_init(&r, "GET", url(f, "/echo"));
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_OK);
    assert_non_null(strstr(resp.body, "GET /echo HTTP/1.1\r\n"));
    assert_null(strstr(resp.body, "X-Custom"));

    /* a header value carrying CR/LF is refused before anything is sent */
    sy_kv_add(f->pool, &h, "X-Evil", "a\r\nX-Injected: 1");
    req_init(&r, "GET", url(f, "/echo"));
    r.headers = &h;
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_ERR_INVALID);

    /* path kept as is: dot segments and braces reach the server raw */
    req_init(&r, "GET", url(f, "/echo/a/../{b}"));
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_OK);
    assert_non_null(strstr(resp.body, "GET /echo/a/../{b} HTTP/1.1\r\n"));
}

static void test_perform_failures(void **state)
{
    fixture_t *f = *state;
    sy_http_req_t r;
    sy_http_resp_t resp;

    /* over the cap */
    req_init(&r, "GET", url(f, "/big"));
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_ERR_TOO_LARGE);
    assert_int_equal(resp.status, 0);
    assert_string_equal(resp.body, "");
    /* the request's own cap wins over the setting */
    r.max_response_bytes = 300000;
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_OK);
    assert_int_equal(resp.body_len, 200000);

    /* refused connection */
    req_init(&r, "GET", sy_psprintf(f->pool, "http://127.0.0.1:%d/", closed_port()));
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_ERR_UNREACHABLE);
    assert_non_null(resp.error);

    /* timeout */
    req_init(&r, "GET", url(f, "/slow"));
    r.timeout_ms = 300;
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_ERR_UNREACHABLE);

    /* not http(s) */
    req_init(&r, "GET", "file:///etc/passwd");
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_ERR_INVALID);
}

/* A body of several MB arrives whole, whether its length is announced or
 * not, in a buffer that may hold a secret (wiped, moved by copy) or not
 * (sized from Content-Length, grown by realloc), and is handed to the pool
 * as it is; an answer cut short of its Content-Length is a failure with no
 * body. */
static void test_perform_large_body(void **state)
{
    fixture_t *f = *state;
    static const char *const paths[] = {"/large", "/large-chunked"};
    sy_http_req_t r;
    sy_http_resp_t resp;

    for (size_t k = 0; k < 2 * sizeof(paths) / sizeof(paths[0]); k++) {
        req_init(&r, "GET", url(f, paths[k / 2]));
        r.no_secret = k % 2 == 1;
        r.max_response_bytes = 4 * LARGE_N;
        assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_OK);
        assert_int_equal(resp.status, 200);
        assert_int_equal(resp.body_len, LARGE_N);
        for (size_t i = 0; i < LARGE_N; i++)
            if (resp.body[i] != large_byte(i))
                fail_msg("%s: byte %zu differs", paths[k / 2], i);
        assert_int_equal(resp.body[LARGE_N], '\0');
        sy_pool_reset(f->pool);
    }
    /* the announced length over the cap: refused before any byte */
    req_init(&r, "GET", url(f, "/large"));
    r.max_response_bytes = LARGE_N - 1;
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_ERR_TOO_LARGE);
    assert_string_equal(resp.body, "");
    /* announced (the buffer sized for it), then cut */
    req_init(&r, "GET", url(f, "/large-short"));
    r.no_secret = true;
    r.max_response_bytes = 4 * LARGE_N;
    assert_int_equal(sy_http_perform(sy_http_of(&f->ctx), f->pool, &r, &resp), SY_ERR_UNREACHABLE);
    assert_int_equal(resp.status, 0);
    assert_string_equal(resp.body, "");
    assert_int_equal(resp.body_len, 0);
}

static void test_perform_many(void **state)
{
    fixture_t *f = *state;
    sy_http_req_t r[7];
    sy_http_resp_t resp[7];
    size_t i;

    req_init(&r[0], "GET", url(f, "/ok"));
    req_init(&r[1], "GET", url(f, "/status/404"));
    req_init(&r[2], "GET", url(f, "/big"));
    req_init(&r[3], "GET", sy_psprintf(f->pool, "http://127.0.0.1:%d/", closed_port()));
    req_init(&r[4], "POST", url(f, "/echo"));
    r[4].body = "[4]";
    r[4].body_len = 3;
    req_init(&r[5], "GET", url(f, "/ok"));
    req_init(&r[6], "GET", "gopher://x/");
    sy_http_perform_many(sy_http_of(&f->ctx), f->pool, r, resp, 7, 3);
    assert_int_equal(resp[0].rc, SY_OK);
    assert_int_equal(resp[0].status, 200);
    assert_int_equal(resp[1].status, 404);
    assert_int_equal(resp[2].rc, SY_ERR_TOO_LARGE);
    assert_int_equal(resp[3].rc, SY_ERR_UNREACHABLE);
    assert_int_equal(resp[4].rc, SY_OK);
    assert_non_null(strstr(resp[4].body, "\r\n\r\n[4]"));
    assert_string_equal(resp[5].body, "[1,2]");
    assert_int_equal(resp[6].rc, SY_ERR_INVALID);

    /* more requests than handles */
    {
        sy_http_req_t many[40];
        sy_http_resp_t out[40];

        for (i = 0; i < 40; i++)
            req_init(&many[i], "GET", url(f, "/ok"));
        sy_http_perform_many(sy_http_of(&f->ctx), f->pool, many, out, 40, 100);
        for (i = 0; i < 40; i++) {
            assert_int_equal(out[i].rc, SY_OK);
            assert_string_equal(out[i].body, "[1,2]");
        }
    }
}

/* ---- tokenserver ----------------------------------------------------- */

static sy_auth_t bearer(void)
{
    sy_auth_t a;

    memset(&a, 0, sizeof(a));
    a.kind = SY_AUTH_BEARER;
    a.credential = "oauth-token";
    a.key_id = KID;
    a.client_state = CS;
    return a;
}

static void test_tokenserver_headers(void **state)
{
    fixture_t *f = *state;
    sy_auth_t a = bearer();
    sy_token_t tok;
    sy_http_resp_t resp;

    assert_int_equal(sy_tokenserver_fetch(&f->ctx, f->pool, &a, 120, &tok, &resp), SY_OK);
    assert_non_null(strstr(srv_last_token_req, "GET /1.0/sync/1.5?duration=120 HTTP/1.1\r\n"));
    assert_non_null(strstr(srv_last_token_req, "\r\nAuthorization: Bearer oauth-token\r\n"));
    assert_non_null(strstr(srv_last_token_req, "\r\nX-KeyID: " KID "\r\n"));
    assert_null(strstr(srv_last_token_req, "X-Client-State"));
    assert_string_equal(tok.api_endpoint,
                        sy_psprintf(f->pool, "http://127.0.0.1:%d/1.5/1", srv_port));
    assert_int_equal(tok.duration, 3600);
    /* the raw body (with the key) is not left in the response */
    assert_int_equal(resp.body_len, 0);

    /* Bearer + X-Client-State sent by the client: forwarded */
    a.client_state_header = true;
    assert_int_equal(sy_tokenserver_fetch(&f->ctx, f->pool, &a, 0, &tok, &resp), SY_OK);
    assert_non_null(strstr(srv_last_token_req, "GET /1.0/sync/1.5 HTTP/1.1\r\n"));
    assert_non_null(strstr(srv_last_token_req, "\r\nX-Client-State: " CS "\r\n"));

    /* BrowserID: Authorization + X-Client-State, no X-KeyID */
    a.kind = SY_AUTH_BROWSERID;
    a.credential = "ass.er.tion";
    a.key_id = NULL;
    a.client_state_header = false;
    assert_int_equal(sy_tokenserver_fetch(&f->ctx, f->pool, &a, 60, &tok, &resp), SY_OK);
    assert_non_null(strstr(srv_last_token_req, "\r\nAuthorization: BrowserID ass.er.tion\r\n"));
    assert_non_null(strstr(srv_last_token_req, "\r\nX-Client-State: " CS "\r\n"));
    assert_null(strstr(srv_last_token_req, "X-KeyID"));

    /* an error status is SY_ERR_UPSTREAM with the answer kept */
    srv_token_status = 401;
    assert_int_equal(sy_tokenserver_fetch(&f->ctx, f->pool, &a, 60, &tok, &resp), SY_ERR_UPSTREAM);
    assert_int_equal(resp.status, 401);
    assert_non_null(strstr(resp.body, "invalid-credentials"));

    /* unreachable tokenserver */
    snprintf(f->ts_url, sizeof(f->ts_url), "http://127.0.0.1:%d", closed_port());
    assert_int_equal(sy_tokenserver_fetch(&f->ctx, f->pool, &a, 60, &tok, &resp),
                     SY_ERR_UNREACHABLE);
}

static void test_heartbeat(void **state)
{
    fixture_t *f = *state;

    srv_heartbeat_mode = 0;
    assert_true(sy_tokenserver_heartbeat(&f->ctx));
    srv_heartbeat_mode = 3; /* py-token: text "OK" */
    assert_true(sy_tokenserver_heartbeat(&f->ctx));
    srv_heartbeat_mode = 1; /* rs: 200 with "status":"Err" */
    assert_false(sy_tokenserver_heartbeat(&f->ctx));
    srv_heartbeat_mode = 2;
    assert_false(sy_tokenserver_heartbeat(&f->ctx));
    snprintf(f->ts_url, sizeof(f->ts_url), "http://127.0.0.1:%d/", closed_port());
    assert_false(sy_tokenserver_heartbeat(&f->ctx));
}

/* ---- Sync calls ------------------------------------------------------ */

static void make_request(fixture_t *f, sy_request_t *req, const char *ua)
{
    memset(req, 0, sizeof(*req));
    req->pool = f->pool;
    req->ctx = &f->ctx;
    req->request_id = "rid";
    if (ua != NULL)
        sy_kv_add(f->pool, &req->headers, "user-agent", ua);
}

static void test_sync_call(void **state)
{
    fixture_t *f = *state;
    sy_auth_t a = bearer();
    sy_request_t req;
    sy_sync_t s;
    sy_sync_op_t op;
    sy_sync_result_t res;
    sy_sync_query_t q;
    int calls;
    char *ts;
    long long signed_ts;

    make_request(f, &req, "HTTPie/0.9.2");
    sy_sync_init(&s, &req, &a);
    /* the tokenserver's clock is 1000 s ahead: Hawk ts follows it */
    srv_token_skew_s = 1000;
    calls = srv_token_calls;
    sy_sync_query_init(&q);
    q.sort = "newest";
    sy_sync_op_get_collection(f->pool, &op, "Tabs", &q);
    op.if_modified_since_ms = 14377478425700;
    assert_int_equal(sy_sync_perform(&s, &op, &res), SY_OK);
    assert_true(sy_sync_result_ok(&res));
    assert_int_equal(res.stage, SY_SYNC_STAGE_SYNC);
    assert_int_equal(srv_token_calls, calls + 1);
    assert_true(res.last_modified_ms == 1441868927070);
    assert_non_null(res.json);
    assert_true(json_object_is_type(res.json, json_type_array));
    assert_non_null(
        strstr(srv_last_sync_req, "GET /1.5/1/storage/tabs?full=1&sort=newest HTTP/1.1\r\n"));
    assert_non_null(strstr(srv_last_sync_req, "\r\nAuthorization: Hawk id=\"tid"));
    assert_null(strstr(srv_last_sync_req, "hash=\""));
    assert_non_null(
        strstr(srv_last_sync_req, sy_psprintf(f->pool, "\r\nHost: 127.0.0.1:%d\r\n", srv_port)));
    assert_non_null(strstr(srv_last_sync_req, "\r\nUser-Agent: Syncto/" SY_VERSION
                                              " (on behalf of HTTPie/0.9.2)\r\n"));
    assert_non_null(strstr(srv_last_sync_req, "\r\nX-If-Modified-Since: 14377478425.70\r\n"));
    ts = strstr(srv_last_sync_req, "ts=\"");
    assert_non_null(ts);
    signed_ts = strtoll(ts + 4, NULL, 10);
    assert_true(llabs(signed_ts - (sy_ts_now_ms() / 1000 + 1000)) < 60);

    /* the same session reuses its credentials; PUT carries a payload hash */
    sy_sync_op_put_record(f->pool, &op, "tabs", "{rec 1}", "{\"payload\":\"p\"}", 15);
    op.if_unmodified_since_ms = 0;
    assert_int_equal(sy_sync_perform(&s, &op, &res), SY_OK);
    assert_int_equal(srv_token_calls, calls + 1);
    assert_non_null(strstr(srv_last_sync_req, "PUT /1.5/1/storage/tabs/{rec%201} HTTP/1.1\r\n"));
    assert_non_null(strstr(srv_last_sync_req, "hash=\""));
    assert_non_null(
        strstr(srv_last_sync_req, "\r\nContent-Type: application/json; charset=utf-8\r\n"));
    assert_non_null(strstr(srv_last_sync_req, "\r\nX-If-Unmodified-Since: 0\r\n"));
    /* Sync's X-Weave-Timestamp (no skew) corrected the clock again */
    assert_true(llabs(sy_sync_clock_now_ms() - sy_ts_now_ms()) < 5000);

    /* raw_body: a 2xx answer is left as text for the caller (a records
     * list is rewritten from it), an error answer is parsed as ever */
    sy_sync_op_get_collection(f->pool, &op, "tabs", &q);
    op.raw_body = true;
    assert_int_equal(sy_sync_perform(&s, &op, &res), SY_OK);
    assert_true(sy_sync_result_ok(&res));
    assert_null(res.json);
    assert_string_equal(res.body, "[]");
    assert_int_equal(res.body_len, 2);
    assert_true(res.last_modified_ms == 1441868927070);
    pthread_mutex_lock(&srv_mu);
    srv_sync_401 = 2;
    pthread_mutex_unlock(&srv_mu);
    assert_int_equal(sy_sync_perform(&s, &op, &res), SY_OK);
    assert_int_equal(res.status, 401);
    assert_non_null(res.json);
    assert_true(json_object_is_type(res.json, json_type_int));
}

static void test_sync_401_retries_once(void **state)
{
    fixture_t *f = *state;
    sy_auth_t a = bearer();
    sy_request_t req;
    sy_sync_t s;
    sy_sync_op_t op;
    sy_sync_result_t res;
    sy_response_t *resp = sy_pcalloc(f->pool, sizeof(*resp));
    int calls = srv_token_calls;
    char expect_id[32];

    /* one 401: fresh credentials, the retry succeeds */
    make_request(f, &req, NULL);
    sy_sync_init(&s, &req, &a);
    srv_sync_401 = 1;
    sy_sync_op_get_record(f->pool, &op, "tabs", "r1");
    assert_int_equal(sy_sync_perform(&s, &op, &res), SY_OK);
    assert_int_equal(res.status, 200);
    assert_int_equal(srv_token_calls, calls + 2);
    snprintf(expect_id, sizeof(expect_id), "Hawk id=\"tid%d\"", calls + 2);
    assert_non_null(strstr(srv_last_sync_req, expect_id));
    assert_non_null(strstr(srv_last_sync_req, "\r\nUser-Agent: Syncto/" SY_VERSION "\r\n"));

    /* 401 twice: only one retry, then 401 errno 105 */
    make_request(f, &req, NULL);
    sy_sync_init(&s, &req, &a);
    srv_sync_401 = 5;
    calls = srv_token_calls;
    assert_int_equal(sy_sync_perform(&s, &op, &res), SY_OK);
    assert_int_equal(res.status, 401);
    assert_int_equal(srv_token_calls, calls + 2);
    assert_int_equal(srv_sync_401, 3);
    sy_resp_init(&req, resp);
    sy_errors_respond(&req, resp, &res);
    assert_int_equal(resp->status, 401);
}

static void test_sync_tokenserver_failures(void **state)
{
    fixture_t *f = *state;
    sy_auth_t a = bearer();
    sy_request_t req;
    sy_sync_t s;
    sy_sync_op_t op;
    sy_sync_result_t res, many[3];
    sy_sync_op_t ops[3];
    sy_response_t *resp = sy_pcalloc(f->pool, sizeof(*resp));
    int calls;

    /* tokenserver 401 -> the result says so, and maps to 401 errno 105 */
    make_request(f, &req, NULL);
    sy_sync_init(&s, &req, &a);
    srv_token_status = 401;
    sy_sync_op_info_collections(&op);
    assert_int_equal(sy_sync_perform(&s, &op, &res), SY_OK);
    assert_int_equal(res.stage, SY_SYNC_STAGE_TOKENSERVER);
    assert_int_equal(res.status, 401);
    assert_false(sy_sync_result_ok(&res));
    sy_resp_init(&req, resp);
    sy_errors_respond(&req, resp, &res);
    assert_int_equal(resp->status, 401);

    /* a session remembers the failure: no second tokenserver call */
    calls = srv_token_calls;
    for (int i = 0; i < 3; i++)
        sy_sync_op_get_record(f->pool, &ops[i], "tabs", "r");
    sy_sync_perform_many(&s, ops, many, 3);
    assert_int_equal(srv_token_calls, calls);
    assert_int_equal(many[2].status, 401);

    /* tokenserver 503 with Retry-After: 503 errno 201, Retry-After kept,
     * back-off noted for the tokenserver's host */
    make_request(f, &req, NULL);
    sy_sync_init(&s, &req, &a);
    srv_token_status = 503;
    assert_int_equal(sy_sync_perform(&s, &op, &res), SY_OK);
    assert_int_equal(res.status, 503);
    sy_resp_init(&req, resp);
    sy_errors_respond(&req, resp, &res);
    assert_int_equal(resp->status, 503);
    assert_string_equal(sy_resp_header(resp, "Retry-After"), "120");
    sy_resp_init(&req, resp);
    sy_backoff_apply(&req, resp);
    assert_non_null(sy_resp_header(resp, "Backoff"));
    assert_true(strtol(sy_resp_header(resp, "Backoff"), NULL, 10) > 100);

    /* unreachable tokenserver */
    make_request(f, &req, NULL);
    sy_sync_init(&s, &req, &a);
    snprintf(f->ts_url, sizeof(f->ts_url), "http://127.0.0.1:%d/", closed_port());
    assert_int_equal(sy_sync_perform(&s, &op, &res), SY_ERR_UNREACHABLE);
    assert_int_equal(res.stage, SY_SYNC_STAGE_TOKENSERVER);
}

static void test_sync_many_and_backoff(void **state)
{
    fixture_t *f = *state;
    sy_auth_t a = bearer();
    sy_request_t req;
    sy_sync_t s;
    sy_sync_op_t ops[5];
    sy_sync_result_t res[5];
    sy_response_t *resp = sy_pcalloc(f->pool, sizeof(*resp));
    int calls = srv_token_calls;
    size_t i;

    make_request(f, &req, NULL);
    sy_sync_init(&s, &req, &a);
    srv_sync_extra = "X-Weave-Backoff: 600\r\n";
    for (i = 0; i < 5; i++)
        sy_sync_op_get_record(f->pool, &ops[i], "tabs", sy_psprintf(f->pool, "r%zu", i));
    sy_sync_perform_many(&s, ops, res, 5);
    assert_int_equal(srv_token_calls, calls + 1);
    for (i = 0; i < 5; i++) {
        assert_int_equal(res[i].rc, SY_OK);
        assert_int_equal(res[i].status, 200);
        assert_int_equal(res[i].backoff, 600);
    }

    /* a later response for that node, without the header, still says so */
    srv_sync_extra = "";
    make_request(f, &req, NULL);
    sy_sync_init(&s, &req, &a);
    assert_int_equal(sy_sync_perform(&s, &ops[0], &res[0]), SY_OK);
    assert_int_equal(res[0].backoff, 0);
    sy_resp_init(&req, resp);
    sy_errors_export(&req, resp, &res[0]);
    assert_non_null(sy_resp_header(resp, "Backoff"));
    assert_true(strtol(sy_resp_header(resp, "Backoff"), NULL, 10) > 590);
    assert_null(sy_resp_header(resp, "Retry-After"));
}

int main(void)
{
    int rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_perform_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perform_body_and_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perform_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perform_large_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perform_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokenserver_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_401_retries_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_tokenserver_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_many_and_backoff, setup, teardown),
    };

    if (sodium_init() < 0 || start_server() != 0)
        return 1;
    sy_http_global_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    stop_server();
    return rc;
}
