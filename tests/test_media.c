/* test_media.c: the media reader and writer on real clips: what goes in comes
 * out (size, frames, timestamps, audio bytes, rotation), every container the
 * reader claims to read, and broken inputs and outputs refused with nothing
 * left behind. Clips are cut from ../shared/media with the ffmpeg CLI. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixfmt.h>
#include <openssl/evp.h>

#include "media/frame_pool.h"
#include "media/media.h"
#include "media/prefetch.h"
#include "test.h"
#include "test_media.h"

/* ---- helpers shared with test_cli.c and test_remove.c (test_media.h) ----- */

void media_test_quiet(void) {
    av_log_set_level(AV_LOG_QUIET); /* the failures these tests provoke are expected */
}

int media_test_ffmpeg(const char *args) {
    char cmd[4096], out[4096];
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -y %s", args);
    int rc = test_run(cmd, out, sizeof out);
    if (rc != 0) fprintf(stderr, "  ffmpeg failed (%d): %s\n  %s\n", rc, cmd, out);
    return rc;
}

int media_test_clip(const char *dir, const char *name, const char *codec_args, char *path,
                    size_t size) {
    const char *shared = test_shared_dir();
    if (!shared) {
        fprintf(stderr, "  ../shared (or $VSR_SHARED) with media/ is missing\n");
        return -1;
    }
    snprintf(path, size, "%s/%s", dir, name);
    char args[4096];
    snprintf(args, sizeof args, "-i %s/media/car-detection.mp4 -t 2 %s %s", shared, codec_args,
             path);
    return media_test_ffmpeg(args);
}

int media_test_count_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        n++;
    }
    closedir(d);
    return n;
}

void media_test_remove_dir(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    test_run(cmd, NULL, 0);
}

int media_test_truncate_copy(const char *from, const char *to, double share) {
    FILE *in = fopen(from, "rb");
    if (!in) return -1;
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    long keep = (long)((double)size * share);
    char *buf = malloc((size_t)size + 1);
    size_t got = buf ? fread(buf, 1, (size_t)size, in) : 0;
    fclose(in);
    FILE *out = fopen(to, "wb");
    int ok = buf && out && got == (size_t)size && fwrite(buf, 1, (size_t)keep, out) == (size_t)keep;
    if (out) fclose(out);
    free(buf);
    return ok ? 0 : -1;
}

/* ---- local helpers ------------------------------------------------------- */

#define MAX_FRAMES 512

struct decoded {
    int count;
    int width, height;
    int all_yuv420p;
    double seconds[MAX_FRAMES]; /* pts of each frame */
};

/* Reads every frame of PATH; returns the reader's last status. */
static int read_all(const char *path, struct decoded *d, struct media_info *info) {
    memset(d, 0, sizeof *d);
    d->all_yuv420p = 1;
    struct media_reader *reader = NULL;
    struct vsr_error error = {0};
    int ret = media_reader_open(&reader, path, 0, 0, &error);
    if (ret < 0) return ret;
    if (info) *info = *media_reader_info(reader);
    AVRational tb = media_reader_info(reader)->time_base;
    AVFrame *frame;
    while ((ret = media_reader_next(reader, &frame, &error)) == 1) {
        if (d->count < MAX_FRAMES) d->seconds[d->count] = (double)frame->pts * av_q2d(tb);
        d->count++;
        d->width = frame->width;
        d->height = frame->height;
        if (frame->format != AV_PIX_FMT_YUV420P) d->all_yuv420p = 0;
        av_frame_free(&frame);
    }
    if (ret < 0) fprintf(stderr, "    reading %s: %s\n", path, error.message);
    media_reader_free(reader);
    return ret;
}

/* Copies SRC to DST through the reader and writer, as vsr_remove does. */
static int copy_through(const char *src, const char *dst, int with_audio) {
    struct media_reader *reader = NULL;
    struct media_writer *writer = NULL;
    struct vsr_error error = {0};
    int ret = media_reader_open(&reader, src, 0, 0, &error);
    if (ret < 0) goto done;
    struct media_writer_options options = {
        .crf = 18,
        .preset = "ultrafast",
        .copy_audio_from = with_audio ? src : NULL,
        .like = media_reader_info(reader),
    };
    ret = media_writer_open(&writer, dst, &options, &error);
    if (ret < 0) goto done;
    AVFrame *frame;
    while ((ret = media_reader_next(reader, &frame, &error)) == 1) {
        ret = media_writer_write(writer, frame, &error);
        av_frame_free(&frame);
        if (ret < 0) goto done;
    }
    if (ret == 0) ret = media_writer_finish(writer, &error);
done:
    if (ret < 0) fprintf(stderr, "    copying %s to %s: %s\n", src, dst, error.message);
    media_writer_free(writer);
    media_reader_free(reader);
    return ret;
}

struct audio_packets {
    int count;
    int streams;
    uint64_t hash[2048]; /* FNV-1a of each packet's bytes, in file order */
    int size[2048];
};

