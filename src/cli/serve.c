/* serve.c: `vsr serve`: the HTTP API with worker threads in one process.
 * SIGTERM or SIGINT drains: workers stop claiming and finish their jobs (up
 * to --drain-seconds; the rest go back to the queue) while the API keeps
 * answering, then the server stops and the process exits 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The URL a client on this machine reaches the API at: the --listen host
 * (a wildcard one as localhost) and the port bound. */
static void local_url(const struct service_config *config, int port, char *out, size_t size) {
    const char *colon = strrchr(config->listen, ':');
    int n = colon ? (int)(colon - config->listen) : (int)strlen(config->listen);
    char host[256];
    snprintf(host, sizeof host, "%.*s", n, config->listen);
    if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0 ||
        strcmp(host, "::") == 0)
        snprintf(host, sizeof host, "localhost");
    snprintf(out, size, "http://%s:%d", host, port);
}

/* For the person who started it: where the API is and, while the database
 * holds no active key, how to make the first one (with the same database
 * options; a --database URL is not repeated, it may hold a password). */
static void print_welcome(const struct service_config *config, const char *url,
                          struct store *store) {
    fprintf(stderr, "vsr: serving the API on %s/api/v1 (documentation: %s/docs)\n", url, url);
    struct api_key *keys = NULL;
    int count = 0, active = 0;
    struct vsr_error error = {0};
    if (store_key_list(store, &keys, &count, &error) != VSR_OK) return;
    for (int i = 0; i < count; i++)
        active += !keys[i].revoked_at;
    free(keys);
    if (active) return;
    char own_database[sizeof config->data_dir + 16], where[sizeof config->data_dir + 64] = "";
    snprintf(own_database, sizeof own_database, "%s/vsr.db", config->data_dir);
    if (strcmp(config->database_url, own_database) != 0)
        snprintf(where, sizeof where, " --database URL (serve's)");
    else if (strcmp(config->data_dir, "vsr-data") != 0)
        snprintf(where, sizeof where, " --data-dir %s", config->data_dir);
    fprintf(stderr,
            "vsr: no API key yet: create one with `vsr keys create --name NAME%s` and send "
            "its token as 'Authorization: Bearer vsr_...'\n",
            where);
}

int cli_serve(int argc, char **argv) {
    struct service_config config;
    int exit_code = 0;
    if (service_configure(&config, argc, argv, usage, NULL, &exit_code) != 0) return exit_code;
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
    char url[300];
    local_url(&config, http_server_port(server), url, sizeof url);
    fprintf(stderr, "{\"event\":\"serve.started\",\"port\":%d,\"url\":", http_server_port(server));
    cli_json_string(stderr, url);
    fprintf(stderr, ",\"workers\":%d,\"database\":", config.workers);
    cli_json_string(stderr, config.database_url);
    fputs("}\n", stderr);
    print_welcome(&config, url, store);
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
