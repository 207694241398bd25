/* detect.c: subtitle pixels from their life in time (see detect.h).
 *
 * Every luma pixel carries a "run": the frame where its value last jumped and
 * the value it has held since. When a run ends with a second jump, having
 * lasted between MIN and MAX seconds, the pixel is recorded under the key
 * (start, end). A subtitle line gives thousands of pixels the same key;
 * background that stays still never jumps, and background that moves never
 * holds. Keys close in time are merged into events; an event is kept when its
 * pixels look like text (thin strokes: bright fill next to dark outline), then
 * closed and dilated into the mask that covers anti-aliasing and shadow; or
 * when they are a flat filled rectangle with strokes inside (a box drawn
 * behind the line), and then the whole rectangle is masked. */
#include "engine/detect.h"

#include <stdlib.h>
#include <string.h>

#include "util/cpu_clones.h"

/* Tuned on 8-bit luma of lossy video: compression noise on a still pixel stays
 * within about +-6 levels; a text stroke against its background differs by 25
 * or more (white on mid grey ~100, black outline on mid grey ~60). */
#define HOLD_TOLERANCE 12   /* |Y - held value| still counts as holding */
#define JUMP_MIN       24   /* a change of at least this much in one frame is a jump */
#define MIN_SECONDS    0.35 /* shortest subtitle we accept */
#define MAX_SECONDS    10.0 /* longest; also how far the detector runs ahead */
#define SETTLE_FRAMES  2    /* a lossy encoder may need this long to draw a new line sharply */
#define KEY_SLACK      2    /* frames of disagreement on start/end within one event */
#define CLOSE_RADIUS   2    /* closes gaps between strokes and fills glyph interiors */
#define GROW_RADIUS    2    /* covers the anti-aliased fringe and the shadow */
#define ABSORB_RADIUS  4    /* recorded pixels this near a stroke are part of the line */
/* Detection runs on luma box-averaged down to about this many rows: the
 * stroke test and the radii above are in pixels of a frame of that size, so
 * text is judged the same at 360p and at 4K, and a 1080p frame costs a ninth. */
#define ANALYSIS_ROWS   360
#define ECHO_OVERLAP    0.7  /* see echo_of */
#define STRONG_CONTRAST 100  /* levels: a fill next to its outline (see text_band) */
#define EDGE_SAMPLES    4096 /* stroke pixels an event keeps for detector_edge_shows */

/* Values of the core plane of an event (non-zero = passed the stroke test):
 * a strong stroke has, within 2 px, recorded pixels STRONG_CONTRAST levels
 * apart, as a fill next to its outline does and a picture's texture rarely. */
enum { STROKE = 1, STRONG_STROKE = 2 };

struct run_record {
    uint32_t pos;
    uint8_t value;         /* held through the run */
    uint8_t before, after; /* in the frames seen just before and just after it */
};

/* Pixels that share one (start, end) key, while it is still open. */
struct pending {
    int64_t start, end;
    struct run_record *pixels;
    size_t count, capacity;
    struct pending *next;
};

/* A kept subtitle event: its frames and its mask within a bounding box. */
struct event {
    int64_t start, end; /* frames [start, end) */
    int x0, y0, w, h;
    uint8_t *bits; /* w*h, 255 inside */
    uint8_t *core; /* w*h, 255 on the pixels that passed the stroke test */
    /* Open at the first frame or at the last: it may be the background that
     * a line covered, not a line (see echo_of). */
    int at_start, at_end;
    int boxed;    /* bits are the box drawn behind the line */
    int deferred; /* in the edges of the mask being made */
    /* Frames the detector did not see (a reader skipped them) between its
     * start and seen_start, or between seen_end and the end, may or may not
     * show the line: the samples, stroke pixels with the line's luma and the
     * picture's on either side, let the full frame decide (detector_edge). */
    int64_t seen_start, seen_end; /* first and last frame seen showing it */
    int samples;
    uint32_t *sample_pos;
    uint8_t *sample_text, *sample_before, *sample_after;
    struct event *next;
};

struct detector {
    int width, height;           /* of the analysis plane */
    int full_width, full_height; /* of the video */
    int scale;                   /* full = analysis * scale (box-averaged) */
    uint8_t *small;              /* the analysis plane, for detector_push */
    uint16_t *row_sums;          /* width * scale column sums, for detector_shrink */
    uint8_t *full_allowed;       /* full-size region plane, when regions are given */
    int64_t frames_in;           /* index of the last frame pushed, plus one */
    int64_t planes_in;           /* planes pushed: fewer when frames were skipped */
    int finished;
    int finishing; /* detector_finish is closing the runs still open */
    int min_frames, max_frames;
    size_t min_pixels;
    uint8_t *allowed;   /* width*height: 1 where regions allow text */
    uint8_t *held;      /* value held by the current run */
    uint8_t *last;      /* previous frame's luma */
    uint8_t *jumped_in; /* 1 if the current run began with a jump */
    int32_t *run_start; /* frame index the current run began */
    /* A run that ended softly (an encoder blurring the line away over a
     * frame or two) waits here for SETTLE_FRAMES to see if it was a jump. */
    int32_t *soft_start, *soft_end;
    uint8_t *soft_held;
    uint8_t *before;      /* the value before the current run, in the frame seen last before it */
    uint8_t *soft_before; /* the same for the soft-ended run */
    /* Which frames were seen, over the last seen_ring (twice the look-ahead,
     * past any event's start when it closes): seen[t % seen_ring] == t. */
    int64_t *seen;
    int seen_ring;
    struct pending **buckets; /* hash on (start, end) */
    size_t bucket_count;
    struct event *events;           /* kept events, ordered by end */
    uint8_t *scratch_a, *scratch_b; /* width*height work planes */
};

static void event_free(struct event *e) {
    if (!e) return;
    free(e->bits);
    free(e->core);
    free(e->sample_pos);
    free(e->sample_text);
    free(e->sample_before);
    free(e->sample_after);
    free(e);
}

static size_t bucket_of(const struct detector *d, int64_t start, int64_t end) {
    uint64_t h = (uint64_t)start * 0x9E3779B97F4A7C15ull ^ (uint64_t)end * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h >> 20) % d->bucket_count;
}

