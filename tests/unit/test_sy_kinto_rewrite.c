/* Differential tests of sy_kinto_rewrite_list() (src/sy_kinto.c): the
 * one-pass rewrite of Sync's collection answer must write exactly what the
 * DOM path wrote (sy_json_parse_pool + sy_kinto_write_list, as
 * records_finish did), or refuse exactly when that path refused.
 *
 * For every input x the test checks:
 *   1. the rewrite accepts x  <=>  x is RFC 8259 JSON whose top level is
 *      an array, nested no deeper than json-c's default depth (ref_valid
 *      below, a reference recogniser written for this test);
 *   2. the rewrite accepts x  =>  the DOM path accepts x and writes the
 *      same bytes, with the same array length (nsync) and record count;
 *   3. the rewrite refuses x but the DOM path accepts it  =>  x is not
 *      strict JSON: json-c refuses it in strict mode too, or x is one of
 *      the inputs json-c 0.16 accepts even in strict mode though RFC 8259
 *      does not: a raw control character inside a string, or a number
 *      such as 00, -01, 1., -.5, 1.e3, NaN, Infinity (json_c_lenient);
 *   4. json-c in strict mode accepts x (a top-level array)  =>  the DOM
 *      path accepts it (the oracle itself is consistent).
 *
 * Where json-c is odd for hostile input the rewrite does what json-c does,
 * so rule 2 covers it: an unpaired \uD800-\uDFFF escape becomes U+FFFD; an
 * integer beyond int64 is clamped (INT64_MIN, UINT64_MAX) and "-0" is
 * written "0"; a key or an excluded id is compared up to its first \u0000.
 * Text that is not UTF-8 is refused by both (the DOM path checks it before
 * json-c, which does not). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncto/sy_json.h"
#include "syncto/sy_kinto.h"
#include "syncto/sy_request.h"
#include "sy_test_util.h"

#include "sy_json_ref.h"

/* ---- the two paths ----------------------------------------------------- */

typedef struct {
    sy_rc_t rc;
    size_t nsync, count;
    sy_buf_t out;
} result_t;

/* The DOM path as records_finish ran it: parse, refuse what is not an
 * array, write the list. */
static void dom_path(sy_pool_t *pool, const char *s, size_t n, const sy_kinto_list_t *p, size_t max,
                     result_t *r)
{
    json_object *arr = sy_json_parse_pool(pool, s, n);

    sy_buf_init(&r->out, max);
    r->nsync = r->count = 0;
    if (!json_object_is_type(arr, json_type_array)) {
        r->rc = SY_ERR_INVALID;
        return;
    }
    r->nsync = json_object_array_length(arr);
    r->rc = sy_kinto_write_list(&r->out, arr, p, &r->count);
}

static void rewrite_path(const char *s, size_t n, const sy_kinto_list_t *p, size_t max, result_t *r)
{
    /* An exact-size copy, so that ASan/valgrind catch any read past len. */
    char *copy = malloc(n > 0 ? n : 1);

    assert_non_null(copy);
    memcpy(copy, s, n);
    sy_buf_init(&r->out, max);
    r->rc = sy_kinto_rewrite_list(&r->out, copy, n, p, &r->nsync, &r->count);
    free(copy);
}

/* json-c in strict mode, otherwise as sy_json_parse_pool() reads a body. */
static bool strict_array(const char *s, size_t n)
{
    json_tokener *tok = json_tokener_new();
    json_object *o;
    size_t end;
    bool ok;

    assert_non_null(tok);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    o = json_tokener_parse_ex(tok, s, (int)n);
    end = json_tokener_get_parse_end(tok);
    if (o == NULL && json_tokener_get_error(tok) == json_tokener_continue)
        o = json_tokener_parse_ex(tok, "", 1);
    json_tokener_free(tok);
    while (end < n && strchr(" \t\r\n", s[end]) != NULL && s[end] != '\0')
        end++;
    /* JSON text is UTF-8, which json-c does not check */
    ok = json_object_is_type(o, json_type_array) && end == n && ref_utf8_text(s, n);
    json_object_put(o);
    return ok;
}

static void print_input(const char *what, const char *s, size_t n)
{
    fprintf(stderr, "%s (%zu bytes): ", what, n);
    for (size_t i = 0; i < n && i < 2000; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f)
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputc('\n', stderr);
}

