/* Kinto resources over Sync: buckets, collections, records.
 *
 * Every view is a plan (checks in the order the original server made them,
 * then the Sync operation) and a finish (the Sync answer as a Kinto
 * response), so that POST /v1/batch can run the Sync calls of many views
 * together (sy_batch.h). The mapping rules themselves live in sy_kinto.c;
 * upstream failures become Kinto errors in sy_errors.c.
 *
 * Check order: reads authenticate first, then
 * validate; PUT validates the body, then whether writes are enabled, then
 * the If-* headers, then authenticates; DELETE checks enabled, If-*, auth. */
#include <stdio.h>
#include <string.h>

#include "syncto/sy_auth.h"
#include "syncto/sy_batch.h"
#include "syncto/sy_ctx.h"
#include "syncto/sy_errors.h"
#include "syncto/sy_json.h"
#include "syncto/sy_kinto.h"
#include "syncto/sy_ts.h"
#include "syncto/sy_views.h"

#define JSON_CT "application/json; charset=UTF-8"
#define MSG_DISABLED "Endpoint disabled for this collection in configuration."

typedef enum {
    STAGE_MAIN = 0,
    STAGE_FETCH,    /* GET after a PUT that left fields to Sync */
    STAGE_EXISTING, /* GET of the record a precondition failed on */
} stage_t;

/* What an info/collections view answers with. */
typedef enum {
    INFO_BUCKET = 0,  /* the bucket: its id and newest timestamp */
    INFO_COLLECTIONS, /* the list of collections */
    INFO_COLLECTION,  /* one collection: its id and timestamp */
} info_t;

typedef struct {
    sy_auth_t auth;
    const char *bid, *cid, *rid;
    sy_kinto_precond_t pre;
    sy_kinto_list_t list;
    sy_kinto_put_t put;
    unsigned fields;
    stage_t stage;
    info_t info;
    sy_sync_result_t main; /* the first answer, kept across a follow-up */
    int64_t put_ms;
} vstate_t;

static const sy_settings_t *settings_of(const sy_request_t *req)
{
    return req->ctx != NULL ? req->ctx->settings : NULL;
}

static sy_view_job_t *job_new(sy_request_t *req, sy_response_t *resp,
                              void (*finish)(sy_view_job_t *))
{
    sy_view_job_t *job = sy_pcalloc(req->pool, sizeof(*job));
    vstate_t *st = sy_pcalloc(req->pool, sizeof(*st));

    job->req = req;
    job->resp = resp;
    job->finish = finish;
    job->state = st;
    st->bid = req->nparams > 0 ? req->params[0] : NULL;
    st->cid = req->nparams > 1 ? req->params[1] : NULL;
    st->rid = req->nparams > 2 ? req->params[2] : NULL;
    st->fields = SY_KINTO_F_ALL;
    return job;
}

static void invalid(sy_request_t *req, sy_response_t *resp, const sy_kinto_invalid_t *e)
{
    sy_resp_invalid_param(req, resp, e->location, e->name, e->description);
}

/* Authenticates and picks the Sync session (the batch's when shared). */
static bool authenticate(sy_view_job_t *job)
{
    vstate_t *st = job->state;

    if (sy_auth_from_request(job->req, job->resp, &st->auth) != SY_OK)
        return false;
    job->sync = sy_batch_session(job->req, &st->auth);
    if (job->sync == NULL) {
        job->sync = sy_pcalloc(job->req->pool, sizeof(*job->sync));
        sy_sync_init(job->sync, job->req, &st->auth);
    }
    return true;
}

/* The collection id of the path, and its record id when record is set;
 * answers 400 and returns false when one is not valid. */
static bool check_ids(sy_view_job_t *job, bool record)
{
    vstate_t *st = job->state;
    const char *bad = NULL;

    if (!sy_kinto_valid_collection(st->cid))
        bad = "Invalid collection id";
    else if (record && !sy_kinto_valid_record_id(st->rid))
        bad = "Invalid record id";
    if (bad == NULL)
        return true;
    sy_resp_invalid_param(job->req, job->resp, "path", NULL, bad);
    return false;
}

