#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "syncto/sy_settings.h"

extern char **environ;

#define SECRET_LINE "syncto.cache_hmac_secret = 0123456789abcdef-secret\n"

static char tmpdir[PATH_MAX]; /* realpath of this run's scratch directory */
static char ini_path[PATH_MAX + 16];

/* Removes every SYNCTO_* and CLIQUET_* variable so tests start clean. */
static void clear_env(void)
{
    for (;;) {
        char name[256] = "";
        for (char **ep = environ; *ep != NULL; ep++) {
            if (strncmp(*ep, "SYNCTO_", 7) == 0 || strncmp(*ep, "CLIQUET_", 8) == 0) {
                size_t n = strcspn(*ep, "=");
                if (n < sizeof(name)) {
                    memcpy(name, *ep, n);
                    name[n] = '\0';
                }
                break;
            }
        }
        if (name[0] == '\0')
            return;
        unsetenv(name);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Writes text as the scratch INI file and loads it. */
static sy_rc_t load_text(const char *text, sy_settings_t **out, char *err, size_t errlen)
{
    write_file(ini_path, text);
    return sy_settings_load(ini_path, out, err, errlen);
}

static sy_settings_t *load_ok(const char *text)
{
    sy_settings_t *s = NULL;
    char err[1024] = "";
    sy_rc_t rc = load_text(text, &s, err, sizeof(err));
    if (rc != SY_OK)
        fail_msg("unexpected error: %s", err);
    assert_non_null(s);
    return s;
}

/* The dump of s, as one string (caller frees). */
static char *dump(const sy_settings_t *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    sy_settings_dump(s, f);
    fclose(f);
    return buf;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(m);
    fclose(f);
    return buf;
}

/* Replaces "{file}" and "{dir}" in pattern. */
static void expand(const char *pattern, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (const char *p = pattern; *p != '\0' && used + 1 < n;) {
        const char *sub = NULL;
        size_t skip = 1;
        if (strncmp(p, "{file}", 6) == 0) {
            sub = ini_path;
            skip = 6;
        } else if (strncmp(p, "{dir}", 5) == 0) {
            sub = tmpdir;
            skip = 5;
        }
        if (sub != NULL) {
            used += (size_t)snprintf(out + used, n - used, "%s", sub);
        } else {
            out[used++] = *p;
            out[used] = '\0';
        }
        p += skip;
    }
}

static int setup(void **state)
{
    char tmpl[] = "/tmp/sy_settings_XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    assert_non_null(realpath(tmpl, tmpdir));
    snprintf(ini_path, sizeof(ini_path), "%s/t.ini", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int each(void **state)
{
    clear_env();
    return 0;
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
    sy_settings_t *s = load_ok(SECRET_LINE);
    assert_string_equal(s->listen, "unix:/run/syncto/syncto.sock");
    assert_int_equal(s->listen_backlog, 1024);
    assert_int_equal(s->workers, 2);
    assert_int_equal(s->threads, 512);
    assert_true(s->workers * s->threads >= 1024);
    assert_int_equal(s->worker_max_requests, 100000);
    assert_int_equal(s->graceful_timeout_seconds, 30);
    assert_int_equal(s->max_request_body_bytes, 4194304);
    assert_int_equal(s->max_upstream_response_bytes, 67108864);
    assert_string_equal(s->http_scheme, "");
    assert_string_equal(s->http_host, "");
    assert_int_equal(s->batch_max_requests, 25);
    assert_false(s->readonly);
    assert_string_equal(s->cors_origins, "*");
    assert_int_equal(s->cors_max_age_seconds, 3600);
    assert_int_equal(s->retry_after_seconds, 30);
    assert_int_equal(s->backoff, 60);
    assert_true(s->backoff_threshold == 0.9);
    assert_string_equal(s->token_server_url, "https://token.services.mozilla.com/");
    assert_true(s->token_server_connect_timeout_seconds == 5);
    assert_true(s->token_server_timeout_seconds == 15);
    assert_true(s->token_server_heartbeat_timeout_seconds == 5);
    assert_true(s->sync_connect_timeout_seconds == 5);
    assert_true(s->sync_timeout_seconds == 30);
    assert_string_equal(s->certificate_ca_bundle, "");
    assert_true(s->browserid_enabled);
    assert_int_equal(s->sync_max_concurrency, 25);
    assert_string_equal(s->cache_url, "postgresql:///syncto");
    assert_string_equal(s->cache_hmac_secret, "0123456789abcdef-secret");
    assert_int_equal(s->cache_credentials_ttl_seconds, 300);
    assert_int_equal(s->cache_credentials_safety_margin_seconds, 30);
    assert_int_equal(s->cache_pool_size, 4);
    assert_string_equal(s->eos, "");
    assert_string_equal(s->eos_message, "");
    assert_string_equal(s->eos_url, "");
    assert_string_equal(s->fxa_oauth_client_id, "");
    assert_string_equal(s->fxa_oauth_uri, "https://oauth.accounts.firefox.com/v1");
    assert_string_equal(s->fxa_oauth_scope, "https://identity.mozilla.com/apps/oldsync");
    assert_string_equal(s->logging_renderer, "json");
    assert_string_equal(s->log_level, "info");
    assert_string_equal(s->statsd_url, "");
    assert_string_equal(s->statsd_prefix, "syncto");
    assert_string_equal(s->sentry_dsn, "");
    assert_int_equal(s->rate_limit, 100);
    assert_int_equal(s->nrules, 0);
    assert_string_equal(s->ini_path, ini_path);
    sy_settings_free(s);
}

/* ---- values: one INI line in, one dump line out ---- */

static const struct {
    const char *line;
    const char *dumped;
} value_cases[] = {
    {"syncto.workers = 7", "syncto.workers = 7"},
    {"   syncto.threads=3   ", "syncto.threads = 3"},
    {"syncto.token_server_url = \"https://ts.example/\"",
     "syncto.token_server_url = https://ts.example/"},
    {"syncto.eos_message = \"\"", "syncto.eos_message = \"\""},
    {"syncto.eos_message = \"a \"quoted\" word\"", "syncto.eos_message = a \"quoted\" word"},
    {"syncto.eos_message = \"unbalanced", "syncto.eos_message = \"unbalanced"},
    {"syncto.eos_message = a # not a comment", "syncto.eos_message = a # not a comment"},
    {"SYNCTO.READONLY = yes", "syncto.readonly = true"},
    {"syncto.readonly = Off", "syncto.readonly = false"},
    {"syncto.readonly = 1", "syncto.readonly = true"},
    {"syncto.browserid_enabled = FALSE", "syncto.browserid_enabled = false"},
    {"syncto.backoff_threshold = 0.5", "syncto.backoff_threshold = 0.5"},
    {"syncto.sync_timeout_seconds = 12.5", "syncto.sync_timeout_seconds = 12.5"},
    {"syncto.logging_renderer = TEXT", "syncto.logging_renderer = text"},
    {"syncto.log_level = warning", "syncto.log_level = warning"},
    {"syncto.http_scheme = https", "syncto.http_scheme = https"},
    {"syncto.http_scheme =", "syncto.http_scheme = \"\""},
    {"syncto.http_host = syncto.example.com:8443", "syncto.http_host = syncto.example.com:8443"},
    {"cliquet.batch_max_requests = 50", "syncto.batch_max_requests = 50"},
    {"syncto.batch_max_requests = 1000", "syncto.batch_max_requests = 1000"},
    {"syncto.batch_max_requests = 1", "syncto.batch_max_requests = 1"},
    {"syncto.listen = 127.0.0.1:9000", "syncto.listen = 127.0.0.1:9000"},
    {"syncto.listen = [::1]:9000", "syncto.listen = [::1]:9000"},
    {"syncto.listen = localhost:65535", "syncto.listen = localhost:65535"},
    {"syncto.listen = unix:/tmp/x.sock", "syncto.listen = unix:/tmp/x.sock"},
    {"syncto.max_request_body_bytes = 1048576", "syncto.max_request_body_bytes = 1048576"},
    {"syncto.max_upstream_response_bytes = 4294967296",
     "syncto.max_upstream_response_bytes = 4294967296"},
    {"syncto.worker_max_requests = 0", "syncto.worker_max_requests = 0"},
    {"syncto.cors_origins = https://a.example http://b.example:8080",
     "syncto.cors_origins = https://a.example http://b.example:8080"},
    {"syncto.eos = 2026-12-31", "syncto.eos = 2026-12-31"},
    {"syncto.statsd_url = udp://127.0.0.1:8125", "syncto.statsd_url = udp://127.0.0.1:8125"},
    {"syncto.statsd_url = udp://[::1]", "syncto.statsd_url = udp://[::1]"},
    {"syncto.statsd_url = udp://stats.internal", "syncto.statsd_url = udp://stats.internal"},
    {"syncto.cache_url = postgresql://user:pw@db.internal/syncto",
     "syncto.cache_url = postgresql://user:********@db.internal/syncto"},
    {"syncto.cache_url = host=db user=syncto password=pw dbname=syncto",
     "syncto.cache_url = host=db user=syncto password=******** dbname=syncto"},
    {"syncto.sentry_dsn = https://key@sentry.example/1", "syncto.sentry_dsn = ********"},
    {"syncto.record_History_put_enabled = true", "syncto.record_history_put_enabled = true"},
    {"syncto.record_tabs_delete_enabled = on", "syncto.record_tabs_delete_enabled = true"},
    {"syncto.record_my_coll.v-2_put_enabled = true",
     "syncto.record_my_coll.v-2_put_enabled = true"},
};

static void test_values(void **state)
{
    for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
        char text[1024];
        snprintf(text, sizeof(text), "[app:main]\n" SECRET_LINE "%s\n", value_cases[i].line);
        sy_settings_t *s = load_ok(text);
        char *d = dump(s);
        char want[512];
        snprintf(want, sizeof(want), "\n%s\n", value_cases[i].dumped);
        if (strstr(d, want) == NULL)
            fail_msg("case %zu (%s): \"%s\" not in dump:\n%s", i, value_cases[i].line,
                     value_cases[i].dumped, d);
        free(d);
        sy_settings_free(s);
    }
}

static void test_file_syntax(void **state)
{
    /* BOM, CRLF, comments of both kinds, several sections, keys before any
     * section, blank and indented lines. */
    sy_settings_t *s = load_ok("\xEF\xBB\xBFsyncto.workers = 3\r\n"
                               "# comment = ignored\r\n"
                               "; syncto.threads = 99\n"
                               "\n"
                               "[app:main]\n"
                               "  syncto.threads = 5\n"
                               "[syncto]\n"
                               "syncto.cache_hmac_secret=\"  spaces kept inside  \"\n"
                               "[anything else]\n"
                               "syncto.eos_url = https://example.com/eos\n");
    assert_int_equal(s->workers, 3);
    assert_int_equal(s->threads, 5);
    assert_string_equal(s->cache_hmac_secret, "  spaces kept inside  ");
    assert_string_equal(s->eos_url, "https://example.com/eos");
    sy_settings_free(s);
}

/* ---- errors: exact message for each kind ---- */

static const struct {
    const char *text;
    const char *env_name; /* optional variable set for this case */
    const char *env_value;
    const char *error; /* {file} and {dir} are replaced */
} error_cases[] = {
    {"", NULL, NULL,
     "{file}: syncto.cache_hmac_secret: required setting is missing (set it in this file or in "
     "SYNCTO_CACHE_HMAC_SECRET)"},
    {"[app:main]\nsyncto.cache_hmac_secret =\n", NULL, NULL,
     "{file}:2: syncto.cache_hmac_secret: must not be empty"},
    {"syncto.cache_hmac_secret = short-secret\n", NULL, NULL,
     "{file}:1: syncto.cache_hmac_secret: too short (at least 16 characters)"},
    {SECRET_LINE "\nsyncto.nope = 1\n", NULL, NULL, "{file}:3: syncto.nope: unknown setting"},
    {SECRET_LINE "listen = x\n", NULL, NULL, "{file}:2: listen: unknown setting"},
    {SECRET_LINE "syncto.batch_max_requests = 1001\n", NULL, NULL,
     "{file}:2: syncto.batch_max_requests: out of range: 1001 (allowed 1..1000)"},
    {SECRET_LINE "syncto.batch_max_requests = 0\n", NULL, NULL,
     "{file}:2: syncto.batch_max_requests: out of range: 0 (allowed 1..1000)"},
    {SECRET_LINE "cliquet.batch_max_requests = 2000\n", NULL, NULL,
     "{file}:2: cliquet.batch_max_requests: out of range: 2000 (allowed 1..1000)"},
    {SECRET_LINE "syncto.workers = two\n", NULL, NULL,
     "{file}:2: syncto.workers: not an integer: \"two\""},
    {SECRET_LINE "syncto.workers = 5x\n", NULL, NULL,
     "{file}:2: syncto.workers: not an integer: \"5x\""},
    {SECRET_LINE "syncto.workers =\n", NULL, NULL,
     "{file}:2: syncto.workers: not an integer: \"\""},
    {SECRET_LINE "syncto.workers = 99999999999999999999\n", NULL, NULL,
     "{file}:2: syncto.workers: not an integer: \"99999999999999999999\""},
    {SECRET_LINE "syncto.readonly = maybe\n", NULL, NULL,
     "{file}:2: syncto.readonly: not a boolean: \"maybe\" (expected true or false)"},
    {SECRET_LINE "syncto.backoff_threshold = 1.5\n", NULL, NULL,
     "{file}:2: syncto.backoff_threshold: out of range: 1.5 (allowed 0..1)"},
    {SECRET_LINE "syncto.backoff_threshold = nan\n", NULL, NULL,
     "{file}:2: syncto.backoff_threshold: not a number: \"nan\""},
    {SECRET_LINE "syncto.logging_renderer = xml\n", NULL, NULL,
     "{file}:2: syncto.logging_renderer: invalid value \"xml\" (expected json, text)"},
    {SECRET_LINE "syncto.log_level = verbose\n", NULL, NULL,
     "{file}:2: syncto.log_level: invalid value \"verbose\" (expected debug, info, warning, "
     "error)"},
    {SECRET_LINE "syncto.http_scheme = ftp\n", NULL, NULL,
     "{file}:2: syncto.http_scheme: invalid value \"ftp\" (expected (empty), http, https)"},
    {SECRET_LINE "syncto.listen = localhost\n", NULL, NULL,
     "{file}:2: syncto.listen: invalid listen address \"localhost\": expected unix:/path or "
     "host:port"},
    {SECRET_LINE "syncto.listen = unix:run/s.sock\n", NULL, NULL,
     "{file}:2: syncto.listen: invalid listen address \"unix:run/s.sock\": unix socket path must "
     "be absolute"},
    {SECRET_LINE "syncto.listen = 127.0.0.1:70000\n", NULL, NULL,
     "{file}:2: syncto.listen: invalid listen address \"127.0.0.1:70000\": port must be a number "
     "from 1 to 65535"},
    {SECRET_LINE "syncto.listen = :9000\n", NULL, NULL,
     "{file}:2: syncto.listen: invalid listen address \":9000\": missing host (e.g. "
     "127.0.0.1:port)"},
    {SECRET_LINE "syncto.listen = ::1:9000\n", NULL, NULL,
     "{file}:2: syncto.listen: invalid listen address \"::1:9000\": invalid host (IPv6 needs "
     "[brackets])"},
    {SECRET_LINE "syncto.certificate_ca_bundle = missing.pem\n", NULL, NULL,
     "{file}:2: syncto.certificate_ca_bundle: cannot read CA bundle {dir}/missing.pem: No such "
     "file or directory"},
    {SECRET_LINE "syncto.certificate_ca_bundle = /\n", NULL, NULL,
     "{file}:2: syncto.certificate_ca_bundle: cannot read CA bundle /: not a regular file"},
    {SECRET_LINE "syncto.workers = 2\nsyncto.workers = 3\n", NULL, NULL,
     "{file}:3: syncto.workers: duplicate setting (already set at line 2)"},
    {SECRET_LINE "syncto.batch_max_requests = 20\ncliquet.batch_max_requests = 20\n", NULL, NULL,
     "{file}:3: cliquet.batch_max_requests: duplicate setting (already set at line 2)"},
    {SECRET_LINE "just words\n", NULL, NULL, "{file}:2: expected \"key = value\""},
    {SECRET_LINE " = value\n", NULL, NULL, "{file}:2: missing key before \"=\""},
    {SECRET_LINE "[app:main\n", NULL, NULL, "{file}:2: unterminated section header"},
    {SECRET_LINE "syncto.token_server_url = ftp://token.example/\n", NULL, NULL,
     "{file}:2: syncto.token_server_url: not an http:// or https:// URL: "
     "\"ftp://token.example/\""},
    {SECRET_LINE "syncto.eos = 2026-13-01\n", NULL, NULL,
     "{file}:2: syncto.eos: not a YYYY-MM-DD date: \"2026-13-01\""},
    {SECRET_LINE "syncto.cors_origins = https://a.example/path\n", NULL, NULL,
     "{file}:2: syncto.cors_origins: not \"*\" nor an origin like https://host[:port]: "
     "\"https://a.example/path\""},
    {SECRET_LINE "syncto.statsd_url = tcp://127.0.0.1:8125\n", NULL, NULL,
     "{file}:2: syncto.statsd_url: not a udp://host[:port] URL: \"tcp://127.0.0.1:8125\""},
    {SECRET_LINE "syncto.http_host = https://x.example\n", NULL, NULL,
     "{file}:2: syncto.http_host: not a host[:port]: \"https://x.example\""},
    {SECRET_LINE "syncto.cache_url =\n", NULL, NULL,
     "{file}:2: syncto.cache_url: must not be empty"},
    {SECRET_LINE "syncto.cache_credentials_safety_margin_seconds = 300\n", NULL, NULL,
     "{file}:2: syncto.cache_credentials_safety_margin_seconds: must be lower than "
     "syncto.cache_credentials_ttl_seconds (300)"},
    {SECRET_LINE "syncto.cache_credentials_ttl_seconds = 20\n", NULL, NULL,
     "{file}:2: syncto.cache_credentials_ttl_seconds: must be greater than "
     "syncto.cache_credentials_safety_margin_seconds (30)"},
    {SECRET_LINE "syncto.cache_credentials_ttl_seconds = 20\n"
                 "syncto.cache_credentials_safety_margin_seconds = 25\n",
     NULL, NULL,
     "{file}:3: syncto.cache_credentials_safety_margin_seconds: must be lower than "
     "syncto.cache_credentials_ttl_seconds (20)"},
    {SECRET_LINE "syncto.token_server_connect_timeout_seconds = 20\n", NULL, NULL,
     "{file}:2: syncto.token_server_connect_timeout_seconds: must be at most "
     "syncto.token_server_timeout_seconds (15)"},
    {SECRET_LINE "syncto.sync_timeout_seconds = 2.5\n", NULL, NULL,
     "{file}:2: syncto.sync_timeout_seconds: must be at least "
     "syncto.sync_connect_timeout_seconds (5)"},
    {SECRET_LINE "syncto.sync_connect_timeout_seconds = 31\n", "SYNCTO_SYNC_TIMEOUT_SECONDS", "8",
     "environment: SYNCTO_SYNC_TIMEOUT_SECONDS: must be at least "
     "syncto.sync_connect_timeout_seconds (31)"},
    {SECRET_LINE "syncto.record_Bad!_put_enabled = true\n", NULL, NULL,
     "{file}:2: syncto.record_Bad!_put_enabled: invalid collection name (1 to 32 of a-z 0-9 . _ "
     "-)"},
    {SECRET_LINE "syncto.record__put_enabled = true\n", NULL, NULL,
     "{file}:2: syncto.record__put_enabled: invalid collection name (1 to 32 of a-z 0-9 . _ -)"},
    {SECRET_LINE "syncto.record_abcdefghijklmnopqrstuvwxyz0123456_put_enabled = true\n", NULL, NULL,
     "{file}:2: syncto.record_abcdefghijklmnopqrstuvwxyz0123456_put_enabled: invalid collection "
     "name (1 to 32 of a-z 0-9 . _ -)"},
    {SECRET_LINE "syncto.record_tabs_put_enabled = sure\n", NULL, NULL,
     "{file}:2: syncto.record_tabs_put_enabled: not a boolean: \"sure\" (expected true or "
     "false)"},
    {SECRET_LINE "syncto.record_tabs_get_enabled = true\n", NULL, NULL,
     "{file}:2: syncto.record_tabs_get_enabled: unknown setting"},
    {SECRET_LINE "syncto.record_tabs_put_enabled = true\nsyncto.record_TABS_put_enabled = false\n",
     NULL, NULL,
     "{file}:3: syncto.record_TABS_put_enabled: duplicate setting (already set at line 2)"},
    /* the environment */
    {SECRET_LINE, "SYNCTO_WORKERS", "0",
     "environment: SYNCTO_WORKERS: out of range: 0 (allowed 1..256)"},
    {SECRET_LINE, "SYNCTO_READONLY", "perhaps",
     "environment: SYNCTO_READONLY: not a boolean: \"perhaps\" (expected true or false)"},
    {SECRET_LINE, "CLIQUET_BATCH_MAX_REQUESTS", "x",
     "environment: CLIQUET_BATCH_MAX_REQUESTS: not an integer: \"x\""},
    {SECRET_LINE, "SYNCTO_LOG_LEVEL", "loud",
     "environment: SYNCTO_LOG_LEVEL: invalid value \"loud\" (expected debug, info, warning, "
     "error)"},
    {SECRET_LINE, "SYNCTO_LISTEN", "nowhere",
     "environment: SYNCTO_LISTEN: invalid listen address \"nowhere\": expected unix:/path or "
     "host:port"},
    {"", "SYNCTO_CACHE_HMAC_SECRET", "tiny",
     "environment: SYNCTO_CACHE_HMAC_SECRET: too short (at least 16 characters)"},
    {SECRET_LINE, "SYNCTO_CERTIFICATE_CA_BUNDLE", "/nonexistent/ca.pem",
     "environment: SYNCTO_CERTIFICATE_CA_BUNDLE: cannot read CA bundle /nonexistent/ca.pem: No "
     "such file or directory"},
    {SECRET_LINE, "SYNCTO_RECORD_TABS_PUT_ENABLED", "nah",
     "environment: SYNCTO_RECORD_TABS_PUT_ENABLED: not a boolean: \"nah\" (expected true or "
     "false)"},
    {SECRET_LINE, "SYNCTO_RECORD_TABS_ENABLED", "true",
     "environment: SYNCTO_RECORD_TABS_ENABLED: not SYNCTO_RECORD_<COLLECTION>_PUT_ENABLED or "
     "_DELETE_ENABLED"},
    {SECRET_LINE, "SYNCTO_RECORD_B@D_DELETE_ENABLED", "true",
     "environment: SYNCTO_RECORD_B@D_DELETE_ENABLED: invalid collection name (1 to 32 of a-z 0-9 "
     ". _ -)"},
};

static void test_errors(void **state)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        clear_env();
        if (error_cases[i].env_name != NULL)
            setenv(error_cases[i].env_name, error_cases[i].env_value, 1);
        sy_settings_t *s = NULL;
        char err[1024] = "", want[1024];
        sy_rc_t rc = load_text(error_cases[i].text, &s, err, sizeof(err));
        expand(error_cases[i].error, want, sizeof(want));
        if (rc != SY_ERR_CONFIG || strcmp(err, want) != 0)
            fail_msg("case %zu: rc %d, error\n  got:  %s\n  want: %s", i, rc, err, want);
        assert_null(s);
        /* a secret never shows in an error */
        assert_null(strstr(err, "0123456789abcdef-secret"));
        assert_null(strstr(err, "short-secret"));
        assert_null(strstr(err, "tiny"));
    }
    clear_env();
}

static void test_missing_file(void **state)
{
    char path[PATH_MAX + 32], err[1024], want[PATH_MAX + 128];
    sy_settings_t *s = NULL;
    snprintf(path, sizeof(path), "%s/absent.ini", tmpdir);
    assert_int_equal(sy_settings_load(path, &s, err, sizeof(err)), SY_ERR_CONFIG);
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    assert_string_equal(err, want);
    assert_null(s);
}

/* ---- environment ---- */

static void test_env_overrides(void **state)
{
    setenv("SYNCTO_WORKERS", "5", 1);
    setenv("SYNCTO_TOKEN_SERVER_URL", "http://127.0.0.1:5000/", 1);
    setenv("SYNCTO_READONLY", "true", 1);
    setenv("SYNCTO_SYNC_TIMEOUT_SECONDS", "12.5", 1);
    setenv("SYNCTO_NOT_A_SETTING", "ignored", 1);
    setenv("SYNCTO_VAR_DIR", "/tmp", 1);
    sy_settings_t *s = load_ok(SECRET_LINE "syncto.workers = 3\nsyncto.threads = 9\n");
    assert_int_equal(s->workers, 5); /* env wins */
    assert_int_equal(s->threads, 9); /* file kept */
    assert_string_equal(s->token_server_url, "http://127.0.0.1:5000/");
    assert_true(s->readonly);
    assert_true(s->sync_timeout_seconds == 12.5);
    sy_settings_free(s);

    /* the secret from the environment alone */
    clear_env();
    setenv("SYNCTO_CACHE_HMAC_SECRET", "from-the-environment", 1);
    s = load_ok("");
    assert_string_equal(s->cache_hmac_secret, "from-the-environment");
    sy_settings_free(s);
}

static void test_env_alias(void **state)
{
    setenv("CLIQUET_BATCH_MAX_REQUESTS", "40", 1);
    sy_settings_t *s = load_ok(SECRET_LINE "syncto.batch_max_requests = 10\n");
    assert_int_equal(s->batch_max_requests, 40);
    sy_settings_free(s);

    setenv("SYNCTO_BATCH_MAX_REQUESTS", "30", 1); /* the canonical name wins */
    s = load_ok(SECRET_LINE);
    assert_int_equal(s->batch_max_requests, 30);
    sy_settings_free(s);
}

static void test_env_rules(void **state)
{
    setenv("SYNCTO_RECORD_HISTORY_PUT_ENABLED", "true", 1);
    setenv("SYNCTO_RECORD_TABS_PUT_ENABLED", "false", 1); /* overrides the file */
    setenv("SYNCTO_RECORD_MY_COLL_DELETE_ENABLED", "yes", 1);
    sy_settings_t *s = load_ok(SECRET_LINE "syncto.record_tabs_put_enabled = true\n"
                                           "syncto.record_history_delete_enabled = true\n");
    assert_true(sy_settings_put_enabled(s, "history"));
    assert_true(sy_settings_delete_enabled(s, "history"));
    assert_false(sy_settings_put_enabled(s, "tabs"));
    assert_false(sy_settings_delete_enabled(s, "tabs"));
    assert_true(sy_settings_delete_enabled(s, "my_coll"));
    assert_false(sy_settings_put_enabled(s, "my_coll"));
    assert_int_equal(s->nrules, 3);
    sy_settings_free(s);
}

static void test_ini_from_env(void **state)
{
    write_file(ini_path, SECRET_LINE "syncto.threads = 11\n");
    setenv("SYNCTO_INI", ini_path, 1);
    sy_settings_t *s = NULL;
    char err[1024] = "";
    assert_int_equal(sy_settings_load(NULL, &s, err, sizeof(err)), SY_OK);
    assert_int_equal(s->threads, 11);
    assert_string_equal(s->ini_path, ini_path);
    sy_settings_free(s);

    /* an explicit path wins over SYNCTO_INI */
    char other[PATH_MAX + 32];
    snprintf(other, sizeof(other), "%s/other.ini", tmpdir);
    write_file(other, SECRET_LINE "syncto.threads = 12\n");
    assert_int_equal(sy_settings_load(other, &s, err, sizeof(err)), SY_OK);
    assert_int_equal(s->threads, 12);
    sy_settings_free(s);

    /* neither: etc/syncto.ini relative to the working directory */
    unsetenv("SYNCTO_INI");
    char cwd[PATH_MAX], etc[PATH_MAX + 32], def[PATH_MAX + 64];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    snprintf(etc, sizeof(etc), "%s/etc", tmpdir);
    mkdir(etc, 0755);
    snprintf(def, sizeof(def), "%s/syncto.ini", etc);
    write_file(def, SECRET_LINE "syncto.threads = 13\n");
    assert_int_equal(chdir(tmpdir), 0);
    sy_rc_t rc = sy_settings_load(NULL, &s, err, sizeof(err));
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, SY_OK);
    assert_int_equal(s->threads, 13);
    assert_string_equal(s->ini_path, "etc/syncto.ini");
    sy_settings_free(s);
}

