/* test_e2e_removal.c: the quality bar end to end. Burns subtitles into 5 s of
 * a real clip with ../shared/bench/burn-fixture.sh, removes them in-process
 * with vsr_remove, and scores the result and the mask with the shared
 * scorers. Thresholds are looser than the benchmark's (bench/RESULTS.md) so
 * that the test is stable, but tight enough to catch a regression. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "test_media.h"
#include "vsr.h"

/* Two lines of text at different places in time, with a gap between them:
 * the gap shows what the first line hid. */
static const char subtitles[] = "1\n00:00:00,400 --> 00:00:02,200\nThe quick brown fox jumps.\n\n"
                                "2\n00:00:02,600 --> 00:00:04,600\nOver the lazy dog, twice.\n";

#define STYLE_OUTLINE                                                                              \
    "Fontname=DejaVu Sans,Fontsize=22,PrimaryColour=&H00FFFFFF,OutlineColour=&H00000000,"          \
    "BorderStyle=1,Outline=2"

/* White text on an opaque dark box (ASS BorderStyle=3). */
#define STYLE_BOX                                                                                  \
    "Fontname=DejaVu Sans,Fontsize=20,PrimaryColour=&H00FFFFFF,OutlineColour=&H00303030,"          \
    "BackColour=&H00303030,BorderStyle=3,Outline=4"

/* Bars of the cases the text detector network made pass: measured psnr_text
 * (under ASan, commit "text_scan: time fading lines ...") less about 4 dB.
 * Measured: persistent 35.26, fade 39.77, no outline 29.02, each recall
 * 0.99 or more. */
#define E2E_PERSISTENT_PSNR 31
#define E2E_FADE_PSNR       35
#define E2E_NO_OUTLINE_PSNR 25

struct e2e_case {
    const char *clip;  /* in shared/media, without .mp4 */
    double start;      /* seconds into the clip */
    const char *style; /* ASS force_style */
    /* Bars for this case: measured on the engine of the commit that added the
     * case, minus a margin (see each case's comment). */
    double min_psnr_text;
    double min_recall;
    double max_area_ratio;
    /* Set where the engine is known to fail today (see KNOWN_FAILURE in
     * test.h: VSR_STRICT=1 makes it count). */
    const char *known_failure;
    /* When set: the clip is these ffmpeg inputs and filter (the shared
     * media folder substituted for each %1$s) instead of 5 s of CLIP, with
     * these subtitles. */
    const char *inputs;
    const char *srt;
    /* How far psnr_outside may fall below the fixture's own encode (0: 3 dB,
     * see check_case). */
    double outside_margin;
};

struct scores {
    double psnr_text, psnr_outside, psnr_encode, flicker_text, recall, area_ratio;
};

/* Runs a scorer (python script of shared/bench) and reads the JSON it prints
 * on its last line. */
static int run_scorer(const char *cmd, json_t **result) {
    char out[8192];
    int rc = test_run(cmd, out, sizeof out);
    if (rc != 0) {
        fprintf(stderr, "  %s: exit %d\n  %s\n", cmd, rc, out);
        return -1;
    }
    char *line = strrchr(out, '{');
    json_error_t error;
    *result = line ? json_loads(line, JSON_DISABLE_EOF_CHECK, &error) : NULL;
    if (!*result) fprintf(stderr, "  %s printed no JSON: %s\n", cmd, out);
    return *result ? 0 : -1;
}

static double number(const json_t *object, const char *key) {
    const json_t *value = json_object_get(object, key);
    return json_is_number(value) ? json_number_value(value) : -1;
}

/* Audio streams in PATH, by ffprobe. */
static int audio_streams(const char *path) {
    char cmd[1200], out[1024];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -select_streams a -show_entries stream=index -of csv=p=0 '%s'",
             path);
    if (test_run(cmd, out, sizeof out) != 0) return -1;
    int n = 0;
    for (const char *p = out; *p; p++)
        if (*p == '\n') n++;
    return n;
}

/* Builds the fixture of CASE in DIR, removes, scores. 0, or -1 when a tool
 * failed (already reported). */