static size_t n_accepted, n_refused, n_dom_only;

/* Checks rules 1-4 for one input and list parameters; max caps the
 * output (SIZE_MAX: none). */
static void check_with(sy_pool_t *pool, const char *s, size_t n, const sy_kinto_list_t *p,
                       size_t max)
{
    result_t d, w;
    bool valid = ref_valid(s, n), strict = strict_array(s, n);

    dom_path(pool, s, n, p, max, &d);
    rewrite_path(s, n, p, max, &w);
    /* counts are compared for answers written: on a full buffer the DOM
     * path leaves what it had written, the rewrite nothing */
    if ((w.rc == SY_ERR_INVALID) == valid ||
        (valid && (w.rc != d.rc || w.nsync != d.nsync || (w.rc == SY_OK && w.count != d.count))) ||
        (w.rc == SY_OK &&
         (w.out.len != d.out.len || memcmp(w.out.data, d.out.data, w.out.len) != 0)) ||
        (w.rc == SY_ERR_INVALID && d.rc != SY_ERR_INVALID && strict && !json_c_lenient(s, n)) ||
        (strict && d.rc == SY_ERR_INVALID)) {
        print_input("input", s, n);
        fprintf(stderr,
                "ref_valid %d, json-c strict %d; dom rc %d nsync %zu count %zu; "
                "rewrite rc %d nsync %zu count %zu\n",
                valid, strict, d.rc, d.nsync, d.count, w.rc, w.nsync, w.count);
        if (d.out.data != NULL)
            print_input("dom", d.out.data, d.out.len);
        if (w.out.data != NULL)
            print_input("rewrite", w.out.data, w.out.len);
        fail_msg("the paths differ");
    }
    if (w.rc != SY_ERR_INVALID)
        assert_int_equal(w.rc, d.rc);
    if (w.rc != SY_OK)
        assert_true(w.out.len == 0);
    if (w.rc == SY_OK)
        n_accepted++;
    else if (d.rc == SY_OK)
        n_dom_only++;
    else
        n_refused++;
    sy_buf_free(&d.out);
    sy_buf_free(&w.out);
    sy_pool_reset(pool);
}

/* List parameters from a query string. */
static void params(sy_pool_t *pool, const char *query, sy_kinto_list_t *p)
{
    sy_request_t req;

    memset(&req, 0, sizeof(req));
    req.pool = pool;
    assert_true(sy_request_set_query(&req, query));
    assert_int_equal(sy_kinto_list_parse(pool, &req.query, p, NULL), SY_OK);
}

/* Parameter sets every input is checked with. The pool they live in is
 * separate from the one reset between inputs. */
static const char *const QUERIES[] = {
    "",
    "_fields=payload",
    "_fields=sortindex,ttl",
    "_fields=nothing",
    "exclude_id=a,%7Bb%7D,id%22q,x%5C,%C3%A9",
};
#define NQUERIES (sizeof(QUERIES) / sizeof(QUERIES[0]))

typedef struct {
    sy_pool_t *pool, *ppool;
    sy_kinto_list_t p[NQUERIES];
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->pool = sy_pool_new(0);
    f->ppool = sy_pool_new(0);
    for (size_t i = 0; i < NQUERIES; i++)
        params(f->ppool, QUERIES[i], &f->p[i]);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;

    sy_pool_free(f->pool);
    sy_pool_free(f->ppool);
    free(f);
    return 0;
}

static void check_all(fx_t *f, const char *s, size_t n)
{
    for (size_t i = 0; i < NQUERIES; i++)
        check_with(f->pool, s, n, &f->p[i], SIZE_MAX);
}

static void check(fx_t *f, const char *s)
{
    check_all(f, s, strlen(s));
}

/* ---- tables ------------------------------------------------------------ */

/* Hand-written answers: the record table of test_sy_kinto.c in arrays, and
 * the corner cases of each rule. */
