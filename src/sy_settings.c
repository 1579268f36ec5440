/* Settings: one declarative table (PgBouncer's CF_ABS table, Redis'
 * createIntConfig) drives the defaults, the INI parser, the environment
 * overrides, every check and the documentation (docs/settings.md is the
 * output of sy_settings_write_markdown). Adding a setting means adding a
 * field to sy_settings_t and one line to the table below. */
#include "syncto/sy_settings.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "syncto/sy_listen.h"

extern char **environ;

#define DEFAULT_INI "etc/syncto.ini"
#define STR_MAX 4096         /* longest string value accepted */
#define LINE_MAX_BYTES 65536 /* longest INI line accepted */
#define RULE_PREFIX "syncto.record_"
#define RULE_ENV_PREFIX "SYNCTO_RECORD_"
#define COLLECTION_MAX 32

typedef enum { T_STRING, T_PATH, T_ENUM, T_INT, T_LONG, T_DOUBLE, T_BOOL } type_t;

#define F_SECRET 1u   /* never printed: docs say (required)/(none), dumps mask it */
#define F_REQUIRED 2u /* start-up fails when it is empty */

/* Extra check for a string value; on failure writes why (no value in it). */
typedef bool (*check_fn)(const char *value, char *why, size_t whylen);

typedef struct {
    const char *key;
    type_t type;
    size_t offset;
    const char *def; /* default, written as in the INI file */
    double min, max; /* numbers: bounds; strings: length bounds */
    unsigned flags;
    const char *const *choices; /* T_ENUM: allowed values, NULL-terminated */
    check_fn check;             /* T_STRING: extra syntax check, or NULL */
    const char *range;          /* docs: range text when the bounds don't say it */
    const char *doc;
} setting_t;

static bool check_listen(const char *v, char *why, size_t n);
static bool check_url(const char *v, char *why, size_t n);
static bool check_url_or_empty(const char *v, char *why, size_t n);
static bool check_host(const char *v, char *why, size_t n);
static bool check_origins(const char *v, char *why, size_t n);
static bool check_date(const char *v, char *why, size_t n);
static bool check_statsd(const char *v, char *why, size_t n);

static const char *const renderer_choices[] = {"json", "text", NULL};
static const char *const level_choices[] = {"debug", "info", "warning", "error", NULL};
static const char *const scheme_choices[] = {"", "http", "https", NULL};

