/* Kinto <-> Sync mapping: the rules of docs/api.md in one module.
 *
 * Why lists are written straight into the body buffer: a 5,000-record
 * history is about 3 MB of JSON. Building one json-c object per record and
 * then serialising the whole tree would hold the data three times (Sync's
 * parsed answer, the new tree, its text); writing each record as it is read
 * holds it twice and does one pass.
 *
 * Why timestamps go through text: Sync writes "1441868927.07"; as a double
 * that is ...0.0699999, and the integer ms a client compares ETags with must
 * be exact. json-c keeps the text of every number it parses, so the value
 * is read from that text (sy_ts_parse_sync). */
#include "syncto/sy_kinto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "syncto/sy_http.h"
#include "syncto/sy_json.h"
#include "syncto/sy_request.h"
#include "syncto/sy_response.h"
#include "syncto/sy_ts.h"

/* ---- names ----------------------------------------------------------- */

bool sy_kinto_valid_collection(const char *name)
{
    size_t n = 0;

    if (name == NULL)
        return false;
    for (const char *p = name; *p != '\0'; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n >= 1 && n <= 32;
}

bool sy_kinto_valid_record_id(const char *id)
{
    size_t n = 0;

    if (id == NULL)
        return false;
    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++, n++) {
        if (*p < 0x20 || *p > 0x7e)
            return false;
    }
    return n >= 1 && n <= 64;
}

/* ---- JSON writing ---------------------------------------------------- */

/* The escape json-c's serialiser (SY_JSON_FLAGS) writes for byte c into
 * esc, and its length; 0 when c is written as it is. */
static size_t escape_byte(unsigned char c, char esc[8])
{
    static const char hex[] = "0123456789abcdef";

    if (c >= 0x20 && c != '"' && c != '\\')
        return 0;
    esc[0] = '\\';
    switch (c) {
    case '"':
        esc[1] = '"';
        return 2;
    case '\\':
        esc[1] = '\\';
        return 2;
    case '\b':
        esc[1] = 'b';
        return 2;
    case '\f':
        esc[1] = 'f';
        return 2;
    case '\n':
        esc[1] = 'n';
        return 2;
    case '\r':
        esc[1] = 'r';
        return 2;
    case '\t':
        esc[1] = 't';
        return 2;
    default:
        memcpy(esc + 1, "u00", 3);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        return 6;
    }
}

sy_rc_t sy_kinto_write_string(sy_buf_t *out, const char *s, size_t n)
{
    size_t i, start = 0;
    sy_rc_t rc;

    rc = sy_buf_append(out, "\"", 1);
    for (i = 0; rc == SY_OK && i < n; i++) {
        char esc[8];
        size_t elen = escape_byte((unsigned char)s[i], esc);

        if (elen == 0)
            continue;
        if (i > start)
            rc = sy_buf_append(out, s + start, i - start);
        if (rc == SY_OK)
            rc = sy_buf_append(out, esc, elen);
        start = i + 1;
    }
    if (rc == SY_OK && n > start)
        rc = sy_buf_append(out, s + start, n - start);
    if (rc == SY_OK)
        rc = sy_buf_append(out, "\"", 1);
    return rc;
}

/* Appends any JSON value as json-c serialises it. */
static sy_rc_t write_value(sy_buf_t *out, json_object *v)
{
    size_t len = 0;
    const char *s;

    if (json_object_is_type(v, json_type_string))
        return sy_kinto_write_string(out, json_object_get_string(v),
                                     (size_t)json_object_get_string_len(v));
    s = json_object_to_json_string_length(v, SY_JSON_FLAGS, &len);
    if (s == NULL)
        abort(); /* json-c only fails to allocate */
    return sy_buf_append(out, s, len);
}

