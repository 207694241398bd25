/* maintenance.c: `vsr backup OUT.db` and `vsr cleanup`: operator commands on
 * the service's database and files, safe to run while `vsr serve` and
 * `vsr worker` keep running. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/service_run.h"
#include "service/orphans.h"
#include "service/retention.h"
#include "util/ids.h"

static const char backup_usage[] =
    "usage: vsr backup OUT.db [options]\n"
    "Copies the service's SQLite database to OUT.db while the service runs (SQLite's online\n"
    "backup API); OUT.db appears only when complete. Files in the storage folder are not\n"
    "copied: back that folder up with your usual tools. Options name the database as for\n"
    "`vsr serve` (--data-dir, --database):\n";

static const char cleanup_usage[] =
    "usage: vsr cleanup [options]\n"
    "Runs the retention sweep once: deletes stored files of jobs that finished more than\n"
    "--retention-hours ago, and uploads no job used; the job rows stay. Also deletes the\n"
    "temporary files of crashed processes (work/.job_*, storage *.part-*) that no live\n"
    "job owns, even with --retention-hours 0. Options as for `vsr serve`:\n";

static const char *const cleanup_flags[] = {"data-dir",        "database", "storage",
                                            "retention-hours", "timezone", NULL};

/* Splits off the first argument that is not an option (or an option's
 * value); the others go to the service configuration. */
static const char *take_positional(int argc, char **argv, char **rest, int *rest_count) {
    const char *positional = NULL;
    *rest_count = 0;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-') {
            rest[(*rest_count)++] = argv[i];
            if (!strchr(argv[i], '=') && i + 1 < argc && strcmp(argv[i], "--help") != 0 &&
                strcmp(argv[i], "-h") != 0)
                rest[(*rest_count)++] = argv[++i];
        } else if (!positional) {
            positional = argv[i];
        } else {
            rest[(*rest_count)++] = argv[i]; /* config_apply_args names it */
        }
    }
    return positional;
}

int cli_backup(int argc, char **argv) {
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) return cli_fail(VSR_E_NOMEM, "out of memory");
    int rest_count = 0, exit_code = 0;
    const char *out = take_positional(argc, argv, rest, &rest_count);
    struct service_config config;
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    if (service_configure(&config, rest_count, rest, backup_usage, service_store_flags,
                          &exit_code) != 0)
        goto done;
    if (!out) {
        exit_code = cli_fail(VSR_E_USAGE, "backup needs the file to write, e.g. vsr backup"
                                          " vsr-backup.db; see --help");
        goto done;
    }
    int rc = service_open(&config, &store, &blob, &error);
    if (rc == VSR_OK) rc = store_backup(store, out, &error);
    if (rc != VSR_OK) {
        exit_code = cli_fail(rc, "%s", error.message);
        goto done;
    }
    printf("backed up %s to %s\n", config.database_url, out);
done:
    blob_close(blob);
    store_close(store);
    free(rest);
    return exit_code;
}

int cli_cleanup(int argc, char **argv) {
    struct service_config config;
    int exit_code = 0;
    if (service_configure(&config, argc, argv, cleanup_usage, cleanup_flags, &exit_code) != 0)
        return exit_code;
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    int deleted = 0, orphans = 0;
    int rc = service_open(&config, &store, &blob, &error);
    /* Crash leftovers go even when retention is off (it keeps results, not
     * half-written files). */
    if (rc == VSR_OK) rc = orphans_sweep(&config, store, blob, ids_now_ms(), &orphans, &error);
    if (rc == VSR_OK && config.retention_hours > 0)
        rc = retention_sweep(store, blob, (int64_t)(config.retention_hours * 3600.0 * 1000.0),
                             ids_now_ms(), &deleted, &error);
    if (rc != VSR_OK) {
        exit_code = cli_fail(rc, "%s", error.message);
    } else {
        if (config.retention_hours > 0) printf("deleted %d files\n", deleted);
        printf("deleted %d temporary files left by crashed processes\n", orphans);
    }
    blob_close(blob);
    store_close(store);
    return exit_code;
}
