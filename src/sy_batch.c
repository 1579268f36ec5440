/* Placeholder until batch lands. */
#include "syncto/sy_views.h"

void sy_view_batch(sy_request_t *req, sy_response_t *resp)
{
    sy_resp_error(req, resp, 503, 201, "This endpoint is not available yet.", NULL);
}
