/* motion.c: coarse-to-fine global translation (see motion.h). */
#include "engine/motion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/cpu_clones.h"

#define COARSE_RADIUS 6     /* at 1/8 size: +-48 pixels of full-size motion per frame */
#define TRUNCATE      40    /* differences beyond this are outliers (moving objects) */
#define SAMPLES_MAX   12000 /* pixels looked at per cost, at most */
#define BLOCK_SAMPLES 200   /* per block and shift in the coarse vote, at most */
#define LK_RESIDUAL   5     /* levels off the sub-pixel fit: that pixel moves otherwise */

enum { GRID_X = MOTION_GRID_X, GRID_Y = MOTION_GRID_Y };

struct level {
    int w, h;
    const uint8_t *luma;  /* level 0: the caller's frame, which must outlive the use */
    uint8_t *own;         /* levels above 0: luma, owned */
    int stride;           /* of luma */
    uint8_t *mask;        /* non-zero = ignore */
    int band_y0, band_y1; /* rows of mask that may be non-zero */
    uint8_t *grid_col;    /* w entries: the voting block column of each x */
};

/* The top level again, with a border of VOTE_PAD pixels each side that its
 * mask ignores: block_costs reads every horizontal shift of a sample at once,
 * without a bounds check per shift. */
enum { VOTE_LANES = 16, VOTE_PAD = VOTE_LANES };

struct vote_plane {
    uint8_t *luma, *mask; /* (w + 2 * VOTE_PAD) x h, pixel (0, 0) at VOTE_PAD */
    int stride;
};

struct motion_pyramid {
    struct level levels[MOTION_LEVELS];
    struct vote_plane vote;
};

struct motion_pyramid *motion_pyramid_new(int width, int height) {
    struct motion_pyramid *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    int w = width, h = height;
    for (int l = 0; l < MOTION_LEVELS; l++) {
        p->levels[l].w = w;
        p->levels[l].h = h;
        p->levels[l].stride = w;
        if (l > 0) p->levels[l].luma = p->levels[l].own = malloc((size_t)w * h);
        p->levels[l].mask = calloc((size_t)w * h, 1);
        p->levels[l].grid_col = malloc((size_t)w);
        if ((l > 0 && !p->levels[l].own) || !p->levels[l].mask || !p->levels[l].grid_col) {
            motion_pyramid_free(p);
            return NULL;
        }
        for (int x = 0; x < w; x++)
            p->levels[l].grid_col[x] = (uint8_t)(x * GRID_X / w);
        if (l == MOTION_LEVELS - 1) {
            struct vote_plane *v = &p->vote;
            v->stride = w + 2 * VOTE_PAD;
            v->luma = calloc((size_t)v->stride * h, 1);
            v->mask = malloc((size_t)v->stride * h);
            if (!v->luma || !v->mask) {
                motion_pyramid_free(p);
                return NULL;
            }
            memset(v->mask, 1, (size_t)v->stride * h); /* the border stays ignored */
            for (int y = 0; y < h; y++)
                memset(v->mask + (size_t)y * v->stride + VOTE_PAD, 0, (size_t)w);
        }
        w = w / 2 > 1 ? w / 2 : 1;
        h = h / 2 > 1 ? h / 2 : 1;
    }
    return p;
}

void motion_pyramid_free(struct motion_pyramid *p) {
    if (!p) return;
    for (int l = 0; l < MOTION_LEVELS; l++) {
        free(p->levels[l].own);
        free(p->levels[l].mask);
        free(p->levels[l].grid_col);
    }
    free(p->vote.luma);
    free(p->vote.mask);
    free(p);
}

/* Zeroes rows [y0, y1) of a W-wide plane. */
static void clear_rows(uint8_t *plane, size_t w, int y0, int y1) {
    if (y1 > y0) memset(plane + (size_t)y0 * w, 0, (size_t)(y1 - y0) * w);
}

/* Halves A into B: 2x2 means of luma, 2x2 unions of the mask (over the rows
 * A's mask band reaches; the rest stays zero). The last column and row
 * repeat when A's size is odd. */
