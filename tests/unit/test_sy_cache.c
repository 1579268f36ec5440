/* Cache and migrations against a real PostgreSQL server, given by
 * SYNCTO_TEST_CACHE_URL (tests/run-unit.sh starts a throwaway cluster and
 * sets it). Each group works in its own schema of that database, selected
 * with search_path in the connection options. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "syncto/sy_cache.h"
#include "syncto/sy_migrate.h"
#include "syncto/sy_pool.h"
#include "sy_test_util.h"

#define URL_ENV "SYNCTO_TEST_CACHE_URL"
#define SQL_DIR SY_SOURCE_DIR "/sql"
/* The sessions this test opens carry application_name syncto_test_<pid>,
 * which the admin session keeps in syncto_test.app, to be told apart. */
#define MY_SESSIONS                                                                                \
    "FROM pg_stat_activity WHERE datname = current_database() AND application_name = "             \
    "current_setting('syncto_test.app')"
#define MY_ADVISORY                                                                                \
    "FROM pg_locks WHERE locktype = 'advisory' AND pid IN (SELECT pid " MY_SESSIONS ")"

/* Names carry the process id, so that two runs can share a database. */
static char schema_migrate[64], schema_cache[64], schema_recover[64], app[64];
/* Advisory locks are database-wide: the keys carry the process id too. */
static char lock_key_a[64], lock_key_b[64], lock_key_c[64];
static PGconn *admin;          /* the test's own connection, for raw SQL */
static char url_migrate[4096]; /* key=value conninfo with search_path */
static char url_cache[4096];

/* --- helpers --- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void append(char *buf, size_t len, const char *s)
{
    size_t o = strlen(buf);

    assert_true(o + strlen(s) < len);
    memcpy(buf + o, s, strlen(s) + 1);
}

/* Appends  key='value'  with libpq quoting. */
static void append_kv(char *buf, size_t len, const char *key, const char *val)
{
    char q[2048];
    size_t o = 0;

    for (const char *p = val; *p; p++) {
        assert_true(o + 3 < sizeof(q));
        if (*p == '\'' || *p == '\\')
            q[o++] = '\\';
        q[o++] = *p;
    }
    q[o] = '\0';
    append(buf, len, key);
    append(buf, len, "='");
    append(buf, len, q);
    append(buf, len, "' ");
}

/* The environment's URL rewritten as key=value pairs, with port replaced
 * when port is not NULL, our application_name and extra server options. */
static void make_url(char *buf, size_t len, const char *port, const char *extra_options)
{
    const char *env = getenv(URL_ENV);
    char *perr = NULL, opts[1024] = "";
    PQconninfoOption *o = PQconninfoParse(env, &perr);

    assert_non_null(o);
    buf[0] = '\0';
    for (PQconninfoOption *p = o; p->keyword != NULL; p++) {
        if (p->val == NULL)
            continue;
        if (strcmp(p->keyword, "options") == 0) {
            snprintf(opts, sizeof(opts), "%s ", p->val);
            continue;
        }
        if ((port != NULL && strcmp(p->keyword, "port") == 0) ||
            strcmp(p->keyword, "application_name") == 0)
            continue;
        append_kv(buf, len, p->keyword, p->val);
    }
    if (port != NULL)
        append_kv(buf, len, "port", port);
    append_kv(buf, len, "application_name", app);
    append(opts, sizeof(opts), extra_options);
    append_kv(buf, len, "options", opts);
    PQconninfoFree(o);
}

static PGresult *sql_ok(const char *sql)
{
    PGresult *res = PQexec(admin, sql);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("SQL failed: %s\n%s", sql, PQerrorMessage(admin));
    return res;
}

static void sql_exec(const char *sql)
{
    PQclear(sql_ok(sql));
}

/* First column of the first row, copied into buf ("" when no row). */
static const char *sql_value(const char *sql, char *buf, size_t len)
{
    PGresult *res = sql_ok(sql);

    snprintf(buf, len, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return buf;
}

static long sql_long(const char *sql)
{
    char buf[64];

    return strtol(sql_value(sql, buf, sizeof(buf)), NULL, 10);
}

/* Drops and recreates schema, and makes it the admin session's search_path
 * so that the test's raw SQL names tables unqualified. */
static void fresh_schema(const char *schema)
{
    char sql[256];

    snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema,
             schema);
    sql_exec(sql);
    snprintf(sql, sizeof(sql), "SET search_path = %s", schema);
    sql_exec(sql);
}

static void drop_schema(const char *schema)
{
    char sql[256];

    snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    sql_exec(sql);
}

/* "-c search_path=<schema>" followed by more, in buf. */
static const char *search_path_opt(char *buf, size_t len, const char *schema, const char *more)
{
    snprintf(buf, len, "-c search_path=%s%s", schema, more);
    return buf;
}

/* Runs the migrations, capturing what they print. */
static sy_rc_t migrate(const char *url, const char *dir, bool dry_run, sy_migrate_result_t *res,
                       char **printed, char *err, size_t errlen)
{
    size_t len = 0;
    FILE *out = open_memstream(printed, &len);
    sy_rc_t rc;

    assert_non_null(out);
    rc = sy_migrate_run(url, dir, dry_run, out, res, err, errlen);
    fclose(out);
    return rc;
}

static sy_cache_t *new_cache(const char *url, int pool_size)
{
    sy_settings_t s;
    sy_cache_t *c;

    memset(&s, 0, sizeof(s));
    s.cache_url = (char *)url;
    s.cache_pool_size = pool_size;
    c = sy_cache_new(&s);
    assert_non_null(c);
    return c;
}

/* A temporary directory of migration files: 0001 from the tree, plus one. */
static void make_sql_dir(char *dir, const char *extra_name, const char *extra_sql)
{
    char path[PATH_MAX], *first = NULL;
    size_t len;
    FILE *f;

    snprintf(dir, PATH_MAX, "/tmp/sy_migrate_XXXXXX");
    assert_non_null(mkdtemp(dir));
    f = fopen(SQL_DIR "/0001_cache.sql", "rb");
    assert_non_null(f);
    first = calloc(1, 65536);
    assert_non_null(first);
    len = fread(first, 1, 65535, f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/0001_cache.sql", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(first, 1, len, f);
    fclose(f);
    free(first);
    if (extra_name != NULL) {
        snprintf(path, sizeof(path), "%s/%s", dir, extra_name);
        f = fopen(path, "wb");
        assert_non_null(f);
        fputs(extra_sql, f);
        fclose(f);
    }
}

static void remove_sql_dir(const char *dir, const char *extra_name)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/0001_cache.sql", dir);
    unlink(path);
    if (extra_name != NULL) {
        snprintf(path, sizeof(path), "%s/%s", dir, extra_name);
        unlink(path);
    }
    rmdir(dir);
}

/* --- missing environment --- */

static void test_env_missing(void **state)
{
    fail_msg(URL_ENV " is not set: these tests need a PostgreSQL server. Run them through "
                     "tests/run-unit.sh, which starts one, or export " URL_ENV
                     " (libpq URI or key=value string) yourself.");
}

/* --- migrations --- */

static int setup_migrate(void **state)
{
    fresh_schema(schema_migrate);
    return 0;
}

static void test_migrate_dry_run_changes_nothing(void **state)
{
    sy_migrate_result_t r;
    char err[512], buf[64], *out = NULL;

    assert_int_equal(migrate(url_migrate, SQL_DIR, true, &r, &out, err, sizeof(err)), SY_OK);
    assert_non_null(strstr(out, "CREATE TABLE IF NOT EXISTS cache"));
    assert_non_null(strstr(out, "cache schema: dry run: would create at version 1"));
    assert_int_equal(r.from_version, 0);
    assert_int_equal(r.to_version, 1);
    assert_int_equal(r.applied, 1);
    free(out);
    assert_string_equal(
        sql_value("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()", buf,
                  sizeof(buf)),
        "0");
}

