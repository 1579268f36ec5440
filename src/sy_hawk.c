/* Hawk request signing (hawk.1.header) for the Sync 1.5 storage servers.
 *
 * Quirks that drive this file:
 * - The MAC key is the tokenserver's "key" string taken as ASCII bytes; it
 *   looks like base64url but the servers never decode it.
 * - The normalized string has exactly nine LF-terminated lines. Hawk's
 *   optional app/dlg lines are unknown to the Sync verifiers, so they are
 *   never produced; ext is only signed and sent when a caller sets it, and
 *   Syncto never does.
 * - syncstorage-rs parses the header without backslash escapes, so a value
 *   holding '"' or '\' cannot be represented and is refused up front.
 * - The payload hash is optional for every Sync server; it is sent when the
 *   request has a Content-Type (PUT/POST) and omitted otherwise. */

#include "syncto/sy_hawk.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "syncto/sy_crypto.h"

#define B64_SHA256_LEN 45 /* 44 chars + NUL */
#define NONCE_RAW_LEN 6   /* base64url of 6 bytes = 8 chars, no padding */

enum fold { FOLD_NONE, FOLD_UPPER, FOLD_LOWER };

static void *xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);

    if (p == NULL) {
        abort(); /* out of memory: the master respawns the worker */
    }
    return p;
}

/* ASCII-only case folding: toupper()/tolower() would consult the locale. */
static char fold_char(char c, enum fold f)
{
    if (f == FOLD_UPPER && c >= 'a' && c <= 'z') {
        return (char)(c - 'a' + 'A');
    }
    if (f == FOLD_LOWER && c >= 'A' && c <= 'Z') {
        return (char)(c - 'A' + 'a');
    }
    return c;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* True if s holds a control byte (which would break the newline-separated
 * normalized string or let a value escape its header line). */
static bool has_ctl(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return true;
        }
    }
    return false;
}

/* True if s can sit between double quotes in the header as is. */
static bool quotable(const char *s)
{
    return strpbrk(s, "\"\\") == NULL && !has_ctl(s);
}

void sy_hawk_payload_hash(const char *content_type, const char *body, size_t len, char *out)
{
    static const char prefix[] = "hawk.1.payload\n";
    crypto_hash_sha256_state st;
    unsigned char digest[crypto_hash_sha256_BYTES];
    const char *b = content_type != NULL ? content_type : "";
    const char *e;
    char chunk[64];
    size_t n = 0;

    /* "Text/Plain ; charset=utf-8" -> "text/plain" */
    e = strchr(b, ';');
    if (e == NULL) {
        e = b + strlen(b);
    }
    while (b < e && is_ows(*b)) {
        b++;
    }
    while (e > b && is_ows(e[-1])) {
        e--;
    }

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)prefix, sizeof(prefix) - 1);
    for (; b < e; b++) {
        chunk[n++] = fold_char(*b, FOLD_LOWER);
        if (n == sizeof(chunk)) {
            crypto_hash_sha256_update(&st, (const unsigned char *)chunk, n);
            n = 0;
        }
    }
    chunk[n++] = '\n';
    crypto_hash_sha256_update(&st, (const unsigned char *)chunk, n);
    if (body != NULL && len > 0) {
        crypto_hash_sha256_update(&st, (const unsigned char *)body, len);
    }
    crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2base64(out, B64_SHA256_LEN, digest, sizeof(digest), sodium_base64_VARIANT_ORIGINAL);
}

/* Copies s (case-folded) and a newline to p; returns the new end. */
static char *put_line(char *p, const char *s, enum fold f)
{
    for (; *s != '\0'; s++) {
        *p++ = fold_char(*s, f);
    }
    *p++ = '\n';
    return p;
}

static const char *or_empty(const char *s)
{
    return s != NULL ? s : "";
}

