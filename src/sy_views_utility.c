/* Utility endpoints: they need no authentication and never call upstream. */
#include "syncto/sy_ctx.h"
#include "syncto/sy_json.h"
#include "sy_version.h"
#include "syncto/sy_views.h"

#define DEFAULT_BATCH_MAX 25

static void add_str(json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key,
                           sy_json_must(json_object_new_string(value != NULL ? value : "")));
}

void sy_view_hello(sy_request_t *req, sy_response_t *resp)
{
    const sy_settings_t *s = req->ctx != NULL ? req->ctx->settings : NULL;
    int batch_max = s != NULL ? s->batch_max_requests : DEFAULT_BATCH_MAX;
    json_object *o = sy_json_must(json_object_new_object());
    json_object *settings = sy_json_must(json_object_new_object());

    add_str(o, "project_name", "syncto");
    add_str(o, "project_version", SY_VERSION);
    add_str(o, "project_docs", SY_PROJECT_DOCS);
    add_str(o, "http_api_version", SY_HTTP_API_VERSION);
    add_str(o, "cliquet_protocol_version", "2");
    add_str(o, "url", sy_req_public_url(req, "/v1/"));
    if (s != NULL && s->eos != NULL && s->eos[0] != '\0')
        add_str(o, "eos", s->eos);
    /* kinto-http splits its batches by batch_max_requests; the cliquet
     * spelling is what the original clients read. */
    json_object_object_add(settings, "batch_max_requests",
                           sy_json_must(json_object_new_int(batch_max)));
    json_object_object_add(settings, "cliquet.batch_max_requests",
                           sy_json_must(json_object_new_int(batch_max)));
    json_object_object_add(settings, "readonly",
                           sy_json_must(json_object_new_boolean(s != NULL && s->readonly)));
    json_object_object_add(o, "settings", settings);
    /* Must be an object: clients test capabilities with the "in" operator.
     * Nothing is advertised (no history, attachments or accounts). */
    json_object_object_add(o, "capabilities", sy_json_must(json_object_new_object()));
    sy_resp_json(req, resp, 200, o);
}

void sy_view_lbheartbeat(sy_request_t *req, sy_response_t *resp)
{
    sy_resp_json(req, resp, 200, sy_json_must(json_object_new_object()));
}

void sy_view_version(sy_request_t *req, sy_response_t *resp)
{
    json_object *o = sy_json_must(json_object_new_object());

    add_str(o, "name", "syncto");
    add_str(o, "version", SY_VERSION);
    add_str(o, "commit", SY_GIT_COMMIT);
    add_str(o, "source", SY_SOURCE_URL);
    sy_resp_json(req, resp, 200, o);
}

void sy_view_fxa_params(sy_request_t *req, sy_response_t *resp)
{
    const sy_settings_t *s = req->ctx != NULL ? req->ctx->settings : NULL;
    json_object *o = sy_json_must(json_object_new_object());

    add_str(o, "client_id", s != NULL ? s->fxa_oauth_client_id : NULL);
    add_str(o, "oauth_uri", s != NULL ? s->fxa_oauth_uri : NULL);
    add_str(o, "scope", s != NULL ? s->fxa_oauth_scope : NULL);
    sy_resp_json(req, resp, 200, o);
}
