/* In-memory credential cache: hits and misses, keys that differ by client
 * state, expiry and its caps, the LRU bound, the deletion stamp, wiping
 * (the slab is inspected before and after an entry goes; the copy handed
 * to a request is wiped at pool reset), locked memory and what happens when
 * it cannot be locked, and many threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <linux/capability.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "syncto/sy_auth.h"
#include "syncto/sy_credentials.h"
#include "syncto/sy_memcache.h"
#include "syncto/sy_pool.h"

#define SECRET "This is not a secret"
#define CS1 "601c4497372419ee1789bf931f8c68f5"
#define CS2 "0123456789abcdef0123456789abcdef"

/* --- fixtures --- */

/* A token whose strings all carry tag, so that the slab can be searched
 * for any of them. */
typedef struct {
    char id[96], key[64], uid[16], endpoint[96], hashed[80], json[512];
    sy_token_t tok;
} token_buf_t;

static void make_token(token_buf_t *b, const char *tag, long duration)
{
    snprintf(b->id, sizeof(b->id), "hawk-id-%s-0123456789", tag);
    snprintf(b->key, sizeof(b->key), "hawk-key-%s-abcdefgh", tag);
    snprintf(b->uid, sizeof(b->uid), "42");
    snprintf(b->endpoint, sizeof(b->endpoint), "http://sync.example/1.5/%s", tag);
    snprintf(b->hashed, sizeof(b->hashed), "hashed-%s", tag);
    snprintf(b->json, sizeof(b->json),
             "{\"id\":\"%s\",\"key\":\"%s\",\"uid\":42,\"api_endpoint\":\"%s\","
             "\"duration\":%ld,\"hashed_fxa_uid\":\"%s\"}",
             b->id, b->key, b->endpoint, duration, b->hashed);
    memset(&b->tok, 0, sizeof(b->tok));
    b->tok.id = b->id;
    b->tok.key = b->key;
    b->tok.uid = b->uid;
    b->tok.api_endpoint = b->endpoint;
    b->tok.hashed_fxa_uid = b->hashed;
    b->tok.duration = duration;
    b->tok.json = b->json;
    b->tok.json_len = strlen(b->json);
}

/* True when the slab holds s anywhere, used slot or not. */
static bool slab_has(const sy_memcache_t *m, const char *s)
{
    size_t len;
    const unsigned char *slab = sy_memcache_test_slab(m, &len);

    return memmem(slab, len, s, strlen(s)) != NULL;
}

static bool slab_all_zero(const sy_memcache_t *m)
{
    size_t len;
    const unsigned char *slab = sy_memcache_test_slab(m, &len);

    for (size_t i = 0; i < len; i++)
        if (slab[i] != 0)
            return false;
    return true;
}

static int64_t fake_now;

static int64_t fake_clock(void)
{
    return fake_now;
}

static void assert_token_equal(const sy_token_t *got, const sy_token_t *want)
{
    assert_string_equal(got->id, want->id);
    assert_string_equal(got->key, want->key);
    assert_string_equal(got->uid, want->uid);
    assert_string_equal(got->api_endpoint, want->api_endpoint);
    assert_string_equal(got->hashed_fxa_uid, want->hashed_fxa_uid);
    assert_int_equal(got->duration, want->duration);
    assert_int_equal(got->json_len, want->json_len);
    assert_memory_equal(got->json, want->json, want->json_len);
}

/* --- tests --- */

static void test_off(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    token_buf_t t;
    sy_token_t out;

    make_token(&t, "off", 300);
    assert_null(sy_memcache_new(0));
    assert_null(sy_memcache_new(-5));
    /* every call takes the NULL of a layer that is off */
    assert_false(sy_memcache_put(NULL, NULL, "k", &t.tok, 1000, NULL));
    assert_int_equal(sy_memcache_get(NULL, pool, "k", &out), SY_ERR_NOT_FOUND);
    assert_int_equal(sy_memcache_stamp(NULL), 0);
    assert_int_equal(sy_memcache_count(NULL), 0);
    assert_int_equal(sy_memcache_sweep(NULL), 0);
    assert_false(sy_memcache_locked(NULL));
    sy_memcache_delete(NULL, "k");
    sy_memcache_wipe(NULL);
    sy_memcache_free(NULL);
    sy_pool_free(pool);
}