/* clang-format off */
#define OFF(f) offsetof(sy_settings_t, f)
#define STR(f, d, lmin, chk, fl, rng, doc) \
    {"syncto." #f, T_STRING, OFF(f), d, lmin, STR_MAX, fl, NULL, chk, rng, doc}
#define PATH(f, d, doc) {"syncto." #f, T_PATH, OFF(f), d, 0, PATH_MAX, 0, NULL, NULL, NULL, doc}
#define ENUM(f, d, ch, doc) {"syncto." #f, T_ENUM, OFF(f), d, 0, 0, 0, ch, NULL, NULL, doc}
#define INT(f, d, lo, hi, doc) {"syncto." #f, T_INT, OFF(f), d, lo, hi, 0, NULL, NULL, NULL, doc}
#define LONG(f, d, lo, hi, doc) {"syncto." #f, T_LONG, OFF(f), d, lo, hi, 0, NULL, NULL, NULL, doc}
#define DBL(f, d, lo, hi, doc) {"syncto." #f, T_DOUBLE, OFF(f), d, lo, hi, 0, NULL, NULL, NULL, doc}
#define BOOL(f, d, doc) {"syncto." #f, T_BOOL, OFF(f), d, 0, 1, 0, NULL, NULL, NULL, doc}
/* clang-format on */

static const setting_t settings_table[] = {
    /* FastCGI pool */
    STR(listen, "unix:/run/syncto/syncto.sock", 1, check_listen, 0, "unix:PATH or HOST:PORT",
        "FastCGI socket nginx connects to: `unix:/absolute/path` or `host:port`. Changing it needs "
        "a restart."),
    INT(listen_backlog, "1024", 1, 65535,
        "Length of the queue of connections waiting for a worker thread."),
    INT(workers, "2", 1, 256, "Worker processes forked by the master."),
    INT(threads, "512", 1, 1024,
        "Threads per worker process; workers x threads requests are served at once."),
    INT(worker_max_requests, "100000", 0, INT_MAX,
        "A worker is replaced after serving this many requests; 0 never replaces it."),
    INT(graceful_timeout_seconds, "30", 0, 3600,
        "How long a stopping worker may finish its in-flight requests before it is killed."),
    LONG(max_request_body_bytes, "4194304", 1024, 1073741824,
         "Largest request body accepted (413 beyond); keep nginx's client_max_body_size equal."),
    LONG(max_upstream_response_bytes, "67108864", 65536, 4294967296.0,
         "Largest tokenserver or Sync response body read before giving up with an error."),

    /* public URL */
    ENUM(http_scheme, "", scheme_choices,
         "Scheme of the public URLs (`url`, `Next-Page`); empty takes it from the request."),
    STR(http_host, "", 0, check_host, 0, NULL,
        "Host (and port) of the public URLs; empty takes it from the request's Host header."),

    /* Kinto protocol */
    INT(batch_max_requests, "25", 1, 1000,
        "Most requests in one `POST /v1/batch`; announced in `GET /v1/` settings."),
    BOOL(readonly, "false", "Refuse every write: PUT and DELETE answer 405 for all collections."),
    STR(cors_origins, "*", 1, check_origins, 0, "`*` or origins",
        "Origins allowed by CORS: `*` or a space-separated list of `https://host[:port]`."),
    INT(cors_max_age_seconds, "3600", 0, 86400, "`Access-Control-Max-Age` of preflight responses."),
    INT(retry_after_seconds, "30", 1, 86400,
        "`Retry-After` (seconds) sent with every 5xx error, nginx's own 5xx pages included."),
    INT(backoff, "60", 0, 86400,
        "`Backoff` (seconds) sent on successful responses while the worker is under heavy load "
        "(see `syncto.backoff_threshold`); 0 sends none."),
    DBL(backoff_threshold, "0.9", 0, 1,
        "Share of a worker's threads that must be busy, beyond which successful responses carry "
        "`Backoff`; 0 sends it always (a static back-off), 1 never."),

    /* upstream */
    STR(token_server_url, "https://token.services.mozilla.com/", 1, check_url, 0, "http(s) URL",
        "Tokenserver base URL; `1.0/sync/1.5` is appended for token requests."),
    DBL(token_server_connect_timeout_seconds, "5", 0.1, 300,
        "Connect timeout of tokenserver requests."),
    DBL(token_server_timeout_seconds, "15", 0.1, 3600, "Total timeout of one tokenserver request."),
    DBL(token_server_heartbeat_timeout_seconds, "5", 0.1, 300,
        "Timeout of the tokenserver probe made by `GET /v1/__heartbeat__`."),
    DBL(sync_connect_timeout_seconds, "5", 0.1, 300, "Connect timeout of Sync storage requests."),
    DBL(sync_timeout_seconds, "30", 0.1, 3600, "Total timeout of one Sync storage request."),
    PATH(certificate_ca_bundle, "",
         "CA bundle trusted for tokenserver and Sync calls instead of the system store; a relative "
         "path is resolved against the settings file's directory."),
    BOOL(browserid_enabled, "true",
         "Accept `Authorization: BrowserID` assertions (legacy self-hosted tokenservers)."),
    INT(sync_max_concurrency, "25", 1, 1000, "Sync requests one batch may run at the same time."),

    /* credential cache */
    STR(cache_url, "postgresql:///syncto", 1, NULL, 0, NULL,
        "PostgreSQL connection (libpq URI or `key=value` string) of the credential cache."),
    STR(cache_hmac_secret, "", 16, NULL, F_SECRET | F_REQUIRED, "16+ chars",
        "Secret keying the credential cache (HMAC of keys, encryption of values). Changing it "
        "empties the cache."),
    INT(cache_credentials_ttl_seconds, "300", 1, 86400,
        "Longest life of cached tokenserver credentials (shortened by the credential's own "
        "expiry)."),
    INT(cache_credentials_safety_margin_seconds, "30", 0, 3600,
        "Cached credentials this close to their expiry are renewed instead of used."),
    INT(cache_pool_size, "4", 1, 64, "PostgreSQL connections per worker process."),
    INT(cache_memory_entries, "2048", 0, 100000,
        "Credentials each worker process also keeps in memory, in front of PostgreSQL (2 KiB of "
        "locked memory each, counted against RLIMIT_MEMLOCK); an entry lives at most 60 s and "
        "never longer than its PostgreSQL row. 0 turns the in-memory layer off."),

    /* deprecation */
    STR(eos, "", 0, check_date, 0, "YYYY-MM-DD",
        "End-of-service date (UTC). Before it, every response carries a soft-eol `Alert`; from "
        "that day on, requests answer 410 errno 202 with a hard-eol `Alert` (heartbeats and "
        "`__version__` excepted). Empty: none."),
    STR(eos_message, "", 0, NULL, 0, NULL,
        "Message of the end-of-service `Alert`; empty gives a stock sentence."),
    STR(eos_url, "", 0, check_url_or_empty, 0, "http(s) URL",
        "Link given in the end-of-service `Alert`; empty gives the project documentation."),

    /* FxA OAuth */
    STR(fxa_oauth_client_id, "", 0, NULL, 0, NULL,
        "FxA OAuth client id announced to clients in `GET /v1/fxa-oauth/params`."),
    STR(fxa_oauth_uri, "https://oauth.accounts.firefox.com/v1", 1, check_url, 0, "http(s) URL",
        "FxA OAuth server announced to clients."),
    STR(fxa_oauth_scope, "https://identity.mozilla.com/apps/oldsync", 1, NULL, 0, NULL,
        "OAuth scope announced to clients (the Sync scope)."),

    /* operations */
    ENUM(logging_renderer, "json", renderer_choices,
         "Log format on stderr: MozLog JSON lines or readable text."),
    ENUM(log_level, "info", level_choices,
         "Least severe level logged; request summary lines are `info`, so `warning` and `error` "
         "turn them off."),
    STR(statsd_url, "", 0, check_statsd, 0, "udp://HOST[:PORT]",
        "StatsD server receiving metrics (port 8125 when left out); empty sends none."),
    STR(statsd_prefix, "syncto", 0, NULL, 0, NULL, "Prefix of every StatsD metric name."),
    STR(sentry_dsn, "", 0, NULL, F_SECRET, NULL, "Sentry DSN receiving errors; empty sends none."),
    INT(rate_limit, "100", 0, 100000,
        "nginx `limit_req` rate per client address (requests per second); 0 turns it off."),
};

#define NSETTINGS (sizeof(settings_table) / sizeof(settings_table[0]))

/* Older names still accepted, in the file and in the environment. */
static const struct {
    const char *key;
    const char *target;
} aliases[] = {
    {"cliquet.batch_max_requests", "syncto.batch_max_requests"},
};

#define NALIASES (sizeof(aliases) / sizeof(aliases[0]))

/* ---- small helpers ---- */

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        abort(); /* out of memory: the house rule is to stop */
    return d;
}

