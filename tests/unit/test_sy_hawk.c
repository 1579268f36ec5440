/* Unit tests for src/sy_hawk.c against the verified vectors of
 * the published Hawk and Sync test vectors: (a) the Hawk spec GET with ext, (b) the
 * payload hash and the POST with hash, (c) the syncstorage-rs fixture GET
 * and POST with a query string, (d) the Syncto-shaped examples A, A2, B, C. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "syncto/sy_crypto.h"
#include "syncto/sy_hawk.h"

/* Token id and derived key of the syncstorage-rs auth fixture (its payload
 * decodes to uid 1, node http://localhost:5000, salt 2b307b). */
#define RS_ID                                                                                      \
    "eyJ1aWQiOiAxLCAibm9kZSI6ICJodHRwOi8vbG9jYWxob3N0OjUwMDAiLCAiZXhwaXJlcyI6IDE4ODQ5Njg0MzkuMCwg" \
    "ImZ4YV91aWQiOiAiMzE5Yjk4Zjk5NjFmZjFkYmRkMDczMTNjZDZiYTkyNWEiLCAiZnhhX2tpZCI6ICJkZTY5N2FkNjZk" \
    "ODQ1YjI4NzNjOWQ3ZTEzYjg5NzFhZiIsICJoYXNoZWRfZnhhX3VpZCI6ICIwZThkZjVkNDEzOThhMzg5OTEzYmQ4NDAy" \
    "NDM1NjQ5NTE4YWY0NjQ5M2RhMWQ0YTQzN2E0NmRjMTc4NGM1MDFhIiwgImhhc2hlZF9kZXZpY2VfaWQiOiAiMmJjYjky" \
    "ZjRkNDY5OGMzZDdiMDgzYTNjNjk4YTE2Y2NkNzhiYzJhOGQyMGE5NmU0YmIxMjhkZGNlYWY0ZTBiNiIsICJzYWx0Ijog" \
    "IjJiMzA3YiJ9lXaC5pIOenf7qL1AWlgKFvYH63nakyniTXP-7acS5cw="
#define RS_KEY "dSi3EoZyHwgDp-O9OG1jRHtmbGl2M1bwcWsi04C4F58="

#define SPEC_KEY "werxhqb98rpaxn39848xrunpaw3489ruxnpa98w4rxn"
#define SPEC_ID "dh37fgj492je"

#define EMPTY_HASH "B0weSUXsMcb5UhL41FZbrUJCAotzSI3HawE1NPLRUz8="

/* The 90-byte PUT body of example B. */
static const char body_b[] =
    "{\"payload\": \"{\\\"ciphertext\\\":\\\"abc\\\",\\\"IV\\\":\\\"def\\\",\\\"hmac\\\":"
    "\\\"012\\\"}\", \"sortindex\": 2000}";

static int setup(void **state)
{
    return sodium_init() < 0 ? -1 : 0;
}

/* How a row's hash line comes about. */
enum hash_mode {
    H_NONE,      /* no Content-Type: no hash attribute */
    H_FROM_CT,   /* sy_hawk_header hashes content_type + body */
    H_EMPTY_BODY /* requests-hawk style: hash of an empty body, signed
                  * through sy_hawk_normalized only (the header API sends no
                  * hash without a Content-Type) */
};

struct vector {
    const char *name;
    const char *id;
    const char *key;
    const char *method;
    const char *resource;
    const char *host;
    int port;
    long long ts;
    const char *nonce;
    const char *ext;
    const char *content_type;
    const char *body;
    enum hash_mode mode;
    const char *normalized;
    const char *hash; /* expected hash line, NULL = none */
    const char *mac;
    const char *header; /* expected full header, NULL = built from the parts */
};

