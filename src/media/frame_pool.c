/* frame_pool.c: picture buffers for the decoders (see frame_pool.h).
 *
 * libavcodec's default allocator zeroes every new pool buffer with memset.
 * The pipeline holds a second or more of decoded frames, so each decoder's
 * pool grows to dozens of buffers and that memset touched 200 MB at 1080p:
 * half a second of CPU, paid again by the kernel, which zeroes fresh pages
 * itself. Buffers here are carved from fresh anonymous mappings, zeroed by
 * the kernel alone (no stale data behind a damaged frame). One buffer per
 * frame holds every plane, laid out as the default allocator lays them out.
 *
 * The mappings are slabs aligned to 2 MB and advised as transparent huge
 * pages. Over 4 KB pages, a decoder whose 40 frames are held costs a third
 * more user time than one whose frames are freed at once (TLB misses on
 * every write of a picture), and the kernel one fault per 4 KB; with huge
 * pages it costs what a decoder with nothing held costs. Slabs rather than
 * one mapping per frame, so that rounding each frame up to 2 MB does not
 * waste a quarter of the memory at 1080p. */
#include "media/frame_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libavutil/buffer.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#include "util/huge_pages.h"

#define ALIGN      64                 /* of every plane: the widest SIMD loads */
#define PADDING    16                 /* past each plane: decoders' SIMD reads run over */
#define SLAB_BYTES ((size_t)32 << 20) /* virtual: pages untouched cost nothing */

/* A mapping buffers are carved from, front to back. It is unmapped when the
 * last buffer carved from it is freed and it is closed to carving. */
struct slab {
    uint8_t *base;
    size_t length, used;
    atomic_size_t refs; /* buffers carved and not freed, +1 while open */
};

struct frame_pool {
    pthread_mutex_t lock; /* get_buffer runs on the decoder's frame threads */
    AVBufferPool *pool;
    struct slab *open;         /* carving from; NULL before the first buffer */
    int format, width, height; /* what the pool's buffers are laid out for */
    int linesize[4];
    size_t offset[4]; /* of each plane from the aligned start */
    size_t size;      /* bytes, aligned start to end */
    int allocated;    /* buffers the current pool has carved */
};

static atomic_long live_slabs;

long frame_pool_live_slabs(void) {
    return atomic_load(&live_slabs);
}

static void slab_release(struct slab *slab) {
    if (atomic_fetch_sub(&slab->refs, 1) != 1) return;
    munmap(slab->base, slab->length);
    free(slab);
    atomic_fetch_sub(&live_slabs, 1);
}

/* A zeroed mapping of at least BYTES, aligned to HUGE_PAGE. */
static struct slab *slab_new(size_t bytes) {
    struct slab *slab = calloc(1, sizeof *slab);
    if (!slab) return NULL;
    size_t length = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    uint8_t *base = huge_pages_map(length);
    if (!base) {
        free(slab);
        return NULL;
    }
    slab->base = base;
    slab->length = length;
    atomic_init(&slab->refs, 1);
    atomic_fetch_add(&live_slabs, 1);
    return slab;
}

static void free_block(void *opaque, uint8_t *data) {
    (void)data;
    slab_release(opaque);
}

/* Called under the pool's lock, and only from get_buffer, under FP's lock:
 * FP's open slab needs no lock of its own. Slabs are released from any
 * thread, hence their atomic count. */
static AVBufferRef *alloc_for_pool(void *opaque, size_t size) {
    struct frame_pool *fp = opaque;
    size_t need = (size + ALIGN - 1) / ALIGN * ALIGN;
    if (!fp->open || fp->open->length - fp->open->used < need) {
        struct slab *slab = slab_new(need > SLAB_BYTES ? need : SLAB_BYTES);
        if (!slab) return NULL;
        if (fp->open) slab_release(fp->open);
        fp->open = slab;
    }
    struct slab *slab = fp->open;
    AVBufferRef *ref = av_buffer_create(slab->base + slab->used, size, free_block, slab, 0);
    if (!ref) return NULL;
    slab->used += need;
    atomic_fetch_add(&slab->refs, 1);
    fp->allocated++;
    return ref;
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
    fp->allocated = 0;
    fp->pool = av_buffer_pool_init2(at, fp, alloc_for_pool, NULL);
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

/* Called by the decoder's frame threads, each with its own codec context,
 * all sharing FP (the opaque pointer is copied to every thread). */
static int get_buffer(AVCodecContext *decoder, AVFrame *frame, int flags) {
    struct frame_pool *fp = decoder->opaque;
    if (!planar_in_memory(decoder, frame) || frame->width <= 0 || frame->height <= 0)
        return avcodec_default_get_buffer2(decoder, frame, flags);
    pthread_mutex_lock(&fp->lock);
    if (!fp->pool || fp->format != frame->format || fp->width != frame->width ||
        fp->height != frame->height)
        if (layout(fp, decoder, frame) < 0) {
            pthread_mutex_unlock(&fp->lock);
            return AVERROR(ENOMEM);
        }
    frame->buf[0] = av_buffer_pool_get(fp->pool);
    pthread_mutex_unlock(&fp->lock);
    if (!frame->buf[0]) return AVERROR(ENOMEM);
    for (int i = 0; i < 4; i++) {
        frame->linesize[i] = fp->linesize[i];
        frame->data[i] = fp->linesize[i] ? frame->buf[0]->data + fp->offset[i] : NULL;
    }
    frame->extended_data = frame->data;
    return 0;
}

void frame_pool_reserve(struct frame_pool *fp, int count) {
    AVBufferRef **held = count > 0 ? calloc((size_t)count, sizeof *held) : NULL;
    if (!held) return;
    size_t size = 0;
    int n = 0;
    /* Every buffer taken is held, so the pool's free ones run out and it
     * carves new ones: at most COUNT gets. */
    pthread_mutex_lock(&fp->lock);
    if (fp->pool) {
        size = fp->size;
        while (fp->allocated < count && n < count && (held[n] = av_buffer_pool_get(fp->pool)))
            n++;
    }
    pthread_mutex_unlock(&fp->lock);
    long page = sysconf(_SC_PAGESIZE);
    for (int i = 0; i < n; i++) {
        volatile uint8_t *data = held[i]->data;
        for (size_t at = 0; at < size; at += (size_t)(page > 0 ? page : 4096))
            data[at] = 0; /* fresh pages: the kernel zeroes them now */
        av_buffer_unref(&held[i]);
    }
    free(held);
}

struct frame_pool *frame_pool_attach(AVCodecContext *decoder) {
    struct frame_pool *fp = calloc(1, sizeof *fp);
    if (!fp) return NULL;
    pthread_mutex_init(&fp->lock, NULL);
    decoder->opaque = fp;
    decoder->get_buffer2 = get_buffer;
#if LIBAVCODEC_VERSION_MAJOR < 60
    /* Without this, libavcodec 59 hands every get_buffer of a frame thread
     * to the thread that called the decoder and waits until that thread
     * comes back into libavcodec: frame threads then decode one after the
     * other while the caller works. libavcodec 60 assumes it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    decoder->thread_safe_callbacks = 1;
#pragma GCC diagnostic pop
#endif
    return fp;
}

void frame_pool_free(struct frame_pool *fp) {
    if (!fp) return;
    av_buffer_pool_uninit(&fp->pool); /* frames still out keep their buffers */
    if (fp->open) slab_release(fp->open);
    pthread_mutex_destroy(&fp->lock);
    free(fp);
}
