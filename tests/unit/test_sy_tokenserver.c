/* The tokenserver client: answer parsing (what is required, what is
 * refused), the secrets of an answer wiped from json-c's memory before it is
 * freed, the token URL, and the call itself against a small scripted server
 * in this process on 127.0.0.1: what each kind of answer gives (SY_OK,
 * SY_ERR_UPSTREAM with the status kept, SY_ERR_TOO_LARGE,
 * SY_ERR_UNREACHABLE), the Kinto error each one becomes through a Sync
 * session, and the request id on the lines logged meanwhile. */
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

#include "syncto/sy_errors.h"
#include "syncto/sy_http.h"
#include "syncto/sy_json.h"
#include "syncto/sy_log.h"
#include "syncto/sy_sync.h"
#include "syncto/sy_tokenserver.h"
#include "sy_test_util.h"

#define CS "601c4497372419ee1789bf931f8c68f5"
#define KID "1444122508836-YBxElzckGe4Xib-TH4xo9Q"
#define HAWK_ID "eyJ1aWQiOjEyMzQ1LCJub2RlIjoiaHR0cHM6Ly9kYjQyLnN5bmMifQ"
#define HAWK_KEY "dSi3EoZyHwgDp-O9OG1jRHtmbGl2M1bwcWsi04C4F58="
#define ANSWER(endpoint)                                                                           \
    "{\"id\":\"" HAWK_ID "\",\"key\":\"" HAWK_KEY "\",\"uid\":12345,\"api_endpoint\":\"" endpoint  \
    "\",\"duration\":300,\"hashalg\":\"sha256\",\"hashed_fxa_uid\":\"0123abcd\"}"

static void test_token_parse(void **state)
{
    static const struct {
        const char *json;
        sy_rc_t rc;
        const char *uid, *endpoint;
        long duration;
    } rows[] = {
        {"{\"id\":\"eyJ1aWQ=\",\"key\":\"dSi3EoZyHwgDp-O9OG1jRHtmbGl2M1bwcWsi04C4F58=\",\"uid\":"
         "12345,"
         "\"api_endpoint\":\"https://db42.sync.example.com/1.5/12345\",\"duration\":300,"
         "\"hashalg\":\"sha256\",\"hashed_fxa_uid\":\"0123abcd\"}",
         SY_OK, "12345", "https://db42.sync.example.com/1.5/12345", 300},
        /* uid as a string, trailing slash dropped, no duration */
        {"{\"id\":\"mon-id\",\"key\":\"k\",\"uid\":\"123456\",\"api_endpoint\":\"http://"
         "example.org/\"}",
         SY_OK, "123456", "http://example.org", 0},
        {"{\"key\":\"k\",\"api_endpoint\":\"http://e/1\"}", SY_ERR_UPSTREAM, NULL, NULL, 0},
        {"{\"id\":\"i\",\"api_endpoint\":\"http://e/1\"}", SY_ERR_UPSTREAM, NULL, NULL, 0},
        {"{\"id\":\"i\",\"key\":\"k\"}", SY_ERR_UPSTREAM, NULL, NULL, 0},
        {"{\"id\":\"i\\\"\",\"key\":\"k\",\"api_endpoint\":\"http://e/1\"}", SY_ERR_UPSTREAM, NULL,
         NULL, 0},
        {"{\"id\":\"i\",\"key\":\"k\\\\\",\"api_endpoint\":\"http://e/1\"}", SY_ERR_UPSTREAM, NULL,
         NULL, 0},
        {"{\"id\":\"i d\",\"key\":\"k\",\"api_endpoint\":\"http://e/1\"}", SY_ERR_UPSTREAM, NULL,
         NULL, 0},
        {"{\"id\":\"\",\"key\":\"k\",\"api_endpoint\":\"http://e/1\"}", SY_ERR_UPSTREAM, NULL, NULL,
         0},
        {"{\"id\":1,\"key\":\"k\",\"api_endpoint\":\"http://e/1\"}", SY_ERR_UPSTREAM, NULL, NULL,
         0},
        {"{\"id\":\"i\",\"key\":\"k\",\"api_endpoint\":\"ftp://e/1\"}", SY_ERR_UPSTREAM, NULL, NULL,
         0},
        {"{\"id\":\"i\",\"key\":\"k\",\"api_endpoint\":\"javascript:alert(1)\"}", SY_ERR_UPSTREAM,
         NULL, NULL, 0},
        {"{\"id\":\"i\",\"key\":\"k\",\"api_endpoint\":\"http://e/1\"} trailing", SY_ERR_UPSTREAM,
         NULL, NULL, 0},
        {"[1,2]", SY_ERR_UPSTREAM, NULL, NULL, 0},
        {"not json", SY_ERR_UPSTREAM, NULL, NULL, 0},
        {"", SY_ERR_UPSTREAM, NULL, NULL, 0},
    };
    sy_pool_t *pool = sy_pool_new(0);
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sy_token_t tok;
        sy_rc_t rc = sy_token_parse(pool, rows[i].json, strlen(rows[i].json), &tok);

        if (rc != rows[i].rc)
            fail_msg("row %zu: rc %d", i, rc);
        if (rc != SY_OK)
            continue;
        assert_string_equal(tok.uid, rows[i].uid);
        assert_string_equal(tok.api_endpoint, rows[i].endpoint);
        assert_int_equal(tok.duration, rows[i].duration);
        assert_int_equal(tok.json_len, strlen(rows[i].json));
        assert_memory_equal(tok.json, rows[i].json, tok.json_len);
    }
    sy_pool_free(pool);
}

