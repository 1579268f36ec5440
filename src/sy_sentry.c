/* Sentry reporting: events are built on the caller's thread, queued in a
 * bounded ring under a mutex, and uploaded by one background thread per
 * worker process through the HTTP store API.
 *
 * Why a multi handle for a single transfer: curl_easy_perform() cannot be
 * interrupted from another thread, and shutdown must not wait for a slow
 * Sentry beyond its timeout. Driving the one easy handle through a private
 * multi handle lets sy_sentry_shutdown() wake the uploader with
 * curl_multi_wakeup() and abort the upload at the deadline. */
#include "syncto/sy_sentry.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "syncto/sy_json.h"
#include "syncto/sy_log.h"
#include "sy_version.h"

#define CONNECT_TIMEOUT_MS 1000L
#define TOTAL_TIMEOUT_MS 3000L
#define SERVER_NAME_MAX 256
#define AUTH_HEADER_MAX 512

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* uploader: an event was queued, or stop */
    pthread_cond_t done_cv; /* shutdown: the uploader has finished */
    bool cond_ready;        /* wake and done_cv are initialised */

    /* guarded by mu */
    char *queue[SY_SENTRY_QUEUE_MAX];
    size_t head, count;
    bool accepting;
    bool stopping;
    bool thread_done;
    int64_t deadline_ms; /* CLOCK_MONOTONIC, once stopping */
    sy_sentry_stats_t stats;

    /* set at init, read-only while the thread runs */
    bool thread_started;
    pthread_t thread;
    sy_sentry_dsn_t dsn;
    char server_name[SERVER_NAME_MAX];
    char *ca_bundle;
    CURLM *multi;
    CURL *easy;
    bool curl_global;
    bool last_failed; /* uploader thread only: log a failure once, not per event */

    atomic_bool enabled;      /* fast path of capture */
    atomic_bool abort_upload; /* set by shutdown at the deadline */
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- DSN ---------------------------------------------------------------- */

static bool is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static bool is_host_char(char c)
{
    return is_key_char(c) || c == '.';
}

static bool is_path_char(char c)
{
    return is_host_char(c) || c == '~' || c == '/';
}

