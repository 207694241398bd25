/* remove.c: vsr_remove, the pipeline from input file to cleaned output.
 *
 * Two readers decode the same input. Reader A feeds the detector, which must
 * see a subtitle disappear before it can mask it, so A runs ahead, on a
 * thread of its own (analysis.h, luma_feed.h); reader B decodes the same
 * frames again for the filler as their masks become ready, a few ahead on a
 * thread of its own (prefetch.h).
 * Decoding twice costs CPU but keeps memory bounded by the detector's window
 * rather than by the length of the video. A decodes only the frames others
 * refer to (half of them, with B-frames); whether a line that came or went
 * between two of those shows on a frame between is told on B's frame
 * (detector_edge_shows). Each frame A decoded must have the time
 * B gives it; if not (or if A cannot place a frame in time), the whole file
 * is done again with A decoding every frame. Filled frames go to the writer,
 * and the masks to a second writer when asked for. Outputs appear only complete:
 * on any failure or cancel, nothing is left behind. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/frame.h>
#include <libavutil/mathematics.h>
#include <libavutil/pixfmt.h>

#include "engine/analysis.h"
#include "engine/detect.h"
#include "engine/fill.h"
#include "media/media.h"
#include "media/prefetch.h"
#include "text/text_mask.h"
#include "text/text_scan.h"
#include "util/error.h"
#include "vsr.h"

/* Frames the filler may hold: about +-0.55 s of 1080p at 30 fps, more below; with two decoders and
 * x264 this keeps 1080p under 600 MB. */
#define FILL_MEMORY_BUDGET (112u << 20)
#define PROGRESS_INTERVAL  0.25 /* seconds between progress reports */
/* Frames reader B decodes ahead of the fill, on a thread of its own: at the
 * start of the fill, decoding and the first touch of the pictures' memory
 * otherwise kept the encoder waiting (one core busy for a second at 1080p). */
#define PREFETCH_FRAMES 4

struct pipeline {
    const struct vsr_remove_options *options;
    int may_skip;                    /* reader A may skip frames */
    int skipping;                    /* it does */
    struct media_reader *source;     /* reader B: frames to fill */
    struct media_prefetch *prefetch; /* decodes B ahead of the fill */
    struct detector *detector;
    struct analysis *analysis_thread; /* runs reader A and the detector */
    struct filler *filler;
    struct text_scan *scan;  /* the text detector network, a few frames a second */
    struct text_mask *texts; /* its lines to pixels, on reader B's frames */
    struct text_box lines[2 * TEXT_SCAN_LINES];
    int64_t frames_with_text;
    struct media_writer *writer;
    struct media_writer *mask_writer;
    AVFrame *mask_frame;         /* GRAY8, for mask_writer */
    uint8_t *mask;               /* width*height, of the frame going into the filler */
    struct mask_rows mask_rows;  /* rows of mask that may be non-zero */
    struct detector_edges edges; /* lines the frame itself must decide (analysis_next) */
    uint8_t *filled_mask;
    struct media_info info;  /* reader A's (a copy: the feed owns reader A) */
    int64_t frames_in;       /* frames given to the filler */
    int64_t frames_done;     /* frames written */
    int64_t reported_before; /* frames a failed first try reported: not reported again */
    double started, last_report;
};

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int canceled(const struct pipeline *p) {
    return p->options->cancel && atomic_load(p->options->cancel);
}

static void report(struct pipeline *p, int final) {
    if (!p->options->progress) return;
    /* A second try (see vsr_remove) does not take progress back. */
    if (!final && p->frames_done <= p->reported_before) return;
    double t = now_seconds();
    /* The first frame is reported at once: a caller sees the work start. */
    if (!final && p->frames_done > 1 && t - p->last_report < PROGRESS_INTERVAL) return;
    p->last_report = t;
    struct vsr_progress progress = {
        .frames_done = p->frames_done, .percent = -1, .eta_seconds = -1};
    double elapsed = t - p->started;
    progress.fps = elapsed > 0 ? (double)p->frames_done / elapsed : 0;
    int64_t total = p->info.frame_count;
    /* The container's count is an estimate: never let it fall behind. */
    if (total > 0 && total < p->frames_done) total = p->frames_done;
    if (final) total = p->frames_done;
    progress.frames_total = total;
    if (total > 0) {
        progress.percent = 100.0 * (double)p->frames_done / (double)total;
        if (progress.fps > 0)
            progress.eta_seconds = (double)(total - p->frames_done) / progress.fps;
    }
    p->options->progress(p->options->progress_opaque, &progress);
}

