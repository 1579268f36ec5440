#ifndef SY_POOL_H
#define SY_POOL_H

#include <stdarg.h>
#include <stddef.h>

/* Per-request arena (nginx ngx_pool_t style). Everything a request needs is
 * allocated from it and released at once by sy_pool_reset(), which also runs
 * the registered cleanups in reverse order (json_object_put, PQclear,
 * curl_slist_free_all...). Allocation failure aborts the process: the master
 * respawns the worker. Not thread-safe: one pool per request/thread. */
typedef struct sy_pool sy_pool_t;
typedef void (*sy_cleanup_fn)(void *data);

/* New pool carving blocks of block_size bytes (0 = 16 KiB); allocations over
 * a quarter of a block get their own. */
sy_pool_t *sy_pool_new(size_t block_size);
/* Frees all memory and runs cleanups; NULL-safe. */
void sy_pool_free(sy_pool_t *pool);
/* Runs cleanups and makes all memory reusable; keeps the first block. */
void sy_pool_reset(sy_pool_t *pool);

void *sy_palloc(sy_pool_t *pool, size_t size);  /* 16-byte aligned */
void *sy_pcalloc(sy_pool_t *pool, size_t size); /* zeroed */
/* Pool copies of a string (NULL gives NULL) / of at most n bytes of it. */
char *sy_pstrdup(sy_pool_t *pool, const char *s);
char *sy_pstrndup(sy_pool_t *pool, const char *s, size_t n);
/* Formatted string in the pool (NULL on an encoding error). */
char *sy_psprintf(sy_pool_t *pool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *sy_pvsprintf(sy_pool_t *pool, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Registers fn(data) to run at reset/free time (LIFO). */
void sy_pool_cleanup_add(sy_pool_t *pool, sy_cleanup_fn fn, void *data);
/* Bytes handed out since the last reset, for memory accounting in tests/logs. */
size_t sy_pool_used(const sy_pool_t *pool);
/* Blocks and large allocations the pool has obtained from malloc since it
 * was created (spare blocks reused across resets are not counted again). */
size_t sy_pool_mallocs(const sy_pool_t *pool);
/* Out of memory: writes the size asked for to stderr and aborts (the master
 * respawns the worker). For the allocators here and in sy_buf.c. */
_Noreturn void sy_pool_oom(size_t size);

#endif
