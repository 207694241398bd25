/* spatial.c: membrane fill of the pixels no frame reveals.
 *
 * Onion peeling first: each ring of the hole, from the edge inward, takes a
 * weighted mean of its known 8-neighbours, with edge-aligned neighbours
 * weighted up so lines that cross a thin stroke continue through it. Then a
 * few Gauss-Seidel sweeps of the Laplace equation smooth the seams between
 * rings. Subtitle holes are strokes a few pixels wide, so both converge in a
 * handful of passes; wide holes (boxes) fall back to the smooth membrane. */
#include "engine/spatial.h"

#include <stdlib.h>
#include <string.h>

#include "vsr.h"

#define SMOOTH_SWEEPS 8

/* Whether pixel (x, y) has a known (state 0) 8-neighbour; fills KNOWN and
 * VAL for each of the eight. */
static int known_around(const uint8_t *plane, int stride, const uint8_t *state, int w, int h, int x,
                        int y, int known[8], int val[8]) {
    static const int ox[8] = {-1, 1, 0, 0, -1, 1, -1, 1};
    static const int oy[8] = {0, 0, -1, 1, -1, -1, 1, 1};
    int any = 0;
    for (int k = 0; k < 8; k++) {
        int xx = x + ox[k], yy = y + oy[k];
        known[k] = 0;
        if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
        if (state[(size_t)yy * w + xx] == 0) {
            known[k] = 1;
            val[k] = plane[(size_t)yy * stride + xx];
            any = 1;
        }
    }
    return any;
}

int spatial_fill(uint8_t *plane, int stride, int w, int h, const uint8_t *holes) {
    size_t n = (size_t)w * h;
    /* 0 known, 1 unknown, 2 in the ring being filled, 3 in the next ring */
    uint8_t *state = malloc(n);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += holes[i] != 0;
    uint32_t *ring = malloc((total + 1) * sizeof *ring), *next = malloc((total + 1) * sizeof *next);
    uint32_t *all = malloc((total + 1) * sizeof *all);
    if (!state || !ring || !next || !all) {
        free(state);
        free(ring);
        free(next);
        free(all);
        return VSR_E_NOMEM;
    }
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        state[i] = holes[i] ? 1 : 0;
        if (holes[i]) all[count++] = (uint32_t)i;
    }
    /* The rings, from the edge inward, are the layers of a breadth-first
     * walk from the known pixels: ring k+1 is the unknown neighbours of ring
     * k. Each pixel is visited once, however wide the hole (a box). */
    int known[8], val[8] = {0};
    count = 0;
    for (size_t q = 0; q < total; q++) {
        uint32_t i = all[q];
        if (known_around(plane, stride, state, w, h, (int)(i % (uint32_t)w), (int)(i / (uint32_t)w),
                         known, val))
            ring[count++] = i;
    }
    for (size_t q = 0; q < count; q++)
        state[ring[q]] = 2;
    while (count) {
        /* A ring's pixels see only what was known before it: they do not
         * count as known to each other. */
        for (size_t q = 0; q < count; q++) {
            uint32_t i = ring[q];
            int x = (int)(i % (uint32_t)w), y = (int)(i / (uint32_t)w);
            known_around(plane, stride, state, w, h, x, y, known, val);
            /* Opposite known neighbours (a line through the pixel) weigh 3. */
            int sum = 0, wsum = 0;
            for (int k = 0; k < 8; k++) {
                if (!known[k]) continue;
                int opposite = k ^ 1;
                if (k >= 4) opposite = 11 - k; /* diagonals: 4<->7, 5<->6 */
                int wgt = known[opposite] ? 3 : 1;
                sum += wgt * val[k];
                wsum += wgt;
            }
            plane[(size_t)y * stride + x] = (uint8_t)((sum + wsum / 2) / wsum);
        }
        for (size_t q = 0; q < count; q++)
            state[ring[q]] = 0;
        size_t kept = 0;
        for (size_t q = 0; q < count; q++) {
            int x = (int)(ring[q] % (uint32_t)w), y = (int)(ring[q] / (uint32_t)w);
            for (int yy = y - 1; yy <= y + 1; yy++)
                for (int xx = x - 1; xx <= x + 1; xx++) {
                    if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                    size_t j = (size_t)yy * w + xx;
                    if (state[j] != 1) continue;
                    state[j] = 3;
                    next[kept++] = (uint32_t)j;
                }
        }
        uint32_t *t = ring;
        ring = next;
        next = t;
        count = kept;
    }
    /* Smooth the seams: Laplace sweeps over the originally unknown pixels.
     * Interior pixels (four neighbours) take the fast path: no division.
     * Offsets fit 31 bits: FFmpeg refuses pictures of 2^28 pixels. */
    for (size_t q = 0; q < total; q++) {
        int x = (int)(all[q] % (uint32_t)w), y = (int)(all[q] / (uint32_t)w);
        int interior = x > 0 && x < w - 1 && y > 0 && y < h - 1;
        all[q] = (uint32_t)((size_t)y * stride + x) << 1 | (uint32_t)!interior;
    }
    for (int sweep = 0; sweep < SMOOTH_SWEEPS; sweep++)
        for (size_t q = 0; q < total; q++) {
            size_t at = all[q] >> 1;
            uint8_t *p = plane + at;
            if (!(all[q] & 1)) {
                *p = (uint8_t)((p[-1] + p[1] + p[-stride] + p[stride] + 2) >> 2);
                continue;
            }
            int x = (int)(at % (size_t)stride), y = (int)(at / (size_t)stride);
            int sum = 0, cnt = 0;
            if (x > 0) sum += p[-1], cnt++;
            if (x < w - 1) sum += p[1], cnt++;
            if (y > 0) sum += p[-stride], cnt++;
            if (y < h - 1) sum += p[stride], cnt++;
            if (cnt) *p = (uint8_t)((sum + cnt / 2) / cnt);
        }
    free(state);
    free(ring);
    free(next);
    free(all);
    return 0;
}
