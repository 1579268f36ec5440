/* Outgoing HTTP over libcurl: one multi handle and a few easy handles per
 * worker thread.
 *
 * Every request, single or concurrent, goes through the multi handle, so all
 * of them share its connection cache (keep-alive to the tokenserver and to the
 * Sync node survives from one Kinto request to the next). DNS answers and TLS
 * sessions are shared between the easy handles through a CURLSH that needs no
 * locking, because the whole sy_http_t belongs to one thread. */
#include "syncto/sy_http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "syncto/sy_buf.h"
#include "syncto/sy_ctx.h"
#include "syncto/sy_request.h"

/* Response headers are small; this is far above anything Sync sends. */
#define HEADER_BYTES_MAX (64 * 1024)
#define DEFAULT_RESPONSE_MAX (16L * 1024 * 1024)

struct sy_http {
    const sy_settings_t *settings;
    CURLM *multi;
    CURLSH *share;
    CURL *easy[SY_HTTP_MAX_CONCURRENCY];
};

/* One transfer in flight. */
typedef struct {
    sy_pool_t *pool;
    const sy_http_req_t *req;
    sy_http_resp_t *resp;
    CURL *easy;
    struct curl_slist *hdrs;
    sy_buf_t body;
    size_t header_bytes;
    bool too_large;
} xfer_t;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init_once(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        abort();
}

void sy_http_global_init(void)
{
    pthread_once(&global_once, global_init_once);
}

sy_http_t *sy_http_new(const sy_settings_t *s)
{
    sy_http_t *h;

    sy_http_global_init();
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        abort();
    h->settings = s;
    h->multi = curl_multi_init();
    h->share = curl_share_init();
    if (h->multi == NULL || h->share == NULL)
        abort();
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    return h;
}

void sy_http_free(sy_http_t *h)
{
    size_t i;

    if (h == NULL)
        return;
    for (i = 0; i < SY_HTTP_MAX_CONCURRENCY; i++)
        if (h->easy[i] != NULL)
            curl_easy_cleanup(h->easy[i]);
    curl_multi_cleanup(h->multi);
    curl_share_cleanup(h->share);
    free(h);
}

static CURL *easy_handle(sy_http_t *h, size_t slot)
{
    if (h->easy[slot] == NULL) {
        h->easy[slot] = curl_easy_init();
        if (h->easy[slot] == NULL)
            abort();
        curl_easy_setopt(h->easy[slot], CURLOPT_SHARE, h->share);
    }
    return h->easy[slot];
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *data)
{
    xfer_t *x = data;
    size_t n = size * nmemb;

    if (sy_buf_append(&x->body, ptr, n) != SY_OK) {
        x->too_large = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return n;
}

/* Sizes the receive buffer from the Content-Length of the answer, so that a
 * multi-MB body is received into one block instead of being moved at every
 * doubling. A length over the cap is left alone (curl refuses the transfer),
 * and the buffer still grows past a short announced length or stops at the
 * cap when the body is longer than announced. */
static void reserve_body(xfer_t *x, const char *v, size_t n)
{
    size_t len = 0;

    if (n == 0 || n > 19)
        return;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return;
        len = len * 10 + (size_t)(v[i] - '0');
    }
    if (len > 0 && len <= x->body.max)
        sy_buf_reserve(&x->body, len);
}

