/* config.h: the settings of `vsr serve` and `vsr worker`, in one struct that
 * is filled from defaults, then VSR_* environment variables, then flags, and
 * passed down to every part of the service (nothing reads the environment
 * on its own). README lists every setting. */
#ifndef VSR_SERVICE_CONFIG_H
#define VSR_SERVICE_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "service/plans.h"
#include "vsr.h"

#define CONFIG_TEXT_SIZE 1024

struct service_config {
    char listen[CONFIG_TEXT_SIZE];       /* VSR_LISTEN, --listen: HOST:PORT (port 0: any) */
    char data_dir[CONFIG_TEXT_SIZE];     /* VSR_DATA_DIR, --data-dir */
    char database_url[CONFIG_TEXT_SIZE]; /* VSR_DATABASE_URL, --database; "": DATA_DIR/vsr.db */
    char storage_url[CONFIG_TEXT_SIZE];  /* VSR_STORAGE_URL, --storage; "": DATA_DIR/blobs */
    char public_url[CONFIG_TEXT_SIZE]; /* VSR_PUBLIC_URL: base of upload URLs; "": http://LISTEN */
    int workers;                       /* VSR_WORKERS, --workers: job threads (serve: 0 = none) */
    int threads_per_job;               /* VSR_THREADS_PER_JOB: codec threads; 0 = automatic */
    int http_threads;                  /* VSR_HTTP_THREADS: the server's thread pool */
    int64_t max_request_size;          /* VSR_MAX_REQUEST_SIZE: bytes of one request body */
    double max_duration_seconds;       /* VSR_MAX_DURATION_SECONDS: longest accepted video */
    int max_width, max_height;         /* VSR_MAX_WIDTH, VSR_MAX_HEIGHT */
    int lease_seconds;                 /* VSR_LEASE_SECONDS: a silent worker loses its job after */
    int max_attempts;                  /* VSR_MAX_ATTEMPTS: claims before a job fails for good */
    int backoff_seconds;               /* VSR_BACKOFF_SECONDS: first retry delay, doubling */
    int min_free_mb;                   /* VSR_MIN_FREE_MB: no claims with less room in work/ */
    int drain_seconds;                 /* VSR_DRAIN_SECONDS: SIGTERM waits this long for jobs */
    int upload_expiry_seconds;         /* VSR_UPLOAD_EXPIRY_SECONDS: upload URLs expire after */
    int download_url_seconds; /* VSR_DOWNLOAD_URL_SECONDS: presigned result URLs expire after */
    int poll_ms; /* VSR_POLL_MS: idle workers look for jobs this often (PostgreSQL wakes them) */
    int db_pool; /* VSR_DB_POOL: PostgreSQL connections per process */
    int log_requests; /* VSR_LOG_REQUESTS: one JSON line per request (1/0) */
    /* Webhooks (service/webhooks.h). */
    int webhook_allow_private;       /* VSR_WEBHOOK_ALLOW_PRIVATE: allow private/loopback URLs */
    int webhook_timeout_seconds;     /* VSR_WEBHOOK_TIMEOUT_SECONDS: one attempt's limit */
    int webhook_max_attempts;        /* VSR_WEBHOOK_MAX_ATTEMPTS: then the delivery is given up */
    int webhook_backoff_ms;          /* VSR_WEBHOOK_BACKOFF_MS: first retry delay, doubling */
    int webhook_backoff_max_seconds; /* VSR_WEBHOOK_BACKOFF_MAX_SECONDS: longest retry delay */
    /* Business hours (service/hours.h): outside them workers claim nothing. */
    int business_hours_only;               /* VSR_BUSINESS_HOURS_ONLY (1/0) */
    char business_hours[CONFIG_TEXT_SIZE]; /* VSR_BUSINESS_HOURS: "HH:MM-HH:MM" */
    char timezone[CONFIG_TEXT_SIZE];       /* VSR_TIMEZONE: IANA name; "": the machine's */
    int business_open_minute, business_close_minute; /* parsed by config_finish */
    /* Retention (service/retention.h): files of finished jobs are deleted after. */
    double retention_hours;       /* VSR_RETENTION_HOURS: 0 keeps files for ever */
    int cleanup_interval_seconds; /* VSR_CLEANUP_INTERVAL_SECONDS: how often the sweep runs */
    int metrics_admin_only;       /* VSR_METRICS_ADMIN_ONLY: /metrics needs an admin key (1/0) */
    /* VSR_CRON_SECRET: the Bearer token of POST /api/v1/cron/daily; "": the
     * endpoint answers 401 to everyone. */
    char cron_secret[CONFIG_TEXT_SIZE];
    /* Slow or greedy clients (http/connections.h): every connection holds
     * a descriptor and a slot, so they are capped and held to deadlines. */
    int max_connections;        /* VSR_MAX_CONNECTIONS: open HTTP connections in all */
    int max_connections_per_ip; /* VSR_MAX_CONNECTIONS_PER_IP: from one client address */
    int header_timeout_seconds; /* VSR_HEADER_TIMEOUT_SECONDS: to send a request's head */
    int min_upload_rate;        /* VSR_MIN_UPLOAD_RATE: bytes/s a body must average (0: off) */
    int idle_timeout_seconds;   /* VSR_IDLE_TIMEOUT_SECONDS: a silent connection is closed */
    /* VSR_CORS_ORIGINS: origins whose pages may call the API from a browser,
     * "https://a.example,https://b.example" or "*"; "": none (no CORS). */
    char cors_origins[CONFIG_TEXT_SIZE];
    /* Plans (service/plans.h): VSR_PLANS_FILE names the file, read by
     * config_finish into PLANS ("": one plan, free, without limits). */
    char plans_file[CONFIG_TEXT_SIZE];
    struct plans plans;
    /* VSR_STRIPE_WEBHOOK_SECRET: the signing secret (whsec_...) of the
     * Stripe endpoint POST /api/v1/billing/stripe/webhook; "": it answers
     * 400 to everything. */
    char stripe_webhook_secret[CONFIG_TEXT_SIZE];
};

