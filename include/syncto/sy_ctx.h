#ifndef SY_CTX_H
#define SY_CTX_H

#include <stdatomic.h>
#include <stdint.h>
#include "syncto/sy_pool.h"
#include "syncto/sy_settings.h"

struct sy_cache;
struct sy_http;
struct sy_memcache;
struct sy_worker;

/* How busy a worker process is, shared by its threads: the worker counts
 * the threads it runs and those serving a request; the request path reads
 * the share (the "Backoff under load" header, the busy-threads gauge). */
typedef struct {
    atomic_int busy;     /* threads serving a request */
    atomic_int nthreads; /* threads running */
} sy_load_t;

/* State of one worker thread. It lives as long as the thread; a request
 * borrows it. Everything here is either thread-owned (pool, http) or
 * thread-safe and shared by the worker's threads (cache, worker). */
typedef struct sy_ctx {
    const sy_settings_t *settings;
    struct sy_worker *worker;   /* per-process shared state, may be NULL in tests */
    sy_load_t *load;            /* the worker's, NULL without one (unit tests) */
    struct sy_cache *cache;     /* PostgreSQL cache, shared by the worker's threads */
    struct sy_http *http;       /* this thread's libcurl handles */
    sy_pool_t *pool;            /* per-request arena, reset between requests */
    struct sy_request *request; /* the client request being served (a batch,
                                 * not its sub-requests), NULL between
                                 * requests; set by sy_fcgi_handle() */
    int thread_index;
    uint64_t nrequests;

    /* The worker's in-memory credentials in front of the PostgreSQL cache,
     * shared by its threads; NULL when off. */
    struct sy_memcache *memcache;
} sy_ctx_t;

/* Share of the worker's threads busy with a request, the caller's
 * included, 0.0 to 1.0; 0.0 without a worker. Lock-free. */
static inline double sy_ctx_busy_ratio(const sy_ctx_t *ctx)
{
    int n;

    if (ctx == NULL || ctx->load == NULL)
        return 0.0;
    n = atomic_load(&ctx->load->nthreads);
    return n > 0 ? (double)atomic_load(&ctx->load->busy) / (double)n : 0.0;
}

#endif
