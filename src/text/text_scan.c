/* text_scan.c: the text detector over a video, on a thread (text_scan.h).
 *
 * The thread appends samples to a queue that only grows at the back and is
 * trimmed at the front by the consumer: samples are a few hundred bytes, so
 * it may run as far ahead as it likes. */
#include "text/text_scan.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/mathematics.h>
#include <libswscale/swscale.h>

#include "text/text_net.h"
#include "util/error.h"
#include "util/thread_name.h"

#define SAMPLES_PER_SECOND 2.0
#define NET_ROWS           448  /* small text (3% of the height) stays a dozen rows tall */
#define CENTRED            0.12 /* a line's centre within this share of the width of the middle */
#define MAX_HEIGHT         0.22 /* of the frame: two lines of large captions, merged */
#define TRACK_MIN          6    /* lines seen before their height judges others */
#define TRACK_LOW          0.5  /* a line's height against the median of the lines seen */
#define TRACK_HIGH         2.2
#define LOOKAHEAD_SECONDS  3.0 /* samples seen past a frame before its lines are judged */
#define PLACE_SHARE        0.5 /* of the lines at the most used place, for a place to be used */
#define PLACE_TOLERANCE    0.4 /* of the lines' height: how near a place counts as the same */
#define MIN_CONTRAST       16  /* levels a kernel pixel differs by without the line: a stroke */
#define SHOWS_SHARE        0.5 /* of those, showing the line on a frame that shows it */
#define SHOWN_ALPHA        0.2 /* of the way from the other value to the line's: shown */
#define STAY_LEVELS        12  /* a stroke pixel that kept its value within these levels */
#define STAY_SHARE         0.8 /* of the kernel's pixels, for a missed line to stay */

struct sample {
    int64_t index;
    int count;
    struct text_box line[TEXT_SCAN_LINES]; /* in frame pixels */
    struct text_box net[TEXT_SCAN_LINES];  /* the same on the net's plane */
    /* The frames known to show each line: the sample's own, then those
     * between it and the next sample that still show it (see timing). */
    int64_t from[TEXT_SCAN_LINES], to[TEXT_SCAN_LINES];
};

struct text_scan {
    struct media_reader *reader;
    struct text_net *net;
    struct SwsContext *sws;
    int width, height, net_w, net_h, every;
    uint8_t *rgb, *prob;
    int *scratch;
    struct SwsContext *gray; /* frames between samples, to the net's size */
    /* The scan thread's own: luma at the net's size of the last sample and of
     * the frames decoded since (RING of them at most), and the last sample's
     * text probabilities. */
    uint8_t *sample_luma, *last_luma, *last_prob, *ring;
    int64_t *ring_index;
    int ring_count, ring_capacity;
    struct sample last; /* a copy of the last sample queued */
    int have_last;
    struct vsr_region *regions;
    int region_count;
    const atomic_int *cancel;

    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct sample *samples; /* [head, head + count) of a growing array */
    size_t head, count, capacity;
    uint32_t *heights; /* kept lines by height in pixels, 0..height */
    uint32_t heights_seen;
    /* Kept lines by their top, bottom and middle row: where the subtitles
     * of a video sit (PLACES histograms of height + 1 entries). */
    uint32_t *places[3];
    int64_t lookahead; /* frames */
    int ended, status, stop;
    struct vsr_error error;
    int64_t runs;
    double seconds;
};

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int imax(int a, int b) {
    return a > b ? a : b;
}
static int imin(int a, int b) {
    return a < b ? a : b;
}

/* Whether LINE looks like a subtitle line by its shape and place. */
static int subtitle_shaped(const struct text_scan *s, const struct text_box *line) {
    int w = text_box_w(line), h = text_box_h(line);
    /* Wider than tall by half at least: a word of two letters grown by
     * DB's margin is; a cup or a face is not. */
    if (h < 6 || h > MAX_HEIGHT * s->height || 2 * w < 3 * h) return 0;
    double centre = (line->x0 + line->x1) / 2.0 - s->width / 2.0;
    return centre >= -CENTRED * s->width && centre <= CENTRED * s->width;
}

