#ifndef SY_SYNC_H
#define SY_SYNC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "syncto/sy_auth.h"
#include "syncto/sy_credentials.h"
#include "syncto/sy_hawk.h"
#include "syncto/sy_http.h"
#include "syncto/sy_request.h"

/* Sync 1.5 storage client: Hawk-signed
 * calls to the user's node, credentials from sy_credentials. A Sync 401
 * evicts the cached credentials and the call is retried once with fresh ones
 * from the tokenserver.
 *
 * Usage: sy_sync_init() once per Kinto request (or batch), build an operation
 * with a sy_sync_op_*() helper, set its conditions, sy_sync_perform(). */

#define SY_SYNC_NO_TS ((int64_t)-1)

typedef enum {
    SY_SYNC_STAGE_NONE = 0,
    SY_SYNC_STAGE_TOKENSERVER, /* the call failed while getting credentials */
    SY_SYNC_STAGE_SYNC,        /* the Sync node answered (or did not) */
} sy_sync_stage_t;

/* Outcome of one Sync call. Strings and json live in the session's pool. */
typedef struct {
    sy_rc_t rc; /* SY_OK: `stage` answered with `status`;
                 * SY_ERR_UNREACHABLE: network error/timeout;
                 * SY_ERR_TOO_LARGE: answer over the cap;
                 * SY_ERR_UPSTREAM: unusable tokenserver 200;
                 * SY_ERR_INVALID: bad api_endpoint/request */
    sy_sync_stage_t stage;
    int status;          /* HTTP status, 0 without a response */
    const char *host;    /* authority that answered (back-off key) */
    sy_kvlist_t headers; /* all response headers, lowercased names */
    const char *body;    /* raw text, "" when none */
    size_t body_len;
    json_object *json;           /* parsed body when it is JSON, else NULL
                                  * (and NULL for a 2xx answer to a raw_body
                                  * op); owned by the pool (do not put) */
    int64_t last_modified_ms;    /* X-Last-Modified, or SY_SYNC_NO_TS */
    int64_t weave_timestamp_ms;  /* X-Weave-Timestamp, or SY_SYNC_NO_TS */
    const char *next_offset;     /* X-Weave-Next-Offset, or NULL */
    long records;                /* X-Weave-Records, or -1 */
    const char *quota_remaining; /* X-Weave-Quota-Remaining, or NULL */
    const char *alert;           /* X-Weave-Alert, or NULL */
    long backoff;                /* max(X-Weave-Backoff, X-Backoff) s, or 0 */
    long retry_after;            /* Retry-After seconds, or -1 */
    double duration_ms;          /* time spent upstream for this call */
} sy_sync_result_t;

/* One storage call. path/query are already encoded (the helpers below do
 * it); the Hawk resource is api_endpoint's path + path + "?" + query. */
typedef struct {
    const char *method; /* "GET", "PUT", "POST", "DELETE" */
    const char *path;   /* "/storage/tabs/abc", "/info/collections" */
    const char *query;  /* without '?', NULL or "" = none */
    const char *body;   /* JSON for PUT/POST, else NULL */
    size_t body_len;
    int64_t if_modified_since_ms;   /* X-If-Modified-Since, or SY_SYNC_NO_TS */
    int64_t if_unmodified_since_ms; /* X-If-Unmodified-Since (0 = "must not
                                     * exist"), or SY_SYNC_NO_TS */
    const char *metric;             /* statsd name: "get_records"... */
    bool raw_body;                  /* a 2xx answer is left as text (res->json
                                     * NULL): the caller reads res->body itself
                                     * (a records list, sy_kinto_rewrite_list);
                                     * error answers are parsed all the same */
} sy_sync_op_t;

/* Collection GET parameters, sent in this fixed order:
 * full, newer, older, sort, limit, offset, ids. */
typedef struct {
    bool full;              /* full=1 (sy_sync_query_init sets it) */
    int64_t newer_ms;       /* newer=<s.2f>, or SY_SYNC_NO_TS */
    int64_t older_ms;       /* older=<s.2f>, or SY_SYNC_NO_TS */
    const char *sort;       /* "newest", "oldest", "index" or NULL */
    const char *limit;      /* verbatim (encoded), or NULL */
    const char *offset;     /* X-Weave-Next-Offset token, or NULL */
    const char *const *ids; /* ids=a,b,c, or NULL */
    size_t nids;
} sy_sync_query_t;

/* A session: the credentials and settings one Kinto request (or one batch)
 * uses for all its Sync calls. Not thread-safe; lives in req->pool. */
