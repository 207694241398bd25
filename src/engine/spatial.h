/* spatial.h: fill pixels that no other frame shows, from their surroundings
 * in the same frame. Used only where time has nothing to give; the filler then
 * carries the result forward so it does not change from frame to frame. */
#ifndef VSR_SPATIAL_H
#define VSR_SPATIAL_H

#include <stdint.h>

/* Fills the pixels of PLANE (W x H, STRIDE) where HOLES (W x H bytes) is
 * non-zero. Pixels with HOLES zero are never changed. Returns 0, or VSR_E_NOMEM. */
int spatial_fill(uint8_t *plane, int stride, int w, int h, const uint8_t *holes);

#endif