static uint64_t fnv1a(const uint8_t *p, int n) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int read_audio(const char *path, struct audio_packets *a) {
    memset(a, 0, sizeof *a);
    AVFormatContext *format = NULL;
    if (avformat_open_input(&format, path, NULL, NULL) < 0) return -1;
    if (avformat_find_stream_info(format, NULL) < 0) {
        avformat_close_input(&format);
        return -1;
    }
    for (unsigned i = 0; i < format->nb_streams; i++)
        if (format->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) a->streams++;
    AVPacket *packet = av_packet_alloc();
    while (packet && av_read_frame(format, packet) >= 0) {
        AVStream *s = format->streams[packet->stream_index];
        if (s->codecpar->codec_type == AVMEDIA_TYPE_AUDIO && a->count < 2048) {
            a->hash[a->count] = fnv1a(packet->data, packet->size);
            a->size[a->count] = packet->size;
            a->count++;
        }
        av_packet_unref(packet);
    }
    av_packet_free(&packet);
    avformat_close_input(&format);
    return 0;
}

/* The end time in seconds (last packet's pts plus duration) of the video
 * and of the audio of PATH. */
static int stream_ends(const char *path, double *video, double *audio) {
    AVFormatContext *format = NULL;
    if (avformat_open_input(&format, path, NULL, NULL) < 0) return -1;
    if (avformat_find_stream_info(format, NULL) < 0) {
        avformat_close_input(&format);
        return -1;
    }
    *video = *audio = -1;
    AVPacket *packet = av_packet_alloc();
    while (packet && av_read_frame(format, packet) >= 0) {
        AVStream *s = format->streams[packet->stream_index];
        double end = (double)(packet->pts + packet->duration) * av_q2d(s->time_base);
        double *last = s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO   ? video
                       : s->codecpar->codec_type == AVMEDIA_TYPE_AUDIO ? audio
                                                                       : NULL;
        if (last && packet->pts != AV_NOPTS_VALUE && end > *last) *last = end;
        av_packet_unref(packet);
    }
    av_packet_free(&packet);
    avformat_close_input(&format);
    return *video >= 0 && *audio >= 0 ? 0 : -1;
}

static void check_audio_identical(const char *in, const char *out) {
    static struct audio_packets a, b;
    CHECK_INT(0, read_audio(in, &a));
    CHECK_INT(0, read_audio(out, &b));
    CHECK_INT(a.streams, b.streams);
    CHECK_AT_LEAST(1, a.count);
    CHECK_INT(a.count, b.count);
    int differing = 0;
    for (int i = 0; i < a.count && i < b.count; i++)
        if (a.hash[i] != b.hash[i] || a.size[i] != b.size[i]) differing++;
    CHECK_INT(0, differing);
}

static void check_same_video(const struct decoded *in, const struct decoded *out,
                             double tolerance) {
    CHECK_INT(in->width, out->width);
    CHECK_INT(in->height, out->height);
    CHECK_INT(in->count, out->count);
    double worst = 0;
    for (int i = 0; i < in->count && i < out->count && i < MAX_FRAMES; i++) {
        double d = fabs(in->seconds[i] - out->seconds[i]);
        if (d > worst) worst = d;
    }
    CHECK_AT_MOST(tolerance, worst);
}

/* ---- tests --------------------------------------------------------------- */

static void round_trip(const char *extension, double pts_tolerance) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char in[512], out[512];
    if (media_test_clip(dir, "in.mp4", "-c:v libx264 -preset ultrafast -c:a copy", in, sizeof in) !=
        0) {
        CHECK(!"could not make the test clip");
        return;
    }
    snprintf(out, sizeof out, "%s/out.%s", dir, extension);
    CHECK_INT(0, copy_through(in, out, 1));
    static struct decoded a, b;
    struct media_info info_in, info_out;
    CHECK_INT(0, read_all(in, &a, &info_in));
    CHECK_INT(0, read_all(out, &b, &info_out));
    CHECK_AT_LEAST(20, a.count); /* 2 s at 12.5 fps */
    check_same_video(&a, &b, pts_tolerance);
    CHECK_INT(info_in.frame_rate.num * info_out.frame_rate.den,
              info_out.frame_rate.num * info_in.frame_rate.den);
    CHECK_INT(1, info_out.audio_streams);
    check_audio_identical(in, out);
    CHECK_INT(2, media_test_count_files(dir)); /* in and out, no temporary left */
    media_test_remove_dir(dir);
}

TEST(media_round_trip_mp4) {
    media_test_quiet();
    round_trip("mp4", 0.0);
}

TEST(media_round_trip_mkv) {
    media_test_quiet();
    round_trip("mkv", 0.001); /* Matroska stores milliseconds */
}

TEST(media_round_trip_mov) {
    media_test_quiet();
    round_trip("mov", 0.0);
}

/* Two TS files joined end to end (cat a.ts b.ts), as broadcast captures and
 * joined recordings are: halfway through, every timestamp starts again. The
 * copy must hold every frame and audio packet, each stream going on in time
 * from where it was, the two streams together. */
