/* frame_pool.h: where a decoder's pictures live. A custom get_buffer2 that
 * pools one calloc'd block per frame, so that a pool grown to the pipeline's
 * window of frames costs page faults only, not a memset of every new buffer
 * besides (see frame_pool.c). Formats it does not lay out (hardware frames,
 * palettes) fall back to libavcodec's allocator. */
#ifndef VSR_FRAME_POOL_H
#define VSR_FRAME_POOL_H

#include <libavcodec/avcodec.h>

struct frame_pool;

/* Installs the pool as DECODER's get_buffer2 (uses decoder->opaque); call
 * before avcodec_open2. NULL when out of memory. */
struct frame_pool *frame_pool_attach(AVCodecContext *decoder);

/* Makes the pool hold at least COUNT pictures of the size it last laid out
 * (none before the first frame is decoded), their memory touched: a caller
 * that knows how many frames it will hold can pay for their pages while a
 * core is idle instead of while the encoder waits. */
void frame_pool_reserve(struct frame_pool *pool, int count);

/* After avcodec_free_context: frames still held keep their buffers. */
void frame_pool_free(struct frame_pool *pool); /* NULL is a no-op */

/* Slabs of picture memory mapped now, by every pool of the process: the
 * tests check that the last frame freed unmaps them (AddressSanitizer does
 * not see mappings leak). */
long frame_pool_live_slabs(void);

#endif
