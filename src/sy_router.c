/* Request routing: the Kinto URL space of Syncto in one table.
 *
 * Before any handler runs, the router settles what does not depend on the
 * resource: CORS preflights (answered for any path, without auth, since a
 * browser preflights every Kinto call), the cliquet redirects (paths outside
 * /v1, "/v1" itself and trailing slashes, all 307 so that the method and
 * body survive), the end-of-service switch, 404 and 405. HEAD runs the GET
 * handler and keeps only its headers. */
#include "syncto/sy_router.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include "syncto/sy_batch.h"
#include "syncto/sy_ctx.h"
#include "syncto/sy_views.h"
#include "sy_version.h"

#define M_GET (1u << 0) /* implies HEAD */
#define M_PUT (1u << 1)
#define M_POST (1u << 2)
#define M_DELETE (1u << 3)

#define ALLOW_METHODS "GET,HEAD,PUT,DELETE,POST,OPTIONS"
#define DEFAULT_MAX_AGE 3600

typedef struct {
    const char *pattern; /* "{}" stands for one non-empty decoded segment */
    const char *name;    /* short name for metrics, logs and error reports */
    unsigned methods;
    sy_handler_fn handler;
    bool after_eol; /* still served after the end of service */
} route_t;

/* The batch dispatches its sub-requests through the router. */
static void view_batch(sy_request_t *req, sy_response_t *resp)
{
    sy_view_batch(req, resp, sy_router_dispatch);
}

/* The names are those the original Syncto's metrics used, so that existing
 * dashboards keep working. The heartbeats and the version stay up after the
 * end of service: load balancers and monitoring must not take a node out
 * while it answers clients 410. */
static const route_t routes[] = {
    {"/v1/", "hello", M_GET, sy_view_hello, false},
    {"/v1/__heartbeat__", "heartbeat", M_GET, sy_view_heartbeat, true},
    {"/v1/__lbheartbeat__", "lbheartbeat", M_GET, sy_view_lbheartbeat, true},
    {"/v1/__version__", "version", M_GET, sy_view_version, true},
    {"/v1/fxa-oauth/params", "fxa-oauth", M_GET, sy_view_fxa_params, false},
    {"/v1/batch", "batch", M_POST, view_batch, false},
    {"/v1/buckets/{}", "bucket", M_GET, sy_view_bucket, false},
    {"/v1/buckets/{}/collections", "collections", M_GET, sy_view_collections, false},
    {"/v1/buckets/{}/collections/{}", "collection", M_GET, sy_view_collection, false},
    {"/v1/buckets/{}/collections/{}/records", "records", M_GET, sy_view_records, false},
    {"/v1/buckets/{}/collections/{}/records/{}", "record", M_GET | M_PUT | M_DELETE, sy_view_record,
     false},
};

static const sy_settings_t *settings_of(const sy_request_t *req)
{
    return req->ctx != NULL ? req->ctx->settings : NULL;
}

static unsigned method_bit(sy_method_t m)
{
    switch (m) {
    case SY_M_GET:
    case SY_M_HEAD:
        return M_GET;
    case SY_M_PUT:
        return M_PUT;
    case SY_M_POST:
        return M_POST;
    case SY_M_DELETE:
        return M_DELETE;
    default:
        return 0;
    }
}

/* Compares the decoded segments with a pattern; on success stores the
 * placeholder values in req->params. Trailing slashes were redirected
 * before, so "/v1/" is the only pattern whose slash matters and it is
 * matched as the single segment "v1". */
