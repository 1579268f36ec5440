#ifndef SY_CACHE_H
#define SY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "syncto/sy_ctx.h"
#include "syncto/sy_pool.h"
#include "syncto/sy_rc.h"
#include "syncto/sy_settings.h"

/* PostgreSQL cache in the cliquet shape: cache(key, value, ttl). One object
 * per worker process, shared by its threads; it holds a small pool of libpq
 * connections (syncto.cache_pool_size) with prepared statements, and
 * reconnects by itself after a failure. Every call is bounded in time; when
 * PostgreSQL is unreachable calls fail fast with SY_ERR_DB. The calls take
 * ctx, the thread context of the request they work for, so that their log
 * lines carry its request id (sy_log_ctx); NULL outside a request. */
typedef struct sy_cache sy_cache_t;

#define SY_CACHE_KEY_MAX 256                     /* bytes; the key column is VARCHAR(256) */
#define SY_CACHE_VALUE_MAX ((size_t)1024 * 1024) /* bytes of a value before JSON quoting */

/* Creates the cache for syncto.cache_url with syncto.cache_pool_size
 * connections, opened lazily (create it after fork(), in the worker). NULL
 * when cache_url is empty or not a libpq connection string (logged). */
sy_cache_t *sy_cache_new(const sy_settings_t *s);
/* Closes every connection; NULL-safe. No lock may still be held. */
void sy_cache_free(sy_cache_t *c);

/* Value of a live (unexpired) key, allocated in pool. SY_ERR_NOT_FOUND when
 * absent or expired, SY_ERR_DB when PostgreSQL fails. */
SY_MUST_CHECK sy_rc_t sy_cache_get(sy_cache_t *c, const sy_ctx_t *ctx, sy_pool_t *pool,
                                   const char *key, char **value);
/* sy_cache_get that also gives, on SY_OK, the milliseconds the row has left
 * as PostgreSQL sees it (rounded down; -1 when it never expires). */
SY_MUST_CHECK sy_rc_t sy_cache_get_ttl(sy_cache_t *c, const sy_ctx_t *ctx, sy_pool_t *pool,
                                       const char *key, char **value, int64_t *ttl_ms);
/* Inserts or replaces key, expiring ttl_ms milliseconds from now (> 0).
 * The row stores value as a JSON string literal, as cliquet did. */
SY_MUST_CHECK sy_rc_t sy_cache_set(sy_cache_t *c, const sy_ctx_t *ctx, const char *key,
                                   const char *value, int64_t ttl_ms);
/* Removes key; SY_OK whether or not it existed, SY_ERR_DB on failure. */
SY_MUST_CHECK sy_rc_t sy_cache_delete(sy_cache_t *c, const sy_ctx_t *ctx, const char *key);
/* Deletes expired rows; returns the number removed in *n (may be NULL). */
SY_MUST_CHECK sy_rc_t sy_cache_purge(sy_cache_t *c, const sy_ctx_t *ctx, long *n);
/* Heartbeat: a probe write + delete. */
bool sy_cache_ping(sy_cache_t *c, const sy_ctx_t *ctx);

/* Cross-process mutual exclusion on a key (pg_advisory_lock on its hash),
 * held on one pooled connection until sy_cache_unlock. Waits at most
 * timeout_ms for the lock (<= 0: one try) and up to 1 s for a connection;
 * SY_ERR_DB on timeout or failure (callers then proceed unlocked). A held
 * lock keeps one pool connection busy: use sy_cache_lock_get/set meanwhile. */
typedef struct sy_cache_lock sy_cache_lock_t;
SY_MUST_CHECK sy_rc_t sy_cache_lock(sy_cache_t *c, const sy_ctx_t *ctx, const char *key,
                                    int timeout_ms, sy_cache_lock_t **lock);
/* One try at the lock on key that never waits for its holder, so that N
 * concurrent misses for one credential make one tokenserver call. At most
 * half the pool (at least one connection) keeps such locks; beyond that the
 * lock holds within this process only, at once. SY_ERR_DB when not taken:
 * *busy is true when a thread or another session holds it, else false. */
SY_MUST_CHECK sy_rc_t sy_cache_trylock(sy_cache_t *c, const sy_ctx_t *ctx, const char *key,
                                       sy_cache_lock_t **lock, bool *busy);
/* sy_cache_get and sy_cache_set on the connection that holds lock: a lock
 * holder needs no second connection. With lock NULL or holding no
 * connection, on a pooled connection waited for at most 200 ms. Results as
 * sy_cache_get / sy_cache_set; no retry on a new session under a lock. */
SY_MUST_CHECK sy_rc_t sy_cache_lock_get(sy_cache_t *c, const sy_ctx_t *ctx, sy_cache_lock_t *lock,
                                        sy_pool_t *pool, const char *key, char **value);
/* sy_cache_lock_get with the row's time left, as sy_cache_get_ttl. */
SY_MUST_CHECK sy_rc_t sy_cache_lock_get_ttl(sy_cache_t *c, const sy_ctx_t *ctx,
                                            sy_cache_lock_t *lock, sy_pool_t *pool, const char *key,
                                            char **value, int64_t *ttl_ms);
SY_MUST_CHECK sy_rc_t sy_cache_lock_set(sy_cache_t *c, const sy_ctx_t *ctx, sy_cache_lock_t *lock,
                                        const char *key, const char *value, int64_t ttl_ms);
/* Releases the lock, returns its connection to the pool and frees lock;
 * NULL-safe. */
void sy_cache_unlock(sy_cache_t *c, const sy_ctx_t *ctx, sy_cache_lock_t *lock);

/* The stored form of a value, a JSON string literal (as cliquet wrote it).
 * quote: malloc'ed literal of value[0..len), quotes included, bytes >= 0x80
 * as they are; the caller wipes and frees it. unquote: the decoded literal
 * s[0..len) in pool, NUL-terminated; SY_ERR_INVALID when s is not exactly
 * one JSON string or holds \u0000. What sy_cache_get/sy_cache_set use. */
char *sy_cache_value_quote(const char *value, size_t len);
SY_MUST_CHECK sy_rc_t sy_cache_value_unquote(sy_pool_t *pool, const char *s, size_t len,
                                             char **value);

/* Opens one libpq connection (also used by syncto-migrate). url is a libpq
 * URI or key=value string; connect_timeout (seconds) replaces the URL's own,
 * options (may be NULL) is appended to the URL's server options, appname is
 * the application_name unless the URL sets one. NULL on failure with one line
 * in err that never contains the password. The caller PQfinish()es it. */
struct pg_conn;
struct pg_conn *sy_cache_pq_connect(const char *url, int connect_timeout, const char *options,
                                    const char *appname, char *err, size_t errlen);

#endif
