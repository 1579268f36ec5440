/* Sync 1.5 storage client: paths, queries, Hawk, the call, the retry.
 *
 * Why record ids are encoded so sparingly: Sync ids
 * are often "{guid}". syncstorage-rs checks the Hawk MAC against the raw
 * request path, go-syncstorage against the decoded one; only a path that
 * reads the same both ways satisfies both, so characters a URL can carry
 * raw are sent raw, braces included.
 *
 * Why the Host header is set by hand: the server checks the MAC against the
 * host and port it sees in Host, so Host must be exactly the authority that
 * was signed (lowercased host, port only when not the scheme default). */
#include "syncto/sy_sync.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncto/sy_backoff.h"
#include "syncto/sy_json.h"
#include "syncto/sy_log.h"
#include "syncto/sy_statsd.h"
#include "syncto/sy_ts.h"
#include "sy_version.h"

#define USER_AGENT_MAX 512
#define HAWK_HEADER_MAX 8192
#define JSON_CT "application/json; charset=utf-8"

/* No upstream clock is earlier than this (2015-01-01): a smaller value is
 * not the server's time (an "X-Weave-Timestamp: 0.00" copied from an empty
 * collection's X-Last-Modified, say) and must not move Hawk's ts. */
#define PLAUSIBLE_SERVER_MS INT64_C(1420070400000)

static _Atomic int_least64_t clock_offset_ms;

void sy_sync_clock_learn(int64_t server_ms, int64_t local_ms)
{
    if (server_ms < PLAUSIBLE_SERVER_MS)
        return;
    atomic_store(&clock_offset_ms, (int_least64_t)(server_ms - local_ms));
}

int64_t sy_sync_clock_now_ms(void)
{
    return sy_ts_now_ms() + (int64_t)atomic_load(&clock_offset_ms);
}

/* ---- pure helpers ---------------------------------------------------- */

/* Printable ASCII that a URL path can carry raw, `{` and `}` included. */
static bool path_safe(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '%' && c != '/' && c != '?' && c != '#' && c != '"' &&
           c != '<' && c != '>' && c != '\\';
}

char *sy_sync_encode_id(sy_pool_t *pool, const char *id)
{
    return sy_url_encode(pool, id, path_safe);
}

char *sy_sync_storage_path(sy_pool_t *pool, const char *collection, const char *id)
{
    char *coll = sy_sync_encode_id(pool, collection), *p;

    for (p = coll; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (id == NULL)
        return sy_psprintf(pool, "/storage/%s", coll);
    return sy_psprintf(pool, "/storage/%s/%s", coll, sy_sync_encode_id(pool, id));
}

static void query_add(sy_pool_t *pool, char **q, const char *name, const char *value)
{
    const char *v = sy_http_query_escape(pool, value);

    *q = (*q)[0] == '\0' ? sy_psprintf(pool, "%s=%s", name, v)
                         : sy_psprintf(pool, "%s&%s=%s", *q, name, v);
}

char *sy_sync_build_query(sy_pool_t *pool, const sy_sync_query_t *q)
{
    char *out = (char *)"", ts[32];
    size_t i, len = 0;

    if (q->full)
        query_add(pool, &out, "full", "1");
    if (q->newer_ms != SY_SYNC_NO_TS) {
        sy_ts_format_sync(q->newer_ms, ts, sizeof(ts));
        query_add(pool, &out, "newer", ts);
    }
    if (q->older_ms != SY_SYNC_NO_TS) {
        sy_ts_format_sync(q->older_ms, ts, sizeof(ts));
        query_add(pool, &out, "older", ts);
    }
    if (q->sort != NULL)
        query_add(pool, &out, "sort", q->sort);
    if (q->limit != NULL)
        query_add(pool, &out, "limit", q->limit);
    if (q->offset != NULL)
        query_add(pool, &out, "offset", q->offset);
    if (q->ids != NULL && q->nids > 0) {
        char *joined, *p;

        for (i = 0; i < q->nids; i++)
            len += strlen(q->ids[i]) + 1;
        joined = p = sy_palloc(pool, len + 1);
        for (i = 0; i < q->nids; i++) {
            size_t l = strlen(q->ids[i]);

            if (i > 0)
                *p++ = ',';
            memcpy(p, q->ids[i], l);
            p += l;
        }
        *p = '\0';
        query_add(pool, &out, "ids", joined);
    }
    return out;
}

char *sy_sync_user_agent(sy_pool_t *pool, const char *client_ua)
{
    char *clean, *p;
    size_t i, n;

    if (client_ua == NULL)
        return sy_pstrdup(pool, "Syncto/" SY_VERSION);
    n = strlen(client_ua);
    if (n > USER_AGENT_MAX)
        n = USER_AGENT_MAX;
    clean = p = sy_palloc(pool, n + 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)client_ua[i];

        if (c >= 0x20 && c != 0x7f)
            *p++ = (char)c;
    }
    *p = '\0';
    /* trim, so that "  " counts as no user agent */
    while (p > clean && p[-1] == ' ')
        *--p = '\0';
    while (*clean == ' ')
        clean++;
    if (*clean == '\0')
        return sy_pstrdup(pool, "Syncto/" SY_VERSION);
    return sy_psprintf(pool, "Syncto/%s (on behalf of %s)", SY_VERSION, clean);
}

