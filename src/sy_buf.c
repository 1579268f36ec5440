#include "syncto/sy_buf.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncto/sy_pool.h"

#define BUF_MIN_CAP ((size_t)256)

void sy_buf_init(sy_buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->no_secret = false;
}

void sy_buf_no_secret(sy_buf_t *b)
{
    b->no_secret = true;
}

static void buf_cleanup(void *data)
{
    sy_buf_free(data);
}

void sy_buf_init_pooled(sy_buf_t *b, sy_pool_t *pool, size_t max)
{
    sy_buf_init(b, max);
    sy_pool_cleanup_add(pool, buf_cleanup, b);
}

/* Moves b to a block of ncap bytes (ncap > b->len). A no-secret buffer is
 * simply realloc'ed (glibc moves a large mmap'ed block with mremap, without
 * copying); any other is copied to a new block and the old one is wiped
 * before it is released (it may hold secrets). */
static void move_to(sy_buf_t *b, size_t ncap)
{
    char *nd;

    if (b->no_secret) {
        nd = realloc(b->data, ncap);
        if (nd == NULL)
            sy_pool_oom(ncap);
        if (b->data == NULL)
            nd[0] = '\0';
    } else {
        nd = malloc(ncap);
        if (nd == NULL)
            sy_pool_oom(ncap);
        if (b->data != NULL) {
            memcpy(nd, b->data, b->len + 1);
            sodium_memzero(b->data, b->cap);
            free(b->data);
        } else {
            nd[0] = '\0';
        }
    }
    b->data = nd;
    b->cap = ncap;
}

/* Makes room for `extra` more bytes plus the terminating NUL. The caller has
 * already checked len + extra <= max. Growth doubles, bounded by max + 1, so
 * old contents are moved at most log2(max) times. */
static void grow(sy_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    size_t ncap;

    if (need <= b->cap)
        return;
    ncap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (b->max < SIZE_MAX && ncap > b->max + 1)
        ncap = b->max + 1;
    if (ncap < need)
        ncap = need;
    move_to(b, ncap);
}

void sy_buf_reserve(sy_buf_t *b, size_t n)
{
    if (b->len > b->max)
        return;
    if (n > b->max - b->len)
        n = b->max - b->len;
    if (b->len + n + 1 > b->cap)
        move_to(b, b->len + n + 1);
}

/* Spare capacity above which a no-secret buffer is shrunk before it is
 * handed over: below it, the realloc is not worth a call. */
#define GIVE_SHRINK_SLACK ((size_t)64 * 1024)

char *sy_buf_give_to_pool(sy_buf_t *b, sy_pool_t *pool)
{
    sy_buf_t *kept;
    char *data;

    if (b->data == NULL)
        return sy_pstrdup(pool, "");
    if (b->no_secret && b->cap - (b->len + 1) > GIVE_SHRINK_SLACK)
        move_to(b, b->len + 1);
    kept = sy_palloc(pool, sizeof(*kept));
    *kept = *b;
    sy_pool_cleanup_add(pool, buf_cleanup, kept);
    data = b->data;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return data;
}

sy_rc_t sy_buf_append(sy_buf_t *b, const void *p, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return SY_ERR_TOO_LARGE;
    grow(b, n);
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SY_OK;
}

sy_rc_t sy_buf_appends(sy_buf_t *b, const char *s)
{
    return sy_buf_append(b, s, strlen(s));
}

sy_rc_t sy_buf_printf(sy_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    size_t room;
    int n;

    /* First try in the space already there; on overflow size exactly and
     * format again. Failure leaves len and the NUL where they were. */
    grow(b, 0);
    room = b->cap - b->len;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->data[b->len] = '\0';
        return SY_ERR_INVALID;
    }
    if ((size_t)n > b->max || b->len > b->max - (size_t)n) {
        b->data[b->len] = '\0';
        return SY_ERR_TOO_LARGE;
    }
    if ((size_t)n >= room) {
        grow(b, (size_t)n);
        va_start(ap, fmt);
        n = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->data[b->len] = '\0';
            return SY_ERR_INVALID;
        }
    }
    b->len += (size_t)n;
    return SY_OK;
}

void sy_buf_reset(sy_buf_t *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void sy_buf_free(sy_buf_t *b)
{
    if (b == NULL)
        return;
    if (b->data != NULL) {
        if (!b->no_secret)
            sodium_memzero(b->data, b->cap);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