static const char *const TABLE[] = {
    "[]",
    " [ ] ",
    "\r\n\t[\r\n\t]\r\n\t",
    "[{\"id\":\"abc\",\"modified\":1441868927.07,\"payload\":\"p\",\"sortindex\":2000}]",
    "[{\"id\":\"x\",\"modified\":14377478425.69,\"payload\":\"\"}]",
    "[{\"id\":\"x\",\"modified\":1441868927.1},{\"id\":\"x\",\"modified\":1441868927}]",
    "[{\"id\":\"x\",\"modified\":0.01},{\"id\":\"x\",\"modified\":9223372036854775.807}]",
    "[{\"id\":\"x\",\"modified\":9223372036854775.808},{\"id\":\"x\",\"modified\":1e3}]",
    "[{\"id\":\"x\",\"modified\":1.0000000000000000000000000000000000000000000000000000000000001}]",
    "[{\"id\":\"x\"},{\"id\":\"x\",\"modified\":\"12.00\"},{\"id\":\"x\",\"modified\":-1.5}]",
    // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one answer over three lines
    "[{\"id\":\"x\",\"modified\":-0},{\"id\":\"x\",\"modified\":99999999999999999999},"
    "{\"id\":\"x\",\"modified\":null},{\"id\":\"x\",\"modified\":true},{\"id\":\"x\",\"modified\":{"
    "}}]",
    "[{\"id\":\"x\",\"modified\":1.00,\"sortindex\":null,\"ttl\":30}]",
    "[{\"id\":\"x\",\"modified\":1.00,\"sortindex\":-5}]",
    "[{\"id\":\"x\",\"modified\":1.00,\"collection\":\"tabs\",\"payload_size\":3}]",
    "[{\"id\":\"{g/1}\",\"modified\":1.00,\"payload\":\"a\\\"b\\\\c\\nd\\u0001\\/e\\u00e9\"}]",
    "[{\"modified\":1.00},{\"id\":12,\"modified\":1.00},\"abc\",[1],1,-2.5e3,true,false,null,{}]",
    "[{\"id\":\"a\",\"modified\":1.00,\"payload\":\"1\"},{\"id\":\"b\",\"modified\":2.00,"
    "\"payload\":\"2\"},\"not-a-bso\",{\"id\":\"c\",\"modified\":3.00,\"payload\":\"3\","
    "\"sortindex\":3}]",
    /* duplicate keys: the last one wins, whatever it is */
    "[{\"id\":\"a\",\"id\":\"b\",\"payload\":\"1\",\"payload\":\"2\",\"sortindex\":1,"
    "\"sortindex\":null}]",
    "[{\"id\":\"a\",\"id\":5},{\"id\":5,\"id\":\"a\"},{\"id\":\"a\",\"id\":null}]",
    /* keys with escapes, and json-c's keys end at \u0000 */
    "[{\"\\u0069d\":\"a\",\"pay\\u006coad\":\"p\"},{\"id\\u0000x\":\"b\"},{\"i\\u0000d\":\"c\"}]",
    "[{\"id\":\"a\",\"id\\u0000\":\"b\"},{\"\\u0000id\":\"c\"}]",
    /* ids excluded by their decoded text, up to a \u0000 */
    "[{\"id\":\"a\"},{\"id\":\"\\u0061\"},{\"id\":\"a\\u0000z\"},{\"id\":\"{b}\"},"
    "{\"id\":\"\\u007bb\\u007d\"},{\"id\":\"id\\\"q\"},{\"id\":\"x\\\\\"},{\"id\":\"\\u00e9\"},"
    "{\"id\":\"\xc3\xa9\"},{\"id\":\"\\u00E9\"}]",
    /* escapes: every short one, \/ unescaped, \u to UTF-8 or to short forms */
    "[{\"id\":\"e\",\"payload\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\\u0020\\u007f\\u0080"
    "\\u07ff\\u0800\\uffff\\u0022\\u005c\\u002f\\u0008\\u000C\\u000a\\u000D\\u0009\"}]",
    /* surrogates: a pair, lone halves, a high before another escape */
    "[{\"id\":\"s\",\"payload\":\"\\ud83d\\ude00 \\uD800 \\uDC00 \\uD800\\uD800\\uDC00 "
    "\\uD800\\n \\uD800\\u0041 \\uDBFF\\uDFFF \\uD800\"}]",
    "[{\"id\":\"\\ud800\"},{\"id\":\"\\udc00\\ud800\"}]",
    /* raw UTF-8 goes through as it is; bytes that are not UTF-8 (a stray
     * byte, a cut character, an encoded surrogate, an overlong form, past
     * U+10FFFF) are refused */
    "[{\"id\":\"\xe2\x82\xac\xf0\x9f\x98\x80\",\"payload\":\"\xf4\x8f\xbf\xbf\xc2\x80\"}]",
    "[{\"id\":\"a\",\"payload\":\"\xff\xfe\"}]",
    "[{\"id\":\"a\",\"payload\":\"\xc3\x28\"}]",
    "[{\"id\":\"a\",\"payload\":\"\xed\xa0\x80\"}]",
    "[{\"id\":\"a\",\"payload\":\"\xc0\x80\"}]",
    "[{\"id\":\"a\",\"payload\":\"\xf4\x90\x80\x80\"}]",
    "[{\"id\":\"\xe2\x82\"}]",
    /* numbers of sortindex and ttl */
    "[{\"id\":\"n\",\"sortindex\":0,\"ttl\":-0},{\"id\":\"n\",\"sortindex\":-0.0,\"ttl\":1E+2},"
    "{\"id\":\"n\",\"sortindex\":1.5e-3,\"ttl\":2e400},{\"id\":\"n\",\"sortindex\":123456789}]",
    "[{\"id\":\"n\",\"sortindex\":9223372036854775807,\"ttl\":9223372036854775808},"
    "{\"id\":\"n\",\"sortindex\":18446744073709551615,\"ttl\":18446744073709551616},"
    "{\"id\":\"n\",\"sortindex\":-9223372036854775808,\"ttl\":-9223372036854775809},"
    "{\"id\":\"n\",\"sortindex\":99999999999999999999999,\"ttl\":-99999999999999999999999}]",
    "[{\"id\":\"n\",\"sortindex\":1.0,\"ttl\":1.000},{\"id\":\"n\",\"sortindex\":0e0,\"ttl\":-0E-0}"
    "]",
    /* other kinds in record fields */
    "[{\"id\":\"k\",\"payload\":true,\"sortindex\":false,\"ttl\":\"30\"}]",
    "[{\"id\":\"k\",\"payload\":{\"b\":1,\"a\":[1,2.50,{\"c\":null}],\"b\":\"\\u00e9\\/\"},"
    "\"sortindex\":[],\"ttl\":{}}]",
    "[{\"id\":\"k\",\"payload\":[ 1 , -0 , 1e5 , \"x\" , { } , [ ] ]}]",
    "[{\"id\":\"k\",\"payload\":{\"a\\u0000b\":1,\"a\":2}}]",
    /* nested unknown fields */
    "[{\"id\":\"u\",\"x\":{\"id\":\"inner\",\"payload\":[{\"id\":1}]},\"y\":[[[[]]]],"
    "\"modified\":2.50}]",
    /* white space everywhere */
    " [ { \"id\" : \"w\" , \"modified\" : 1.00 , \"payload\" : \"p\" } , 1 , { } ] \n",
    /* refused by both */
    "",
    " ",
    "[",
    "]",
    "[1,]",
    "[,1]",
    "[1 2]",
    "{}",
    "\"a\"",
    "1",
    "null",
    "true",
    "[]]",
    "[][]",
    "[] x",
    "[{\"id\":\"a\",}]",
    "[{\"id\"}]",
    "[{\"id\":}]",
    "[{,}]",
    "[{\"id\" \"a\"}]",
    "[\"\\x\"]",
    "[\"\\u12\"]",
    "[\"\\u12g4\"]",
    "[\"abc]",
    "[{\"a\":1]",
    "[{1:2}]",
    /* refused by the rewrite, accepted by json-c in its default mode */
    "[1,2,]",
    "[{\"id\":\"a\",\"payload\":\"p\",}]",
    "['a']",
    "[{'id':'a'}]",
    "[TRUE]",
    "[True]",
    "[nULL]",
    "[NaN]",
    "[Infinity]",
    "[-Infinity]",
    "[01]",
    "[00]",
    "[-01]",
    "[1.]",
    "[-.5]",
    "[1.e3]",
    "[.5]",
    "[+1]",
    "[1e]",
    "[1.5e+]",
    "[0x10]",
    "[1]/*c*/",
    "[/*c*/1]",
    "[1]//c",
    "[\"a\tb\"]",
    "[{\"id\":\"a\nb\"}]",
    "[\"\x01\"]",
    "\f[]",
    "[]\f",
    "[\v1]",
    "\xef\xbb\xbf[]",
    "[1]\0",
    "[\"a\0b\"]",
    "[{\"id\":\"a\"}]\0",
};

