/* The request frame's decoders: sy_url_decode, sy_request_set_query and
 * sy_request_set_path over a raw (still percent-encoded) string.
 *
 * Invariants: the query parses exactly when the whole string decodes (every
 * '%' belongs to one name or value); the pairs are the non-empty
 * '&'-separated pieces, in order; encoding each decoded name and value and
 * parsing again gives the same pairs; a decoded string is the input minus
 * two bytes per escape and never holds a NUL; path segments are never "."
 * or "..". */
#include "fuzz_util.h"

#include "syncto/sy_buf.h"
#include "syncto/sy_request.h"

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static void check_decode(sy_pool_t *pool, const char *s, size_t n)
{
    const char *plain = sy_url_decode(pool, s, n, false);
    const char *form = sy_url_decode(pool, s, n, true);
    size_t escapes = 0;

    /* '+' changes nothing about success */
    FUZZ_CHECK((plain == NULL) == (form == NULL));
    if (plain == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        escapes += s[i] == '%';
    FUZZ_CHECK(strlen(plain) == n - 2 * escapes);
    FUZZ_CHECK(strlen(form) == n - 2 * escapes);
    if (escapes == 0) { /* nothing to decode but '+' */
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(plain[i] == s[i]);
            FUZZ_CHECK(form[i] == (s[i] == '+' ? ' ' : s[i]));
        }
    }
    /* decode(encode(x)) == x */
    {
        const char *enc = sy_url_encode(pool, plain, unreserved);
        const char *back = sy_url_decode(pool, enc, strlen(enc), true);

        FUZZ_CHECK(back != NULL && strcmp(back, plain) == 0);
    }
}

static void check_query(sy_pool_t *pool, const char *raw)
{
    sy_request_t req, again;
    size_t pieces = 0, len = strlen(raw);
    bool ok;

    memset(&req, 0, sizeof(req));
    req.pool = pool;
    ok = sy_request_set_query(&req, raw);
    FUZZ_CHECK(req.query_string != NULL && strcmp(req.query_string, raw) == 0);
    FUZZ_CHECK(ok == (sy_url_decode(pool, raw, len, true) != NULL));
    if (!ok)
        return;
    for (const char *p = raw; *p != '\0';) {
        size_t n = strcspn(p, "&");
        pieces += n > 0;
        p += n;
        if (*p == '&')
            p++;
    }
    FUZZ_CHECK(req.query.n == pieces);

    /* Re-encode every pair and parse the result: the same list comes back. */
    {
        sy_buf_t *text = sy_palloc(pool, sizeof(*text));

        sy_buf_init_pooled(text, pool, (size_t)1 << 30);
        memset(&again, 0, sizeof(again));
        again.pool = pool;
        for (size_t i = 0; i < req.query.n; i++) {
            const char *n = req.query.items[i].name, *v = req.query.items[i].value;

            FUZZ_CHECK(n != NULL && v != NULL);
            FUZZ_CHECK(sy_buf_printf(text, "%s%s=%s", i > 0 ? "&" : "",
                                     sy_url_encode(pool, n, unreserved),
                                     sy_url_encode(pool, v, unreserved)) == SY_OK);
        }
        FUZZ_CHECK(sy_request_set_query(&again, text->data != NULL ? text->data : ""));
        FUZZ_CHECK(again.query.n == req.query.n);
        for (size_t i = 0; i < req.query.n; i++) {
            FUZZ_CHECK(strcmp(again.query.items[i].name, req.query.items[i].name) == 0);
            FUZZ_CHECK(strcmp(again.query.items[i].value, req.query.items[i].value) == 0);
        }
    }
}

static void check_path(sy_pool_t *pool, const char *raw)
{
    sy_request_t req;
    const char *path = sy_psprintf(pool, "/%s", raw);

    memset(&req, 0, sizeof(req));
    req.pool = pool;
    if (!sy_request_set_path(&req, path))
        return;
    FUZZ_CHECK(req.path != NULL && strcmp(req.path, path) == 0);
    for (size_t i = 0; i < req.nsegments; i++) {
        FUZZ_CHECK(req.segments[i] != NULL);
        FUZZ_CHECK(strcmp(req.segments[i], ".") != 0 && strcmp(req.segments[i], "..") != 0);
    }
    /* segments: one per '/' of the path without its trailing one */
    {
        size_t len = strlen(path), slashes = 0;

        if (len > 1 && path[len - 1] == '/')
            len--;
        for (size_t i = 0; i < len; i++)
            slashes += path[i] == '/';
        FUZZ_CHECK(req.nsegments == (len <= 1 ? 0 : slashes));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sy_pool_t *pool = sy_pool_new(0);
    fuzz_part_t all = {(const char *)data, size};
    const char *raw = fuzz_str(pool, all);

    /* the decoder on the exact bytes (NULs and all), then as the frame
     * sees them: a C string */
    check_decode(pool, fuzz_exact(pool, all), size);
    check_query(pool, raw);
    check_path(pool, raw);
    sy_pool_free(pool);
    return 0;
}
