/* overlay.c: draw a libass track onto YUV 4:2:0 frames.
 *
 * libass gives, per frame time, a list of 8-bit coverage bitmaps, each with
 * one RGBA colour. Each colour is converted once to Y'CbCr with the frame's
 * own matrix and range (ITU-R BT.601/709/2020 coefficients; an untagged
 * frame is taken as BT.709 from 720 lines up, BT.601 below, as players do),
 * and only the bitmaps' rectangles are blended: luma per pixel, chroma with
 * the mean coverage of the 2x2 luma pixels each chroma sample covers. */
#include <stdlib.h>
#include <string.h>

#include <libavutil/pixfmt.h>

#include "captions/captions.h"
#include "util/error.h"

struct overlay {
    ASS_Renderer *renderer;
    ASS_Track *track; /* borrowed */
    int width, height;
};

static void quiet(int level, const char *format, va_list args, void *data) {
    (void)level, (void)format, (void)args, (void)data;
}

ASS_Library *captions_library_new(void) {
    ASS_Library *library = ass_library_init();
    if (library) ass_set_message_cb(library, quiet, NULL);
    return library;
}

int captions_apply_overrides(ASS_Library *library, ASS_Track *track, const char *overrides) {
    if (!overrides || !*overrides) return 0;
    /* ass_set_style_overrides takes a NULL-terminated list of "Key=Value". */
    char *copy = strdup(overrides);
    size_t count = 1;
    for (const char *p = overrides; *p; p++)
        count += *p == ',';
    char **list = calloc(count + 1, sizeof *list);
    if (!copy || !list) {
        free(copy);
        free(list);
        return -1;
    }
    size_t n = 0;
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item;
         item = strtok_r(NULL, ",", &save))
        list[n++] = item;
    ass_set_style_overrides(library, list);
    ass_process_force_style(track);
    ass_set_style_overrides(library, NULL);
    free(list);
    free(copy);
    return 0;
}

void overlay_set_track(struct overlay *o, ASS_Track *track) {
    o->track = track;
}

int overlay_new(struct overlay **out, ASS_Library *library, ASS_Track *track, int width, int height,
                const char *overrides, struct vsr_error *error) {
    *out = NULL;
    struct overlay *o = calloc(1, sizeof *o);
    if (!o) return error_set(error, VSR_E_NOMEM, "out of memory");
    o->renderer = ass_renderer_init(library);
    if (!o->renderer) {
        free(o);
        return error_set(error, VSR_E_NOMEM, "cannot start the libass renderer");
    }
    o->track = track;
    o->width = width;
    o->height = height;
    ass_set_frame_size(o->renderer, width, height);
    ass_set_storage_size(o->renderer, width, height); /* as FFmpeg does: no anamorphic fix-up */
    /* As FFmpeg's subtitles filter: fontconfig, default family. */
    ass_set_fonts(o->renderer, NULL, NULL, ASS_FONTPROVIDER_AUTODETECT, NULL, 1);
    if (captions_apply_overrides(library, track, overrides) < 0) {
        overlay_free(o);
        return error_set(error, VSR_E_NOMEM, "out of memory");
    }
    *out = o;
    return 0;
}

struct yuv {
    int y, u, v;
};

/* Kr, Kb of the frame's matrix. */
static void coefficients(const AVFrame *frame, double *kr, double *kb) {
    enum AVColorSpace space = frame->colorspace;
    if (space == AVCOL_SPC_UNSPECIFIED || space == AVCOL_SPC_RESERVED)
        space = frame->height >= 720 ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M;
    switch (space) {
    case AVCOL_SPC_BT709:
        *kr = 0.2126, *kb = 0.0722;
        break;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL:
        *kr = 0.2627, *kb = 0.0593;
        break;
    case AVCOL_SPC_FCC:
        *kr = 0.30, *kb = 0.11;
        break;
    case AVCOL_SPC_SMPTE240M:
        *kr = 0.212, *kb = 0.087;
        break;
    default: /* BT.601: BT470BG, SMPTE170M */
        *kr = 0.299, *kb = 0.114;
        break;
    }
}

static int clamp255(double v) {
    return v < 0 ? 0 : v > 255 ? 255 : (int)(v + 0.5);
}

