/* The Kinto list and record parameters (src/sy_kinto.c):
 * sy_kinto_list_parse, sy_kinto_query_fields, and sy_kinto_next_page_query,
 * plus the Sync query they become (sy_sync_build_query). Input: a raw query
 * string, then '\n' and the Sync offset token for the Next-Page URL.
 *
 * Invariants: a refusal names a querystring parameter; an accepted list has
 * at most 100 valid, distinct ids, trimmed non-empty exclusions, the same
 * fields as sy_kinto_query_fields, a limit in [1, 999999999] and a known
 * sort; the Sync query parses back to exactly those values; the Next-Page
 * query is the original parameters minus every _token, then one _token
 * holding the token. */
#include "fuzz_util.h"

#include "syncto/sy_kinto.h"
#include "syncto/sy_request.h"
#include "syncto/sy_sync.h"
#include "syncto/sy_ts.h"

static const char *const sorts[] = {"newest", "oldest", "index"};

/* sy_kv_has compares names case-insensitively (headers); query names are
 * case-sensitive. */
static bool has_param(const sy_kvlist_t *q, const char *name)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->items[i].name, name) == 0)
            return true;
    return false;
}

static bool trimmed(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && s[0] != ' ' && s[0] != '\t' && s[n - 1] != ' ' && s[n - 1] != '\t' &&
           strchr(s, ',') == NULL;
}

/* The Sync query of lp, parsed back, says what lp says. */
static void check_sync_query(sy_pool_t *pool, const sy_kinto_list_t *lp)
{
    sy_request_t r;
    const char *q = sy_sync_build_query(pool, &lp->q), *v;
    char ts[32];

    memset(&r, 0, sizeof(r));
    r.pool = pool;
    FUZZ_CHECK(sy_request_set_query(&r, q));
    FUZZ_CHECK(r.query.n >= 1 && strcmp(r.query.items[0].name, "full") == 0);
    v = sy_kv_get(&r.query, "newer");
    if (lp->q.newer_ms != SY_SYNC_NO_TS) {
        sy_ts_format_sync(lp->q.newer_ms, ts, sizeof(ts));
        FUZZ_CHECK(v != NULL && strcmp(v, ts) == 0);
    } else {
        FUZZ_CHECK(v == NULL);
    }
    v = sy_kv_get(&r.query, "older");
    FUZZ_CHECK((v != NULL) == (lp->q.older_ms != SY_SYNC_NO_TS));
    v = sy_kv_get(&r.query, "sort");
    FUZZ_CHECK(lp->q.sort == NULL ? v == NULL : (v != NULL && strcmp(v, lp->q.sort) == 0));
    v = sy_kv_get(&r.query, "limit");
    FUZZ_CHECK(lp->q.limit == NULL ? v == NULL : (v != NULL && strcmp(v, lp->q.limit) == 0));
    v = sy_kv_get(&r.query, "offset");
    FUZZ_CHECK(lp->q.offset == NULL ? v == NULL : (v != NULL && strcmp(v, lp->q.offset) == 0));
    v = sy_kv_get(&r.query, "ids");
    if (lp->q.nids == 0) {
        FUZZ_CHECK(v == NULL);
    } else {
        size_t i = 0;

        FUZZ_CHECK(v != NULL);
        for (const char *p = v;; i++) {
            size_t n = strcspn(p, ",");

            FUZZ_CHECK(i < lp->q.nids);
            FUZZ_CHECK(strlen(lp->q.ids[i]) == n && memcmp(lp->q.ids[i], p, n) == 0);
            if (p[n] == '\0')
                break;
            p += n + 1;
        }
        FUZZ_CHECK(i + 1 == lp->q.nids);
    }
}

