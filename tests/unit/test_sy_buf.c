#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "syncto/sy_buf.h"
#include "syncto/sy_pool.h"

static void test_append_and_terminate(void **state)
{
    sy_buf_t b;

    sy_buf_init(&b, 1000);
    assert_null(b.data);
    assert_int_equal(sy_buf_append(&b, "", 0), SY_OK);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(sy_buf_appends(&b, "abc"), SY_OK);
    assert_int_equal(sy_buf_append(&b, "defgh", 2), SY_OK);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "abcde");
    /* Binary data with NULs is kept; data stays NUL-terminated after it. */
    assert_int_equal(sy_buf_append(&b, "\0x", 2), SY_OK);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "abcde\0x", 8);
    sy_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    sy_buf_free(&b); /* twice is harmless */
    sy_buf_free(NULL);
}

static void test_cap(void **state)
{
    static const struct {
        size_t max;
        size_t first;
        size_t second;
        sy_rc_t rc2;
        size_t len;
    } cases[] = {
        {10, 5, 5, SY_OK, 10},
        {10, 5, 6, SY_ERR_TOO_LARGE, 5},
        {10, 10, 0, SY_OK, 10},
        {10, 10, 1, SY_ERR_TOO_LARGE, 10},
        {0, 0, 1, SY_ERR_TOO_LARGE, 0},
        {1000, 999, 1, SY_OK, 1000},
        {1000, 300, SIZE_MAX, SY_ERR_TOO_LARGE, 300},
    };
    char src[2000];

    memset(src, 'q', sizeof(src));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sy_buf_t b;
        sy_buf_init(&b, cases[i].max);
        assert_int_equal(sy_buf_append(&b, src, cases[i].first), SY_OK);
        assert_int_equal(sy_buf_append(&b, src, cases[i].second), cases[i].rc2);
        assert_int_equal(b.len, cases[i].len);
        assert_non_null(b.data);
        assert_int_equal(b.data[b.len], '\0');
        assert_true(b.cap <= cases[i].max + 1 || b.cap <= 256);
        sy_buf_free(&b);
    }
}

static void test_growth_keeps_content(void **state)
{
    sy_buf_t b;
    char chunk[37];

    sy_buf_init(&b, 1 << 20);
    for (int i = 0; i < 5000; i++) {
        memset(chunk, 'a' + i % 26, sizeof(chunk));
        assert_int_equal(sy_buf_append(&b, chunk, sizeof(chunk)), SY_OK);
    }
    assert_int_equal(b.len, 5000 * sizeof(chunk));
    for (int i = 0; i < 5000; i++)
        assert_int_equal(b.data[i * sizeof(chunk) + 5], 'a' + i % 26);
    sy_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    sy_buf_free(&b);
}

