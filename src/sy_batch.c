/* POST /v1/batch.
 *
 * Sub-requests go through the same router and views as real requests,
 * in-process, on the batch's pool. The views only plan while in a batch
 * (sy_batch.h): once every sub-request is planned, their Sync calls run in
 * order, except that a run of consecutive reads is sent concurrently, so a
 * batch of 25 GETs costs about as much as its slowest GET. Writes run one
 * at a time, in order. Every sub-request made with the same credential
 * shares one Sync session, hence one credentials lookup.
 *
 * Like Kinto's, a batch is not a transaction: sub-responses with a 4xx stay
 * in a 200, and the first 5xx stops the batch and becomes its answer, the
 * writes before it having been made. */
#include "syncto/sy_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncto/sy_ctx.h"
#include "syncto/sy_json.h"
#include "syncto/sy_kinto.h"

#define JSON_CT "application/json; charset=UTF-8"
#define DEFAULT_MAX_REQUESTS 25

typedef struct {
    sy_auth_t auth;
    sy_sync_t sync;
} session_t;

typedef struct {
    session_t **sessions;
    size_t nsessions, cap;
    sy_view_job_t *deferred; /* set by the sub-request being dispatched */
    sy_handler_fn dispatch;  /* the router's */
} batch_t;

/* One sub-request and what became of it. */
typedef struct {
    sy_request_t *req;
    sy_response_t *resp;
    sy_view_job_t *job; /* NULL when answered while planning */
    const char *path;   /* decoded, /v1-prefixed, for the response */
} sub_t;

/* ---- shared with the views ------------------------------------------- */