static void free_string(char **p, bool secret)
{
    if (*p == NULL)
        return;
    if (secret)
        sodium_memzero(*p, strlen(*p));
    free(*p);
    *p = NULL;
}

static void *field(sy_settings_t *s, const setting_t *e)
{
    return (char *)s + e->offset;
}

static const void *cfield(const sy_settings_t *s, const setting_t *e)
{
    return (const char *)s + e->offset;
}

static const setting_t *find_key(const char *key)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (strcasecmp(settings_table[i].key, key) == 0)
            return &settings_table[i];
    }
    return NULL;
}

/* The setting of a key or of an alias (which names a key, never another
 * alias). */
static const setting_t *find_setting(const char *key)
{
    const setting_t *e = find_key(key);

    for (size_t i = 0; e == NULL && i < NALIASES; i++) {
        if (strcasecmp(aliases[i].key, key) == 0)
            e = find_key(aliases[i].target);
    }
    return e;
}

/* "syncto.token_server_url" -> "SYNCTO_TOKEN_SERVER_URL" */
static void env_name(const char *key, char *out, size_t n)
{
    size_t i = 0;
    for (; key[i] != '\0' && i + 1 < n; i++)
        out[i] = (char)(key[i] == '.' ? '_' : toupper((unsigned char)key[i]));
    out[i] = '\0';
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool valid_collection(const char *c, size_t len)
{
    if (len < 1 || len > COLLECTION_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)c[i];
        if (!(islower(ch) || isdigit(ch) || ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* "a, b, (empty)": the values an enum setting accepts, for messages and
 * the documentation. */
static void choices_list(const setting_t *e, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (const char *const *c = e->choices; *c != NULL && used < n; c++) {
        int w = snprintf(out + used, n - used, "%s%s", used > 0 ? ", " : "",
                         **c == '\0' ? "(empty)" : *c);
        if (w > 0)
            used += (size_t)w;
    }
}

/* ---- value checks ---- */

static bool check_listen(const char *v, char *why, size_t n)
{
    sy_listen_addr_t addr;
    char reason[160];
    if (sy_listen_parse(v, &addr, reason, sizeof(reason)) == SY_OK)
        return true;
    snprintf(why, n, "invalid listen address \"%.200s\": %s", v, reason);
    return false;
}

static bool has_space(const char *v)
{
    for (; *v != '\0'; v++) {
        if (isspace((unsigned char)*v) || iscntrl((unsigned char)*v))
            return true;
    }
    return false;
}

static bool is_http_url(const char *v)
{
    const char *rest;
    if (strncmp(v, "https://", 8) == 0)
        rest = v + 8;
    else if (strncmp(v, "http://", 7) == 0)
        rest = v + 7;
    else
        return false;
    return *rest != '\0' && *rest != '/' && !has_space(v);
}

static bool check_url(const char *v, char *why, size_t n)
{
    if (is_http_url(v))
        return true;
    snprintf(why, n, "not an http:// or https:// URL: \"%.200s\"", v);
    return false;
}

static bool check_url_or_empty(const char *v, char *why, size_t n)
{
    return *v == '\0' || check_url(v, why, n);
}

static bool check_host(const char *v, char *why, size_t n)
{
    if (!has_space(v) && strpbrk(v, "/?#@") == NULL)
        return true;
    snprintf(why, n, "not a host[:port]: \"%.200s\"", v);
    return false;
}

static bool check_origins(const char *v, char *why, size_t n)
{
    if (strcmp(v, "*") == 0)
        return true;
    const char *p = v;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len == 0)
            break;
        char one[512];
        if (len >= sizeof(one)) {
            snprintf(why, n, "origin too long");
            return false;
        }
        memcpy(one, p, len);
        one[len] = '\0';
        if (!is_http_url(one) || strchr(strchr(one, ':') + 3, '/') != NULL) {
            snprintf(why, n, "not \"*\" nor an origin like https://host[:port]: \"%.200s\"", one);
            return false;
        }
        p += len;
    }
    return true;
}

/* The number written with the n digits at s, or -1 when one is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool check_date(const char *v, char *why, size_t n)
{
    if (*v == '\0')
        return true;
    if (strlen(v) == 10 && v[4] == '-' && v[7] == '-') {
        int y = digits(v, 4), m = digits(v + 5, 2), d = digits(v + 8, 2);

        if (y >= 2000 && m >= 1 && m <= 12 && d >= 1 && d <= 31)
            return true;
    }
    snprintf(why, n, "not a YYYY-MM-DD date: \"%.200s\"", v);
    return false;
}

static bool check_statsd(const char *v, char *why, size_t n)
{
    if (*v == '\0')
        return true;
    sy_listen_addr_t addr;
    char reason[160], hostport[300];
    if (strncmp(v, "udp://", 6) == 0) {
        const char *rest = v + 6;
        const char *close = rest[0] == '[' ? strchr(rest, ']') : NULL;
        const char *after = close != NULL ? close + 1 : rest;
        /* the port may be left out (StatsD's 8125) */
        bool has_port = strchr(after, ':') != NULL;
        snprintf(hostport, sizeof(hostport), "%s%s", rest, has_port ? "" : ":8125");
        if (strncmp(hostport, "unix:", 5) != 0 &&
            sy_listen_parse(hostport, &addr, reason, sizeof(reason)) == SY_OK)
            return true;
    }
    snprintf(why, n, "not a udp://host[:port] URL: \"%.200s\"", v);
    return false;
}

