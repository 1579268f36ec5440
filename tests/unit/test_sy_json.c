#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "syncto/sy_json.h"
#include "syncto/sy_response.h"

static int setup(void **state)
{
    *state = sy_pool_new(0);
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    sy_pool_free(*state);
    return 0;
}

/* len is the text's length unless given (texts cut short, NULs inside);
 * want is the value as json-c prints it, NULL when refused. */
static const struct {
    const char *text;
    size_t len;
    const char *want;
} parse_cases[] = {
    {"{}", 0, "{}"},
    {"  {\"a\":[1,\"x\"]} \r\n\t", 0, "{\"a\":[1,\"x\"]}"},
    {"[]", 0, "[]"},
    {"\"s\"", 0, "\"s\""},
    /* a value at the very end of the text: Sync's error bodies are "8" */
    {"8", 0, "8"},
    {"-12", 0, "-12"},
    {"1.5", 0, "1.5"},
    {"true", 0, "true"},
    {"false", 0, "false"},
    {" 7 ", 0, "7"},
    {"12345", 2, "12"}, /* the text ends at len, not at a NUL */
    {"{}garbage", 2, "{}"},
    /* UTF-8 text, and escapes of any character, NUL included */
    {"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", 0, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
    {"\"a\\u0000b\"", 0, "\"a\\u0000b\""},
    /* refused */
    {"", 0, NULL},
    {"   ", 0, NULL},
    {"null", 0, NULL},
    {"not json", 0, NULL},
    {"{", 0, NULL},
    {"tru", 0, NULL},
    {"{} x", 0, NULL},
    {"{}{}", 0, NULL},
    {"1 2", 0, NULL},
    {"12a", 0, NULL},
    {"[1]]", 0, NULL},
    {"{}\0", 3, NULL},
    /* bytes that are not UTF-8, in a string or as a key */
    {"\"a\xff\"", 0, NULL},
    {"{\"data\":{\"payload\":\"\xc3\x28\"}}", 0, NULL},
    {"\"\xc0\x80\"", 0, NULL},         /* overlong NUL */
    {"\"\xed\xa0\x80\"", 0, NULL},     /* a surrogate */
    {"\"\xf4\x90\x80\x80\"", 0, NULL}, /* above U+10FFFF */
    {"{\"\xfe\":1}", 0, NULL},
    {"\"\xe2\x82\"", 0, NULL}, /* cut short */
    /* nesting deeper than json-c's limit (32) */
    {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 0, NULL},
};

static void test_parse_pool(void **state)
{
    sy_pool_t *pool = *state;

    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const char *text = parse_cases[i].text;
        size_t len = parse_cases[i].len != 0 ? parse_cases[i].len : strlen(text);
        json_object *o = sy_json_parse_pool(pool, text, len);

        if (parse_cases[i].want == NULL) {
            if (o != NULL)
                fail_msg("case %zu accepted: %s", i, json_object_to_json_string(o));
            continue;
        }
        if (o == NULL)
            fail_msg("case %zu refused: %s", i, text);
        assert_string_equal(json_object_to_json_string_ext(o, SY_JSON_FLAGS), parse_cases[i].want);
    }
    assert_null(sy_json_parse_pool(pool, NULL, 0));
    assert_null(sy_json_parse_pool(pool, NULL, 3));
    /* Every value parsed above goes with the pool (ASan, valgrind). */
    sy_pool_reset(pool);
}

static void test_pool_own(void **state)
{
    sy_pool_t *pool = *state;
    json_object *o = sy_json_must(json_object_new_object());

    json_object_get(o); /* the test's own reference */
    assert_ptr_equal(sy_json_pool_own(pool, o), o);
    assert_null(sy_json_pool_own(pool, NULL));
    sy_pool_reset(pool);
    /* The pool has let go of its reference: this one is the last. */
    assert_int_equal(json_object_put(o), 1);
}