void sy_sync_hawk_request(sy_pool_t *pool, const sy_url_t *ep, const sy_sync_op_t *op,
                          const char *id, const char *key, long long ts, const char *nonce,
                          sy_hawk_req_t *hr)
{
    memset(hr, 0, sizeof(*hr));
    hr->id = id;
    hr->key = key;
    hr->method = op->method;
    if (op->query != NULL && op->query[0] != '\0')
        hr->resource = sy_psprintf(pool, "%s%s?%s", ep->path, op->path, op->query);
    else
        hr->resource = sy_psprintf(pool, "%s%s", ep->path, op->path);
    hr->host = ep->host;
    hr->port = ep->port;
    if (op->body != NULL) {
        hr->content_type = JSON_CT;
        hr->body = op->body;
        hr->body_len = op->body_len;
    }
    hr->ts = ts;
    hr->nonce = nonce;
}

static long parse_long(const char *v, long dflt)
{
    char *end;
    long n;

    if (v == NULL || *v < '0' || *v > '9')
        return dflt;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0')
        return dflt;
    return n;
}

void sy_sync_parse_headers(sy_sync_result_t *res, const sy_kvlist_t *headers)
{
    const char *v;
    int64_t ms;

    res->last_modified_ms = SY_SYNC_NO_TS;
    res->weave_timestamp_ms = SY_SYNC_NO_TS;
    v = sy_kv_get(headers, "x-last-modified");
    if (v != NULL && sy_ts_parse_sync(v, &ms))
        res->last_modified_ms = ms;
    v = sy_kv_get(headers, "x-weave-timestamp");
    if (v != NULL && sy_ts_parse_sync(v, &ms))
        res->weave_timestamp_ms = ms;
    res->next_offset = sy_kv_get(headers, "x-weave-next-offset");
    res->records = parse_long(sy_kv_get(headers, "x-weave-records"), -1);
    res->quota_remaining = sy_kv_get(headers, "x-weave-quota-remaining");
    res->alert = sy_kv_get(headers, "x-weave-alert");
    res->backoff = sy_backoff_parse(0, headers);
    res->retry_after = parse_long(sy_kv_get(headers, "retry-after"), -1);
}

/* ---- operation builders ---------------------------------------------- */

static void op_init(sy_sync_op_t *op, const char *method, const char *metric)
{
    memset(op, 0, sizeof(*op));
    op->method = method;
    op->metric = metric;
    op->if_modified_since_ms = SY_SYNC_NO_TS;
    op->if_unmodified_since_ms = SY_SYNC_NO_TS;
}

