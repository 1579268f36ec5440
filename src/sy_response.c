#include "syncto/sy_response.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "syncto/sy_ctx.h"
#include "syncto/sy_json.h"
#include "syncto/sy_log.h"

#define JSON_CT "application/json; charset=UTF-8"
#define BODY_MAX_DEFAULT ((size_t)64 << 20)
#define DEFAULT_RETRY_AFTER 30

/* What browsers may read from a cross-origin response: the union of what
 * kinto-http and Kinto.js read and what Syncto always exposed. */
#define EXPOSE_HEADERS                                                                             \
    "Alert, Backoff, Retry-After, Content-Length, Content-Type, ETag, Last-Modified, "             \
    "Next-Page, Total-Records, Total-Objects, Quota-Remaining, Cache-Control, Expires, Pragma"

static const sy_settings_t *settings_of(const sy_request_t *req)
{
    return req->ctx != NULL ? req->ctx->settings : NULL;
}

/* The serialised body of a list can be larger than the upstream response it
 * came from: Sync payloads are JSON strings, escaped once more here. */
static size_t body_max(const sy_settings_t *s)
{
    if (s != NULL && s->max_upstream_response_bytes > 0 &&
        s->max_upstream_response_bytes < LONG_MAX / 4)
        return (size_t)s->max_upstream_response_bytes * 3 + ((size_t)1 << 20);
    return BODY_MAX_DEFAULT;
}

void sy_resp_init(sy_request_t *req, sy_response_t *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = 200;
    /* Owned by the pool from here: a batch sub-response, which never
     * reaches sy_resp_finish(), releases its body like any other. */
    sy_buf_init_pooled(&resp->body, req->pool, body_max(settings_of(req)));
    /* What is sent to the client holds no credential: records, ids,
     * timestamps and errors. */
    sy_buf_no_secret(&resp->body);
}

void sy_resp_set_header(sy_request_t *req, sy_response_t *resp, const char *name, const char *value)
{
    sy_kv_set(req->pool, &resp->headers, sy_pstrdup(req->pool, name), sy_pstrdup(req->pool, value));
}

void sy_resp_add_header(sy_request_t *req, sy_response_t *resp, const char *name, const char *value)
{
    sy_kv_add(req->pool, &resp->headers, sy_pstrdup(req->pool, name), sy_pstrdup(req->pool, value));
}

const char *sy_resp_header(const sy_response_t *resp, const char *name)
{
    return sy_kv_get(&resp->headers, name);
}

void sy_resp_json(sy_request_t *req, sy_response_t *resp, int status, json_object *obj)
{
    /* Every object handed over is released at pool reset, even when a later
     * call replaces it (a handler turning a result into an error). */
    if (obj != resp->json)
        sy_json_pool_own(req->pool, obj);
    resp->status = status;
    resp->json = obj;
    resp->has_body = true;
    sy_buf_reset(&resp->body);
    if (obj == NULL && sy_buf_appends(&resp->body, "null") != SY_OK)
        resp->has_body = false;
    sy_resp_set_header(req, resp, "Content-Type", JSON_CT);
}

void sy_resp_empty(sy_request_t *req, sy_response_t *resp, int status)
{
    resp->status = status;
    resp->json = NULL;
    resp->has_body = false;
    sy_buf_reset(&resp->body);
    sy_kv_del(&resp->headers, "Content-Type");
    sy_kv_del(&resp->headers, "Content-Length");
}

void sy_resp_redirect(sy_request_t *req, sy_response_t *resp, const char *location)
{
    sy_resp_empty(req, resp, 307);
    sy_resp_set_header(req, resp, "Location", location);
}

void sy_resp_backoff(sy_request_t *req, sy_response_t *resp, long seconds)
{
    const char *current = sy_resp_header(resp, "Backoff");

    if (seconds <= 0)
        return;
    /* The value is one this function wrote: whole seconds. */
    if (current != NULL && strtol(current, NULL, 10) >= seconds)
        return;
    sy_resp_set_header(req, resp, "Backoff", sy_psprintf(req->pool, "%ld", seconds));
}