/* ---- CA bundle ---- */

static void test_ca_bundle(void **state)
{
    char certs[PATH_MAX + 32], pem[PATH_MAX + 64], cwd[PATH_MAX];
    snprintf(certs, sizeof(certs), "%s/certs", tmpdir);
    mkdir(certs, 0755);
    snprintf(pem, sizeof(pem), "%s/ca.pem", certs);
    write_file(pem, "-----BEGIN CERTIFICATE-----\n");

    /* relative to the INI file's directory, whatever the working directory */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir("/"), 0);
    sy_settings_t *s = NULL;
    char err[1024] = "";
    write_file(ini_path, SECRET_LINE "syncto.certificate_ca_bundle = certs/../certs/ca.pem\n");
    sy_rc_t rc = sy_settings_load(ini_path, &s, err, sizeof(err));
    assert_int_equal(chdir(cwd), 0);
    if (rc != SY_OK)
        fail_msg("%s", err);
    assert_string_equal(s->certificate_ca_bundle, pem);
    sy_settings_free(s);

    /* absolute, quoted */
    char text[PATH_MAX + 256];
    snprintf(text, sizeof(text), SECRET_LINE "syncto.certificate_ca_bundle = \"%s\"\n", pem);
    s = load_ok(text);
    assert_string_equal(s->certificate_ca_bundle, pem);
    sy_settings_free(s);

    /* from the environment, relative to the working directory */
    assert_int_equal(chdir(certs), 0);
    setenv("SYNCTO_CERTIFICATE_CA_BUNDLE", "ca.pem", 1);
    rc = load_text(SECRET_LINE, &s, err, sizeof(err));
    assert_int_equal(chdir(cwd), 0);
    if (rc != SY_OK)
        fail_msg("%s", err);
    assert_string_equal(s->certificate_ca_bundle, pem);
    sy_settings_free(s);

    /* unreadable (permissions are not enforced for root) */
    if (geteuid() != 0) {
        clear_env();
        chmod(pem, 0);
        snprintf(text, sizeof(text), SECRET_LINE "syncto.certificate_ca_bundle = %s\n", pem);
        assert_int_equal(load_text(text, &s, err, sizeof(err)), SY_ERR_CONFIG);
        assert_non_null(strstr(err, "Permission denied"));
        chmod(pem, 0644);
    }
}

