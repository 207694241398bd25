/* test_fidelity.c: `vsr remove` gives back the video it was given: the exact
 * size (odd ones too), colour range, field order, subtitle streams and
 * attachments, and says in its result (--json) what it could not keep:
 * frames of a corrupt stretch, frames of another size. Inputs are made with
 * the ffmpeg CLI from its test sources; outputs are read with libavformat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "test.h"
#include "test_media.h"

/* Runs `vsr remove IN OUT --json` and parses its last line; NULL on failure
 * (its output printed). STDERR_TEXT, when not NULL, gets its stderr. */
static json_t *remove_json(const char *in, const char *out, char *stderr_text, size_t size) {
    static char text[65536];
    char cmd[4096], err_path[600];
    snprintf(err_path, sizeof err_path, "%s.stderr", out);
    snprintf(cmd, sizeof cmd, "{ %s remove %s %s --json --preset ultrafast 2>%s; }", test_vsr_bin(),
             in, out, err_path);
    int rc = test_run(cmd, text, sizeof text);
    if (stderr_text) {
        stderr_text[0] = '\0';
        FILE *f = fopen(err_path, "r");
        if (f) {
            size_t n = fread(stderr_text, 1, size - 1, f);
            stderr_text[n] = '\0';
            fclose(f);
        }
    }
    if (rc != 0) {
        fprintf(stderr, "    vsr remove %s exited %d: %s\n", in, rc, text);
        return NULL;
    }
    char *last = strrchr(text, '\n');
    if (last) *last = '\0';
    last = strrchr(text, '\n');
    json_t *root = json_loads(last ? last + 1 : text, 0, NULL);
    if (!root) fprintf(stderr, "    not JSON: %s\n", last ? last + 1 : text);
    return root;
}

static long long json_int(const json_t *root, const char *key) {
    json_t *v = json_object_get(root, key);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* The parameters of PATH's first stream of TYPE, copied into PAR; 0 or -1. */
static int stream_of(const char *path, enum AVMediaType type, AVCodecParameters *par, int *count) {
    AVFormatContext *format = NULL;
    if (avformat_open_input(&format, path, NULL, NULL) < 0) return -1;
    int found = -1;
    if (count) *count = 0;
    if (avformat_find_stream_info(format, NULL) >= 0) {
        for (unsigned i = 0; i < format->nb_streams; i++) {
            if (format->streams[i]->codecpar->codec_type != type) continue;
            if (count) ++*count;
            if (found < 0 && par && avcodec_parameters_copy(par, format->streams[i]->codecpar) >= 0)
                found = 0;
            else if (!par)
                found = 0;
        }
    }
    avformat_close_input(&format);
    return found;
}

/* The mean luma of PATH's first frame, from the raw samples (no range
 * conversion): a white picture is 255 in full range and 235 in limited. */
static double first_frame_luma(const char *path) {
    char cmd[1200], out[256];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -i %s -frames:v 1 -vf extractplanes=y -f rawvideo - | "
             "od -An -v -tu1 | awk '{for(i=1;i<=NF;i++){s+=$i;n++}} END {printf \"%%.1f\", s/n}'",
             path);
    if (test_run(cmd, out, sizeof out) != 0) return -1;
    return atof(out);
}

/* 641x361 comes out 641x361, every frame. */
TEST(fidelity_odd_size_kept) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char in[600], out[600], args[1600];
    snprintf(in, sizeof in, "%s/odd.mkv", dir);
    snprintf(out, sizeof out, "%s/out.mkv", dir);
    snprintf(args, sizeof args,
             "-f lavfi -i testsrc=size=641x361:rate=10 -t 1 -pix_fmt yuv420p -c:v ffv1 %s", in);
    CHECK_INT(0, media_test_ffmpeg(args));
    json_t *result = remove_json(in, out, NULL, 0);
    CHECK(result != NULL);
    CHECK_INT(10, json_int(result, "frames"));
    json_decref(result);
    AVCodecParameters *par = avcodec_parameters_alloc();
    CHECK_INT(0, stream_of(out, AVMEDIA_TYPE_VIDEO, par, NULL));
    CHECK_INT(641, par->width);
    CHECK_INT(361, par->height);
    avcodec_parameters_free(&par);
    media_test_remove_dir(dir);
}

