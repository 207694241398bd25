/* text_net.h: a text detector network run on one picture.
 *
 * PP-OCRv4's detector (a DB network: Liao et al., "Real-time Scene Text
 * Detection with Differentiable Binarization", AAAI 2020) gives, for each
 * pixel of an RGB picture, the probability that it lies inside a line of
 * text: any script, colour or style. It runs on OpenCV's DNN module, whose
 * API is C++; this header is the whole of it that the engine sees.
 *
 * A net is not thread-safe: one per thread that runs it. */
#ifndef VSR_TEXT_NET_H
#define VSR_TEXT_NET_H

#include <stdint.h>

#include "vsr.h"

#ifdef __cplusplus
extern "C" {
#endif

struct text_net;

/* The model file: $VSR_TEXT_MODEL when set, else the one install-deps.sh
 * converts (VSR_MODEL_DIR/text-det.onnx, set at build time). */
const char *text_net_model_path(void);

/* Loads the model at PATH. THREADS bounds OpenCV's worker threads (0: its
 * default). A missing or unreadable model is VSR_E_INPUT, with a message that
 * says how to install it. */
int text_net_open(struct text_net **out, const char *path, int threads, struct vsr_error *error);
void text_net_free(struct text_net *net); /* NULL is a no-op */

/* Runs the net on RGB (W x H, 3 bytes a pixel, rows STRIDE bytes apart; W
 * and H multiples of 32) and writes each pixel's text probability, 0..255,
 * to PROB (W*H bytes). Returns 0 or a negative vsr_status. */
int text_net_run(struct text_net *net, const uint8_t *rgb, int w, int h, int stride, uint8_t *prob,
                 struct vsr_error *error);

#ifdef __cplusplus
}
#endif
#endif