/* Copies [s, e) into dst (cap bytes with the terminator); false if too long. */
static bool copy_span(char *dst, size_t cap, const char *s, const char *e)
{
    size_t n = (size_t)(e - s);

    if (n >= cap)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

/* Checks that [s, e) is a non-empty run of is_key_char and copies it. */
static bool take_key(char *dst, size_t cap, const char *s, const char *e)
{
    const char *p;

    if (s == e)
        return false;
    for (p = s; p < e; p++)
        if (!is_key_char(*p))
            return false;
    return copy_span(dst, cap, s, e);
}

sy_rc_t sy_sentry_dsn_parse(const char *dsn, sy_sentry_dsn_t *out, char *err, size_t errlen)
{
    const char *scheme, *p, *at, *colon, *host_s, *host_e, *port_s = NULL, *port_e = NULL;
    const char *path_s, *slash, *q;
    int n;

    memset(out, 0, sizeof(*out));
    if (dsn == NULL || *dsn == '\0') {
        set_err(err, errlen, "sentry_dsn is empty");
        return SY_ERR_CONFIG;
    }
    if (strncmp(dsn, "https://", 8) == 0) {
        scheme = "https";
        p = dsn + 8;
    } else if (strncmp(dsn, "http://", 7) == 0) {
        scheme = "http";
        p = dsn + 7;
    } else {
        set_err(err, errlen, "sentry_dsn must start with https:// (or http://)");
        goto fail;
    }

    /* public_key[:secret]@ */
    at = strchr(p, '@');
    slash = strchr(p, '/');
    if (at == NULL || (slash != NULL && slash < at)) {
        set_err(err, errlen,
                "sentry_dsn has no public key (expected https://<key>@<host>/<project>)");
        goto fail;
    }
    colon = memchr(p, ':', (size_t)(at - p));
    if (!take_key(out->public_key, sizeof(out->public_key), p, colon != NULL ? colon : at)) {
        set_err(err, errlen, "sentry_dsn: the public key must be 1-64 characters [A-Za-z0-9_-]");
        goto fail;
    }
    if (colon != NULL && !take_key(out->secret_key, sizeof(out->secret_key), colon + 1, at)) {
        set_err(err, errlen, "sentry_dsn: the secret key must be 1-64 characters [A-Za-z0-9_-]");
        goto fail;
    }

    /* host[:port] */
    p = at + 1;
    host_s = p;
    if (*p == '[') {
        p++;
        while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') ||
               *p == ':' || *p == '.')
            p++;
        if (*p != ']' || p == host_s + 1) {
            set_err(err, errlen, "sentry_dsn: malformed IPv6 host");
            goto fail;
        }
        p++;
    } else {
        while (is_host_char(*p))
            p++;
    }
    host_e = p;
    if (host_e == host_s) {
        set_err(err, errlen, "sentry_dsn has no host");
        goto fail;
    }
    if (*p == ':') {
        char *end = NULL;
        long port;

        port_s = ++p;
        if (*p < '0' || *p > '9') {
            set_err(err, errlen, "sentry_dsn: the port must be a number in 1..65535");
            goto fail;
        }
        errno = 0;
        port = strtol(p, &end, 10);
        if (errno != 0 || port < 1 || port > 65535) {
            set_err(err, errlen, "sentry_dsn: the port must be a number in 1..65535");
            goto fail;
        }
        p = end;
        port_e = p;
    }
    if (*p != '/') {
        set_err(err, errlen, "sentry_dsn: expected '/<project_id>' after the host");
        goto fail;
    }

    /* /[path/]project_id */
    path_s = ++p;
    for (q = path_s; *q != '\0'; q++) {
        if (!is_path_char(*q)) {
            set_err(err, errlen,
                    "sentry_dsn: invalid character in the path "
                    "(no query string or fragment allowed)");
            goto fail;
        }
    }
    slash = strrchr(path_s, '/');
    p = slash != NULL ? slash + 1 : path_s;
    if (*p == '\0') {
        set_err(err, errlen, "sentry_dsn has no project id");
        goto fail;
    }
    for (q = p; *q != '\0'; q++) {
        if (*q < '0' || *q > '9') {
            set_err(err, errlen, "sentry_dsn: the project id must be a number");
            goto fail;
        }
    }
    if (!copy_span(out->project_id, sizeof(out->project_id), p, q)) {
        set_err(err, errlen, "sentry_dsn: the project id is too long");
        goto fail;
    }

    n = snprintf(out->store_url, sizeof(out->store_url), "%s://%.*s%s%.*s/%.*sapi/%s/store/",
                 scheme, (int)(host_e - host_s), host_s, port_s != NULL ? ":" : "",
                 port_s != NULL ? (int)(port_e - port_s) : 0, port_s != NULL ? port_s : "",
                 (int)(p - path_s), path_s, out->project_id);
    if (n < 0 || (size_t)n >= sizeof(out->store_url)) {
        set_err(err, errlen, "sentry_dsn is too long");
        goto fail;
    }
    return SY_OK;

fail:
    sodium_memzero(out, sizeof(*out));
    return SY_ERR_CONFIG;
}

bool sy_sentry_dsn_valid(const char *dsn, char *err, size_t errlen)
{
    sy_sentry_dsn_t d;
    sy_rc_t rc;

    if (dsn == NULL || *dsn == '\0')
        return true;
    rc = sy_sentry_dsn_parse(dsn, &d, err, errlen);
    sodium_memzero(&d, sizeof(d));
    return rc == SY_OK;
}

/* ---- events ------------------------------------------------------------- */

