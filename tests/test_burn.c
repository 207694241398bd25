/* test_burn.c: captions drawn onto video (vsr_burn, vsr_replace).
 *
 * Rendering is checked against FFmpeg's own `subtitles` filter (libass too,
 * with its own blending) given the same file and the preset's overrides as
 * force_style: PSNR over whole frames that show captions. Both sides encode
 * at CRF 1 so that the comparison measures drawing, not x264. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "captions/captions.h"
#include "media/media.h"
#include "test.h"
#include "test_media.h"
#include "vsr.h"

static const char two_captions[] =
    "1\n00:00:00,300 --> 00:00:01,600\nThe quick brown fox jumps.\n\n"
    "2\n00:00:01,900 --> 00:00:03,400\nOver the lazy dog,\ntwice "
    "as fast.\n";

static int write_file(const char *path, const char *text, size_t length) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = fwrite(text, 1, length, f);
    return fclose(f) == 0 && n == length ? 0 : -1;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* 4 s of the car clip (768x432, BT.601), near-lossless. */
static int make_clip(const char *dir, char *clip, size_t size) {
    const char *shared = test_shared_dir();
    if (!shared) return -1;
    snprintf(clip, size, "%s/clip.mp4", dir);
    char args[2048];
    snprintf(args, sizeof args,
             "-i '%s/media/car-detection.mp4' -t 4 -map 0:v:0 -map 0:a:0 -c:v libx264 -preset "
             "veryfast -crf 10 -pix_fmt yuv420p -c:a copy '%s'",
             shared, clip);
    return media_test_ffmpeg(args);
}

/* Squared error of two YUV420P frames over all three planes, and samples. */
static void frame_error(const AVFrame *a, const AVFrame *b, double *sum, double *count) {
    for (int plane = 0; plane < 3; plane++) {
        int w = plane ? (a->width + 1) / 2 : a->width, h = plane ? (a->height + 1) / 2 : a->height;
        for (int y = 0; y < h; y++) {
            const uint8_t *p = a->data[plane] + (size_t)y * (size_t)a->linesize[plane];
            const uint8_t *q = b->data[plane] + (size_t)y * (size_t)b->linesize[plane];
            for (int x = 0; x < w; x++) {
                double d = (double)p[x] - q[x];
                *sum += d * d;
            }
        }
        *count += (double)w * h;
    }
}

/* Luma pixels that differ by more than 48 levels: where text was drawn. */
static long changed_pixels(const AVFrame *a, const AVFrame *b) {
    long n = 0;
    for (int y = 0; y < a->height; y++)
        for (int x = 0; x < a->width; x++)
            n += abs(a->data[0][y * a->linesize[0] + x] - b->data[0][y * b->linesize[0] + x]) > 48;
    return n;
}

/* Over the frames between FROM_MS and TO_MS: the lowest PSNR of OURS vs
 * THEIRS, and the fewest pixels OURS changed from PLAIN. */
static int compare_videos(const char *ours, const char *theirs, const char *plain, int from_ms,
                          int to_ms, double *min_psnr, long *min_changed) {
    struct media_reader *r[3] = {NULL, NULL, NULL};
    const char *paths[3] = {ours, theirs, plain};
    struct vsr_error error = {0};
    int ret = 0, frames = 0;
    *min_psnr = INFINITY;
    *min_changed = -1;
    for (int i = 0; i < 3 && ret == 0; i++)
        if (media_reader_open(&r[i], paths[i], 1, 0, &error) < 0) ret = -1;
    const struct media_info *info = ret == 0 ? media_reader_info(r[0]) : NULL;
    while (ret == 0) {
        AVFrame *f[3] = {NULL, NULL, NULL};
        int got = 0;
        for (int i = 0; i < 3; i++)
            got += media_reader_next(r[i], &f[i], &error) == 1;
        if (got == 3) {
            double ms = (double)f[0]->pts * av_q2d(info->time_base) * 1000;
            if (ms >= from_ms && ms <= to_ms) {
                double sum = 0, count = 0;
                frame_error(f[0], f[1], &sum, &count);
                double psnr = sum > 0 ? 10 * log10(255.0 * 255.0 * count / sum) : 99;
                if (psnr < *min_psnr) *min_psnr = psnr;
                long changed = changed_pixels(f[0], f[2]);
                if (*min_changed < 0 || changed < *min_changed) *min_changed = changed;
                frames++;
            }
        }
        for (int i = 0; i < 3; i++)
            av_frame_free(&f[i]);
        if (got != 3) ret = got == 0 ? 0 : -1;
        if (got != 3) break;
    }
    for (int i = 0; i < 3; i++)
        media_reader_free(r[i]);
    return ret == 0 && frames > 0 ? 0 : -1;
}

