/* test_luma_feed.c: the detection pass's planes, from two or three readers
 * split at keyframes, are exactly those one reader gives, in order, failures
 * included. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/detect.h"
#include "engine/luma_feed.h"
#include "media/media.h"
#include "test.h"
#include "test_media.h"

enum { MAX_FRAMES = 400 };

struct planes {
    uint8_t *pixels[MAX_FRAMES];
    int64_t index[MAX_FRAMES]; /* in the video (media_reader_index) */
    int64_t total;             /* frames in the video, at the end */
    int count;
    int status; /* how the reading ended: 0 or a vsr_status */
};

static void planes_free(struct planes *p) {
    for (int i = 0; i < p->count; i++)
        free(p->pixels[i]);
    p->count = 0;
}

static size_t plane_bytes(const struct detector *d) {
    int w, h;
    detector_plane_size(d, &w, &h);
    return (size_t)w * (size_t)h;
}

/* The planes one reader opened with FLAGS gives, shrunk as the feed shrinks
 * them. */
static void read_plainly(const char *path, const struct detector *d, size_t bytes, int flags,
                         struct planes *out) {
    struct media_reader *reader = NULL;
    struct vsr_error error = {0, ""};
    out->count = 0;
    out->status = media_reader_open(&reader, path, 1, flags, &error);
    uint16_t *sums = malloc(detector_shrink_scratch(d) * sizeof *sums);
    AVFrame *frame = NULL;
    int ret = 0;
    while (reader && sums && out->count < MAX_FRAMES &&
           (ret = media_reader_next(reader, &frame, &error)) == 1) {
        uint8_t *plane = malloc(bytes);
        if (plane) detector_shrink(d, frame, plane, sums);
        out->index[out->count] = media_reader_index(reader);
        out->pixels[out->count++] = plane;
        av_frame_free(&frame);
        out->status = 0;
    }
    if (reader) out->status = ret < 0 ? ret : 0;
    if (reader && ret == 0) out->total = media_reader_frames_total(reader);
    free(sums);
    media_reader_free(reader);
}

/* Threads of this process named NAME (thread_name.h). */
static int threads_named(const char *name) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[300], comm[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
        n += strcmp(comm, name) == 0;
    }
    closedir(d);
    return n;
}

/* Reads PATH through a feed and compares every plane with EXPECTED, taking
 * each plane PAUSE_US microseconds after the one before. Returns the readers
 * the feed used, or -1 when it could not start. */
static int read_through_feed(const char *path, const struct detector *d, size_t bytes, int flags,
                             const struct planes *expected, long pause_us) {
    struct media_reader *reader = NULL;
    struct vsr_error error = {0, ""};
    if (media_reader_open(&reader, path, 1, flags, &error) < 0) return -1;
    const struct media_info *info = media_reader_info(reader);
    double fps = av_q2d(info->frame_rate);
    struct luma_feed *feed = NULL;
    if (luma_feed_start(&feed, reader, 1, flags, d, fps, &error) < 0) return -1;
    int frames = 0, differ = 0, ret;
    struct luma_frame frame;
    while ((ret = luma_feed_next(feed, &frame, &error)) == 1) {
        if (frames < expected->count && expected->pixels[frames]) {
            differ += memcmp(frame.plane, expected->pixels[frames], bytes) != 0;
            differ += frame.index != expected->index[frames];
        }
        frames++;
        if (pause_us > 0) nanosleep(&(struct timespec){0, pause_us * 1000}, NULL);
        /* The reader's thread, waiting full, says what it is (top -H, perf). */
        if (pause_us > 0 && frames == 10) CHECK(threads_named("vsr-feed") >= 1);
    }
    CHECK_INT(expected->count, frames);
    CHECK_INT(0, differ);
    CHECK_INT(expected->status, ret);
    if (ret == 0) CHECK_INT(expected->total, frame.index); /* the count of frames at the end */
    if (ret < 0) CHECK(strlen(error.message) > 0);
    int used = luma_feed_readers_used(feed);
    luma_feed_stop(feed);
    return used;
}

/* The clips' 2 s are all head start. One with keyframes at 0.6 s and 1.5 s
 * is split in three (two readers would leave one 1.4 s of it, three 1 s);
 * one with a keyframe every 5 frames at least in two (in three where the
 * cores make that worth it); one with a keyframe near the middle only, in
 * two; one with a single keyframe not at all; Matroska's index serves too; a
 * looped MPEG-TS whose timestamps start again reads as one reader reads it. */
