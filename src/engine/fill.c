/* fill.c: temporal fill with a spatial fallback (see fill.h).
 *
 * For each 16x16 tile of a frame that holds masked pixels, candidate source
 * frames are tried nearest in time first, past and future alternately. A
 * candidate is aligned by the camera's global motion and checked against the
 * tile's own unmasked surroundings, in luma and in colour; when that check
 * fails (something moves there), a small search finds the local motion (a
 * wide one on the nearest frame, for what moves fast), and further frames in
 * the same direction are searched along that motion, so the fill follows a
 * moving object (the flow-guided idea of Xu et al. 2019, with block motion).
 * Every masked pixel takes the first accepted candidate that shows it. Pixels no
 * frame shows take the previous frame's fill when that still fits (no
 * flicker), else a spatial fill (spatial.h). Chroma follows luma's choices. */
#include "engine/fill.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/buffer.h>

#include "engine/motion.h"
#include "engine/spatial.h"
#include "vsr.h"

/* Sizes in pixels of a 360-row frame; larger frames scale them (see
 * filler_new), so that a tile covers the same part of a glyph at any size. */
#define TILE            16
#define RING            6   /* pixels around a tile used to check a candidate */
#define MATCH_TOLERANCE 7.0 /* mean |difference| (8-bit luma) that still matches */
#define LOCAL_RADIUS    4   /* local motion search */
#define SCALE_ROWS      360
#define MAX_OFFSET                                                                                 \
    16.0 /* exposure drift between nearby frames stays below this; more is other content */
#define LOCAL_FRAMES   6   /* local search only this near in time */
#define WIDE_RADIUS    24  /* the wide search, for what moves faster than LOCAL_RADIUS */
#define WIDE_EVIDENCE  96  /* pixels a wide match must rest on: 4x what a near one needs */
#define WINDOW_SECONDS 1.5 /* each side, memory allowing */
/* Colour counts in the check: a car's dark windshield and grey asphalt can
 * share a luma. Mean |difference| of U plus V beyond CHROMA_FLOOR (noise)
 * adds CHROMA_WEIGHT times itself to the mismatch. Chroma is compared only
 * CHROMA_MARGIN pixels clear of the mask: the text's colour bleeds that far
 * through 4:2:0 and compression. */
#define CHROMA_WEIGHT  3.0
#define CHROMA_FLOOR   1.0
#define CHROMA_MARGIN  2
#define SOURCE_SPATIAL 0xFFFF
/* Lattice points a tile's ring spans each way, and a wide search with it. */
#define RING_SIDE    (TILE + 2 * RING + 1)
#define LATTICE_SIDE (RING_SIDE + 2 * WIDE_RADIUS)

struct slot {
    AVFrame *frame;
    /* The mask, kept only for rows [mask_y0, mask_y1) where it has pixels:
     * subtitles cover a band, and the window holds many frames. */
    uint8_t *mask_rows;
    int mask_y0, mask_y1;
    size_t mask_capacity;
    /* The same rows a bit per pixel (see mask_bits_row): can_contribute reads
     * every frame of the window for every tile, and at a byte per pixel
     * those reads missed the cache more than they computed. */
    uint64_t *mask_bits;
    size_t bits_capacity;
    /* Equal for consecutive frames whose masks are equal (one subtitle line
     * held on screen): such frames hide the same pixels. */
    uint64_t mask_version;
    double ox, oy;             /* position in "world" coordinates: world = pixel + o */
    struct motion_field field; /* motion from the frame before, per block */
    int64_t index;
};

/* One accepted way to fill part of a tile. */
struct source {
    const struct slot *slot;
    double dx, dy;  /* source pixel = this pixel + (dx, dy) */
    int use_filled; /* previous output: its filled pixels count as known */
    int offset;     /* added to the luma copied (exposure drift) */
};

struct filler {
    int width, height;
    int scale; /* sizes above are multiplied by this; matching samples every scale-th pixel */
    int tile, ring, local_radius;
    int past, future; /* frames kept each side */
    int capacity;     /* slots */
    struct slot *slots;
    int64_t pushed, next_fill, next_pop;
    uint64_t mask_versions; /* the last slot mask_version given */
    int finished;
    struct motion_pyramid *pyramids[2];
    double last_ox, last_oy;
    double last_dx, last_dy; /* motion of the last frame pushed */
    /* per-frame work buffers */
    uint16_t *source_of; /* width*height: 0 not masked, 1.. source id, SPATIAL */
    struct source *sources;
    size_t source_count, source_capacity;
    uint8_t *holes; /* spatial fill work plane */
    /* The tile being filled, as every candidate source is compared with it:
     * its ring's unmasked luma pixels, every scale-th, row by row. They stay
     * as they are while the frame is filled (only masked pixels are). */
    int ring_tx, ring_ty, ring_rows;
    int ring_x0, ring_y0, ring_columns; /* the ring's lattice: every scale-th pixel from here */
    int ring_row_y[RING_SIDE], ring_row_end[RING_SIDE];
    int ring_x[RING_SIDE * RING_SIDE];
    uint8_t ring_k[RING_SIDE * RING_SIDE]; /* column of each on the lattice */
    uint8_t ring_v[RING_SIDE * RING_SIDE];
    /* A search's source (search_local, search_wide): the ring's displaced
     * lattice points read once each, as every displacement the search tries
     * lands on them again; -1 where not known (see lattice_of). */
    int lattice_w;
    int16_t lattice[LATTICE_SIDE * LATTICE_SIDE];
    /* The tile's pixels still to fill (masked, no source yet), a bit per
     * pixel in tile rows of need_words, and the box they lie in: every
     * candidate frame is checked against them (can_contribute), so they are
     * kept small and near at hand. */
    uint64_t *need_bits;
    int need_words;
    int need_x0, need_y0, need_x1, need_y1;
    uint8_t *need_row;                     /* tile bytes: need_of's work row */
    uint8_t *cur_mask;                     /* width*height: mask of the frame being filled */
    int64_t filled_pixels, filled_spatial; /* luma pixels filled in all, and of them spatially */
    uint8_t *zero_row;                     /* width: the mask outside a slot's band */
    int bits_words;                        /* words in a row of mask bits */
    uint64_t *zero_bits;                   /* bits_words: the mask bits outside a slot's band */
    int band_y0, band_y1;                  /* rows of cur_mask that may be non-zero */
    /* Writable copies of decoded frames (the decoder keeps references to
     * them): pooled, so that each copy does not fault in fresh pages. */
    AVBufferPool *copy_pools[3];
    size_t copy_sizes[3];
};

static struct slot *slot_at(struct filler *f, int64_t index) {
    return &f->slots[index % f->capacity];
}