static bool parse_preconditions(sy_view_job_t *job)
{
    vstate_t *st = job->state;
    sy_kinto_invalid_t e;

    if (sy_kinto_precond_parse(sy_req_header(job->req, "if-match"),
                               sy_req_header(job->req, "if-none-match"), &st->pre, &e) == SY_OK)
        return true;
    invalid(job->req, job->resp, &e);
    return false;
}

static void set_etag(sy_request_t *req, sy_response_t *resp, int64_t ms)
{
    char date[64];

    if (ms < 0)
        ms = 0;
    sy_resp_set_header(req, resp, "ETag", sy_psprintf(req->pool, "\"%lld\"", (long long)ms));
    sy_ts_http_date(ms, date, sizeof(date));
    sy_resp_set_header(req, resp, "Last-Modified", date);
}

/* A body written straight into resp->body (large lists). */
static void raw_json_begin(sy_request_t *req, sy_response_t *resp, int status)
{
    resp->status = status;
    resp->json = NULL;
    resp->has_body = true;
    sy_buf_reset(&resp->body);
    sy_resp_set_header(req, resp, "Content-Type", JSON_CT);
}

/* A 2xx from Sync that cannot be read as expected: upstream is broken. */
static void upstream_unusable(sy_view_job_t *job)
{
    sy_sync_result_t r = job->res;

    r.rc = SY_ERR_UPSTREAM;
    sy_errors_respond(job->req, job->resp, &r);
}

/* Kinto error for a failed Sync call; a 304 keeps the ETag asked about. */
static void upstream_error(sy_view_job_t *job, const sy_sync_result_t *res)
{
    vstate_t *st = job->state;

    sy_errors_respond(job->req, job->resp, res);
    if (job->resp->status == 304 && sy_resp_header(job->resp, "ETag") == NULL &&
        st->pre.if_none_match_ms != SY_SYNC_NO_TS)
        set_etag(job->req, job->resp, st->pre.if_none_match_ms);
}

static bool is_precondition_failed(const sy_sync_result_t *res)
{
    return res->rc == SY_OK && res->stage == SY_SYNC_STAGE_SYNC && res->status == 412;
}

/* 200 with {"data": data}. */
static void data_response(sy_view_job_t *job, json_object *data)
{
    json_object *body = sy_json_must(json_object_new_object());

    json_object_object_add(body, "data", data);
    sy_resp_json(job->req, job->resp, 200, body);
}

/* data_response() with the ETag and Last-Modified of ms, and Sync's headers
 * from res. */
static void data_response_at(sy_view_job_t *job, json_object *data, int64_t ms,
                             const sy_sync_result_t *res)
{
    data_response(job, data);
    set_etag(job->req, job->resp, ms);
    sy_errors_export(job->req, job->resp, res);
}

/* data_response() for one record, dated by its last_modified. */
static void record_response(sy_view_job_t *job, json_object *rec, const sy_sync_result_t *res)
{
    json_object *lm;

    json_object_object_get_ex(rec, "last_modified", &lm);
    data_response_at(job, rec, json_object_get_int64(lm), res);
}

/* Sends job->op to Sync, alone or with the rest of the batch. */
static void run(sy_view_job_t *job, bool read)
{
    job->read = read;
    job->pending = true;
    sy_view_job_run(job);
}

/* run() with the request's If-Match / If-None-Match as Sync's X-If-*. */
static void run_with_preconditions(sy_view_job_t *job, bool read)
{
    vstate_t *st = job->state;

    sy_kinto_precond_apply(&st->pre, &job->op);
    run(job, read);
}

/* Keeps the answer at hand and queues a GET of the record, whose answer
 * comes back to the finish function in the given stage. */
static void queue_get(sy_view_job_t *job, stage_t stage)
{
    vstate_t *st = job->state;

    st->main = job->res;
    st->stage = stage;
    sy_sync_op_get_record(job->req->pool, &job->op, st->cid, st->rid);
    job->read = true;
    job->pending = true;
}

/* ---- 412 with details.existing --------------------------------------- */

