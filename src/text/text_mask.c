/* text_mask.c: a line's text pixels on one frame (see text_mask.h). */
#include "text/text_mask.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vsr.h"

#define RESP_MIN   14   /* top-hat levels that are text, at the least */
#define RESP_SHARE 0.30 /* of the line's strong strokes (95th percentile) */
#define EDGE_STEP  4    /* a box edge: the grey-level step at a column, at least */
#define EDGE_SHARE 0.6  /* of the columns along the line, all of one sign */

struct text_mask {
    int width, height;
    size_t capacity;
    uint8_t *src, *open, *close, *tmp, *bin; /* of the region around a line */
    uint8_t *line_in, *line_g, *line_h;      /* one padded row or column */
    uint32_t *columns;                       /* stroke pixels in each column */
    size_t line_capacity;
};

static int imax(int a, int b) {
    return a > b ? a : b;
}
static int imin(int a, int b) {
    return a < b ? a : b;
}

struct text_mask *text_mask_new(int width, int height) {
    struct text_mask *tm = calloc(1, sizeof *tm);
    if (!tm) return NULL;
    tm->width = width, tm->height = height;
    tm->columns = malloc((size_t)width * sizeof *tm->columns);
    if (!tm->columns) {
        free(tm);
        return NULL;
    }
    return tm;
}

void text_mask_free(struct text_mask *tm) {
    if (!tm) return;
    free(tm->src), free(tm->open), free(tm->close), free(tm->tmp), free(tm->bin);
    free(tm->line_in), free(tm->line_g), free(tm->line_h);
    free(tm->columns);
    free(tm);
}

static int reserve(struct text_mask *tm, size_t n, size_t line) {
    if (n > tm->capacity) {
        uint8_t **bufs[5] = {&tm->src, &tm->open, &tm->close, &tm->tmp, &tm->bin};
        for (int i = 0; i < 5; i++) {
            free(*bufs[i]);
            *bufs[i] = malloc(n);
            if (!*bufs[i]) {
                tm->capacity = 0;
                return -1;
            }
        }
        tm->capacity = n;
    }
    if (line > tm->line_capacity) {
        uint8_t **bufs[3] = {&tm->line_in, &tm->line_g, &tm->line_h};
        for (int i = 0; i < 3; i++) {
            free(*bufs[i]);
            *bufs[i] = malloc(line);
            if (!*bufs[i]) {
                tm->line_capacity = 0;
                return -1;
            }
        }
        tm->line_capacity = line;
    }
    return 0;
}

static inline uint8_t pick(uint8_t a, uint8_t b, int is_max) {
    return is_max ? (a > b ? a : b) : (a < b ? a : b);
}

/* The min or max of each window of 2R+1 samples along N samples STRIDE
 * apart, from IN to OUT (van Herk, Gil & Werman: three comparisons a
 * sample whatever the window). Outside the ends nothing counts. */
static void filter_1d(struct text_mask *tm, const uint8_t *in, uint8_t *out, int n, int stride,
                      int r, int is_max) {
    int k = 2 * r + 1, padded = n + 2 * r;
    uint8_t neutral = is_max ? 0 : 255;
    uint8_t *x = tm->line_in, *g = tm->line_g, *h = tm->line_h;
    for (int i = 0; i < r; i++)
        x[i] = x[r + n + i] = neutral;
    for (int i = 0; i < n; i++)
        x[r + i] = in[(size_t)i * stride];
    for (int b = 0; b < padded; b += k) {
        int e = imin(b + k, padded);
        g[b] = x[b];
        for (int i = b + 1; i < e; i++)
            g[i] = pick(g[i - 1], x[i], is_max);
        h[e - 1] = x[e - 1];
        for (int i = e - 2; i >= b; i--)
            h[i] = pick(h[i + 1], x[i], is_max);
    }
    for (int i = 0; i < n; i++) {
        int j = i + k - 1;
        out[(size_t)i * stride] = j < padded ? pick(h[i], g[j], is_max) : h[i];
    }
}

