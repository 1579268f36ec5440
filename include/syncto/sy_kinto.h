#ifndef SY_KINTO_H
#define SY_KINTO_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "syncto/sy_buf.h"
#include "syncto/sy_kv.h"
#include "syncto/sy_pool.h"
#include "syncto/sy_rc.h"
#include "syncto/sy_sync.h"

/* The one place where Kinto meets Sync (docs/api.md): BSOs become Kinto
 * records, list parameters become Sync queries, preconditions become
 * X-If-(Un)Modified-Since, PUT bodies are filtered down to what Sync
 * stores. Everything here is pure (no I/O), so the views stay thin and the
 * rules are unit-tested from tables. Strings come from the given pool. */

/* Sync limits. */
#define SY_KINTO_MAX_IDS 100
#define SY_KINTO_SORTINDEX_MAX 999999999
#define SY_KINTO_TTL_MAX 999999999

/* Record fields besides id and last_modified, which are always kept. */
#define SY_KINTO_F_PAYLOAD 1u
#define SY_KINTO_F_SORTINDEX 2u
#define SY_KINTO_F_TTL 4u
#define SY_KINTO_F_ALL 7u

/* A validation failure, ready for sy_resp_invalid_param(): location
 * ("querystring", "headers", "body", "path"), name (may be NULL) and
 * description. Static or pool strings. */
typedef struct {
    const char *location;
    const char *name;
    const char *description;
} sy_kinto_invalid_t;

/* ---- names ----------------------------------------------------------- */

/* Sync collection name rule ^[a-zA-Z0-9._-]{1,32}$. */
bool sy_kinto_valid_collection(const char *name);
/* Sync record id rule ^[ -~]{1,64}$ (printable ASCII, space included). */
bool sy_kinto_valid_record_id(const char *id);

/* ---- records --------------------------------------------------------- */

/* Kinto last_modified (ms) of a BSO "modified" value, read from the number
 * exactly as Sync wrote it ("1441868927.07"), never through a double.
 * False when v is not such a number. */
bool sy_kinto_bso_modified(json_object *v, int64_t *ms);

/* Appends the Kinto form of one BSO to out:
 * {"id":…,"last_modified":<ms>,"payload":…,"sortindex":…,"ttl":…}, the last
 * three only when Sync sent them and `fields` keeps them. SY_ERR_INVALID
 * when bso is not an object with a string id (nothing is appended);
 * SY_ERR_TOO_LARGE when out reaches its cap. */
sy_rc_t sy_kinto_write_record(sy_buf_t *out, json_object *bso, unsigned fields);

/* The same record as a new json-c object (caller owns it), or NULL when
 * bso is not a BSO. */
json_object *sy_kinto_record_new(json_object *bso, unsigned fields);

/* Appends s (n bytes, NULs allowed) as a quoted JSON string, escaped the
 * way SY_JSON_FLAGS serialises ("/" left as is). */
sy_rc_t sy_kinto_write_string(sy_buf_t *out, const char *s, size_t n);

/* ---- list parameters ------------------------------------------------- */

/* A records list request in Sync terms. */
typedef struct {
    sy_sync_query_t q; /* full=1 + newer/older/sort/limit/offset/ids */
    bool has_since;    /* _since was given: since_ms is its value */
    int64_t since_ms;
    bool has_limit;       /* _limit was given: no Total-Records */
    const char **exclude; /* exclude_id values, applied to the result */
    size_t nexclude;
    unsigned fields; /* _fields as SY_KINTO_F_* (ALL by default) */
} sy_kinto_list_t;

/* Reads the Kinto list parameters of a decoded query:
 *   _since/_before  \d+ or "\d+"        -> newer/older
 *   _sort           newest|-last_modified, oldest|last_modified,
 *                   index|-sortindex    -> sort
 *   _limit          positive integer     -> limit
 *   _token          opaque               -> offset
 *   in_ids, in_id   comma lists (trimmed, empties dropped, <= 100) -> ids
 *   exclude_id      comma list           -> out->exclude
 *   _fields         comma list           -> out->fields
 * Anything else (_expected included) is ignored. SY_ERR_INVALID with *err
 * filled on a bad value. */
sy_rc_t sy_kinto_list_parse(sy_pool_t *pool, const sy_kvlist_t *query, sy_kinto_list_t *out,
                            sy_kinto_invalid_t *err);

/* _fields of a decoded query as SY_KINTO_F_* (SY_KINTO_F_ALL when absent);
 * unknown names are ignored. */
unsigned sy_kinto_query_fields(sy_pool_t *pool, const sy_kvlist_t *query);

/* True when id is one of p->exclude. */
bool sy_kinto_list_excluded(const sy_kinto_list_t *p, const char *id);

/* Appends {"data":[…]} for the BSO array bsos, skipping excluded ids and
 * keeping p->fields; *count is the number of records written. */
sy_rc_t sy_kinto_write_list(sy_buf_t *out, json_object *bsos, const sy_kinto_list_t *p,
                            size_t *count);

