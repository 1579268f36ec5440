#ifndef SY_CACHE_H
#define SY_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include "syncto/sy_pool.h"
#include "syncto/sy_rc.h"
#include "syncto/sy_settings.h"

/* PostgreSQL cache in the cliquet shape: cache(key, value, ttl). One object
 * per worker process, shared by its threads; it holds a small pool of libpq
 * connections (syncto.cache_pool_size) with prepared statements, and
 * reconnects by itself after a failure. Every call is bounded in time; when
 * PostgreSQL is unreachable calls fail fast with SY_ERR_DB. */
typedef struct sy_cache sy_cache_t;

sy_cache_t *sy_cache_new(const sy_settings_t *s);
void sy_cache_free(sy_cache_t *c);

/* Value of a live (unexpired) key, allocated in pool. SY_ERR_NOT_FOUND when
 * absent or expired, SY_ERR_DB when PostgreSQL fails. */
sy_rc_t sy_cache_get(sy_cache_t *c, sy_pool_t *pool, const char *key, char **value);
/* Inserts or replaces key, expiring ttl_ms milliseconds from now (> 0). */
sy_rc_t sy_cache_set(sy_cache_t *c, const char *key, const char *value, int64_t ttl_ms);
sy_rc_t sy_cache_delete(sy_cache_t *c, const char *key);
/* Deletes expired rows; returns the number removed in *n (may be NULL). */
sy_rc_t sy_cache_purge(sy_cache_t *c, long *n);
/* Heartbeat: a probe write + delete. */
bool sy_cache_ping(sy_cache_t *c);

/* Cross-process mutual exclusion on a key (pg_advisory_lock on its hash),
 * held on one pooled connection until sy_cache_unlock. Used so that N
 * concurrent misses for one credential make one tokenserver call. Waits at
 * most timeout_ms; SY_ERR_DB on timeout or failure (callers then proceed
 * unlocked). */
typedef struct sy_cache_lock sy_cache_lock_t;
sy_rc_t sy_cache_lock(sy_cache_t *c, const char *key, int timeout_ms, sy_cache_lock_t **lock);
void sy_cache_unlock(sy_cache_t *c, sy_cache_lock_t *lock);

#endif