struct filler *filler_new(int width, int height, double fps, size_t memory_budget) {
    struct filler *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->width = width;
    f->height = height;
    f->scale = (width < height ? width : height) / SCALE_ROWS;
    if (f->scale < 1) f->scale = 1;
    f->tile = TILE * f->scale;
    f->ring = RING * f->scale;
    f->local_radius = LOCAL_RADIUS * f->scale;
    if (fps <= 0 || fps > 1000) fps = 25;
    size_t per_frame = (size_t)width * height * 3 / 2 + 1; /* YUV 4:2:0; masks are small */
    long by_budget = (long)(memory_budget / (per_frame ? per_frame : 1));
    int side = (int)(WINDOW_SECONDS * fps + 0.5);
    if (2L * side + 2 > by_budget) side = (int)((by_budget - 2) / 2);
    if (side < 2) side = 2;
    f->past = side;
    f->future = side;
    f->capacity = 2 * side + 2;
    f->slots = calloc((size_t)f->capacity, sizeof *f->slots);
    f->pyramids[0] = motion_pyramid_new(width, height);
    f->pyramids[1] = motion_pyramid_new(width, height);
    f->source_of = malloc((size_t)width * height * sizeof *f->source_of);
    f->holes = malloc((size_t)width * height);
    f->cur_mask = calloc((size_t)width * height, 1);
    f->zero_row = calloc((size_t)width, 1);
    f->need_row = malloc((size_t)f->tile);
    f->bits_words = (width + 63) / 64 + 2;
    f->zero_bits = calloc((size_t)f->bits_words, sizeof *f->zero_bits);
    f->need_words = (f->tile + 63) / 64;
    f->need_bits = calloc((size_t)f->tile * (size_t)f->need_words, sizeof *f->need_bits);
    if (!f->slots || !f->pyramids[0] || !f->pyramids[1] || !f->source_of || !f->holes ||
        !f->cur_mask || !f->zero_row || !f->need_row || !f->zero_bits || !f->need_bits) {
        filler_free(f);
        return NULL;
    }
    return f;
}

void filler_stats(const struct filler *f, int64_t *filled, int64_t *spatial) {
    *filled = f->filled_pixels;
    *spatial = f->filled_spatial;
}

void filler_window(const struct filler *f, int *ahead, int *held) {
    *ahead = f->future;
    *held = f->capacity;
}

void filler_free(struct filler *f) {
    if (!f) return;
    for (int i = 0; f->slots && i < f->capacity; i++) {
        av_frame_free(&f->slots[i].frame);
        free(f->slots[i].mask_rows);
        free(f->slots[i].mask_bits);
    }
    free(f->slots);
    motion_pyramid_free(f->pyramids[0]);
    motion_pyramid_free(f->pyramids[1]);
    free(f->source_of);
    free(f->sources);
    free(f->holes);
    free(f->cur_mask);
    free(f->zero_row);
    free(f->need_row);
    free(f->zero_bits);
    free(f->need_bits);
    for (int p = 0; p < 3; p++)
        av_buffer_pool_uninit(&f->copy_pools[p]); /* frees once the last copy is released */
    free(f);
}

/* Whether N > 0 bytes at P are all zero: the first is, and each equals the
 * next (libc's memcmp compares a vector at a time). */
static int is_zero(const uint8_t *p, int n) {
    return p[0] == 0 && memcmp(p, p + 1, (size_t)n - 1) == 0;
}

/* Row Y of the slot's mask, or a row of zeros outside its band. */
static inline const uint8_t *slot_mask_row(const struct filler *f, const struct slot *s, int y) {
    return y >= s->mask_y0 && y < s->mask_y1 ? s->mask_rows + (size_t)(y - s->mask_y0) * f->width
                                             : f->zero_row;
}

static inline int slot_masked(const struct filler *f, const struct slot *s, int x, int y) {
    return slot_mask_row(f, s, y)[x] != 0;
}

/* Row Y of the slot's mask bits, or a row of zeros outside its band. Bit x
 * of a row (pixel x) is bit (x + 64) % 64 of word (x + 64) / 64: a word of
 * zeros each side, so that reads a little outside the frame need no test. */
static inline const uint64_t *mask_bits_row(const struct filler *f, const struct slot *s, int y) {
    return y >= s->mask_y0 && y < s->mask_y1
               ? s->mask_bits + (size_t)(y - s->mask_y0) * f->bits_words
               : f->zero_bits;
}

/* The 64 bits of ROW (WORDS words, laid out as mask_bits_row says) for
 * pixels POS to POS + 63; zero for pixels beyond its words. */
static inline uint64_t bits_at(const uint64_t *row, int words, long pos) {
    long b = pos + 64;
    if (b <= -64 || b >= 64L * words) return 0;
    if (b < 0) return row[0] << -b;
    long w = b >> 6;
    int shift = (int)(b & 63);
    uint64_t lo = row[w] >> shift;
    if (shift && w + 1 < words) lo |= row[w + 1] << (64 - shift);
    return lo;
}

/* Bit POS of ROW (WORDS words, laid out as mask_bits_row says); zero beyond
 * its words, as bits_at. */
static inline uint64_t bit_at(const uint64_t *row, int words, long pos) {
    long b = pos + 64;
    return b >= 0 && b < 64L * words ? (row[b >> 6] >> (b & 63)) & 1 : 0;
}

/* The bits of the word for pixels X0 to X0 + 63 that lie in [XA, XB). */
static inline uint64_t bits_in(long x0, long xa, long xb) {
    long lo = xa - x0, hi = xb - x0;
    if (hi <= 0 || lo >= 64) return 0;
    uint64_t range = hi >= 64 ? ~0ull : (1ull << hi) - 1;
    return lo > 0 ? range & ~((1ull << lo) - 1) : range;
}

/* Writes the bits of W mask bytes MASK into ROW of WORDS words, byte x to
 * bit x of word SKIP on: eight bytes at a time, each non-zero byte to one
 * bit (eight bits from a multiple of eight never straddle two words). */
static void mask_to_bits(const uint8_t *mask, int w, uint64_t *row, int words, int skip) {
    memset(row, 0, (size_t)words * sizeof *row);
    row += skip;
    int x = 0;
    for (; x + 8 <= w; x += 8) {
        uint64_t v, low = 0x7F7F7F7F7F7F7F7Full;
        memcpy(&v, mask + x, 8);
        v = ((((v & low) + low) | v) & ~low) >> 7; /* 1 in each non-zero byte */
        /* Byte i's bit to bit i of the top byte (the multiply's columns do
         * not carry: each sum has one term). */
        uint64_t bits = (v * 0x0102040810204080ull) >> 56;
        row[x >> 6] |= bits << (x & 63);
    }
    for (; x < w; x++)
        if (mask[x]) row[x >> 6] |= 1ull << (x & 63);
}

