#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "syncto/sy_pool.h"

static void test_alignment_and_contents(void **state)
{
    sy_pool_t *pool = sy_pool_new(1024);
    static const size_t sizes[] = {1, 3, 15, 16, 17, 100, 255, 256, 257, 1000, 5000, 0};
    unsigned char *ptrs[sizeof(sizes) / sizeof(sizes[0])];

    /* Several rounds: the second and third run on a reset pool. */
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            ptrs[i] = sy_palloc(pool, sizes[i]);
            assert_non_null(ptrs[i]);
            assert_int_equal((uintptr_t)ptrs[i] % 16, 0);
            memset(ptrs[i], (int)(i + 1), sizes[i]);
        }
        /* No allocation overlapped another one. */
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            for (size_t j = 0; j < sizes[i]; j++)
                assert_int_equal(ptrs[i][j], (unsigned char)(i + 1));
        }
        sy_pool_reset(pool);
        assert_int_equal(sy_pool_used(pool), 0);
    }
    sy_pool_free(pool);
}

static void test_many_small_across_blocks(void **state)
{
    sy_pool_t *pool = sy_pool_new(512);
    uint32_t *v[2000];

    for (uint32_t i = 0; i < 2000; i++) {
        v[i] = sy_palloc(pool, sizeof(uint32_t) * 3);
        v[i][0] = i;
        v[i][1] = ~i;
        v[i][2] = i * 7;
    }
    for (uint32_t i = 0; i < 2000; i++) {
        assert_int_equal(v[i][0], i);
        assert_int_equal(v[i][1], ~i);
        assert_int_equal(v[i][2], i * 7);
    }
    assert_true(sy_pool_used(pool) >= (size_t)2000 * 12);
    sy_pool_free(pool);
}

static void test_reset_reuses_first_block(void **state)
{
    sy_pool_t *pool = sy_pool_new(4096);
    void *first = sy_palloc(pool, 32);
    void *big;

    for (int i = 0; i < 100; i++) /* more than one block of small pieces */
        memset(sy_palloc(pool, 100), 0x5a, 100);
    big = sy_palloc(pool, 1 << 20);
    memset(big, 0xab, 1 << 20);
    sy_pool_reset(pool);
    assert_ptr_equal(sy_palloc(pool, 32), first);
    sy_pool_free(pool);
}

/* Blocks chained by one request serve the next ones after a reset: once
 * a thread has served a request of some size, the same again costs no
 * malloc. Beyond the spare blocks kept, the rest is freed. */
static void test_reset_keeps_spare_blocks(void **state)
{
    sy_pool_t *pool = sy_pool_new(256);
    size_t after_first = 0;

    (void)state;
    for (int round = 0; round < 4; round++) {
        unsigned char *p[12];
        for (int i = 0; i < 12; i++) {
            p[i] = sy_palloc(pool, 60);
            memset(p[i], 0xA0 + i, 60);
        }
        for (int i = 0; i < 12; i++)
            assert_int_equal(p[i][59], 0xA0 + i);
        if (round == 0)
            after_first = sy_pool_mallocs(pool);
        else
            assert_int_equal(sy_pool_mallocs(pool), after_first);
        sy_pool_reset(pool);
    }
    /* The first block and the ones chained after it (three pieces or four
     * per block, as redzones take room in the sanitizer build). */
    assert_true(after_first >= 3 && after_first <= 4);
    /* A bigger request takes more blocks than are kept: they are new. */
    for (int i = 0; i < 30; i++)
        sy_palloc(pool, 60);
    assert_true(sy_pool_mallocs(pool) > after_first);
    sy_pool_free(pool);
}

static void test_pcalloc_zeroes(void **state)
{
    sy_pool_t *pool = sy_pool_new(256);
    static const size_t sizes[] = {1, 64, 200, 10000};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *p = sy_palloc(pool, sizes[i]);
        memset(p, 0xff, sizes[i]);
    }
    sy_pool_reset(pool);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *p = sy_pcalloc(pool, sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            assert_int_equal(p[j], 0);
    }
    sy_pool_free(pool);
}

static void test_strings(void **state)
{
    sy_pool_t *pool = sy_pool_new(256);
    char big[3000];
    char *s;

    assert_string_equal(sy_pstrdup(pool, "hello"), "hello");
    assert_string_equal(sy_pstrdup(pool, ""), "");
    assert_null(sy_pstrdup(pool, NULL));
    assert_string_equal(sy_pstrndup(pool, "hello", 3), "hel");
    assert_string_equal(sy_pstrndup(pool, "hi", 10), "hi");
    assert_string_equal(sy_psprintf(pool, "%s-%d-%zu", "a", -5, (size_t)7), "a--5-7");

    /* Formatted strings longer than the block, and some that nearly fill
     * what is left of it. */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    s = sy_psprintf(pool, "<%s>", big);
    assert_int_equal(strlen(s), sizeof(big) + 1);
    assert_int_equal(s[0], '<');
    assert_int_equal(s[sizeof(big)], '>');
    for (int n = 1; n < 300; n += 7) {
        char *t = sy_psprintf(pool, "%.*s", n, big);
        assert_int_equal(strlen(t), (size_t)n);
        assert_int_equal((uintptr_t)t % 16, 0);
    }
    sy_pool_free(pool);
}

static int order[8];
static int norder;

static void record_cleanup(void *data)
{
    order[norder++] = *(int *)data;
}

static int nested_ran;

static void nested_inner(void *data)
{
    nested_ran++;
}

static void nested_outer(void *data)
{
    sy_pool_cleanup_add(data, nested_inner, NULL);
}

static void test_cleanups_lifo(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    static int ids[] = {1, 2, 3, 4};

    for (int round = 0; round < 2; round++) {
        norder = 0;
        for (int i = 0; i < 4; i++)
            sy_pool_cleanup_add(pool, record_cleanup, &ids[i]);
        assert_int_equal(norder, 0);
        sy_pool_reset(pool);
        assert_int_equal(norder, 4);
        for (int i = 0; i < 4; i++)
            assert_int_equal(order[i], 4 - i);
    }
    /* Cleanups run once: a second reset finds none. */
    sy_pool_reset(pool);
    assert_int_equal(norder, 4);

    /* A cleanup registering another one still gets it run. */
    nested_ran = 0;
    sy_pool_cleanup_add(pool, nested_outer, pool);
    sy_pool_reset(pool);
    assert_int_equal(nested_ran, 1);

    /* sy_pool_free runs pending cleanups too. */
    norder = 0;
    sy_pool_cleanup_add(pool, record_cleanup, &ids[0]);
    sy_pool_free(pool);
    assert_int_equal(norder, 1);
    sy_pool_free(NULL);
}

static void test_used(void **state)
{
    sy_pool_t *pool = sy_pool_new(1024);

    assert_int_equal(sy_pool_used(pool), 0);
    (void)sy_palloc(pool, 10);
    assert_true(sy_pool_used(pool) >= 10);
    (void)sy_palloc(pool, 100000);
    assert_true(sy_pool_used(pool) >= 100010);
    sy_pool_reset(pool);
    assert_int_equal(sy_pool_used(pool), 0);
    assert_int_equal(sy_pool_used(NULL), 0);
    sy_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_contents),
        cmocka_unit_test(test_many_small_across_blocks),
        cmocka_unit_test(test_reset_reuses_first_block),
        cmocka_unit_test(test_reset_keeps_spare_blocks),
        cmocka_unit_test(test_pcalloc_zeroes),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_cleanups_lifo),
        cmocka_unit_test(test_used),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
