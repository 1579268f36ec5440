/* PostgreSQL cache: a fixed pool of libpq connections per worker process,
 * prepared statements, fail-fast reconnection, advisory locks.
 *
 * Why the value is a JSON string literal: cliquet's PostgreSQL cache backend
 * stored json.dumps(value), so the hex ciphertext it kept for Syncto sits in
 * the table with surrounding double quotes. Writing the same form lets an
 * old Syncto and this one share a cache table during a migration, and lets
 * this one read rows the old one left. See docs/internals/cache.md. */
#include "syncto/sy_cache.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "syncto/sy_json.h"
#include "syncto/sy_log.h"

#define POOL_MAX 64
#define ACQUIRE_TIMEOUT_MS 1000 /* waiting for a free pooled connection */
#define SHORT_ACQUIRE_MS 200    /* the same, for sy_cache_lock_get/set without a lock */
#define FAIL_FAST_MS 1000       /* no new connect attempt within this after a failure */
#define PURGE_EVERY_MS 60000    /* opportunistic purge from sy_cache_get */
#define CONNECT_TIMEOUT_S 2
#define STATEMENT_TIMEOUT_MS 2000
#define PING_TTL_MS 10000
#define INT8_OID 20

/* Every session runs in UTC so that the TIMESTAMP (without time zone) ttl
 * column means the same instant to every worker, whatever the server's
 * TimeZone setting is. */
#define SESSION_OPTIONS "-c statement_timeout=2000 -c TimeZone=UTC"

typedef struct {
    PGconn *conn; /* NULL until first use, and after a connection failure */
    bool busy;    /* checked out by one thread */
} slot_t;

struct sy_cache {
    char *url;
    slot_t *slots;
    int nslots;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a slot is returned */
    /* fail-fast state, under mu */
    bool down;    /* the last connect attempt failed */
    bool probing; /* a thread is trying to reconnect while down */
    int64_t last_fail_ms;
    int64_t last_purge_ms; /* 0 = never */
    /* locks of this process, under mu (see sy_cache_trylock) */
    sy_cache_lock_t *locks; /* every lock held or being tried here */
    int locks_max;          /* connections sy_cache_trylock may keep for locks */
    int locks_held;         /* connections keeping a lock */
    int locks_trying;       /* connections trying one for sy_cache_trylock */
};

struct sy_cache_lock {
    slot_t *slot; /* NULL: a lock within this process only (no connection) */
    bool lost;    /* the session died while held: PostgreSQL released the lock */
    sy_cache_lock_t *next;
    char key[SY_CACHE_KEY_MAX + 1];
};

typedef struct {
    const char *name;
    const char *sql;
    int nparams;
    const Oid *types;
} stmt_t;

static const Oid set_types[] = {0, 0, INT8_OID};

