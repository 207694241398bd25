/* luma_feed.c: the detection pass's planes from a chain of readers (see
 * luma_feed.h).
 *
 * Each reader runs on its own thread and queues planes; the consumer takes
 * them from the current reader until it reaches the plane with the next
 * reader's first timestamp. That plane must come from the same packet of the
 * file and equal the next reader's first, which must be a keyframe: then the
 * current reader is stopped and freed, and planes come from the next from
 * there on. Until that moment the current reader pauses right after the
 * seam, so it does not decode what the next already has. If they disagree,
 * the next reader and those after it are dropped. */
#include "engine/luma_feed.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/error.h"
#include "util/huge_pages.h"
#include "util/thread_name.h"

/* How far the last reader decodes ahead of the detector: 96 planes, 22 MB at
 * any video size. When the head start ends, the fill and the encoder take a
 * second to get going (the encoder's look-ahead, its first pages) and a core
 * is left idle; a reader this far ahead spends it decoding the frames it
 * would otherwise decode later, beside them. */
#define STEADY_PLANES 96
#define SPARE_PLANES  STEADY_PLANES /* freed planes kept for reuse; the rest are unmapped */
#define MAX_READERS   3
#define SLAB_BYTES    HUGE_PAGE
#define SLAB_HEADER   64 /* struct slab, at the slab's start */

struct queued {
    uint8_t *pixels;
    int64_t pts;
    int64_t pos;   /* of the frame's packet in the file, -1 when unknown */
    int64_t index; /* the frame's, from the segment's first (media_reader_index) */
};

struct segment {
    struct luma_feed *feed;
    int index;                   /* in the chain */
    struct media_reader *reader; /* the second's is opened by its thread */
    pthread_t thread;
    int started;
    uint16_t *row_sums; /* detector_shrink's scratch */

    /* Under the feed's lock. */
    struct queued *ring;
    int capacity, head, count;
    int limit;            /* planes it may queue before it waits */
    int ended;            /* no plane will follow the queued ones: status says why */
    int status;           /* 0 at the end of the video, or the failure */
    int64_t frames_total; /* at the end of the video: media_reader_frames_total */
    int64_t base;         /* its first frame's index in the video, once it is current */
    struct vsr_error error;
    int stop;         /* the thread must exit */
    int has_first;    /* a plane went into the queue; first_pts is its */
    int first_is_key; /* that frame was a keyframe */
    int64_t first_pts;
    int64_t last_pts; /* of the plane queued last */
    int has_pause;    /* pause after queueing a plane at or past pause_pts */
    int64_t pause_pts;
    int paused;
};

struct luma_feed {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    const struct detector *detector;
    size_t plane_bytes;  /* a plane's share of a slab */
    size_t plane_pixels; /* the detector's plane: width x height */
    struct segment segments[MAX_READERS];
    int chain;         /* segments in use: those past current run and are unjudged */
    int current;       /* the segment planes come from */
    uint8_t *given;    /* the plane luma_feed_next handed out last */
    int64_t given_pts; /* its pts, AV_NOPTS_VALUE before the first */
    uint8_t *spare[SPARE_PLANES];
    int spares;
    struct slab *open_slab; /* planes are carved from it */
    /* For the readers after the first, which their own threads open. */
    struct media_streams *streams; /* the first's, taken before it ran */
    int threads, flags;
    int64_t seam_ts[MAX_READERS]; /* segment i starts at the first keyframe from here */
    int64_t late_ts;              /* a first frame past here is too late to help */
};

/* Planes come and go by the hundred over the head start and a few later.
 * They are carved, front to back, from 2 MB mappings aligned to 2 MB and
 * advised as huge pages: a 4 KB page fault costs about 12 us on these VMs, a
 * plane of 640x360 takes 57 of them, and a huge page holds 9 planes for one
 * fault. A slab is unmapped once carved full and its last plane freed, so the
 * memory the head start took goes back to the system. */
struct slab {
    size_t used; /* bytes carved, the header included */
    int live;    /* planes carved and not freed */
};

static struct slab *slab_map(void) {
    struct slab *slab = huge_pages_map(SLAB_BYTES);
    if (!slab) return NULL;
    slab->used = SLAB_HEADER;
    slab->live = 0;
    return slab;
}

