/* A reference recogniser of RFC 8259 JSON text, written for the tests
 * apart from the code under test: recursive descent, UTF-8 checked, value
 * levels counted as json-c counts them. Shared by the rewrite's unit test
 * and its fuzz target. Header-only (static functions). */
#ifndef SY_JSON_REF_H
#define SY_JSON_REF_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* ---- the reference recogniser ------------------------------------------ */

/* RFC 8259 grammar, recursive descent over [s, s+n). Value levels as
 * json-c counts them: the top value is at level 0, its elements at 1...;
 * json-c refuses any value at level JSON_TOKENER_DEFAULT_DEPTH or more. */
typedef struct {
    const unsigned char *s;
    size_t n, i;
} ref_t;

static inline void ref_ws(ref_t *r)
{
    while (r->i < r->n &&
           (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' || r->s[r->i] == '\r'))
        r->i++;
}

static inline int ref_peek(const ref_t *r)
{
    return r->i < r->n ? r->s[r->i] : -1;
}

static inline bool ref_digits(ref_t *r)
{
    size_t start = r->i;

    while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
        r->i++;
    return r->i > start;
}

static inline bool ref_number(ref_t *r)
{
    if (ref_peek(r) == '-')
        r->i++;
    if (ref_peek(r) == '0')
        r->i++;
    else if (ref_peek(r) < '1' || ref_peek(r) > '9' || !ref_digits(r))
        return false;
    if (ref_peek(r) == '.') {
        r->i++;
        if (!ref_digits(r))
            return false;
    }
    if (ref_peek(r) == 'e' || ref_peek(r) == 'E') {
        r->i++;
        if (ref_peek(r) == '+' || ref_peek(r) == '-')
            r->i++;
        if (!ref_digits(r))
            return false;
    }
    return true;
}

/* Length of the UTF-8 character at s (RFC 3629, table 3-7 of Unicode:
 * no overlong form, no surrogate, nothing past U+10FFFF), 0 when none. */
static inline size_t ref_utf8(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;

    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4;
    else
        return 0;
    if (s[0] == 0xE0)
        lo = 0xA0;
    else if (s[0] == 0xED)
        hi = 0x9F;
    else if (s[0] == 0xF0)
        lo = 0x90;
    else if (s[0] == 0xF4)
        hi = 0x8F;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xBF)
            return 0;
    return len;
}

static inline bool ref_utf8_text(const char *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if ((k = ref_utf8((const unsigned char *)s + i, n - i)) == 0)
            return false;
    return true;
}

static inline bool ref_string(ref_t *r)
{
    r->i++; /* " */
    for (;;) {
        int c = ref_peek(r);
        if (c < 0x20) /* cut short (-1), or a raw control character */
            return false;
        if (c >= 0x80) {
            size_t k = ref_utf8(r->s + r->i, r->n - r->i);
            if (k == 0)
                return false;
            r->i += k;
            continue;
        }
        r->i++;
        if (c == '"')
            return true;
        if (c != '\\')
            continue;
        c = ref_peek(r);
        r->i++;
        if (c == 'u') {
            for (int k = 0; k < 4; k++, r->i++)
                if (r->i >= r->n || strchr("0123456789abcdefABCDEF", r->s[r->i]) == NULL ||
                    r->s[r->i] == '\0')
                    return false;
        } else if (c < 0 || strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
            return false;
        }
    }
}

static inline bool ref_word(ref_t *r, const char *w)
{
    size_t n = strlen(w);

    if (r->n - r->i < n || memcmp(r->s + r->i, w, n) != 0)
        return false;
    r->i += n;
    return true;
}

static inline bool ref_value(ref_t *r, int level)
{
    int c;

    if (level >= JSON_TOKENER_DEFAULT_DEPTH)
        return false;
    c = ref_peek(r);
    if (c == '"')
        return ref_string(r);
    if (c == 't')
        return ref_word(r, "true");
    if (c == 'f')
        return ref_word(r, "false");
    if (c == 'n')
        return ref_word(r, "null");
    if (c == '[' || c == '{') {
        int close = c == '[' ? ']' : '}';
        r->i++;
        ref_ws(r);
        if (ref_peek(r) == close) {
            r->i++;
            return true;
        }
        for (;;) {
            ref_ws(r);
            if (c == '{') {
                if (ref_peek(r) != '"' || !ref_string(r))
                    return false;
                ref_ws(r);
                if (ref_peek(r) != ':')
                    return false;
                r->i++;
                ref_ws(r);
            }
            if (!ref_value(r, level + 1))
                return false;
            ref_ws(r);
            if (ref_peek(r) == close) {
                r->i++;
                return true;
            }
            if (ref_peek(r) != ',')
                return false;
            r->i++;
        }
    }
    return ref_number(r);
}

static inline bool ref_valid(const char *s, size_t n)
{
    ref_t r = {(const unsigned char *)s, n, 0};

    ref_ws(&r);
    if (ref_peek(&r) != '[' || !ref_value(&r, 0))
        return false;
    ref_ws(&r);
    return r.i == n;
}

/* Does x hold something json-c 0.16 accepts in strict mode that RFC 8259
 * refuses: a raw control character, or a number token (a run of
 * [-+.0-9eE] or a NaN / Infinity word outside strings) that is not an RFC
 * number? */
static inline bool json_c_lenient(const char *s, size_t n)
{
    bool in_str = false;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (in_str) {
            if (c < 0x20)
                return true;
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == 'N' || c == 'I' || c == 'i') {
            return true;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i;
            ref_t r;

            while (j < n && strchr("-+.0123456789eE", s[j]) != NULL && s[j] != '\0')
                j++;
            r = (ref_t){(const unsigned char *)s + i, j - i, 0};
            if (!ref_number(&r) || r.i != j - i)
                return true;
            i = j - 1;
        }
    }
    return false;
}

#endif