static void test_hit_and_miss(void **state)
{
    sy_memcache_t *m = sy_memcache_new(16);
    sy_pool_t *pool = sy_pool_new(0);
    sy_memcache_stats_t st;
    const unsigned char *slab;
    size_t slab_len;
    token_buf_t t;
    sy_token_t out;

    assert_non_null(m);
    make_token(&t, "alice", 300);
    assert_int_equal(sy_memcache_get(m, pool, "credentials_a", &out), SY_ERR_NOT_FOUND);
    assert_null(out.id);
    assert_true(sy_memcache_put(m, NULL, "credentials_a", &t.tok, 30000, NULL));
    assert_int_equal(sy_memcache_count(m), 1);

    assert_int_equal(sy_memcache_get(m, pool, "credentials_a", &out), SY_OK);
    assert_token_equal(&out, &t.tok);
    /* a copy in the pool, not a pointer into the cache */
    assert_ptr_not_equal(out.id, t.id);
    slab = sy_memcache_test_slab(m, &slab_len);
    assert_false((const unsigned char *)out.id >= slab &&
                 (const unsigned char *)out.id < slab + slab_len);

    assert_int_equal(sy_memcache_get(m, pool, "credentials_b", &out), SY_ERR_NOT_FOUND);
    assert_int_equal(sy_memcache_get(m, pool, "credentials_", &out), SY_ERR_NOT_FOUND);
    sy_memcache_stats(m, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 3);
    assert_int_equal(st.stores, 1);

    /* a key too long for an entry is not stored */
    char longkey[SY_MEMCACHE_KEY_MAX + 2];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    assert_false(sy_memcache_put(m, NULL, longkey, &t.tok, 30000, NULL));
    sy_memcache_free(m);
    sy_pool_free(pool);
}

/* The keys are those of the PostgreSQL cache: the same credential with
 * another bucket (client state) is another key, and never a hit. */
static void test_keys_bind_client_state(void **state)
{
    sy_memcache_t *m = sy_memcache_new(16);
    sy_pool_t *pool = sy_pool_new(0);
    char k1[SY_CREDENTIALS_KEY_LEN + 1], k2[SY_CREDENTIALS_KEY_LEN + 1];
    char k3[SY_CREDENTIALS_KEY_LEN + 1];
    sy_auth_t a = {0};
    token_buf_t t;
    sy_token_t out;

    a.kind = SY_AUTH_BROWSERID;
    a.credential = "assertion~one";
    a.client_state = CS1;
    sy_credentials_cache_key(SECRET, &a, k1);
    a.client_state = CS2;
    sy_credentials_cache_key(SECRET, &a, k2);
    a.kind = SY_AUTH_BEARER;
    a.credential = "token";
    a.key_id = "1444122508836-YBxElzckGe4Xib-TH4xo9Q";
    sy_credentials_cache_key(SECRET, &a, k3);
    assert_true(strlen(k1) <= SY_MEMCACHE_KEY_MAX);

    make_token(&t, "cs1", 300);
    assert_true(sy_memcache_put(m, NULL, k1, &t.tok, 30000, NULL));
    assert_int_equal(sy_memcache_get(m, pool, k2, &out), SY_ERR_NOT_FOUND);
    assert_int_equal(sy_memcache_get(m, pool, k3, &out), SY_ERR_NOT_FOUND);
    assert_int_equal(sy_memcache_get(m, pool, k1, &out), SY_OK);
    assert_string_equal(out.id, t.id);
    sy_memcache_free(m);
    sy_pool_free(pool);
}

