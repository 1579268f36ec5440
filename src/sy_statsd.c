/* StatsD client: one connected, non-blocking UDP socket per worker process.
 *
 * Why no lock: the socket is opened and connected before the worker starts
 * its threads and closed after they are joined; in between, each metric (or
 * each batch) is one send(2) of one datagram, which the kernel performs
 * atomically, so threads never interleave inside a datagram. The counters are
 * relaxed atomics. Nothing here can make a request wait or fail. */
#include "syncto/sy_statsd.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "syncto/sy_log.h"

#define PREFIX_MAX 128
#define HOST_MAX 256
#define PORT_MAX 6
#define DEFAULT_PORT "8125"

static int statsd_fd = -1;
static char statsd_prefix[PREFIX_MAX + 2]; /* sanitised prefix and its '.' */
static size_t statsd_prefix_len;

static atomic_uint_least64_t stat_sent;
static atomic_uint_least64_t stat_send_errors;
static atomic_uint_least64_t stat_dropped;

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static bool is_ipv6_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
           c == '.';
}

/* Splits "udp://host[:port]" (host may be "[v6addr]") into host and port.
 * The port defaults to 8125, the StatsD convention. */
static bool parse_url(const char *url, char *host, char *port, char *err, size_t errlen)
{
    const char *p, *h, *hend;
    size_t hlen;

    if (strncmp(url, "udp://", 6) != 0) {
        set_err(err, errlen, "statsd_url must look like udp://host:port");
        return false;
    }
    p = url + 6;
    if (*p == '[') {
        h = ++p;
        while (*p != '\0' && *p != ']') {
            if (!is_ipv6_char(*p)) {
                set_err(err, errlen, "statsd_url: invalid character in IPv6 address");
                return false;
            }
            p++;
        }
        if (*p != ']') {
            set_err(err, errlen, "statsd_url: missing ']' after IPv6 address");
            return false;
        }
        hend = p++;
    } else {
        h = p;
        while (is_host_char(*p))
            p++;
        hend = p;
    }
    hlen = (size_t)(hend - h);
    if (hlen == 0) {
        set_err(err, errlen, "statsd_url: missing host");
        return false;
    }
    if (hlen >= HOST_MAX) {
        set_err(err, errlen, "statsd_url: host name too long");
        return false;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';

    if (*p == '\0') {
        snprintf(port, PORT_MAX, "%s", DEFAULT_PORT);
        return true;
    }
    if (*p != ':') {
        set_err(err, errlen,
                "statsd_url: unexpected character after host "
                "(expected udp://host:port)");
        return false;
    }
    p++;
    {
        char *end = NULL;
        long n;

        if (*p < '0' || *p > '9') {
            set_err(err, errlen, "statsd_url: port must be a number");
            return false;
        }
        errno = 0;
        n = strtol(p, &end, 10);
        if (errno != 0 || *end != '\0' || n < 1 || n > 65535) {
            set_err(err, errlen, "statsd_url: port must be a number in 1..65535");
            return false;
        }
        snprintf(port, PORT_MAX, "%ld", n);
    }
    return true;
}

bool sy_statsd_url_valid(const char *url, char *err, size_t errlen)
{
    char host[HOST_MAX], port[PORT_MAX];

    if (url == NULL || *url == '\0')
        return true;
    return parse_url(url, host, port, err, errlen);
}

/* Copies src into dst (at most cap bytes, no terminator), replacing every
 * byte outside [A-Za-z0-9_.-] by '_'. Returns the length, or SIZE_MAX if src
 * does not fit. */
static size_t sanitize(char *dst, size_t cap, const char *src)
{
    size_t i;

    for (i = 0; src[i] != '\0'; i++) {
        char c = src[i];
        if (i >= cap)
            return SIZE_MAX;
        if (!is_host_char(c))
            c = '_';
        dst[i] = c;
    }
    return i;
}

sy_rc_t sy_statsd_init(const sy_settings_t *s)
{
    char host[HOST_MAX], port[PORT_MAX], err[160];
    struct addrinfo hints, *res = NULL, *ai;
    const char *prefix;
    size_t plen;
    int fd = -1, gai;
    sy_rc_t rc = SY_OK;

    sy_statsd_close();
    atomic_store(&stat_sent, 0);
    atomic_store(&stat_send_errors, 0);
    atomic_store(&stat_dropped, 0);

    if (s == NULL || s->statsd_url == NULL || s->statsd_url[0] == '\0')
        return SY_OK;

    if (!parse_url(s->statsd_url, host, port, err, sizeof(err))) {
        sy_log_error(NULL, "statsd disabled: %s", err);
        rc = SY_ERR_CONFIG;
        goto done;
    }

    prefix = s->statsd_prefix != NULL ? s->statsd_prefix : "";
    plen = sanitize(statsd_prefix, PREFIX_MAX, prefix);
    if (plen == SIZE_MAX) {
        sy_log_error(NULL, "statsd disabled: statsd_prefix longer than %d bytes", PREFIX_MAX);
        rc = SY_ERR_CONFIG;
        goto done;
    }
    if (plen > 0)
        statsd_prefix[plen++] = '.';
    statsd_prefix[plen] = '\0';
    statsd_prefix_len = plen;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        sy_log_error(NULL, "statsd disabled: cannot resolve %s: %s", host, gai_strerror(gai));
        rc = SY_ERR_UNREACHABLE;
        goto done;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        sy_log_error(NULL, "statsd disabled: cannot open a UDP socket to %s:%s: %s", host, port,
                     strerror(errno));
        rc = SY_ERR_UNREACHABLE;
        goto done;
    }
    statsd_fd = fd;

done:
    if (res != NULL)
        freeaddrinfo(res);
    if (rc != SY_OK) {
        statsd_prefix[0] = '\0';
        statsd_prefix_len = 0;
    }
    return rc;
}

