/* Back-off deadlines shared through the PostgreSQL cache.
 *
 * Why PostgreSQL and a memo: Syncto runs several worker processes; a back-off
 * announced to one of them must reach the clients of all of them, and the
 * cache table is the state they already share. Reading it on every response
 * would cost a round trip per request, so each process remembers what it read
 * for a second. A back-off this process saw itself is known at once, even
 * when PostgreSQL is down. */
#include "syncto/sy_backoff.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncto/sy_cache.h"
#include "syncto/sy_http.h"
#include "syncto/sy_ts.h"

#define MEMO_SLOTS 16
#define MEMO_HOST_MAX 256
#define MEMO_REFRESH_MS 1000

typedef struct {
    char host[MEMO_HOST_MAX];
    int64_t deadline_ms; /* 0 = none */
    int64_t checked_ms;  /* last time the shared state was read or written */
} memo_t;

static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;
static memo_t memo[MEMO_SLOTS];

static pthread_mutex_t ts_host_lock = PTHREAD_MUTEX_INITIALIZER;
static char ts_host[MEMO_HOST_MAX];
static char ts_host_for[1024]; /* token_server_url the cached host is from */

/* Non-negative integer seconds, clamped; -1 when not an integer. */
static long parse_seconds(const char *v)
{
    char *end;
    long n;

    if (v == NULL)
        return -1;
    while (*v == ' ')
        v++;
    if (*v < '0' || *v > '9')
        return -1;
    errno = 0;
    n = strtol(v, &end, 10);
    while (*end == ' ')
        end++;
    /* Sync sends integers; a fraction ("1.5") is rounded up. */
    if (*end == '.') {
        end++;
        while (*end >= '0' && *end <= '9')
            end++;
        if (n < SY_BACKOFF_MAX_SECONDS)
            n++;
    }
    if (*end != '\0')
        return -1;
    if (errno == ERANGE || n > SY_BACKOFF_MAX_SECONDS)
        n = SY_BACKOFF_MAX_SECONDS;
    return n;
}

long sy_backoff_parse(int status, const sy_kvlist_t *headers)
{
    long best = 0, v;

    if (headers == NULL)
        return 0;
    v = parse_seconds(sy_kv_get(headers, "x-weave-backoff"));
    if (v > best)
        best = v;
    v = parse_seconds(sy_kv_get(headers, "x-backoff"));
    if (v > best)
        best = v;
    if (status == 503) {
        v = parse_seconds(sy_kv_get(headers, "retry-after"));
        if (v > best)
            best = v;
    }
    return best;
}

/* Caller holds memo_lock. Finds host's slot, or claims the stalest one. */
static memo_t *memo_slot(const char *host, bool create)
{
    memo_t *oldest = &memo[0];
    size_t i;

    for (i = 0; i < MEMO_SLOTS; i++) {
        if (memo[i].host[0] != '\0' && strcmp(memo[i].host, host) == 0)
            return &memo[i];
        if (memo[i].checked_ms < oldest->checked_ms)
            oldest = &memo[i];
    }
    if (!create)
        return NULL;
    memset(oldest, 0, sizeof(*oldest));
    snprintf(oldest->host, sizeof(oldest->host), "%s", host);
    return oldest;
}

static long seconds_left(int64_t deadline_ms, int64_t now_ms)
{
    if (deadline_ms <= now_ms)
        return 0;
    return (long)((deadline_ms - now_ms + 999) / 1000);
}

/* The deadline (epoch ms, 0 = none) known for host: this process's memo,
 * refreshed from the shared state when it is a second old. */
