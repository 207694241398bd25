/* fuzz_media.c: libFuzzer target, bytes through the whole media copy path:
 * FFmpeg's probe, demuxers and decoders (whatever the bytes look like), our
 * reader's truncation checks and format conversion, and our writer's
 * timestamp repair and audio copy into Matroska; then through a reader that
 * skips non-reference frames, whose frame indices must only grow and stay
 * under its count of frames. Frames and sizes are capped so that an input
 * declaring a huge picture costs a refusal, not minutes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <libavutil/frame.h>
#include <libavutil/log.h>

#include "media/media.h"

#define MAX_FRAMES 12
#define MAX_PIXELS (320 * 240)

static char input[64], output[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    av_log_set_level(AV_LOG_QUIET);
    snprintf(input, sizeof input, "/tmp/vsr-fuzz-media-%d.in", (int)getpid());
    snprintf(output, sizeof output, "/tmp/vsr-fuzz-media-%d.mkv", (int)getpid());
    return 0;
}

/* The detection pass's reader (remove.c): indices strictly increase, and at
 * a clean end the count of frames lies past the last index. */
static void skipping(const char *path) {
    struct vsr_error error;
    struct media_reader *reader = NULL;
    if (media_reader_open(&reader, path, 1, MEDIA_READ_FAST | MEDIA_READ_SKIP_NONREF, &error) < 0)
        return;
    const struct media_info *info = media_reader_info(reader);
    AVFrame *frame;
    int ret = 0, frames = 0;
    int64_t last = -1;
    while ((long)info->width * info->height <= MAX_PIXELS && frames < 4 * MAX_FRAMES &&
           (ret = media_reader_next(reader, &frame, &error)) == 1) {
        int64_t index = media_reader_index(reader);
        if (index <= last) abort();
        last = index;
        av_frame_free(&frame);
        frames++;
    }
    if (ret == 0 && frames > 0 && media_reader_frames_total(reader) <= last) abort();
    media_reader_free(reader);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fopen(input, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    struct vsr_error error;
    struct media_reader *reader = NULL;
    struct media_writer *writer = NULL;
    if (media_reader_open(&reader, input, 1, 0, &error) < 0) goto done;
    const struct media_info *info = media_reader_info(reader);
    if ((long)info->width * info->height > MAX_PIXELS) goto done;
    struct media_writer_options options = {
        .crf = 30, .preset = "ultrafast", .threads = 1, .copy_audio_from = input, .like = info};
    if (media_writer_open(&writer, output, &options, &error) < 0) goto done;
    AVFrame *frame;
    int ret, frames = 0;
    while (frames < MAX_FRAMES && (ret = media_reader_next(reader, &frame, &error)) == 1) {
        /* A stream may change size part way; the encoder cannot follow. */
        int fits = frame->width == info->width && frame->height == info->height;
        ret = fits ? media_writer_write(writer, frame, &error) : -1;
        av_frame_free(&frame);
        if (ret < 0) goto done;
        frames++;
    }
    if (frames > 0) media_writer_finish(writer, &error);
done:
    media_writer_free(writer);
    media_reader_free(reader);
    unlink(output);
    skipping(input);
    return 0;
}
