/* What the libFuzzer targets of tests/fuzz share: the entry point's
 * prototype, an invariant check that stops the run, and the splitting of one
 * input into the several strings a parser takes (header lines, a query
 * string and a body...). Everything is static inline: each target is one
 * translation unit. */
#ifndef SY_FUZZ_UTIL_H
#define SY_FUZZ_UTIL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncto/sy_json.h"
#include "syncto/sy_kv.h"
#include "syncto/sy_pool.h"
#include "syncto/sy_response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test: a failure aborts, which libFuzzer
 * reports as a crash and saves the input. Never used to reject input. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            (void)fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* One piece of the input: [p, p+n), not NUL-terminated. */
typedef struct {
    const char *p;
    size_t n;
} fuzz_part_t;

/* Cuts [data, data+size) at the first `sep`: *head is what comes before
 * it, *rest what follows (empty when there is no sep). */
static inline void fuzz_cut(const char *data, size_t size, char sep, fuzz_part_t *head,
                            fuzz_part_t *rest)
{
    const char *s = size > 0 ? memchr(data, sep, size) : NULL;

    head->p = data;
    head->n = s != NULL ? (size_t)(s - data) : size;
    rest->p = s != NULL ? s + 1 : data + size;
    rest->n = s != NULL ? size - head->n - 1 : 0;
}

/* Pool copy of a part plus a NUL (an embedded NUL ends the C string, as it
 * would for the server, which only ever gets C strings there). */
static inline char *fuzz_str(sy_pool_t *pool, fuzz_part_t part)
{
    char *s = sy_palloc(pool, part.n + 1);

    if (part.n > 0)
        memcpy(s, part.p, part.n);
    s[part.n] = '\0';
    return s;
}

/* Exact-size pool copy of a part that is NOT NUL-terminated in the pool
 * block's usable bytes: with ASan, the pool's red zone follows it, so a
 * parser that reads one byte past its length is caught. */
static inline const char *fuzz_exact(sy_pool_t *pool, fuzz_part_t part)
{
    char *s = sy_palloc(pool, part.n > 0 ? part.n : 1);

    if (part.n > 0)
        memcpy(s, part.p, part.n);
    return s;
}

/* Header lines "Name: value" ('\n'-separated, a trailing '\r' dropped) into
 * l, names lowercased as sy_fcgi stores them; a line without ':' is a name
 * with an empty value. */
static inline void fuzz_headers(sy_pool_t *pool, fuzz_part_t text, sy_kvlist_t *l)
{
    fuzz_part_t line, rest = text;

    while (rest.n > 0) {
        fuzz_part_t name, value;
        char *n, *v;

        fuzz_cut(rest.p, rest.n, '\n', &line, &rest);
        if (line.n > 0 && line.p[line.n - 1] == '\r')
            line.n--;
        fuzz_cut(line.p, line.n, ':', &name, &value);
        while (value.n > 0 && value.p[0] == ' ') {
            value.p++;
            value.n--;
        }
        n = fuzz_str(pool, name);
        v = fuzz_str(pool, value);
        for (char *c = n; *c != '\0'; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        sy_kv_add(pool, l, n, v);
    }
}

/* The JSON text [s, s+n) json-c gives back, as a pool-owned value (NULL
 * when it is not exactly one JSON value). */
static inline json_object *fuzz_json(sy_pool_t *pool, const char *s, size_t n)
{
    return sy_json_parse_pool(pool, s, n);
}

/* Is [s, s+n) exactly one JSON value by RFC 8259 (json-c's strict mode,
 * UTF-8 checked), surrounding white space allowed? */
static inline bool fuzz_strict_json(const char *s, size_t n)
{
    json_tokener *tok = json_tokener_new();
    json_object *o;
    size_t end;
    bool ok;

    if (tok == NULL)
        abort();
    if (n == 0 || n > (size_t)INT32_MAX - 1) {
        json_tokener_free(tok);
        return false;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, s, (int)n);
    end = json_tokener_get_parse_end(tok);
    if (o == NULL && json_tokener_get_error(tok) == json_tokener_continue)
        o = json_tokener_parse_ex(tok, "", 1);
    ok = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    json_object_put(o);
    while (end < n && (s[end] == ' ' || s[end] == '\t' || s[end] == '\r' || s[end] == '\n'))
        end++;
    return ok && end == n;
}

/* a and b serialise to the same text: equal values, NaN included (which
 * json_object_equal never finds equal), numbers spelt the same way. */
static inline bool fuzz_same_json(json_object *a, json_object *b)
{
    const char *ta = json_object_to_json_string_ext(a, SY_JSON_FLAGS);
    const char *tb = json_object_to_json_string_ext(b, SY_JSON_FLAGS);

    if (ta == NULL || tb == NULL)
        abort(); /* json-c only fails to allocate */
    return strcmp(ta, tb) == 0;
}

/* Byte-equal strings of known lengths. */
static inline bool fuzz_same(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* Is s one of the n strings of set? */
static inline bool fuzz_one_of(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s != NULL && strcmp(s, set[i]) == 0)
            return true;
    return false;
}

#endif