static int run_case(const struct e2e_case *c, const char *dir, struct scores *s, int *audio_in,
                    int *audio_out) {
    const char *shared = test_shared_dir();
    char args[2048], cmd[4096], srt[600], clip[600], fixture[600], burned[700], out[700], mask[700];
    snprintf(clip, sizeof clip, "%s/clip.mp4", dir);
    snprintf(srt, sizeof srt, "%s/subs.srt", dir);
    snprintf(fixture, sizeof fixture, "%s/fixture", dir);
    snprintf(burned, sizeof burned, "%s/burned.mp4", fixture);
    snprintf(out, sizeof out, "%s/out.mp4", dir);
    snprintf(mask, sizeof mask, "%s/mask.mkv", dir);

    FILE *f = fopen(srt, "w");
    if (!f || fputs(c->srt ? c->srt : subtitles, f) < 0) {
        if (f) fclose(f);
        return -1;
    }
    fclose(f);
    /* Near-lossless so that the fixture's own encode dominates the noise. */
    if (c->inputs)
        snprintf(args, sizeof args, c->inputs, shared, clip);
    else
        snprintf(args, sizeof args,
                 "-ss %.2f -i '%s/media/%s.mp4' -t 5 -map 0:v:0 -map '0:a?' -c:v libx264 "
                 "-preset veryfast -crf 12 -pix_fmt yuv420p -c:a aac '%s'",
                 c->start, shared, c->clip, clip);
    if (media_test_ffmpeg(args) != 0) return -1;
    snprintf(cmd, sizeof cmd, "'%s/bench/burn-fixture.sh' '%s' '%s' '%s' '%s'", shared, clip, srt,
             c->style, fixture);
    char log[4096];
    if (test_run(cmd, log, sizeof log) != 0) {
        fprintf(stderr, "  burn-fixture.sh failed: %s\n", log);
        return -1;
    }

    struct vsr_remove_options options;
    vsr_remove_options_init(&options);
    options.mask_out = mask;
    struct vsr_error error = {0};
    int ret = vsr_remove(burned, out, &options, &error);
    if (ret != VSR_OK) {
        fprintf(stderr, "  vsr_remove: %s (%s)\n", error.message, vsr_status_name(ret));
        return -1;
    }

    json_t *removal = NULL, *masked = NULL;
    snprintf(cmd, sizeof cmd, "'%s/bench/score-removal.py' '%s' '%s' --json", shared, fixture, out);
    if (run_scorer(cmd, &removal) != 0) return -1;
    snprintf(cmd, sizeof cmd, "'%s/bench/score-mask.py' '%s' '%s'", shared, fixture, mask);
    if (run_scorer(cmd, &masked) != 0) {
        json_decref(removal);
        return -1;
    }
    s->psnr_text = number(removal, "psnr_text");
    s->psnr_outside = number(removal, "psnr_outside");
    s->psnr_encode = number(removal, "psnr_encode");
    s->flicker_text = number(removal, "flicker_text");
    s->recall = number(masked, "recall");
    s->area_ratio = number(masked, "area_ratio");
    json_decref(removal);
    json_decref(masked);
    *audio_in = audio_streams(burned);
    *audio_out = audio_streams(out);
    printf("    %s@%.0fs: psnr_text %.2f, psnr_outside %.2f (encode %.2f), flicker %.3f, "
           "recall %.4f, area_ratio %.3f\n",
           c->clip, c->start, s->psnr_text, s->psnr_outside, s->psnr_encode, s->flicker_text,
           s->recall, s->area_ratio);
    return 0;
}

static void check_case(const struct e2e_case *c) {
    if (!test_shared_dir()) {
        SKIP("../shared (or $VSR_SHARED) is absent");
    }
    media_test_quiet();
    const char *dir = test_tmpdir();
    struct scores s;
    int audio_in = -1, audio_out = -1;
    if (run_case(c, dir, &s, &audio_in, &audio_out) != 0) {
        CHECK(!"could not build, remove or score the fixture");
        media_test_remove_dir(dir);
        return;
    }
    if (c->known_failure) KNOWN_FAILURE(c->known_failure);
    CHECK_AT_LEAST(c->min_psnr_text, s.psnr_text);
    CHECK_AT_LEAST(c->min_recall, s.recall);
    CHECK_AT_MOST(c->max_area_ratio, s.area_ratio);
    /* Pixels away from the text must come out as a plain re-encode leaves
     * them: a second encode costs about 2.5 dB against the fixture's own. */
    CHECK_AT_LEAST(s.psnr_encode - (c->outside_margin ? c->outside_margin : 3), s.psnr_outside);
    CHECK_INT(audio_in, audio_out);
    media_test_remove_dir(dir);
}

/* Static shot of bottles, white text with a black outline at the bottom.
 * Measured: psnr_text 39.1, recall 1.000, area 1.05. */
TEST(e2e_removal_bottom_static) {
    SLOW_TEST();
    static const struct e2e_case c = {
        "bottle-detection", 20, STYLE_OUTLINE, 28, 0.95, 2.5, NULL, NULL, NULL, 0};
    check_case(&c);
}

/* A car drives under the text (and the clip has AAC audio, which must be
 * kept). The hardest case: the background the car covers is seen only while
 * the car passes. Measured: psnr_text 30.0 (Telea with a perfect mask scores
 * about 26.4 on such a scene), recall 0.9999, area 1.02 (29.6, 0.9989 and
 * 1.02 when reader A decoded every frame of this 12.5 fps clip). The bar is
 * below the 28 dB of the static cases: the car is the hard part. */
