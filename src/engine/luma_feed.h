/* luma_feed.h: the frames of the detection pass, as the detector's planes,
 * decoded by two readers at once over the detector's head start.
 *
 * The detector must see about ten seconds of video before it can give the
 * first mask, and the fill and the encoder wait for that mask: at 1080p this
 * head start is most of a second of one core decoding, the other idle (frame
 * threads barely help H.264 here). A second reader, moved to a keyframe near
 * the middle of that span, decodes its second half on the other core. When
 * the first reader reaches that keyframe and gives the very same plane, it
 * stops, and the second goes on alone; if anything disagrees, the second is
 * dropped and the first goes on. Either way the planes are those one reader
 * would give, in order.
 *
 * Frames are shrunk to the detector's plane (detector_shrink) on the
 * decoding threads, which also takes that work off the detector's thread.
 *
 * luma_feed_next and luma_feed_stop are called from one thread. */
#ifndef VSR_ENGINE_LUMA_FEED_H
#define VSR_ENGINE_LUMA_FEED_H

#include <stdint.h>

#include "engine/detect.h"
#include "media/media.h"
#include "vsr.h"

struct luma_feed;

/* Starts decoding READER (taken, even on failure) on a thread of its own,
 * and a second reader of PATH, opened with THREADS and FLAGS, from a keyframe
 * inside the head start when the container's index lists one. DETECTOR gives
 * the planes' size and scale; the threads read it (detector_shrink), so it
 * must outlive luma_feed_stop. FPS is the video's frame rate. */
int luma_feed_start(struct luma_feed **out, struct media_reader *reader, const char *path,
                    int threads, int flags, const struct detector *detector, double fps,
                    struct vsr_error *error);

/* Points *PLANE at the next frame's plane, valid until the next call.
 * Returns 1, 0 after the last frame, or the reader's failure (a negative
 * vsr_status, with ERROR set) in the place where it happened. */
int luma_feed_next(struct luma_feed *feed, const uint8_t **plane, struct vsr_error *error);

/* 2 once planes come from the second reader, else 1. */
int luma_feed_readers_used(struct luma_feed *feed);

/* Stops the threads and frees everything. NULL is a no-op. */
void luma_feed_stop(struct luma_feed *feed);

#endif