static int write_mask(struct pipeline *p, int64_t pts, struct vsr_error *error) {
    AVFrame *frame = p->mask_frame;
    /* The encoder may still hold a reference to the last buffer. */
    if (av_frame_make_writable(frame) < 0) return error_set(error, VSR_E_NOMEM, "out of memory");
    for (int y = 0; y < frame->height; y++)
        memcpy(frame->data[0] + (size_t)y * (size_t)frame->linesize[0],
               p->filled_mask + (size_t)y * (size_t)frame->width, (size_t)frame->width);
    frame->pts = pts;
    return media_writer_write(p->mask_writer, frame, error);
}

/* Writes every frame the filler has ready. */
static int drain_filler(struct pipeline *p, struct vsr_error *error) {
    for (;;) {
        AVFrame *frame = NULL;
        int ret = filler_pop(p->filler, &frame, p->mask_writer ? p->filled_mask : NULL);
        if (ret == 0) return 0;
        if (ret < 0) return error_set(error, ret, "filling the subtitle area failed");
        if (p->options->frame_hook) /* vsr_replace draws new captions here */
            ret = p->options->frame_hook(
                p->options->frame_hook_opaque, frame,
                av_rescale_q(frame->pts, p->info.time_base, (AVRational){1, 1000}), error);
        ret = ret < 0 ? ret : media_writer_write(p->writer, frame, error);
        if (ret == 0 && p->mask_writer) ret = write_mask(p, frame->pts, error);
        av_frame_free(&frame);
        if (ret < 0) return ret;
        p->frames_done++;
        report(p, 0);
        if (canceled(p)) return error_set(error, VSR_E_CANCELED, "canceled");
    }
}

/* Threads for a decoder. The encoder keeps every core busy on its own, so a
 * decoder's frame threads mostly add their overhead (H.264 decoding on 2
 * cores: 1.05x faster for 1.4x the CPU): a quarter of the cores each, so
 * that slower codecs at 4K still keep up on a large machine, and at least
 * one. The detector's head start is parallel by other means (two
 * readers, luma_feed.h). */
static int decoder_threads(int asked) {
    if (asked > 0) return asked;
    long quarter = sysconf(_SC_NPROCESSORS_ONLN) / 4;
    return quarter > 1 ? (int)quarter : 1;
}