TEST(media_timestamps_that_start_again) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char part[512], joined[512], out[512], cmd[1600];
    if (media_test_clip(dir, "part.ts", "-c:v libx264 -preset ultrafast -c:a copy", part,
                        sizeof part) != 0) {
        CHECK(!"could not make the test clip");
        return;
    }
    snprintf(joined, sizeof joined, "%s/joined.ts", dir);
    snprintf(cmd, sizeof cmd, "cat '%s' '%s' > '%s'", part, part, joined);
    CHECK_INT(0, test_run(cmd, NULL, 0));
    snprintf(out, sizeof out, "%s/out.mkv", dir);
    CHECK_INT(0, copy_through(joined, out, 1));
    static struct decoded one, two;
    CHECK_INT(0, read_all(part, &one, NULL));
    CHECK_INT(0, read_all(out, &two, NULL));
    CHECK_AT_LEAST(20, one.count);
    CHECK_INT(2 * one.count, two.count);
    /* Evenly spaced throughout: no jump back, no frames squeezed together. */
    double step = (one.seconds[one.count - 1] - one.seconds[0]) / (one.count - 1), worst = 0;
    for (int i = 1; i < two.count && i < MAX_FRAMES; i++) {
        double off = fabs(two.seconds[i] - two.seconds[i - 1] - step);
        if (off > worst) worst = off;
    }
    CHECK_AT_MOST(step * 0.1, worst);
    static struct audio_packets a, b;
    CHECK_INT(0, read_audio(part, &a));
    CHECK_INT(0, read_audio(out, &b));
    CHECK_AT_LEAST(1, a.count);
    CHECK_INT(2 * a.count, b.count);
    /* The audio ends with the video, as in each part. */
    double video_end[2], audio_end[2];
    CHECK_INT(0, stream_ends(part, &video_end[0], &audio_end[0]));
    CHECK_INT(0, stream_ends(out, &video_end[1], &audio_end[1]));
    CHECK_AT_MOST(0.1, fabs((audio_end[1] - video_end[1]) - (audio_end[0] - video_end[0])));
    CHECK_INT(3, media_test_count_files(dir)); /* nothing temporary left */
    media_test_remove_dir(dir);
}

TEST(media_rotation_kept) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char in[512], out[512];
    char plain[512], args[1200];
    if (media_test_clip(dir, "plain.mp4", "-c:v libx264 -preset ultrafast -an", plain,
                        sizeof plain) != 0) {
        CHECK(!"could not make the test clip");
        return;
    }
    /* ffmpeg 5.1 keeps the rotate tag only when copying the stream. */
    snprintf(in, sizeof in, "%s/rot.mp4", dir);
    snprintf(args, sizeof args, "-i %s -c copy -metadata:s:v rotate=90 %s", plain, in);
    CHECK_INT(0, media_test_ffmpeg(args));
    snprintf(out, sizeof out, "%s/out.mp4", dir);
    CHECK_INT(0, copy_through(in, out, 1));
    static struct decoded a, b;
    struct media_info info_in = {0}, info_out = {0};
    CHECK_INT(0, read_all(in, &a, &info_in));
    CHECK_INT(0, read_all(out, &b, &info_out));
    CHECK(info_in.rotation_degrees == 90 || info_in.rotation_degrees == 270);
    CHECK_INT(info_in.rotation_degrees, info_out.rotation_degrees);
    /* Frames stay as decoded: the rotation is metadata, not pixels. */
    CHECK_INT(a.width, b.width);
    CHECK_INT(a.height, b.height);
    CHECK_INT(0, info_out.audio_streams);
    media_test_remove_dir(dir);
}

/* Each container and codec decodes to the same frames as the source. */
TEST(media_reads_mkv_mov_webm) {
    SLOW_TEST();
    media_test_quiet();
    const char *dir = test_tmpdir();
    char src[512];
    if (media_test_clip(dir, "src.mp4", "-c:v libx264 -preset ultrafast -c:a copy", src,
                        sizeof src) != 0) {
        CHECK(!"could not make the test clip");
        return;
    }
    static struct decoded reference, d;
    CHECK_INT(0, read_all(src, &reference, NULL));
    static const struct {
        const char *name, *args, *codec;
    } cases[] = {
        {"h264-444.mkv", "-c:v libx264 -preset ultrafast -pix_fmt yuv444p -c:a copy", "h264"},
        {"mpeg4.mov", "-c:v mpeg4 -c:a copy", "mpeg4"},
        {"vp9.webm", "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -c:a libopus", "vp9"},
        {"mjpeg.avi", "-c:v mjpeg -pix_fmt yuvj422p -an", "mjpeg"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[600], args[1200];
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].name);
        snprintf(args, sizeof args, "-i %s %s %s", src, cases[i].args, path);
        CHECK_INT(0, media_test_ffmpeg(args));
        struct media_info info;
        memset(&info, 0, sizeof info);
        int ret = read_all(path, &d, &info);
        CHECK_INT(0, ret);
        CHECK_STR(cases[i].codec, info.video_codec);
        CHECK_INT(reference.count, d.count);
        CHECK_INT(reference.width, d.width);
        CHECK_INT(reference.height, d.height);
        CHECK_INT(1, d.all_yuv420p);
    }
    media_test_remove_dir(dir);
}