static const stmt_t stmts[] = {
    /* The second column is what the row has left, in whole milliseconds
     * rounded down (-1: no expiry), for copies that must not outlive it. */
    {"sy_cache_get",
     "SELECT value, CASE WHEN ttl IS NULL THEN -1 "
     "ELSE floor(extract(epoch FROM ttl - now()) * 1000)::bigint END "
     "FROM cache WHERE key = $1 AND (ttl IS NULL OR ttl > now())",
     1, NULL},
    {"sy_cache_set",
     "INSERT INTO cache (key, value, ttl) VALUES ($1, $2, now() + $3 * interval '1 millisecond') "
     "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, ttl = EXCLUDED.ttl",
     3, set_types},
    {"sy_cache_delete", "DELETE FROM cache WHERE key = $1", 1, NULL},
    {"sy_cache_purge", "DELETE FROM cache WHERE ttl < now()", 0, NULL},
    {"sy_cache_lock", "SELECT pg_advisory_lock(hashtextextended($1, 0))", 1, NULL},
    {"sy_cache_trylock", "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", 1, NULL},
    {"sy_cache_unlock", "SELECT pg_advisory_unlock(hashtextextended($1, 0))", 1, NULL},
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Logs name keys by their prefix only ("credentials_", "backoff_"...). */
static int key_prefix_len(const char *key)
{
    const char *u = strchr(key, '_');
    size_t n = u ? (size_t)(u - key) + 1 : strlen(key);

    return n > 32 ? 32 : (int)n;
}

/* Copies msg into err as one line, with every occurrence of secret masked. */
static void one_line(char *err, size_t errlen, const char *msg, const char *secret)
{
    size_t slen = secret ? strlen(secret) : 0;
    size_t o = 0;
    bool space = false;

    if (errlen == 0)
        return;
    while (*msg && o + 1 < errlen) {
        if (secret != NULL && slen > 0 && strncmp(msg, secret, slen) == 0) {
            if (space && o > 0)
                err[o++] = ' ';
            for (const char *m = "***"; *m && o + 1 < errlen; m++)
                err[o++] = *m;
            msg += slen;
            space = false;
            continue;
        }
        if (*msg == '\n' || *msg == '\t' || *msg == '\r' || *msg == ' ') {
            space = true;
        } else {
            if (space && o > 0)
                err[o++] = ' '; /* the loop condition left room */
            space = false;
            if (o + 1 < errlen)
                err[o++] = *msg;
        }
        msg++;
    }
    err[o] = '\0';
}

struct pg_conn *sy_cache_pq_connect(const char *url, int connect_timeout, const char *options,
                                    const char *appname, char *err, size_t errlen)
{
    PQconninfoOption *opts = NULL;
    const char **kw = NULL, **val = NULL;
    char *perr = NULL, *merged = NULL, *password = NULL;
    const char *user_options = NULL;
    char tmo[16];
    bool has_appname = false;
    PGconn *conn = NULL;
    size_t nopts = 0, n = 0;

    if (url == NULL || url[0] == '\0') {
        snprintf(err, errlen, "syncto.cache_url is empty");
        return NULL;
    }
    opts = PQconninfoParse(url, &perr);
    if (opts == NULL) {
        /* libpq's parse message may quote part of the string: not shown. */
        snprintf(err, errlen, "syncto.cache_url is not a valid libpq connection string or URI");
        PQfreemem(perr);
        return NULL;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        nopts++;
    kw = calloc(nopts + 4, sizeof(*kw));
    val = calloc(nopts + 4, sizeof(*val));
    if (kw == NULL || val == NULL)
        abort();

    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL)
            continue;
        if (strcmp(o->keyword, "connect_timeout") == 0)
            continue;
        if (strcmp(o->keyword, "options") == 0) {
            user_options = o->val;
            continue;
        }
        if (strcmp(o->keyword, "password") == 0)
            password = o->val;
        if (strcmp(o->keyword, "application_name") == 0)
            has_appname = true;
        kw[n] = o->keyword;
        val[n] = o->val;
        n++;
    }
    snprintf(tmo, sizeof(tmo), "%d", connect_timeout);
    kw[n] = "connect_timeout";
    val[n++] = tmo;
    if (user_options != NULL && options != NULL) {
        size_t len = strlen(user_options) + strlen(options) + 2;

        merged = malloc(len);
        if (merged == NULL)
            abort();
        snprintf(merged, len, "%s %s", user_options, options);
    }
    if (user_options != NULL || options != NULL) {
        kw[n] = "options";
        val[n++] = merged ? merged : (options ? options : user_options);
    }
    if (!has_appname && appname != NULL) {
        kw[n] = "application_name";
        val[n++] = appname;
    }
    kw[n] = NULL;
    val[n] = NULL;

    conn = PQconnectdbParams(kw, val, 0);
    if (conn == NULL)
        abort(); /* libpq could not allocate */
    if (PQstatus(conn) != CONNECTION_OK) {
        one_line(err, errlen, PQerrorMessage(conn), password);
        PQfinish(conn);
        conn = NULL;
    }

    if (password != NULL)
        sodium_memzero(password, strlen(password));
    free(merged);
    free(kw);
    free(val);
    PQconninfoFree(opts);
    return conn;
}

/* --- JSON string literal, the stored form of a value --- */

static const char hexd[] = "0123456789abcdef";

/* The two-character JSON escape of ch, or 0 when it has none. */
static char short_escape(unsigned char ch)
{
    switch (ch) {
    case '"':
        return '"';
    case '\\':
        return '\\';
    case '\b':
        return 'b';
    case '\f':
        return 'f';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    default:
        return 0;
    }
}

/* Returns a malloc'ed JSON string literal of value (quotes included). Bytes
 * >= 0x80 go through as they are (UTF-8). The caller wipes and frees it. */
