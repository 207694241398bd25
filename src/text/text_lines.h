/* text_lines.h: the lines of text in a text detector's probability map.
 *
 * DB's map marks a shrunk core of each line (its "kernel"); as in the
 * paper's post-processing, regions of the thresholded map are kept when
 * their mean probability is high, and grown back by area * ratio /
 * perimeter to cover the whole line. Regions side by side on one row (the
 * words of a line, often split) are then joined into one line. */
#ifndef VSR_TEXT_LINES_H
#define VSR_TEXT_LINES_H

#include <stdint.h>

/* A box, [x0, x1) x [y0, y1), in pixels of whatever plane it was found on. */
struct text_box {
    int x0, y0, x1, y1;
};

#define TEXT_LINES_MAX 64

/* Finds the lines in PROB (W x H, 0..255). SCRATCH holds W*H ints. Writes at
 * most MAX boxes, largest first when there are more; returns how many. */
int text_lines_find(const uint8_t *prob, int w, int h, int *scratch, struct text_box *boxes,
                    int max);

static inline int text_box_w(const struct text_box *b) {
    return b->x1 - b->x0;
}
static inline int text_box_h(const struct text_box *b) {
    return b->y1 - b->y0;
}

#endif