bool sy_kinto_bso_modified(json_object *v, int64_t *ms)
{
    if (v == NULL ||
        !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        return false;
    /* For a parsed number, json-c returns the text it read. */
    return sy_ts_parse_sync(json_object_get_string(v), ms);
}

/* Record fields of a BSO, NULL when absent or null. */
typedef struct {
    json_object *id, *payload, *sortindex, *ttl;
    int64_t modified;
} bso_fields_t;

static bool bso_read(json_object *bso, unsigned fields, bso_fields_t *f)
{
    json_object *v;

    memset(f, 0, sizeof(*f));
    if (!json_object_is_type(bso, json_type_object) ||
        !json_object_object_get_ex(bso, "id", &f->id) ||
        !json_object_is_type(f->id, json_type_string))
        return false;
    if (!json_object_object_get_ex(bso, "modified", &v) || !sy_kinto_bso_modified(v, &f->modified))
        f->modified = 0;
    if ((fields & SY_KINTO_F_PAYLOAD) && json_object_object_get_ex(bso, "payload", &v) && v != NULL)
        f->payload = v;
    if ((fields & SY_KINTO_F_SORTINDEX) && json_object_object_get_ex(bso, "sortindex", &v) &&
        v != NULL)
        f->sortindex = v;
    if ((fields & SY_KINTO_F_TTL) && json_object_object_get_ex(bso, "ttl", &v) && v != NULL)
        f->ttl = v;
    return true;
}

sy_rc_t sy_kinto_write_record(sy_buf_t *out, json_object *bso, unsigned fields)
{
    bso_fields_t f;
    size_t mark = out->len;
    sy_rc_t rc;

    if (!bso_read(bso, fields, &f))
        return SY_ERR_INVALID;
    rc = sy_buf_append(out, "{\"id\":", 6);
    if (rc == SY_OK)
        rc = write_value(out, f.id);
    if (rc == SY_OK) {
        char num[64];
        int n = snprintf(num, sizeof(num), ",\"last_modified\":%lld", (long long)f.modified);
        rc = sy_buf_append(out, num, (size_t)n);
    }
    if (rc == SY_OK && f.payload != NULL) {
        rc = sy_buf_append(out, ",\"payload\":", 11);
        if (rc == SY_OK)
            rc = write_value(out, f.payload);
    }
    if (rc == SY_OK && f.sortindex != NULL) {
        rc = sy_buf_append(out, ",\"sortindex\":", 13);
        if (rc == SY_OK)
            rc = write_value(out, f.sortindex);
    }
    if (rc == SY_OK && f.ttl != NULL) {
        rc = sy_buf_append(out, ",\"ttl\":", 7);
        if (rc == SY_OK)
            rc = write_value(out, f.ttl);
    }
    if (rc == SY_OK)
        rc = sy_buf_append(out, "}", 1);
    if (rc != SY_OK) {
        out->len = mark;
        if (out->data != NULL)
            out->data[mark] = '\0';
    }
    return rc;
}

json_object *sy_kinto_record_new(json_object *bso, unsigned fields)
{
    bso_fields_t f;
    json_object *r;

    if (!bso_read(bso, fields, &f))
        return NULL;
    r = sy_json_must(json_object_new_object());
    json_object_object_add(r, "id", json_object_get(f.id));
    json_object_object_add(r, "last_modified", sy_json_must(json_object_new_int64(f.modified)));
    if (f.payload != NULL)
        json_object_object_add(r, "payload", json_object_get(f.payload));
    if (f.sortindex != NULL)
        json_object_object_add(r, "sortindex", json_object_get(f.sortindex));
    if (f.ttl != NULL)
        json_object_object_add(r, "ttl", json_object_get(f.ttl));
    return r;
}

/* ---- list parameters ------------------------------------------------- */

static void invalid(sy_kinto_invalid_t *err, const char *location, const char *name,
                    const char *description)
{
    if (err == NULL)
        return;
    err->location = location;
    err->name = name;
    err->description = description;
}

/* Splits a comma list into trimmed, non-empty pool strings appended to
 * (*items, *n) (capacity *cap grows in the pool). Duplicates are dropped. */
static void split_list(sy_pool_t *pool, const char *s, const char ***items, size_t *n, size_t *cap)
{
    const char *p = s;

    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        const char *a = p, *b = p + len;
        bool dup = false;

        p = *b == ',' ? b + 1 : b;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a == b)
            continue;
        for (size_t i = 0; i < *n && !dup; i++)
            dup = strlen((*items)[i]) == (size_t)(b - a) &&
                  memcmp((*items)[i], a, (size_t)(b - a)) == 0;
        if (dup)
            continue;
        if (*n == *cap) {
            size_t ncap = *cap == 0 ? 8 : *cap * 2;
            const char **nitems = sy_palloc(pool, ncap * sizeof(*nitems));
            if (*n > 0)
                memcpy(nitems, *items, *n * sizeof(*nitems));
            *items = nitems;
            *cap = ncap;
        }
        (*items)[(*n)++] = sy_pstrndup(pool, a, (size_t)(b - a));
    }
}

static const char SORT_MESSAGE[] = "_sort should be one of ('-last_modified', 'newest', "
                                   "'-sortindex', 'index', 'last_modified', 'oldest')";

static const char *sync_sort(const char *v)
{
    static const struct {
        const char *kinto, *sync;
    } sorts[] = {
        {"-last_modified", "newest"}, {"newest", "newest"},        {"-sortindex", "index"},
        {"index", "index"},           {"last_modified", "oldest"}, {"oldest", "oldest"},
    };
    for (size_t i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
        if (strcmp(v, sorts[i].kinto) == 0)
            return sorts[i].sync;
    return NULL;
}

/* _limit: a positive decimal integer; values above Sync's own ceiling are
 * brought down to it rather than refused (Kinto caps large limits too). */
static const char *parse_limit(sy_pool_t *pool, const char *v)
{
    long long n = 0;

    if (*v == '\0')
        return NULL;
    for (const char *p = v; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return NULL;
        if (n <= SY_KINTO_SORTINDEX_MAX)
            n = n * 10 + (*p - '0');
    }
    if (n <= 0)
        return NULL;
    if (n > SY_KINTO_SORTINDEX_MAX)
        n = SY_KINTO_SORTINDEX_MAX;
    return sy_psprintf(pool, "%lld", n);
}

static unsigned parse_fields(sy_pool_t *pool, const char *v, unsigned fields)
{
    const char **items = NULL;
    size_t n = 0, cap = 0;

    split_list(pool, v, &items, &n, &cap);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(items[i], "payload") == 0)
            fields |= SY_KINTO_F_PAYLOAD;
        else if (strcmp(items[i], "sortindex") == 0)
            fields |= SY_KINTO_F_SORTINDEX;
        else if (strcmp(items[i], "ttl") == 0)
            fields |= SY_KINTO_F_TTL;
    }
    return fields;
}