/* ---- loading ---- */

/* Where a value came from, for error messages. */
typedef struct {
    int line;     /* > 0: line of the settings file */
    char env[96]; /* non-empty: name of the environment variable */
} origin_t;

typedef struct {
    sy_settings_t *s;
    const char *file;
    char dir[PATH_MAX]; /* absolute directory of the settings file */
    origin_t origin[NSETTINGS];
    origin_t rule_origin[SY_MAX_COLLECTION_RULES][2]; /* [put, delete] */
    char *err;
    size_t errlen;
} load_t;

static void fail(load_t *L, const origin_t *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "file:line: key: reason", "environment: VAR: reason" or, for a
 * value never set, "file: key: reason". */
static void fail(load_t *L, const origin_t *o, const char *key, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(reason, sizeof(reason), fmt, ap); /* a long reason is cut */
    va_end(ap);
    if (o != NULL && o->env[0] != '\0')
        snprintf(L->err, L->errlen, "environment: %s: %s", o->env, reason);
    else if (o != NULL && o->line > 0)
        snprintf(L->err, L->errlen, "%s:%d: %s: %s", L->file, o->line, key, reason);
    else
        snprintf(L->err, L->errlen, "%s: %s: %s", L->file, key, reason);
}

static void fail_line(load_t *L, int lineno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "file:line: reason", for a line that is not "key = value". */
static void fail_line(load_t *L, int lineno, const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(reason, sizeof(reason), fmt, ap); /* a long reason is cut */
    va_end(ap);
    snprintf(L->err, L->errlen, "%s:%d: %s", L->file, lineno, reason);
}

/* Parses value for e and stores it into s; on failure writes why. */
static bool set_value(sy_settings_t *s, const setting_t *e, const char *value, char *why, size_t n)
{
    bool secret = (e->flags & F_SECRET) != 0;
    const char *shown = secret ? "(secret)" : value;

    switch (e->type) {
    case T_STRING:
    case T_PATH: {
        size_t len = strlen(value);
        if (len < (size_t)e->min) {
            if (len == 0)
                snprintf(why, n, "must not be empty");
            else
                snprintf(why, n, "too short (at least %.0f characters)", e->min);
            return false;
        }
        if (len > (size_t)e->max) {
            snprintf(why, n, "too long (at most %.0f characters)", e->max);
            return false;
        }
        if (e->check != NULL && !e->check(value, why, n))
            return false;
        char **p = field(s, e);
        free_string(p, secret);
        *p = xstrdup(value);
        return true;
    }
    case T_ENUM: {
        for (const char *const *c = e->choices; *c != NULL; c++) {
            if (strcasecmp(*c, value) == 0) {
                char **p = field(s, e);
                free_string(p, false);
                *p = xstrdup(*c);
                return true;
            }
        }
        char list[256];
        choices_list(e, list, sizeof(list));
        snprintf(why, n, "invalid value \"%.200s\" (expected %s)", value, list);
        return false;
    }
    case T_INT:
    case T_LONG: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (*value == '\0' || *end != '\0' || errno == ERANGE) {
            snprintf(why, n, "not an integer: \"%.200s\"", shown);
            return false;
        }
        if ((double)v < e->min || (double)v > e->max) {
            snprintf(why, n, "out of range: %lld (allowed %.0f..%.0f)", v, e->min, e->max);
            return false;
        }
        if (e->type == T_INT)
            *(int *)field(s, e) = (int)v;
        else
            *(long *)field(s, e) = (long)v;
        return true;
    }
    case T_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (*value == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v)) {
            snprintf(why, n, "not a number: \"%.200s\"", shown);
            return false;
        }
        if (v < e->min || v > e->max) {
            snprintf(why, n, "out of range: %g (allowed %g..%g)", v, e->min, e->max);
            return false;
        }
        *(double *)field(s, e) = v;
        return true;
    }
    case T_BOOL: {
        bool v;
        if (!parse_bool(value, &v)) {
            snprintf(why, n, "not a boolean: \"%.200s\" (expected true or false)", shown);
            return false;
        }
        *(bool *)field(s, e) = v;
        return true;
    }
    }
    snprintf(why, n, "unsupported setting type");
    return false;
}