/* Keeps the part of LINE inside the regions (each part a line of its own). */
static int clip_to_regions(const struct text_scan *s, const struct text_box *line,
                           struct text_box *out, int room) {
    if (!s->region_count) {
        out[0] = *line;
        return 1;
    }
    int n = 0;
    for (int i = 0; i < s->region_count && n < room; i++) {
        const struct vsr_region *r = &s->regions[i];
        struct text_box c = {imax(line->x0, r->x), imax(line->y0, r->y),
                             imin(line->x1, r->x + r->w), imin(line->y1, r->y + r->h)};
        if (c.x1 > c.x0 && c.y1 > c.y0) out[n++] = c;
    }
    return n;
}

/* Runs the net on FRAME and fills SAMPLE with the subtitle-like lines. */
static int run_net(struct text_scan *s, const AVFrame *frame, struct sample *sample,
                   struct vsr_error *error) {
    uint8_t *dst[1] = {s->rgb};
    int stride[1] = {3 * s->net_w};
    sws_scale(s->sws, (const uint8_t *const *)frame->data, frame->linesize, 0, s->height, dst,
              stride);
    int ret = text_net_run(s->net, s->rgb, s->net_w, s->net_h, 3 * s->net_w, s->prob, error);
    if (ret < 0) return ret;
    struct text_box found[TEXT_LINES_MAX];
    int n = text_lines_find(s->prob, s->net_w, s->net_h, s->scratch, found, TEXT_LINES_MAX);
    double sx = (double)s->width / s->net_w, sy = (double)s->height / s->net_h;
    sample->count = 0;
    for (int i = 0; i < n && sample->count < TEXT_SCAN_LINES; i++) {
        struct text_box line = {(int)(found[i].x0 * sx), (int)(found[i].y0 * sy),
                                imin(s->width, (int)(found[i].x1 * sx + 0.999)),
                                imin(s->height, (int)(found[i].y1 * sy + 0.999))};
        if (!subtitle_shaped(s, &line)) continue;
        int k = sample->count;
        sample->count += clip_to_regions(s, &line, sample->line + k, TEXT_SCAN_LINES - k);
        for (; k < sample->count; k++) {
            sample->net[k] = found[i];
            sample->from[k] = sample->to[k] = sample->index;
        }
    }
    size_t n_px = (size_t)s->net_w * (size_t)s->net_h;
    for (size_t i = 0; i < n_px; i++) {
        const uint8_t *p = s->rgb + 3 * i;
        s->sample_luma[i] = (uint8_t)((77 * p[0] + 150 * p[1] + 29 * p[2]) >> 8);
    }
    return 0;
}

/* Whether the line of BOX, seen on REF (with PROB), still shows on luma F,
 * where OTHER is a frame that does not show it: of its kernel's pixels that
 * differ between REF and OTHER (its strokes, and whatever moved), most have
 * moved from OTHER's value towards REF's by SHOWN_ALPHA of the way at least
 * (a line fading in or out is partly transparent, and is still text to
 * remove). When few differ, it cannot tell, and says so. */
static int line_shows(const struct text_scan *s, const struct text_box *box, const uint8_t *prob,
                      const uint8_t *ref, const uint8_t *other, const uint8_t *f) {
    long kernel = 0, changed = 0, shown = 0;
    for (int y = box->y0; y < box->y1; y++)
        for (int x = box->x0; x < box->x1; x++) {
            size_t i = (size_t)y * (size_t)s->net_w + (size_t)x;
            if (prob[i] < 128) continue;
            kernel++;
            int a = ref[i], b = other[i], v = f[i];
            if (abs(a - b) < MIN_CONTRAST) continue;
            changed++;
            int towards = a > b ? v - b : b - v;
            shown += towards >= SHOWN_ALPHA * abs(a - b);
        }
    if (changed * 10 < kernel) return 1;
    return shown >= SHOWS_SHARE * (double)changed;
}

