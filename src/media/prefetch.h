/* prefetch.h: a reader's frames decoded ahead on a thread of their own.
 *
 * The pipeline's thread fills each frame and hands it to the encoder; the
 * decoding of the next ones, and the first touch of the memory their
 * pictures take, would otherwise wait for that. A few frames ahead are
 * enough to keep both busy.
 *
 * media_prefetch_next and media_prefetch_stop are called from one thread. */
#ifndef VSR_MEDIA_PREFETCH_H
#define VSR_MEDIA_PREFETCH_H

#include "media/media.h"

struct media_prefetch;

/* Starts decoding READER (borrowed: it must outlive media_prefetch_stop, and
 * nothing else may use it meanwhile), at most FIRST_DEPTH frames ahead until
 * the first frame is taken, then at most DEPTH. A consumer that must wait
 * for something else before its first frame (the detector's head start)
 * thus has the frames it will hold anyway decoded, and their memory touched,
 * while a core is idle; and, that done, READER's pool made PICTURES strong
 * (media_reader_reserve), a few at a time whenever the ring is full: what
 * the consumer will hold at most, and no more, so that the peak stays where
 * it was. */
int media_prefetch_start(struct media_prefetch **out, struct media_reader *reader, int depth,
                         int first_depth, int pictures, struct vsr_error *error);

/* As media_reader_next: 1 with *FRAME (the caller's), 0 at the end, or the
 * reader's failure, in the place where it happened. */
int media_prefetch_next(struct media_prefetch *prefetch, AVFrame **frame, struct vsr_error *error);

/* Stops the thread and frees the frames not taken. NULL is a no-op. */
void media_prefetch_stop(struct media_prefetch *prefetch);

#endif