static int open_status(const char *path) {
    struct media_reader *reader = NULL;
    struct vsr_error error = {0};
    int ret = media_reader_open(&reader, path, 0, 0, &error);
    if (ret == 0) {
        AVFrame *frame;
        while ((ret = media_reader_next(reader, &frame, &error)) == 1)
            av_frame_free(&frame);
    }
    media_reader_free(reader);
    if (ret < 0) {
        /* One line, and it names the file. */
        CHECK(strchr(error.message, '\n') == NULL);
        CHECK(strstr(error.message, path) != NULL);
        CHECK_INT(ret, error.code);
    }
    return ret;
}

TEST(media_refuses_broken_input) {
    SLOW_TEST();
    media_test_quiet();
    const char *dir = test_tmpdir();
    char plain[512], faststart[512], mkv[512], audio[512], path[600];
    int made = media_test_clip(dir, "plain.mp4", "-c:v libx264 -preset ultrafast -c:a copy", plain,
                               sizeof plain) |
               media_test_clip(dir, "faststart.mp4",
                               "-c:v libx264 -preset ultrafast -c:a copy -movflags +faststart",
                               faststart, sizeof faststart) |
               media_test_clip(dir, "whole.mkv", "-c:v libx264 -preset ultrafast -c:a copy", mkv,
                               sizeof mkv) |
               media_test_clip(dir, "audio.m4a", "-vn -c:a copy", audio, sizeof audio);
    if (made != 0) {
        CHECK(!"could not make the test clips");
        return;
    }
    /* The whole files read. */
    CHECK_INT(0, open_status(plain));
    CHECK_INT(0, open_status(faststart));
    CHECK_INT(0, open_status(mkv));
    /* Cut at several points, each is refused. */
    static const double shares[] = {0.1, 0.5, 0.9, 0.999};
    const char *sources[] = {plain, faststart, mkv};
    for (size_t s = 0; s < 3; s++)
        for (size_t i = 0; i < sizeof shares / sizeof shares[0]; i++) {
            snprintf(path, sizeof path, "%s/cut-%zu-%zu%s", dir, s, i, strrchr(sources[s], '.'));
            CHECK_INT(0, media_test_truncate_copy(sources[s], path, shares[i]));
            int ret = open_status(path);
            if (ret != VSR_E_INPUT) fprintf(stderr, "    %s was not refused\n", path);
            CHECK_INT(VSR_E_INPUT, ret);
        }
    CHECK_INT(VSR_E_NO_VIDEO, open_status(audio));
    snprintf(path, sizeof path, "%s/empty.mp4", dir);
    FILE *f = fopen(path, "wb");
    if (f) fclose(f);
    CHECK_INT(VSR_E_INPUT, open_status(path));
    snprintf(path, sizeof path, "%s/text.mp4", dir);
    f = fopen(path, "wb");
    if (f) {
        fputs("This is a text file that someone named .mp4\n", f);
        fclose(f);
    }
    CHECK_INT(VSR_E_INPUT, open_status(path));
    snprintf(path, sizeof path, "%s/missing.mp4", dir);
    CHECK_INT(VSR_E_INPUT, open_status(path));
    CHECK_INT(VSR_E_INPUT, open_status(dir)); /* a folder */
    media_test_remove_dir(dir);
}

static int writer_status(const char *path) {
    struct media_info like = {
        .width = 64, .height = 48, .time_base = {1, 25}, .frame_rate = {25, 1}};
    struct media_writer_options options = {.like = &like};
    struct media_writer *writer = NULL;
    struct vsr_error error = {0};
    int ret = media_writer_open(&writer, path, &options, &error);
    if (ret < 0) {
        CHECK(writer == NULL);
        CHECK(strchr(error.message, '\n') == NULL);
        CHECK(error.message[0] != '\0');
    }
    media_writer_free(writer);
    return ret;
}

TEST(media_writer_refuses_bad_output) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/out.xyz", dir);
    CHECK_INT(VSR_E_OUTPUT, writer_status(path));
    snprintf(path, sizeof path, "%s/out", dir);
    CHECK_INT(VSR_E_OUTPUT, writer_status(path));
    snprintf(path, sizeof path, "%s/out.webm", dir); /* WebM holds no H.264 */
    CHECK_INT(VSR_E_OUTPUT, writer_status(path));
    snprintf(path, sizeof path, "%s/out.png", dir); /* an image sequence */
    CHECK_INT(VSR_E_OUTPUT, writer_status(path));
    /* A mask names what it is: PNG, not the H.264 of the video. */
    struct media_info like = {.width = 64, .height = 48, .time_base = {1, 25}};
    struct media_writer_options mask = {.codec = "png", .pix_fmt = AV_PIX_FMT_GRAY8, .like = &like};
    struct media_writer *writer = NULL;
    struct vsr_error error = {0};
    snprintf(path, sizeof path, "%s/mask.webm", dir);
    CHECK_INT(VSR_E_OUTPUT, media_writer_open(&writer, path, &mask, &error));
    CHECK(strstr(error.message, "cannot hold PNG video") != NULL);
    snprintf(path, sizeof path, "%s/no/such/folder/out.mp4", dir);
    CHECK_INT(VSR_E_OUTPUT, writer_status(path));
    CHECK_INT(0, media_test_count_files(dir));
    media_test_remove_dir(dir);
}

