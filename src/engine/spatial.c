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

int spatial_fill(uint8_t *plane, int stride, int w, int h, const uint8_t *holes) {
    size_t n = (size_t)w * h;
    uint8_t *state = malloc(n); /* 0 known, 1 unknown, 2 filled this ring */
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += holes[i] != 0;
    uint32_t *queue = malloc((total + 1) * sizeof *queue),
             *next = malloc((total + 1) * sizeof *next);
    uint32_t *all = malloc((total + 1) * sizeof *all);
    if (!state || !queue || !next || !all) {
        free(state);
        free(queue);
        free(next);
        free(all);
        return VSR_E_NOMEM;
    }
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        state[i] = holes[i] ? 1 : 0;
        if (holes[i]) queue[count++] = (uint32_t)i;
    }
    memcpy(all, queue, count * sizeof *all);
    static const int ox[8] = {-1, 1, 0, 0, -1, 1, -1, 1};
    static const int oy[8] = {0, 0, -1, 1, -1, -1, 1, 1};
    while (count) {
        size_t kept = 0, done = 0;
        for (size_t q = 0; q < count; q++) {
            uint32_t i = queue[q];
            int x = (int)(i % (uint32_t)w), y = (int)(i / (uint32_t)w);
            int known[8] = {0};
            int val[8] = {0};
            int any = 0;
            for (int k = 0; k < 8; k++) {
                int xx = x + ox[k], yy = y + oy[k];
                if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                if (state[(size_t)yy * w + xx] == 0) {
                    known[k] = 1;
                    val[k] = plane[(size_t)yy * stride + xx];
                    any = 1;
                }
            }
            if (!any) {
                next[kept++] = i;
                continue;
            }
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
            queue[done++] = i; /* reuse the front of queue for this ring */
        }
        if (done == 0) break; /* no known pixel at all: leave as is */
        for (size_t q = 0; q < done; q++)
            state[queue[q]] = 0;
        memcpy(queue, next, kept * sizeof *queue);
        count = kept;
    }
    /* Smooth the seams: Laplace sweeps over the originally unknown pixels. */
    for (int sweep = 0; sweep < SMOOTH_SWEEPS; sweep++)
        for (size_t q = 0; q < total; q++) {
            int x = (int)(all[q] % (uint32_t)w), y = (int)(all[q] / (uint32_t)w);
            int sum = 0, cnt = 0;
            if (x > 0) sum += plane[(size_t)y * stride + x - 1], cnt++;
            if (x < w - 1) sum += plane[(size_t)y * stride + x + 1], cnt++;
            if (y > 0) sum += plane[(size_t)(y - 1) * stride + x], cnt++;
            if (y < h - 1) sum += plane[(size_t)(y + 1) * stride + x], cnt++;
            if (cnt) plane[(size_t)y * stride + x] = (uint8_t)((sum + cnt / 2) / cnt);
        }
    free(state);
    free(queue);
    free(next);
    free(all);
    return 0;
}