static void test_table(void **state)
{
    fx_t *f = *state;

    for (size_t i = 0; i < sizeof(TABLE) / sizeof(TABLE[0]); i++)
        check(f, TABLE[i]);
    /* NULs inside, which strlen() would cut */
    check_all(f, "[1]\0", 4);
    check_all(f, "[\"a\0b\"]", 7);
    check_all(f, "[{\"id\":\"a\"}]\0", 13);
    check_all(f, "[{\"id\":\"a\"}\0]", 13);
}

/* What the rewrite writes, spelled out for the cases the DOM path is not
 * trusted blindly on. */
static void test_expected(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"[{\"id\":\"e\",\"modified\":1.5,\"payload\":\"\\/\\u00e9\\ud83d\\ude00\\ud800\\u0001\"}]",
         "{\"data\":[{\"id\":\"e\",\"last_modified\":1500,\"payload\":\"/\xc3\xa9\xf0\x9f\x98\x80"
         "\xef\xbf\xbd\\u0001\"}]}"},
        {"[{\"id\":\"n\",\"sortindex\":-0,\"ttl\":99999999999999999999}]",
         "{\"data\":[{\"id\":\"n\",\"last_modified\":0,\"sortindex\":0,"
         "\"ttl\":18446744073709551615}]}"},
        {"[{\"id\":\"d\",\"id\":\"D\",\"sortindex\":1.50E+1,\"x\":1},7]",
         "{\"data\":[{\"id\":\"D\",\"last_modified\":0,\"sortindex\":1.50E+1}]}"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sy_buf_t b;
        size_t nsync, count;

        sy_buf_init(&b, SIZE_MAX);
        assert_int_equal(
            sy_kinto_rewrite_list(&b, cases[i].in, strlen(cases[i].in), &f->p[0], &nsync, &count),
            SY_OK);
        assert_string_equal(b.data, cases[i].out);
        sy_buf_free(&b);
        check(f, cases[i].in);
    }
}