static bool route_match(const route_t *r, sy_request_t *req)
{
    const char *p = r->pattern + 1;
    size_t i = 0, np = 0;
    const char *params[4];

    while (*p != '\0') {
        size_t n = strcspn(p, "/");
        const char *seg;
        if (i >= req->nsegments)
            return false;
        seg = req->segments[i++];
        if (n == 2 && p[0] == '{' && p[1] == '}') {
            if (seg[0] == '\0' || np >= sizeof(params) / sizeof(params[0]))
                return false;
            params[np++] = seg;
        } else if (strlen(seg) != n || strncmp(seg, p, n) != 0) {
            return false;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    if (i != req->nsegments)
        return false;
    memcpy(req->params, params, np * sizeof(params[0]));
    req->nparams = np;
    return true;
}

static const char *allow_header(unsigned methods, char *buf, size_t buflen)
{
    static const struct {
        unsigned bit;
        const char *names;
    } names[] = {{M_GET, "GET, HEAD"}, {M_PUT, "PUT"}, {M_POST, "POST"}, {M_DELETE, "DELETE"}};
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if ((methods & names[i].bit) == 0)
            continue;
        int n = snprintf(buf + len, buflen - len, "%s%s", len > 0 ? ", " : "", names[i].names);
        if (n < 0 || (size_t)n >= buflen - len)
            break;
        len += (size_t)n;
    }
    return buf;
}

/* Access-Control-Request-Headers is echoed back; only a plain list of
 * header names is, anything else is dropped. */
static bool header_list_ok(const char *s)
{
    for (; *s != '\0'; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == ',' || c == ' '))
            return false;
    }
    return true;
}

static void preflight(sy_request_t *req, sy_response_t *resp)
{
    const sy_settings_t *s = settings_of(req);
    const char *wanted = sy_req_header(req, "access-control-request-headers");
    int max_age = s != NULL ? s->cors_max_age_seconds : DEFAULT_MAX_AGE;
    char num[16];

    sy_resp_empty(req, resp, 200);
    sy_resp_set_header(req, resp, "Access-Control-Allow-Methods", ALLOW_METHODS);
    if (wanted != NULL && wanted[0] != '\0' && strlen(wanted) <= 1024 && header_list_ok(wanted))
        sy_resp_set_header(req, resp, "Access-Control-Allow-Headers", wanted);
    if (max_age >= 0) {
        snprintf(num, sizeof(num), "%d", max_age);
        sy_resp_set_header(req, resp, "Access-Control-Max-Age", num);
    }
}

static void redirect(sy_request_t *req, sy_response_t *resp, const char *prefix, const char *path,
                     size_t pathlen)
{
    const char *q = req->query_string != NULL ? req->query_string : "";

    sy_resp_redirect(req, resp,
                     sy_psprintf(req->pool, "%s%.*s%s%s", prefix, (int)pathlen, path,
                                 q[0] != '\0' ? "?" : "", q));
}

/* "v" followed by a digit: a protocol version prefix, never redirected. */
static bool is_version_segment(const char *seg)
{
    return seg[0] == 'v' && seg[1] >= '0' && seg[1] <= '9';
}

/* End of service (syncto.eos): before the date every response carries a
 * soft-eol Alert; from then on every request is answered 410 errno 202
 * with a hard-eol Alert. The date is ISO 8601, compared as text with the
 * current UTC time at the precision it was given in. */
static bool eos_reached(const char *eos)
{
    char now[32];
    struct tm tm;
    time_t t = time(NULL);
    size_t n;

    if (gmtime_r(&t, &tm) == NULL || strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return false;
    n = strlen(eos);
    if (n > strlen(now))
        n = strlen(now);
    return strncmp(now, eos, n) >= 0;
}

/* Texts used when syncto.eos_message / syncto.eos_url are left empty. */
#define EOS_SOFT_MESSAGE "This service will soon be decommissioned."
#define EOS_HARD_MESSAGE "This service has been decommissioned."

/* Sets the one Alert header of the response. It replaces any other Alert
 * (the X-Client-State deprecation notice, a Sync node's X-Weave-Alert):
 * clients read a single JSON object, and the end of the whole service is
 * the notice that matters most. */
static void eos_alert(sy_request_t *req, sy_response_t *resp, const sy_settings_t *s,
                      const char *code)
{
    json_object *a = json_object_new_object();
    bool hard = strcmp(code, "hard-eol") == 0;
    const char *msg = s->eos_message != NULL && s->eos_message[0] != '\0'
                          ? s->eos_message
                          : (hard ? EOS_HARD_MESSAGE : EOS_SOFT_MESSAGE);
    const char *url = s->eos_url != NULL && s->eos_url[0] != '\0' ? s->eos_url : SY_PROJECT_DOCS;

    if (a == NULL)
        return;
    json_object_object_add(a, "code", json_object_new_string(code));
    json_object_object_add(a, "message", json_object_new_string(msg));
    json_object_object_add(a, "url", json_object_new_string(url));
    sy_resp_set_header(req, resp, "Alert", json_object_to_json_string_ext(a, SY_JSON_FLAGS));
    json_object_put(a);
}

/* The route whose pattern matches the request's path, or NULL. */
static const route_t *find_route(sy_request_t *req)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (route_match(&routes[i], req))
            return &routes[i];
    }
    return NULL;
}