static void test_expiry_and_caps(void **state)
{
    sy_memcache_t *m = sy_memcache_new(16);
    sy_pool_t *pool = sy_pool_new(0);
    sy_memcache_stats_t st;
    token_buf_t t, shortlived;
    sy_token_t out;

    sy_memcache_test_clock(m, fake_clock);
    fake_now = 1000000;
    make_token(&t, "exp", 300);
    assert_true(sy_memcache_put(m, NULL, "k", &t.tok, 5000, NULL));
    assert_int_equal(sy_memcache_test_ttl_left(m, "k"), 5000);
    fake_now += 4999;
    assert_int_equal(sy_memcache_get(m, pool, "k", &out), SY_OK);
    assert_true(slab_has(m, t.id));
    fake_now += 1;
    assert_int_equal(sy_memcache_get(m, pool, "k", &out), SY_ERR_NOT_FOUND);
    /* the expired entry was dropped, and its slot wiped */
    assert_int_equal(sy_memcache_count(m), 0);
    assert_false(slab_has(m, t.id));
    assert_false(slab_has(m, t.key));
    sy_memcache_stats(m, &st);
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.misses, 1);

    /* never longer than the ceiling, whatever the row has left */
    assert_true(sy_memcache_put(m, NULL, "k", &t.tok, 3600000, NULL));
    assert_int_equal(sy_memcache_test_ttl_left(m, "k"), SY_MEMCACHE_TTL_CEILING_MS);
    /* never past the token's own duration */
    make_token(&shortlived, "short", 10);
    assert_true(sy_memcache_put(m, NULL, "s", &shortlived.tok, 50000, NULL));
    assert_int_equal(sy_memcache_test_ttl_left(m, "s"), 10000);
    /* nothing left: not stored */
    assert_false(sy_memcache_put(m, NULL, "z", &t.tok, 0, NULL));
    assert_false(sy_memcache_put(m, NULL, "z", &t.tok, -20, NULL));
    assert_int_equal(sy_memcache_test_ttl_left(m, "z"), -1);
    sy_memcache_free(m);
    sy_pool_free(pool);
}

/* The worker's tick wipes what expired even when nobody looks it up. */
static void test_sweep(void **state)
{
    sy_memcache_t *m = sy_memcache_new(8);
    sy_pool_t *pool = sy_pool_new(0);
    token_buf_t a, b, c;
    sy_token_t out;

    sy_memcache_test_clock(m, fake_clock);
    fake_now = 50;
    make_token(&a, "sweep-a", 0);
    make_token(&b, "sweep-b", 0);
    make_token(&c, "sweep-c", 0);
    assert_true(sy_memcache_put(m, NULL, "a", &a.tok, 100, NULL));
    assert_true(sy_memcache_put(m, NULL, "b", &b.tok, 200, NULL));
    assert_true(sy_memcache_put(m, NULL, "c", &c.tok, 30000, NULL));
    assert_int_equal(sy_memcache_sweep(m), 0);
    fake_now += 200;
    assert_int_equal(sy_memcache_sweep(m), 2);
    assert_int_equal(sy_memcache_count(m), 1);
    assert_false(slab_has(m, a.id));
    assert_false(slab_has(m, b.key));
    assert_true(slab_has(m, c.id));
    assert_int_equal(sy_memcache_get(m, pool, "c", &out), SY_OK);
    sy_memcache_free(m);
    sy_pool_free(pool);
}

static void test_lru_bound(void **state)
{
    sy_memcache_t *m = sy_memcache_new(4);
    sy_pool_t *pool = sy_pool_new(0);
    sy_memcache_stats_t st;
    token_buf_t t[6];
    char key[8];
    sy_token_t out;

    for (int i = 0; i < 6; i++) {
        char tag[8];
        snprintf(tag, sizeof(tag), "lru%d", i);
        make_token(&t[i], tag, 300);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_true(sy_memcache_put(m, NULL, key, &t[i].tok, 30000, NULL));
    }
    /* k0 is used again: k1 is now the least recently used */
    assert_int_equal(sy_memcache_get(m, pool, "k0", &out), SY_OK);
    assert_true(sy_memcache_put(m, NULL, "k4", &t[4].tok, 30000, NULL));
    assert_int_equal(sy_memcache_count(m), 4);
    assert_int_equal(sy_memcache_get(m, pool, "k1", &out), SY_ERR_NOT_FOUND);
    assert_false(slab_has(m, t[1].id)); /* evicted and wiped */
    assert_false(slab_has(m, t[1].key));
    assert_true(slab_has(m, t[4].id)); /* in the slot k1 had */
    /* then k2, the next oldest */
    assert_true(sy_memcache_put(m, NULL, "k5", &t[5].tok, 30000, NULL));
    assert_int_equal(sy_memcache_get(m, pool, "k2", &out), SY_ERR_NOT_FOUND);
    assert_false(slab_has(m, t[2].id));
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(sy_memcache_get(m, pool, key, &out),
                         i == 1 || i == 2 ? SY_ERR_NOT_FOUND : SY_OK);
        if (i != 1 && i != 2)
            assert_string_equal(out.key, t[i].key);
    }
    sy_memcache_stats(m, &st);
    assert_int_equal(st.evictions, 2);
    assert_int_equal(sy_memcache_count(m), 4);
    sy_memcache_free(m);
    sy_pool_free(pool);
}

