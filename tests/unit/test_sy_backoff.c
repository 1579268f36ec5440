/* Back-off announcements: parsing the upstream headers, the per-process
 * memo (no PostgreSQL here: ctx has no cache), the rule that a later,
 * shorter announcement never shortens a pending back-off, and the Backoff
 * header that keeps the larger value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "syncto/sy_backoff.h"
#include "syncto/sy_ctx.h"

/* headers: name, value, ..., NULL */
static sy_kvlist_t *headers(sy_pool_t *pool, const char *const *kv)
{
    sy_kvlist_t *h = sy_pcalloc(pool, sizeof(*h));

    for (size_t i = 0; kv != NULL && kv[i] != NULL; i += 2)
        sy_kv_add(pool, h, kv[i], kv[i + 1]);
    return h;
}

static void test_parse_table(void **state)
{
    static const struct {
        int status;
        const char *kv[7];
        long expected;
    } rows[] = {
        {200, {NULL}, 0},
        {200, {"x-weave-backoff", "30", NULL}, 30},
        {200, {"x-backoff", "45", NULL}, 45},
        {200, {"x-weave-backoff", "30", "x-backoff", "45", NULL}, 45},
        {200, {"retry-after", "10", NULL}, 0}, /* only a 503's counts */
        {503, {"retry-after", "10", NULL}, 10},
        {503, {"retry-after", "10", "x-weave-backoff", "3", NULL}, 10},
        {200, {"x-weave-backoff", "1.5", NULL}, 2}, /* fractions round up */
        {200, {"x-weave-backoff", "soon", NULL}, 0},
        {200, {"x-weave-backoff", "-5", NULL}, 0},
        {200, {"x-weave-backoff", "999999999", NULL}, SY_BACKOFF_MAX_SECONDS},
        {503, {"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT", NULL}, 0},
    };
    sy_pool_t *pool = sy_pool_new(0);

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        long got = sy_backoff_parse(rows[i].status, headers(pool, rows[i].kv));
        if (got != rows[i].expected)
            fail_msg("row %zu: %ld, expected %ld", i, got, rows[i].expected);
    }
    assert_int_equal(sy_backoff_parse(200, NULL), 0);
    sy_pool_free(pool);
}

static void test_longer_pending_backoff_stays(void **state)
{
    sy_pool_t *pool = sy_pool_new(0);
    sy_ctx_t ctx = {.pool = pool};
    static const char *const long_kv[] = {"x-weave-backoff", "600", NULL};
    static const char *const short_kv[] = {"x-weave-backoff", "5", NULL};
    static const char *const longer_kv[] = {"x-backoff", "900", NULL};
    long left;

    sy_backoff_reset_memo();
    assert_int_equal(sy_backoff_remaining(&ctx, "node.example.com"), 0);
    sy_backoff_note(&ctx, "node.example.com", 200, headers(pool, long_kv));
    left = sy_backoff_remaining(&ctx, "node.example.com");
    assert_true(left >= 599 && left <= 600);

    /* A shorter one afterwards does not cut it short... */
    sy_backoff_note(&ctx, "node.example.com", 200, headers(pool, short_kv));
    left = sy_backoff_remaining(&ctx, "node.example.com");
    assert_true(left >= 599 && left <= 600);

    /* ...a longer one extends it. */
    sy_backoff_note(&ctx, "node.example.com", 200, headers(pool, longer_kv));
    left = sy_backoff_remaining(&ctx, "node.example.com");
    assert_true(left >= 899 && left <= 900);

    /* Hosts are independent. */
    assert_int_equal(sy_backoff_remaining(&ctx, "other.example.com"), 0);
    sy_backoff_note(&ctx, "other.example.com", 200, headers(pool, short_kv));
    left = sy_backoff_remaining(&ctx, "other.example.com");
    assert_true(left >= 4 && left <= 5);
    sy_backoff_reset_memo();
    assert_int_equal(sy_backoff_remaining(&ctx, "node.example.com"), 0);
    sy_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_longer_pending_backoff_stays),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
