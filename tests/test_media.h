/* test_media.h: helpers for the tests that need real clips (test_media.c). */
#ifndef VSR_TEST_MEDIA_H
#define VSR_TEST_MEDIA_H

#include <stddef.h>

/* Silences FFmpeg's log for the rest of the run. */
void media_test_quiet(void);

/* Runs `ffmpeg -nostdin -v error -y ARGS`; returns its exit status. */
int media_test_ffmpeg(const char *args);

/* Writes DIR/NAME: the first 2 s of shared/media/car-detection.mp4 (768x432,
 * 12.5 fps, AAC audio) encoded with CODEC_ARGS; PATH gets its path. 0 or -1. */
int media_test_clip(const char *dir, const char *name, const char *codec_args, char *path,
                    size_t size);

/* Copies the first SHARE (0..1) of FROM's bytes to TO. */
int media_test_truncate_copy(const char *from, const char *to, double share);

/* Entries in DIR, -1 if unreadable. */
int media_test_count_files(const char *dir);

void media_test_remove_dir(const char *dir);

#endif