static int overlaps(const struct text_box *a, const struct text_box *b) {
    int ix = imin(a->x1, b->x1) - imax(a->x0, b->x0);
    int iy = imin(a->y1, b->y1) - imax(a->y0, b->y0);
    return ix > 0 && 2 * iy >= imin(text_box_h(a), text_box_h(b));
}

/* Whether BOX overlaps one of SAMPLE's lines (on the net's plane). */
static int overlaps_any(const struct text_box *box, const struct sample *sample) {
    for (int j = 0; sample && j < sample->count; j++)
        if (overlaps(box, &sample->net[j])) return 1;
    return 0;
}

/* Whether the line of BOX, seen on the last sample, is still there on the
 * new sample although the net did not find it there (low contrast over a
 * new shot, say). Its strokes are the brightest or the darkest fifth of its
 * kernel on the last sample (the rest is the picture between letters): a
 * line stays where those kept their values and still stand out of the
 * kernel's middle value the same way. A caption held across a cut stays. */
static int line_stays(const struct text_scan *s, const struct text_box *box) {
    uint32_t was[256] = {0}, is[256] = {0};
    long kernel = 0;
    for (int y = box->y0; y < box->y1; y++)
        for (int x = box->x0; x < box->x1; x++) {
            size_t i = (size_t)y * (size_t)s->net_w + (size_t)x;
            if (s->last_prob[i] < 128) continue;
            was[s->last_luma[i]]++, is[s->sample_luma[i]]++, kernel++;
        }
    if (kernel < 20) return 0;
    int lo = 0, hi = 255, mid = 0;
    for (long n = 0; (n += was[lo]) < kernel / 5;)
        lo++;
    for (long n = 0; (n += was[hi]) < kernel / 5;)
        hi--;
    for (long n = 0; (n += is[mid]) < kernel / 2;)
        mid++;
    for (int side = 0; side < 2; side++) {
        long strokes = 0, kept = 0, sum = 0;
        for (int y = box->y0; y < box->y1; y++)
            for (int x = box->x0; x < box->x1; x++) {
                size_t i = (size_t)y * (size_t)s->net_w + (size_t)x;
                int v = s->last_luma[i];
                if (s->last_prob[i] < 128 || (side ? v > lo : v < hi)) continue;
                strokes++, sum += s->sample_luma[i];
                kept += abs(v - s->sample_luma[i]) <= STAY_LEVELS;
            }
        if (!strokes || kept < STAY_SHARE * (double)strokes) continue;
        double stands = (double)sum / (double)strokes - mid;
        if ((side ? -stands : stands) >= MIN_CONTRAST) return 1;
    }
    return 0;
}

/* Adds to NEXT the lines of LAST that it missed but that stay (line_stays),
 * with their kernel copied into the new sample's probabilities, so that the
 * sample after it can time them in turn. */
static void carry_lines(struct text_scan *s, const struct sample *last, struct sample *next) {
    for (int i = 0; i < last->count && next->count < TEXT_SCAN_LINES; i++) {
        if (overlaps_any(&last->net[i], next) || !line_stays(s, &last->net[i])) continue;
        const struct text_box *b = &last->net[i];
        for (int y = b->y0; y < b->y1; y++)
            for (int x = b->x0; x < b->x1; x++) {
                size_t k = (size_t)y * (size_t)s->net_w + (size_t)x;
                if (s->last_prob[k] > s->prob[k]) s->prob[k] = s->last_prob[k];
            }
        int c = next->count++;
        next->line[c] = last->line[i];
        next->net[c] = *b;
        next->from[c] = next->to[c] = next->index;
    }
}