void sy_sync_query_init(sy_sync_query_t *q)
{
    memset(q, 0, sizeof(*q));
    q->full = true;
    q->newer_ms = SY_SYNC_NO_TS;
    q->older_ms = SY_SYNC_NO_TS;
}

void sy_sync_op_get_collection(sy_pool_t *pool, sy_sync_op_t *op, const char *collection,
                               const sy_sync_query_t *q)
{
    op_init(op, "GET", "get_records");
    op->path = sy_sync_storage_path(pool, collection, NULL);
    op->query = q != NULL ? sy_sync_build_query(pool, q) : NULL;
}

void sy_sync_op_get_record(sy_pool_t *pool, sy_sync_op_t *op, const char *collection,
                           const char *id)
{
    op_init(op, "GET", "get_record");
    op->path = sy_sync_storage_path(pool, collection, id);
}

void sy_sync_op_put_record(sy_pool_t *pool, sy_sync_op_t *op, const char *collection,
                           const char *id, const char *body, size_t len)
{
    op_init(op, "PUT", "put_record");
    op->path = sy_sync_storage_path(pool, collection, id);
    op->body = body != NULL ? body : "";
    op->body_len = body != NULL ? len : 0;
}

void sy_sync_op_delete_record(sy_pool_t *pool, sy_sync_op_t *op, const char *collection,
                              const char *id)
{
    op_init(op, "DELETE", "delete_record");
    op->path = sy_sync_storage_path(pool, collection, id);
}

void sy_sync_op_info_collections(sy_sync_op_t *op)
{
    op_init(op, "GET", "info_collections");
    op->path = "/info/collections";
}

void sy_sync_op_info_quota(sy_sync_op_t *op)
{
    op_init(op, "GET", "info_quota");
    op->path = "/info/quota";
}

void sy_sync_op_post_records(sy_pool_t *pool, sy_sync_op_t *op, const char *collection,
                             const char *body, size_t len, const char *batch, bool commit)
{
    char *q = (char *)"";

    op_init(op, "POST", "post_records");
    op->path = sy_sync_storage_path(pool, collection, NULL);
    op->body = body != NULL ? body : "[]";
    op->body_len = body != NULL ? len : 2;
    if (batch != NULL)
        query_add(pool, &q, "batch", batch);
    if (commit)
        query_add(pool, &q, "commit", "true");
    op->query = q;
}

/* ---- session --------------------------------------------------------- */

void sy_sync_init(sy_sync_t *s, sy_request_t *req, const sy_auth_t *auth)
{
    memset(s, 0, sizeof(*s));
    s->ctx = req->ctx;
    s->pool = req->pool;
    s->request_id = req->request_id;
    s->auth = auth;
    s->user_agent = sy_sync_user_agent(req->pool, sy_req_header(req, "user-agent"));
}

bool sy_sync_result_ok(const sy_sync_result_t *res)
{
    return res->rc == SY_OK && res->stage == SY_SYNC_STAGE_SYNC && res->status >= 200 &&
           res->status < 300;
}

static void result_init(sy_sync_result_t *res)
{
    memset(res, 0, sizeof(*res));
    res->body = "";
    res->last_modified_ms = SY_SYNC_NO_TS;
    res->weave_timestamp_ms = SY_SYNC_NO_TS;
    res->records = -1;
    res->retry_after = -1;
}

/* Copies an HTTP outcome into res; the body is parsed unless raw is set
 * and the answer is a 2xx. */