static void check_list(sy_pool_t *pool, const sy_request_t *req)
{
    sy_kinto_list_t lp;
    sy_kinto_invalid_t err = {NULL, NULL, NULL};
    sy_rc_t rc = sy_kinto_list_parse(pool, &req->query, &lp, &err);

    if (rc != SY_OK) {
        FUZZ_CHECK(rc == SY_ERR_INVALID);
        FUZZ_CHECK(err.location != NULL && strcmp(err.location, "querystring") == 0);
        FUZZ_CHECK(err.name != NULL && has_param(&req->query, err.name));
        FUZZ_CHECK(err.description != NULL);
        return;
    }
    FUZZ_CHECK(sy_kinto_query_fields(pool, &req->query) == lp.fields);
    FUZZ_CHECK((lp.fields & ~SY_KINTO_F_ALL) == 0);
    FUZZ_CHECK(lp.q.full);
    FUZZ_CHECK(lp.q.nids <= SY_KINTO_MAX_IDS);
    for (size_t i = 0; i < lp.q.nids; i++) {
        FUZZ_CHECK(sy_kinto_valid_record_id(lp.q.ids[i]) && trimmed(lp.q.ids[i]));
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(lp.q.ids[i], lp.q.ids[j]) != 0);
    }
    for (size_t i = 0; i < lp.nexclude; i++) {
        FUZZ_CHECK(trimmed(lp.exclude[i]));
        FUZZ_CHECK(sy_kinto_list_excluded(&lp, lp.exclude[i]));
    }
    FUZZ_CHECK(lp.has_since == has_param(&req->query, "_since"));
    FUZZ_CHECK(!lp.has_since || (lp.since_ms >= 0 && lp.q.newer_ms == lp.since_ms));
    FUZZ_CHECK(lp.has_limit == (lp.q.limit != NULL));
    if (lp.q.limit != NULL) {
        long long n = 0;

        FUZZ_CHECK(lp.q.limit[0] != '0' && strlen(lp.q.limit) <= 9);
        for (const char *p = lp.q.limit; *p != '\0'; p++) {
            FUZZ_CHECK(*p >= '0' && *p <= '9');
            n = n * 10 + (*p - '0');
        }
        FUZZ_CHECK(n >= 1 && n <= SY_KINTO_SORTINDEX_MAX);
    }
    FUZZ_CHECK(lp.q.sort == NULL || fuzz_one_of(lp.q.sort, sorts, 3));
    FUZZ_CHECK(lp.q.offset == NULL || lp.q.offset[0] != '\0');
    /* the ETag rule */
    FUZZ_CHECK(sy_kinto_list_etag(&lp, SY_SYNC_NO_TS, 1) == 0);
    if (lp.has_since)
        FUZZ_CHECK(sy_kinto_list_etag(&lp, 5, 0) == lp.since_ms);
    check_sync_query(pool, &lp);
}

static void check_next_page(sy_pool_t *pool, const sy_request_t *req, const char *raw,
                            const char *token)
{
    const char *next = sy_kinto_next_page_query(pool, raw, token);
    sy_request_t n;
    size_t j = 0;

    memset(&n, 0, sizeof(n));
    n.pool = pool;
    FUZZ_CHECK(sy_request_set_query(&n, next));
    FUZZ_CHECK(n.query.n >= 1);
    FUZZ_CHECK(strcmp(n.query.items[n.query.n - 1].name, "_token") == 0);
    FUZZ_CHECK(strcmp(n.query.items[n.query.n - 1].value, token) == 0);
    for (size_t i = 0; i < req->query.n; i++) {
        if (strcmp(req->query.items[i].name, "_token") == 0)
            continue;
        FUZZ_CHECK(j < n.query.n - 1);
        FUZZ_CHECK(strcmp(n.query.items[j].name, req->query.items[i].name) == 0);
        FUZZ_CHECK(strcmp(n.query.items[j].value, req->query.items[i].value) == 0);
        j++;
    }
    FUZZ_CHECK(j == n.query.n - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sy_pool_t *pool = sy_pool_new(0);
    fuzz_part_t qpart, tpart;
    const char *raw, *token;
    sy_request_t req;

    fuzz_cut((const char *)data, size, '\n', &qpart, &tpart);
    raw = fuzz_str(pool, qpart);
    token = fuzz_str(pool, tpart);
    memset(&req, 0, sizeof(req));
    req.pool = pool;
    if (sy_request_set_query(&req, raw)) {
        check_list(pool, &req);
        check_next_page(pool, &req, raw, token);
    } else {
        /* the Next-Page query of a bad one is built all the same */
        FUZZ_CHECK(sy_kinto_next_page_query(pool, raw, token) != NULL);
    }
    sy_pool_free(pool);
    return 0;
}