/* ---- generated answers ------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t rn(size_t n)
{
    return (size_t)(rnd() % n);
}

static void put(sy_buf_t *b, const char *s)
{
    assert_int_equal(sy_buf_appends(b, s), SY_OK);
}

static void ws(sy_buf_t *b)
{
    static const char *const W[] = {" ", "\n", "\r\n", "\t", "  "};

    while (rn(6) == 0)
        put(b, W[rn(5)]);
}

static const char *const PIECES[] = {
    "a",
    "Z",
    "0",
    " ",
    "{",
    "}",
    "/",
    "'",
    "id",
    "payload",
    "\xc3\xa9",
    "\xe2\x82\xac",
    "\xf0\x9f\x98\x80",
    "\x7f",
    "\\\"",
    "\\\\",
    "\\/",
    "\\b",
    "\\f",
    "\\n",
    "\\r",
    "\\t",
    "\\u0000",
    "\\u0001",
    "\\u001f",
    "\\u0020",
    "\\u0022",
    "\\u005c",
    "\\u002F",
    "\\u007f",
    "\\u00e9",
    "\\u00E9",
    "\\u20ac",
    "\\uffff",
    "\\ud83d\\ude00",
    "\\uD800",
    "\\uDC00",
    "\\uDBFF\\uDFFF",
    "\\ud800\\u0041",
    "{\\\"ciphertext\\\":\\\"",
    "\\\",\\\"IV\\\":\\\"",
};

static void gen_string_body(sy_buf_t *b, size_t max_pieces)
{
    size_t n = rn(max_pieces + 1);

    for (size_t i = 0; i < n; i++)
        put(b, PIECES[rn(sizeof(PIECES) / sizeof(PIECES[0]))]);
}

static void gen_string(sy_buf_t *b)
{
    put(b, "\"");
    gen_string_body(b, rn(4) == 0 ? 60 : 6);
    put(b, "\"");
}

static const char *const NUMBERS[] = {
    "0",
    "-0",
    "1",
    "-1",
    "7",
    "2000",
    "-5",
    "999999999",
    "-999999999",
    "1441868927",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890",
    "-123456789012345678901234567890",
    "0.0",
    "-0.0",
    "1.0",
    "1.00",
    "1441868927.07",
    "14377478425.69",
    "0.01",
    "1.5e3",
    "1E+2",
    "1e-2",
    "-2.5E-3",
    "0e0",
    "1e400",
    "-1e400",
    "1e-400",
    "9223372036854775.807",
    "9223372036854775.808",
    "3.141592653589793238462643383279",
};

static void gen_number(sy_buf_t *b)
{
    put(b, NUMBERS[rn(sizeof(NUMBERS) / sizeof(NUMBERS[0]))]);
}

static void gen_value(sy_buf_t *b, int depth)
{
    size_t k = rn(depth > 0 ? 9 : 6);

    switch (k) {
    case 0:
    case 1:
        gen_string(b);
        break;
    case 2:
    case 3:
        gen_number(b);
        break;
    case 4:
        put(b, rn(2) ? "true" : "false");
        break;
    case 5:
        put(b, "null");
        break;
    case 6:
    case 7: {
        size_t n = rn(4);
        put(b, "{");
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                put(b, ",");
            ws(b);
            gen_string(b);
            ws(b);
            put(b, ":");
            ws(b);
            gen_value(b, depth - 1);
            ws(b);
        }
        put(b, "}");
        break;
    }
    default: {
        size_t n = rn(4);
        put(b, "[");
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                put(b, ",");
            ws(b);
            gen_value(b, depth - 1);
            ws(b);
        }
        put(b, "]");
        break;
    }
    }
}

static const char *const KEYS[] = {
    "\"id\"",       "\"modified\"",  "\"payload\"",     "\"sortindex\"",  "\"ttl\"",
    "\"\\u0069d\"", "\"id\\u0000\"", "\"ttl\\u0000x\"", "\"collection\"", "\"payload_size\"",
    "\"Id\"",       "\"\"",          "\"ids\"",
};

/* A BSO-ish object: the known fields in any order, each maybe twice or
 * missing, of the usual kind or not, and unknown fields. */