/* Sets PLANE (w*h) to 1 over the box [x0, x1) x [y0, y1), clipped. */
static void mark_region(uint8_t *plane, int w, int h, int x0, int y0, int x1, int y1) {
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w) x1 = w;
    if (y1 > h) y1 = h;
    for (int y = y0; y < y1 && x1 > x0; y++)
        memset(plane + (size_t)y * w + x0, 1, (size_t)(x1 - x0));
}

struct detector *detector_new(int width, int height, double fps, const struct vsr_region *regions,
                              int region_count) {
    struct detector *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    int scale = (width < height ? width : height) / ANALYSIS_ROWS;
    if (scale < 1) scale = 1;
    d->full_width = width;
    d->full_height = height;
    d->scale = scale;
    width /= scale;
    height /= scale;
    size_t n = (size_t)width * (size_t)height;
    d->width = width;
    d->height = height;
    if (fps <= 0 || fps > 1000) fps = 25;
    d->min_frames = (int)(MIN_SECONDS * fps + 0.5);
    if (d->min_frames < 3) d->min_frames = 3;
    d->max_frames = (int)(MAX_SECONDS * fps + 0.5);
    /* A short word at the smallest readable size still covers ~0.05% of a frame. */
    d->min_pixels = n / 2000 > 40 ? n / 2000 : 40;
    d->bucket_count = 4093;
    d->allowed = malloc(n);
    d->held = calloc(n, 1);
    d->last = calloc(n, 1);
    d->jumped_in = calloc(n, 1);
    d->run_start = calloc(n, sizeof *d->run_start);
    d->soft_start = calloc(n, sizeof *d->soft_start);
    d->soft_end = calloc(n, sizeof *d->soft_end);
    d->soft_held = calloc(n, 1);
    d->before = calloc(n, 1);
    d->soft_before = calloc(n, 1);
    d->seen_ring = 2 * detector_lookahead(d) + 64;
    d->seen = malloc((size_t)d->seen_ring * sizeof *d->seen);
    d->buckets = calloc(d->bucket_count, sizeof *d->buckets);
    d->scratch_a = malloc(n);
    d->scratch_b = malloc(n);
    if (!(d->small = malloc(n)) ||
        !(d->row_sums = malloc((size_t)width * scale * sizeof *d->row_sums))) {
        detector_free(d);
        return NULL;
    }
    if (!d->allowed || !d->held || !d->last || !d->jumped_in || !d->run_start || !d->buckets ||
        !d->soft_start || !d->soft_end || !d->soft_held || !d->scratch_a || !d->scratch_b ||
        !d->before || !d->soft_before || !d->seen) {
        detector_free(d);
        return NULL;
    }
    for (int i = 0; i < d->seen_ring; i++)
        d->seen[i] = -1;
    if (region_count <= 0 || !regions) {
        memset(d->allowed, 1, n);
    } else {
        /* Regions are in video pixels: the analysis plane looks wherever a
         * region touches, and masks are clipped to the regions at full size. */
        d->full_allowed = calloc((size_t)d->full_width * d->full_height, 1);
        if (!d->full_allowed) {
            detector_free(d);
            return NULL;
        }
        memset(d->allowed, 0, n);
        for (int i = 0; i < region_count; i++) {
            mark_region(d->full_allowed, d->full_width, d->full_height, regions[i].x, regions[i].y,
                        regions[i].x + regions[i].w, regions[i].y + regions[i].h);
            mark_region(d->allowed, width, height, regions[i].x / scale, regions[i].y / scale,
                        (regions[i].x + regions[i].w + scale - 1) / scale,
                        (regions[i].y + regions[i].h + scale - 1) / scale);
        }
    }
    return d;
}

static void pending_free(struct pending *p) {
    if (!p) return;
    free(p->pixels);
    free(p);
}

void detector_free(struct detector *d) {
    if (!d) return;
    for (size_t b = 0; d->buckets && b < d->bucket_count; b++) {
        struct pending *p = d->buckets[b];
        while (p) {
            struct pending *next = p->next;
            pending_free(p);
            p = next;
        }
    }
    struct event *e = d->events;
    while (e) {
        struct event *next = e->next;
        event_free(e);
        e = next;
    }
    free(d->allowed);
    free(d->held);
    free(d->last);
    free(d->jumped_in);
    free(d->run_start);
    free(d->soft_start);
    free(d->soft_end);
    free(d->soft_held);
    free(d->before);
    free(d->soft_before);
    free(d->seen);
    free(d->buckets);
    free(d->scratch_a);
    free(d->scratch_b);
    free(d->small);
    free(d->row_sums);
    free(d->full_allowed);
    free(d);
}

/* Share of A's core pixels that are also core pixels of B. */
static double core_overlap(const struct event *a, const struct event *b) {
    size_t in_a = 0, in_both = 0;
    for (int y = 0; y < a->h; y++)
        for (int x = 0; x < a->w; x++) {
            if (!a->core[(size_t)y * a->w + x]) continue;
            in_a++;
            int bx = x + a->x0 - b->x0, by = y + a->y0 - b->y0;
            if (bx >= 0 && by >= 0 && bx < b->w && by < b->h && b->core[(size_t)by * b->w + bx])
                in_both++;
        }
    return in_a ? (double)in_both / (double)in_a : 0;
}

/* Whether event E, open at the first or the last frame, is the echo of a
 * line next to it in time: a still textured background looks like a line
 * that ends (or starts) exactly when the real line starts (or ends), on the
 * same pixels. A real line there would give the same pixels only if the same
 * text were shown twice in a row. */
static int echo_of(const struct detector *d, const struct event *e) {
    int slack = KEY_SLACK + SETTLE_FRAMES + 1;
    for (const struct event *o = d->events; o; o = o->next) {
        if (o == e) continue;
        /* Stored ends are one frame late (see keep_event). */
        int64_t gap = e->at_start ? o->start - (e->end - 1) : e->start - (o->end - 1);
        if (gap < -slack || gap > slack) continue;
        if (core_overlap(e, o) >= ECHO_OVERLAP) return 1;
        /* The background a box covered has the box's outline. */
        if (o->boxed && abs(e->x0 - o->x0) <= 2 && abs(e->y0 - o->y0) <= 2 &&
            abs(e->w - o->w) <= 2 && abs(e->h - o->h) <= 2)
            return 1;
    }
    return 0;
}

