#ifndef SY_TS_H
#define SY_TS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sync timestamps are decimal seconds with 2 decimals ("1441868927.07");
 * Kinto timestamps are integer milliseconds. Conversions go through the
 * decimal text, never through floating point. */

/* Parses "1441868927.07" (optional fraction of 1+ digits, truncated below
 * 1 ms) into ms. Returns false, leaving *ms alone, on anything else: sign,
 * spaces, exponent, overflow. */
bool sy_ts_parse_sync(const char *s, int64_t *ms);
/* Formats ms as Sync seconds with exactly 2 decimals, truncating below 10 ms
 * (a negative ms formats as "0.00"). buf must hold at least 32 bytes. */
void sy_ts_format_sync(int64_t ms, char *buf, size_t len);
/* Parses a non-negative decimal integer of ms, optionally wrapped in double
 * quotes ("123" or 123) when allow_quotes. */
bool sy_ts_parse_ms(const char *s, bool allow_quotes, int64_t *ms);
/* RFC 7231 HTTP-date of ms, rounded down to seconds (negative = the epoch),
 * locale-independent and thread-safe. buf >= 40 bytes. */
void sy_ts_http_date(int64_t ms, char *buf, size_t len);
/* Wall clock in ms. */
int64_t sy_ts_now_ms(void);

#endif
