/* Credential lookup through the encrypted PostgreSQL cache.
 *
 * Why the cache key covers the client state (BrowserID) or the key id
 * (Bearer): the value is encrypted under a key derived from the client
 * state. The original Syncto keyed rows by the assertion alone, so the same
 * assertion used with another bucket within the TTL found a row it could not
 * decrypt. Here each (credential, client state) pair has its own row; a row
 * that still fails to decrypt (a rotated secret, a damaged row) is a miss
 * and is deleted.
 *
 * Why a lock around misses: a Kinto client starts with a burst of parallel
 * requests that land on several worker processes. Without coordination each
 * would call the tokenserver. The first miss takes an advisory lock on the
 * cache key; the others wait for it, then find the row it stored. The holder
 * looks again and stores on the connection that holds the lock: a miss
 * needs one pooled connection, never two, so many new users at once cannot
 * leave every connection held by a thread that waits for another one.
 *
 * Why a copy in the worker's memory in front of it all: a hit in
 * PostgreSQL is still a round trip per request. The copy is filled only
 * from what PostgreSQL holds (a row read, an answer it accepted), lives no
 * longer than the row and at most a minute, and a Sync 401 drops it with
 * the row; PostgreSQL stays what the workers share (docs/internals/cache.md,
 * "The in-memory layer"). */
#include "syncto/sy_credentials.h"

#include <errno.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "syncto/sy_cache.h"
#include "syncto/sy_crypto.h"
#include "syncto/sy_json.h"
#include "syncto/sy_log.h"
#include "syncto/sy_memcache.h"
#include "syncto/sy_statsd.h"
#include "syncto/sy_ts.h"

/* A JWT or assertion fragment that decodes to more than this is not one. */
#define FRAGMENT_MAX 8192
/* How often a request waiting for another one's tokenserver call looks at
 * the cache again. */
#define LOCK_POLL_MS 20

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void sy_credentials_cache_key(const char *secret, const sy_auth_t *auth, char *out)
{
    const char *cred = auth->credential != NULL ? auth->credential : "";
    const char *kid = auth->key_id != NULL ? auth->key_id : "";
    const char *cs = auth->client_state != NULL ? auth->client_state : "";
    size_t n, len;
    char *msg;

    if (auth->kind == SY_AUTH_BEARER)
        len = strlen("bearer\n") + strlen(kid) + 1 + strlen(cred);
    else
        len = strlen(cred) + 1 + strlen(cs);
    msg = malloc(len + 1);
    if (msg == NULL)
        abort();
    if (auth->kind == SY_AUTH_BEARER)
        n = (size_t)snprintf(msg, len + 1, "bearer\n%s\n%s", kid, cred);
    else
        n = (size_t)snprintf(msg, len + 1, "%s\n%s", cred, cs);
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result): the hex digits and the NUL follow
    memcpy(out, SY_CREDENTIALS_KEY_PREFIX, strlen(SY_CREDENTIALS_KEY_PREFIX));
    sy_hmac_sha256_hex(secret, strlen(secret), msg, n, out + strlen(SY_CREDENTIALS_KEY_PREFIX));
    sy_secure_free(msg, len + 1);
}

/* "exp" of a JSON object given as url-safe base64 text [s, s+n), in the
 * object's own unit; false when it is not such an object. */
static bool fragment_exp(const char *s, size_t n, double *exp)
{
    char *text;
    uint8_t *raw;
    long len;
    json_object *o, *v;
    bool ok = false;

    if (n == 0 || n > FRAGMENT_MAX)
        return false;
    text = malloc(n + 1);
    raw = malloc(n + 1);
    if (text == NULL || raw == NULL)
        abort();
    memcpy(text, s, n);
    text[n] = '\0';
    len = sy_b64url_decode(text, raw, n);
    if (len > 0) {
        /* As json_tokener_parse() would, through a tokener that leaves no
         * copy of the credential behind (sy_json.h). */
        json_tokener *tok = sy_json_tokener_new_secret((size_t)len);

        raw[len] = '\0';
        o = json_tokener_parse_ex(tok, (const char *)raw, -1);
        if (o != NULL && json_tokener_get_error(tok) == json_tokener_success &&
            json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "exp", &v) &&
            (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))) {
            *exp = json_object_get_double(v);
            ok = true;
        }
        sy_json_put_secret(o);
        sy_json_tokener_free_secret(tok);
    }
    sy_secure_free(text, n + 1);
    sy_secure_free(raw, n + 1);
    return ok;
}