static json_object *error_obj(int status, sy_errno_t kinto_errno, const char *error,
                              const char *message, json_object *details)
{
    json_object *o = sy_json_must(json_object_new_object());

    json_object_object_add(o, "code", sy_json_must(json_object_new_int(status)));
    json_object_object_add(o, "errno", sy_json_must(json_object_new_int(kinto_errno)));
    json_object_object_add(o, "error", sy_json_must(json_object_new_string(error)));
    if (message != NULL)
        json_object_object_add(o, "message", sy_json_must(json_object_new_string(message)));
    if (details != NULL)
        json_object_object_add(o, "details", details);
    return o;
}

void sy_resp_error(sy_request_t *req, sy_response_t *resp, int status, sy_errno_t kinto_errno,
                   const char *message, json_object *details)
{
    /* Validation errors name themselves "Invalid parameters", as cliquet's
     * do, rather than "Bad Request". */
    const char *error = status == 400 && kinto_errno == SY_ERRNO_INVALID_PARAMETERS
                            ? "Invalid parameters"
                            : sy_http_reason(status);

    sy_resp_json(req, resp, status, error_obj(status, kinto_errno, error, message, details));
    if (status >= 500) {
        /* Every 5xx tells clients when to come back (Kinto protocol). */
        const sy_settings_t *s = settings_of(req);
        int secs = s != NULL ? s->retry_after_seconds : DEFAULT_RETRY_AFTER;
        char v[16];
        snprintf(v, sizeof(v), "%d", secs);
        sy_resp_set_header(req, resp, "Retry-After", v);
    }
}

void sy_resp_invalid_param(sy_request_t *req, sy_response_t *resp, const char *location,
                           const char *name, const char *description)
{
    json_object *details = sy_json_must(json_object_new_array());
    json_object *d = sy_json_must(json_object_new_object());
    const char *message;

    if (description == NULL)
        description = "";
    json_object_object_add(d, "location", sy_json_must(json_object_new_string(location)));
    json_object_object_add(d, "name",
                           name != NULL ? sy_json_must(json_object_new_string(name)) : NULL);
    json_object_object_add(d, "description", sy_json_must(json_object_new_string(description)));
    json_object_array_add(details, d);
    if (name == NULL)
        message = sy_psprintf(req->pool, "%s: %s", location, description);
    else if (strstr(description, name) != NULL)
        message = description;
    else
        message = sy_psprintf(req->pool, "%s in %s: %s", name, location, description);
    sy_resp_error(req, resp, 400, SY_ERRNO_INVALID_PARAMETERS, message, details);
}

/* The titles Pyramid/WebOb give, which Kinto clients have always seen in
 * the "error" field. */
static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Request Entity Too Large"},
    {414, "Request-URI Too Long"},
    {415, "Unsupported Media Type"},
    {422, "Unprocessable Entity"},
    {429, "Too Many Requests"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
};

const char *sy_http_reason(int status)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (reasons[i].status == status)
            return reasons[i].reason;
    }
    if (status >= 200 && status < 300)
        return "OK";
    if (status >= 300 && status < 400)
        return "Redirection";
    if (status >= 400 && status < 500)
        return "Bad Request";
    return "Internal Server Error";
}

/* syncto.cors_origins is "*" or a list of origins separated by spaces or
 * commas. Origins compare case-insensitively (scheme and host are). */
static bool origin_allowed(const sy_settings_t *s, const char *origin)
{
    const char *list, *p;
    size_t olen = strlen(origin);

    if (s == NULL)
        return true;
    list = s->cors_origins;
    if (list == NULL)
        return false;
    p = list;
    while (*p != '\0') {
        size_t n;
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        n = strcspn(p, " ,\t");
        if (n == 1 && p[0] == '*')
            return true;
        if (n > 0 && n == olen && strncasecmp(p, origin, n) == 0)
            return true;
        p += n;
    }
    return false;
}

