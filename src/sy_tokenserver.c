/* Tokenserver client. */
#include "syncto/sy_tokenserver.h"

#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncto/sy_backoff.h"
#include "syncto/sy_json.h"
#include "syncto/sy_log.h"
#include "syncto/sy_statsd.h"
#include "syncto/sy_sync.h"
#include "syncto/sy_ts.h"
#include "sy_version.h"

/* The tokenserver's answer is a small JSON object. */
#define TOKEN_BODY_MAX ((size_t)64 * 1024)

static long ms_of(double seconds, long fallback)
{
    if (seconds <= 0)
        return fallback;
    return (long)(seconds * 1000.0 + 0.5);
}

/* Visible ASCII without '"' and '\\': safe inside a quoted Hawk attribute. */
static bool hawk_safe(const char *s)
{
    if (s == NULL || *s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\')
            return false;
    return true;
}

static const char *string_field(json_object *o, const char *name)
{
    json_object *v;

    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

sy_rc_t sy_token_parse(sy_pool_t *pool, const char *json, size_t len, sy_token_t *out)
{
    json_tokener *tok;
    json_object *o = NULL, *v;
    const char *id, *key, *endpoint, *hashed;
    sy_url_t url;
    sy_rc_t rc = SY_ERR_UPSTREAM;
    size_t elen;

    memset(out, 0, sizeof(*out));
    if (json == NULL || len == 0 || len > TOKEN_BODY_MAX)
        return SY_ERR_UPSTREAM;
    if (!sy_json_utf8_valid((const unsigned char *)json, len))
        return SY_ERR_UPSTREAM; /* JSON text is UTF-8 (sy_json_parse_pool) */
    /* The answer holds the Hawk id and key: see sy_json.h. */
    tok = sy_json_tokener_new_secret(len);
    o = json_tokener_parse_ex(tok, json, (int)len);
    if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object))
        goto done;

    id = string_field(o, "id");
    key = string_field(o, "key");
    endpoint = string_field(o, "api_endpoint");
    if (!hawk_safe(id) || !hawk_safe(key) || endpoint == NULL)
        goto done;
    if (sy_http_parse_url(pool, endpoint, &url) != SY_OK)
        goto done;
    elen = strlen(endpoint);
    while (elen > 0 && endpoint[elen - 1] == '/')
        elen--;

    out->id = sy_auth_secret_dup(pool, id, strlen(id));
    out->key = sy_auth_secret_dup(pool, key, strlen(key));
    out->api_endpoint = sy_pstrndup(pool, endpoint, elen);
    out->uid = "";
    if (json_object_object_get_ex(o, "uid", &v)) {
        if (json_object_is_type(v, json_type_int))
            out->uid = sy_psprintf(pool, "%lld", (long long)json_object_get_int64(v));
        else if (json_object_is_type(v, json_type_string))
            out->uid = sy_pstrdup(pool, json_object_get_string(v));
    }
    if (json_object_object_get_ex(o, "duration", &v) &&
        (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))) {
        int64_t d = json_object_get_int64(v);

        out->duration = d > 0 && d < 100L * 86400 ? (long)d : 0;
    }
    hashed = string_field(o, "hashed_fxa_uid");
    out->hashed_fxa_uid = hashed != NULL && hawk_safe(hashed) ? sy_pstrdup(pool, hashed) : "";
    out->json = sy_auth_secret_dup(pool, json, len);
    out->json_len = len;
    rc = SY_OK;
done:
    sy_json_put_secret(o);
    sy_json_tokener_free_secret(tok);
    return rc;
}

static char *base_without_slash(sy_pool_t *pool, const char *base)
{
    size_t n = strlen(base);

    while (n > 0 && base[n - 1] == '/')
        n--;
    return sy_pstrndup(pool, base, n);
}

char *sy_tokenserver_token_url(sy_pool_t *pool, const char *base, long duration)
{
    char *b = base_without_slash(pool, base);

    if (duration > 0)
        return sy_psprintf(pool, "%s/1.0/sync/1.5?duration=%ld", b, duration);
    return sy_psprintf(pool, "%s/1.0/sync/1.5", b);
}

static const char *host_of(sy_pool_t *pool, const char *url)
{
    sy_url_t u;

    if (sy_http_parse_url(pool, url, &u) != SY_OK)
        return NULL;
    return u.authority;
}

