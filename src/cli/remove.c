/* remove.c: `vsr remove INPUT OUTPUT [options]`: parses the options, shows
 * progress (an updating line when stderr is a terminal, JSON lines with
 * --json), and turns SIGINT/SIGTERM into a cancel that removes partial files. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define MAX_REGIONS 16

/* A signal handler can reach nothing else: the one global of the CLI. */
static atomic_int cancel_requested;

static void on_signal(int signal_number) {
    (void)signal_number;
    atomic_store(&cancel_requested, 1);
}

struct progress_view {
    int json;
    int tty;
    int line_shown; /* a progress line is on the terminal, to end with \n */
    int64_t frames;
};

static void format_eta(double seconds, char *out, size_t size) {
    if (seconds < 0) {
        snprintf(out, size, "--:--");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(out, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, size, "%ld:%02ld", s / 60, s % 60);
}

static void show_progress(void *opaque, const struct vsr_progress *p) {
    struct progress_view *view = opaque;
    view->frames = p->frames_done;
    if (view->json) {
        printf("{\"event\":\"progress\",\"frames_done\":%lld,\"frames_total\":%lld,"
               "\"percent\":%.1f,\"fps\":%.2f,\"eta_seconds\":%.1f}\n",
               (long long)p->frames_done, (long long)p->frames_total, p->percent, p->fps,
               p->eta_seconds);
        fflush(stdout);
    }
    if (view->tty) {
        char eta[32];
        format_eta(p->eta_seconds, eta, sizeof eta);
        if (p->percent >= 0)
            fprintf(stderr, "\r%5.1f%%  frame %lld/%lld  %.1f fps  ETA %s   ", p->percent,
                    (long long)p->frames_done, (long long)p->frames_total, p->fps, eta);
        else
            fprintf(stderr, "\rframe %lld  %.1f fps   ", (long long)p->frames_done, p->fps);
        view->line_shown = 1;
    }
}

/* Parses a whole decimal int within [MIN, MAX]. */
static int parse_int(const char *text, int min, int max, int *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) return -1;
    *out = (int)v;
    return 0;
}

static int parse_region(const char *text, struct vsr_region *region) {
    int values[4];
    const char *at = text;
    for (int i = 0; i < 4; i++) {
        char *end;
        errno = 0;
        long v = strtol(at, &end, 10);
        if (errno || end == at || v < 0 || v > INT_MAX) return -1;
        if (*end != (i < 3 ? ',' : '\0')) return -1;
        values[i] = (int)v;
        at = end + 1;
    }
    if (values[2] <= 0 || values[3] <= 0) return -1;
    *region = (struct vsr_region){values[0], values[1], values[2], values[3]};
    return 0;
}

/* The value of option NAME: "--name=value" or "--name value". */
static const char *option_value(int argc, char **argv, int *i, const char *name) {
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0) return NULL;
    if (arg[n] == '=') return arg + n + 1;
    if (arg[n] != '\0') return NULL;
    if (*i + 1 >= argc) return "";
    return argv[++*i];
}

static void print_result(const char *output, int status, const struct vsr_error *error,
                         const struct vsr_remove_report *r, double seconds) {
    if (status == VSR_OK) {
        printf("{\"event\":\"done\",\"status\":\"ok\",\"output\":");
        cli_json_string(stdout, output);
        printf(",\"frames\":%lld,\"seconds\":%.2f,\"frames_with_text\":%lld,"
               "\"pixels_filled\":%lld,\"share_temporal\":%.4f,\"share_spatial\":%.4f,"
               "\"detector_frames\":%lld,\"detector_seconds\":%.2f,\"frames_dropped\":%lld,"
               "\"frames_rescaled\":%lld",
               (long long)r->frames, seconds, (long long)r->frames_with_text,
               (long long)r->pixels_filled, r->share_temporal, r->share_spatial,
               (long long)r->detector_frames, r->detector_seconds, (long long)r->frames_dropped,
               (long long)r->frames_rescaled);
        if (r->frames_rescaled > 0)
            printf(",\"rescaled_from\":\"%dx%d\"", r->rescaled_from_width, r->rescaled_from_height);
        printf("}\n");
    } else {
        printf("{\"event\":\"error\",\"status\":\"%s\",\"exit_code\":%d,\"message\":",
               vsr_status_name(status), cli_exit_code(status));
        cli_json_string(stdout, error->message);
        printf("}\n");
    }
    fflush(stdout);
}