static size_t header_cb(char *line, size_t size, size_t nitems, void *data)
{
    xfer_t *x = data;
    size_t n = size * nitems, len = n, i;
    const char *colon, *v, *end;
    char *name;

    x->header_bytes += n;
    if (x->header_bytes > HEADER_BYTES_MAX) {
        x->too_large = true;
        return 0;
    }
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    if (len == 0)
        return n;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* A new status line (after a 100 Continue, say): start over. */
        x->resp->headers.n = 0;
        return n;
    }
    if (line[0] == ' ' || line[0] == '\t')
        return n; /* obsolete line folding: ignored */
    colon = memchr(line, ':', len);
    if (colon == NULL || colon == line)
        return n;
    name = sy_pstrndup(x->pool, line, (size_t)(colon - line));
    for (i = 0; name[i] != '\0'; i++)
        name[i] = (char)tolower((unsigned char)name[i]);
    v = colon + 1;
    end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    sy_kv_add(x->pool, &x->resp->headers, name, sy_pstrndup(x->pool, v, (size_t)(end - v)));
    if (x->req->no_secret && strcmp(name, "content-length") == 0)
        reserve_body(x, v, (size_t)(end - v));
    return n;
}

static size_t response_cap(const sy_http_t *h, const sy_http_req_t *req)
{
    if (req->max_response_bytes > 0)
        return req->max_response_bytes;
    if (h->settings != NULL && h->settings->max_upstream_response_bytes > 0)
        return (size_t)h->settings->max_upstream_response_bytes;
    return (size_t)DEFAULT_RESPONSE_MAX;
}

static void fail_early(sy_http_resp_t *resp, sy_rc_t rc, const char *why)
{
    resp->rc = rc;
    resp->status = 0;
    resp->error = why;
    resp->body = (char *)"";
    resp->body_len = 0;
}

static void wipe_line(void *data)
{
    char *line = data;

    sodium_memzero(line, strlen(line));
}

/* Appends a header line (a pool string) after tail; returns the new node. */
static struct curl_slist *header_node(sy_pool_t *pool, struct curl_slist *tail, char *line)
{
    struct curl_slist *n = sy_pcalloc(pool, sizeof(*n));

    n->data = line;
    if (tail != NULL)
        tail->next = n;
    sy_pool_cleanup_add(pool, wipe_line, line);
    return n;
}

/* Prepares x->easy for x->req. Returns SY_OK or SY_ERR_INVALID. */
static sy_rc_t setup(sy_http_t *h, xfer_t *x)
{
    const sy_http_req_t *req = x->req;
    CURL *e = x->easy;
    size_t i, cap = response_cap(h, req);
    const char *m = req->method != NULL ? req->method : "GET";

    if (req->url == NULL ||
        (strncmp(req->url, "http://", 7) != 0 && strncmp(req->url, "https://", 8) != 0))
        return SY_ERR_INVALID;
    if (req->body_len > 0 && req->body == NULL)
        return SY_ERR_INVALID;

    sy_buf_init(&x->body, cap);
    if (req->no_secret)
        sy_buf_no_secret(&x->body);
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* The Hawk MAC covers the exact path: curl must not remove dot segments. */
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->settings != NULL && h->settings->certificate_ca_bundle != NULL &&
        h->settings->certificate_ca_bundle[0] != '\0')
        curl_easy_setopt(e, CURLOPT_CAINFO, h->settings->certificate_ca_bundle);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 5000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 30000L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);

    if (strcmp(m, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        for (i = 0; m[i] != '\0'; i++)
            if (!isupper((unsigned char)m[i]))
                return SY_ERR_INVALID;
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
        if (req->body_len > 0 || strcmp(m, "PUT") == 0 || strcmp(m, "POST") == 0) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body_len > 0 ? req->body : "");
        }
    }

    /* The header list is built in the pool rather than with
     * curl_slist_append, which would leave malloc'ed copies of the
     * tokenserver Authorization line behind; every line is wiped at pool
     * reset. libcurl only reads the list. No "Expect: 100-continue" round
     * trip before bodies. */
    x->hdrs = header_node(x->pool, NULL, sy_pstrdup(x->pool, "Expect:"));
    if (req->headers != NULL) {
        struct curl_slist *tail = x->hdrs;

        for (i = 0; i < req->headers->n; i++) {
            const sy_kv_t *kv = &req->headers->items[i];

            if (strpbrk(kv->name, "\r\n:") != NULL || strpbrk(kv->value, "\r\n") != NULL)
                return SY_ERR_INVALID;
            tail = header_node(x->pool, tail, sy_psprintf(x->pool, "%s: %s", kv->name, kv->value));
        }
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    return SY_OK;
}