TEST(e2e_removal_moving_object) {
    SLOW_TEST();
    static const struct e2e_case c = {
        "car-detection", 15, STYLE_OUTLINE, 24.5, 0.95, 2.5, NULL, NULL, NULL, 0};
    check_case(&c);
}

/* Text at the top of the frame (ASS Alignment=8): detection must not assume
 * the bottom. Measured: psnr_text 37.7, recall 1.000, area 1.05. */
TEST(e2e_removal_top) {
    SLOW_TEST();
    static const struct e2e_case c = {
        "bottle-detection", 20, STYLE_OUTLINE ",Alignment=8", 28, 0.95, 2.5, NULL, NULL, NULL, 0};
    check_case(&c);
}

/* Text on an opaque dark box (ASS BorderStyle=3): the box must go too.
 * Measured: psnr_text 36.3, recall 1.000, area 1.02. */
TEST(e2e_removal_box) {
    SLOW_TEST();
    static const struct e2e_case c = {
        "bottle-detection", 20, STYLE_BOX, 28, 0.95, 2.5, NULL, NULL, NULL, 0};
    check_case(&c);
}

/* A dark box over a road where cars pass (the box matches the asphalt in
 * places, so only part of it jumps when it appears). Measured: psnr_text
 * 23.2 (the cars under the box are the hard part), recall 1.000, area 1.04. */
TEST(e2e_removal_box_moving) {
    SLOW_TEST();
    static const struct e2e_case c = {
        "car-detection",
        15,
        STYLE_BOX,
        21,
        0.95,
        2.5,
        "text_mask: a box found on the network's lines over the road reaches past the true box "
        "(psnr_outside 44.5 against the encode's 48.8)",
        NULL,
        NULL,
        0};
    check_case(&c);
}

/* Big bold yellow text with a thick outline and a drop shadow, at 10 frames
 * a second, over a floor while a person stands still and then walks. The
 * middle of a bold stroke is flat and must still be masked (else the fill
 * smears the outline into it), and the person standing still from the first
 * frame must not be taken for a line. Measured: psnr_text 31.8, recall
 * 0.999, area 1.27. */
TEST(e2e_removal_bold_shadow) {
    SLOW_TEST();
    static const struct e2e_case c = {
        "one-by-one-person-detection",
        10,
        "Fontname=DejaVu Sans,Fontsize=28,Bold=1,PrimaryColour=&H0000FFFF,OutlineColour=&H00000000,"
        "BorderStyle=1,Outline=3,Shadow=2",
        28,
        0.95,
        2.5,
        NULL,
        NULL,
        NULL,
        0};
    check_case(&c);
}

/* Three shots of 3 s cut together, each with its own line from the shot's
 * first frame to its last: the line's pixels jump with the whole picture at
 * both cuts, so the detector finds them inside an event that is most of the
 * frame (a shot) and must pick the line out of it. The middle shot never
 * shows what its line hides, so its fill is spatial: psnr_text is low by
 * nature. Measured: psnr_text 18.8 (12.7 with the middle line missed),
 * recall 0.954, area 1.01. At 25 fps reader A skips non-reference frames;
 * seeing half the frames, a few more of the table's pixels beside the first
 * line hold through its shot and are taken into it (area 1.08), and since
 * that line covers its whole shot they are filled spatially: psnr_outside
 * 44.07 against 44.69 when A decodes every frame (encode 47.15; psnr_text
 * 19.2). Hence 3.5 dB here. */
#define THREE_SHOTS                                                                                \
    "-ss 20 -t 3 -i '%1$s/media/bottle-detection.mp4' "                                            \
    "-ss 10 -t 3 -i '%1$s/media/one-by-one-person-detection.mp4' "                                 \
    "-ss 15 -t 3 -i '%1$s/media/car-detection.mp4' -filter_complex "                               \
    "'[0:v]scale=768:432,fps=25,setsar=1[a];[1:v]scale=768:432,fps=25,setsar=1[b];"                \
    "[2:v]scale=768:432,fps=25,setsar=1[c];[a][b][c]concat=n=3:v=1[v]' -map '[v]' "                \
    "-c:v libx264 -preset veryfast -crf 12 -pix_fmt yuv420p '%2$s'"

TEST(e2e_removal_lines_on_cuts) {
    SLOW_TEST();
    static const struct e2e_case c = {
        "three-shots",
        0,
        STYLE_OUTLINE,
        15,
        0.9,
        2.5,
        NULL,
        THREE_SHOTS,
        "1\n00:00:00,000 --> 00:00:03,000\nThe quick brown fox jumps.\n\n"
        "2\n00:00:03,000 --> 00:00:06,000\nOver the lazy dog, twice.\n\n"
        "3\n00:00:06,000 --> 00:00:09,000\nAnd then it rests a while.\n",
        3.5};
    check_case(&c);
}