static char *json_quote(const char *value, size_t len)
{
    char *out = malloc(len * 6 + 3);
    size_t o = 0;

    if (out == NULL)
        abort();
    out[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)value[i];
        char esc = short_escape(ch);

        if (esc != 0) {
            out[o++] = '\\';
            out[o++] = esc;
        } else if (ch < 0x20) {
            out[o++] = '\\';
            out[o++] = 'u';
            out[o++] = '0';
            out[o++] = '0';
            out[o++] = hexd[ch >> 4];
            out[o++] = hexd[ch & 0xf];
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

static int hex4(const char *s, unsigned *cp)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        char ch = s[i];

        v <<= 4;
        if (ch >= '0' && ch <= '9')
            v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            v |= (unsigned)(ch - 'A' + 10);
        else
            return -1;
    }
    *cp = v;
    return 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* JSON's one-letter escapes, and the bytes they stand for (index-aligned). */
static const char escapes_from[] = "\"\\/bfnrt";
static const char escapes_to[] = "\"\\/\b\f\n\r\t";

/* Decodes a stored JSON string literal into pool. SY_ERR_INVALID when s is
 * not exactly one JSON string (or holds \u0000), or is not UTF-8. */
static SY_MUST_CHECK sy_rc_t json_unquote(sy_pool_t *pool, const char *s, size_t len, char **value)
{
    char *out;
    size_t o = 0;

    if (len < 2 || s[0] != '"' || s[len - 1] != '"')
        return SY_ERR_INVALID;
    if (!sy_json_utf8_valid((const unsigned char *)s, len))
        return SY_ERR_INVALID;  /* JSON text is UTF-8, as sy_json_parse_pool() has it */
    out = sy_palloc(pool, len); /* never longer than the literal */
    for (size_t i = 1; i < len - 1; i++) {
        unsigned char ch = (unsigned char)s[i];
        unsigned cp, lo;

        if (ch == '"' || ch < 0x20)
            return SY_ERR_INVALID;
        if (ch != '\\') {
            out[o++] = (char)ch;
            continue;
        }
        if (++i >= len - 1)
            return SY_ERR_INVALID;
        if (s[i] != 'u') {
            const char *e = strchr(escapes_from, s[i]);

            if (e == NULL || *e == '\0')
                return SY_ERR_INVALID;
            out[o++] = escapes_to[e - escapes_from];
            continue;
        }
        /* \uXXXX; the closing quote is at len - 1 */
        if (i + 4 >= len - 1 || hex4(s + i + 1, &cp) != 0)
            return SY_ERR_INVALID;
        i += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            /* a high surrogate must be followed by \uDC00-\uDFFF */
            if (i + 6 >= len - 1 || s[i + 1] != '\\' || s[i + 2] != 'u' ||
                hex4(s + i + 3, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                return SY_ERR_INVALID;
            i += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
            return SY_ERR_INVALID;
        }
        o += put_utf8(out + o, cp);
    }
    out[o] = '\0';
    *value = out;
    return SY_OK;
}

char *sy_cache_value_quote(const char *value, size_t len)
{
    return json_quote(value, len);
}

sy_rc_t sy_cache_value_unquote(sy_pool_t *pool, const char *s, size_t len, char **value)
{
    return json_unquote(pool, s, len, value);
}

/* --- the pool --- */

static slot_t *pick_free(sy_cache_t *c)
{
    slot_t *empty = NULL;

    for (int i = 0; i < c->nslots; i++) {
        slot_t *s = &c->slots[i];

        if (s->busy)
            continue;
        if (s->conn != NULL)
            return s; /* prefer an open connection */
        if (empty == NULL)
            empty = s;
    }
    return empty;
}

static void deadline_in(struct timespec *deadline, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, deadline);
    deadline->tv_sec += ms / 1000;
    deadline->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (deadline->tv_nsec >= 1000000000L) {
        deadline->tv_sec++;
        deadline->tv_nsec -= 1000000000L;
    }
}

/* Checks a slot out, waiting at most wait_ms for one to be free. */
static SY_MUST_CHECK sy_rc_t acquire_within(sy_cache_t *c, const sy_ctx_t *ctx, int wait_ms,
                                            slot_t **out)
{
    struct timespec deadline;
    slot_t *s;

    deadline_in(&deadline, wait_ms);
    pthread_mutex_lock(&c->mu);
    while ((s = pick_free(c)) == NULL) {
        int e = pthread_cond_timedwait(&c->cv, &c->mu, &deadline);

        if (e == ETIMEDOUT && (s = pick_free(c)) == NULL)
            break;
    }
    if (s != NULL)
        s->busy = true;
    pthread_mutex_unlock(&c->mu);

    if (s == NULL) {
        sy_log_ctx_warn(ctx, "cache: no free PostgreSQL connection within %d ms (pool of %d)",
                        wait_ms, c->nslots);
        return SY_ERR_DB;
    }
    *out = s;
    return SY_OK;
}

static SY_MUST_CHECK sy_rc_t acquire(sy_cache_t *c, const sy_ctx_t *ctx, slot_t **out)
{
    return acquire_within(c, ctx, ACQUIRE_TIMEOUT_MS, out);
}

/* Returns s to the pool. Every waiter is woken: some wait for any slot,
 * sy_cache_trylock waits for a slot it may keep, and a single signal could
 * wake one that cannot use it while another that could sleeps on. */
static void release(sy_cache_t *c, slot_t *s)
{
    pthread_mutex_lock(&c->mu);
    s->busy = false;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void reset_slot(slot_t *s)
{
    PQfinish(s->conn);
    s->conn = NULL;
}

static PGconn *open_conn(const sy_ctx_t *ctx, const char *url)
{
    char err[512];
    PGconn *conn =
        sy_cache_pq_connect(url, CONNECT_TIMEOUT_S, SESSION_OPTIONS, "syncto", err, sizeof(err));

    if (conn == NULL) {
        sy_log_ctx_error(ctx, "cache: cannot connect to PostgreSQL: %s", err);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        PGresult *res =
            PQprepare(conn, stmts[i].name, stmts[i].sql, stmts[i].nparams, stmts[i].types);

        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

            one_line(err, sizeof(err), msg ? msg : PQerrorMessage(conn), NULL);
            sy_log_ctx_error(
                ctx, "cache: PostgreSQL rejected statement %s (was syncto-migrate run?): %s",
                stmts[i].name, err);
            PQclear(res);
            PQfinish(conn);
            return NULL;
        }
        PQclear(res);
    }
    return conn;
}

/* Makes sure s has a usable connection. While PostgreSQL is down, at most one
 * thread tries to reconnect, at most once per FAIL_FAST_MS; the others get
 * SY_ERR_DB at once, so requests keep being answered quickly. */
static SY_MUST_CHECK sy_rc_t ensure_conn(sy_cache_t *c, const sy_ctx_t *ctx, slot_t *s, bool *fresh)
{
    bool probe = false;
    PGconn *conn;

    *fresh = false;
    if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
        return SY_OK;
    reset_slot(s);

    pthread_mutex_lock(&c->mu);
    if (c->down) {
        if (c->probing || now_ms() - c->last_fail_ms < FAIL_FAST_MS) {
            pthread_mutex_unlock(&c->mu);
            return SY_ERR_DB;
        }
        c->probing = probe = true;
    }
    pthread_mutex_unlock(&c->mu);

    conn = open_conn(ctx, c->url);

    pthread_mutex_lock(&c->mu);
    if (probe)
        c->probing = false;
    if (conn != NULL) {
        c->down = false;
    } else {
        c->down = true;
        c->last_fail_ms = now_ms();
    }
    pthread_mutex_unlock(&c->mu);

    if (conn == NULL)
        return SY_ERR_DB;
    s->conn = conn;
    *fresh = true;
    return SY_OK;
}

/* True when res (or its absence) means the session is gone: the connection
 * is bad, libpq reported a failure of its own, or the server said so with
 * SQLSTATE class 08 (connection exception) or 57P0x (shutdown). */
static bool conn_broken(PGconn *conn, const PGresult *res)
{
    const char *state;

    if (PQstatus(conn) != CONNECTION_OK || res == NULL)
        return true;
    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state == NULL)
        return PQresultStatus(res) == PGRES_FATAL_ERROR;
    return strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0;
}