/* ---- collection rules ---- */

static void test_rules(void **state)
{
    sy_settings_t *s = load_ok(SECRET_LINE "syncto.record_history_put_enabled = true\n"
                                           "syncto.record_Tabs_delete_enabled = true\n"
                                           "syncto.record_bookmarks_put_enabled = false\n");
    assert_true(sy_settings_put_enabled(s, "history"));
    assert_true(sy_settings_put_enabled(s, "HISTORY"));
    assert_false(sy_settings_delete_enabled(s, "history"));
    assert_true(sy_settings_delete_enabled(s, "tabs"));
    assert_true(sy_settings_delete_enabled(s, "TaBs"));
    assert_false(sy_settings_put_enabled(s, "tabs"));
    assert_false(sy_settings_put_enabled(s, "bookmarks"));
    assert_false(sy_settings_put_enabled(s, "forms"));
    assert_false(sy_settings_put_enabled(s, NULL));
    assert_false(sy_settings_put_enabled(NULL, "history"));
    assert_string_equal(s->rules[1].collection, "tabs");
    sy_settings_free(s);

    /* readonly disables every write */
    s = load_ok(SECRET_LINE "syncto.readonly = true\n"
                            "syncto.record_history_put_enabled = true\n"
                            "syncto.record_history_delete_enabled = true\n");
    assert_false(sy_settings_put_enabled(s, "history"));
    assert_false(sy_settings_delete_enabled(s, "history"));
    sy_settings_free(s);

    /* at most SY_MAX_COLLECTION_RULES collections */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fputs(SECRET_LINE, f);
    for (int i = 0; i <= SY_MAX_COLLECTION_RULES; i++)
        fprintf(f, "syncto.record_c%d_put_enabled = true\n", i);
    fclose(f);
    char err[1024] = "", want[PATH_MAX + 256];
    s = NULL;
    assert_int_equal(load_text(text, &s, err, sizeof(err)), SY_ERR_CONFIG);
    snprintf(want, sizeof(want),
             "%s:%d: syncto.record_c%d_put_enabled: too many collection rules (at most %d "
             "collections)",
             ini_path, SY_MAX_COLLECTION_RULES + 2, SY_MAX_COLLECTION_RULES,
             SY_MAX_COLLECTION_RULES);
    assert_string_equal(err, want);
    free(text);
}

