/* test_frames.c: synthetic frames for the engine's unit tests (see
 * test_frames.h). Everything here is deterministic: no clock, no rand(). */
#include "test_frames.h"

#include <math.h>
#include <string.h>

#include <libavutil/pixfmt.h>

uint32_t frames_random(uint32_t *state) {
    /* Marsaglia's xorshift32; the state must not be 0. */
    uint32_t x = *state ? *state : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

AVFrame *frames_new(int w, int h) {
    AVFrame *frame = av_frame_alloc();
    if (!frame) return NULL;
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = w;
    frame->height = h;
    if (av_frame_get_buffer(frame, 0) < 0) {
        av_frame_free(&frame);
        return NULL;
    }
    for (int p = 0; p < 3; p++) {
        int ph = p ? (h + 1) / 2 : h;
        for (int y = 0; y < ph; y++)
            memset(frame->data[p] + (size_t)y * frame->linesize[p], 128,
                   (size_t)frame->linesize[p]);
    }
    return frame;
}

#define TEXTURE_WAVES 6

void frames_texture(AVFrame *frame, uint32_t seed, double shift_x, double shift_y) {
    double kx[TEXTURE_WAVES], ky[TEXTURE_WAVES], phase[TEXTURE_WAVES];
    uint32_t state = seed * 2654435761u + 1;
    for (int i = 0; i < TEXTURE_WAVES; i++) {
        double angle = (double)(frames_random(&state) % 6283) / 1000.0;
        double period = 20.0 + (double)(frames_random(&state) % 41);
        kx[i] = 2 * M_PI * cos(angle) / period;
        ky[i] = 2 * M_PI * sin(angle) / period;
        phase[i] = (double)(frames_random(&state) % 6283) / 1000.0;
    }
    for (int y = 0; y < frame->height; y++) {
        uint8_t *row = frame->data[0] + (size_t)y * frame->linesize[0];
        for (int x = 0; x < frame->width; x++) {
            double sx = x + shift_x, sy = y + shift_y, v = 0;
            for (int i = 0; i < TEXTURE_WAVES; i++)
                v += sin(kx[i] * sx + ky[i] * sy + phase[i]);
            /* Six waves sum to within +-6; most of the time within +-3. */
            double level = 125 + 95 * v / 4;
            row[x] = (uint8_t)(level < 30 ? 30 : level > 220 ? 220 : lround(level));
        }
    }
    /* Chroma follows the luma's texture at half size, so that fill is
     * checked on all planes. */
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < (frame->height + 1) / 2; y++) {
            uint8_t *row = frame->data[p] + (size_t)y * frame->linesize[p];
            const uint8_t *luma = frame->data[0] + (size_t)(2 * y) * frame->linesize[0];
            for (int x = 0; x < (frame->width + 1) / 2; x++)
                row[x] = (uint8_t)(p == 1 ? 96 + luma[2 * x] / 4 : 160 - luma[2 * x] / 4);
        }
}

void frames_noise(AVFrame *frame, uint32_t *state, int amplitude) {
    for (int y = 0; y < frame->height; y++) {
        uint8_t *row = frame->data[0] + (size_t)y * frame->linesize[0];
        for (int x = 0; x < frame->width; x++) {
            int v =
                row[x] + (int)(frames_random(state) % (uint32_t)(2 * amplitude + 1)) - amplitude;
            row[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

static void put(AVFrame *frame, int x, int y, int value, uint8_t *truth) {
    if (x < 0 || y < 0 || x >= frame->width || y >= frame->height) return;
    frame->data[0][(size_t)y * frame->linesize[0] + x] = (uint8_t)value;
    frame->data[1][(size_t)(y / 2) * frame->linesize[1] + x / 2] = 128;
    frame->data[2][(size_t)(y / 2) * frame->linesize[2] + x / 2] = 128;
    if (truth) truth[(size_t)y * frame->width + x] = 255;
}

int frames_draw_text(AVFrame *frame, int x, int y, int h, int bars, int stroke, uint8_t *truth) {
    const int outline = 2, gap = 4;
    int at = x;
    for (int b = 0; b < bars; b++) {
        int bw = stroke + 2 * outline;
        /* Bars of different heights, like letters with and without
         * ascenders. */
        int bh = b % 3 == 1 ? h * 2 / 3 : h;
        int top = y + (h - bh);
        for (int yy = top; yy < top + bh; yy++)
            for (int xx = at; xx < at + bw; xx++) {
                int inside = xx >= at + outline && xx < at + bw - outline && yy >= top + outline &&
                             yy < top + bh - outline;
                put(frame, xx, yy, inside ? 235 : 16, truth);
            }
        at += bw + gap;
    }
    return at - x;
}
