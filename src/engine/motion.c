/* motion.c: coarse-to-fine global translation (see motion.h). */
#include "engine/motion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COARSE_RADIUS 6     /* at 1/8 size: +-48 pixels of full-size motion per frame */
#define TRUNCATE      40    /* differences beyond this are outliers (moving objects) */
#define SAMPLES_MAX   40000 /* pixels looked at per cost, at most */

struct level {
    int w, h;
    uint8_t *luma;
    uint8_t *mask; /* 1 = ignore */
};

struct motion_pyramid {
    struct level levels[MOTION_LEVELS];
};

struct motion_pyramid *motion_pyramid_new(int width, int height) {
    struct motion_pyramid *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    int w = width, h = height;
    for (int l = 0; l < MOTION_LEVELS; l++) {
        p->levels[l].w = w;
        p->levels[l].h = h;
        p->levels[l].luma = malloc((size_t)w * h);
        p->levels[l].mask = malloc((size_t)w * h);
        if (!p->levels[l].luma || !p->levels[l].mask) {
            motion_pyramid_free(p);
            return NULL;
        }
        w = w / 2 > 1 ? w / 2 : 1;
        h = h / 2 > 1 ? h / 2 : 1;
    }
    return p;
}

void motion_pyramid_free(struct motion_pyramid *p) {
    if (!p) return;
    for (int l = 0; l < MOTION_LEVELS; l++) {
        free(p->levels[l].luma);
        free(p->levels[l].mask);
    }
    free(p);
}

void motion_pyramid_build(struct motion_pyramid *p, const uint8_t *luma, int stride,
                          const uint8_t *mask) {
    struct level *l0 = &p->levels[0];
    for (int y = 0; y < l0->h; y++)
        memcpy(l0->luma + (size_t)y * l0->w, luma + (size_t)y * stride, (size_t)l0->w);
    if (mask)
        for (size_t i = 0; i < (size_t)l0->w * l0->h; i++)
            l0->mask[i] = mask[i] != 0;
    else
        memset(l0->mask, 0, (size_t)l0->w * l0->h);
    for (int l = 1; l < MOTION_LEVELS; l++) {
        const struct level *a = &p->levels[l - 1];
        struct level *b = &p->levels[l];
        for (int y = 0; y < b->h; y++)
            for (int x = 0; x < b->w; x++) {
                int x0 = 2 * x < a->w ? 2 * x : a->w - 1, x1 = 2 * x + 1 < a->w ? 2 * x + 1 : x0;
                int y0 = 2 * y < a->h ? 2 * y : a->h - 1, y1 = 2 * y + 1 < a->h ? 2 * y + 1 : y0;
                size_t i00 = (size_t)y0 * a->w + x0, i01 = (size_t)y0 * a->w + x1;
                size_t i10 = (size_t)y1 * a->w + x0, i11 = (size_t)y1 * a->w + x1;
                b->luma[(size_t)y * b->w + x] =
                    (uint8_t)((a->luma[i00] + a->luma[i01] + a->luma[i10] + a->luma[i11] + 2) >> 2);
                b->mask[(size_t)y * b->w + x] =
                    a->mask[i00] | a->mask[i01] | a->mask[i10] | a->mask[i11];
            }
    }
}

/* Mean truncated squared difference between cur and prev shifted by (dx, dy),
 * over pixels unmasked in both; HUGE_VAL when too few overlap. */
static double cost(const struct level *prev, const struct level *cur, int dx, int dy) {
    int w = cur->w, h = cur->h;
    int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? w - dx : w;
    int y0 = dy < 0 ? -dy : 0, y1 = dy > 0 ? h - dy : h;
    if (x1 - x0 < w / 2 || y1 - y0 < h / 2) return HUGE_VAL;
    long long area = (long long)(x1 - x0) * (y1 - y0);
    int step = 1;
    while (area / ((long long)step * step) > SAMPLES_MAX)
        step++;
    double sum = 0;
    long long n = 0;
    for (int y = y0; y < y1; y += step) {
        const uint8_t *c = cur->luma + (size_t)y * w, *cm = cur->mask + (size_t)y * w;
        const uint8_t *p = prev->luma + (size_t)(y + dy) * w + dx;
        const uint8_t *pm = prev->mask + (size_t)(y + dy) * w + dx;
        for (int x = x0; x < x1; x += step) {
            if (cm[x] | pm[x]) continue;
            int d = c[x] - p[x];
            if (d < 0) d = -d;
            if (d > TRUNCATE) d = TRUNCATE;
            sum += d * d;
            n++;
        }
    }
    return n * 16 < area / ((long long)step * step) ? HUGE_VAL : sum / (double)n;
}

/* Vertex of the parabola through (-1, a), (0, b), (1, c), clamped to +-0.5. */
static double parabola(double a, double b, double c) {
    double den = a - 2 * b + c;
    if (!isfinite(a) || !isfinite(c) || den <= 1e-9) return 0;
    double v = 0.5 * (a - c) / den;
    return v > 0.5 ? 0.5 : v < -0.5 ? -0.5 : v;
}

int motion_estimate(const struct motion_pyramid *prev, const struct motion_pyramid *cur, double *dx,
                    double *dy) {
    int top = MOTION_LEVELS - 1;
    int bx = 0, by = 0;
    double best = HUGE_VAL;
    for (int y = -COARSE_RADIUS; y <= COARSE_RADIUS; y++)
        for (int x = -COARSE_RADIUS; x <= COARSE_RADIUS; x++) {
            double c = cost(&prev->levels[top], &cur->levels[top], x, y);
            if (c < best || (c == best && abs(x) + abs(y) < abs(bx) + abs(by))) {
                best = c;
                bx = x;
                by = y;
            }
        }
    for (int l = top - 1; l >= 0; l--) {
        bx *= 2;
        by *= 2;
        int cx = bx, cy = by;
        best = HUGE_VAL;
        for (int y = cy - 1; y <= cy + 1; y++)
            for (int x = cx - 1; x <= cx + 1; x++) {
                double c = cost(&prev->levels[l], &cur->levels[l], x, y);
                if (c < best) {
                    best = c;
                    bx = x;
                    by = y;
                }
            }
    }
    const struct level *p0 = &prev->levels[0], *c0 = &cur->levels[0];
    double still = cost(p0, c0, 0, 0);
    double fx = parabola(cost(p0, c0, bx - 1, by), best, cost(p0, c0, bx + 1, by));
    double fy = parabola(cost(p0, c0, bx, by - 1), best, cost(p0, c0, bx, by + 1));
    *dx = bx + fx;
    *dy = by + fy;
    /* Noise alone moves the parabola's vertex by a few hundredths: a still
     * camera must stay exactly still, or the error adds up over seconds. */
    int weak = (bx || by) && isfinite(still) && best > 0.95 * still;
    if (!isfinite(best) || weak || (bx == 0 && by == 0 && fabs(fx) < 0.1 && fabs(fy) < 0.1)) {
        *dx = *dy = 0;
        return 0;
    }
    return 1;
}
