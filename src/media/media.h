/* media.h: read video frames from a file and write them back, on FFmpeg's
 * libraries. The engine sees only decoded 8-bit YUV 4:2:0 frames (AVFrame,
 * format AV_PIX_FMT_YUV420P, or GRAY8 for masks); everything about containers,
 * codecs, timestamps, rotation and audio stays in here.
 *
 * Not thread-safe per object; different objects may be used from different
 * threads. */
#ifndef VSR_MEDIA_H
#define VSR_MEDIA_H

#include <libavutil/frame.h>
#include <libavutil/rational.h>

#include "vsr.h"

struct media_info {
    int width, height;       /* decoded frame size */
    AVRational time_base;    /* of the video stream; frame->pts is in it */
    AVRational frame_rate;   /* average; {0,1} when unknown */
    int64_t frame_count;     /* estimate from the container; 0 when unknown */
    double duration_seconds; /* 0 when unknown */
    int audio_streams;
    int rotation_degrees; /* from the display matrix, 0/90/180/270 */
    char video_codec[32];
    char container[64];
    /* How the pixels are to be read, from the first frame, for the writer to
     * tag (AVColorRange, AVColorSpace, ...; 0 = unspecified), and the field
     * order (AVFieldOrder: 1 progressive, 2..5 interlaced; 0 unknown). */
    int color_range, color_space, color_primaries, color_trc, chroma_location;
    int field_order;
};

/* ---- reading ---------------------------------------------------------- */

struct media_reader;

/* Flags for media_reader_open. */
#define MEDIA_READ_FAST        1 /* approximate frames, decoded faster: for analysis only */
#define MEDIA_READ_SKIP_NONREF 2 /* media_reader_skip_nonref from the start */

/* A skipping reader (media_reader_skip_nonref) could not place a frame in
 * display order (a packet without a time, say): read the file again without
 * skipping. Internal to the engine, never returned by the public API. */
#define MEDIA_E_UNCOUNTED (-100)

/* Opens PATH and its first video stream. Fails with VSR_E_INPUT (missing,
 * unreadable, not media, corrupt headers) or VSR_E_NO_VIDEO. */
int media_reader_open(struct media_reader **out, const char *path, int threads, int flags,
                      struct vsr_error *error);

const struct media_info *media_reader_info(const struct media_reader *reader);

/* Decodes the next frame into *frame (owned by the caller: av_frame_free it),
 * converted to YUV420P when the source is another format, with best-effort pts
 * in the stream time base. Returns 1 for a frame, 0 at the end, or a negative
 * vsr_status. A file that ends in the middle, or whose video cannot be decoded
 * at all, is VSR_E_INPUT: a truncated upload must not become a short output. */
int media_reader_next(struct media_reader *reader, AVFrame **frame, struct vsr_error *error);

/* The display index of the frame media_reader_next returned last: its
 * place among all the frames from the reader's first (0; after a seek, the
 * keyframe), the ones a skipping reader did not decode included. */
int64_t media_reader_index(const struct media_reader *reader);

/* After media_reader_next returned 0: how many frames the video holds from
 * the reader's first, skipped ones after the last returned included. */
int64_t media_reader_frames_total(const struct media_reader *reader);

/* What READER met that its frames do not show, for the caller to report:
 * frames the decoder could not give (undecodable packets of a corrupt
 * stretch: the video has that many fewer frames), and frames of another size
 * than the first (a stream that changes resolution midway), scaled to the
 * first's; *OTHER_WIDTH x *OTHER_HEIGHT is the first such size. Complete
 * once media_reader_next returned 0, for a reader that read every frame. */
struct media_reader_losses {
    int64_t frames_dropped;
    int64_t frames_rescaled;
    int other_width, other_height;
};
void media_reader_losses(const struct media_reader *reader, struct media_reader_losses *out);

/* Makes READER decode only the frames that others refer to (half of them in
 * H.264 with B-frames), for analysis that can do with those: each frame's
 * media_reader_index says where it falls. Returns 1 when it skips, 0 when the
 * codec or the container does not allow it (it then reads every frame).
 * Call before the second media_reader_next. A skipping reader fails with
 * MEDIA_E_UNCOUNTED where it cannot place a frame. */
