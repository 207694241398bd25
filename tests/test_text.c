/* test_text.c: the single-frame text detector (text_net, text_lines) and
 * the pixels it takes a line to (text_mask), on synthetic frames: lines of
 * text drawn by libass, whose pixels are known exactly, over a textured
 * picture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "captions/captions.h"
#include "test.h"
#include "text/text_lines.h"
#include "text/text_mask.h"
#include "text/text_net.h"

#define W 640
#define H 360

/* A picture with texture and structure everywhere: gradients, stripes and
 * noise (a fixed hash), so that text is not found merely by flatness. */
static void paint_scene(AVFrame *f, int seed) {
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            unsigned hsh = (unsigned)(x * 73856093u) ^ (unsigned)(y * 19349663u) ^ (unsigned)seed;
            hsh = (hsh ^ (hsh >> 13)) * 0x5bd1e995u;
            int v = 60 + (x * 90) / W + (y * 50) / H + (int)((hsh >> 24) % 24) +
                    (((x / 23 + y / 31) & 1) ? 18 : 0);
            f->data[0][(size_t)y * f->linesize[0] + x] = (uint8_t)v;
        }
    for (int p = 1; p <= 2; p++)
        for (int y = 0; y < H / 2; y++)
            for (int x = 0; x < W / 2; x++)
                f->data[p][(size_t)y * f->linesize[p] + x] = (uint8_t)(p == 1 ? 120 + x / 16 : 136);
}

static AVFrame *new_frame(void) {
    AVFrame *f = av_frame_alloc();
    f->format = AV_PIX_FMT_YUV420P;
    f->width = W, f->height = H;
    if (av_frame_get_buffer(f, 0) < 0) av_frame_free(&f);
    return f;
}

static void fill_plain(AVFrame *f, int luma) {
    for (int y = 0; y < H; y++)
        memset(f->data[0] + (size_t)y * f->linesize[0], luma, W);
    for (int p = 1; p <= 2; p++)
        for (int y = 0; y < H / 2; y++)
            memset(f->data[p] + (size_t)y * f->linesize[p], 128, W / 2);
}

/* One line of TEXT in STYLE ("Key=Value,..." ASS overrides), drawn at 1 s
 * onto SCENE; TRUTH gets the pixels the drawing touched (drawn onto black
 * and onto white, as the shared fixtures find them) and BOX their bounds. */
static int draw_text(const char *text, const char *style, AVFrame *scene, uint8_t *truth,
                     struct text_box *box) {
    char srt[512];
    snprintf(srt, sizeof srt, "1\n00:00:00,000 --> 00:00:05,000\n%s\n", text);
    ASS_Library *lib = captions_library_new();
    ASS_Track *track = NULL;
    int is_ass = 0;
    struct vsr_error error = {0};
    if (!lib || subtitles_load_memory(lib, (const uint8_t *)srt, strlen(srt), &track, &is_ass,
                                      &error) < 0) {
        fprintf(stderr, "  subtitles: %s\n", error.message);
        return -1;
    }
    struct overlay *ov = NULL;
    int ret = overlay_new(&ov, lib, track, W, H, style, &error);
    AVFrame *black = new_frame(), *white = new_frame();
    if (ret == 0) {
        fill_plain(black, 0);
        fill_plain(white, 255);
        ret = overlay_draw(ov, scene, 1000, &error);
        if (ret == 0) ret = overlay_draw(ov, black, 1000, &error);
        if (ret == 0) ret = overlay_draw(ov, white, 1000, &error);
    }
    if (ret < 0) fprintf(stderr, "  overlay: %s\n", error.message);
    *box = (struct text_box){W, H, 0, 0};
    for (int y = 0; ret == 0 && y < H; y++)
        for (int x = 0; x < W; x++) {
            int b = black->data[0][(size_t)y * black->linesize[0] + x];
            int wv = white->data[0][(size_t)y * white->linesize[0] + x];
            int t = b > 16 || wv < 239;
            truth[(size_t)y * W + x] = (uint8_t)t;
            if (t) {
                if (x < box->x0) box->x0 = x;
                if (y < box->y0) box->y0 = y;
                if (x + 1 > box->x1) box->x1 = x + 1;
                if (y + 1 > box->y1) box->y1 = y + 1;
            }
        }
    av_frame_free(&black);
    av_frame_free(&white);
    overlay_free(ov);
    ass_free_track(track);
    ass_library_done(lib);
    return ret;
}