static void result_from_http(sy_pool_t *pool, sy_sync_result_t *res, sy_sync_stage_t stage,
                             const char *host, const sy_http_resp_t *h, bool raw)
{
    result_init(res);
    res->stage = stage;
    res->host = host;
    res->rc = h->rc;
    res->duration_ms = h->total_ms;
    if (h->rc != SY_OK)
        return;
    res->status = h->status;
    res->headers = h->headers;
    res->body = h->body != NULL ? h->body : "";
    res->body_len = h->body_len;
    if (!(raw && h->status >= 200 && h->status < 300))
        res->json = sy_json_parse_pool(pool, res->body, res->body_len);
    sy_sync_parse_headers(res, &res->headers);
}

/* Sets the hashed user id of the client request's log line, once: the
 * tokenserver's hashed_fxa_uid when it gave one (already a pseudonym, the one
 * its own logs use), else an HMAC of the storage URL (which holds the user's
 * uid); without credentials, an HMAC of the credential's cache key. Never the
 * credential or the uid itself. */
static void note_user(sy_sync_t *s, bool have_token)
{
    sy_request_t *client = sy_req_client(s->ctx);
    const char *secret = s->ctx->settings->cache_hmac_secret;
    const sy_token_t *t = &s->creds.token;
    const char *h = t->hashed_fxa_uid;

    if (client == NULL || client->user_hash != NULL || secret == NULL || secret[0] == '\0')
        return;
    if (have_token && h != NULL && h[0] != '\0' && strlen(h) <= 64 &&
        strspn(h, "0123456789abcdefABCDEF") == strlen(h))
        client->user_hash = sy_pstrdup(s->pool, h);
    else if (have_token && t->api_endpoint != NULL)
        client->user_hash = sy_log_user_hash(s->pool, secret, t->api_endpoint);
    else if (s->creds.cache_key != NULL)
        client->user_hash = sy_log_user_hash(s->pool, secret, s->creds.cache_key);
}

/* Makes sure s has credentials; false with res filled on failure. */
static bool ensure_creds(sy_sync_t *s, bool refresh, sy_sync_result_t *res)
{
    sy_http_resp_t tsr;
    sy_url_t tsurl;
    sy_rc_t rc;

    if (s->have_creds)
        return true;
    if (s->failed) {
        *res = s->failure;
        return false;
    }
    rc = sy_credentials_get(s->ctx, s->pool, s->auth, refresh, &s->creds, &tsr);
    note_user(s, rc == SY_OK);
    if (rc == SY_OK)
        rc = sy_http_parse_url(s->pool, s->creds.token.api_endpoint, &s->endpoint);
    if (rc == SY_OK) {
        s->have_creds = true;
        return true;
    }
    if (sy_http_parse_url(s->pool, s->ctx->settings->token_server_url, &tsurl) != SY_OK)
        tsurl.authority = NULL;
    result_from_http(s->pool, res, SY_SYNC_STAGE_TOKENSERVER, tsurl.authority, &tsr, false);
    if (tsr.rc == SY_OK && tsr.status == 200)
        res->rc = SY_ERR_UPSTREAM; /* answered, but nothing usable */
    s->failed = true;
    s->failure = *res;
    return false;
}