/* Full-range input keeps its levels (white stays 255) and its tag. */
TEST(fidelity_full_range_kept) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char in[600], out[600], args[1600];
    snprintf(in, sizeof in, "%s/full.mp4", dir);
    snprintf(out, sizeof out, "%s/out.mp4", dir);
    snprintf(args, sizeof args,
             "-f lavfi -i color=white:size=320x240:rate=10 -t 1 -pix_fmt yuvj420p -c:v libx264 "
             "-preset ultrafast %s",
             in);
    CHECK_INT(0, media_test_ffmpeg(args));
    CHECK_AT_LEAST(250, first_frame_luma(in));
    json_t *result = remove_json(in, out, NULL, 0);
    CHECK(result != NULL);
    json_decref(result);
    AVCodecParameters *par = avcodec_parameters_alloc();
    CHECK_INT(0, stream_of(out, AVMEDIA_TYPE_VIDEO, par, NULL));
    CHECK_INT(AVCOL_RANGE_JPEG, par->color_range);
    avcodec_parameters_free(&par);
    CHECK_AT_LEAST(250, first_frame_luma(out));
    media_test_remove_dir(dir);
}

/* Interlaced (top field first) input comes out interlaced, top field first. */
TEST(fidelity_interlaced_kept) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char in[600], out[600], args[1600];
    snprintf(in, sizeof in, "%s/tff.mp4", dir);
    snprintf(out, sizeof out, "%s/out.mp4", dir);
    snprintf(args, sizeof args,
             "-f lavfi -i testsrc=size=320x240:rate=25 -t 1 -pix_fmt yuv420p -c:v libx264 "
             "-preset ultrafast -flags +ildct+ilme -x264opts tff=1 %s",
             in);
    CHECK_INT(0, media_test_ffmpeg(args));
    AVCodecParameters *par = avcodec_parameters_alloc();
    CHECK_INT(0, stream_of(in, AVMEDIA_TYPE_VIDEO, par, NULL));
    CHECK_INT(AV_FIELD_TT, par->field_order);
    json_t *result = remove_json(in, out, NULL, 0);
    CHECK(result != NULL);
    json_decref(result);
    CHECK_INT(0, stream_of(out, AVMEDIA_TYPE_VIDEO, par, NULL));
    CHECK_INT(AV_FIELD_TT, par->field_order);
    avcodec_parameters_free(&par);
    media_test_remove_dir(dir);
}

/* Two clips of different sizes joined (cat a.ts b.ts): the result says how
 * many frames were scaled, and from what size. */
TEST(fidelity_resolution_change_reported) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char a[600], b[600], in[600], out[600], args[1600], err[8192];
    snprintf(a, sizeof a, "%s/a.ts", dir);
    snprintf(b, sizeof b, "%s/b.ts", dir);
    snprintf(in, sizeof in, "%s/joined.ts", dir);
    snprintf(out, sizeof out, "%s/out.mp4", dir);
    snprintf(args, sizeof args,
             "-f lavfi -i testsrc=size=320x240:rate=10 -t 1 -c:v libx264 -preset ultrafast "
             "-pix_fmt yuv420p %s",
             a);
    CHECK_INT(0, media_test_ffmpeg(args));
    snprintf(args, sizeof args,
             "-f lavfi -i testsrc=size=160x120:rate=10 -t 1 -c:v libx264 -preset ultrafast "
             "-pix_fmt yuv420p -output_ts_offset 1 %s",
             b);
    CHECK_INT(0, media_test_ffmpeg(args));
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "cat %s %s > %s", a, b, in);
    CHECK_INT(0, test_run(cmd, NULL, 0));
    json_t *result = remove_json(in, out, err, sizeof err);
    CHECK(result != NULL);
    CHECK_INT(20, json_int(result, "frames"));
    CHECK_INT(10, json_int(result, "frames_rescaled"));
    const char *from = json_string_value(json_object_get(result, "rescaled_from"));
    CHECK_STR("160x120", from ? from : "(none)");
    CHECK_INT(0, json_int(result, "frames_dropped"));
    json_decref(result);
    CHECK(strstr(err, "changes size midway") != NULL);
    media_test_remove_dir(dir);
}

/* A stretch of zeroed bytes in the middle of an MP4's video: 4 of 100
 * packets cannot be decoded (ffprobe -count_frames says 96). The run
 * succeeds, and says so. */
