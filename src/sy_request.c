#include "syncto/sy_request.h"

#include <string.h>
#include "syncto/sy_ctx.h"

static const struct {
    const char *name;
    sy_method_t method;
} methods[] = {
    {"GET", SY_M_GET},       {"HEAD", SY_M_HEAD},   {"PUT", SY_M_PUT},         {"POST", SY_M_POST},
    {"DELETE", SY_M_DELETE}, {"PATCH", SY_M_PATCH}, {"OPTIONS", SY_M_OPTIONS},
};

sy_method_t sy_method_parse(const char *s)
{
    /* Method names are case-sensitive (RFC 9110 9.1). */
    if (s == NULL)
        return SY_M_OTHER;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strcmp(s, methods[i].name) == 0)
            return methods[i].method;
    }
    return SY_M_OTHER;
}

const char *sy_method_name(sy_method_t m)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (methods[i].method == m)
            return methods[i].name;
    }
    return "OTHER";
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *sy_url_encode(sy_pool_t *pool, const char *s, bool (*keep)(unsigned char c))
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s), j = 0;
    char *out = sy_palloc(pool, n * 3 + 1);

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (keep(c)) {
            out[j++] = (char)c;
        } else {
            out[j++] = '%';
            out[j++] = hex[c >> 4];
            out[j++] = hex[c & 15];
        }
    }
    out[j] = '\0';
    return out;
}

char *sy_url_decode(sy_pool_t *pool, const char *s, size_t n, bool plus_is_space)
{
    char *out = sy_palloc(pool, n + 1);
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi, lo;
            if (n - i < 3)
                return NULL;
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return NULL;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        /* A NUL, raw or escaped, would silently truncate every later use. */
        if (c == '\0')
            return NULL;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return out;
}

bool sy_request_set_path(sy_request_t *req, const char *raw_path)
{
    size_t len, nseg, i, start;
    const char *p;
    char **segs;

    req->path = NULL;
    req->segments = NULL;
    req->nsegments = 0;
    req->trailing_slash = false;
    if (raw_path == NULL || raw_path[0] != '/')
        return false;
    req->path = sy_pstrdup(req->pool, raw_path);
    len = strlen(raw_path);
    /* "/" alone has no segment; "/a/b/" is ["a","b"] plus trailing_slash. */
    if (len > 1 && raw_path[len - 1] == '/') {
        req->trailing_slash = true;
        len--;
    }
    if (len <= 1)
        return true;
    nseg = 1;
    for (p = raw_path + 1; p < raw_path + len; p++)
        nseg += *p == '/';
    segs = sy_palloc(req->pool, nseg * sizeof(*segs));
    start = 1;
    nseg = 0;
    for (i = 1; i <= len; i++) {
        if (i < len && raw_path[i] != '/')
            continue;
        segs[nseg] = sy_url_decode(req->pool, raw_path + start, i - start, false);
        if (segs[nseg] == NULL)
            return false;
        /* Dot segments would be resolved by whoever receives a URL built
         * from this id (a Sync path ".../storage/tabs/.." names the whole
         * storage), so they never name a resource here. */
        if (strcmp(segs[nseg], ".") == 0 || strcmp(segs[nseg], "..") == 0)
            return false;
        nseg++;
        start = i + 1;
    }
    req->segments = segs;
    req->nsegments = nseg;
    return true;
}

bool sy_request_set_query(sy_request_t *req, const char *raw_query)
{
    const char *p, *end, *amp, *eq;

    req->query.n = 0;
    if (raw_query == NULL)
        raw_query = "";
    req->query_string = sy_pstrdup(req->pool, raw_query);
    p = raw_query;
    end = raw_query + strlen(raw_query);
    while (p < end) {
        char *name, *value;
        amp = memchr(p, '&', (size_t)(end - p));
        if (amp == NULL)
            amp = end;
        if (amp == p) { /* "a=1&&b=2" */
            p++;
            continue;
        }
        eq = memchr(p, '=', (size_t)(amp - p));
        if (eq == NULL) {
            name = sy_url_decode(req->pool, p, (size_t)(amp - p), true);
            value = name == NULL ? NULL : sy_pstrdup(req->pool, "");
        } else {
            name = sy_url_decode(req->pool, p, (size_t)(eq - p), true);
            value = sy_url_decode(req->pool, eq + 1, (size_t)(amp - eq - 1), true);
        }
        if (name == NULL || value == NULL)
            return false;
        sy_kv_add(req->pool, &req->query, name, value);
        p = amp + 1;
    }
    return true;
}

const char *sy_req_header(const sy_request_t *req, const char *name)
{
    return sy_kv_get(&req->headers, name);
}

const char *sy_req_query(const sy_request_t *req, const char *name)
{
    return sy_kv_get(&req->query, name);
}

const char *sy_req_public_url(const sy_request_t *req, const char *path)
{
    const sy_settings_t *s = req->ctx != NULL ? req->ctx->settings : NULL;
    const char *scheme = req->scheme;
    const char *host = req->host;

    if (s != NULL && s->http_scheme != NULL && s->http_scheme[0] != '\0')
        scheme = s->http_scheme;
    if (s != NULL && s->http_host != NULL && s->http_host[0] != '\0')
        host = s->http_host;
    if (scheme == NULL || scheme[0] == '\0')
        scheme = "http";
    if (host == NULL || host[0] == '\0')
        host = "localhost";
    return sy_psprintf(req->pool, "%s://%s%s", scheme, host, path);
}

sy_request_t *sy_req_client(struct sy_ctx *ctx)
{
    return ctx != NULL ? ctx->request : NULL;
}

void sy_req_note_upstream(struct sy_ctx *ctx, double ms, unsigned ncalls)
{
    sy_request_t *r = sy_req_client(ctx);

    if (r == NULL)
        return;
    if (ms > 0)
        r->upstream_ms += ms;
    r->upstream_calls += ncalls;
}