static const struct {
    const char *s;
    size_t n;
    size_t want;
} utf8_cases[] = {
    {"A", 1, 1},
    {"\x7f", 1, 1},
    {"\xc3\xa9", 2, 2},
    {"\xc3\xa9", 1, 0}, /* cut short */
    {"\xc2\x80", 2, 2},
    {"\xc1\xbf", 2, 0}, /* overlong */
    {"\xc3\x41", 2, 0}, /* not a continuation byte */
    {"\xe0\xa0\x80", 3, 3},
    {"\xe0\x9f\xbf", 3, 0}, /* overlong */
    {"\xed\x9f\xbf", 3, 3}, /* U+D7FF */
    {"\xed\xa0\x80", 3, 0}, /* a surrogate */
    {"\xef\xbf\xbf", 3, 3},
    {"\xe2\x82\xac", 2, 0}, /* cut short */
    {"\xe2\x82\x41", 3, 0},
    {"\xf0\x90\x80\x80", 4, 4},
    {"\xf0\x8f\xbf\xbf", 4, 0}, /* overlong */
    {"\xf4\x8f\xbf\xbf", 4, 4}, /* U+10FFFF */
    {"\xf4\x90\x80\x80", 4, 0}, /* above U+10FFFF */
    {"\xf5\x80\x80\x80", 4, 0},
    {"\x80", 1, 0}, /* a lone continuation byte */
    {"\xff", 1, 0},
};

static void test_utf8_len(void **state)
{
    for (size_t i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
        size_t got = sy_json_utf8_len((const unsigned char *)utf8_cases[i].s, utf8_cases[i].n);
        if (got != utf8_cases[i].want)
            fail_msg("case %zu: %zu, expected %zu", i, got, utf8_cases[i].want);
    }
}

/* ---- secrets -------------------------------------------------------- */

typedef struct {
    int trees, tokeners;
    size_t strings; /* string values met in the trees */
    size_t dirty;   /* bytes not zero in what json-c is about to free */
} seen_t;

static void walk(seen_t *s, json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_string: {
        const char *p = json_object_get_string(o);

        s->strings++;
        for (int i = 0; i < json_object_get_string_len(o); i++)
            s->dirty += p[i] != '\0';
        break;
    }
    case json_type_object: {
        json_object_object_foreach (o, name, value) {
            (void)name;
            walk(s, value);
        }
        break;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            walk(s, json_object_array_get_idx(o, i));
        break;
    default:
        break;
    }
}

/* The tokener's work buffer is only reachable through its (deprecated) pb
 * member, as in sy_json.c. */
static void on_wipe(json_object *tree, json_tokener *tok, void *arg)
{
    seen_t *s = arg;

    if (tree != NULL) {
        s->trees++;
        walk(s, tree);
    }
    if (tok != NULL) {
        s->tokeners++;
        for (int i = 0; i < tok->pb->size; i++)
            s->dirty += tok->pb->buf[i] != '\0';
    }
}

/* A secret tokener never moves its work buffer while it parses (the old
 * block would be freed holding part of a string); wiping leaves nothing in
 * the buffer nor in any string of the tree, however deep. */
static void test_secret_parse_and_wipe(void **state)
{
    size_t n = 3000, len;
    char *text = malloc(n + 64), *buf_before;
    json_tokener *tok;
    json_object *o;
    seen_t seen = {0};

    assert_non_null(text);
    memcpy(text, "{\"a\":[\"", 7);
    memset(text + 7, 'k', n);
    memcpy(text + 7 + n, "\",{\"b\":\"s2\",\"n\":1.5}],\"c\":\"s3\"}", 31);
    len = 7 + n + 31;
    text[len] = '\0';

    tok = sy_json_tokener_new_secret(len);
    buf_before = tok->pb->buf;
    o = json_tokener_parse_ex(tok, text, (int)len);
    assert_non_null(o);
    assert_ptr_equal(tok->pb->buf, buf_before);
    assert_int_equal(
        json_object_get_string_len(json_object_array_get_idx(json_object_object_get(o, "a"), 0)),
        n);

    sy_json_test_wipe_hook(on_wipe, &seen);
    sy_json_put_secret(o);
    sy_json_tokener_free_secret(tok);
    sy_json_put_secret(NULL);
    sy_json_tokener_free_secret(NULL);
    sy_json_test_wipe_hook(NULL, NULL);
    assert_int_equal(seen.trees, 1);
    assert_int_equal(seen.tokeners, 1);
    assert_int_equal(seen.strings, 3); /* the long one, "s2" and "s3" */
    assert_int_equal(seen.dirty, 0);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_own, setup, teardown),
        cmocka_unit_test(test_utf8_len),
        cmocka_unit_test(test_secret_parse_and_wipe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
