/* worker.c: `vsr worker`: job workers as a process of their own, against the
 * same database and files as `vsr serve`. SIGTERM drains like serve.
 *
 * A worker also runs a webhook sender and the retention sweep, so that a
 * deployment of `vsr serve --workers 0` plus worker processes delivers
 * webhooks and cleans storage like a single `vsr serve` does. Several senders
 * on one outbox are safe: each delivery is claimed under a lease in the
 * store, so each attempt is made by exactly one process. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/service_run.h"
#include "service/retention.h"
#include "service/webhooks.h"
#include "service/worker.h"

static const char usage[] = "usage: vsr worker [options]\n"
                            "Runs jobs from the queue shared with `vsr serve`. Every option can"
                            " also be set by the environment variable beside it.\n";

/* serve's options less those of the HTTP API. */
static const char *const worker_flags[] = {"data-dir",
                                           "database",
                                           "storage",
                                           "workers",
                                           "threads-per-job",
                                           "max-duration",
                                           "max-width",
                                           "max-height",
                                           "lease-seconds",
                                           "max-attempts",
                                           "backoff-seconds",
                                           "min-free-mb",
                                           "drain-seconds",
                                           "upload-expiry",
                                           "poll-ms",
                                           "db-pool",
                                           "webhook-allow-private",
                                           "webhook-timeout",
                                           "webhook-max-attempts",
                                           "webhook-backoff-ms",
                                           "webhook-backoff-max",
                                           "business-hours-only",
                                           "business-hours",
                                           "timezone",
                                           "retention-hours",
                                           "cleanup-interval",
                                           NULL};

int cli_worker(int argc, char **argv) {
    struct service_config config;
    int exit_code = 0;
    if (service_configure(&config, argc, argv, usage, worker_flags, &exit_code) != 0)
        return exit_code;
    if (config.workers < 1) return cli_fail(VSR_E_USAGE, "vsr worker needs --workers 1 or more");
    service_block_signals();
    struct vsr_error error = {0};
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct worker_pool *workers = NULL;
    struct webhook_sender *sender = NULL;
    struct retention_thread *retention = NULL;
    int rc = service_open(&config, &store, &blob, &error);
    if (rc == VSR_OK) rc = worker_pool_start(&workers, &config, store, blob, NULL, &error);
    if (rc == VSR_OK) rc = webhook_sender_start(&sender, &config, store, NULL, &error);
    if (rc == VSR_OK) rc = retention_start(&retention, &config, store, blob, &error);
    if (rc != VSR_OK) {
        exit_code = cli_fail(rc, "%s", error.message);
        goto done;
    }
    fprintf(stderr, "{\"event\":\"worker.started\",\"workers\":%d,\"database\":", config.workers);
    cli_json_string(stderr, config.database_url);
    fputs("}\n", stderr);
    int signal_number = service_wait_for_signal();
    fprintf(stderr, "{\"event\":\"worker.draining\",\"signal\":%d,\"busy\":%d}\n", signal_number,
            worker_pool_busy(workers));
    int released = worker_pool_drain(workers, (int64_t)config.drain_seconds * 1000);
    fprintf(stderr, "{\"event\":\"worker.stopped\",\"released\":%d}\n", released);
done:
    worker_pool_free(workers);
    webhook_sender_stop(sender);
    retention_stop(retention);
    blob_close(blob);
    store_close(store);
    return exit_code;
}
