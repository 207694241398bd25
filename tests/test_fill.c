/* test_fill.c: the temporal filler and the spatial fallback on synthetic
 * frames whose true background is known: pixels outside the mask come back
 * untouched, pixels that other frames show come back as those frames show
 * them, and a hole no frame reveals gets a smooth, plausible fill. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/fill.h"
#include "engine/spatial.h"
#include "test.h"
#include "test_frames.h"

#define W   320
#define H   180
#define FPS 25.0

struct fill_scene {
    int frames;
    uint32_t seed;
    double pan_x, pan_y;    /* background motion per frame, px */
    int text_from, text_to; /* text on frames [text_from, text_to) */
    int always;             /* text on every frame: nothing reveals it */
    int tinted_before;      /* frames [0, tinted_before) hold a blue object as bright as the
                               background around the text */
    int object_speed;       /* a textured block crosses the text this many px a frame */
    int bars;               /* of the text; 9 when 0 */
};

enum { OBJECT_X = -64, OBJECT_Y = 120, OBJECT_W = 64, OBJECT_H = 50 };

/* The clean background of frame INDEX. */
static AVFrame *clean_frame(const struct fill_scene *s, int index) {
    AVFrame *frame = frames_new(W, H);
    if (frame) frames_texture(frame, s->seed, s->pan_x * index, s->pan_y * index);
    AVFrame *object = s->object_speed ? frames_new(W, H) : NULL;
    if (frame && object) { /* its own texture, moving with it */
        frames_texture(object, s->seed + 1, -(double)s->object_speed * index, 0);
        int x0 = OBJECT_X + s->object_speed * index;
        for (int p = 0; p < 3; p++) {
            int sub = p ? 2 : 1;
            for (int y = OBJECT_Y / sub; y < (OBJECT_Y + OBJECT_H) / sub; y++)
                for (int x = x0 < 0 ? 0 : x0 / sub; x < (x0 + OBJECT_W) / sub && x < W / sub; x++)
                    frame->data[p][(size_t)y * frame->linesize[p] + x] =
                        object->data[p][(size_t)y * object->linesize[p] + x];
        }
    }
    av_frame_free(&object);
    if (frame && index < s->tinted_before)
        for (int y = 120 / 2; y < H / 2; y++)
            for (int x = 40 / 2; x < 280 / 2; x++) {
                frame->data[1][(size_t)y * frame->linesize[1] + x] = 170;
                frame->data[2][(size_t)y * frame->linesize[2] + x] = 100;
            }
    return frame;
}

static int has_text(const struct fill_scene *s, int index) {
    return s->always || (index >= s->text_from && index < s->text_to);
}

/* Frame INDEX with text burned in; MASK (W*H) gets the text pixels grown by 2
 * px, as the detector hands them over. */
static AVFrame *burned_frame(const struct fill_scene *s, int index, uint8_t *mask) {
    AVFrame *frame = clean_frame(s, index);
    uint8_t *truth = calloc((size_t)W * H, 1);
    memset(mask, 0, (size_t)W * H);
    if (frame && truth && has_text(s, index)) {
        frames_draw_text(frame, 60, 140, 18, s->bars ? s->bars : 9, 3, truth);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int near = 0;
                for (int yy = y - 2; yy <= y + 2 && !near; yy++)
                    for (int xx = x - 2; xx <= x + 2 && !near; xx++)
                        near = yy >= 0 && yy < H && xx >= 0 && xx < W && truth[(size_t)yy * W + xx];
                mask[(size_t)y * W + x] = near ? 255 : 0;
            }
    }
    free(truth);
    return frame;
}

struct fill_errors {
    int worst_inside;       /* largest |filled - clean| over masked pixels, any plane */
    double mse_inside;      /* luma, masked pixels */
    size_t changed_outside; /* unmasked luma pixels that differ from the input */
    int frames_out;
    int mask_mismatch; /* frames whose returned mask differs from the one pushed */
    /* Frames pushed past a frame when it came out: before the first text,
     * the most; on text, the fewest. */
    int lag_before_text, lag_on_text;
};

/* Luma and chroma of FILLED against CLEAN where MASK is set; luma of FILLED
 * against BURNED elsewhere. */