/* The record fetched after a 412 goes into the 412's details.existing. */
static void finish_conflict(sy_view_job_t *job)
{
    vstate_t *st = job->state;
    json_object *existing = NULL;

    if (sy_sync_result_ok(&job->res))
        existing = sy_kinto_record_new(job->res.json, SY_KINTO_F_ALL);
    sy_errors_respond(job->req, job->resp, &st->main);
    if (job->resp->json != NULL && job->resp->status == 412) {
        json_object *details = sy_json_must(json_object_new_object());
        json_object_object_add(details, "existing", existing);
        json_object_object_add(job->resp->json, "details", details);
    } else {
        json_object_put(existing);
    }
}

/* What every one-record view does with Sync's answer before mapping it:
 * the 412 follow-up (a precondition failed: fetch the record as it is now
 * for details.existing, which Kinto.js resolves conflicts from), and
 * upstream errors. True when job->res is a success left to map. */
static bool record_result_ok(sy_view_job_t *job)
{
    vstate_t *st = job->state;

    if (st->stage == STAGE_EXISTING) {
        finish_conflict(job);
        return false;
    }
    if (is_precondition_failed(&job->res)) {
        queue_get(job, STAGE_EXISTING);
        return false;
    }
    if (!sy_sync_result_ok(&job->res)) {
        upstream_error(job, &job->res);
        return false;
    }
    return true;
}

/* ---- records list ---------------------------------------------------- */

static void records_finish(sy_view_job_t *job)
{
    sy_request_t *req = job->req;
    sy_response_t *resp = job->resp;
    vstate_t *st = job->state;
    const sy_sync_result_t *res = &job->res;
    size_t nsync, n = 0;
    int64_t etag;
    sy_rc_t rc;

    if (!sy_sync_result_ok(res)) {
        upstream_error(job, res);
        return;
    }
    /* Sync's array is rewritten into {"data":[…]} in one pass over its
     * text, straight into the response body, which is sized once for it:
     * the records are about as long in Kinto's form as in Sync's. */
    raw_json_begin(req, resp, 200);
    sy_buf_reserve(&resp->body, res->body_len + res->body_len / 8 + 64);
    rc = sy_kinto_rewrite_list(&resp->body, res->body, res->body_len, &st->list, &nsync, &n);
    if (rc == SY_ERR_INVALID) {
        upstream_unusable(job);
        return;
    }
    if (rc != SY_OK) {
        sy_resp_error(req, resp, 500, SY_ERRNO_UNDEFINED, "Response too large.", NULL);
        return;
    }
    etag = sy_kinto_list_etag(&st->list, res->last_modified_ms, nsync);
    set_etag(req, resp, etag);
    if (!st->list.has_limit && res->records >= 0) {
        long total = res->records - (long)(nsync - n);
        sy_resp_set_header(req, resp, "Total-Records",
                           sy_psprintf(req->pool, "%ld", total > 0 ? total : 0));
    }
    if (res->next_offset != NULL && res->next_offset[0] != '\0') {
        const char *q = sy_kinto_next_page_query(req->pool, req->query_string, res->next_offset);
        sy_resp_set_header(req, resp, "Next-Page",
                           sy_req_public_url(req, sy_psprintf(req->pool, "%s?%s", req->path, q)));
    }
    sy_errors_export(req, resp, res);
}

void sy_view_records(sy_request_t *req, sy_response_t *resp)
{
    sy_view_job_t *job = job_new(req, resp, records_finish);
    vstate_t *st = job->state;
    sy_kinto_invalid_t e;

    if (!authenticate(job) || !check_ids(job, false))
        return;
    if (sy_kinto_list_parse(req->pool, &req->query, &st->list, &e) != SY_OK) {
        invalid(req, resp, &e);
        return;
    }
    if (!parse_preconditions(job))
        return;
    sy_sync_op_get_collection(req->pool, &job->op, st->cid, &st->list.q);
    job->op.raw_body = true; /* records_finish() reads the text itself */
    run_with_preconditions(job, true);
}

/* ---- one record: GET ------------------------------------------------- */

