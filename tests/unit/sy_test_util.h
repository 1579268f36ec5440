/* Fixtures the unit tests share: the settings the request path reads, a
 * worker thread's context around them, a request as the FastCGI front
 * starts it, and JSON checks. Header-only (each test is an executable of its
 * own); include it after <cmocka.h>. */
#ifndef SY_TEST_UTIL_H
#define SY_TEST_UTIL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "syncto/sy_ctx.h"
#include "syncto/sy_request.h"
#include "syncto/sy_response.h"

/* The settings the request path reads, at their built-in defaults (CORS
 * for every origin, no public URL override, no end of service). A test
 * sets what it needs on top. */
static inline void sy_test_settings(sy_settings_t *s)
{
    s->cors_origins = "*";
    s->cors_max_age_seconds = 3600;
    s->retry_after_seconds = 30;
    s->batch_max_requests = 25;
    s->http_scheme = "";
    s->http_host = "";
    s->eos = "";
}

/* A thread context reading s, with a fresh pool that the test frees
 * (sy_pool_free(ctx->pool)). */
static inline void sy_test_ctx(sy_ctx_t *ctx, const sy_settings_t *s)
{
    ctx->settings = s;
    ctx->pool = sy_pool_new(0);
}

/* An empty request of ctx with the given method, as the FastCGI front
 * starts one (path, query and headers still to set). */
static inline void sy_test_request(sy_request_t *req, sy_ctx_t *ctx, const char *method)
{
    memset(req, 0, sizeof(*req));
    req->pool = ctx->pool;
    req->ctx = ctx;
    req->request_id = "test";
    req->method_str = method;
    req->method = sy_method_parse(method);
}

/* The fixture of the request-path tests: settings, a thread context
 * reading them, one request and its response. */
typedef struct {
    sy_settings_t settings;
    sy_ctx_t ctx;
    sy_request_t req;
    sy_response_t resp;
} sy_test_fx_t;

/* A zeroed fixture with sy_test_settings() and a context with its pool;
 * sy_test_fx_teardown() frees both. */
static inline sy_test_fx_t *sy_test_fx_new(void)
{
    sy_test_fx_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    sy_test_settings(&f->settings);
    sy_test_ctx(&f->ctx, &f->settings);
    return f;
}

/* cmocka teardown of a sy_test_fx_new() fixture. */
static inline int sy_test_fx_teardown(void **state)
{
    sy_test_fx_t *f = *state;

    sy_pool_free(f->ctx.pool);
    free(f);
    return 0;
}

/* stderr, where log lines go, redirected to a temporary file while a test
 * logs: sy_test_capture_start(), the code under test, then
 * sy_test_capture_end(). */
typedef struct {
    FILE *file;
    int saved_stderr;
} sy_test_capture_t;

static inline void sy_test_capture_start(sy_test_capture_t *c)
{
    c->file = tmpfile();
    assert_non_null(c->file);
    fflush(stderr);
    c->saved_stderr = dup(STDERR_FILENO);
    assert_true(c->saved_stderr >= 0);
    assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

/* Restores stderr; returns what was written meanwhile (malloc'ed,
 * NUL-terminated; the caller frees it). */
static inline char *sy_test_capture_end(sy_test_capture_t *c)
{
    long n;
    char *text;

    assert_true(dup2(c->saved_stderr, STDERR_FILENO) >= 0);
    close(c->saved_stderr);
    n = ftell(c->file);
    assert_true(n >= 0);
    text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    rewind(c->file);
    assert_int_equal(fread(text, 1, (size_t)n, c->file), (size_t)n);
    fclose(c->file);
    return text;
}

/* The first line of text that contains every one of the NULL-terminated
 * needles, as a malloc'ed string the caller frees; NULL when none does. */
static inline char *sy_test_line_with(const char *text, const char *const *needles)
{
    const char *line = text;

    while (*line != '\0') {
        size_t len = strcspn(line, "\n");
        char *copy = strndup(line, len);
        bool all = true;

        assert_non_null(copy);
        for (size_t i = 0; needles[i] != NULL && all; i++)
            all = strstr(copy, needles[i]) != NULL;
        if (all)
            return copy;
        free(copy);
        line += len;
        if (*line == '\n')
            line++;
    }
    return NULL;
}

/* text parsed as JSON; fails the test when it is not. The caller puts it. */
static inline json_object *sy_test_json(const char *text)
{
    json_object *o;

    assert_non_null(text);
    o = json_tokener_parse(text);
    assert_non_null(o);
    return o;
}

/* Member key of o; fails the test when o has none. */
static inline json_object *sy_test_member(json_object *o, const char *key)
{
    json_object *v = NULL;

    assert_true(json_object_object_get_ex(o, key, &v));
    return v;
}

/* json_object_get_string() of member key of o; fails when o has none. */
static inline const char *sy_test_string(json_object *o, const char *key)
{
    return json_object_get_string(sy_test_member(o, key));
}

#endif