static int record_run(struct detector *d, uint32_t pos, int64_t start, int64_t end, uint8_t value,
                      uint8_t before, uint8_t after) {
    size_t b = bucket_of(d, start, end);
    struct pending *p = d->buckets[b];
    while (p && (p->start != start || p->end != end))
        p = p->next;
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p) return VSR_E_NOMEM;
        p->start = start;
        p->end = end;
        p->next = d->buckets[b];
        d->buckets[b] = p;
    }
    if (p->count == p->capacity) {
        size_t cap = p->capacity ? p->capacity * 2 : 64;
        struct run_record *grown = realloc(p->pixels, cap * sizeof *grown);
        if (!grown) return VSR_E_NOMEM;
        p->pixels = grown;
        p->capacity = cap;
    }
    p->pixels[p->count++] = (struct run_record){pos, value, before, after};
    return 0;
}

/* Binary dilation of SRC (0/255, w*h) by a square of radius R into DST,
 * separably: rows, then columns. TMP is w*h scratch. */
static void dilate(uint8_t *dst, const uint8_t *src, uint8_t *tmp, int w, int h, int r) {
    for (int y = 0; y < h; y++) {
        const uint8_t *s = src + (size_t)y * w;
        uint8_t *t = tmp + (size_t)y * w;
        int last_on = -1000000;
        for (int x = 0; x < w + r; x++) {
            if (x < w && s[x]) last_on = x;
            int out = x - r;
            if (out >= 0) t[out] = (x - last_on <= 2 * r) ? 255 : 0;
        }
    }
    for (int x = 0; x < w; x++) {
        int last_on = -1000000;
        for (int y = 0; y < h + r; y++) {
            if (y < h && tmp[(size_t)y * w + x]) last_on = y;
            int out = y - r;
            if (out >= 0) dst[(size_t)out * w + x] = (y - last_on <= 2 * r) ? 255 : 0;
        }
    }
}

/* Binary erosion: the complement of dilating the complement. Pixels beyond
 * the border count as set, so shapes touching the border are not eaten. */
static void erode(uint8_t *dst, const uint8_t *src, uint8_t *tmp, int w, int h, int r) {
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] ? 0 : 255;
    dilate(dst, dst, tmp, w, h, r);
    for (size_t i = 0; i < n; i++)
        dst[i] = dst[i] ? 0 : 255;
}

/* Whether the recorded pixels VALS (value+1, 0 = not recorded; bw x bh) that
 * failed the stroke test (CORE clear) are the box drawn behind a line: they
 * fill much of the rectangle [x0, x1] x [y0, y1], hold one flat value, and
 * the strokes sit inside. A poster or a sign that comes and goes is textured,
 * and a still object that moved in is not a filled rectangle with text. */
static int is_box(const uint16_t *vals, const uint8_t *core, int bw, int x0, int y0, int x1, int y1,
                  int frame_height, size_t min_strokes) {
    int rw = x1 - x0 + 1, rh = y1 - y0 + 1;
    if (rh > frame_height / 3 || rw < rh) return 0; /* a band, wider than tall */
    size_t recorded = 0, flat_count = 0, inner_strokes = 0, histogram[257] = {0};
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            size_t i = (size_t)y * bw + x;
            if (!vals[i]) continue;
            recorded++;
            if (!core[i]) {
                histogram[vals[i]]++;
                flat_count++;
            } else if (x - x0 > 2 && x1 - x > 2 && y - y0 > 2 && y1 - y > 2) {
                inner_strokes++; /* not the box's own blended edge */
            }
        }
    /* Box pixels jump only where the background differed from the box, so
     * a dark box over a dark scene is recorded in part: a quarter will do. */
    if (recorded * 4 < (size_t)rw * rh) return 0;
    /* Text inside, and not a few specks: the background a box leaves behind
     * has the box's outline too, but little that passes for strokes. */
    if (inner_strokes < min_strokes || inner_strokes * 10 < flat_count) return 0;
    /* And a box: outlined text leaves a few per cent of its pixels flat. */
    if (flat_count < min_strokes || flat_count * 5 < recorded) return 0;
    /* The box's own pixels: most within HOLD_TOLERANCE of their median. */
    size_t seen = 0;
    int median = 0;
    while (median < 256 && (seen += histogram[median]) * 2 < flat_count)
        median++;
    size_t near = 0;
    for (int v = median - HOLD_TOLERANCE; v <= median + HOLD_TOLERANCE; v++)
        if (v >= 0 && v <= 256) near += histogram[v];
    return near * 5 >= flat_count * 4;
}

/* Rows spanned by the middle 96% of the COUNT set pixels of CORE (bw x bh):
 * the height of the band they lie in, stray pixels aside. */
static int stroke_band(const uint8_t *core, int bw, int bh, size_t count) {
    size_t seen = 0, low = count / 50, high = count - count / 50;
    int first = -1, last = -1;
    for (int y = 0; y < bh; y++) {
        for (int x = 0; x < bw; x++)
            seen += core[(size_t)y * bw + x] != 0;
        if (first < 0 && seen > low) first = y;
        if (last < 0 && seen >= high) last = y;
    }
    return first < 0 || last < 0 ? 0 : last - first + 1;
}

/* A shot that lasts as long as a line (on at one cut, off at the next)
 * records its own textured pixels under the line's key. Finds the line in
 * such an event: the band of rows (a sixth of the frame) with the most
 * strokes of fill-against-outline contrast, at least MIN_STROKES of them and
 * 6 times as many per row as the rows a band's height above and below, and
 * leaving margins at both sides of the frame (a floor or a shelf runs across
 * the picture; a line does not). Sets [*y0, *y1) and returns 1, else 0. */
