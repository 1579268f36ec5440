/* The Sync answer rewritten as a Kinto answer: a collection GET
 * (sy_json_parse_pool + sy_kinto_write_list), a record GET
 * (sy_kinto_write_record) and info/collections (sy_kinto_info_*). Input:
 * the Kinto list query (for _fields and exclude_id) on the first line, then
 * the Sync body.
 *
 * Invariants: what is written is JSON that json-c reads back, and valid
 * JSON (RFC 8259, UTF-8) whenever Sync's answer was; a list is
 * {"data":[…]} with as many records as counted, none excluded, each equal
 * to the json-c record sy_kinto_record_new builds from the same BSO (the
 * hand-written writer agrees with json-c); under a cap the output is the
 * uncapped one or SY_ERR_TOO_LARGE with nothing past the cap, and a failed
 * record leaves the buffer as it was; info lists are sorted newest first.
 *
 * Every rewriter in `rewriters` must give the same answer as the reference
 * (parse, then write): the one-pass sy_kinto_rewrite_list() byte for byte,
 * on every input that is strict JSON. */
#include "fuzz_util.h"
#include "../unit/sy_json_ref.h"

#include "syncto/sy_buf.h"
#include "syncto/sy_kinto.h"
#include "syncto/sy_request.h"

#define BIG_CAP ((size_t)64 << 20)

/* Turns the Sync body [body, body+len) into a Kinto list answer in out. */
typedef sy_rc_t (*rewrite_fn)(sy_pool_t *pool, const char *body, size_t len,
                              const sy_kinto_list_t *p, sy_buf_t *out, size_t *count);

static sy_rc_t parse_then_write(sy_pool_t *pool, const char *body, size_t len,
                                const sy_kinto_list_t *p, sy_buf_t *out, size_t *count)
{
    json_object *bsos = sy_json_parse_pool(pool, body, len);

    *count = 0;
    if (bsos == NULL)
        return SY_ERR_INVALID; /* the view answers 503 without writing */
    return sy_kinto_write_list(out, bsos, p, count);
}

/* The one-pass rewrite records lists are answered with. */
static sy_rc_t rewrite_list(sy_pool_t *pool, const char *body, size_t len, const sy_kinto_list_t *p,
                            sy_buf_t *out, size_t *count)
{
    size_t nsync;

    (void)pool;
    return sy_kinto_rewrite_list(out, body, len, p, &nsync, count);
}

/* strict: the rewriter refuses exactly what RFC 8259 refuses (the
 * recogniser of sy_json_ref.h), where the reference (json-c) lets through
 * trailing commas, raw control characters in strings and numbers such as
 * 01, 1. or NaN; it must agree with the reference everywhere else, byte
 * for byte. */
static const struct {
    const char *name;
    rewrite_fn fn;
    bool strict;
} rewriters[] = {
    {"parse+write_list", parse_then_write, false},
    {"rewrite_list", rewrite_list, true},
};

static sy_buf_t *new_buf(sy_pool_t *pool, size_t max)
{
    sy_buf_t *b = sy_palloc(pool, sizeof(*b));

    sy_buf_init_pooled(b, pool, max);
    return b;
}

static const char *buf_text(const sy_buf_t *b)
{
    return b->data != NULL ? b->data : "";
}

/* The record json-c builds from a BSO equals what the writer wrote. */
static void check_record_equal(json_object *bso, json_object *written, unsigned fields)
{
    json_object *ref = sy_kinto_record_new(bso, fields);

    FUZZ_CHECK(ref != NULL);
    FUZZ_CHECK(fuzz_same_json(ref, written));
    json_object_put(ref);
}

