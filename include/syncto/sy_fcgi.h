#ifndef SY_FCGI_H
#define SY_FCGI_H

#include <fcgiapp.h>
#include "syncto/sy_ctx.h"

/* Serves one accepted FastCGI request on a worker thread: builds the
 * sy_request_t from the FastCGI params and stdin (body capped at
 * syncto.max_request_body_bytes -> 413), assigns a request id, dispatches it
 * through the router, writes the response to FastCGI, logs the summary line
 * and resets ctx->pool. Never blocks on anything but I/O with bounded time. */
void sy_fcgi_handle(FCGX_Request *fr, sy_ctx_t *ctx);

#endif
