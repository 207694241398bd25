/* text_mask.h: which pixels of a frame are a line's text.
 *
 * The text detector gives lines as boxes, on a few frames a second (see
 * text_scan.h); this takes a box to the pixels of the frame at hand. A
 * glyph's fill and its outline are thin against the line: a grey-level
 * top-hat (the picture less its opening) finds strokes brighter than around
 * them, a black-hat (its closing less the picture) those darker, whatever
 * the colours. Strokes are grown by a couple of pixels for anti-aliasing,
 * blur and shadow. A box drawn behind the text (opaque or translucent) is
 * found by its edges, straight and of one sign along the line, above and
 * below it, and is masked whole.
 *
 * Not thread-safe: one per pipeline. */
#ifndef VSR_TEXT_MASK_H
#define VSR_TEXT_MASK_H

#include <stdint.h>

#include <libavutil/frame.h>

#include "text/text_lines.h"

struct text_mask;

struct text_mask *text_mask_new(int width, int height);
void text_mask_free(struct text_mask *tm); /* NULL is a no-op */

/* Sets to 255 the pixels of MASK (width*height, row-major) that are the
 * text of LINES (N boxes in frame pixels) on FRAME (YUV420P), and widens
 * [*Y0, *Y1) to the rows it touched. Returns the pixels it set, or a
 * negative vsr_status (out of memory). */
long text_mask_paint(struct text_mask *tm, const AVFrame *frame, const struct text_box *lines,
                     int n, uint8_t *mask, int *y0, int *y1);

#endif