/* Times the lines of the last sample (LAST) over the frames decoded after
 * it (the ring), up to the new sample NEXT (whose luma is sample_luma and
 * text probabilities prob), and NEXT's lines over the same frames back: a
 * line lasts, from the sample that shows it, as long as its kernel holds
 * what that sample saw there (line_shows); a line in the place of one of
 * the other sample holds between them. A frame that was not decoded
 * goes with the decoded one after it (where a line ends) or before it
 * (where one starts), so that none shows text. With NEXT NULL (the end of
 * the video), LAST's lines are timed to the last frame decoded. */
static void timing(struct text_scan *s, struct sample *last, struct sample *next) {
    size_t plane = (size_t)s->net_w * (size_t)s->net_h;
    const uint8_t *other = next            ? s->sample_luma
                           : s->ring_count ? s->ring + (s->ring_count - 1) * plane
                                           : NULL;
    for (int i = 0; i < last->count && other; i++) {
        int64_t to = next ? next->index - 1 : INT64_MAX;
        /* In the place of a line of NEXT: the same text held, or the next
         * words of it; text_mask tells which pixels. */
        if (overlaps_any(&last->net[i], next)) {
            last->to[i] = to;
            continue;
        }
        for (int k = 0; k < s->ring_count; k++)
            if (!line_shows(s, &last->net[i], s->last_prob, s->last_luma, other,
                            s->ring + (size_t)k * plane)) {
                to = s->ring_index[k] - 1;
                break;
            }
        last->to[i] = to;
    }
    for (int j = 0; next && j < next->count; j++) {
        int64_t from = last->index + 1;
        if (overlaps_any(&next->net[j], last)) {
            next->from[j] = from;
            continue;
        }
        for (int k = s->ring_count - 1; k >= 0; k--)
            if (!line_shows(s, &next->net[j], s->prob, s->sample_luma, s->last_luma,
                            s->ring + (size_t)k * plane)) {
                from = s->ring_index[k] + 1;
                break;
            }
        next->from[j] = from;
    }
}

static void *scan(void *arg) {
    struct text_scan *s = arg;
    thread_name("vsr-textscan");
    int64_t next = 0;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        int stop = s->stop || (s->cancel && atomic_load(s->cancel));
        pthread_mutex_unlock(&s->lock);
        struct vsr_error error = {0, ""};
        AVFrame *frame = NULL;
        int ret = stop ? VSR_E_CANCELED : media_reader_next(s->reader, &frame, &error);
        struct sample sample = {0};
        if (ret == 1) {
            sample.index = media_reader_index(s->reader);
            if (sample.index < next) {
                /* Between samples: its luma, to time the lines by. */
                if (s->ring_count < s->ring_capacity) {
                    uint8_t *dst[1] = {s->ring + (size_t)s->ring_count * s->net_w * s->net_h};
                    int stride[1] = {s->net_w};
                    sws_scale(s->gray, (const uint8_t *const *)frame->data, frame->linesize, 0,
                              s->height, dst, stride);
                    s->ring_index[s->ring_count++] = sample.index;
                }
                av_frame_free(&frame);
                continue;
            }
            next = sample.index + s->every;
            double t0 = now_seconds();
            ret = run_net(s, frame, &sample, &error);
            t0 = now_seconds() - t0;
            pthread_mutex_lock(&s->lock);
            s->runs++, s->seconds += t0;
            pthread_mutex_unlock(&s->lock);
            av_frame_free(&frame);
            if (ret == 0) ret = 1;
        }
        if (ret == 1 && s->have_last) carry_lines(s, &s->last, &sample);
        if (ret == 1 && s->have_last) timing(s, &s->last, &sample);
        if (ret == 1 && !s->have_last)
            for (int i = 0; i < sample.count; i++)
                sample.from[i] = 0;
        pthread_mutex_lock(&s->lock);
        /* The last sample queued takes the times found for it. */
        if (ret == 1 && s->have_last && s->count > 0) {
            struct sample *queued = &s->samples[s->head + s->count - 1];
            if (queued->index == s->last.index) memcpy(queued->to, s->last.to, sizeof queued->to);
        }
        if (ret == 0 && s->count > 0 && s->have_last) { /* the end: the last lines, timed to it */
            for (int i = 0; i < s->last.count; i++)
                s->last.to[i] = INT64_MAX;
            timing(s, &s->last, NULL);
            struct sample *queued = &s->samples[s->head + s->count - 1];
            if (queued->index == s->last.index) memcpy(queued->to, s->last.to, sizeof queued->to);
        }
        if (ret == 1 && s->head + s->count == s->capacity) {
            /* Move the live samples to the front, or grow. */
            if (s->head > s->capacity / 2) {
                memmove(s->samples, s->samples + s->head, s->count * sizeof *s->samples);
                s->head = 0;
            } else {
                size_t capacity = s->capacity ? 2 * s->capacity : 64;
                struct sample *grown = realloc(s->samples, capacity * sizeof *grown);
                if (!grown)
                    ret = error_set(&error, VSR_E_NOMEM, "out of memory");
                else
                    s->samples = grown, s->capacity = capacity;
            }
        }
        if (ret == 1) {
            s->samples[s->head + s->count++] = sample;
            for (int i = 0; i < sample.count; i++) {
                const struct text_box *l = &sample.line[i];
                s->heights[text_box_h(l)]++;
                s->heights_seen++;
                s->places[0][l->y0]++;
                s->places[1][l->y1]++;
                s->places[2][(l->y0 + l->y1) / 2]++;
            }
        } else {
            s->ended = 1;
            s->status = ret;
            s->error = error;
        }
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
        if (ret != 1) return NULL;
        /* This sample is the last one now. */
        s->last = sample;
        s->have_last = 1;
        uint8_t *t = s->last_luma;
        s->last_luma = s->sample_luma, s->sample_luma = t;
        t = s->last_prob;
        s->last_prob = s->prob, s->prob = t;
        s->ring_count = 0;
    }
}