static void test_migrate_fresh_then_rerun(void **state)
{
    sy_migrate_result_t r;
    char err[512], buf[128], *out = NULL;
    int v = -1;

    assert_int_equal(sy_migrate_current_version(url_migrate, &v, err, sizeof(err)), SY_OK);
    assert_int_equal(v, 0);

    assert_int_equal(migrate(url_migrate, SQL_DIR, false, &r, &out, err, sizeof(err)), SY_OK);
    assert_non_null(strstr(out, "cache schema: created at version 1\n"));
    assert_int_equal(r.from_version, 0);
    assert_int_equal(r.to_version, 1);
    assert_int_equal(r.applied, 1);
    assert_false(r.adopted);
    free(out);

    /* the cliquet shape, exactly */
    assert_string_equal(
        sql_value("SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' ' || "
                  "attnotnull, ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = "
                  "'cache'::regclass AND attnum > 0 AND NOT attisdropped",
                  buf, sizeof(buf)),
        "key character varying(256) true, value text true, ttl timestamp without time zone "
        "false");
    assert_string_equal(sql_value("SELECT value FROM metadata WHERE name = 'cache_schema_version'",
                                  buf, sizeof(buf)),
                        "1");
    assert_int_equal(sql_long("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
                              "AND indexname = 'idx_cache_ttl'"),
                     1);

    assert_int_equal(migrate(url_migrate, SQL_DIR, false, &r, &out, err, sizeof(err)), SY_OK);
    assert_string_equal(out, "cache schema: already at version 1, nothing to do\n");
    assert_int_equal(r.applied, 0);
    assert_int_equal(r.from_version, 1);
    free(out);

    assert_int_equal(sy_migrate_current_version(url_migrate, &v, err, sizeof(err)), SY_OK);
    assert_int_equal(v, 1);
}

static void test_migrate_upgrade_and_newer_database(void **state)
{
    char dir[PATH_MAX], err[512], buf[64], *out = NULL;
    sy_migrate_result_t r;

    make_sql_dir(dir, "0002_extra.sql", "CREATE TABLE extra (id INTEGER);\n");
    assert_int_equal(migrate(url_migrate, SQL_DIR, false, &r, &out, err, sizeof(err)), SY_OK);
    free(out);

    /* a dry run of the upgrade shows the SQL and changes nothing */
    assert_int_equal(migrate(url_migrate, dir, true, &r, &out, err, sizeof(err)), SY_OK);
    assert_non_null(strstr(out, "-- 0002_extra.sql (version 2)"));
    assert_non_null(strstr(out, "CREATE TABLE extra"));
    assert_non_null(strstr(out, "would upgrade from 1 to 2"));
    assert_null(strstr(out, "0001_cache.sql"));
    free(out);
    assert_string_equal(sql_value("SELECT to_regclass('extra') IS NULL", buf, sizeof(buf)), "t");

    assert_int_equal(migrate(url_migrate, dir, false, &r, &out, err, sizeof(err)), SY_OK);
    assert_non_null(strstr(out, "cache schema: upgraded from 1 to 2\n"));
    assert_int_equal(r.from_version, 1);
    assert_int_equal(r.to_version, 2);
    assert_int_equal(r.applied, 1);
    free(out);
    assert_string_equal(sql_value("SELECT value FROM metadata WHERE name = 'cache_schema_version'",
                                  buf, sizeof(buf)),
                        "2");
    assert_string_equal(sql_value("SELECT to_regclass('extra') IS NOT NULL", buf, sizeof(buf)),
                        "t");

    /* the tree's files stop at 1: a database at 2 is an error */
    out = NULL;
    assert_int_equal(migrate(url_migrate, SQL_DIR, false, &r, &out, err, sizeof(err)),
                     SY_ERR_CONFIG);
    assert_non_null(strstr(err, "version 2"));
    free(out);
    remove_sql_dir(dir, "0002_extra.sql");
}

static void test_migrate_failing_file_rolls_back(void **state)
{
    char dir[PATH_MAX], err[512], buf[64], *out = NULL;
    sy_migrate_result_t r;

    make_sql_dir(dir, "0002_broken.sql",
                 "CREATE TABLE half_done (id INTEGER);\n"
                 "\n"
                 "CREATE TABLE oops (id INTEGR);\n");
    assert_int_equal(migrate(url_migrate, dir, false, &r, &out, err, sizeof(err)), SY_ERR_DB);
    free(out);
    /* names the file and the line of the failing statement */
    assert_non_null(strstr(err, "0002_broken.sql:3:"));
    assert_non_null(strstr(err, "SQLSTATE 42704"));
    assert_string_equal(sql_value("SELECT to_regclass('half_done') IS NULL", buf, sizeof(buf)),
                        "t");
    assert_string_equal(sql_value("SELECT value FROM metadata WHERE name = 'cache_schema_version'",
                                  buf, sizeof(buf)),
                        "1");
    remove_sql_dir(dir, "0002_broken.sql");
}

static void test_migrate_adopts_cliquet_table(void **state)
{
    char err[512], buf[64], *out = NULL;
    sy_migrate_result_t r;

    sql_exec("CREATE TABLE cache (key VARCHAR(256) PRIMARY KEY, "
             "value TEXT NOT NULL, ttl TIMESTAMP DEFAULT NULL)");
    sql_exec("INSERT INTO cache VALUES ('credentials_x', '\"00ff\"', NULL)");

    assert_int_equal(migrate(url_migrate, SQL_DIR, true, &r, &out, err, sizeof(err)), SY_OK);
    assert_non_null(strstr(out, "would adopt the existing cliquet cache table as version 1"));
    assert_true(r.adopted);
    free(out);
    assert_string_equal(sql_value("SELECT to_regclass('metadata') IS NULL", buf, sizeof(buf)), "t");

    assert_int_equal(migrate(url_migrate, SQL_DIR, false, &r, &out, err, sizeof(err)), SY_OK);
    assert_string_equal(out,
                        "cache schema: adopted the existing cliquet cache table as version 1\n");
    assert_true(r.adopted);
    assert_int_equal(r.from_version, 1);
    assert_int_equal(r.to_version, 1);
    free(out);
    assert_string_equal(sql_value("SELECT value FROM metadata WHERE name = 'cache_schema_version'",
                                  buf, sizeof(buf)),
                        "1");
    /* the rows are kept */
    assert_string_equal(sql_value("SELECT value FROM cache", buf, sizeof(buf)), "\"00ff\"");

    assert_int_equal(migrate(url_migrate, SQL_DIR, false, &r, &out, err, sizeof(err)), SY_OK);
    assert_string_equal(out, "cache schema: already at version 1, nothing to do\n");
    assert_false(r.adopted);
    free(out);
}

static void test_migrate_refuses_foreign_cache_table(void **state)
{
    char err[512], buf[64], *out = NULL;
    sy_migrate_result_t r;

    sql_exec("CREATE TABLE cache (key TEXT, stuff INTEGER)");
    assert_int_equal(migrate(url_migrate, SQL_DIR, false, &r, &out, err, sizeof(err)),
                     SY_ERR_CONFIG);
    free(out);
    assert_non_null(strstr(err, "refusing"));
    assert_string_equal(sql_value("SELECT to_regclass('metadata') IS NULL", buf, sizeof(buf)), "t");
}