/* The list answer text (rc SY_OK) checked against the BSOs it came from. */
static void check_list_text(sy_pool_t *pool, const sy_buf_t *out, size_t count, json_object *bsos,
                            const sy_kinto_list_t *p, bool strict)
{
    json_object *ans = fuzz_json(pool, buf_text(out), out->len), *arr;
    size_t k = 0, len;

    if (strict)
        FUZZ_CHECK(fuzz_strict_json(buf_text(out), out->len));

    FUZZ_CHECK(ans != NULL && json_object_is_type(ans, json_type_object));
    FUZZ_CHECK(json_object_object_length(ans) == 1);
    FUZZ_CHECK(json_object_object_get_ex(ans, "data", &arr) &&
               json_object_is_type(arr, json_type_array));
    FUZZ_CHECK(json_object_array_length(arr) == count);
    len = bsos != NULL ? json_object_array_length(bsos) : 0;
    for (size_t i = 0; i < len; i++) {
        json_object *bso = json_object_array_get_idx(bsos, i), *id;

        if (!json_object_is_type(bso, json_type_object) ||
            !json_object_object_get_ex(bso, "id", &id) ||
            !json_object_is_type(id, json_type_string))
            continue; /* skipped */
        if (sy_kinto_list_excluded(p, json_object_get_string(id)))
            continue;
        FUZZ_CHECK(k < count);
        check_record_equal(bso, json_object_array_get_idx(arr, k), p->fields);
        k++;
    }
    FUZZ_CHECK(k == count);
}

static void check_list(sy_pool_t *pool, const char *body, size_t len, const sy_kinto_list_t *p,
                       size_t cap)
{
    json_object *bsos = sy_json_parse_pool(pool, body, len);
    sy_buf_t *ref = new_buf(pool, BIG_CAP);
    size_t ref_count = 0;
    sy_rc_t ref_rc = parse_then_write(pool, body, len, p, ref, &ref_count);

    FUZZ_CHECK(ref_rc != SY_ERR_TOO_LARGE);
    /* The reference's own checks hold for RFC 8259 text; what json-c's
     * leniency lets through (0520e, NaN...) answers are no longer written
     * from (the rewrite refuses it), and some of it does not read back. */
    if (ref_rc != SY_OK)
        FUZZ_CHECK(bsos == NULL || !json_object_is_type(bsos, json_type_array));
    else if (ref_valid(body, len))
        check_list_text(pool, ref, ref_count, bsos, p, fuzz_strict_json(body, len));

    for (size_t r = 0; r < sizeof(rewriters) / sizeof(rewriters[0]); r++) {
        sy_buf_t *out = new_buf(pool, BIG_CAP), *small = new_buf(pool, cap);
        size_t count = 0, small_count = 0;
        sy_rc_t rc = rewriters[r].fn(pool, body, len, p, out, &count), small_rc;

        if (rewriters[r].strict && rc == SY_ERR_INVALID && ref_rc == SY_OK) {
            /* refused where json-c is lenient (trailing commas, raw
             * control characters, NaN...): only text RFC 8259 refuses */
            FUZZ_CHECK(!ref_valid(body, len));
            continue;
        }
        if (rewriters[r].strict)
            FUZZ_CHECK((rc == SY_ERR_INVALID) == !ref_valid(body, len));
        if (rc != ref_rc || (rc == SY_OK && count != ref_count)) {
            fprintf(stderr, "%s: rc %d count %zu, the reference: rc %d count %zu\n",
                    rewriters[r].name, (int)rc, count, (int)ref_rc, ref_count);
            FUZZ_CHECK(!"a rewriter disagrees with the reference");
        }
        if (rc == SY_OK) {
            json_object *a = fuzz_json(pool, buf_text(out), out->len);
            json_object *b = fuzz_json(pool, buf_text(ref), ref->len);

            FUZZ_CHECK(a != NULL && b != NULL && fuzz_same_json(a, b));
            if (rewriters[r].strict)
                FUZZ_CHECK(fuzz_same(buf_text(out), out->len, buf_text(ref), ref->len));
        }
        /* under a cap: the same answer, or too large with nothing past it */
        small_rc = rewriters[r].fn(pool, body, len, p, small, &small_count);
        FUZZ_CHECK(small->len <= cap);
        if (rc == SY_OK && out->len <= cap) {
            FUZZ_CHECK(small_rc == SY_OK && small_count == count);
            FUZZ_CHECK(fuzz_same(buf_text(small), small->len, buf_text(out), out->len));
        } else if (rc == SY_OK) {
            FUZZ_CHECK(small_rc == SY_ERR_TOO_LARGE);
        }
    }
}

