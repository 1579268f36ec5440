#ifndef SY_RESPONSE_H
#define SY_RESPONSE_H

#include <json-c/json.h>
#include <stdbool.h>
#include "syncto/sy_buf.h"
#include "syncto/sy_errno.h"
#include "syncto/sy_kv.h"
#include "syncto/sy_request.h"

/* How every JSON body is serialised: compact, and "/" left unescaped. */
#define SY_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* A response is built in memory, then written to FastCGI by sy_fcgi_handle()
 * or serialised into a batch "responses" entry. Header names are given in
 * their canonical case ("ETag", "Next-Page"). */
typedef struct sy_response {
    int status;
    sy_kvlist_t headers;
    sy_buf_t body;     /* serialised body, capped */
    json_object *json; /* the JSON body, kept for batch; owned */
    bool has_body;
} sy_response_t;

/* What answers a request: fills resp (a view, the router itself). */
typedef void (*sy_handler_fn)(sy_request_t *req, sy_response_t *resp);

/* Status 200, no header, no body. The body buffer belongs to req->pool
 * from here on (freed at its reset): resp must live until then. */
void sy_resp_init(sy_request_t *req, sy_response_t *resp);
/* Replace (set) or append (add) a header; name and value are copied. */
void sy_resp_set_header(sy_request_t *req, sy_response_t *resp, const char *name,
                        const char *value);
void sy_resp_add_header(sy_request_t *req, sy_response_t *resp, const char *name,
                        const char *value);
/* First value of a response header (case-insensitive), NULL if absent. */
const char *sy_resp_header(const sy_response_t *resp, const char *name);

/* Sets status and a JSON body, with Content-Type: application/json;
 * charset=UTF-8. Takes ownership of obj: it is put at pool reset, even if a
 * later call replaces it (take a json_object_get() to embed it elsewhere).
 * The body is serialised by sy_resp_finish(). */
void sy_resp_json(sy_request_t *req, sy_response_t *resp, int status, json_object *obj);
/* Status with no body (204, 304, HEAD...). */
void sy_resp_empty(sy_request_t *req, sy_response_t *resp, int status);
/* Sets Backoff on resp to the larger of its current value and seconds
 * (seconds <= 0 leaves it unchanged). */
void sy_resp_backoff(sy_request_t *req, sy_response_t *resp, long seconds);
/* 307 redirect to location. */
void sy_resp_redirect(sy_request_t *req, sy_response_t *resp, const char *location);

/* Kinto error body {"code","errno","error","message"[,"details"]}; the
 * "error" text is the HTTP reason phrase of status ("Invalid parameters" for
 * 400 SY_ERRNO_INVALID_PARAMETERS). message may be NULL (omitted). details
 * is owned by the response (may be NULL). 503 responses get Retry-After. */
void sy_resp_error(sy_request_t *req, sy_response_t *resp, int status, sy_errno_t kinto_errno,
                   const char *message, json_object *details);
/* 400 errno 107 "Invalid parameters" in cliquet form: details
 * [{location,name,description}], message "<name> in <location>: <desc>"
 * (or description when it contains name, or "<location>: <desc>"). */
void sy_resp_invalid_param(sy_request_t *req, sy_response_t *resp, const char *location,
                           const char *name, const char *description);

/* HTTP reason phrase for a status ("Not Found"). */
const char *sy_http_reason(int status);

/* Adds the CORS and common headers every response carries (ACAO when the
 * request had an allowed Origin, Access-Control-Expose-Headers, Vary,
 * Cache-Control: no-cache...), drops Retry-After below 400, serialises the
 * JSON body into resp->body and sets Content-Length (none for HEAD; no body
 * for 1xx/204/304). Called once, just before writing. */
void sy_resp_finish(sy_request_t *req, sy_response_t *resp);

#endif
