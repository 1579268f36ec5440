#ifndef SY_JSON_H
#define SY_JSON_H

#include <json-c/json.h>
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
 * by the pool, or NULL when the text is empty, over 2 GiB, not JSON, has
 * anything else after the value, or is the literal null. */
json_object *sy_json_parse_pool(sy_pool_t *pool, const char *text, size_t len);

/* Length (1-4) of the valid UTF-8 character at s, reading at most n bytes;
 * 0 when it is invalid: overlong, a surrogate, above U+10FFFF, or cut
 * short. */
size_t sy_json_utf8_len(const unsigned char *s, size_t n);

#endif
