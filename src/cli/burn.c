/* burn.c: `vsr burn INPUT SUBS OUTPUT` and `vsr replace INPUT SUBS OUTPUT`:
 * draw captions onto a video, or swap its burned-in subtitles for new ones. */
#include <stdio.h>
#include <string.h>

#include "cli/caption_options.h"

#define MAX_REGIONS 16

static int parse_region(const char *text, struct vsr_region *r) {
    char tail;
    if (sscanf(text, "%d,%d,%d,%d%c", &r->x, &r->y, &r->w, &r->h, &tail) != 4 || r->x < 0 ||
        r->y < 0 || r->w <= 0 || r->h <= 0)
        return -1;
    return 0;
}

/* REPLACE: also the removal's --region. */
static int run(int argc, char **argv, int replace) {
    struct vsr_burn_options options;
    vsr_burn_options_init(&options);
    struct vsr_region regions[MAX_REGIONS];
    int region_count = 0, json = 0, path_count = 0;
    const char *paths[3] = {NULL, NULL, NULL};
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *value;
        int status;
        if (caption_cli_style_option(argc, argv, &i, &options.style, &status)) {
            if (status) return status;
        } else if (strcmp(arg, "--json") == 0) {
            json = 1;
        } else if (replace && (value = caption_cli_value(argc, argv, &i, "--region"))) {
            if (region_count == MAX_REGIONS)
                return cli_fail(VSR_E_USAGE, "at most %d regions", MAX_REGIONS);
            if (parse_region(value, &regions[region_count++]) < 0)
                return cli_fail(VSR_E_USAGE, "bad --region '%s': give X,Y,W,H in pixels", value);
        } else if ((value = caption_cli_value(argc, argv, &i, "--crf"))) {
            if (cli_parse_crf(value, &options.crf)) return cli_exit_code(VSR_E_USAGE);
        } else if ((value = caption_cli_value(argc, argv, &i, "--preset"))) {
            if (!*value) return cli_fail(VSR_E_USAGE, "--preset needs a name");
            options.preset = value;
        } else if ((value = caption_cli_value(argc, argv, &i, "--threads"))) {
            if (caption_cli_int(value, 0, 256, &options.threads) < 0)
                return cli_fail(VSR_E_USAGE, "bad --threads '%s': give 0 to 256", value);
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return cli_fail(VSR_E_USAGE, "unknown option '%s'; run 'vsr help'", arg);
        } else if (path_count < 3) {
            paths[path_count++] = arg;
        } else {
            return cli_fail(VSR_E_USAGE, "too many arguments: give INPUT SUBS OUTPUT");
        }
    }
    if (path_count < 3)
        return cli_fail(VSR_E_USAGE, "usage: vsr %s INPUT SUBS OUTPUT [options]",
                        replace ? "replace" : "burn");
    struct caption_cli_view view;
    caption_cli_view_init(&view, json);
    struct vsr_error error = {0};
    int status;
    if (replace) {
        struct vsr_remove_options remove;
        vsr_remove_options_init(&remove);
        remove.regions = region_count ? regions : NULL;
        remove.region_count = region_count;
        remove.crf = options.crf;
        remove.preset = options.preset;
        remove.threads = options.threads;
        remove.progress = caption_cli_progress;
        remove.progress_opaque = &view;
        remove.cancel = caption_cli_cancel_flag();
        status = vsr_replace(paths[0], paths[1], paths[2], &remove, &options.style, &error);
    } else {
        options.progress = caption_cli_progress;
        options.progress_opaque = &view;
        options.cancel = caption_cli_cancel_flag();
        status = vsr_burn(paths[0], paths[1], paths[2], &options, &error);
    }
    return caption_cli_finish(&view, paths[2], status, &error);
}

int cli_burn(int argc, char **argv) {
    return run(argc, argv, 0);
}

int cli_replace(int argc, char **argv) {
    return run(argc, argv, 1);
}