static void test_token_url(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);

    assert_string_equal(sy_tokenserver_token_url(pool, "https://token.services.mozilla.com/", 300),
                        "https://token.services.mozilla.com/1.0/sync/1.5?duration=300");
    assert_string_equal(sy_tokenserver_token_url(pool, "https://token.example.com", 60),
                        "https://token.example.com/1.0/sync/1.5?duration=60");
    assert_string_equal(sy_tokenserver_token_url(pool, "http://127.0.0.1:5000/token/", 0),
                        "http://127.0.0.1:5000/token/1.0/sync/1.5");
    sy_pool_free(pool);
}

/* ---- what json-c is about to free ------------------------------------ */

typedef struct {
    int trees;        /* trees wiped */
    int tokeners;     /* tokeners wiped */
    int secret_nodes; /* string values as long as the Hawk id or key */
    int dirty;        /* bytes not zero in what is about to be freed */
    int min_buffer;   /* smallest tokener work buffer met */
} wipes_t;

static void count_dirty(wipes_t *w, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w->dirty += p[i] != '\0';
}

static void walk(wipes_t *w, json_object *o)
{
    size_t n;

    switch (json_object_get_type(o)) {
    case json_type_string:
        n = (size_t)json_object_get_string_len(o);
        count_dirty(w, json_object_get_string(o), n);
        w->secret_nodes += n == strlen(HAWK_ID) || n == strlen(HAWK_KEY);
        break;
    case json_type_object: {
        json_object_object_foreach (o, name, value) {
            (void)name;
            walk(w, value);
        }
        break;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            walk(w, json_object_array_get_idx(o, i));
        break;
    default:
        break;
    }
}

/* The tokener's work buffer is reached through its (deprecated) pb
 * member, as sy_json.c does: json-c has no other way to it. */
static void on_wipe(json_object *tree, json_tokener *tok, void *arg)
{
    wipes_t *w = arg;

    if (tree != NULL) {
        w->trees++;
        walk(w, tree);
    }
    if (tok != NULL) {
        w->tokeners++;
        count_dirty(w, tok->pb->buf, (size_t)tok->pb->size);
        if (w->min_buffer == 0 || tok->pb->size < w->min_buffer)
            w->min_buffer = tok->pb->size;
    }
}

/* Whatever the answer, json-c frees nothing that still holds a byte of
 * it: every string of the tree (the id and the key among them) and the
 * tokener's whole work buffer are zero at that point. The parsed token is
 * the pool's own copy, intact. */
static void test_parse_wipes_secrets(void **state)
{
    static const struct {
        const char *json;
        sy_rc_t rc;
        int trees, secret_nodes;
    } rows[] = {
        {ANSWER("https://db42.sync.example.com/1.5/12345"), SY_OK, 1, 2},
        /* refused after the id and the key were read */
        {ANSWER("ftp://db42.sync.example.com/1.5/12345"), SY_ERR_UPSTREAM, 1, 2},
        {ANSWER("https://db42.sync.example.com/1.5/12345") " trailing", SY_ERR_UPSTREAM, 1, 2},
        {"[\"" HAWK_ID "\",{\"k\":[\"" HAWK_KEY "\"]}]", SY_ERR_UPSTREAM, 1, 2},
        /* cut inside the key: no tree, the key's start was in the buffer */
        {"{\"id\":\"" HAWK_ID "\",\"key\":\"dSi3EoZyHwgDp-O9OG1jRHtmb", SY_ERR_UPSTREAM, 0, 0},
        {"{\"id\":\"" HAWK_ID "\",\"key\":", SY_ERR_UPSTREAM, 0, 0},
    };
    sy_pool_t *pool = sy_pool_new(0);

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        wipes_t w = {0};
        sy_token_t tok;
        size_t len = strlen(rows[i].json);
        sy_rc_t rc;

        sy_json_test_wipe_hook(on_wipe, &w);
        rc = sy_token_parse(pool, rows[i].json, len, &tok);
        sy_json_test_wipe_hook(NULL, NULL);
        if (rc != rows[i].rc || w.trees != rows[i].trees || w.tokeners != 1 ||
            w.secret_nodes != rows[i].secret_nodes || w.dirty != 0)
            fail_msg("row %zu: rc %d, %d trees, %d tokeners, %d secret nodes, %d bytes left", i, rc,
                     w.trees, w.tokeners, w.secret_nodes, w.dirty);
        /* sized up front: json-c never had to move (and free) a copy */
        assert_true((size_t)w.min_buffer >= len + 1);
        if (rc == SY_OK) {
            assert_string_equal(tok.id, HAWK_ID);
            assert_string_equal(tok.key, HAWK_KEY);
        }
    }
    sy_pool_free(pool);
}

