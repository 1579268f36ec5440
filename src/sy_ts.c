/* Timestamp conversions between Sync (decimal seconds with two decimals),
 * Kinto (integer milliseconds) and HTTP-dates.
 *
 * Why no floating point: a double holds "1441868927.07" as
 * 1441868927.0699999332..., and a careless `(int64_t)(x * 1000)` then yields
 * ...069 instead of ...070. The ETag a client compares against must be exact,
 * so every conversion works on the decimal text. */

#include "syncto/sy_ts.h"

#include <stdio.h>
#include <time.h>

/* Appends one decimal digit to *v, failing instead of overflowing. */
static bool push_digit(int64_t *v, char c)
{
    int d = c - '0';

    if (*v > (INT64_MAX - d) / 10) {
        return false;
    }
    *v = *v * 10 + d;
    return true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool sy_ts_parse_sync(const char *s, int64_t *ms)
{
    int64_t secs = 0;
    int64_t frac = 0;
    const char *p = s;
    int ndec = 0;

    if (s == NULL || !is_digit(*p)) {
        return false;
    }
    while (is_digit(*p)) {
        if (!push_digit(&secs, *p)) {
            return false;
        }
        p++;
    }
    if (*p == '.') {
        p++;
        if (!is_digit(*p)) {
            return false; /* "12." has no fraction digits */
        }
        /* Milliseconds: the first three decimals, right-padded with zeros;
         * the rest must be digits but is truncated. */
        while (is_digit(*p)) {
            if (ndec < 3) {
                frac = frac * 10 + (*p - '0');
                ndec++;
            }
            p++;
        }
    }
    if (*p != '\0') {
        return false;
    }
    for (; ndec < 3; ndec++) {
        frac *= 10;
    }
    if (secs > (INT64_MAX - frac) / 1000) {
        return false;
    }
    *ms = secs * 1000 + frac;
    return true;
}

void sy_ts_format_sync(int64_t ms, char *buf, size_t len)
{
    if (buf == NULL || len == 0) {
        return;
    }
    if (ms < 0) {
        ms = 0; /* Sync has no negative timestamps */
    }
    snprintf(buf, len, "%lld.%02lld", (long long)(ms / 1000), (long long)(ms % 1000 / 10));
}

bool sy_ts_parse_ms(const char *s, bool allow_quotes, int64_t *ms)
{
    int64_t v = 0;
    const char *p = s;
    bool quoted = false;

    if (s == NULL) {
        return false;
    }
    if (allow_quotes && *p == '"') {
        quoted = true;
        p++;
    }
    if (!is_digit(*p)) {
        return false;
    }
    while (is_digit(*p)) {
        if (!push_digit(&v, *p)) {
            return false;
        }
        p++;
    }
    if (quoted) {
        if (*p != '"') {
            return false;
        }
        p++;
    }
    if (*p != '\0') {
        return false;
    }
    *ms = v;
    return true;
}

void sy_ts_http_date(int64_t ms, char *buf, size_t len)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    time_t t;

    if (buf == NULL || len == 0) {
        return;
    }
    /* Names come from the tables above, never from strftime(), so the
     * process locale cannot leak into the header. */
    t = (time_t)(ms < 0 ? 0 : ms / 1000);
    if (gmtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
        tm.tm_mon > 11) {
        t = 0;
        gmtime_r(&t, &tm);
    }
    snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int64_t sy_ts_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