static int64_t known_deadline(sy_ctx_t *ctx, const char *host, int64_t now)
{
    int64_t deadline = 0;
    char key[MEMO_HOST_MAX + 16], *value = NULL, *end;
    memo_t *m;
    sy_rc_t rc;

    pthread_mutex_lock(&memo_lock);
    m = memo_slot(host, false);
    if (m != NULL) {
        deadline = m->deadline_ms;
        if (now - m->checked_ms < MEMO_REFRESH_MS || ctx == NULL || ctx->cache == NULL ||
            ctx->pool == NULL) {
            pthread_mutex_unlock(&memo_lock);
            return deadline;
        }
    }
    pthread_mutex_unlock(&memo_lock);
    if (ctx == NULL || ctx->cache == NULL || ctx->pool == NULL)
        return 0;

    snprintf(key, sizeof(key), "backoff_%s", host);
    rc = sy_cache_get(ctx->cache, ctx, ctx->pool, key, &value);
    if (rc == SY_OK) {
        long long v;

        errno = 0;
        v = strtoll(value, &end, 10);
        deadline = (errno == 0 && end != value && *end == '\0' && v > 0) ? (int64_t)v : 0;
    } else if (rc == SY_ERR_NOT_FOUND) {
        deadline = 0;
    } /* SY_ERR_DB: keep what this process knew */

    pthread_mutex_lock(&memo_lock);
    m = memo_slot(host, true);
    m->deadline_ms = deadline;
    m->checked_ms = now;
    pthread_mutex_unlock(&memo_lock);
    return deadline;
}

void sy_backoff_note(sy_ctx_t *ctx, const char *host, int status, const sy_kvlist_t *headers)
{
    long delay = sy_backoff_parse(status, headers);
    int64_t now = sy_ts_now_ms(), deadline;
    char key[MEMO_HOST_MAX + 16], value[32];
    memo_t *m;

    if (delay <= 0 || host == NULL || strlen(host) >= MEMO_HOST_MAX)
        return;
    deadline = now + (int64_t)delay * 1000;
    /* A later, shorter announcement never cuts a pending back-off short:
     * the later deadline stays. */
    if (known_deadline(ctx, host, now) >= deadline)
        return;
    pthread_mutex_lock(&memo_lock);
    m = memo_slot(host, true);
    if (m->deadline_ms >= deadline) { /* another thread was quicker */
        pthread_mutex_unlock(&memo_lock);
        return;
    }
    m->deadline_ms = deadline;
    m->checked_ms = now;
    pthread_mutex_unlock(&memo_lock);

    if (ctx != NULL && ctx->cache != NULL) {
        snprintf(key, sizeof(key), "backoff_%s", host);
        snprintf(value, sizeof(value), "%lld", (long long)deadline);
        /* Best effort: when PostgreSQL is down only this process knows
         * (the cache has logged why). */
        sy_rc_ignore(sy_cache_set(ctx->cache, ctx, key, value, (int64_t)delay * 1000));
    }
}

long sy_backoff_remaining(sy_ctx_t *ctx, const char *host)
{
    int64_t now = sy_ts_now_ms();

    if (host == NULL || strlen(host) >= MEMO_HOST_MAX)
        return 0;
    return seconds_left(known_deadline(ctx, host, now), now);
}

/* authority of syncto.token_server_url, computed once per process (the
 * settings do not change; the string comparison keeps tests honest). */
static bool tokenserver_host(const sy_settings_t *s, char *out, size_t outlen)
{
    bool ok = true;

    if (s->token_server_url == NULL || strlen(s->token_server_url) >= sizeof(ts_host_for))
        return false;
    pthread_mutex_lock(&ts_host_lock);
    if (strcmp(ts_host_for, s->token_server_url) != 0) {
        sy_pool_t *tmp = sy_pool_new(1024);
        sy_url_t u;

        ts_host[0] = '\0';
        if (sy_http_parse_url(tmp, s->token_server_url, &u) == SY_OK)
            snprintf(ts_host, sizeof(ts_host), "%s", u.authority);
        sy_pool_free(tmp);
        snprintf(ts_host_for, sizeof(ts_host_for), "%s", s->token_server_url);
    }
    if (ts_host[0] == '\0')
        ok = false;
    else
        snprintf(out, outlen, "%s", ts_host);
    pthread_mutex_unlock(&ts_host_lock);
    return ok;
}

void sy_backoff_apply(sy_request_t *req, sy_response_t *resp)
{
    sy_ctx_t *ctx = req->ctx;
    char host[MEMO_HOST_MAX];

    if (ctx == NULL || ctx->settings == NULL)
        return;
    if (!tokenserver_host(ctx->settings, host, sizeof(host)))
        return;
    sy_resp_backoff(req, resp, sy_backoff_remaining(ctx, host));
}

void sy_backoff_reset_memo(void)
{
    pthread_mutex_lock(&memo_lock);
    memset(memo, 0, sizeof(memo));
    pthread_mutex_unlock(&memo_lock);
}