static const struct vector vectors[] = {
    /* (a) Hawk spec vector (hawkauthlib test_signatures), with ext */
    {"a: spec GET with ext", SPEC_ID, SPEC_KEY, "GET", "/resource/1?b=1&a=2", "example.com", 8000,
     1353832234, "j4h3g2", "some-app-ext-data", NULL, NULL, H_NONE,
     "hawk.1.header\n1353832234\nj4h3g2\nGET\n/resource/1?b=1&a=2\nexample.com\n8000\n\n"
     "some-app-ext-data\n",
     NULL, "6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE=",
     "Hawk id=\"" SPEC_ID "\", ts=\"1353832234\", nonce=\"j4h3g2\", ext=\"some-app-ext-data\", "
     "mac=\"6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE=\""},
    /* (b) the same URL as a POST with a text/plain payload */
    {"b: spec POST with payload", SPEC_ID, SPEC_KEY, "POST", "/resource/1?b=1&a=2", "example.com",
     8000, 1353832234, "j4h3g2", "some-app-ext-data", "text/plain", "Thank you for flying Hawk",
     H_FROM_CT,
     "hawk.1.header\n1353832234\nj4h3g2\nPOST\n/resource/1?b=1&a=2\nexample.com\n8000\n"
     "Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY=\nsome-app-ext-data\n",
     "Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY=", "aSe1DERmZuRl3pI36/9BdZmnErTw3sNzOOAUlfeKjVw=",
     "Hawk id=\"" SPEC_ID "\", ts=\"1353832234\", nonce=\"j4h3g2\", "
     "hash=\"Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY=\", ext=\"some-app-ext-data\", "
     "mac=\"aSe1DERmZuRl3pI36/9BdZmnErTw3sNzOOAUlfeKjVw=\""},
    /* (b) the Content-Type's case and parameters do not change anything */
    {"b: content type case and params", SPEC_ID, SPEC_KEY, "POST", "/resource/1?b=1&a=2",
     "example.com", 8000, 1353832234, "j4h3g2", "some-app-ext-data", "Text/Plain; charset=utf-8",
     "Thank you for flying Hawk", H_FROM_CT,
     "hawk.1.header\n1353832234\nj4h3g2\nPOST\n/resource/1?b=1&a=2\nexample.com\n8000\n"
     "Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY=\nsome-app-ext-data\n",
     "Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY=", "aSe1DERmZuRl3pI36/9BdZmnErTw3sNzOOAUlfeKjVw=",
     NULL},
    /* (c) syncstorage-rs fixture, GET */
    {"c: rs fixture GET", RS_ID, RS_KEY, "GET", "/storage/1.5/1/storage/col2", "localhost", 5000,
     1569608439, "h1Ch4vo=", NULL, NULL, NULL, H_NONE,
     "hawk.1.header\n1569608439\nh1Ch4vo=\nGET\n/storage/1.5/1/storage/col2\nlocalhost\n5000\n\n\n",
     NULL, "UwDpC+DSrHCSTQSfMOWlueB6kM6gHb0Hsv8eU9ZcTVs=",
     "Hawk id=\"" RS_ID "\", ts=\"1569608439\", nonce=\"h1Ch4vo=\", "
     "mac=\"UwDpC+DSrHCSTQSfMOWlueB6kM6gHb0Hsv8eU9ZcTVs=\""},
    /* (c) syncstorage-rs fixture, POST with a query string, no hash */
    {"c: rs fixture POST with query", RS_ID, RS_KEY, "POST",
     "/storage/1.5/1/storage/col2?batch=MTUzNjE5ODk3NjkyMQ==&commit=true", "localhost", 5000,
     1569608439, "4Rj7c+0=", NULL, NULL, NULL, H_NONE,
     "hawk.1.header\n1569608439\n4Rj7c+0=\nPOST\n"
     "/storage/1.5/1/storage/col2?batch=MTUzNjE5ODk3NjkyMQ==&commit=true\nlocalhost\n5000\n\n\n",
     NULL, "E7j1UjN7//mh7pYXsgGi3n0KGR+sUPpuyogDVzJWaHg=", NULL},
    /* (d) A: Syncto-shaped GET, no hash */
    {"d: A", RS_ID, RS_KEY, "GET",
     "/1.5/1/storage/history?full=1&newer=1441868927.07&sort=newest&limit=2", "localhost", 5000,
     1700000000, "Xy3k9Q", NULL, NULL, NULL, H_NONE,
     "hawk.1.header\n1700000000\nXy3k9Q\nGET\n"
     "/1.5/1/storage/history?full=1&newer=1441868927.07&sort=newest&limit=2\nlocalhost\n5000\n\n\n",
     NULL, "Mx+scUz024k/8b2NDpzxguqHHMkD1duXNdC4HyolZBQ=", NULL},
    /* (d) A2: the same with the empty-body hash requests-hawk sent */
    {"d: A2", RS_ID, RS_KEY, "GET",
     "/1.5/1/storage/history?full=1&newer=1441868927.07&sort=newest&limit=2", "localhost", 5000,
     1700000000, "Xy3k9Q", NULL, NULL, NULL, H_EMPTY_BODY,
     "hawk.1.header\n1700000000\nXy3k9Q\nGET\n"
     "/1.5/1/storage/"
     "history?full=1&newer=1441868927.07&sort=newest&limit=2\nlocalhost\n5000\n" EMPTY_HASH "\n\n",
     EMPTY_HASH, "KhaNUQzmY/3LtLwEcYH//rPPpB6PLDH9aHQjBOC2PWo=", NULL},
    /* (d) B: PUT with a JSON body; the full header is checked */
    {"d: B", RS_ID, RS_KEY, "PUT", "/1.5/1/storage/history/d2X1O6-DyeFS", "localhost", 5000,
     1700000000, "Xy3k9Q", NULL, "application/json; charset=utf-8", body_b, H_FROM_CT,
     "hawk.1.header\n1700000000\nXy3k9Q\nPUT\n/1.5/1/storage/history/"
     "d2X1O6-DyeFS\nlocalhost\n5000\n"
     "f4V2T0cAesvH+BYV8hYwa3oJrvdzhPWwCbl9tZvexxc=\n\n",
     "f4V2T0cAesvH+BYV8hYwa3oJrvdzhPWwCbl9tZvexxc=", "nor9RhTVV+bPcFpa3WS6xQ4jpxNlVykmgKMF5t6dG8E=",
     "Hawk id=\"" RS_ID "\", ts=\"1700000000\", nonce=\"Xy3k9Q\", "
     "hash=\"f4V2T0cAesvH+BYV8hYwa3oJrvdzhPWwCbl9tZvexxc=\", "
     "mac=\"nor9RhTVV+bPcFpa3WS6xQ4jpxNlVykmgKMF5t6dG8E=\""},
    /* (d) C: mixed-case host is lowercased, default https port */
    {"d: C", RS_ID, RS_KEY, "GET", "/1.5/1/storage/history/d2X1O6-DyeFS",
     "Sync-1-US-West1-g.sync.services.mozilla.com", 443, 1700000000, "Xy3k9Q", NULL, NULL, NULL,
     H_NONE,
     "hawk.1.header\n1700000000\nXy3k9Q\nGET\n/1.5/1/storage/history/d2X1O6-DyeFS\n"
     "sync-1-us-west1-g.sync.services.mozilla.com\n443\n\n\n",
     NULL, "Q9RVMheXUHGdMK7xANusdTR0F4Ghn4SjIazXg381XgA=", NULL},
    /* a lowercase method is signed uppercase (same MAC as A) */
    {"lowercase method", RS_ID, RS_KEY, "get",
     "/1.5/1/storage/history?full=1&newer=1441868927.07&sort=newest&limit=2", "localhost", 5000,
     1700000000, "Xy3k9Q", NULL, NULL, NULL, H_NONE,
     "hawk.1.header\n1700000000\nXy3k9Q\nGET\n"
     "/1.5/1/storage/history?full=1&newer=1441868927.07&sort=newest&limit=2\nlocalhost\n5000\n\n\n",
     NULL, "Mx+scUz024k/8b2NDpzxguqHHMkD1duXNdC4HyolZBQ=", NULL},
    /* an empty ext is the same as none (same MAC as A, no ext attribute) */
    {"empty ext", RS_ID, RS_KEY, "GET",
     "/1.5/1/storage/history?full=1&newer=1441868927.07&sort=newest&limit=2", "localhost", 5000,
     1700000000, "Xy3k9Q", "", NULL, NULL, H_NONE,
     "hawk.1.header\n1700000000\nXy3k9Q\nGET\n"
     "/1.5/1/storage/history?full=1&newer=1441868927.07&sort=newest&limit=2\nlocalhost\n5000\n\n\n",
     NULL, "Mx+scUz024k/8b2NDpzxguqHHMkD1duXNdC4HyolZBQ=",
     "Hawk id=\"" RS_ID "\", ts=\"1700000000\", nonce=\"Xy3k9Q\", "
     "mac=\"Mx+scUz024k/8b2NDpzxguqHHMkD1duXNdC4HyolZBQ=\""},
};

