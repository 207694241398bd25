/* config.c: settings from defaults, environment and flags (see config.h).
 * One table maps each setting to its flag, its variable and its field. */
#include "service/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "service/hours.h"

enum option_kind { OPT_TEXT, OPT_INT, OPT_INT64, OPT_DOUBLE };

struct option {
    const char *flag; /* without the leading "--" */
    const char *env;
    enum option_kind kind;
    size_t offset;
    double min, max;
    const char *help;
};

#define FIELD(name) offsetof(struct service_config, name)

static const struct option options[] = {
    {"listen", "VSR_LISTEN", OPT_TEXT, FIELD(listen), 0, 0, "HOST:PORT to serve HTTP on"},
    {"data-dir", "VSR_DATA_DIR", OPT_TEXT, FIELD(data_dir), 0, 0, "folder for database and files"},
    {"database", "VSR_DATABASE_URL", OPT_TEXT, FIELD(database_url), 0, 0,
     "sqlite:PATH or postgres://USER@HOST:PORT/DB (default DATA_DIR/vsr.db)"},
    {"storage", "VSR_STORAGE_URL", OPT_TEXT, FIELD(storage_url), 0, 0,
     "file:DIR or s3://BUCKET?endpoint=URL&region=R (default DATA_DIR/blobs)"},
    {"public-url", "VSR_PUBLIC_URL", OPT_TEXT, FIELD(public_url), 0, 0,
     "base URL clients reach the server at"},
    {"workers", "VSR_WORKERS", OPT_INT, FIELD(workers), 0, 256, "job threads"},
    {"threads-per-job", "VSR_THREADS_PER_JOB", OPT_INT, FIELD(threads_per_job), 0, 256,
     "codec threads per job (0: automatic)"},
    {"http-threads", "VSR_HTTP_THREADS", OPT_INT, FIELD(http_threads), 0, 256,
     "HTTP server threads (0: one per CPU)"},
    {"max-connections", "VSR_MAX_CONNECTIONS", OPT_INT, FIELD(max_connections), 1, 1000000,
     "open HTTP connections in all (fewer when the descriptor limit is lower)"},
    {"max-connections-per-ip", "VSR_MAX_CONNECTIONS_PER_IP", OPT_INT, FIELD(max_connections_per_ip),
     1, 1000000, "open HTTP connections from one client address"},
    {"header-timeout", "VSR_HEADER_TIMEOUT_SECONDS", OPT_INT, FIELD(header_timeout_seconds), 1,
     3600, "seconds a client has to send a request's whole head"},
    {"min-upload-rate", "VSR_MIN_UPLOAD_RATE", OPT_INT, FIELD(min_upload_rate), 0, 1000000000,
     "bytes per second a request body must average after header-timeout (0: no minimum)"},
    {"cors-origins", "VSR_CORS_ORIGINS", OPT_TEXT, FIELD(cors_origins), 0, 0,
     "origins browsers may call the API from: a comma list, or * for any"},
    {"idle-timeout", "VSR_IDLE_TIMEOUT_SECONDS", OPT_INT, FIELD(idle_timeout_seconds), 1, 86400,
     "a connection silent this long is closed"},
    {"max-request-size", "VSR_MAX_REQUEST_SIZE", OPT_INT64, FIELD(max_request_size), 1, 1e15,
     "largest request body in bytes"},
    {"max-duration", "VSR_MAX_DURATION_SECONDS", OPT_DOUBLE, FIELD(max_duration_seconds), 1, 1e7,
     "longest accepted video in seconds"},
    {"max-width", "VSR_MAX_WIDTH", OPT_INT, FIELD(max_width), 16, 65535, "widest accepted video"},
    {"max-height", "VSR_MAX_HEIGHT", OPT_INT, FIELD(max_height), 16, 65535,
     "tallest accepted video"},
    {"lease-seconds", "VSR_LEASE_SECONDS", OPT_INT, FIELD(lease_seconds), 1, 86400,
     "a worker that stops heartbeating loses its job after this"},
    {"max-attempts", "VSR_MAX_ATTEMPTS", OPT_INT, FIELD(max_attempts), 1, 100,
     "claims before a job fails for good"},
    {"backoff-seconds", "VSR_BACKOFF_SECONDS", OPT_INT, FIELD(backoff_seconds), 0, 86400,
     "first retry delay (doubles each attempt)"},
    {"min-free-mb", "VSR_MIN_FREE_MB", OPT_INT, FIELD(min_free_mb), 0, 1000000000,
     "workers claim no job while the work folder has less free space (MB; 0: no check)"},
    {"drain-seconds", "VSR_DRAIN_SECONDS", OPT_INT, FIELD(drain_seconds), 0, 86400,
     "SIGTERM waits this long for running jobs"},
    {"upload-expiry", "VSR_UPLOAD_EXPIRY_SECONDS", OPT_INT, FIELD(upload_expiry_seconds), 1, 604800,
     "upload URLs expire after this"},
    {"download-url-seconds", "VSR_DOWNLOAD_URL_SECONDS", OPT_INT, FIELD(download_url_seconds), 1,
     604800, "presigned result URLs (S3 storage) expire after this"},
    {"poll-ms", "VSR_POLL_MS", OPT_INT, FIELD(poll_ms), 10, 60000,
     "idle workers look for jobs this often (on PostgreSQL a new job wakes them at once)"},
    {"db-pool", "VSR_DB_POOL", OPT_INT, FIELD(db_pool), 1, 1000,
     "PostgreSQL connections per process (default 8)"},
    {"log-requests", "VSR_LOG_REQUESTS", OPT_INT, FIELD(log_requests), 0, 1,
     "one JSON log line per request (1/0)"},
    {"webhook-allow-private", "VSR_WEBHOOK_ALLOW_PRIVATE", OPT_INT, FIELD(webhook_allow_private), 0,
     1, "allow webhook URLs on loopback/private addresses (1/0)"},
    {"webhook-timeout", "VSR_WEBHOOK_TIMEOUT_SECONDS", OPT_INT, FIELD(webhook_timeout_seconds), 1,
     300, "one webhook attempt's time limit in seconds"},
    {"webhook-max-attempts", "VSR_WEBHOOK_MAX_ATTEMPTS", OPT_INT, FIELD(webhook_max_attempts), 1,
     100, "webhook attempts before giving up"},
    {"webhook-backoff-ms", "VSR_WEBHOOK_BACKOFF_MS", OPT_INT, FIELD(webhook_backoff_ms), 1,
     86400000, "first webhook retry delay in ms (doubles, with jitter)"},
    {"webhook-backoff-max", "VSR_WEBHOOK_BACKOFF_MAX_SECONDS", OPT_INT,
     FIELD(webhook_backoff_max_seconds), 1, 604800, "longest webhook retry delay in seconds"},
    {"business-hours-only", "VSR_BUSINESS_HOURS_ONLY", OPT_INT, FIELD(business_hours_only), 0, 1,
     "run jobs only within business hours (1/0)"},
    {"business-hours", "VSR_BUSINESS_HOURS", OPT_TEXT, FIELD(business_hours), 0, 0,
     "HH:MM-HH:MM (may wrap past midnight)"},
    {"timezone", "VSR_TIMEZONE", OPT_TEXT, FIELD(timezone), 0, 0,
     "time zone of the business hours, e.g. Europe/Berlin"},
    {"retention-hours", "VSR_RETENTION_HOURS", OPT_DOUBLE, FIELD(retention_hours), 0, 1e6,
     "delete inputs and results of jobs finished this long ago (0: never)"},
    {"cleanup-interval", "VSR_CLEANUP_INTERVAL_SECONDS", OPT_INT, FIELD(cleanup_interval_seconds),
     1, 86400, "how often the retention sweep runs, in seconds"},
    {"metrics-admin-only", "VSR_METRICS_ADMIN_ONLY", OPT_INT, FIELD(metrics_admin_only), 0, 1,
     "/metrics and /metrics/json need an admin key (1/0)"},
    {"cron-secret", "VSR_CRON_SECRET", OPT_TEXT, FIELD(cron_secret), 0, 0,
     "Bearer secret of POST /api/v1/cron/daily (unset: the endpoint is off)"},
    {"plans", "VSR_PLANS_FILE", OPT_TEXT, FIELD(plans_file), 0, 0,
     "JSON file of the plans and their Stripe prices (unset: one plan, free, no limits)"},
    {"stripe-webhook-secret", "VSR_STRIPE_WEBHOOK_SECRET", OPT_TEXT, FIELD(stripe_webhook_secret),
     0, 0, "signing secret (whsec_...) of the Stripe webhook endpoint (unset: it is off)"},
};

