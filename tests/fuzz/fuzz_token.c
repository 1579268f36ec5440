/* The tokenserver answer (sy_token_parse), as read after a tokenserver 200
 * and after a cache hit. Input: the body.
 *
 * Invariants: an accepted answer is one JSON object (json-c agrees) whose
 * id and key are non-empty visible ASCII without '"' or '\\' and equal to
 * the object's; api_endpoint is an http(s) URL sy_http_parse_url accepts,
 * without trailing '/'; the duration is in [0, 100 days); the stored body
 * is the input, byte for byte. */
#include "fuzz_util.h"

#include <sodium.h>
#include <strings.h>

#include "syncto/sy_http.h"
#include "syncto/sy_tokenserver.h"

static bool hawk_safe(const char *s)
{
    if (s == NULL || *s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\')
            return false;
    return true;
}

static const char *field(json_object *o, const char *name)
{
    json_object *v;

    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sy_pool_t *pool = sy_pool_new(0);
    fuzz_part_t all = {(const char *)data, size};
    const char *body = fuzz_exact(pool, all);
    sy_token_t tok;
    sy_url_t url;
    json_object *o;
    size_t elen;

    if (sy_token_parse(pool, body, size, &tok) != SY_OK) {
        FUZZ_CHECK(tok.id == NULL && tok.json == NULL);
        goto done;
    }
    o = fuzz_json(pool, body, size);
    FUZZ_CHECK(o != NULL && json_object_is_type(o, json_type_object));
    FUZZ_CHECK(hawk_safe(tok.id) && strcmp(tok.id, field(o, "id")) == 0);
    FUZZ_CHECK(hawk_safe(tok.key) && strcmp(tok.key, field(o, "key")) == 0);
    FUZZ_CHECK(tok.api_endpoint != NULL && field(o, "api_endpoint") != NULL);
    elen = strlen(tok.api_endpoint);
    FUZZ_CHECK(strncmp(tok.api_endpoint, field(o, "api_endpoint"), elen) == 0);
    FUZZ_CHECK(elen > 0 && tok.api_endpoint[elen - 1] != '/');
    FUZZ_CHECK(strncasecmp(tok.api_endpoint, "http://", 7) == 0 ||
               strncasecmp(tok.api_endpoint, "https://", 8) == 0);
    FUZZ_CHECK(sy_http_parse_url(pool, tok.api_endpoint, &url) == SY_OK);
    FUZZ_CHECK(tok.duration >= 0 && tok.duration < 100L * 86400);
    FUZZ_CHECK(tok.uid != NULL && tok.hashed_fxa_uid != NULL);
    FUZZ_CHECK(tok.hashed_fxa_uid[0] == '\0' || hawk_safe(tok.hashed_fxa_uid));
    FUZZ_CHECK(fuzz_same(tok.json, tok.json_len, body, size));
    FUZZ_CHECK(tok.json[tok.json_len] == '\0');
done:
    sy_pool_free(pool);
    return 0;
}
