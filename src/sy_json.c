/* JSON helpers shared by the modules that read or build JSON. */
#include "syncto/sy_json.h"

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
