/* commands.h: the job-service subcommands of the vsr command line. Like the
 * others (cli.h), each takes the arguments after its name and returns the
 * process exit code. */
#ifndef VSR_CLI_COMMANDS_H
#define VSR_CLI_COMMANDS_H

int cli_serve(int argc, char **argv);   /* vsr serve: HTTP API + worker threads */
int cli_worker(int argc, char **argv);  /* vsr worker: workers only, same database and files */
int cli_keys(int argc, char **argv);    /* vsr keys create|list|revoke */
int cli_migrate(int argc, char **argv); /* vsr migrate: bring the database schema up to date */
int cli_backup(int argc, char **argv);  /* vsr backup DIR: online backup with a manifest */
int cli_restore(int argc, char **argv); /* vsr restore [--verify] DIR */
int cli_cleanup(int argc, char **argv); /* vsr cleanup --dry-run | --execute */
int cli_cron(int argc, char **argv);    /* vsr cron daily: the daily maintenance run */
int cli_plans(int argc, char **argv);   /* vsr plans list|show|set|remove: the plans file */

#endif