static int text_band(const uint8_t *core, int bw, int bh, int x_offset, int frame_width,
                     int frame_height, long min_strokes, int *y0, int *y1) {
    int span = frame_height / 6, best = -1;
    long *rows = calloc((size_t)bh + 1, sizeof *rows), best_sum = 0; /* prefix sums */
    if (!rows || span < 4 || bh < 3 * span) {
        free(rows);
        return 0;
    }
    for (int y = 0; y < bh; y++) {
        long n = 0;
        for (int x = 0; x < bw; x++)
            n += core[(size_t)y * bw + x] == STRONG_STROKE;
        rows[y + 1] = rows[y] + n;
    }
    for (int y = 0; y + span <= bh; y++)
        if (rows[y + span] - rows[y] > best_sum) {
            best_sum = rows[y + span] - rows[y];
            best = y;
        }
    int found = 0;
    if (best >= 0) {
        /* The rows a band's height above and below it. */
        int a0 = best - span < 0 ? 0 : best - span,
            b1 = best + 2 * span > bh ? bh : best + 2 * span;
        long around = (rows[best] - rows[a0]) + (rows[b1] - rows[best + span]);
        int around_rows = (best - a0) + (b1 - best - span);
        found = best_sum >= min_strokes && around_rows > 0 &&
                best_sum * around_rows >= 6 * around * span;
    }
    if (found) {
        /* A line leaves margins at both sides; a floor or a shelf that runs
         * across the picture does not. */
        long seen = 0, lo_at = best_sum / 50, hi_at = best_sum - best_sum / 50;
        int left = -1, right = -1;
        for (int x = 0; x < bw && right < 0; x++) {
            for (int y = best; y < best + span; y++)
                seen += core[(size_t)y * bw + x] == STRONG_STROKE;
            if (left < 0 && seen > lo_at) left = x;
            if (seen >= hi_at) right = x;
        }
        int margin = frame_width * 3 / 100;
        found = left >= 0 && right >= 0 && left + x_offset >= margin &&
                right + x_offset < frame_width - margin;
    }
    if (found) {
        *y0 = best;
        *y1 = best + span;
    }
    free(rows);
    return found;
}

static int was_seen(const struct detector *d, int64_t t) {
    return t >= 0 && d->seen[t % d->seen_ring] == t;
}

/* Whether analysis pixel POS lies on STROKES, a plane of BW x BH at X0, Y0. */
static int on_stroke(const struct detector *d, uint32_t pos, const uint8_t *strokes, int x0, int y0,
                     int bw, int bh) {
    int x = (int)(pos % (uint32_t)d->width) - x0, y = (int)(pos / (uint32_t)d->width) - y0;
    return x >= 0 && y >= 0 && x < bw && y < bh && strokes[(size_t)y * bw + x];
}

/* Keeps, for E, up to EDGE_SAMPLES of the stroke pixels (STROKES, over the
 * box at X0, Y0 of BW x BH) with their luma in the line and on either side
 * of it: an even spread, every k-th. Returns 0 or -1. */
static int take_samples(const struct detector *d, struct event *e, struct pending **group,
                        int group_count, const uint8_t *strokes, int x0, int y0, int bw, int bh) {
    size_t count = 0;
    for (int g = 0; g < group_count; g++)
        for (size_t i = 0; i < group[g]->count; i++)
            count += on_stroke(d, group[g]->pixels[i].pos, strokes, x0, y0, bw, bh);
    size_t step = count / EDGE_SAMPLES + 1, keep = count / step + 1;
    e->sample_pos = malloc(keep * sizeof *e->sample_pos);
    e->sample_text = malloc(keep);
    e->sample_before = malloc(keep);
    e->sample_after = malloc(keep);
    if (!e->sample_pos || !e->sample_text || !e->sample_before || !e->sample_after) return -1;
    size_t seen = 0;
    for (int g = 0; g < group_count; g++)
        for (size_t i = 0; i < group[g]->count; i++) {
            const struct run_record *r = &group[g]->pixels[i];
            if (!on_stroke(d, r->pos, strokes, x0, y0, bw, bh)) continue;
            if (seen++ % step || (size_t)e->samples == keep) continue;
            e->sample_pos[e->samples] = r->pos;
            e->sample_text[e->samples] = r->value;
            e->sample_before[e->samples] = r->before;
            e->sample_after[e->samples] = r->after;
            e->samples++;
        }
    return 0;
}

/* Decides whether the pixels of one merged event look like a subtitle, and if
 * so turns them into a mask event. Strokes of rendered text are thin: nearly
 * every recorded pixel has, within a 5x5 window, another recorded pixel at
 * least JUMP_MIN levels apart (fill against outline). A still object that came
 * and went is mostly uniform inside and fails this. */