/* What memory holds before and after an entry goes, for each way it can
 * go: deletion (a Sync 401), replacement, wipe of the whole table. */
static void test_wiped_when_gone(void **state)
{
    sy_memcache_t *m = sy_memcache_new(8);
    sy_pool_t *pool = sy_pool_new(0);
    token_buf_t a, a2, b;
    sy_token_t out;

    make_token(&a, "first-answer", 300);
    make_token(&a2, "second-answer", 300);
    make_token(&b, "other-user", 300);
    assert_true(slab_all_zero(m));

    assert_true(sy_memcache_put(m, NULL, "a", &a.tok, 30000, NULL));
    assert_true(slab_has(m, a.id));
    assert_true(slab_has(m, a.key));
    assert_true(slab_has(m, a.json));

    /* replacement: only the new answer is left */
    assert_true(sy_memcache_put(m, NULL, "a", &a2.tok, 30000, NULL));
    assert_int_equal(sy_memcache_count(m), 1);
    assert_false(slab_has(m, a.id));
    assert_false(slab_has(m, a.key));
    assert_true(slab_has(m, a2.key));
    assert_int_equal(sy_memcache_get(m, pool, "a", &out), SY_OK);
    assert_string_equal(out.key, a2.key);

    /* deletion */
    assert_true(sy_memcache_put(m, NULL, "b", &b.tok, 30000, NULL));
    sy_memcache_delete(m, "a");
    assert_false(slab_has(m, a2.id));
    assert_false(slab_has(m, a2.key));
    assert_false(slab_has(m, a2.endpoint));
    assert_true(slab_has(m, b.key));
    assert_int_equal(sy_memcache_get(m, pool, "a", &out), SY_ERR_NOT_FOUND);
    sy_memcache_delete(m, "a"); /* absent: nothing happens */

    /* the whole table */
    sy_memcache_wipe(m);
    assert_int_equal(sy_memcache_count(m), 0);
    assert_true(slab_all_zero(m));
    assert_int_equal(sy_memcache_get(m, pool, "b", &out), SY_ERR_NOT_FOUND);
    /* and still usable */
    assert_true(sy_memcache_put(m, NULL, "b", &b.tok, 30000, NULL));
    assert_int_equal(sy_memcache_get(m, pool, "b", &out), SY_OK);
    sy_memcache_free(m);
    sy_pool_free(pool);
}

/* The copy a request gets is wiped at pool reset: a cleanup registered
 * before the lookup runs after the wipe (last in, first out) and still
 * sees the pool memory. */
typedef struct {
    sy_token_t tok;
    size_t len; /* bytes from tok.id to the end of tok.json */
    bool checked, zero;
} copy_probe_t;

static void probe_cleanup(void *data)
{
    copy_probe_t *p = data;
    const char *s = p->tok.id;

    p->checked = true;
    p->zero = true;
    for (size_t i = 0; i < p->len; i++)
        if (s[i] != '\0')
            p->zero = false;
}

static void test_request_copy_wiped(void **state)
{
    sy_memcache_t *m = sy_memcache_new(4);
    sy_pool_t *pool = sy_pool_new(0);
    copy_probe_t probe = {0};
    token_buf_t t;

    make_token(&t, "copy", 300);
    assert_true(sy_memcache_put(m, NULL, "k", &t.tok, 30000, NULL));
    sy_pool_cleanup_add(pool, probe_cleanup, &probe);
    assert_int_equal(sy_memcache_get(m, pool, "k", &probe.tok), SY_OK);
    /* one block: id first, json last */
    assert_true(probe.tok.json > probe.tok.id);
    probe.len = (size_t)(probe.tok.json - probe.tok.id) + probe.tok.json_len;
    assert_non_null(memmem(probe.tok.id, probe.len, t.key, strlen(t.key)));
    sy_pool_reset(pool);
    assert_true(probe.checked);
    assert_true(probe.zero);
    /* the cache's own copy is untouched */
    assert_true(slab_has(m, t.key));
    sy_memcache_free(m);
    sy_pool_free(pool);
}

