/* syncto: the FastCGI server. See `syncto --help` and docs/settings.md. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>
#include <sodium.h>

#include "syncto/sy_http.h"
#include "syncto/sy_master.h"
#include "syncto/sy_settings.h"
#include "sy_version.h"

static void usage(FILE *f)
{
    (void)fputs(
        "usage: syncto [--ini FILE] [--check-config [-v]] [--version] [--settings-markdown]\n"
        "\n"
        "  -c, --ini FILE         settings file (default: $SYNCTO_INI, else etc/syncto.ini)\n"
        "  -t, --check-config     load and check the settings, then exit (0 if valid)\n"
        "  -v, --verbose          with --check-config: print the effective settings,\n"
        "                         secrets masked\n"
        "  -V, --version          print the version and the source commit\n"
        "      --settings-markdown\n"
        "                         print the settings reference table (docs/settings.md)\n"
        "  -h, --help             this help\n"
        "\n"
        "Signals: SIGHUP reloads the settings file, SIGTERM/SIGINT/SIGQUIT stop\n"
        "gracefully (twice: at once).\n",
        f);
}

/* For the options whose output is the point (--help, --version,
 * --settings-markdown, --check-config): status, unless writing it to
 * stdout failed (a full disk, a closed pipe), which is an error. */
static int done_writing(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        (void)fputs("syncto: cannot write to standard output\n", stderr);
        return 1;
    }
    return status;
}

int main(int argc, char **argv)
{
    enum { OPT_MARKDOWN = 256 };
    static const struct option options[] = {
        {"ini", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"settings-markdown", no_argument, NULL, OPT_MARKDOWN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *ini = NULL;
    bool check = false, verbose = false;
    int opt;

    while ((opt = getopt_long(argc, argv, "c:tvVh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            ini = optarg;
            break;
        case 't':
            check = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'V':
            printf("syncto %s (commit %s)\n", SY_VERSION, SY_GIT_COMMIT);
            return done_writing(0);
        case OPT_MARKDOWN:
            sy_settings_write_markdown(stdout);
            return done_writing(0);
        case 'h':
            usage(stdout);
            return done_writing(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "syncto: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    /* Libraries with global state are initialised once, before fork(). */
    if (sodium_init() < 0) {
        (void)fputs("syncto: libsodium initialisation failed\n", stderr);
        return 1;
    }

    char err[1024];
    sy_settings_t *s = NULL;
    if (sy_settings_load(ini, &s, err, sizeof(err)) != SY_OK) {
        fprintf(stderr, "syncto: %s\n", err);
        if (check)
            (void)fputs("syncto: configuration check failed\n", stderr);
        return 1;
    }
    if (check) {
        if (verbose)
            sy_settings_dump(s, stdout);
        printf("syncto: configuration %s is ok\n", s->ini_path);
        sy_settings_free(s);
        return done_writing(0);
    }

    sy_http_global_init();         /* curl_global_init(), once, before any fork */
    int status = sy_master_run(s); /* takes ownership of s */
    curl_global_cleanup();
    return status;
}