static int keep_event(struct detector *d, struct pending **group, int group_count) {
    int w = d->width, h = d->height;
    size_t total = 0;
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    /* The anchor (group[0], the most pixels) times the event: stragglers
     * that jumped a frame late must not stretch it. */
    int64_t start = group[0]->start, end = group[0]->end;
    /* The frames seen first and last showing it (at the end of the video,
     * the one before the end's jump was seen). A run is timed from the
     * frame after the last plane before it, so that frames not seen are
     * masked rather than missed; but it is only known to hold on the planes
     * seen, and those must span the shortest line too. When a reader skips
     * frames, something moving can look still on a few planes seen (a car's
     * flat side, at 12.5 fps), and would otherwise pass for a line. */
    int64_t seen_start = start, seen_end = end - 1;
    while (seen_start < end && !was_seen(d, seen_start))
        seen_start++;
    while (seen_end > seen_start && !was_seen(d, seen_end))
        seen_end--;
    if (seen_end - seen_start + 1 < d->min_frames) return 0;
    for (int g = 0; g < group_count; g++) {
        total += group[g]->count;
        for (size_t i = 0; i < group[g]->count; i++) {
            int x = (int)(group[g]->pixels[i].pos % (uint32_t)w);
            int y = (int)(group[g]->pixels[i].pos / (uint32_t)w);
            if (x < x0) x0 = x;
            if (x > x1) x1 = x;
            if (y < y0) y0 = y;
            if (y > y1) y1 = y;
        }
    }
    if (total < d->min_pixels) return 0;
    int rx0 = x0, ry0 = y0, rx1 = x1, ry1 = y1; /* the recorded pixels' rectangle */

    /* Grow the box so closing and growing have room. */
    int pad = CLOSE_RADIUS + GROW_RADIUS + 2;
    x0 = x0 - pad < 0 ? 0 : x0 - pad;
    y0 = y0 - pad < 0 ? 0 : y0 - pad;
    x1 = x1 + pad >= w ? w - 1 : x1 + pad;
    y1 = y1 + pad >= h ? h - 1 : y1 + pad;
    int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
    size_t bn = (size_t)bw * bh;
    /* value+1 in a 16-bit plane: 0 means "not recorded". */
    uint16_t *vals = calloc(bn, sizeof *vals);
    uint8_t *core = calloc(bn, 1), *tmp = malloc(bn), *bits = malloc(bn), *strokes_kept = NULL;
    int kept = 0;
    if (!vals || !core || !tmp || !bits) goto done;
    for (int g = 0; g < group_count; g++)
        for (size_t i = 0; i < group[g]->count; i++) {
            int x = (int)(group[g]->pixels[i].pos % (uint32_t)w) - x0;
            int y = (int)(group[g]->pixels[i].pos / (uint32_t)w) - y0;
            vals[(size_t)y * bw + x] = (uint16_t)(group[g]->pixels[i].value + 1);
        }
    /* Stroke test, pixel by pixel; pixels that fail are dropped. */
    size_t strokes = 0;
    for (int y = 0; y < bh; y++)
        for (int x = 0; x < bw; x++) {
            int v = vals[(size_t)y * bw + x];
            if (!v) continue;
            int lo = v, hi = v, near = 0;
            for (int dy = -2; dy <= 2; dy++) {
                int yy = y + dy;
                if (yy < 0 || yy >= bh) continue;
                for (int dx = -2; dx <= 2; dx++) {
                    int xx = x + dx;
                    if (xx < 0 || xx >= bw) continue;
                    int u = vals[(size_t)yy * bw + xx];
                    if (!u) continue;
                    near++;
                    if (u < lo) lo = u;
                    if (u > hi) hi = u;
                }
            }
            if (near >= 4 && hi - lo >= JUMP_MIN) {
                core[(size_t)y * bw + x] = hi - lo >= STRONG_CONTRAST ? STRONG_STROKE : STROKE;
                strokes++;
            }
        }
    /* Most of the frame jumped at both ends: a shot, with perhaps a line
     * timed to it. Keep the line's strokes only, or nothing. */
    if (total > (size_t)w * h / 4) {
        int band0, band1;
        if (!text_band(core, bw, bh, x0, w, h, 4 * (long)d->min_pixels, &band0, &band1)) goto done;
        /* The line's own strokes: those of the band next to a contrast as
         * strong as fill against outline. The shot's other pixels in the
         * band stay recorded only to be absorbed where they touch them. */
        strokes = 0;
        for (int y = 0; y < bh; y++)
            for (int x = 0; x < bw; x++) {
                size_t i = (size_t)y * bw + x;
                if (y < band0 || y >= band1) {
                    core[i] = 0;
                    vals[i] = 0;
                } else if (core[i] == STRONG_STROKE) {
                    strokes++;
                } else {
                    core[i] = 0;
                }
            }
        total = strokes; /* judged by the band's strokes alone */
    }
    /* Open at the first or the last frame, an event may be a still part of
     * the picture (a person standing, then walking off) rather than a line;
     * lines lie in a band, so a tall one is taken for the picture. */
    int open_ended = start == 0 || (d->finishing && end == d->frames_in);
    if (open_ended && strokes && stroke_band(core, bw, bh, strokes) * 3 > h) goto done;
    /* Most of a subtitle's pixels pass; most of a still object's do not,
     * unless it is the flat box drawn behind the text. */
    if (strokes < d->min_pixels) goto done;
    int boxed = is_box(vals, core, bw, rx0 - x0, ry0 - y0, rx1 - x0, ry1 - y0, h, d->min_pixels);
    if (!boxed && strokes * 10 < total * 6) goto done;
    /* A subtitle covers a band, not the frame (that would be a scene cut). */
    if (strokes > (size_t)w * h / 4) goto done;
    strokes_kept = malloc(bn);
    if (!strokes_kept) goto done;
    memcpy(strokes_kept, core, bn);
    if (boxed) { /* the whole rectangle: box pixels that matched the background did not jump */
        memset(core, 0, bn);
        for (int y = ry0 - y0; y <= ry1 - y0; y++)
            memset(core + (size_t)y * bw + (rx0 - x0), 255, (size_t)(rx1 - rx0 + 1));
    } else {
        /* The middle of a bold stroke is flat and fails the stroke test, as
         * does a shadow next to the outline; but those pixels jumped with the
         * line: take every recorded pixel near the strokes. */
        dilate(bits, core, tmp, bw, bh, ABSORB_RADIUS);
        for (size_t i = 0; i < bn; i++)
            if (bits[i] && vals[i]) core[i] = 255;
        dilate(bits, core, tmp, bw, bh, CLOSE_RADIUS);
        erode(core, bits, tmp, bw, bh, CLOSE_RADIUS);
    }
    dilate(bits, core, tmp, bw, bh, GROW_RADIUS);
    for (int y = 0; y < bh; y++)
        for (int x = 0; x < bw; x++)
            if (!d->allowed[(size_t)(y + y0) * w + x + x0]) bits[(size_t)y * bw + x] = 0;

    struct event *e = calloc(1, sizeof *e);
    if (!e) goto done;
    if (take_samples(d, e, group, group_count, strokes_kept, x0, y0, bw, bh) < 0) {
        event_free(e);
        goto done;
    }
    e->start = start;
    e->end = end + 1; /* the frame after may still hold a blurred trace */
    e->seen_start = seen_start;
    e->seen_end = seen_end;
    e->core = strokes_kept;
    strokes_kept = NULL;
    e->at_start = start == 0;
    e->at_end = d->finishing && end == d->frames_in;
    e->boxed = boxed;
    e->x0 = x0;
    e->y0 = y0;
    e->w = bw;
    e->h = bh;
    e->bits = bits;
    bits = NULL;
    if (e->at_end && echo_of(d, e)) {
        event_free(e);
        goto done;
    }
    /* Keep the list ordered by end, so masks can free what has passed. */
    struct event **at = &d->events;
    while (*at && (*at)->end <= e->end)
        at = &(*at)->next;
    e->next = *at;
    *at = e;
    kept = 1;
done:
    free(vals);
    free(strokes_kept);
    free(core);
    free(tmp);
    free(bits);
    return kept;
}

