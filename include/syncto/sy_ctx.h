#ifndef SY_CTX_H
#define SY_CTX_H

#include <stdint.h>
#include "syncto/sy_pool.h"
#include "syncto/sy_settings.h"

struct sy_cache;
struct sy_http;
struct sy_memcache;
struct sy_worker;

/* State of one worker thread. It lives as long as the thread; a request
 * borrows it. Everything here is either thread-owned (pool, http) or
 * thread-safe and shared by the worker's threads (cache, worker). */
typedef struct sy_ctx {
    const sy_settings_t *settings;
    struct sy_worker *worker;   /* per-process shared state, may be NULL in tests */
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

#endif
