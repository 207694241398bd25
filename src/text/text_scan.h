/* text_scan.h: where lines of text are, over a whole video, found by the
 * text detector network on a few frames a second.
 *
 * A reader of its own decodes the video ahead of the fill on a thread of its
 * own (reference frames only, where the codec allows) and runs the net
 * (text_net.h) on about two frames a second, shrunk to a few hundred rows:
 * running it on every frame would cost far more than the encode. Each sample
 * gives the lines of text it shows (text_lines.h). The lines that look like
 * subtitles are kept: centred across the frame, a line's shape and height,
 * and as tall as the other lines of the video (a speaker's name in large
 * letters, a logo or the letters of a stage are left alone).
 *
 * For a frame between two samples, the lines are those of both: which of
 * their pixels show text on that frame is for the frame itself to tell
 * (text_mask.h).
 *
 * text_scan_lines and text_scan_stop are called from one thread. */
#ifndef VSR_TEXT_SCAN_H
#define VSR_TEXT_SCAN_H

#include <stdatomic.h>
#include <stdint.h>

#include "media/media.h"
#include "text/text_lines.h"
#include "vsr.h"

struct text_scan;

#define TEXT_SCAN_LINES 16 /* lines kept per sample */

struct text_scan_options {
    const struct media_streams *streams; /* the file, as reader A found it */
    int skip_nonref;                     /* decode reference frames only */
    int threads;                         /* the net's threads; 0: its default */
    const struct vsr_region *regions;    /* where to look; NULL: everywhere */
    int region_count;
    const atomic_int *cancel; /* stops the thread early (may be NULL) */
};

/* Opens the model (text_net_model_path) and a reader, and starts the
 * thread. A missing model is VSR_E_USAGE, with what to run. */
int text_scan_start(struct text_scan **out, const struct text_scan_options *options,
                    struct vsr_error *error);

/* The lines of frame INDEX (in frame pixels, in increasing INDEX order
 * from call to call), waiting for the sample after it. Returns how many (at
 * most MAX), or a negative vsr_status with ERROR set (a file the reader
 * could not place in time gives MEDIA_E_UNCOUNTED). */
int text_scan_lines(struct text_scan *scan, int64_t index, struct text_box *lines, int max,
                    struct vsr_error *error);

/* Whether rows [Y0, Y1) sit where the subtitle lines of this video do
 * (their top, bottom or middle row is one many lines were at), as far as
 * the lines seen so far tell; 1 while too few were seen to tell. For text
 * found by other means (text that jumps on and off, detect.h): a speaker's
 * name, a title or a sign elsewhere is part of the picture. */
int text_scan_place(struct text_scan *scan, int y0, int y1);

/* How many samples the net ran on so far, and the seconds it took. */
void text_scan_stats(struct text_scan *scan, int64_t *samples, double *seconds);

/* Stops the thread and frees everything. NULL is a no-op. */
void text_scan_stop(struct text_scan *scan);

#endif