/* cliquet's storage backend has its own metadata table, without a primary
 * key; the cache migration must share it. */
static void test_migrate_shares_storage_metadata(void **state)
{
    char err[512], buf[64], *out = NULL;
    sy_migrate_result_t r;

    sql_exec("CREATE TABLE metadata (name VARCHAR(128) NOT NULL, "
             "value VARCHAR(512) NOT NULL)");
    sql_exec("INSERT INTO metadata VALUES ('storage_schema_version', '7')");
    assert_int_equal(migrate(url_migrate, SQL_DIR, false, &r, &out, err, sizeof(err)), SY_OK);
    assert_non_null(strstr(out, "created at version 1"));
    free(out);
    assert_int_equal(
        sql_long(
            "SELECT count(*) FROM metadata WHERE name = 'cache_schema_version' AND value = '1'"),
        1);
    assert_string_equal(
        sql_value("SELECT value FROM metadata WHERE name = 'storage_schema_version'", buf,
                  sizeof(buf)),
        "7");
}

typedef struct {
    sy_rc_t rc;
    sy_migrate_result_t r;
    char err[512];
} concurrent_run_t;

static void *migrate_thread(void *arg)
{
    concurrent_run_t *run = arg;
    char *out = NULL;

    run->rc = migrate(url_migrate, SQL_DIR, false, &run->r, &out, run->err, sizeof(run->err));
    free(out);
    return NULL;
}

static void test_migrate_concurrent_runs(void **state)
{
    concurrent_run_t runs[3];
    pthread_t th[3];

    memset(runs, 0, sizeof(runs));
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, migrate_thread, &runs[i]), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) {
        if (runs[i].rc != SY_OK)
            fail_msg("run %d: %s", i, runs[i].err);
    }
    /* exactly one of them created the schema */
    assert_int_equal(runs[0].r.applied + runs[1].r.applied + runs[2].r.applied, 1);
}

static void test_migrate_bad_url_hides_password(void **state)
{
    char err[512], url[4200], *out = NULL;
    sy_migrate_result_t r;

    make_url(url, sizeof(url), "1", "");
    append_kv(url, sizeof(url), "password", "s3cr3t-pw");
    assert_int_equal(migrate(url, SQL_DIR, false, &r, &out, err, sizeof(err)), SY_ERR_DB);
    free(out);
    assert_non_null(strstr(err, "cannot connect to PostgreSQL"));
    assert_null(strstr(err, "s3cr3t-pw"));

    /* libpq names the socket path in its message: if the password happens to
     * be that same text, it is masked */
    assert_int_equal(migrate("host=/tmp/no-such-s3cr3t password=/tmp/no-such-s3cr3t dbname=x",
                             SQL_DIR, false, &r, &out, err, sizeof(err)),
                     SY_ERR_DB);
    free(out);
    assert_null(strstr(err, "no-such-s3cr3t"));
    assert_non_null(strstr(err, "socket \"***/.s.PGSQL."));

    assert_int_equal(migrate("postgresql://bob:s3cr3t-pw@/db?port=notanumber%zz", SQL_DIR, false,
                             &r, &out, err, sizeof(err)),
                     SY_ERR_DB);
    free(out);
    assert_null(strstr(err, "s3cr3t-pw"));

    assert_int_equal(migrate(url_migrate, "/nonexistent/sql", false, &r, &out, err, sizeof(err)),
                     SY_ERR_IO);
    free(out);
    assert_non_null(strstr(err, "/nonexistent/sql"));
}

static void test_migrate_find_sql_dir(void **state)
{
    char buf[PATH_MAX], want[PATH_MAX], cwd[PATH_MAX];

    assert_int_equal(sy_migrate_find_sql_dir("/explicit", "/inst", buf, sizeof(buf)), SY_OK);
    assert_string_equal(buf, "/explicit");
    setenv("SYNCTO_SQL_DIR", "/from/env", 1);
    assert_int_equal(sy_migrate_find_sql_dir(NULL, "/inst", buf, sizeof(buf)), SY_OK);
    assert_string_equal(buf, "/from/env");
    assert_int_equal(sy_migrate_find_sql_dir("/explicit", "/inst", buf, sizeof(buf)), SY_OK);
    assert_string_equal(buf, "/explicit");
    unsetenv("SYNCTO_SQL_DIR");

    /* from the source tree: the binary's ../sql or ./sql */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(SY_SOURCE_DIR), 0);
    assert_int_equal(sy_migrate_find_sql_dir(NULL, "/inst", buf, sizeof(buf)), SY_OK);
    assert_int_equal(chdir(cwd), 0);
    assert_non_null(realpath(SQL_DIR, want));
    assert_string_equal(buf, want);

    assert_int_equal(sy_migrate_find_sql_dir("/x", "/inst", buf, 2), SY_ERR_TOO_LARGE);
}

/* --- cache --- */

static int setup_cache_group(void **state)
{
    char err[512], *out = NULL;

    fresh_schema(schema_cache);
    if (migrate(url_cache, SQL_DIR, false, NULL, &out, err, sizeof(err)) != SY_OK) {
        fprintf(stderr, "migrations failed: %s\n", err);
        free(out);
        return -1;
    }
    free(out);
    return 0;
}

/* Terminates the server sessions of the test's caches and waits until they
 * are gone. */
static void kill_cache_sessions(void)
{
    long left = 1;

    sql_exec("SELECT pg_terminate_backend(pid) " MY_SESSIONS " AND pid <> pg_backend_pid()");
    for (int i = 0; i < 500 && left > 0; i++) {
        left = sql_long("SELECT count(*) " MY_SESSIONS);
        if (left > 0)
            sleep_ms(10);
    }
    assert_int_equal(left, 0);
}

static int setup_cache(void **state)
{
    /* a test that failed half-way may have left sessions behind */
    kill_cache_sessions();
    sql_exec("TRUNCATE cache");
    *state = new_cache(url_cache, 2);
    return 0;
}

static int teardown_cache(void **state)
{
    sy_cache_free(*state);
    return 0;
}