static sy_hawk_req_t req_of(const struct vector *v)
{
    sy_hawk_req_t r;

    memset(&r, 0, sizeof(r));
    r.id = v->id;
    r.key = v->key;
    r.method = v->method;
    r.resource = v->resource;
    r.host = v->host;
    r.port = v->port;
    r.content_type = v->content_type;
    r.body = v->body;
    r.body_len = v->body != NULL ? strlen(v->body) : 0;
    r.ts = v->ts;
    r.nonce = v->nonce;
    r.ext = v->ext;
    return r;
}

/* base64(HMAC-SHA256(key, normalized)) */
static void mac_of(const char *key, const char *normalized, char out[45])
{
    uint8_t raw[32];
    char *b64;

    sy_hmac_sha256(key, strlen(key), normalized, strlen(normalized), raw);
    b64 = sy_b64_encode(raw, sizeof(raw));
    assert_non_null(b64);
    assert_int_equal(strlen(b64), 44);
    memcpy(out, b64, 45);
    free(b64);
}

static void test_vectors_normalized_and_mac(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vector *v = &vectors[i];
        sy_hawk_req_t r = req_of(v);
        char hash[45] = "";
        const char *hashp = NULL;
        char mac[45];
        char *norm;

        if (v->mode == H_FROM_CT) {
            sy_hawk_payload_hash(v->content_type, v->body, strlen(v->body), hash);
            hashp = hash;
        } else if (v->mode == H_EMPTY_BODY) {
            sy_hawk_payload_hash(NULL, NULL, 0, hash);
            hashp = hash;
        }
        if (v->hash != NULL) {
            assert_non_null(hashp);
            if (strcmp(hash, v->hash) != 0) {
                fail_msg("%s: hash %s, expected %s", v->name, hash, v->hash);
            }
        } else {
            assert_null(hashp);
        }

        norm = sy_hawk_normalized(&r, v->nonce, hashp);
        assert_non_null(norm);
        if (strcmp(norm, v->normalized) != 0) {
            fail_msg("%s: normalized string differs:\n%s", v->name, norm);
        }
        mac_of(v->key, norm, mac);
        if (strcmp(mac, v->mac) != 0) {
            fail_msg("%s: mac %s, expected %s", v->name, mac, v->mac);
        }
        free(norm);
    }
}

