#ifndef SY_ROUTER_H
#define SY_ROUTER_H

#include "syncto/sy_request.h"
#include "syncto/sy_response.h"

/* Routes a parsed request to its handler and fills resp. Handles, before any
 * handler: CORS preflight (OPTIONS on any path, no auth), redirects of paths
 * outside /v1 and of trailing slashes (307), unknown routes (404 errno 111),
 * wrong methods (405 errno 115), HEAD on GET routes (body dropped).
 * Used for FastCGI requests and for batch sub-requests alike. */
void sy_router_dispatch(sy_request_t *req, sy_response_t *resp);

#endif