int text_scan_start(struct text_scan **out, const struct text_scan_options *o,
                    struct vsr_error *error) {
    *out = NULL;
    struct text_scan *s = calloc(1, sizeof *s);
    if (!s) return error_set(error, VSR_E_NOMEM, "out of memory");
    *out = s;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    s->cancel = o->cancel;
    int ret = text_net_open(&s->net, text_net_model_path(), o->threads, error);
    if (ret == VSR_E_INPUT) ret = error_set(error, VSR_E_USAGE, "%s", error->message);
    if (ret < 0) return ret;
    ret = media_reader_open_as(&s->reader, o->streams, 1, MEDIA_READ_FAST, AV_NOPTS_VALUE, error);
    if (ret < 0) return ret;
    if (o->skip_nonref) media_reader_skip_nonref(s->reader);
    const struct media_info *info = media_reader_info(s->reader);
    s->width = info->width, s->height = info->height;
    double fps = info->frame_rate.num > 0 ? av_q2d(info->frame_rate) : 25.0;
    s->every = imax(1, (int)(fps / SAMPLES_PER_SECOND + 0.5));
    double scale = s->height > NET_ROWS ? (double)NET_ROWS / s->height : 1.0;
    s->net_w = imax(32, (int)(s->width * scale / 32 + 0.5) * 32);
    s->net_h = imax(32, (int)(s->height * scale / 32 + 0.5) * 32);
    size_t n = (size_t)s->net_w * (size_t)s->net_h;
    s->rgb = malloc(3 * n);
    s->prob = malloc(n);
    s->scratch = malloc(n * sizeof *s->scratch);
    s->heights = calloc((size_t)s->height + 1, sizeof *s->heights);
    s->sample_luma = malloc(n);
    s->last_luma = malloc(n);
    s->last_prob = malloc(n);
    s->ring_capacity = s->every + 1;
    s->ring = malloc((size_t)s->ring_capacity * n);
    s->ring_index = malloc((size_t)s->ring_capacity * sizeof *s->ring_index);
    s->gray = sws_getContext(s->width, s->height, AV_PIX_FMT_YUV420P, s->net_w, s->net_h,
                             AV_PIX_FMT_GRAY8, SWS_AREA, NULL, NULL, NULL);
    for (int i = 0; i < 3; i++)
        s->places[i] = calloc((size_t)s->height + 1, sizeof *s->places[i]);
    s->lookahead = (int64_t)(LOOKAHEAD_SECONDS * fps);
    s->sws = sws_getContext(s->width, s->height, AV_PIX_FMT_YUV420P, s->net_w, s->net_h,
                            AV_PIX_FMT_RGB24, SWS_AREA, NULL, NULL, NULL);
    if (o->region_count > 0) {
        s->regions = malloc((size_t)o->region_count * sizeof *s->regions);
        if (s->regions)
            memcpy(s->regions, o->regions, (size_t)o->region_count * sizeof *s->regions);
        s->region_count = o->region_count;
    }
    if (!s->rgb || !s->prob || !s->scratch || !s->heights || !s->places[0] || !s->places[1] ||
        !s->places[2] || !s->sws || !s->gray || !s->sample_luma || !s->last_luma || !s->last_prob ||
        !s->ring || !s->ring_index || (o->region_count > 0 && !s->regions))
        return error_set(error, VSR_E_NOMEM, "out of memory");
    if (pthread_create(&s->thread, NULL, scan, s) != 0)
        return error_set(error, VSR_E_NOMEM, "cannot start the text scan thread");
    s->started = 1;
    return 0;
}