/* Builds `Hawk id, ts, nonce[, hash][, ext], mac` from a vector's parts. */
static void expected_header(const struct vector *v, char *out, size_t len)
{
    char ts[24];
    bool ext = v->ext != NULL && v->ext[0] != '\0';

    snprintf(ts, sizeof(ts), "%lld", v->ts);
    snprintf(out, len, "Hawk id=\"%s\", ts=\"%s\", nonce=\"%s\"%s%s%s%s%s%s, mac=\"%s\"", v->id, ts,
             v->nonce, v->hash != NULL ? ", hash=\"" : "", v->hash != NULL ? v->hash : "",
             v->hash != NULL ? "\"" : "", ext ? ", ext=\"" : "", ext ? v->ext : "", ext ? "\"" : "",
             v->mac);
}

static void test_vectors_header(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vector *v = &vectors[i];
        sy_hawk_req_t r = req_of(v);
        char want[2048], out[2048];

        if (v->mode == H_EMPTY_BODY) {
            continue; /* not expressible through the header API */
        }
        if (v->header != NULL) {
            snprintf(want, sizeof(want), "%s", v->header);
        } else {
            expected_header(v, want, sizeof(want));
        }
        memset(out, 'x', sizeof(out));
        if (sy_hawk_header(&r, out, sizeof(out)) != SY_OK) {
            fail_msg("%s: sy_hawk_header failed", v->name);
        }
        if (strcmp(out, want) != 0) {
            fail_msg("%s: header\n%s\nexpected\n%s", v->name, out, want);
        }
    }
}

