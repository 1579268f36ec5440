#ifndef SY_BACKOFF_H
#define SY_BACKOFF_H

#include <stdint.h>
#include "syncto/sy_ctx.h"
#include "syncto/sy_kv.h"
#include "syncto/sy_request.h"
#include "syncto/sy_response.h"

/* Back-off state shared by every worker. When the tokenserver or a Sync node
 * asks clients to slow down (X-Weave-Backoff / X-Backoff, or Retry-After on a
 * 503), the deadline is stored in the PostgreSQL cache under
 * "backoff_<host[:port]>" until it passes, so that every worker process adds
 * `Backoff: <seconds left>` to its responses meanwhile. Reads go through a
 * small per-process memo refreshed at most once a second per host. */

/* Longest back-off honoured, in seconds; larger announcements are clamped. */
#define SY_BACKOFF_MAX_SECONDS 86400

/* Delay in seconds announced by an upstream response: the largest of
 * X-Weave-Backoff and X-Backoff, and Retry-After when status is 503 (only
 * integer seconds count). 0 when none. Pure. */
long sy_backoff_parse(int status, const sy_kvlist_t *headers);

/* Records the delay announced by a response from host (an sy_url_t
 * authority) for every worker. No-op when the response announces none. */
void sy_backoff_note(sy_ctx_t *ctx, const char *host, int status, const sy_kvlist_t *headers);

/* Seconds left (rounded up) of the back-off recorded for host, 0 if none. */
long sy_backoff_remaining(sy_ctx_t *ctx, const char *host);

/* Response-path hook: adds the tokenserver's pending back-off (if any) to
 * resp. Sync nodes' back-offs are added by sy_errors_export() on responses
 * that went to that node. Cheap: no I/O unless the memo is a second old. */
void sy_backoff_apply(sy_request_t *req, sy_response_t *resp);

/* Forgets the per-process memo (tests). */
void sy_backoff_reset_memo(void);

#endif