static const struct {
    const char *value;
    const char *stored; /* the value column */
} value_vectors[] = {
    {"0123456789abcdef", "\"0123456789abcdef\""},
    {"", "\"\""},
    {"say \"hi\"", "\"say \\\"hi\\\"\""},
    {"back\\slash", "\"back\\\\slash\""},
    {"line\nbreak\ttab\r", "\"line\\nbreak\\ttab\\r\""},
    {"\x01\x1f", "\"\\u0001\\u001f\""},
    {"caf\xc3\xa9 \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""},
    {"1735689600000", "\"1735689600000\""},
};

static void test_cache_set_get_overwrite(void **state)
{
    sy_cache_t *c = *state;
    sy_pool_t *pool = sy_pool_new(0);
    char *v = NULL, buf[256];

    for (size_t i = 0; i < sizeof(value_vectors) / sizeof(value_vectors[0]); i++) {
        PGresult *res;
        const char *params[1] = {"credentials_vector"};

        assert_int_equal(sy_cache_set(c, NULL, "credentials_vector", value_vectors[i].value, 60000),
                         SY_OK);
        assert_int_equal(sy_cache_get(c, NULL, pool, "credentials_vector", &v), SY_OK);
        assert_string_equal(v, value_vectors[i].value);
        /* what the row holds: a JSON string literal, as cliquet wrote it */
        res = PQexecParams(admin, "SELECT value FROM cache WHERE key = $1", 1, NULL, params, NULL,
                           NULL, 0);
        assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        assert_int_equal(PQntuples(res), 1);
        assert_string_equal(PQgetvalue(res, 0, 0), value_vectors[i].stored);
        PQclear(res);
    }
    assert_int_equal(sql_long("SELECT count(*) FROM cache"), 1);

    assert_int_equal(sy_cache_set(c, NULL, "backoff_example.com", "first", 60000), SY_OK);
    assert_int_equal(sy_cache_set(c, NULL, "backoff_example.com", "second", 60000), SY_OK);
    assert_int_equal(sy_cache_get(c, NULL, pool, "backoff_example.com", &v), SY_OK);
    assert_string_equal(v, "second");

    assert_int_equal(sy_cache_get(c, NULL, pool, "credentials_absent", &v), SY_ERR_NOT_FOUND);
    assert_null(v);

    /* the expiry is stored in UTC, about ttl from now (generous bounds) */
    assert_string_equal(
        sql_value("SELECT ttl BETWEEN (now() AT TIME ZONE 'UTC') + interval '30 seconds' AND "
                  "(now() AT TIME ZONE 'UTC') + interval '61 seconds' FROM cache WHERE key = "
                  "'backoff_example.com'",
                  buf, sizeof(buf)),
        "t");
    sy_pool_free(pool);
}

/* Rows written by cliquet (or by hand) are read back through JSON. */
static void test_cache_reads_cliquet_rows(void **state)
{
    static const struct {
        const char *stored;
        sy_rc_t rc;
        const char *value;
    } vectors[] = {
        {"\"deadbeef\"", SY_OK, "deadbeef"},
        {"\"caf\\u00e9 \\ud83d\\ude00\"", SY_OK, "caf\xc3\xa9 \xf0\x9f\x98\x80"},
        {"\"a\\/b\\\"c\\\\\"", SY_OK, "a/b\"c\\"},
        {"deadbeef", SY_ERR_NOT_FOUND, NULL},           /* not JSON */
        {"\"open", SY_ERR_NOT_FOUND, NULL},             /* unterminated */
        {"\"a\"b\"", SY_ERR_NOT_FOUND, NULL},           /* two strings */
        {"\"\\ud83d\"", SY_ERR_NOT_FOUND, NULL},        /* lone surrogate */
        {"\"\\u0000\"", SY_ERR_NOT_FOUND, NULL},        /* NUL cannot be returned */
        {"\"\\x41\"", SY_ERR_NOT_FOUND, NULL},          /* bad escape */
        {"\"\\u12\"", SY_ERR_NOT_FOUND, NULL},          /* short escape */
        {"\"\\\"", SY_ERR_NOT_FOUND, NULL},             /* escaped closing quote */
        {"\"\\ud83d\\u0041\"", SY_ERR_NOT_FOUND, NULL}, /* high surrogate, no low */
        {"\"\\ude00\"", SY_ERR_NOT_FOUND, NULL},        /* lone low surrogate */
        {"{\"a\": 1}", SY_ERR_NOT_FOUND, NULL},         /* not a string */
    };
    sy_cache_t *c = *state;
    sy_pool_t *pool = sy_pool_new(0);

    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const char *params[1] = {vectors[i].stored};
        PGresult *res = PQexecParams(admin,
                                     "INSERT INTO cache VALUES ('raw_row', $1, "
                                     "NULL) ON CONFLICT (key) DO UPDATE SET value = $1",
                                     1, NULL, params, NULL, NULL, 0);
        char *v = NULL;

        assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
        assert_int_equal(sy_cache_get(c, NULL, pool, "raw_row", &v), vectors[i].rc);
        if (vectors[i].value != NULL)
            assert_string_equal(v, vectors[i].value);
        else
            assert_null(v);
    }
    sy_pool_free(pool);
}

static void test_cache_ttl_and_purge(void **state)
{
    sy_cache_t *c = *state;
    sy_pool_t *pool = sy_pool_new(0);
    sy_cache_lock_t *lock = NULL;
    bool busy = false;
    int64_t left;
    char *v = NULL;
    long n = -1;

    assert_int_equal(sy_cache_set(c, NULL, "short_a", "x", 1), SY_OK);
    assert_int_equal(sy_cache_set(c, NULL, "short_b", "x", 1), SY_OK);
    assert_int_equal(sy_cache_set(c, NULL, "long", "y", 3600000), SY_OK);
    sleep_ms(20);

    /* purge first: a get would purge by itself */
    assert_int_equal(sy_cache_purge(c, NULL, &n), SY_OK);
    assert_int_equal(n, 2);
    assert_int_equal(sql_long("SELECT count(*) FROM cache"), 1);
    assert_int_equal(sy_cache_purge(c, NULL, NULL), SY_OK);

    assert_int_equal(sy_cache_set(c, NULL, "short_c", "x", 1), SY_OK);
    sleep_ms(20);
    assert_int_equal(sy_cache_get(c, NULL, pool, "short_c", &v), SY_ERR_NOT_FOUND);
    assert_int_equal(sy_cache_get(c, NULL, pool, "long", &v), SY_OK);
    assert_string_equal(v, "y");

    /* what a row has left, for copies that must not outlive it: never more
     * than was set, and little less (generous bounds) */
    left = -2;
    assert_int_equal(sy_cache_get_ttl(c, NULL, pool, "long", &v, &left), SY_OK);
    assert_string_equal(v, "y");
    assert_true(left <= 3600000 && left > 3600000 - 60000);
    assert_int_equal(sy_cache_trylock(c, NULL, "long", &lock, &busy), SY_OK);
    left = -2;
    assert_int_equal(sy_cache_lock_get_ttl(c, NULL, lock, pool, "long", &v, &left), SY_OK);
    assert_true(left <= 3600000 && left > 3600000 - 60000);
    sy_cache_unlock(c, NULL, lock);
    sql_exec("UPDATE cache SET ttl = (now() AT TIME ZONE 'UTC') + interval '2.5 seconds' "
             "WHERE key = 'long'");
    assert_int_equal(sy_cache_get_ttl(c, NULL, pool, "long", &v, &left), SY_OK);
    assert_true(left <= 2500 && left > 500);
    left = -2;
    assert_int_equal(sy_cache_get_ttl(c, NULL, pool, "short_c", &v, &left), SY_ERR_NOT_FOUND);
    assert_int_equal(left, -2); /* untouched on a miss */

    /* a row with no expiry (cliquet allowed it) never expires */
    sql_exec("INSERT INTO cache VALUES ('forever', '\"z\"', NULL)");
    assert_int_equal(sy_cache_purge(c, NULL, &n), SY_OK);
    assert_int_equal(sy_cache_get(c, NULL, pool, "forever", &v), SY_OK);
    assert_string_equal(v, "z");
    assert_int_equal(sy_cache_get_ttl(c, NULL, pool, "forever", &v, &left), SY_OK);
    assert_int_equal(left, -1);
    sy_pool_free(pool);
}

/* The first get of a cache object removes expired rows by itself. */
static void test_cache_get_purges(void **state)
{
    sy_cache_t *c = *state;
    sy_pool_t *pool = sy_pool_new(0);
    char *v = NULL;

    sql_exec("INSERT INTO cache VALUES ('stale', '\"s\"', "
             "(now() AT TIME ZONE 'UTC') - interval '1 hour')");
    assert_int_equal(sy_cache_get(c, NULL, pool, "other", &v), SY_ERR_NOT_FOUND);
    assert_int_equal(sql_long("SELECT count(*) FROM cache WHERE key = 'stale'"), 0);
    sy_pool_free(pool);
}