CPU_CLONES
static void halve(const struct level *a, struct level *b) {
    int b0 = a->band_y0 / 2, b1 = (a->band_y1 + 1) / 2;
    if (b1 > b->h) b1 = b->h;
    if (a->band_y1 <= a->band_y0) b0 = b1 = 0;
    clear_rows(b->mask, (size_t)b->w, b->band_y0, b->band_y1);
    b->band_y0 = b0;
    b->band_y1 = b1;
    uint8_t *out = b->own;
    int inner = a->w / 2 < b->w ? a->w / 2 : b->w; /* columns with both taps inside */
    for (int y = 0; y < b->h; y++) {
        int y0 = 2 * y < a->h ? 2 * y : a->h - 1, y1 = 2 * y + 1 < a->h ? 2 * y + 1 : y0;
        const uint8_t *l0 = a->luma + (size_t)y0 * a->stride,
                      *l1 = a->luma + (size_t)y1 * a->stride;
        uint8_t *lo = out + (size_t)y * b->w;
        for (int x = 0; x < inner; x++)
            lo[x] = (uint8_t)((l0[2 * x] + l0[2 * x + 1] + l1[2 * x] + l1[2 * x + 1] + 2) >> 2);
        for (int x = inner; x < b->w; x++) {
            int x0 = 2 * x < a->w ? 2 * x : a->w - 1;
            lo[x] = (uint8_t)((l0[x0] + l1[x0] + 1) >> 1);
        }
        if (y < b0 || y >= b1) continue;
        const uint8_t *m0 = a->mask + (size_t)y0 * a->w, *m1 = a->mask + (size_t)y1 * a->w;
        uint8_t *mo = b->mask + (size_t)y * b->w;
        for (int x = 0; x < inner; x++)
            mo[x] = m0[2 * x] | m0[2 * x + 1] | m1[2 * x] | m1[2 * x + 1];
        for (int x = inner; x < b->w; x++) {
            int x0 = 2 * x < a->w ? 2 * x : a->w - 1;
            mo[x] = m0[x0] | m1[x0];
        }
    }
}

void motion_pyramid_build(struct motion_pyramid *p, const uint8_t *luma, int stride,
                          const uint8_t *mask, int mask_y0, int mask_y1) {
    struct level *l0 = &p->levels[0];
    l0->luma = luma;
    l0->stride = stride;
    if (!mask || mask_y0 < 0 || mask_y1 > l0->h || mask_y1 <= mask_y0) mask_y0 = mask_y1 = 0;
    clear_rows(l0->mask, (size_t)l0->w, l0->band_y0, l0->band_y1);
    if (mask_y1 > mask_y0)
        memcpy(l0->mask + (size_t)mask_y0 * l0->w, mask + (size_t)mask_y0 * l0->w,
               (size_t)(mask_y1 - mask_y0) * l0->w);
    l0->band_y0 = mask_y0;
    l0->band_y1 = mask_y1;
    struct level *top = &p->levels[MOTION_LEVELS - 1];
    int old0 = top->band_y0, old1 = top->band_y1;
    for (int l = 1; l < MOTION_LEVELS; l++)
        halve(&p->levels[l - 1], &p->levels[l]);
    for (int y = 0; y < top->h; y++) {
        size_t at = (size_t)y * p->vote.stride + VOTE_PAD;
        memcpy(p->vote.luma + at, top->luma + (size_t)y * top->stride, (size_t)top->w);
        int was = y >= old0 && y < old1, is = y >= top->band_y0 && y < top->band_y1;
        if (is)
            memcpy(p->vote.mask + at, top->mask + (size_t)y * top->w, (size_t)top->w);
        else if (was)
            memset(p->vote.mask + at, 0, (size_t)top->w);
    }
}

/* One sampled row of cost: adds the truncated squares of the row's inlier
 * pixels into *SUM and their count into *N. MASKED says whether either mask
 * row may be set: outside the two bands neither is read. */
