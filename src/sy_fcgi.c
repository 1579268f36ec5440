/* FastCGI front: from the params nginx passes to a sy_request_t, and from a
 * sy_response_t back to the FastCGI stream.
 *
 * The request line comes from REQUEST_METHOD, REQUEST_URI (raw, still
 * percent-encoded) and QUERY_STRING; headers from the HTTP_* params plus
 * CONTENT_TYPE / CONTENT_LENGTH. The public scheme and host, used for every
 * absolute URL the server writes, come from X-Forwarded-Proto/-Host when a
 * proxy sets them, else from the FastCGI params. */
#include "syncto/sy_fcgi.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "syncto/sy_backoff.h"
#include "syncto/sy_log.h"
#include "syncto/sy_router.h"
#include "syncto/sy_sentry.h"
#include "syncto/sy_statsd.h"

#define DEFAULT_BODY_MAX (1L << 20)
#define READ_CHUNK 65536
#define HEADER_LINE_MAX 8192
#define HOST_MAX 255
#define REQUEST_ID_MAX 64

static const char *param(FCGX_Request *fr, const char *name)
{
    return FCGX_GetParam(name, fr->envp);
}

static const char *nonempty(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

/* "HTTP_IF_NONE_MATCH" -> "if-none-match" */
static char *header_name(sy_pool_t *pool, const char *s, size_t n)
{
    char *out = sy_palloc(pool, n + 1);

    for (size_t i = 0; i < n; i++)
        out[i] = (char)(s[i] == '_' ? '-' : tolower((unsigned char)s[i]));
    out[n] = '\0';
    return out;
}

static void collect_headers(FCGX_Request *fr, sy_request_t *req)
{
    for (char **e = fr->envp; e != NULL && *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        const char *name;
        size_t n;

        if (eq == NULL)
            continue;
        n = (size_t)(eq - *e);
        if (n > 5 && strncmp(*e, "HTTP_", 5) == 0)
            name = header_name(req->pool, *e + 5, n - 5);
        else if ((n == 12 && strncmp(*e, "CONTENT_TYPE", 12) == 0) ||
                 (n == 14 && strncmp(*e, "CONTENT_LENGTH", 14) == 0))
            name = header_name(req->pool, *e, n);
        else
            continue;
        if (eq[1] == '\0' && name[0] == 'c' && strncmp(name, "content-", 8) == 0)
            continue; /* nginx passes CONTENT_* empty when absent */
        sy_kv_add(req->pool, &req->headers, name, sy_pstrdup(req->pool, eq + 1));
    }
}

static bool request_id_ok(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        if (n >= REQUEST_ID_MAX || !(isalnum((unsigned char)s[n]) || s[n] == '-'))
            return false;
    }
    return n > 0;
}

static const char *request_id(FCGX_Request *fr, sy_request_t *req)
{
    const char *given = nonempty(param(fr, "REQUEST_ID"));
    unsigned char rnd[8];
    char hex[sizeof(rnd) * 2 + 1];

    if (given == NULL)
        given = nonempty(param(fr, "HTTP_X_REQUEST_ID"));
    if (given != NULL && request_id_ok(given))
        return sy_pstrdup(req->pool, given);
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
    return sy_pstrdup(req->pool, hex);
}

/* First element of a comma-separated list (proxies append to X-Forwarded-*),
 * trimmed. */
static char *first_item(sy_pool_t *pool, const char *s)
{
    size_t n;

    while (*s == ' ' || *s == '\t')
        s++;
    n = strcspn(s, ",");
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return sy_pstrndup(pool, s, n);
}

