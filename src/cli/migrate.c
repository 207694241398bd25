/* migrate.c: `vsr migrate`: applies the job service's schema migrations to
 * the database named as for `vsr serve`, then exits. Serve and worker apply
 * them at start too; this lets a deployment migrate once, before rolling
 * out new processes. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/service_run.h"

static const char usage[] = "usage: vsr migrate [options]\n"
                            "Brings the database schema up to date. Options name the database as"
                            " for `vsr serve` (--data-dir, --database):\n";

int cli_migrate(int argc, char **argv) {
    struct service_config config;
    int exit_code = 0;
    if (service_configure(&config, argc, argv, usage, service_store_flags, &exit_code) != 0)
        return exit_code;
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    int rc = service_open(&config, &store, &blob, &error); /* opening migrates */
    blob_close(blob);
    store_close(store);
    if (rc != VSR_OK) return cli_fail(rc, "%s", error.message);
    printf("database schema up to date\n");
    return 0;
}
