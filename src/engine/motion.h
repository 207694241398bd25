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

#define MOTION_GRID_X 8 /* blocks across that vote on the motion */
#define MOTION_GRID_Y 6

/* Coarse motion of each block of the frame (full-size pixels, same sense as
 * motion_estimate's), for following objects that move on their own. Blocks
 * too flat to tell take the global motion. */
struct motion_field {
    float dx[MOTION_GRID_X * MOTION_GRID_Y], dy[MOTION_GRID_X * MOTION_GRID_Y];
    float global_dx, global_dy;
};

struct motion_pyramid *motion_pyramid_new(int width, int height);
void motion_pyramid_free(struct motion_pyramid *pyramid); /* NULL is a no-op */

/* Builds the pyramid of LUMA (with STRIDE); MASK (width*height bytes, non-zero
 * = ignore) may be NULL, and is zero outside rows [MASK_Y0, MASK_Y1): only
 * those rows are read (a subtitle covers a band of the frame). LUMA is not
 * copied: it must stay unchanged while the pyramid is used. */
void motion_pyramid_build(struct motion_pyramid *pyramid, const uint8_t *luma, int stride,
                          const uint8_t *mask, int mask_y0, int mask_y1);

/* Finds (dx, dy) such that cur(x, y) matches prev(x + dx, y + dy). PRIOR is
 * the motion found for the frame before (0, 0 at first): the camera is taken
 * to keep it unless most of the picture says otherwise. Returns 1 when the
 * frames moved, else 0 with dx = dy = 0. FIELD (may be NULL) gets the
 * per-block motion. */
int motion_estimate(const struct motion_pyramid *prev, const struct motion_pyramid *cur,
                    double prior_dx, double prior_dy, double *dx, double *dy,
                    struct motion_field *field);

#endif
