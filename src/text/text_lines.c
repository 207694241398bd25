/* text_lines.c: regions of a DB probability map, grown and joined into
 * lines (see text_lines.h). */
#include "text/text_lines.h"

#include <stdlib.h>

#define BIN_THRESH   77  /* 0.3: a pixel is in a kernel (DB's own default) */
#define BOX_THRESH   153 /* 0.6: a kernel's mean (DB's own default), else a guess on texture */
#define UNCLIP_RATIO 1.6 /* DB grows kernels by 1.5-2.0 */
#define MIN_SIDE     3   /* kernels thinner than this are noise */

struct region {
    int x0, y0, x1, y1;
    long area, sum;
};

static int imax(int a, int b) {
    return a > b ? a : b;
}
static int imin(int a, int b) {
    return a < b ? a : b;
}

/* Labels 4-connected kernels with a stack-based fill over LABEL (the
 * scratch: 0 unvisited, -1 visited). Returns the regions found. */
static int label_regions(const uint8_t *prob, int w, int h, int *label, struct region *out,
                         int max) {
    size_t n = (size_t)w * (size_t)h;
    for (size_t i = 0; i < n; i++)
        label[i] = 0;
    int count = 0;
    /* The stack reuses the pixels' own labels: each pushed pixel's slot holds
     * the next one down (an intrusive list), so no memory beyond LABEL. */
    for (size_t start = 0; start < n; start++) {
        if (label[start] || prob[start] < BIN_THRESH) continue;
        struct region r = {w, h, 0, 0, 0, 0};
        long top = (long)start;
        label[start] = -2; /* -2: the end of the list */
        while (top >= 0) {
            size_t i = (size_t)top;
            long next = label[i] == -2 ? -1 : label[i] - 1;
            label[i] = -1;
            top = next;
            int x = (int)(i % (size_t)w), y = (int)(i / (size_t)w);
            r.x0 = imin(r.x0, x), r.x1 = imax(r.x1, x + 1);
            r.y0 = imin(r.y0, y), r.y1 = imax(r.y1, y + 1);
            r.area++, r.sum += prob[i];
            const long nb[4] = {x > 0 ? (long)i - 1 : -1, x + 1 < w ? (long)i + 1 : -1,
                                y > 0 ? (long)i - w : -1, y + 1 < h ? (long)i + w : -1};
            for (int k = 0; k < 4; k++) {
                long j = nb[k];
                if (j < 0 || label[j] || prob[j] < BIN_THRESH) continue;
                label[j] = top < 0 ? -2 : (int)(top + 1);
                top = j;
            }
        }
        if (r.x1 - r.x0 < MIN_SIDE || r.y1 - r.y0 < MIN_SIDE) continue;
        if (r.sum < (long)BOX_THRESH * r.area) continue;
        if (count < max) out[count++] = r;
    }
    return count;
}

/* Whether A and B sit on one row, close enough to be words of one line. */
static int same_line(const struct text_box *a, const struct text_box *b) {
    int ha = a->y1 - a->y0, hb = b->y1 - b->y0;
    int overlap = imin(a->y1, b->y1) - imax(a->y0, b->y0);
    if (overlap * 10 < imin(ha, hb) * 6) return 0;
    if (imax(ha, hb) > 2 * imin(ha, hb)) return 0;
    int gap = imax(a->x0, b->x0) - imin(a->x1, b->x1);
    return gap <= imax(ha, hb);
}

static int by_area(const void *pa, const void *pb) {
    const struct text_box *a = pa, *b = pb;
    long sa = (long)(a->x1 - a->x0) * (a->y1 - a->y0), sb = (long)(b->x1 - b->x0) * (b->y1 - b->y0);
    return (sa < sb) - (sa > sb);
}

int text_lines_find(const uint8_t *prob, int w, int h, int *scratch, struct text_box *boxes,
                    int max) {
    struct region regions[4 * TEXT_LINES_MAX];
    int count = label_regions(prob, w, h, scratch, regions, 4 * TEXT_LINES_MAX);
    struct text_box found[4 * TEXT_LINES_MAX];
    for (int i = 0; i < count; i++) {
        const struct region *r = &regions[i];
        double bw = r->x1 - r->x0, bh = r->y1 - r->y0;
        int d = (int)(UNCLIP_RATIO * bw * bh / (2 * (bw + bh)) + 0.5);
        found[i] = (struct text_box){imax(0, r->x0 - d), imax(0, r->y0 - d), imin(w, r->x1 + d),
                                     imin(h, r->y1 + d)};
    }
    /* Join until nothing joins: each join can bring a third box in reach. */
    for (int joined = 1; joined;) {
        joined = 0;
        for (int i = 0; i < count; i++)
            for (int j = i + 1; j < count; j++) {
                if (!same_line(&found[i], &found[j])) continue;
                struct text_box *a = &found[i], *b = &found[j];
                a->x0 = imin(a->x0, b->x0), a->x1 = imax(a->x1, b->x1);
                a->y0 = imin(a->y0, b->y0), a->y1 = imax(a->y1, b->y1);
                found[j--] = found[--count];
                joined = 1;
            }
    }
    qsort(found, (size_t)count, sizeof *found, by_area);
    if (count > max) count = max;
    for (int i = 0; i < count; i++)
        boxes[i] = found[i];
    return count;
}
