/* Placeholder until the upstream checks land. */
#include "syncto/sy_views.h"

void sy_view_heartbeat(sy_request_t *req, sy_response_t *resp)
{
    sy_resp_error(req, resp, 503, 201, "Heartbeat not available yet.", NULL);
}
