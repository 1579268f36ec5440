#ifndef SY_SETTINGS_H
#define SY_SETTINGS_H

#include <stdbool.h>
#include <stdio.h>
#include "syncto/sy_rc.h"

/* Settings, loaded once by the master from an INI file (SYNCTO_INI, default
 * etc/syncto.ini) and from the environment (syncto.token_server_url ->
 * SYNCTO_TOKEN_SERVER_URL), validated against one declarative table in
 * sy_settings.c (key, type, default, bounds, secret flag, doc). Workers get a
 * read-only copy by fork(). Strings are owned by the settings object. */

#define SY_MAX_COLLECTION_RULES 64

typedef struct {
    char collection[33]; /* Sync collection names are at most 32 chars */
    bool put_enabled;
    bool delete_enabled;
} sy_collection_rule_t;

typedef struct sy_settings {
    /* where the values came from */
    char *ini_path;

    /* FastCGI pool */
    char *listen; /* "unix:/path/sock" or "host:port" */
    int listen_backlog;
    int workers;
    int threads;
    int worker_max_requests; /* recycle a worker after N requests; 0 = never */
    int graceful_timeout_seconds;
    long max_request_body_bytes;
    long max_upstream_response_bytes;

    /* public URL */
    char *http_scheme; /* empty = from the request */
    char *http_host;   /* empty = from the request */

    /* Kinto protocol */
    int batch_max_requests; /* alias: cliquet.batch_max_requests */
    bool readonly;
    char *cors_origins; /* "*" or space-separated origins */
    int cors_max_age_seconds;
    int retry_after_seconds;
    int backoff;              /* static Backoff header on success; 0 = off */
    double backoff_threshold; /* busy-thread ratio that triggers Backoff */

    /* upstream */
    char *token_server_url;
    double token_server_connect_timeout_seconds;
    double token_server_timeout_seconds;
    double token_server_heartbeat_timeout_seconds;
    double sync_connect_timeout_seconds;
    double sync_timeout_seconds;
    char *certificate_ca_bundle; /* absolute path or empty */
    bool browserid_enabled;
    int sync_max_concurrency; /* concurrent Sync calls for one batch */

    /* credential cache */
    char *cache_url;         /* libpq connection string / URI */
    char *cache_hmac_secret; /* secret */
    int cache_credentials_ttl_seconds;
    int cache_credentials_safety_margin_seconds;
    int cache_pool_size;      /* PostgreSQL connections per worker */
    int cache_memory_entries; /* in-memory credentials per worker, 0 = off */

    /* deprecation */
    char *eos; /* ISO date, empty = none */
    char *eos_message;
    char *eos_url;

    /* FxA OAuth params endpoint */
    char *fxa_oauth_client_id;
    char *fxa_oauth_uri;
    char *fxa_oauth_scope;

    /* operations */
    char *logging_renderer; /* "json" or "text" */
    char *log_level;        /* "debug", "info", "warning", "error" */
    char *statsd_url;       /* "udp://host:port" or empty */
    char *statsd_prefix;
    char *sentry_dsn; /* secret */
    int rate_limit;   /* nginx limit_req per address, r/s; 0 = off */

    /* syncto.record_<collection>_<put|delete>_enabled */
    sy_collection_rule_t rules[SY_MAX_COLLECTION_RULES];
    int nrules;
} sy_settings_t;

/* Loads settings: defaults, then the INI file (path, or SYNCTO_INI, or
 * etc/syncto.ini), then SYNCTO_* environment variables. On error writes one
 * line "file:line: key: reason" into err (size errlen) and returns
 * SY_ERR_CONFIG. The result must be released with sy_settings_free(). */
SY_MUST_CHECK sy_rc_t sy_settings_load(const char *path, sy_settings_t **out, char *err,
                                       size_t errlen);
void sy_settings_free(sy_settings_t *s);

/* True when the operator enabled PUT (resp. DELETE) for that collection. */
bool sy_settings_put_enabled(const sy_settings_t *s, const char *collection);
bool sy_settings_delete_enabled(const sy_settings_t *s, const char *collection);

/* Writes every setting as a Markdown table (the source of docs/settings.md). */
void sy_settings_write_markdown(FILE *f);
/* Prints the effective settings, secrets masked (syncto --check-config -v). */
void sy_settings_dump(const sy_settings_t *s, FILE *f);

#endif