static void vary_add(sy_request_t *req, sy_response_t *resp, const char *field)
{
    const char *vary = sy_resp_header(resp, "Vary");

    if (vary == NULL || vary[0] == '\0') {
        sy_resp_set_header(req, resp, "Vary", field);
        return;
    }
    if (strcasestr(vary, field) != NULL)
        return;
    sy_resp_set_header(req, resp, "Vary", sy_psprintf(req->pool, "%s, %s", vary, field));
}

static void serialize(sy_request_t *req, sy_response_t *resp)
{
    size_t len = 0;
    const char *s = json_object_to_json_string_length(resp->json, SY_JSON_FLAGS, &len);

    if (s == NULL) {
        static const char msg[] = "syncto: out of memory serialising JSON\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)w;
        abort();
    }
    if (sy_buf_append(&resp->body, s, len) == SY_OK)
        return;
    sy_log_error(req->request_id, "response body of %zu bytes exceeds the %zu bytes cap", len,
                 resp->body.max);
    sy_resp_error(req, resp, 500, SY_ERRNO_UNDEFINED, "Response too large.", NULL);
    s = json_object_to_json_string_length(resp->json, SY_JSON_FLAGS, &len);
    if (s == NULL || sy_buf_append(&resp->body, s, len) != SY_OK) {
        resp->has_body = false;
        resp->json = NULL;
    }
}

/* "Backoff header on heavy load" (Kinto protocol): true when more than
 * syncto.backoff_threshold of this worker's threads are busy, the request
 * being answered included. A threshold of 0 always sends it (a static
 * back-off); 1 never does. */
static bool under_load(const sy_request_t *req, const sy_settings_t *s)
{
    if (s == NULL || s->backoff <= 0)
        return false;
    if (s->backoff_threshold <= 0)
        return true;
    return sy_ctx_busy_ratio(req->ctx) > s->backoff_threshold;
}

void sy_resp_finish(sy_request_t *req, sy_response_t *resp)
{
    const sy_settings_t *s = settings_of(req);
    const char *origin = sy_req_header(req, "origin");
    char num[32];

    if (origin != NULL && origin[0] != '\0' && origin_allowed(s, origin)) {
        sy_resp_set_header(req, resp, "Access-Control-Allow-Origin", origin);
        vary_add(req, resp, "Origin");
    }
    sy_resp_set_header(req, resp, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
    if (sy_resp_header(resp, "Cache-Control") == NULL)
        sy_resp_set_header(req, resp, "Cache-Control", "no-cache");
    if (resp->status >= 500 && sy_resp_header(resp, "Retry-After") == NULL) {
        snprintf(num, sizeof(num), "%d", s != NULL ? s->retry_after_seconds : DEFAULT_RETRY_AFTER);
        sy_resp_set_header(req, resp, "Retry-After", num);
    }
    if (resp->status < 400) {
        /* Clients resend any request whose response has Retry-After: on a
         * success that would replay a write. */
        sy_kv_del(&resp->headers, "Retry-After");
        if (under_load(req, s))
            sy_resp_backoff(req, resp, s->backoff);
    }
    if (resp->status < 200 || resp->status == 204 || resp->status == 304) {
        resp->has_body = false;
        resp->json = NULL;
        sy_buf_reset(&resp->body);
        sy_kv_del(&resp->headers, "Content-Type");
        sy_kv_del(&resp->headers, "Content-Length");
    } else if (resp->has_body) {
        if (resp->json != NULL && resp->body.len == 0)
            serialize(req, resp);
        snprintf(num, sizeof(num), "%zu", resp->body.len);
        sy_resp_set_header(req, resp, "Content-Length", num);
    } else if (req->method != SY_M_HEAD) {
        sy_resp_set_header(req, resp, "Content-Length", "0");
    }
}