static sy_collection_rule_t *find_rule(const sy_settings_t *s, const char *collection, int *index)
{
    for (int i = 0; i < s->nrules; i++) {
        if (strcasecmp(s->rules[i].collection, collection) == 0) {
            if (index != NULL)
                *index = i;
            return (sy_collection_rule_t *)&s->rules[i];
        }
    }
    return NULL;
}

/* Applies "syncto.record_<collection>_<put|delete>_enabled" given as its
 * collection (length clen, any case) and method. */
static bool set_rule(load_t *L, const origin_t *o, const char *key, const char *coll, size_t clen,
                     int method, const char *value)
{
    char name[COLLECTION_MAX + 1] = "";
    if (clen <= COLLECTION_MAX) {
        for (size_t i = 0; i < clen; i++)
            name[i] = (char)tolower((unsigned char)coll[i]);
        name[clen] = '\0';
    }
    if (!valid_collection(name, clen)) {
        fail(L, o, key, "invalid collection name (1 to 32 of a-z 0-9 . _ -)");
        return false;
    }

    bool enabled;
    if (!parse_bool(value, &enabled)) {
        fail(L, o, key, "not a boolean: \"%.200s\" (expected true or false)", value);
        return false;
    }
    int idx;
    sy_collection_rule_t *r = find_rule(L->s, name, &idx);
    if (r == NULL) {
        if (L->s->nrules >= SY_MAX_COLLECTION_RULES) {
            fail(L, o, key, "too many collection rules (at most %d collections)",
                 SY_MAX_COLLECTION_RULES);
            return false;
        }
        idx = L->s->nrules++;
        r = &L->s->rules[idx];
        memcpy(r->collection, name, clen + 1);
    }
    origin_t *prev = &L->rule_origin[idx][method];
    if (o->env[0] == '\0' && prev->line > 0) {
        fail(L, o, key, "duplicate setting (already set at line %d)", prev->line);
        return false;
    }
    *prev = *o;
    if (method == 0)
        r->put_enabled = enabled;
    else
        r->delete_enabled = enabled;
    return true;
}

/* Splits "record_<coll>_<put|delete>_enabled" (after a prefix already
 * removed); false when rest does not have that shape. */
static bool split_rule(const char *rest, const char **coll, size_t *clen, int *method)
{
    static const char *const suffixes[2] = {"_put_enabled", "_delete_enabled"};
    size_t len = strlen(rest);
    for (int m = 0; m < 2; m++) {
        size_t sl = strlen(suffixes[m]);
        if (len >= sl && strcasecmp(rest + len - sl, suffixes[m]) == 0) {
            *coll = rest;
            *clen = len - sl;
            *method = m;
            return true;
        }
    }
    return false;
}

static bool apply(load_t *L, const origin_t *o, const char *key, const char *value)
{
    const setting_t *e = find_setting(key);
    if (e == NULL) {
        const char *coll;
        size_t clen;
        int method;
        if (strncasecmp(key, RULE_PREFIX, strlen(RULE_PREFIX)) == 0 &&
            split_rule(key + strlen(RULE_PREFIX), &coll, &clen, &method))
            return set_rule(L, o, key, coll, clen, method, value);
        fail(L, o, key, "unknown setting");
        return false;
    }
    size_t i = (size_t)(e - settings_table);
    if (o->env[0] == '\0' && L->origin[i].line > 0) {
        fail(L, o, key, "duplicate setting (already set at line %d)", L->origin[i].line);
        return false;
    }
    char why[512];
    if (!set_value(L->s, e, value, why, sizeof(why))) {
        fail(L, o, key, "%s", why);
        return false;
    }
    L->origin[i] = *o;
    return true;
}