static int open_pipeline(struct pipeline *p, const char *input, const char *output,
                         struct vsr_error *error) {
    const struct vsr_remove_options *o = p->options;
    /* Reader A first, and its thread at once: everything else waits for the
     * detector's head start, so the rest opens while it runs. */
    struct media_reader *analysis = NULL;
    int ret =
        media_reader_open(&analysis, input, decoder_threads(o->threads), MEDIA_READ_FAST, error);
    if (ret < 0) return ret;
    p->info = *media_reader_info(analysis);
    int width = p->info.width, height = p->info.height;
    double fps = p->info.frame_rate.num > 0 ? av_q2d(p->info.frame_rate) : 25.0;
    ret = vsr_check_frame_size(width, height, error);
    if (ret == VSR_OK) ret = vsr_check_regions(o->regions, o->region_count, width, height, error);
    if (ret != VSR_OK) {
        media_reader_free(analysis);
        return ret;
    }
    int feed_flags = MEDIA_READ_FAST;
    if (p->may_skip && media_reader_skip_nonref(analysis)) {
        feed_flags |= MEDIA_READ_SKIP_NONREF;
        p->skipping = 1;
    }
    p->detector = detector_new(width, height, fps, o->regions, o->region_count);
    if (!p->detector) {
        media_reader_free(analysis);
        return error_set(error, VSR_E_NOMEM, "out of memory");
    }
    /* Reader B opens the file as A found it, once A's thread is running. */
    struct media_streams *streams = media_reader_streams(analysis);
    if (!streams) {
        media_reader_free(analysis);
        return error_set(error, VSR_E_NOMEM, "out of memory");
    }
    struct luma_feed *feed = NULL;
    ret = luma_feed_start(&feed, analysis, decoder_threads(o->threads), feed_flags, p->detector,
                          fps, error);
    if (ret == 0)
        ret =
            analysis_start(&p->analysis_thread, feed, p->detector, width, height, o->cancel, error);
    if (ret == 0)
        ret = media_reader_open_as(&p->source, streams, decoder_threads(o->threads), 0,
                                   AV_NOPTS_VALUE, error);
    if (ret == 0) {
        struct text_scan_options scan = {.streams = streams,
                                         .skip_nonref = p->may_skip,
                                         .threads = o->threads,
                                         .regions = o->regions,
                                         .region_count = o->region_count,
                                         .cancel = o->cancel};
        ret = text_scan_start(&p->scan, &scan, error);
    }
    media_streams_free(streams);
    if (ret < 0) return ret;
    const struct media_info *b = media_reader_info(p->source);
    if (b->width != width || b->height != height)
        return error_set(error, VSR_E_INTERNAL,
                         "the two decoding passes of the input disagree on its size");
    size_t pixels = (size_t)width * (size_t)height;
    p->mask = calloc(pixels, 1);
    p->filled_mask = malloc(pixels);
    p->filler = filler_new(width, height, fps, FILL_MEMORY_BUDGET);
    p->texts = text_mask_new(width, height);
    if (!p->mask || !p->filled_mask || !p->filler || !p->texts)
        return error_set(error, VSR_E_NOMEM, "out of memory");
    /* While the head start runs, one core is idle: B decodes the frames the
     * filler needs before its first frame is ready, and faults in the
     * pictures of the whole window, which it would otherwise do while the
     * encoder waits (fresh pages cost 2.5 ms per MB on these VMs). */
    int ahead, held;
    filler_window(p->filler, &ahead, &held);
    ret = media_prefetch_start(&p->prefetch, p->source, PREFETCH_FRAMES, ahead + PREFETCH_FRAMES,
                               held + PREFETCH_FRAMES, error);
    if (ret < 0) return ret;

    struct media_writer_options video = {
        .codec = "libx264",
        .pix_fmt = AV_PIX_FMT_YUV420P,
        .crf = o->crf,
        .preset = o->preset,
        .threads = o->threads,
        .copy_audio_from = input,
        .like = &p->info,
    };
    ret = media_writer_open(&p->writer, output, &video, error);
    if (ret < 0) return ret;
    if (o->mask_out) {
        struct media_writer_options mask = {
            /* PNG, not FFV1: lossless either way, but FFV1 keeps a worst-case
             * packet buffer (about 300 MB at 1080p) and PNG a few MB. */
            .codec = "png",
            .pix_fmt = AV_PIX_FMT_GRAY8,
            .threads = o->threads,
            .like = &p->info,
        };
        ret = media_writer_open(&p->mask_writer, o->mask_out, &mask, error);
        if (ret < 0) return ret;
        p->mask_frame = av_frame_alloc();
        if (!p->mask_frame) return error_set(error, VSR_E_NOMEM, "out of memory");
        p->mask_frame->format = AV_PIX_FMT_GRAY8;
        p->mask_frame->width = width;
        p->mask_frame->height = height;
        if (av_frame_get_buffer(p->mask_frame, 0) < 0)
            return error_set(error, VSR_E_NOMEM, "out of memory");
    }
    return 0;
}

/* The two readers disagree: when A skipped frames, it may have placed them
 * wrong, and the file is read again without skipping. */
static int disagree(const struct pipeline *p, const char *what, struct vsr_error *error) {
    return error_set(error, p->skipping ? MEDIA_E_UNCOUNTED : VSR_E_INTERNAL,
                     "the two decoding passes of the input disagree on its %s", what);
}

/* Clears the bands of rows of the temporal detector's mask that lie neither
 * on one of the N lines the network found on this frame nor where this
 * video's subtitles sit: text that comes and goes elsewhere (a speaker's
 * name, a title) is part of the picture. */