/* The median height of the lines kept so far, 0 while too few. */
static int track_height(const struct text_scan *s) {
    if (s->heights_seen < TRACK_MIN) return 0;
    uint32_t half = s->heights_seen / 2, run = 0;
    for (int h = 0; h <= s->height; h++)
        if ((run += s->heights[h]) > half) return h;
    return 0;
}

/* Adds LINE to OUT (N lines so far), joined with one it overlaps. */
static int add_line(struct text_box *out, int n, int max, const struct text_box *line) {
    for (int i = 0; i < n; i++) {
        struct text_box *o = &out[i];
        int ix = imin(o->x1, line->x1) - imax(o->x0, line->x0);
        int iy = imin(o->y1, line->y1) - imax(o->y0, line->y0);
        if (ix <= 0 || iy * 2 < imin(text_box_h(o), text_box_h(line))) continue;
        o->x0 = imin(o->x0, line->x0), o->x1 = imax(o->x1, line->x1);
        o->y0 = imin(o->y0, line->y0), o->y1 = imax(o->y1, line->y1);
        return n;
    }
    if (n < max) out[n++] = *line;
    return n;
}

/* Lines within TOLERANCE rows of row Y in histogram PLACE. */
static uint32_t lines_near(const struct text_scan *s, const uint32_t *place, int y, int tolerance) {
    uint32_t n = 0;
    for (int r = imax(0, y - tolerance); r <= imin(s->height, y + tolerance); r++)
        n += place[r];
    return n;
}

/* Whether a line at rows [Y0, Y1) sits where this video's subtitles do: its
 * top, bottom or middle is a place where many lines were (a speaker's name
 * or a title shown for a while, elsewhere, is not). */
static int at_subtitle_place(const struct text_scan *s, int track, int y0, int y1) {
    int tolerance = imax(2, (int)(PLACE_TOLERANCE * track));
    int rows[3] = {y0, y1, (y0 + y1) / 2};
    for (int i = 0; i < 3; i++) {
        uint32_t most = 0;
        for (int y = 0; y <= s->height; y += imax(1, tolerance / 2))
            most = imax(most, lines_near(s, s->places[i], y, tolerance));
        if (lines_near(s, s->places[i], rows[i], tolerance) >= PLACE_SHARE * most) return 1;
    }
    return 0;
}

/* Whether line A sits right above or below line B, as the lines of one
 * subtitle do. */