/* A host[:port] as it may appear in a URL we write: name, IPv4 or [IPv6]. */
static bool host_ok(const char *h)
{
    size_t n = strlen(h);

    if (n == 0 || n > HOST_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!(isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_'))
            return false;
    }
    return true;
}

static const char *public_scheme(FCGX_Request *fr, sy_request_t *req)
{
    const char *v = nonempty(param(fr, "HTTP_X_FORWARDED_PROTO"));

    if (v != NULL) {
        char *p = first_item(req->pool, v);
        if (strcasecmp(p, "https") == 0)
            return "https";
        if (strcasecmp(p, "http") == 0)
            return "http";
    }
    v = nonempty(param(fr, "REQUEST_SCHEME"));
    if (v != NULL && (strcasecmp(v, "https") == 0 || strcasecmp(v, "http") == 0))
        return strcasecmp(v, "https") == 0 ? "https" : "http";
    v = nonempty(param(fr, "HTTPS"));
    if (v != NULL && (strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0))
        return "https";
    return "http";
}

static const char *public_host(FCGX_Request *fr, sy_request_t *req)
{
    const char *v = nonempty(param(fr, "HTTP_X_FORWARDED_HOST"));
    const char *name, *port;
    char *h;

    if (v != NULL) {
        h = first_item(req->pool, v);
        if (host_ok(h))
            return h;
    }
    v = nonempty(param(fr, "HTTP_HOST"));
    if (v != NULL && host_ok(v))
        return sy_pstrdup(req->pool, v);
    name = nonempty(param(fr, "SERVER_NAME"));
    port = nonempty(param(fr, "SERVER_PORT"));
    if (name == NULL)
        return "localhost";
    if (port != NULL && strcmp(port, "80") != 0 && strcmp(port, "443") != 0)
        h = sy_psprintf(req->pool, "%s:%s", name, port);
    else
        h = sy_pstrdup(req->pool, name);
    return host_ok(h) ? h : "localhost";
}

/* Raw path of the request, without the query: REQUEST_URI (origin-form, or
 * absolute-form reduced to its path), else SCRIPT_NAME + PATH_INFO. */
static const char *raw_path(FCGX_Request *fr, sy_request_t *req, const char **query)
{
    const char *uri = nonempty(param(fr, "REQUEST_URI"));
    const char *q;

    *query = NULL;
    if (uri != NULL) {
        if (uri[0] != '/') {
            const char *p = strstr(uri, "://");
            if (p == NULL)
                return uri; /* rejected by sy_request_set_path */
            p = strchr(p + 3, '/');
            uri = p != NULL ? p : "/";
        }
        q = strchr(uri, '?');
        if (q == NULL)
            return uri;
        *query = q + 1;
        return sy_pstrndup(req->pool, uri, (size_t)(q - uri));
    }
    return sy_psprintf(req->pool, "%s%s", param(fr, "SCRIPT_NAME") ? param(fr, "SCRIPT_NAME") : "",
                       param(fr, "PATH_INFO") ? param(fr, "PATH_INFO") : "");
}

/* Reads up to n bytes; returns how many arrived before end of input. */
static size_t read_exact(FCGX_Stream *in, char *dst, size_t n)
{
    size_t got = 0;

    while (got < n) {
        size_t want = n - got < READ_CHUNK ? n - got : READ_CHUNK;
        int r = FCGX_GetStr(dst + got, (int)want, in);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

typedef enum { BODY_OK, BODY_TOO_LARGE, BODY_BAD_LENGTH, BODY_SHORT } body_rc_t;

static body_rc_t read_body(FCGX_Request *fr, sy_request_t *req, long max)
{
    const char *cl = nonempty(param(fr, "CONTENT_LENGTH"));
    char *end, *buf;
    long long len;

    if (cl != NULL) {
        errno = 0;
        len = strtoll(cl, &end, 10);
        if (errno != 0 || *end != '\0' || len < 0 || !isdigit((unsigned char)cl[0]))
            return BODY_BAD_LENGTH;
        if (len > max)
            return BODY_TOO_LARGE;
        if (len == 0)
            return BODY_OK;
        buf = sy_palloc(req->pool, (size_t)len + 1);
        if (read_exact(fr->in, buf, (size_t)len) != (size_t)len)
            return BODY_SHORT;
        buf[len] = '\0';
        req->body = buf;
        req->body_len = (size_t)len;
        return BODY_OK;
    }
    /* No length given: read to the end, one byte past the cap at most. */
    {
        size_t cap = 4096, got = 0;
        buf = sy_palloc(req->pool, cap + 1);
        for (;;) {
            size_t r = read_exact(fr->in, buf + got, cap - got);
            got += r;
            if (got > (size_t)max)
                return BODY_TOO_LARGE;
            if (got < cap)
                break;
            {
                size_t ncap = cap * 2 > (size_t)max + 1 ? (size_t)max + 1 : cap * 2;
                char *nb;
                if (ncap <= cap)
                    ncap = cap + 1;
                nb = sy_palloc(req->pool, ncap + 1);
                memcpy(nb, buf, got);
                buf = nb;
                cap = ncap;
            }
        }
        if (got > 0) {
            buf[got] = '\0';
            req->body = buf;
            req->body_len = got;
        }
    }
    return BODY_OK;
}

/* Header names are tokens and values carry no line break: anything else
 * would let a reflected value (an Origin, a path) split the response. */
static bool header_ok(const char *name, const char *value)
{
    size_t n = 0;

    if (name == NULL || value == NULL || name[0] == '\0')
        return false;
    for (const char *p = name; *p != '\0'; p++, n++) {
        unsigned char c = (unsigned char)*p;
        if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL))
            return false;
    }
    for (const char *p = value; *p != '\0'; p++, n++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return n <= HEADER_LINE_MAX;
}

static bool body_allowed(const sy_request_t *req, const sy_response_t *resp)
{
    return resp->has_body && req->method != SY_M_HEAD && resp->status >= 200 &&
           resp->status != 204 && resp->status != 304;
}

static void write_response(FCGX_Request *fr, sy_request_t *req, sy_response_t *resp)
{
    const char *reason = sy_http_reason(resp->status);
    size_t i, len = 0, cap;
    char *head, status[16];
    int n;

    /* The head is written into one pool buffer sized beforehand: no
     * formatting pass per header, no heap buffer. */
    n = snprintf(status, sizeof(status), "%d ", resp->status);
    cap = 8 + (size_t)n + strlen(reason) + 2 + 2;
    for (i = 0; i < resp->headers.n; i++)
        cap += strlen(resp->headers.items[i].name) + strlen(resp->headers.items[i].value) + 4;
    head = sy_palloc(req->pool, cap + 1);
#define HEAD_PUT(s, l)                                                                             \
    do {                                                                                           \
        memcpy(head + len, (s), (l));                                                              \
        len += (l);                                                                                \
    } while (0)
    HEAD_PUT("Status: ", 8);
    HEAD_PUT(status, (size_t)n);
    HEAD_PUT(reason, strlen(reason));
    HEAD_PUT("\r\n", 2);
    for (i = 0; i < resp->headers.n; i++) {
        const sy_kv_t *h = &resp->headers.items[i];
        if (!header_ok(h->name, h->value)) {
            sy_log_warn(req->request_id, "dropped response header with unsafe characters");
            continue;
        }
        HEAD_PUT(h->name, strlen(h->name));
        HEAD_PUT(": ", 2);
        HEAD_PUT(h->value, strlen(h->value));
        HEAD_PUT("\r\n", 2);
    }
    HEAD_PUT("\r\n", 2);
#undef HEAD_PUT
    if (FCGX_PutStr(head, (int)len, fr->out) < 0)
        goto done;
    if (body_allowed(req, resp)) {
        for (size_t off = 0; off < resp->body.len;) {
            size_t k = resp->body.len - off < READ_CHUNK ? resp->body.len - off : READ_CHUNK;
            if (FCGX_PutStr(resp->body.data + off, (int)k, fr->out) < 0)
                goto done;
            off += k;
        }
    }
    FCGX_FFlush(fr->out);
done:
    if (FCGX_GetError(fr->out) != 0)
        sy_log_info(req->request_id, "client went away before the response was written");
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Busy threads of this worker, this request included (0 without a worker,
 * as in unit tests). */
static int busy_threads(const sy_ctx_t *ctx, int *nthreads)
{
    const sy_settings_t *s = ctx->settings;
    int n = s != NULL && s->threads > 0 ? s->threads : 1;

    *nthreads = n;
    if (ctx->load == NULL)
        return 0;
    return (int)(sy_ctx_busy_ratio(ctx) * n + 0.5);
}

/* The request's metrics, in one datagram when they fit:
 * request.<route>.<method>.<status>, request.<route>.<method>,
 * pool.busy_threads, pool.saturated (see sy_statsd.h). Never blocks. */
static void send_metrics(const sy_request_t *req, const sy_response_t *resp, double ms, int busy,
                         int nthreads)
{
    sy_statsd_batch_t b;
    char name[128], method[16];
    const char *route = req->route_name != NULL ? req->route_name : "unknown";
    const char *m = sy_method_name(req->method); /* bounded set: "other" for the rest */
    size_t i;

    if (!sy_statsd_enabled())
        return;
    for (i = 0; i < sizeof(method) - 1 && m[i] != '\0'; i++)
        method[i] = (char)tolower((unsigned char)m[i]);
    method[i] = '\0';
    sy_statsd_batch_init(&b);
    snprintf(name, sizeof(name), "request.%s.%s.%d", route, method, resp->status);
    sy_statsd_batch_incr(&b, name);
    snprintf(name, sizeof(name), "request.%s.%s", route, method);
    sy_statsd_batch_timing(&b, name, ms);
    if (busy > 0) {
        sy_statsd_batch_gauge(&b, "pool.busy_threads", busy);
        if (busy >= nthreads)
            sy_statsd_batch_incr(&b, "pool.saturated");
    }
    sy_statsd_batch_flush(&b);
}

/* The errno of a Kinto error body, 0 when resp has none. */
static long errno_of(const sy_response_t *resp)
{
    json_object *v;

    if (resp->json == NULL || !json_object_object_get_ex(resp->json, "errno", &v) ||
        !json_object_is_type(v, json_type_int))
        return 0;
    return (long)json_object_get_int64(v);
}

/* One Sentry event for a request that failed on our side (a 5xx built by
 * syncto) or because an upstream failed (a 503, possibly inside a batch).
 * Only server-written text goes in: the failure kind, statuses, the Kinto
 * errno and message of our own error body. */
static void report_error(const sy_request_t *req, const sy_response_t *resp)
{
    const char *route = req->route_name != NULL ? req->route_name : "unknown";
    char msg[512];
    json_object *v;

    if (!sy_sentry_enabled())
        return;
    if (req->upstream_failure != NULL) {
        sy_sentry_tag_t tags[] = {
            {"kind", "upstream"},
            {"status", sy_psprintf(req->pool, "%d", resp->status)},
        };
        snprintf(msg, sizeof(msg), "upstream failure on %s %s: %s", sy_method_name(req->method),
                 route, req->upstream_failure);
        sy_sentry_capture("error", msg, req->request_id, route, tags, 2);
        return;
    }
    /* A failing heartbeat is for the monitoring that asked, not an error. */
    if (resp->status < 500 || strcmp(route, "heartbeat") == 0)
        return;
    {
        sy_sentry_tag_t tags[] = {
            {"kind", "internal"},
            {"status", sy_psprintf(req->pool, "%d", resp->status)},
        };
        const char *text = NULL;
        long err = errno_of(resp);

        if (resp->json != NULL && json_object_object_get_ex(resp->json, "message", &v))
            text = json_object_get_string(v);
        snprintf(msg, sizeof(msg), "internal error on %s %s: %d errno %ld%s%s",
                 sy_method_name(req->method), route, resp->status, err, text != NULL ? ": " : "",
                 text != NULL ? text : "");
        sy_sentry_capture("error", msg, req->request_id, route, tags, 2);
    }
}

void sy_fcgi_handle(FCGX_Request *fr, sy_ctx_t *ctx)
{
    const sy_settings_t *s = ctx->settings;
    long body_max =
        s != NULL && s->max_request_body_bytes > 0 ? s->max_request_body_bytes : DEFAULT_BODY_MAX;
    struct timespec t0;
    sy_request_t *req;
    sy_response_t resp;
    const char *path, *query, *m;
    int busy, nthreads;
    double ms;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    busy = busy_threads(ctx, &nthreads);
    req = sy_pcalloc(ctx->pool, sizeof(*req));
    req->pool = ctx->pool;
    req->ctx = ctx;
    ctx->request = req;
    sy_resp_init(req, &resp);

    m = nonempty(param(fr, "REQUEST_METHOD"));
    req->method_str = sy_pstrdup(req->pool, m != NULL ? m : "GET");
    req->method = sy_method_parse(req->method_str);
    collect_headers(fr, req);
    req->request_id = request_id(fr, req);
    req->scheme = public_scheme(fr, req);
    req->host = public_host(fr, req);
    req->remote_addr = sy_pstrdup(req->pool, param(fr, "REMOTE_ADDR"));

    path = raw_path(fr, req, &query);
    if (param(fr, "QUERY_STRING") != NULL)
        query = param(fr, "QUERY_STRING");
    if (!sy_request_set_path(req, path)) {
        if (req->path == NULL)
            req->path = sy_pstrdup(req->pool, path);
        req->query_string = "";
        sy_resp_invalid_param(req, &resp, "path", NULL, "Invalid URL path.");
        goto finish;
    }
    if (!sy_request_set_query(req, query)) {
        sy_resp_invalid_param(req, &resp, "querystring", NULL, "Invalid percent-encoding.");
        goto finish;
    }
    switch (read_body(fr, req, body_max)) {
    case BODY_OK:
        break;
    case BODY_TOO_LARGE:
        sy_resp_error(req, &resp, 413, SY_ERRNO_REQUEST_TOO_LARGE, "Request body too large", NULL);
        goto finish;
    case BODY_BAD_LENGTH:
        sy_resp_invalid_param(req, &resp, "headers", "Content-Length", "Invalid Content-Length");
        goto finish;
    case BODY_SHORT:
        sy_resp_invalid_param(req, &resp, "body", NULL, "Incomplete request body.");
        goto finish;
    }
    sy_router_dispatch(req, &resp);
    /* A back-off the tokenserver asked for applies to every client. */
    sy_backoff_apply(req, &resp);

finish:
    sy_resp_finish(req, &resp);
    write_response(fr, req, &resp);
    ms = elapsed_ms(&t0);
    sy_log_request(req, resp.status, resp.status >= 400 ? errno_of(&resp) : 0, ms);
    send_metrics(req, &resp, ms, busy, nthreads);
    report_error(req, &resp);
    ctx->request = NULL;
    sy_pool_reset(ctx->pool);
}