static void gen_bso(sy_buf_t *b)
{
    size_t n = rn(8);

    put(b, "{");
    for (size_t i = 0; i < n; i++) {
        size_t k = rn(sizeof(KEYS) / sizeof(KEYS[0]));
        if (i > 0)
            put(b, ",");
        ws(b);
        put(b, KEYS[k]);
        ws(b);
        put(b, ":");
        ws(b);
        if (rn(4) == 0) {
            gen_value(b, 3);
        } else if (k == 0 || k == 5 || k == 6) {
            static const char *const IDS[] = {"\"a\"",     "\"{b}\"",     "\"id\\\"q\"",
                                              "\"x\\\\\"", "\"\\u00e9\"", "\"\\u0061\""};
            if (rn(3) == 0)
                put(b, IDS[rn(sizeof(IDS) / sizeof(IDS[0]))]);
            else
                gen_string(b);
        } else if (k == 1 || k == 3 || k == 4 || k == 7) {
            gen_number(b);
        } else {
            gen_string(b);
        }
        ws(b);
    }
    put(b, "}");
}

static void gen_list(sy_buf_t *b, size_t max)
{
    size_t n = rn(max + 1);

    ws(b);
    put(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            put(b, ",");
        ws(b);
        if (rn(8) == 0)
            gen_value(b, 3);
        else
            gen_bso(b);
        ws(b);
    }
    put(b, "]");
    ws(b);
}

static void test_generated(void **state)
{
    fx_t *f = *state;
    sy_buf_t b;

    rng_state = 0x9E3779B97F4A7C15ULL;
    sy_buf_init(&b, SIZE_MAX);
    for (int i = 0; i < 3000; i++) {
        sy_buf_reset(&b);
        gen_list(&b, 12);
        check_all(f, b.data, b.len);
    }
    sy_buf_free(&b);
    print_message("generated: %zu accepted, %zu refused by both, %zu refused as non-strict\n",
                  n_accepted, n_refused, n_dom_only);
}

/* Generated answers with one byte changed, inserted or removed: near-valid
 * garbage, most of it refused, where the paths must still agree. */