/* ---- dump ---- */

static void test_dump_masks_secrets(void **state)
{
    sy_settings_t *s = load_ok(SECRET_LINE "syncto.sentry_dsn = https://k3y@sentry.example/1\n"
                                           "syncto.cache_url = postgresql://u:hunter2@db/x\n");
    char *d = dump(s);
    assert_null(strstr(d, "0123456789abcdef-secret"));
    assert_null(strstr(d, "k3y"));
    assert_null(strstr(d, "hunter2"));
    assert_non_null(strstr(d, "\nsyncto.cache_hmac_secret = ********\n"));
    assert_non_null(strstr(d, "\nsyncto.sentry_dsn = ********\n"));
    /* everything else is there, one line per setting */
    assert_non_null(strstr(d, "\nsyncto.workers = 2\n"));
    assert_non_null(strstr(d, "\nsyncto.rate_limit = 100\n"));
    free(d);
    sy_settings_free(s);
}

/* ---- documentation ---- */

static char *markdown(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sy_settings_write_markdown(f);
    fclose(f);
    return buf;
}

static void test_docs_table_up_to_date(void **state)
{
    static const char begin[] = "<!-- settings:begin -->\n";
    static const char end[] = "<!-- settings:end -->";
    char *doc = read_all(SY_SOURCE_DIR "/docs/settings.md");
    char *b = strstr(doc, begin);
    assert_non_null(b);
    b += strlen(begin);
    char *e = strstr(b, end);
    assert_non_null(e);
    *e = '\0';
    char *table = markdown();
    if (strcmp(b, table) != 0)
        fail_msg("docs/settings.md is out of date; regenerate the table with "
                 "`syncto --settings-markdown`");
    free(table);
    free(doc);
}

