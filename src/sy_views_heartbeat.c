/* GET /v1/__heartbeat__: {"cache": <PostgreSQL ok>, "sync": <tokenserver ok>},
 * 200 when both are true, else 503.
 *
 * The two checks run one after the other; each is bounded (the cache by its
 * connect and statement timeouts, the tokenserver by
 * token_server_heartbeat_timeout_seconds), so the whole answer never takes
 * longer than their sum, and an unreachable dependency reads as false rather
 * than as an error. */
#include <json-c/json.h>

#include "syncto/sy_cache.h"
#include "syncto/sy_ctx.h"
#include "syncto/sy_json.h"
#include "syncto/sy_tokenserver.h"
#include "syncto/sy_views.h"

void sy_view_heartbeat(sy_request_t *req, sy_response_t *resp)
{
    sy_ctx_t *ctx = req->ctx;
    bool cache_ok = false, sync_ok = false;
    json_object *o;

    if (ctx != NULL) {
        cache_ok = ctx->cache != NULL && sy_cache_ping(ctx->cache, ctx);
        sync_ok = ctx->settings != NULL && sy_tokenserver_heartbeat(ctx);
    }
    o = sy_json_must(json_object_new_object());
    json_object_object_add(o, "cache", sy_json_must(json_object_new_boolean(cache_ok)));
    json_object_object_add(o, "sync", sy_json_must(json_object_new_boolean(sync_ok)));
    sy_resp_json(req, resp, cache_ok && sync_ok ? 200 : 503, o);
}
