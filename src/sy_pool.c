/* Per-request arena: a bump allocator over fixed-size blocks.
 *
 * Small requests are carved from the current block; when it is exhausted a
 * new block is chained in and becomes current (the tail of the old one is
 * abandoned, as in nginx). Requests larger than a quarter of a block get a
 * block of their own on a separate list, so a single big body never inflates
 * the block size. sy_pool_reset() runs the cleanups, frees every block but
 * the first and rewinds the first one, so a worker thread serving small
 * requests does not call malloc at all in steady state. A few of the freed
 * blocks are kept aside for the next request (POOL_SPARE_MAX): a request
 * that needs three blocks costs no malloc either once the thread has served
 * one like it, and blocks do not go through the allocator's shared arenas
 * (and their locks) on every request. */
#include "syncto/sy_pool.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL_ALIGN ((size_t)16)
#define ALIGN_UP(n) (((n) + (POOL_ALIGN - 1)) & ~(POOL_ALIGN - 1))
#define POOL_DEFAULT_BLOCK ((size_t)16384)
#define POOL_MIN_BLOCK ((size_t)256)
#define POOL_SPARE_MAX 4

typedef struct block {
    struct block *next;
    unsigned char *pos; /* first free byte */
    unsigned char *end; /* one past the last usable byte */
} block_t;

typedef struct large {
    struct large *next;
} large_t;

typedef struct cleanup {
    sy_cleanup_fn fn;
    void *data;
    struct cleanup *next;
} cleanup_t;

struct sy_pool {
    block_t *first;   /* kept across resets */
    block_t *current; /* where small allocations are carved */
    large_t *large;   /* oversized allocations, one malloc each */
    cleanup_t *cleanups;
    block_t *spare; /* freed blocks kept for reuse, at most POOL_SPARE_MAX */
    size_t nspare;
    size_t nmallocs;   /* blocks and large allocations obtained from malloc */
    size_t block_size; /* usable bytes per block */
    size_t large_min;  /* requests above this go to their own block */
    size_t used;
};

/* Under AddressSanitizer the free part of every block is poisoned and each
 * small allocation is followed by a poisoned redzone, so overruns inside a
 * block are caught as they would be with malloc. */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif
#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define REDZONE POOL_ALIGN
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#define REDZONE ((size_t)0)
#endif

#define BLOCK_HDR ALIGN_UP(sizeof(block_t))
#define LARGE_HDR ALIGN_UP(sizeof(large_t))

void sy_pool_oom(size_t size)
{
    char msg[96];
    int n = snprintf(msg, sizeof(msg), "syncto: out of memory allocating %zu bytes\n", size);
    if (n > 0) {
        ssize_t w = write(STDERR_FILENO, msg, (size_t)n);
        (void)w;
    }
    abort();
}

static void *xaligned_alloc(size_t size)
{
    void *p;

    if (size > SIZE_MAX - POOL_ALIGN)
        sy_pool_oom(size);
    p = aligned_alloc(POOL_ALIGN, ALIGN_UP(size));
    if (p == NULL)
        sy_pool_oom(size);
    return p;
}

static block_t *block_new(size_t usable)
{
    unsigned char *mem = xaligned_alloc(BLOCK_HDR + usable);
    block_t *b = (block_t *)mem;

    b->next = NULL;
    b->pos = mem + BLOCK_HDR;
    b->end = b->pos + usable;
    POISON(b->pos, usable);
    return b;
}

/* A block for pool: a spare one when there is one, else a new one. */
static block_t *block_get(sy_pool_t *pool)
{
    block_t *b = pool->spare;

    if (b == NULL) {
        pool->nmallocs++;
        return block_new(pool->block_size);
    }
    pool->spare = b->next;
    pool->nspare--;
    b->next = NULL;
    b->pos = (unsigned char *)b + BLOCK_HDR;
    POISON(b->pos, pool->block_size);
    return b;
}

static void block_put(sy_pool_t *pool, block_t *b)
{
    if (pool->nspare >= POOL_SPARE_MAX) {
        free(b);
        return;
    }
    b->next = pool->spare;
    pool->spare = b;
    pool->nspare++;
}

sy_pool_t *sy_pool_new(size_t block_size)
{
    sy_pool_t *pool = malloc(sizeof(*pool));

    if (pool == NULL)
        sy_pool_oom(sizeof(*pool));
    if (block_size == 0)
        block_size = POOL_DEFAULT_BLOCK;
    if (block_size < POOL_MIN_BLOCK)
        block_size = POOL_MIN_BLOCK;
    if (block_size > SIZE_MAX / 2)
        sy_pool_oom(block_size);
    block_size = ALIGN_UP(block_size);
    pool->block_size = block_size;
    pool->large_min = block_size / 4;
    pool->first = block_new(block_size);
    pool->current = pool->first;
    pool->large = NULL;
    pool->cleanups = NULL;
    pool->spare = NULL;
    pool->nspare = 0;
    pool->nmallocs = 1;
    pool->used = 0;
    return pool;
}

