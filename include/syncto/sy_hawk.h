#ifndef SY_HAWK_H
#define SY_HAWK_H

#include <stddef.h>
#include "syncto/sy_rc.h"

/* Hawk request signing for Sync 1.5 (hawk.1.header), as specified in
 * the Hawk scheme the Sync servers verify. The key is the tokenserver's 44-char "key"
 * string used as ASCII bytes, never base64-decoded. */

typedef struct {
    const char *id;           /* tokenserver "id", copied verbatim */
    const char *key;          /* tokenserver "key" (ASCII) */
    const char *method;       /* "GET", "PUT"... */
    const char *resource;     /* path + "?" + query, exactly as on the wire */
    const char *host;         /* host as in the Host header (case-folded here) */
    int port;                 /* explicit or scheme default */
    const char *content_type; /* NULL or "" = no payload hash */
    const char *body;         /* payload, may be NULL with body_len 0 */
    size_t body_len;
    long long ts;      /* unix seconds, already offset-corrected */
    const char *nonce; /* NULL = generate 8 random base64url chars */
    const char *ext;   /* NULL (Syncto never sends ext); else signed + sent */
} sy_hawk_req_t;

/* Payload hash: base64(SHA-256("hawk.1.payload\n" + ct + "\n" + body + "\n")),
 * ct being content_type without parameters, trimmed, lowercased (NULL = "").
 * out must hold 45 bytes. */
void sy_hawk_payload_hash(const char *content_type, const char *body, size_t len, char *out);

/* Normalised string (for tests and debugging): hash NULL gives an empty hash
 * line, r->ext NULL an empty ext line, the host is lowercased. Returns a
 * malloc'ed string the caller frees. */
char *sy_hawk_normalized(const sy_hawk_req_t *r, const char *nonce, const char *hash);

/* Writes the full header value `Hawk id="…", ts="…", nonce="…"[, hash="…"]
 * [, ext="…"], mac="…"` into out (outlen). SY_ERR_TOO_LARGE if it does not
 * fit, SY_ERR_INVALID if id, nonce or ext contain '"' or '\\', a signed
 * field contains a newline, a field is missing, ts < 0 or port is invalid. */
SY_MUST_CHECK sy_rc_t sy_hawk_header(const sy_hawk_req_t *r, char *out, size_t outlen);

#endif