#define OPTION_COUNT (sizeof options / sizeof options[0])

void config_init(struct service_config *config) {
    memset(config, 0, sizeof *config);
    snprintf(config->listen, sizeof config->listen, "127.0.0.1:8080");
    snprintf(config->data_dir, sizeof config->data_dir, "vsr-data");
    config->workers = 1;
    config->http_threads = 0;
    config->max_connections = 1000;
    config->max_connections_per_ip = 64;
    config->header_timeout_seconds = 10;
    config->min_upload_rate = 1024;
    config->idle_timeout_seconds = 120;
    config->max_request_size = 2LL << 30;
    config->max_duration_seconds = 4 * 3600;
    config->max_width = 7680;
    config->max_height = 4320;
    config->lease_seconds = 30;
    config->max_attempts = 3;
    config->backoff_seconds = 5;
    config->min_free_mb = 256;
    config->drain_seconds = 60;
    config->upload_expiry_seconds = 3600;
    config->download_url_seconds = 3600;
    config->poll_ms = 500;
    config->db_pool = 8;
    config->log_requests = 1;
    config->webhook_timeout_seconds = 10;
    config->webhook_max_attempts = 10;
    config->webhook_backoff_ms = 5000;
    config->webhook_backoff_max_seconds = 3600;
    snprintf(config->business_hours, sizeof config->business_hours, "09:00-17:00");
    config->retention_hours = 168;
    config->cleanup_interval_seconds = 600;
    plans_init_default(&config->plans);
}