/* The header layout of example B with the shortened id the spec prints. */
static void test_header_b_short_id(void **state)
{
    sy_hawk_req_t r = req_of(&vectors[7]);
    char out[512];

    assert_string_equal(vectors[7].name, "d: B");
    r.id = "eyJ1aWQiOiAx...S5cw=";
    assert_int_equal(sy_hawk_header(&r, out, sizeof(out)), SY_OK);
    assert_string_equal(out,
                        "Hawk id=\"eyJ1aWQiOiAx...S5cw=\", ts=\"1700000000\", "
                        "nonce=\"Xy3k9Q\", hash=\"f4V2T0cAesvH+BYV8hYwa3oJrvdzhPWwCbl9tZvexxc=\", "
                        "mac=\"nor9RhTVV+bPcFpa3WS6xQ4jpxNlVykmgKMF5t6dG8E=\"");
    /* the fixture id really is the one the spec abbreviates */
    assert_int_equal(strncmp(RS_ID, "eyJ1aWQiOiAx", 12), 0);
    assert_string_equal(RS_ID + strlen(RS_ID) - 5, "S5cw=");
}

struct hash_case {
    const char *ct;
    const char *body;
    size_t len;
    const char *hash;
};

static const struct hash_case hash_cases[] = {
    {"text/plain", "Thank you for flying Hawk", 25, "Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY="},
    {"Text/Plain; charset=utf-8", "Thank you for flying Hawk", 25,
     "Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY="},
    {"TEXT/PLAIN", "Thank you for flying Hawk", 25, "Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY="},
    {"  text/plain \t; charset=utf-8; q=1", "Thank you for flying Hawk", 25,
     "Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY="},
    {"\ttext/plain", "Thank you for flying Hawk", 25,
     "Yi9LfIIFRtBEPt74PVmbTF/xVAwPn7ub15ePICfgnuY="},
    {"application/json; charset=utf-8", body_b, sizeof(body_b) - 1,
     "f4V2T0cAesvH+BYV8hYwa3oJrvdzhPWwCbl9tZvexxc="},
    {"application/json", body_b, sizeof(body_b) - 1,
     "f4V2T0cAesvH+BYV8hYwa3oJrvdzhPWwCbl9tZvexxc="},
    {NULL, NULL, 0, EMPTY_HASH},
    {"", "", 0, EMPTY_HASH},
    {"; charset=utf-8", NULL, 0, EMPTY_HASH},
    /* longer than the internal chunk, folded to lowercase */
    {"Application/VND.example.very-long-subtype-name-that-exceeds-SIXTY-four-characters+json",
     "{\"a\":1}", 7, "yPdw2+XmdQZlZBFg7aF27UX69nQk5SgqZvhoGMxM20g="},
    /* the body is hashed by length, NUL bytes included */
    {"application/octet-stream", "a\0b", 3, "J9KjS6qDOt0EbJJx1kzTpUXeOlbvI/jLTpHwNXPOr9M="},
};

static void test_payload_hash_table(void **state)
{
    size_t i;

    assert_int_equal(sizeof(body_b) - 1, 90);
    for (i = 0; i < sizeof(hash_cases) / sizeof(hash_cases[0]); i++) {
        char out[45];

        memset(out, 'x', sizeof(out));
        sy_hawk_payload_hash(hash_cases[i].ct, hash_cases[i].body, hash_cases[i].len, out);
        if (strcmp(out, hash_cases[i].hash) != 0) {
            fail_msg("case %zu (%s): %s", i, hash_cases[i].ct ? hash_cases[i].ct : "NULL", out);
        }
    }
}

/* Extracts the value of attribute name="..." from a header. */
static void attr(const char *header, const char *name, char *out, size_t len)
{
    char pat[32];
    const char *p, *e;

    snprintf(pat, sizeof(pat), "%s=\"", name);
    p = strstr(header, pat);
    assert_non_null(p);
    p += strlen(pat);
    e = strchr(p, '"');
    assert_non_null(e);
    assert_true((size_t)(e - p) < len);
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
}