static void compare(const AVFrame *filled, const AVFrame *clean, const AVFrame *burned,
                    const uint8_t *mask, struct fill_errors *e, size_t *inside) {
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int f = filled->data[0][(size_t)y * filled->linesize[0] + x];
            int c = clean->data[0][(size_t)y * clean->linesize[0] + x];
            int b = burned->data[0][(size_t)y * burned->linesize[0] + x];
            if (mask[(size_t)y * W + x]) {
                int d = abs(f - c);
                if (d > e->worst_inside) e->worst_inside = d;
                e->mse_inside += (double)d * d;
                (*inside)++;
            } else if (f != b) {
                e->changed_outside++;
            }
        }
    /* A chroma sample whose four luma pixels are all masked is all fill. */
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < H / 2; y++)
            for (int x = 0; x < W / 2; x++) {
                const uint8_t *m = mask + (size_t)(2 * y) * W + 2 * x;
                if (!(m[0] && m[1] && m[W] && m[W + 1])) continue;
                int d = abs(filled->data[p][(size_t)y * filled->linesize[p] + x] -
                            clean->data[p][(size_t)y * clean->linesize[p] + x]);
                if (d > e->worst_inside) e->worst_inside = d;
            }
}

/* Pushes the frames of S through a filler, pops them all, and measures. */
static void fill_scene(const struct fill_scene *s, struct fill_errors *e) {
    memset(e, 0, sizeof *e);
    e->lag_on_text = 1 << 30;
    struct filler *f = filler_new(W, H, FPS, 64u << 20);
    uint8_t *masks = malloc((size_t)s->frames * W * H), *got = malloc((size_t)W * H);
    CHECK(f && masks && got);
    int pushed = 0, popped = 0;
    size_t inside = 0;
    while (f && masks && got && popped < s->frames) {
        AVFrame *out = NULL;
        int ret = filler_pop(f, &out, got);
        if (ret < 0) {
            CHECK_INT(0, ret);
            break;
        }
        if (ret == 1) {
            int lag = pushed - popped - 1;
            if (has_text(s, popped) && lag < e->lag_on_text) e->lag_on_text = lag;
            if (!s->always && popped < s->text_from && lag > e->lag_before_text)
                e->lag_before_text = lag;
            const uint8_t *mask = masks + (size_t)popped * W * H;
            AVFrame *clean = clean_frame(s, popped);
            uint8_t *scratch = malloc((size_t)W * H);
            AVFrame *burned = scratch ? burned_frame(s, popped, scratch) : NULL;
            if (clean && burned) compare(out, clean, burned, mask, e, &inside);
            if (memcmp(got, mask, (size_t)W * H) != 0) e->mask_mismatch++;
            av_frame_free(&clean);
            av_frame_free(&burned);
            free(scratch);
            av_frame_free(&out);
            popped++;
            continue;
        }
        if (pushed == s->frames) {
            if (pushed++ == s->frames) filler_finish(f);
            if (pushed > s->frames + 1) break; /* finished, yet frames are missing */
            continue;
        }
        uint8_t *mask = masks + (size_t)pushed * W * H;
        AVFrame *frame = burned_frame(s, pushed, mask);
        CHECK(frame != NULL);
        if (!frame) break;
        frame->pts = pushed;
        CHECK_INT(0, filler_push(f, frame, mask, 0, H));
        pushed++;
    }
    e->frames_out = popped;
    if (inside) e->mse_inside /= (double)inside;
    filler_free(f);
    free(masks);
    free(got);
}

/* A still background that the text hides for one second of three: every
 * hidden pixel is seen before and after, so it comes back exactly. */
TEST(fill_static_background_exact) {
    struct fill_scene s = {.frames = 75, .seed = 21, .text_from = 25, .text_to = 50};
    struct fill_errors e;
    fill_scene(&s, &e);
    CHECK_INT(s.frames, e.frames_out);
    CHECK_INT(0, e.mask_mismatch);
    CHECK_INT(0, e.changed_outside);
    CHECK_AT_MOST(1, e.worst_inside);
    /* Frames without text go out at once; a frame with text waits for the
     * frames after it that may show what it hides. */
    CHECK_INT(0, e.lag_before_text);
    CHECK(e.lag_on_text >= 10);
}

