/* burn.c: vsr_burn and vsr_replace, captions drawn onto video.
 *
 * vsr_burn is one reader, the caption overlay, one writer: the cost over a
 * plain re-encode is libass (which re-renders only when the shown events
 * change, from its caches) and blending the captions' rectangles.
 * vsr_replace runs vsr_remove with the overlay as its frame hook, so the
 * cleaned frames get their new captions before the one encode. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/mathematics.h>

#include "captions/captions.h"
#include "media/media.h"
#include "util/error.h"
#include "vsr.h"

#define PROGRESS_INTERVAL 0.25 /* seconds between progress reports */

struct captions {
    ASS_Library *library;
    ASS_Track *track;
    struct overlay *overlay;
};

static void captions_close(struct captions *c) {
    overlay_free(c->overlay);
    if (c->track) ass_free_track(c->track);
    if (c->library) ass_library_done(c->library);
}

/* Reads SUBTITLES and readies the overlay for WIDTH x HEIGHT frames. */
static int captions_open(struct captions *c, const char *subtitles,
                         const struct vsr_caption_style *style, int width, int height,
                         struct vsr_error *error) {
    c->library = captions_library_new();
    if (!c->library) return error_set(error, VSR_E_NOMEM, "out of memory");
    int is_ass = 0;
    int ret = subtitles_load(c->library, subtitles, &c->track, &is_ass, error);
    if (ret < 0) return ret;
    char overrides[4096];
    ret = caption_style_overrides(style, is_ass, height, c->track->PlayResY, overrides,
                                  sizeof overrides, error);
    if (ret < 0) return ret;
    return overlay_new(&c->overlay, c->library, c->track, width, height, overrides, error);
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void vsr_burn_options_init(struct vsr_burn_options *options) {
    memset(options, 0, sizeof *options);
    vsr_caption_style_init(&options->style);
    options->crf = 18;
    options->preset = "veryfast";
}

static void report(const struct vsr_burn_options *o, const struct media_info *info, int64_t done,
                   double started, double *last, int final) {
    if (!o->progress) return;
    double t = now_seconds();
    if (!final && done > 1 && t - *last < PROGRESS_INTERVAL) return;
    *last = t;
    struct vsr_progress p = {.frames_done = done, .percent = -1, .eta_seconds = -1};
    p.fps = t > started ? (double)done / (t - started) : 0;
    int64_t total = final ? done : info->frame_count < done ? done : info->frame_count;
    p.frames_total = total;
    if (total > 0) {
        p.percent = 100.0 * (double)done / (double)total;
        if (p.fps > 0) p.eta_seconds = (double)(total - done) / p.fps;
    }
    o->progress(o->progress_opaque, &p);
}

static int check_common(const char *input, const char *subtitles, const char *output, int crf,
                        struct vsr_error *error) {
    if (error) {
        error->code = VSR_OK;
        error->message[0] = '\0';
    }
    if (!input || !subtitles || !output || !*input || !*subtitles || !*output)
        return error_set(error, VSR_E_USAGE, "give an input, a subtitle file and an output");
    if (vsr_check_crf(crf, error) != VSR_OK) return VSR_E_USAGE;
    if (media_same_file(input, output) || media_same_file(subtitles, output))
        return error_set(error, VSR_E_USAGE, "the output must be a new file, not an input");
    return 0;
}

int vsr_burn(const char *input, const char *subtitles, const char *output,
             const struct vsr_burn_options *options, struct vsr_error *error) {
    struct vsr_burn_options defaults;
    if (!options) {
        vsr_burn_options_init(&defaults);
        options = &defaults;
    }
    int ret = check_common(input, subtitles, output, options->crf, error);
    if (ret < 0) return ret;
    struct media_reader *reader = NULL;
    struct media_writer *writer = NULL;
    struct captions captions = {0};
    AVFrame *frame = NULL;
    double started = now_seconds(), last = started;
    int64_t frames = 0;

    ret = media_reader_open(&reader, input, options->threads, 0, error);
    if (ret < 0) goto done;
    const struct media_info *info = media_reader_info(reader);
    ret = vsr_check_frame_size(info->width, info->height, error);
    if (ret < 0) goto done;
    ret = captions_open(&captions, subtitles, &options->style, info->width, info->height, error);
    if (ret < 0) goto done;
    struct media_writer_options video = {
        .codec = "libx264",
        .crf = options->crf,
        .preset = options->preset,
        .threads = options->threads,
        .copy_audio_from = input,
        .like = info,
    };
    ret = media_writer_open(&writer, output, &video, error);
    if (ret < 0) goto done;
    for (;;) {
        if (options->cancel && atomic_load(options->cancel)) {
            ret = error_set(error, VSR_E_CANCELED, "canceled");
            goto done;
        }
        ret = media_reader_next(reader, &frame, error);
        if (ret <= 0) break;
        int64_t ms = av_rescale_q(frame->pts, info->time_base, (AVRational){1, 1000});
        ret = overlay_draw(captions.overlay, frame, ms, error);
        if (ret == 0) ret = media_writer_write(writer, frame, error);
        av_frame_free(&frame);
        if (ret < 0) goto done;
        frames++;
        report(options, info, frames, started, &last, 0);
    }
    if (ret < 0) goto done;
    ret = media_writer_finish(writer, error);
    if (ret == 0) report(options, info, frames, started, &last, 1);
done:
    av_frame_free(&frame);
    media_writer_free(writer);
    captions_close(&captions);
    media_reader_free(reader);
    return ret;
}

/* vsr_replace: the overlay is opened on the first frame, when its size is known. */
struct replace_hook {
    const char *subtitles;
    const struct vsr_caption_style *style;
    struct captions captions;
};

static int draw_on_cleaned_frame(void *opaque, struct AVFrame *frame, int64_t time_ms,
                                 struct vsr_error *error) {
    struct replace_hook *hook = opaque;
    if (!hook->captions.overlay) {
        int ret = captions_open(&hook->captions, hook->subtitles, hook->style, frame->width,
                                frame->height, error);
        if (ret < 0) return ret;
    }
    return overlay_draw(hook->captions.overlay, frame, time_ms, error);
}

int vsr_replace(const char *input, const char *subtitles, const char *output,
                const struct vsr_remove_options *remove, const struct vsr_caption_style *style,
                struct vsr_error *error) {
    struct vsr_remove_options options;
    struct vsr_caption_style default_style;
    if (remove)
        options = *remove;
    else
        vsr_remove_options_init(&options);
    if (!style) {
        vsr_caption_style_init(&default_style);
        style = &default_style;
    }
    int ret = check_common(input, subtitles, output, options.crf, error);
    if (ret < 0) return ret;
    struct replace_hook hook = {.subtitles = subtitles, .style = style};
    /* A bad subtitle file or style must fail before the long removal: load
     * it once at a nominal size to check. */
    struct captions check = {0};
    ret = captions_open(&check, subtitles, style, 1280, 720, error);
    captions_close(&check);
    if (ret < 0) return ret;
    options.frame_hook = draw_on_cleaned_frame;
    options.frame_hook_opaque = &hook;
    ret = vsr_remove(input, output, &options, error);
    captions_close(&hook.captions);
    return ret;
}
