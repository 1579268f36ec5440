/* sy_fcgi_handle over in-memory FastCGI streams: the request is described by
 * its params and stdin exactly as libfcgi hands them over, and the bytes
 * written to the FastCGI stdout are checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "syncto/sy_fcgi.h"
#include "syncto/sy_log.h"
#include "sy_test_util.h"

typedef struct {
    const char *data; /* stdin contents */
    size_t len, pos;
    unsigned char win[7];   /* stdin is delivered 7 bytes at a time */
    unsigned char obuf[64]; /* small, so that writes wrap many times */
    char *out;
    size_t outlen;
} io_t;

static void fill(FCGX_Stream *s)
{
    io_t *io = s->data;
    size_t n = io->len - io->pos < sizeof(io->win) ? io->len - io->pos : sizeof(io->win);

    /* 0 once all of stdin was delivered (cppcheck takes the first call for
     * every call) */
    // cppcheck-suppress knownConditionTrueFalse
    if (n == 0) {
        s->isClosed = 1;
        return;
    }
    memcpy(io->win, io->data + io->pos, n);
    io->pos += n;
    s->rdNext = io->win;
    s->stop = io->win + n;
}

static void empty(FCGX_Stream *s, int doClose)
{
    io_t *io = s->data;
    size_t n = (size_t)(s->wrNext - io->obuf);
    char *grown = realloc(io->out, io->outlen + n + 1);

    if (grown == NULL)
        abort();
    io->out = grown;
    memcpy(io->out + io->outlen, io->obuf, n);
    io->outlen += n;
    io->out[io->outlen] = '\0';
    s->wrNext = io->obuf;
}

typedef struct {
    sy_settings_t settings;
    sy_ctx_t ctx;
    io_t io;
    int status;
    char *head; /* response header block, "\r\n" separated */
    char *body;
    json_object *log; /* the summary line */
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));

    sy_test_settings(&f->settings);
    f->settings.max_request_body_bytes = 100;
    f->settings.logging_renderer = "json";
    f->settings.log_level = "info";
    sy_test_ctx(&f->ctx, &f->settings);
    sy_log_init(&f->settings);
    *state = f;
    return 0;
}

static void clear(fx_t *f)
{
    free(f->io.out);
    free(f->head);
    json_object_put(f->log);
    memset(&f->io, 0, sizeof(f->io));
    f->head = NULL;
    f->body = NULL;
    f->log = NULL;
}

static int teardown(void **state)
{
    fx_t *f = *state;

    clear(f);
    sy_pool_free(f->ctx.pool);
    free(f);
    return 0;
}

/* Serves one request: env is a NULL-terminated "NAME=value" list. */
static void serve(fx_t *f, const char *const *env, const char *in, size_t inlen)
{
    FCGX_Stream sin = {0}, sout = {0};
    FCGX_Request fr = {0};
    FILE *cap = tmpfile();
    int saved = dup(STDERR_FILENO);
    char *sep, logline[20000];
    size_t n;

    clear(f);
    f->io.data = in;
    f->io.len = inlen;
    sin.isReader = 1;
    sin.rdNext = sin.stop = sin.stopUnget = f->io.win;
    sin.fillBuffProc = fill;
    sin.data = &f->io;
    sout.wrNext = f->io.obuf;
    sout.stop = f->io.obuf + sizeof(f->io.obuf);
    sout.emptyBuffProc = empty;
    sout.data = &f->io;
    fr.in = &sin;
    fr.out = &sout;
    fr.envp = (char **)env;

    assert_non_null(cap);
    assert_true(dup2(fileno(cap), STDERR_FILENO) >= 0);
    sy_fcgi_handle(&fr, &f->ctx);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(cap);
    n = fread(logline, 1, sizeof(logline) - 1, cap);
    fclose(cap);
    logline[n] = '\0';
    f->log = sy_test_json(logline);

    /* Everything was flushed, and the pool was reset for the next one. */
    assert_ptr_equal(sout.wrNext, f->io.obuf);
    assert_int_equal(sy_pool_used(f->ctx.pool), 0);
    assert_non_null(f->io.out);
    assert_int_equal(sscanf(f->io.out, "Status: %d ", &f->status), 1);
    sep = strstr(f->io.out, "\r\n\r\n");
    assert_non_null(sep);
    f->head = strndup(f->io.out, (size_t)(sep - f->io.out) + 2);
    f->body = sep + 4;
}

