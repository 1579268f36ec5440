#ifndef SY_TOKENSERVER_H
#define SY_TOKENSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include "syncto/sy_auth.h"
#include "syncto/sy_ctx.h"
#include "syncto/sy_http.h"
#include "syncto/sy_pool.h"
#include "syncto/sy_rc.h"

/* Tokenserver 1.0 client: GET {token_server_url}/1.0/sync/1.5?duration=N
 * turns a BrowserID assertion or an OAuth token into Hawk credentials for
 * the user's Sync node. */

/* Hawk credentials for one Sync node. All strings in the pool; id, key and
 * json are secrets and are wiped when the pool is reset. */
typedef struct {
    const char *id;             /* Hawk id, verbatim (no '"' or '\\') */
    const char *key;            /* Hawk key, used as ASCII bytes */
    const char *uid;            /* tokenserver uid as decimal text */
    const char *api_endpoint;   /* http(s) base URL, without trailing '/' */
    const char *hashed_fxa_uid; /* "" when absent; safe to log */
    long duration;              /* token lifetime in seconds, 0 when absent */
    const char *json;           /* the tokenserver body, as received */
    size_t json_len;
} sy_token_t;

/* Parses and validates a tokenserver 200 body (json need not be
 * NUL-terminated). id, key and api_endpoint are required; id and key must be
 * visible ASCII without '"' or '\\'; api_endpoint must be http(s). The body
 * itself is copied into out->json. SY_ERR_UPSTREAM when unusable. */
SY_MUST_CHECK sy_rc_t sy_token_parse(sy_pool_t *pool, const char *json, size_t len,
                                     sy_token_t *out);

/* The token URL for a base setting ("https://token.example.com/" or without
 * the slash) and a duration (<= 0: no duration parameter). Pool string. */
char *sy_tokenserver_token_url(sy_pool_t *pool, const char *base, long duration);

/* Fetches credentials for auth, asking for `duration` seconds (<= 0: the
 * server's default). Sends Authorization plus X-Client-State (BrowserID) or
 * X-KeyID [+ X-Client-State when the client sent one] (Bearer). Learns the
 * clock offset from X-Timestamp and records back-offs. Returns SY_OK with
 * *tok filled; otherwise resp says what came back: SY_ERR_UNREACHABLE /
 * SY_ERR_TOO_LARGE (no usable response), SY_ERR_UPSTREAM (a non-200 status,
 * or a 200 whose body is unusable). resp is always filled. */
SY_MUST_CHECK sy_rc_t sy_tokenserver_fetch(sy_ctx_t *ctx, sy_pool_t *pool, const sy_auth_t *auth,
                                           long duration, sy_token_t *tok, sy_http_resp_t *resp);

/* GET {token_server_url without trailing '/'}/__heartbeat__ within
 * token_server_heartbeat_timeout_seconds. True iff 200 and the body is not a
 * JSON object or its "status" is "Ok". Timeouts and refusals give false. */
bool sy_tokenserver_heartbeat(sy_ctx_t *ctx);

#endif