static inline __attribute__((always_inline)) void
cost_row(const struct level *prev, const struct level *cur, int dx, int dy, int y, int x0, int x1,
         int step, const uint8_t *inliers, int masked, long long *sum, long long *n) {
    int w = cur->w;
    const uint8_t *c = cur->luma + (size_t)y * cur->stride, *cm = cur->mask + (size_t)y * w;
    const uint8_t *p = prev->luma + (size_t)(y + dy) * prev->stride + dx;
    const uint8_t *pm = prev->mask + (size_t)(y + dy) * w + dx;
    const uint8_t *row_inliers = inliers + (y * GRID_Y / cur->h) * GRID_X;
    long long s = 0, k = 0;
    for (int x = x0; x < x1; x += step) {
        if (masked && (cm[x] | pm[x])) continue;
        if (!row_inliers[cur->grid_col[x]]) continue;
        int d = c[x] - p[x];
        if (d < 0) d = -d;
        if (d > TRUNCATE) d = TRUNCATE;
        s += d * d;
        k++;
    }
    *sum += s;
    *n += k;
}

static int in_band(const struct level *l, int y) {
    return y >= l->band_y0 && y < l->band_y1;
}

/* Mean truncated squared difference between cur and prev shifted by (dx, dy),
 * over pixels unmasked in both and in an inlier block, looking at no more than
 * SAMPLES_MAX pixels; HUGE_VAL when too few overlap. */
static double cost(const struct level *prev, const struct level *cur, int dx, int dy,
                   const uint8_t *inliers) {
    int w = cur->w, h = cur->h;
    int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? w - dx : w;
    int y0 = dy < 0 ? -dy : 0, y1 = dy > 0 ? h - dy : h;
    if (x1 - x0 < w / 2 || y1 - y0 < h / 2 || x1 - x0 < 2 || y1 - y0 < 2) return HUGE_VAL;
    long long area = (long long)(x1 - x0) * (y1 - y0);
    int step = 1;
    while (area / ((long long)step * step) > SAMPLES_MAX)
        step++;
    long long sum = 0, n = 0;
    for (int y = y0; y < y1; y += step) {
        if (in_band(cur, y) || in_band(prev, y + dy))
            cost_row(prev, cur, dx, dy, y, x0, x1, step, inliers, 1, &sum, &n);
        else
            cost_row(prev, cur, dx, dy, y, x0, x1, step, inliers, 0, &sum, &n);
    }
    return n * 16 < area / ((long long)step * step) ? HUGE_VAL : (double)sum / (double)n;
}

/* Lanes of the vote: one per horizontal shift (GCC and Clang lower these
 * vectors to AVX2, SSE2 or NEON, or to plain code where there is none). */
typedef uint8_t vote_u8 __attribute__((vector_size(16)));
typedef int16_t vote_i16 __attribute__((vector_size(32)));
typedef int16_t vote_i16_half __attribute__((vector_size(16)));
typedef int32_t vote_i32 __attribute__((vector_size(32)));

/* The cost of every shift within COARSE_RADIUS for the block [x0, x1) x
 * [y0, y1) of the top level, into COSTS (SIDE x SIDE, row-major by dy): the
 * mean truncated squared difference over a fixed grid of at most
 * BLOCK_SAMPLES of the block's pixels, unmasked in cur and, once shifted,
 * inside prev and unmasked there; HUGE_VAL when too few are. Each sample is
 * compared with the row of its horizontal shifts at once, in lanes: a block
 * row holds too few samples (15 at 1080p) to vectorize the other way. Its
 * 16 lanes take one AVX2 instruction, two SSE2 ones. */