int filler_push(struct filler *f, AVFrame *frame, const uint8_t *mask, int mask_y0, int mask_y1) {
    /* The slot about to be reused must be beyond the past window: callers pop
     * every ready frame before pushing the next. */
    if (f->pushed - f->next_fill > f->future) {
        av_frame_free(&frame);
        return VSR_E_INTERNAL;
    }
    struct slot *s = slot_at(f, f->pushed);
    av_frame_free(&s->frame);
    int w = f->width, y0 = f->height, y1 = 0;
    if (mask_y0 < 0) mask_y0 = 0;
    if (mask_y1 > f->height) mask_y1 = f->height;
    for (int y = mask_y0; y < mask_y1; y++)
        if (!is_zero(mask + (size_t)y * w, w)) {
            if (y < y0) y0 = y;
            y1 = y + 1;
        }
    if (y1 <= y0) y0 = y1 = 0;
    size_t need = (size_t)(y1 - y0) * w;
    if (need > s->mask_capacity) {
        uint8_t *grown = realloc(s->mask_rows, need);
        if (!grown) {
            av_frame_free(&frame);
            return VSR_E_NOMEM;
        }
        s->mask_rows = grown;
        s->mask_capacity = need;
    }
    if (need) memcpy(s->mask_rows, mask + (size_t)y0 * w, need);
    size_t bits = (size_t)(y1 - y0) * f->bits_words;
    if (bits > s->bits_capacity) {
        uint64_t *grown = realloc(s->mask_bits, bits * sizeof *grown);
        if (!grown) {
            av_frame_free(&frame);
            return VSR_E_NOMEM;
        }
        s->mask_bits = grown;
        s->bits_capacity = bits;
    }
    for (int y = y0; y < y1; y++)
        mask_to_bits(mask + (size_t)y * w, w, s->mask_bits + (size_t)(y - y0) * f->bits_words,
                     f->bits_words, 1);
    s->mask_y0 = y0;
    s->mask_y1 = y1;
    const struct slot *before = f->pushed > 0 ? slot_at(f, f->pushed - 1) : NULL;
    if (before && before->mask_y0 == y0 && before->mask_y1 == y1 &&
        (need == 0 || memcmp(before->mask_rows, s->mask_rows, need) == 0))
        s->mask_version = before->mask_version;
    else
        s->mask_version = ++f->mask_versions;
    s->frame = frame;
    s->index = f->pushed;
    struct motion_pyramid *cur = f->pyramids[f->pushed & 1], *prev = f->pyramids[!(f->pushed & 1)];
    motion_pyramid_build(cur, frame->data[0], frame->linesize[0], mask, y0, y1);
    if (f->pushed > 0) {
        double dx, dy;
        motion_estimate(prev, cur, f->last_dx, f->last_dy, &dx, &dy, &s->field);
        f->last_dx = dx;
        f->last_dy = dy;
        f->last_ox += dx;
        f->last_oy += dy;
    }
    if (f->pushed == 0) memset(&s->field, 0, sizeof s->field);
    s->ox = f->last_ox;
    s->oy = f->last_oy;
    f->pushed++;
    return 0;
}

void filler_finish(struct filler *f) {
    f->finished = 1;
}

/* Bilinear sample of PLANE at (x, y); the caller keeps (x, y) inside. */
static inline int sample(const uint8_t *plane, int stride, double x, double y) {
    int x0 = (int)x, y0 = (int)y;
    double fx = x - x0, fy = y - y0;
    const uint8_t *p = plane + (size_t)y0 * stride + x0;
    if (fx == 0 && fy == 0) return p[0]; /* a still camera: whole pixels */
    double top = p[0] + fx * (p[1] - p[0]);
    double bottom = p[stride] + fx * (p[stride + 1] - p[stride]);
    return (int)(top + fy * (bottom - top) + 0.5);
}

/* Whether the source pixel for (x, y) under displacement (dx, dy) is inside
 * SRC and, unless USE_FILLED, known there (all four bilinear taps unmasked). */
static inline int source_known(const struct filler *f, const struct slot *src, int use_filled,
                               int x, int y, double dx, double dy) {
    double sx = x + dx, sy = y + dy;
    if (sx < 0 || sy < 0 || sx > f->width - 2 || sy > f->height - 2) return 0;
    if (use_filled) return 1;
    int x0 = (int)sx, y0 = (int)sy;
    if (y0 + 1 < src->mask_y0 || y0 >= src->mask_y1) return 1;
    if (sx == x0 && sy == y0) return !slot_masked(f, src, x0, y0);
    return !(slot_masked(f, src, x0, y0) | slot_masked(f, src, x0 + 1, y0) |
             slot_masked(f, src, x0, y0 + 1) | slot_masked(f, src, x0 + 1, y0 + 1));
}

/* One row of a source under a displacement, for reading it pixel by pixel
 * as source_known and sample do, with what the row shares worked out once. */
struct source_row {
    const uint8_t *s0, *s1; /* luma rows y0 and y0 + 1 */
    const uint8_t *m0, *m1; /* mask rows y0 and y0 + 1; NULL where none counts */
    double fy;
};

/* Sets R for row Y displaced by DY; 0 when that row is outside SRC. */
static inline int source_row(const struct filler *f, const struct slot *src, int use_filled, int y,
                             double dy, struct source_row *r) {
    double sy = y + dy;
    if (sy < 0 || sy > f->height - 2) return 0;
    int y0 = (int)sy;
    r->fy = sy - y0;
    r->s0 = src->frame->data[0] + (size_t)y0 * src->frame->linesize[0];
    r->s1 = r->s0 + src->frame->linesize[0];
    r->m0 = r->m1 = NULL;
    if (!use_filled && y0 + 1 >= src->mask_y0 && y0 < src->mask_y1) {
        r->m0 = slot_mask_row(f, src, y0);
        r->m1 = slot_mask_row(f, src, y0 + 1);
    }
    return 1;
}

/* The value at column SX of row R into *V, as sample() gives it; 0 when it
 * is not known there (as source_known). */
static inline int source_read(const struct filler *f, const struct source_row *r, double sx,
                              int *v) {
    if (sx < 0 || sx > f->width - 2) return 0;
    int x0 = (int)sx;
    double fx = sx - x0;
    if (fx == 0 && r->fy == 0) {
        if (r->m0 && r->m0[x0]) return 0;
        *v = r->s0[x0];
        return 1;
    }
    if (r->m0 && (r->m0[x0] | r->m0[x0 + 1] | r->m1[x0] | r->m1[x0 + 1])) return 0;
    const uint8_t *s0 = r->s0, *s1 = r->s1;
    double top = s0[x0] + fx * (s0[x0 + 1] - s0[x0]);
    double bottom = s1[x0] + fx * (s1[x0 + 1] - s1[x0]);
    *v = (int)(top + r->fy * (bottom - top) + 0.5);
    return 1;
}

/* Whether (dx, dy) is a whole-pixel shift (a still camera), which reads one
 * tap per pixel; its horizontal part into *IX. */
static inline int whole_shift(const struct filler *f, double dx, double dy, int *ix) {
    int whole = fabs(dx) < f->width && fabs(dy) < f->height && dx == (int)dx && dy == (int)dy;
    *ix = whole ? (int)dx : 0;
    return whole;
}

/* How well SRC, displaced by (dx, dy), fits frame CUR around tile (tx, ty):
 * the mean |difference| over the known luma pixels there once the mean
 * difference (exposure drift, a cloud) is taken out, and that mean, which the
 * copy then adds back so the patch sits flush with its surroundings. Looks
 * at every scale-th pixel each way: the same number at any frame size. */
struct match {
    double mismatch; /* -1 when too few pixels to judge */
    int offset;      /* cur - src */
    int pixels;      /* compared */
};

/* The box of tile (tx, ty) and its ring, clipped to the frame. */
struct box {
    int x0, y0, x1, y1;
};

static struct box ring_box(const struct filler *f, int tx, int ty) {
    int ring = f->ring;
    struct box b = {tx - ring, ty - ring, tx + f->tile + ring, ty + f->tile + ring};
    if (b.x0 < 0) b.x0 = 0;
    if (b.y0 < 0) b.y0 = 0;
    if (b.x1 > f->width) b.x1 = f->width;
    if (b.y1 > f->height) b.y1 = f->height;
    return b;
}

/* Whether (x, y) of the frame being filled and its source under (dx, dy)
 * are both known CHROMA_MARGIN pixels around: the corners of that box and
 * its centre, as masks are blobs wider than the box. */