/* Value of a response header ("" terminated copy in buf), NULL if absent. */
static const char *header(fx_t *f, const char *name, char *buf, size_t buflen)
{
    size_t nlen = strlen(name);

    for (const char *p = strstr(f->head, "\r\n") + 2; *p != '\0';) {
        const char *eol = strstr(p, "\r\n");
        if ((size_t)(eol - p) > nlen + 2 && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':' &&
            p[nlen + 1] == ' ') {
            snprintf(buf, buflen, "%.*s", (int)(eol - p - nlen - 2), p + nlen + 2);
            return buf;
        }
        p = eol + 2;
    }
    return NULL;
}

static json_object *body_json(fx_t *f)
{
    return sy_test_json(f->body);
}

static const char *log_field(fx_t *f, const char *key)
{
    return sy_test_string(sy_test_member(f->log, "Fields"), key);
}

static void test_get_hello(void **state)
{
    static const struct {
        const char *env[8];
        const char *url;
    } cases[] = {
        {{"REQUEST_METHOD=GET", "REQUEST_URI=/v1/", "QUERY_STRING=", "HTTP_HOST=sync.example:8000",
          NULL},
         "http://sync.example:8000/v1/"},
        {{"REQUEST_METHOD=GET", "REQUEST_URI=/v1/", "HTTP_HOST=inner:9000",
          "HTTP_X_FORWARDED_PROTO=https, http", "HTTP_X_FORWARDED_HOST=public.example, inner",
          NULL},
         "https://public.example/v1/"},
        {{"REQUEST_METHOD=GET", "REQUEST_URI=/v1/", "HTTPS=on", "HTTP_HOST=h", NULL},
         "https://h/v1/"},
        {{"REQUEST_METHOD=GET", "REQUEST_URI=/v1/", "REQUEST_SCHEME=https", "HTTP_HOST=h", NULL},
         "https://h/v1/"},
        {{"REQUEST_METHOD=GET", "REQUEST_URI=/v1/", "HTTP_HOST=bad\"host",
          "SERVER_NAME=srv.example", "SERVER_PORT=8080", NULL},
         "http://srv.example:8080/v1/"},
        {{"REQUEST_METHOD=GET", "REQUEST_URI=http://abs.example/v1/?x=1", "HTTP_HOST=abs.example",
          NULL},
         "http://abs.example/v1/"},
        {{"REQUEST_METHOD=GET", "SCRIPT_NAME=/v1", "PATH_INFO=/", NULL}, "http://localhost/v1/"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_t *f = *state;
        json_object *o;
        char buf[256];

        serve(f, cases[i].env, "", 0);
        assert_int_equal(f->status, 200);
        assert_true(strncmp(f->io.out, "Status: 200 OK\r\n", 16) == 0);
        o = body_json(f);
        assert_string_equal(sy_test_string(o, "url"), cases[i].url);
        json_object_put(o);
        snprintf(buf, sizeof(buf), "%zu", strlen(f->body));
        assert_string_equal(header(f, "Content-Length", buf + 100, 100), buf);
        assert_string_equal(header(f, "Content-Type", buf, sizeof(buf)),
                            "application/json; charset=UTF-8");
        assert_string_equal(log_field(f, "path"), "/v1/");
        assert_int_equal(
            json_object_get_int(sy_test_member(sy_test_member(f->log, "Fields"), "code")), 200);
    }
}

static void test_head_and_redirect(void **state)
{
    fx_t *f = *state;
    char buf[256];
    const char *head_env[] = {"REQUEST_METHOD=HEAD", "REQUEST_URI=/v1/", NULL};
    const char *redir_env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/buckets/b?_since=1",
                               "QUERY_STRING=_since=1", NULL};

    serve(f, head_env, "", 0);
    assert_int_equal(f->status, 200);
    assert_string_equal(f->body, "");
    assert_non_null(header(f, "Content-Length", buf, sizeof(buf)));
    assert_true(strtol(buf, NULL, 10) > 50);

    serve(f, redir_env, "", 0);
    assert_int_equal(f->status, 307);
    assert_string_equal(header(f, "Location", buf, sizeof(buf)), "/v1/buckets/b?_since=1");
    assert_string_equal(f->body, "");
    /* The summary line has the path, never the query. */
    assert_string_equal(log_field(f, "path"), "/buckets/b");
    assert_null(strstr(json_object_to_json_string(f->log), "_since"));
}