/* Runs the net on FRAME at its own size (640x352: 360 rows cut to a multiple of 32 from the top)
 * and returns the lines found. */
static int find_lines(struct text_net *net, const AVFrame *frame, struct text_box *lines) {
    int h = H / 32 * 32;
    uint8_t *rgb = malloc((size_t)W * h * 3), *prob = malloc((size_t)W * h);
    int *scratch = malloc(sizeof *scratch * W * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < W; x++) {
            int Y = frame->data[0][(size_t)y * frame->linesize[0] + x];
            int U = frame->data[1][(size_t)(y / 2) * frame->linesize[1] + x / 2] - 128;
            int V = frame->data[2][(size_t)(y / 2) * frame->linesize[2] + x / 2] - 128;
            int rgbv[3] = {Y + (int)(1.402 * V), Y - (int)(0.344 * U + 0.714 * V),
                           Y + (int)(1.772 * U)};
            for (int c = 0; c < 3; c++)
                rgb[((size_t)y * W + x) * 3 + c] = (uint8_t)(rgbv[c] < 0     ? 0
                                                             : rgbv[c] > 255 ? 255
                                                                             : rgbv[c]);
        }
    struct vsr_error error = {0};
    int n = -1;
    if (text_net_run(net, rgb, W, h, 3 * W, prob, &error) == 0)
        n = text_lines_find(prob, W, h, scratch, lines, TEXT_LINES_MAX);
    else
        fprintf(stderr, "  text_net_run: %s\n", error.message);
    free(rgb), free(prob), free(scratch);
    return n;
}

static double overlap_of(const struct text_box *a, const struct text_box *truth) {
    int ix = (a->x1 < truth->x1 ? a->x1 : truth->x1) - (a->x0 > truth->x0 ? a->x0 : truth->x0);
    int iy = (a->y1 < truth->y1 ? a->y1 : truth->y1) - (a->y0 > truth->y0 ? a->y0 : truth->y0);
    if (ix <= 0 || iy <= 0) return 0;
    return (double)ix * iy / ((double)text_box_w(truth) * text_box_h(truth));
}

struct text_case {
    const char *text, *style;
    double min_cover;  /* of the bounds of the pixels drawn, by the line found */
    double min_recall; /* of the pixels drawn, by text_mask on the line found */
};

static const struct text_case cases[] = {
    /* White with a black outline, at the bottom. */
    {"The train was late tonight", "Fontname=DejaVu Sans,Fontsize=30,Outline=2,Alignment=2", 0.9,
     0.95},
    /* Yellow, no outline, at the top (SSA's numbering: force_style on SRT). */
    {"Nobody else knows what happened",
     "Fontname=DejaVu Sans,Fontsize=28,PrimaryColour=&H0000FFFF,Outline=0,Shadow=0,Alignment=6",
     0.9, 0.95},
    /* Cyrillic, thin, white, in the middle. */
    {"Никто больше не знает", "Fontname=DejaVu Sans,Fontsize=26,Outline=0,Shadow=0,Alignment=10",
     0.9, 0.95},
    /* Chinese, outlined, at the bottom. */
    {"我们从来没有想过你今晚会回到这里",
     "Fontname=WenQuanYi Micro Hei,Fontsize=28,Outline=1.5,Alignment=2", 0.9, 0.95},
    /* White on an opaque dark box: the net finds the letters (two thirds of
     * the box), the mask must take the box whole. */
    {"Listen carefully",
     "Fontname=DejaVu Sans,Fontsize=26,BorderStyle=3,Outline=5,"
     "OutlineColour=&H00202020,Alignment=2",
     0.6, 0.97},
    /* A translucent box. */
    {"She said the train was late",
     "Fontname=DejaVu Sans,Fontsize=24,BorderStyle=3,Outline=4,"
     "OutlineColour=&H80000000,Alignment=2",
     0.6, 0.95},
};