static void test_markdown_rows(void **state)
{
    char *table = markdown();
    /* secrets: no default value shown */
    assert_non_null(strstr(table, "| `syncto.cache_hmac_secret` | `SYNCTO_CACHE_HMAC_SECRET` | "
                                  "string | (required) |"));
    assert_non_null(
        strstr(table, "| `syncto.sentry_dsn` | `SYNCTO_SENTRY_DSN` | string | (none) |"));
    assert_non_null(strstr(table, "| `syncto.batch_max_requests` | `SYNCTO_BATCH_MAX_REQUESTS` | "
                                  "int | `25` | 1..1000 |"));
    assert_non_null(strstr(table, "| `cliquet.batch_max_requests` | `CLIQUET_BATCH_MAX_REQUESTS` | "
                                  "int | `25` | 1..1000 |"));
    assert_non_null(strstr(table, "| `syncto.logging_renderer` | `SYNCTO_LOGGING_RENDERER` | enum "
                                  "| `json` | json, text |"));
    assert_non_null(strstr(table, "| `syncto.record_<collection>_put_enabled` | "
                                  "`SYNCTO_RECORD_<COLLECTION>_PUT_ENABLED` | bool | `false` |"));
    assert_non_null(strstr(table, "| `syncto.record_<collection>_delete_enabled` |"));

    /* every setting of the dump has a row, and is explained in etc/syncto.ini */
    sy_settings_t *s = load_ok(SECRET_LINE);
    char *d = dump(s);
    char *ini = read_all(SY_SOURCE_DIR "/etc/syncto.ini");
    int rows = 0;
    size_t pos = strcspn(d, "\n") + 1; /* after the "# settings loaded from" line */
    while (d[pos] != '\0') {
        char key[128];
        size_t n = strcspn(d + pos, " ");
        assert_true(n < sizeof(key) - 4);
        memcpy(key, d + pos, n);
        key[n] = '\0';
        pos += strcspn(d + pos, "\n");
        if (d[pos] == '\n')
            pos++;
        char cell[160];
        snprintf(cell, sizeof(cell), "| `%s` |", key);
        if (strstr(table, cell) == NULL)
            fail_msg("%s has no row in the Markdown table", key);
        char inikey[160];
        snprintf(inikey, sizeof(inikey), "%s =", key);
        if (strstr(ini, inikey) == NULL)
            fail_msg("%s is not in etc/syncto.ini", key);
        rows++;
    }
    assert_true(rows >= 40);
    free(ini);
    free(d);
    sy_settings_free(s);
    free(table);
}

