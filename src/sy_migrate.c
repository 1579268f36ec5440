/* Cache schema migrations: numbered SQL files applied in order, each in its
 * own transaction, under a PostgreSQL advisory lock so that two runs started
 * together (two hosts deploying at once) apply each file once. */
#include "syncto/sy_migrate.h"

#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "syncto/sy_cache.h"

#define CONNECT_TIMEOUT_S 5
#define LOCK_WAIT_MS 60000
#define FIRST_FILE "0001_cache.sql"
/* Quiet the "already exists, skipping" notices of IF NOT EXISTS. */
#define SESSION_OPTIONS "-c client_min_messages=warning"
/* Any fixed text works as the key, as long as every run uses the same. */
#define LOCK_SQL "SELECT pg_advisory_lock(hashtextextended('syncto cache schema migration', 0))"

typedef struct {
    int version;
    char name[NAME_MAX + 1];
} mfile_t;

/* "0012_add_thing.sql" -> 12; -1 for names that are not migrations. */
static int file_version(const char *name)
{
    size_t len = strlen(name);
    long v;
    char *end;

    if (len < 6 || strcmp(name + len - 4, ".sql") != 0 || name[0] < '0' || name[0] > '9')
        return -1;
    errno = 0;
    v = strtol(name, &end, 10);
    if (errno != 0 || *end != '_' || v <= 0 || v > 999999)
        return -1;
    return (int)v;
}

static int cmp_mfile(const void *a, const void *b)
{
    const mfile_t *x = a, *y = b;

    return (x->version > y->version) - (x->version < y->version);
}

static SY_MUST_CHECK sy_rc_t list_files(const char *dir, mfile_t *files, int *n, char *err,
                                        size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int count = 0;

    if (d == NULL) {
        snprintf(err, errlen, "cannot open SQL directory %s: %s (see --sql-dir, SYNCTO_SQL_DIR)",
                 dir, strerror(errno));
        return SY_ERR_IO;
    }
    /* One thread, one directory stream: readdir is safe (glibc deprecates
     * readdir_r). */
    // cppcheck-suppress readdirCalled
    while ((e = readdir(d)) != NULL) {
        int v = file_version(e->d_name);

        if (v < 0)
            continue;
        if (count == SY_MIGRATE_MAX_FILES) {
            closedir(d);
            snprintf(err, errlen, "%s: more than %d migration files", dir, SY_MIGRATE_MAX_FILES);
            return SY_ERR_TOO_LARGE;
        }
        files[count].version = v;
        snprintf(files[count].name, sizeof(files[count].name), "%s", e->d_name);
        count++;
    }
    closedir(d);
    if (count == 0) {
        snprintf(err, errlen, "no migration files (NNNN_name.sql) in %s", dir);
        return SY_ERR_IO;
    }
    qsort(files, (size_t)count, sizeof(*files), cmp_mfile);
    for (int i = 1; i < count; i++) {
        if (files[i].version == files[i - 1].version) {
            snprintf(err, errlen, "%s: %s and %s have the same version", dir, files[i - 1].name,
                     files[i].name);
            return SY_ERR_CONFIG;
        }
    }
    *n = count;
    return SY_OK;
}

/* Reads dir/name whole into a malloc'ed, NUL-terminated string. */
static SY_MUST_CHECK sy_rc_t read_sql(const char *dir, const char *name, char **out, char *err,
                                      size_t errlen)
{
    char path[PATH_MAX];
    FILE *f;
    char *buf = NULL;
    size_t len = 0;
    sy_rc_t rc = SY_OK;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        snprintf(err, errlen, "%s: path too long", name);
        return SY_ERR_TOO_LARGE;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return SY_ERR_IO;
    }
    buf = malloc(SY_MIGRATE_MAX_FILE_BYTES + 1);
    if (buf == NULL)
        abort();
    len = fread(buf, 1, SY_MIGRATE_MAX_FILE_BYTES + 1, f);
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        rc = SY_ERR_IO;
    } else if (len > SY_MIGRATE_MAX_FILE_BYTES) {
        snprintf(err, errlen, "%s is larger than %zu bytes", path, SY_MIGRATE_MAX_FILE_BYTES);
        rc = SY_ERR_TOO_LARGE;
    } else if (memchr(buf, '\0', len) != NULL) {
        snprintf(err, errlen, "%s contains a NUL byte", path);
        rc = SY_ERR_INVALID;
    }
    (void)fclose(f); /* opened for reading: nothing to lose */
    if (rc != SY_OK) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    return SY_OK;
}