int media_reader_skip_nonref(struct media_reader *reader);

/* What a reader found the file to hold (its path, video stream and info),
 * for opening more readers of it without probing it again: FFmpeg's probing
 * decodes a frame (40 ms at 1080p). Take it before READER's frames are read
 * on another thread. NULL when out of memory. */
struct media_streams;
struct media_streams *media_reader_streams(const struct media_reader *reader);
void media_streams_free(struct media_streams *streams); /* NULL is a no-op */

/* As media_reader_open, for the file LIKE describes; when SEEK_TS is not
 * AV_NOPTS_VALUE, moved there (media_reader_seek) rather than decoding the
 * first frame, with LIKE's info. A format whose streams only probing finds is
 * probed as before. */
int media_reader_open_as(struct media_reader **out, const struct media_streams *like, int threads,
                         int flags, int64_t seek_ts, struct vsr_error *error);

/* The keyframes the container's index lists in [LOW, HIGH] seconds from the
 * start, in increasing time, at most MAX: their index times into TS (in the
 * stream's time base; a decode time in MP4, at or before the frame's pts) and
 * their times in seconds into SECONDS. Returns how many; 0 when the index
 * lists none there (Matroska's, say, fills in only as the file is read or
 * sought). */
int media_reader_keyframes(const struct media_reader *reader, double low, double high, int64_t *ts,
                           double *seconds, int max);

/* The stream time (in the stream's time base) SECONDS after its start. */
int64_t media_reader_ts_at(const struct media_reader *reader, double seconds);

/* Moves READER to the first keyframe at or after index time TS: the next
 * frame is that keyframe's. From then on READER leaves the share of
 * undecodable packets to a reader that reads the whole file (it sees only
 * part of them), but still reports a cut. Returns 0, or a negative
 * vsr_status, after which READER is of no further use. */
int media_reader_seek(struct media_reader *reader, int64_t ts, struct vsr_error *error);

/* Makes the decoder's picture pool hold COUNT pictures, their memory
 * touched (frame_pool_reserve); call after the first frame. */
void media_reader_reserve(struct media_reader *reader, int count);

void media_reader_free(struct media_reader *reader); /* NULL is a no-op */

/* ---- writing ---------------------------------------------------------- */

struct media_writer_options {
    const char *codec;             /* "libx264" (default) or "png" (masks) */
    int pix_fmt;                   /* AV_PIX_FMT_YUV420P (default) or AV_PIX_FMT_GRAY8 */
    int crf;                       /* libx264 only; default 18 */
    const char *preset;            /* libx264 only; default "veryfast" */
    int threads;                   /* 0 = automatic */
    const char *copy_audio_from;   /* input path whose audio streams are copied, or NULL */
    const struct media_info *like; /* size, time base, frame rate, rotation to keep */
};

struct media_writer;

/* Creates a temporary file beside PATH (same folder, so the final rename is
 * atomic); the container comes from PATH's extension. VSR_E_OUTPUT when the
 * folder is not writable or the extension names no known container. */
int media_writer_open(struct media_writer **out, const char *path,
                      const struct media_writer_options *options, struct vsr_error *error);

/* Encodes one frame; frame->pts is in options->like->time_base. Audio packets
 * up to this frame's time are interleaved as they come. */
int media_writer_write(struct media_writer *writer, const AVFrame *frame, struct vsr_error *error);

/* Flushes the encoder and the rest of the audio, writes the trailer and renames
 * the temporary file to PATH. On failure the temporary file is removed. */
int media_writer_finish(struct media_writer *writer, struct vsr_error *error);

/* Whether A and B name the same file (the same string, or one existing
 * file by two names: "x.mp4" and "./x.mp4", a link), so that writing B
 * would replace the input A. */
int media_same_file(const char *a, const char *b);

/* Frees the writer; if it was not finished, removes the temporary file. */
void media_writer_free(struct media_writer *writer);

#endif