static void record_get_finish(sy_view_job_t *job)
{
    vstate_t *st = job->state;
    json_object *rec;

    if (!record_result_ok(job))
        return;
    rec = sy_kinto_record_new(job->res.json, st->fields);
    if (rec == NULL) {
        upstream_unusable(job);
        return;
    }
    record_response(job, rec, &job->res);
}

static void record_get(sy_request_t *req, sy_response_t *resp)
{
    sy_view_job_t *job = job_new(req, resp, record_get_finish);
    vstate_t *st = job->state;

    if (!authenticate(job) || !check_ids(job, true) || !parse_preconditions(job))
        return;
    st->fields = sy_kinto_query_fields(req->pool, &req->query);
    sy_sync_op_get_record(req->pool, &job->op, st->cid, st->rid);
    run_with_preconditions(job, true);
}

/* ---- one record: PUT ------------------------------------------------- */

/* Timestamp of a write: X-Last-Modified, else the body ("1441868927.07"
 * for a PUT, {"modified": …} for a DELETE); -1 when the answer has neither
 * (it is then unusable: a made-up last_modified would be worse). */
static int64_t written_at(const sy_sync_result_t *res)
{
    json_object *v = res->json;
    int64_t ms;

    if (res->last_modified_ms != SY_SYNC_NO_TS)
        return res->last_modified_ms;
    if (json_object_is_type(v, json_type_object))
        json_object_object_get_ex(res->json, "modified", &v);
    return sy_kinto_bso_modified(v, &ms) ? ms : -1;
}

static void record_put_finish(sy_view_job_t *job)
{
    vstate_t *st = job->state;
    json_object *rec;

    if (st->stage == STAGE_FETCH) {
        /* The record as Sync now holds it; the PUT's own fields when that
         * read failed (the write itself succeeded). */
        rec = sy_sync_result_ok(&job->res) ? sy_kinto_record_new(job->res.json, SY_KINTO_F_ALL)
                                           : NULL;
        if (rec != NULL && st->put.has_ttl)
            json_object_object_add(rec, "ttl", sy_json_must(json_object_new_int64(st->put.ttl)));
        if (rec == NULL)
            rec = sy_kinto_put_record(st->rid, &st->put, st->put_ms);
        record_response(job, rec, &st->main);
        return;
    }
    if (!record_result_ok(job))
        return;
    st->put_ms = written_at(&job->res);
    if (st->put_ms < 0) {
        upstream_unusable(job);
        return;
    }
    if (sy_kinto_put_needs_fetch(&st->put, &st->pre)) {
        queue_get(job, STAGE_FETCH);
        return;
    }
    record_response(job, sy_kinto_put_record(st->rid, &st->put, st->put_ms), &job->res);
}

static void record_put(sy_request_t *req, sy_response_t *resp)
{
    sy_view_job_t *job = job_new(req, resp, record_put_finish);
    vstate_t *st = job->state;
    sy_kinto_invalid_t e;

    if (sy_kinto_put_parse(req->pool, req->body, req->body_len, &st->put, &e) != SY_OK) {
        invalid(req, resp, &e);
        return;
    }
    if (!sy_settings_put_enabled(settings_of(req), st->cid)) {
        sy_resp_error(req, resp, 405, SY_ERRNO_METHOD_NOT_ALLOWED, MSG_DISABLED, NULL);
        return;
    }
    if (!parse_preconditions(job) || !check_ids(job, true) || !authenticate(job))
        return;
    sy_sync_op_put_record(req->pool, &job->op, st->cid, st->rid, st->put.bso, st->put.bso_len);
    run_with_preconditions(job, false);
}

/* ---- one record: DELETE ---------------------------------------------- */

static void record_delete_finish(sy_view_job_t *job)
{
    vstate_t *st = job->state;
    int64_t ms;

    if (!record_result_ok(job))
        return;
    ms = written_at(&job->res);
    if (ms < 0) {
        upstream_unusable(job);
        return;
    }
    data_response(job, sy_kinto_deleted_record(st->rid, ms));
    sy_errors_export(job->req, job->resp, &job->res);
}