/* Copies the server's primary message and SQLSTATE into err, prefixed. */
static void pq_error(char *err, size_t errlen, const char *what, PGconn *conn, const PGresult *res)
{
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char line[400] = "";
    size_t o = 0;

    if (msg == NULL)
        msg = PQerrorMessage(conn);
    for (; *msg && o + 1 < sizeof(line); msg++)
        line[o++] = (char)((*msg == '\n' || *msg == '\t') ? ' ' : *msg);
    while (o > 0 && line[o - 1] == ' ')
        o--;
    line[o] = '\0';
    snprintf(err, errlen, "%s: %s%s%s%s", what, line, state ? " (SQLSTATE " : "",
             state ? state : "", state ? ")" : "");
}

/* Runs sql (one or more statements) and expects success. */
static SY_MUST_CHECK sy_rc_t exec_ok(PGconn *conn, const char *sql, const char *what, char *err,
                                     size_t errlen)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        pq_error(err, errlen, what, conn, res);
        PQclear(res);
        return SY_ERR_DB;
    }
    PQclear(res);
    return SY_OK;
}

/* Checks that the existing cache table is cliquet's: key VARCHAR(256)
 * PRIMARY KEY, value TEXT NOT NULL, ttl TIMESTAMP, nothing else. */
static SY_MUST_CHECK sy_rc_t check_legacy_shape(PGconn *conn, char *err, size_t errlen)
{
    static const char *const want[3][3] = {
        {"key", "character varying(256)", "t"},
        {"value", "text", "t"},
        {"ttl", "timestamp without time zone", "f"},
    };
    PGresult *res;
    bool ok;

    res = PQexec(conn, "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
                       "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid "
                       "AND i.indisprimary AND i.indnatts = 1 AND i.indkey[0] = 1) "
                       "FROM pg_attribute a WHERE a.attrelid = 'cache'::regclass "
                       "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pq_error(err, errlen, "reading the cache table's columns", conn, res);
        PQclear(res);
        return SY_ERR_DB;
    }
    ok = PQntuples(res) == 3 && strcmp(PQgetvalue(res, 0, 3), "t") == 0;
    for (int i = 0; ok && i < 3; i++) {
        for (int j = 0; j < 3; j++)
            ok = ok && strcmp(PQgetvalue(res, i, j), want[i][j]) == 0;
    }
    PQclear(res);
    if (!ok) {
        snprintf(err, errlen,
                 "a table named cache exists without cache_schema_version and is not a cliquet "
                 "cache table (expected key VARCHAR(256) PRIMARY KEY, value TEXT NOT NULL, "
                 "ttl TIMESTAMP); refusing to change it");
        return SY_ERR_CONFIG;
    }
    return SY_OK;
}

/* Current schema version: metadata's cache_schema_version; 1 for a cliquet
 * cache table without it (*legacy set); 0 when there is no cache table. */
static SY_MUST_CHECK sy_rc_t read_version(PGconn *conn, int *version, bool *legacy, char *err,
                                          size_t errlen)
{
    PGresult *res;
    bool has_meta, has_cache;
    sy_rc_t rc = SY_OK;

    *version = 0;
    *legacy = false;
    res = PQexec(conn,
                 "SELECT to_regclass('metadata') IS NOT NULL, to_regclass('cache') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pq_error(err, errlen, "reading the schema", conn, res);
        PQclear(res);
        return SY_ERR_DB;
    }
    has_meta = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    has_cache = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    PQclear(res);

    if (has_meta) {
        res = PQexec(conn, "SELECT value FROM metadata WHERE name = 'cache_schema_version'");
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            pq_error(err, errlen, "reading metadata", conn, res);
            PQclear(res);
            return SY_ERR_DB;
        }
        if (PQntuples(res) > 0) {
            const char *v = PQgetvalue(res, 0, 0);
            char *end;
            long n;

            errno = 0;
            n = strtol(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || n < 0 || n > 999999) {
                snprintf(err, errlen, "metadata cache_schema_version is not a version number");
                rc = SY_ERR_CONFIG;
            } else {
                *version = (int)n;
            }
            PQclear(res);
            return rc;
        }
        PQclear(res);
        /* A metadata table without our row: cliquet's storage backend makes
         * one too. Fall through to look at the cache table. */
    }
    if (!has_cache)
        return SY_OK;
    rc = check_legacy_shape(conn, err, errlen);
    if (rc != SY_OK)
        return rc;
    *version = 1;
    *legacy = true;
    return SY_OK;
}

/* The statement recording version v (metadata may lack a unique constraint
 * when cliquet's storage created it, hence no ON CONFLICT). */
