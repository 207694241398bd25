/* rules.c: the checks on options and inputs that the engine, the CLI and
 * the service share (vsr.h), so that each rule is written once. */
#include "util/error.h"
#include "vsr.h"

int vsr_check_crf(int crf, struct vsr_error *error) {
    if (crf < VSR_CRF_MIN || crf > VSR_CRF_MAX)
        return error_set(error, VSR_E_USAGE,
                         "crf must be a whole number from %d (best quality, biggest file) to %d"
                         " (smallest file), not %d; 18 is the default",
                         VSR_CRF_MIN, VSR_CRF_MAX, crf);
    return VSR_OK;
}

int vsr_check_regions(const struct vsr_region *regions, int count, int width, int height,
                      struct vsr_error *error) {
    for (int i = 0; i < count; i++) {
        const struct vsr_region *r = &regions[i];
        /* Subtractions, not sums: x + w could overflow an int. */
        if (r->w <= 0 || r->h <= 0 || r->x < 0 || r->y < 0 || r->x > width - r->w ||
            r->y > height - r->h)
            return error_set(error, VSR_E_USAGE,
                             "region %d,%d,%d,%d (x,y,w,h) is not inside the %dx%d frame; give"
                             " x + w <= %d and y + h <= %d",
                             r->x, r->y, r->w, r->h, width, height, width, height);
    }
    return VSR_OK;
}

int vsr_check_frame_size(int width, int height, struct vsr_error *error) {
    if (width < VSR_MIN_WIDTH || height < VSR_MIN_HEIGHT)
        return error_set(error, VSR_E_INPUT,
                         "the video is %dx%d, smaller than the %dx%d vsr can encode; scale it up",
                         width, height, VSR_MIN_WIDTH, VSR_MIN_HEIGHT);
    return VSR_OK;
}