/* Closes every pending key that ended at least KEY_SLACK+1 frames before
 * frame NOW (all keys it could merge with are then complete), or every key
 * when FLUSH is set. */
static int close_pending(struct detector *d, int64_t now, int flush) {
    enum { GROUP_MAX = 64 };
    for (;;) {
        /* The ripe key with the most pixels anchors the next event. */
        struct pending *anchor = NULL;
        for (size_t b = 0; b < d->bucket_count; b++)
            for (struct pending *p = d->buckets[b]; p; p = p->next)
                if ((flush || p->end + KEY_SLACK + SETTLE_FRAMES + 1 <= now) &&
                    (!anchor || p->count > anchor->count))
                    anchor = p;
        if (!anchor) return 0;
        struct pending *group[GROUP_MAX];
        int group_count = 1;
        group[0] = anchor;
        int64_t s = anchor->start, e = anchor->end;
        /* Take the anchor and its close neighbours out of the table. */
        for (size_t b = 0; b < d->bucket_count; b++) {
            struct pending **link = &d->buckets[b];
            while (*link) {
                struct pending *p = *link;
                int close = llabs(p->start - s) <= KEY_SLACK && llabs(p->end - e) <= KEY_SLACK;
                if (p == anchor) {
                    *link = p->next;
                } else if (close && group_count < GROUP_MAX) {
                    *link = p->next;
                    group[group_count++] = p;
                } else {
                    link = &p->next;
                }
            }
        }
        /* The largest key of the group times the event. */
        for (int g = 1; g < group_count; g++)
            if (group[g]->count > group[0]->count) {
                struct pending *t = group[0];
                group[0] = group[g];
                group[g] = t;
            }
        keep_event(d, group, group_count);
        for (int g = 0; g < group_count; g++)
            pending_free(group[g]);
    }
}

/* Box-averages the frame's luma down to the analysis plane, S x S pixels
 * each: rows are summed first (a loop the compiler vectorizes), then groups
 * of S columns. Inlined with S a constant for the common scales, so that the
 * division becomes a multiplication. */
static inline void shrink_by(const struct detector *d, const AVFrame *frame, uint8_t *plane,
                             uint16_t *sums, int s) {
    int w = d->width, area = s * s;
    for (int y = 0; y < d->height; y++) {
        const uint8_t *top = frame->data[0] + (size_t)y * s * frame->linesize[0];
        for (int x = 0; x < w * s; x++)
            sums[x] = top[x];
        for (int j = 1; j < s; j++) {
            const uint8_t *p = top + (size_t)j * frame->linesize[0];
            for (int x = 0; x < w * s; x++)
                sums[x] = (uint16_t)(sums[x] + p[x]);
        }
        uint8_t *out = plane + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            int sum = 0;
            for (int i = 0; i < s; i++)
                sum += sums[x * s + i];
            out[x] = (uint8_t)((sum + area / 2) / area);
        }
    }
}

void detector_plane_size(const struct detector *d, int *width, int *height) {
    *width = d->width;
    *height = d->height;
}

size_t detector_shrink_scratch(const struct detector *d) {
    return (size_t)d->width * (size_t)d->scale;
}

CPU_CLONES
void detector_shrink(const struct detector *d, const AVFrame *frame, uint8_t *plane,
                     uint16_t *row_sums) {
    switch (d->scale) {
    case 1:
        for (int y = 0; y < d->height; y++)
            memcpy(plane + (size_t)y * d->width, frame->data[0] + (size_t)y * frame->linesize[0],
                   (size_t)d->width);
        break;
    case 2:
        shrink_by(d, frame, plane, row_sums, 2);
        break;
    case 3:
        shrink_by(d, frame, plane, row_sums, 3);
        break;
    case 4:
        shrink_by(d, frame, plane, row_sums, 4);
        break;
    case 6:
        shrink_by(d, frame, plane, row_sums, 6);
        break;
    default:
        shrink_by(d, frame, plane, row_sums, d->scale);
        break;
    }
}

int detector_lookahead(const struct detector *d) {
    return d->max_frames + KEY_SLACK + SETTLE_FRAMES + 2;
}

int detector_push(struct detector *d, const AVFrame *frame) {
    detector_shrink(d, frame, d->small, d->row_sums);
    return detector_push_plane(d, d->small);
}

/* Whether each of the N pixels from I on merely holds its run (no soft end
 * pending, within HOLD_TOLERANCE of the held value): then all their state
 * change is last = v, which the caller does at once. Most pixels of most
 * frames are such; the test is written so that it vectorizes. */
static inline int all_holding(const struct detector *d, const uint8_t *v, size_t i, int n) {
    int moved = 0;
    for (int k = 0; k < n; k++) {
        int diff = v[k] - d->held[i + k];
        moved |= (diff > HOLD_TOLERANCE) | (diff < -HOLD_TOLERANCE) | (d->soft_end[i + k] != 0);
    }
    return !moved;
}

int detector_push_plane(struct detector *d, const uint8_t *plane) {
    return detector_push_plane_at(d, plane, d->frames_in);
}

