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
#include "syncto/sy_ctx.h"
#include "syncto/sy_views.h"

#define M_GET (1u << 0) /* implies HEAD */
#define M_PUT (1u << 1)
#define M_POST (1u << 2)
#define M_DELETE (1u << 3)

#define ALLOW_METHODS "GET,HEAD,PUT,DELETE,POST,OPTIONS"
#define DEFAULT_MAX_AGE 3600

typedef struct {
    const char *pattern; /* "{}" stands for one non-empty decoded segment */
    unsigned methods;
    sy_handler_fn handler;
} route_t;

static const route_t routes[] = {
    {"/v1/", M_GET, sy_view_hello},
    {"/v1/__heartbeat__", M_GET, sy_view_heartbeat},
    {"/v1/__lbheartbeat__", M_GET, sy_view_lbheartbeat},
    {"/v1/__version__", M_GET, sy_view_version},
    {"/v1/fxa-oauth/params", M_GET, sy_view_fxa_params},
    {"/v1/batch", M_POST, sy_view_batch},
    {"/v1/buckets/{}", M_GET, sy_view_bucket},
    {"/v1/buckets/{}/collections", M_GET, sy_view_collections},
    {"/v1/buckets/{}/collections/{}", M_GET, sy_view_collection},
    {"/v1/buckets/{}/collections/{}/records", M_GET, sy_view_records},
    {"/v1/buckets/{}/collections/{}/records/{}", M_GET | M_PUT | M_DELETE, sy_view_record},
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

static void eos_alert(sy_request_t *req, sy_response_t *resp, const sy_settings_t *s,
                      const char *code)
{
    json_object *a = json_object_new_object();

    if (a == NULL)
        return;
    json_object_object_add(a, "code", json_object_new_string(code));
    json_object_object_add(a, "message",
                           json_object_new_string(s->eos_message != NULL ? s->eos_message : ""));
    json_object_object_add(a, "url", json_object_new_string(s->eos_url != NULL ? s->eos_url : ""));
    sy_resp_set_header(req, resp, "Alert", json_object_to_json_string_ext(a, SY_JSON_FLAGS));
    json_object_put(a);
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
        sy_resp_error(req, resp, 404, 116,
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
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (route_match(&routes[i], req)) {
            found = &routes[i];
            break;
        }
    }
    if (found == NULL) {
        sy_resp_error(req, resp, 404, 111, "The resource you are looking for could not be found.",
                      NULL);
        return;
    }
    req->route = found->pattern;
    if ((found->methods & bit) == 0) {
        char allow[64];
        sy_resp_error(req, resp, 405, 115, "Method not allowed on this endpoint.", NULL);
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
    req->nparams = 0;
    if (req->method == SY_M_OPTIONS) {
        req->route = "preflight";
        preflight(req, resp);
        return;
    }
    if (eos && eos_reached(s->eos)) {
        sy_resp_error(req, resp, 410, 202,
                      "This service has reached its end of life and is no longer available.", NULL);
        eos_alert(req, resp, s, "hard-eol");
        return;
    }
    route(req, resp);
    if (eos)
        eos_alert(req, resp, s, "soft-eol");
}
