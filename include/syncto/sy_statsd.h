#ifndef SY_STATSD_H
#define SY_STATSD_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "syncto/sy_rc.h"
#include "syncto/sy_settings.h"

/* StatsD client (syncto.statsd_url = "udp://host:port", empty = off).
 *
 * One non-blocking UDP socket per worker process, connected once at init, so
 * that every metric is a single send(2) of one datagram: the kernel sends a
 * datagram atomically, so the worker's threads share the socket without a
 * lock. Sending never blocks and never fails a request: EAGAIN, ECONNREFUSED
 * (no daemon listening) and the like are ignored and only counted. With an
 * empty statsd_url every function below is a cheap no-op.
 *
 * Every metric is sent as "<statsd_prefix>.<name>:<value>|<type>". Names are
 * sanitised: any byte outside [A-Za-z0-9_.-] becomes '_'. A line that would
 * not fit in one datagram (SY_STATSD_DATAGRAM_MAX bytes) is dropped and
 * counted.
 *
 * Metric names (the request path sends these; they are the names the
 * original Syncto used, so existing dashboards keep working):
 *
 *   request.<route_name>.<method>.<status>   counter  one per request
 *   request.<route_name>.<method>            timer    request duration
 *       route_name is derived from the route pattern: "hello", "heartbeat",
 *       "batch", "bucket", "collections", "collection", "records", "record",
 *       ...; method is lower case ("get", "put", "delete", "post", "head",
 *       "options"); status is the HTTP status sent to the client.
 *   tokenserver.tokenserverclient.get_hawk_credentials   timer
 *       one tokenserver call (cache misses only)
 *   syncclient.syncclient.<method>            timer    one Sync storage call;
 *       method is get_records, get_record, put_record, delete_record,
 *       info_collections or post_records
 *   syncclient.status_code.<code>             counter  HTTP status of each
 *       Sync storage response
 *   cache.hit / cache.miss                    counter  credential cache lookups
 *       (whichever layer answered)
 *   cache.memory.hit / cache.memory.miss      counter  the worker's in-memory
 *       layer (when on); a miss is one PostgreSQL lookup
 *   pool.busy_threads                         gauge    threads of this worker
 *       busy with a request
 *   pool.saturated                            counter  a request found every
 *       thread of its worker busy
 */

/* Largest datagram sent; lines of a batch are packed up to this size. */
#define SY_STATSD_DATAGRAM_MAX 512

/* Per-call builder that packs several metrics, '\n'-separated, into as few
 * datagrams as possible. Lives on the caller's stack; not shared between
 * threads. Full datagrams are sent as lines are added; the rest is sent by
 * sy_statsd_batch_flush(). */
typedef struct {
    size_t len;
    char buf[SY_STATSD_DATAGRAM_MAX];
} sy_statsd_batch_t;

typedef struct {
    uint64_t sent;        /* datagrams the kernel accepted */
    uint64_t send_errors; /* send(2) failures, ignored (EAGAIN, ECONNREFUSED...) */
    uint64_t dropped;     /* lines too long for one datagram, or invalid values */
} sy_statsd_stats_t;

/* Opens and connects the UDP socket described by s->statsd_url (call in each
 * worker, after fork). Empty URL: SY_OK, metrics off. Malformed URL or prefix:
 * SY_ERR_CONFIG. Host that does not resolve or socket failure:
 * SY_ERR_UNREACHABLE. On error the reason is logged and metrics stay off, so
 * the caller may go on serving. Calling it again closes the previous socket. */
SY_MUST_CHECK sy_rc_t sy_statsd_init(const sy_settings_t *s);

/* Closes the socket; metrics are off afterwards. Call once the worker's
 * threads are done. Safe to call when init failed or was never called. */
void sy_statsd_close(void);

/* True between a successful init (with a non-empty URL) and close. */
bool sy_statsd_enabled(void);

/* Checks a statsd_url value without opening anything ("" is valid: off).
 * On failure writes a reason into err (errlen bytes) and returns false. */
bool sy_statsd_url_valid(const char *url, char *err, size_t errlen);

/* One metric, one datagram. Thread-safe, never blocks. */
void sy_statsd_incr(const char *name);                /* counter +1 */
void sy_statsd_count(const char *name, long n);       /* counter +n */
void sy_statsd_timing(const char *name, double ms);   /* timer, ms (3 decimals) */
void sy_statsd_gauge(const char *name, double value); /* gauge, absolute; < 0 sent as 0 */

/* Batched variants: same lines, packed into b. sy_statsd_batch_flush() must
 * be called at the end (it is a no-op when nothing is pending). */
void sy_statsd_batch_init(sy_statsd_batch_t *b);
void sy_statsd_batch_incr(sy_statsd_batch_t *b, const char *name);
void sy_statsd_batch_count(sy_statsd_batch_t *b, const char *name, long n);
void sy_statsd_batch_timing(sy_statsd_batch_t *b, const char *name, double ms);
void sy_statsd_batch_gauge(sy_statsd_batch_t *b, const char *name, double value);
void sy_statsd_batch_flush(sy_statsd_batch_t *b);

/* Counters since init, for tests and the heartbeat/log lines. */
void sy_statsd_stats(sy_statsd_stats_t *out);

#endif