static void record_delete(sy_request_t *req, sy_response_t *resp)
{
    sy_view_job_t *job = job_new(req, resp, record_delete_finish);
    vstate_t *st = job->state;

    if (!sy_settings_delete_enabled(settings_of(req), st->cid)) {
        sy_resp_error(req, resp, 405, SY_ERRNO_METHOD_NOT_ALLOWED, MSG_DISABLED, NULL);
        return;
    }
    if (!parse_preconditions(job) || !check_ids(job, true) || !authenticate(job))
        return;
    sy_sync_op_delete_record(req->pool, &job->op, st->cid, st->rid);
    run_with_preconditions(job, false);
}

void sy_view_record(sy_request_t *req, sy_response_t *resp)
{
    switch (req->method) {
    case SY_M_PUT:
        record_put(req, resp);
        break;
    case SY_M_DELETE:
        record_delete(req, resp);
        break;
    default: /* GET, HEAD */
        record_get(req, resp);
        break;
    }
}

/* ---- bucket and collections: Sync's info/collections ----------------- */

/* Kinto preconditions against a timestamp known here: If-None-Match equal
 * -> 304, If-Match different -> 412. False when resp was answered. */
static bool local_preconditions(sy_view_job_t *job, int64_t ms)
{
    vstate_t *st = job->state;

    if (st->pre.if_none_match_ms != SY_SYNC_NO_TS && st->pre.if_none_match_ms == ms)
        sy_resp_empty(job->req, job->resp, 304);
    else if (st->pre.if_match_ms != SY_SYNC_NO_TS && st->pre.if_match_ms != ms)
        sy_resp_error(job->req, job->resp, 412, SY_ERRNO_MODIFIED_MEANWHILE, SY_ERRORS_MSG_MODIFIED,
                      NULL);
    else
        return true;
    set_etag(job->req, job->resp, ms);
    sy_errors_export(job->req, job->resp, &job->res);
    return false;
}

static json_object *id_and_ts(const char *id, int64_t ms)
{
    json_object *o = sy_json_must(json_object_new_object());

    json_object_object_add(o, "id", sy_json_must(json_object_new_string(id)));
    json_object_object_add(o, "last_modified", sy_json_must(json_object_new_int64(ms)));
    return o;
}

/* The bucket, its collections or one collection, from info/collections:
 * the timestamp is the newest one, or the collection's. */
static void info_finish(sy_view_job_t *job)
{
    vstate_t *st = job->state;
    json_object *info = job->res.json, *data;
    int64_t ms;

    if (!sy_sync_result_ok(&job->res)) {
        upstream_error(job, &job->res);
        return;
    }
    if (!json_object_is_type(info, json_type_object)) {
        upstream_unusable(job);
        return;
    }
    ms = st->info == INFO_COLLECTION ? sy_kinto_info_collection(info, st->cid)
                                     : sy_kinto_info_max(info);
    if (!local_preconditions(job, ms))
        return;
    switch (st->info) {
    case INFO_COLLECTIONS:
        data = sy_kinto_info_list(info);
        break;
    case INFO_COLLECTION:
        data = id_and_ts(st->cid, ms);
        break;
    default: /* INFO_BUCKET */
        data = id_and_ts(st->bid, ms);
        break;
    }
    data_response_at(job, data, ms, &job->res);
}

static void info_view(sy_request_t *req, sy_response_t *resp, info_t what)
{
    sy_view_job_t *job = job_new(req, resp, info_finish);
    vstate_t *st = job->state;

    st->info = what;
    if (!authenticate(job) || (what == INFO_COLLECTION && !check_ids(job, false)) ||
        !parse_preconditions(job))
        return;
    sy_sync_op_info_collections(&job->op);
    run(job, true);
}

void sy_view_bucket(sy_request_t *req, sy_response_t *resp)
{
    info_view(req, resp, INFO_BUCKET);
}

void sy_view_collections(sy_request_t *req, sy_response_t *resp)
{
    info_view(req, resp, INFO_COLLECTIONS);
}

void sy_view_collection(sy_request_t *req, sy_response_t *resp)
{
    info_view(req, resp, INFO_COLLECTION);
}
