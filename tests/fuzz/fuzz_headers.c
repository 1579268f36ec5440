/* Header readers: the Kinto preconditions (sy_kinto_precond_parse), the
 * back-off announcements (sy_backoff_parse) and the Sync response headers
 * (sy_sync_parse_headers). The input is header lines "Name: value".
 *
 * Invariants: a precondition either fails naming "headers" or gives
 * non-negative timestamps exactly for the headers sent, and applying it sets
 * the Sync conditions the documented way; back-offs are within
 * [0, SY_BACKOFF_MAX_SECONDS], a 503 never announces less than a 200, and
 * the Sync reader agrees with sy_backoff_parse; Sync timestamps are
 * SY_SYNC_NO_TS or what sy_ts_parse_sync reads. */
#include "fuzz_util.h"

#include "syncto/sy_backoff.h"
#include "syncto/sy_kinto.h"
#include "syncto/sy_sync.h"
#include "syncto/sy_ts.h"

static void check_precond(const sy_kvlist_t *h)
{
    const char *im = sy_kv_get(h, "if-match"), *inm = sy_kv_get(h, "if-none-match");
    sy_kinto_precond_t pre;
    sy_kinto_invalid_t err = {NULL, NULL, NULL};
    sy_sync_op_t op;
    sy_rc_t rc = sy_kinto_precond_parse(im, inm, &pre, &err);

    if (rc != SY_OK) {
        FUZZ_CHECK(rc == SY_ERR_INVALID);
        FUZZ_CHECK(err.location != NULL && strcmp(err.location, "headers") == 0);
        FUZZ_CHECK(err.description != NULL);
        return;
    }
    FUZZ_CHECK(err.location == NULL);
    FUZZ_CHECK((im != NULL) == (pre.if_match_ms != SY_SYNC_NO_TS));
    FUZZ_CHECK(pre.if_match_ms == SY_SYNC_NO_TS || pre.if_match_ms >= 0);
    FUZZ_CHECK(pre.if_none_match_ms == SY_SYNC_NO_TS || pre.if_none_match_ms >= 0);
    FUZZ_CHECK(!(pre.if_none_match_any && pre.if_none_match_ms != SY_SYNC_NO_TS));
    FUZZ_CHECK((inm != NULL) == (pre.if_none_match_any || pre.if_none_match_ms != SY_SYNC_NO_TS));
    FUZZ_CHECK(sy_kinto_precond_none(&pre) == (im == NULL && inm == NULL));

    memset(&op, 0, sizeof(op));
    op.if_modified_since_ms = SY_SYNC_NO_TS;
    op.if_unmodified_since_ms = SY_SYNC_NO_TS;
    sy_kinto_precond_apply(&pre, &op);
    if (pre.if_none_match_any)
        FUZZ_CHECK(op.if_unmodified_since_ms == 0);
    else
        FUZZ_CHECK(op.if_unmodified_since_ms == pre.if_match_ms);
    FUZZ_CHECK(op.if_modified_since_ms == pre.if_none_match_ms);
}

static void check_backoff(const sy_kvlist_t *h)
{
    long ok = sy_backoff_parse(200, h), unavailable = sy_backoff_parse(503, h);

    FUZZ_CHECK(ok >= 0 && ok <= SY_BACKOFF_MAX_SECONDS);
    FUZZ_CHECK(unavailable >= ok && unavailable <= SY_BACKOFF_MAX_SECONDS);
    /* Retry-After only counts on a 503 */
    if (sy_kv_get(h, "retry-after") == NULL)
        FUZZ_CHECK(unavailable == ok);
}

static void check_sync_ts(const char *v, int64_t got)
{
    int64_t ms = SY_SYNC_NO_TS;

    if (v != NULL && !sy_ts_parse_sync(v, &ms))
        ms = SY_SYNC_NO_TS;
    FUZZ_CHECK(got == ms);
    FUZZ_CHECK(got == SY_SYNC_NO_TS || got >= 0);
}

static void check_sync(const sy_kvlist_t *h)
{
    sy_sync_result_t res;

    memset(&res, 0, sizeof(res));
    sy_sync_parse_headers(&res, h);
    check_sync_ts(sy_kv_get(h, "x-last-modified"), res.last_modified_ms);
    check_sync_ts(sy_kv_get(h, "x-weave-timestamp"), res.weave_timestamp_ms);
    FUZZ_CHECK(res.backoff == sy_backoff_parse(0, h));
    FUZZ_CHECK(res.records >= -1);
    FUZZ_CHECK(res.retry_after >= -1);
    FUZZ_CHECK(res.next_offset == sy_kv_get(h, "x-weave-next-offset"));
    FUZZ_CHECK(res.alert == sy_kv_get(h, "x-weave-alert"));
    FUZZ_CHECK(res.quota_remaining == sy_kv_get(h, "x-weave-quota-remaining"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sy_pool_t *pool = sy_pool_new(0);
    fuzz_part_t all = {(const char *)data, size};
    sy_kvlist_t h = {0};

    fuzz_headers(pool, all, &h);
    check_precond(&h);
    check_backoff(&h);
    check_sync(&h);
    sy_pool_free(pool);
    return 0;
}