TEST(fidelity_dropped_frames_reported) {
    SLOW_TEST();
    media_test_quiet();
    const char *dir = test_tmpdir();
    char clean[600], in[600], out[600], args[1600], err[8192];
    snprintf(clean, sizeof clean, "%s/clean.mp4", dir);
    snprintf(in, sizeof in, "%s/bad.mp4", dir);
    snprintf(out, sizeof out, "%s/out.mp4", dir);
    snprintf(args, sizeof args,
             "-f lavfi -i testsrc=size=320x240:rate=25 -t 4 -pix_fmt yuv420p -c:v libx264 -g 25 "
             "-movflags +faststart %s",
             clean);
    CHECK_INT(0, media_test_ffmpeg(args));
    /* Zero 3000 bytes half way into the mdat box. */
    FILE *f = fopen(clean, "rb");
    CHECK(f != NULL);
    if (!f) return;
    static unsigned char data[4 << 20];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    size_t mdat = 0;
    for (size_t i = 0; i + 4 < n; i++)
        if (memcmp(data + i, "mdat", 4) == 0) {
            mdat = i;
            break;
        }
    CHECK(mdat > 0);
    size_t start = mdat + (n - mdat) / 2;
    memset(data + start, 0, 3000 < n - start ? 3000 : n - start);
    f = fopen(in, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n);
    if (f) fclose(f);

    json_t *result = remove_json(in, out, err, sizeof err);
    CHECK(result != NULL);
    CHECK_INT(96, json_int(result, "frames"));
    CHECK_INT(4, json_int(result, "frames_dropped"));
    CHECK_INT(0, json_int(result, "frames_rescaled"));
    json_decref(result);
    CHECK(strstr(err, "4 frames") != NULL);

    /* A clean file drops nothing. */
    result = remove_json(clean, out, NULL, 0);
    CHECK(result != NULL);
    CHECK_INT(100, json_int(result, "frames"));
    CHECK_INT(0, json_int(result, "frames_dropped"));
    json_decref(result);
    media_test_remove_dir(dir);
}

/* MKV to MKV keeps the subtitle stream (every event) and the attached font;
 * MKV to MP4, which cannot hold SRT or attachments, still succeeds. */
TEST(fidelity_subtitles_attachments_kept) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char srt[600], font[600], in[600], out[600], mp4[600], args[3000];
    snprintf(srt, sizeof srt, "%s/subs.srt", dir);
    snprintf(font, sizeof font, "%s/font.ttf", dir);
    snprintf(in, sizeof in, "%s/in.mkv", dir);
    snprintf(out, sizeof out, "%s/out.mkv", dir);
    snprintf(mp4, sizeof mp4, "%s/out.mp4", dir);
    FILE *f = fopen(srt, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("1\n00:00:00,100 --> 00:00:00,600\nfirst line\n\n"
          "2\n00:00:01,000 --> 00:00:01,500\nsecond line\n\n",
          f);
    fclose(f);
    /* Any bytes do as a font for the container. */
    f = fopen(font, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs("not really a font", f);
    fclose(f);
    snprintf(args, sizeof args,
             "-f lavfi -i testsrc=size=320x240:rate=10 -i %s -map 0:v -map 1:s -c:v libx264 "
             "-preset ultrafast -pix_fmt yuv420p -c:s srt -attach %s "
             "-metadata:s:t mimetype=application/x-truetype-font -t 2 %s",
             srt, font, in);
    CHECK_INT(0, media_test_ffmpeg(args));
    json_t *result = remove_json(in, out, NULL, 0);
    CHECK(result != NULL);
    json_decref(result);
    int subtitles = 0, attachments = 0;
    AVCodecParameters *par = avcodec_parameters_alloc();
    CHECK_INT(0, stream_of(out, AVMEDIA_TYPE_SUBTITLE, par, &subtitles));
    CHECK_INT(AV_CODEC_ID_SUBRIP, par->codec_id);
    CHECK_INT(0, stream_of(out, AVMEDIA_TYPE_ATTACHMENT, par, &attachments));
    CHECK_INT(1, subtitles);
    CHECK_INT(1, attachments);
    CHECK_INT(17, par->extradata_size); /* the font's bytes */
    avcodec_parameters_free(&par);
    /* Both events, as text. */
    char cmd[1200], text[4096];
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i %s -map 0:s -f srt -", out);
    CHECK_INT(0, test_run(cmd, text, sizeof text));
    CHECK(strstr(text, "first line") != NULL);
    CHECK(strstr(text, "second line") != NULL);
    CHECK(strstr(text, "00:00:01,000 --> 00:00:01,500") != NULL);

    result = remove_json(in, mp4, NULL, 0);
    CHECK(result != NULL);
    json_decref(result);
    CHECK_INT(-1, stream_of(mp4, AVMEDIA_TYPE_SUBTITLE, NULL, &subtitles));
    CHECK_INT(0, subtitles);
    media_test_remove_dir(dir);
}