/* Without a nonce, 8 base64url chars are generated and signed. */
static void test_generated_nonce(void **state)
{
    sy_hawk_req_t r = req_of(&vectors[7]); /* B: with hash */
    char h1[1024], h2[1024], n1[16], n2[16], mac[64], want[45];
    const char *hashp = "f4V2T0cAesvH+BYV8hYwa3oJrvdzhPWwCbl9tZvexxc=";
    char *norm;
    size_t i;

    r.nonce = NULL;
    assert_int_equal(sy_hawk_header(&r, h1, sizeof(h1)), SY_OK);
    assert_int_equal(sy_hawk_header(&r, h2, sizeof(h2)), SY_OK);
    attr(h1, "nonce", n1, sizeof(n1));
    attr(h2, "nonce", n2, sizeof(n2));
    assert_int_equal(strlen(n1), 8);
    assert_int_equal(strlen(n2), 8);
    for (i = 0; i < 8; i++) {
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", n1[i]));
    }
    assert_string_not_equal(n1, n2);

    /* the MAC covers the generated nonce */
    attr(h1, "mac", mac, sizeof(mac));
    norm = sy_hawk_normalized(&r, n1, hashp);
    mac_of(r.key, norm, want);
    free(norm);
    assert_string_equal(mac, want);
    assert_string_not_equal(mac, vectors[7].mac);
}

struct invalid_case {
    const char *name;
    void (*mutate)(sy_hawk_req_t *r);
};

static void m_id_quote(sy_hawk_req_t *r)
{
    r->id = "abc\"def";
}
static void m_id_backslash(sy_hawk_req_t *r)
{
    r->id = "abc\\def";
}
static void m_id_crlf(sy_hawk_req_t *r)
{
    r->id = "abc\r\nX-Evil: 1";
}
static void m_id_empty(sy_hawk_req_t *r)
{
    r->id = "";
}
static void m_id_null(sy_hawk_req_t *r)
{
    r->id = NULL;
}
static void m_nonce_quote(sy_hawk_req_t *r)
{
    r->nonce = "Xy\"3k9Q";
}
static void m_nonce_backslash(sy_hawk_req_t *r)
{
    r->nonce = "Xy3k9Q\\";
}
static void m_nonce_empty(sy_hawk_req_t *r)
{
    r->nonce = "";
}
static void m_nonce_newline(sy_hawk_req_t *r)
{
    r->nonce = "Xy3\nk9Q";
}
static void m_ext_quote(sy_hawk_req_t *r)
{
    r->ext = "a\"b";
}
static void m_ext_backslash(sy_hawk_req_t *r)
{
    r->ext = "a\\b";
}
static void m_key_null(sy_hawk_req_t *r)
{
    r->key = NULL;
}
static void m_method_null(sy_hawk_req_t *r)
{
    r->method = NULL;
}
static void m_method_empty(sy_hawk_req_t *r)
{
    r->method = "";
}
static void m_resource_null(sy_hawk_req_t *r)
{
    r->resource = NULL;
}
static void m_resource_newline(sy_hawk_req_t *r)
{
    r->resource = "/1.5/1\n/storage";
}
static void m_host_null(sy_hawk_req_t *r)
{
    r->host = NULL;
}
static void m_host_newline(sy_hawk_req_t *r)
{
    r->host = "localhost\n";
}
static void m_ts_negative(sy_hawk_req_t *r)
{
    r->ts = -1;
}
static void m_port_zero(sy_hawk_req_t *r)
{
    r->port = 0;
}
static void m_port_big(sy_hawk_req_t *r)
{
    r->port = 65536;
}
static void m_body_missing(sy_hawk_req_t *r)
{
    r->body = NULL;
}

