#ifndef SY_VIEWS_H
#define SY_VIEWS_H

#include "syncto/sy_request.h"
#include "syncto/sy_response.h"

/* Utility endpoints (sy_views_utility.c). */
void sy_view_hello(sy_request_t *req, sy_response_t *resp);       /* GET /v1/ */
void sy_view_heartbeat(sy_request_t *req, sy_response_t *resp);   /* GET /v1/__heartbeat__ */
void sy_view_lbheartbeat(sy_request_t *req, sy_response_t *resp); /* GET /v1/__lbheartbeat__ */
void sy_view_version(sy_request_t *req, sy_response_t *resp);     /* GET /v1/__version__ */
void sy_view_fxa_params(sy_request_t *req, sy_response_t *resp);  /* GET /v1/fxa-oauth/params */

/* Kinto resources over Sync (sy_views_records.c). params[0] = bucket id,
 * params[1] = collection, params[2] = record id. */
void sy_view_bucket(sy_request_t *req, sy_response_t *resp);
void sy_view_collections(sy_request_t *req, sy_response_t *resp);
void sy_view_collection(sy_request_t *req, sy_response_t *resp);
void sy_view_records(sy_request_t *req, sy_response_t *resp);
void sy_view_record(sy_request_t *req, sy_response_t *resp);

/* POST /v1/batch: sy_view_batch in sy_batch.h. */

#endif