static struct yuv to_yuv(uint32_t rgba, double kr, double kb, int full_range) {
    double r = (rgba >> 24 & 0xff) / 255.0, g = (rgba >> 16 & 0xff) / 255.0,
           b = (rgba >> 8 & 0xff) / 255.0;
    double y = kr * r + (1 - kr - kb) * g + kb * b;
    double cb = (b - y) / (2 * (1 - kb)), cr = (r - y) / (2 * (1 - kr));
    if (full_range)
        return (struct yuv){clamp255(255 * y), clamp255(128 + 255 * cb), clamp255(128 + 255 * cr)};
    return (struct yuv){clamp255(16 + 219 * y), clamp255(128 + 224 * cb), clamp255(128 + 224 * cr)};
}

static inline uint8_t mix(uint8_t under, int value, int alpha) {
    return (uint8_t)((under * (255 - alpha) + value * alpha + 127) / 255);
}

static void blend(AVFrame *frame, const ASS_Image *image, double kr, double kb, int full_range) {
    int opacity = 255 - (int)(image->color & 0xff);
    if (opacity == 0 || image->w <= 0 || image->h <= 0) return;
    struct yuv c = to_yuv(image->color, kr, kb, full_range);
    /* Clip to the frame (libass does, but the frame may be odd-sized). */
    int x0 = image->dst_x < 0 ? 0 : image->dst_x, y0 = image->dst_y < 0 ? 0 : image->dst_y;
    int x1 = image->dst_x + image->w, y1 = image->dst_y + image->h;
    if (x1 > frame->width) x1 = frame->width;
    if (y1 > frame->height) y1 = frame->height;
    if (x0 >= x1 || y0 >= y1) return;
    const uint8_t *bitmap = image->bitmap;
    for (int y = y0; y < y1; y++) {
        const uint8_t *cover =
            bitmap + (size_t)(y - image->dst_y) * (size_t)image->stride - image->dst_x;
        uint8_t *luma = frame->data[0] + (size_t)y * (size_t)frame->linesize[0];
        for (int x = x0; x < x1; x++)
            if (cover[x]) luma[x] = mix(luma[x], c.y, (cover[x] * opacity + 127) / 255);
    }
    int chroma_width = (frame->width + 1) / 2, chroma_height = (frame->height + 1) / 2;
    for (int cy = y0 / 2; cy <= (y1 - 1) / 2 && cy < chroma_height; cy++) {
        uint8_t *u = frame->data[1] + (size_t)cy * (size_t)frame->linesize[1];
        uint8_t *v = frame->data[2] + (size_t)cy * (size_t)frame->linesize[2];
        for (int cx = x0 / 2; cx <= (x1 - 1) / 2 && cx < chroma_width; cx++) {
            int sum = 0;
            for (int dy = 0; dy < 2; dy++) {
                int y = 2 * cy + dy;
                if (y < y0 || y >= y1) continue;
                const uint8_t *cover =
                    bitmap + (size_t)(y - image->dst_y) * (size_t)image->stride - image->dst_x;
                for (int dx = 0; dx < 2; dx++) {
                    int x = 2 * cx + dx;
                    if (x >= x0 && x < x1) sum += cover[x];
                }
            }
            if (!sum) continue;
            int alpha = ((sum + 2) / 4 * opacity + 127) / 255;
            u[cx] = mix(u[cx], c.u, alpha);
            v[cx] = mix(v[cx], c.v, alpha);
        }
    }
}

int overlay_draw(struct overlay *o, AVFrame *frame, int64_t time_ms, struct vsr_error *error) {
    if (frame->format != AV_PIX_FMT_YUV420P || frame->width != o->width ||
        frame->height != o->height)
        return error_set(error, VSR_E_INTERNAL, "caption overlay got a %dx%d frame of format %d",
                         frame->width, frame->height, frame->format);
    int changed = 0;
    ASS_Image *images = ass_render_frame(o->renderer, o->track, (long long)time_ms, &changed);
    if (!images) return 0;
    if (av_frame_make_writable(frame) < 0) return error_set(error, VSR_E_NOMEM, "out of memory");
    double kr, kb;
    coefficients(frame, &kr, &kb);
    int full_range = frame->color_range == AVCOL_RANGE_JPEG;
    for (const ASS_Image *image = images; image; image = image->next)
        blend(frame, image, kr, kb, full_range);
    return 0;
}

void overlay_free(struct overlay *o) {
    if (!o) return;
    if (o->renderer) ass_renderer_done(o->renderer);
    free(o);
}