/* Defaults: 127.0.0.1:8080, ./vsr-data, 1 worker, 4 HTTP threads, 2 GiB
 * bodies, 4 hours, 7680x4320, 30 s leases, 3 attempts, 5 s backoff, 256 MB
 * free for work, 60 s drain, 1 hour uploads and result URLs, 500 ms polls, 8 database
 * connections, request logs on; webhooks: public addresses only, 10 s
 * timeout, 10 attempts from 5 s up to 1 hour; business hours off
 * (09:00-17:00 when on); files kept 168 hours (a week), swept every 10
 * minutes; metrics open. HTTP clients: 1000 connections, 64 per address,
 * 10 s to send a request's head, bodies at 1024 bytes/s at least, 120 s
 * idle timeout; no CORS origins. */
void config_init(struct service_config *config);

/* Applies the VSR_* variables of ENVIRON-style array ENV (NULL-terminated;
 * pass `environ`). VSR_E_USAGE and a message for a malformed value. */
int config_apply_env(struct service_config *config, char **env, struct vsr_error *error);

/* Applies the flags in ARGV[0..ARGC) ("--workers 4" or "--workers=4"). */
int config_apply_args(struct service_config *config, int argc, char **argv,
                      struct vsr_error *error);

/* Fills the derived defaults (database and storage inside data_dir,
 * public_url from listen), reads the plans file, and checks ranges. */
int config_finish(struct service_config *config, struct vsr_error *error);

/* Prints the flags, their variables and defaults, for --help: those named
 * in ONLY (a NULL-terminated list of flags without "--"), or all for NULL. */
void config_print_help(FILE *out, const char *const *only);

#endif