/* A writer freed before finish leaves nothing; finish leaves only the file. */
TEST(media_writer_atomic) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/out.mp4", dir);
    struct media_info like = {
        .width = 64, .height = 48, .time_base = {1, 25}, .frame_rate = {25, 1}};
    struct media_writer_options options = {.preset = "ultrafast", .like = &like};
    AVFrame *frame = av_frame_alloc();
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = 64;
    frame->height = 48;
    CHECK_INT(0, av_frame_get_buffer(frame, 0));
    for (int round = 0; round < 2; round++) {
        struct media_writer *writer = NULL;
        struct vsr_error error = {0};
        CHECK_INT(0, media_writer_open(&writer, path, &options, &error));
        if (!writer) break;
        CHECK_INT(1, media_test_count_files(dir)); /* the temporary file */
        struct stat st;
        CHECK(stat(path, &st) != 0);
        for (int i = 0; i < 10; i++) {
            av_frame_make_writable(frame);
            memset(frame->data[0], 16 + i * 20, (size_t)frame->linesize[0] * 48);
            memset(frame->data[1], 128, (size_t)frame->linesize[1] * 24);
            memset(frame->data[2], 128, (size_t)frame->linesize[2] * 24);
            frame->pts = i;
            CHECK_INT(0, media_writer_write(writer, frame, &error));
        }
        if (round == 1) CHECK_INT(0, media_writer_finish(writer, &error));
        media_writer_free(writer);
        CHECK_INT(round, media_test_count_files(dir));
        CHECK_INT(round == 1 ? 0 : -1, stat(path, &st));
    }
    static struct decoded d;
    CHECK_INT(0, read_all(path, &d, NULL));
    CHECK_INT(10, d.count);
    CHECK_AT_MOST(1e-9, fabs(d.seconds[9] - 9.0 / 25));
    av_frame_free(&frame);
    media_test_remove_dir(dir);
}

/* The mask writer: PNG gray in Matroska, lossless. */
TEST(media_mask_png_gray) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/mask.mkv", dir);
    struct media_info like = {
        .width = 66, .height = 40, .time_base = {1, 1000}, .frame_rate = {30, 1}};
    struct media_writer_options options = {
        .codec = "png", .pix_fmt = AV_PIX_FMT_GRAY8, .like = &like};
    struct media_writer *writer = NULL;
    struct vsr_error error = {0};
    CHECK_INT(0, media_writer_open(&writer, path, &options, &error));
    AVFrame *frame = av_frame_alloc();
    frame->format = AV_PIX_FMT_GRAY8;
    frame->width = 66;
    frame->height = 40;
    CHECK_INT(0, av_frame_get_buffer(frame, 0));
    for (int i = 0; writer && i < 6; i++) {
        av_frame_make_writable(frame);
        for (int y = 0; y < 40; y++)
            for (int x = 0; x < 66; x++)
                frame->data[0][y * frame->linesize[0] + x] = (x / 6 + y / 5 + i) % 2 ? 255 : 0;
        frame->pts = i * 33;
        CHECK_INT(0, media_writer_write(writer, frame, &error));
    }
    if (writer) CHECK_INT(0, media_writer_finish(writer, &error));
    media_writer_free(writer);
    av_frame_free(&frame);

    /* Read back the gray values with libavcodec, bypassing the reader's
     * conversion, to check they are exact. */
    AVFormatContext *format = NULL;
    CHECK_INT(0, avformat_open_input(&format, path, NULL, NULL));
    if (!format) return;
    avformat_find_stream_info(format, NULL);
    CHECK_INT(AV_CODEC_ID_PNG, format->streams[0]->codecpar->codec_id);
    CHECK_INT(AV_PIX_FMT_GRAY8, format->streams[0]->codecpar->format);
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_PNG);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec, format->streams[0]->codecpar);
    CHECK_INT(0, avcodec_open2(dec, codec, NULL));
    AVPacket *packet = av_packet_alloc();
    AVFrame *got = av_frame_alloc();
    int frames = 0, wrong = 0;
    while (av_read_frame(format, packet) >= 0) {
        avcodec_send_packet(dec, packet);
        av_packet_unref(packet);
        while (avcodec_receive_frame(dec, got) == 0) {
            for (int y = 0; y < 40; y++)
                for (int x = 0; x < 66; x++) {
                    int want = (x / 6 + y / 5 + frames) % 2 ? 255 : 0;
                    if (got->data[0][y * got->linesize[0] + x] != want) wrong++;
                }
            frames++;
        }
    }
    CHECK_INT(6, frames);
    CHECK_INT(0, wrong);
    av_frame_free(&got);
    av_packet_free(&packet);
    avcodec_free_context(&dec);
    avformat_close_input(&format);
    media_test_remove_dir(dir);
}

/* MD5 (hex) of the frame's pictures packed row by row, as ffmpeg's framemd5
 * muxer hashes a rawvideo frame. */
static void frame_md5(const AVFrame *frame, char hex[33]) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_md5(), NULL);
    for (int p = 0; p < 3; p++) {
        int w = p ? (frame->width + 1) / 2 : frame->width;
        int h = p ? (frame->height + 1) / 2 : frame->height;
        for (int y = 0; y < h; y++)
            EVP_DigestUpdate(md, frame->data[p] + (size_t)y * frame->linesize[p], (size_t)w);
    }
    unsigned char digest[16];
    EVP_DigestFinal_ex(md, digest, NULL);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/* Picture memory comes from slabs that are unmapped when the last frame
 * carved from them is freed, even after the reader (and its pool) went
 * first; frames held past the reader stay readable. */
