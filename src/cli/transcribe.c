/* transcribe.c: `vsr transcribe INPUT [-o OUT]` and `vsr caption INPUT
 * OUTPUT`: speech to a subtitle file, or to captions drawn on the video.
 * The OpenAI-compatible engine is configured from the environment:
 * VSR_TRANSCRIBE_URL, VSR_TRANSCRIBE_PATH, VSR_TRANSCRIBE_KEY (or
 * OPENAI_API_KEY) and VSR_TRANSCRIBE_MODEL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/caption_options.h"

static const char *env(const char *name) {
    const char *value = getenv(name);
    return value && *value ? value : NULL;
}

static void configure(struct vsr_transcribe_options *o) {
    o->url = env("VSR_TRANSCRIBE_URL");
    o->path = env("VSR_TRANSCRIBE_PATH");
    o->key = env("VSR_TRANSCRIBE_KEY") ? env("VSR_TRANSCRIBE_KEY") : env("OPENAI_API_KEY");
    o->model = env("VSR_TRANSCRIBE_MODEL");
}

/* --language and --engine; 1 when ARGV[*I] was one of them. */
static int engine_option(int argc, char **argv, int *i, struct vsr_transcribe_options *o,
                         int *status) {
    const char *value;
    *status = 0;
    if ((value = caption_cli_value(argc, argv, i, "--language"))) {
        if (!*value) *status = cli_fail(VSR_E_USAGE, "--language needs a code such as en");
        o->language = value;
    } else if ((value = caption_cli_value(argc, argv, i, "--engine"))) {
        if (!*value) *status = cli_fail(VSR_E_USAGE, "--engine needs pocketsphinx or openai");
        o->engine = value;
    } else {
        return 0;
    }
    return 1;
}

/* The default output: INPUT with its extension replaced by .srt. */
static void default_output(const char *input, char *out, size_t size) {
    const char *slash = strrchr(input, '/'), *dot = strrchr(input, '.');
    int stem = dot && (!slash || dot > slash) ? (int)(dot - input) : (int)strlen(input);
    snprintf(out, size, "%.*s.srt", stem, input);
}

int cli_transcribe(int argc, char **argv) {
    struct vsr_transcribe_options options;
    vsr_transcribe_options_init(&options);
    configure(&options);
    const char *input = NULL, *output = NULL;
    int json = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *value;
        int status;
        if (engine_option(argc, argv, &i, &options, &status)) {
            if (status) return status;
        } else if ((value = caption_cli_value(argc, argv, &i, "-o")) ||
                   (value = caption_cli_value(argc, argv, &i, "--output"))) {
            if (!*value) return cli_fail(VSR_E_USAGE, "-o needs a file (.srt, .vtt or .json)");
            output = value;
        } else if (strcmp(arg, "--json") == 0) {
            json = 1;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return cli_fail(VSR_E_USAGE, "unknown option '%s'; run 'vsr help'", arg);
        } else if (!input) {
            input = arg;
        } else {
            return cli_fail(VSR_E_USAGE, "too many arguments: give INPUT and -o OUTPUT");
        }
    }
    if (!input)
        return cli_fail(VSR_E_USAGE,
                        "usage: vsr transcribe INPUT [-o OUT.srt|.vtt|.json] [--language en] "
                        "[--engine pocketsphinx|openai]");
    char fallback[4096];
    if (!output) {
        default_output(input, fallback, sizeof fallback);
        output = fallback;
    }
    struct caption_cli_view view;
    caption_cli_view_init(&view, json);
    options.cancel = caption_cli_cancel_flag();
    options.progress = caption_cli_speech_progress;
    options.progress_opaque = &view;
    struct vsr_error error = {0};
    int status = vsr_transcribe(input, output, &options, &error);
    return caption_cli_finish(&view, output, status, &error);
}

int cli_caption(int argc, char **argv) {
    struct vsr_transcribe_options transcribe;
    vsr_transcribe_options_init(&transcribe);
    configure(&transcribe);
    struct vsr_burn_options burn;
    vsr_burn_options_init(&burn);
    const char *paths[2] = {NULL, NULL};
    int path_count = 0, json = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *value;
        int status;
        if (engine_option(argc, argv, &i, &transcribe, &status) ||
            caption_cli_style_option(argc, argv, &i, &burn.style, &status)) {
            if (status) return status;
        } else if ((value = caption_cli_value(argc, argv, &i, "--crf"))) {
            if (cli_parse_crf(value, &burn.crf)) return cli_exit_code(VSR_E_USAGE);
        } else if ((value = caption_cli_value(argc, argv, &i, "--preset"))) {
            if (!*value) return cli_fail(VSR_E_USAGE, "--preset needs a name");
            burn.preset = value;
        } else if (strcmp(arg, "--json") == 0) {
            json = 1;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return cli_fail(VSR_E_USAGE, "unknown option '%s'; run 'vsr help'", arg);
        } else if (path_count < 2) {
            paths[path_count++] = arg;
        } else {
            return cli_fail(VSR_E_USAGE, "too many arguments: give INPUT and OUTPUT");
        }
    }
    if (path_count < 2)
        return cli_fail(VSR_E_USAGE, "usage: vsr caption INPUT OUTPUT [--style NAME] [options]");
    struct caption_cli_view view;
    caption_cli_view_init(&view, json);
    transcribe.cancel = burn.cancel = caption_cli_cancel_flag();
    burn.progress = caption_cli_progress;
    burn.progress_opaque = &view;
    view.stage = "video";
    transcribe.progress = caption_cli_speech_progress;
    transcribe.progress_opaque = &view;
    struct vsr_error error = {0};
    int status = vsr_caption(paths[0], paths[1], &transcribe, &burn, &error);
    return caption_cli_finish(&view, paths[1], status, &error);
}
