/* stderr logging: one line per event, MozLog JSON or readable text.
 *
 * Each line is built in a fixed buffer on the stack and handed to the kernel
 * with a single write(2), so lines from concurrent threads and processes do
 * not interleave. Every variable part has its own cap, chosen so that the
 * sum always fits the buffer: a line is never cut in the middle of JSON.
 * Strings are escaped as JSON (or made safe for a terminal) and invalid
 * UTF-8 is replaced, so nothing a client sends can forge or break a line. */
#include "syncto/sy_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <sodium.h>

#include "syncto/sy_crypto.h"
#include "syncto/sy_json.h"

#define LINE_MAX_BYTES 16384
#define CAP_MSG 4096
#define CAP_PATH 2048
#define CAP_AGENT 512
#define CAP_SHORT 128
#define CAP_HOST 256

static struct {
    bool json;
    sy_log_level_t min_level;
} cfg = {false, SY_LOG_INFO};

static char hostname[CAP_HOST] = "localhost";
static pthread_once_t hostname_once = PTHREAD_ONCE_INIT;

static void hostname_init(void)
{
    char h[CAP_HOST];

    if (gethostname(h, sizeof(h)) == 0) {
        h[sizeof(h) - 1] = '\0';
        if (h[0] != '\0')
            memcpy(hostname, h, sizeof(h));
    }
}

void sy_log_init(const sy_settings_t *s)
{
    const char *lvl = s != NULL ? s->log_level : NULL;
    const char *rend = s != NULL ? s->logging_renderer : NULL;

    cfg.json = rend != NULL && strcasecmp(rend, "json") == 0;
    cfg.min_level = SY_LOG_INFO;
    if (lvl != NULL) {
        if (strcasecmp(lvl, "debug") == 0)
            cfg.min_level = SY_LOG_DEBUG;
        else if (strcasecmp(lvl, "warning") == 0 || strcasecmp(lvl, "warn") == 0)
            cfg.min_level = SY_LOG_WARNING;
        else if (strcasecmp(lvl, "error") == 0 || strcasecmp(lvl, "critical") == 0)
            cfg.min_level = SY_LOG_ERROR;
    }
    pthread_once(&hostname_once, hostname_init);
}

typedef struct {
    char buf[LINE_MAX_BYTES];
    size_t len;
} line_t;

