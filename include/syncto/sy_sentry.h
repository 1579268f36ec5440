#ifndef SY_SENTRY_H
#define SY_SENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "syncto/sy_rc.h"
#include "syncto/sy_settings.h"

/* Error reporting to Sentry through its HTTP store API
 * (syncto.sentry_dsn; empty = off, and then every function is a no-op).
 *
 * The request path never waits on Sentry: sy_sentry_capture() builds the
 * event and only holds a mutex long enough to append it to a bounded
 * in-memory queue (SY_SENTRY_QUEUE_MAX events). One background thread per
 * worker process drains the queue and POSTs each event with its own libcurl
 * handle (connect timeout 1 s, total 3 s). When Sentry is slow or down the
 * queue fills up and further events are dropped and counted, never blocked on.
 *
 * What an event holds: event_id, timestamp, level, logger "syncto", platform
 * "c", message, server_name (host name), release (SY_VERSION) and tags
 * (request_id, route, and the caller's extra tags). Nothing else: no request
 * headers, no body, no user identifier, no environment. Callers must pass only
 * safe strings: NEVER an Authorization header, assertion, OAuth token, Hawk id
 * or key, client state, cache secret, DSN, or any record payload. */

#define SY_SENTRY_QUEUE_MAX 64     /* events waiting to be sent, per process */
#define SY_SENTRY_MESSAGE_MAX 4096 /* longer messages are cut (UTF-8 safe) */
#define SY_SENTRY_TAG_KEY_MAX 32   /* Sentry's limits for tag keys and values */
#define SY_SENTRY_TAG_VALUE_MAX 200
#define SY_SENTRY_TAGS_MAX 16 /* extra tags beyond these are ignored */
#define SY_SENTRY_KEY_MAX 64
#define SY_SENTRY_URL_MAX 512

/* One extra tag; both strings are copied (and cut to the limits above). */
typedef struct {
    const char *key;
    const char *value;
} sy_sentry_tag_t;

/* A parsed DSN. public_key and secret_key are credentials: wipe the struct
 * with sodium_memzero() when done. secret_key is "" when the DSN has none. */
typedef struct {
    char public_key[SY_SENTRY_KEY_MAX + 1];
    char secret_key[SY_SENTRY_KEY_MAX + 1];
    char project_id[SY_SENTRY_KEY_MAX + 1];
    char store_url[SY_SENTRY_URL_MAX]; /* <scheme>://<host>[:port]/<path>api/<id>/store/ */
} sy_sentry_dsn_t;

typedef struct {
    uint64_t queued;  /* events accepted into the queue */
    uint64_t sent;    /* events Sentry answered with a 2xx */
    uint64_t failed;  /* events that got an error status, a network error or a timeout */
    uint64_t dropped; /* events lost: queue full, or still queued at shutdown */
} sy_sentry_stats_t;

/* Parses "http[s]://<public_key>[:<secret>]@<host>[:<port>]/[<path>/]<project_id>".
 * Keys are [A-Za-z0-9_-], the project id is digits. On error returns
 * SY_ERR_CONFIG with a reason in err (errlen bytes) that never quotes the DSN
 * (it is a secret). */
SY_MUST_CHECK sy_rc_t sy_sentry_dsn_parse(const char *dsn, sy_sentry_dsn_t *out, char *err,
                                          size_t errlen);

/* True when dsn is empty (Sentry off) or parses; otherwise the reason goes
 * into err. For the settings validation. */
bool sy_sentry_dsn_valid(const char *dsn, char *err, size_t errlen);

/* Parses s->sentry_dsn and starts the sending thread. Call in each worker
 * after fork and before its request threads start. Empty DSN: SY_OK, off.
 * Invalid DSN: SY_ERR_CONFIG (reason logged); libcurl or thread failure:
 * SY_ERR_INTERNAL; Sentry stays off either way. */
SY_MUST_CHECK sy_rc_t sy_sentry_init(const sy_settings_t *s);

/* True between a successful init with a DSN and shutdown. */
bool sy_sentry_enabled(void);

/* Queues one event; never blocks on the network. level is "fatal", "error",
 * "warning", "info" or "debug" (anything else is sent as "error").
 * request_id, route and tags may be NULL; empty values are left out.
 * See the top of this file for what may never be passed. Thread-safe. */
void sy_sentry_capture(const char *level, const char *message, const char *request_id,
                       const char *route, const sy_sentry_tag_t *tags, size_t ntags);

/* Stops accepting events, sends what is queued for at most timeout_ms
 * (aborting an upload in progress at the deadline), drops the rest, joins the
 * thread and frees everything. Safe to call when off or twice. */
void sy_sentry_shutdown(int timeout_ms);

/* Counters since the last init (they survive shutdown, for tests and logs). */
void sy_sentry_stats(sy_sentry_stats_t *out);

#endif