static void test_mutated(void **state)
{
    fx_t *f = *state;
    static const char BYTES[] = "{}[]\",:\\ \t\n0123456789-+.eEtfnul'/*xuNI\x01\x7f\xc3";
    sy_buf_t b, m;

    rng_state = 0xD1B54A32D192ED03ULL;
    sy_buf_init(&b, SIZE_MAX);
    sy_buf_init(&m, SIZE_MAX);
    for (int i = 0; i < 6000; i++) {
        size_t at, op = rn(3);
        unsigned char c =
            rn(4) == 0 ? (unsigned char)rn(256) : (unsigned char)BYTES[rn(sizeof(BYTES) - 1)];

        sy_buf_reset(&b);
        sy_buf_reset(&m);
        gen_list(&b, 3);
        at = rn(b.len + 1);
        assert_int_equal(sy_buf_append(&m, b.data, at), SY_OK);
        if (op != 2)
            assert_int_equal(sy_buf_append(&m, &c, 1), SY_OK);
        if (op != 1 && at < b.len)
            at++; /* replace (0) or remove (2) the byte at `at` */
        assert_int_equal(sy_buf_append(&m, b.data + at, b.len - at), SY_OK);
        check_with(f->pool, m.data, m.len, &f->p[i % NQUERIES], SIZE_MAX);
    }
    sy_buf_free(&b);
    sy_buf_free(&m);
}

/* ---- hostile answers --------------------------------------------------- */

/* Every prefix of a sample answer is refused by both paths (none is a
 * complete array); the sample itself is accepted. */
static void test_truncated(void **state)
{
    fx_t *f = *state;
    sy_buf_t b;
    size_t accepted = 0;

    rng_state = 42;
    sy_buf_init(&b, SIZE_MAX);
    put(&b, "[{\"id\":\"t\",\"modified\":1441868927.07,\"payload\":\"{\\\"ciphertext\\\":\\\"x\\\"}"
            "\\u00e9\\ud83d\\ude00\\uD800\",\"sortindex\":-12,\"ttl\":1.5e3,\"x\":[true,false,null,"
            "{\"a\":\"b\"}]}, 17, \"s\", {\"id\":\"\\u0061\"}");
    while (b.len < 3000) {
        put(&b, ",");
        gen_bso(&b);
    }
    put(&b, "]");
    for (size_t n = 0; n <= b.len; n++) {
        for (size_t q = 0; q < NQUERIES; q += 2) {
            size_t before = n_accepted;
            check_with(f->pool, b.data, n, &f->p[q], SIZE_MAX);
            accepted += n_accepted - before;
        }
    }
    assert_int_equal(accepted, 3); /* only the whole sample, once per query */
    sy_buf_free(&b);
}

/* Nesting around json-c's limit, at every level an answer can nest. */
static void test_deep(void **state)
{
    fx_t *f = *state;
    static const char *const INNER[] = {"", "1", "\"s\"", "[]", "{}", "{\"k\":1}"};
    sy_buf_t b;

    sy_buf_init(&b, SIZE_MAX);
    for (int depth = 26; depth <= 36; depth++) {
        for (size_t in = 0; in < sizeof(INNER) / sizeof(INNER[0]); in++) {
            for (int where = 0; where < 4; where++) {
                sy_buf_reset(&b);
                /* where: 0 arrays from the top; 1 inside a payload; 2 objects
                 * inside an unknown field; 3 alternating */
                if (where == 0) {
                    for (int i = 0; i < depth; i++)
                        put(&b, "[");
                } else {
                    put(&b, where == 1 ? "[{\"id\":\"d\",\"payload\":" : "[{\"id\":\"d\",\"x\":");
                    for (int i = 2; i < depth; i++)
                        put(&b, where == 1 || (where == 3 && i % 2) ? "[" : "{\"k\":");
                }
                put(&b, INNER[in]);
                for (size_t i = b.len; i-- > 0;) {
                    if (b.data[i] == '[' && (i == 0 || b.data[i - 1] != '"'))
                        put(&b, "]");
                    else if (b.data[i] == '{' && (i + 1 >= b.len || b.data[i + 1] != '}'))
                        put(&b, "}");
                }
                check_all(f, b.data, b.len);
            }
        }
    }
    sy_buf_free(&b);
    /* far too deep: refused without exhausting the stack */
    sy_buf_reset(&b);
    for (int i = 0; i < 100000; i++)
        put(&b, "[");
    check_with(f->pool, b.data, b.len, &f->p[0], SIZE_MAX);
    sy_buf_free(&b);
}