/* A row read before a deletion is not put back after it. */
static void test_stamp(void **state)
{
    sy_memcache_t *m = sy_memcache_new(8);
    sy_pool_t *pool = sy_pool_new(0);
    token_buf_t old, fresh;
    sy_token_t out;
    uint64_t stamp;

    make_token(&old, "evicted", 300);
    make_token(&fresh, "fresh", 300);
    stamp = sy_memcache_stamp(m);
    sy_memcache_delete(m, "k"); /* a Sync 401 elsewhere, meanwhile */
    assert_false(sy_memcache_put(m, NULL, "k", &old.tok, 30000, &stamp));
    assert_int_equal(sy_memcache_get(m, pool, "k", &out), SY_ERR_NOT_FOUND);
    assert_false(slab_has(m, old.id));

    /* with no deletion since the stamp, a row's copy is kept */
    stamp = sy_memcache_stamp(m);
    assert_true(sy_memcache_put(m, NULL, "k", &old.tok, 30000, &stamp));
    /* but never over what is there (a fresher answer, or the same row) */
    stamp = sy_memcache_stamp(m);
    assert_false(sy_memcache_put(m, NULL, "k", &fresh.tok, 30000, &stamp));
    assert_int_equal(sy_memcache_get(m, pool, "k", &out), SY_OK);
    assert_string_equal(out.id, old.id);
    /* a fresh tokenserver answer replaces it */
    assert_true(sy_memcache_put(m, NULL, "k", &fresh.tok, 30000, NULL));
    assert_int_equal(sy_memcache_get(m, pool, "k", &out), SY_OK);
    assert_string_equal(out.id, fresh.id);
    sy_memcache_free(m);
    sy_pool_free(pool);
}

static void test_too_large(void **state)
{
    sy_memcache_t *m = sy_memcache_new(4);
    sy_memcache_stats_t st;
    token_buf_t t;
    char *big = malloc(SY_MEMCACHE_SLOT_BYTES);

    make_token(&t, "big", 300);
    memset(big, 'x', SY_MEMCACHE_SLOT_BYTES - 1);
    big[SY_MEMCACHE_SLOT_BYTES - 1] = '\0';
    t.tok.json = big;
    t.tok.json_len = strlen(big);
    assert_false(sy_memcache_put(m, NULL, "k", &t.tok, 30000, NULL));
    assert_int_equal(sy_memcache_count(m), 0);
    sy_memcache_stats(m, &st);
    assert_int_equal(st.too_large, 1);
    assert_true(slab_all_zero(m));
    free(big);
    sy_memcache_free(m);
}

/* --- locked memory --- */

/* The sanitizers' runtimes (AddressSanitizer, ThreadSanitizer) replace
 * mlock() by a no-op that reports success, so locking can only be observed
 * in plain and valgrind runs. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SKIP_UNDER_SANITIZER() skip()
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SKIP_UNDER_SANITIZER() skip()
#endif
#endif
#ifndef SKIP_UNDER_SANITIZER
#define SKIP_UNDER_SANITIZER() ((void)0)
#endif

static long vm_locked_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmLck: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static void test_slab_locked(void **state)
{
    struct rlimit rl;
    long before, after;
    sy_memcache_t *m;

    SKIP_UNDER_SANITIZER();
    before = vm_locked_kib();
    assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
    if (geteuid() != 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)64 * SY_MEMCACHE_SLOT_BYTES * 2) {
        skip(); /* this environment allows too little locked memory to show it */
    }
    m = sy_memcache_new(64);
    assert_true(sy_memcache_locked(m));
    after = vm_locked_kib();
    assert_true(after - before >= 64 * SY_MEMCACHE_SLOT_BYTES / 1024);
    sy_memcache_free(m);
    assert_true(vm_locked_kib() <= before);
}

/* CAP_IPC_LOCK (root) ignores RLIMIT_MEMLOCK: it is set aside for the test. */
static bool ipc_lock_effective(bool clear)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    bool had;

    assert_int_equal(syscall(SYS_capget, &hdr, data), 0);
    had = (data[0].effective & (1u << CAP_IPC_LOCK)) != 0;
    if (clear)
        data[0].effective &= ~(1u << CAP_IPC_LOCK);
    else
        data[0].effective |= data[0].permitted & (1u << CAP_IPC_LOCK);
    assert_int_equal(syscall(SYS_capset, &hdr, data), 0);
    return had;
}