static void test_request_errors(void **state)
{
    static const struct {
        const char *env[6];
        const char *in;
        int status, errno_;
    } cases[] = {
        {{"REQUEST_METHOD=GET", "REQUEST_URI=/v1/records/%zz", NULL}, "", 400, 107},
        {{"REQUEST_METHOD=GET", "REQUEST_URI=/v1/records/a%00b", NULL}, "", 400, 107},
        {{"REQUEST_METHOD=GET", "REQUEST_URI=/v1/records/..", NULL}, "", 400, 107},
        {{"REQUEST_METHOD=GET", "REQUEST_URI=/v1/?a=%zz", "QUERY_STRING=a=%zz", NULL},
         "",
         400,
         107},
        {{"REQUEST_METHOD=PUT", "REQUEST_URI=/v1/", "CONTENT_LENGTH=101", NULL}, "", 413, 113},
        {{"REQUEST_METHOD=PUT", "REQUEST_URI=/v1/", "CONTENT_LENGTH=12x", NULL}, "", 400, 107},
        {{"REQUEST_METHOD=PUT", "REQUEST_URI=/v1/", "CONTENT_LENGTH=-1", NULL}, "", 400, 107},
        {{"REQUEST_METHOD=PUT", "REQUEST_URI=/v1/", "CONTENT_LENGTH=50", NULL}, "short", 400, 107},
        /* No length: read to the end, within the cap. */
        {{"REQUEST_METHOD=PUT", "REQUEST_URI=/v1/", NULL},
         "0123456789012345678901234567890123456789012345678901234567890123456789012345678901"
         "234567890123456789X",
         413,
         113},
        {{"REQUEST_METHOD=PUT", "REQUEST_URI=/v1/", NULL}, "{\"a\":1}", 405, 115},
        {{"REQUEST_METHOD=PUT", "REQUEST_URI=/v1/", "CONTENT_LENGTH=100", NULL},
         "0123456789012345678901234567890123456789012345678901234567890123456789012345678901"
         "234567890123456789",
         405,
         115},
        {{"REQUEST_METHOD=PUT", "REQUEST_URI=/v1/", "CONTENT_LENGTH=", "CONTENT_TYPE=", NULL},
         "",
         405,
         115},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_t *f = *state;
        json_object *o;
        char buf[64];

        serve(f, cases[i].env, cases[i].in, strlen(cases[i].in));
        assert_int_equal(f->status, cases[i].status);
        o = body_json(f);
        assert_int_equal(json_object_get_int(sy_test_member(o, "errno")), cases[i].errno_);
        assert_int_equal(json_object_get_int(sy_test_member(o, "code")), cases[i].status);
        json_object_put(o);
        assert_string_equal(header(f, "Content-Type", buf, sizeof(buf)),
                            "application/json; charset=UTF-8");
        assert_int_equal(
            json_object_get_int(sy_test_member(sy_test_member(f->log, "Fields"), "code")),
            cases[i].status);
    }
}