char *sy_hawk_normalized(const sy_hawk_req_t *r, const char *nonce, const char *hash)
{
    static const char head[] = "hawk.1.header";
    const char *lines[5];
    char ts[24], port[16];
    size_t total, i;
    char *s, *p;

    snprintf(ts, sizeof(ts), "%lld", r->ts);
    snprintf(port, sizeof(port), "%d", r->port);
    nonce = or_empty(nonce);
    hash = or_empty(hash);
    lines[0] = or_empty(r->method);
    lines[1] = or_empty(r->resource);
    lines[2] = or_empty(r->host);
    lines[3] = hash;
    lines[4] = or_empty(r->ext);

    total = sizeof(head) + strlen(ts) + strlen(nonce) + strlen(port) + 4; /* 4 newlines */
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        total += strlen(lines[i]) + 1;
    }
    s = xmalloc(total);
    p = put_line(s, head, FOLD_NONE);
    p = put_line(p, ts, FOLD_NONE);
    p = put_line(p, nonce, FOLD_NONE);
    p = put_line(p, lines[0], FOLD_UPPER);
    p = put_line(p, lines[1], FOLD_NONE);
    p = put_line(p, lines[2], FOLD_LOWER);
    p = put_line(p, port, FOLD_NONE);
    p = put_line(p, lines[3], FOLD_NONE);
    p = put_line(p, lines[4], FOLD_NONE);
    *p = '\0';
    return s;
}

static SY_MUST_CHECK sy_rc_t check_request(const sy_hawk_req_t *r)
{
    if (r == NULL || r->id == NULL || r->key == NULL || r->method == NULL || r->resource == NULL ||
        r->host == NULL) {
        return SY_ERR_INVALID;
    }
    if (r->id[0] == '\0' || r->method[0] == '\0' || r->resource[0] == '\0' || r->host[0] == '\0') {
        return SY_ERR_INVALID;
    }
    if (r->ts < 0 || r->port <= 0 || r->port > 65535) {
        return SY_ERR_INVALID;
    }
    if (!quotable(r->id) || (r->nonce != NULL && (r->nonce[0] == '\0' || !quotable(r->nonce))) ||
        (r->ext != NULL && !quotable(r->ext))) {
        return SY_ERR_INVALID;
    }
    if (has_ctl(r->method) || has_ctl(r->resource) || has_ctl(r->host)) {
        return SY_ERR_INVALID;
    }
    if (r->body == NULL && r->body_len > 0) {
        return SY_ERR_INVALID;
    }
    return SY_OK;
}

sy_rc_t sy_hawk_header(const sy_hawk_req_t *r, char *out, size_t outlen)
{
    char nonce_buf[sodium_base64_ENCODED_LEN(NONCE_RAW_LEN,
                                             sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    unsigned char raw[NONCE_RAW_LEN];
    char hash[B64_SHA256_LEN];
    char mac[B64_SHA256_LEN];
    uint8_t digest[32];
    const char *nonce;
    bool with_hash, with_ext;
    char *norm = NULL;
    sy_rc_t rc;
    int n;

    if (out != NULL && outlen > 0) {
        out[0] = '\0';
    }
    if (out == NULL || outlen == 0) {
        return SY_ERR_TOO_LARGE;
    }
    rc = check_request(r);
    if (rc != SY_OK) {
        goto done;
    }

    nonce = r->nonce;
    if (nonce == NULL) {
        randombytes_buf(raw, sizeof(raw));
        sodium_bin2base64(nonce_buf, sizeof(nonce_buf), raw, sizeof(raw),
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        nonce = nonce_buf;
    }
    with_hash = r->content_type != NULL && r->content_type[0] != '\0';
    if (with_hash) {
        sy_hawk_payload_hash(r->content_type, r->body, r->body_len, hash);
    }
    with_ext = r->ext != NULL && r->ext[0] != '\0';

    norm = sy_hawk_normalized(r, nonce, with_hash ? hash : NULL);
    sy_hmac_sha256(r->key, strlen(r->key), norm, strlen(norm), digest);
    sodium_bin2base64(mac, sizeof(mac), digest, sizeof(digest), sodium_base64_VARIANT_ORIGINAL);

    n = snprintf(out, outlen, "Hawk id=\"%s\", ts=\"%lld\", nonce=\"%s\"%s%s%s%s%s%s, mac=\"%s\"",
                 r->id, r->ts, nonce, with_hash ? ", hash=\"" : "", with_hash ? hash : "",
                 with_hash ? "\"" : "", with_ext ? ", ext=\"" : "", with_ext ? r->ext : "",
                 with_ext ? "\"" : "", mac);
    if (n < 0 || (size_t)n >= outlen) {
        out[0] = '\0';
        rc = SY_ERR_TOO_LARGE;
        goto done;
    }
    rc = SY_OK;

done:
    sodium_memzero(digest, sizeof(digest));
    free(norm);
    return rc;
}