/* A usable expiry in ms: positive and within int64_t (converting a larger
 * double, an infinity or a NaN, all of which a JSON "exp" can hold, is
 * undefined behaviour). */
static bool exp_fits(double ms)
{
    return ms > 0 && ms < (double)INT64_MAX; /* 2^63, the first double beyond */
}

int64_t sy_credentials_expiry_ms(const sy_auth_t *auth)
{
    const char *c = auth->credential, *p, *dot;
    double exp, best = -1;

    if (c == NULL || *c == '\0')
        return -1;
    if (auth->kind == SY_AUTH_BEARER) {
        /* A JWT is exactly three segments; the payload is the second. */
        const char *d1 = strchr(c, '.'), *d2;

        if (d1 == NULL)
            return -1;
        d2 = strchr(d1 + 1, '.');
        if (d2 == NULL || strchr(d2 + 1, '.') != NULL)
            return -1;
        if (!fragment_exp(d1 + 1, (size_t)(d2 - d1 - 1), &exp) || !exp_fits(exp * 1000.0))
            return -1;
        return (int64_t)(exp * 1000.0);
    }
    /* BrowserID "<cert JWT>~<assertion JWT>": every fragment that decodes
     * to JSON with an "exp" (ms) counts; the ones spanning '~' do not. */
    for (p = c;; p = dot + 1) {
        dot = strchr(p, '.');
        if (dot == NULL)
            dot = p + strlen(p);
        if (fragment_exp(p, (size_t)(dot - p), &exp) && exp_fits(exp) && (best < 0 || exp < best))
            best = exp;
        if (*dot == '\0')
            break;
    }
    return best < 0 ? -1 : (int64_t)best;
}

long sy_credentials_request_ttl(long config_ttl, int64_t exp_ms, int64_t now_ms)
{
    int64_t left;

    if (exp_ms < 0)
        return config_ttl;
    left = exp_ms - now_ms;
    /* floor division, also for an expired credential */
    left = left >= 0 ? left / 1000 : -((-left + 999) / 1000);
    return left < config_ttl ? (long)left : config_ttl;
}