TEST(media_frame_pool_unmaps_when_done) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char path[600];
    if (media_test_clip(dir, "pool.mp4", "-vf scale=640:360 -c:v libx264 -preset ultrafast -bf 3",
                        path, sizeof path) != 0) {
        CHECK(!"could not make the clip");
        media_test_remove_dir(dir);
        return;
    }
    long before = frame_pool_live_slabs();
    struct media_reader *reader = NULL;
    struct vsr_error error = {0};
    CHECK_INT(0, media_reader_open(&reader, path, 2, 0, &error)); /* frame threads */
    enum { HELD = 12 };
    AVFrame *held[HELD] = {0};
    int frames = 0;
    AVFrame *frame = NULL;
    while (reader && media_reader_next(reader, &frame, &error) == 1) {
        av_frame_free(&held[frames % HELD]);
        held[frames++ % HELD] = frame;
    }
    CHECK_INT(25, frames);
    CHECK(frame_pool_live_slabs() > before);
    media_reader_free(reader);
    CHECK(frame_pool_live_slabs() > before); /* the held frames keep theirs */
    long sum = 0;
    for (int i = 0; i < HELD; i++)
        if (held[i])
            sum += held[i]->data[0][0] + held[i]->data[0][held[i]->linesize[0] * 359 + 639];
    CHECK(sum >= 0);
    for (int i = 0; i < HELD; i++)
        av_frame_free(&held[i]);
    CHECK_INT(before, frame_pool_live_slabs());
    media_test_remove_dir(dir);
}

/* A reserve carves the pictures at once: holding that many frames later maps
 * nothing more, and everything is unmapped once the frames are freed. */
TEST(media_frame_pool_reserve) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char path[600];
    if (media_test_clip(dir, "reserve.mp4",
                        "-vf scale=1920:1080 -frames:v 24 -c:v libx264 -preset ultrafast", path,
                        sizeof path) != 0) {
        CHECK(!"could not make the clip");
        media_test_remove_dir(dir);
        return;
    }
    long before = frame_pool_live_slabs();
    struct media_reader *reader = NULL;
    struct vsr_error error = {0};
    CHECK_INT(0, media_reader_open(&reader, path, 1, 0, &error));
    enum { HELD = 20, RESERVE = 30 };
    AVFrame *held[HELD] = {0};
    int frames = 0;
    if (reader) CHECK_INT(1, media_reader_next(reader, &held[frames++], &error));
    long one = frame_pool_live_slabs();
    CHECK(one > before);
    if (reader) media_reader_reserve(reader, RESERVE);
    long reserved = frame_pool_live_slabs();
    /* 30 pictures of 3 MB take three 32 MB slabs at least. */
    CHECK(reserved >= before + 3);
    while (reader && frames < HELD && media_reader_next(reader, &held[frames], &error) == 1)
        frames++;
    CHECK_INT(HELD, frames);
    CHECK_INT(reserved, frame_pool_live_slabs());
    media_reader_free(reader);
    for (int i = 0; i < HELD; i++)
        av_frame_free(&held[i]);
    CHECK_INT(before, frame_pool_live_slabs());
    media_test_remove_dir(dir);
}

/* The decoders' own frame pool (frame_pool.c) lays pictures out as
 * libavcodec's allocator would: every frame the reader decodes, at odd sizes
 * and with two codecs, equals what ffmpeg decodes with the default one. */