/* A square min or max filter of radius R over the W x H plane IN. */
static void filter_2d(struct text_mask *tm, const uint8_t *in, uint8_t *out, int w, int h, int r,
                      int is_max) {
    for (int y = 0; y < h; y++)
        filter_1d(tm, in + (size_t)y * w, tm->tmp + (size_t)y * w, w, 1, r, is_max);
    for (int x = 0; x < w; x++)
        filter_1d(tm, tm->tmp + x, out + x, h, w, r, is_max);
}

/* The share of columns [X0, X1) whose step from row Y-1 to row Y is at least
 * EDGE_STEP and of sign SIGN (+1 brighter below, -1 darker). */
static double edge_share(const uint8_t *p, int w, int x0, int x1, int y, int sign) {
    int hits = 0;
    for (int x = x0; x < x1; x++) {
        int d = (int)p[(size_t)y * w + x] - (int)p[(size_t)(y - 1) * w + x];
        if (d * sign >= EDGE_STEP) hits++;
    }
    return x1 > x0 ? (double)hits / (x1 - x0) : 0;
}

/* The best edge row in [LO, HI) of sign SIGN, or -1 when none is straight
 * enough; *SIGN_OUT takes its sign when SIGN is 0 (either). */
static int find_edge(const uint8_t *p, int w, int x0, int x1, int lo, int hi, int sign,
                     int *sign_out) {
    int best = -1;
    double best_share = EDGE_SHARE;
    for (int y = imax(lo, 1); y < hi; y++)
        for (int s = -1; s <= 1; s += 2) {
            if (sign && s != sign) continue;
            double share = edge_share(p, w, x0, x1, y, s);
            if (share >= best_share) best_share = share, best = y, *sign_out = s;
        }
    return best;
}

/* The share of rows [Y0, Y1) whose step from column X-1 to column X is at
 * least EDGE_STEP and of sign SIGN: a box's side. */
static double side_share(const uint8_t *p, int w, int x, int y0, int y1, int sign) {
    if (y1 <= y0) return 0;
    if (x < 1 || x >= w) return 0;
    int hits = 0;
    for (int y = y0; y < y1; y++) {
        int d = (int)p[(size_t)y * w + x] - (int)p[(size_t)y * w + x - 1];
        if (d * sign >= EDGE_STEP) hits++;
    }
    return (double)hits / (y1 - y0);
}

/* How far a box edge at row Y (sign SIGN) runs from column X each way. */
static void edge_extent(const uint8_t *p, int w, int x, int y, int sign, int *left, int *right) {
    int gap = 0, l = x, r = x;
    for (int i = x; i >= 0 && gap <= 3; i--) {
        int d = (int)p[(size_t)y * w + i] - (int)p[(size_t)(y - 1) * w + i];
        if (d * sign >= EDGE_STEP)
            l = i, gap = 0;
        else
            gap++;
    }
    gap = 0;
    for (int i = x; i < w && gap <= 3; i++) {
        int d = (int)p[(size_t)y * w + i] - (int)p[(size_t)(y - 1) * w + i];
        if (d * sign >= EDGE_STEP)
            r = i, gap = 0;
        else
            gap++;
    }
    *left = l, *right = r;
}

/* Finds a box behind the text that spans columns [TX0, TX1) of the line
 * whose box in the region is LX0..LY1: its rows [*BY0, *BY1) and columns
 * [*BX0, *BX1), in region pixels. */