/* Runs a prepared statement (name) or a simple query (sql) on slot s. A
 * connection found broken is closed; if it was an old one and retry is set,
 * the statement is sent once more on a new connection (every statement here
 * is idempotent). On SY_OK *out holds the result, which the caller clears. */
static SY_MUST_CHECK sy_rc_t run(sy_cache_t *c, const sy_ctx_t *ctx, slot_t *s, const char *name,
                                 const char *sql, int nparams, const char *const *params,
                                 bool retry, PGresult **out)
{
    for (int attempt = 0;; attempt++) {
        PGresult *res;
        ExecStatusType st;
        const char *st_field, *msg;
        char line[512], state[6];
        bool fresh, broken;
        sy_rc_t rc = ensure_conn(c, ctx, s, &fresh);

        if (rc != SY_OK)
            return rc;
        if (name != NULL)
            res = PQexecPrepared(s->conn, name, nparams, params, NULL, NULL, 0);
        else
            res = PQexec(s->conn, sql);
        st = PQresultStatus(res);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            *out = res;
            return SY_OK;
        }

        broken = conn_broken(s->conn, res);
        st_field = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        snprintf(state, sizeof(state), "%s", st_field ? st_field : "none");
        /* Only the primary message: DETAIL lines may quote row data. */
        msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        one_line(line, sizeof(line), msg ? msg : PQerrorMessage(s->conn), NULL);
        PQclear(res);
        if (!broken) {
            /* 55P03: a lock wait ran out, which the caller reports itself */
            sy_log_ctx(strcmp(state, "55P03") == 0 ? SY_LOG_DEBUG : SY_LOG_WARNING, ctx,
                       "cache: %s failed (SQLSTATE %s): %s", name ? name : "query", state, line);
            return SY_ERR_DB;
        }
        sy_log_ctx_warn(ctx, "cache: PostgreSQL connection lost during %s (SQLSTATE %s): %s",
                        name ? name : "query", state, line);
        reset_slot(s);
        if (fresh || attempt > 0 || !retry)
            return SY_ERR_DB;
    }
}