static void run_cleanups(sy_pool_t *pool)
{
    /* A cleanup may register another one (or allocate): keep draining until
     * the list stays empty; memory is only released afterwards. */
    while (pool->cleanups != NULL) {
        cleanup_t *c = pool->cleanups;
        pool->cleanups = NULL;
        for (; c != NULL; c = c->next)
            c->fn(c->data);
    }
}

static void free_large(sy_pool_t *pool)
{
    large_t *l = pool->large;

    while (l != NULL) {
        large_t *next = l->next;
        free(l);
        l = next;
    }
    pool->large = NULL;
}

void sy_pool_reset(sy_pool_t *pool)
{
    block_t *b;

    if (pool == NULL)
        return;
    run_cleanups(pool);
    free_large(pool);
    b = pool->first->next;
    while (b != NULL) {
        block_t *next = b->next;
        block_put(pool, b);
        b = next;
    }
    pool->first->next = NULL;
    pool->first->pos = (unsigned char *)pool->first + BLOCK_HDR;
    POISON(pool->first->pos, pool->block_size);
    pool->current = pool->first;
    pool->used = 0;
}

void sy_pool_free(sy_pool_t *pool)
{
    if (pool == NULL)
        return;
    sy_pool_reset(pool);
    while (pool->spare != NULL) {
        block_t *next = pool->spare->next;
        free(pool->spare);
        pool->spare = next;
    }
    free(pool->first);
    free(pool);
}

static void *alloc_large(sy_pool_t *pool, size_t size)
{
    unsigned char *mem;
    large_t *l;

    if (size > SIZE_MAX - LARGE_HDR - POOL_ALIGN)
        sy_pool_oom(size);
    mem = xaligned_alloc(LARGE_HDR + size);
    pool->nmallocs++;
    l = (large_t *)mem;
    l->next = pool->large;
    pool->large = l;
    return mem + LARGE_HDR;
}

void *sy_palloc(sy_pool_t *pool, size_t size)
{
    block_t *b;
    size_t asked;
    void *p;

    if (size == 0)
        size = 1;
    if (size > pool->large_min) {
        pool->used += size;
        return alloc_large(pool, size);
    }
    asked = size;
    size = ALIGN_UP(size + REDZONE);
    b = pool->current;
    if ((size_t)(b->end - b->pos) < size) {
        block_t *nb = block_get(pool);
        b->next = nb;
        pool->current = nb;
        b = nb;
    }
    p = b->pos;
    b->pos += size;
    pool->used += size;
    UNPOISON(p, asked);
    return p;
}

void *sy_pcalloc(sy_pool_t *pool, size_t size)
{
    void *p = sy_palloc(pool, size);

    memset(p, 0, size);
    return p;
}

char *sy_pstrndup(sy_pool_t *pool, const char *s, size_t n)
{
    char *p;

    if (s == NULL)
        return NULL;
    n = strnlen(s, n);
    if (n == SIZE_MAX)
        sy_pool_oom(n);
    p = sy_palloc(pool, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *sy_pstrdup(sy_pool_t *pool, const char *s)
{
    if (s == NULL)
        return NULL;
    return sy_pstrndup(pool, s, SIZE_MAX - 1);
}

char *sy_pvsprintf(sy_pool_t *pool, const char *fmt, va_list ap)
{
    block_t *b = pool->current;
    size_t room = (size_t)(b->end - b->pos);
    va_list aq;
    char *p;
    int n;

    /* Optimistic pass straight into the free tail of the current block:
     * most formatted strings are short and fit, saving the sizing pass. */
    UNPOISON(b->pos, room);
    va_copy(aq, ap);
    n = vsnprintf((char *)b->pos, room, fmt, aq);
    va_end(aq);
    if (n >= 0 && (size_t)n + 1 + REDZONE <= room && (size_t)n + 1 <= pool->large_min) {
        /* room and every block offset are multiples of POOL_ALIGN */
        size_t size = ALIGN_UP((size_t)n + 1 + REDZONE);
        p = (char *)b->pos;
        b->pos += size;
        pool->used += size;
        POISON(p + n + 1, (size_t)(b->end - (unsigned char *)p) - (size_t)n - 1);
        return p;
    }
    POISON(b->pos, room);
    if (n < 0)
        return NULL;
    p = sy_palloc(pool, (size_t)n + 1);
    va_copy(aq, ap);
    n = vsnprintf(p, (size_t)n + 1, fmt, aq);
    va_end(aq);
    return n < 0 ? NULL : p;
}

char *sy_psprintf(sy_pool_t *pool, const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = sy_pvsprintf(pool, fmt, ap);
    va_end(ap);
    return p;
}

void sy_pool_cleanup_add(sy_pool_t *pool, sy_cleanup_fn fn, void *data)
{
    cleanup_t *c;

    if (fn == NULL)
        return;
    c = sy_palloc(pool, sizeof(*c));
    c->fn = fn;
    c->data = data;
    c->next = pool->cleanups;
    pool->cleanups = c;
}

size_t sy_pool_mallocs(const sy_pool_t *pool)
{
    return pool == NULL ? 0 : pool->nmallocs;
}

size_t sy_pool_used(const sy_pool_t *pool)
{
    return pool == NULL ? 0 : pool->used;
}
