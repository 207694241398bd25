/* cli.h: the subcommands of the vsr command line, and what they share.
 * Each subcommand takes the arguments after its name and returns the process
 * exit code: 0 on success, else 1 - vsr_status (see `vsr help`). */
#ifndef VSR_CLI_H
#define VSR_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "vsr.h"

int cli_remove(int argc, char **argv);
int cli_probe(int argc, char **argv);
int cli_burn(int argc, char **argv);       /* vsr burn INPUT SUBS OUTPUT */
int cli_replace(int argc, char **argv);    /* vsr replace INPUT SUBS OUTPUT */
int cli_transcribe(int argc, char **argv); /* vsr transcribe INPUT [-o OUT] */
int cli_caption(int argc, char **argv);    /* vsr caption INPUT OUTPUT */

/* The exit code of a status: 0 for VSR_OK, else 1 - status (usage 2 ... 9). */
int cli_exit_code(int status);

/* Prints "vsr: MESSAGE" on stderr and returns the exit code of STATUS. */
int cli_fail(int status, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* --crf TEXT into *CRF, by the engine's rule (vsr_check_crf): 0, or the
 * usage exit code with the engine's message printed. */
int cli_parse_crf(const char *text, int *crf);

/* Writes S to OUT as a JSON string, quotes included. */
void cli_json_string(FILE *out, const char *s);

#endif
