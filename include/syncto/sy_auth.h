#ifndef SY_AUTH_H
#define SY_AUTH_H

#include <stdbool.h>
#include "syncto/sy_kv.h"
#include "syncto/sy_pool.h"
#include "syncto/sy_rc.h"
#include "syncto/sy_request.h"
#include "syncto/sy_response.h"

/* What a Kinto request says about its Sync account: the credential that goes
 * to the tokenserver and the Sync client state.
 *
 *   Authorization: Bearer <FxA OAuth token>  + X-KeyID: <kca>-<b64url(cs)>
 *   Authorization: BrowserID <assertion>     (when browserid_enabled)
 *
 * Backend-Authorization, when present, replaces Authorization. The bucket id
 * is the 32-hex client state, or "syncto" with X-Client-State (deprecated). */

typedef enum {
    SY_AUTH_BROWSERID = 1,
    SY_AUTH_BEARER = 2,
} sy_auth_kind_t;

typedef struct {
    sy_auth_kind_t kind;
    const char *credential;   /* assertion or token (secret; wiped at pool reset) */
    const char *key_id;       /* X-KeyID as sent (Bearer only), else NULL */
    const char *client_state; /* 32 lowercase hex chars */
    bool client_state_header; /* the client sent X-Client-State */
} sy_auth_t;

/* Messages of the 401 errno 104 answers (pinned by the original tests). */
#define SY_AUTH_MSG_MISSING_BID "Provide a BID assertion Authorization header."
#define SY_AUTH_MSG_MISSING_BEARER "Provide a Bearer token Authorization header."
#define SY_AUTH_MSG_MISSING_STATE "Provide the tokenserver X-Client-State header."
#define SY_AUTH_MSG_BAD_BUCKET "The provided bucket ID is incorrect."
#define SY_AUTH_MSG_BAD_STATE "The provided X-Client-State header is incorrect."
#define SY_AUTH_MSG_MISSING_KEYID "Provide the X-KeyID header along with the Bearer token."
#define SY_AUTH_MSG_BAD_KEYID "The provided X-KeyID header is incorrect."
#define SY_AUTH_MSG_KEYID_MISMATCH "The X-KeyID header does not match the bucket ID."
#define SY_AUTH_MSG_MALFORMED "The Authorization header is malformed."

/* The Alert sent back whenever a request carries X-Client-State. */
#define SY_AUTH_CLIENT_STATE_ALERT_MSG                                                             \
    "X-Client-State header is deprecated and should not be provided anymore."

/* Pure parser over request headers (lowercased names) and the bucket id.
 * SY_OK fills *out (strings in pool); SY_ERR_INVALID sets *message to one of
 * the SY_AUTH_MSG_* texts for a 401 errno 104. */
SY_MUST_CHECK sy_rc_t sy_auth_parse(sy_pool_t *pool, const sy_kvlist_t *headers,
                                    const char *bucket_id, bool browserid_enabled, sy_auth_t *out,
                                    const char **message);

/* The request-level entry point: parses req (bucket id = req->params[0]),
 * adds the soft-eol Alert to resp when X-Client-State was sent, and on
 * failure fills resp with the 401 errno 104 error and returns SY_ERR_INVALID.
 * No WWW-Authenticate header is ever added. */
SY_MUST_CHECK sy_rc_t sy_auth_from_request(sy_request_t *req, sy_response_t *resp, sy_auth_t *out);

/* Client state carried by an X-KeyID value: lowercase hex of the url-safe
 * base64 part after the first '-' (the part before must be digits). Writes
 * 33 bytes into out. SY_ERR_INVALID when malformed or not 16 bytes. */
SY_MUST_CHECK sy_rc_t sy_auth_key_id_client_state(const char *key_id, char out[33]);

/* Copies n bytes of a secret (plus a NUL) into pool and registers a cleanup
 * that wipes them when the pool is reset or freed. */
char *sy_auth_secret_dup(sy_pool_t *pool, const char *s, size_t n);
/* n + 1 zeroed bytes in pool, wiped at reset like sy_auth_secret_dup. */
char *sy_auth_secret_alloc(sy_pool_t *pool, size_t n);

#endif