sy_rc_t sy_tokenserver_fetch(sy_ctx_t *ctx, sy_pool_t *pool, const sy_auth_t *auth, long duration,
                             sy_token_t *tok, sy_http_resp_t *resp)
{
    const sy_settings_t *s = ctx->settings;
    sy_kvlist_t headers = {0};
    sy_http_req_t req = {0};
    const char *scheme = auth->kind == SY_AUTH_BROWSERID ? "BrowserID" : "Bearer";
    const char *ts;
    char *authz;
    size_t alen;
    int64_t server_ms, started = sy_ts_now_ms();
    sy_rc_t rc;

    memset(tok, 0, sizeof(*tok));
    alen = strlen(scheme) + 1 + strlen(auth->credential);
    authz = sy_auth_secret_alloc(pool, alen);
    snprintf(authz, alen + 1, "%s %s", scheme, auth->credential);
    sy_kv_add(pool, &headers, "Authorization", authz);
    if (auth->kind == SY_AUTH_BROWSERID) {
        sy_kv_add(pool, &headers, "X-Client-State", auth->client_state);
    } else {
        sy_kv_add(pool, &headers, "X-KeyID", auth->key_id);
        if (auth->client_state_header)
            sy_kv_add(pool, &headers, "X-Client-State", auth->client_state);
    }
    sy_kv_add(pool, &headers, "Accept", "application/json");
    sy_kv_add(pool, &headers, "User-Agent", "Syncto/" SY_VERSION);

    req.method = "GET";
    req.url = sy_tokenserver_token_url(pool, s->token_server_url, duration);
    req.headers = &headers;
    req.connect_timeout_ms = ms_of(s->token_server_connect_timeout_seconds, 5000);
    req.timeout_ms = ms_of(s->token_server_timeout_seconds, 10000);
    req.max_response_bytes = TOKEN_BODY_MAX;

    rc = sy_http_perform(sy_http_of(ctx), pool, &req, resp);
    sy_statsd_timing("tokenserver.tokenserverclient.get_hawk_credentials",
                     (double)(sy_ts_now_ms() - started));
    sy_req_note_upstream(ctx, (double)(sy_ts_now_ms() - started), 1);
    if (rc != SY_OK) {
        sy_log_ctx_warn(ctx, "tokenserver unreachable: %s",
                        resp->error != NULL ? resp->error : sy_rc_str(rc));
        return rc;
    }
    sy_backoff_note(ctx, host_of(pool, s->token_server_url), resp->status, &resp->headers);
    ts = sy_kv_get(&resp->headers, "x-timestamp");
    if (ts != NULL && sy_ts_parse_sync(ts, &server_ms))
        sy_sync_clock_learn(server_ms, sy_ts_now_ms());
    if (resp->status != 200) {
        sy_log_ctx_info(ctx, "tokenserver answered %d", resp->status);
        return SY_ERR_UPSTREAM;
    }
    rc = sy_token_parse(pool, resp->body, resp->body_len, tok);
    /* The raw body holds the key: the parsed copy is wiped at pool reset, the
     * response buffer now. */
    sodium_memzero(resp->body, resp->body_len);
    resp->body[0] = '\0';
    resp->body_len = 0;
    if (rc != SY_OK)
        sy_log_ctx_warn(ctx, "tokenserver answered 200 with an unusable body");
    return rc;
}

bool sy_tokenserver_heartbeat(sy_ctx_t *ctx)
{
    const sy_settings_t *s = ctx->settings;
    sy_pool_t *own = ctx->pool == NULL ? sy_pool_new(4096) : NULL;
    sy_pool_t *pool = own != NULL ? own : ctx->pool;
    sy_http_req_t req = {0};
    sy_http_resp_t resp;
    sy_kvlist_t headers = {0};
    json_object *o, *st;
    bool ok;
    long timeout = ms_of(s->token_server_heartbeat_timeout_seconds, 5000);

    sy_kv_add(pool, &headers, "Accept", "application/json");
    sy_kv_add(pool, &headers, "User-Agent", "Syncto/" SY_VERSION);
    req.method = "GET";
    req.url = sy_psprintf(pool, "%s/__heartbeat__", base_without_slash(pool, s->token_server_url));
    req.headers = &headers;
    req.connect_timeout_ms = timeout;
    req.timeout_ms = timeout;
    req.max_response_bytes = TOKEN_BODY_MAX;
    int64_t started = sy_ts_now_ms();
    sy_rc_t rc = sy_http_perform(sy_http_of(ctx), pool, &req, &resp);

    sy_req_note_upstream(ctx, (double)(sy_ts_now_ms() - started), 1);
    if (rc != SY_OK || resp.status != 200) {
        ok = false;
    } else {
        /* rs answers 200 with "status":"Err" when its database check fails. */
        o = json_tokener_parse(resp.body);
        if (o == NULL || !json_object_is_type(o, json_type_object))
            ok = true;
        else
            ok = json_object_object_get_ex(o, "status", &st) &&
                 json_object_is_type(st, json_type_string) &&
                 strcmp(json_object_get_string(st), "Ok") == 0;
        json_object_put(o);
    }
    sy_pool_free(own);
    return ok;
}
