#ifndef SY_ERRNO_H
#define SY_ERRNO_H

/* The Kinto errnos Syncto puts in error bodies ({"code","errno","error",
 * "message"}), named as in the Kinto protocol's table (cliquet, Kinto and
 * kinto-http share it; docs/api.md). Every errno Syncto emits is here and
 * nowhere else as a number. Part of the sy_errors module (sy_errors.h
 * includes it), kept in a header of its own that includes nothing so that
 * the lower layers that write error bodies (sy_response, sy_auth) can use
 * it without depending on the upstream mapping. */
typedef enum {
    SY_ERRNO_NONE = 0,                      /* no error body (a 304) */
    SY_ERRNO_MISSING_AUTH_TOKEN = 104,      /* 401: no usable credentials sent */
    SY_ERRNO_INVALID_AUTH_TOKEN = 105,      /* 401: upstream refused them */
    SY_ERRNO_INVALID_PARAMETERS = 107,      /* 400: a parameter, header or body */
    SY_ERRNO_INVALID_RESOURCE_ID = 110,     /* 404: Sync has no such record */
    SY_ERRNO_MISSING_RESOURCE = 111,        /* 404: no such route under /v1 */
    SY_ERRNO_REQUEST_TOO_LARGE = 113,       /* 413 */
    SY_ERRNO_MODIFIED_MEANWHILE = 114,      /* 412: a precondition failed */
    SY_ERRNO_METHOD_NOT_ALLOWED = 115,      /* 405, also a disabled write */
    SY_ERRNO_VERSION_NOT_AVAILABLE = 116,   /* 404: another API version */
    SY_ERRNO_CLIENT_REACHED_CAPACITY = 117, /* 429 (answered by nginx) */
    SY_ERRNO_FORBIDDEN = 121,               /* 403 */
    SY_ERRNO_BACKEND = 201,                 /* 503: upstream failed, retry later */
    SY_ERRNO_SERVICE_DEPRECATED = 202,      /* 410: end of service */
    SY_ERRNO_UNDEFINED = 999,               /* 500: an internal error */
} sy_errno_t;

#endif
