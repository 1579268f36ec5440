#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "syncto/sy_kv.h"

static void test_add_get_order(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    sy_kvlist_t l = {0};
    char names[100][8];

    sy_kv_add(pool, &l, "a", "1");
    sy_kv_add(pool, &l, "B", "2");
    sy_kv_add(pool, &l, "a", "3");
    assert_int_equal(l.n, 3);
    assert_string_equal(sy_kv_get(&l, "a"), "1"); /* first wins */
    assert_string_equal(sy_kv_get(&l, "b"), "2"); /* case-insensitive */
    assert_string_equal(sy_kv_get(&l, "A"), "1");
    assert_null(sy_kv_get(&l, "c"));
    assert_true(sy_kv_has(&l, "b"));
    assert_false(sy_kv_has(&l, "ab"));
    assert_string_equal(l.items[2].value, "3");

    /* Growth keeps every pair in order. */
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof(names[i]), "k%d", i);
        sy_kv_add(pool, &l, names[i], names[i]);
    }
    assert_int_equal(l.n, 103);
    for (int i = 0; i < 100; i++)
        assert_string_equal(l.items[3 + i].name, names[i]);
    sy_pool_free(pool);
}

static void test_set_del(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    sy_kvlist_t l = {0};

    sy_kv_add(pool, &l, "x", "0");
    sy_kv_add(pool, &l, "Vary", "1");
    sy_kv_add(pool, &l, "y", "0");
    sy_kv_add(pool, &l, "vary", "2");
    sy_kv_set(pool, &l, "VARY", "3");
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[1].name, "VARY"); /* position of the first one */
    assert_string_equal(l.items[1].value, "3");
    assert_string_equal(l.items[2].name, "y");
    sy_kv_set(pool, &l, "new", "4");
    assert_int_equal(l.n, 4);
    assert_string_equal(l.items[3].name, "new");

    sy_kv_add(pool, &l, "X", "5");
    sy_kv_del(&l, "x");
    assert_int_equal(l.n, 3);
    assert_null(sy_kv_get(&l, "x"));
    assert_string_equal(l.items[0].name, "VARY");
    assert_string_equal(l.items[1].name, "y");
    assert_string_equal(l.items[2].name, "new");
    sy_kv_del(&l, "absent");
    assert_int_equal(l.n, 3);

    /* On an empty list. */
    sy_kvlist_t e = {0};
    assert_null(sy_kv_get(&e, "a"));
    sy_kv_del(&e, "a");
    sy_kv_set(pool, &e, "a", "b");
    assert_string_equal(sy_kv_get(&e, "A"), "b");
    sy_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_get_order),
        cmocka_unit_test(test_set_del),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