static sy_rc_t map_curl_code(CURLcode code, bool too_large)
{
    switch (code) {
    case CURLE_OK:
        return SY_OK;
    case CURLE_FILESIZE_EXCEEDED:
        return SY_ERR_TOO_LARGE;
    case CURLE_WRITE_ERROR:
        return too_large ? SY_ERR_TOO_LARGE : SY_ERR_UNREACHABLE;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return SY_ERR_INVALID;
    case CURLE_OUT_OF_MEMORY:
        abort();
    default:
        /* connect/resolve failures, timeouts, resets, TLS failures. */
        return SY_ERR_UNREACHABLE;
    }
}

/* Collects the outcome of a finished transfer into x->resp. */
static void finish(xfer_t *x, CURLcode code)
{
    sy_http_resp_t *resp = x->resp;
    long status = 0;
    curl_off_t t = 0;

    resp->rc = map_curl_code(code, x->too_large);
    resp->error = resp->rc == SY_OK              ? NULL
                  : resp->rc == SY_ERR_TOO_LARGE ? "response too large"
                                                 : curl_easy_strerror(code);
    if (curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &t) == CURLE_OK)
        resp->total_ms = (double)t / 1000.0;
    if (curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &t) == CURLE_OK)
        resp->connect_ms = (double)t / 1000.0;
    if (resp->rc == SY_OK) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        resp->status = (int)status;
        /* The receive buffer itself goes to the pool: no copy of a
         * multi-MB body. The pool wipes it at reset unless no_secret. */
        resp->body_len = x->body.len;
        resp->body = sy_buf_give_to_pool(&x->body, x->pool);
    } else {
        resp->status = 0;
        resp->headers.n = 0;
        resp->body = (char *)"";
        resp->body_len = 0;
    }
    /* Left over after an error; it may hold a tokenserver key: sy_buf_free
     * wipes it. */
    sy_buf_free(&x->body);
    x->hdrs = NULL; /* pool memory */
}

sy_rc_t sy_http_perform(sy_http_t *h, sy_pool_t *pool, const sy_http_req_t *req,
                        sy_http_resp_t *resp)
{
    sy_http_perform_many(h, pool, req, resp, 1, 1);
    return resp->rc;
}

void sy_http_perform_many(sy_http_t *h, sy_pool_t *pool, const sy_http_req_t *reqs,
                          sy_http_resp_t *resps, size_t n, int max_concurrency)
{
    xfer_t slots[SY_HTTP_MAX_CONCURRENCY];
    bool busy[SY_HTTP_MAX_CONCURRENCY] = {false};
    size_t conc, next = 0, nactive = 0, s;
    int running = 0, left;
    CURLMsg *msg;

    conc = max_concurrency <= 0 ? 1 : (size_t)max_concurrency;
    if (conc > SY_HTTP_MAX_CONCURRENCY)
        conc = SY_HTTP_MAX_CONCURRENCY;
    if (conc > n)
        conc = n;

    for (;;) {
        while (next < n && nactive < conc) {
            xfer_t *x;
            size_t i = next++;
            sy_rc_t rc;

            memset(&resps[i], 0, sizeof(resps[i]));
            for (s = 0; s < conc && busy[s]; s++)
                ;
            x = &slots[s];
            memset(x, 0, sizeof(*x));
            x->pool = pool;
            x->req = &reqs[i];
            x->resp = &resps[i];
            x->easy = easy_handle(h, s);
            rc = setup(h, x);
            if (rc != SY_OK) {
                sy_buf_free(&x->body);
                fail_early(&resps[i], rc, "invalid request");
                continue;
            }
            if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
                sy_buf_free(&x->body);
                fail_early(&resps[i], SY_ERR_INTERNAL, "curl_multi_add_handle failed");
                continue;
            }
            busy[s] = true;
            nactive++;
        }
        if (nactive == 0)
            break;
        curl_multi_perform(h->multi, &running);
        while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
            xfer_t *x = NULL;

            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            finish(x, msg->data.result);
            curl_multi_remove_handle(h->multi, msg->easy_handle);
            busy[x - slots] = false;
            nactive--;
        }
        if (nactive > 0 && running > 0)
            curl_multi_poll(h->multi, NULL, 0, 1000, NULL);
    }
}