TEST(text_detector_finds_lines) {
    struct text_net *net = NULL;
    struct vsr_error error = {0};
    if (text_net_open(&net, text_net_model_path(), 2, &error) != 0) {
        fprintf(stderr, "  %s\n", error.message);
        CHECK(!"the text detector model loads");
        return;
    }
    AVFrame *frame = new_frame();
    uint8_t *truth = malloc((size_t)W * H), *mask = malloc((size_t)W * H);
    struct text_mask *tm = text_mask_new(W, H);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct text_case *c = &cases[i];
        paint_scene(frame, (int)i);
        struct text_box truth_box;
        if (draw_text(c->text, c->style, frame, truth, &truth_box) != 0) {
            CHECK(!"drawing the text");
            continue;
        }
        struct text_box lines[TEXT_LINES_MAX];
        int n = find_lines(net, frame, lines);
        /* The line found covers the text, and is not much more than it. */
        int best = -1;
        double best_overlap = 0;
        for (int k = 0; k < n; k++)
            if (overlap_of(&lines[k], &truth_box) > best_overlap)
                best_overlap = overlap_of(&lines[k], &truth_box), best = k;
        printf("    %s: %d line(s), the text's box %d,%d-%d,%d covered %.2f", c->text, n,
               truth_box.x0, truth_box.y0, truth_box.x1, truth_box.y1, best_overlap);
        CHECK_AT_LEAST(c->min_cover, best_overlap);
        if (best < 0) {
            printf("\n");
            continue;
        }
        CHECK_AT_MOST(2.5, (double)text_box_w(&lines[best]) * text_box_h(&lines[best]) /
                               ((double)text_box_w(&truth_box) * text_box_h(&truth_box)));
        /* Its pixels: the text's, and not many more. */
        memset(mask, 0, (size_t)W * H);
        int y0 = 0, y1 = 0;
        CHECK(text_mask_paint(tm, frame, &lines[best], 1, mask, &y0, &y1) > 0);
        long hit = 0, total = 0, set = 0;
        for (size_t p = 0; p < (size_t)W * H; p++) {
            total += truth[p];
            hit += truth[p] && mask[p];
            set += mask[p] != 0;
        }
        double recall = total ? (double)hit / total : 0;
        printf(", mask recall %.3f, area %.2f\n", recall, total ? (double)set / total : 0);
        CHECK_AT_LEAST(c->min_recall, recall);
        CHECK_AT_MOST(3.0, (double)set / (double)total);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                if (mask[(size_t)y * W + x] && (y < y0 || y >= y1)) {
                    CHECK(!"mask rows outside the band reported");
                    y = H;
                    break;
                }
    }
    text_mask_free(tm);
    free(truth), free(mask);
    av_frame_free(&frame);
    text_net_free(net);
}

/* Pictures without text give no line that looks like a subtitle. */
TEST(text_detector_nothing_without_text) {
    struct text_net *net = NULL;
    struct vsr_error error = {0};
    if (text_net_open(&net, text_net_model_path(), 2, &error) != 0) {
        CHECK(!"the text detector model loads");
        return;
    }
    AVFrame *frame = new_frame();
    for (int seed = 0; seed < 3; seed++) {
        paint_scene(frame, seed);
        struct text_box lines[TEXT_LINES_MAX];
        CHECK_INT(0, find_lines(net, frame, lines));
    }
    av_frame_free(&frame);
    text_net_free(net);
}

/* A model that is missing, or a file that is not one, is a clear error. */
TEST(text_detector_bad_model) {
    struct text_net *net = NULL;
    struct vsr_error error = {0};
    CHECK_INT(VSR_E_INPUT, text_net_open(&net, "/nonexistent/model.onnx", 1, &error));
    CHECK(strstr(error.message, "install-deps.sh") != NULL);
    CHECK(net == NULL);
    char path[600];
    snprintf(path, sizeof path, "%s/not-a-model.onnx", test_tmpdir());
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("this is text, not a network\n", f);
        fclose(f);
    }
    CHECK_INT(VSR_E_INPUT, text_net_open(&net, path, 1, &error));
    CHECK(net == NULL);
}
