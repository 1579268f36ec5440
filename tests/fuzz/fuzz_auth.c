/* The request credentials (src/sy_auth.c) and what is read from them
 * before the tokenserver call (src/sy_credentials.c: the expiry of a JWT or
 * BrowserID assertion, the cache key). Input: the bucket id on the first
 * line, then header lines (Authorization, Backend-Authorization, X-KeyID,
 * X-Client-State).
 *
 * Invariants: a success carries a non-empty visible-ASCII credential of at
 * most 32 KiB, a 32-lowercase-hex client state, for Bearer the key id whose
 * client state is the bucket's, BrowserID only when enabled; a failure
 * carries one of the documented 401 messages; the cache key has its fixed
 * shape; an expiry is -1 (none) or a time at or after the epoch. */
#include "fuzz_util.h"

#include <sodium.h>

#include "syncto/sy_auth.h"
#include "syncto/sy_credentials.h"
#include "syncto/sy_crypto.h"

static const char *const messages[] = {
    SY_AUTH_MSG_MISSING_BID, SY_AUTH_MSG_MISSING_BEARER, SY_AUTH_MSG_MISSING_STATE,
    SY_AUTH_MSG_BAD_BUCKET,  SY_AUTH_MSG_BAD_STATE,      SY_AUTH_MSG_MISSING_KEYID,
    SY_AUTH_MSG_BAD_KEYID,   SY_AUTH_MSG_KEYID_MISMATCH, SY_AUTH_MSG_MALFORMED,
};

static bool lower_hex32(const char *s)
{
    if (s == NULL || strlen(s) != 32)
        return false;
    for (size_t i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void check_key_id(const char *kid)
{
    char cs[33];

    memset(cs, 'x', sizeof(cs));
    if (sy_auth_key_id_client_state(kid, cs) == SY_OK)
        FUZZ_CHECK(cs[32] == '\0' && lower_hex32(cs));
}

static void check_parse(sy_pool_t *pool, const sy_kvlist_t *h, const char *bucket, bool bid)
{
    sy_auth_t a;
    const char *msg = "unset";
    sy_rc_t rc = sy_auth_parse(pool, h, bucket, bid, &a, &msg);

    if (rc != SY_OK) {
        FUZZ_CHECK(rc == SY_ERR_INVALID);
        FUZZ_CHECK(fuzz_one_of(msg, messages, sizeof(messages) / sizeof(messages[0])));
        return;
    }
    FUZZ_CHECK(msg == NULL);
    FUZZ_CHECK(a.kind == SY_AUTH_BEARER || (bid && a.kind == SY_AUTH_BROWSERID));
    FUZZ_CHECK(a.credential != NULL);
    {
        size_t n = strlen(a.credential);

        FUZZ_CHECK(n > 0 && n <= (size_t)32 * 1024);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK((unsigned char)a.credential[i] > 0x20 &&
                       (unsigned char)a.credential[i] < 0x7f);
    }
    FUZZ_CHECK(lower_hex32(a.client_state));
    FUZZ_CHECK(a.client_state_header == (sy_kv_get(h, "x-client-state") != NULL));
    if (a.kind == SY_AUTH_BEARER) {
        char cs[33];

        FUZZ_CHECK(a.key_id != NULL);
        FUZZ_CHECK(sy_auth_key_id_client_state(a.key_id, cs) == SY_OK);
        FUZZ_CHECK(strcmp(cs, a.client_state) == 0);
    } else {
        FUZZ_CHECK(a.key_id == NULL);
    }

    /* what sy_credentials_get computes next */
    {
        char key[SY_CREDENTIALS_KEY_LEN + 1];

        FUZZ_CHECK(sy_credentials_expiry_ms(&a) >= -1);
        memset(key, 'x', sizeof(key));
        sy_credentials_cache_key("secret", &a, key);
        FUZZ_CHECK(key[SY_CREDENTIALS_KEY_LEN] == '\0');
        FUZZ_CHECK(strncmp(key, SY_CREDENTIALS_KEY_PREFIX, strlen(SY_CREDENTIALS_KEY_PREFIX)) == 0);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sy_pool_t *pool = sy_pool_new(0);
    fuzz_part_t first, rest;
    sy_kvlist_t h = {0};
    const char *bucket;

    fuzz_cut((const char *)data, size, '\n', &first, &rest);
    bucket = fuzz_str(pool, first);
    fuzz_headers(pool, rest, &h);
    check_parse(pool, &h, bucket, true);
    check_parse(pool, &h, bucket, false);

    /* The readers on raw text too, without the header checks in front:
     * the bucket line as a key id, and as a credential of either kind. */
    check_key_id(bucket);
    {
        sy_auth_t raw;

        memset(&raw, 0, sizeof(raw));
        raw.credential = bucket;
        raw.kind = SY_AUTH_BROWSERID;
        FUZZ_CHECK(sy_credentials_expiry_ms(&raw) >= -1);
        raw.kind = SY_AUTH_BEARER;
        FUZZ_CHECK(sy_credentials_expiry_ms(&raw) >= -1);
    }
    sy_pool_free(pool);
    return 0;
}