static int find_box(const uint8_t *p, int w, int h, int tx0, int tx1, int ty0, int ty1, int lx0,
                    int ly0, int lx1, int ly1, int *bx0, int *by0, int *bx1, int *by1) {
    int lh = ly1 - ly0, inset = lh / 4;
    int x0 = tx0 + inset, x1 = tx1 - inset;
    if (x1 - x0 < 8) return 0;
    /* The edges lie clear of the strokes (the tops and feet of a row of
     * letters make straight steps too), the bottom's step the top's
     * reversed; of the two signs, the one whose weaker edge is straighter. */
    int sign = 0, top = -1, bottom = -1;
    double straightest = EDGE_SHARE;
    for (int s = -1; s <= 1; s += 2) {
        int t_sign, b_sign;
        int t = find_edge(p, w, x0, x1, ly0 - lh, ty0, s, &t_sign);
        if (t < 0) continue;
        int b = find_edge(p, w, x0, x1, ty1 + 1, imin(h, ly1 + lh), -s, &b_sign);
        if (b < 0) continue;
        double share = fmin(edge_share(p, w, x0, x1, t, s), edge_share(p, w, x0, x1, b, -s));
        if (share >= straightest) straightest = share, sign = s, top = t, bottom = b;
    }
    if (top < 0) return 0;
    int cx = (x0 + x1) / 2, l0, r0, l1, r1;
    edge_extent(p, w, cx, top, sign, &l0, &r0);
    edge_extent(p, w, cx, bottom, -sign, &l1, &r1);
    /* Where the picture beside the box is as dark (or bright) as the box, its
     * edge fades: the text's own ends are the least it spans. */
    *bx0 = imax(lx0 - lh, imin(tx0, imin(l0, l1)));
    *bx1 = imin(lx1 + lh, imax(tx1, imax(r0, r1) + 1));
    *by0 = top, *by1 = bottom;
    /* And it has a side, at least one (the other may meet a picture of its
     * colour): the column between the edges' reach and the text with the
     * straightest step. A side not found stays at the edges' reach. */
    int found = 0;
    for (int side = 0; side < 2; side++) {
        int from = side ? tx1 : *bx0, to = side ? *bx1 : tx0, s = side ? -sign : sign;
        double best = EDGE_SHARE;
        int at = -1;
        for (int x = from; x <= to; x++) {
            double share = side_share(p, w, x, top + 1, bottom - 1, s);
            if (share >= best) best = share, at = x;
        }
        if (at < 0) continue;
        found = 1;
        if (side)
            *bx1 = at;
        else
            *bx0 = at;
    }
    return found;
}

/* The columns the text's strokes span in BIN (W wide) within rows [Y0, Y1):
 * from the 2nd to the 98th percentile of the strokes' pixels, so that a
 * stray bit of picture does not stretch it; and the rows they span. Returns
 * 0 when there are none. */
static int text_columns(const uint8_t *bin, int w, int x0, int y0, int x1, int y1, uint32_t *count,
                        int *tx0, int *tx1, int *ty0, int *ty1) {
    uint32_t total = 0;
    *ty0 = y1, *ty1 = y0;
    for (int y = y0; y < y1; y++)
        if (memchr(bin + (size_t)y * w + x0, 255, (size_t)(x1 - x0))) {
            if (y < *ty0) *ty0 = y;
            *ty1 = y + 1;
        }
    for (int x = x0; x < x1; x++) {
        count[x] = 0;
        for (int y = y0; y < y1; y++)
            count[x] += bin[(size_t)y * w + x] != 0;
        total += count[x];
    }
    if (!total) return 0;
    uint32_t run = 0;
    *tx0 = x0, *tx1 = x1;
    for (int x = x0; x < x1; x++)
        if ((run += count[x]) * 50 > total) {
            *tx0 = x;
            break;
        }
    run = 0;
    for (int x = x1 - 1; x >= x0; x--)
        if ((run += count[x]) * 50 > total) {
            *tx1 = x + 1;
            break;
        }
    return *tx1 > *tx0;
}