static void test_cache_delete(void **state)
{
    sy_cache_t *c = *state;
    sy_pool_t *pool = sy_pool_new(0);
    char *v = NULL;

    assert_int_equal(sy_cache_set(c, NULL, "credentials_del", "v", 60000), SY_OK);
    assert_int_equal(sy_cache_set(c, NULL, "credentials_keep", "w", 60000), SY_OK);
    assert_int_equal(sy_cache_delete(c, NULL, "credentials_del"), SY_OK);
    assert_int_equal(sy_cache_get(c, NULL, pool, "credentials_del", &v), SY_ERR_NOT_FOUND);
    assert_int_equal(sy_cache_delete(c, NULL, "credentials_del"), SY_OK);
    assert_int_equal(sy_cache_get(c, NULL, pool, "credentials_keep", &v), SY_OK);
    assert_string_equal(v, "w");
    sy_pool_free(pool);
}

static void test_cache_invalid_arguments(void **state)
{
    sy_cache_t *c = *state;
    sy_pool_t *pool = sy_pool_new(0);
    char key[SY_CACHE_KEY_MAX + 2], *big, *v = NULL;
    sy_cache_lock_t *l = NULL;

    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0'; /* 257 bytes */
    assert_int_equal(sy_cache_set(c, NULL, key, "v", 1000), SY_ERR_INVALID);
    assert_int_equal(sy_cache_get(c, NULL, pool, key, &v), SY_ERR_INVALID);
    assert_int_equal(sy_cache_lock(c, NULL, key, 100, &l), SY_ERR_INVALID);
    assert_null(l);
    key[SY_CACHE_KEY_MAX] = '\0'; /* 256 bytes: the column's limit */
    assert_int_equal(sy_cache_set(c, NULL, key, "v", 1000), SY_OK);
    assert_int_equal(sy_cache_get(c, NULL, pool, key, &v), SY_OK);

    assert_int_equal(sy_cache_set(c, NULL, "", "v", 1000), SY_ERR_INVALID);
    assert_int_equal(sy_cache_set(c, NULL, "k", "v", 0), SY_ERR_INVALID);
    assert_int_equal(sy_cache_set(c, NULL, "k", "v", -5), SY_ERR_INVALID);
    assert_int_equal(sy_cache_set(c, NULL, "k", NULL, 1000), SY_ERR_INVALID);
    assert_int_equal(sy_cache_delete(c, NULL, NULL), SY_ERR_INVALID);

    big = malloc(SY_CACHE_VALUE_MAX + 2);
    assert_non_null(big);
    memset(big, 'a', SY_CACHE_VALUE_MAX + 1);
    big[SY_CACHE_VALUE_MAX + 1] = '\0';
    assert_int_equal(sy_cache_set(c, NULL, "big", big, 1000), SY_ERR_TOO_LARGE);
    free(big);

    sy_settings_t s;
    memset(&s, 0, sizeof(s));
    s.cache_pool_size = 1;
    s.cache_url = "";
    assert_null(sy_cache_new(&s));
    s.cache_url = "this is = not 'valid";
    assert_null(sy_cache_new(&s));
    sy_cache_free(NULL);
    sy_cache_unlock(c, NULL, NULL);
    sy_pool_free(pool);
}

static void test_cache_ping(void **state)
{
    sy_cache_t *c = *state;

    assert_true(sy_cache_ping(c, NULL));
    assert_int_equal(sql_long("SELECT count(*) FROM cache WHERE key LIKE 'heartbeat_%'"), 0);
}

/* --- locks --- */

typedef struct {
    sy_cache_t *c;
    const char *key;
    int timeout_ms;
    sy_rc_t rc;
    atomic_int acquired;  /* set once the lock call returned */
    atomic_int *released; /* the holder's "unlocked" flag */
    int saw_released;     /* value of *released when the lock was obtained */
    sy_cache_lock_t *lock;
} locker_t;

static void *lock_thread(void *arg)
{
    locker_t *t = arg;

    t->rc = sy_cache_lock(t->c, NULL, t->key, t->timeout_ms, &t->lock);
    t->saw_released = atomic_load(t->released);
    atomic_store(&t->acquired, 1);
    return NULL;
}

static void test_lock_exclusion(void **state)
{
    sy_cache_t *c1 = *state, *c2 = new_cache(url_cache, 2);
    sy_cache_lock_t *l1 = NULL, *l2 = NULL;
    atomic_int released = 0;
    locker_t t = {.c = c2, .key = lock_key_a, .timeout_ms = 10000, .released = &released};
    pthread_t th;

    assert_int_equal(sy_cache_lock(c1, NULL, lock_key_a, 1000, &l1), SY_OK);
    assert_non_null(l1);
    assert_int_equal(pthread_create(&th, NULL, lock_thread, &t), 0);

    /* the second locker waits while the first holds the lock */
    for (int i = 0; i < 30; i++) {
        sleep_ms(10);
        assert_int_equal(atomic_load(&t.acquired), 0);
    }
    /* its wait is on the server: pg_locks shows it */
    for (int i = 0; i < 500 && sql_long("SELECT count(*) " MY_ADVISORY " AND NOT granted") == 0;
         i++)
        sleep_ms(10);
    assert_int_equal(sql_long("SELECT count(*) " MY_ADVISORY " AND NOT granted"), 1);

    atomic_store(&released, 1);
    sy_cache_unlock(c1, NULL, l1);
    pthread_join(th, NULL);
    assert_int_equal(t.rc, SY_OK);
    assert_non_null(t.lock);
    assert_int_equal(t.saw_released, 1);

    /* while held, others time out or fail a try */
    assert_int_equal(sy_cache_lock(c1, NULL, lock_key_a, 100, &l2), SY_ERR_DB);
    assert_null(l2);
    assert_int_equal(sy_cache_lock(c1, NULL, lock_key_a, 0, &l2), SY_ERR_DB);
    /* another key is free */
    assert_int_equal(sy_cache_lock(c1, NULL, lock_key_b, 100, &l2), SY_OK);
    sy_cache_unlock(c1, NULL, l2);
    /* the connection that timed out is back to its 2 s statement timeout and
     * keeps working */
    {
        sy_pool_t *pool = sy_pool_new(0);
        char *v = NULL;

        assert_int_equal(sy_cache_set(c1, NULL, "after_timeout", "ok", 60000), SY_OK);
        assert_int_equal(sy_cache_get(c1, NULL, pool, "after_timeout", &v), SY_OK);
        sy_pool_free(pool);
    }

    sy_cache_unlock(c2, NULL, t.lock);
    assert_int_equal(sy_cache_lock(c1, NULL, lock_key_a, 0, &l2), SY_OK);
    sy_cache_unlock(c1, NULL, l2);
    assert_int_equal(sql_long("SELECT count(*) " MY_ADVISORY), 0);
    sy_cache_free(c2);
}

/* Two threads of one process contend through two pooled connections. */
static void test_lock_same_process(void **state)
{
    sy_cache_t *c = *state;
    sy_cache_lock_t *l1 = NULL;
    atomic_int released = 0;
    locker_t t = {.c = c, .key = lock_key_c, .timeout_ms = 150, .released = &released};
    pthread_t th;

    assert_int_equal(sy_cache_lock(c, NULL, lock_key_c, 1000, &l1), SY_OK);
    assert_int_equal(pthread_create(&th, NULL, lock_thread, &t), 0);
    pthread_join(th, NULL);
    assert_int_equal(t.rc, SY_ERR_DB);
    assert_null(t.lock);
    sy_cache_unlock(c, NULL, l1);
}

/* A held lock keeps its connection; with a pool of one, other calls wait for
 * it and give up with SY_ERR_DB. */