/* Appends {"data":[…]} for Sync's answer body[0..len) read as text, in one
 * pass and without building a tree: the bytes written are exactly those
 * sy_kinto_write_list() writes for the parsed answer. The text must be
 * strict JSON (RFC 8259, nesting within json-c's default depth) whose top
 * level is an array; *nsync is the number of its elements, *count that of
 * the records written. SY_ERR_INVALID when the text is not such JSON
 * (nothing appended, even when out would also have filled up);
 * SY_ERR_TOO_LARGE when out reaches its cap (nothing appended). */
sy_rc_t sy_kinto_rewrite_list(sy_buf_t *out, const char *body, size_t len, const sy_kinto_list_t *p,
                              size_t *nsync, size_t *count);

/* ETag (ms) of a list answer. It is the collection timestamp Sync sent
 * (X-Last-Modified, SY_SYNC_NO_TS when none: then 0), except that a _since
 * poll to which Sync returned no record keeps the client's _since value:
 * Sync keeps no tombstones, so an ETag moved by a deletion with nothing to
 * show for it would make Kinto.js throw ServerWasFlushedError. */
int64_t sy_kinto_list_etag(const sy_kinto_list_t *p, int64_t collection_ms, size_t nsync);

/* Query string of the Next-Page URL: raw_query (still encoded, without
 * '?') with every _token parameter removed and "_token=<token encoded>"
 * appended; the other parameters keep their order and raw spelling. */
char *sy_kinto_next_page_query(sy_pool_t *pool, const char *raw_query, const char *token);

/* ---- preconditions --------------------------------------------------- */

typedef struct {
    int64_t if_match_ms;      /* If-Match: "<ms>", or SY_SYNC_NO_TS */
    int64_t if_none_match_ms; /* If-None-Match: "<ms>", or SY_SYNC_NO_TS */
    bool if_none_match_any;   /* If-None-Match: * */
} sy_kinto_precond_t;

/* Parses If-Match (only "\d+" quoted) and If-None-Match (* or "\d+"),
 * either may be NULL. SY_ERR_INVALID with *err naming the header
 * ("headers: Invalid value for If-Match"). */
sy_rc_t sy_kinto_precond_parse(const char *if_match, const char *if_none_match,
                               sy_kinto_precond_t *out, sy_kinto_invalid_t *err);

/* Sets op's conditions: If-Match -> X-If-Unmodified-Since, If-None-Match *
 * -> X-If-Unmodified-Since: 0 (it wins over If-Match), If-None-Match
 * "<ms>" -> X-If-Modified-Since. */
void sy_kinto_precond_apply(const sy_kinto_precond_t *p, sy_sync_op_t *op);

/* True when the precondition has nothing to say. */
bool sy_kinto_precond_none(const sy_kinto_precond_t *p);

/* ---- PUT ------------------------------------------------------------- */

/* A PUT body reduced to what Sync stores. */
typedef struct {
    bool has_payload;
    const char *payload; /* pool copy, may hold NULs */
    size_t payload_len;
    bool has_sortindex;
    int64_t sortindex;
    bool has_ttl;
    int64_t ttl;
    const char *bso; /* the JSON sent to Sync */
    size_t bso_len;
} sy_kinto_put_t;

/* Parses a PUT body {"data":{…}[,"permissions":{…}]}: data must be an
 * object; payload a string, sortindex an integer within +-999999999, ttl an
 * integer in [0, 999999999] (null counts as absent); every other field of
 * data (id, last_modified…) is dropped. SY_ERR_INVALID with *err on "body:
 * Invalid JSON", a missing data, an unknown top-level key or a bad type. */
sy_rc_t sy_kinto_put_parse(sy_pool_t *pool, const char *body, size_t len, sy_kinto_put_t *out,
                           sy_kinto_invalid_t *err);

/* True when the record Sync now holds may differ from what the PUT sent
 * (payload or sortindex omitted: Sync keeps the old values), unless the PUT
 * could only create (If-None-Match: *). */
bool sy_kinto_put_needs_fetch(const sy_kinto_put_t *p, const sy_kinto_precond_t *pre);

/* The record a PUT wrote: {"id","last_modified","payload"?,"sortindex"?,
 * "ttl"?} from the sent fields (caller owns it). */
json_object *sy_kinto_put_record(const char *id, const sy_kinto_put_t *p, int64_t last_modified_ms);

/* {"id","last_modified","deleted":true} (caller owns it). */
json_object *sy_kinto_deleted_record(const char *id, int64_t last_modified_ms);

/* ---- collections ----------------------------------------------------- */

/* Timestamp (ms) of collection cid in Sync's info/collections object
 * ({name: seconds}), matching Sync's lowercased names; 0 when absent. */
int64_t sy_kinto_info_collection(json_object *info, const char *cid);
/* Largest timestamp in info/collections, 0 when empty. */
int64_t sy_kinto_info_max(json_object *info);
/* [{"id":name,"last_modified":ms}, …], newest first (caller owns it). */
json_object *sy_kinto_info_list(json_object *info);

#endif
