#ifndef SY_JSON_H
#define SY_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include "syncto/sy_pool.h"

/* JSON helpers shared by every module that reads or builds JSON with json-c:
 * allocation checks, pool ownership, whole-body parsing and the UTF-8 rule
 * JSON text follows. */

/* Returns o; when o is NULL (json-c only fails to allocate), writes a line
 * to stderr and aborts: out of memory ends the worker. */
json_object *sy_json_must(json_object *o);

/* Makes the pool own o: json_object_put(o) runs at pool reset or free.
 * Returns o; NULL is ignored. */
json_object *sy_json_pool_own(sy_pool_t *pool, json_object *o);

/* Parses text[0..len) (no NUL needed) as exactly one JSON value; white
 * space may surround it, and a bare number counts. Returns the value, owned
 * by the pool, or NULL when the text is empty, over 2 GiB, not JSON (not
 * UTF-8, or nested deeper than 32 arrays and objects included), has anything
 * else after the value, or is the literal null. */
json_object *sy_json_parse_pool(sy_pool_t *pool, const char *text, size_t len);

/* Parsing text that holds secrets (a tokenserver answer: the Hawk id and
 * key) without leaving a copy of them in freed memory. json-c keeps two:
 * the string values of the tree, and the tokener's work buffer, where it
 * assembles every string and number it reads, and which it reallocates as
 * it grows (the old block is freed as it is). So:
 *
 *   tok = sy_json_tokener_new_secret(len);
 *   o = json_tokener_parse_ex(tok, text, (int)len);
 *   ...
 *   sy_json_put_secret(o);
 *   sy_json_tokener_free_secret(tok);
 *
 * Member names are not wiped: they are the protocol's words. */

/* A json_tokener whose work buffer already holds len + 1 bytes, so that
 * parsing at most len bytes never reallocates it. Aborts when out of
 * memory or when len does not fit an int. */
json_tokener *sy_json_tokener_new_secret(size_t len);
/* Wipes the tokener's whole work buffer, then frees the tokener.
 * NULL-safe. */
void sy_json_tokener_free_secret(json_tokener *tok);
/* Wipes every string value of the tree o (members of objects and elements
 * of arrays, at any depth), then drops the reference, which must be the
 * last one. NULL-safe. */
void sy_json_put_secret(json_object *o);

/* For tests only: fn(tree, tok, arg) runs after each wipe above and just
 * before the free (tree NULL for a tokener, tok NULL for a tree), to look
 * at the memory json-c is about to release. NULL removes it. Not
 * thread-safe. */
typedef void (*sy_json_wipe_hook_fn)(json_object *tree, json_tokener *tok, void *arg);
void sy_json_test_wipe_hook(sy_json_wipe_hook_fn fn, void *arg);

/* Length (1-4) of the valid UTF-8 character at s, reading at most n bytes;
 * 0 when it is invalid: overlong, a surrogate, above U+10FFFF, or cut
 * short. */
size_t sy_json_utf8_len(const unsigned char *s, size_t n);

/* True when s[0..n) is valid UTF-8 throughout (as sy_json_utf8_len judges
 * each character); NULs count as characters. */
bool sy_json_utf8_valid(const unsigned char *s, size_t n);

#endif