/* ---- the shipped settings file ---- */

static void test_shipped_ini(void **state)
{
    const char *path = SY_SOURCE_DIR "/etc/syncto.ini";
    sy_settings_t *s = NULL;
    char err[1024] = "", want[1024];

    /* without a secret it must not start */
    assert_int_equal(sy_settings_load(path, &s, err, sizeof(err)), SY_ERR_CONFIG);
    snprintf(want, sizeof(want),
             "%s: syncto.cache_hmac_secret: required setting is missing (set it in this file or "
             "in SYNCTO_CACHE_HMAC_SECRET)",
             path);
    assert_string_equal(err, want);

    setenv("SYNCTO_CACHE_HMAC_SECRET", "a-secret-from-the-environment", 1);
    assert_int_equal(sy_settings_load(path, &s, err, sizeof(err)), SY_OK);
    assert_int_equal(s->batch_max_requests, 25);
    assert_int_equal(s->workers, 2);
    assert_int_equal(s->threads, 512);
    assert_false(s->readonly);
    assert_int_equal(s->nrules, 0);
    assert_true(s->graceful_timeout_seconds >= s->sync_timeout_seconds);
    sy_settings_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, each),
        cmocka_unit_test_setup(test_values, each),
        cmocka_unit_test_setup(test_file_syntax, each),
        cmocka_unit_test_setup(test_errors, each),
        cmocka_unit_test_setup(test_missing_file, each),
        cmocka_unit_test_setup(test_env_overrides, each),
        cmocka_unit_test_setup(test_env_alias, each),
        cmocka_unit_test_setup(test_env_rules, each),
        cmocka_unit_test_setup(test_ini_from_env, each),
        cmocka_unit_test_setup(test_ca_bundle, each),
        cmocka_unit_test_setup(test_rules, each),
        cmocka_unit_test_setup(test_dump_masks_secrets, each),
        cmocka_unit_test_setup(test_docs_table_up_to_date, each),
        cmocka_unit_test_setup(test_markdown_rows, each),
        cmocka_unit_test_setup(test_shipped_ini, each),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