void sy_view_job_run(sy_view_job_t *job)
{
    if (sy_batch_defer(job))
        return;
    while (job->pending) {
        /* The outcome is in job->res too, which finish() maps. */
        sy_rc_ignore(sy_sync_perform(job->sync, &job->op, &job->res));
        job->pending = false;
        job->finish(job);
    }
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

sy_sync_t *sy_batch_session(sy_request_t *req, const sy_auth_t *auth)
{
    batch_t *b = req->batch;
    session_t *s;

    if (b == NULL)
        return NULL;
    for (size_t i = 0; i < b->nsessions; i++) {
        const sy_auth_t *a = &b->sessions[i]->auth;
        if (a->kind == auth->kind && same_str(a->credential, auth->credential) &&
            same_str(a->key_id, auth->key_id) && same_str(a->client_state, auth->client_state))
            return &b->sessions[i]->sync;
    }
    if (b->nsessions == b->cap) {
        size_t ncap = b->cap == 0 ? 4 : b->cap * 2;
        session_t **n = sy_palloc(req->pool, ncap * sizeof(session_t *));
        if (b->nsessions > 0)
            memcpy(n, b->sessions, b->nsessions * sizeof(session_t *));
        b->sessions = n;
        b->cap = ncap;
    }
    s = sy_pcalloc(req->pool, sizeof(*s));
    s->auth = *auth;
    sy_sync_init(&s->sync, req, &s->auth);
    b->sessions[b->nsessions++] = s;
    return &s->sync;
}

bool sy_batch_defer(sy_view_job_t *job)
{
    batch_t *b = job->req->batch;

    if (b == NULL)
        return false;
    b->deferred = job;
    return true;
}

/* ---- body validation ------------------------------------------------- */

static const char *const METHODS[] = {"GET", "HEAD", "DELETE", "TRACE", "POST", "PUT", "PATCH"};

typedef struct {
    const char *name; /* field name for the message */
    const char *description;
} verr_t;

static bool fail(verr_t *e, const char *name, const char *description)
{
    e->name = name;
    e->description = description;
    return false;
}

/* Checks one request object (or the defaults: path then optional). */
static bool check_request(sy_pool_t *pool, json_object *r, const char *prefix, bool is_default,
                          verr_t *e)
{
    json_object *v;

    if (!json_object_is_type(r, json_type_object))
        return fail(e, prefix, "Should be an object");
    {
        json_object_object_foreach (r, key, val) {
            (void)val;
            if (strcmp(key, "method") != 0 && strcmp(key, "path") != 0 &&
                strcmp(key, "headers") != 0 && strcmp(key, "body") != 0)
                return fail(e, sy_psprintf(pool, "%s.%s", prefix, key), "Unrecognized key");
        }
    }
    if (json_object_object_get_ex(r, "method", &v)) {
        bool ok = false;
        if (json_object_is_type(v, json_type_string))
            for (size_t i = 0; i < sizeof(METHODS) / sizeof(METHODS[0]) && !ok; i++)
                ok = strcmp(json_object_get_string(v), METHODS[i]) == 0;
        if (!ok)
            return fail(e, sy_psprintf(pool, "%s.method", prefix),
                        "Should be one of GET, HEAD, DELETE, TRACE, POST, PUT, PATCH");
    }
    if (json_object_object_get_ex(r, "path", &v)) {
        const char *p = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        if (p == NULL || p[0] != '/' || strlen(p) != (size_t)json_object_get_string_len(v))
            return fail(e, sy_psprintf(pool, "%s.path", prefix),
                        "Should be a path starting with /");
    } else if (!is_default) {
        return fail(e, sy_psprintf(pool, "%s.path", prefix), "Required");
    }
    if (json_object_object_get_ex(r, "headers", &v)) {
        if (!json_object_is_type(v, json_type_object))
            return fail(e, sy_psprintf(pool, "%s.headers", prefix), "Should be an object");
        json_object_object_foreach (v, hk, hv) {
            if (!json_object_is_type(hv, json_type_string) || hk[0] == '\0')
                return fail(e, sy_psprintf(pool, "%s.headers.%s", prefix, hk),
                            "Should be a string");
        }
    }
    if (json_object_object_get_ex(r, "body", &v) && !json_object_is_type(v, json_type_object))
        return fail(e, sy_psprintf(pool, "%s.body", prefix), "Should be an object");
    return true;
}

/* Adds to dst what src has and dst has not, recursively into objects
 * present in both: defaults never override a request's own values.
 * Headers are not merged here: their names compare case-insensitively
 * (dispatch() layers them). */
// NOLINTNEXTLINE(misc-no-recursion): as deep as the body's objects, 32 at most (json-c)
static void merge_defaults(json_object *dst, json_object *src, bool top)
{
    json_object_object_foreach (src, key, val) {
        json_object *mine;
        if (top && strcmp(key, "headers") == 0)
            continue;
        if (!json_object_object_get_ex(dst, key, &mine))
            json_object_object_add(dst, key, json_object_get(val));
        else if (json_object_is_type(mine, json_type_object) &&
                 json_object_is_type(val, json_type_object))
            merge_defaults(mine, val, false);
    }
}

/* ---- sub-requests ---------------------------------------------------- */

static char *lowercase(sy_pool_t *pool, const char *s)
{
    char *out = sy_pstrdup(pool, s);

    for (char *p = out; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return out;
}

/* The decoded path of a parsed request, "/v1/buckets/…". */
static const char *decoded_path(sy_request_t *r)
{
    size_t len = 1;
    char *out, *p;

    for (size_t i = 0; i < r->nsegments; i++)
        len += strlen(r->segments[i]) + 1;
    out = p = sy_palloc(r->pool, len + 1);
    *p = '\0';
    for (size_t i = 0; i < r->nsegments; i++) {
        size_t n = strlen(r->segments[i]);
        *p++ = '/';
        memcpy(p, r->segments[i], n);
        p += n;
    }
    if (r->nsegments == 0 || r->trailing_slash)
        *p++ = '/';
    *p = '\0';
    return out;
}

/* Sets every header of the JSON object h (string values) on list l,
 * replacing same-named ones whatever their case. */
static void layer_headers(sy_pool_t *pool, sy_kvlist_t *l, json_object *h)
{
    if (h == NULL)
        return;
    json_object_object_foreach (h, hk, hv) {
        sy_kv_set(pool, l, lowercase(pool, hk), sy_pstrdup(pool, json_object_get_string(hv)));
    }
}

/* Builds sub-request `r` (already merged with the defaults, headers aside)
 * of req and dispatches it; a view that needs Sync leaves its job in
 * b->deferred. */
static void dispatch(sy_request_t *req, batch_t *b, json_object *r, json_object *defaults,
                     sub_t *sub)
{
    sy_pool_t *pool = req->pool;
    sy_request_t *c = sy_pcalloc(pool, sizeof(*c));
    sy_response_t *cr = sy_pcalloc(pool, sizeof(*cr));
    json_object *v;
    const char *method = "GET";
    char *raw, *q, *path, *query;

    c->pool = pool;
    c->ctx = req->ctx;
    c->request_id = req->request_id;
    c->scheme = req->scheme;
    c->host = req->host;
    c->remote_addr = req->remote_addr;
    c->is_subrequest = true;
    c->batch = b;
    sub->req = c;
    sub->resp = cr;
    sy_resp_init(c, cr);

    if (json_object_object_get_ex(r, "method", &v))
        method = json_object_get_string(v);
    c->method_str = sy_pstrdup(pool, method);
    c->method = sy_method_parse(c->method_str);

    /* Headers: the batch request's, then the defaults', then its own. */
    for (size_t i = 0; i < req->headers.n; i++) {
        const char *name = req->headers.items[i].name;
        if (strcmp(name, "content-length") == 0)
            continue;
        sy_kv_add(pool, &c->headers, name, req->headers.items[i].value);
    }
    if (defaults != NULL && json_object_object_get_ex(defaults, "headers", &v))
        layer_headers(pool, &c->headers, v);
    if (json_object_object_get_ex(r, "headers", &v))
        layer_headers(pool, &c->headers, v);

    /* Path: "/v1" prefixed when missing; the query string split off. */
    json_object_object_get_ex(r, "path", &v);
    raw = sy_pstrndup(pool, json_object_get_string(v), strcspn(json_object_get_string(v), "#"));
    q = strchr(raw, '?');
    path = q != NULL ? sy_pstrndup(pool, raw, (size_t)(q - raw)) : raw;
    query = q != NULL ? q + 1 : (char *)"";
    if (!(strncmp(path, "/v1", 3) == 0 && (path[3] == '/' || path[3] == '\0')))
        path = sy_psprintf(pool, "/v1%s", path);

    if (json_object_object_get_ex(r, "body", &v)) {
        size_t len = 0;
        const char *text = json_object_to_json_string_length(v, SY_JSON_FLAGS, &len);
        if (text == NULL)
            abort();
        c->body = sy_pstrndup(pool, text, len);
        c->body_len = len;
        sy_kv_set(pool, &c->headers, "content-type", "application/json; charset=utf-8");
    }

    b->deferred = NULL;
    if (!sy_request_set_path(c, path)) {
        if (c->path == NULL)
            c->path = path;
        c->query_string = "";
        sub->path = path;
        sy_resp_invalid_param(c, cr, "path", NULL, "Invalid URL path.");
        return;
    }
    sub->path = decoded_path(c);
    if (!sy_request_set_query(c, query)) {
        sy_resp_invalid_param(c, cr, "querystring", NULL, "Invalid percent-encoding.");
        return;
    }
    b->dispatch(c, cr);
    sub->job = b->deferred;
    b->deferred = NULL;
}

/* Is the (merged) request a call of the batch endpoint itself? */
static bool is_recursive(sy_pool_t *pool, json_object *r)
{
    json_object *v;
    const char *raw, *p;
    size_t n;

    if (!json_object_object_get_ex(r, "path", &v))
        return false;
    raw = json_object_get_string(v);
    n = strcspn(raw, "?#");
    p = sy_url_decode(pool, raw, n, false);
    if (p == NULL)
        p = sy_pstrndup(pool, raw, n);
    if (strncmp(p, "/v1/", 4) == 0)
        p += 3;
    while (*p == '/' && p[1] == '/')
        p++;
    n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        n--;
    return n == 6 && strncmp(p, "/batch", 6) == 0;
}

/* ---- the body as a whole --------------------------------------------- */

static SY_MUST_CHECK sy_rc_t invalid_body(sy_kinto_invalid_t *err, const char *name,
                                          const char *description)
{
    err->location = "body";
    err->name = name;
    err->description = description;
    return SY_ERR_INVALID;
}

sy_rc_t sy_batch_parse(sy_pool_t *pool, const char *body, size_t len, int max,
                       json_object **requests_out, json_object **defaults_out,
                       sy_kinto_invalid_t *err)
{
    json_object *root, *requests = NULL, *defaults = NULL;
    size_t n;
    verr_t e = {NULL, NULL};

    *requests_out = NULL;
    *defaults_out = NULL;
    root = sy_json_parse_pool(pool, body, len);
    if (root == NULL)
        return invalid_body(err, NULL, "Invalid JSON");
    if (!json_object_is_type(root, json_type_object))
        return invalid_body(err, NULL, "Should be an object");
    {
        json_object_object_foreach (root, key, val) {
            if (strcmp(key, "requests") == 0)
                requests = val;
            else if (strcmp(key, "defaults") == 0)
                defaults = val;
            else
                return invalid_body(err, sy_pstrdup(pool, key), "Unrecognized key");
        }
    }
    if (!json_object_is_type(requests, json_type_array))
        return invalid_body(err, "requests", requests == NULL ? "Required" : "Should be an array");
    n = json_object_array_length(requests);
    if (n > (size_t)max)
        return SY_ERR_TOO_LARGE;
    if (json_object_object_get_ex(root, "defaults", NULL) &&
        !check_request(pool, defaults, "defaults", true, &e))
        return invalid_body(err, e.name, e.description);
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(requests, i);
        const char *prefix = sy_psprintf(pool, "requests.%zu", i);

        if (!check_request(pool, r, prefix, defaults != NULL, &e))
            return invalid_body(err, e.name, e.description);
        if (defaults != NULL) {
            merge_defaults(r, defaults, true);
            if (!json_object_object_get_ex(r, "path", NULL))
                return invalid_body(err, sy_psprintf(pool, "%s.path", prefix), "Required");
        }
        if (is_recursive(pool, r))
            return invalid_body(err, "path", "Recursive call on /batch endpoint is forbidden.");
    }
    *requests_out = requests;
    *defaults_out = defaults;
    return SY_OK;
}

/* ---- running the deferred calls --------------------------------------- */

static bool pending(const sub_t *s)
{
    return s->job != NULL && s->job->pending;
}

/* Performs the pending calls of jobs[0..n) together (they are reads), one
 * perform_many per Sync session, then finishes each in order. */
static void run_reads(sy_pool_t *pool, sy_view_job_t **jobs, size_t n)
{
    sy_sync_op_t *ops = sy_palloc(pool, n * sizeof(*ops));
    sy_sync_result_t *res = sy_palloc(pool, n * sizeof(*res));
    size_t *idx = sy_palloc(pool, n * sizeof(*idx));
    bool *done = sy_pcalloc(pool, n * sizeof(*done));

    for (size_t i = 0; i < n; i++) {
        size_t m = 0;
        if (done[i])
            continue;
        for (size_t j = i; j < n; j++) {
            if (done[j] || jobs[j]->sync != jobs[i]->sync)
                continue;
            ops[m] = jobs[j]->op;
            idx[m++] = j;
            done[j] = true;
        }
        if (m == 1) /* the outcome is in res[0] too, for finish() */
            sy_rc_ignore(sy_sync_perform(jobs[i]->sync, &ops[0], &res[0]));
        else
            sy_sync_perform_many(jobs[i]->sync, ops, res, m);
        for (size_t k = 0; k < m; k++)
            jobs[idx[k]]->res = res[k];
    }
    for (size_t i = 0; i < n; i++) {
        jobs[i]->pending = false;
        jobs[i]->finish(jobs[i]);
    }
}

static bool failed(const sub_t *s)
{
    return s->resp->status >= 500;
}

/* Runs every deferred job; returns the index of the first sub-request that
 * ended in a 5xx, or n. */
static size_t execute(sy_pool_t *pool, sub_t *subs, size_t n)
{
    sy_view_job_t **group = sy_palloc(pool, (n > 0 ? n : 1) * sizeof(sy_view_job_t *));
    size_t i = 0;

    while (i < n) {
        size_t j, m = 0;

        if (!pending(&subs[i])) {
            if (failed(&subs[i]))
                return i;
            i++;
            continue;
        }
        if (!subs[i].job->read) {
            sy_view_job_t *job = subs[i].job;
            while (job->pending) {
                /* the outcome is in job->res too, for finish() */
                sy_rc_ignore(sy_sync_perform(job->sync, &job->op, &job->res));
                job->pending = false;
                job->finish(job);
            }
            if (failed(&subs[i]))
                return i;
            i++;
            continue;
        }
        /* A run of reads, up to the next write still to be made. */
        for (j = i; j < n; j++) {
            if (!pending(&subs[j]))
                continue;
            if (!subs[j].job->read)
                break;
            group[m++] = subs[j].job;
        }
        for (;;) {
            size_t k = 0;
            run_reads(pool, group, m);
            /* follow-up calls (a 412's details.existing) are reads too */
            for (size_t g = 0; g < m; g++)
                if (group[g]->pending)
                    group[k++] = group[g];
            if (k == 0)
                break;
            m = k;
        }
        for (; i < j; i++)
            if (failed(&subs[i]))
                return i;
    }
    return n;
}

/* ---- the response ---------------------------------------------------- */

static SY_MUST_CHECK sy_rc_t write_headers(sy_buf_t *out, const sy_response_t *r)
{
    sy_rc_t rc = sy_buf_append(out, "{", 1);

    for (size_t i = 0; rc == SY_OK && i < r->headers.n; i++) {
        const char *k = r->headers.items[i].name, *v = r->headers.items[i].value;
        if (i > 0)
            rc = sy_buf_append(out, ",", 1);
        if (rc == SY_OK)
            rc = sy_kinto_write_string(out, k, strlen(k));
        if (rc == SY_OK)
            rc = sy_buf_append(out, ":", 1);
        if (rc == SY_OK)
            rc = sy_kinto_write_string(out, v, strlen(v));
    }
    if (rc == SY_OK)
        rc = sy_buf_append(out, "}", 1);
    return rc;
}

static SY_MUST_CHECK sy_rc_t write_body(sy_buf_t *out, const sub_t *s)
{
    const sy_response_t *r = s->resp;
    size_t len = 0;

    if (s->req->method == SY_M_HEAD || !r->has_body || r->status == 204 || r->status == 304)
        return sy_buf_append(out, "\"\"", 2);
    if (r->json != NULL) {
        const char *text = json_object_to_json_string_length(r->json, SY_JSON_FLAGS, &len);
        if (text == NULL)
            abort();
        return sy_buf_append(out, text, len);
    }
    if (r->body.len > 0)
        return sy_buf_append(out, r->body.data, r->body.len);
    return sy_buf_append(out, "\"\"", 2);
}

static SY_MUST_CHECK sy_rc_t write_responses(sy_buf_t *out, const sub_t *subs, size_t n)
{
    sy_rc_t rc = sy_buf_appends(out, "{\"responses\":[");

    for (size_t i = 0; rc == SY_OK && i < n; i++) {
        char num[48];
        int len = snprintf(num, sizeof(num), "%s{\"status\":%d,\"path\":", i > 0 ? "," : "",
                           subs[i].resp->status);
        rc = sy_buf_append(out, num, (size_t)len);
        if (rc == SY_OK)
            rc = sy_kinto_write_string(out, subs[i].path, strlen(subs[i].path));
        if (rc == SY_OK)
            rc = sy_buf_appends(out, ",\"headers\":");
        if (rc == SY_OK)
            rc = write_headers(out, subs[i].resp);
        if (rc == SY_OK)
            rc = sy_buf_appends(out, ",\"body\":");
        if (rc == SY_OK)
            rc = write_body(out, &subs[i]);
        if (rc == SY_OK)
            rc = sy_buf_append(out, "}", 1);
    }
    if (rc == SY_OK)
        rc = sy_buf_append(out, "]}", 2);
    return rc;
}

/* The batch fails with sub-response s: same status, headers and body. */
static void fail_with(sy_request_t *req, sy_response_t *resp, const sub_t *s)
{
    const sy_response_t *r = s->resp;

    for (size_t i = 0; i < r->headers.n; i++)
        sy_resp_set_header(req, resp, r->headers.items[i].name, r->headers.items[i].value);
    if (r->json != NULL) {
        sy_resp_json(req, resp, r->status, json_object_get(r->json));
    } else if (r->has_body) {
        resp->status = r->status;
        resp->json = NULL;
        resp->has_body = true;
        sy_buf_reset(&resp->body);
        if (sy_buf_append(&resp->body, r->body.data != NULL ? r->body.data : "", r->body.len) !=
            SY_OK)
            sy_resp_error(req, resp, 500, SY_ERRNO_UNDEFINED, "Response too large.", NULL);
    } else {
        sy_resp_empty(req, resp, r->status);
    }
}

/* The batch answer carries the sub-responses' advice to clients: the
 * longest Backoff and the last Alert. */
static void carry_advice(sy_request_t *req, sy_response_t *resp, const sub_t *subs, size_t n)
{
    long backoff = 0;
    const char *alert = NULL;

    for (size_t i = 0; i < n; i++) {
        const char *v = sy_resp_header(subs[i].resp, "Backoff");
        long secs = v != NULL ? strtol(v, NULL, 10) : 0;
        if (secs > backoff)
            backoff = secs;
        v = sy_resp_header(subs[i].resp, "Alert");
        if (v != NULL)
            alert = v;
    }
    if (alert != NULL)
        sy_resp_set_header(req, resp, "Alert", alert);
    sy_resp_backoff(req, resp, backoff);
}

/* 400 "requests in body: Number of requests is limited to N", the text
 * Kinto clients know (the generic rule would drop the prefix, since the
 * description names the field). */
static void too_many(sy_request_t *req, sy_response_t *resp, int max)
{
    const char *desc = sy_psprintf(req->pool, "Number of requests is limited to %d", max);
    json_object *details = json_object_new_array(), *d = json_object_new_object();

    if (details == NULL || d == NULL)
        abort();
    json_object_object_add(d, "location", json_object_new_string("body"));
    json_object_object_add(d, "name", json_object_new_string("requests"));
    json_object_object_add(d, "description", json_object_new_string(desc));
    json_object_array_add(details, d);
    sy_resp_error(req, resp, 400, SY_ERRNO_INVALID_PARAMETERS,
                  sy_psprintf(req->pool, "requests in body: %s", desc), details);
}

void sy_view_batch(sy_request_t *req, sy_response_t *resp, sy_handler_fn router)
{
    const sy_settings_t *s = req->ctx != NULL ? req->ctx->settings : NULL;
    int max = s != NULL && s->batch_max_requests > 0 ? s->batch_max_requests : DEFAULT_MAX_REQUESTS;
    json_object *requests = NULL, *defaults = NULL;
    batch_t *b;
    sub_t *subs;
    size_t n, failed_at;
    sy_kinto_invalid_t err = {NULL, NULL, NULL};
    sy_rc_t rc;

    if (req->batch != NULL) { /* cannot happen: the batch refuses itself */
        sy_resp_invalid_param(req, resp, "body", "path",
                              "Recursive call on /batch endpoint is forbidden.");
        return;
    }
    rc = sy_batch_parse(req->pool, req->body, req->body_len, max, &requests, &defaults, &err);
    if (rc == SY_ERR_TOO_LARGE) {
        too_many(req, resp, max);
        return;
    }
    if (rc != SY_OK) {
        sy_resp_invalid_param(req, resp, err.location, err.name, err.description);
        return;
    }
    n = json_object_array_length(requests);

    b = sy_pcalloc(req->pool, sizeof(*b));
    b->dispatch = router;
    subs = sy_pcalloc(req->pool, (n > 0 ? n : 1) * sizeof(*subs));
    for (size_t i = 0; i < n; i++)
        dispatch(req, b, json_object_array_get_idx(requests, i), defaults, &subs[i]);
    failed_at = execute(req->pool, subs, n);
    if (failed_at < n) {
        fail_with(req, resp, &subs[failed_at]);
        return;
    }
    resp->status = 200;
    resp->json = NULL;
    resp->has_body = true;
    sy_buf_reset(&resp->body);
    sy_resp_set_header(req, resp, "Content-Type", JSON_CT);
    if (write_responses(&resp->body, subs, n) != SY_OK) {
        sy_resp_error(req, resp, 500, SY_ERRNO_UNDEFINED, "Response too large.", NULL);
        return;
    }
    carry_advice(req, resp, subs, n);
}