static int clear_of_mask(const struct filler *f, const struct slot *src, int use_filled, int x,
                         int y, double dx, double dy) {
    int xa = x - CHROMA_MARGIN, xb = x + CHROMA_MARGIN + 1;
    int ya = y - CHROMA_MARGIN, yb = y + CHROMA_MARGIN + 1;
    if (xa < 0 || ya < 0 || xb >= f->width || yb >= f->height) return 0;
    const uint8_t *top = f->cur_mask + (size_t)ya * f->width,
                  *bottom = f->cur_mask + (size_t)yb * f->width;
    if (f->cur_mask[(size_t)y * f->width + x] | top[xa] | top[xb] | bottom[xa] | bottom[xb])
        return 0;
    return source_known(f, src, use_filled, x, y, dx, dy) &&
           source_known(f, src, use_filled, xa, ya, dx, dy) &&
           source_known(f, src, use_filled, xb, ya, dx, dy) &&
           source_known(f, src, use_filled, xa, yb, dx, dy) &&
           source_known(f, src, use_filled, xb, yb, dx, dy);
}

/* Mean |difference| of U plus V between CUR and SRC displaced by (dx, dy),
 * over the chroma pixels of box B clear of the mask, STEP luma pixels apart;
 * 0 when none is. */
static double chroma_mismatch(const struct filler *f, const struct slot *cur,
                              const struct slot *src, int use_filled, struct box b, int step,
                              double dx, double dy) {
    const AVFrame *c = cur->frame, *s = src->frame;
    int cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
    long sum = 0, n = 0;
    for (int y = b.y0 + (b.y0 & 1); y < b.y1; y += step)
        for (int x = b.x0 + (b.x0 & 1); x < b.x1; x += step) {
            double sx = (x + dx) / 2, sy = (y + dy) / 2;
            if (sx > cw - 2 || sy > ch - 2) continue;
            if (!clear_of_mask(f, src, use_filled, x, y, dx, dy)) continue;
            size_t cu = (size_t)(y / 2) * c->linesize[1] + x / 2;
            size_t cv = (size_t)(y / 2) * c->linesize[2] + x / 2;
            sum += abs(c->data[1][cu] - sample(s->data[1], s->linesize[1], sx, sy)) +
                   abs(c->data[2][cv] - sample(s->data[2], s->linesize[2], sx, sy));
            n++;
        }
    return n ? (double)sum / (double)n : 0;
}

/* Gathers the ring of tile (tx, ty) of CUR (see struct filler). */
static void ring_of(struct filler *f, const struct slot *cur, int tx, int ty) {
    struct box b = ring_box(f, tx, ty);
    const uint8_t *cp = cur->frame->data[0];
    int cs = cur->frame->linesize[0], n = 0;
    f->ring_tx = tx;
    f->ring_ty = ty;
    f->ring_rows = 0;
    f->ring_x0 = b.x0;
    f->ring_y0 = b.y0;
    f->ring_columns = (b.x1 - b.x0 + f->scale - 1) / f->scale;
    for (int y = b.y0; y < b.y1; y += f->scale) {
        const uint8_t *held = f->cur_mask + (size_t)y * f->width, *c = cp + (size_t)y * cs;
        for (int x = b.x0, k = 0; x < b.x1; x += f->scale, k++)
            if (!held[x]) {
                f->ring_x[n] = x;
                f->ring_k[n] = (uint8_t)k;
                f->ring_v[n++] = c[x];
            }
        f->ring_row_y[f->ring_rows] = y;
        f->ring_row_end[f->ring_rows++] = n;
    }
}

/* The match of N differences DIFFS (ring minus source) that sum to SUM; once
 * the mismatch is known to reach BOUND (its sum only grows), it stops and
 * returns what it has, which reaches BOUND too. */
static struct match match_of(const int *diffs, long n, long sum, double bound) {
    struct match r = {-1, 0, 0};
    if (n < 24) return r;
    double mean = (double)sum / (double)n, dev = 0;
    r.offset = (int)lround(mean);
    r.pixels = (int)n;
    if (fabs(mean) > MAX_OFFSET) {
        r.mismatch = 1e9;
        return r;
    }
    double drift = fabs(mean) / 4; /* a large shift is itself suspect */
    for (long i = 0; i < n; i++) {
        dev += fabs(diffs[i] - mean);
        if ((i & 63) == 63 && dev / (double)n + drift >= bound) break;
    }
    r.mismatch = dev / (double)n + drift;
    return r;
}

/* As tile_match, for a search that keeps only a match below BOUND (see
 * match_of). */
static struct match tile_match_below(const struct filler *f, const struct slot *cur,
                                     const struct slot *src, int use_filled, int tx, int ty,
                                     double dx, double dy, double bound) {
    struct match r = {-1, 0, 0};
    (void)cur; /* its ring is in f (see ring_of) */
    if (f->ring_tx != tx || f->ring_ty != ty) return r;
    int diffs[RING_SIDE * RING_SIDE];
    long sum = 0, n = 0;
    /* source_known and sample, pixel by pixel, over the tile's ring, with what
     * is the same along a row worked out once per row: the same pixels and
     * values as looking each up. */
    int ix, shift = whole_shift(f, dx, dy, &ix);
    for (int row = 0, i = 0; row < f->ring_rows; i = f->ring_row_end[row++]) {
        int end = f->ring_row_end[row];
        struct source_row sr;
        if (!source_row(f, src, use_filled, f->ring_row_y[row], dy, &sr)) continue;
        if (shift) { /* a still camera: one tap */
            for (; i < end; i++) {
                int x0 = f->ring_x[i] + ix;
                if (x0 < 0 || x0 > f->width - 2 || (sr.m0 && sr.m0[x0])) continue;
                int d = f->ring_v[i] - sr.s0[x0];
                diffs[n++] = d;
                sum += d;
            }
            continue;
        }
        for (; i < end; i++) {
            int v;
            if (!source_read(f, &sr, f->ring_x[i] + dx, &v)) continue;
            int d = f->ring_v[i] - v;
            diffs[n++] = d;
            sum += d;
        }
    }
    return match_of(diffs, n, sum, bound);
}

static struct match tile_match(const struct filler *f, const struct slot *cur,
                               const struct slot *src, int use_filled, int tx, int ty, double dx,
                               double dy) {
    return tile_match_below(f, cur, src, use_filled, tx, ty, dx, dy, HUGE_VAL);
}

/* What a search passes as the bound: its best so far, none before one. */
static double bound_of(struct match best) {
    return best.mismatch < 0 ? HUGE_VAL : best.mismatch;
}

/* M, a luma match of the same arguments, with colour counted in. Only a
 * match that luma accepts needs it: colour can only add. Searches rank by
 * luma alone and then check their best (a quarter of the CPU otherwise). */
static struct match with_colour(const struct filler *f, const struct slot *cur,
                                const struct slot *src, int use_filled, int tx, int ty, double dx,
                                double dy, struct match m) {
    if (m.mismatch < 0 || m.mismatch > MATCH_TOLERANCE) return m;
    double colour =
        chroma_mismatch(f, cur, src, use_filled, ring_box(f, tx, ty), 2 * f->scale, dx, dy);
    if (colour > CHROMA_FLOOR) m.mismatch += CHROMA_WEIGHT * (colour - CHROMA_FLOOR);
    return m;
}

static int add_source(struct filler *f, const struct slot *slot, double dx, double dy,
                      int use_filled, int offset) {
    if (f->source_count + 1 >= SOURCE_SPATIAL) return -1;
    if (f->source_count == f->source_capacity) {
        size_t cap = f->source_capacity ? f->source_capacity * 2 : 256;
        struct source *grown = realloc(f->sources, cap * sizeof *grown);
        if (!grown) return -1;
        f->sources = grown;
        f->source_capacity = cap;
    }
    f->sources[f->source_count] = (struct source){slot, dx, dy, use_filled, offset};
    return (int)++f->source_count; /* ids start at 1 */
}