static struct slab *slab_of(const uint8_t *pixels) {
    return (struct slab *)((uintptr_t)pixels & ~(uintptr_t)(SLAB_BYTES - 1));
}

/* Whether planes fit slabs; when not (wider than any video yet), each is a
 * mapping of its own. */
static int slabbed(const struct luma_feed *f) {
    return f->plane_bytes <= SLAB_BYTES - SLAB_HEADER;
}

/* Under the lock, as plane_free. */
static uint8_t *plane_new(struct luma_feed *f) {
    if (f->spares > 0) return f->spare[--f->spares];
    if (!slabbed(f)) {
        void *p =
            mmap(NULL, f->plane_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    struct slab *slab = f->open_slab;
    if (!slab || slab->used + f->plane_bytes > SLAB_BYTES) {
        struct slab *fresh = slab_map();
        if (!fresh) return NULL;
        if (slab && slab->live == 0) munmap(slab, SLAB_BYTES);
        slab = f->open_slab = fresh;
    }
    uint8_t *pixels = (uint8_t *)slab + slab->used;
    slab->used += f->plane_bytes;
    slab->live++;
    return pixels;
}

static void plane_release(struct luma_feed *f, uint8_t *pixels) {
    if (!slabbed(f)) {
        munmap(pixels, f->plane_bytes);
        return;
    }
    struct slab *slab = slab_of(pixels);
    if (--slab->live == 0 && slab != f->open_slab) munmap(slab, SLAB_BYTES);
}

static void plane_free(struct luma_feed *f, uint8_t *pixels) {
    if (!pixels) return;
    if (f->spares < SPARE_PLANES)
        f->spare[f->spares++] = pixels;
    else
        plane_release(f, pixels);
}

/* Ends SEGMENT with STATUS (under the lock). */
static void segment_end(struct segment *s, int status, const struct vsr_error *error) {
    s->ended = 1;
    s->status = status;
    if (status < 0 && error) s->error = *error;
    pthread_cond_broadcast(&s->feed->changed);
}

/* A reader after the first: opened here, off the consumer's thread, and moved
 * to its keyframe. Returns 1 when it can decode, else 0 (it is dropped). */
static int open_later(struct segment *s) {
    struct luma_feed *f = s->feed;
    struct vsr_error error = {0, ""};
    struct media_reader *reader = NULL;
    if (media_reader_open_as(&reader, f->streams, f->threads, f->flags, f->seam_ts[s->index],
                             &error) < 0)
        return 0;
    pthread_mutex_lock(&f->lock);
    s->reader = reader;
    pthread_mutex_unlock(&f->lock);
    return 1;
}

static void drop_from(struct luma_feed *f, int index);

static void *decode(void *arg) {
    struct segment *s = arg;
    struct luma_feed *f = s->feed;
    thread_name("vsr-feed");
    if (!s->reader && !open_later(s)) {
        pthread_mutex_lock(&f->lock);
        segment_end(s, 0, NULL);
        if (s->index < f->chain) drop_from(f, s->index); /* the one before may wait at the seam */
        pthread_mutex_unlock(&f->lock);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&f->lock);
        /* Once full, a reader waits until half its planes are taken, then
         * decodes that many in one go: woken for every plane taken, it took
         * a core from the encoder at every frame. */
        int refill = 0; /* it waited full: it waits on until half the limit is left */
        while (!s->stop &&
               (s->count >= s->limit || s->paused || (refill && s->count > s->limit / 2))) {
            if (s->count >= s->limit) refill = 1;
            pthread_cond_wait(&f->changed, &f->lock);
        }
        int stop = s->stop;
        pthread_mutex_unlock(&f->lock);
        if (stop) break;

        struct vsr_error error = {0, ""};
        AVFrame *frame = NULL;
        int ret = media_reader_next(s->reader, &frame, &error);
        if (ret <= 0) {
            pthread_mutex_lock(&f->lock);
            if (ret == 0) s->frames_total = media_reader_frames_total(s->reader);
            segment_end(s, ret, &error);
            if (s->index > 0 && s->index < f->chain && !s->has_first) drop_from(f, s->index);
            pthread_mutex_unlock(&f->lock);
            break;
        }
        pthread_mutex_lock(&f->lock);
        uint8_t *pixels = plane_new(f);
        pthread_mutex_unlock(&f->lock);
        if (pixels) detector_shrink(f->detector, frame, pixels, s->row_sums);
        int64_t pts = frame->pts, pos = frame->pkt_pos, index = media_reader_index(s->reader);
        int key = frame->key_frame;
        av_frame_free(&frame);

        pthread_mutex_lock(&f->lock);
        if (s->stop) { /* dropped, or replaced, while it decoded */
            plane_free(f, pixels);
            pthread_mutex_unlock(&f->lock);
            break;
        }
        if (!pixels) {
            error_set(&error, VSR_E_NOMEM, "out of memory");
            segment_end(s, VSR_E_NOMEM, &error);
            pthread_mutex_unlock(&f->lock);
            break;
        }
        s->ring[(s->head + s->count) % s->capacity] = (struct queued){pixels, pts, pos, index};
        s->count++;
        s->last_pts = pts;
        if (!s->has_first) {
            s->has_first = 1;
            s->first_pts = pts;
            s->first_is_key = key;
            int later = s->index > 0 && s->index < f->chain;
            if (later && (pts == AV_NOPTS_VALUE || pts > f->late_ts)) {
                /* No keyframe inside the head start after all: its planes
                 * would only wait, and hold memory, until the one before
                 * got there. */
                drop_from(f, s->index);
            } else if (later) {
                /* The seam is exactly here: the reader before stops past it. */
                struct segment *before = &f->segments[s->index - 1];
                before->pause_pts = pts;
                if (before->paused && before->last_pts < pts) before->paused = 0;
            }
        }
        if (s->has_pause && pts != AV_NOPTS_VALUE && pts >= s->pause_pts) s->paused = 1;
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->lock);
    }
    /* Done with it: its decoder's pictures go back now, not at the end. */
    pthread_mutex_lock(&f->lock);
    struct media_reader *reader = s->reader;
    s->reader = NULL;
    pthread_mutex_unlock(&f->lock);
    media_reader_free(reader);
    return NULL;
}