static void keep_subtitle_places(struct pipeline *p, int n) {
    int width = p->info.width;
    int y = p->mask_rows.y0, end = p->mask_rows.y1;
    while (y < end) {
        while (y < end && !memchr(p->mask + (size_t)y * width, 255, (size_t)width))
            y++;
        int y0 = y, gap = 0;
        /* A band: rows with mask pixels, gaps of a few rows inside. */
        for (; y < end && gap < 4; y++)
            gap = memchr(p->mask + (size_t)y * width, 255, (size_t)width) ? 0 : gap + 1;
        int y1 = y - gap;
        if (y1 <= y0) break;
        int on_line = 0;
        for (int i = 0; i < n && !on_line; i++)
            on_line = p->lines[i].y0 < y1 && p->lines[i].y1 > y0;
        if (!on_line && !text_scan_place(p->scan, y0, y1))
            memset(p->mask + (size_t)y0 * width, 0, (size_t)(y1 - y0) * (size_t)width);
    }
}

/* Adds to the frame's mask the text the network's lines show on it.
 * Returns 1, or a negative vsr_status. */
static int add_text_lines(struct pipeline *p, const AVFrame *frame, struct vsr_error *error) {
    int n = text_scan_lines(p->scan, p->frames_in, p->lines,
                            (int)(sizeof p->lines / sizeof p->lines[0]), error);
    if (n == MEDIA_E_UNCOUNTED && !p->skipping) n = disagree(p, "timestamps", error);
    if (n < 0) return n;
    if (p->mask_rows.y1 > p->mask_rows.y0) keep_subtitle_places(p, n);
    if (n == 0) return 1;
    long set =
        text_mask_paint(p->texts, frame, p->lines, n, p->mask, &p->mask_rows.y0, &p->mask_rows.y1);
    return set < 0 ? error_set(error, (int)set, "out of memory") : 1;
}

static void fill_report(const struct pipeline *p) {
    struct vsr_remove_report *r = p->options->report;
    if (!r) return;
    int64_t filled, spatial;
    filler_stats(p->filler, &filled, &spatial);
    *r = (struct vsr_remove_report){
        .frames = p->frames_done, .frames_with_text = p->frames_with_text, .pixels_filled = filled};
    if (filled > 0) {
        r->share_spatial = (double)spatial / (double)filled;
        r->share_temporal = 1.0 - r->share_spatial;
    }
    text_scan_stats(p->scan, &r->detector_frames, &r->detector_seconds);
    struct media_reader_losses losses;
    media_reader_losses(p->source, &losses); /* reader B gave the frames written */
    r->frames_dropped = losses.frames_dropped;
    r->frames_rescaled = losses.frames_rescaled;
    r->rescaled_from_width = losses.other_width;
    r->rescaled_from_height = losses.other_height;
}

static int run_pipeline(struct pipeline *p, struct vsr_error *error) {
    for (;;) {
        if (canceled(p)) return error_set(error, VSR_E_CANCELED, "canceled");
        AVFrame *frame = NULL;
        int ret = media_prefetch_next(p->prefetch, &frame, error);
        if (ret < 0) return ret;
        if (ret == 0) break;
        int64_t seen_pts;
        ret =
            analysis_next(p->analysis_thread, p->mask, &p->mask_rows, &seen_pts, &p->edges, error);
        if (ret == 0) ret = disagree(p, "length", error);
        if (ret == 1 && seen_pts != AV_NOPTS_VALUE && seen_pts != frame->pts)
            ret = disagree(p, "timestamps", error);
        if (ret == 1) {
            for (int i = 0; i < p->edges.count; i++)
                if (detector_edge_shows(p->detector, &p->edges.edge[i], frame))
                    detector_edge_paint(p->detector, &p->edges.edge[i], p->mask, &p->mask_rows.y0,
                                        &p->mask_rows.y1);
            ret = add_text_lines(p, frame, error);
        }
        if (ret == 1) {
            if (p->mask_rows.y1 > p->mask_rows.y0) p->frames_with_text++;
            ret = filler_push(p->filler, frame, p->mask, p->mask_rows.y0,
                              p->mask_rows.y1); /* takes the frame */
            frame = NULL;
            if (ret < 0) ret = error_set(error, ret, "filling the subtitle area failed");
        }
        av_frame_free(&frame);
        if (ret < 0) return ret;
        p->frames_in++;
        ret = drain_filler(p, error);
        if (ret < 0) return ret;
    }
    /* Reader A must end where B did: a file whose decoders disagree is not
     * one we can trust (and A may still hold a truncation to report). */
    int64_t seen_pts;
    int ret =
        analysis_next(p->analysis_thread, p->mask, &p->mask_rows, &seen_pts, &p->edges, error);
    if (ret < 0) return ret;
    if (ret == 1) return disagree(p, "length", error);
    filler_finish(p->filler);
    ret = drain_filler(p, error);
    if (ret < 0) return ret;
    if (p->frames_done != p->frames_in)
        return error_set(error, VSR_E_INTERNAL, "the filler returned %lld of %lld frames",
                         (long long)p->frames_done, (long long)p->frames_in);
    if (canceled(p)) return error_set(error, VSR_E_CANCELED, "canceled");
    /* The mask first: if the video then fails, the mask is removed again, so
     * that either both outputs appear or neither does. */
    if (p->mask_writer) {
        ret = media_writer_finish(p->mask_writer, error);
        if (ret < 0) return ret;
    }
    ret = media_writer_finish(p->writer, error);
    if (ret < 0) {
        if (p->mask_writer) unlink(p->options->mask_out);
        return ret;
    }
    report(p, 1);
    fill_report(p);
    return 0;
}

