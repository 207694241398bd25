/* serve.c: `vsr serve`: the HTTP API with worker threads in one process.
 * SIGTERM or SIGINT drains: workers stop claiming and finish their jobs (up
 * to --drain-seconds; the rest go back to the queue) while the API keeps
 * answering, then the server stops and the process exits 0. */
#include <signal.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/service_run.h"
#include "http/server.h"
#include "service/metrics.h"
#include "service/retention.h"
#include "service/webhooks.h"
#include "service/worker.h"

static const char usage[] = "usage: vsr serve [options]\n"
                            "Serves the job API and runs jobs. Every option can also be set"
                            " by the environment variable beside it.\n";

int cli_serve(int argc, char **argv) {
    struct service_config config;
    int exit_code = 0;
    if (service_configure(&config, argc, argv, usage, &exit_code) != 0) return exit_code;
    service_block_signals();
    struct vsr_error error = {0};
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct metrics *metrics = NULL;
    struct http_server *server = NULL;
    struct worker_pool *workers = NULL;
    struct webhook_sender *sender = NULL;
    struct retention_thread *retention = NULL;
    int rc = service_open(&config, &store, &blob, &error);
    if (rc == VSR_OK && !(metrics = metrics_new())) {
        error.code = rc = VSR_E_NOMEM;
        snprintf(error.message, sizeof error.message, "out of memory");
    }
    if (rc == VSR_OK) rc = http_server_start(&server, &config, store, blob, metrics, &error);
    if (rc == VSR_OK && config.workers > 0)
        rc = worker_pool_start(&workers, &config, store, blob, metrics, &error);
    if (rc == VSR_OK) rc = webhook_sender_start(&sender, &config, store, metrics, &error);
    if (rc == VSR_OK) rc = retention_start(&retention, &config, store, blob, &error);
    if (rc != VSR_OK) {
        exit_code = cli_fail(rc, "%s", error.message);
        goto done;
    }
    fprintf(stderr, "{\"event\":\"serve.started\",\"port\":%d,\"workers\":%d,\"database\":",
            http_server_port(server), config.workers);
    cli_json_string(stderr, config.database_url);
    fputs("}\n", stderr);
    int signal_number = service_wait_for_signal();
    fprintf(stderr, "{\"event\":\"serve.draining\",\"signal\":%d,\"busy\":%d}\n", signal_number,
            workers ? worker_pool_busy(workers) : 0);
    int released = workers ? worker_pool_drain(workers, (int64_t)config.drain_seconds * 1000) : 0;
    fprintf(stderr, "{\"event\":\"serve.stopped\",\"released\":%d}\n", released);
done:
    worker_pool_free(workers);
    webhook_sender_stop(sender);
    retention_stop(retention);
    http_server_stop(server);
    metrics_free(metrics);
    blob_close(blob);
    store_close(store);
    return exit_code;
}