static SY_MUST_CHECK sy_rc_t check_key(const char *key)
{
    if (key == NULL || key[0] == '\0' || strlen(key) > SY_CACHE_KEY_MAX)
        return SY_ERR_INVALID;
    return SY_OK;
}

sy_cache_t *sy_cache_new(const sy_settings_t *s)
{
    sy_cache_t *c;
    PQconninfoOption *opts;
    pthread_condattr_t ca;
    char *perr = NULL;
    int n;

    if (s == NULL || s->cache_url == NULL || s->cache_url[0] == '\0') {
        sy_log_error(NULL, "cache: syncto.cache_url is empty");
        return NULL;
    }
    opts = PQconninfoParse(s->cache_url, &perr);
    if (opts == NULL) {
        sy_log_error(NULL, "cache: syncto.cache_url is not a valid libpq connection string or URI");
        PQfreemem(perr);
        return NULL;
    }
    PQconninfoFree(opts);

    n = s->cache_pool_size;
    if (n < 1)
        n = 1;
    if (n > POOL_MAX)
        n = POOL_MAX;

    c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->url = strdup(s->cache_url);
    c->slots = calloc((size_t)n, sizeof(*c->slots));
    if (c->url == NULL || c->slots == NULL)
        abort();
    c->nslots = n;
    c->locks_max = n / 2 > 0 ? n / 2 : 1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    return c;
}

void sy_cache_free(sy_cache_t *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < c->nslots; i++)
        reset_slot(&c->slots[i]);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    sodium_memzero(c->url, strlen(c->url)); /* may hold the password */
    free(c->url);
    free(c->slots);
    free(c);
}

/* Deletes expired rows on slot s at most once per PURGE_EVERY_MS per process. */
static void maybe_purge(sy_cache_t *c, const sy_ctx_t *ctx, slot_t *s)
{
    int64_t now = now_ms();
    bool due;
    PGresult *res = NULL;

    pthread_mutex_lock(&c->mu);
    due = c->last_purge_ms == 0 || now - c->last_purge_ms >= PURGE_EVERY_MS;
    if (due)
        c->last_purge_ms = now;
    pthread_mutex_unlock(&c->mu);
    if (due && run(c, ctx, s, "sy_cache_purge", NULL, 0, NULL, false, &res) == SY_OK)
        PQclear(res);
}

/* The lookup of sy_cache_get on slot s; the row's time left in *ttl_ms
 * when ttl_ms is not NULL. */
static SY_MUST_CHECK sy_rc_t get_on(sy_cache_t *c, const sy_ctx_t *ctx, slot_t *s, sy_pool_t *pool,
                                    const char *key, bool retry, char **value, int64_t *ttl_ms)
{
    const char *params[1] = {key};
    PGresult *res = NULL;
    sy_rc_t rc;

    rc = run(c, ctx, s, "sy_cache_get", NULL, 1, params, retry, &res);
    if (rc != SY_OK)
        goto done;
    if (PQntuples(res) == 0) {
        rc = SY_ERR_NOT_FOUND;
        goto done;
    }
    rc = json_unquote(pool, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), value);
    if (rc != SY_OK) {
        sy_log_ctx_warn(ctx, "cache: value under %.*s... is not a JSON string; taken as a miss",
                        key_prefix_len(key), key);
        rc = SY_ERR_NOT_FOUND;
        goto done;
    }
    if (ttl_ms != NULL) {
        char *end;
        long long left = strtoll(PQgetvalue(res, 0, 1), &end, 10);

        *ttl_ms = *end == '\0' && left >= -1 ? (int64_t)left : 0;
    }

done:
    PQclear(res);
    return rc;
}

/* The upsert of sy_cache_set on slot s; the caller checked the arguments. */
static SY_MUST_CHECK sy_rc_t set_on(sy_cache_t *c, const sy_ctx_t *ctx, slot_t *s, const char *key,
                                    const char *value, int64_t ttl_ms, bool retry)
{
    char ttl[24];
    const char *params[3];
    char *quoted;
    size_t qlen;
    PGresult *res = NULL;
    sy_rc_t rc;

    quoted = json_quote(value, strlen(value));
    qlen = strlen(quoted);
    snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_ms);
    params[0] = key;
    params[1] = quoted;
    params[2] = ttl;
    rc = run(c, ctx, s, "sy_cache_set", NULL, 3, params, retry, &res);
    PQclear(res);
    sodium_memzero(quoted, qlen);
    free(quoted);
    return rc;
}