/* Stops S's thread and frees its queued planes. Under the lock. */
static void retire(struct luma_feed *f, struct segment *s) {
    s->stop = 1;
    for (; s->count > 0; s->count--) {
        plane_free(f, s->ring[s->head].pixels);
        s->head = (s->head + 1) % s->capacity;
    }
}

/* Drops segment INDEX and those after it: the one before goes on past
 * their seam. Under the lock. */
static void drop_from(struct luma_feed *f, int index) {
    for (int i = index; i < f->chain; i++)
        retire(f, &f->segments[i]);
    f->chain = index;
    struct segment *last = &f->segments[index - 1];
    last->has_pause = 0;
    last->paused = 0;
    if (index - 1 == f->current) last->limit = STEADY_PLANES;
    pthread_cond_broadcast(&f->changed);
}

/* Planes from here on come from the next segment. Under the lock. */
static void switch_to_next(struct luma_feed *f, const struct queued *seam) {
    f->segments[f->current + 1].base = f->segments[f->current].base + seam->index;
    retire(f, &f->segments[f->current]);
    f->current++;
    /* The last reader goes on to the end, STEADY_PLANES ahead; one before it
     * still stops at its seam. */
    if (f->current == f->chain - 1) f->segments[f->current].limit = STEADY_PLANES;
    pthread_cond_broadcast(&f->changed);
}

/* Judges the seam when the current segment's next plane NEXT is at or past
 * the next segment's start. Under the lock. */
static void judge_seam(struct luma_feed *f, const struct queued *next) {
    int after = f->current + 1;
    struct segment *second = &f->segments[after];
    if (!second->has_first) {
        if (second->ended) drop_from(f, after); /* it failed before any frame */
        return;
    }
    if (next->pts == AV_NOPTS_VALUE || second->first_pts == AV_NOPTS_VALUE) {
        drop_from(f, after);
        return;
    }
    if (next->pts < second->first_pts) return;
    /* The same frame: same time, same packet in the file (a clip looped
     * with its timestamps starting again shows the same picture at the same
     * time twice), a keyframe, and the same picture. */
    const struct queued *theirs = &second->ring[second->head];
    if (next->pts == second->first_pts && next->pos >= 0 && next->pos == theirs->pos &&
        second->first_is_key && memcmp(next->pixels, theirs->pixels, f->plane_pixels) == 0)
        switch_to_next(f, next);
    else
        drop_from(f, after);
}