/* Copies src into dst (at most max bytes + terminator), replacing invalid
 * UTF-8 bytes with '?' and never cutting a character in two. When key_chars,
 * only [A-Za-z0-9_.:-] are kept (Sentry's tag key alphabet), others -> '_'. */
static void copy_text(char *dst, size_t max, const char *src, bool key_chars)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t len = 0, n;

    while (*s != '\0') {
        if (key_chars) {
            char c = (char)*s;
            if (len + 1 > max)
                break;
            dst[len++] = (char)((is_host_char(c) || c == ':') ? c : '_');
            s++;
            continue;
        }
        n = sy_json_utf8_len(s, strnlen((const char *)s, 4));
        if (n == 0) {
            if (len + 1 > max)
                break;
            dst[len++] = '?';
            s++;
            continue;
        }
        if (len + n > max)
            break;
        memcpy(dst + len, s, n);
        len += n;
        s += n;
    }
    dst[len] = '\0';
}

static const char *level_name(const char *level)
{
    static const char *const known[] = {"fatal", "error", "warning", "info", "debug"};
    size_t i;

    if (level != NULL)
        for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            if (strcmp(level, known[i]) == 0)
                return known[i];
    return "error";
}

static void add_string(json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, json_object_new_string(value));
}

static void add_tag(json_object *tags, const char *key, const char *value)
{
    char k[SY_SENTRY_TAG_KEY_MAX + 1], v[SY_SENTRY_TAG_VALUE_MAX + 1];

    if (key == NULL || value == NULL || *key == '\0' || *value == '\0')
        return;
    copy_text(k, SY_SENTRY_TAG_KEY_MAX, key, true);
    copy_text(v, SY_SENTRY_TAG_VALUE_MAX, value, false);
    json_object_object_add(tags, k, json_object_new_string(v));
}

/* Builds the JSON text of one event; the caller frees it. */
static char *build_event(const char *level, const char *message, const char *request_id,
                         const char *route, const sy_sentry_tag_t *tags, size_t ntags)
{
    unsigned char id[16];
    char hex[33], stamp[40], msg[SY_SENTRY_MESSAGE_MAX + 1];
    struct timespec now;
    struct tm tm;
    json_object *ev, *jtags;
    const char *text;
    char *out;
    size_t i;

    randombytes_buf(id, sizeof(id));
    sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    i = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + i, sizeof(stamp) - i, ".%03ldZ", now.tv_nsec / 1000000);

    copy_text(msg, SY_SENTRY_MESSAGE_MAX, message != NULL ? message : "", false);

    ev = json_object_new_object();
    add_string(ev, "event_id", hex);
    add_string(ev, "timestamp", stamp);
    add_string(ev, "level", level_name(level));
    add_string(ev, "logger", "syncto");
    add_string(ev, "platform", "c");
    add_string(ev, "message", msg);
    add_string(ev, "server_name", g.server_name);
    add_string(ev, "release", SY_VERSION);
    jtags = json_object_new_object();
    add_tag(jtags, "request_id", request_id);
    add_tag(jtags, "route", route);
    for (i = 0; tags != NULL && i < ntags && i < SY_SENTRY_TAGS_MAX; i++)
        add_tag(jtags, tags[i].key, tags[i].value);
    json_object_object_add(ev, "tags", jtags);

    text =
        json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (text == NULL)
        abort();
    out = strdup(text);
    if (out == NULL)
        abort();
    json_object_put(ev);
    return out;
}

void sy_sentry_capture(const char *level, const char *message, const char *request_id,
                       const char *route, const sy_sentry_tag_t *tags, size_t ntags)
{
    char *ev;

    if (!atomic_load_explicit(&g.enabled, memory_order_acquire))
        return;
    ev = build_event(level, message, request_id, route, tags, ntags);

    pthread_mutex_lock(&g.mu);
    if (g.accepting && g.count < SY_SENTRY_QUEUE_MAX) {
        g.queue[(g.head + g.count) % SY_SENTRY_QUEUE_MAX] = ev;
        g.count++;
        g.stats.queued++;
        ev = NULL;
        pthread_cond_signal(&g.wake);
    } else {
        g.stats.dropped++;
    }
    pthread_mutex_unlock(&g.mu);
    free(ev);
}

