/* test_frames.h: synthetic YUV420P frames with known content, for the unit
 * tests of detection, motion and fill (tests/test_frames.c). */
#ifndef VSR_TEST_FRAMES_H
#define VSR_TEST_FRAMES_H

#include <stdint.h>

#include <libavutil/frame.h>

/* A deterministic pseudo-random generator (xorshift32), so that every run
 * draws the same pictures. */
uint32_t frames_random(uint32_t *state);

/* A new YUV420P frame of W x H, every plane set to 128. NULL when out of
 * memory. */
AVFrame *frames_new(int w, int h);

/* A smooth textured background: luma = sum of a few sinusoids with random
 * directions and periods of 20 to 60 px (at most about
 * 40 levels a pixel, as in a detailed real picture), 30..220, sampled at (x + SHIFT_X,
 * y + SHIFT_Y) so that a sub-pixel pan is exact. SEED picks the texture. */
void frames_texture(AVFrame *frame, uint32_t seed, double shift_x, double shift_y);

/* Adds deterministic noise of +-AMPLITUDE levels to the luma (a lossy
 * encoder's grain). */
void frames_noise(AVFrame *frame, uint32_t *state, int amplitude);

/* Draws "text": BARS vertical bars of white (235) strokes STROKE px wide,
 * each with a black (16) outline 2 px thick, side by side from (X, Y), H
 * tall, with a gap of 4 px. When TRUTH is not NULL (frame->width * height
 * bytes), it gets 255 on every pixel drawn. Chroma under the text is set to
 * 128. Returns the width drawn. */
int frames_draw_text(AVFrame *frame, int x, int y, int h, int bars, int stroke, uint8_t *truth);

#endif
