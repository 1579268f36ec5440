/* Upstream outcome -> Kinto error response (see the table in sy_errors.h). */
#include "syncto/sy_errors.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "syncto/sy_backoff.h"
#include "syncto/sy_ctx.h"
#include "syncto/sy_json.h"

#define DEFAULT_RETRY_AFTER 30

void sy_errors_map(sy_rc_t rc, int upstream_status, sy_error_map_t *out)
{
    memset(out, 0, sizeof(*out));
    if (rc == SY_ERR_UNREACHABLE) {
        out->status = 503;
        out->kinto_errno = SY_ERRNO_BACKEND;
        out->message = SY_ERRORS_MSG_UNREACHABLE;
        return;
    }
    if (rc != SY_OK) {
        out->status = 503;
        out->kinto_errno = SY_ERRNO_BACKEND;
        out->message = SY_ERRORS_MSG_UNAVAILABLE;
        return;
    }
    switch (upstream_status) {
    case 304:
        out->status = 304;
        out->empty = true;
        break;
    case 400:
        out->status = 400;
        out->kinto_errno = SY_ERRNO_INVALID_PARAMETERS;
        break;
    case 401:
        out->status = 401;
        out->kinto_errno = SY_ERRNO_INVALID_AUTH_TOKEN;
        break;
    case 403:
        out->status = 403;
        out->kinto_errno = SY_ERRNO_FORBIDDEN;
        break;
    case 404:
        out->status = 404;
        out->kinto_errno = SY_ERRNO_INVALID_RESOURCE_ID;
        break;
    case 412:
        out->status = 412;
        out->kinto_errno = SY_ERRNO_MODIFIED_MEANWHILE;
        out->message = SY_ERRORS_MSG_MODIFIED;
        break;
    case 413:
        /* Retrying cannot help a body that is too large: no 503 here. */
        out->status = 413;
        out->kinto_errno = SY_ERRNO_REQUEST_TOO_LARGE;
        break;
    default:
        out->status = 503;
        out->kinto_errno = SY_ERRNO_BACKEND;
        out->message = SY_ERRORS_MSG_UNAVAILABLE;
        break;
    }
}

char *sy_errors_upstream_message(sy_pool_t *pool, int status, const char *body, size_t len)
{
    const char *b = body != NULL ? body : "";
    char *clean;
    size_t i;

    while (len > 0 && (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\n')) {
        b++;
        len--;
    }
    while (len > 0 &&
           (b[len - 1] == ' ' || b[len - 1] == '\t' || b[len - 1] == '\r' || b[len - 1] == '\n'))
        len--;
    if (len > SY_ERRORS_BODY_MAX)
        len = SY_ERRORS_BODY_MAX;
    clean = sy_palloc(pool, len + 1);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)b[i];

        clean[i] = (char)(c >= 0x20 && c < 0x7f ? c : '?');
    }
    clean[len] = '\0';
    return sy_psprintf(pool, "%d %s: %s", status, sy_http_reason(status), clean);
}

/* Seconds from a Retry-After worth passing on, else -1. */
static long sane_retry_after(long v)
{
    return v >= 1 && v <= 86400 ? v : -1;
}

static void set_etag(sy_request_t *req, sy_response_t *resp, const sy_sync_result_t *res)
{
    if (res->last_modified_ms != SY_SYNC_NO_TS)
        sy_resp_set_header(req, resp, "ETag",
                           sy_psprintf(req->pool, "\"%lld\"", (long long)res->last_modified_ms));
}

/* Remembers on the client request what made an upstream call end in a 503,
 * for its error report: which service, and its status or the network
 * failure. Only server-written words, never the upstream body. */
static void note_failure(sy_request_t *req, const sy_sync_result_t *res)
{
    sy_request_t *client = sy_req_client(req->ctx);
    const char *who = res->stage == SY_SYNC_STAGE_TOKENSERVER ? "tokenserver" : "sync";

    if (client == NULL || client->upstream_failure != NULL)
        return;
    if (res->rc == SY_OK)
        client->upstream_failure = sy_psprintf(req->pool, "%s answered %d", who, res->status);
    else if (res->rc == SY_ERR_UNREACHABLE)
        client->upstream_failure = sy_psprintf(req->pool, "%s unreachable", who);
    else if (res->rc == SY_ERR_TOO_LARGE)
        client->upstream_failure = sy_psprintf(req->pool, "%s answer over the size cap", who);
    else
        client->upstream_failure =
            sy_psprintf(req->pool, "%s answer unusable (%s)", who, sy_rc_str(res->rc));
}

void sy_errors_respond(sy_request_t *req, sy_response_t *resp, const sy_sync_result_t *res)
{
    sy_error_map_t m;
    json_object *o;
    const char *message;
    long retry;

    sy_errors_map(res->rc, res->status, &m);
    if (m.empty) {
        sy_resp_empty(req, resp, m.status);
        set_etag(req, resp, res);
        sy_errors_export(req, resp, res);
        return;
    }
    message = m.message != NULL
                  ? m.message
                  : sy_errors_upstream_message(req->pool, res->status, res->body, res->body_len);
    /* cliquet's body: {"code","errno","error","message"}, "error" being the
     * reason phrase of the Kinto status ("Bad Request" for a Sync 400). */
    o = sy_json_must(json_object_new_object());
    json_object_object_add(o, "code", sy_json_must(json_object_new_int(m.status)));
    json_object_object_add(o, "errno", sy_json_must(json_object_new_int(m.kinto_errno)));
    json_object_object_add(o, "error",
                           sy_json_must(json_object_new_string(sy_http_reason(m.status))));
    json_object_object_add(o, "message", sy_json_must(json_object_new_string(message)));
    sy_resp_json(req, resp, m.status, o);
    if (m.status == 503) {
        note_failure(req, res);
        retry = res->rc == SY_OK ? sane_retry_after(res->retry_after) : -1;
        if (retry < 0) {
            const sy_ctx_t *ctx = req->ctx;

            retry = ctx != NULL && ctx->settings != NULL && ctx->settings->retry_after_seconds > 0
                        ? ctx->settings->retry_after_seconds
                        : DEFAULT_RETRY_AFTER;
        }
        sy_resp_set_header(req, resp, "Retry-After", sy_psprintf(req->pool, "%ld", retry));
    }
    if (m.status == 412)
        set_etag(req, resp, res);
    sy_errors_export(req, resp, res);
}

void sy_errors_export(sy_request_t *req, sy_response_t *resp, const sy_sync_result_t *res)
{
    long pending = 0;

    if (res->alert != NULL && res->alert[0] != '\0')
        sy_resp_set_header(req, resp, "Alert", res->alert);
    if (res->quota_remaining != NULL && res->quota_remaining[0] != '\0')
        sy_resp_set_header(req, resp, "Quota-Remaining", res->quota_remaining);
    if (res->host != NULL && req->ctx != NULL)
        pending = sy_backoff_remaining(req->ctx, res->host);
    sy_resp_backoff(req, resp, res->backoff > pending ? res->backoff : pending);
}
