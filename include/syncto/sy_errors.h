#ifndef SY_ERRORS_H
#define SY_ERRORS_H

#include <stdbool.h>
#include <stddef.h>
#include "syncto/sy_errno.h"
#include "syncto/sy_request.h"
#include "syncto/sy_response.h"
#include "syncto/sy_sync.h"

/* The Kinto errno table (sy_errno.h), and upstream (tokenserver or Sync)
 * outcome -> Kinto response: the one place where upstream statuses become
 * Kinto statuses and errnos (see docs/upstream.md):
 *
 *   no answer (network, timeout)   503 / 201  SY_ERRORS_MSG_UNREACHABLE
 *   304                            304, empty body
 *   400                            400 / 107  "<status> <reason>: <body>"
 *   401                            401 / 105  idem
 *   403                            403 / 121  idem
 *   404                            404 / 110  idem
 *   412                            412 / 114  SY_ERRORS_MSG_MODIFIED
 *   413                            413 / 113  idem as 400
 *   anything else, unusable answer 503 / 201  SY_ERRORS_MSG_UNAVAILABLE
 *
 * 503s carry Retry-After (upstream's when sane, else retry_after_seconds). */

#define SY_ERRORS_MSG_UNREACHABLE                                                                  \
    "Unable to reach the service. Check your internet connection or firewall configuration."
#define SY_ERRORS_MSG_UNAVAILABLE                                                                  \
    "Service temporary unavailable due to overloading or maintenance, please retry later."
#define SY_ERRORS_MSG_MODIFIED "Resource was modified meanwhile"

/* Longest upstream body quoted in a message. */
#define SY_ERRORS_BODY_MAX 1024

typedef struct {
    int status;             /* Kinto HTTP status */
    sy_errno_t kinto_errno; /* SY_ERRNO_NONE for 304 */
    const char *message;    /* fixed text, or NULL: "<status> <reason>: <body>" */
    bool empty;             /* no body (304) */
} sy_error_map_t;

/* The mapping table above for an outcome (rc, upstream status). Pure. */
void sy_errors_map(sy_rc_t rc, int upstream_status, sy_error_map_t *out);

/* "<status> <reason>: <body>" with the body trimmed, capped at
 * SY_ERRORS_BODY_MAX bytes and non-printable bytes replaced by '?'. */
char *sy_errors_upstream_message(sy_pool_t *pool, int status, const char *body, size_t len);

/* Fills resp with the Kinto answer for a failed (non-2xx, or no answer)
 * upstream call, plus the exported headers (sy_errors_export). A 412 gets
 * its ETag from X-Last-Modified; the caller may add details.existing. */
void sy_errors_respond(sy_request_t *req, sy_response_t *resp, const sy_sync_result_t *res);

/* Copies Sync's advisory headers onto resp (success or error): Alert from
 * X-Weave-Alert verbatim, Backoff from X-Weave-Backoff / X-Backoff or a
 * back-off still pending for that node, Quota-Remaining from
 * X-Weave-Quota-Remaining. Never Retry-After. */
void sy_errors_export(sy_request_t *req, sy_response_t *resp, const sy_sync_result_t *res);

#endif
