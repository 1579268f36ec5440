/* Placeholder until the Kinto resource views land: every route answers 503. */
#include "syncto/sy_views.h"

static void unavailable(sy_request_t *req, sy_response_t *resp)
{
    sy_resp_error(req, resp, 503, 201, "This endpoint is not available yet.", NULL);
}

void sy_view_bucket(sy_request_t *req, sy_response_t *resp) { unavailable(req, resp); }
void sy_view_collections(sy_request_t *req, sy_response_t *resp) { unavailable(req, resp); }
void sy_view_collection(sy_request_t *req, sy_response_t *resp) { unavailable(req, resp); }
void sy_view_records(sy_request_t *req, sy_response_t *resp) { unavailable(req, resp); }
void sy_view_record(sy_request_t *req, sy_response_t *resp) { unavailable(req, resp); }