sy_rc_t sy_kinto_list_parse(sy_pool_t *pool, const sy_kvlist_t *query, sy_kinto_list_t *out,
                            sy_kinto_invalid_t *err)
{
    const char **ids = NULL, **exclude = NULL;
    size_t nids = 0, idscap = 0, nexclude = 0, excap = 0;
    bool has_fields = false;
    unsigned fields = 0;

    memset(out, 0, sizeof(*out));
    sy_sync_query_init(&out->q);
    out->fields = SY_KINTO_F_ALL;
    for (size_t i = 0; i < query->n; i++) {
        const char *k = query->items[i].name, *v = query->items[i].value;
        int64_t ms;

        if (strcmp(k, "_since") == 0) {
            if (!sy_ts_parse_ms(v, true, &ms)) {
                invalid(err, "querystring", "_since", "_since should be a number.");
                return SY_ERR_INVALID;
            }
            out->has_since = true;
            out->since_ms = ms;
            out->q.newer_ms = ms;
        } else if (strcmp(k, "_before") == 0) {
            if (!sy_ts_parse_ms(v, true, &ms)) {
                invalid(err, "querystring", "_before", "_before should be a number.");
                return SY_ERR_INVALID;
            }
            out->q.older_ms = ms;
        } else if (strcmp(k, "_sort") == 0) {
            out->q.sort = sync_sort(v);
            if (out->q.sort == NULL) {
                invalid(err, "querystring", "_sort", SORT_MESSAGE);
                return SY_ERR_INVALID;
            }
        } else if (strcmp(k, "_limit") == 0) {
            out->q.limit = parse_limit(pool, v);
            if (out->q.limit == NULL) {
                invalid(err, "querystring", "_limit", "_limit should be a positive integer.");
                return SY_ERR_INVALID;
            }
            out->has_limit = true;
        } else if (strcmp(k, "_token") == 0) {
            out->q.offset = v[0] != '\0' ? v : NULL;
        } else if (strcmp(k, "in_ids") == 0 || strcmp(k, "in_id") == 0) {
            bool ids_param = strcmp(k, "in_ids") == 0;
            size_t first = nids;

            split_list(pool, v, &ids, &nids, &idscap);
            if (nids > SY_KINTO_MAX_IDS) {
                invalid(err, "querystring", k,
                        ids_param ? "in_ids should list at most 100 ids."
                                  : "in_id should list at most 100 ids.");
                return SY_ERR_INVALID;
            }
            for (size_t j = first; j < nids; j++) {
                if (!sy_kinto_valid_record_id(ids[j])) {
                    invalid(err, "querystring", k,
                            ids_param ? "in_ids should list valid record ids."
                                      : "in_id should list valid record ids.");
                    return SY_ERR_INVALID;
                }
            }
        } else if (strcmp(k, "exclude_id") == 0) {
            split_list(pool, v, &exclude, &nexclude, &excap);
        } else if (strcmp(k, "_fields") == 0) {
            has_fields = true;
            fields = parse_fields(pool, v, fields);
        }
        /* _expected (a cache buster) and unknown parameters: ignored. */
    }
    out->q.ids = ids;
    out->q.nids = nids;
    out->exclude = exclude;
    out->nexclude = nexclude;
    if (has_fields)
        out->fields = fields;
    return SY_OK;
}

unsigned sy_kinto_query_fields(sy_pool_t *pool, const sy_kvlist_t *query)
{
    bool has_fields = false;
    unsigned fields = 0;

    for (size_t i = 0; i < query->n; i++) {
        if (strcmp(query->items[i].name, "_fields") == 0) {
            has_fields = true;
            fields = parse_fields(pool, query->items[i].value, fields);
        }
    }
    return has_fields ? fields : SY_KINTO_F_ALL;
}

bool sy_kinto_list_excluded(const sy_kinto_list_t *p, const char *id)
{
    for (size_t i = 0; i < p->nexclude; i++)
        if (strcmp(p->exclude[i], id) == 0)
            return true;
    return false;
}

sy_rc_t sy_kinto_write_list(sy_buf_t *out, json_object *bsos, const sy_kinto_list_t *p,
                            size_t *count)
{
    size_t n = 0, len = 0;
    sy_rc_t rc;

    *count = 0;
    if (bsos != NULL && !json_object_is_type(bsos, json_type_array))
        return SY_ERR_INVALID;
    if (bsos != NULL)
        len = json_object_array_length(bsos);
    rc = sy_buf_append(out, "{\"data\":[", 9);
    for (size_t i = 0; rc == SY_OK && i < len; i++) {
        json_object *bso = json_object_array_get_idx(bsos, i), *id;
        size_t mark = out->len;

        if (p->nexclude > 0 && json_object_object_get_ex(bso, "id", &id) &&
            json_object_is_type(id, json_type_string) &&
            sy_kinto_list_excluded(p, json_object_get_string(id)))
            continue;
        if (n > 0)
            rc = sy_buf_append(out, ",", 1);
        if (rc == SY_OK)
            rc = sy_kinto_write_record(out, bso, p->fields);
        if (rc == SY_ERR_INVALID) {
            /* not a BSO (Sync answered ids only?): skip it */
            out->len = mark;
            out->data[mark] = '\0';
            rc = SY_OK;
            continue;
        }
        n++;
    }
    if (rc == SY_OK)
        rc = sy_buf_append(out, "]}", 2);
    *count = n;
    return rc;
}

/* ---- records list: the one-pass rewrite ------------------------------ */

/* What is known of one JSON value after it was scanned: its text and its
 * kind. Strings keep their quotes; `escaped` says a backslash occurs. */
typedef enum {
    V_NONE = 0, /* field absent */
    V_STRING,
    V_INT,
    V_DOUBLE, /* a fraction or an exponent */
    V_TRUE,
    V_FALSE,
    V_NULL,
    V_OBJECT,
    V_ARRAY,
} vkind_t;

typedef struct {
    const unsigned char *start, *end;
    vkind_t kind;
    bool escaped;
} span_t;

/* The BSO fields that matter, each the last occurrence of its key. */
typedef struct {
    span_t id, modified, payload, sortindex, ttl;
} bso_spans_t;

typedef struct {
    const unsigned char *p, *end;
    sy_buf_t *out;
    sy_rc_t rc;       /* SY_OK, or SY_ERR_TOO_LARGE once out is full */
    sy_buf_t scratch; /* decoded keys and ids */
} rw_t;

/* Bytes that end the plain ASCII run of a string: the 32 controls, '"',
 * '\\', and the first byte of every multi-byte character, which is then
 * checked as UTF-8. */