int luma_feed_next(struct luma_feed *f, struct luma_frame *out, struct vsr_error *error) {
    *out = (struct luma_frame){NULL, 0, AV_NOPTS_VALUE};
    pthread_mutex_lock(&f->lock);
    plane_free(f, f->given);
    f->given = NULL;
    for (;;) {
        struct segment *s = &f->segments[f->current];
        if (s->count > 0) {
            if (f->current + 1 < f->chain) {
                int was = f->current;
                judge_seam(f, &s->ring[s->head]);
                if (f->current != was) continue; /* switched: the plane is the next's */
            }
            struct queued q = s->ring[s->head];
            s->head = (s->head + 1) % s->capacity;
            s->count--;
            pthread_cond_broadcast(&f->changed);
            f->given = q.pixels;
            f->given_pts = q.pts;
            int64_t index = s->base + q.index;
            pthread_mutex_unlock(&f->lock);
            *out = (struct luma_frame){q.pixels, index, q.pts};
            return 1;
        }
        if (f->current + 1 < f->chain) {
            /* The next failed before its first plane, or the seam went by
             * before the next knew where it was. */
            const struct segment *second = &f->segments[f->current + 1];
            if ((second->ended && !second->has_first) ||
                (second->has_first && f->given_pts != AV_NOPTS_VALUE &&
                 second->first_pts != AV_NOPTS_VALUE && f->given_pts >= second->first_pts)) {
                drop_from(f, f->current + 1);
                continue;
            }
        }
        if (s->ended) {
            if (f->current + 1 < f->chain) drop_from(f, f->current + 1);
            int status = s->status;
            if (status < 0 && error) *error = s->error;
            if (status == 0) out->index = s->base + s->frames_total;
            pthread_mutex_unlock(&f->lock);
            return status;
        }
        pthread_cond_wait(&f->changed, &f->lock);
    }
}

int luma_feed_readers_used(struct luma_feed *f) {
    pthread_mutex_lock(&f->lock);
    int used = f->current + 1;
    pthread_mutex_unlock(&f->lock);
    return used;
}

static int segment_init(struct luma_feed *f, int index, struct media_reader *reader, int capacity) {
    struct segment *s = &f->segments[index];
    s->feed = f;
    s->index = index;
    s->last_pts = AV_NOPTS_VALUE;
    s->reader = reader;
    s->capacity = capacity;
    s->limit = capacity;
    s->ring = calloc((size_t)capacity, sizeof *s->ring);
    s->row_sums = malloc(detector_shrink_scratch(f->detector) * sizeof *s->row_sums);
    return s->ring && s->row_sums ? 0 : -1;
}

/* Picks the keyframes the readers after the first start from: of the index's
 * keyframes in the middle three quarters of the head start, the one or two
 * that make the longest stretch of it any reader decodes shortest. On CORES
 * cores the head start takes at least head / CORES however it is split, so a
 * third reader only when it brings the time down by a tenth of the head
 * start: it costs an opening, a decoder's memory, and the cores' caches.
 * Without an index (Matroska's fills in as it is read), one more reader
 * seeks to the first keyframe past the middle. Returns how many readers. */
static int choose_seams(struct luma_feed *f, const struct media_reader *reader, double head,
                        long cores, double *seam_at) {
    enum { CANDIDATES = 64 };
    int64_t ts[CANDIDATES];
    double at[CANDIDATES];
    int n = media_reader_keyframes(reader, head / 8, head * 7 / 8, ts, at, CANDIDATES);
    if (n == 0) {
        f->seam_ts[1] = media_reader_ts_at(reader, head / 2);
        seam_at[1] = head / 2;
        return 2;
    }
    int best_i = 0;
    double best = head;
    for (int i = 0; i < n; i++) {
        double longest = at[i] > head - at[i] ? at[i] : head - at[i];
        if (longest < best) best = longest, best_i = i;
    }
    f->seam_ts[1] = ts[best_i];
    seam_at[1] = at[best_i];
    int three_i = -1, three_j = -1;
    double three = head;
    for (int i = 0; i < n && MAX_READERS >= 3; i++)
        for (int j = i + 1; j < n; j++) {
            double a = at[i], b = at[j] - at[i], c = head - at[j];
            double longest = a > b ? (a > c ? a : c) : (b > c ? b : c);
            if (longest < three) three = longest, three_i = i, three_j = j;
        }
    double floor = head / (double)cores;
    if (best < floor) best = floor;
    if (three < floor) three = floor;
    if (three_i < 0 || three > best - head / 10) return 2;
    f->seam_ts[1] = ts[three_i];
    f->seam_ts[2] = ts[three_j];
    seam_at[1] = at[three_i];
    seam_at[2] = at[three_j];
    return 3;
}