static const struct invalid_case invalid_cases[] = {
    {"id with quote", m_id_quote},
    {"id with backslash", m_id_backslash},
    {"id with CRLF", m_id_crlf},
    {"empty id", m_id_empty},
    {"NULL id", m_id_null},
    {"nonce with quote", m_nonce_quote},
    {"nonce with backslash", m_nonce_backslash},
    {"empty nonce", m_nonce_empty},
    {"nonce with newline", m_nonce_newline},
    {"ext with quote", m_ext_quote},
    {"ext with backslash", m_ext_backslash},
    {"NULL key", m_key_null},
    {"NULL method", m_method_null},
    {"empty method", m_method_empty},
    {"NULL resource", m_resource_null},
    {"resource with newline", m_resource_newline},
    {"NULL host", m_host_null},
    {"host with newline", m_host_newline},
    {"negative ts", m_ts_negative},
    {"port 0", m_port_zero},
    {"port 65536", m_port_big},
    {"body NULL with a length", m_body_missing},
};

static void test_header_rejects_invalid(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
        sy_hawk_req_t r = req_of(&vectors[7]);
        char out[1024];
        sy_rc_t rc;

        invalid_cases[i].mutate(&r);
        memset(out, 'x', sizeof(out));
        rc = sy_hawk_header(&r, out, sizeof(out));
        if (rc != SY_ERR_INVALID) {
            fail_msg("%s: rc %d, expected SY_ERR_INVALID", invalid_cases[i].name, (int)rc);
        }
        assert_int_equal(out[0], '\0');
    }
    assert_int_equal(sy_hawk_header(NULL, (char[8]){0}, 8), SY_ERR_INVALID);
}

/* The header fits only with room for its NUL; anything smaller is
 * SY_ERR_TOO_LARGE with an empty output. */
static void test_header_buffer_sizes(void **state)
{
    sy_hawk_req_t r = req_of(&vectors[3]); /* c: rs GET */
    char full[1024], out[1024];
    size_t len, n;

    assert_int_equal(sy_hawk_header(&r, full, sizeof(full)), SY_OK);
    len = strlen(full);
    assert_string_equal(full, vectors[3].header);
    for (n = 0; n <= len; n++) {
        memset(out, 'x', sizeof(out));
        assert_int_equal(sy_hawk_header(&r, out, n), SY_ERR_TOO_LARGE);
        if (n > 0) {
            assert_int_equal(out[0], '\0');
        }
        assert_int_equal(out[n], 'x'); /* nothing written past the buffer */
    }
    assert_int_equal(sy_hawk_header(&r, out, len + 1), SY_OK);
    assert_string_equal(out, full);
    assert_int_equal(sy_hawk_header(&r, NULL, 100), SY_ERR_TOO_LARGE);
}

/* Never app or dlg; no hash attribute without a Content-Type. */
static void test_header_attribute_set(void **state)
{
    sy_hawk_req_t r = req_of(&vectors[5]); /* d: A */
    char out[1024];

    assert_int_equal(sy_hawk_header(&r, out, sizeof(out)), SY_OK);
    assert_int_equal(strncmp(out, "Hawk id=\"", 9), 0);
    assert_null(strstr(out, "hash="));
    assert_null(strstr(out, "ext="));
    assert_null(strstr(out, "app="));
    assert_null(strstr(out, "dlg="));

    r.content_type = ""; /* empty = no payload hash either */
    assert_int_equal(sy_hawk_header(&r, out, sizeof(out)), SY_OK);
    assert_null(strstr(out, "hash="));

    /* order: id, ts, nonce, hash, mac */
    r = req_of(&vectors[7]);
    assert_int_equal(sy_hawk_header(&r, out, sizeof(out)), SY_OK);
    assert_true(strstr(out, "id=\"") < strstr(out, ", ts=\""));
    assert_true(strstr(out, ", ts=\"") < strstr(out, ", nonce=\""));
    assert_true(strstr(out, ", nonce=\"") < strstr(out, ", hash=\""));
    assert_true(strstr(out, ", hash=\"") < strstr(out, ", mac=\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_normalized_and_mac),
        cmocka_unit_test(test_vectors_header),
        cmocka_unit_test(test_header_b_short_id),
        cmocka_unit_test(test_payload_hash_table),
        cmocka_unit_test(test_generated_nonce),
        cmocka_unit_test(test_header_rejects_invalid),
        cmocka_unit_test(test_header_buffer_sizes),
        cmocka_unit_test(test_header_attribute_set),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