static SY_MUST_CHECK sy_rc_t check_get(const sy_cache_t *c, const sy_pool_t *pool, const char *key,
                                       char **value)
{
    if (value != NULL)
        *value = NULL;
    if (c == NULL || pool == NULL || value == NULL)
        return SY_ERR_INVALID;
    return check_key(key);
}

static SY_MUST_CHECK sy_rc_t check_set(const sy_cache_t *c, const char *key, const char *value,
                                       int64_t ttl_ms)
{
    sy_rc_t rc;

    if (c == NULL || value == NULL || ttl_ms <= 0)
        return SY_ERR_INVALID;
    rc = check_key(key);
    if (rc != SY_OK)
        return rc;
    return strlen(value) > SY_CACHE_VALUE_MAX ? SY_ERR_TOO_LARGE : SY_OK;
}

sy_rc_t sy_cache_get(sy_cache_t *c, const sy_ctx_t *ctx, sy_pool_t *pool, const char *key,
                     char **value)
{
    return sy_cache_get_ttl(c, ctx, pool, key, value, NULL);
}

sy_rc_t sy_cache_get_ttl(sy_cache_t *c, const sy_ctx_t *ctx, sy_pool_t *pool, const char *key,
                         char **value, int64_t *ttl_ms)
{
    slot_t *s = NULL;
    sy_rc_t rc;

    rc = check_get(c, pool, key, value);
    if (rc != SY_OK)
        return rc;
    rc = acquire(c, ctx, &s);
    if (rc != SY_OK)
        return rc;
    rc = get_on(c, ctx, s, pool, key, true, value, ttl_ms);
    if (s->conn != NULL)
        maybe_purge(c, ctx, s);
    release(c, s);
    return rc;
}

sy_rc_t sy_cache_set(sy_cache_t *c, const sy_ctx_t *ctx, const char *key, const char *value,
                     int64_t ttl_ms)
{
    slot_t *s = NULL;
    sy_rc_t rc;

    rc = check_set(c, key, value, ttl_ms);
    if (rc != SY_OK)
        return rc;
    rc = acquire(c, ctx, &s);
    if (rc != SY_OK)
        return rc;
    rc = set_on(c, ctx, s, key, value, ttl_ms, true);
    release(c, s);
    return rc;
}

sy_rc_t sy_cache_delete(sy_cache_t *c, const sy_ctx_t *ctx, const char *key)
{
    const char *params[1] = {key};
    PGresult *res = NULL;
    slot_t *s = NULL;
    sy_rc_t rc;

    if (c == NULL)
        return SY_ERR_INVALID;
    rc = check_key(key);
    if (rc != SY_OK)
        return rc;
    rc = acquire(c, ctx, &s);
    if (rc != SY_OK)
        return rc;
    rc = run(c, ctx, s, "sy_cache_delete", NULL, 1, params, true, &res);
    PQclear(res);
    release(c, s);
    return rc;
}

sy_rc_t sy_cache_purge(sy_cache_t *c, const sy_ctx_t *ctx, long *n)
{
    PGresult *res = NULL;
    slot_t *s = NULL;
    sy_rc_t rc;

    if (n != NULL)
        *n = 0;
    if (c == NULL)
        return SY_ERR_INVALID;
    rc = acquire(c, ctx, &s);
    if (rc != SY_OK)
        return rc;
    rc = run(c, ctx, s, "sy_cache_purge", NULL, 0, NULL, true, &res);
    if (rc == SY_OK && n != NULL) {
        char *end;
        long v = strtol(PQcmdTuples(res), &end, 10);

        *n = (*end == '\0' && v >= 0) ? v : 0;
    }
    PQclear(res);
    release(c, s);
    return rc;
}

bool sy_cache_ping(sy_cache_t *c, const sy_ctx_t *ctx)
{
    char key[64];

    if (c == NULL)
        return false;
    snprintf(key, sizeof(key), "heartbeat_%ld", (long)getpid());
    if (sy_cache_set(c, ctx, key, "ok", PING_TTL_MS) != SY_OK)
        return false;
    return sy_cache_delete(c, ctx, key) == SY_OK;
}

/* A lock record for key on slot s (NULL: none), registered in c->locks.
 * Called under mu. */
static sy_cache_lock_t *lock_register(sy_cache_t *c, slot_t *s, const char *key)
{
    sy_cache_lock_t *l = calloc(1, sizeof(*l));

    if (l == NULL)
        abort();
    l->slot = s;
    snprintf(l->key, sizeof(l->key), "%s", key);
    l->next = c->locks;
    c->locks = l;
    return l;
}