CPU_CLONES
static void block_costs(const struct motion_pyramid *prev, const struct motion_pyramid *cur, int x0,
                        int y0, int x1, int y1, double *costs) {
    enum { R = COARSE_RADIUS, SIDE = 2 * COARSE_RADIUS + 1 };
    const struct level *top = &cur->levels[MOTION_LEVELS - 1];
    const struct vote_plane *c = &cur->vote, *p = &prev->vote;
    int w = top->w, h = top->h;
    long long area = (long long)(x1 - x0) * (y1 - y0);
    int step = 1;
    while (area / ((long long)step * step) > BLOCK_SAMPLES)
        step++;
    /* 16 lanes: d*d <= TRUNCATE^2 fits 16 bits, and so does a count of
     * samples; sums need 32, in two halves of 8. */
    vote_i32 sum[SIDE][2];
    vote_i16 count[SIDE];
    memset(sum, 0, sizeof sum);
    memset(count, 0, sizeof count);
    for (int y = y0; y < y1; y += step) {
        const uint8_t *cl = c->luma + (size_t)y * c->stride + VOTE_PAD;
        const uint8_t *cm = c->mask + (size_t)y * c->stride + VOTE_PAD;
        for (int x = x0; x < x1; x += step) {
            if (cm[x]) continue;
            vote_i16 v = {0};
            v += cl[x];
            for (int j = 0; j < SIDE; j++) {
                int py = y + j - R;
                if (py < 0 || py >= h) continue;
                /* Lanes 0..2R are the shifts -R..R; the rest are not used. */
                const uint8_t *pl = p->luma + (size_t)py * p->stride + VOTE_PAD + x - R;
                const uint8_t *pm = p->mask + (size_t)py * p->stride + VOTE_PAD + x - R;
                vote_u8 l8, m8;
                memcpy(&l8, pl, sizeof l8);
                memcpy(&m8, pm, sizeof m8);
                vote_i16 d = __builtin_convertvector(l8, vote_i16) - v;
                vote_i16 sign = d >> 15;
                d = (d ^ sign) - sign;
                vote_i16 over = d > TRUNCATE;
                d = (d & ~over) | (TRUNCATE & over);
                vote_i16 known = __builtin_convertvector(m8, vote_i16) == 0;
                vote_i16 squares = d * d & known;
                vote_i16_half lo =
                    __builtin_shufflevector(squares, squares, 0, 1, 2, 3, 4, 5, 6, 7);
                vote_i16_half hi =
                    __builtin_shufflevector(squares, squares, 8, 9, 10, 11, 12, 13, 14, 15);
                sum[j][0] += __builtin_convertvector(lo, vote_i32);
                sum[j][1] += __builtin_convertvector(hi, vote_i32);
                count[j] -= known; /* known is -1 where true */
            }
        }
    }
    long long grid = area / ((long long)step * step);
    for (int j = 0; j < SIDE; j++)
        for (int k = 0; k < SIDE; k++) {
            int dx = k - R, dy = j - R;
            /* As cost: a shift that leaves less than half the frame is out. */
            int out = w - abs(dx) < w / 2 || h - abs(dy) < h / 2;
            long long n = count[j][k];
            costs[j * SIDE + k] =
                out || n * 16 < grid ? HUGE_VAL : (double)sum[j][k / 8][k % 8] / (double)n;
        }
}

/* The coarse displacement most blocks of the frame agree with. A block
 * agrees with every shift that matches it about as well as its best one, so
 * flat blocks (asphalt, sky, walls) agree with anything and textured ones
 * only with their true motion. A car that fills a few blocks cannot outvote
 * the background, unlike a single whole-frame cost. INLIERS gets the blocks
 * that agree with the winner. */