static void record_sql(char *buf, size_t len, int v)
{
    snprintf(buf, len,
             "WITH u AS (UPDATE metadata SET value = '%d' WHERE name = 'cache_schema_version' "
             "RETURNING 1) INSERT INTO metadata (name, value) SELECT 'cache_schema_version', '%d' "
             "WHERE NOT EXISTS (SELECT 1 FROM u)",
             v, v);
}

/* Line of the 1-based character position pos in sql. */
static int line_of(const char *sql, long pos)
{
    int line = 1;
    long chars = 0;

    for (const char *p = sql; *p; p++) {
        if (((unsigned char)*p & 0xc0) != 0x80 && ++chars >= pos)
            break;
        if (*p == '\n')
            line++;
    }
    return line;
}

/* Applies one file and records its version, in one transaction. */
static SY_MUST_CHECK sy_rc_t apply_file(PGconn *conn, const char *name, const char *sql,
                                        int version, char *err, size_t errlen)
{
    char rec[512];
    PGresult *res;
    ExecStatusType st;
    sy_rc_t rc;

    rc = exec_ok(conn, "BEGIN", "BEGIN", err, errlen);
    if (rc != SY_OK)
        return rc;
    res = PQexec(conn, sql);
    st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
        char what[NAME_MAX + 32];

        if (pos != NULL)
            snprintf(what, sizeof(what), "%s:%d", name, line_of(sql, strtol(pos, NULL, 10)));
        else
            snprintf(what, sizeof(what), "%s", name);
        pq_error(err, errlen, what, conn, res);
        PQclear(res);
        goto rollback;
    }
    PQclear(res);
    record_sql(rec, sizeof(rec), version);
    if (exec_ok(conn, rec, "recording the schema version", err, errlen) != SY_OK)
        goto rollback;
    return exec_ok(conn, "COMMIT", "COMMIT", err, errlen);

rollback:
    PQclear(PQexec(conn, "ROLLBACK"));
    return SY_ERR_DB;
}

static void print_file(FILE *out, const char *name, const char *sql, int version)
{
    char rec[512];
    size_t len = strlen(sql);

    record_sql(rec, sizeof(rec), version);
    fprintf(out, "-- %s (version %d)\nBEGIN;\n%s%s%s;\nCOMMIT;\n\n", name, version, sql,
            (len > 0 && sql[len - 1] != '\n') ? "\n" : "", rec);
}

static PGconn *connect_db(const char *conninfo, char *err, size_t errlen)
{
    char cerr[512];
    PGconn *conn = sy_cache_pq_connect(conninfo, CONNECT_TIMEOUT_S, SESSION_OPTIONS,
                                       "syncto-migrate", cerr, sizeof(cerr));

    if (conn == NULL)
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s", cerr);
    return conn;
}