void sy_statsd_close(void)
{
    if (statsd_fd >= 0)
        close(statsd_fd);
    statsd_fd = -1;
}

bool sy_statsd_enabled(void)
{
    return statsd_fd >= 0;
}

void sy_statsd_stats(sy_statsd_stats_t *out)
{
    out->sent = atomic_load_explicit(&stat_sent, memory_order_relaxed);
    out->send_errors = atomic_load_explicit(&stat_send_errors, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&stat_dropped, memory_order_relaxed);
}

static void send_datagram(const char *buf, size_t len)
{
    ssize_t n;

    if (len == 0 || statsd_fd < 0)
        return;
    n = send(statsd_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0)
        atomic_fetch_add_explicit(&stat_send_errors, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&stat_sent, 1, memory_order_relaxed);
}

/* Writes a decimal value with at most 3 fractional digits and no trailing
 * zeros ("12.5", "3", "0.125"): StatsD daemons parse plain decimals only, so
 * never an exponent. Returns the length or 0 when the value is unusable. */
static size_t format_decimal(char *out, size_t cap, double v)
{
    int n;
    size_t len;

    if (!isfinite(v) || v > 1e15 || v < -1e15)
        return 0;
    n = snprintf(out, cap, "%.3f", v);
    if (n <= 0 || (size_t)n >= cap)
        return 0;
    len = (size_t)n;
    while (len > 0 && out[len - 1] == '0')
        len--;
    if (len > 0 && out[len - 1] == '.')
        len--;
    out[len] = '\0';
    if (strcmp(out, "-0") == 0) {
        out[0] = '0';
        out[1] = '\0';
        len = 1;
    }
    return len;
}

static void drop_value(void)
{
    atomic_fetch_add_explicit(&stat_dropped, 1, memory_order_relaxed);
}

/* Builds "<prefix><name>:<value>|<type>" into line (SY_STATSD_DATAGRAM_MAX
 * bytes). Returns the length, or 0 (and counts a drop) when it does not fit. */
static size_t build_line(char *line, const char *name, const char *value, const char *type)
{
    size_t len = statsd_prefix_len, n, vlen = strlen(value), tlen = strlen(type);

    if (name == NULL || name[0] == '\0')
        goto drop;
    memcpy(line, statsd_prefix, statsd_prefix_len);
    n = sanitize(line + len, SY_STATSD_DATAGRAM_MAX - len, name);
    if (n == SIZE_MAX)
        goto drop;
    len += n;
    if (len + 1 + vlen + 1 + tlen > SY_STATSD_DATAGRAM_MAX)
        goto drop;
    /* A datagram, sent with its length: no NUL anywhere. */
    line[len++] = ':';
    memcpy(line + len, value, vlen); // NOLINT(bugprone-not-null-terminated-result)
    len += vlen;
    line[len++] = '|';
    memcpy(line + len, type, tlen); // NOLINT(bugprone-not-null-terminated-result)
    len += tlen;
    return len;

drop:
    drop_value();
    return 0;
}

void sy_statsd_batch_init(sy_statsd_batch_t *b)
{
    b->len = 0;
}

void sy_statsd_batch_flush(sy_statsd_batch_t *b)
{
    send_datagram(b->buf, b->len);
    b->len = 0;
}

/* Sends one metric line: into b when batching, else as its own datagram. */
static void emit(sy_statsd_batch_t *b, const char *name, const char *value, const char *type)
{
    char line[SY_STATSD_DATAGRAM_MAX];
    size_t len;

    if (statsd_fd < 0)
        return;
    len = build_line(line, name, value, type);
    if (b == NULL) {
        send_datagram(line, len);
        return;
    }
    if (len == 0)
        return;
    if (b->len > 0 && b->len + 1 + len > sizeof(b->buf))
        sy_statsd_batch_flush(b);
    if (b->len > 0)
        b->buf[b->len++] = '\n';
    memcpy(b->buf + b->len, line, len);
    b->len += len;
}

static void emit_count(sy_statsd_batch_t *b, const char *name, long n)
{
    char v[32];

    if (statsd_fd < 0)
        return;
    snprintf(v, sizeof(v), "%ld", n);
    emit(b, name, v, "c");
}

/* Timers and gauges: a decimal value, a negative one sent as 0. Why for
 * gauges: in the StatsD protocol a leading sign on a gauge means "adjust
 * by", not "set to". */
static void emit_decimal(sy_statsd_batch_t *b, const char *name, double value, const char *type)
{
    char v[32];

    if (statsd_fd < 0)
        return;
    if (format_decimal(v, sizeof(v), value < 0 ? 0 : value) == 0) {
        drop_value();
        return;
    }
    emit(b, name, v, type);
}

void sy_statsd_incr(const char *name)
{
    emit(NULL, name, "1", "c");
}

void sy_statsd_count(const char *name, long n)
{
    emit_count(NULL, name, n);
}

void sy_statsd_timing(const char *name, double ms)
{
    emit_decimal(NULL, name, ms, "ms");
}

void sy_statsd_gauge(const char *name, double value)
{
    emit_decimal(NULL, name, value, "g");
}

void sy_statsd_batch_incr(sy_statsd_batch_t *b, const char *name)
{
    emit(b, name, "1", "c");
}

void sy_statsd_batch_count(sy_statsd_batch_t *b, const char *name, long n)
{
    emit_count(b, name, n);
}

void sy_statsd_batch_timing(sy_statsd_batch_t *b, const char *name, double ms)
{
    emit_decimal(b, name, ms, "ms");
}

void sy_statsd_batch_gauge(sy_statsd_batch_t *b, const char *name, double value)
{
    emit_decimal(b, name, value, "g");
}
