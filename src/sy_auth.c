/* Kinto request credentials -> what the tokenserver needs.
 *
 * Why the checks are done here and not left to the tokenserver: the client
 * state selects the cache encryption key and is part of the cache key, so it
 * must be exactly the one the tokenserver will vouch for. With X-KeyID the
 * tokenserver derives the client state from the key id, hence the key id must
 * name the same client state as the bucket (the tokenserver would refuse a
 * mismatching X-Client-State anyway). */
#include "syncto/sy_auth.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "syncto/sy_crypto.h"
#include "syncto/sy_ctx.h"
#include "syncto/sy_settings.h"
#include "sy_version.h"

/* BrowserID assertions are a few KB; OAuth tokens are smaller. */
#define CREDENTIAL_MAX ((size_t)32 * 1024)
#define KEY_ID_MAX 128

static const char client_state_alert[] =
    "{\"code\":\"soft-eol\",\"message\":\"" SY_AUTH_CLIENT_STATE_ALERT_MSG
    "\",\"url\":\"" SY_PROJECT_DOCS "\"}";

typedef struct {
    char *s;
    size_t len;
} secret_t;

static void wipe_secret(void *data)
{
    secret_t *sec = data;

    sodium_memzero(sec->s, sec->len);
}

char *sy_auth_secret_alloc(sy_pool_t *pool, size_t n)
{
    secret_t *sec = sy_palloc(pool, sizeof(*sec));

    sec->s = sy_pcalloc(pool, n + 1);
    sec->len = n + 1;
    sy_pool_cleanup_add(pool, wipe_secret, sec);
    return sec->s;
}

char *sy_auth_secret_dup(sy_pool_t *pool, const char *s, size_t n)
{
    char *p = sy_auth_secret_alloc(pool, n);

    if (n > 0)
        memcpy(p, s, n);
    return p;
}