TEST(burn_matches_ffmpeg_subtitles_filter) {
    SLOW_TEST();
    if (!test_shared_dir()) {
        SKIP("../shared (or $VSR_SHARED) is absent");
    }
    media_test_quiet();
    const char *dir = test_tmpdir();
    char clip[600], srt[600], ours[600], theirs[600], args[4096];
    CHECK_INT(0, make_clip(dir, clip, sizeof clip));
    snprintf(srt, sizeof srt, "%s/subs.srt", dir);
    CHECK_INT(0, write_file(srt, two_captions, strlen(two_captions)));
    for (int i = 0; caption_style_names[i]; i++) {
        const char *preset = caption_style_names[i];
        struct vsr_caption_style style;
        vsr_caption_style_init(&style);
        style.style = preset;
        char force[2048];
        struct vsr_error error = {0};
        /* An SRT's script is 288 lines high, as the presets are written. */
        CHECK_INT(0, caption_style_overrides(&style, 0, 432, 288, force, sizeof force, &error));
        snprintf(ours, sizeof ours, "%s/ours-%s.mp4", dir, preset);
        snprintf(theirs, sizeof theirs, "%s/theirs-%s.mp4", dir, preset);
        struct vsr_burn_options options;
        vsr_burn_options_init(&options);
        options.style = style;
        options.crf = 1;
        int ret = vsr_burn(clip, srt, ours, &options, &error);
        CHECK_INT(VSR_OK, ret);
        if (ret != VSR_OK) fprintf(stderr, "  %s: %s\n", preset, error.message);
        snprintf(args, sizeof args,
                 "-i '%s' -vf \"subtitles='%s':force_style='%s'\" -c:v libx264 -preset veryfast "
                 "-crf 1 -c:a copy '%s'",
                 clip, srt, force, theirs);
        CHECK_INT(0, media_test_ffmpeg(args));
        double psnr, psnr2;
        long changed, changed2;
        /* Frames well inside each caption's time. */
        CHECK_INT(0, compare_videos(ours, theirs, clip, 400, 1500, &psnr, &changed));
        CHECK_INT(0, compare_videos(ours, theirs, clip, 2000, 3300, &psnr2, &changed2));
        if (psnr2 < psnr) psnr = psnr2;
        if (changed2 < changed) changed = changed2;
        printf("    %s: min PSNR vs FFmpeg %.2f dB, min text pixels %ld\n", preset, psnr, changed);
        CHECK_AT_LEAST(35, psnr);
        /* The captions are there: a line of text changes hundreds of pixels. */
        CHECK_AT_LEAST(300, changed);
    }
    media_test_remove_dir(dir);
}

