#include "syncto/sy_kv.h"

#include <string.h>
#include <strings.h>

#define KV_MIN_CAP 8

void sy_kv_add(sy_pool_t *pool, sy_kvlist_t *l, const char *name, const char *value)
{
    if (l->n == l->cap) {
        /* Pool memory is not freed one piece at a time: the old array stays
         * in the pool until reset. Doubling keeps the total at 2x. */
        size_t ncap = l->cap < KV_MIN_CAP ? KV_MIN_CAP : l->cap * 2;
        sy_kv_t *items = sy_palloc(pool, ncap * sizeof(*items));
        if (l->n > 0)
            memcpy(items, l->items, l->n * sizeof(*items));
        l->items = items;
        l->cap = ncap;
    }
    l->items[l->n].name = name;
    l->items[l->n].value = value;
    l->n++;
}

void sy_kv_set(sy_pool_t *pool, sy_kvlist_t *l, const char *name, const char *value)
{
    size_t i, j;
    bool found = false;

    /* The first pair keeps its position (and its name's spelling is
     * replaced); later duplicates are dropped. */
    for (i = 0, j = 0; i < l->n; i++) {
        if (strcasecmp(l->items[i].name, name) == 0) {
            if (found)
                continue;
            found = true;
            l->items[i].name = name;
            l->items[i].value = value;
        }
        l->items[j++] = l->items[i];
    }
    l->n = j;
    if (!found)
        sy_kv_add(pool, l, name, value);
}

const char *sy_kv_get(const sy_kvlist_t *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcasecmp(l->items[i].name, name) == 0)
            return l->items[i].value;
    }
    return NULL;
}

void sy_kv_del(sy_kvlist_t *l, const char *name)
{
    size_t i, j;

    for (i = 0, j = 0; i < l->n; i++) {
        if (strcasecmp(l->items[i].name, name) != 0)
            l->items[j++] = l->items[i];
    }
    l->n = j;
}

bool sy_kv_has(const sy_kvlist_t *l, const char *name)
{
    return sy_kv_get(l, name) != NULL;
}
