/* In-memory credential cache: a chained hash table with an LRU list over a
 * fixed array of entries, whose secret parts live in one slab of locked
 * memory.
 *
 * Why one slab rather than sodium_malloc() per entry: sodium_malloc()
 * surrounds each allocation with guard pages and locks at least a page of
 * its own, so a few thousand entries would cost several pages each and
 * thousands of mappings, and would outgrow RLIMIT_MEMLOCK (8 MiB by
 * default) long before the table is full. One slab of fixed slots,
 * allocated once with sodium_malloc() (guard pages around it, kept out of
 * core dumps), is locked in one call; a token's strings are a few hundred
 * bytes, so a fixed slot wastes little and needs no allocator.
 *
 * Why a stamp on puts of PostgreSQL rows: a thread may read a row, then
 * another thread evicts the key after a Sync 401 (memory and row), then the
 * first one stores what it read. The stamp (how many deletions the table
 * has seen) taken before the read tells the first thread that its copy may
 * be the evicted one, and it is not stored. */
#include "syncto/sy_memcache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "syncto/sy_auth.h"
#include "syncto/sy_log.h"

#define NIL (-1)
#define NFIELDS 6 /* id, key, uid, api_endpoint, hashed_fxa_uid, json */

/* Not secret: the key is an HMAC (it is the PostgreSQL row's key), and the
 * rest is bookkeeping. The token itself is in the entry's slot. */
typedef struct {
    char key[SY_MEMCACHE_KEY_MAX + 1];
    uint64_t hash;
    int64_t expires_ms;    /* monotonic */
    int32_t hnext;         /* next entry of the same bucket */
    int32_t prev, next;    /* LRU list (head: most recent); free list: next */
    uint32_t len;          /* bytes of the slot in use */
    uint32_t off[NFIELDS]; /* where each field starts in the slot */
    uint32_t json_len;
    long duration;
    bool used;
} entry_t;

struct sy_memcache {
    pthread_mutex_t mu;
    entry_t *entries;
    int32_t cap;
    int32_t count;
    int32_t *buckets;
    uint32_t mask;
    int32_t head, tail; /* LRU */
    int32_t free_list;
    unsigned char *slab; /* cap * SY_MEMCACHE_SLOT_BYTES, from sodium_malloc */
    size_t slab_len;
    bool locked;
    uint64_t deletions; /* the stamp */
    int64_t (*now_ms)(void);
    sy_memcache_stats_t stats;
};

static atomic_bool lock_failure_logged;

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a; the keys are HMAC outputs already, so anything that mixes all
 * bytes will do. */
static uint64_t hash_key(const char *key)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *key != '\0'; key++) {
        h ^= (unsigned char)*key;
        h *= 1099511628211ULL;
    }
    return h;
}

static unsigned char *slot_of(const sy_memcache_t *m, int32_t i)
{
    return m->slab + (size_t)i * SY_MEMCACHE_SLOT_BYTES;
}