/* When the slab cannot be locked, the cache still works (and wipes). */
static void test_lock_refused(void **state)
{
    sy_pool_t *pool;
    struct rlimit saved, low;
    sy_memcache_t *m;
    token_buf_t t;
    sy_token_t out;
    bool had_cap;

    SKIP_UNDER_SANITIZER();
    pool = sy_pool_new(0);
    assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &saved), 0);
    had_cap = ipc_lock_effective(true);
    low = saved;
    low.rlim_cur = (rlim_t)16 * 1024;
    assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &low), 0);
    m = sy_memcache_new(64); /* 128 KiB */
    assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &saved), 0);
    if (had_cap)
        ipc_lock_effective(false);

    assert_non_null(m);
    assert_false(sy_memcache_locked(m));
    make_token(&t, "unlocked", 300);
    assert_true(sy_memcache_put(m, NULL, "k", &t.tok, 30000, NULL));
    assert_int_equal(sy_memcache_get(m, pool, "k", &out), SY_OK);
    assert_string_equal(out.key, t.key);
    sy_memcache_delete(m, "k");
    assert_true(slab_all_zero(m));
    sy_memcache_free(m);
    sy_pool_free(pool);
}

/* --- threads --- */

#define NTHREADS 8
#define NKEYS 48
#define NOPS 20000

typedef struct {
    sy_memcache_t *m;
    token_buf_t *tokens;
    unsigned seed;
    long hits;
    bool torn;
} worker_arg_t;

static void *hammer(void *p)
{
    worker_arg_t *w = p;
    sy_pool_t *pool = sy_pool_new(0);
    char key[16];

    for (int i = 0; i < NOPS; i++) {
        /* rand() shares one state between the threads; each has its seed */
        // cppcheck-suppress rand_rCalled
        int k = (int)(rand_r(&w->seed) % NKEYS);
        // cppcheck-suppress rand_rCalled
        int op = (int)(rand_r(&w->seed) % 10);
        sy_token_t out;

        snprintf(key, sizeof(key), "key-%d", k);
        if (op < 6) {
            if (sy_memcache_get(w->m, pool, key, &out) == SY_OK) {
                w->hits++;
                /* a hit is always the whole answer stored under its key */
                if (strcmp(out.id, w->tokens[k].id) != 0 ||
                    strcmp(out.key, w->tokens[k].key) != 0 ||
                    out.json_len != w->tokens[k].tok.json_len ||
                    memcmp(out.json, w->tokens[k].json, out.json_len) != 0)
                    w->torn = true;
            }
        } else if (op < 9) {
            uint64_t stamp = sy_memcache_stamp(w->m);

            (void)sy_memcache_put(w->m, NULL, key, &w->tokens[k].tok, 30000,
                                  op == 8 ? &stamp : NULL);
        } else {
            sy_memcache_delete(w->m, key);
        }
        if (i % 64 == 0) {
            sy_pool_reset(pool);
            if (i % 4096 == 0)
                sy_memcache_sweep(w->m);
        }
    }
    sy_pool_free(pool);
    return NULL;
}

static void test_threads(void **state)
{
    sy_memcache_t *m = sy_memcache_new(NKEYS / 2);
    token_buf_t *tokens = calloc(NKEYS, sizeof(*tokens));
    pthread_t tids[NTHREADS];
    worker_arg_t args[NTHREADS];
    long hits = 0;

    for (int k = 0; k < NKEYS; k++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "t%d", k);
        make_token(&tokens[k], tag, 300);
    }
    for (int i = 0; i < NTHREADS; i++) {
        args[i] = (worker_arg_t){.m = m, .tokens = tokens, .seed = (unsigned)i * 7919u + 1};
        assert_int_equal(pthread_create(&tids[i], NULL, hammer, &args[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(tids[i], NULL);
        assert_false(args[i].torn);
        hits += args[i].hits;
    }
    assert_true(hits > 0);
    assert_true(sy_memcache_count(m) <= NKEYS / 2);
    sy_memcache_wipe(m);
    assert_true(slab_all_zero(m));
    sy_memcache_free(m);
    free(tokens);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_hit_and_miss),
        cmocka_unit_test(test_keys_bind_client_state),
        cmocka_unit_test(test_expiry_and_caps),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_lru_bound),
        cmocka_unit_test(test_wiped_when_gone),
        cmocka_unit_test(test_request_copy_wiped),
        cmocka_unit_test(test_stamp),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_slab_locked),
        cmocka_unit_test(test_lock_refused),
        cmocka_unit_test(test_threads),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