/* ---- a scripted tokenserver ------------------------------------------- */

/* The path prefix picks the answer: /ok/..., /s401/..., /s503/...,
 * /junk/... (a 200 that is not a token), /big/... (over the cap). */
static int srv_port;
static int srv_fd = -1;
static pthread_t srv_tid;

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
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nContent-Type: application/json\r\n"
                     "Connection: close\r\n%s\r\n",
                     status, len, headers);

    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

static void answer(int fd, const char *req)
{
    char body[512];

    if (strncmp(req, "GET /ok/", 8) == 0) {
        snprintf(body, sizeof(body), ANSWER("http://127.0.0.1:%d/1.5/12345"), srv_port);
        reply(fd, 200, "", body, strlen(body));
    } else if (strncmp(req, "GET /s401/", 10) == 0) {
        static const char b[] = "{\"status\": \"invalid-credentials\"}";
        reply(fd, 401, "", b, sizeof(b) - 1);
    } else if (strncmp(req, "GET /s503/", 10) == 0) {
        static const char b[] = "{\"status\": \"retry later\"}";
        reply(fd, 503, "Retry-After: 120\r\n", b, sizeof(b) - 1);
    } else if (strncmp(req, "GET /junk/", 10) == 0) {
        static const char b[] = "{\"id\":\"" HAWK_ID "\",\"key\":\"" HAWK_KEY "\"}";
        reply(fd, 200, "", b, sizeof(b) - 1); /* no api_endpoint */
    } else if (strncmp(req, "GET /big/", 9) == 0) {
        size_t n = (size_t)70 * 1024;
        char *big = malloc(n);

        assert_non_null(big);
        memset(big, ' ', n);
        reply(fd, 200, "", big, n);
        free(big);
    } else {
        reply(fd, 404, "", "0", 1);
    }
}

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        char buf[8192];
        size_t have = 0;
        int fd = accept(srv_fd, NULL, NULL);

        if (fd < 0)
            break; /* shut down */
        while (have < sizeof(buf) - 1) {
            ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);

            if (r <= 0)
                break;
            have += (size_t)r;
            buf[have] = '\0';
            if (strstr(buf, "\r\n\r\n") != NULL) {
                answer(fd, buf);
                break;
            }
        }
        close(fd);
    }
    return NULL;
}