static bool load_file(load_t *L)
{
    FILE *f = fopen(L->file, "re");
    if (f == NULL) {
        snprintf(L->err, L->errlen, "%s: cannot open: %s", L->file, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0;
    bool ok = true;

    while (ok && (got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        origin_t o = {.line = lineno};
        if (got > LINE_MAX_BYTES) {
            fail_line(L, lineno, "line too long (at most %d bytes)", LINE_MAX_BYTES);
            ok = false;
            break;
        }
        if ((size_t)got != strlen(line)) {
            fail_line(L, lineno, "NUL byte in line");
            ok = false;
            break;
        }
        char *p = line;
        if (lineno == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
            (unsigned char)p[2] == 0xBF)
            p += 3; /* UTF-8 byte order mark */
        p = trim(p);
        if (*p == '\0' || *p == '#' || *p == ';')
            continue;
        if (*p == '[') {
            if (p[strlen(p) - 1] != ']') {
                fail_line(L, lineno, "unterminated section header");
                ok = false;
            }
            continue; /* any section: keys carry their full dotted names */
        }
        char *eq = strchr(p, '=');
        if (eq == NULL) {
            fail_line(L, lineno, "expected \"key = value\"");
            ok = false;
            break;
        }
        *eq = '\0';
        char *key = trim(p);
        char *value = trim(eq + 1);
        if (*key == '\0') {
            fail_line(L, lineno, "missing key before \"=\"");
            ok = false;
            break;
        }
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        ok = apply(L, &o, key, value);
    }
    if (ok && ferror(f)) {
        snprintf(L->err, L->errlen, "%s: read error: %s", L->file, strerror(errno));
        ok = false;
    }
    if (line != NULL) {
        sodium_memzero(line, cap); /* the file holds secrets */
        free(line);
    }
    (void)fclose(f); /* opened for reading: nothing to lose */
    return ok;
}

/* Applies "NAME=value" entries of the environment that name a rule. */
static bool load_env_rules(load_t *L)
{
    size_t plen = strlen(RULE_ENV_PREFIX);
    for (char **ep = environ; *ep != NULL; ep++) {
        const char *eqp = strchr(*ep, '=');
        if (strncmp(*ep, RULE_ENV_PREFIX, plen) != 0 || eqp == NULL)
            continue;
        origin_t o = {0};
        snprintf(o.env, sizeof(o.env), "%.*s", (int)(eqp - *ep), *ep);
        const char *coll;
        size_t clen;
        int method;
        if (!split_rule(o.env + plen, &coll, &clen, &method)) {
            fail(L, &o, o.env, "not SYNCTO_RECORD_<COLLECTION>_PUT_ENABLED or _DELETE_ENABLED");
            return false;
        }
        if (!set_rule(L, &o, o.env, coll, clen, method, eqp + 1))
            return false;
    }
    return true;
}

/* Applies the environment variable of key, when it is set. */
static bool apply_env(load_t *L, const char *key)
{
    origin_t o = {0};
    env_name(key, o.env, sizeof(o.env));
    const char *v = getenv(o.env);
    return v == NULL || apply(L, &o, key, v);
}

static bool load_env(load_t *L)
{
    /* aliases first, so that the canonical name wins when both are set */
    for (size_t i = 0; i < NALIASES; i++) {
        if (!apply_env(L, aliases[i].key))
            return false;
    }
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (!apply_env(L, settings_table[i].key))
            return false;
    }
    return load_env_rules(L);
}

/* A relative CA bundle is resolved against the settings file's directory
 * (or the working directory when it came from the environment), made
 * absolute and checked readable now rather than at the first request. */
static bool check_ca_bundle(load_t *L)
{
    const setting_t *e = find_setting("syncto.certificate_ca_bundle");
    const origin_t *o = &L->origin[e - settings_table];
    char **p = field(L->s, e);
    if (**p == '\0')
        return true;

    char joined[PATH_MAX * 2];
    if ((*p)[0] == '/' || o->env[0] != '\0')
        snprintf(joined, sizeof(joined), "%s", *p);
    else
        snprintf(joined, sizeof(joined), "%s/%s", L->dir, *p);

    char resolved[PATH_MAX];
    if (realpath(joined, resolved) == NULL) {
        fail(L, o, e->key, "cannot read CA bundle %s: %s", joined, strerror(errno));
        return false;
    }
    FILE *f = fopen(resolved, "re");
    if (f == NULL) {
        fail(L, o, e->key, "cannot read CA bundle %s: %s", resolved, strerror(errno));
        return false;
    }
    struct stat st;
    bool regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    (void)fclose(f); /* opened for reading: nothing to lose */
    if (!regular) {
        fail(L, o, e->key, "cannot read CA bundle %s: not a regular file", resolved);
        return false;
    }
    free_string(p, false);
    *p = xstrdup(resolved);
    return true;
}

static double number_of(const sy_settings_t *s, const setting_t *e)
{
    return e->type == T_DOUBLE ? *(const double *)cfield(s, e) : (double)*(const int *)cfield(s, e);
}

/* True when a was set after b (environment after file, later line after
 * earlier line, anything after a default). */
static bool set_after(const origin_t *a, const origin_t *b)
{
    if (a->env[0] != '\0' || b->env[0] != '\0')
        return a->env[0] != '\0' && b->env[0] == '\0';
    return a->line > b->line;
}

static bool check_all(load_t *L)
{
    sy_settings_t *s = L->s;
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting_t *e = &settings_table[i];
        if ((e->flags & F_REQUIRED) == 0)
            continue;
        const char *v = *(char *const *)cfield(s, e);
        if (v == NULL || *v == '\0') {
            char name[128];
            env_name(e->key, name, sizeof(name));
            fail(L, NULL, e->key, "required setting is missing (set it in this file or in %s)",
                 name);
            return false;
        }
    }
    if (!check_ca_bundle(L))
        return false;

    /* Pairs that must be ordered: the message names the one set last. */
    static const struct {
        const char *low, *high;
        bool strict;
    } order[] = {
        {"syncto.cache_credentials_safety_margin_seconds", "syncto.cache_credentials_ttl_seconds",
         true},
        {"syncto.token_server_connect_timeout_seconds", "syncto.token_server_timeout_seconds",
         false},
        {"syncto.sync_connect_timeout_seconds", "syncto.sync_timeout_seconds", false},
    };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const setting_t *lo = find_setting(order[i].low);
        const setting_t *hi = find_setting(order[i].high);
        double vlo = number_of(s, lo), vhi = number_of(s, hi);
        if (order[i].strict ? vlo < vhi : vlo <= vhi)
            continue;
        const origin_t *olo = &L->origin[lo - settings_table];
        const origin_t *ohi = &L->origin[hi - settings_table];
        if (set_after(ohi, olo))
            fail(L, ohi, hi->key, "must be %s %s (%g)",
                 order[i].strict ? "greater than" : "at least", lo->key, vlo);
        else
            fail(L, olo, lo->key, "must be %s %s (%g)", order[i].strict ? "lower than" : "at most",
                 hi->key, vhi);
        return false;
    }
    return true;
}