typedef struct {
    sy_ctx_t *ctx;
    sy_pool_t *pool;
    const char *request_id;
    const sy_auth_t *auth;
    const char *user_agent; /* User-Agent sent to Sync */
    sy_credentials_t creds;
    bool have_creds;
    bool refreshed;    /* the one retry after a Sync 401 is used */
    sy_url_t endpoint; /* parsed creds.token.api_endpoint */
    bool failed;       /* getting credentials failed: every later
                        * call of this session gets `failure` */
    sy_sync_result_t failure;
} sy_sync_t;

/* Prepares a session for req and auth (auth must outlive it). The
 * User-Agent becomes "Syncto/<version> (on behalf of <client UA>)". */
void sy_sync_init(sy_sync_t *s, sy_request_t *req, const sy_auth_t *auth);

/* Runs op: credentials (cache or tokenserver), Hawk signature, the call,
 * one retry after a Sync 401. Fills res; returns res->rc. */
sy_rc_t sy_sync_perform(sy_sync_t *s, const sy_sync_op_t *op, sy_sync_result_t *res);
/* Runs n operations concurrently (at most settings sync_max_concurrency in
 * flight) with shared credentials; res[i] is the outcome of ops[i]. */
void sy_sync_perform_many(sy_sync_t *s, const sy_sync_op_t *ops, sy_sync_result_t *res, size_t n);

/* True when res is a 2xx answer from Sync. */
bool sy_sync_result_ok(const sy_sync_result_t *res);

/* Operation builders: strings in pool, conditions start as SY_SYNC_NO_TS
 * (set op->if_*_ms afterwards), collection names are lowercased. */

/* Sets q to full=1 and nothing else. */
void sy_sync_query_init(sy_sync_query_t *q);
/* GET /storage/<collection>?<q> (q NULL: no query). */
void sy_sync_op_get_collection(sy_pool_t *pool, sy_sync_op_t *op, const char *collection,
                               const sy_sync_query_t *q);
/* GET /storage/<collection>/<id>. */
void sy_sync_op_get_record(sy_pool_t *pool, sy_sync_op_t *op, const char *collection,
                           const char *id);
/* PUT /storage/<collection>/<id> with body, the BSO JSON object
 * (payload/sortindex/ttl), sent as application/json; charset=utf-8 with a
 * Hawk payload hash. body is not copied. */
void sy_sync_op_put_record(sy_pool_t *pool, sy_sync_op_t *op, const char *collection,
                           const char *id, const char *body, size_t len);
/* DELETE /storage/<collection>/<id>. */
void sy_sync_op_delete_record(sy_pool_t *pool, sy_sync_op_t *op, const char *collection,
                              const char *id);
/* GET /info/collections. */
void sy_sync_op_info_collections(sy_sync_op_t *op);
/* GET /info/quota. */
void sy_sync_op_info_quota(sy_sync_op_t *op);
/* POST /storage/<collection> of a JSON array of BSOs (body not copied).
 * batch: NULL (plain POST), "true" (start a batch) or a batch id from Sync
 * (encoded here); commit adds commit=true. */
void sy_sync_op_post_records(sy_pool_t *pool, sy_sync_op_t *op, const char *collection,
                             const char *body, size_t len, const char *batch, bool commit);

/* Pure helpers, exposed for tests. */
/* Record id for a Sync path: %XX (uppercase) only
 * for space % / ? # " < > \ controls and non-ASCII; the rest is raw. */
char *sy_sync_encode_id(sy_pool_t *pool, const char *id);
/* "/storage/<lowercased collection>[/<encoded id>]". */
char *sy_sync_storage_path(sy_pool_t *pool, const char *collection, const char *id);
/* Query string of q (without '?'), "" when empty. */
char *sy_sync_build_query(sy_pool_t *pool, const sy_sync_query_t *q);
/* "Syncto/<version> (on behalf of <ua>)" with control characters removed,
 * or "Syncto/<version>" when ua is NULL or empty. */
char *sy_sync_user_agent(sy_pool_t *pool, const char *client_ua);
/* Fills hr for op against endpoint ep with credentials id/key at ts: the
 * resource is ep->path + op->path [+ "?" + op->query], host/port those of
 * ep, a payload hash only when op has a body. nonce may be NULL (random). */
void sy_sync_hawk_request(sy_pool_t *pool, const sy_url_t *ep, const sy_sync_op_t *op,
                          const char *id, const char *key, long long ts, const char *nonce,
                          sy_hawk_req_t *hr);
/* Fills the header-derived fields of res from headers. */
void sy_sync_parse_headers(sy_sync_result_t *res, const sy_kvlist_t *headers);

/* Upstream clock: offset learnt from the tokenserver's X-Timestamp and
 * Sync's X-Weave-Timestamp (per process). learn() records server - local,
 * ignoring server times before 2015 (not a clock); now_ms() is the local
 * clock corrected by it (used for Hawk ts). */
void sy_sync_clock_learn(int64_t server_ms, int64_t local_ms);
int64_t sy_sync_clock_now_ms(void);

#endif