/* Removes l from c->locks (under mu); the caller frees it. */
static void lock_unregister(sy_cache_t *c, sy_cache_lock_t *l)
{
    for (sy_cache_lock_t **p = &c->locks; *p != NULL; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            return;
        }
    }
}

/* True when a thread of this process holds or is trying the lock on key
 * (under mu). */
static bool held_here(const sy_cache_t *c, const char *key)
{
    for (const sy_cache_lock_t *l = c->locks; l != NULL; l = l->next) {
        if (strcmp(l->key, key) == 0)
            return true;
    }
    return false;
}

/* Marks l lost when its session is gone: PostgreSQL released the lock with
 * it, and whatever session the slot has next does not hold it. */
static void lock_check(sy_cache_lock_t *l)
{
    if (l->slot != NULL && (l->slot->conn == NULL || PQstatus(l->slot->conn) != CONNECTION_OK))
        l->lost = true;
}

sy_rc_t sy_cache_lock(sy_cache_t *c, const sy_ctx_t *ctx, const char *key, int timeout_ms,
                      sy_cache_lock_t **lock)
{
    const char *params[1] = {key};
    char sql[128];
    PGresult *res = NULL;
    slot_t *s = NULL;
    sy_rc_t rc;

    if (lock != NULL)
        *lock = NULL;
    if (c == NULL || lock == NULL)
        return SY_ERR_INVALID;
    rc = check_key(key);
    if (rc != SY_OK)
        return rc;
    rc = acquire(c, ctx, &s);
    if (rc != SY_OK)
        return rc;

    if (timeout_ms <= 0) {
        rc = run(c, ctx, s, "sy_cache_trylock", NULL, 1, params, true, &res);
        if (rc == SY_OK && strcmp(PQgetvalue(res, 0, 0), "t") != 0)
            rc = SY_ERR_DB; /* held elsewhere */
        PQclear(res);
        goto done;
    }

    /* lock_timeout bounds the wait; statement_timeout (2 s for the session)
     * is raised above it for this one statement, then both are restored. */
    snprintf(sql, sizeof(sql), "SET lock_timeout = %d; SET statement_timeout = %d", timeout_ms,
             timeout_ms > INT32_MAX - 1000 ? INT32_MAX : timeout_ms + 1000);
    rc = run(c, ctx, s, NULL, sql, 0, NULL, true, &res);
    PQclear(res);
    res = NULL;
    if (rc != SY_OK)
        goto done;
    /* No retry here: a new session would not carry the SET above. */
    rc = run(c, ctx, s, "sy_cache_lock", NULL, 1, params, false, &res);
    PQclear(res);
    res = NULL;
    if (s->conn != NULL) {
        sy_rc_t rc2 = run(c, ctx, s, NULL, "RESET lock_timeout; RESET statement_timeout", 0, NULL,
                          false, &res);

        PQclear(res);
        if (rc2 != SY_OK && rc == SY_OK) {
            /* The lock was taken but the session is unusable: drop both. */
            reset_slot(s);
            rc = SY_ERR_DB;
        }
    }
    if (rc != SY_OK)
        sy_log_ctx_info(ctx, "cache: lock on %.*s... not acquired within %d ms",
                        key_prefix_len(key), key, timeout_ms);

done:
    if (rc != SY_OK) {
        release(c, s);
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    *lock = lock_register(c, s, key);
    c->locks_held++;
    pthread_mutex_unlock(&c->mu);
    return SY_OK;
}

sy_rc_t sy_cache_trylock(sy_cache_t *c, const sy_ctx_t *ctx, const char *key,
                         sy_cache_lock_t **lock, bool *busy)
{
    const char *params[1] = {key};
    struct timespec deadline;
    PGresult *res = NULL;
    sy_cache_lock_t *l = NULL;
    slot_t *s = NULL;
    bool here = false, timed_out = false, got;
    int held = 0;
    sy_rc_t rc;

    if (lock != NULL)
        *lock = NULL;
    if (busy != NULL)
        *busy = false;
    if (c == NULL || lock == NULL || busy == NULL)
        return SY_ERR_INVALID;
    rc = check_key(key);
    if (rc != SY_OK)
        return rc;

    /* A connection may keep a lock only while fewer than locks_max do (or
     * are trying to): the rest of the pool stays free for the short calls
     * every request makes. Tries end in one round trip, so they are waited
     * for, briefly; held locks last a tokenserver call, so once they use up
     * the share nothing is waited for: the lock is then taken within this
     * process only. The lock is registered before it is tried, so that the
     * other threads here see it at once and never query PostgreSQL for it. */
    deadline_in(&deadline, SHORT_ACQUIRE_MS);
    pthread_mutex_lock(&c->mu);
    for (;;) {
        if (held_here(c, key)) {
            here = true;
            break;
        }
        if (c->locks_held + c->locks_trying < c->locks_max && (s = pick_free(c)) != NULL) {
            s->busy = true;
            c->locks_trying++;
            l = lock_register(c, s, key);
            break;
        }
        if (c->locks_held >= c->locks_max || timed_out) {
            l = lock_register(c, NULL, key);
            held = c->locks_held;
            break;
        }
        if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) == ETIMEDOUT)
            timed_out = true;
    }
    pthread_mutex_unlock(&c->mu);

    if (here) {
        *busy = true; /* another thread of this process has it */
        return SY_ERR_DB;
    }
    if (s == NULL) {
        sy_log_ctx_debug(ctx,
                         "cache: no connection to lock %.*s... with (%d of %d keep locks); "
                         "locked in this process only",
                         key_prefix_len(key), key, held, c->locks_max);
        *lock = l;
        return SY_OK;
    }

    rc = run(c, ctx, s, "sy_cache_trylock", NULL, 1, params, true, &res);
    got = rc == SY_OK && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    if (rc == SY_OK && !got)
        *busy = true; /* another session has it */
    PQclear(res);

    pthread_mutex_lock(&c->mu);
    c->locks_trying--;
    if (got) {
        c->locks_held++;
    } else {
        lock_unregister(c, l);
        s->busy = false;
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (!got) {
        free(l);
        return SY_ERR_DB;
    }
    *lock = l;
    return SY_OK;
}

