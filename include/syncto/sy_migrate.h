#ifndef SY_MIGRATE_H
#define SY_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "syncto/sy_rc.h"

/* Cache schema migrations (syncto-migrate). The SQL lives in numbered files
 * NNNN_<name>.sql; the version reached is recorded in the metadata table
 * under 'cache_schema_version'. A run takes a PostgreSQL advisory lock, reads
 * the current version, then applies each newer file in its own transaction.
 * See docs/internals/cache.md. */

#define SY_MIGRATE_MAX_FILES 256
#define SY_MIGRATE_MAX_FILE_BYTES ((size_t)1024 * 1024)

typedef struct {
    int from_version; /* version found (0 = no schema) */
    int to_version;   /* version reached (a dry run: the version it would reach) */
    int applied;      /* files applied (a dry run: files it would apply) */
    bool adopted;     /* a cliquet cache table without metadata was taken as v1 */
} sy_migrate_result_t;

/* Brings the database at conninfo (libpq URI or key=value string) up to the
 * newest migration in sql_dir. Progress lines ("cache schema: ...") and, for a
 * dry run, the SQL it would run go to out (nothing is changed then). On error
 * returns SY_ERR_DB / SY_ERR_IO / SY_ERR_CONFIG with one line in err; no
 * message ever contains the password. res may be NULL. */
SY_MUST_CHECK sy_rc_t sy_migrate_run(const char *conninfo, const char *sql_dir, bool dry_run,
                                     FILE *out, sy_migrate_result_t *res, char *err, size_t errlen);

/* Reads the current cache schema version without changing anything (0 = no
 * schema; a cliquet cache table without metadata counts as 1). */
SY_MUST_CHECK sy_rc_t sy_migrate_current_version(const char *conninfo, int *version, char *err,
                                                 size_t errlen);

/* Picks the SQL directory: explicit (--sql-dir) if not NULL, else
 * $SYNCTO_SQL_DIR, else the source tree's sql/ found as <binary dir>/../sql,
 * else an installed tree's <binary dir>/../share/syncto/sql, else ./sql (a
 * directory holding 0001_cache.sql), else install_dir. Writes the
 * path into buf; SY_ERR_TOO_LARGE if it does not fit. */
SY_MUST_CHECK sy_rc_t sy_migrate_find_sql_dir(const char *explicit_dir, const char *install_dir,
                                              char *buf, size_t buflen);

#endif