static bool is_hex32(const char *s)
{
    size_t i;

    for (i = 0; i < 32; i++) {
        char c = s[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return s[32] == '\0';
}

static char *lower_dup(sy_pool_t *pool, const char *s)
{
    char *p = sy_pstrdup(pool, s);
    size_t i;

    for (i = 0; p[i] != '\0'; i++)
        if (p[i] >= 'A' && p[i] <= 'Z')
            p[i] = (char)(p[i] - 'A' + 'a');
    return p;
}

/* Visible ASCII only: these values are copied into upstream headers. */
static bool is_token_text(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

sy_rc_t sy_auth_key_id_client_state(const char *key_id, char out[33])
{
    const char *dash;
    size_t ndigits, i;
    uint8_t raw[32];
    long n;

    if (key_id == NULL)
        return SY_ERR_INVALID;
    dash = strchr(key_id, '-');
    if (dash == NULL)
        return SY_ERR_INVALID;
    ndigits = (size_t)(dash - key_id);
    if (ndigits == 0 || ndigits > 19)
        return SY_ERR_INVALID;
    for (i = 0; i < ndigits; i++)
        if (key_id[i] < '0' || key_id[i] > '9')
            return SY_ERR_INVALID;
    /* The tokenserver decodes the part without padding and refuses '='. */
    if (dash[1] == '\0' || strchr(dash + 1, '=') != NULL)
        return SY_ERR_INVALID;
    n = sy_b64url_decode(dash + 1, raw, sizeof(raw));
    if (n != 16)
        return SY_ERR_INVALID;
    sodium_bin2hex(out, 33, raw, 16);
    return SY_OK;
}

sy_rc_t sy_auth_parse(sy_pool_t *pool, const sy_kvlist_t *headers, const char *bucket_id,
                      bool browserid_enabled, sy_auth_t *out, const char **message)
{
    const char *hdr, *scheme, *p, *end, *xcs, *kid;
    const char *missing = browserid_enabled ? SY_AUTH_MSG_MISSING_BID : SY_AUTH_MSG_MISSING_BEARER;
    size_t scheme_len;
    char kid_state[33];

    memset(out, 0, sizeof(*out));
    *message = NULL;

    hdr = sy_kv_get(headers, "backend-authorization");
    if (hdr == NULL)
        hdr = sy_kv_get(headers, "authorization");
    if (hdr == NULL)
        goto missing;

    /* "<scheme> <credential>", scheme case-insensitive, split at the first
     * run of spaces. */
    p = hdr;
    while (*p == ' ' || *p == '\t')
        p++;
    scheme = p;
    while (*p != '\0' && *p != ' ' && *p != '\t')
        p++;
    scheme_len = (size_t)(p - scheme);
    while (*p == ' ' || *p == '\t')
        p++;
    end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (scheme_len == 0 || end == p)
        goto missing;
    if (scheme_len == 6 && strncasecmp(scheme, "bearer", 6) == 0)
        out->kind = SY_AUTH_BEARER;
    else if (browserid_enabled && scheme_len == 9 && strncasecmp(scheme, "browserid", 9) == 0)
        out->kind = SY_AUTH_BROWSERID;
    else
        goto missing;
    if ((size_t)(end - p) > CREDENTIAL_MAX || !is_token_text(p, (size_t)(end - p))) {
        *message = SY_AUTH_MSG_MALFORMED;
        return SY_ERR_INVALID;
    }

    /* Client state: the bucket id itself, or X-Client-State with "syncto". */
    xcs = sy_kv_get(headers, "x-client-state");
    out->client_state_header = xcs != NULL;
    if (bucket_id != NULL && strcmp(bucket_id, "syncto") == 0) {
        if (xcs == NULL) {
            *message = SY_AUTH_MSG_MISSING_STATE;
            return SY_ERR_INVALID;
        }
        if (!is_hex32(xcs)) {
            *message = SY_AUTH_MSG_BAD_STATE;
            return SY_ERR_INVALID;
        }
        out->client_state = lower_dup(pool, xcs);
    } else if (bucket_id != NULL && is_hex32(bucket_id)) {
        out->client_state = lower_dup(pool, bucket_id);
    } else {
        *message = SY_AUTH_MSG_BAD_BUCKET;
        return SY_ERR_INVALID;
    }

    if (out->kind == SY_AUTH_BEARER) {
        kid = sy_kv_get(headers, "x-keyid");
        if (kid == NULL || kid[0] == '\0') {
            *message = SY_AUTH_MSG_MISSING_KEYID;
            return SY_ERR_INVALID;
        }
        if (strlen(kid) > KEY_ID_MAX || !is_token_text(kid, strlen(kid)) ||
            sy_auth_key_id_client_state(kid, kid_state) != SY_OK) {
            *message = SY_AUTH_MSG_BAD_KEYID;
            return SY_ERR_INVALID;
        }
        if (strcmp(kid_state, out->client_state) != 0) {
            *message = SY_AUTH_MSG_KEYID_MISMATCH;
            return SY_ERR_INVALID;
        }
        out->key_id = sy_pstrdup(pool, kid);
    }
    out->credential = sy_auth_secret_dup(pool, p, (size_t)(end - p));
    return SY_OK;

missing:
    memset(out, 0, sizeof(*out));
    *message = missing;
    return SY_ERR_INVALID;
}

sy_rc_t sy_auth_from_request(sy_request_t *req, sy_response_t *resp, sy_auth_t *out)
{
    const char *message = NULL;
    const char *bucket = req->nparams > 0 ? req->params[0] : NULL;
    bool bid = true;
    sy_rc_t rc;

    if (req->ctx != NULL && req->ctx->settings != NULL)
        bid = req->ctx->settings->browserid_enabled;
    if (sy_req_header(req, "x-client-state") != NULL)
        sy_resp_set_header(req, resp, "Alert", client_state_alert);
    rc = sy_auth_parse(req->pool, &req->headers, bucket, bid, out, &message);
    if (rc != SY_OK)
        sy_resp_error(req, resp, 401, SY_ERRNO_MISSING_AUTH_TOKEN, message, NULL);
    return rc;
}
