/* The Kinto PUT body (sy_kinto_put_parse) and the record built from it
 * (sy_kinto_put_record). Input: the body.
 *
 * Invariants: a refusal names the body; an accepted body is a JSON object
 * whose data is an object; the BSO sent to Sync is valid JSON holding
 * exactly the fields found, with the payload bytes as json-c reads them
 * from the body, a sortindex within +-999999999 and a ttl within
 * [0, 999999999]; the record answered to the client carries the same
 * values. */
#include "fuzz_util.h"

#include "syncto/sy_kinto.h"

/* data.<name> of the body as json-c reads it, NULL when absent or null. */
static json_object *data_field(json_object *root, const char *name)
{
    json_object *data, *v;

    if (!json_object_object_get_ex(root, "data", &data) ||
        !json_object_object_get_ex(data, name, &v))
        return NULL;
    return v;
}

static void check_record(const sy_kinto_put_t *p)
{
    json_object *r = sy_kinto_put_record("rid", p, 1234), *v;

    FUZZ_CHECK(json_object_object_get_ex(r, "id", &v) &&
               strcmp(json_object_get_string(v), "rid") == 0);
    FUZZ_CHECK(json_object_object_get_ex(r, "last_modified", &v) &&
               json_object_get_int64(v) == 1234);
    FUZZ_CHECK(json_object_object_get_ex(r, "payload", &v) == p->has_payload);
    if (p->has_payload)
        FUZZ_CHECK(fuzz_same(json_object_get_string(v), (size_t)json_object_get_string_len(v),
                             p->payload, p->payload_len));
    FUZZ_CHECK(json_object_object_get_ex(r, "sortindex", &v) == p->has_sortindex);
    if (p->has_sortindex)
        FUZZ_CHECK(json_object_get_int64(v) == p->sortindex);
    FUZZ_CHECK(json_object_object_get_ex(r, "ttl", &v) == p->has_ttl);
    if (p->has_ttl)
        FUZZ_CHECK(json_object_get_int64(v) == p->ttl);
    json_object_put(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sy_pool_t *pool = sy_pool_new(0);
    fuzz_part_t all = {(const char *)data, size};
    const char *body = fuzz_exact(pool, all);
    sy_kinto_put_t p;
    sy_kinto_invalid_t err = {NULL, NULL, NULL};
    sy_rc_t rc = sy_kinto_put_parse(pool, body, size, &p, &err);
    json_object *root, *bso, *v;
    size_t nkeys = 0;

    if (rc != SY_OK) {
        FUZZ_CHECK(rc == SY_ERR_INVALID);
        FUZZ_CHECK(err.location != NULL && strcmp(err.location, "body") == 0);
        FUZZ_CHECK(err.description != NULL);
        goto done;
    }
    root = fuzz_json(pool, body, size);
    FUZZ_CHECK(root != NULL && json_object_is_type(root, json_type_object));
    FUZZ_CHECK(json_object_object_get_ex(root, "data", &v) &&
               json_object_is_type(v, json_type_object));

    /* what goes to Sync */
    bso = fuzz_json(pool, p.bso, p.bso_len);
    FUZZ_CHECK(bso != NULL && json_object_is_type(bso, json_type_object));
    FUZZ_CHECK(strlen(p.bso) == p.bso_len);
    {
        json_object_object_foreach (bso, key, val) {
            (void)val;
            FUZZ_CHECK(strcmp(key, "payload") == 0 || strcmp(key, "sortindex") == 0 ||
                       strcmp(key, "ttl") == 0);
            nkeys++;
        }
    }
    FUZZ_CHECK(nkeys == (size_t)p.has_payload + p.has_sortindex + p.has_ttl);
    if (p.has_payload) {
        json_object *sent = data_field(root, "payload");

        FUZZ_CHECK(json_object_object_get_ex(bso, "payload", &v));
        FUZZ_CHECK(fuzz_same(json_object_get_string(v), (size_t)json_object_get_string_len(v),
                             p.payload, p.payload_len));
        FUZZ_CHECK(json_object_is_type(sent, json_type_string));
        FUZZ_CHECK(fuzz_same(json_object_get_string(sent), (size_t)json_object_get_string_len(sent),
                             p.payload, p.payload_len));
    } else {
        FUZZ_CHECK(data_field(root, "payload") == NULL);
    }
    if (p.has_sortindex) {
        FUZZ_CHECK(p.sortindex >= -SY_KINTO_SORTINDEX_MAX && p.sortindex <= SY_KINTO_SORTINDEX_MAX);
        FUZZ_CHECK(json_object_object_get_ex(bso, "sortindex", &v) &&
                   json_object_get_int64(v) == p.sortindex);
        FUZZ_CHECK(json_object_get_int64(data_field(root, "sortindex")) == p.sortindex);
    } else {
        FUZZ_CHECK(data_field(root, "sortindex") == NULL);
    }
    if (p.has_ttl) {
        FUZZ_CHECK(p.ttl >= 0 && p.ttl <= SY_KINTO_TTL_MAX);
        FUZZ_CHECK(json_object_object_get_ex(bso, "ttl", &v) && json_object_get_int64(v) == p.ttl);
        FUZZ_CHECK(json_object_get_int64(data_field(root, "ttl")) == p.ttl);
    } else {
        FUZZ_CHECK(data_field(root, "ttl") == NULL);
    }
    check_record(&p);
done:
    sy_pool_free(pool);
    return 0;
}