static const unsigned char STR_STOP[256] = {
    1,          1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* 0x00 */
    1,          1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* 0x10 */
    0,          0,          1,                                           /* ' ', '!', '"' */
    ['\\'] = 1, [0x80] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x80 */
    1,          1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* 0x90 */
    1,          1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* 0xa0 */
    1,          1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* 0xb0 */
    1,          1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* 0xc0 */
    1,          1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* 0xd0 */
    1,          1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* 0xe0 */
    1,          1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* 0xf0 */
};

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static void skip_ws(rw_t *w)
{
    while (w->p < w->end && is_ws(*w->p))
        w->p++;
}

/* The next byte is c (after white space)? Consumes it when it is. */
static bool eat(rw_t *w, unsigned char c)
{
    skip_ws(w);
    if (w->p < w->end && *w->p == c) {
        w->p++;
        return true;
    }
    return false;
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Value of 4 hex digits, -1 when one is not. */
static long hex4(const unsigned char *p)
{
    long v = 0;

    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static bool scan_string(rw_t *w, span_t *v)
{
    const unsigned char *p = w->p + 1, *end = w->end;

    v->start = w->p;
    v->kind = V_STRING;
    v->escaped = false;
    for (;;) {
        while (p < end && !STR_STOP[*p])
            p++;
        if (p == end || *p < 0x20)
            return false; /* cut short, or a raw control character */
        if (*p == '"')
            break;
        if (*p >= 0x80) {
            /* as strict as sy_json_parse_pool(): no overlong form, no
             * surrogate, nothing past U+10FFFF */
            size_t k = sy_json_utf8_len(p, (size_t)(end - p));
            if (k == 0)
                return false;
            p += k;
            continue;
        }
        v->escaped = true;
        if (end - p < 2)
            return false;
        switch (p[1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            p += 2;
            break;
        case 'u':
            if (end - p < 6 || hex4(p + 2) < 0)
                return false;
            p += 6;
            break;
        default:
            return false;
        }
    }
    v->end = p + 1;
    w->p = p + 1;
    return true;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 8259 number: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static bool scan_number(rw_t *w, span_t *v)
{
    const unsigned char *p = w->p, *end = w->end;

    v->start = p;
    v->kind = V_INT;
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && is_digit(*p))
            p++;
    } else {
        return false;
    }
    if (p < end && *p == '.') {
        p++;
        if (p == end || !is_digit(*p))
            return false;
        while (p < end && is_digit(*p))
            p++;
        v->kind = V_DOUBLE;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !is_digit(*p))
            return false;
        while (p < end && is_digit(*p))
            p++;
        v->kind = V_DOUBLE;
    }
    v->end = p;
    w->p = p;
    return true;
}

static bool scan_literal(rw_t *w, span_t *v, const char *word, vkind_t kind)
{
    size_t n = strlen(word);

    if ((size_t)(w->end - w->p) < n || memcmp(w->p, word, n) != 0)
        return false;
    v->start = w->p;
    v->end = w->p + n;
    v->kind = kind;
    w->p += n;
    return true;
}

/* Nesting: the top-level array is at level 0, a BSO at level 1, its fields
 * at 2. json-c (json_tokener_new(), default depth 32) refuses a value at
 * level 32 or deeper, so a container at level 31 can only be empty; the
 * same limit applies here, checked where json-c checks it (before the
 * first byte of the deeper value). */
#define MAX_DEPTH JSON_TOKENER_DEFAULT_DEPTH

static bool scan_value(rw_t *w, int level, span_t *v);

static bool scan_array(rw_t *w, int level, span_t *v)
{
    span_t item;

    v->start = w->p++;
    v->kind = V_ARRAY;
    if (!eat(w, ']')) {
        do {
            skip_ws(w);
            if (level + 1 >= MAX_DEPTH || !scan_value(w, level + 1, &item))
                return false;
        } while (eat(w, ','));
        if (!eat(w, ']'))
            return false;
    }
    v->end = w->p;
    return true;
}

static bool scan_object(rw_t *w, int level, span_t *v)
{
    span_t key, val;

    v->start = w->p++;
    v->kind = V_OBJECT;
    if (!eat(w, '}')) {
        do {
            skip_ws(w);
            if (w->p == w->end || *w->p != '"' || !scan_string(w, &key) || !eat(w, ':'))
                return false;
            skip_ws(w);
            if (level + 1 >= MAX_DEPTH || !scan_value(w, level + 1, &val))
                return false;
        } while (eat(w, ','));
        if (!eat(w, '}'))
            return false;
    }
    v->end = w->p;
    return true;
}

/* Scans the value at w->p (white space already skipped). */
static bool scan_value(rw_t *w, int level, span_t *v)
{
    if (w->p == w->end)
        return false;
    switch (*w->p) {
    case '"':
        return scan_string(w, v);
    case '{':
        return scan_object(w, level, v);
    case '[':
        return scan_array(w, level, v);
    case 't':
        return scan_literal(w, v, "true", V_TRUE);
    case 'f':
        return scan_literal(w, v, "false", V_FALSE);
    case 'n':
        return scan_literal(w, v, "null", V_NULL);
    default:
        return scan_number(w, v);
    }
}

/* Code point of the \uXXXX escape at p (inside a scanned string ending
 * before stop), taking the low half of a surrogate pair along; *next is
 * past what was read. An unpaired surrogate, high or low, decodes to
 * U+FFFD as json-c decodes it (rather than to invalid UTF-8). */
static unsigned long read_u_escape(const unsigned char *p, const unsigned char *stop,
                                   const unsigned char **next)
{
    unsigned long cp = (unsigned long)hex4(p + 2);

    *next = p + 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        const unsigned char *q = *next;
        if (stop - q >= 6 && q[0] == '\\' && q[1] == 'u') {
            unsigned long lo = (unsigned long)hex4(q + 2);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                *next = q + 6;
                return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
        }
        return 0xFFFD;
    }
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return 0xFFFD;
    return cp;
}