TEST(media_frame_pool_decodes_exactly) {
    SLOW_TEST();
    media_test_quiet();
    const char *dir = test_tmpdir();
    static const char *const cases[][2] = {
        {"odd.mp4", "-vf scale=322:182 -c:v libx264 -preset ultrafast -bf 3"},
        {"odd.webm", "-vf scale=250:142 -c:v libvpx-vp9 -deadline realtime -cpu-used 8"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[600], md5s[600], args[1400];
        if (media_test_clip(dir, cases[c][0], cases[c][1], path, sizeof path) != 0) {
            CHECK(!"could not make the clip");
            continue;
        }
        snprintf(md5s, sizeof md5s, "%s/%s.framemd5", dir, cases[c][0]);
        snprintf(args, sizeof args, "-i %s -map 0:v -pix_fmt yuv420p -f framemd5 %s", path, md5s);
        CHECK_INT(0, media_test_ffmpeg(args));
        FILE *expected = fopen(md5s, "r");
        CHECK(expected != NULL);
        if (!expected) continue;
        struct media_reader *reader = NULL;
        struct vsr_error error = {0};
        CHECK_INT(0, media_reader_open(&reader, path, 0, 0, &error));
        AVFrame *frame = NULL;
        int frames = 0, differ = 0, pooled = 0;
        char line[512];
        while (reader && media_reader_next(reader, &frame, &error) == 1) {
            char got[33], want[64] = "";
            frame_md5(frame, got);
            while (fgets(line, sizeof line, expected))
                if (line[0] != '#') {
                    char *last = strrchr(line, ',');
                    if (last) sscanf(last + 1, " %63s", want);
                    break;
                }
            differ += strcmp(got, want) != 0;
            /* One buffer per frame holds all planes: the pool's, not the default's. */
            pooled += frame->buf[0] && !frame->buf[1] &&
                      frame->data[2] < frame->buf[0]->data + frame->buf[0]->size;
            frames++;
            av_frame_free(&frame);
        }
        fclose(expected);
        CHECK_INT(25, frames);
        CHECK_INT(0, differ);
        CHECK_INT(frames, pooled);
        media_reader_free(reader);
    }
    media_test_remove_dir(dir);
}

/* A reader that skips non-reference frames over PATH: each frame it decodes
 * has the pts a reader of every frame has at that index (PTS, TOTAL frames),
 * and it counts TOTAL frames. Returns how many it decoded, -1 on failure. */
static int check_skipping(const char *path, const int64_t *pts, int total) {
    struct vsr_error error = {0};
    struct media_reader *reader = NULL;
    if (media_reader_open(&reader, path, 1, MEDIA_READ_FAST | MEDIA_READ_SKIP_NONREF, &error) < 0)
        return -1;
    AVFrame *frame = NULL;
    int decoded = 0, misplaced = 0;
    int64_t last = -1;
    while (media_reader_next(reader, &frame, &error) == 1) {
        int64_t index = media_reader_index(reader);
        misplaced += index <= last || index >= total || pts[index] != frame->pts;
        last = index;
        decoded++;
        av_frame_free(&frame);
    }
    CHECK_INT(0, misplaced);
    CHECK_INT(total, media_reader_frames_total(reader));
    media_reader_free(reader);
    return decoded;
}

/* The pts of every frame of PATH, decoded by a reader that reads them all,
 * into PTS (at most MAX). Returns how many, -1 on failure. */
static int all_pts(const char *path, int64_t *pts, int max) {
    struct media_reader *reader = NULL;
    struct vsr_error error = {0};
    if (media_reader_open(&reader, path, 1, MEDIA_READ_FAST, &error) < 0) return -1;
    AVFrame *frame = NULL;
    int n = 0;
    while (media_reader_next(reader, &frame, &error) == 1) {
        if (n < max) pts[n] = frame->pts;
        CHECK_INT(n, media_reader_index(reader));
        n++;
        av_frame_free(&frame);
    }
    CHECK_INT(n, media_reader_frames_total(reader));
    media_reader_free(reader);
    return n;
}

/* A reader that skips non-reference frames places each frame it decodes
 * where a reader of every frame has it (same pts at that index), from the
 * start and from a keyframe it was moved to, and counts the frames after
 * its last; it decodes fewer. Where packets carry no time (AVI, raw H.264)
 * it says so rather than guess. */
TEST(media_skipping_reader_places_frames) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char path[600], avi[600];
    /* x264's veryfast: 3 B-frames, the middle one a reference (b-pyramid). */
    if (media_test_clip(dir, "skip.mp4",
                        "-r 30 -vf scale=320:180 -c:v libx264 -preset veryfast -g 20", path,
                        sizeof path) != 0 ||
        media_test_clip(dir, "skip.avi",
                        "-r 30 -vf scale=320:180 -c:v libx264 -preset veryfast -an", avi,
                        sizeof avi) != 0) {
        CHECK(!"could not make the clips");
        media_test_remove_dir(dir);
        return;
    }
    enum { MAX = 256 };
    int64_t pts[MAX];
    int total = all_pts(path, pts, MAX);
    CHECK(total >= 50 && total <= MAX);
    if (total < 50 || total > MAX) {
        media_test_remove_dir(dir);
        return;
    }
    int decoded = check_skipping(path, pts, total);
    CHECK(decoded < total * 3 / 4); /* it skipped */
    CHECK(decoded > total / 4);

    /* Variable frame rate (every fifth frame dropped, the others keeping
     * their times): indices come from the packets, not from a rate. */
    char vfr[700], args[1600];
    snprintf(vfr, sizeof vfr, "%s/vfr.mp4", dir);
    snprintf(args, sizeof args,
             "-i %s -vf \"select='not(eq(mod(n\\,5)\\,2))'\" -fps_mode vfr "
             "-video_track_timescale 90000 -c:v libx264 -preset veryfast %s",
             path, vfr);
    CHECK_INT(0, media_test_ffmpeg(args));
    int64_t vfr_pts[MAX];
    int vfr_total = all_pts(vfr, vfr_pts, MAX);
    CHECK(vfr_total > 0 && vfr_total < total);
    int gaps = 0;
    for (int i = 2; i < vfr_total; i++)
        gaps += vfr_pts[i] - vfr_pts[i - 1] != vfr_pts[1] - vfr_pts[0];
    CHECK_AT_LEAST(5, gaps); /* it is variable */
    if (vfr_total > 0) CHECK(check_skipping(vfr, vfr_pts, vfr_total) > 0);

    struct vsr_error error = {0};
    struct media_reader *opened = NULL;
    CHECK_INT(0, media_reader_open(&opened, path, 1, MEDIA_READ_FAST, &error));
    struct media_streams *streams = opened ? media_reader_streams(opened) : NULL;
    media_reader_free(opened);
    AVFrame *frame = NULL;
    int misplaced = 0;
    int64_t last = -1;

    /* From a keyframe in the middle: indices count from it. */
    int64_t key_ts[4];
    double key_at[4];
    struct media_reader *moved = NULL;
    if (streams)
        CHECK_INT(0,
                  media_reader_open_as(&moved, streams, 1, MEDIA_READ_FAST | MEDIA_READ_SKIP_NONREF,
                                       AV_NOPTS_VALUE, &error));
    int keys = moved ? media_reader_keyframes(moved, 0.5, 1.5, key_ts, key_at, 4) : 0;
    CHECK_AT_LEAST(1, keys);
    if (keys > 0) CHECK_INT(0, media_reader_seek(moved, key_ts[0], &error));
    int first = -1;
    while (keys > 0 && media_reader_next(moved, &frame, &error) == 1) {
        int64_t index = media_reader_index(moved);
        if (first < 0) {
            CHECK_INT(0, index);
            for (int i = 0; i < total; i++)
                if (pts[i] == frame->pts) first = i;
            CHECK(first > 0);
            if (first < 0) break;
        }
        misplaced += index <= last || first + index >= total || pts[first + index] != frame->pts;
        last = index;
        av_frame_free(&frame);
    }
    av_frame_free(&frame);
    CHECK_INT(0, misplaced);
    if (keys > 0 && first > 0) CHECK_INT(total - first, media_reader_frames_total(moved));
    media_reader_free(moved);
    media_streams_free(streams);

    /* AVI packets carry no pts: the frames after the first (decoded by the
     * opening, before skipping starts, as in remove.c) cannot be placed. */
    struct media_reader *untimed = NULL;
    CHECK_INT(0, media_reader_open(&untimed, avi, 1, MEDIA_READ_FAST, &error));
    if (untimed) CHECK_INT(1, media_reader_skip_nonref(untimed));
    int ret = 1;
    while (untimed && (ret = media_reader_next(untimed, &frame, &error)) == 1)
        av_frame_free(&frame);
    CHECK_INT(MEDIA_E_UNCOUNTED, ret);
    media_reader_free(untimed);
    media_test_remove_dir(dir);
}