sy_memcache_t *sy_memcache_new(long max_entries)
{
    sy_memcache_t *m;
    uint32_t nbuckets = 1;

    if (max_entries <= 0)
        return NULL;
    /* sodium_malloc needs it (main() has usually called it: a no-op then). */
    if (sodium_init() < 0) {
        sy_log_error(NULL, "memory cache: libsodium cannot be initialised; it is off");
        return NULL;
    }
    if (max_entries > INT32_MAX / 4)
        max_entries = INT32_MAX / 4;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        abort();
    m->cap = (int32_t)max_entries;
    m->slab_len = (size_t)m->cap * SY_MEMCACHE_SLOT_BYTES;
    /* Zero-filled, locked when RLIMIT_MEMLOCK allows (sodium_malloc tries
     * and ignores a failure; asking again tells whether it worked), marked
     * not to be dumped, between guard pages. */
    m->slab = sodium_malloc(m->slab_len);
    if (m->slab == NULL) {
        sy_log_error(NULL, "memory cache: cannot allocate %zu bytes for %ld entries; it is off",
                     m->slab_len, max_entries);
        free(m);
        return NULL;
    }
    sodium_memzero(m->slab, m->slab_len);
    m->locked = sodium_mlock(m->slab, m->slab_len) == 0;
    if (!m->locked && !atomic_exchange(&lock_failure_logged, true)) {
        struct rlimit rl;
        long long limit = -1;

        if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            limit = (long long)rl.rlim_cur;
        sy_log_warn(NULL,
                    "memory cache: cannot lock %zu bytes in RAM (RLIMIT_MEMLOCK %lld bytes): "
                    "cached credentials may be swapped out; raise the limit (LimitMEMLOCK=) or "
                    "lower syncto.cache_memory_entries",
                    m->slab_len, limit);
    }

    while (nbuckets < (uint32_t)m->cap * 2)
        nbuckets <<= 1;
    m->mask = nbuckets - 1;
    m->buckets = malloc(nbuckets * sizeof(*m->buckets));
    m->entries = calloc((size_t)m->cap, sizeof(*m->entries));
    if (m->buckets == NULL || m->entries == NULL)
        abort();
    for (uint32_t b = 0; b < nbuckets; b++)
        m->buckets[b] = NIL;
    for (int32_t i = 0; i < m->cap; i++)
        m->entries[i].next = i + 1 < m->cap ? i + 1 : NIL;
    m->free_list = 0;
    m->head = m->tail = NIL;
    m->now_ms = mono_ms;
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

/* --- lists, under mu --- */

static void lru_unlink(sy_memcache_t *m, int32_t i)
{
    entry_t *e = &m->entries[i];

    if (e->prev != NIL)
        m->entries[e->prev].next = e->next;
    else
        m->head = e->next;
    if (e->next != NIL)
        m->entries[e->next].prev = e->prev;
    else
        m->tail = e->prev;
    e->prev = e->next = NIL;
}

static void lru_push_head(sy_memcache_t *m, int32_t i)
{
    entry_t *e = &m->entries[i];

    e->prev = NIL;
    e->next = m->head;
    if (m->head != NIL)
        m->entries[m->head].prev = i;
    m->head = i;
    if (m->tail == NIL)
        m->tail = i;
}

static int32_t find(const sy_memcache_t *m, const char *key, uint64_t h)
{
    for (int32_t i = m->buckets[h & m->mask]; i != NIL; i = m->entries[i].hnext) {
        const entry_t *e = &m->entries[i];

        if (e->hash == h && strcmp(e->key, key) == 0)
            return i;
    }
    return NIL;
}

/* Wipes entry i's slot and returns it to the free list. */
static void drop(sy_memcache_t *m, int32_t i)
{
    entry_t *e = &m->entries[i];
    int32_t *p = &m->buckets[e->hash & m->mask];

    while (*p != i)
        p = &m->entries[*p].hnext;
    *p = e->hnext;
    lru_unlink(m, i);
    sodium_memzero(slot_of(m, i), e->len);
    memset(e, 0, sizeof(*e));
    e->prev = NIL;
    e->next = m->free_list;
    m->free_list = i;
    m->count--;
}

void sy_memcache_free(sy_memcache_t *m)
{
    if (m == NULL)
        return;
    /* sodium_free() also zeroes and unlocks the region it frees. */
    sodium_memzero(m->slab, m->slab_len);
    sodium_free(m->slab);
    pthread_mutex_destroy(&m->mu);
    free(m->buckets);
    free(m->entries);
    free(m);
}

void sy_memcache_wipe(sy_memcache_t *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    while (m->head != NIL)
        drop(m, m->head);
    sodium_memzero(m->slab, m->slab_len);
    m->deletions++;
    pthread_mutex_unlock(&m->mu);
}

size_t sy_memcache_sweep(sy_memcache_t *m)
{
    size_t n = 0;
    int64_t now;

    if (m == NULL)
        return 0;
    pthread_mutex_lock(&m->mu);
    now = m->now_ms();
    for (int32_t i = m->head; i != NIL;) {
        int32_t next = m->entries[i].next;

        if (m->entries[i].expires_ms <= now) {
            drop(m, i);
            m->stats.expired++;
            n++;
        }
        i = next;
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}

sy_rc_t sy_memcache_get(sy_memcache_t *m, sy_pool_t *pool, const char *key, sy_token_t *out)
{
    uint64_t h;
    int32_t i;
    entry_t *e;
    char *p;

    memset(out, 0, sizeof(*out));
    if (m == NULL || key == NULL || pool == NULL)
        return SY_ERR_NOT_FOUND;
    h = hash_key(key);
    pthread_mutex_lock(&m->mu);
    i = find(m, key, h);
    if (i != NIL && m->entries[i].expires_ms <= m->now_ms()) {
        drop(m, i);
        m->stats.expired++;
        i = NIL;
    }
    if (i == NIL) {
        m->stats.misses++;
        pthread_mutex_unlock(&m->mu);
        return SY_ERR_NOT_FOUND;
    }
    e = &m->entries[i];
    lru_unlink(m, i);
    lru_push_head(m, i);
    /* One copy of the whole slot, wiped at pool reset. */
    p = sy_auth_secret_alloc(pool, e->len);
    memcpy(p, slot_of(m, i), e->len);
    out->id = p + e->off[0];
    out->key = p + e->off[1];
    out->uid = p + e->off[2];
    out->api_endpoint = p + e->off[3];
    out->hashed_fxa_uid = p + e->off[4];
    out->json = p + e->off[5];
    out->json_len = e->json_len;
    out->duration = e->duration;
    m->stats.hits++;
    pthread_mutex_unlock(&m->mu);
    return SY_OK;
}

uint64_t sy_memcache_stamp(sy_memcache_t *m)
{
    uint64_t s;

    if (m == NULL)
        return 0;
    pthread_mutex_lock(&m->mu);
    s = m->deletions;
    pthread_mutex_unlock(&m->mu);
    return s;
}

/* Lays tok's strings out in a slot (each NUL-terminated); false when they
 * do not fit. Fills e's offsets and lengths. */
static bool layout(const sy_token_t *tok, entry_t *e, size_t lens[NFIELDS],
                   const char *fields[NFIELDS])
{
    size_t total = 0;

    fields[0] = tok->id;
    fields[1] = tok->key;
    fields[2] = tok->uid != NULL ? tok->uid : "";
    fields[3] = tok->api_endpoint;
    fields[4] = tok->hashed_fxa_uid != NULL ? tok->hashed_fxa_uid : "";
    fields[5] = tok->json != NULL ? tok->json : "";
    for (int f = 0; f < NFIELDS; f++) {
        lens[f] = f == 5 ? (tok->json != NULL ? tok->json_len : 0) : strlen(fields[f]);
        e->off[f] = (uint32_t)total;
        total += lens[f] + 1;
        if (total > SY_MEMCACHE_SLOT_BYTES)
            return false;
    }
    e->len = (uint32_t)total;
    e->json_len = (uint32_t)lens[5];
    e->duration = tok->duration;
    return true;
}

bool sy_memcache_put(sy_memcache_t *m, const sy_ctx_t *ctx, const char *key, const sy_token_t *tok,
                     int64_t ttl_ms, const uint64_t *stamp)
{
    const char *fields[NFIELDS];
    size_t lens[NFIELDS];
    entry_t shape;
    unsigned char *slot;
    uint64_t h;
    int32_t i;

    if (m == NULL || key == NULL || tok == NULL || tok->id == NULL || tok->key == NULL ||
        tok->api_endpoint == NULL || strlen(key) > SY_MEMCACHE_KEY_MAX)
        return false;
    if (ttl_ms > SY_MEMCACHE_TTL_CEILING_MS)
        ttl_ms = SY_MEMCACHE_TTL_CEILING_MS;
    if (tok->duration > 0 && ttl_ms > (int64_t)tok->duration * 1000)
        ttl_ms = (int64_t)tok->duration * 1000;
    if (ttl_ms <= 0)
        return false;
    memset(&shape, 0, sizeof(shape));
    if (!layout(tok, &shape, lens, fields)) {
        pthread_mutex_lock(&m->mu);
        m->stats.too_large++;
        pthread_mutex_unlock(&m->mu);
        sy_log_ctx_debug(ctx, "memory cache: a tokenserver answer too large for a slot, not kept");
        return false;
    }
    h = hash_key(key);

    pthread_mutex_lock(&m->mu);
    i = find(m, key, h);
    if (stamp != NULL && (i != NIL || *stamp != m->deletions)) {
        pthread_mutex_unlock(&m->mu);
        return false;
    }
    if (i != NIL) {
        /* replacement: the old token goes first */
        sodium_memzero(slot_of(m, i), m->entries[i].len);
        lru_unlink(m, i);
    } else {
        if (m->free_list == NIL) {
            drop(m, m->tail);
            m->stats.evictions++;
        }
        i = m->free_list;
        m->free_list = m->entries[i].next;
        m->count++;
        shape.hash = h;
        memcpy(shape.key, key, strlen(key) + 1);
        shape.hnext = m->buckets[h & m->mask];
        m->buckets[h & m->mask] = i;
    }
    if (m->entries[i].used) {
        shape.hash = m->entries[i].hash;
        shape.hnext = m->entries[i].hnext;
        memcpy(shape.key, m->entries[i].key, sizeof(shape.key));
    }
    shape.used = true;
    shape.expires_ms = m->now_ms() + ttl_ms;
    shape.prev = shape.next = NIL;
    m->entries[i] = shape;
    slot = slot_of(m, i);
    for (int f = 0; f < NFIELDS; f++) {
        memcpy(slot + shape.off[f], fields[f], lens[f]);
        slot[shape.off[f] + lens[f]] = '\0';
    }
    lru_push_head(m, i);
    m->stats.stores++;
    pthread_mutex_unlock(&m->mu);
    return true;
}

void sy_memcache_delete(sy_memcache_t *m, const char *key)
{
    uint64_t h;
    int32_t i;

    if (m == NULL || key == NULL)
        return;
    h = hash_key(key);
    pthread_mutex_lock(&m->mu);
    i = find(m, key, h);
    if (i != NIL)
        drop(m, i);
    m->deletions++;
    pthread_mutex_unlock(&m->mu);
}

size_t sy_memcache_count(sy_memcache_t *m)
{
    size_t n;

    if (m == NULL)
        return 0;
    pthread_mutex_lock(&m->mu);
    n = (size_t)m->count;
    pthread_mutex_unlock(&m->mu);
    return n;
}

bool sy_memcache_locked(const sy_memcache_t *m)
{
    return m != NULL && m->locked;
}

void sy_memcache_stats(sy_memcache_t *m, sy_memcache_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    *out = m->stats;
    pthread_mutex_unlock(&m->mu);
}

const unsigned char *sy_memcache_test_slab(const sy_memcache_t *m, size_t *len)
{
    *len = m != NULL ? m->slab_len : 0;
    return m != NULL ? m->slab : NULL;
}

void sy_memcache_test_clock(sy_memcache_t *m, int64_t (*now_ms)(void))
{
    pthread_mutex_lock(&m->mu);
    m->now_ms = now_ms != NULL ? now_ms : mono_ms;
    pthread_mutex_unlock(&m->mu);
}

int64_t sy_memcache_test_ttl_left(sy_memcache_t *m, const char *key)
{
    int64_t left = -1;
    int32_t i;

    pthread_mutex_lock(&m->mu);
    i = find(m, key, hash_key(key));
    if (i != NIL)
        left = m->entries[i].expires_ms - m->now_ms();
    pthread_mutex_unlock(&m->mu);
    return left;
}