long sy_credentials_cache_ttl(long request_ttl, long token_duration, long margin)
{
    long ttl = request_ttl;

    if (token_duration > 0 && token_duration < ttl)
        ttl = token_duration;
    return ttl - margin;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Puts tok in the worker's memory under key for what is left of ttl_ms,
 * counted from since (taken before the PostgreSQL statement, so that the
 * copy never outlives the row). ttl_ms < 0: a row without expiry, kept for
 * the memory layer's ceiling. stamp: see sy_memcache_put. */
static void remember(sy_ctx_t *ctx, const char *key, const sy_token_t *tok, int64_t ttl_ms,
                     int64_t since, const uint64_t *stamp)
{
    if (ctx->memcache == NULL)
        return;
    if (ttl_ms < 0)
        ttl_ms = SY_MEMCACHE_TTL_CEILING_MS;
    ttl_ms -= mono_ms() - since;
    /* Not kept (too large, or deleted since the stamp): PostgreSQL still has
     * it, only a round trip more. */
    (void)sy_memcache_put(ctx->memcache, ctx, key, tok, ttl_ms, stamp);
}

/* Cached credentials for key: SY_OK, SY_ERR_NOT_FOUND or SY_ERR_DB. With
 * lock, on the connection that holds it. A hit is also put in memory,
 * unless the key was deleted there since stamp was read. */
static SY_MUST_CHECK sy_rc_t lookup(sy_ctx_t *ctx, sy_pool_t *pool, const sy_auth_t *auth,
                                    const char *key, sy_cache_lock_t *lock, uint64_t stamp,
                                    sy_token_t *tok)
{
    const char *secret = ctx->settings->cache_hmac_secret;
    char *value = NULL, *plain = NULL;
    int64_t since = mono_ms(), left = -1;
    size_t len = 0;
    sy_rc_t rc;

    if (lock != NULL)
        rc = sy_cache_lock_get_ttl(ctx->cache, ctx, lock, pool, key, &value, &left);
    else
        rc = sy_cache_get_ttl(ctx->cache, ctx, pool, key, &value, &left);
    if (rc != SY_OK)
        return rc == SY_ERR_NOT_FOUND ? SY_ERR_NOT_FOUND : SY_ERR_DB;
    rc = sy_cache_decrypt(secret, auth->client_state, value, &plain, &len);
    if (rc == SY_OK) {
        rc = sy_token_parse(pool, plain, len, tok);
        sy_secure_free(plain, len + 1);
    }
    if (rc != SY_OK) {
        sy_log_ctx_warn(ctx, "credential cache: dropping an entry that does not decrypt (%s)",
                        sy_rc_str(rc));
        /* A lock holder stores a fresh entry over it instead. A delete
         * that fails leaves the row to be dropped by the next miss. */
        if (lock == NULL)
            sy_rc_ignore(sy_cache_delete(ctx->cache, ctx, key));
        return SY_ERR_NOT_FOUND;
    }
    remember(ctx, key, tok, left, since, &stamp);
    return SY_OK;
}

/* Stores tok under key: on the lock's connection, or without a lock on a
 * pooled one that is not waited for long (the request is waiting). What
 * PostgreSQL took is put in memory too, replacing any older entry. */
static void store(sy_ctx_t *ctx, const sy_auth_t *auth, const char *key, sy_cache_lock_t *lock,
                  const sy_token_t *tok, long ttl)
{
    char *hex = NULL;
    int64_t since = mono_ms();

    if (sy_cache_encrypt(ctx->settings->cache_hmac_secret, auth->client_state, tok->json,
                         tok->json_len, &hex) != SY_OK)
        return;
    if (sy_cache_lock_set(ctx->cache, ctx, lock, key, hex, (int64_t)ttl * 1000) == SY_OK)
        remember(ctx, key, tok, (int64_t)ttl * 1000, since, NULL);
    else
        sy_log_ctx_info(ctx, "credential cache: could not store an entry");
    free(hex);
}

/* A hit, counted for both layers in one datagram. */
static void count_hit(bool memory)
{
    sy_statsd_batch_t b;

    sy_statsd_batch_init(&b);
    if (memory)
        sy_statsd_batch_incr(&b, "cache.memory.hit");
    sy_statsd_batch_incr(&b, "cache.hit");
    sy_statsd_batch_flush(&b);
}

sy_rc_t sy_credentials_get(sy_ctx_t *ctx, sy_pool_t *pool, const sy_auth_t *auth, bool refresh,
                           sy_credentials_t *out, sy_http_resp_t *ts_resp)
{
    const sy_settings_t *s = ctx->settings;
    sy_cache_lock_t *lock = NULL;
    bool use_cache = ctx->cache != NULL;
    char *key;
    long request_ttl, cache_ttl;
    uint64_t stamp;
    sy_rc_t rc;

    memset(out, 0, sizeof(*out));
    memset(ts_resp, 0, sizeof(*ts_resp));
    ts_resp->body = (char *)"";
    if (s->cache_hmac_secret == NULL || s->cache_hmac_secret[0] == '\0') {
        ts_resp->rc = SY_ERR_CONFIG;
        return SY_ERR_CONFIG;
    }
    key = sy_palloc(pool, SY_CREDENTIALS_KEY_LEN + 1);
    sy_credentials_cache_key(s->cache_hmac_secret, auth, key);
    out->cache_key = key;

    if (use_cache && !refresh && ctx->memcache != NULL) {
        /* The worker's memory first: no PostgreSQL round trip. */
        if (sy_memcache_get(ctx->memcache, pool, key, &out->token) == SY_OK) {
            out->from_cache = true;
            count_hit(true);
            return SY_OK;
        }
        sy_statsd_incr("cache.memory.miss");
    }
    /* Before any PostgreSQL read: see sy_memcache_put. */
    stamp = sy_memcache_stamp(ctx->memcache);

    if (use_cache && !refresh) {
        rc = lookup(ctx, pool, auth, key, NULL, stamp, &out->token);
        if (rc == SY_OK) {
            out->from_cache = true;
            count_hit(false);
            return SY_OK;
        }
        sy_statsd_incr("cache.miss");
        if (rc == SY_ERR_DB)
            use_cache = false; /* PostgreSQL down: straight to the tokenserver */
    }

    if (use_cache) {
        /* Single flight: whoever holds the lock is fetching this very
         * credential. The lock is only tried, never waited for: a waiting
         * pg_advisory_lock would keep a pooled connection busy, and with
         * more threads than connections the holder itself could then not
         * reach the cache. Instead, wait a little and look again (borrowing
         * a connection for each look), for at most a little longer than the
         * holder's tokenserver call may take; then go on without the lock.
         * When the connections that locks may keep are all taken (many new
         * users at once), sy_cache_trylock gives a lock that holds within
         * this process only rather than make anyone wait for a connection;
         * when the lock cannot be tried at all (PostgreSQL failing), go on
         * without it at once. */
        int64_t deadline =
            sy_ts_now_ms() + (int64_t)(s->token_server_timeout_seconds * 1000.0) + 1000;

        for (;;) {
            bool busy = false;

            if (sy_cache_trylock(ctx->cache, ctx, key, &lock, &busy) == SY_OK) {
                rc = lookup(ctx, pool, auth, key, lock, stamp, &out->token);
                if (rc == SY_OK) {
                    sy_cache_unlock(ctx->cache, ctx, lock);
                    out->from_cache = true;
                    count_hit(false);
                    return SY_OK;
                }
                if (rc == SY_ERR_DB)
                    use_cache = false;
                break;
            }
            lock = NULL;
            if (!busy || sy_ts_now_ms() >= deadline)
                break;
            sleep_ms(LOCK_POLL_MS);
            rc = lookup(ctx, pool, auth, key, NULL, stamp, &out->token);
            if (rc == SY_OK) {
                out->from_cache = true;
                count_hit(false);
                return SY_OK;
            }
            if (rc == SY_ERR_DB) {
                use_cache = false; /* PostgreSQL went away meanwhile */
                break;
            }
        }
    }

    request_ttl = sy_credentials_request_ttl(s->cache_credentials_ttl_seconds,
                                             sy_credentials_expiry_ms(auth), sy_ts_now_ms());
    /* An expired credential is still sent: the tokenserver's 401 is the
     * answer the client needs. No duration is asked for then. */
    rc = sy_tokenserver_fetch(ctx, pool, auth, request_ttl > 0 ? request_ttl : 0, &out->token,
                              ts_resp);
    if (rc == SY_OK && use_cache) {
        cache_ttl = sy_credentials_cache_ttl(request_ttl, out->token.duration,
                                             s->cache_credentials_safety_margin_seconds);
        if (cache_ttl > 0)
            store(ctx, auth, key, lock, &out->token, cache_ttl);
    }
    if (lock != NULL)
        sy_cache_unlock(ctx->cache, ctx, lock);
    return rc;
}

void sy_credentials_evict(sy_ctx_t *ctx, const sy_credentials_t *creds)
{
    if (creds == NULL || creds->cache_key == NULL)
        return;
    if (ctx->cache != NULL && sy_cache_delete(ctx->cache, ctx, creds->cache_key) != SY_OK)
        sy_log_ctx_info(ctx, "credential cache: could not evict an entry");
    /* After the row: a copy of it that another thread read before the
     * DELETE is either dropped here, or refused when it is put later (it
     * read the stamp before its SELECT, hence before this deletion). */
    sy_memcache_delete(ctx->memcache, creds->cache_key);
}
