/* service_run.c: configuration, opening and signals for `vsr serve` and
 * `vsr worker` (see service_run.h). */
#include "cli/service_run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "service/hours.h"

extern char **environ;

const char *const service_store_flags[] = {"data-dir", "database", "storage", NULL};

int service_configure(struct service_config *config, int argc, char **argv, const char *usage,
                      const char *const *help_flags, int *exit_code) {
    struct vsr_error error = {0};
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            config_print_help(stdout, help_flags);
            *exit_code = 0;
            return -1;
        }
    config_init(config);
    if (config_apply_env(config, environ, &error) != VSR_OK ||
        config_apply_args(config, argc, argv, &error) != VSR_OK ||
        config_finish(config, &error) != VSR_OK ||
        hours_apply_timezone(config->timezone, &error) != VSR_OK) {
        *exit_code = cli_fail(error.code, "%s", error.message);
        return -1;
    }
    return 0;
}

int service_open(const struct service_config *config, struct store **store, struct blob **blob,
                 struct vsr_error *error) {
    *store = NULL;
    *blob = NULL;
    if (mkdir(config->data_dir, 0755) != 0 && errno != EEXIST) {
        error->code = VSR_E_OUTPUT;
        snprintf(error->message, sizeof error->message, "cannot create data dir %.300s: %s",
                 config->data_dir, strerror(errno));
        return VSR_E_OUTPUT;
    }
    struct store_options options;
    store_options_init(&options);
    options.backoff_base_ms = (int64_t)config->backoff_seconds * 1000;
    options.pool_size = config->db_pool;
    int rc = store_open(store, config->database_url, &options, error);
    if (rc == VSR_OK) rc = blob_open(blob, config->storage_url, error);
    if (rc != VSR_OK) {
        store_close(*store);
        *store = NULL;
    }
    return rc;
}

void service_block_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int service_wait_for_signal(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int signal_number = 0;
    while (sigwait(&set, &signal_number) != 0) {
    }
    return signal_number;
}
