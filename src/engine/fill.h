/* fill.h: replace the masked pixels of each frame with the background that
 * other frames show (motion-compensated), or with a spatial fill where no frame
 * shows it, consistently from one frame to the next.
 *
 * The filler keeps a bounded window of frames around the one it fills, so it
 * hands frames back some frames after they went in: push frames in order, pop
 * them when ready, then filler_finish and pop the rest.
 *
 * Not thread-safe: one filler per pipeline. */
#ifndef VSR_FILL_H
#define VSR_FILL_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>

struct filler;

/* MEMORY_BUDGET bounds the bytes of frames kept in the window. */
struct filler *filler_new(int width, int height, double fps, size_t memory_budget);
void filler_free(struct filler *filler); /* NULL is a no-op; frees frames still held */

/* The window: how many frames after a frame with subtitles must be pushed
 * before it is ready (*AHEAD), and how many frames the filler holds at most
 * (*HELD). */
void filler_window(const struct filler *filler, int *ahead, int *held);

/* The masked luma pixels filled so far (*FILLED), and how many of them no
 * other frame showed, so that they were made up from around them (*SPATIAL). */
void filler_stats(const struct filler *filler, int64_t *filled, int64_t *spatial);

/* Takes FRAME (YUV420P; the filler owns it from now on) and its MASK
 * (width*height bytes, 255 = to fill; copied), which is zero outside rows
 * [MASK_Y0, MASK_Y1): only those are read. Returns 0 or a vsr_status. */
int filler_push(struct filler *filler, AVFrame *frame, const uint8_t *mask, int mask_y0,
                int mask_y1);

/* Says that no frame will follow. */
void filler_finish(struct filler *filler);

/* Returns 1 and the next filled frame in order (the caller owns it), with the
 * mask that was filled copied to MASK_OUT when not NULL; 0 when none is ready
 * yet; or a negative vsr_status. */
int filler_pop(struct filler *filler, AVFrame **frame, uint8_t *mask_out);

#endif
