#ifndef SY_BATCH_H
#define SY_BATCH_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include "syncto/sy_auth.h"
#include "syncto/sy_kinto.h"
#include "syncto/sy_request.h"
#include "syncto/sy_response.h"
#include "syncto/sy_sync.h"

/* How the resource views and POST /v1/batch share work.
 *
 * Each resource view is split in two: a plan (validation, auth, the Sync
 * operation to run) and a finish (the Sync result mapped into the Kinto
 * response). A plain request runs plan, the call and finish in a row. A
 * batch sub-request only plans: the view hands its job to the batch, which
 * later runs the calls of consecutive reads concurrently
 * (sy_sync_perform_many), the writes one at a time and in order, and then
 * calls each finish. */

typedef struct sy_view_job sy_view_job_t;

struct sy_view_job {
    sy_request_t *req;
    sy_response_t *resp;
    sy_sync_t *sync; /* session (one per credential in a batch) */
    bool pending;    /* `op` waits to be performed, then finish() */
    bool read;       /* op only reads: may overlap other reads */
    sy_sync_op_t op;
    sy_sync_result_t res;
    /* Maps `res` into resp. It may queue one more call (pending = true with
     * a new op), e.g. the GET that fills a 412's details.existing. */
    void (*finish)(sy_view_job_t *job);
    void *state; /* the view's own */
};

/* Runs job to the end: in a batch, hands it over (to be performed later)
 * and returns; otherwise performs its calls and finishes it. */
void sy_view_job_run(sy_view_job_t *job);

/* Batch side. The Sync session for a sub-request made with auth: the
 * batch's, shared by every sub-request with the same credential (one
 * credentials lookup for the batch); NULL outside a batch. */
sy_sync_t *sy_batch_session(sy_request_t *req, const sy_auth_t *auth);

/* Takes job over when req is a batch sub-request (true); false otherwise. */
bool sy_batch_defer(sy_view_job_t *job);

/* POST /v1/batch: validates the body, dispatches every sub-request through
 * dispatch (sy_router_dispatch: the batch re-enters the router, which
 * passes itself rather than be known here), runs their Sync calls and
 * answers with the sub-responses, or with the first 5xx. */
void sy_view_batch(sy_request_t *req, sy_response_t *resp, sy_handler_fn dispatch);

/* Validates a POST /v1/batch body {"requests":[…],"defaults":{…}} of at
 * most max requests and merges the defaults into each request (headers
 * aside). SY_OK sets *requests (the array) and *defaults (NULL when absent),
 * both owned by pool; SY_ERR_TOO_LARGE when there are more than max
 * requests; SY_ERR_INVALID with *err (location "body") otherwise. */
SY_MUST_CHECK sy_rc_t sy_batch_parse(sy_pool_t *pool, const char *body, size_t len, int max,
                                     json_object **requests, json_object **defaults,
                                     sy_kinto_invalid_t *err);

#endif
