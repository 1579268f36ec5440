#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "syncto/sy_buf.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_terminate),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_growth_keeps_content),
        cmocka_unit_test(test_printf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