static void vote_coarse(const struct motion_pyramid *prev_pyramid,
                        const struct motion_pyramid *cur_pyramid, int prior_x, int prior_y, int *bx,
                        int *by, uint8_t inliers[GRID_Y][GRID_X], int block_best[GRID_Y][GRID_X]) {
    enum { SIDE = 2 * COARSE_RADIUS + 1 };
    static const double margin = 12; /* noise between two frames, in cost units */
    double costs[GRID_Y][GRID_X][SIDE * SIDE];
    double best_of[GRID_Y][GRID_X];
    int support[SIDE * SIDE] = {0};
    int textured = 0;
    const struct level *cur = &cur_pyramid->levels[MOTION_LEVELS - 1];
    for (int gy = 0; gy < GRID_Y; gy++)
        for (int gx = 0; gx < GRID_X; gx++) {
            int x0 = cur->w * gx / GRID_X, x1 = cur->w * (gx + 1) / GRID_X;
            int y0 = cur->h * gy / GRID_Y, y1 = cur->h * (gy + 1) / GRID_Y;
            double best = HUGE_VAL;
            block_costs(prev_pyramid, cur_pyramid, x0, y0, x1, y1, costs[gy][gx]);
            for (int i = 0; i < SIDE * SIDE; i++)
                if (costs[gy][gx][i] < best) best = costs[gy][gx][i];
            best_of[gy][gx] = best;
            block_best[gy][gx] = -1;
            if (!isfinite(best)) continue;
            int agree = 0, best_i = -1;
            for (int i = 0; i < SIDE * SIDE; i++) {
                agree += costs[gy][gx][i] <= best + margin;
                if (costs[gy][gx][i] == best && best_i < 0) best_i = i;
            }
            if (agree * 4 > SIDE * SIDE) continue; /* flat: agrees with anything */
            block_best[gy][gx] = best_i;
            textured++;
            for (int i = 0; i < SIDE * SIDE; i++)
                if (costs[gy][gx][i] <= best + margin) support[i]++;
        }
    if (prior_x < -COARSE_RADIUS || prior_x > COARSE_RADIUS) prior_x = 0;
    if (prior_y < -COARSE_RADIUS || prior_y > COARSE_RADIUS) prior_y = 0;
    int prior = (prior_y + COARSE_RADIUS) * SIDE + prior_x + COARSE_RADIUS, winner = prior;
    for (int i = 0; i < SIDE * SIDE; i++)
        if (support[i] > support[winner]) winner = i;
    /* A camera moves smoothly: leaving the previous motion takes a clear
     * majority, so an object crossing the frame does not drag it along. */
    if (support[winner] < 2 * support[prior] + 2 || support[winner] * 3 < textured) winner = prior;
    *bx = winner % SIDE - COARSE_RADIUS;
    *by = winner / SIDE - COARSE_RADIUS;
    for (int gy = 0; gy < GRID_Y; gy++)
        for (int gx = 0; gx < GRID_X; gx++)
            inliers[gy][gx] =
                isfinite(best_of[gy][gx]) && costs[gy][gx][winner] <= best_of[gy][gx] + margin;
}

/* Vertex of the parabola through (-1, a), (0, b), (1, c), clamped to +-0.5. */
static double parabola(double a, double b, double c) {
    double den = a - 2 * b + c;
    if (!isfinite(a) || !isfinite(c) || den <= 1e-9) return 0;
    double v = 0.5 * (a - c) / den;
    return v > 0.5 ? 0.5 : v < -0.5 ? -0.5 : v;
}

/* The sub-pixel part (u, v) of a displacement whose whole part is (bx, by),
 * by Lucas-Kanade: cur(x) = prev(x + b) + u * dprev/dx + v * dprev/dy,
 * solved by least squares over the inlier blocks' unmasked pixels, then once
 * more without the pixels that solution does not explain (a walking person
 * inside an inlier block). A parabola through three costs, used before, is
 * biased toward whole pixels: 0.59 px for a true 0.7, an error that adds up
 * frame after frame in a slow pan. Returns 0 when the system is ill-posed. */
static int lucas_kanade(const struct level *prev, const struct level *cur, int bx, int by,
                        const uint8_t *inliers, double *u, double *v) {
    int w = cur->w, h = cur->h, ps = prev->stride;
    int x0 = 1 + (bx < 0 ? -bx : 0), x1 = w - 1 - (bx > 0 ? bx : 0);
    int y0 = 1 + (by < 0 ? -by : 0), y1 = h - 1 - (by > 0 ? by : 0);
    if (x1 - x0 < 8 || y1 - y0 < 8) return 0;
    long long area = (long long)(x1 - x0) * (y1 - y0);
    int step = 1;
    while (area / ((long long)step * step) > SAMPLES_MAX)
        step++;
    double su = 0, sv = 0;
    for (int pass = 0; pass < 2; pass++) {
        double gxx = 0, gxy = 0, gyy = 0, gxe = 0, gye = 0;
        long n = 0;
        for (int y = y0; y < y1; y += step) {
            const uint8_t *c = cur->luma + (size_t)y * cur->stride;
            const uint8_t *cm = cur->mask + (size_t)y * w;
            const uint8_t *p = prev->luma + (size_t)(y + by) * ps + bx;
            const uint8_t *pm = prev->mask + (size_t)(y + by) * w + bx;
            const uint8_t *row_inliers = inliers + (y * GRID_Y / h) * GRID_X;
            for (int x = x0; x < x1; x += step) {
                if (cm[x] | pm[x] | pm[x - 1] | pm[x + 1] | pm[x - w] | pm[x + w]) continue;
                if (!row_inliers[cur->grid_col[x]]) continue;
                int e = c[x] - p[x];
                if (e > TRUNCATE || e < -TRUNCATE) continue;
                double gx = (p[x + 1] - p[x - 1]) * 0.5, gy = (p[x + ps] - p[x - ps]) * 0.5;
                if (pass > 0 && fabs(e - su * gx - sv * gy) > LK_RESIDUAL) continue;
                gxx += gx * gx;
                gxy += gx * gy;
                gyy += gy * gy;
                gxe += gx * e;
                gye += gy * e;
                n++;
            }
        }
        double det = gxx * gyy - gxy * gxy;
        if (n < 64 || !(det > 1e-6 * (gxx + gyy) * (gxx + gyy))) return 0;
        su = (gyy * gxe - gxy * gye) / det;
        sv = (gxx * gye - gxy * gxe) / det;
    }
    if (!(fabs(su) <= 0.75 && fabs(sv) <= 0.75)) return 0; /* not near this whole pixel */
    *u = su;
    *v = sv;
    return 1;
}