sy_rc_t sy_migrate_run(const char *conninfo, const char *sql_dir, bool dry_run, FILE *out,
                       sy_migrate_result_t *res, char *err, size_t errlen)
{
    mfile_t *files = NULL;
    int nfiles = 0, current = 0, latest, applied = 0, first = -1;
    bool legacy = false;
    char *sql = NULL;
    char lock_sql[128];
    PGconn *conn = NULL;
    sy_rc_t rc;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (out == NULL)
        out = stdout;
    if (res != NULL)
        memset(res, 0, sizeof(*res));
    files = calloc(SY_MIGRATE_MAX_FILES, sizeof(*files));
    if (files == NULL)
        abort();

    rc = list_files(sql_dir, files, &nfiles, err, errlen);
    if (rc != SY_OK)
        goto done;
    latest = files[nfiles - 1].version;

    conn = connect_db(conninfo, err, errlen);
    if (conn == NULL) {
        rc = SY_ERR_DB;
        goto done;
    }
    if (!dry_run) {
        snprintf(lock_sql, sizeof(lock_sql), "SET lock_timeout = %d", LOCK_WAIT_MS);
        rc = exec_ok(conn, lock_sql, "SET lock_timeout", err, errlen);
        if (rc == SY_OK)
            rc = exec_ok(conn, LOCK_SQL, "waiting for another syncto-migrate run", err, errlen);
        if (rc == SY_OK)
            rc = exec_ok(conn, "RESET lock_timeout", "RESET lock_timeout", err, errlen);
        if (rc != SY_OK)
            goto done;
    }

    rc = read_version(conn, &current, &legacy, err, errlen);
    if (rc != SY_OK)
        goto done;
    if (current > latest) {
        snprintf(err, errlen,
                 "the database is at cache schema version %d, newer than the newest file in %s "
                 "(%d)",
                 current, sql_dir, latest);
        rc = SY_ERR_CONFIG;
        goto done;
    }

    if (legacy) {
        /* Adopt a cliquet table: re-run the idempotent first file, which adds
         * the metadata table and index it lacks, and record version 1. */
        if (files[0].version != 1) {
            snprintf(err, errlen, "%s has no version 1 file (%s)", sql_dir, FIRST_FILE);
            rc = SY_ERR_CONFIG;
            goto done;
        }
        rc = read_sql(sql_dir, files[0].name, &sql, err, errlen);
        if (rc != SY_OK)
            goto done;
        if (dry_run) {
            print_file(out, files[0].name, sql, 1);
            fprintf(out, "cache schema: dry run: would adopt the existing cliquet cache table as "
                         "version 1\n");
        } else {
            rc = apply_file(conn, files[0].name, sql, 1, err, errlen);
            if (rc != SY_OK)
                goto done;
            fprintf(out, "cache schema: adopted the existing cliquet cache table as version 1\n");
        }
        free(sql);
        sql = NULL;
    }

    for (int i = 0; i < nfiles; i++) {
        if (files[i].version <= current)
            continue;
        if (first < 0)
            first = i;
        rc = read_sql(sql_dir, files[i].name, &sql, err, errlen);
        if (rc != SY_OK)
            goto done;
        if (dry_run) {
            print_file(out, files[i].name, sql, files[i].version);
        } else {
            rc = apply_file(conn, files[i].name, sql, files[i].version, err, errlen);
            if (rc != SY_OK)
                goto done;
            fprintf(out, "cache schema: applied %s\n", files[i].name);
        }
        applied++;
        free(sql);
        sql = NULL;
    }

    if (applied == 0 && !legacy) /* after an adoption, its line said it all */
        fprintf(out, "cache schema: %salready at version %d, nothing to do\n",
                dry_run ? "dry run: " : "", current);
    else if (applied > 0 && current == 0)
        fprintf(out, "cache schema: %s at version %d\n",
                dry_run ? "dry run: would create" : "created", latest);
    else if (applied > 0)
        fprintf(out, "cache schema: %s from %d to %d\n",
                dry_run ? "dry run: would upgrade" : "upgraded", current, latest);
    if (res != NULL) {
        res->from_version = current;
        res->to_version = applied > 0 ? latest : current;
        res->applied = applied;
        res->adopted = legacy;
    }

done:
    free(sql);
    free(files);
    PQfinish(conn); /* ends the session, and with it the advisory lock */
    return rc;
}

sy_rc_t sy_migrate_current_version(const char *conninfo, int *version, char *err, size_t errlen)
{
    PGconn *conn = connect_db(conninfo, err, errlen);
    bool legacy;
    sy_rc_t rc;

    if (conn == NULL)
        return SY_ERR_DB;
    rc = read_version(conn, version, &legacy, err, errlen);
    PQfinish(conn);
    return rc;
}

/* True when dir holds the first migration file. */
static bool has_migrations(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, FIRST_FILE) >= sizeof(path))
        return false;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static SY_MUST_CHECK sy_rc_t copy_path(char *buf, size_t buflen, const char *path)
{
    if ((size_t)snprintf(buf, buflen, "%s", path) >= buflen)
        return SY_ERR_TOO_LARGE;
    return SY_OK;
}

sy_rc_t sy_migrate_find_sql_dir(const char *explicit_dir, const char *install_dir, char *buf,
                                size_t buflen)
{
    char exe[PATH_MAX], real[PATH_MAX];
    const char *env = getenv("SYNCTO_SQL_DIR");
    ssize_t n;

    if (explicit_dir != NULL && explicit_dir[0] != '\0')
        return copy_path(buf, buflen, explicit_dir);
    if (env != NULL && env[0] != '\0')
        return copy_path(buf, buflen, env);

    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        char *slash;

        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash != NULL) {
            char cand[PATH_MAX];

            *slash = '\0';
            /* <build dir>/../sql in a source tree; <prefix>/bin/../share/
             * syncto/sql in an installed tree, wherever its prefix is. */
            if ((size_t)snprintf(cand, sizeof(cand), "%s/../sql", exe) < sizeof(cand) &&
                has_migrations(cand) && realpath(cand, real) != NULL)
                return copy_path(buf, buflen, real);
            if ((size_t)snprintf(cand, sizeof(cand), "%s/../share/syncto/sql", exe) <
                    sizeof(cand) &&
                has_migrations(cand) && realpath(cand, real) != NULL)
                return copy_path(buf, buflen, real);
        }
    }
    if (has_migrations("sql") && realpath("sql", real) != NULL)
        return copy_path(buf, buflen, real);
    if (install_dir == NULL || install_dir[0] == '\0')
        return SY_ERR_CONFIG;
    return copy_path(buf, buflen, install_dir);
}