/* Random bytes, and random strings of JSON's own characters. */
static void test_garbage(void **state)
{
    fx_t *f = *state;
    static const char ALPHA[] = "[]{}\",:0-1e.tfnrl\\u \"";
    char s[64];

    rng_state = 7;
    for (int i = 0; i < 20000; i++) {
        size_t n = rn(sizeof(s));
        for (size_t k = 0; k < n; k++)
            s[k] = (char)(unsigned char)(i % 2 ? rn(256)
                                               : (unsigned char)ALPHA[rn(sizeof(ALPHA) - 1)]);
        if (i % 3 == 0 && n > 0)
            s[0] = '[';
        check_with(f->pool, s, n, &f->p[i % NQUERIES], SIZE_MAX);
    }
}

/* A full output buffer: both paths say SY_ERR_TOO_LARGE and append
 * nothing; invalid input is still refused as invalid. */
static void test_cap(void **state)
{
    fx_t *f = *state;
    const char *ok = "[{\"id\":\"a\",\"payload\":\"xxxxxxxxxxxxxxxxxxxx\"},{\"id\":\"b\"}]";
    const char *bad = "[{\"id\":\"a\",\"payload\":\"xxxxxxxxxxxxxxxxxxxx\"},{\"id\":\"b\"},]";
    sy_buf_t b;
    size_t nsync, count;

    for (size_t max = 0; max < 80; max++)
        check_with(f->pool, ok, strlen(ok), &f->p[0], max);
    sy_buf_init(&b, 20);
    assert_int_equal(sy_kinto_rewrite_list(&b, ok, strlen(ok), &f->p[0], &nsync, &count),
                     SY_ERR_TOO_LARGE);
    assert_int_equal(b.len, 0);
    assert_int_equal(sy_kinto_rewrite_list(&b, bad, strlen(bad), &f->p[0], &nsync, &count),
                     SY_ERR_INVALID);
    assert_int_equal(b.len, 0);
    /* appended after what the buffer held, which a failure leaves alone */
    sy_buf_free(&b);
    sy_buf_init(&b, 1000);
    assert_int_equal(sy_buf_appends(&b, "head"), SY_OK);
    assert_int_equal(sy_kinto_rewrite_list(&b, bad, strlen(bad), &f->p[0], &nsync, &count),
                     SY_ERR_INVALID);
    assert_string_equal(b.data, "head");
    assert_int_equal(sy_kinto_rewrite_list(&b, ok, strlen(ok), &f->p[0], &nsync, &count), SY_OK);
    assert_int_equal(nsync, 2);
    assert_int_equal(count, 2);
    assert_string_equal(b.data, "head{\"data\":[{\"id\":\"a\",\"last_modified\":0,"
                                "\"payload\":\"xxxxxxxxxxxxxxxxxxxx\"},"
                                "{\"id\":\"b\",\"last_modified\":0}]}");
    sy_buf_free(&b);
}

/* A list the size of a real history: 5,000 BSOs as Sync writes them. */
static void test_large(void **state)
{
    fx_t *f = *state;
    sy_buf_t b;

    rng_state = 5000;
    sy_buf_init(&b, SIZE_MAX);
    put(&b, "[");
    for (int i = 0; i < 5000; i++) {
        char rec[128];
        snprintf(rec, sizeof(rec),
                 "%s{\"id\":\"r%06d\",\"modified\":1441868927.%02d,\"payload\":\"",
                 i > 0 ? "," : "", i, i % 100);
        put(&b, rec);
        put(&b, "{\\\"ciphertext\\\":\\\"");
        for (int k = 0; k < 40; k++)
            put(&b, "0123456789abcdef+/==");
        snprintf(rec, sizeof(rec),
                 "\\\",\\\"IV\\\":\\\"x\\\",\\\"hmac\\\":\\\"y\\\"}\","
                 "\"sortindex\":%d}",
                 i);
        put(&b, rec);
    }
    put(&b, "]");
    check_all(f, b.data, b.len);
    sy_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mutated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
