/* JSON helpers shared by the modules that read or build JSON. */
#include "syncto/sy_json.h"

#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

json_object *sy_json_must(json_object *o)
{
    if (o == NULL) {
        static const char msg[] = "syncto: out of memory building JSON\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)w;
        abort();
    }
    return o;
}

static void put_cleanup(void *data)
{
    json_object_put(data);
}

json_object *sy_json_pool_own(sy_pool_t *pool, json_object *o)
{
    if (o != NULL)
        sy_pool_cleanup_add(pool, put_cleanup, o);
    return o;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

json_object *sy_json_parse_pool(sy_pool_t *pool, const char *text, size_t len)
{
    json_tokener *tok;
    json_object *o;
    size_t end;

    if (text == NULL || len == 0 || len > (size_t)INT32_MAX - 1)
        return NULL;
    /* JSON text is UTF-8 (RFC 8259). json-c would pass other bytes on as
     * they are, to Sync in a record and back to clients in answers, and its
     * own check lets overlong forms and surrogates through. */
    if (!sy_json_utf8_valid((const unsigned char *)text, len))
        return NULL;
    tok = json_tokener_new();
    if (tok == NULL)
        abort(); /* out of memory */
    o = json_tokener_parse_ex(tok, text, (int)len);
    end = json_tokener_get_parse_end(tok);
    /* Why a second call: json-c cannot know that a number or literal at the
     * very end of the text is complete ("8" is a whole Sync error body)
     * until it is told where the text ends, which a NUL does. When it waits
     * for more, it has read all len bytes. */
    if (o == NULL && json_tokener_get_error(tok) == json_tokener_continue)
        o = json_tokener_parse_ex(tok, "", 1);
    json_tokener_free(tok);
    if (o == NULL)
        return NULL;
    while (end < len && is_ws(text[end]))
        end++;
    if (end != len) {
        json_object_put(o);
        return NULL;
    }
    return sy_json_pool_own(pool, o);
}

/* ---- secrets ---------------------------------------------------------- */

static sy_json_wipe_hook_fn wipe_hook;
static void *wipe_hook_arg;

void sy_json_test_wipe_hook(sy_json_wipe_hook_fn fn, void *arg)
{
    wipe_hook = fn;
    wipe_hook_arg = arg;
}

/* Why the tokener's fields are touched: json-c has no call that wipes or
 * sizes its work buffer (struct printbuf, public in printbuf.h); the
 * tokener's pb member is the only way to it. It is read here and nowhere
 * else. */
json_tokener *sy_json_tokener_new_secret(size_t len)
{
    json_tokener *tok;

    if (len >= (size_t)INT_MAX)
        abort();
    tok = json_tokener_new();
    if (tok == NULL)
        abort(); /* out of memory */
    /* Grown once, empty: no string read from len bytes can outgrow it. */
    if (printbuf_memset(tok->pb, 0, 0, (int)len + 1) < 0)
        abort();
    printbuf_reset(tok->pb);
    return tok;
}

void sy_json_tokener_free_secret(json_tokener *tok)
{
    if (tok == NULL)
        return;
    if (tok->pb != NULL && tok->pb->buf != NULL && tok->pb->size > 0)
        sodium_memzero(tok->pb->buf, (size_t)tok->pb->size);
    if (wipe_hook != NULL)
        wipe_hook(NULL, tok, wipe_hook_arg);
    json_tokener_free(tok);
}

// NOLINTNEXTLINE(misc-no-recursion): as deep as the tree, 32 at most (json-c's tokener)
static void wipe_strings(json_object *o)
{
    size_t n;

    switch (json_object_get_type(o)) {
    case json_type_string:
        /* The text belongs to the object, which is about to be freed:
         * json-c only hands it out as const. */
        sodium_memzero((char *)json_object_get_string(o), (size_t)json_object_get_string_len(o));
        break;
    case json_type_object: {
        json_object_object_foreach (o, name, value) {
            (void)name;
            wipe_strings(value);
        }
        break;
    }
    case json_type_array:
        n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++)
            wipe_strings(json_object_array_get_idx(o, i));
        break;
    default:
        break;
    }
}

void sy_json_put_secret(json_object *o)
{
    if (o == NULL)
        return;
    wipe_strings(o);
    if (wipe_hook != NULL)
        wipe_hook(o, NULL, wipe_hook_arg);
    json_object_put(o);
}

size_t sy_json_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4;
    else
        return 0;
    if (n < len)
        return 0;
    /* No overlong forms, no surrogates, nothing above U+10FFFF. */
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return len;
}

bool sy_json_utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k;

        if (s[i] < 0x80) {
            i++;
            continue;
        }
        k = sy_json_utf8_len(s + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}