int luma_feed_start(struct luma_feed **out, struct media_reader *reader, int threads, int flags,
                    const struct detector *detector, double fps, struct vsr_error *error) {
    *out = NULL;
    struct luma_feed *f = calloc(1, sizeof *f);
    if (!f) {
        media_reader_free(reader);
        return error_set(error, VSR_E_NOMEM, "out of memory");
    }
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->changed, NULL);
    f->detector = detector;
    int w, h;
    detector_plane_size(detector, &w, &h);
    f->plane_pixels = (size_t)w * (size_t)h;
    f->plane_bytes = (f->plane_pixels + 63) / 64 * 64; /* planes stay 64-byte aligned */
    f->streams = media_reader_streams(reader);
    f->threads = threads;
    f->flags = flags;

    /* Readers after the first start at keyframes inside the head start (or
     * the video, when shorter), chosen so that the longest stretch any one
     * reader decodes is shortest; each may queue what lies between its
     * keyframe and the head start's end. The one before pauses at that
     * keyframe until the next knows the exact frame. */
    const struct media_info *info = media_reader_info(reader);
    if (fps <= 0) fps = 25;
    double head = detector_lookahead(detector) / fps;
    if (info->duration_seconds > 0 && info->duration_seconds < head) head = info->duration_seconds;
    /* On one core the readers would share it: nothing to gain. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double seam_at[MAX_READERS] = {0};
    f->chain = f->streams && cores > 1 ? choose_seams(f, reader, head, cores, seam_at) : 1;
    f->late_ts = media_reader_ts_at(reader, head);
    f->given_pts = AV_NOPTS_VALUE;

    for (int i = 0; i < f->chain; i++) {
        /* A later reader queues up to the head start's end, and a few more:
         * the last one decodes no further ahead while the others catch up. */
        int planes = i ? (int)((head - seam_at[i]) * fps) + STEADY_PLANES : STEADY_PLANES;
        if (segment_init(f, i, i ? NULL : reader, planes) < 0) {
            luma_feed_stop(f);
            return error_set(error, VSR_E_NOMEM, "out of memory");
        }
    }
    for (int i = 0; i + 1 < f->chain; i++) {
        f->segments[i].has_pause = 1;
        f->segments[i].pause_pts = f->seam_ts[i + 1];
    }
    /* A started reader may drop the segments after it (f->chain) at once:
     * all start under the lock, so none is read while it changes. */
    int started = 1;
    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < f->chain && started; i++) {
        started = pthread_create(&f->segments[i].thread, NULL, decode, &f->segments[i]) == 0;
        f->segments[i].started = started;
    }
    pthread_mutex_unlock(&f->lock);
    if (!started) {
        luma_feed_stop(f);
        return error_set(error, VSR_E_NOMEM, "cannot start a decoding thread");
    }
    *out = f;
    return 0;
}

void luma_feed_stop(struct luma_feed *f) {
    if (!f) return;
    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < MAX_READERS; i++)
        f->segments[i].stop = 1;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->lock);
    for (int i = 0; i < MAX_READERS; i++) {
        struct segment *s = &f->segments[i];
        if (s->started) pthread_join(s->thread, NULL);
        retire(f, s); /* its planes join the spares, unmapped below */
        media_reader_free(s->reader);
        free(s->ring);
        free(s->row_sums);
    }
    plane_free(f, f->given);
    for (int i = 0; i < f->spares; i++)
        plane_release(f, f->spare[i]);
    if (f->open_slab) munmap(f->open_slab, SLAB_BYTES); /* every plane is back */
    media_streams_free(f->streams);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->changed);
    free(f);
}