TEST(luma_feed_matches_one_reader) {
    SLOW_TEST();
    media_test_quiet();
    const char *dir = test_tmpdir();
    char gop5[600], gop12[600], two_keys[600], one_gop[600], mkv[700];
    if (media_test_clip(dir, "gop5.mp4", "-an -c:v libx264 -preset ultrafast -g 5 -bf 3", gop5,
                        sizeof gop5) != 0 ||
        media_test_clip(
            dir, "twokeys.mp4",
            "-an -c:v libx264 -preset ultrafast -g 1000 -keyint_min 1000 "
            "-sc_threshold 0 -bf 3 -force_key_frames 0,0.6,1.5 -x264-params forced-idr=1",
            two_keys, sizeof two_keys) != 0 ||
        media_test_clip(dir, "gop12.mp4",
                        "-an -c:v libx264 -preset ultrafast -g 12 -keyint_min 12 -bf 3", gop12,
                        sizeof gop12) != 0 ||
        media_test_clip(dir, "onegop.mp4", "-an -c:v libx264 -preset ultrafast -g 1000 -bf 3",
                        one_gop, sizeof one_gop) != 0) {
        CHECK(!"could not make the clips");
        media_test_remove_dir(dir);
        return;
    }
    char args[2400];
    snprintf(mkv, sizeof mkv, "%s/gop5.mkv", dir);
    snprintf(args, sizeof args, "-i %s -c copy %s", gop5, mkv);
    CHECK_INT(0, media_test_ffmpeg(args));

    struct detector *d = detector_new(768, 432, 12.5, NULL, 0);
    CHECK(d != NULL);
    if (!d) return;
    size_t bytes = plane_bytes(d);
    struct planes expected = {0};

    /* Readers each clip takes; 0: two at least (three where the cores make
     * that worth it). Matroska has no index yet: from the middle. */
    const struct {
        const char *path;
        int readers;
    } cases[] = {{gop5, 0}, {two_keys, 3}, {gop12, 2}, {one_gop, 1}, {mkv, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        read_plainly(cases[i].path, d, bytes, MEDIA_READ_FAST, &expected);
        CHECK_INT(25, expected.count);
        CHECK_INT(25, expected.total);
        int used = read_through_feed(cases[i].path, d, bytes, MEDIA_READ_FAST, &expected, 0);
        if (cases[i].readers)
            CHECK_INT(cases[i].readers, used);
        else
            CHECK(used >= 2);
        planes_free(&expected);
        /* Readers that skip non-reference frames: the later ones count
         * frames from their keyframe, which the feed places in the video. */
        int skip = MEDIA_READ_FAST | MEDIA_READ_SKIP_NONREF;
        read_plainly(cases[i].path, d, bytes, skip, &expected);
        CHECK(expected.count < 25);
        CHECK_INT(25, expected.total);
        used = read_through_feed(cases[i].path, d, bytes, skip, &expected, 0);
        if (cases[i].readers) CHECK_INT(cases[i].readers, used);
        planes_free(&expected);
    }

    /* The same stream twice, its timestamps starting again: the second
     * reader may land in either copy, and must take over only in its own. */
    char ts[700], looped[700];
    snprintf(ts, sizeof ts, "%s/gop5.ts", dir);
    snprintf(looped, sizeof looped, "%s/looped.ts", dir);
    snprintf(args, sizeof args, "-i %s -c copy -bsf:v h264_mp4toannexb %s", gop5, ts);
    CHECK_INT(0, media_test_ffmpeg(args));
    snprintf(args, sizeof args, "cat '%s' '%s' > '%s'", ts, ts, looped);
    CHECK_INT(0, system(args));
    read_plainly(looped, d, bytes, MEDIA_READ_FAST, &expected);
    CHECK_INT(50, expected.count);
    CHECK(read_through_feed(looped, d, bytes, MEDIA_READ_FAST, &expected, 0) > 0);
    planes_free(&expected);

    detector_free(d);
    media_test_remove_dir(dir);
}

/* Past the head start the last reader runs ahead of a slower detector, waits
 * full, and decodes again once half its planes are taken: 30 s at 12.5 fps
 * go through that cycle a few times, and every plane still comes once, in
 * order. */
TEST(luma_feed_refills_for_a_slow_consumer) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    const char *shared = test_shared_dir();
    CHECK(shared != NULL);
    if (!shared) return;
    char path[600], args[2400];
    snprintf(path, sizeof path, "%s/long.mp4", dir);
    snprintf(args, sizeof args,
             "-i %s/media/car-detection.mp4 -t 30 -vf scale=192:108 -an -c:v libx264 "
             "-preset ultrafast -g 25 -bf 3 %s",
             shared, path);
    CHECK_INT(0, media_test_ffmpeg(args));
    struct detector *d = detector_new(192, 108, 12.5, NULL, 0);
    CHECK(d != NULL);
    if (!d) return;
    size_t bytes = plane_bytes(d);
    struct planes expected = {0};
    read_plainly(path, d, bytes, MEDIA_READ_FAST, &expected);
    CHECK(expected.count >= 370 && expected.count < MAX_FRAMES);
    CHECK(read_through_feed(path, d, bytes, MEDIA_READ_FAST, &expected, 300) > 0);
    planes_free(&expected);
    detector_free(d);
    media_test_remove_dir(dir);
}
