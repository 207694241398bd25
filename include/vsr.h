/* vsr.h: the public API of the vsr engine (subtitle removal and captions).
 *
 * Every function returns VSR_OK (0) or a negative enum vsr_status code, and
 * fills the caller's struct vsr_error with a one-line message a user can act
 * on. The engine keeps no global state: calls on different objects may run in
 * different threads at once. */
#ifndef VSR_H
#define VSR_H

#include <stdint.h>
#ifdef __cplusplus /* C++ before C++23 has no <stdatomic.h>; the types agree */
#include <atomic>
using std::atomic_int;
#else
#include <stdatomic.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct AVFrame; /* FFmpeg's decoded frame (libavutil/frame.h) */

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

/* The rules on options and inputs that every caller shares. The engine
 * checks them itself; the CLI and the service ask these functions before
 * they start work, and pass the message on, so that the rules have one
 * owner and read alike everywhere. Each returns VSR_OK or VSR_E_USAGE
 * (VSR_E_INPUT for the frame size) with a message that names the value. */
#define VSR_VERSION "0.1.0"
#define VSR_CRF_MIN 1  /* the writer takes 0 as "the default", so 0 is not lossless here */
#define VSR_CRF_MAX 51 /* x264's highest for 8-bit video */
/* One H.264 macroblock: x264 cannot encode a frame smaller than this once
 * 4:2:0 has dropped odd rows and columns. */
#define VSR_MIN_WIDTH  16
#define VSR_MIN_HEIGHT 16

int vsr_check_crf(int crf, struct vsr_error *error);
/* Each region must have a positive size and lie inside a WIDTH x HEIGHT
 * frame. */
int vsr_check_regions(const struct vsr_region *regions, int count, int width, int height,
                      struct vsr_error *error);
int vsr_check_frame_size(int width, int height, struct vsr_error *error);

struct vsr_progress {
    int64_t frames_done;
    int64_t frames_total; /* estimate from the container; 0 when unknown */
    double percent;       /* 0..100, -1 when unknown */
    double fps;           /* frames per second so far */
    double eta_seconds;   /* -1 when unknown */
};

typedef void (*vsr_progress_fn)(void *opaque, const struct vsr_progress *progress);

/* What a removal did, so that a user knows how much of the result is the
 * real background and how much a reconstruction. */
struct vsr_remove_report {
    int64_t frames;           /* frames written */
    int64_t frames_with_text; /* frames where anything was removed */
    int64_t pixels_filled;    /* removed luma pixels, over all frames */
    double share_temporal;    /* of them, filled from other frames (0..1) */
    double share_spatial;     /* made up from the pixels around them (0..1) */
    int64_t detector_frames;  /* frames the text detector network ran on */
    double detector_seconds;  /* the time it took (on its own thread) */
    /* What the input lost on the way, which the output cannot show: frames
     * of a corrupt stretch that could not be decoded (the output has that
     * many fewer), and frames of another size than the first (a stream that
     * changes resolution midway), scaled to the first's size; the first such
     * size is rescaled_from_width x rescaled_from_height. */
    int64_t frames_dropped;
    int64_t frames_rescaled;
    int rescaled_from_width, rescaled_from_height;
};

struct vsr_remove_options {
    const struct vsr_region *regions; /* where to look; NULL: the whole frame */
    int region_count;
    const char *mask_out;     /* optional: write the filled mask here (PNG gray) */
    int crf;                  /* x264 CRF, VSR_CRF_MIN..VSR_CRF_MAX; default 18 */
    const char *preset;       /* x264 preset; default "veryfast" */
    int threads;              /* decoder/encoder threads; 0 = automatic */
    vsr_progress_fn progress; /* optional, called about 4 times a second */
    void *progress_opaque;
    atomic_int *cancel; /* optional: set non-zero to stop; returns VSR_E_CANCELED */
    /* Optional: called with each cleaned frame (an AVFrame, YUV 4:2:0) just
     * before it is encoded, and its time in milliseconds; vsr_replace draws
     * the new captions here. A negative return stops the run with it. */
    int (*frame_hook)(void *opaque, struct AVFrame *frame, int64_t time_ms,
                      struct vsr_error *error);
    void *frame_hook_opaque;
    struct vsr_remove_report *report; /* optional: filled when the removal succeeds */
};

/* Fills options with the defaults (crf 18, preset veryfast, automatic threads). */
void vsr_remove_options_init(struct vsr_remove_options *options);