TEST(burn_refuses_bad_subtitles) {
    if (!test_shared_dir()) {
        SKIP("../shared (or $VSR_SHARED) is absent");
    }
    media_test_quiet();
    const char *dir = test_tmpdir();
    char clip[600], path[600], out[600];
    CHECK_INT(0, make_clip(dir, clip, sizeof clip));
    snprintf(out, sizeof out, "%s/out.mp4", dir);
    static const struct {
        const char *name, *text, *says;
    } cases[] = {
        {"empty.srt", "", "empty"},
        {"backwards.srt", "1\n00:00:05,000 --> 00:00:01,000\nBackwards\n", "bad times"},
        {"bad-time.srt", "1\n00:00:0x,000 --> 00:00:01,000\nBad\n", "not a subtitle file"},
        {"latin1.srt", "1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9 cr\xe8me\n", "UTF-8"},
        {"prose.srt", "hello there\nno timestamps at all\n", "not a subtitle file"},
        {"header-only.vtt", "WEBVTT\n\n", "no subtitles"},
        {"binary.srt", "\x00\x01\x02\xff\xfe garbage \x00\x10", "not a subtitle file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].name);
        size_t length = strcmp(cases[i].name, "binary.srt") == 0 ? 16 : strlen(cases[i].text);
        CHECK_INT(0, write_file(path, cases[i].text, length));
        struct vsr_error error = {0};
        int ret = vsr_burn(clip, path, out, NULL, &error);
        CHECK_INT(VSR_E_INPUT, ret);
        if (!strstr(error.message, cases[i].says))
            fprintf(stderr, "  %s: message '%s' lacks '%s'\n", cases[i].name, error.message,
                    cases[i].says);
        CHECK(strstr(error.message, cases[i].says) != NULL);
        CHECK(!exists(out));
    }
    /* Style errors are usage errors, before any work. */
    snprintf(path, sizeof path, "%s/good.srt", dir);
    CHECK_INT(0, write_file(path, two_captions, strlen(two_captions)));
    struct vsr_burn_options options;
    vsr_burn_options_init(&options);
    struct vsr_error error = {0};
    options.style.style = "neon";
    CHECK_INT(VSR_E_USAGE, vsr_burn(clip, path, out, &options, &error));
    CHECK(strstr(error.message, "unknown style") != NULL);
    vsr_burn_options_init(&options);
    options.style.font = "No Such Font Family";
    CHECK_INT(VSR_E_USAGE, vsr_burn(clip, path, out, &options, &error));
    CHECK(strstr(error.message, "not installed") != NULL);
    vsr_burn_options_init(&options);
    options.style.position = "left";
    CHECK_INT(VSR_E_USAGE, vsr_burn(clip, path, out, &options, &error));
    CHECK(!exists(out));
    media_test_remove_dir(dir);
}

TEST(burn_style_file_and_options) {
    char out[2048];
    struct vsr_error error = {0};
    static const char good[] = "# big yellow\nFontSize = 30\nPrimaryColour=&H0000FFFF\n\n"
                               "outline=3\nAlignment=8\n";
    CHECK_INT(0, caption_style_parse(good, strlen(good), "good", (out[0] = '\0', out), sizeof out,
                                     &error));
    CHECK_STR("FontSize=30,PrimaryColour=&H0000FFFF,Outline=3,Alignment=6", out);
    static const char unknown[] = "FontSize=30\nColour=red\n";
    out[0] = '\0';
    CHECK_INT(VSR_E_USAGE,
              caption_style_parse(unknown, strlen(unknown), "u", out, sizeof out, &error));
    CHECK(strstr(error.message, "line 2") && strstr(error.message, "'Colour'"));
    static const char no_equals[] = "FontSize 30\n";
    CHECK_INT(VSR_E_USAGE,
              caption_style_parse(no_equals, strlen(no_equals), "n", out, sizeof out, &error));
    static const char comma[] = "FontName=A,B\n";
    CHECK_INT(VSR_E_USAGE, caption_style_parse(comma, strlen(comma), "c", out, sizeof out, &error));
    /* Pixels become script units: 36 px on a 1080-line frame, 288-line script. */
    struct vsr_caption_style style;
    vsr_caption_style_init(&style);
    style.size = 36;
    style.position = "top";
    style.margin = 54;
    CHECK_INT(0, caption_style_overrides(&style, 0, 1080, 288, out, sizeof out, &error));
    CHECK(strstr(out, "FontSize=9.6") != NULL);
    CHECK(strstr(out, "Alignment=6") != NULL); /* libass's value for top centre */
    CHECK(strstr(out, "MarginV=14") != NULL);
    /* An ASS file keeps its own styles when no preset is named. */
    vsr_caption_style_init(&style);
    CHECK_INT(0, caption_style_overrides(&style, 1, 1080, 288, out, sizeof out, &error));
    CHECK_INT(0, (long long)strlen(out));
    CHECK(caption_font_exists("DejaVu Sans"));
    CHECK(!caption_font_exists("Surely Not A Font 123"));
}

/* Over frames FROM_MS..TO_MS: PSNR (luma) of OURS vs THEIRS on the pixels
 * where THEIRS differs from PLAIN by more than 48 levels (the captions
 * THEIRS drew), and the fewest such pixels in a frame. */
static int compare_caption_pixels(const char *ours, const char *theirs, const char *plain,
                                  int from_ms, int to_ms, double *psnr, long *min_pixels) {
    struct media_reader *r[3] = {NULL, NULL, NULL};
    const char *paths[3] = {ours, theirs, plain};
    struct vsr_error error = {0};
    int ret = 0;
    double sum = 0, count = 0;
    *min_pixels = -1;
    for (int i = 0; i < 3 && ret == 0; i++)
        if (media_reader_open(&r[i], paths[i], 1, 0, &error) < 0) ret = -1;
    const struct media_info *info = ret == 0 ? media_reader_info(r[0]) : NULL;
    while (ret == 0) {
        AVFrame *f[3] = {NULL, NULL, NULL};
        int got = 0;
        for (int i = 0; i < 3; i++)
            got += media_reader_next(r[i], &f[i], &error) == 1;
        if (got == 3) {
            double ms = (double)f[0]->pts * av_q2d(info->time_base) * 1000;
            if (ms >= from_ms && ms <= to_ms) {
                long pixels = 0;
                for (int y = 0; y < f[0]->height; y++)
                    for (int x = 0; x < f[0]->width; x++) {
                        int o = f[0]->data[0][y * f[0]->linesize[0] + x];
                        int t = f[1]->data[0][y * f[1]->linesize[0] + x];
                        int p = f[2]->data[0][y * f[2]->linesize[0] + x];
                        if (abs(t - p) <= 48) continue;
                        pixels++;
                        sum += (double)(o - t) * (o - t);
                        count++;
                    }
                if (*min_pixels < 0 || pixels < *min_pixels) *min_pixels = pixels;
            }
        }
        for (int i = 0; i < 3; i++)
            av_frame_free(&f[i]);
        if (got != 3) {
            ret = got == 0 ? 0 : -1;
            break;
        }
    }
    for (int i = 0; i < 3; i++)
        media_reader_free(r[i]);
    *psnr = sum > 0 ? 10 * log10(255.0 * 255.0 * count / sum) : 99;
    return ret == 0 && count > 0 ? 0 : -1;
}

/* A fixture of shared/bench (burned-in white subtitles at the bottom of the
 * bottle clip), replaced by a new caption at the top in one pass: the old
 * text scored gone by shared/bench/score-removal.py, the new one where
 * FFmpeg's subtitles filter puts it on the clean clip. */
TEST(burn_replace_on_fixture) {
    SLOW_TEST();
    const char *shared = test_shared_dir();
    if (!shared) {
        SKIP("../shared (or $VSR_SHARED) is absent");
    }
    media_test_quiet();
    const char *dir = test_tmpdir();
    char clip[600], old_srt[600], new_srt[600], fixture[600], burned[700], clean[700], out[700],
        theirs[700], args[8192], cmd[4096], log[8192];
    snprintf(clip, sizeof clip, "%s/clip.mp4", dir);
    snprintf(old_srt, sizeof old_srt, "%s/old.srt", dir);
    snprintf(new_srt, sizeof new_srt, "%s/new.srt", dir);
    snprintf(fixture, sizeof fixture, "%s/fixture", dir);
    snprintf(burned, sizeof burned, "%s/burned.mp4", fixture);
    snprintf(clean, sizeof clean, "%s/clean.mp4", fixture);
    snprintf(out, sizeof out, "%s/replaced.mp4", dir);
    snprintf(theirs, sizeof theirs, "%s/theirs.mp4", dir);
    static const char old_text[] =
        "1\n00:00:00,400 --> 00:00:02,200\nThe quick brown fox jumps.\n\n"
        "2\n00:00:02,600 --> 00:00:04,600\nOver the lazy dog, twice.\n";
    static const char new_text[] = "1\n00:00:00,500 --> 00:00:04,500\nA brand new caption\n";
    CHECK_INT(0, write_file(old_srt, old_text, strlen(old_text)));
    CHECK_INT(0, write_file(new_srt, new_text, strlen(new_text)));
    snprintf(args, sizeof args,
             "-ss 20 -i '%s/media/bottle-detection.mp4' -t 5 -map 0:v:0 -map '0:a?' -c:v libx264 "
             "-preset veryfast -crf 12 -pix_fmt yuv420p -c:a aac '%s'",
             shared, clip);
    CHECK_INT(0, media_test_ffmpeg(args));
    snprintf(cmd, sizeof cmd,
             "'%s/bench/burn-fixture.sh' '%s' '%s' 'Fontname=DejaVu Sans,Fontsize=22,"
             "PrimaryColour=&H00FFFFFF,OutlineColour=&H00000000,BorderStyle=1,Outline=2' '%s'",
             shared, clip, old_srt, fixture);
    int rc = test_run(cmd, log, sizeof log);
    CHECK_INT(0, rc);
    if (rc) {
        fprintf(stderr, "  %s\n", log);
        media_test_remove_dir(dir);
        return;
    }
    struct vsr_caption_style style;
    vsr_caption_style_init(&style);
    style.style = "classic";
    style.position = "top";
    struct vsr_error error = {0};
    int ret = vsr_replace(burned, new_srt, out, NULL, &style, &error);
    CHECK_INT(VSR_OK, ret);
    if (ret) fprintf(stderr, "  %s\n", error.message);

    /* Old subtitles gone. */
    snprintf(cmd, sizeof cmd, "'%s/bench/score-removal.py' '%s' '%s' --json", shared, fixture, out);
    rc = test_run(cmd, log, sizeof log);
    CHECK_INT(0, rc);
    const char *json = strrchr(log, '{');
    json_t *scores = json ? json_loads(json, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    double psnr_text = json_number_value(json_object_get(scores, "psnr_text"));
    double psnr_text_in = json_number_value(json_object_get(scores, "psnr_text_in"));
    json_decref(scores);
    /* vsr_remove alone scores 39 dB here (test_e2e_removal); leaving the old
     * text would score psnr_text_in. */
    printf("    old text: psnr_text %.2f dB (burned input %.2f)\n", psnr_text, psnr_text_in);
    CHECK_AT_LEAST(28, psnr_text);

    /* New captions present where expected. */
    char force[2048];
    CHECK_INT(0, caption_style_overrides(&style, 0, 0, 288, force, sizeof force, &error));
    snprintf(args, sizeof args,
             "-i '%s' -vf \"subtitles='%s':force_style='%s'\" -c:v libx264 -preset veryfast "
             "-crf 12 -c:a copy '%s'",
             clean, new_srt, force, theirs);
    CHECK_INT(0, media_test_ffmpeg(args));
    /* Yardstick: vsr_burn of the same captions on the clean clip (glyph
     * edges differ from FFmpeg's by a level or two of coverage, and both
     * sides were encoded: a few dB on these pixels alone). */
    char burned_clean[700];
    snprintf(burned_clean, sizeof burned_clean, "%s/burn-clean.mp4", dir);
    struct vsr_burn_options options;
    vsr_burn_options_init(&options);
    options.style = style;
    CHECK_INT(VSR_OK, vsr_burn(clean, new_srt, burned_clean, &options, &error));
    double psnr, psnr_burn;
    long pixels, pixels_burn;
    CHECK_INT(0, compare_caption_pixels(out, theirs, clean, 600, 4400, &psnr, &pixels));
    CHECK_INT(0, compare_caption_pixels(burned_clean, theirs, clean, 600, 4400, &psnr_burn,
                                        &pixels_burn));
    double psnr_none = 0;
    CHECK_INT(0, compare_caption_pixels(clean, theirs, clean, 600, 4400, &psnr_none, &pixels_burn));
    printf("    new caption pixels vs FFmpeg on the clean clip: replace %.2f dB, burn %.2f dB, "
           "no caption %.2f dB; min %ld pixels a frame\n",
           psnr, psnr_burn, psnr_none, pixels);
    CHECK_AT_LEAST(300, pixels);
    CHECK_AT_LEAST(psnr_burn - 2, psnr);
    CHECK_AT_LEAST(psnr_none + 10, psnr);
    media_test_remove_dir(dir);
}

/* The commands: exit codes of the documented kinds, and --json lines. */
TEST(burn_cli_commands) {
    SLOW_TEST();
    if (!test_shared_dir()) {
        SKIP("../shared (or $VSR_SHARED) is absent");
    }
    media_test_quiet();
    const char *dir = test_tmpdir();
    char clip[600], srt[600], cmd[4096], out[8192];
    CHECK_INT(0, make_clip(dir, clip, sizeof clip));
    snprintf(srt, sizeof srt, "%s/subs.srt", dir);
    CHECK_INT(0, write_file(srt, two_captions, strlen(two_captions)));
    const char *vsr = test_vsr_bin();
    snprintf(cmd, sizeof cmd, "'%s' burn '%s' '%s' '%s/out.mp4' --style yellow --size 30 --json",
             vsr, clip, srt, dir);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "{\"event\":\"done\",\"status\":\"ok\"") != NULL);
    snprintf(cmd, sizeof cmd, "'%s' burn '%s' '%s' '%s/x.mp4' --style neon", vsr, clip, srt, dir);
    CHECK_INT(2, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "vsr: unknown style 'neon'") != NULL);
    snprintf(cmd, sizeof cmd, "'%s' burn '%s' '%s/missing.srt' '%s/x.mp4'", vsr, clip, dir, dir);
    CHECK_INT(3, test_run(cmd, out, sizeof out));
    snprintf(cmd, sizeof cmd, "'%s' burn '%s' '%s'", vsr, clip, srt);
    CHECK_INT(2, test_run(cmd, out, sizeof out));
    snprintf(cmd, sizeof cmd, "'%s' transcribe '%s' -o '%s/x.txt'", vsr, clip, dir);
    CHECK_INT(2, test_run(cmd, out, sizeof out));
    snprintf(cmd, sizeof cmd, "'%s' transcribe '%s' --engine nope", vsr, clip);
    CHECK_INT(2, test_run(cmd, out, sizeof out));
    snprintf(cmd, sizeof cmd, "'%s' replace '%s' '%s' '%s/x.mp4' --position sideways", vsr, clip,
             srt, dir);
    CHECK_INT(2, test_run(cmd, out, sizeof out));
    CHECK_INT(3, media_test_count_files(dir)); /* clip, subs, out.mp4: no partial outputs */
    media_test_remove_dir(dir);
}