/* Builds the signed HTTP request for op with the session's credentials. */
static sy_rc_t build(sy_sync_t *s, const sy_sync_op_t *op, sy_http_req_t *hreq)
{
    const sy_settings_t *st = s->ctx->settings;
    sy_kvlist_t *headers = sy_pcalloc(s->pool, sizeof(*headers));
    sy_hawk_req_t hr;
    char *authz = sy_palloc(s->pool, HAWK_HEADER_MAX), ts[32];
    bool has_query = op->query != NULL && op->query[0] != '\0';
    sy_rc_t rc;

    sy_sync_hawk_request(s->pool, &s->endpoint, op, s->creds.token.id, s->creds.token.key,
                         (long long)(sy_sync_clock_now_ms() / 1000), NULL, &hr);
    rc = sy_hawk_header(&hr, authz, HAWK_HEADER_MAX);
    if (rc != SY_OK)
        return rc;

    memset(hreq, 0, sizeof(*hreq));
    hreq->method = op->method;
    hreq->url =
        sy_psprintf(s->pool, "%s://%s%s%s%s%s", s->endpoint.scheme, s->endpoint.authority,
                    s->endpoint.path, op->path, has_query ? "?" : "", has_query ? op->query : "");
    sy_kv_add(s->pool, headers, "Host", s->endpoint.authority);
    sy_kv_add(s->pool, headers, "Authorization", authz);
    sy_kv_add(s->pool, headers, "User-Agent", s->user_agent);
    sy_kv_add(s->pool, headers, "Accept", "application/json");
    if (op->body != NULL)
        sy_kv_add(s->pool, headers, "Content-Type", JSON_CT);
    if (op->if_modified_since_ms != SY_SYNC_NO_TS) {
        sy_ts_format_sync(op->if_modified_since_ms, ts, sizeof(ts));
        sy_kv_add(s->pool, headers, "X-If-Modified-Since", sy_pstrdup(s->pool, ts));
    }
    if (op->if_unmodified_since_ms == 0) {
        sy_kv_add(s->pool, headers, "X-If-Unmodified-Since", "0");
    } else if (op->if_unmodified_since_ms != SY_SYNC_NO_TS) {
        sy_ts_format_sync(op->if_unmodified_since_ms, ts, sizeof(ts));
        sy_kv_add(s->pool, headers, "X-If-Unmodified-Since", sy_pstrdup(s->pool, ts));
    }
    hreq->headers = headers;
    hreq->body = op->body;
    hreq->body_len = op->body_len;
    /* Storage answers carry records (encrypted client-side), never a key. */
    hreq->no_secret = true;
    hreq->connect_timeout_ms = st->sync_connect_timeout_seconds > 0
                                   ? (long)(st->sync_connect_timeout_seconds * 1000)
                                   : 5000;
    hreq->timeout_ms =
        st->sync_timeout_seconds > 0 ? (long)(st->sync_timeout_seconds * 1000) : 30000;
    return SY_OK;
}

/* Records what a Sync answer teaches (clock, back-off, metrics). */
static void after_call(sy_sync_t *s, const sy_sync_op_t *op, sy_sync_result_t *res)
{
    char metric[96];

    if (op->metric != NULL) {
        snprintf(metric, sizeof(metric), "syncclient.syncclient.%s", op->metric);
        sy_statsd_timing(metric, res->duration_ms);
    }
    if (res->rc != SY_OK) {
        sy_log_warn(s->request_id, "sync %s: no answer (%s)",
                    op->metric != NULL ? op->metric : "call", sy_rc_str(res->rc));
        return;
    }
    snprintf(metric, sizeof(metric), "syncclient.status_code.%d", res->status);
    sy_statsd_incr(metric);
    if (res->weave_timestamp_ms != SY_SYNC_NO_TS)
        sy_sync_clock_learn(res->weave_timestamp_ms, sy_ts_now_ms());
    sy_backoff_note(s->ctx, res->host, res->status, &res->headers);
    sy_log_debug(s->request_id, "sync %s -> %d (%.1f ms)", op->metric != NULL ? op->metric : "call",
                 res->status, res->duration_ms);
}