static int set_option(struct service_config *config, const struct option *opt, const char *value,
                      const char *source, struct vsr_error *error) {
    char *field = (char *)config + opt->offset;
    if (opt->kind == OPT_TEXT) {
        if (strlen(value) >= CONFIG_TEXT_SIZE) goto bad;
        snprintf(field, CONFIG_TEXT_SIZE, "%s", value);
        return VSR_OK;
    }
    char *end = NULL;
    errno = 0;
    double number = strtod(value, &end);
    if (errno || end == value || *end || number < opt->min || number > opt->max) goto bad;
    if (opt->kind != OPT_DOUBLE && number != (double)(int64_t)number) goto bad;
    if (opt->kind == OPT_INT)
        *(int *)(void *)field = (int)number;
    else if (opt->kind == OPT_INT64)
        *(int64_t *)(void *)field = (int64_t)number;
    else
        *(double *)(void *)field = number;
    return VSR_OK;
bad:
    error->code = VSR_E_USAGE;
    if (opt->kind == OPT_TEXT)
        snprintf(error->message, sizeof error->message, "%s: value too long", source);
    else
        snprintf(error->message, sizeof error->message, "%s: \"%s\" is not a %s from %g to %g",
                 source, value, opt->kind == OPT_DOUBLE ? "number" : "whole number", opt->min,
                 opt->max);
    return VSR_E_USAGE;
}

/* Shorter names some deployments use (the scale-out runbook's). */
static const char *alias_of(const char *env) {
    if (strcmp(env, "VSR_DATABASE_URL") == 0) return "VSR_DB";
    if (strcmp(env, "VSR_STORAGE_URL") == 0) return "VSR_STORAGE";
    return NULL;
}