static void close_pipeline(struct pipeline *p) {
    analysis_stop(p->analysis_thread); /* before what it borrows */
    text_scan_stop(p->scan);
    text_mask_free(p->texts);
    media_prefetch_stop(p->prefetch);  /* before reader B */
    media_writer_free(p->mask_writer); /* removes its temporary file if unfinished */
    media_writer_free(p->writer);
    filler_free(p->filler);
    detector_free(p->detector);
    media_reader_free(p->source);
    av_frame_free(&p->mask_frame);
    detector_edges_free(&p->edges);
    free(p->mask);
    free(p->filled_mask);
}

static int known_preset(const char *name) {
    static const char *const presets[] = {"ultrafast", "superfast", "veryfast", "faster",
                                          "fast",      "medium",    "slow",     "slower",
                                          "veryslow",  "placebo"};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(name, presets[i]) == 0) return 1;
    return 0;
}

int vsr_remove(const char *input, const char *output, const struct vsr_remove_options *options,
               struct vsr_error *error) {
    struct vsr_remove_options defaults;
    if (!options) {
        vsr_remove_options_init(&defaults);
        options = &defaults;
    }
    if (error) {
        error->code = VSR_OK;
        error->message[0] = '\0';
    }
    if (!input || !output || !*input || !*output)
        return error_set(error, VSR_E_USAGE, "give an input and an output file");
    if (vsr_check_crf(options->crf, error) != VSR_OK) return VSR_E_USAGE;
    if (options->preset && !known_preset(options->preset))
        return error_set(error, VSR_E_USAGE,
                         "unknown preset '%s': use ultrafast, superfast, veryfast, faster, fast, "
                         "medium, slow, slower or veryslow",
                         options->preset);
    if (options->region_count < 0 || (options->region_count > 0 && !options->regions))
        return error_set(error, VSR_E_USAGE, "bad region list");
    if (options->mask_out && strcmp(options->mask_out, output) == 0)
        return error_set(error, VSR_E_USAGE, "the mask and the output must be different files");
    /* The output would be renamed over the input, which is then lost. */
    if (media_same_file(input, output) ||
        (options->mask_out && media_same_file(input, options->mask_out)))
        return error_set(error, VSR_E_USAGE,
                         "'%s' is the input: give the output (and the mask) another name, the "
                         "input is not overwritten",
                         input);

    double started = now_seconds();
    int ret = MEDIA_E_UNCOUNTED;
    int64_t reported = 0;
    for (int may_skip = 1; ret == MEDIA_E_UNCOUNTED && may_skip >= 0; may_skip--) {
        if (error) *error = (struct vsr_error){VSR_OK, ""};
        struct pipeline p = {.options = options, .may_skip = may_skip, .reported_before = reported};
        p.started = p.last_report = started;
        ret = open_pipeline(&p, input, output, error);
        if (ret == 0) ret = run_pipeline(&p, error);
        close_pipeline(&p);
        if (p.frames_done > reported) reported = p.frames_done;
    }
    /* Not skipping, A places every frame: it cannot come back. */
    if (ret == MEDIA_E_UNCOUNTED) {
        struct vsr_error said = error ? *error : (struct vsr_error){VSR_OK, ""};
        ret = error_set(error, VSR_E_INTERNAL, "%s", said.message);
    }
    return ret;
}