static void test_printf(void **state)
{
    sy_buf_t b;
    char longs[600];

    memset(longs, 'z', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    sy_buf_init(&b, 700);
    assert_int_equal(sy_buf_printf(&b, "%d-%s", 42, "x"), SY_OK);
    assert_string_equal(b.data, "42-x");
    /* Longer than the initial capacity: formatted again after growing. */
    assert_int_equal(sy_buf_printf(&b, "[%s]", longs), SY_OK);
    assert_int_equal(b.len, 4 + 2 + 599);
    assert_int_equal(b.data[4], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    /* Past the cap: refused, buffer unchanged. */
    assert_int_equal(sy_buf_printf(&b, "%s", longs), SY_ERR_TOO_LARGE);
    assert_int_equal(b.len, 605);
    assert_int_equal(b.data[605], '\0');
    assert_int_equal(b.data[604], ']');
    /* Exactly up to the cap. */
    assert_int_equal(sy_buf_printf(&b, "%.*s", 95, longs), SY_OK);
    assert_int_equal(b.len, 700);
    assert_int_equal(sy_buf_printf(&b, "%s", "x"), SY_ERR_TOO_LARGE);
    assert_int_equal(sy_buf_printf(&b, "%s", ""), SY_OK);
    assert_int_equal(b.len, 700);
    sy_buf_free(&b);
}

/* Appends n bytes of a pattern that depends on the offset in b. */
static void fill(sy_buf_t *b, size_t n)
{
    char chunk[1000];
    size_t left = n;

    while (left > 0) {
        size_t k = sizeof(chunk);

        if (left < k)
            k = left;
        for (size_t i = 0; i < k; i++)
            chunk[i] = (char)('a' + (b->len + i) % 23);
        assert_int_equal(sy_buf_append(b, chunk, k), SY_OK);
        left -= k;
    }
}

static void assert_pattern(const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (data[i] != (char)('a' + i % 23))
            fail_msg("byte %zu differs", i);
    assert_int_equal(data[n], '\0');
}

/* A no-secret buffer grows (by realloc) and is freed like any other, its
 * content kept through every move, small or several MB. */
static void test_no_secret_growth(void **state)
{
    static const size_t sizes[] = {0, 1, 255, 256, 5000, 300000, 3 << 20};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        sy_buf_t b;

        sy_buf_init(&b, SIZE_MAX);
        sy_buf_no_secret(&b);
        fill(&b, sizes[i]);
        assert_int_equal(sy_buf_append(&b, "", 0), SY_OK);
        assert_int_equal(b.len, sizes[i]);
        assert_pattern(b.data, sizes[i]);
        assert_true(b.no_secret);
        sy_buf_free(&b);
        assert_null(b.data);
        assert_int_equal(b.cap, 0);
    }
}

/* sy_buf_reserve() allocates once for what is announced: appending that
 * much then moves nothing. It is cut down to what max allows, never
 * shrinks, and keeps what the buffer holds. */
static void test_reserve(void **state)
{
    static const size_t sizes[] = {1, 1000, 300000, 3 << 20};

    for (size_t i = 0; i < 2 * sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i / 2];
        sy_buf_t b;
        const char *at;

        sy_buf_init(&b, SIZE_MAX);
        if (i % 2)
            sy_buf_no_secret(&b);
        fill(&b, 10);
        sy_buf_reserve(&b, n);
        assert_true(b.cap >= 10 + n + 1);
        assert_pattern(b.data, 10);
        at = b.data;
        fill(&b, n);
        assert_ptr_equal(b.data, at);
        assert_pattern(b.data, 10 + n);
        sy_buf_reserve(&b, 0);
        assert_ptr_equal(b.data, at);
        sy_buf_free(&b);
    }
    {
        sy_buf_t b;

        sy_buf_init(&b, 50);
        sy_buf_reserve(&b, SIZE_MAX);
        assert_true(b.cap >= 51 && b.cap <= 256);
        fill(&b, 50);
        assert_int_equal(sy_buf_append(&b, "x", 1), SY_ERR_TOO_LARGE);
        sy_buf_free(&b);
    }
}

/* sy_buf_give_to_pool(): the pool owns the memory from there and frees it
 * at reset; b is left empty and usable again. A no-secret buffer
 * reserved far larger than what came gives the spare back first. */
static void test_give_to_pool(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    sy_buf_t b;
    char *empty, *small, *large, *spare;

    sy_buf_init(&b, SIZE_MAX);
    empty = sy_buf_give_to_pool(&b, pool);
    assert_string_equal(empty, "");
    fill(&b, 300);
    small = sy_buf_give_to_pool(&b, pool);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, SIZE_MAX);
    sy_buf_no_secret(&b);
    fill(&b, 2 << 20);
    large = sy_buf_give_to_pool(&b, pool);
    assert_null(b.data);
    sy_buf_reserve(&b, 4 << 20);
    fill(&b, 1000);
    spare = sy_buf_give_to_pool(&b, pool);
    assert_pattern(small, 300);
    assert_pattern(large, 2 << 20);
    assert_pattern(spare, 1000);
    sy_pool_reset(pool); /* frees the three; ASan and valgrind see it */
    fill(&b, 10);
    assert_pattern(b.data, 10);
    sy_buf_free(&b);
    sy_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_terminate), cmocka_unit_test(test_cap),
        cmocka_unit_test(test_growth_keeps_content), cmocka_unit_test(test_printf),
        cmocka_unit_test(test_no_secret_growth),     cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_give_to_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
