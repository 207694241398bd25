/* analysis.h: the detection pass in a thread of its own.
 *
 * Reader A (luma_feed.h) decodes ahead and feeds the detector; the masks
 * come out in frame order through a short queue. Running this beside the
 * fill and the encoder, rather than between them, keeps the second core
 * busy: the detector must run seconds ahead anyway, so nothing waits on it
 * but the queue.
 *
 * analysis_next is called from one thread (the pipeline's); analysis_stop
 * from that same thread, once. */
#ifndef VSR_ENGINE_ANALYSIS_H
#define VSR_ENGINE_ANALYSIS_H

#include <stdatomic.h>
#include <stdint.h>

#include "engine/detect.h"
#include "engine/luma_feed.h"
#include "vsr.h"

struct analysis;

/* Starts the thread. FEED is taken (even on failure: analysis_stop stops
 * it); DETECTOR is borrowed: it must outlive analysis_stop, and nothing else
 * may use it meanwhile. Masks are WIDTH*HEIGHT bytes. CANCEL (may be NULL)
 * stops the thread early. */
int analysis_start(struct analysis **out, struct luma_feed *feed, struct detector *detector,
                   int width, int height, const atomic_int *cancel, struct vsr_error *error);

/* Rows [y0, y1) of a mask that may be non-zero; the rest are zero. */
struct mask_rows {
    int y0, y1;
};

/* Waits for the mask of the next frame and puts it into MASK, whose rows
 * outside *ROWS must be zero; *ROWS becomes the new mask's (only the rows
 * of a subtitle band are copied). *PTS becomes the frame's pts as reader A
 * decoded it, AV_NOPTS_VALUE when A skipped it; *EDGES the lines that came or
 * went between two frames A decoded, which the full frame must decide
 * (detector_edge_shows): they are not in MASK. EDGES' buffers are swapped
 * with the queue's; start from a zeroed struct and detector_edges_free it at
 * the end. Returns 1, 0 when reader A has no more frames, or a negative
 * vsr_status with ERROR set (a truncated input, say). */
int analysis_next(struct analysis *analysis, uint8_t *mask, struct mask_rows *rows, int64_t *pts,
                  struct detector_edges *edges, struct vsr_error *error);

/* Stops the thread, waits for it and frees everything. NULL is a no-op. */
void analysis_stop(struct analysis *analysis);

#endif