sy_rc_t sy_cache_lock_get(sy_cache_t *c, const sy_ctx_t *ctx, sy_cache_lock_t *lock,
                          sy_pool_t *pool, const char *key, char **value)
{
    return sy_cache_lock_get_ttl(c, ctx, lock, pool, key, value, NULL);
}

sy_rc_t sy_cache_lock_get_ttl(sy_cache_t *c, const sy_ctx_t *ctx, sy_cache_lock_t *lock,
                              sy_pool_t *pool, const char *key, char **value, int64_t *ttl_ms)
{
    slot_t *s = NULL;
    sy_rc_t rc;

    rc = check_get(c, pool, key, value);
    if (rc != SY_OK)
        return rc;
    if (lock == NULL || lock->slot == NULL) {
        rc = acquire_within(c, ctx, SHORT_ACQUIRE_MS, &s);
        if (rc != SY_OK)
            return rc;
        rc = get_on(c, ctx, s, pool, key, true, value, ttl_ms);
        release(c, s);
        return rc;
    }
    /* No retry on a new session: that one would not hold the lock. */
    lock_check(lock);
    rc = get_on(c, ctx, lock->slot, pool, key, false, value, ttl_ms);
    lock_check(lock);
    return rc;
}

sy_rc_t sy_cache_lock_set(sy_cache_t *c, const sy_ctx_t *ctx, sy_cache_lock_t *lock,
                          const char *key, const char *value, int64_t ttl_ms)
{
    slot_t *s = NULL;
    sy_rc_t rc;

    rc = check_set(c, key, value, ttl_ms);
    if (rc != SY_OK)
        return rc;
    if (lock == NULL || lock->slot == NULL) {
        rc = acquire_within(c, ctx, SHORT_ACQUIRE_MS, &s);
        if (rc != SY_OK)
            return rc;
        rc = set_on(c, ctx, s, key, value, ttl_ms, true);
        release(c, s);
        return rc;
    }
    lock_check(lock);
    rc = set_on(c, ctx, lock->slot, key, value, ttl_ms, false);
    lock_check(lock);
    return rc;
}

void sy_cache_unlock(sy_cache_t *c, const sy_ctx_t *ctx, sy_cache_lock_t *lock)
{
    const char *params[1];
    PGresult *res = NULL;
    slot_t *s;

    if (lock == NULL)
        return;
    s = lock->slot;
    params[0] = lock->key;
    if (s != NULL) {
        /* If the session died, PostgreSQL already released the lock with it. */
        lock_check(lock);
        if (s->conn != NULL && PQstatus(s->conn) != CONNECTION_OK)
            reset_slot(s);
        if (!lock->lost &&
            run(c, ctx, s, "sy_cache_unlock", NULL, 1, params, false, &res) == SY_OK) {
            if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
                sy_log_ctx_warn(ctx, "cache: lock on %.*s... was not held at unlock",
                                key_prefix_len(lock->key), lock->key);
            PQclear(res);
        }
    }
    pthread_mutex_lock(&c->mu);
    lock_unregister(c, lock);
    if (s != NULL) {
        c->locks_held--;
        s->busy = false;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    free(lock);
}