CPU_CLONES
int detector_push_plane_at(struct detector *d, const uint8_t *plane, int64_t t) {
    enum { CHUNK = 32 };
    int w = d->width, h = d->height;
    if (t < d->frames_in) t = d->frames_in;
    int first = d->planes_in == 0;
    /* A change seen now happened in one of the frames since the last plane:
     * the run starts at the earliest, so that frames not seen are masked
     * rather than missed. */
    int64_t since = d->frames_in;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = plane + (size_t)y * w;
        size_t base = (size_t)y * w;
        for (int x = 0; x < w; x++) {
            size_t i = base + x;
            if (!first && x % CHUNK == 0 && x + CHUNK <= w && all_holding(d, row + x, i, CHUNK)) {
                memcpy(d->last + i, row + x, CHUNK);
                x += CHUNK - 1;
                continue;
            }
            int v = row[x];
            if (first) {
                d->before[i] = (uint8_t)v;
                d->held[i] = (uint8_t)v;
                d->run_start[i] = 0;
                d->jumped_in[i] = 1; /* a line may already be on screen at frame 0 */
                d->last[i] = (uint8_t)v;
                continue;
            }
            /* A soft end a frame or two ago that has now become a jump. */
            if (d->soft_end[i]) {
                int far = v - d->soft_held[i];
                if (far < 0) far = -far;
                if (t - d->soft_end[i] > SETTLE_FRAMES) {
                    d->soft_end[i] = 0;
                } else if (far >= JUMP_MIN) {
                    int rc = record_run(d, (uint32_t)i, d->soft_start[i], d->soft_end[i],
                                        d->soft_held[i], d->soft_before[i], (uint8_t)v);
                    if (rc) return rc;
                    d->soft_end[i] = 0;
                }
            }
            int diff = v - d->held[i];
            if (diff < 0) diff = -diff;
            if (diff <= HOLD_TOLERANCE) {
                d->last[i] = (uint8_t)v;
                continue;
            }
            int step = v - d->last[i];
            if (step < 0) step = -step;
            int jumped = step >= JUMP_MIN || diff >= 2 * JUMP_MIN;
            int64_t len = t - d->run_start[i];
            /* Still settling after a jump: the run keeps its start. */
            if (len <= SETTLE_FRAMES && d->jumped_in[i] && d->run_start[i] > 0) {
                d->held[i] = (uint8_t)v;
                d->last[i] = (uint8_t)v;
                continue;
            }
            int candidate =
                d->jumped_in[i] && len >= d->min_frames && len <= d->max_frames && d->allowed[i];
            if (candidate && jumped) {
                int rc = record_run(d, (uint32_t)i, d->run_start[i], t, d->held[i], d->before[i],
                                    (uint8_t)v);
                if (rc) return rc;
            } else if (candidate) {
                d->soft_start[i] = d->run_start[i];
                d->soft_end[i] = (int32_t)t;
                d->soft_held[i] = d->held[i];
                d->soft_before[i] = d->before[i];
            }
            /* A jump right after a short run: the line came in over two frames
             * (soft start); the run begins where the change began. */
            int64_t begin =
                jumped && len <= SETTLE_FRAMES && d->run_start[i] > 0 ? d->run_start[i] : since;
            if (begin == since) d->before[i] = d->last[i]; /* a new run, not a settling one */
            d->held[i] = (uint8_t)v;
            d->run_start[i] = (int32_t)begin;
            d->jumped_in[i] = (uint8_t)jumped;
            d->last[i] = (uint8_t)v;
        }
    }
    d->frames_in = t + 1;
    d->planes_in++;
    d->seen[t % d->seen_ring] = t;
    return close_pending(d, d->frames_in, 0);
}

void detector_finish(struct detector *d) {
    detector_finish_at(d, d->frames_in);
}

void detector_finish_at(struct detector *d, int64_t frames) {
    if (d->finished) return;
    /* Lines still on screen at the end close with the video, over any frames
     * after the last plane. */
    if (frames > d->frames_in) d->frames_in = frames;
    int64_t t = d->frames_in;
    size_t n = (size_t)d->width * d->height;
    for (size_t i = 0; i < n; i++) {
        int64_t len = t - d->run_start[i];
        if (d->jumped_in[i] && d->run_start[i] > 0 && len >= d->min_frames &&
            len <= d->max_frames && d->allowed[i])
            record_run(d, (uint32_t)i, d->run_start[i], t, d->held[i], d->before[i], d->held[i]);
    }
    d->finishing = 1;
    close_pending(d, t, 1);
    d->finishing = 0;
    d->finished = 1;
}

/* ORs the analysis-plane BITS (W x H at X0, Y0) into the full-size MASK:
 * each analysis pixel covers a scale x scale block, the last row and column
 * reach the edge. A run of set pixels is one memset per full-size row: a
 * memset per pixel was a third of the detector thread's time at 1080p. */
static void paint_bits(const struct detector *d, int x0, int y0, int w, int h, const uint8_t *bits,
                       uint8_t *mask) {
    int s = d->scale, fw = d->full_width, fh = d->full_height;
    for (int y = 0; y < h; y++) {
        const uint8_t *src = bits + (size_t)y * w;
        int ly = y + y0;
        int row0 = ly * s, row1 = ly == d->height - 1 ? fh : row0 + s;
        for (int x = 0; x < w;) {
            if (!src[x]) {
                x++;
                continue;
            }
            int first = x;
            while (x < w && src[x])
                x++;
            int last = x0 + x - 1; /* the run's last analysis column */
            int col0 = (x0 + first) * s, col1 = last == d->width - 1 ? fw : (last + 1) * s;
            for (int r = row0; r < row1; r++)
                memset(mask + (size_t)r * fw + col0, 255, (size_t)(col1 - col0));
        }
    }
}

static void paint_event(const struct detector *d, const struct event *e, uint8_t *mask) {
    paint_bits(d, e->x0, e->y0, e->w, e->h, e->bits, mask);
}

/* Whether an event open at the first frame covers INDEX and the line that
 * may follow it (see echo_of) could still be unseen. */
static int start_undecided(const struct detector *d, int64_t index) {
    for (const struct event *e = d->events; e; e = e->next)
        if (e->at_start && e->start <= index && d->frames_in < e->end + detector_lookahead(d))
            return 1;
    return 0;
}

/* The full-size rows [*y0, *y1) a box at row BOX_Y0, BOX_H rows high, paints. */
static void box_rows(const struct detector *d, int box_y0, int box_h, int *y0, int *y1) {
    *y0 = box_y0 * d->scale;
    int last = box_y0 + box_h - 1;
    *y1 = last == d->height - 1 ? d->full_height : (last + 1) * d->scale;
}

static void event_rows(const struct detector *d, const struct event *e, int *y0, int *y1) {
    box_rows(d, e->y0, e->h, y0, y1);
}

/* Clears the pixels of MASK's rows [Y0, Y1) that no region allows. */
static void clip_to_regions(const struct detector *d, uint8_t *mask, int y0, int y1) {
    if (!d->full_allowed) return;
    size_t fw = (size_t)d->full_width;
    for (size_t i = (size_t)y0 * fw; i < (size_t)y1 * fw; i++)
        if (!d->full_allowed[i]) mask[i] = 0;
}

/* Whether INDEX is a frame of E the detector did not see, between the line's
 * first (or last) frame seen and the frame before it seen without (after). */
