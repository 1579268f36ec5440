#ifndef SY_RC_H
#define SY_RC_H

/* One return-code enum for the whole server. Functions return SY_OK or an
 * error; callers thread it with `rc = f(); if (rc != SY_OK) goto done;`.
 * The mapping of a code to an HTTP status and a Kinto errno lives in
 * sy_errors.c, nowhere else. */
typedef enum {
    SY_OK = 0,
    SY_ERR_NOMEM,       /* allocation failed (normally aborts instead) */
    SY_ERR_TOO_LARGE,   /* a capped buffer would overflow */
    SY_ERR_INVALID,     /* malformed input */
    SY_ERR_NOT_FOUND,   /* no such item (cache miss, missing key...) */
    SY_ERR_UPSTREAM,    /* upstream answered with an unusable response */
    SY_ERR_UNREACHABLE, /* network error or timeout talking upstream */
    SY_ERR_DB,          /* PostgreSQL error or unavailable */
    SY_ERR_CRYPTO,      /* decryption / authentication failure */
    SY_ERR_CONFIG,      /* bad configuration */
    SY_ERR_IO,          /* local I/O error */
    SY_ERR_INTERNAL     /* bug: an invariant did not hold */
} sy_rc_t;

/* Marks a function returning sy_rc_t: a call that drops the code does not
 * compile (-Werror). Every function returning sy_rc_t carries it. */
#define SY_MUST_CHECK __attribute__((warn_unused_result))

/* Drops a code on purpose, where going on is right whatever happened; each
 * use says why. A function rather than a (void) cast, which GCC does not
 * accept as a use of a warn_unused_result value. */
static inline void sy_rc_ignore(sy_rc_t rc)
{
    (void)rc;
}

/* Short static name of a return code, for logs. */
const char *sy_rc_str(sy_rc_t rc);

#endif
