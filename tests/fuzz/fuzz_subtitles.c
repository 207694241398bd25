/* fuzz_subtitles.c: libFuzzer target, bytes through the whole subtitle input
 * path: FFmpeg's demuxer probe and subtitle decoders (SRT, WebVTT, ASS, and
 * whatever else the probe picks), the libass track, layout and rendering,
 * and the blending into a YUV 4:2:0 frame. */
#include <stdint.h>
#include <stdlib.h>

#include <libavutil/log.h>

#include "captions/captions.h"

static ASS_Library *library;
static AVFrame *frame;
static struct overlay *overlay; /* one renderer for the run: starting one scans the fonts */
static ASS_Track *empty;        /* its track until the first input */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    av_log_set_level(AV_LOG_QUIET);
    library = captions_library_new();
    frame = av_frame_alloc();
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = 192;
    frame->height = 108;
    empty = library ? ass_new_track(library) : NULL;
    struct vsr_error error;
    if (!empty || av_frame_get_buffer(frame, 0) < 0 ||
        overlay_new(&overlay, library, empty, frame->width, frame->height, NULL, &error) < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ASS_Track *track = NULL;
    struct vsr_error error;
    int is_ass = 0;
    if (subtitles_load_memory(library, data, size, &track, &is_ass, &error) < 0) return 0;
    /* The classic preset, as burn applies it (fonts checked once, not per input). */
    static const char overrides[] = "FontName=DejaVu Sans,FontSize=20,Outline=1.5,Alignment=2";
    if (captions_apply_overrides(library, track, is_ass ? NULL : overrides) == 0) {
        overlay_set_track(overlay, track);
        for (int i = 0; i < track->n_events && i < 8; i++) {
            const ASS_Event *event = &track->events[i];
            overlay_draw(overlay, frame, event->Start + event->Duration / 2, &error);
        }
    }
    ass_free_track(track);
    return 0;
}