/* UTF-8 of cp into u (4 bytes); returns the length. */
static size_t utf8_encode(unsigned long cp, char u[4])
{
    if (cp < 0x80) {
        u[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The decoded bytes of string v into w->scratch, up to its first NUL: what
 * json-c compares keys by (it keeps them as C strings) and what
 * sy_kinto_list_excluded() compares an id by. */
static void decode_cstr(rw_t *w, const span_t *v)
{
    const unsigned char *p = v->start + 1, *stop = v->end - 1;

    sy_buf_reset(&w->scratch);
    while (p < stop) {
        char u[4];
        size_t n = 1;

        if (*p != '\\') {
            u[0] = (char)*p++;
        } else {
            switch (p[1]) {
            case 'b':
                u[0] = '\b';
                break;
            case 'f':
                u[0] = '\f';
                break;
            case 'n':
                u[0] = '\n';
                break;
            case 'r':
                u[0] = '\r';
                break;
            case 't':
                u[0] = '\t';
                break;
            case 'u':
                break;
            default: /* " \ / */
                u[0] = (char)p[1];
                break;
            }
            if (p[1] == 'u') {
                n = utf8_encode(read_u_escape(p, stop, &p), u);
            } else {
                p += 2;
            }
        }
        if (n == 1 && u[0] == '\0')
            return;
        /* scratch is as large as the body: it cannot fill up */
        (void)sy_buf_append(&w->scratch, u, n);
    }
}

/* Is the string v, decoded as json-c keeps a key, equal to name? */
static bool key_is(rw_t *w, const span_t *v, const char *name)
{
    size_t n = strlen(name);

    if (!v->escaped)
        return (size_t)(v->end - v->start) == n + 2 && memcmp(v->start + 1, name, n) == 0;
    decode_cstr(w, v);
    return w->scratch.len == n && memcmp(w->scratch.data, name, n) == 0;
}

static void put(rw_t *w, const void *s, size_t n)
{
    if (w->rc == SY_OK)
        w->rc = sy_buf_append(w->out, s, n);
}

/* String v as sy_kinto_write_string() writes its decoded bytes. The
 * escapes \" \\ \b \f \n \r \t are the ones it would write again, so they
 * are copied with the text around them; only \/ and \uXXXX are rewritten.
 * A string without a backslash is copied whole. */
static void put_string(rw_t *w, const span_t *v)
{
    const unsigned char *p = v->start + 1, *stop = v->end - 1, *run = v->start;

    while (v->escaped && p < stop) {
        const unsigned char *q = memchr(p, '\\', (size_t)(stop - p));
        char buf[8];
        size_t n;

        if (q == NULL)
            break;
        if (q[1] != '/' && q[1] != 'u') {
            p = q + 2;
            continue;
        }
        put(w, run, (size_t)(q - run));
        if (q[1] == '/') {
            put(w, "/", 1);
            p = q + 2;
        } else {
            unsigned long cp = read_u_escape(q, stop, &p);
            n = cp < 0x80 ? escape_byte((unsigned char)cp, buf) : 0;
            if (n == 0)
                n = utf8_encode(cp, buf);
            put(w, buf, n);
        }
        run = p;
    }
    put(w, run, (size_t)(v->end - run));
}

/* The text json-c prints for the integer v into buf: it reads an integer
 * into an int64 (a uint64 above INT64_MAX) and prints that again, so "-0"
 * becomes "0" and a literal beyond the range is clamped to INT64_MIN or
 * UINT64_MAX (json-c 0.16 does so even in strict mode). The rewrite does
 * the same rather than refusing or keeping the literal: every RFC 8259
 * integer then comes out as the DOM path wrote it. Any other integer is
 * printed as written (RFC 8259 allows no leading zeros). */
static size_t int_text(const span_t *v, const char **text)
{
    static const char UMAX[] = "18446744073709551615", IMIN[] = "-9223372036854775808";
    size_t n = (size_t)(v->end - v->start);
    const char *s = (const char *)v->start;

    *text = s;
    if (n == 2 && s[0] == '-' && s[1] == '0') {
        *text = "0";
        return 1;
    }
    if (s[0] == '-') {
        if (n > sizeof(IMIN) - 1 || (n == sizeof(IMIN) - 1 && memcmp(s, IMIN, n) > 0)) {
            *text = IMIN;
            return sizeof(IMIN) - 1;
        }
    } else if (n > sizeof(UMAX) - 1 || (n == sizeof(UMAX) - 1 && memcmp(s, UMAX, n) > 0)) {
        *text = UMAX;
        return sizeof(UMAX) - 1;
    }
    return n;
}

/* Appends field value v as the DOM path writes it (write_value). */
static bool put_value(rw_t *w, const span_t *v)
{
    const char *text;
    size_t n;

    switch (v->kind) {
    case V_STRING:
        put_string(w, v);
        return true;
    case V_INT:
        n = int_text(v, &text);
        put(w, text, n);
        return true;
    case V_DOUBLE: /* json-c keeps and prints the text of a double */
    case V_TRUE:
    case V_FALSE:
        put(w, v->start, (size_t)(v->end - v->start));
        return true;
    case V_OBJECT:
    case V_ARRAY: {
        /* Never sent by Sync (payloads are strings): json-c re-serialises
         * such a value (duplicate keys merged, white space dropped...), so
         * it does it here too, from the value's text alone. */
        json_tokener *tok = json_tokener_new();
        json_object *o;

        if (tok == NULL)
            abort();
        o = json_tokener_parse_ex(tok, (const char *)v->start, (int)(v->end - v->start));
        json_tokener_free(tok);
        if (o == NULL)
            return false;
        if (w->rc == SY_OK)
            w->rc = write_value(w->out, o);
        json_object_put(o);
        return true;
    }
    default:
        return true;
    }
}

/* Kinto ms of a "modified" value, as sy_kinto_bso_modified() reads it:
 * from the text json-c prints for the number. */
static int64_t span_modified(rw_t *w, const span_t *v)
{
    const char *text;
    size_t n;
    int64_t ms;

    if (v->kind == V_INT)
        n = int_text(v, &text);
    else if (v->kind == V_DOUBLE)
        text = (const char *)v->start, n = (size_t)(v->end - v->start);
    else
        return 0;
    sy_buf_reset(&w->scratch);
    (void)sy_buf_append(&w->scratch, text, n);
    return sy_ts_parse_sync(w->scratch.data, &ms) ? ms : 0;
}

/* Writes the Kinto record of a scanned BSO, as sy_kinto_write_record(),
 * unless it has no string id or is excluded; counts it in *count. */
static bool put_record(rw_t *w, const bso_spans_t *f, const sy_kinto_list_t *p, size_t *count)
{
    char num[64];
    int n;

    if (f->id.kind != V_STRING)
        return true; /* not a BSO: skipped, as the DOM path skips it */
    if (p->nexclude > 0) {
        const char *id = (const char *)f->id.start + 1;
        size_t idlen = (size_t)(f->id.end - f->id.start) - 2;

        if (f->id.escaped) {
            decode_cstr(w, &f->id);
            id = w->scratch.data;
            idlen = w->scratch.len;
        }
        for (size_t i = 0; i < p->nexclude; i++)
            if (strlen(p->exclude[i]) == idlen && memcmp(p->exclude[i], id, idlen) == 0)
                return true;
    }
    if (*count > 0)
        put(w, ",", 1);
    put(w, "{\"id\":", 6);
    put_string(w, &f->id);
    n = snprintf(num, sizeof(num), ",\"last_modified\":%lld",
                 (long long)span_modified(w, &f->modified));
    put(w, num, (size_t)n);
    if ((p->fields & SY_KINTO_F_PAYLOAD) && f->payload.kind != V_NONE &&
        f->payload.kind != V_NULL) {
        put(w, ",\"payload\":", 11);
        if (!put_value(w, &f->payload))
            return false;
    }
    if ((p->fields & SY_KINTO_F_SORTINDEX) && f->sortindex.kind != V_NONE &&
        f->sortindex.kind != V_NULL) {
        put(w, ",\"sortindex\":", 13);
        if (!put_value(w, &f->sortindex))
            return false;
    }
    if ((p->fields & SY_KINTO_F_TTL) && f->ttl.kind != V_NONE && f->ttl.kind != V_NULL) {
        put(w, ",\"ttl\":", 7);
        if (!put_value(w, &f->ttl))
            return false;
    }
    put(w, "}", 1);
    (*count)++;
    return true;
}

/* One element of Sync's array, at level 1: a BSO is an object whose fields
 * are noted (the last of each key wins, as in json-c) and written at its
 * closing brace; anything else is only checked. */
static bool rewrite_element(rw_t *w, const sy_kinto_list_t *p, size_t *count)
{
    bso_spans_t f;
    span_t key, val;

    if (w->p == w->end || *w->p != '{')
        return scan_value(w, 1, &val);
    memset(&f, 0, sizeof(f));
    w->p++;
    if (!eat(w, '}')) {
        do {
            span_t *slot = NULL;

            skip_ws(w);
            if (w->p == w->end || *w->p != '"' || !scan_string(w, &key) || !eat(w, ':'))
                return false;
            skip_ws(w);
            if (!scan_value(w, 2, &val))
                return false;
            if (key_is(w, &key, "id"))
                slot = &f.id;
            else if (key_is(w, &key, "modified"))
                slot = &f.modified;
            else if (key_is(w, &key, "payload"))
                slot = &f.payload;
            else if (key_is(w, &key, "sortindex"))
                slot = &f.sortindex;
            else if (key_is(w, &key, "ttl"))
                slot = &f.ttl;
            if (slot != NULL)
                *slot = val;
        } while (eat(w, ','));
        if (!eat(w, '}'))
            return false;
    }
    return put_record(w, &f, p, count);
}

sy_rc_t sy_kinto_rewrite_list(sy_buf_t *out, const char *body, size_t len, const sy_kinto_list_t *p,
                              size_t *nsync, size_t *count)
{
    size_t mark = out->len;
    bool ok = false;
    rw_t w;

    *nsync = 0;
    *count = 0;
    if (body == NULL || len > (size_t)INT32_MAX - 1)
        return SY_ERR_INVALID; /* as sy_json_parse_pool() refuses it */
    memset(&w, 0, sizeof(w));
    w.p = (const unsigned char *)body;
    w.end = w.p + len;
    w.out = out;
    sy_buf_init(&w.scratch, len + 64);
    sy_buf_no_secret(&w.scratch);
    put(&w, "{\"data\":[", 9);
    if (eat(&w, '[')) {
        ok = true;
        if (!eat(&w, ']')) {
            do {
                skip_ws(&w);
                (*nsync)++;
                ok = rewrite_element(&w, p, count);
            } while (ok && eat(&w, ','));
            ok = ok && eat(&w, ']');
        }
        skip_ws(&w);
        ok = ok && w.p == w.end;
    }
    put(&w, "]}", 2);
    sy_buf_free(&w.scratch);
    if (ok && w.rc == SY_OK)
        return SY_OK;
    out->len = mark;
    if (out->data != NULL)
        out->data[mark] = '\0';
    *count = 0; /* nothing written */
    return ok ? w.rc : SY_ERR_INVALID;
}

int64_t sy_kinto_list_etag(const sy_kinto_list_t *p, int64_t collection_ms, size_t nsync)
{
    if (p->has_since && nsync == 0)
        return p->since_ms;
    return collection_ms == SY_SYNC_NO_TS ? 0 : collection_ms;
}

/* Decoded name of a raw "name=value" query parameter is "_token"? */
static bool is_token_param(sy_pool_t *pool, const char *p, size_t n)
{
    size_t nlen = strcspn(p, "=");
    char *name;

    if (nlen > n)
        nlen = n;
    if (nlen > 32)
        return false;
    name = sy_url_decode(pool, p, nlen, true);
    return name != NULL && strcmp(name, "_token") == 0;
}

char *sy_kinto_next_page_query(sy_pool_t *pool, const char *raw_query, const char *token)
{
    const char *q = raw_query != NULL ? raw_query : "";
    const char *tok = sy_http_query_escape(pool, token != NULL ? token : "");
    size_t qlen = strlen(q), o = 0;
    char *out = sy_palloc(pool, qlen + strlen(tok) + 16);

    while (*q != '\0') {
        size_t n = strcspn(q, "&");

        if (n > 0 && !is_token_param(pool, q, n)) {
            if (o > 0)
                out[o++] = '&';
            memcpy(out + o, q, n);
            o += n;
        }
        q += n;
        if (*q == '&')
            q++;
    }
    if (o > 0)
        out[o++] = '&';
    memcpy(out + o, "_token=", 7);
    o += 7;
    memcpy(out + o, tok, strlen(tok) + 1);
    return out;
}

/* ---- preconditions --------------------------------------------------- */

/* "\"<digits>\"" exactly (surrounding spaces allowed). */
static bool parse_quoted_ms(const char *v, int64_t *ms)
{
    size_t n;
    char buf[32];

    while (*v == ' ' || *v == '\t')
        v++;
    n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n < 3 || n >= sizeof(buf) || v[0] != '"' || v[n - 1] != '"')
        return false;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return sy_ts_parse_ms(buf, true, ms);
}

static bool is_star(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v != '*')
        return false;
    v++;
    while (*v == ' ' || *v == '\t')
        v++;
    return *v == '\0';
}

sy_rc_t sy_kinto_precond_parse(const char *if_match, const char *if_none_match,
                               sy_kinto_precond_t *out, sy_kinto_invalid_t *err)
{
    out->if_match_ms = SY_SYNC_NO_TS;
    out->if_none_match_ms = SY_SYNC_NO_TS;
    out->if_none_match_any = false;
    if (if_match != NULL && !parse_quoted_ms(if_match, &out->if_match_ms)) {
        invalid(err, "headers", NULL, "Invalid value for If-Match");
        return SY_ERR_INVALID;
    }
    if (if_none_match != NULL) {
        if (is_star(if_none_match)) {
            out->if_none_match_any = true;
        } else if (!parse_quoted_ms(if_none_match, &out->if_none_match_ms)) {
            invalid(err, "headers", NULL, "Invalid value for If-None-Match");
            return SY_ERR_INVALID;
        }
    }
    return SY_OK;
}

void sy_kinto_precond_apply(const sy_kinto_precond_t *p, sy_sync_op_t *op)
{
    if (p->if_none_match_any)
        op->if_unmodified_since_ms = 0;
    else if (p->if_match_ms != SY_SYNC_NO_TS)
        op->if_unmodified_since_ms = p->if_match_ms;
    if (p->if_none_match_ms != SY_SYNC_NO_TS)
        op->if_modified_since_ms = p->if_none_match_ms;
}

bool sy_kinto_precond_none(const sy_kinto_precond_t *p)
{
    return p->if_match_ms == SY_SYNC_NO_TS && p->if_none_match_ms == SY_SYNC_NO_TS &&
           !p->if_none_match_any;
}

/* ---- PUT ------------------------------------------------------------- */

/* n bytes, NULs included, plus a terminating NUL. */
static char *memdup(sy_pool_t *pool, const char *s, size_t n)
{
    char *p = sy_palloc(pool, n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* An integer within [lo, hi]: a json-c int (a double such as 1.0 is not). */
static bool int_in(json_object *v, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t n;

    if (!json_object_is_type(v, json_type_int))
        return false;
    errno = 0;
    n = json_object_get_int64(v);
    if (errno != 0 || n < lo || n > hi)
        return false;
    /* json-c clamps out-of-range literals to INT64 bounds; the range check
     * above already refuses those. */
    *out = n;
    return true;
}

sy_rc_t sy_kinto_put_parse(sy_pool_t *pool, const char *body, size_t len, sy_kinto_put_t *out,
                           sy_kinto_invalid_t *err)
{
    json_object *root = sy_json_parse_pool(pool, body, len), *data = NULL, *v, *bso;
    size_t blen = 0;
    const char *text;

    memset(out, 0, sizeof(*out));
    if (root == NULL) {
        invalid(err, "body", NULL, "Invalid JSON");
        return SY_ERR_INVALID;
    }
    if (!json_object_is_type(root, json_type_object)) {
        invalid(err, "body", NULL, "Should be an object");
        return SY_ERR_INVALID;
    }
    if (!json_object_object_get_ex(root, "data", &data)) {
        invalid(err, "body", "data", "Required");
        return SY_ERR_INVALID;
    }
    {
        json_object_object_foreach (root, key, val) {
            if (strcmp(key, "permissions") == 0) {
                if (val != NULL && !json_object_is_type(val, json_type_object)) {
                    invalid(err, "body", "permissions", "permissions should be an object");
                    return SY_ERR_INVALID;
                }
            } else if (strcmp(key, "data") != 0) {
                invalid(err, "body", sy_pstrdup(pool, key), "Unrecognized key");
                return SY_ERR_INVALID;
            }
        }
    }
    if (!json_object_is_type(data, json_type_object)) {
        invalid(err, "body", "data", "data should be an object");
        return SY_ERR_INVALID;
    }
    if (json_object_object_get_ex(data, "payload", &v) && v != NULL) {
        if (!json_object_is_type(v, json_type_string)) {
            invalid(err, "body", "data.payload", "data.payload should be a string");
            return SY_ERR_INVALID;
        }
        out->has_payload = true;
        out->payload_len = (size_t)json_object_get_string_len(v);
        out->payload = memdup(pool, json_object_get_string(v), out->payload_len);
    }
    if (json_object_object_get_ex(data, "sortindex", &v) && v != NULL) {
        if (!int_in(v, -SY_KINTO_SORTINDEX_MAX, SY_KINTO_SORTINDEX_MAX, &out->sortindex)) {
            invalid(err, "body", "data.sortindex",
                    "data.sortindex should be an integer between -999999999 and 999999999");
            return SY_ERR_INVALID;
        }
        out->has_sortindex = true;
    }
    if (json_object_object_get_ex(data, "ttl", &v) && v != NULL) {
        if (!int_in(v, 0, SY_KINTO_TTL_MAX, &out->ttl)) {
            invalid(err, "body", "data.ttl",
                    "data.ttl should be an integer between 0 and 999999999");
            return SY_ERR_INVALID;
        }
        out->has_ttl = true;
    }
    /* What Sync gets: only the three fields it stores. */
    bso = sy_json_must(json_object_new_object());
    if (out->has_payload)
        json_object_object_add(
            bso, "payload",
            sy_json_must(json_object_new_string_len(out->payload, (int)out->payload_len)));
    if (out->has_sortindex)
        json_object_object_add(bso, "sortindex",
                               sy_json_must(json_object_new_int64(out->sortindex)));
    if (out->has_ttl)
        json_object_object_add(bso, "ttl", sy_json_must(json_object_new_int64(out->ttl)));
    text = json_object_to_json_string_length(bso, SY_JSON_FLAGS, &blen);
    if (text == NULL)
        abort();
    out->bso = sy_pstrndup(pool, text, blen);
    out->bso_len = blen;
    json_object_put(bso);
    return SY_OK;
}

bool sy_kinto_put_needs_fetch(const sy_kinto_put_t *p, const sy_kinto_precond_t *pre)
{
    if (pre != NULL && pre->if_none_match_any)
        return false; /* it could only create: nothing older to keep */
    return !p->has_payload || !p->has_sortindex;
}

json_object *sy_kinto_put_record(const char *id, const sy_kinto_put_t *p, int64_t last_modified_ms)
{
    json_object *r = sy_json_must(json_object_new_object());

    json_object_object_add(r, "id", sy_json_must(json_object_new_string(id)));
    json_object_object_add(r, "last_modified",
                           sy_json_must(json_object_new_int64(last_modified_ms)));
    if (p->has_payload)
        json_object_object_add(
            r, "payload",
            sy_json_must(json_object_new_string_len(p->payload, (int)p->payload_len)));
    if (p->has_sortindex)
        json_object_object_add(r, "sortindex", sy_json_must(json_object_new_int64(p->sortindex)));
    if (p->has_ttl)
        json_object_object_add(r, "ttl", sy_json_must(json_object_new_int64(p->ttl)));
    return r;
}

json_object *sy_kinto_deleted_record(const char *id, int64_t last_modified_ms)
{
    json_object *r = sy_json_must(json_object_new_object());

    json_object_object_add(r, "id", sy_json_must(json_object_new_string(id)));
    json_object_object_add(r, "last_modified",
                           sy_json_must(json_object_new_int64(last_modified_ms)));
    json_object_object_add(r, "deleted", sy_json_must(json_object_new_boolean(1)));
    return r;
}

/* ---- collections ----------------------------------------------------- */

int64_t sy_kinto_info_collection(json_object *info, const char *cid)
{
    char lower[64];
    size_t n = strlen(cid);
    json_object *v;
    int64_t ms;

    if (!json_object_is_type(info, json_type_object) || n >= sizeof(lower))
        return 0;
    for (size_t i = 0; i <= n; i++)
        lower[i] = (cid[i] >= 'A' && cid[i] <= 'Z') ? (char)(cid[i] - 'A' + 'a') : cid[i];
    if (!json_object_object_get_ex(info, lower, &v) || !sy_kinto_bso_modified(v, &ms))
        return 0;
    return ms;
}

int64_t sy_kinto_info_max(json_object *info)
{
    int64_t max = 0, ms;

    if (!json_object_is_type(info, json_type_object))
        return 0;
    json_object_object_foreach (info, key, val) {
        (void)key;
        if (sy_kinto_bso_modified(val, &ms) && ms > max)
            max = ms;
    }
    return max;
}

typedef struct {
    const char *name;
    int64_t ms;
} coll_ts_t;

static int newest_first(const void *a, const void *b)
{
    const coll_ts_t *x = a, *y = b;

    if (x->ms != y->ms)
        return x->ms < y->ms ? 1 : -1;
    return strcmp(x->name, y->name);
}

json_object *sy_kinto_info_list(json_object *info)
{
    json_object *arr = sy_json_must(json_object_new_array());
    coll_ts_t *items;
    size_t n = 0, cap;
    int64_t ms;

    if (!json_object_is_type(info, json_type_object))
        return arr;
    cap = (size_t)json_object_object_length(info);
    if (cap == 0)
        return arr;
    items = calloc(cap, sizeof(*items));
    if (items == NULL)
        abort();
    json_object_object_foreach (info, key, val) {
        if (n < cap && sy_kinto_bso_modified(val, &ms)) {
            items[n].name = key;
            items[n].ms = ms;
            n++;
        }
    }
    qsort(items, n, sizeof(*items), newest_first);
    for (size_t i = 0; i < n; i++) {
        json_object *c = sy_json_must(json_object_new_object());
        json_object_object_add(c, "id", sy_json_must(json_object_new_string(items[i].name)));
        json_object_object_add(c, "last_modified",
                               sy_json_must(json_object_new_int64(items[i].ms)));
        json_object_array_add(arr, c);
    }
    free(items);
    return arr;
}
