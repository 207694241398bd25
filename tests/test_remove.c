/* test_remove.c: vsr_remove end to end on a real clip, through the public
 * API: outputs complete and in step with the input, progress reported, and a
 * cancel or a failure leaving no file behind. */
#include <libavformat/avformat.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"
#include "test_media.h"
#include "vsr.h"

struct progress_log {
    int calls;
    int went_back; /* frames_done decreased between calls */
    struct vsr_progress last;
    atomic_int *cancel_at_call; /* raised on the first call when set */
};

static void log_progress(void *opaque, const struct vsr_progress *p) {
    struct progress_log *log = opaque;
    if (log->calls && p->frames_done < log->last.frames_done) log->went_back = 1;
    log->last = *p;
    log->calls++;
    if (log->cancel_at_call && log->calls == 1) atomic_store(log->cancel_at_call, 1);
}

/* Video frames in PATH, counted by demuxing (every packet is one frame). */
static int count_video_packets(const char *path) {
    AVFormatContext *format = NULL;
    if (avformat_open_input(&format, path, NULL, NULL) < 0) return -1;
    int n = 0;
    AVPacket *packet = av_packet_alloc();
    while (packet && av_read_frame(format, packet) >= 0) {
        if (format->streams[packet->stream_index]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) n++;
        av_packet_unref(packet);
    }
    av_packet_free(&packet);
    avformat_close_input(&format);
    return n;
}

enum { PATH_MAX_LEN = 600 }; /* the paths below */

/* Makes the test's clip DIR/NAME from the shared car clip with ARGS, and
 * names the outputs beside it: DIR/OUT_NAME and DIR/mask.mkv (each
 * PATH_MAX_LEN bytes). 0, or -1 after a failed check. */
static int make_clip(const char *dir, const char *name, const char *args, char *clip,
                     const char *out_name, char *out, char *mask) {
    if (media_test_clip(dir, name, args, clip, PATH_MAX_LEN) != 0) {
        CHECK(!"could not make the test clip");
        return -1;
    }
    snprintf(out, PATH_MAX_LEN, "%s/%s", dir, out_name);
    snprintf(mask, PATH_MAX_LEN, "%s/mask.mkv", dir);
    return 0;
}

TEST(remove_writes_video_and_mask) {
    SLOW_TEST();
    media_test_quiet();
    const char *dir = test_tmpdir();
    char clip[PATH_MAX_LEN], out[PATH_MAX_LEN], mask[PATH_MAX_LEN];
    if (make_clip(dir, "clip.mp4", "-c:v libx264 -preset ultrafast -c:a copy", clip, "clean.mkv",
                  out, mask) != 0)
        return;
    struct vsr_remove_options options;
    vsr_remove_options_init(&options);
    CHECK_INT(18, options.crf);
    CHECK(options.preset && strcmp(options.preset, "veryfast") == 0);
    struct progress_log log = {0};
    struct vsr_region region = {0, 288, 768, 144};
    options.regions = &region;
    options.region_count = 1;
    options.mask_out = mask;
    options.preset = "ultrafast";
    options.progress = log_progress;
    options.progress_opaque = &log;
    struct vsr_error error = {0};
    int ret = vsr_remove(clip, out, &options, &error);
    if (ret) fprintf(stderr, "    vsr_remove: %s\n", error.message);
    CHECK_INT(VSR_OK, ret);
    int frames = count_video_packets(clip);
    CHECK_AT_LEAST(20, frames);
    CHECK_INT(frames, count_video_packets(out));
    CHECK_INT(frames, count_video_packets(mask));
    CHECK_AT_LEAST(1, log.calls);
    CHECK_INT(0, log.went_back);
    CHECK_INT(frames, log.last.frames_done);
    CHECK_AT_LEAST(99.99, log.last.percent);
    struct vsr_media_info info;
    CHECK_INT(VSR_OK, vsr_probe(out, &info, &error));
    CHECK_INT(768, info.width);
    CHECK_INT(432, info.height);
    CHECK_INT(1, info.audio_streams);
    CHECK_INT(3, media_test_count_files(dir));
    media_test_remove_dir(dir);
}