int config_apply_env(struct service_config *config, char **env, struct vsr_error *error) {
    for (char **e = env; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, "VSR_", 4) != 0) continue;
        size_t name_len = (size_t)(eq - *e);
        for (size_t i = 0; i < OPTION_COUNT; i++) {
            const char *name = options[i].env;
            if (strlen(name) != name_len || strncmp(name, *e, name_len) != 0) {
                name = alias_of(options[i].env);
                if (!name || strlen(name) != name_len || strncmp(name, *e, name_len) != 0) continue;
            }
            int rc = set_option(config, &options[i], eq + 1, name, error);
            if (rc != VSR_OK) return rc;
        }
    }
    return VSR_OK;
}

int config_apply_args(struct service_config *config, int argc, char **argv,
                      struct vsr_error *error) {
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        const struct option *opt = NULL;
        const char *value = NULL;
        if (strncmp(arg, "--", 2) == 0) {
            const char *name = arg + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            for (size_t i = 0; i < OPTION_COUNT; i++)
                if (strlen(options[i].flag) == len && strncmp(options[i].flag, name, len) == 0)
                    opt = &options[i];
            if (opt) value = eq ? eq + 1 : (a + 1 < argc ? argv[++a] : NULL);
        }
        if (!opt || !value) {
            error->code = VSR_E_USAGE;
            snprintf(error->message, sizeof error->message,
                     opt ? "%s needs a value" : "unknown option %s; see --help", arg);
            return VSR_E_USAGE;
        }
        int rc = set_option(config, opt, value, arg, error);
        if (rc != VSR_OK) return rc;
    }
    return VSR_OK;
}

int config_finish(struct service_config *config, struct vsr_error *error) {
    if (!config->database_url[0]) {
        if (strlen(config->data_dir) + 8 >= sizeof config->database_url) goto too_long;
        snprintf(config->database_url, sizeof config->database_url, "%.1000s/vsr.db",
                 config->data_dir);
    }
    if (!config->storage_url[0]) {
        if (strlen(config->data_dir) + 7 >= sizeof config->storage_url) goto too_long;
        snprintf(config->storage_url, sizeof config->storage_url, "%.1000s/blobs",
                 config->data_dir);
    }
    int rc = hours_parse(config->business_hours, &config->business_open_minute,
                         &config->business_close_minute, error);
    if (rc != VSR_OK) return rc;
    rc = plans_load(config->plans_file, &config->plans, error);
    if (rc != VSR_OK) return rc;
    if (!strchr(config->listen, ':')) {
        error->code = VSR_E_USAGE;
        snprintf(error->message, sizeof error->message,
                 "listen address \"%.200s\" must be HOST:PORT, e.g. 127.0.0.1:8080",
                 config->listen);
        return VSR_E_USAGE;
    }
    return VSR_OK;
too_long:
    error->code = VSR_E_USAGE;
    snprintf(error->message, sizeof error->message, "data dir path is too long");
    return VSR_E_USAGE;
}

/* Whether FLAG is among ONLY (NULL-terminated; NULL: all are). */
static int listed(const char *flag, const char *const *only) {
    if (!only) return 1;
    for (; *only; only++)
        if (strcmp(*only, flag) == 0) return 1;
    return 0;
}

void config_print_help(FILE *out, const char *const *only) {
    struct service_config defaults;
    config_init(&defaults);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const struct option *opt = &options[i];
        if (!listed(opt->flag, only)) continue;
        const char *field = (const char *)&defaults + opt->offset;
        char value[CONFIG_TEXT_SIZE + 16];
        if (opt->kind == OPT_TEXT)
            snprintf(value, sizeof value, "%s", *field ? field : "none");
        else if (opt->kind == OPT_INT)
            snprintf(value, sizeof value, "%d", *(const int *)(const void *)field);
        else if (opt->kind == OPT_INT64)
            snprintf(value, sizeof value, "%lld", (long long)*(const int64_t *)(const void *)field);
        else
            snprintf(value, sizeof value, "%g", *(const double *)(const void *)field);
        /* Some helps say their default themselves (one derived from another). */
        if (strstr(opt->help, "default"))
            fprintf(out, "  --%-18s %-26s %s\n", opt->flag, opt->env, opt->help);
        else
            fprintf(out, "  --%-18s %-26s %s; default %s\n", opt->flag, opt->env, opt->help, value);
    }
}