/* The text hides the background from the first frame, so only the frames
 * after it show what was there. */
TEST(fill_static_background_seen_only_later) {
    struct fill_scene s = {.frames = 60, .seed = 22, .text_from = 0, .text_to = 30};
    struct fill_errors e;
    fill_scene(&s, &e);
    CHECK_INT(s.frames, e.frames_out);
    CHECK_INT(0, e.changed_outside);
    CHECK_AT_MOST(1, e.worst_inside);
}

/* A blue object, exactly as bright as the background, covers the text's
 * place until the text appears: the frames before show the right luma in the
 * wrong colour. Only the frames after the text show the true background, and
 * the fill must take its colour from them, not from the nearer blue ones. */
TEST(fill_rejects_a_source_of_the_wrong_colour) {
    struct fill_scene s = {
        .frames = 40, .seed = 26, .text_from = 10, .text_to = 20, .tinted_before = 10};
    struct fill_errors e;
    fill_scene(&s, &e);
    CHECK_INT(s.frames, e.frames_out);
    CHECK_INT(0, e.changed_outside);
    CHECK_AT_MOST(1, e.worst_inside); /* 64 off without the colour check */
}

/* The camera pans by whole pixels under text that holds still: the pixels
 * the text hides now were in view a few frames ago, a few pixels away. The
 * pan reveals two luma columns a frame, so the two under one chroma pixel may
 * come from different frames: its colour must come from one that shows both
 * (it was spatially filled, 14 levels off, when only the first was tried). */
TEST(fill_integer_pan) {
    struct fill_scene s = {.frames = 75, .seed = 23, .pan_x = 2, .text_from = 25, .text_to = 50};
    struct fill_errors e;
    fill_scene(&s, &e);
    CHECK_INT(s.frames, e.frames_out);
    CHECK_INT(0, e.changed_outside);
    if (e.mse_inside > 0) fprintf(stderr, "  mse inside %.2f\n", e.mse_inside);
    CHECK_AT_MOST(1.0, e.mse_inside); /* about PSNR 48 dB */
    CHECK_AT_MOST(8, e.worst_inside);
}

/* A sub-pixel pan: the fill must interpolate; the texture is smooth, so the
 * error stays small, if the motion is measured to a small part of a pixel
 * (a parabola through three costs gave 0.59 px for this 0.7: MSE 35). */
TEST(fill_subpixel_pan) {
    struct fill_scene s = {
        .frames = 75, .seed = 24, .pan_x = 0.7, .pan_y = 0.3, .text_from = 25, .text_to = 50};
    struct fill_errors e;
    fill_scene(&s, &e);
    CHECK_INT(s.frames, e.frames_out);
    CHECK_INT(0, e.changed_outside);
    if (e.mse_inside > 0) fprintf(stderr, "  mse inside %.2f\n", e.mse_inside);
    CHECK_AT_MOST(4.0, e.mse_inside); /* about PSNR 42 dB */
    CHECK_AT_MOST(16, e.worst_inside);
}

/* A textured block crosses still text at 8 px a frame, faster than the
 * local search reaches, over a still background that rules the global
 * motion. What the text hides of the block, nearby frames show further left
 * or right: the wide search must find the block's motion on the nearest
 * frame, and the local searches follow it to the frames that show those
 * pixels. MSE 20.6; 111 without the searches (the background from the same
 * place, or a spatial fill), 32 when a search reads its samples one lattice
 * point off. Slower objects are not followed: the block motion field sees
 * motion in steps of 8 px (see fill_tile). */
TEST(fill_follows_a_moving_object) {
    struct fill_scene s = {
        .frames = 50, .seed = 27, .object_speed = 8, .text_from = 10, .text_to = 50, .bars = 3};
    struct fill_errors e;
    fill_scene(&s, &e);
    CHECK_INT(s.frames, e.frames_out);
    CHECK_INT(0, e.changed_outside);
    if (e.mse_inside > 0) fprintf(stderr, "  mse inside %.2f\n", e.mse_inside);
    CHECK_AT_MOST(26.0, e.mse_inside);
}

