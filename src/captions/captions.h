/* captions.h: subtitles as libass tracks, caption styles, and drawing them
 * onto decoded frames. Used by vsr_burn, vsr_replace and vsr_caption.
 *
 * Subtitle files (SRT, WebVTT, ASS) are read through FFmpeg's demuxers and
 * text-subtitle decoders, which turn all three into ASS events; libass lays
 * them out and rasterises them; this module blends its bitmaps into YUV 4:2:0.
 * Not thread-safe per object; different objects may be used at once. */
#ifndef VSR_CAPTIONS_H
#define VSR_CAPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <ass/ass.h>
#include <libavutil/frame.h>

#include "vsr.h"

/* Reads a subtitle file into a new track of LIBRARY. VSR_E_INPUT with a
 * message that names the problem: missing, empty, not a text subtitle format,
 * not UTF-8, an event that ends before it starts, no events at all. *IS_ASS
 * says whether the file carried its own ASS styles. */
int subtitles_load(ASS_Library *library, const char *path, ASS_Track **out, int *is_ass,
                   struct vsr_error *error);

/* Same, from bytes in memory (the fuzz target's entry). */
int subtitles_load_memory(ASS_Library *library, const uint8_t *data, size_t size, ASS_Track **out,
                          int *is_ass, struct vsr_error *error);

/* ---- styles ------------------------------------------------------------ */

/* Names of the presets, NULL-terminated: classic, yellow, boxed, social, karaoke. */
extern const char *const caption_style_names[];

/* The ASS style overrides ("Key=Value", as FFmpeg's force_style) that
 * STYLE asks for, for a frame HEIGHT pixels high and a script PLAY_RES_Y
 * lines high, written into OUT as a comma-separated list. A NULL style->style
 * with NO_PRESET set keeps the file's own styles (ASS input) apart from the
 * explicit --font/--size/... options. VSR_E_USAGE for an unknown preset, a
 * missing font, a bad style file (line and reason in the message). */
int caption_style_overrides(const struct vsr_caption_style *style, int no_preset, int height,
                            int play_res_y, char *out, size_t size, struct vsr_error *error);

/* Parses the text of a style file ("Key=Value" lines, '#' comments) into
 * comma-separated overrides appended to OUT. VSR_E_USAGE on an unknown key or
 * a malformed line. */
int caption_style_parse(const char *text, size_t length, const char *name, char *out, size_t size,
                        struct vsr_error *error);

/* Whether fontconfig has a font of family NAME (libass would silently draw
 * another one otherwise). */
int caption_font_exists(const char *name);

/* ---- drawing ----------------------------------------------------------- */

struct overlay;

/* A renderer for frames WIDTH x HEIGHT that draws TRACK (borrowed: it must
 * outlive the overlay) with the style overrides of STYLE applied. */
int overlay_new(struct overlay **out, ASS_Library *library, ASS_Track *track, int width, int height,
                const char *overrides, struct vsr_error *error);

/* Draws another track (borrowed) from now on: a renderer is costly to start
 * (fontconfig), a track is not. */
void overlay_set_track(struct overlay *overlay, ASS_Track *track);

/* Applies OVERRIDES ("Key=Value,...", may be NULL) to every style of TRACK;
 * -1 when out of memory. */
int captions_apply_overrides(ASS_Library *library, ASS_Track *track, const char *overrides);

/* Draws the captions shown at TIME_MS onto FRAME (YUV420P, made writable
 * when it is shared), with the frame's colour matrix and range. */
int overlay_draw(struct overlay *overlay, AVFrame *frame, int64_t time_ms, struct vsr_error *error);

void overlay_free(struct overlay *overlay); /* NULL is a no-op */

/* ASS_Library with fontconfig, its messages silenced; NULL when out of memory. */
ASS_Library *captions_library_new(void);

#endif