int motion_estimate(const struct motion_pyramid *prev, const struct motion_pyramid *cur,
                    double prior_dx, double prior_dy, double *dx, double *dy,
                    struct motion_field *field) {
    int top = MOTION_LEVELS - 1;
    int bx = 0, by = 0;
    double best = HUGE_VAL;
    uint8_t inliers[GRID_Y][GRID_X];
    int block_best[GRID_Y][GRID_X];
    int scale = 1 << top;
    vote_coarse(prev, cur, (int)lround(prior_dx / scale), (int)lround(prior_dy / scale), &bx, &by,
                inliers, block_best);
    if (field) {
        enum { SIDE = 2 * COARSE_RADIUS + 1 };
        for (int gy = 0; gy < GRID_Y; gy++)
            for (int gx = 0; gx < GRID_X; gx++) {
                int i = block_best[gy][gx];
                int mx = i < 0 ? bx : i % SIDE - COARSE_RADIUS,
                    my = i < 0 ? by : i / SIDE - COARSE_RADIUS;
                field->dx[gy * GRID_X + gx] = (float)(mx * scale);
                field->dy[gy * GRID_X + gx] = (float)(my * scale);
            }
    }
    const uint8_t *in = &inliers[0][0];
    for (int l = top - 1; l >= 0; l--) {
        bx *= 2;
        by *= 2;
        int cx = bx, cy = by;
        best = HUGE_VAL;
        for (int y = cy - 1; y <= cy + 1; y++)
            for (int x = cx - 1; x <= cx + 1; x++) {
                double c = cost(&prev->levels[l], &cur->levels[l], x, y, in);
                if (c < best) {
                    best = c;
                    bx = x;
                    by = y;
                }
            }
    }
    const struct level *p0 = &prev->levels[0], *c0 = &cur->levels[0];
    double still = cost(p0, c0, 0, 0, in);
    double fx, fy;
    if (!lucas_kanade(p0, c0, bx, by, in, &fx, &fy)) {
        fx = parabola(cost(p0, c0, bx - 1, by, in), best, cost(p0, c0, bx + 1, by, in));
        fy = parabola(cost(p0, c0, bx, by - 1, in), best, cost(p0, c0, bx, by + 1, in));
    }
    *dx = bx + fx;
    *dy = by + fy;
    /* Noise alone moves the sub-pixel estimate by a few hundredths: a still
     * camera must stay exactly still, or the error adds up over seconds. */
    int weak = (bx || by) && isfinite(still) && best > 0.95 * still;
    if (field) {
        field->global_dx = (float)(bx + fx);
        field->global_dy = (float)(by + fy);
    }
    if (!isfinite(best) || weak || (bx == 0 && by == 0 && fabs(fx) < 0.1 && fabs(fy) < 0.1)) {
        *dx = *dy = 0;
        return 0;
    }
    return 1;
}
