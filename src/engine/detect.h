/* detect.h: find burned-in subtitle pixels, frame by frame.
 *
 * A subtitle line appears at once, holds still while the picture moves or
 * not, and disappears at once (Lienhart & Wernicke 2002). The detector follows
 * every pixel through time on the luma plane: a pixel that jumps, then holds
 * its value for a while, then jumps again, in step with its neighbours, is
 * text. Because a line's end must be seen before its pixels are known, the
 * detector runs ahead of the frames being filled (see remove.c): feed it frames
 * with detector_push and ask for a frame's mask once enough later frames went
 * in. Memory is bounded by the longest subtitle it accepts, not by the video.
 * Frames above 720 rows are analysed box-averaged to about 360 rows, so text
 * is judged alike at every size; masks come back at the video's size.
 *
 * Not thread-safe: one detector per pipeline. */
#ifndef VSR_DETECT_H
#define VSR_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>

#include "vsr.h"

struct detector;

/* REGIONS (may be NULL) limit where text is looked for. */
struct detector *detector_new(int width, int height, double fps, const struct vsr_region *regions,
                              int region_count);
void detector_free(struct detector *detector); /* NULL is a no-op */

/* Feeds the next frame (YUV420P) of the analysis pass. */
int detector_push(struct detector *detector, const AVFrame *frame);

/* The same in two steps, so that other threads can shrink frames while the
 * detector works: detector_shrink writes FRAME's luma, box-averaged to the
 * analysis plane (detector_plane_size), into PLANE, with ROW_SUMS as scratch
 * (detector_shrink_scratch entries); it reads only what detector_new set, so
 * several threads may call it at once, each with its own PLANE and ROW_SUMS.
 * detector_push_plane then feeds that plane as the next frame. */
void detector_plane_size(const struct detector *detector, int *width, int *height);
size_t detector_shrink_scratch(const struct detector *detector);
void detector_shrink(const struct detector *detector, const AVFrame *frame, uint8_t *plane,
                     uint16_t *row_sums);
int detector_push_plane(struct detector *detector, const uint8_t *plane);

/* As detector_push_plane, for frame T (at least the last one's plus one):
 * the frames between the two were not seen (a reader skipped them). A line
 * that appears or goes between two planes is taken to cover the frames
 * between, so that none shows text; but the planes seen showing it must span
 * the shortest line, so that something moving that looks still on a few
 * planes is not taken for one. */
int detector_push_plane_at(struct detector *detector, const uint8_t *plane, int64_t t);

/* How many frames past frame I the detector must see before it can give
 * I's mask, at most: the longest subtitle it accepts, and a little. */
int detector_lookahead(const struct detector *detector);

/* Says that no frame will follow. */
void detector_finish(struct detector *detector);

/* The same, for a video of FRAMES frames: those after the last plane were
 * not seen, and lines on screen then cover them. */
void detector_finish_at(struct detector *detector, int64_t frames);

/* Writes the mask of frame INDEX (0-based, in decode order) into MASK
 * (width*height bytes, row-major, 255 = subtitle, 0 = picture). Returns 1 when
 * written, 0 when the detector must first see more frames (push more), or a
 * negative vsr_status. Masks must be asked for in increasing INDEX order. */
int detector_mask(struct detector *detector, int64_t index, uint8_t *mask);

/* As detector_mask, but writes only rows [*Y0, *Y1) of MASK, the rows the
 * subtitles of frame INDEX cover (an empty band when none): the caller keeps
 * the other rows zero. */
int detector_mask_rows(struct detector *detector, int64_t index, uint8_t *mask, int *y0, int *y1);

/* A line that came or went between two frames the detector saw, on a frame
 * between them (detector_push_plane_at): whether it shows there is for the
 * full frame to tell. Buffers are the caller's, reused from frame to frame. */
struct detector_edge {
    int x0, y0, w, h; /* box on the analysis plane */
    uint8_t *bits;    /* w*h, 255 where the line is masked */
    size_t bits_capacity;
    int samples; /* stroke pixels: analysis-plane index, the line's luma there, */
    uint32_t *pos;
    uint8_t *text, *other; /* and the picture's without it, from the frame seen beside */
    size_t samples_capacity;
};

#define DETECTOR_MAX_EDGES 4

struct detector_edges {
    int count;
    struct detector_edge edge[DETECTOR_MAX_EDGES];
};

/* As detector_mask_rows, but lines whose edge frame INDEX is (see above)
 * go into EDGES rather than MASK; past DETECTOR_MAX_EDGES they are masked. */
int detector_mask_edges(struct detector *detector, int64_t index, uint8_t *mask, int *y0, int *y1,
                        struct detector_edges *edges);

/* Whether EDGE's line shows on FRAME (the full-size YUV frame of the index it
 * was given for): most of its stroke pixels hold the line's luma, and few the
 * picture's. When the samples cannot tell (the picture moved, the line faded),
 * it shows. Reads only what detector_new set, so it may run on another
 * thread than the detector's. */
int detector_edge_shows(const struct detector *detector, const struct detector_edge *edge,
                        const AVFrame *frame);

/* Masks EDGE's line in MASK (full size) and widens [*Y0, *Y1) to cover it;
 * on any thread, as detector_edge_shows. */
void detector_edge_paint(const struct detector *detector, const struct detector_edge *edge,
                         uint8_t *mask, int *y0, int *y1);

/* Frees the buffers of EDGES' entries. */
void detector_edges_free(struct detector_edges *edges);

#endif