static void route(sy_request_t *req, sy_response_t *resp)
{
    const route_t *found = NULL;
    unsigned bit = method_bit(req->method);
    const char *path = req->path != NULL ? req->path : "/";
    size_t len;

    /* Outside a version prefix: 307 to the same path under /v1. */
    if (req->nsegments == 0 || !is_version_segment(req->segments[0])) {
        redirect(req, resp, "/v1", path, strlen(path));
        return;
    }
    if (strcmp(req->segments[0], "v1") != 0) {
        sy_resp_error(req, resp, 404, SY_ERRNO_VERSION_NOT_AVAILABLE,
                      "The requested API version is not available on this server.", NULL);
        return;
    }
    if (req->nsegments == 1 && !req->trailing_slash) {
        redirect(req, resp, "/v1/", "", 0);
        return;
    }
    if (req->nsegments > 1 && req->trailing_slash) {
        len = strlen(path);
        while (len > 1 && path[len - 1] == '/')
            len--;
        if (len == 3) /* "/v1//" */
            redirect(req, resp, "/v1/", "", 0);
        else
            redirect(req, resp, "", path, len);
        return;
    }
    found = find_route(req);
    if (found == NULL) {
        sy_resp_error(req, resp, 404, SY_ERRNO_MISSING_RESOURCE,
                      "The resource you are looking for could not be found.", NULL);
        return;
    }
    req->route = found->pattern;
    req->route_name = found->name;
    if ((found->methods & bit) == 0) {
        char allow[64];
        sy_resp_error(req, resp, 405, SY_ERRNO_METHOD_NOT_ALLOWED,
                      "Method not allowed on this endpoint.", NULL);
        sy_resp_set_header(req, resp, "Allow", allow_header(found->methods, allow, sizeof(allow)));
        return;
    }
    found->handler(req, resp);
    if (req->method == SY_M_HEAD && resp->has_body) {
        /* Same headers as GET, Content-Length included, but no body. */
        char num[32];
        size_t n = resp->body.len;
        if (resp->json != NULL && n == 0)
            json_object_to_json_string_length(resp->json, SY_JSON_FLAGS, &n);
        resp->has_body = false;
        resp->json = NULL;
        sy_buf_reset(&resp->body);
        snprintf(num, sizeof(num), "%zu", n);
        sy_resp_set_header(req, resp, "Content-Length", num);
    }
}

void sy_router_dispatch(sy_request_t *req, sy_response_t *resp)
{
    const sy_settings_t *s = settings_of(req);
    bool eos = !req->is_subrequest && s != NULL && s->eos != NULL && s->eos[0] != '\0';

    req->route = NULL;
    req->route_name = NULL;
    req->nparams = 0;
    if (req->method == SY_M_OPTIONS) {
        req->route = "preflight";
        req->route_name = "preflight";
        preflight(req, resp);
        return;
    }
    if (eos && eos_reached(s->eos)) {
        const route_t *r = find_route(req);

        if (r == NULL || !r->after_eol) {
            if (r != NULL) {
                req->route = r->pattern;
                req->route_name = r->name;
            }
            sy_resp_error(req, resp, 410, SY_ERRNO_SERVICE_DEPRECATED,
                          "This service has reached its end of life and is no longer available.",
                          NULL);
        } else {
            route(req, resp);
        }
        eos_alert(req, resp, s, "hard-eol");
        return;
    }
    route(req, resp);
    if (eos)
        eos_alert(req, resp, s, "soft-eol");
}