static void set_defaults(sy_settings_t *s)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        char why[256];
        const setting_t *e = &settings_table[i];
        if (e->flags & F_REQUIRED) {
            *(char **)field(s, e) = xstrdup(e->def);
            continue; /* an empty required default is reported after loading */
        }
        if (!set_value(s, e, e->def, why, sizeof(why))) {
            fprintf(stderr, "syncto: bad default for %s: %s\n", e->key, why);
            abort(); /* a bug in the table */
        }
    }
}

sy_rc_t sy_settings_load(const char *path, sy_settings_t **out, char *err, size_t errlen)
{
    sy_rc_t rc = SY_ERR_CONFIG;
    load_t *L = NULL;
    sy_settings_t *s = NULL;

    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    if (path == NULL || *path == '\0')
        path = getenv("SYNCTO_INI");
    if (path == NULL || *path == '\0')
        path = DEFAULT_INI;

    s = calloc(1, sizeof(*s));
    L = calloc(1, sizeof(*L));
    if (s == NULL || L == NULL)
        abort();
    s->ini_path = xstrdup(path);
    L->s = s;
    L->file = s->ini_path;
    L->err = err;
    L->errlen = errlen;

    set_defaults(s);

    char resolved[PATH_MAX];
    if (realpath(path, resolved) != NULL) {
        char *slash = strrchr(resolved, '/');
        if (slash == resolved)
            slash[1] = '\0';
        else if (slash != NULL)
            *slash = '\0';
        snprintf(L->dir, sizeof(L->dir), "%s", resolved);
    }

    if (!load_file(L) || !load_env(L) || !check_all(L))
        goto done;

    rc = SY_OK;
    *out = s;
    s = NULL;
done:
    sy_settings_free(s);
    free(L);
    return rc;
}

void sy_settings_free(sy_settings_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting_t *e = &settings_table[i];
        if (e->type == T_STRING || e->type == T_PATH || e->type == T_ENUM)
            free_string(field(s, e), (e->flags & F_SECRET) != 0);
    }
    free(s->ini_path);
    sodium_memzero(s, sizeof(*s));
    free(s);
}

bool sy_settings_put_enabled(const sy_settings_t *s, const char *collection)
{
    if (s == NULL || collection == NULL || s->readonly)
        return false;
    const sy_collection_rule_t *r = find_rule(s, collection, NULL);
    return r != NULL && r->put_enabled;
}

bool sy_settings_delete_enabled(const sy_settings_t *s, const char *collection)
{
    if (s == NULL || collection == NULL || s->readonly)
        return false;
    const sy_collection_rule_t *r = find_rule(s, collection, NULL);
    return r != NULL && r->delete_enabled;
}

/* ---- documentation and dumps ---- */

static const char *type_name(type_t t)
{
    switch (t) {
    case T_STRING:
        return "string";
    case T_PATH:
        return "path";
    case T_ENUM:
        return "enum";
    case T_INT:
    case T_LONG:
        return "int";
    case T_DOUBLE:
        return "number";
    case T_BOOL:
        return "bool";
    }
    return "?";
}

/* Output errors are sticky in the stream: whoever asked for the table
 * checks ferror() once it is written (main_syncto.c). */
static void md_put(FILE *f, const char *s, size_t len)
{
    (void)fwrite(s, 1, len, f);
}

/* Writes s into a Markdown table cell, escaping the pipe. */
static void md_cell(FILE *f, const char *s)
{
    md_put(f, " ", 1);
    while (*s != '\0') {
        size_t run = strcspn(s, "|");

        md_put(f, s, run);
        s += run;
        if (*s == '|') {
            md_put(f, "\\|", 2);
            s++;
        }
    }
    md_put(f, " |", 2);
}

static void md_row(FILE *f, const char *key, const char *env, const char *type, const char *def,
                   const char *range, const char *doc)
{
    md_put(f, "|", 1);
    md_cell(f, key);
    md_cell(f, env);
    md_cell(f, type);
    md_cell(f, def);
    md_cell(f, range);
    md_cell(f, doc);
    md_put(f, "\n", 1);
}

/* The row of a settings key, with its environment variable. */
static void md_key_row(FILE *f, const char *key, const char *type, const char *def,
                       const char *range, const char *doc)
{
    char k[128], env[160], name[128];
    snprintf(k, sizeof(k), "`%s`", key);
    env_name(key, name, sizeof(name));
    snprintf(env, sizeof(env), "`%s`", name);
    md_row(f, k, env, type, def, range, doc);
}