static void test_pool_exhaustion(void **state)
{
    sy_cache_t *c = new_cache(url_cache, 1);
    sy_pool_t *pool = sy_pool_new(0);
    sy_cache_lock_t *l = NULL;
    char *v = NULL;

    assert_int_equal(sy_cache_lock(c, NULL, lock_key_c, 1000, &l), SY_OK);
    assert_int_equal(sy_cache_get(c, NULL, pool, "k", &v), SY_ERR_DB);
    assert_int_equal(sy_cache_set(c, NULL, "k", "v", 1000), SY_ERR_DB);
    sy_cache_unlock(c, NULL, l);
    assert_int_equal(sy_cache_set(c, NULL, "k", "v", 1000), SY_OK);
    assert_int_equal(sy_cache_get(c, NULL, pool, "k", &v), SY_OK);
    sy_pool_free(pool);
    sy_cache_free(c);
}

/* The request path's single try: the holder looks up and stores on the one
 * connection that holds the lock. With a pool of one, a miss still works
 * from start to end, while calls that need a second connection give up. */
static void test_trylock_needs_one_connection(void **state)
{
    sy_cache_t *c = new_cache(url_cache, 1);
    sy_pool_t *pool = sy_pool_new(0);
    sy_cache_lock_t *l = NULL;
    char *v = NULL;
    bool busy = true;
    int64_t t0;

    assert_int_equal(sy_cache_trylock(c, NULL, lock_key_c, &l, &busy), SY_OK);
    assert_non_null(l);
    assert_false(busy);
    assert_int_equal(sql_long("SELECT count(*) " MY_ADVISORY " AND granted"), 1);

    assert_int_equal(sy_cache_lock_get(c, NULL, l, pool, "credentials_one", &v), SY_ERR_NOT_FOUND);
    assert_null(v);
    assert_int_equal(sy_cache_lock_set(c, NULL, l, "credentials_one", "v1", 60000), SY_OK);
    assert_int_equal(sy_cache_lock_get(c, NULL, l, pool, "credentials_one", &v), SY_OK);
    assert_string_equal(v, "v1");
    assert_int_equal(sql_long("SELECT count(*) " MY_SESSIONS), 1);

    /* without the lock: the only connection is taken, and these calls do
     * not wait long for it */
    t0 = mono_ms();
    assert_int_equal(sy_cache_lock_get(c, NULL, NULL, pool, "credentials_one", &v), SY_ERR_DB);
    assert_int_equal(sy_cache_lock_set(c, NULL, NULL, "credentials_one", "v2", 60000), SY_ERR_DB);
    assert_true(mono_ms() - t0 < 900);

    sy_cache_unlock(c, NULL, l);
    assert_int_equal(sql_long("SELECT count(*) " MY_ADVISORY), 0);
    assert_int_equal(sy_cache_get(c, NULL, pool, "credentials_one", &v), SY_OK);
    assert_string_equal(v, "v1");
    assert_int_equal(sy_cache_lock_set(c, NULL, NULL, "credentials_one", "v2", 60000), SY_OK);
    assert_int_equal(sy_cache_lock_get(c, NULL, NULL, pool, "credentials_one", &v), SY_OK);
    assert_string_equal(v, "v2");

    /* argument checks are those of get and set */
    assert_int_equal(sy_cache_lock_set(c, NULL, NULL, "k", "v", 0), SY_ERR_INVALID);
    assert_int_equal(sy_cache_lock_get(c, NULL, NULL, NULL, "k", &v), SY_ERR_INVALID);
    assert_int_equal(sy_cache_trylock(c, NULL, "", &l, &busy), SY_ERR_INVALID);
    assert_null(l);
    sy_pool_free(pool);
    sy_cache_free(c);
}

typedef struct {
    sy_cache_t *c;
    const char *key;
    sy_rc_t rc;
    bool busy;
    sy_cache_lock_t *lock;
} trier_t;

static void *try_thread(void *arg)
{
    trier_t *t = arg;

    t->rc = sy_cache_trylock(t->c, NULL, t->key, &t->lock, &t->busy);
    return NULL;
}

/* A held lock is reported busy to the other threads of the process (without
 * asking PostgreSQL) and to other processes (by PostgreSQL). */
static void test_trylock_busy(void **state)
{
    sy_cache_t *c1 = *state, *c2 = new_cache(url_cache, 2);
    sy_cache_lock_t *l1 = NULL, *l2 = NULL;
    trier_t t = {.c = c1, .key = lock_key_a};
    bool busy = false;
    pthread_t th;

    assert_int_equal(sy_cache_trylock(c1, NULL, lock_key_a, &l1, &busy), SY_OK);
    assert_false(busy);

    assert_int_equal(pthread_create(&th, NULL, try_thread, &t), 0);
    pthread_join(th, NULL);
    assert_int_equal(t.rc, SY_ERR_DB);
    assert_true(t.busy);
    assert_null(t.lock);

    assert_int_equal(sy_cache_trylock(c2, NULL, lock_key_a, &l2, &busy), SY_ERR_DB);
    assert_true(busy);
    assert_null(l2);
    assert_int_equal(sy_cache_trylock(c2, NULL, lock_key_b, &l2, &busy), SY_OK);
    assert_false(busy);
    sy_cache_unlock(c2, NULL, l2);

    /* a lock taken with sy_cache_lock is seen the same way */
    assert_int_equal(sy_cache_lock(c2, NULL, lock_key_b, 1000, &l2), SY_OK);
    assert_int_equal(sy_cache_trylock(c2, NULL, lock_key_b, &t.lock, &busy), SY_ERR_DB);
    assert_true(busy);
    sy_cache_unlock(c2, NULL, l2);

    sy_cache_unlock(c1, NULL, l1);
    assert_int_equal(sy_cache_trylock(c2, NULL, lock_key_a, &l2, &busy), SY_OK);
    sy_cache_unlock(c2, NULL, l2);
    assert_int_equal(sql_long("SELECT count(*) " MY_ADVISORY), 0);
    sy_cache_free(c2);
}

/* Locks keep at most half the pool's connections. Beyond that a try does
 * not wait: it gets a lock that holds within the process only, and the rest
 * of the pool stays free for other calls. */
