/* caption_options.c: what the caption commands (burn, replace, caption,
 * transcribe) share: option parsing, the caption style options, progress
 * display and the cancel signal. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/caption_options.h"

static atomic_int cancel_requested;

static void on_signal(int signal_number) {
    (void)signal_number;
    atomic_store(&cancel_requested, 1);
}

atomic_int *caption_cli_cancel_flag(void) {
    struct sigaction action = {.sa_handler = on_signal};
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    return &cancel_requested;
}

const char *caption_cli_value(int argc, char **argv, int *i, const char *name) {
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0) return NULL;
    if (arg[n] == '=') return arg + n + 1;
    if (arg[n] != '\0') return NULL;
    if (*i + 1 >= argc) return "";
    return argv[++*i];
}

int caption_cli_int(const char *text, int min, int max, int *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) return -1;
    *out = (int)v;
    return 0;
}

int caption_cli_style_option(int argc, char **argv, int *i, struct vsr_caption_style *style,
                             int *status) {
    const char *value;
    *status = 0;
    if ((value = caption_cli_value(argc, argv, i, "--style"))) {
        if (!*value) *status = cli_fail(VSR_E_USAGE, "--style needs a name");
        style->style = value;
    } else if ((value = caption_cli_value(argc, argv, i, "--style-file"))) {
        if (!*value) *status = cli_fail(VSR_E_USAGE, "--style-file needs a file");
        style->style_file = value;
    } else if ((value = caption_cli_value(argc, argv, i, "--font"))) {
        if (!*value) *status = cli_fail(VSR_E_USAGE, "--font needs a family name");
        style->font = value;
    } else if ((value = caption_cli_value(argc, argv, i, "--size"))) {
        if (caption_cli_int(value, 1, 1000, &style->size) < 0)
            *status = cli_fail(VSR_E_USAGE, "bad --size '%s': give pixels from 1 to 1000", value);
    } else if ((value = caption_cli_value(argc, argv, i, "--position"))) {
        if (!*value) *status = cli_fail(VSR_E_USAGE, "--position needs bottom, middle or top");
        style->position = value;
    } else if ((value = caption_cli_value(argc, argv, i, "--margin"))) {
        if (caption_cli_int(value, 0, 10000, &style->margin) < 0)
            *status =
                cli_fail(VSR_E_USAGE, "bad --margin '%s': give pixels from 0 to 10000", value);
    } else {
        return 0;
    }
    return 1;
}

/* SECONDS as m:ss or h:mm:ss; "--:--" when unknown (negative). */
static void format_time(double seconds, char *out, size_t size) {
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

void caption_cli_speech_progress(void *opaque, const struct vsr_progress *p) {
    struct caption_cli_view *view = opaque;
    if (view->json) {
        printf("{\"event\":\"progress\",\"stage\":\"transcribe\",\"seconds_done\":%lld,"
               "\"seconds_total\":%lld,\"percent\":%.1f,\"speed\":%.2f,\"eta_seconds\":%.1f}\n",
               (long long)p->frames_done, (long long)p->frames_total, p->percent, p->fps,
               p->eta_seconds);
        fflush(stdout);
    }
    if (view->tty) {
        char done[32], total[32], eta[32];
        format_time((double)p->frames_done, done, sizeof done);
        format_time((double)p->frames_total, total, sizeof total);
        format_time(p->eta_seconds, eta, sizeof eta);
        fprintf(stderr, "\rtranscribe %5.1f%%  %s of %s audio  %.1fx  ETA %s   ",
                p->percent > 0 ? p->percent : 0, done, total, p->fps, eta);
        view->line_shown = 1;
    }
}

void caption_cli_progress(void *opaque, const struct vsr_progress *p) {
    struct caption_cli_view *view = opaque;
    view->frames = p->frames_done;
    if (view->json) {
        printf("{\"event\":\"progress\",\"stage\":\"%s\",\"frames_done\":%lld,"
               "\"frames_total\":%lld,\"percent\":%.1f,\"fps\":%.2f,\"eta_seconds\":%.1f}\n",
               view->stage ? view->stage : "video", (long long)p->frames_done,
               (long long)p->frames_total, p->percent, p->fps, p->eta_seconds);
        fflush(stdout);
    }
    if (view->tty) {
        char eta[32];
        format_time(p->eta_seconds, eta, sizeof eta);
        if (p->percent >= 0)
            fprintf(stderr, "\r%s %5.1f%%  frame %lld/%lld  %.1f fps  ETA %s   ",
                    view->stage ? view->stage : "", p->percent, (long long)p->frames_done,
                    (long long)p->frames_total, p->fps, eta);
        else
            fprintf(stderr, "\r%s frame %lld  %.1f fps   ", view->stage ? view->stage : "",
                    (long long)p->frames_done, p->fps);
        view->line_shown = 1;
    }
}

void caption_cli_view_init(struct caption_cli_view *view, int json) {
    memset(view, 0, sizeof *view);
    view->json = json;
    view->tty = isatty(STDERR_FILENO);
}

int caption_cli_finish(struct caption_cli_view *view, const char *output, int status,
                       const struct vsr_error *error) {
    if (view->line_shown) fputc('\n', stderr);
    if (view->json) {
        if (status == VSR_OK) {
            printf("{\"event\":\"done\",\"status\":\"ok\",\"output\":");
            cli_json_string(stdout, output);
            printf(",\"frames\":%lld}\n", (long long)view->frames);
        } else {
            printf("{\"event\":\"error\",\"status\":\"%s\",\"exit_code\":%d,\"message\":",
                   vsr_status_name(status), cli_exit_code(status));
            cli_json_string(stdout, error->message);
            printf("}\n");
        }
        fflush(stdout);
    }
    if (status != VSR_OK) return cli_fail(status, "%s", error->message);
    return 0;
}
