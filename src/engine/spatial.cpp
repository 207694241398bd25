/* spatial.cpp: the pixels no frame reveals, filled by OpenCV's inpainting
 * (Telea 2004, "An image inpainting technique based on the fast marching
 * method"): each pixel, from the hole's edge inward, takes a mean of the
 * known pixels around it weighted by distance, direction and level-set
 * closeness, so lines that cross a thin stroke continue through it.
 * OpenCV's photo module has only a C++ API; spatial.h is the whole of it
 * that the engine sees. */
#include "engine/spatial.h"

#include <cstring>
#include <new>

#include <opencv2/core.hpp>
#include <opencv2/photo.hpp>

#include "vsr.h"

#define INPAINT_RADIUS 3.0 /* pixels around each that it takes: OpenCV's usual */

extern "C" int spatial_fill(uint8_t *plane, int stride, int w, int h, const uint8_t *holes) {
    if (w <= 0 || h <= 0) return 0;
    try {
        cv::Mat image(h, w, CV_8UC1, plane, (size_t)stride);
        cv::Mat mask(h, w, CV_8UC1, const_cast<uint8_t *>(holes), (size_t)w);
        cv::Mat filled;
        cv::inpaint(image, mask, filled, INPAINT_RADIUS, cv::INPAINT_TELEA);
        for (int y = 0; y < h; y++) {
            const uint8_t *src = filled.ptr<uint8_t>(y), *m = holes + (size_t)y * w;
            uint8_t *dst = plane + (size_t)y * stride;
            for (int x = 0; x < w; x++)
                if (m[x]) dst[x] = src[x];
        }
    } catch (const std::bad_alloc &) {
        return VSR_E_NOMEM;
    } catch (const cv::Exception &) {
        return VSR_E_NOMEM; /* OpenCV reports a failed allocation so */
    }
    return 0;
}