/* One record: written after a marker that a failure must leave alone. */
static void check_record(sy_pool_t *pool, json_object *bso, unsigned fields, size_t cap,
                         bool strict)
{
    sy_buf_t *out = new_buf(pool, BIG_CAP), *small = new_buf(pool, cap + 1);
    sy_rc_t rc, small_rc;
    json_object *w;

    FUZZ_CHECK(sy_buf_append(out, "[", 1) == SY_OK);
    rc = sy_kinto_write_record(out, bso, fields);
    if (rc != SY_OK) {
        FUZZ_CHECK(rc == SY_ERR_INVALID && sy_kinto_record_new(bso, fields) == NULL);
        FUZZ_CHECK(out->len == 1 && strcmp(out->data, "[") == 0);
        return;
    }
    w = fuzz_json(pool, out->data + 1, out->len - 1);
    FUZZ_CHECK(w != NULL);
    if (strict)
        FUZZ_CHECK(fuzz_strict_json(out->data + 1, out->len - 1));
    check_record_equal(bso, w, fields);

    FUZZ_CHECK(sy_buf_append(small, "[", 1) == SY_OK);
    small_rc = sy_kinto_write_record(small, bso, fields);
    FUZZ_CHECK(small->len <= cap + 1);
    if (out->len <= cap + 1) {
        FUZZ_CHECK(small_rc == SY_OK && fuzz_same(small->data, small->len, out->data, out->len));
    } else {
        FUZZ_CHECK(small_rc == SY_ERR_TOO_LARGE);
        FUZZ_CHECK(small->len == 1 && strcmp(small->data, "[") == 0);
    }
}

static void check_info(json_object *info)
{
    json_object *list = sy_kinto_info_list(info);
    size_t n = json_object_array_length(list);
    int64_t prev = INT64_MAX, max = sy_kinto_info_max(info);

    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(list, i), *id, *lm;
        int64_t ms;

        FUZZ_CHECK(json_object_object_get_ex(c, "id", &id) &&
                   json_object_is_type(id, json_type_string));
        FUZZ_CHECK(json_object_object_get_ex(c, "last_modified", &lm));
        ms = json_object_get_int64(lm);
        FUZZ_CHECK(ms >= 0 && ms <= prev);
        if (i == 0)
            FUZZ_CHECK(ms == max);
        prev = ms;
    }
    if (n == 0)
        FUZZ_CHECK(max == 0);
    json_object_put(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sy_pool_t *pool = sy_pool_new(0);
    fuzz_part_t qpart, bpart;
    sy_request_t req;
    sy_kinto_list_t lp;
    const char *body;
    json_object *parsed;
    size_t cap;

    fuzz_cut((const char *)data, size, '\n', &qpart, &bpart);
    memset(&req, 0, sizeof(req));
    req.pool = pool;
    if (!sy_request_set_query(&req, fuzz_str(pool, qpart)) ||
        sy_kinto_list_parse(pool, &req.query, &lp, NULL) != SY_OK)
        goto done; /* refused before any Sync call */
    body = fuzz_exact(pool, bpart);
    /* a cap somewhere inside the answer, from the input's own size */
    cap = bpart.n / 2 + qpart.n % 7;
    check_list(pool, body, bpart.n, &lp, cap);
    parsed = sy_json_parse_pool(pool, body, bpart.n);
    if (parsed != NULL) {
        check_record(pool, parsed, lp.fields, cap, fuzz_strict_json(body, bpart.n));
        if (json_object_is_type(parsed, json_type_object))
            check_info(parsed);
    }
done:
    sy_pool_free(pool);
    return 0;
}
