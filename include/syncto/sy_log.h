#ifndef SY_LOG_H
#define SY_LOG_H

#include "syncto/sy_ctx.h"
#include "syncto/sy_request.h"
#include "syncto/sy_settings.h"

/* Logs go to stderr, one line each: MozLog JSON (syncto.logging_renderer =
 * json) or readable text. Never into the FastCGI stream. Every line carries
 * the request id when there is one. Callers must never pass credentials,
 * tokens, Hawk keys or payloads. Thread-safe (one write(2) per line). */
typedef enum { SY_LOG_DEBUG = 0, SY_LOG_INFO, SY_LOG_WARNING, SY_LOG_ERROR } sy_log_level_t;

/* Renderer and level from syncto.logging_renderer / syncto.log_level; call
 * before starting threads (text at info until then). */
void sy_log_init(const sy_settings_t *s);
/* One line at level, printf-style; request_id may be NULL. */
void sy_log(sy_log_level_t level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define sy_log_debug(rid, ...) sy_log(SY_LOG_DEBUG, (rid), __VA_ARGS__)
#define sy_log_info(rid, ...) sy_log(SY_LOG_INFO, (rid), __VA_ARGS__)
#define sy_log_warn(rid, ...) sy_log(SY_LOG_WARNING, (rid), __VA_ARGS__)
#define sy_log_error(rid, ...) sy_log(SY_LOG_ERROR, (rid), __VA_ARGS__)

/* The request id of the client request ctx is serving (for a batch
 * sub-request, the batch's, which its sub-requests share), or NULL when ctx
 * is NULL or serves none (start-up, background work, unit tests). */
const char *sy_log_rid(const sy_ctx_t *ctx);
/* sy_log for code working on behalf of the request ctx is serving: the line
 * carries that request's id (sy_log_rid), so that a module without the
 * request at hand (cache, tokenserver, credentials) still joins it. ctx may
 * be NULL. */
void sy_log_ctx(sy_log_level_t level, const sy_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define sy_log_ctx_debug(ctx, ...) sy_log_ctx(SY_LOG_DEBUG, (ctx), __VA_ARGS__)
#define sy_log_ctx_info(ctx, ...) sy_log_ctx(SY_LOG_INFO, (ctx), __VA_ARGS__)
#define sy_log_ctx_warn(ctx, ...) sy_log_ctx(SY_LOG_WARNING, (ctx), __VA_ARGS__)
#define sy_log_ctx_error(ctx, ...) sy_log_ctx(SY_LOG_ERROR, (ctx), __VA_ARGS__)

/* The one summary line per request: method, path (no query values that could
 * carry secrets), status, the Kinto errno of an error body (0: none, left
 * out), duration, upstream timings, hashed user id. */
void sy_log_request(const sy_request_t *req, int status, long kinto_errno, double duration_ms);

/* Pseudonymous user id for logs: 32 lower-case hex digits of
 * HMAC-SHA256(secret, "syncto user\n" + material), a pool string. The secret
 * (syncto.cache_hmac_secret) keeps it from being recomputed from a known
 * identity; material must identify the user (never logged itself). */
const char *sy_log_user_hash(sy_pool_t *pool, const char *secret, const char *material);

#endif