/* At 30 fps reader A skips non-reference frames, placing each frame it
 * decodes by its packet's time. AVI packets have none: A gives up, and the
 * file is read again with A decoding every frame; the output is complete and
 * nothing of the first try is left. */
TEST(remove_reads_again_when_frames_have_no_time) {
    SLOW_TEST();
    media_test_quiet();
    const char *dir = test_tmpdir();
    char clip[PATH_MAX_LEN], out[PATH_MAX_LEN], mask[PATH_MAX_LEN];
    if (make_clip(dir, "clip.avi", "-vf fps=30 -c:v libx264 -preset veryfast -c:a copy", clip,
                  "clean.mp4", out, mask) != 0)
        return;
    struct vsr_remove_options options;
    vsr_remove_options_init(&options);
    options.mask_out = mask;
    options.preset = "ultrafast";
    struct progress_log log = {0};
    options.progress = log_progress;
    options.progress_opaque = &log;
    struct vsr_error error = {0};
    int ret = vsr_remove(clip, out, &options, &error);
    if (ret) fprintf(stderr, "    vsr_remove: %s\n", error.message);
    CHECK_INT(VSR_OK, ret);
    CHECK_INT(VSR_OK, error.code);
    int frames = count_video_packets(clip);
    CHECK_AT_LEAST(50, frames);
    CHECK_INT(frames, count_video_packets(out));
    CHECK_INT(frames, count_video_packets(mask));
    CHECK_INT(0, log.went_back);
    CHECK_INT(frames, log.last.frames_done);
    CHECK_INT(3, media_test_count_files(dir));
    media_test_remove_dir(dir);
}

TEST(remove_cancel_and_failure_leave_nothing) {
    SLOW_TEST();
    media_test_quiet();
    const char *dir = test_tmpdir();
    char clip[PATH_MAX_LEN], out[PATH_MAX_LEN], mask[PATH_MAX_LEN];
    if (make_clip(dir, "clip.mp4", "-c:v libx264 -preset ultrafast -c:a copy", clip, "clean.mp4",
                  out, mask) != 0)
        return;
    atomic_int cancel = 0;
    struct progress_log log = {.cancel_at_call = &cancel};
    struct vsr_remove_options options;
    vsr_remove_options_init(&options);
    options.mask_out = mask;
    options.preset = "ultrafast";
    options.cancel = &cancel;
    options.progress = log_progress;
    options.progress_opaque = &log;
    struct vsr_error error = {0};
    /* Raised up front: canceled before any frame. */
    atomic_store(&cancel, 1);
    CHECK_INT(VSR_E_CANCELED, vsr_remove(clip, out, &options, &error));
    CHECK_INT(VSR_E_CANCELED, error.code);
    CHECK_INT(1, media_test_count_files(dir));
    /* Raised midway, from the progress callback (first called after the
     * first frame is written). */
    atomic_store(&cancel, 0);
    CHECK_INT(VSR_E_CANCELED, vsr_remove(clip, out, &options, &error));
    CHECK_INT(1, log.calls);
    CHECK_INT(1, log.last.frames_done);
    CHECK_INT(1, media_test_count_files(dir));
    /* Bad arguments. */
    options.cancel = NULL;
    options.crf = 60;
    CHECK_INT(VSR_E_USAGE, vsr_remove(clip, out, &options, &error));
    options.crf = 18;
    options.mask_out = out;
    CHECK_INT(VSR_E_USAGE, vsr_remove(clip, out, &options, &error));
    CHECK_INT(1, media_test_count_files(dir));
    CHECK_STR("no_video", vsr_status_name(VSR_E_NO_VIDEO));
    CHECK_STR("canceled", vsr_status_name(VSR_E_CANCELED));
    media_test_remove_dir(dir);
}