static void test_unsized_body_cap(void **state)
{
    static const struct {
        size_t len;
        int status;
    } cases[] = {{0, 405},    {4095, 405},  {4096, 405},  {4097, 405},
                 {9999, 405}, {10000, 405}, {10001, 413}, {30000, 413}};
    fx_t *f = *state;
    const char *env[] = {"REQUEST_METHOD=PUT", "REQUEST_URI=/v1/", NULL};
    char *in = malloc(30000);

    memset(in, 'b', 30000);
    f->settings.max_request_body_bytes = 10000;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        serve(f, env, in, cases[i].len);
        assert_int_equal(f->status, cases[i].status);
    }
    free(in);
}

static void test_request_id(void **state)
{
    static const struct {
        const char *env[4];
        const char *rid; /* NULL: a generated one */
    } cases[] = {
        {{"REQUEST_METHOD=GET", "REQUEST_URI=/v1/__lbheartbeat__", "HTTP_X_REQUEST_ID=abc-DEF-123",
          NULL},
         "abc-DEF-123"},
        {{"REQUEST_METHOD=GET", "REQUEST_URI=/v1/__lbheartbeat__",
          "REQUEST_ID=0123456789abcdef0123456789abcdef", NULL},
         "0123456789abcdef0123456789abcdef"},
        {{"REQUEST_METHOD=GET", "REQUEST_URI=/v1/__lbheartbeat__", "HTTP_X_REQUEST_ID=bad id\"",
          NULL},
         NULL},
        {{"REQUEST_METHOD=GET", "REQUEST_URI=/v1/__lbheartbeat__", NULL}, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_t *f = *state;
        const char *rid;

        serve(f, cases[i].env, "", 0);
        assert_int_equal(f->status, 200);
        assert_string_equal(f->body, "{}");
        rid = log_field(f, "rid");
        if (cases[i].rid != NULL) {
            assert_string_equal(rid, cases[i].rid);
        } else {
            assert_int_equal(strlen(rid), 16);
            assert_int_equal(strspn(rid, "0123456789abcdef"), 16);
        }
    }
}

static void test_headers_and_cors(void **state)
{
    fx_t *f = *state;
    char buf[512];
    const char *env[] = {"REQUEST_METHOD=OPTIONS",
                         "REQUEST_URI=/v1/buckets/b/collections/c/records",
                         "HTTP_ORIGIN=https://app.example",
                         "HTTP_ACCESS_CONTROL_REQUEST_METHOD=GET",
                         "HTTP_ACCESS_CONTROL_REQUEST_HEADERS=authorization,if-none-match",
                         NULL};
    const char *bad_origin[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/v1/__lbheartbeat__",
                                "HTTP_ORIGIN=https://a.example\r\nSet-Cookie: x=1", NULL};

    serve(f, env, "", 0);
    assert_int_equal(f->status, 200);
    assert_string_equal(f->body, "");
    assert_string_equal(header(f, "Access-Control-Allow-Origin", buf, sizeof(buf)),
                        "https://app.example");
    assert_string_equal(header(f, "Access-Control-Allow-Headers", buf, sizeof(buf)),
                        "authorization,if-none-match");
    assert_string_equal(header(f, "Access-Control-Allow-Methods", buf, sizeof(buf)),
                        "GET,HEAD,PUT,DELETE,POST,OPTIONS");
    assert_string_equal(header(f, "Content-Length", buf, sizeof(buf)), "0");

    /* A header value that would split the response is not written. */
    serve(f, bad_origin, "", 0);
    assert_int_equal(f->status, 200);
    assert_null(header(f, "Access-Control-Allow-Origin", buf, sizeof(buf)));
    assert_null(strstr(f->head, "Set-Cookie"));
    assert_string_equal(header(f, "Cache-Control", buf, sizeof(buf)), "no-cache");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_hello, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_and_redirect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsized_body_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers_and_cors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
