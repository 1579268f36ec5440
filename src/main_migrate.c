/* syncto-migrate: creates or upgrades the cache schema in the PostgreSQL
 * database of syncto.cache_url. Exit status 0 on success, 1 on any error. */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "sy_version.h"
#include "syncto/sy_migrate.h"
#include "syncto/sy_settings.h"

#ifndef SY_SQL_INSTALL_DIR
#define SY_SQL_INSTALL_DIR "/usr/local/share/syncto/sql"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: syncto-migrate [--ini FILE] [--dry-run] [--sql-dir DIR]\n"
            "\n"
            "Creates or upgrades the cache tables in the database of syncto.cache_url.\n"
            "\n"
            "  --ini FILE     settings file (default: $SYNCTO_INI, else etc/syncto.ini)\n"
            "  --dry-run      print the SQL that would run; change nothing\n"
            "  --sql-dir DIR  migration files (default: $SYNCTO_SQL_DIR, else the source\n"
            "                 tree's sql/, else %s)\n"
            "  --help         this text\n"
            "  --version      print the version\n",
            SY_SQL_INSTALL_DIR);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"ini", required_argument, NULL, 'i'},     {"dry-run", no_argument, NULL, 'n'},
        {"sql-dir", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
    };
    const char *ini = NULL, *sql_dir_opt = NULL;
    bool dry_run = false;
    char err[1024], sql_dir[PATH_MAX];
    sy_settings_t *s = NULL;
    sy_rc_t rc;
    int opt, status = 1;

    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'i':
            ini = optarg;
            break;
        case 'n':
            dry_run = true;
            break;
        case 's':
            sql_dir_opt = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("syncto-migrate %s (%s)\n", SY_VERSION, SY_GIT_COMMIT);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "syncto-migrate: unexpected argument: %s\n", argv[optind]);
        usage(stderr);
        return 1;
    }

    rc = sy_settings_load(ini, &s, err, sizeof(err));
    if (rc != SY_OK) {
        fprintf(stderr, "syncto-migrate: %s\n", err);
        goto done;
    }
    if (s->cache_url == NULL || s->cache_url[0] == '\0') {
        fprintf(stderr, "syncto-migrate: syncto.cache_url is not set\n");
        goto done;
    }
    rc = sy_migrate_find_sql_dir(sql_dir_opt, SY_SQL_INSTALL_DIR, sql_dir, sizeof(sql_dir));
    if (rc != SY_OK) {
        fprintf(stderr, "syncto-migrate: cannot determine the SQL directory (%s)\n", sy_rc_str(rc));
        goto done;
    }
    rc = sy_migrate_run(s->cache_url, sql_dir, dry_run, stdout, NULL, err, sizeof(err));
    if (rc != SY_OK) {
        fprintf(stderr, "syncto-migrate: %s\n", err);
        goto done;
    }
    status = 0;

done:
    sy_settings_free(s);
    return status;
}