static void test_trylock_share(void **state)
{
    sy_cache_t *c = new_cache(url_cache, 4), *other = *state;
    sy_pool_t *pool = sy_pool_new(0);
    sy_cache_lock_t *l[4] = {NULL}, *lo = NULL, *lx = NULL;
    char keys[4][96], *v = NULL;
    bool busy = true;

    for (int i = 0; i < 4; i++)
        snprintf(keys[i], sizeof(keys[i]), "%s_share_%d", lock_key_c, i);
    assert_int_equal(sy_cache_trylock(c, NULL, keys[0], &l[0], &busy), SY_OK);
    assert_int_equal(sy_cache_trylock(c, NULL, keys[1], &l[1], &busy), SY_OK);
    assert_int_equal(sql_long("SELECT count(*) " MY_ADVISORY " AND granted"), 2);

    /* the share is used up: a lock of this process only */
    assert_int_equal(sy_cache_trylock(c, NULL, keys[2], &l[2], &busy), SY_OK);
    assert_false(busy);
    assert_non_null(l[2]);
    assert_int_equal(sql_long("SELECT count(*) " MY_ADVISORY " AND granted"), 2);
    /* it excludes the threads of this process... */
    assert_int_equal(sy_cache_trylock(c, NULL, keys[2], &lx, &busy), SY_ERR_DB);
    assert_true(busy);
    /* ...not other processes, which lock it in PostgreSQL */
    assert_int_equal(sy_cache_trylock(other, NULL, keys[2], &lo, &busy), SY_OK);
    sy_cache_unlock(other, NULL, lo);

    /* two connections are still free for everything else */
    assert_int_equal(sy_cache_set(c, NULL, "credentials_share", "s", 60000), SY_OK);
    assert_int_equal(sy_cache_get(c, NULL, pool, "credentials_share", &v), SY_OK);
    assert_int_equal(sy_cache_lock_set(c, NULL, l[2], "credentials_share", "t", 60000), SY_OK);
    assert_int_equal(sy_cache_lock_get(c, NULL, l[2], pool, "credentials_share", &v), SY_OK);
    assert_string_equal(v, "t");

    /* once a connection lock is released, the next try takes one again */
    sy_cache_unlock(c, NULL, l[0]);
    assert_int_equal(sy_cache_trylock(c, NULL, keys[3], &l[3], &busy), SY_OK);
    assert_int_equal(sql_long("SELECT count(*) " MY_ADVISORY " AND granted"), 2);
    for (int i = 1; i < 4; i++)
        sy_cache_unlock(c, NULL, l[i]);
    assert_int_equal(sql_long("SELECT count(*) " MY_ADVISORY), 0);
    /* c opened 3 sessions (2 locks, 1 for the other calls), other 1 */
    assert_true(sql_long("SELECT count(*) " MY_SESSIONS) <= 4);
    sy_pool_free(pool);
    sy_cache_free(c);
}

/* A lock whose session dies is gone with it: its calls fail once (no retry
 * on a session that would not hold the lock), unlock returns the connection
 * without complaint and the key can be locked again. */
static void test_trylock_session_dies(void **state)
{
    sy_cache_t *c = new_cache(url_cache, 1);
    sy_pool_t *pool = sy_pool_new(0);
    sy_cache_lock_t *l = NULL;
    char *v = NULL;
    bool busy;

    assert_int_equal(sy_cache_trylock(c, NULL, lock_key_c, &l, &busy), SY_OK);
    kill_cache_sessions();
    assert_int_equal(sy_cache_lock_get(c, NULL, l, pool, "credentials_dead", &v), SY_ERR_DB);
    sy_cache_unlock(c, NULL, l);
    assert_int_equal(sy_cache_trylock(c, NULL, lock_key_c, &l, &busy), SY_OK);
    assert_int_equal(sql_long("SELECT count(*) " MY_ADVISORY " AND granted"), 1);
    assert_int_equal(sy_cache_lock_set(c, NULL, l, "credentials_dead", "x", 60000), SY_OK);
    sy_cache_unlock(c, NULL, l);
    assert_int_equal(sy_cache_get(c, NULL, pool, "credentials_dead", &v), SY_OK);
    assert_string_equal(v, "x");
    sy_pool_free(pool);
    sy_cache_free(c);
}

/* --- failures --- */

static void test_outage_fails_fast(void **state)
{
    char url[4200], opt[128];
    sy_cache_t *c;
    sy_pool_t *pool = sy_pool_new(0);
    sy_cache_lock_t *l = NULL;
    char *v = NULL;
    long n;

    make_url(url, sizeof(url), "1", search_path_opt(opt, sizeof(opt), schema_cache, ""));
    append_kv(url, sizeof(url), "password", "s3cr3t-pw");
    c = new_cache(url, 2);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sy_cache_get(c, NULL, pool, "k", &v), SY_ERR_DB);
        assert_int_equal(sy_cache_set(c, NULL, "k", "v", 1000), SY_ERR_DB);
        assert_int_equal(sy_cache_delete(c, NULL, "k"), SY_ERR_DB);
        assert_int_equal(sy_cache_purge(c, NULL, &n), SY_ERR_DB);
        assert_int_equal(sy_cache_lock(c, NULL, lock_key_c, 100, &l), SY_ERR_DB);
        assert_null(l);
        assert_false(sy_cache_ping(c, NULL));
    }
    sy_cache_free(c);
    sy_pool_free(pool);
}

/* The cache logs on behalf of the request its context serves: an unusable
 * row and an unreachable server are reported on lines that carry that
 * request's id. */
