/* motion.h: global motion (camera pan) between two frames, as a sub-pixel
 * translation, ignoring the pixels a mask marks (the subtitles hold still and
 * would vote for "no motion").
 *
 * Coarse to fine on a 4-level luma pyramid: an exhaustive search at 1/8 size,
 * one-pixel refinements at each finer level, then a parabola through the
 * costs for the sub-pixel part. The cost is a truncated squared difference, so
 * a car crossing the frame cannot outvote the background. */
#ifndef VSR_MOTION_H
#define VSR_MOTION_H

#include <stdint.h>

#define MOTION_LEVELS 4

struct motion_pyramid;

struct motion_pyramid *motion_pyramid_new(int width, int height);
void motion_pyramid_free(struct motion_pyramid *pyramid); /* NULL is a no-op */

/* Builds the pyramid of LUMA (with STRIDE); MASK (width*height bytes, non-zero
 * = ignore) may be NULL. */
void motion_pyramid_build(struct motion_pyramid *pyramid, const uint8_t *luma, int stride,
                          const uint8_t *mask);

/* Finds (dx, dy) such that cur(x, y) matches prev(x + dx, y + dy). Returns 1
 * when that explains the frames clearly better than no motion, else 0 with
 * dx = dy = 0. */
int motion_estimate(const struct motion_pyramid *prev, const struct motion_pyramid *cur, double *dx,
                    double *dy);

#endif