static inline uint8_t clamp8(int v) {
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Copies into the tile's still-unfilled masked luma pixels what SOURCE shows
 * (and clears them in f->need_bits); returns how many remain unfilled. */
static int take_from(struct filler *f, struct slot *cur, int id, int tx, int ty, int remaining) {
    const struct source *s = &f->sources[id - 1];
    uint8_t *cp = cur->frame->data[0];
    int cs = cur->frame->linesize[0];
    int ix, shift = whole_shift(f, s->dx, s->dy, &ix);
    /* Most needed pixels are hidden in the source too (the same line of text,
     * a few pixels away). Every tap set source_read may use for pixel x of
     * row y (and a whole shift's one tap) holds pixel (x + cx, y + cy), x + dx
     * rounded up, whatever the last bit of x + dx: where that pixel is masked,
     * x is skipped unread, 64 at a time in bits. */
    double fx = floor(s->dx), fy = floor(s->dy);
    int cx = (int)fx + (s->dx != fx), cy = (int)fy + (s->dy != fy);
    int xa = f->need_x0 > -cx ? f->need_x0 : -cx;
    int xb = f->need_x1 < f->width - cx ? f->need_x1 : f->width - cx;
    /* Only the box of what the tile needed (need_of): the rest is filled or
     * not masked. */
    for (int y = f->need_y0; y < f->need_y1; y++) {
        struct source_row sr;
        if (!source_row(f, s->slot, s->use_filled, y, s->dy, &sr)) continue;
        uint16_t *source_of = f->source_of + (size_t)y * f->width;
        uint64_t *need_bits = f->need_bits + (size_t)(y - ty) * f->need_words;
        uint8_t *dst = cp + (size_t)y * cs;
        const uint64_t *hidden = NULL; /* the source's mask bits, row y + cy */
        if (!s->use_filled && y + cy >= 0 && y + cy < f->height)
            hidden = mask_bits_row(f, s->slot, y + cy);
        for (int i = 0; i < f->need_words; i++) {
            long x0 = (long)tx + 64L * i; /* bit b: pixel x0 + b */
            uint64_t due = need_bits[i];
            if (due && hidden)
                due &= ~(bits_at(hidden, f->bits_words, x0 + cx) & bits_in(x0, xa, xb));
            for (; due; due &= due - 1) {
                int b = __builtin_ctzll(due), x = (int)x0 + b;
                int v;
                if (shift) { /* one tap, as source_read reads a whole pixel */
                    int sx = x + ix;
                    if (sx < 0 || sx > f->width - 2 || (sr.m0 && sr.m0[sx])) continue;
                    v = sr.s0[sx];
                } else if (!source_read(f, &sr, x + s->dx, &v)) {
                    continue;
                }
                dst[x] = clamp8(v + s->offset);
                source_of[x] = (uint16_t)id;
                need_bits[i] &= ~(1ull << b);
                remaining--;
            }
        }
    }
    return remaining;
}

/* Reads SRC, displaced by (ox, oy), at the lattice points of the current
 * ring (ring_of) and SPAN more each way right and down: lattice point (m, n)
 * is pixel (ring_x0 + m * scale, ring_y0 + n * scale), and its value what
 * tile_match would read there, or -1 where it would skip it. A search whose
 * displacements are (ox, oy) plus whole multiples of scale then reads each
 * point once instead of once per displacement (lattice_match): at 1080p, 30
 * times fewer bilinear reads. A point's position is worked out as
 * x + ox rather than ring_x + dx: the same up to the last bit of a double,
 * and the six bench clips' outputs are bit-identical. */
static void lattice_of(struct filler *f, const struct slot *src, double ox, double oy, int span) {
    int w = f->ring_columns + span, h = f->ring_rows + span, scale = f->scale;
    f->lattice_w = w;
    for (int n = 0; n < h; n++) {
        int16_t *out = f->lattice + (size_t)n * w;
        struct source_row sr;
        if (!source_row(f, src, 0, f->ring_y0 + n * scale, oy, &sr)) {
            for (int m = 0; m < w; m++)
                out[m] = -1;
            continue;
        }
        for (int m = 0; m < w; m++) {
            int v;
            out[m] = source_read(f, &sr, f->ring_x0 + m * scale + ox, &v) ? (int16_t)v : -1;
        }
    }
}

/* tile_match_below for the displacement of lattice_of's (ox, oy) plus (MX,
 * MY) lattice steps, read from the lattice. */
static struct match lattice_match(const struct filler *f, int mx, int my, double bound) {
    int diffs[RING_SIDE * RING_SIDE];
    long sum = 0, n = 0;
    for (int row = 0, i = 0; row < f->ring_rows; i = f->ring_row_end[row++]) {
        int end = f->ring_row_end[row];
        const int16_t *points = f->lattice + (size_t)(row + my) * f->lattice_w + mx;
        for (; i < end; i++) {
            int v = points[f->ring_k[i]];
            if (v < 0) continue;
            int d = f->ring_v[i] - v;
            diffs[n++] = d;
            sum += d;
        }
    }
    return match_of(diffs, n, sum, bound);
}

/* Best local displacement within RADIUS of (cx, cy) for SRC: every scale-th
 * displacement first, then the whole pixels around the best of those. */
static struct match search_local(struct filler *f, const struct slot *cur, const struct slot *src,
                                 int tx, int ty, double cx, double cy, int radius, double *bx,
                                 double *by) {
    struct match best = {-1, 0, 0};
    int step = f->scale;
    if (f->ring_tx != tx || f->ring_ty != ty) return best;
    lattice_of(f, src, cx - radius, cy - radius, 2 * radius / step);
    for (int y = -radius; y <= radius; y += step)
        for (int x = -radius; x <= radius; x += step) {
            struct match m =
                lattice_match(f, (x + radius) / step, (y + radius) / step, bound_of(best));
            if (m.mismatch >= 0 && (best.mismatch < 0 || m.mismatch < best.mismatch)) {
                best = m;
                *bx = cx + x;
                *by = cy + y;
            }
        }
    if (step == 1 || best.mismatch < 0) return best;
    double ox = *bx, oy = *by;
    for (int y = -1; y <= 1; y++)
        for (int x = -1; x <= 1; x++) {
            if (!x && !y) continue;
            struct match m =
                tile_match_below(f, cur, src, 0, tx, ty, ox + x, oy + y, bound_of(best));
            if (m.mismatch >= 0 && m.mismatch < best.mismatch) {
                best = m;
                *bx = ox + x;
                *by = oy + y;
            }
        }
    return best;
}

/* Best displacement within WIDE_RADIUS of (cx, cy) for SRC, on a grid of
 * every other scale-th pixel, then refined: for an object that moves faster
 * than the local search reaches. Far from where the camera says, a flat or
 * mostly hidden ring matches somewhere by chance, so a grid match counts
 * only when it compares WIDE_EVIDENCE pixels. */
static struct match search_wide(struct filler *f, const struct slot *cur, const struct slot *src,
                                int tx, int ty, double cx, double cy, double *bx, double *by) {
    struct match best = {-1, 0, 0};
    int radius = WIDE_RADIUS * f->scale, step = 2 * f->scale;
    if (f->ring_tx != tx || f->ring_ty != ty) return best;
    lattice_of(f, src, cx - radius, cy - radius, 2 * WIDE_RADIUS);
    for (int y = -radius; y <= radius; y += step)
        for (int x = -radius; x <= radius; x += step) {
            struct match m =
                lattice_match(f, (x + radius) / f->scale, (y + radius) / f->scale, bound_of(best));
            if (m.mismatch < 0 || m.pixels < WIDE_EVIDENCE) continue;
            if (best.mismatch < 0 || m.mismatch < best.mismatch) {
                best = m;
                *bx = cx + x;
                *by = cy + y;
            }
        }
    if (best.mismatch < 0) return best;
    double rx = *bx, ry = *by;
    struct match refined = search_local(f, cur, src, tx, ty, rx, ry, step, &rx, &ry);
    if (refined.mismatch >= 0 && refined.mismatch < best.mismatch) {
        best = refined;
        *bx = rx;
        *by = ry;
    }
    return best;
}

/* Gathers the tile's pixels still to fill into f->need_bits, and their box;
 * take_from clears the pixels it fills (the box stays as it was). */
static void need_of(struct filler *f, int tx, int ty) {
    int x1 = tx + f->tile > f->width ? f->width : tx + f->tile;
    int y1 = ty + f->tile > f->height ? f->height : ty + f->tile;
    f->need_x0 = x1, f->need_y0 = y1, f->need_x1 = tx, f->need_y1 = ty;
    for (int y = ty; y < y1; y++) {
        const uint8_t *cm = f->cur_mask + (size_t)y * f->width;
        const uint16_t *so = f->source_of + (size_t)y * f->width;
        uint8_t *need = f->need_row;
        uint64_t *bits = f->need_bits + (size_t)(y - ty) * f->need_words;
        int any = 0;
        for (int x = tx; x < x1; x++) {
            need[x - tx] = (cm[x] != 0) & (so[x] == 0);
            any |= need[x - tx];
        }
        if (!any) {
            memset(bits, 0, (size_t)f->need_words * sizeof *bits);
            continue;
        }
        mask_to_bits(need, x1 - tx, bits, f->need_words, 0);
        if (y < f->need_y0) f->need_y0 = y;
        f->need_y1 = y + 1;
        for (int i = 0; i < f->need_words; i++)
            if (bits[i]) {
                int first = tx + 64 * i + __builtin_ctzll(bits[i]);
                int last = tx + 64 * i + 63 - __builtin_clzll(bits[i]);
                if (first < f->need_x0) f->need_x0 = first;
                if (last >= f->need_x1) f->need_x1 = last + 1;
            }
    }
}

/* Whether SRC, displaced by (dx, dy), shows any pixel the tile still needs
 * (f->need_bits, from need_of): most frames near a subtitle hide the same pixels,
 * and skipping them before any matching is what keeps the fill fast. */
static int can_contribute(const struct filler *f, const struct slot *cur, const struct slot *src,
                          int tx, int ty, double dx, double dy) {
    /* The common case: a still camera and the same line on screen. */
    if (dx == 0 && dy == 0 && src->mask_version == cur->mask_version) return 0;
    /* Integer taps only: this runs for every candidate frame of every tile,
     * so each row is a few words of bits (rows outside the source's mask
     * band read a row of zeros). */
    int ix = (int)floor(dx), iy = (int)floor(dy);
    int wide_x = dx != ix, wide_y = dy != iy;
    int xa = f->need_x0 > -ix ? f->need_x0 : -ix;
    int xb = f->need_x1 < f->width - 1 - ix ? f->need_x1 : f->width - 1 - ix;
    if (xa >= xb) return 0;
    for (int y = f->need_y0; y < f->need_y1; y++) {
        int sy = y + iy;
        if (sy < 0 || sy + 1 >= f->height) continue;
        const uint64_t *need = f->need_bits + (size_t)(y - ty) * f->need_words;
        const uint64_t *r0 = mask_bits_row(f, src, sy);
        const uint64_t *r1 = wide_y ? mask_bits_row(f, src, sy + 1) : r0;
        for (int i = 0; i < f->need_words; i++) {
            long x0 = (long)tx + 64L * i; /* bit b: pixel x0 + b */
            uint64_t due = need[i] & bits_in(x0, xa, xb);
            if (!due) continue;
            long sx = x0 + ix;
            int n = f->bits_words;
            uint64_t blocked = bits_at(r0, n, sx) | bits_at(r1, n, sx);
            if (wide_x) { /* the same and the next pixel: a shift, and pixel sx + 64 */
                uint64_t next = bit_at(r0, n, sx + 64) | bit_at(r1, n, sx + 64);
                blocked |= blocked >> 1 | next << 63;
            }
            if (due & ~blocked) return 1;
        }
    }
    return 0;
}

static int fill_tile(struct filler *f, struct slot *cur, int tx, int ty, int remaining) {
    ring_of(f, cur, tx, ty);
    need_of(f, tx, ty);
    /* Local motion per frame found so far in each direction (past, future). */
    double vx[2] = {0, 0}, vy[2] = {0, 0};
    int have_v[2] = {0, 0};
    /* The block motion field guesses how what moves here moves: for the past
     * from this frame's field, for the future from the next frame's. */
    int block = (ty * MOTION_GRID_Y / f->height) * MOTION_GRID_X + tx * MOTION_GRID_X / f->width;
    double field_x[2] = {0, 0}, field_y[2] = {0, 0};
    field_x[0] = cur->field.dx[block] - cur->field.global_dx;
    field_y[0] = cur->field.dy[block] - cur->field.global_dy;
    if (cur->index + 1 < f->pushed) {
        const struct slot *next = slot_at(f, cur->index + 1);
        field_x[1] = -(next->field.dx[block] - next->field.global_dx);
        field_y[1] = -(next->field.dy[block] - next->field.global_dy);
    }
    int reach = f->past > f->future ? f->past : f->future;
    for (int k = 1; k <= reach && remaining > 0; k++)
        for (int dir = 0; dir < 2 && remaining > 0; dir++) {
            int64_t j = dir == 0 ? cur->index - k : cur->index + k;
            if (j < 0 || j >= f->pushed || j < cur->index - f->past || j > cur->index + f->future)
                continue;
            struct slot *src = slot_at(f, j);
            if (!src->frame || src->index != j) continue;
            double dx = cur->ox - src->ox, dy = cur->oy - src->oy;
            int moving = have_v[dir] || fabs(field_x[dir]) + fabs(field_y[dir]) > 1;
            /* Frames that hide the same pixels are skipped unmatched, unless
             * something moves here and a local search may find it elsewhere.
             * Following a motion further (while have_v) gained 0.07 dB at
             * 360p but lost 0.4 dB on the 1080p pan: not done. */
            int search = k <= LOCAL_FRAMES;
            if (!can_contribute(f, cur, src, tx, ty, dx, dy) && (!moving || !search)) continue;
            struct match m = with_colour(f, cur, src, 0, tx, ty, dx, dy,
                                         tile_match(f, cur, src, 0, tx, ty, dx, dy));
            if ((m.mismatch < 0 || m.mismatch > MATCH_TOLERANCE) && search) {
                double sx = dx, sy = dy;
                struct match lm;
                if (have_v[dir]) {
                    lm = search_local(f, cur, src, tx, ty, dx + vx[dir] * k, dy + vy[dir] * k, 2,
                                      &sx, &sy);
                    lm = with_colour(f, cur, src, 0, tx, ty, sx, sy, lm);
                } else {
                    lm = search_local(f, cur, src, tx, ty, dx, dy, f->local_radius, &sx, &sy);
                    lm = with_colour(f, cur, src, 0, tx, ty, sx, sy, lm);
                    double fx = dx, fy = dy;
                    struct match fm = {-1, 0, 0};
                    if (fabs(field_x[dir]) + fabs(field_y[dir]) > f->local_radius) {
                        fm = search_local(f, cur, src, tx, ty, dx + field_x[dir] * k,
                                          dy + field_y[dir] * k, f->local_radius, &fx, &fy);
                        fm = with_colour(f, cur, src, 0, tx, ty, fx, fy, fm);
                    }
                    if (fm.mismatch >= 0 && (lm.mismatch < 0 || fm.mismatch < lm.mismatch)) {
                        lm = fm;
                        sx = fx;
                        sy = fy;
                    }
                    /* The nearest frame judged the tile and found it changed,
                     * and nothing near explains it: something crosses the line
                     * fast (a car); look wide once, then follow it. */
                    if (k == 1 && m.mismatch > MATCH_TOLERANCE &&
                        (lm.mismatch < 0 || lm.mismatch > MATCH_TOLERANCE)) {
                        double wx = dx, wy = dy;
                        struct match wm = search_wide(f, cur, src, tx, ty, dx, dy, &wx, &wy);
                        wm = with_colour(f, cur, src, 0, tx, ty, wx, wy, wm);
                        if (wm.mismatch >= 0 && wm.mismatch <= MATCH_TOLERANCE) {
                            lm = wm;
                            sx = wx;
                            sy = wy;
                        }
                    }
                }
                if (lm.mismatch >= 0 && lm.mismatch <= MATCH_TOLERANCE) {
                    m = lm;
                    vx[dir] = (sx - dx) / k;
                    vy[dir] = (sy - dy) / k;
                    have_v[dir] = 1;
                    dx = sx;
                    dy = sy;
                }
            }
            if (m.mismatch < 0 || m.mismatch > MATCH_TOLERANCE)
                continue; /* something else is there now */
            int id = add_source(f, src, dx, dy, 0, m.offset);
            if (id < 0) return remaining;
            remaining = take_from(f, cur, id, tx, ty, remaining);
        }
    /* Nothing shows these pixels: keep the previous frame's fill if it fits. */
    if (remaining > 0 && cur->index > 0) {
        struct slot *prev = slot_at(f, cur->index - 1);
        if (prev->frame && prev->index == cur->index - 1) {
            double dx = cur->ox - prev->ox, dy = cur->oy - prev->oy;
            struct match m = with_colour(f, cur, prev, 1, tx, ty, dx, dy,
                                         tile_match(f, cur, prev, 1, tx, ty, dx, dy));
            if (m.mismatch >= 0 && m.mismatch <= MATCH_TOLERANCE) {
                int id = add_source(f, prev, dx, dy, 1, m.offset);
                if (id > 0) remaining = take_from(f, cur, id, tx, ty, remaining);
            }
        }
    }
    return remaining;
}

/* Spatially fills the pixels of PLANE where HOLES is set, within the box. */
static int fill_spatial_box(uint8_t *plane, int stride, const uint8_t *holes, int w, int x0, int y0,
                            int x1, int y1, uint8_t *work) {
    if (x1 < x0) return 0;
    /* Room for the known pixels the fill grows from. */
    int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
    for (int y = 0; y < bh; y++)
        memcpy(work + (size_t)y * bw, holes + (size_t)(y + y0) * w + x0, (size_t)bw);
    return spatial_fill(plane + (size_t)y0 * stride + x0, stride, bw, bh, work);
}

/* Copies chroma pixel (cx, cy) of CUR from source S, if S shows it there:
 * no luma pixel under the four chroma taps it samples is masked. */
static int copy_chroma(const struct filler *f, struct slot *cur, const struct source *s, int cx,
                       int cy) {
    int w = f->width, h = f->height, cw = (w + 1) / 2, ch = (h + 1) / 2;
    double sx = cx + s->dx / 2, sy = cy + s->dy / 2;
    if (sx < 0 || sy < 0 || sx > cw - 2 || sy > ch - 2) return 0;
    if (!s->use_filled) {
        /* At a whole chroma pixel, sample() reads that one alone. */
        int lx = 2 * (int)sx, ly = 2 * (int)sy;
        int lw = sx == (int)sx && sy == (int)sy ? 2 : 4;
        uint64_t taps = (1ull << lw) - 1; /* columns lx.., none past w (zero bits) */
        for (int yy = ly; yy < ly + lw && yy < h; yy++)
            if (bits_at(mask_bits_row(f, s->slot, yy), f->bits_words, lx) & taps) return 0;
    }
    /* No chroma offset: estimated from a few pixels per tile it varies more
     * than it helps (flicker). */
    const AVFrame *src = s->slot->frame;
    AVFrame *dst = cur->frame;
    dst->data[1][(size_t)cy * dst->linesize[1] + cx] =
        (uint8_t)sample(src->data[1], src->linesize[1], sx, sy);
    dst->data[2][(size_t)cy * dst->linesize[2] + cx] =
        (uint8_t)sample(src->data[2], src->linesize[2], sx, sy);
    return 1;
}

/* How many pixels of box [X0, X1) x [Y0, Y1) the mask of CUR covers, counted
 * in its bits: most tiles of the band hold none. */
static int masked_in(const struct filler *f, const struct slot *cur, int x0, int y0, int x1,
                     int y1) {
    int n = 0;
    for (int y = y0; y < y1; y++) {
        const uint64_t *row = mask_bits_row(f, cur, y);
        for (long x = x0; x < x1; x += 64)
            n += __builtin_popcountll(bits_at(row, f->bits_words, x) & bits_in(x, x0, x1));
    }
    return n;
}

static int fill_frame(struct filler *f, struct slot *cur) {
    int w = f->width, h = f->height;
    /* Work only within the band of rows the mask covers: outside it, every
     * work plane is zero already (cur_mask is cleared band by band). */
    int band0 = cur->mask_y0, band1 = cur->mask_y1;
    if (f->band_y1 > f->band_y0)
        memset(f->cur_mask + (size_t)f->band_y0 * w, 0, (size_t)(f->band_y1 - f->band_y0) * w);
    f->band_y0 = band0;
    f->band_y1 = band1;
    if (band1 <= band0) return 0;
    memcpy(f->cur_mask + (size_t)band0 * w, cur->mask_rows, (size_t)(band1 - band0) * w);
    memset(f->source_of + (size_t)band0 * w, 0, (size_t)(band1 - band0) * w * sizeof *f->source_of);
    f->source_count = 0;
    int bx0 = w, by0 = h, bx1 = -1, by1 = -1; /* box of pixels left for spatial fill */
    int tile = f->tile;
    for (int ty = band0 / tile * tile; ty < band1; ty += tile)
        for (int tx = 0; tx < w; tx += tile) {
            int x1 = tx + tile > w ? w : tx + tile, y1 = ty + tile > h ? h : ty + tile;
            int remaining = masked_in(f, cur, tx, ty, x1, y1);
            if (!remaining) continue;
            f->filled_pixels += remaining;
            if (fill_tile(f, cur, tx, ty, remaining) > 0) {
                if (tx < bx0) bx0 = tx;
                if (ty < by0) by0 = ty;
                if (x1 - 1 > bx1) bx1 = x1 - 1;
                if (y1 - 1 > by1) by1 = y1 - 1;
            }
        }
    /* Luma left over. */
    if (bx1 >= 0) {
        int x0 = bx0 - 8 < 0 ? 0 : bx0 - 8, y0 = by0 - 8 < 0 ? 0 : by0 - 8;
        int x1 = bx1 + 8 >= w ? w - 1 : bx1 + 8, y1 = by1 + 8 >= h ? h - 1 : by1 + 8;
        for (size_t i = (size_t)y0 * w; i < (size_t)(y1 + 1) * w; i++) {
            f->holes[i] = f->cur_mask[i] && !f->source_of[i];
            if (f->holes[i]) f->source_of[i] = SOURCE_SPATIAL, f->filled_spatial++;
        }
        /* work plane: reuse the tail of holes is unsafe; allocate once here */
        uint8_t *work = malloc((size_t)(x1 - x0 + 1) * (y1 - y0 + 1));
        if (!work) return VSR_E_NOMEM;
        int rc = fill_spatial_box(cur->frame->data[0], cur->frame->linesize[0], f->holes, w, x0, y0,
                                  x1, y1, work);
        free(work);
        if (rc) return rc;
    }
    /* Chroma: each chroma pixel follows the source of its top-left masked luma pixel. */
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    int cbx0 = cw, cby0 = ch, cbx1 = -1, cby1 = -1;
    int cband0 = band0 / 2, cband1 = (band1 + 1) / 2;
    int clear0 = cband0 - 4 < 0 ? 0 : cband0 - 4, clear1 = cband1 + 4 > ch ? ch : cband1 + 4;
    memset(f->holes + (size_t)clear0 * cw, 0, (size_t)(clear1 - clear0) * cw);
    for (int cy = cband0; cy < cband1; cy++) {
        int y = 2 * cy, two_rows = y + 1 < h;
        const uint8_t *m0 = f->cur_mask + (size_t)y * w, *m1 = two_rows ? m0 + w : m0;
        const uint16_t *s0 = f->source_of + (size_t)y * w, *s1 = two_rows ? s0 + w : s0;
        /* The masked ones only, from the bits: a bit per column pair. */
        const uint64_t *b0 = mask_bits_row(f, cur, y);
        const uint64_t *b1 = two_rows ? mask_bits_row(f, cur, y + 1) : b0;
        for (int k = 1; k < f->bits_words - 1; k++) {
            uint64_t pairs = b0[k] | b1[k];
            pairs = (pairs | pairs >> 1) & 0x5555555555555555ull;
            for (; pairs; pairs &= pairs - 1) {
                int cx = 32 * (k - 1) + __builtin_ctzll(pairs) / 2;
                int x = 2 * cx, x1 = x + 1 < w ? x + 1 : x;
                /* The sources of its masked luma pixels, in raster order: the
                 * first whose chroma is known there. A chroma pixel spans two
                 * luma columns, which a pan may reveal in different frames. */
                int ids[4] = {m0[x] ? s0[x] : 0, m0[x1] ? s0[x1] : 0, m1[x] ? s1[x] : 0,
                              m1[x1] ? s1[x1] : 0};
                int ok = 0;
                for (int t = 0; t < 4 && !ok; t++) {
                    int id = ids[t];
                    if (!id || id == SOURCE_SPATIAL || (t > 0 && id == ids[t - 1])) continue;
                    ok = copy_chroma(f, cur, &f->sources[id - 1], cx, cy);
                }
                if (!ok) {
                    f->holes[(size_t)cy * cw + cx] = 1;
                    if (cx < cbx0) cbx0 = cx;
                    if (cy < cby0) cby0 = cy;
                    if (cx > cbx1) cbx1 = cx;
                    if (cy > cby1) cby1 = cy;
                }
            }
        }
    }
    if (cbx1 >= 0) {
        int x0 = cbx0 - 4 < 0 ? 0 : cbx0 - 4, y0 = cby0 - 4 < 0 ? 0 : cby0 - 4;
        int x1 = cbx1 + 4 >= cw ? cw - 1 : cbx1 + 4, y1 = cby1 + 4 >= ch ? ch - 1 : cby1 + 4;
        uint8_t *work = malloc((size_t)(x1 - x0 + 1) * (y1 - y0 + 1));
        if (!work) return VSR_E_NOMEM;
        for (int plane = 1; plane <= 2; plane++) {
            int rc = fill_spatial_box(cur->frame->data[plane], cur->frame->linesize[plane],
                                      f->holes, cw, x0, y0, x1, y1, work);
            if (rc) {
                free(work);
                return rc;
            }
        }
        free(work);
    }
    return 0;
}

/* Makes FRAME (YUV 4:2:0) writable, copying its pictures into buffers from
 * the filler's pools when something else holds a reference to them. */
static int make_writable(struct filler *f, AVFrame *frame) {
    if (av_frame_is_writable(frame)) return 0;
    AVFrame *copy = av_frame_alloc();
    if (!copy) return VSR_E_NOMEM;
    copy->format = frame->format;
    copy->width = frame->width;
    copy->height = frame->height;
    for (int p = 0; p < 3; p++) {
        int rows = p ? (frame->height + 1) / 2 : frame->height;
        size_t size = (size_t)frame->linesize[p] * rows;
        if (frame->linesize[p] <= 0 || !frame->data[p]) goto fail;
        if (f->copy_sizes[p] != size) { /* first use, or a new layout */
            av_buffer_pool_uninit(&f->copy_pools[p]);
            f->copy_pools[p] = av_buffer_pool_init(size, NULL);
            f->copy_sizes[p] = size;
        }
        copy->buf[p] = f->copy_pools[p] ? av_buffer_pool_get(f->copy_pools[p]) : NULL;
        if (!copy->buf[p]) goto fail;
        copy->data[p] = copy->buf[p]->data;
        copy->linesize[p] = frame->linesize[p];
    }
    if (av_frame_copy(copy, frame) < 0 || av_frame_copy_props(copy, frame) < 0) goto fail;
    av_frame_unref(frame);
    av_frame_move_ref(frame, copy);
    av_frame_free(&copy);
    return 0;
fail:
    av_frame_free(&copy);
    return VSR_E_NOMEM;
}

int filler_pop(struct filler *f, AVFrame **frame, uint8_t *mask_out) {
    *frame = NULL;
    if (f->next_fill >= f->pushed) return 0;
    struct slot *cur = slot_at(f, f->next_fill);
    /* A frame with subtitles waits for the frames after it; one without goes
     * out at once, as decoded (it stays in its slot as a source), so that the
     * encoder need not wait for the window to fill. */
    int masked = cur->mask_y1 > cur->mask_y0;
    if (!f->finished && masked && f->pushed - f->next_fill <= f->future) return 0;
    /* A frame without subtitles goes out as decoded: no copy. */
    if (masked && make_writable(f, cur->frame) < 0) return VSR_E_NOMEM;
    int rc = fill_frame(f, cur);
    if (rc) return rc;
    AVFrame *out = av_frame_clone(cur->frame);
    if (!out) return VSR_E_NOMEM;
    if (mask_out) memcpy(mask_out, f->cur_mask, (size_t)f->width * f->height);
    f->next_fill++;
    *frame = out;
    return 1;
}
