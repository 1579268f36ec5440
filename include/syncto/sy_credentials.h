#ifndef SY_CREDENTIALS_H
#define SY_CREDENTIALS_H

#include <stdbool.h>
#include <stdint.h>
#include "syncto/sy_auth.h"
#include "syncto/sy_ctx.h"
#include "syncto/sy_http.h"
#include "syncto/sy_tokenserver.h"

/* Hawk credentials for a Kinto request, through the encrypted PostgreSQL
 * cache (docs/upstream.md):
 *   key   = "credentials_" + hex HMAC-SHA256(cache_hmac_secret, msg), msg =
 *           assertion "\n" client_state (BrowserID) or
 *           "bearer\n" key_id "\n" token (Bearer);
 *   value = sy_cache_encrypt(cache_hmac_secret, client_state, tokenserver JSON);
 *   ttl   = min(cache_credentials_ttl_seconds, credential expiry, token
 *           duration) - cache_credentials_safety_margin_seconds.
 * Misses are single-flight across workers (sy_cache_trylock); with PostgreSQL
 * down every request asks the tokenserver. In front of PostgreSQL, the
 * worker's in-memory copy (ctx->memcache, sy_memcache.h) under the same key:
 * filled from rows read and answers stored, at most 60 s and never longer
 * than the row; dropped by sy_credentials_evict. */

#define SY_CREDENTIALS_KEY_PREFIX "credentials_"
#define SY_CREDENTIALS_KEY_LEN (12 + 64)

typedef struct {
    sy_token_t token;      /* secrets wiped at pool reset */
    const char *cache_key; /* SY_CREDENTIALS_KEY_LEN chars, pool string */
    bool from_cache;       /* false: just fetched from the tokenserver */
} sy_credentials_t;

/* Credentials for auth: from the cache, or from the tokenserver (then
 * stored). refresh skips the cache read (after a Sync 401). On failure
 * returns the tokenserver outcome (see sy_tokenserver_fetch) with ts_resp
 * filled; SY_ERR_CONFIG when cache_hmac_secret is empty. */
SY_MUST_CHECK sy_rc_t sy_credentials_get(sy_ctx_t *ctx, sy_pool_t *pool, const sy_auth_t *auth,
                                         bool refresh, sy_credentials_t *out,
                                         sy_http_resp_t *ts_resp);

/* Deletes the cached entry, in memory and in PostgreSQL (a Sync 401 means
 * the token is no longer good). */
void sy_credentials_evict(sy_ctx_t *ctx, const sy_credentials_t *creds);

/* Cache key of auth into out (SY_CREDENTIALS_KEY_LEN + 1 bytes). Pure. */
void sy_credentials_cache_key(const char *secret, const sy_auth_t *auth, char *out);

/* Expiry of the credential itself in ms since the epoch, or -1 when it has
 * none that can be read. BrowserID: the smallest "exp" (ms) among the
 * dot-separated fragments that decode to JSON objects. Bearer: "exp"
 * (seconds) of the payload when the token is a JWT. Pure. */
int64_t sy_credentials_expiry_ms(const sy_auth_t *auth);

/* Token lifetime to ask the tokenserver for, in seconds:
 * min(config_ttl, floor((exp_ms - now_ms) / 1000)) when exp_ms >= 0, else
 * config_ttl. May be <= 0 for an expired credential. Pure. */
long sy_credentials_request_ttl(long config_ttl, int64_t exp_ms, int64_t now_ms);

/* How long to cache: min(request_ttl, token_duration when > 0) - margin;
 * <= 0 means "do not cache". Pure. */
long sy_credentials_cache_ttl(long request_ttl, long token_duration, long margin);

#endif