static void describe_range(const setting_t *e, char *out, size_t n)
{
    out[0] = '\0';
    if (e->range != NULL) {
        snprintf(out, n, "%s", e->range);
        return;
    }
    switch (e->type) {
    case T_INT:
    case T_LONG:
        snprintf(out, n, "%.0f..%.0f", e->min, e->max);
        break;
    case T_DOUBLE:
        snprintf(out, n, "%g..%g", e->min, e->max);
        break;
    case T_BOOL:
        snprintf(out, n, "true, false");
        break;
    case T_ENUM:
        choices_list(e, out, n);
        break;
    case T_PATH:
        snprintf(out, n, "readable file");
        break;
    case T_STRING:
        break;
    }
}

void sy_settings_write_markdown(FILE *f)
{
    static const char head[] = "| Setting | Environment variable | Type | Default | Range | "
                               "Description |\n| --- | --- | --- | --- | --- | --- |\n";

    md_put(f, head, sizeof(head) - 1);
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting_t *e = &settings_table[i];
        char def[512], range[256];
        if (e->flags & F_SECRET)
            snprintf(def, sizeof(def), "%s", e->flags & F_REQUIRED ? "(required)" : "(none)");
        else if (e->def[0] == '\0')
            snprintf(def, sizeof(def), "(empty)");
        else
            snprintf(def, sizeof(def), "`%s`", e->def);
        describe_range(e, range, sizeof(range));
        md_key_row(f, e->key, type_name(e->type), def, range, e->doc);

        for (size_t a = 0; a < NALIASES; a++) {
            if (strcmp(aliases[a].target, e->key) != 0)
                continue;
            char adoc[256];
            snprintf(adoc, sizeof(adoc), "Older name of `%s`, still accepted.", e->key);
            md_key_row(f, aliases[a].key, type_name(e->type), def, range, adoc);
        }
    }
    md_row(f, "`syncto.record_<collection>_put_enabled`",
           "`SYNCTO_RECORD_<COLLECTION>_PUT_ENABLED`", "bool", "`false`", "true, false",
           "Allow PUT on the records of that Sync collection (e.g. "
           "`syncto.record_history_put_enabled`); a disabled collection answers 405.");
    md_row(
        f, "`syncto.record_<collection>_delete_enabled`",
        "`SYNCTO_RECORD_<COLLECTION>_DELETE_ENABLED`", "bool", "`false`", "true, false",
        "Allow DELETE on the records of that Sync collection; a disabled collection answers 405.");
}

/* Copies v into out, masking a URL password ("scheme://user:pw@") and a
 * libpq "password=..." pair, so that dumps never show credentials. */
static void mask_credentials(const char *v, char *out, size_t n)
{
    snprintf(out, n, "%s", v);
    char *scheme = strstr(out, "://");
    if (scheme != NULL) {
        char *user = scheme + 3;
        char *at = strchr(user, '@');
        char *colon = strchr(user, ':');
        char *slash = strchr(user, '/');
        if (at != NULL && colon != NULL && colon < at && (slash == NULL || at < slash)) {
            char tail[1024];
            snprintf(tail, sizeof(tail), "%s", at);
            snprintf(colon, n - (size_t)(colon - out), ":********%s", tail);
        }
    }
    char *pw = strstr(out, "password=");
    if (pw != NULL) {
        char *end = pw + strlen("password=");
        size_t vlen = strcspn(end, " &");
        char tail[1024];
        snprintf(tail, sizeof(tail), "%s", end + vlen);
        snprintf(end, n - (size_t)(end - out), "********%s", tail);
    }
}

void sy_settings_dump(const sy_settings_t *s, FILE *f)
{
    fprintf(f, "# settings loaded from %s\n", s->ini_path);
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting_t *e = &settings_table[i];
        const void *p = cfield(s, e);
        switch (e->type) {
        case T_STRING:
        case T_PATH:
        case T_ENUM: {
            const char *v = *(char *const *)p;
            if (v == NULL || *v == '\0') {
                fprintf(f, "%s = \"\"\n", e->key);
            } else if (e->flags & F_SECRET) {
                fprintf(f, "%s = ********\n", e->key);
            } else {
                char masked[STR_MAX + 64];
                mask_credentials(v, masked, sizeof(masked));
                fprintf(f, "%s = %s\n", e->key, masked);
            }
            break;
        }
        case T_INT:
            fprintf(f, "%s = %d\n", e->key, *(const int *)p);
            break;
        case T_LONG:
            fprintf(f, "%s = %ld\n", e->key, *(const long *)p);
            break;
        case T_DOUBLE:
            fprintf(f, "%s = %g\n", e->key, *(const double *)p);
            break;
        case T_BOOL:
            fprintf(f, "%s = %s\n", e->key, *(const bool *)p ? "true" : "false");
            break;
        }
    }
    for (int i = 0; i < s->nrules; i++) {
        fprintf(f, "%s%s_put_enabled = %s\n", RULE_PREFIX, s->rules[i].collection,
                s->rules[i].put_enabled ? "true" : "false");
        fprintf(f, "%s%s_delete_enabled = %s\n", RULE_PREFIX, s->rules[i].collection,
                s->rules[i].delete_enabled ? "true" : "false");
    }
}
