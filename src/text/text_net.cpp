/* text_net.cpp: the text detector on OpenCV's DNN (see text_net.h).
 *
 * The only C++ file of the engine: OpenCV's DNN has no C API. Nothing
 * thrown crosses into C: every call catches and reports a vsr_status. */
#include "text/text_net.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#ifndef VSR_MODEL_DIR
#define VSR_MODEL_DIR "models"
#endif

struct text_net {
    cv::dnn::Net net;
};

static int fail(struct vsr_error *error, int code, const char *what, const char *detail) {
    if (error) {
        error->code = code;
        snprintf(error->message, sizeof error->message, "%s: %s", what, detail);
    }
    return code;
}

extern "C" const char *text_net_model_path(void) {
    const char *env = getenv("VSR_TEXT_MODEL");
    return env && *env ? env : VSR_MODEL_DIR "/text-det.onnx";
}

extern "C" int text_net_open(struct text_net **out, const char *path, int threads,
                             struct vsr_error *error) {
    *out = nullptr;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(error, VSR_E_INPUT, path,
                    "text detector model not found (scripts/install-deps.sh installs it; "
                    "VSR_TEXT_MODEL names another)");
    fclose(f);
    text_net *t = new (std::nothrow) text_net;
    if (!t) return fail(error, VSR_E_NOMEM, "text detector", "out of memory");
    try {
        if (threads > 0) cv::setNumThreads(threads);
        t->net = cv::dnn::readNetFromONNX(path);
        if (t->net.empty()) throw cv::Exception(0, "empty network", "", "", 0);
        t->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        t->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    } catch (const std::exception &e) {
        delete t;
        return fail(error, VSR_E_INPUT, path, "not a text detector model OpenCV can read");
    }
    *out = t;
    return VSR_OK;
}

extern "C" void text_net_free(struct text_net *net) { delete net; }

extern "C" int text_net_run(struct text_net *t, const uint8_t *rgb, int w, int h, int stride,
                            uint8_t *prob, struct vsr_error *error) {
    if (w <= 0 || h <= 0 || w % 32 || h % 32)
        return fail(error, VSR_E_INTERNAL, "text detector", "size not a multiple of 32");
    try {
        /* ImageNet's mean and deviation, as the model was trained. */
        static const float mean[3] = {0.485f, 0.456f, 0.406f};
        static const float inv_std[3] = {1 / 0.229f, 1 / 0.224f, 1 / 0.225f};
        int dims[4] = {1, 3, h, w};
        cv::Mat blob(4, dims, CV_32F);
        float *planes = blob.ptr<float>();
        size_t n = (size_t)w * (size_t)h;
        for (int y = 0; y < h; y++) {
            const uint8_t *row = rgb + (size_t)y * (size_t)stride;
            for (int c = 0; c < 3; c++) {
                float *dst = planes + c * n + (size_t)y * (size_t)w;
                for (int x = 0; x < w; x++)
                    dst[x] = ((float)row[3 * x + c] * (1.0f / 255) - mean[c]) * inv_std[c];
            }
        }
        t->net.setInput(blob);
        cv::Mat out = t->net.forward();
        if (out.total() != n)
            return fail(error, VSR_E_INTERNAL, "text detector", "unexpected output size");
        const float *p = out.ptr<float>();
        for (size_t i = 0; i < n; i++) {
            float v = p[i] * 255.0f + 0.5f;
            prob[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    } catch (const std::bad_alloc &) {
        return fail(error, VSR_E_NOMEM, "text detector", "out of memory");
    } catch (const std::exception &e) {
        return fail(error, VSR_E_INTERNAL, "text detector failed", e.what());
    }
    return VSR_OK;
}