static long paint_line(struct text_mask *tm, const AVFrame *frame, const struct text_box *line,
                       uint8_t *mask, int *y0, int *y1) {
    int W = tm->width, H = tm->height;
    int lh = text_box_h(line);
    int r = imax(1, imin(20, lh / 6)); /* strokes thinner than 2r+1 */
    /* A box reaches further past the network's line above and below (the
     * line hugs the letters' core) than at its ends. */
    int grow = imax(r, lh / 2) + 2, grow_y = imax(r, lh) + 2;
    int rx0 = imax(0, line->x0 - grow), ry0 = imax(0, line->y0 - grow_y);
    int rx1 = imin(W, line->x1 + grow), ry1 = imin(H, line->y1 + grow_y);
    int w = rx1 - rx0, h = ry1 - ry0;
    if (w <= 0 || h <= 0) return 0;
    size_t n = (size_t)w * (size_t)h;
    int d = imax(1, imin(12, lh / 24)); /* strokes grown for anti-aliasing, blur and shadow */
    if (reserve(tm, n, (size_t)imax(w, h) + 2 * (size_t)imax(r, d) + 2) < 0) return VSR_E_NOMEM;
    for (int y = 0; y < h; y++)
        memcpy(tm->src + (size_t)y * w,
               frame->data[0] + (size_t)(ry0 + y) * frame->linesize[0] + rx0, (size_t)w);
    /* Opening and closing: erosion then dilation, and the other way. */
    filter_2d(tm, tm->src, tm->bin, w, h, r, 0);
    filter_2d(tm, tm->bin, tm->open, w, h, r, 1);
    filter_2d(tm, tm->src, tm->bin, w, h, r, 1);
    filter_2d(tm, tm->bin, tm->close, w, h, r, 0);
    int lx0 = line->x0 - rx0, ly0 = line->y0 - ry0, lx1 = line->x1 - rx0, ly1 = line->y1 - ry0;
    uint32_t hist[256] = {0};
    for (int y = ly0; y < ly1; y++)
        for (int x = lx0; x < lx1; x++) {
            size_t i = (size_t)y * w + x;
            int a = tm->src[i] - tm->open[i], b = tm->close[i] - tm->src[i];
            uint8_t v = (uint8_t)(a > b ? a : b);
            tm->open[i] = v; /* the response, in place */
            hist[v]++;
        }
    uint32_t total = (uint32_t)(lx1 - lx0) * (uint32_t)(ly1 - ly0), run = 0;
    int q95 = 255;
    for (int v = 255; v >= 0; v--)
        if ((run += hist[v]) * 20 >= total) {
            q95 = v;
            break;
        }
    int t = imax(RESP_MIN, (int)(RESP_SHARE * q95));
    memset(tm->bin, 0, n);
    for (int y = ly0; y < ly1; y++)
        for (int x = lx0; x < lx1; x++) {
            size_t i = (size_t)y * w + x;
            tm->bin[i] = tm->open[i] > t ? 255 : 0;
        }
    filter_2d(tm, tm->bin, tm->close, w, h, d, 1);
    int bx0, by0, bx1, by1, tx0, tx1, ty0, ty1;
    if (text_columns(tm->bin, w, lx0, ly0, lx1, ly1, tm->columns, &tx0, &tx1, &ty0, &ty1) &&
        find_box(tm->src, w, h, tx0, tx1, ty0, ty1, lx0, ly0, lx1, ly1, &bx0, &by0, &bx1, &by1)) {
        for (int y = imax(0, by0 - 2); y < imin(h, by1 + 2); y++)
            memset(tm->close + (size_t)y * w + imax(0, bx0 - 2), 255,
                   (size_t)(imin(w, bx1 + 2) - imax(0, bx0 - 2)));
    }
    long set = 0;
    int top = h, bottom = -1;
    for (int y = 0; y < h; y++) {
        uint8_t *m = mask + (size_t)(ry0 + y) * W + rx0;
        const uint8_t *c = tm->close + (size_t)y * w;
        int any = 0;
        for (int x = 0; x < w; x++)
            if (c[x]) {
                set += !m[x];
                m[x] = 255;
                any = 1;
            }
        if (any) top = imin(top, y), bottom = y;
    }
    if (bottom >= 0 && *y1 <= *y0)
        *y0 = ry0 + top, *y1 = ry0 + bottom + 1;
    else if (bottom >= 0)
        *y0 = imin(*y0, ry0 + top), *y1 = imax(*y1, ry0 + bottom + 1);
    return set;
}

long text_mask_paint(struct text_mask *tm, const AVFrame *frame, const struct text_box *lines,
                     int n, uint8_t *mask, int *y0, int *y1) {
    long set = 0;
    for (int i = 0; i < n; i++) {
        long s = paint_line(tm, frame, &lines[i], mask, y0, y1);
        if (s < 0) return s;
        set += s;
    }
    return set;
}