static int stacked(const struct text_box *a, const struct text_box *b) {
    int h = imax(text_box_h(a), text_box_h(b)) / 2;
    int overlap = imin(a->x1, b->x1) - imax(a->x0, b->x0);
    if (overlap <= 0) return 0;
    return (a->y1 >= b->y0 - h && a->y1 <= b->y0 + h) || (a->y0 >= b->y1 - h && a->y0 <= b->y1 + h);
}

static int add_sample(const struct text_scan *s, const struct sample *sample, int64_t index,
                      int track, struct text_box *out, int n, int max) {
    int state[TEXT_SCAN_LINES]; /* 0 undecided, 1 kept, -1 dropped */
    for (int i = 0; i < sample->count; i++) {
        const struct text_box *l = &sample->line[i];
        int h = text_box_h(l);
        state[i] = 0;
        if (index < sample->from[i] || index > sample->to[i])
            state[i] = -1;
        else if (track && (h < TRACK_LOW * track || h > TRACK_HIGH * track))
            state[i] = -1;
        else if (!track || at_subtitle_place(s, track, l->y0, l->y1))
            state[i] = 1;
    }
    /* A line of a subtitle's two or three, above or below a kept one. */
    for (int grew = 1; grew;) {
        grew = 0;
        for (int i = 0; i < sample->count; i++)
            for (int j = 0; j < sample->count && state[i] == 0; j++)
                if (state[j] == 1 && stacked(&sample->line[i], &sample->line[j]))
                    state[i] = 1, grew = 1;
    }
    for (int i = 0; i < sample->count; i++)
        if (state[i] == 1) n = add_line(out, n, max, &sample->line[i]);
    return n;
}

int text_scan_lines(struct text_scan *s, int64_t index, struct text_box *lines, int max,
                    struct vsr_error *error) {
    pthread_mutex_lock(&s->lock);
    for (;;) {
        /* Keep one sample at or before INDEX at the front. */
        while (s->count >= 2 && s->samples[s->head + 1].index <= index)
            s->head++, s->count--;
        int have_next =
            s->count > 0 && s->samples[s->head + s->count - 1].index > index + s->lookahead;
        if (have_next || s->ended) break;
        pthread_cond_wait(&s->changed, &s->lock);
    }
    int n = 0;
    const struct sample *first = s->count ? &s->samples[s->head] : NULL;
    if (!first && s->status < 0) {
        if (error) *error = s->error;
        n = s->status;
    } else if (first) {
        int track = track_height(s);
        const struct sample *prev = first->index <= index ? first : NULL;
        const struct sample *next = prev ? (s->count > 1 ? first + 1 : NULL) : first;
        if (prev) n = add_sample(s, prev, index, track, lines, n, max);
        if (next && (!prev || prev->index != index))
            n = add_sample(s, next, index, track, lines, n, max);
        if (!next && s->status < 0 && (!prev || prev->index != index)) {
            if (error) *error = s->error;
            n = s->status;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

int text_scan_place(struct text_scan *s, int y0, int y1) {
    pthread_mutex_lock(&s->lock);
    int track = track_height(s);
    int at = !track || at_subtitle_place(s, track, y0, y1);
    pthread_mutex_unlock(&s->lock);
    return at;
}

void text_scan_stats(struct text_scan *s, int64_t *samples, double *seconds) {
    pthread_mutex_lock(&s->lock);
    *samples = s->runs;
    *seconds = s->seconds;
    pthread_mutex_unlock(&s->lock);
}

void text_scan_stop(struct text_scan *s) {
    if (!s) return;
    if (s->started) {
        pthread_mutex_lock(&s->lock);
        s->stop = 1;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    text_net_free(s->net);
    media_reader_free(s->reader);
    sws_freeContext(s->sws);
    sws_freeContext(s->gray);
    free(s->sample_luma), free(s->last_luma), free(s->last_prob);
    free(s->ring), free(s->ring_index);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->lock);
    free(s->samples);
    free(s->heights);
    for (int i = 0; i < 3; i++)
        free(s->places[i]);
    free(s->regions);
    free(s->rgb);
    free(s->prob);
    free(s->scratch);
    free(s);
}