static int on_edge(const struct event *e, int64_t index) {
    return index < e->seen_start || (index > e->seen_end && index < e->end - 1);
}

/* Copies E's box and samples into EDGE, as seen on frame INDEX. */
static int edge_copy(struct detector_edge *edge, const struct event *e, int64_t index) {
    size_t bits = (size_t)e->w * e->h;
    if (bits > edge->bits_capacity) {
        uint8_t *grown = realloc(edge->bits, bits);
        if (!grown) return -1;
        edge->bits = grown;
        edge->bits_capacity = bits;
    }
    if ((size_t)e->samples > edge->samples_capacity) {
        size_t n = (size_t)e->samples;
        uint32_t *pos = realloc(edge->pos, n * sizeof *pos);
        if (pos) edge->pos = pos;
        uint8_t *text = realloc(edge->text, n);
        if (text) edge->text = text;
        uint8_t *other = realloc(edge->other, n);
        if (other) edge->other = other;
        if (!pos || !text || !other) return -1;
        edge->samples_capacity = n;
    }
    edge->x0 = e->x0;
    edge->y0 = e->y0;
    edge->w = e->w;
    edge->h = e->h;
    memcpy(edge->bits, e->bits, bits);
    edge->samples = e->samples;
    memcpy(edge->pos, e->sample_pos, (size_t)e->samples * sizeof *edge->pos);
    memcpy(edge->text, e->sample_text, (size_t)e->samples);
    memcpy(edge->other, index < e->seen_start ? e->sample_before : e->sample_after,
           (size_t)e->samples);
    return 0;
}

int detector_mask_rows(struct detector *d, int64_t index, uint8_t *mask, int *y0, int *y1) {
    return detector_mask_edges(d, index, mask, y0, y1, NULL);
}

int detector_mask_edges(struct detector *d, int64_t index, uint8_t *mask, int *y0, int *y1,
                        struct detector_edges *edges) {
    *y0 = *y1 = 0;
    if (edges) edges->count = 0;
    /* Every event covering INDEX has ended, and been closed, by now. */
    if (!d->finished && (d->frames_in < index + detector_lookahead(d) || start_undecided(d, index)))
        return 0;
    int band0 = d->full_height, band1 = 0;
    struct event **link = &d->events;
    while (*link) {
        struct event *e = *link;
        int echo = e->at_start && echo_of(d, e);
        e->at_start = 0;               /* decided */
        if (e->end <= index || echo) { /* passed, or not text */
            *link = e->next;
            event_free(e);
            continue;
        }
        e->deferred = 0;
        if (e->start <= index && edges && on_edge(e, index) && edges->count < DETECTOR_MAX_EDGES) {
            if (edge_copy(&edges->edge[edges->count], e, index) < 0) return VSR_E_NOMEM;
            edges->count++;
            e->deferred = 1;
        } else if (e->start <= index) {
            int r0, r1;
            event_rows(d, e, &r0, &r1);
            if (r0 < band0) band0 = r0;
            if (r1 > band1) band1 = r1;
        }
        link = &e->next;
    }
    if (band1 <= band0) return 1;
    int fw = d->full_width;
    memset(mask + (size_t)band0 * fw, 0, (size_t)(band1 - band0) * fw);
    for (const struct event *e = d->events; e; e = e->next)
        if (e->start <= index && !e->deferred) paint_event(d, e, mask);
    clip_to_regions(d, mask, band0, band1);
    *y0 = band0;
    *y1 = band1;
    return 1;
}

CPU_CLONES
int detector_edge_shows(const struct detector *d, const struct detector_edge *edge,
                        const AVFrame *frame) {
    int s = d->scale, area = s * s, informative = 0, like_text = 0, like_other = 0;
    for (int k = 0; k < edge->samples; k++) {
        int text = edge->text[k], other = edge->other[k];
        if (abs(text - other) < JUMP_MIN) continue; /* the line did not change it */
        informative++;
        int x = (int)(edge->pos[k] % (uint32_t)d->width) * s;
        int y = (int)(edge->pos[k] / (uint32_t)d->width) * s;
        int sum = 0; /* the analysis plane's pixel: detector_shrink's box average */
        for (int j = 0; j < s; j++) {
            const uint8_t *row = frame->data[0] + (size_t)(y + j) * frame->linesize[0] + x;
            for (int i = 0; i < s; i++)
                sum += row[i];
        }
        int v = (sum + area / 2) / area;
        if (abs(v - text) <= HOLD_TOLERANCE)
            like_text++;
        else if (abs(v - other) <= HOLD_TOLERANCE)
            like_other++;
    }
    if (informative < 16) return 1;
    /* Gone only when few of its pixels hold the line's luma and most the
     * picture's: a moving picture or a line half faded in still shows. */
    return !(like_text * 4 < informative && like_other * 2 >= informative);
}

void detector_edge_paint(const struct detector *d, const struct detector_edge *edge, uint8_t *mask,
                         int *y0, int *y1) {
    paint_bits(d, edge->x0, edge->y0, edge->w, edge->h, edge->bits, mask);
    int r0, r1;
    box_rows(d, edge->y0, edge->h, &r0, &r1);
    clip_to_regions(d, mask, r0, r1);
    if (*y1 <= *y0) {
        *y0 = r0;
        *y1 = r1;
    } else {
        if (r0 < *y0) *y0 = r0;
        if (r1 > *y1) *y1 = r1;
    }
}

void detector_edges_free(struct detector_edges *edges) {
    for (int i = 0; i < DETECTOR_MAX_EDGES; i++) {
        struct detector_edge *e = &edges->edge[i];
        free(e->bits);
        free(e->pos);
        free(e->text);
        free(e->other);
        *e = (struct detector_edge){0};
    }
    edges->count = 0;
}

int detector_mask(struct detector *d, int64_t index, uint8_t *mask) {
    int y0, y1, ret = detector_mask_rows(d, index, mask, &y0, &y1);
    if (ret != 1) return ret;
    size_t fw = (size_t)d->full_width;
    memset(mask, 0, (size_t)y0 * fw);
    memset(mask + (size_t)y1 * fw, 0, (size_t)(d->full_height - y1) * fw);
    return 1;
}