static void run_many(sy_sync_t *s, const sy_sync_op_t *const *ops, sy_sync_result_t *const *res,
                     size_t n)
{
    sy_http_req_t *hreqs = sy_pcalloc(s->pool, n * sizeof(*hreqs));
    sy_http_resp_t *hresps = sy_pcalloc(s->pool, n * sizeof(*hresps));
    size_t *map = sy_pcalloc(s->pool, n * sizeof(*map));
    size_t i, m = 0;
    int conc = s->ctx->settings->sync_max_concurrency;

    for (i = 0; i < n; i++) {
        sy_rc_t rc = build(s, ops[i], &hreqs[m]);

        if (rc != SY_OK) {
            result_init(res[i]);
            res[i]->stage = SY_SYNC_STAGE_SYNC;
            res[i]->host = s->endpoint.authority;
            res[i]->rc = rc == SY_ERR_TOO_LARGE ? SY_ERR_INVALID : rc;
            continue;
        }
        map[m++] = i;
    }
    if (m > 0) {
        int64_t t0 = sy_ts_now_ms();

        if (m == 1)
            sy_http_perform(sy_http_of(s->ctx), s->pool, &hreqs[0], &hresps[0]);
        else
            sy_http_perform_many(sy_http_of(s->ctx), s->pool, hreqs, hresps, m,
                                 conc > 0 ? conc : 1);
        /* Wall time: concurrent calls count once. */
        sy_req_note_upstream(s->ctx, (double)(sy_ts_now_ms() - t0), (unsigned)m);
    }
    for (i = 0; i < m; i++) {
        result_from_http(s->pool, res[map[i]], SY_SYNC_STAGE_SYNC, s->endpoint.authority,
                         &hresps[i], ops[map[i]]->raw_body);
        after_call(s, ops[map[i]], res[map[i]]);
    }
}

/* After a Sync 401: evict, refetch once, rerun the rejected calls. */
static void retry_unauthorized(sy_sync_t *s, const sy_sync_op_t *const *ops,
                               sy_sync_result_t *const *res, size_t n)
{
    const sy_sync_op_t **rops;
    sy_sync_result_t **rres, failure;
    size_t i, m = 0;

    for (i = 0; i < n; i++)
        if (res[i]->rc == SY_OK && res[i]->stage == SY_SYNC_STAGE_SYNC && res[i]->status == 401)
            m++;
    if (m == 0 || s->refreshed)
        return;
    s->refreshed = true;
    sy_log_info(s->request_id, "sync answered 401: refreshing the credentials once");
    sy_credentials_evict(s->ctx, &s->creds);
    s->have_creds = false;
    if (!ensure_creds(s, true, &failure)) {
        for (i = 0; i < n; i++)
            if (res[i]->rc == SY_OK && res[i]->stage == SY_SYNC_STAGE_SYNC && res[i]->status == 401)
                *res[i] = failure;
        return;
    }
    rops = sy_palloc(s->pool, m * sizeof(*rops));
    rres = sy_palloc(s->pool, m * sizeof(*rres));
    for (i = 0, m = 0; i < n; i++) {
        if (res[i]->rc == SY_OK && res[i]->stage == SY_SYNC_STAGE_SYNC && res[i]->status == 401) {
            rops[m] = ops[i];
            rres[m] = res[i];
            m++;
        }
    }
    run_many(s, rops, rres, m);
}

static void perform_all(sy_sync_t *s, const sy_sync_op_t *const *ops, sy_sync_result_t *const *res,
                        size_t n)
{
    size_t i;

    if (!ensure_creds(s, false, res[0])) {
        for (i = 1; i < n; i++)
            *res[i] = *res[0];
        return;
    }
    run_many(s, ops, res, n);
    retry_unauthorized(s, ops, res, n);
}

sy_rc_t sy_sync_perform(sy_sync_t *s, const sy_sync_op_t *op, sy_sync_result_t *res)
{
    perform_all(s, &op, &res, 1);
    return res->rc;
}

void sy_sync_perform_many(sy_sync_t *s, const sy_sync_op_t *ops, sy_sync_result_t *res, size_t n)
{
    const sy_sync_op_t **pops;
    sy_sync_result_t **pres;
    size_t i;

    if (n == 0)
        return;
    pops = sy_palloc(s->pool, n * sizeof(*pops));
    pres = sy_palloc(s->pool, n * sizeof(*pres));
    for (i = 0; i < n; i++) {
        pops[i] = &ops[i];
        pres[i] = &res[i];
    }
    perform_all(s, pops, pres, n);
}