static void put(line_t *l, const char *s, size_t n)
{
    size_t room = sizeof(l->buf) - 1 - l->len; /* one byte kept for '\n' */

    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void puts_(line_t *l, const char *s)
{
    put(l, s, strlen(s));
}

static void putf(line_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(line_t *l, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        put(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Appends s as text for the chosen renderer, writing at most cap bytes:
 * a quoted, escaped JSON string, or the raw text with control characters
 * replaced. Stops before a character that would pass the cap. */
static void put_str(line_t *l, const char *str, size_t cap)
{
    const unsigned char *s = (const unsigned char *)(str != NULL ? str : "");
    size_t n = strlen((const char *)s), used = 0;

    if (cfg.json) {
        put(l, "\"", 1);
        cap = cap > 2 ? cap - 2 : 0;
    }
    for (size_t i = 0; i < n;) {
        char esc[8];
        const char *out = esc;
        size_t olen, step = 1;
        unsigned char c = s[i];

        if (c < 0x20 || c == 0x7f) {
            if (cfg.json)
                olen = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
            else
                esc[0] = '?', olen = 1;
        } else if (c == '"' || c == '\\') {
            if (cfg.json)
                esc[0] = '\\', esc[1] = (char)c, olen = 2;
            else
                esc[0] = (char)c, olen = 1;
        } else if (c < 0x80) {
            /* read through out, which points at esc */
            // cppcheck-suppress unreadVariable
            esc[0] = (char)c;
            olen = 1;
        } else {
            step = sy_json_utf8_len(s + i, n - i);
            if (step == 0) {
                step = 1;
                out = cfg.json ? "\\ufffd" : "?";
                olen = strlen(out);
            } else {
                out = (const char *)s + i;
                olen = step;
            }
        }
        if (used + olen > cap)
            break;
        put(l, out, olen);
        used += olen;
        i += step;
    }
    if (cfg.json)
        put(l, "\"", 1);
}

/* Starts a line; in JSON opens the envelope up to the Fields object. */
static void begin(line_t *l, sy_log_level_t level, const char *type)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
    static const int syslog_severity[] = {7, 6, 4, 3};
    struct timespec ts;

    pthread_once(&hostname_once, hostname_init);
    clock_gettime(CLOCK_REALTIME, &ts);
    l->len = 0;
    if (cfg.json) {
        putf(l, "{\"Timestamp\":%lld", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
        puts_(l, ",\"Type\":");
        put_str(l, type, CAP_SHORT);
        puts_(l, ",\"Logger\":\"syncto\",\"Hostname\":");
        put_str(l, hostname, CAP_HOST);
        putf(l, ",\"EnvVersion\":\"2.0\",\"Severity\":%d,\"Pid\":%ld,\"Fields\":{",
             syslog_severity[level], (long)getpid());
    } else {
        struct tm tm;
        char when[32];
        gmtime_r(&ts.tv_sec, &tm);
        /* 19 characters: always fits */
        (void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        putf(l, "%s.%03ldZ %s [%ld]", when, ts.tv_nsec / 1000000, names[level], (long)getpid());
    }
}

/* One field: `,"name":"value"` in JSON, ` name=value` in text. */
static void field_str(line_t *l, bool first, const char *name, const char *value, size_t cap)
{
    if (cfg.json) {
        if (!first)
            put(l, ",", 1);
        putf(l, "\"%s\":", name);
    } else {
        putf(l, " %s=", name);
    }
    put_str(l, value, cap);
}

static void field_num(line_t *l, bool first, const char *name, long long value)
{
    if (cfg.json)
        putf(l, "%s\"%s\":%lld", first ? "" : ",", name, value);
    else
        putf(l, " %s=%lld", name, value);
}

static void end(line_t *l)
{
    if (cfg.json)
        puts_(l, "}}");
    l->buf[l->len++] = '\n'; /* put() always leaves this byte free */

    for (size_t off = 0; off < l->len;) {
        ssize_t w = write(STDERR_FILENO, l->buf + off, l->len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        off += (size_t)w;
    }
}

static void log_v(sy_log_level_t level, const char *request_id, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void log_v(sy_log_level_t level, const char *request_id, const char *fmt, va_list ap)
{
    line_t l;
    char msg[CAP_MSG + 1];

    (void)vsnprintf(msg, sizeof(msg), fmt, ap); /* cut at CAP_MSG on purpose */
    begin(&l, level, "syncto");
    if (request_id != NULL)
        field_str(&l, true, "rid", request_id, CAP_SHORT);
    if (cfg.json)
        field_str(&l, request_id == NULL, "msg", msg, CAP_MSG + 2);
    else {
        put(&l, " ", 1);
        put_str(&l, msg, CAP_MSG);
    }
    end(&l);
}

void sy_log(sy_log_level_t level, const char *request_id, const char *fmt, ...)
{
    va_list ap;

    if (level < cfg.min_level || level > SY_LOG_ERROR)
        return;
    va_start(ap, fmt);
    log_v(level, request_id, fmt, ap);
    va_end(ap);
}

const char *sy_log_rid(const sy_ctx_t *ctx)
{
    return ctx != NULL && ctx->request != NULL ? ctx->request->request_id : NULL;
}

void sy_log_ctx(sy_log_level_t level, const sy_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;

    if (level < cfg.min_level || level > SY_LOG_ERROR)
        return;
    va_start(ap, fmt);
    log_v(level, sy_log_rid(ctx), fmt, ap);
    va_end(ap);
}

void sy_log_request(const sy_request_t *req, int status, long kinto_errno, double duration_ms)
{
    line_t l;
    const char *agent, *lang;

    if (SY_LOG_INFO < cfg.min_level)
        return;
    begin(&l, SY_LOG_INFO, "syncto.request.summary");
    field_str(&l, true, "rid", req->request_id, CAP_SHORT);
    field_str(&l, false, "method", req->method_str, CAP_SHORT);
    /* The path only: query values (pagination tokens) stay out of logs. */
    field_str(&l, false, "path", req->path, CAP_PATH);
    field_num(&l, false, "code", status);
    if (status >= 400 && kinto_errno != 0)
        field_num(&l, false, "errno", kinto_errno);
    field_num(&l, false, "t", duration_ms > 0 ? (long long)(duration_ms + 0.5) : 0);
    /* Upstream: wall time spent waiting on the tokenserver and Sync, and
     * how many calls; t - upstream_ms is syncto's own share. */
    field_num(&l, false, "upstream_ms",
              req->upstream_ms > 0 ? (long long)(req->upstream_ms + 0.5) : 0);
    field_num(&l, false, "upstream_calls", (long long)req->upstream_calls);
    if (req->route_name != NULL)
        field_str(&l, false, "route", req->route_name, CAP_SHORT);
    if (req->user_hash != NULL)
        field_str(&l, false, "uid", req->user_hash, CAP_SHORT);
    agent = sy_req_header(req, "user-agent");
    if (agent != NULL)
        field_str(&l, false, "agent", agent, CAP_AGENT);
    lang = sy_req_header(req, "accept-language");
    if (lang != NULL)
        field_str(&l, false, "lang", lang, CAP_SHORT);
    end(&l);
}

const char *sy_log_user_hash(sy_pool_t *pool, const char *secret, const char *material)
{
    static const char domain[] = "syncto user\n";
    size_t dlen = sizeof(domain) - 1, mlen = strlen(material);
    char *msg = sy_palloc(pool, dlen + mlen + 1), hex[65];

    memcpy(msg, domain, dlen);
    memcpy(msg + dlen, material, mlen + 1);
    sy_hmac_sha256_hex(secret, strlen(secret), msg, dlen + mlen, hex);
    /* material may be derived from a credential: leave no copy behind */
    sodium_memzero(msg, dlen + mlen);
    hex[32] = '\0';
    return sy_pstrdup(pool, hex);
}
