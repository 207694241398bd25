/* service_run.h: what `vsr serve` and `vsr worker` share: reading the
 * configuration, opening the store and the file store, and waiting for
 * SIGTERM or SIGINT. */
#ifndef VSR_CLI_SERVICE_RUN_H
#define VSR_CLI_SERVICE_RUN_H

#include "blob/blob.h"
#include "jobs/store.h"
#include "service/config.h"

/* Fills CONFIG from defaults, environment and ARGV, and sets the process's
 * time zone (VSR_TIMEZONE; before any thread starts). Returns 0, or -1 after
 * printing --help (USAGE, then the options named in HELP_FLAGS, NULL for
 * all; *exit_code 0) or an error (*exit_code set). */
int service_configure(struct service_config *config, int argc, char **argv, const char *usage,
                      const char *const *help_flags, int *exit_code);

/* The options of the commands that only open the database and files (keys,
 * migrate, backup), for their --help. */
extern const char *const service_store_flags[];

/* Opens the store and the file store named by CONFIG (creating data_dir). */
int service_open(const struct service_config *config, struct store **store, struct blob **blob,
                 struct vsr_error *error);

/* Blocks SIGTERM and SIGINT in this thread and every thread it starts from
 * now on, so that service_wait_for_signal alone receives them. */
void service_block_signals(void);

/* Waits for SIGTERM or SIGINT; returns the signal. */
int service_wait_for_signal(void);

#endif