/* Removes burned-in subtitles from INPUT and writes OUTPUT (container from its
 * extension, H.264 video, audio streams copied). OUTPUT appears only when
 * complete: it is written to a temporary file beside it and renamed. Where
 * the fast detection pass cannot place frames in time (packets without
 * timestamps, as in AVI), the run starts again decoding every frame for
 * detection: frame_hook may then see the first frames twice, and progress
 * resumes where it was. */
int vsr_remove(const char *input, const char *output, const struct vsr_remove_options *options,
               struct vsr_error *error);

/* How captions look. Every field is optional (NULL or 0: the preset's own). */
struct vsr_caption_style {
    const char *style;      /* preset: classic, yellow, boxed, social, karaoke; NULL: classic
                               for SRT/WebVTT, the file's own styles for ASS */
    const char *style_file; /* "Key=Value" lines of ASS style fields, applied after the preset */
    const char *font;       /* font family (fontconfig name), must be installed */
    int size;               /* font size in pixels of the video frame; 0: the preset's */
    const char *position;   /* "bottom", "middle" or "top"; NULL: the preset's */
    int margin;             /* pixels from the top or bottom edge; -1: the preset's */
};

/* Fills STYLE with "nothing asked" (all NULL, margin -1). */
void vsr_caption_style_init(struct vsr_caption_style *style);

struct vsr_burn_options {
    struct vsr_caption_style style;
    int crf;                  /* x264 CRF, VSR_CRF_MIN..VSR_CRF_MAX; default 18 */
    const char *preset;       /* x264 preset; default "veryfast" */
    int threads;              /* decoder/encoder threads; 0 = automatic */
    vsr_progress_fn progress; /* optional, called about 4 times a second */
    void *progress_opaque;
    atomic_int *cancel; /* optional: set non-zero to stop; returns VSR_E_CANCELED */
};

void vsr_burn_options_init(struct vsr_burn_options *options);

/* Draws the captions of SUBTITLES (SRT, WebVTT or ASS) onto INPUT and writes
 * OUTPUT (H.264, audio copied, written whole or not at all). A bad subtitle
 * file is VSR_E_INPUT; an unknown style or missing font VSR_E_USAGE. */
int vsr_burn(const char *input, const char *subtitles, const char *output,
             const struct vsr_burn_options *options, struct vsr_error *error);

/* Removes the burned-in subtitles of INPUT and draws those of SUBTITLES in
 * their place, in one decoding and encoding pass. REMOVE's regions, x264
 * settings, progress and cancel apply; STYLE as for vsr_burn. */
int vsr_replace(const char *input, const char *subtitles, const char *output,
                const struct vsr_remove_options *remove, const struct vsr_caption_style *style,
                struct vsr_error *error);

struct vsr_transcribe_options {
    const char *engine;   /* "pocketsphinx" (default, offline) or "openai" */
    const char *language; /* ISO 639-1; default "en" (pocketsphinx has only English) */
    /* openai: the endpoint is URL + PATH (default https://api.openai.com and
     * /v1/audio/transcriptions), KEY its bearer token (may be NULL), MODEL
     * the model name (default whisper-1). pocketsphinx: MODEL is the model
     * folder (default Debian's /usr/share/pocketsphinx/model/en-us). */
    const char *url, *path, *key, *model;
    int max_attempts;   /* openai: tries on 429, 5xx and network errors; default 5 */
    atomic_int *cancel; /* optional: set non-zero to stop; returns VSR_E_CANCELED */
    /* Optional: called as recognition goes (pocketsphinx: after each stretch
     * of speech; openai: before and after the request), frames_done and
     * frames_total counting whole seconds of audio, fps its speed. */
    vsr_progress_fn progress;
    void *progress_opaque;
};

void vsr_transcribe_options_init(struct vsr_transcribe_options *options);

/* Recognises the speech of INPUT (any file with audio) and writes OUTPUT:
 * .srt or .vtt (captions of at most two lines of 42 characters, 1 to 6 s) or
 * .json (every word with its start and end). Audio without speech gives a
 * valid file with no captions; a file without audio is VSR_E_INPUT. */
int vsr_transcribe(const char *input, const char *output,
                   const struct vsr_transcribe_options *options, struct vsr_error *error);

/* vsr_transcribe, then vsr_burn of the captions (the social style shows
 * three words at a time, karaoke highlights the spoken word). No speech in
 * INPUT is VSR_E_INPUT: there is nothing to caption. */
int vsr_caption(const char *input, const char *output,
                const struct vsr_transcribe_options *transcribe,
                const struct vsr_burn_options *burn, struct vsr_error *error);

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
