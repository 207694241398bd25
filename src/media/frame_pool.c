/* frame_pool.c: picture buffers for the decoders (see frame_pool.h).
 *
 * libavcodec's default allocator zeroes every new pool buffer with memset.
 * The pipeline holds a second or more of decoded frames, so each decoder's
 * pool grows to dozens of buffers and that memset touched 200 MB at 1080p:
 * half a second of CPU, paid again by the kernel, which zeroes fresh pages
 * itself. Buffers here come from calloc, which skips the memset for fresh
 * pages and so hands out zeroed memory (no stale data behind a damaged
 * frame) for the price of the page faults alone. One buffer per frame holds
 * every plane, laid out as the default allocator lays them out. */
#include "media/frame_pool.h"

#include <stdlib.h>

#include <libavutil/buffer.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#define ALIGN   64 /* of every plane: the widest SIMD loads */
#define PADDING 16 /* past each plane: decoders' SIMD reads run over */

struct frame_pool {
    AVBufferPool *pool;
    int format, width, height; /* what the pool's buffers are laid out for */
    int linesize[4];
    size_t offset[4]; /* of each plane from the aligned start */
    size_t size;      /* bytes, aligned start to end */
};

static void free_block(void *opaque, uint8_t *data) {
    (void)data;
    free(opaque);
}

static AVBufferRef *alloc_block(size_t size) {
    uint8_t *block = calloc(1, size + ALIGN - 1);
    if (!block) return NULL;
    uint8_t *aligned = block + (ALIGN - (uintptr_t)block % ALIGN) % ALIGN;
    AVBufferRef *ref = av_buffer_create(aligned, size, free_block, block, 0);
    if (!ref) free(block);
    return ref;
}

static AVBufferRef *alloc_for_pool(void *opaque, size_t size) {
    (void)opaque;
    return alloc_block(size);
}

/* Lays out frames of the decoder's current format and size, as libavcodec's
 * own allocator does: dimensions rounded up for the codec, line sizes grown
 * until every plane's is a multiple of the codec's alignment. */
static int layout(struct frame_pool *fp, AVCodecContext *decoder, const AVFrame *frame) {
    int w = frame->width, h = frame->height, align[AV_NUM_DATA_POINTERS];
    avcodec_align_dimensions2(decoder, &w, &h, align);
    int linesize[4];
    for (;;) {
        if (av_image_fill_linesizes(linesize, frame->format, w) < 0) return -1;
        int unaligned = 0;
        for (int i = 0; i < 4; i++)
            unaligned |= linesize[i] % align[i];
        if (!unaligned) break;
        w += w & ~(w - 1); /* the lowest set bit: doubles the alignment */
    }
    ptrdiff_t strides[4];
    size_t sizes[4];
    for (int i = 0; i < 4; i++)
        strides[i] = linesize[i];
    if (av_image_fill_plane_sizes(sizes, frame->format, h, strides) < 0) return -1;
    size_t at = 0;
    for (int i = 0; i < 4; i++) {
        fp->linesize[i] = linesize[i];
        fp->offset[i] = at;
        if (sizes[i]) at += (sizes[i] + PADDING + ALIGN - 1) / ALIGN * ALIGN;
    }
    av_buffer_pool_uninit(&fp->pool); /* frees once its last buffer is back */
    fp->pool = av_buffer_pool_init2(at, NULL, alloc_for_pool, NULL);
    if (!fp->pool) return -1;
    fp->format = frame->format;
    fp->width = frame->width;
    fp->height = frame->height;
    fp->size = at;
    return 0;
}

static int planar_in_memory(const AVCodecContext *decoder, const AVFrame *frame) {
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(frame->format);
    return d &&
           !(d->flags &
             (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM)) &&
           !decoder->hw_frames_ctx && (decoder->codec->capabilities & AV_CODEC_CAP_DR1);
}

static int get_buffer(AVCodecContext *decoder, AVFrame *frame, int flags) {
    struct frame_pool *fp = decoder->opaque;
    if (!planar_in_memory(decoder, frame) || frame->width <= 0 || frame->height <= 0)
        return avcodec_default_get_buffer2(decoder, frame, flags);
    if (!fp->pool || fp->format != frame->format || fp->width != frame->width ||
        fp->height != frame->height)
        if (layout(fp, decoder, frame) < 0) return AVERROR(ENOMEM);
    frame->buf[0] = av_buffer_pool_get(fp->pool);
    if (!frame->buf[0]) return AVERROR(ENOMEM);
    for (int i = 0; i < 4; i++) {
        frame->linesize[i] = fp->linesize[i];
        frame->data[i] = fp->linesize[i] ? frame->buf[0]->data + fp->offset[i] : NULL;
    }
    frame->extended_data = frame->data;
    return 0;
}

struct frame_pool *frame_pool_attach(AVCodecContext *decoder) {
    struct frame_pool *fp = calloc(1, sizeof *fp);
    if (!fp) return NULL;
    decoder->opaque = fp;
    decoder->get_buffer2 = get_buffer;
    return fp;
}

void frame_pool_free(struct frame_pool *fp) {
    if (!fp) return;
    av_buffer_pool_uninit(&fp->pool); /* frames still out keep their buffers */
    free(fp);
}