static void test_log_lines_carry_request_id(void **state)
{
    static const char *const bad_row[] = {"cache-rid-row", "is not a JSON string", NULL};
    static const char *const no_server[] = {"cache-rid-down", "cannot connect to PostgreSQL", NULL};
    sy_cache_t *c = *state, *down;
    sy_pool_t *pool = sy_pool_new(0);
    const char *params[1] = {"deadbeef"};
    sy_settings_t settings;
    sy_test_capture_t cap;
    sy_request_t req;
    sy_ctx_t ctx;
    char url[4200], opt[128], *v = NULL, *out, *line;
    PGresult *res;

    sy_test_settings(&settings);
    memset(&ctx, 0, sizeof(ctx));
    sy_test_ctx(&ctx, &settings);
    sy_test_request(&req, &ctx, "GET");
    ctx.request = &req;

    res = PQexecParams(admin,
                       "INSERT INTO cache VALUES ('raw_row', $1, NULL) "
                       "ON CONFLICT (key) DO UPDATE SET value = $1",
                       1, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    req.request_id = "cache-rid-row";
    sy_test_capture_start(&cap);
    assert_int_equal(sy_cache_get(c, &ctx, pool, "raw_row", &v), SY_ERR_NOT_FOUND);
    out = sy_test_capture_end(&cap);
    line = sy_test_line_with(out, bad_row);
    if (line == NULL)
        fail_msg("no line with the request id: %s", out);
    free(line);
    free(out);

    make_url(url, sizeof(url), "1", search_path_opt(opt, sizeof(opt), schema_cache, ""));
    down = new_cache(url, 1);
    /* the cache reads it through ctx.request */
    // cppcheck-suppress redundantAssignment
    req.request_id = "cache-rid-down";
    sy_test_capture_start(&cap);
    assert_int_equal(sy_cache_get(down, &ctx, pool, "k", &v), SY_ERR_DB);
    out = sy_test_capture_end(&cap);
    line = sy_test_line_with(out, no_server);
    if (line == NULL)
        fail_msg("no line with the request id: %s", out);
    free(line);
    free(out);
    sy_cache_free(down);
    sy_pool_free(ctx.pool);
    sy_pool_free(pool);
}

/* PostgreSQL refuses the session (here: the schema is missing, so the
 * statements cannot be prepared); calls fail, no new attempt is made within
 * a second, and once the cause is gone the cache comes back by itself. */
static void test_recovery_after_failure(void **state)
{
    char url[4200], err[512], opt[128], *out = NULL;
    sy_pool_t *pool = sy_pool_new(0);
    sy_cache_t *c;
    char *v = NULL;
    int64_t t0;
    sy_rc_t rc;

    drop_schema(schema_recover);
    make_url(url, sizeof(url), NULL, search_path_opt(opt, sizeof(opt), schema_recover, ""));
    c = new_cache(url, 2);

    t0 = mono_ms();
    assert_int_equal(sy_cache_get(c, NULL, pool, "k", &v), SY_ERR_DB);
    snprintf(opt, sizeof(opt), "CREATE SCHEMA %s", schema_recover);
    sql_exec(opt);
    rc = migrate(url, SQL_DIR, false, NULL, &out, err, sizeof(err));
    free(out);
    assert_int_equal(rc, SY_OK);
    /* within the back-off window nothing is tried (only checkable when this
     * machine was quick enough to get here inside it) */
    rc = sy_cache_set(c, NULL, "k", "v", 60000);
    if (mono_ms() - t0 < 900)
        assert_int_equal(rc, SY_ERR_DB);

    sleep_ms(1100);
    assert_int_equal(sy_cache_set(c, NULL, "k", "v", 60000), SY_OK);
    assert_int_equal(sy_cache_get(c, NULL, pool, "k", &v), SY_OK);
    assert_string_equal(v, "v");
    sy_cache_free(c);
    sy_pool_free(pool);
    drop_schema(schema_recover);
}

static void test_reconnect_after_terminated_backend(void **state)
{
    sy_cache_t *c = new_cache(url_cache, 1);
    sy_pool_t *pool = sy_pool_new(0);
    sy_cache_lock_t *l = NULL;
    char *v = NULL;

    assert_int_equal(sy_cache_set(c, NULL, "k", "before", 60000), SY_OK);
    assert_int_equal(sql_long("SELECT count(*) " MY_SESSIONS), 1);

    kill_cache_sessions();
    /* the pooled session is dead: the next call opens a new one */
    assert_int_equal(sy_cache_get(c, NULL, pool, "k", &v), SY_OK);
    assert_string_equal(v, "before");
    assert_int_equal(sql_long("SELECT count(*) " MY_SESSIONS), 1);

    kill_cache_sessions();
    assert_int_equal(sy_cache_set(c, NULL, "k", "after", 60000), SY_OK);
    kill_cache_sessions();
    assert_int_equal(sy_cache_delete(c, NULL, "k"), SY_OK);
    kill_cache_sessions();
    assert_true(sy_cache_ping(c, NULL));

    /* a lock whose session dies is gone with it; unlock still returns the
     * connection to the pool */
    assert_int_equal(sy_cache_lock(c, NULL, lock_key_c, 1000, &l), SY_OK);
    kill_cache_sessions();
    sy_cache_unlock(c, NULL, l);
    assert_int_equal(sy_cache_lock(c, NULL, lock_key_c, 0, &l), SY_OK);
    sy_cache_unlock(c, NULL, l);

    sy_cache_free(c);
    sy_pool_free(pool);
}

/* --- threads --- */

typedef struct {
    sy_cache_t *c;
    int id;
    int failures;
} worker_t;

static void *worker_thread(void *arg)
{
    worker_t *w = arg;
    sy_pool_t *pool = sy_pool_new(0);

    for (int i = 0; i < 100; i++) {
        char key[64], val[64], *v = NULL;

        snprintf(key, sizeof(key), "thread_%d_%d", w->id, i % 10);
        snprintf(val, sizeof(val), "%d-%d", w->id, i);
        if (sy_cache_set(w->c, NULL, key, val, 60000) != SY_OK ||
            sy_cache_get(w->c, NULL, pool, key, &v) != SY_OK || strcmp(v, val) != 0)
            w->failures++;
        sy_pool_reset(pool);
    }
    sy_pool_free(pool);
    return NULL;
}

static void test_threads_share_the_pool(void **state)
{
    sy_cache_t *c = *state;
    worker_t w[4];
    pthread_t th[4];

    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){.c = c, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_thread, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    /* a pool of two: never more server sessions than that */
    assert_true(sql_long("SELECT count(*) " MY_SESSIONS) <= 2);
    assert_int_equal(sql_long("SELECT count(*) FROM cache"), 40);
}

int main(void)
{
    const char *env = getenv(URL_ENV);
    char opt[256];
    int failed;

    if (env == NULL || env[0] == '\0') {
        const struct CMUnitTest missing[] = {cmocka_unit_test(test_env_missing)};

        return cmocka_run_group_tests_name("sy_cache", missing, NULL, NULL);
    }
    admin = PQconnectdb(env);
    if (PQstatus(admin) != CONNECTION_OK) {
        fprintf(stderr, "test_sy_cache: cannot connect to " URL_ENV ": %s", PQerrorMessage(admin));
        PQfinish(admin);
        return 1;
    }
    snprintf(schema_migrate, sizeof(schema_migrate), "syncto_test_migrate_%ld", (long)getpid());
    snprintf(schema_cache, sizeof(schema_cache), "syncto_test_cache_%ld", (long)getpid());
    snprintf(schema_recover, sizeof(schema_recover), "syncto_test_recover_%ld", (long)getpid());
    snprintf(app, sizeof(app), "syncto_test_%ld", (long)getpid());
    snprintf(lock_key_a, sizeof(lock_key_a), "credentials_lockme_%ld", (long)getpid());
    snprintf(lock_key_b, sizeof(lock_key_b), "credentials_other_%ld", (long)getpid());
    snprintf(lock_key_c, sizeof(lock_key_c), "k_%ld", (long)getpid());
    snprintf(opt, sizeof(opt), "SET syncto_test.app = '%s'", app);
    PQclear(PQexec(admin, opt));
    PQclear(PQexec(admin, "SET client_min_messages = warning"));
    PQclear(PQexec(admin, "SET TimeZone = 'UTC'"));
    make_url(url_migrate, sizeof(url_migrate), NULL,
             search_path_opt(opt, sizeof(opt), schema_migrate, ""));
    /* a TimeZone in the URL's options must not change how ttl is stored */
    make_url(url_cache, sizeof(url_cache), NULL,
             search_path_opt(opt, sizeof(opt), schema_cache, " -c TimeZone=America/New_York"));

    const struct CMUnitTest migrate_tests[] = {
        cmocka_unit_test_setup(test_migrate_dry_run_changes_nothing, setup_migrate),
        cmocka_unit_test_setup(test_migrate_fresh_then_rerun, setup_migrate),
        cmocka_unit_test_setup(test_migrate_upgrade_and_newer_database, setup_migrate),
        cmocka_unit_test_setup(test_migrate_failing_file_rolls_back, setup_migrate),
        cmocka_unit_test_setup(test_migrate_adopts_cliquet_table, setup_migrate),
        cmocka_unit_test_setup(test_migrate_refuses_foreign_cache_table, setup_migrate),
        cmocka_unit_test_setup(test_migrate_shares_storage_metadata, setup_migrate),
        cmocka_unit_test_setup(test_migrate_concurrent_runs, setup_migrate),
        cmocka_unit_test(test_migrate_bad_url_hides_password),
        cmocka_unit_test(test_migrate_find_sql_dir),
    };
    const struct CMUnitTest cache_tests[] = {
        cmocka_unit_test_setup_teardown(test_cache_set_get_overwrite, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_cache_reads_cliquet_rows, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_cache_ttl_and_purge, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_cache_get_purges, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_cache_delete, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_cache_invalid_arguments, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_cache_ping, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_lock_exclusion, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_lock_same_process, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_pool_exhaustion, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_trylock_needs_one_connection, setup_cache,
                                        teardown_cache),
        cmocka_unit_test_setup_teardown(test_trylock_busy, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_trylock_share, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_trylock_session_dies, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_outage_fails_fast, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_log_lines_carry_request_id, setup_cache,
                                        teardown_cache),
        cmocka_unit_test_setup_teardown(test_recovery_after_failure, setup_cache, teardown_cache),
        cmocka_unit_test_setup_teardown(test_reconnect_after_terminated_backend, setup_cache,
                                        teardown_cache),
        cmocka_unit_test_setup_teardown(test_threads_share_the_pool, setup_cache, teardown_cache),
    };

    failed = cmocka_run_group_tests_name("sy_migrate", migrate_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("sy_cache", cache_tests, setup_cache_group, NULL);

    drop_schema(schema_migrate);
    drop_schema(schema_cache);
    PQfinish(admin);
    return failed;
}
