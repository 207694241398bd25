/* luma_feed.h: the frames of the detection pass, as the detector's planes,
 * decoded by two or three readers at once over the detector's head start.
 *
 * The detector must see about ten seconds of video before it can give the
 * first mask, and the fill and the encoder wait for that mask: at 1080p this
 * head start is most of a second of one core decoding, the other idle (frame
 * threads barely help H.264 here). Readers moved to keyframes inside that
 * span decode its later stretches on the other core; the keyframes are
 * chosen so that the longest stretch is shortest (a third reader when the
 * keyframes fall so that two would leave one reader most of the span). When
 * a reader reaches the next one's keyframe and gives the very same plane, it
 * stops, and the next goes on; if anything disagrees, the next and those
 * after it are dropped and this one goes on. Either way the planes are those
 * one reader would give, in order.
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
 * and one or two more readers of its file, opened with THREADS and FLAGS, from
 * keyframes inside the head start (from its middle when the container's
 * index lists none there yet). DETECTOR gives
 * the planes' size and scale; the threads read it (detector_shrink), so it
 * must outlive luma_feed_stop. FPS is the video's frame rate. */
int luma_feed_start(struct luma_feed **out, struct media_reader *reader, int threads, int flags,
                    const struct detector *detector, double fps, struct vsr_error *error);

struct luma_frame {
    const uint8_t *plane; /* valid until the next luma_feed_next */
    int64_t index;        /* the frame's in the video; skipping readers skip indices too */
    int64_t pts;          /* in the stream's time base */
};

/* Gives the next frame's plane in *FRAME. Returns 1; 0 after the last
 * frame, with FRAME->index the number of frames in the video; or the
 * reader's failure (a negative vsr_status, with ERROR set) in the place where
 * it happened. */
int luma_feed_next(struct luma_feed *feed, struct luma_frame *frame, struct vsr_error *error);

/* Which reader planes come from now: 1 for the first, 2 or 3 once a later one
 * took over. */
int luma_feed_readers_used(struct luma_feed *feed);

/* Stops the threads and frees everything. NULL is a no-op. */
void luma_feed_stop(struct luma_feed *feed);

#endif
