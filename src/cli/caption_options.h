/* caption_options.h: helpers shared by the caption subcommands (burn,
 * replace, caption, transcribe): see caption_options.c. */
#ifndef VSR_CLI_CAPTION_OPTIONS_H
#define VSR_CLI_CAPTION_OPTIONS_H

#include <stdatomic.h>
#include <stdint.h>

#include "cli/cli.h"

struct caption_cli_view {
    int json, tty, line_shown;
    const char *stage; /* "transcribe", "video": shown with progress */
    int64_t frames;
};

/* Installs SIGINT/SIGTERM handlers that raise the returned flag. */
atomic_int *caption_cli_cancel_flag(void);

/* The value of option NAME at argv[*i] ("--name=value" or "--name value"),
 * "" when it is missing, NULL when argv[*i] is another option. */
const char *caption_cli_value(int argc, char **argv, int *i, const char *name);

/* A whole decimal int within [MIN, MAX]; 0 or -1. */
int caption_cli_int(const char *text, int min, int max, int *out);

/* Parses --style, --style-file, --font, --size, --position, --margin at
 * argv[*i]: returns 1 when it was one (*STATUS: 0, or the exit code of a bad
 * value), 0 when not. */
int caption_cli_style_option(int argc, char **argv, int *i, struct vsr_caption_style *style,
                             int *status);

void caption_cli_view_init(struct caption_cli_view *view, int json);
void caption_cli_progress(void *opaque, const struct vsr_progress *progress);
/* Progress of speech recognition (seconds of audio, speed, ETA). */
void caption_cli_speech_progress(void *opaque, const struct vsr_progress *progress);

/* Ends the progress line, prints the JSON result when asked, and returns the
 * exit code (printing "vsr: MESSAGE" on failure). */
int caption_cli_finish(struct caption_cli_view *view, const char *output, int status,
                       const struct vsr_error *error);

#endif