static int start_server(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);

    srv_fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(srv_fd, 16) != 0 || getsockname(srv_fd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    srv_port = ntohs(a.sin_port);
    return pthread_create(&srv_tid, NULL, serve, NULL) == 0 ? 0 : -1;
}

static void stop_server(void)
{
    shutdown(srv_fd, SHUT_RDWR);
    pthread_join(srv_tid, NULL);
    close(srv_fd);
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
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* ---- the call --------------------------------------------------------- */

typedef struct {
    sy_settings_t settings;
    sy_ctx_t ctx;
    sy_request_t req; /* the client request ctx serves */
    sy_auth_t auth;
    char url[128];
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    sy_test_settings(&f->settings);
    f->settings.token_server_url = f->url;
    f->settings.token_server_connect_timeout_seconds = 2;
    f->settings.token_server_timeout_seconds = 2;
    f->settings.sync_connect_timeout_seconds = 2;
    f->settings.sync_timeout_seconds = 2;
    f->settings.max_upstream_response_bytes = 100000;
    f->settings.cache_hmac_secret = (char *)"secret";
    f->settings.cache_credentials_ttl_seconds = 300;
    sy_test_ctx(&f->ctx, &f->settings);
    sy_test_request(&f->req, &f->ctx, "GET");
    f->req.request_id = "ts-rid-1";
    f->ctx.request = &f->req;
    f->auth.kind = SY_AUTH_BEARER;
    f->auth.credential = "oauth-token";
    f->auth.key_id = KID;
    f->auth.client_state = CS;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;

    sy_http_free(f->ctx.http);
    sy_pool_free(f->ctx.pool);
    free(f);
    return 0;
}

static void use(fx_t *f, const char *prefix)
{
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/%s/", srv_port, prefix);
}

/* Each kind of answer, what the call returns, and what is left of the body
 * (the answer of a 200 holds the key: it is wiped, whether or not it was
 * usable). */
static void test_fetch_outcomes(void **state)
{
    static const struct {
        const char *prefix;
        sy_rc_t rc;
        int status;
        const char *body; /* in resp afterwards; NULL: empty */
    } rows[] = {
        {"ok", SY_OK, 200, NULL},
        {"s401", SY_ERR_UPSTREAM, 401, "invalid-credentials"},
        {"s503", SY_ERR_UPSTREAM, 503, "retry later"},
        {"junk", SY_ERR_UPSTREAM, 200, NULL},
        {"big", SY_ERR_TOO_LARGE, 0, NULL},
    };
    fx_t *f = *state;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sy_token_t tok;
        sy_http_resp_t resp;
        sy_rc_t rc;

        use(f, rows[i].prefix);
        rc = sy_tokenserver_fetch(&f->ctx, f->ctx.pool, &f->auth, 60, &tok, &resp);
        if (rc != rows[i].rc || (rows[i].status != 0 && resp.status != rows[i].status))
            fail_msg("%s: rc %d, status %d", rows[i].prefix, rc, resp.status);
        if (rows[i].body != NULL)
            assert_non_null(strstr(resp.body, rows[i].body));
        else if (rows[i].status == 200)
            assert_int_equal(resp.body_len, 0);
        if (rc == SY_OK) {
            assert_string_equal(tok.id, HAWK_ID);
            assert_string_equal(tok.key, HAWK_KEY);
            assert_int_equal(tok.duration, 300);
            assert_string_equal(tok.hashed_fxa_uid, "0123abcd");
        } else {
            assert_null(tok.id);
        }
    }
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/", closed_port());
    {
        sy_token_t tok;
        sy_http_resp_t resp;

        assert_int_equal(sy_tokenserver_fetch(&f->ctx, f->ctx.pool, &f->auth, 60, &tok, &resp),
                         SY_ERR_UNREACHABLE);
    }
}

/* The Kinto answer to a request whose credentials the tokenserver would
 * not give, through a Sync session (the request path): the tokenserver's
 * 401 is the client's 401 errno 105 with its body quoted, anything else a
 * 503 errno 201 with Retry-After, the tokenserver's own when it sent one. */
