#ifndef SY_BUF_H
#define SY_BUF_H

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
} sy_buf_t;

/* Empty buffer that will never hold more than max bytes; allocates nothing.
 * The caller frees it with sy_buf_free(). */
void sy_buf_init(sy_buf_t *b, size_t max);
/* The same, owned by pool from birth: sy_buf_free() runs at the pool's
 * reset, however the buffer's user ends. b must live until then (in the
 * pool, or in a frame that outlives the reset). */
void sy_buf_init_pooled(sy_buf_t *b, sy_pool_t *pool, size_t max);
/* Append n bytes (or a C string); SY_ERR_TOO_LARGE past max. */
sy_rc_t sy_buf_append(sy_buf_t *b, const void *p, size_t n);
sy_rc_t sy_buf_appends(sy_buf_t *b, const char *s);
/* Append formatted text; SY_ERR_TOO_LARGE past max, buffer unchanged. */
sy_rc_t sy_buf_printf(sy_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sy_buf_reset(sy_buf_t *b); /* len = 0, keeps memory */
/* Frees memory; wipes it first (buffers may hold secrets). NULL-safe. */
void sy_buf_free(sy_buf_t *b);

#endif
