#ifndef SY_BUF_H
#define SY_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include "syncto/sy_pool.h"
#include "syncto/sy_rc.h"

/* Growable byte buffer with a hard cap fixed at creation (curl curlx_dyn).
 * data is always NUL-terminated when len > 0 or after any append.
 * Appending past max returns SY_ERR_TOO_LARGE and leaves the buffer as it was. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
    bool no_secret; /* see sy_buf_no_secret() */
} sy_buf_t;

/* Empty buffer that will never hold more than max bytes; allocates nothing.
 * The caller frees it with sy_buf_free(). */
void sy_buf_init(sy_buf_t *b, size_t max);
/* The same, owned by pool from birth: sy_buf_free() runs at the pool's
 * reset, however the buffer's user ends. b must live until then (in the
 * pool, or in a frame that outlives the reset). */
void sy_buf_init_pooled(sy_buf_t *b, sy_pool_t *pool, size_t max);
/* Declares that b will never hold a secret (a Sync storage answer, a
 * response to the client): it then grows with realloc and is freed without
 * being wiped, which for a body of several MB saves copying and clearing
 * it. Call it before the first append. Buffers that may see a tokenserver
 * answer, a key or a credential keep the default (wiped). */
void sy_buf_no_secret(sy_buf_t *b);
/* Makes room for n more bytes (and the NUL) at once, so that a buffer whose
 * final size is known (a Content-Length) grows once; n is capped at what
 * max still allows. Allocates, never fails. */
void sy_buf_reserve(sy_buf_t *b, size_t n);
/* Hands b's memory to pool, which frees it (wiping it unless no_secret) at
 * reset, and returns it: len bytes, NUL-terminated ("" from the pool when b
 * holds nothing). b is left empty, as after sy_buf_free(). Spare capacity
 * of a no-secret buffer is given back first. */
char *sy_buf_give_to_pool(sy_buf_t *b, sy_pool_t *pool);
/* Append n bytes (or a C string); SY_ERR_TOO_LARGE past max. */
sy_rc_t sy_buf_append(sy_buf_t *b, const void *p, size_t n);
sy_rc_t sy_buf_appends(sy_buf_t *b, const char *s);
/* Append formatted text; SY_ERR_TOO_LARGE past max, buffer unchanged. */
sy_rc_t sy_buf_printf(sy_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sy_buf_reset(sy_buf_t *b); /* len = 0, keeps memory */
/* Frees memory; wipes it first (buffers may hold secrets) unless marked
 * with sy_buf_no_secret(). NULL-safe; b can be used again. */
void sy_buf_free(sy_buf_t *b);

#endif