static void test_fetch_errors_as_kinto(void **state)
{
    static const struct {
        const char *prefix; /* NULL: nothing listens */
        int status;
        int kinto_errno;
        const char *message; /* part of it */
        const char *retry_after;
    } rows[] = {
        {"s401", 401, 105, "401 Unauthorized: {\"status\": \"invalid-credentials\"}", NULL},
        {"s503", 503, 201, SY_ERRORS_MSG_UNAVAILABLE, "120"},
        {"junk", 503, 201, SY_ERRORS_MSG_UNAVAILABLE, "30"},
        {"big", 503, 201, SY_ERRORS_MSG_UNAVAILABLE, "30"},
        {NULL, 503, 201, SY_ERRORS_MSG_UNREACHABLE, "30"},
    };
    fx_t *f = *state;
    sy_response_t resp; /* its buffer belongs to the pool until a reset */

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sy_sync_t s;
        sy_sync_op_t op;
        sy_sync_result_t res;
        json_object *body;

        sy_pool_reset(f->ctx.pool);
        if (rows[i].prefix != NULL)
            use(f, rows[i].prefix);
        else
            snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/", closed_port());
        sy_sync_init(&s, &f->req, &f->auth);
        sy_sync_op_info_collections(&op);
        /* the outcome is in res, whatever the code */
        sy_rc_ignore(sy_sync_perform(&s, &op, &res));
        assert_int_equal(res.stage, SY_SYNC_STAGE_TOKENSERVER);
        sy_resp_init(&f->req, &resp);
        sy_errors_respond(&f->req, &resp, &res);
        sy_resp_finish(&f->req, &resp);
        body = sy_test_json(resp.body.data);
        if (resp.status != rows[i].status ||
            json_object_get_int(sy_test_member(body, "errno")) != rows[i].kinto_errno ||
            strstr(sy_test_string(body, "message"), rows[i].message) == NULL)
            fail_msg("row %zu: %d %s", i, resp.status, resp.body.data);
        if (rows[i].retry_after != NULL)
            assert_string_equal(sy_resp_header(&resp, "Retry-After"), rows[i].retry_after);
        else
            assert_null(sy_resp_header(&resp, "Retry-After"));
        json_object_put(body);
    }
    sy_pool_reset(f->ctx.pool);
}

/* What the tokenserver module logs about a failure is on a line that
 * carries the id of the request it worked for. */
static void test_fetch_logs_carry_request_id(void **state)
{
    static const struct {
        const char *prefix; /* NULL: nothing listens */
        const char *rid, *what;
    } rows[] = {
        {"s503", "ts-rid-503", "tokenserver answered 503"},
        {"junk", "ts-rid-junk", "tokenserver answered 200 with an unusable body"},
        {NULL, "ts-rid-down", "tokenserver unreachable"},
    };
    fx_t *f = *state;
    sy_settings_t logging;

    memset(&logging, 0, sizeof(logging));
    logging.logging_renderer = (char *)"json";
    logging.log_level = (char *)"info";
    sy_log_init(&logging);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *needles[] = {rows[i].what, NULL};
        sy_test_capture_t cap;
        sy_token_t tok;
        sy_http_resp_t resp;
        json_object *o;
        char *out, *line;

        if (rows[i].prefix != NULL)
            use(f, rows[i].prefix);
        else
            snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/", closed_port());
        f->req.request_id = rows[i].rid;
        sy_test_capture_start(&cap);
        assert_int_not_equal(sy_tokenserver_fetch(&f->ctx, f->ctx.pool, &f->auth, 60, &tok, &resp),
                             SY_OK);
        out = sy_test_capture_end(&cap);
        line = sy_test_line_with(out, needles);
        if (line == NULL)
            fail_msg("no \"%s\" line in: %s", rows[i].what, out);
        o = sy_test_json(line);
        assert_string_equal(sy_test_string(sy_test_member(o, "Fields"), "rid"), rows[i].rid);
        json_object_put(o);
        free(line);
        free(out);
    }
    sy_log_init(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_parse),
        cmocka_unit_test(test_token_url),
        cmocka_unit_test(test_parse_wipes_secrets),
        cmocka_unit_test_setup_teardown(test_fetch_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_errors_as_kinto, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_logs_carry_request_id, setup, teardown),
    };
    int rc;

    if (sodium_init() < 0 || start_server() != 0)
        return 1;
    sy_http_global_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    stop_server();
    return rc;
}