/* ---- upload ------------------------------------------------------------- */

/* curl_easy_setopt on the upload handle unless an earlier option failed:
 * res keeps the first failure, and the upload is not started then. */
#define SET_OPT(res, opt, val)                                                                     \
    do {                                                                                           \
        if ((res) == CURLE_OK)                                                                     \
            (res) = curl_easy_setopt(g.easy, (opt), (val));                                        \
    } while (0)

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    return size * nmemb;
}

static void free_headers(struct curl_slist *h)
{
    struct curl_slist *p;

    for (p = h; p != NULL; p = p->next)
        sodium_memzero(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

/* POSTs one event. limit_ms caps the whole transfer (0 = the usual 3 s).
 * Returns true on a 2xx answer; otherwise describes the failure in why. */
static bool upload(const char *body, long limit_ms, char *why, size_t whylen)
{
    char auth[AUTH_HEADER_MAX];
    struct curl_slist *headers = NULL, *h;
    CURLcode res = CURLE_OK;
    CURLMcode mres;
    CURLMsg *msg;
    long status = 0;
    int running = 1, left;
    bool aborted = false, ok = false;

    snprintf(auth, sizeof(auth),
             "X-Sentry-Auth: Sentry sentry_version=7, sentry_client=syncto/%s, "
             "sentry_timestamp=%lld, sentry_key=%s%s%s",
             SY_VERSION, (long long)time(NULL), g.dsn.public_key,
             g.dsn.secret_key[0] != '\0' ? ", sentry_secret=" : "", g.dsn.secret_key);
    h = curl_slist_append(headers, auth);
    sodium_memzero(auth, sizeof(auth));
    if (h == NULL)
        abort();
    headers = h;
    h = curl_slist_append(headers, "Content-Type: application/json");
    if (h == NULL)
        abort();
    headers = h;
    /* No "Expect: 100-continue" round trip before larger events. */
    h = curl_slist_append(headers, "Expect:");
    if (h == NULL)
        abort();
    headers = h;

    curl_easy_reset(g.easy);
    SET_OPT(res, CURLOPT_URL, g.dsn.store_url);
    SET_OPT(res, CURLOPT_PROTOCOLS_STR, "http,https");
    SET_OPT(res, CURLOPT_NOSIGNAL, 1L);
    SET_OPT(res, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    SET_OPT(res, CURLOPT_TIMEOUT_MS,
            limit_ms > 0 && limit_ms < TOTAL_TIMEOUT_MS ? limit_ms : TOTAL_TIMEOUT_MS);
    SET_OPT(res, CURLOPT_HTTPHEADER, headers);
    SET_OPT(res, CURLOPT_POSTFIELDS, body);
    SET_OPT(res, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    SET_OPT(res, CURLOPT_USERAGENT, "syncto/" SY_VERSION);
    SET_OPT(res, CURLOPT_WRITEFUNCTION, discard_body);
    if (g.ca_bundle != NULL)
        SET_OPT(res, CURLOPT_CAINFO, g.ca_bundle);
    if (res != CURLE_OK) {
        snprintf(why, whylen, "cannot set up the upload: %s", curl_easy_strerror(res));
        goto done;
    }

    if (curl_multi_add_handle(g.multi, g.easy) != CURLM_OK) {
        set_err(why, whylen, "cannot start the upload");
        goto done;
    }
    while (running > 0) {
        if (curl_multi_perform(g.multi, &running) != CURLM_OK)
            break;
        if (running == 0)
            break;
        if (atomic_load(&g.abort_upload)) {
            aborted = true;
            break;
        }
        if (curl_multi_poll(g.multi, NULL, 0, 1000, NULL) != CURLM_OK)
            break;
    }
    res = CURLE_RECV_ERROR;
    while ((msg = curl_multi_info_read(g.multi, &left)) != NULL)
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == g.easy)
            res = msg->data.result;
    /* Left in the multi handle, the easy one could never be added again. */
    mres = curl_multi_remove_handle(g.multi, g.easy);

    if (aborted) {
        set_err(why, whylen, "upload aborted at shutdown");
    } else if (mres != CURLM_OK) {
        set_err(why, whylen, curl_multi_strerror(mres));
    } else if (res != CURLE_OK) {
        set_err(why, whylen, curl_easy_strerror(res));
    } else {
        if (curl_easy_getinfo(g.easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
            status = 0;
        if (status >= 200 && status < 300)
            ok = true;
        else
            snprintf(why, whylen, "HTTP status %ld", status);
    }

done:
    /* Only the POST options point at our buffers; forget them (clearing a
     * pointer option cannot fail, and the next upload sets everything again
     * after curl_easy_reset). */
    (void)curl_easy_setopt(g.easy, CURLOPT_HTTPHEADER, NULL);
    (void)curl_easy_setopt(g.easy, CURLOPT_POSTFIELDS, NULL);
    free_headers(headers);
    return ok;
}

static void *uploader_main(void *arg)
{
    char why[128];
    char *ev;
    long limit;
    bool ok;

    pthread_mutex_lock(&g.mu);
    for (;;) {
        while (g.count == 0 && !g.stopping)
            pthread_cond_wait(&g.wake, &g.mu);
        if (g.count == 0)
            break;
        limit = 0;
        if (g.stopping) {
            int64_t left = g.deadline_ms - mono_ms();
            if (left <= 0)
                break;
            limit = (long)left;
        }
        ev = g.queue[g.head];
        g.queue[g.head] = NULL;
        g.head = (g.head + 1) % SY_SENTRY_QUEUE_MAX;
        g.count--;
        pthread_mutex_unlock(&g.mu);

        why[0] = '\0';
        ok = upload(ev, limit, why, sizeof(why));
        free(ev);

        /* Logged outside the lock: a log line may itself become an event. */
        if (!ok && !g.last_failed)
            sy_log_warn(NULL,
                        "sentry: event not delivered: %s (further failures "
                        "are counted, not logged)",
                        why);

        pthread_mutex_lock(&g.mu);
        if (ok)
            g.stats.sent++;
        else
            g.stats.failed++;
        g.last_failed = !ok;
    }
    g.thread_done = true;
    pthread_cond_broadcast(&g.done_cv);
    pthread_mutex_unlock(&g.mu);
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

static void release_all(void)
{
    size_t i;

    for (i = 0; i < g.count; i++) {
        size_t k = (g.head + i) % SY_SENTRY_QUEUE_MAX;
        free(g.queue[k]);
        g.queue[k] = NULL;
    }
    g.stats.dropped += g.count;
    g.head = 0;
    g.count = 0;
    if (g.easy != NULL)
        curl_easy_cleanup(g.easy);
    g.easy = NULL;
    if (g.multi != NULL) /* the easy handle is never left in it: nothing to report */
        (void)curl_multi_cleanup(g.multi);
    g.multi = NULL;
    if (g.curl_global)
        curl_global_cleanup();
    g.curl_global = false;
    free(g.ca_bundle);
    g.ca_bundle = NULL;
    sodium_memzero(&g.dsn, sizeof(g.dsn));
    if (g.cond_ready) {
        pthread_cond_destroy(&g.wake);
        pthread_cond_destroy(&g.done_cv);
    }
    g.cond_ready = false;
    g.thread_started = false;
}

sy_rc_t sy_sentry_init(const sy_settings_t *s)
{
    pthread_condattr_t attr;
    char err[160];
    sy_rc_t rc = SY_OK;

    sy_sentry_shutdown(0);
    memset(&g.stats, 0, sizeof(g.stats));
    g.accepting = false;
    g.stopping = false;
    g.thread_done = false;
    g.last_failed = false;
    atomic_store(&g.abort_upload, false);

    if (s == NULL || s->sentry_dsn == NULL || s->sentry_dsn[0] == '\0')
        return SY_OK;

    if (sy_sentry_dsn_parse(s->sentry_dsn, &g.dsn, err, sizeof(err)) != SY_OK) {
        sy_log_error(NULL, "sentry disabled: %s", err);
        return SY_ERR_CONFIG;
    }
    if (sodium_init() < 0) {
        sy_log_error(NULL, "sentry disabled: libsodium failed to initialise");
        rc = SY_ERR_INTERNAL;
        goto done;
    }
    if (gethostname(g.server_name, sizeof(g.server_name)) != 0)
        snprintf(g.server_name, sizeof(g.server_name), "unknown");
    g.server_name[sizeof(g.server_name) - 1] = '\0';
    if (s->certificate_ca_bundle != NULL && s->certificate_ca_bundle[0] != '\0') {
        g.ca_bundle = strdup(s->certificate_ca_bundle);
        if (g.ca_bundle == NULL)
            abort();
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sy_log_error(NULL, "sentry disabled: libcurl failed to initialise");
        rc = SY_ERR_INTERNAL;
        goto done;
    }
    g.curl_global = true;
    g.multi = curl_multi_init();
    g.easy = curl_easy_init();
    if (g.multi == NULL || g.easy == NULL) {
        sy_log_error(NULL, "sentry disabled: cannot create libcurl handles");
        rc = SY_ERR_INTERNAL;
        goto done;
    }

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g.done_cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&g.wake, NULL);
    g.cond_ready = true;

    g.accepting = true;
    if (pthread_create(&g.thread, NULL, uploader_main, NULL) != 0) {
        g.accepting = false;
        sy_log_error(NULL, "sentry disabled: cannot start the sending thread");
        rc = SY_ERR_INTERNAL;
        goto done;
    }
    g.thread_started = true;
    atomic_store_explicit(&g.enabled, true, memory_order_release);

done:
    if (rc != SY_OK)
        release_all();
    return rc;
}

bool sy_sentry_enabled(void)
{
    return atomic_load(&g.enabled);
}

void sy_sentry_shutdown(int timeout_ms)
{
    struct timespec ts;
    bool done;

    atomic_store(&g.enabled, false);
    if (!g.thread_started) {
        release_all();
        return;
    }
    if (timeout_ms < 0)
        timeout_ms = 0;

    pthread_mutex_lock(&g.mu);
    g.accepting = false;
    g.stopping = true;
    g.deadline_ms = mono_ms() + timeout_ms;
    pthread_cond_signal(&g.wake);
    ts.tv_sec = (time_t)(g.deadline_ms / 1000);
    ts.tv_nsec = (long)(g.deadline_ms % 1000) * 1000000L;
    while (!g.thread_done) {
        if (pthread_cond_timedwait(&g.done_cv, &g.mu, &ts) == ETIMEDOUT)
            break;
    }
    done = g.thread_done;
    pthread_mutex_unlock(&g.mu);

    if (!done) {
        atomic_store(&g.abort_upload, true);
        /* Should the wakeup fail, the uploader's poll still ends within
         * its 1 s timeout and sees the flag. */
        (void)curl_multi_wakeup(g.multi);
    }
    pthread_join(g.thread, NULL);

    pthread_mutex_lock(&g.mu);
    release_all();
    pthread_mutex_unlock(&g.mu);
}

void sy_sentry_stats(sy_sentry_stats_t *out)
{
    pthread_mutex_lock(&g.mu);
    *out = g.stats;
    pthread_mutex_unlock(&g.mu);
}
