#ifndef SY_KV_H
#define SY_KV_H

#include <stdbool.h>
#include <stddef.h>
#include "syncto/sy_pool.h"

/* Ordered list of name/value pairs allocated from a pool: query parameters
 * (repeated names allowed, order kept) and HTTP headers. */
typedef struct {
    const char *name;
    const char *value;
} sy_kv_t;

typedef struct {
    sy_kv_t *items;
    size_t n;
    size_t cap;
} sy_kvlist_t;

/* Appends a pair; strings are not copied (they must live in the pool). */
void sy_kv_add(sy_pool_t *pool, sy_kvlist_t *l, const char *name, const char *value);
/* Replaces every pair named `name` (case-insensitive) by one pair, or adds it. */
void sy_kv_set(sy_pool_t *pool, sy_kvlist_t *l, const char *name, const char *value);
/* First value for name, case-insensitive; NULL when absent. */
const char *sy_kv_get(const sy_kvlist_t *l, const char *name);
/* Removes every pair named `name` (case-insensitive). */
void sy_kv_del(sy_kvlist_t *l, const char *name);
/* True when a pair named `name` exists (case-insensitive). */
bool sy_kv_has(const sy_kvlist_t *l, const char *name);

#endif
