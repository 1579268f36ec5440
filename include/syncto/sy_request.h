#ifndef SY_REQUEST_H
#define SY_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include "syncto/sy_kv.h"
#include "syncto/sy_pool.h"

struct sy_ctx;

typedef enum {
    SY_M_OTHER = 0,
    SY_M_GET,
    SY_M_HEAD,
    SY_M_PUT,
    SY_M_POST,
    SY_M_DELETE,
    SY_M_PATCH,
    SY_M_OPTIONS,
} sy_method_t;

/* One incoming request, from FastCGI or from a batch sub-request. All
 * strings live in `pool`. Header names are stored lowercased; look them up
 * with sy_kv_get (case-insensitive). */
typedef struct sy_request {
    sy_pool_t *pool;
    struct sy_ctx *ctx; /* the worker thread serving it */
    const char *request_id;

    sy_method_t method;
    const char *method_str; /* as received, uppercase */

    const char *path;         /* raw path, still percent-encoded, no query */
    const char *query_string; /* raw, without '?', "" when absent */
    char **segments;          /* percent-decoded path segments */
    size_t nsegments;
    bool trailing_slash; /* path ends with '/' (and is not "/") */
    sy_kvlist_t query;   /* decoded, in order, repeats kept */
    sy_kvlist_t headers; /* lowercased names */

    const char *body; /* NUL-terminated, may be NULL */
    size_t body_len;

    const char *scheme; /* public scheme ("http"/"https") */
    const char *host;   /* public host[:port] */
    const char *remote_addr;

    /* filled by the router: the decoded {placeholders} of the matched route,
     * in order (bucket id, collection name, record id) */
    const char *params[4];
    size_t nparams;
    const char *route; /* route pattern, for logs and metrics */

    bool is_subrequest; /* dispatched from POST /v1/batch */
    void *batch;        /* batch-shared state (credentials...), or NULL */

    /* Short route name for metrics, logs and error reports ("records",
     * "hello", "preflight"...), NULL when no route matched. Set by the
     * router. */
    const char *route_name;

    /* Accounting of a client request, for its summary log line, metrics and
     * error reports. Kept on the client request only: upstream calls made
     * for a batch's sub-requests are added to the batch (see
     * sy_req_note_upstream). */
    double upstream_ms;           /* wall time spent waiting on upstream calls */
    unsigned upstream_calls;      /* tokenserver and Sync HTTP calls made */
    const char *user_hash;        /* hashed user id (never a credential), or NULL */
    const char *upstream_failure; /* first upstream failure answered with a
                                   * 503 ("sync: get_records answered 503"),
                                   * or NULL; server-written text only */
} sy_request_t;

/* Method from its (case-sensitive) name, SY_M_OTHER when unknown; and back
 * ("OTHER" for SY_M_OTHER). */
sy_method_t sy_method_parse(const char *s);
const char *sy_method_name(sy_method_t m);

/* Percent-decodes [s, s+n) into a new pool string; "+" is kept as is unless
 * plus_is_space. Returns NULL on a malformed escape or an embedded NUL. */
char *sy_url_decode(sy_pool_t *pool, const char *s, size_t n, bool plus_is_space);
/* Percent-encodes s into a new pool string: every byte for which keep(c)
 * is false becomes %XX (uppercase hex), the others stay as they are. */
char *sy_url_encode(sy_pool_t *pool, const char *s, bool (*keep)(unsigned char c));

/* Splits a raw path (starting with '/') into decoded segments. Returns false
 * on bad escapes, an embedded NUL or a "." / ".." segment. */
bool sy_request_set_path(sy_request_t *req, const char *raw_path);
/* Parses a raw query string into req->query. Returns false on bad escapes. */
bool sy_request_set_query(sy_request_t *req, const char *raw_query);

/* Convenience: header / query lookups (NULL when absent). */
const char *sy_req_header(const sy_request_t *req, const char *name);
const char *sy_req_query(const sy_request_t *req, const char *name);

/* Adds ncalls upstream calls that kept the thread waiting ms milliseconds
 * to the client request ctx is serving (ctx->request); no-op when ctx is
 * NULL or serves none (unit tests, master). */
void sy_req_note_upstream(struct sy_ctx *ctx, double ms, unsigned ncalls);

/* The client request ctx is serving, or NULL: for batch sub-requests, the
 * POST /v1/batch request itself. */
sy_request_t *sy_req_client(struct sy_ctx *ctx);

/* Absolute public URL of `path` (which starts with '/'), e.g.
 * "https://sync.example.com/v1/buckets/..". Uses syncto.http_scheme /
 * syncto.http_host when set, else the request's scheme and host. */
const char *sy_req_public_url(const sy_request_t *req, const char *path);

#endif