/* RFC 3986 unreserved characters: everything else is escaped in a query. */
static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

char *sy_http_query_escape(sy_pool_t *pool, const char *s)
{
    return sy_url_encode(pool, s, unreserved);
}

sy_http_t *sy_http_of(sy_ctx_t *ctx)
{
    if (ctx->http == NULL)
        ctx->http = sy_http_new(ctx->settings);
    return ctx->http;
}

sy_rc_t sy_http_parse_url(sy_pool_t *pool, const char *url, sy_url_t *out)
{
    const char *p, *auth, *auth_end, *host_end, *q;
    char *host;
    size_t i;
    long port = 0;

    memset(out, 0, sizeof(*out));
    if (url == NULL)
        return SY_ERR_INVALID;
    for (q = url; *q != '\0'; q++)
        if ((unsigned char)*q < 0x21 || (unsigned char)*q > 0x7e || *q == '\\')
            return SY_ERR_INVALID;
    if (strncasecmp(url, "https://", 8) == 0) {
        out->scheme = "https";
        auth = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        out->scheme = "http";
        auth = url + 7;
    } else {
        return SY_ERR_INVALID;
    }
    auth_end = auth + strcspn(auth, "/?#");
    if (*auth_end == '?' || *auth_end == '#' || strpbrk(auth_end, "?#") != NULL)
        return SY_ERR_INVALID;
    if (memchr(auth, '@', (size_t)(auth_end - auth)) != NULL)
        return SY_ERR_INVALID;
    if (*auth == '[') {
        host_end = memchr(auth, ']', (size_t)(auth_end - auth));
        if (host_end == NULL)
            return SY_ERR_INVALID;
        host_end++;
    } else {
        host_end = memchr(auth, ':', (size_t)(auth_end - auth));
        if (host_end == NULL)
            host_end = auth_end;
    }
    if (host_end == auth)
        return SY_ERR_INVALID;
    if (host_end < auth_end) {
        if (*host_end != ':' || host_end + 1 == auth_end || auth_end - host_end > 6)
            return SY_ERR_INVALID;
        for (p = host_end + 1; p < auth_end; p++) {
            if (*p < '0' || *p > '9')
                return SY_ERR_INVALID;
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535)
            return SY_ERR_INVALID;
    }
    host = sy_pstrndup(pool, auth, (size_t)(host_end - auth));
    for (i = 0; host[i] != '\0'; i++) {
        if (host[i] >= 'A' && host[i] <= 'Z')
            host[i] = (char)(host[i] - 'A' + 'a');
        else if (host[i] == '/' || (host[i] == ':' && host[0] != '['))
            return SY_ERR_INVALID;
    }
    out->host = host;
    if (port == 0)
        port = strcmp(out->scheme, "https") == 0 ? 443 : 80;
    out->port = (int)port;
    out->default_port = port == (strcmp(out->scheme, "https") == 0 ? 443 : 80);
    out->authority = out->default_port ? host : sy_psprintf(pool, "%s:%d", host, out->port);
    {
        size_t plen = strlen(auth_end);

        while (plen > 0 && auth_end[plen - 1] == '/')
            plen--;
        out->path = sy_pstrndup(pool, auth_end, plen);
    }
    return SY_OK;
}
