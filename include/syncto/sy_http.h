#ifndef SY_HTTP_H
#define SY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "syncto/sy_kv.h"
#include "syncto/sy_pool.h"
#include "syncto/sy_rc.h"
#include "syncto/sy_settings.h"

/* Outgoing HTTP for the tokenserver and Sync, over libcurl. One sy_http_t per
 * worker thread (never shared between threads): a curl multi handle and a
 * small set of easy handles that keep their connections, DNS answers and TLS
 * sessions between requests. TLS peers are always verified; redirects are
 * never followed; only http and https are allowed. */
typedef struct sy_http sy_http_t;

/* At most this many requests run at once in sy_http_perform_many(). */
#define SY_HTTP_MAX_CONCURRENCY 32

typedef struct {
    const char *method;         /* "GET", "PUT", "POST", "DELETE" */
    const char *url;            /* absolute http(s) URL, already encoded */
    const sy_kvlist_t *headers; /* extra request headers, may be NULL */
    const char *body;           /* may be NULL when body_len is 0 */
    size_t body_len;
    long connect_timeout_ms;   /* > 0 */
    long timeout_ms;           /* whole exchange, > 0 */
    size_t max_response_bytes; /* 0 = settings max_upstream_response_bytes */
    bool no_secret;            /* the answer holds no secret (a Sync storage
                                * answer, not a tokenserver one): its buffer
                                * is sized from Content-Length and is not
                                * wiped (sy_buf_no_secret) */
} sy_http_req_t;

typedef struct {
    sy_rc_t rc;          /* SY_OK when a response arrived (any status);
                          * SY_ERR_UNREACHABLE: connect error, timeout, reset;
                          * SY_ERR_TOO_LARGE: body or headers over the cap;
                          * SY_ERR_INVALID: bad request (URL, method) */
    int status;          /* HTTP status, 0 when rc != SY_OK */
    sy_kvlist_t headers; /* response headers, names lowercased, pool strings */
    char *body;          /* NUL-terminated, "" when empty; owned by the
                          * pool (the receive buffer itself, not a copy) */
    size_t body_len;
    double total_ms;   /* whole exchange */
    double connect_ms; /* until the TCP connection was up (0 on reuse) */
    const char *error; /* short static reason when rc != SY_OK, for logs */
} sy_http_resp_t;

/* Initialises libcurl once per process (idempotent, thread-safe). Call it in
 * the master before forking or starting threads. */
void sy_http_global_init(void);

/* A new per-thread HTTP context; CA bundle and caps come from s (kept by
 * pointer, must outlive it). Aborts on allocation failure. */
sy_http_t *sy_http_new(const sy_settings_t *s);
/* Closes every connection and frees; NULL-safe. */
void sy_http_free(sy_http_t *h);

/* Runs one request and fills resp (strings in pool). Returns resp->rc. */
sy_rc_t sy_http_perform(sy_http_t *h, sy_pool_t *pool, const sy_http_req_t *req,
                        sy_http_resp_t *resp);
/* Runs n requests at once, at most max_concurrency in flight (capped at
 * SY_HTTP_MAX_CONCURRENCY, 0 = 1), filling resps[i] for reqs[i]. Each entry
 * gets its own rc; the call returns when all have finished. */
void sy_http_perform_many(sy_http_t *h, sy_pool_t *pool, const sy_http_req_t *reqs,
                          sy_http_resp_t *resps, size_t n, int max_concurrency);

/* Pieces of an absolute http(s) URL, all pool strings. */
typedef struct {
    const char *scheme;    /* "http" or "https", lowercased */
    const char *host;      /* lowercased; IPv6 literals keep their brackets */
    int port;              /* explicit, or 80 / 443 by scheme */
    bool default_port;     /* port is the scheme's default */
    const char *authority; /* host, plus ":port" when not the default: the
                            * Host header value */
    const char *path;      /* "" or "/...", without the trailing '/' */
} sy_url_t;

/* Splits url (http or https, no user info, visible ASCII only; a query or a
 * fragment is refused). SY_ERR_INVALID when malformed. */
sy_rc_t sy_http_parse_url(sy_pool_t *pool, const char *url, sy_url_t *out);

struct sy_ctx;
/* ctx->http, created on first use for this thread (the worker frees it with
 * sy_http_free when the thread ends). */
sy_http_t *sy_http_of(struct sy_ctx *ctx);

/* Percent-encodes s for a query string value: everything but A-Z a-z 0-9
 * - . _ ~ becomes %XX with uppercase hex. Returns a pool string. */
char *sy_http_query_escape(sy_pool_t *pool, const char *s);

#endif
