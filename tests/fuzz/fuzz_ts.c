/* Timestamps (src/sy_ts.c): Sync decimal seconds, Kinto integer ms (bare
 * or quoted), and HTTP-dates.
 *
 * Invariants: both parsers agree with a reference written differently
 * (checked arithmetic instead of pre-checks); parse∘format of Sync seconds
 * gives the value truncated to 10 ms; formatting never writes past the
 * buffer; an HTTP-date has the RFC 7231 shape. */
#include "fuzz_util.h"

#include "syncto/sy_ts.h"

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The reference: digits[.digits], ms = secs * 1000 + the first three
 * decimals, false on anything else or when it does not fit an int64. */
static bool ref_sync(const char *s, int64_t *ms)
{
    int64_t secs = 0, frac = 0, v;
    int nfrac = 0;

    if (!digit(*s))
        return false;
    for (; digit(*s); s++)
        if (__builtin_mul_overflow(secs, 10, &secs) ||
            __builtin_add_overflow(secs, *s - '0', &secs))
            return false;
    if (*s == '.') {
        s++;
        if (!digit(*s))
            return false;
        for (; digit(*s); s++)
            if (nfrac < 3) {
                frac = frac * 10 + (*s - '0');
                nfrac++;
            }
    }
    if (*s != '\0')
        return false;
    for (; nfrac < 3; nfrac++)
        frac *= 10;
    if (__builtin_mul_overflow(secs, 1000, &v) || __builtin_add_overflow(v, frac, &v))
        return false;
    *ms = v;
    return true;
}

static bool ref_ms(const char *s, bool quotes, int64_t *ms)
{
    size_t n = strlen(s);
    int64_t v = 0;

    if (quotes && n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s++;
        n -= 2;
    }
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!digit(s[i]))
            return false;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
            return false;
    }
    *ms = v;
    return true;
}

static void check_format(int64_t ms)
{
    char buf[32], small[8];
    int64_t back = -1;

    memset(buf, 'x', sizeof(buf));
    sy_ts_format_sync(ms, buf, sizeof(buf));
    FUZZ_CHECK(memchr(buf, '\0', sizeof(buf)) != NULL);
    FUZZ_CHECK(sy_ts_parse_sync(buf, &back));
    FUZZ_CHECK(back == (ms < 0 ? 0 : ms - ms % 10));
    {
        const char *dot = strchr(buf, '.');
        FUZZ_CHECK(dot != NULL && strlen(dot) == 3);
    }
    /* a short buffer is truncated, never overrun */
    memset(small, 'x', sizeof(small));
    sy_ts_format_sync(ms, small, 5);
    FUZZ_CHECK(small[4] == '\0' && small[5] == 'x');
}

static void check_http_date(int64_t ms)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    char buf[40];
    size_t n;

    memset(buf, 'x', sizeof(buf));
    sy_ts_http_date(ms, buf, sizeof(buf));
    FUZZ_CHECK(memchr(buf, '\0', sizeof(buf)) != NULL);
    n = strlen(buf);
    FUZZ_CHECK(n >= 29);
    FUZZ_CHECK(fuzz_one_of((char[4]){buf[0], buf[1], buf[2], '\0'}, days, 7));
    FUZZ_CHECK(buf[3] == ',' && buf[4] == ' ');
    FUZZ_CHECK(strcmp(buf + n - 4, " GMT") == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sy_pool_t *pool = sy_pool_new(0);
    fuzz_part_t all = {(const char *)data, size};
    const char *s = fuzz_str(pool, all);
    int64_t ms = -7, ref = -7, raw = 0;

    if (sy_ts_parse_sync(s, &ms)) {
        FUZZ_CHECK(ref_sync(s, &ref) && ref == ms && ms >= 0);
        check_format(ms);
    } else {
        FUZZ_CHECK(!ref_sync(s, &ref));
        FUZZ_CHECK(ms == -7); /* left alone */
    }
    for (int quotes = 0; quotes <= 1; quotes++) {
        bool ok = sy_ts_parse_ms(s, quotes, &ms), rok = ref_ms(s, quotes, &ref);

        FUZZ_CHECK(ok == rok);
        if (ok)
            FUZZ_CHECK(ms == ref && ms >= 0);
    }
    /* the formatters on any 64-bit value the input spells */
    memcpy(&raw, data, size < sizeof(raw) ? size : sizeof(raw));
    check_format(raw);
    check_http_date(raw);
    sy_pool_free(pool);
    return 0;
}