/* Mask pixels set in the gray video PATH (decoded by ffmpeg), or -1. */
static long mask_pixels(const char *path, const char *dir) {
    char cmd[1400], raw[700], out[512];
    snprintf(raw, sizeof raw, "%s/mask.gray", dir);
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -y -i '%s' -f rawvideo -pix_fmt gray '%s'", path,
             raw);
    if (test_run(cmd, out, sizeof out) != 0) return -1;
    FILE *f = fopen(raw, "rb");
    if (!f) return -1;
    long set = 0;
    int ch;
    while ((ch = getc(f)) != EOF)
        set += ch > 127;
    fclose(f);
    return set;
}

/* Four shots cut together without any subtitle, one with a floor whose
 * boards make a band of strong edges across the picture: nothing may be
 * masked. (Picking lines out of shots found a line there at first.) */
TEST(e2e_removal_cuts_without_text) {
    SLOW_TEST();
    if (!test_shared_dir()) {
        SKIP("../shared (or $VSR_SHARED) is absent");
    }
    media_test_quiet();
    const char *dir = test_tmpdir(), *shared = test_shared_dir();
    char args[2048], clip[600], out[600], mask[600];
    snprintf(clip, sizeof clip, "%s/clip.mp4", dir);
    snprintf(out, sizeof out, "%s/out.mp4", dir);
    snprintf(mask, sizeof mask, "%s/mask.mkv", dir);
    snprintf(args, sizeof args,
             "-ss 0 -t 4 -i '%1$s/media/one-by-one-person-detection.mp4' "
             "-ss 2 -t 2 -i '%1$s/media/bottle-detection.mp4' "
             "-ss 30 -t 1.5 -i '%1$s/media/car-detection.mp4' "
             "-ss 40 -t 3 -i '%1$s/media/bottle-detection.mp4' -filter_complex "
             "'[0:v]scale=768:432,fps=25,setsar=1[a];[1:v]scale=768:432,fps=25,setsar=1[b];"
             "[2:v]scale=768:432,fps=25,setsar=1[c];[3:v]scale=768:432,fps=25,setsar=1[d];"
             "[a][b][c][d]concat=n=4:v=1[v]' -map '[v]' -c:v libx264 -preset veryfast -crf 18 "
             "-pix_fmt yuv420p '%2$s'",
             shared, clip);
    CHECK_INT(0, media_test_ffmpeg(args));
    struct vsr_remove_options options;
    vsr_remove_options_init(&options);
    options.mask_out = mask;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, vsr_remove(clip, out, &options, &error));
    CHECK_INT(0, mask_pixels(mask, dir));
    media_test_remove_dir(dir);
}

/* One caption from the first frame to the last (as a phone video's), on a
 * still shot: nothing ever shows what it hides, so the text detector must
 * find it in single frames, and the fill is spatial. Measured: see the bar
 * below. */
TEST(e2e_removal_persistent_caption) {
    SLOW_TEST();
    static const struct e2e_case c = {
        "bottle-detection",
        20,
        STYLE_OUTLINE,
        E2E_PERSISTENT_PSNR,
        0.95,
        2.5,
        NULL,
        NULL,
        "1\n00:00:00,000 --> 00:00:05,000\nThe caption that never goes away.\n",
        0};
    check_case(&c);
}

/* A line that fades in and out over 300 ms ({\fad}): on the frames where it
 * is half there, it must be masked too. */
TEST(e2e_removal_fading_line) {
    SLOW_TEST();
    static const struct e2e_case c = {
        "bottle-detection",
        20,
        STYLE_OUTLINE,
        E2E_FADE_PSNR,
        0.95,
        2.5,
        NULL,
        NULL,
        "1\n00:00:00,400 --> 00:00:02,200\n{\\fad(300,300)}The quick brown fox jumps.\n\n"
        "2\n00:00:02,600 --> 00:00:04,600\n{\\fad(300,300)}Over the lazy dog, twice.\n",
        0};
    check_case(&c);
}

/* White text with no outline and no shadow, over a moving picture: nothing
 * dark beside a bright fill to go by. */
TEST(e2e_removal_no_outline) {
    SLOW_TEST();
    static const struct e2e_case c = {
        "car-detection",
        15,
        "Fontname=DejaVu "
        "Sans,Fontsize=22,PrimaryColour=&H00FFFFFF,BorderStyle=1,Outline=0,Shadow=0",
        E2E_NO_OUTLINE_PSNR,
        0.95,
        2.5,
        NULL,
        NULL,
        NULL,
        0};
    check_case(&c);
}
