#ifndef SY_MEMCACHE_H
#define SY_MEMCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "syncto/sy_pool.h"
#include "syncto/sy_rc.h"
#include "syncto/sy_tokenserver.h"

/* In-memory credential cache of one worker process, shared by its threads,
 * in front of the PostgreSQL cache (docs/internals/cache.md, "The in-memory
 * layer"). Keyed by the PostgreSQL cache key; a value is a tokenserver
 * answer (sy_token_t) kept in one slab of libsodium-locked memory, one
 * fixed-size slot per entry, wiped whenever an entry goes (eviction,
 * expiry, replacement, deletion, sy_memcache_wipe, sy_memcache_free). At
 * most max_entries entries, least recently used evicted first. An entry
 * lives at most the ttl it was stored with, SY_MEMCACHE_TTL_CEILING_MS and
 * the token's duration. One mutex guards the table; it is held for a
 * lookup and the copy into the caller's pool, never for I/O. */
typedef struct sy_memcache sy_memcache_t;

#define SY_MEMCACHE_KEY_MAX 95      /* bytes of a key (credentials_ + 64 hex fit) */
#define SY_MEMCACHE_SLOT_BYTES 2048 /* a token's strings, NULs included, must fit */
#define SY_MEMCACHE_TTL_CEILING_MS 60000

typedef struct {
    uint64_t hits;
    uint64_t misses;    /* expired entries met by a lookup included */
    uint64_t stores;    /* entries written, replacements included */
    uint64_t evictions; /* entries dropped to make room (LRU) */
    uint64_t expired;   /* entries dropped because their time was up */
    uint64_t too_large; /* tokens that did not fit in a slot (not stored) */
} sy_memcache_stats_t;

/* A cache of at most max_entries entries (create it in the worker, after
 * fork()). NULL when max_entries <= 0 (the layer is off) or when the slab
 * cannot be allocated (logged). When the slab cannot be locked in RAM
 * (RLIMIT_MEMLOCK), it is used unlocked and that is logged once. */
sy_memcache_t *sy_memcache_new(long max_entries);
/* Wipes every entry and frees everything; NULL-safe. No thread may still
 * use it. */
void sy_memcache_free(sy_memcache_t *m);
/* Wipes and drops every entry; the cache stays usable. Thread-safe (for a
 * worker that must exit while threads still run). NULL-safe. */
void sy_memcache_wipe(sy_memcache_t *m);
/* Wipes and drops the entries whose time is up; returns how many. Called
 * about once a second by the worker's main thread. NULL-safe. */
size_t sy_memcache_sweep(sy_memcache_t *m);

/* Copies the live entry under key into pool as *out: every string of it is
 * allocated with sy_auth_secret_alloc, so it is wiped at pool reset.
 * SY_ERR_NOT_FOUND when absent or expired (an expired entry is wiped) or
 * when m is NULL. */
SY_MUST_CHECK sy_rc_t sy_memcache_get(sy_memcache_t *m, sy_pool_t *pool, const char *key,
                                      sy_token_t *out);

/* The table's deletion count: read it before looking a key up elsewhere
 * (PostgreSQL), and pass it to sy_memcache_put, so that what was read
 * before a deletion cannot be put back after it. 0 when m is NULL. */
uint64_t sy_memcache_stamp(sy_memcache_t *m);

/* Stores tok under key for at most ttl_ms (also capped by
 * SY_MEMCACHE_TTL_CEILING_MS and tok->duration when > 0). With stamp NULL
 * (a fresh tokenserver answer) an entry under key is replaced. With a stamp
 * (a copy of a PostgreSQL row) the entry is only added when key is absent
 * and nothing was deleted since the stamp was read. True when stored;
 * false for a NULL m, ttl_ms <= 0, a key or token that does not fit. ctx:
 * the request's thread context, for its id in log lines (may be NULL). */
bool sy_memcache_put(sy_memcache_t *m, const sy_ctx_t *ctx, const char *key, const sy_token_t *tok,
                     int64_t ttl_ms, const uint64_t *stamp);

/* Wipes and drops the entry under key, if any (a Sync 401). NULL-safe. */
void sy_memcache_delete(sy_memcache_t *m, const char *key);

/* Live and expired entries currently held. */
size_t sy_memcache_count(sy_memcache_t *m);
/* True when the slab is locked in RAM. */
bool sy_memcache_locked(const sy_memcache_t *m);
/* Counters since creation. */
void sy_memcache_stats(sy_memcache_t *m, sy_memcache_stats_t *out);

/* For tests only: the slab (every slot, used or not) and its size, to
 * check what memory holds before and after an entry goes; the clock used
 * for expiry (monotonic milliseconds; NULL restores the real one); and the
 * milliseconds an entry has left (-1 when absent). */
const unsigned char *sy_memcache_test_slab(const sy_memcache_t *m, size_t *len);
void sy_memcache_test_clock(sy_memcache_t *m, int64_t (*now_ms)(void));
int64_t sy_memcache_test_ttl_left(sy_memcache_t *m, const char *key);

#endif