/* Frames decoded ahead on a thread, by a reader opened as the first found the
 * file, come out as the first gives them, in order, with the end after the
 * last; stopping early frees what was queued. */
TEST(media_prefetch_same_frames) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char path[600];
    if (media_test_clip(dir, "ahead.mp4", "-vf scale=320:180 -c:v libx264 -preset ultrafast -bf 3",
                        path, sizeof path) != 0) {
        CHECK(!"could not make the clip");
        media_test_remove_dir(dir);
        return;
    }
    struct vsr_error error = {0};
    struct media_reader *plain = NULL, *ahead = NULL;
    CHECK_INT(0, media_reader_open(&plain, path, 1, 0, &error));
    /* The second reader takes the streams the first found (no probing). */
    struct media_streams *streams = plain ? media_reader_streams(plain) : NULL;
    CHECK(streams != NULL);
    if (streams) CHECK_INT(0, media_reader_open_as(&ahead, streams, 1, 0, AV_NOPTS_VALUE, &error));
    media_streams_free(streams);
    if (ahead && plain) {
        CHECK_INT(media_reader_info(plain)->width, media_reader_info(ahead)->width);
        CHECK_INT(media_reader_info(plain)->frame_count, media_reader_info(ahead)->frame_count);
    }
    struct media_prefetch *prefetch = NULL;
    if (ahead) CHECK_INT(0, media_prefetch_start(&prefetch, ahead, 2, 5, 8, &error));
    int frames = 0, differ = 0, ret = 0;
    AVFrame *a = NULL, *b = NULL;
    while (plain && prefetch && media_reader_next(plain, &a, &error) == 1) {
        ret = media_prefetch_next(prefetch, &b, &error);
        CHECK_INT(1, ret);
        if (ret != 1) break;
        char ha[33], hb[33];
        frame_md5(a, ha);
        frame_md5(b, hb);
        differ += strcmp(ha, hb) != 0 || a->pts != b->pts;
        frames++;
        av_frame_free(&a);
        av_frame_free(&b);
    }
    av_frame_free(&a);
    CHECK_INT(25, frames);
    CHECK_INT(0, differ);
    if (prefetch) CHECK_INT(0, media_prefetch_next(prefetch, &b, &error));
    CHECK(b == NULL);
    media_prefetch_stop(prefetch);
    media_reader_free(ahead);

    /* Stopped after one frame, with more queued: ASan checks none leak. */
    ahead = NULL;
    prefetch = NULL;
    CHECK_INT(0, media_reader_open(&ahead, path, 1, 0, &error));
    if (ahead) CHECK_INT(0, media_prefetch_start(&prefetch, ahead, 3, 3, 0, &error));
    if (prefetch) CHECK_INT(1, media_prefetch_next(prefetch, &b, &error));
    av_frame_free(&b);
    media_prefetch_stop(prefetch);
    media_reader_free(ahead);
    media_reader_free(plain);
    media_test_remove_dir(dir);
}
