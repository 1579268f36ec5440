/* The POST /v1/batch body (sy_batch_parse), then what dispatch does with
 * each request's path before routing it (sy_request_set_path and
 * sy_request_set_query on the "/v1"-prefixed path). Input: the body.
 *
 * Invariants: a refusal names the body, "too many" only above the limit;
 * an accepted body has at most `max` requests, each an object of known
 * keys with a path starting with '/', a known method, string headers and an
 * object body (defaults merged in without overriding), none of them the
 * batch endpoint itself; merged requests serialise to JSON that json-c
 * reads back equal. */
#include "fuzz_util.h"

#include "syncto/sy_batch.h"
#include "syncto/sy_request.h"

#define MAX_REQUESTS 25

static const char *const methods[] = {"GET", "HEAD", "DELETE", "TRACE", "POST", "PUT", "PATCH"};
static const char *const keys[] = {"method", "path", "headers", "body"};

/* dispatch(): the path up to '#', split at '?', "/v1" added when missing. */
static void check_route(sy_pool_t *pool, const char *p)
{
    char *raw = sy_pstrndup(pool, p, strcspn(p, "#")), *q = strchr(raw, '?');
    char *path = q != NULL ? sy_pstrndup(pool, raw, (size_t)(q - raw)) : raw;
    sy_request_t c;

    if (!(strncmp(path, "/v1", 3) == 0 && (path[3] == '/' || path[3] == '\0')))
        path = sy_psprintf(pool, "/v1%s", path);
    memset(&c, 0, sizeof(c));
    c.pool = pool;
    if (sy_request_set_path(&c, path)) {
        /* the batch refused calls of itself */
        FUZZ_CHECK(!(c.nsegments == 2 && strcmp(c.segments[0], "v1") == 0 &&
                     strcmp(c.segments[1], "batch") == 0));
        (void)sy_request_set_query(&c, q != NULL ? q + 1 : "");
    }
}

static void check_request(sy_pool_t *pool, json_object *r, json_object *defaults)
{
    json_object *v;

    FUZZ_CHECK(json_object_is_type(r, json_type_object));
    {
        json_object_object_foreach (r, key, val) {
            (void)val;
            FUZZ_CHECK(fuzz_one_of(key, keys, 4));
        }
    }
    if (json_object_object_get_ex(r, "method", &v))
        FUZZ_CHECK(json_object_is_type(v, json_type_string) &&
                   fuzz_one_of(json_object_get_string(v), methods, 7));
    FUZZ_CHECK(json_object_object_get_ex(r, "path", &v) &&
               json_object_is_type(v, json_type_string));
    FUZZ_CHECK(json_object_get_string(v)[0] == '/');
    FUZZ_CHECK(strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v));
    check_route(pool, json_object_get_string(v));
    if (json_object_object_get_ex(r, "headers", &v)) {
        FUZZ_CHECK(json_object_is_type(v, json_type_object));
        json_object_object_foreach (v, hk, hv) {
            FUZZ_CHECK(hk[0] != '\0' && json_object_is_type(hv, json_type_string));
        }
    }
    if (json_object_object_get_ex(r, "body", &v))
        FUZZ_CHECK(json_object_is_type(v, json_type_object));
    /* defaults fill in, never override */
    if (defaults != NULL) {
        json_object_object_foreach (defaults, dk, dv) {
            (void)dv;
            if (strcmp(dk, "headers") != 0)
                FUZZ_CHECK(json_object_object_get_ex(r, dk, NULL));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sy_pool_t *pool = sy_pool_new(0);
    fuzz_part_t all = {(const char *)data, size};
    const char *body = fuzz_exact(pool, all);
    json_object *requests = NULL, *defaults = NULL, *root;
    sy_kinto_invalid_t err = {NULL, NULL, NULL};
    sy_rc_t rc = sy_batch_parse(pool, body, size, MAX_REQUESTS, &requests, &defaults, &err);

    if (rc == SY_ERR_TOO_LARGE) {
        root = fuzz_json(pool, body, size);
        FUZZ_CHECK(json_object_object_get_ex(root, "requests", &requests));
        FUZZ_CHECK(json_object_array_length(requests) > MAX_REQUESTS);
        goto done;
    }
    if (rc != SY_OK) {
        FUZZ_CHECK(rc == SY_ERR_INVALID && requests == NULL && defaults == NULL);
        FUZZ_CHECK(err.location != NULL && strcmp(err.location, "body") == 0);
        FUZZ_CHECK(err.description != NULL);
        goto done;
    }
    FUZZ_CHECK(json_object_is_type(requests, json_type_array));
    FUZZ_CHECK(json_object_array_length(requests) <= MAX_REQUESTS);
    FUZZ_CHECK(defaults == NULL || json_object_is_type(defaults, json_type_object));
    for (size_t i = 0; i < json_object_array_length(requests); i++)
        check_request(pool, json_object_array_get_idx(requests, i), defaults);
    {
        size_t len = 0;
        const char *text = json_object_to_json_string_length(requests, SY_JSON_FLAGS, &len);
        json_object *back;

        FUZZ_CHECK(text != NULL);
        back = fuzz_json(pool, text, len);
        FUZZ_CHECK(back != NULL && fuzz_same_json(back, requests));
    }
done:
    sy_pool_free(pool);
    return 0;
}
