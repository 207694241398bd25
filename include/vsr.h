/* vsr.h: the public API of the vsr engine (subtitle removal and captions).
 *
 * Every function returns VSR_OK (0) or a negative enum vsr_status code, and
 * fills the caller's struct vsr_error with a one-line message a user can act
 * on. The engine keeps no global state: calls on different objects may run in
 * different threads at once. */
#ifndef VSR_H
#define VSR_H

#include <stdatomic.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vsr_status {
    VSR_OK = 0,
    VSR_E_USAGE = -1,    /* bad option or argument */
    VSR_E_INPUT = -2,    /* input missing, unreadable, not a media file, or corrupt */
    VSR_E_NO_VIDEO = -3, /* input has no video stream */
    VSR_E_OUTPUT = -4,   /* output cannot be created or written */
    VSR_E_CODEC = -5,    /* a decoder or encoder failed or is missing */
    VSR_E_NOMEM = -6,    /* out of memory */
    VSR_E_CANCELED = -7, /* the caller's cancel flag was raised */
    VSR_E_INTERNAL = -8, /* a bug: please report it */
};

struct vsr_error {
    int code;
    char message[512];
};

/* Human name of a status code ("input", "no_video", ...), for APIs and logs. */
const char *vsr_status_name(int code);

/* A rectangle in pixels of the decoded (unrotated) frame. */
struct vsr_region {
    int x, y, w, h;
};

struct vsr_progress {
    int64_t frames_done;
    int64_t frames_total; /* estimate from the container; 0 when unknown */
    double percent;       /* 0..100, -1 when unknown */
    double fps;           /* frames per second so far */
    double eta_seconds;   /* -1 when unknown */
};

typedef void (*vsr_progress_fn)(void *opaque, const struct vsr_progress *progress);

struct vsr_remove_options {
    const struct vsr_region *regions; /* where to look; NULL: the whole frame */
    int region_count;
    const char *mask_out;     /* optional: write the filled mask here (FFV1 gray) */
    int crf;                  /* x264 CRF, 0..51; default 18 */
    const char *preset;       /* x264 preset; default "veryfast" */
    int threads;              /* decoder/encoder threads; 0 = automatic */
    vsr_progress_fn progress; /* optional, called about 4 times a second */
    void *progress_opaque;
    atomic_int *cancel; /* optional: set non-zero to stop; returns VSR_E_CANCELED */
};

/* Fills options with the defaults (crf 18, preset veryfast, automatic threads). */
void vsr_remove_options_init(struct vsr_remove_options *options);

/* Removes burned-in subtitles from INPUT and writes OUTPUT (container from its
 * extension, H.264 video, audio streams copied). OUTPUT appears only when
 * complete: it is written to a temporary file beside it and renamed. */
int vsr_remove(const char *input, const char *output, const struct vsr_remove_options *options,
               struct vsr_error *error);

/* What a media file holds, as vsr_probe reports it. */
struct vsr_media_info {
    int width, height;
    double fps;
    double duration_seconds;
    int64_t frame_count; /* estimate; 0 when unknown */
    int audio_streams;
    int rotation_degrees;
    char video_codec[32];
    char container[64];
};

/* Opens INPUT and reads its headers (and first video frame, so a truncated or
 * corrupt file fails here rather than in a worker). */
int vsr_probe(const char *input, struct vsr_media_info *info, struct vsr_error *error);

#ifdef __cplusplus
}
#endif
#endif