/* Text on every frame of a still shot: no frame shows the background, so
 * the spatial fill does it; it must leave the rest alone and stay steady. */
TEST(fill_never_revealed_uses_spatial) {
    struct fill_scene s = {.frames = 30, .seed = 25, .always = 1};
    struct fill_errors e;
    fill_scene(&s, &e);
    CHECK_INT(s.frames, e.frames_out);
    CHECK_INT(0, e.changed_outside);
    /* A smooth texture with periods of 12 px or more, holes 7 px wide: a
     * membrane fill stays within a few tens of levels. */
    CHECK_AT_MOST(100.0 * 100.0, e.mse_inside);
}

/* spatial_fill on a linear ramp with a hole of HOLE_W x HOLE_H: the Laplace
 * fill of a linear function is the function itself, so the hole comes back
 * close to the ramp, and nothing outside it changes (the padding past the
 * width included). Returns the largest error in the hole. */
static int fill_ramp_hole(int hole_w, int hole_h) {
    enum { RW = 64, RH = 48, STRIDE = 80 };
    uint8_t plane[STRIDE * RH], before[STRIDE * RH], todo[RW * RH];
    memset(plane, 7, sizeof plane);
    memset(todo, 0, sizeof todo);
    int x0 = (RW - hole_w) / 2, y0 = (RH - hole_h) / 2;
    for (int y = 0; y < RH; y++)
        for (int x = 0; x < RW; x++) {
            plane[y * STRIDE + x] = (uint8_t)(30 + 2 * x + y);
            if (x >= x0 && x < x0 + hole_w && y >= y0 && y < y0 + hole_h) {
                todo[y * RW + x] = 1;
                plane[y * STRIDE + x] = 255; /* what the subtitle drew */
            }
        }
    memcpy(before, plane, sizeof plane);
    CHECK_INT(0, spatial_fill(plane, STRIDE, RW, RH, todo));
    int worst = 0;
    size_t changed = 0;
    for (int y = 0; y < RH; y++)
        for (int x = 0; x < STRIDE; x++) {
            int at = y * STRIDE + x;
            if (x < RW && todo[y * RW + x]) {
                int d = abs(plane[at] - (30 + 2 * x + y));
                if (d > worst) worst = d;
            } else if (plane[at] != before[at]) {
                changed++;
            }
        }
    CHECK_INT(0, changed);
    return worst;
}

TEST(spatial_fill_linear_ramp) {
    /* A stroke-wide hole, as a subtitle leaves: within a few levels. */
    CHECK_AT_MOST(3, fill_ramp_hole(4, 20));
    /* A box-like hole: the few smoothing sweeps leave a bias toward the
     * nearer side (6 levels measured), bounded here. */
    CHECK_AT_MOST(8, fill_ramp_hole(16, 12));
}

/* A thin vertical stroke across a horizontal edge (60 above, 180 below): the
 * edge continues through the filled stroke. The fill blurs it over a few rows
 * (measured: 14 levels off 3 rows from the edge, 7 at 4 rows); farther rows
 * must be the flat value they continue. */
TEST(spatial_fill_keeps_edge) {
    enum { SW = 40, SH = 40 };
    uint8_t plane[SW * SH], todo[SW * SH];
    memset(todo, 0, sizeof todo);
    for (int y = 0; y < SH; y++)
        for (int x = 0; x < SW; x++) {
            plane[y * SW + x] = y < 20 ? 60 : 180;
            if (x >= 18 && x < 22 && y >= 5 && y < 35) {
                todo[y * SW + x] = 1;
                plane[y * SW + x] = 235;
            }
        }
    CHECK_INT(0, spatial_fill(plane, SW, SW, SH, todo));
    int worst = 0;
    for (int y = 5; y < 35; y++)
        for (int x = 18; x < 22; x++) {
            if (y >= 16 && y < 24) continue; /* the edge blurs over these rows */
            int d = abs(plane[y * SW + x] - (y < 20 ? 60 : 180));
            if (d > worst) worst = d;
        }
    CHECK_AT_MOST(4, worst);
}