int cli_remove(int argc, char **argv) {
    struct vsr_remove_options options;
    vsr_remove_options_init(&options);
    struct vsr_region regions[MAX_REGIONS];
    const char *paths[2] = {NULL, NULL};
    int path_count = 0, json = 0;

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *value;
        if (strcmp(arg, "--json") == 0) {
            json = 1;
        } else if ((value = option_value(argc, argv, &i, "--region"))) {
            if (options.region_count == MAX_REGIONS)
                return cli_fail(VSR_E_USAGE, "at most %d regions", MAX_REGIONS);
            if (parse_region(value, &regions[options.region_count]) < 0)
                return cli_fail(VSR_E_USAGE, "bad --region '%s': give X,Y,W,H in pixels", value);
            options.region_count++;
        } else if ((value = option_value(argc, argv, &i, "--mask-out"))) {
            if (!*value) return cli_fail(VSR_E_USAGE, "--mask-out needs a file name");
            options.mask_out = value;
        } else if ((value = option_value(argc, argv, &i, "--crf"))) {
            if (cli_parse_crf(value, &options.crf)) return cli_exit_code(VSR_E_USAGE);
        } else if ((value = option_value(argc, argv, &i, "--preset"))) {
            if (!*value) return cli_fail(VSR_E_USAGE, "--preset needs a name");
            options.preset = value;
        } else if ((value = option_value(argc, argv, &i, "--threads"))) {
            if (parse_int(value, 0, 256, &options.threads) < 0)
                return cli_fail(VSR_E_USAGE, "bad --threads '%s': give a number from 0 to 256",
                                value);
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return cli_fail(VSR_E_USAGE, "unknown option '%s'; run 'vsr help'", arg);
        } else if (path_count < 2) {
            paths[path_count++] = arg;
        } else {
            return cli_fail(VSR_E_USAGE, "too many arguments: give INPUT and OUTPUT only");
        }
    }
    if (path_count < 2) return cli_fail(VSR_E_USAGE, "usage: vsr remove INPUT OUTPUT [options]");
    options.regions = options.region_count ? regions : NULL;

    struct progress_view view = {.json = json, .tty = isatty(STDERR_FILENO)};
    options.progress = show_progress;
    options.progress_opaque = &view;
    options.cancel = &cancel_requested;
    struct sigaction action = {.sa_handler = on_signal};
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    struct vsr_remove_report report = {0};
    options.report = &report;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct vsr_error error = {0};
    int status = vsr_remove(paths[0], paths[1], &options, &error);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    if (view.line_shown) fputc('\n', stderr);
    if (json) print_result(paths[1], status, &error, &report, seconds);
    if (status != VSR_OK) return cli_fail(status, "%s", error.message);
    if (!json)
        fprintf(stderr,
                "removed text on %lld of %lld frames: %.1f%% of its pixels from other frames, "
                "%.1f%% filled from around them\n",
                (long long)report.frames_with_text, (long long)report.frames,
                100 * report.share_temporal, 100 * report.share_spatial);
    /* On stderr even with --json: a user must not miss that frames are gone. */
    if (report.frames_dropped > 0)
        fprintf(stderr,
                "vsr: warning: %lld frames of '%s' could not be decoded (a corrupt stretch); "
                "'%s' has %lld frames without them\n",
                (long long)report.frames_dropped, paths[0], paths[1], (long long)report.frames);
    if (report.frames_rescaled > 0)
        fprintf(stderr,
                "vsr: warning: the video changes size midway: %lld frames of %dx%d were scaled "
                "to the first frame's size\n",
                (long long)report.frames_rescaled, report.rescaled_from_width,
                report.rescaled_from_height);
    return 0;
}
