/* analysis.c: reader A and the detector on their own thread (see analysis.h).
 *
 * A ring of QUEUE_MASKS full-size masks sits between the two threads: the
 * analysis thread writes the next mask into a free slot, the pipeline copies
 * it out. Only the rows a mask's subtitles cover are written and copied: the
 * rest of every mask stays zero. The end of the video, or a failure, is
 * passed along in order, after the masks before it. */
#include "engine/analysis.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/thread_name.h"

/* Enough to ride out a slow frame on either side, and to make masks in runs
 * of half as many (see run). Only a mask's band rows are ever touched. */
#define QUEUE_MASKS 16

struct analysis {
    struct luma_feed *feed;
    struct detector *detector;
    const atomic_int *cancel;
    size_t mask_size;
    size_t width;
    uint8_t *masks[QUEUE_MASKS];
    struct mask_rows rows[QUEUE_MASKS];       /* of each slot's mask */
    int64_t pts[QUEUE_MASKS];                 /* of each slot's frame as reader A saw it */
    struct detector_edges edges[QUEUE_MASKS]; /* lines each slot's frame must decide */
    pthread_t thread;
    int started;

    pthread_mutex_t lock;
    pthread_cond_t changed;
    int head, count; /* masks ready: [head, head + count) modulo QUEUE_MASKS */
    int ended;       /* no mask will follow the queued ones */
    int stop;        /* analysis_stop: the thread must exit */
    int status;      /* after the last mask: 0 at the end of the video, or the failure */
    struct vsr_error error;

    /* The thread's own state. */
    int64_t frames_pushed; /* index of the last frame pushed, plus one */
    int reader_done;
    /* The frames pushed and not yet masked, in order: (index, pts) pairs. */
    struct seen {
        int64_t index, pts;
    } * seen;
    size_t seen_head, seen_count, seen_capacity;
};

/* Notes that the detector saw frame INDEX, with PTS. Returns 0 or -1. */
static int seen_push(struct analysis *a, int64_t index, int64_t pts) {
    if (a->seen_count == a->seen_capacity) {
        size_t capacity = a->seen_capacity ? 2 * a->seen_capacity : 256;
        struct seen *grown = malloc(capacity * sizeof *grown);
        if (!grown) return -1;
        for (size_t i = 0; i < a->seen_count; i++)
            grown[i] = a->seen[(a->seen_head + i) % a->seen_capacity];
        free(a->seen);
        a->seen = grown;
        a->seen_head = 0;
        a->seen_capacity = capacity;
    }
    a->seen[(a->seen_head + a->seen_count++) % a->seen_capacity] = (struct seen){index, pts};
    return 0;
}

/* The pts reader A gave frame INDEX, or AV_NOPTS_VALUE when it skipped it.
 * Asked in increasing INDEX order. */
static int64_t seen_take(struct analysis *a, int64_t index) {
    while (a->seen_count > 0 && a->seen[a->seen_head].index <= index) {
        struct seen s = a->seen[a->seen_head];
        a->seen_head = (a->seen_head + 1) % a->seen_capacity;
        a->seen_count--;
        if (s.index == index) return s.pts;
    }
    return AV_NOPTS_VALUE;
}

/* Zeroes the rows of MASK that ROWS says may be set, and says none are. */
static void clear_rows(uint8_t *mask, size_t width, struct mask_rows *rows) {
    if (rows->y1 > rows->y0)
        memset(mask + (size_t)rows->y0 * width, 0, (size_t)(rows->y1 - rows->y0) * width);
    rows->y0 = rows->y1 = 0;
}

static int stopping(struct analysis *a) {
    pthread_mutex_lock(&a->lock);
    int stop = a->stop;
    pthread_mutex_unlock(&a->lock);
    return stop || (a->cancel && atomic_load(a->cancel));
}

/* Writes the mask of frame INDEX into MASK, feeding the detector from the
 * reader until it can tell. Returns 1, 0 past the last frame, or a failure. */
static int produce(struct analysis *a, int64_t index, uint8_t *mask, struct mask_rows *rows,
                   int64_t *pts, struct detector_edges *edges, struct vsr_error *error) {
    for (;;) {
        if (a->reader_done && index >= a->frames_pushed) return 0;
        int ret = detector_mask_edges(a->detector, index, mask, &rows->y0, &rows->y1, edges);
        if (ret == 1) {
            *pts = seen_take(a, index);
            return 1;
        }
        if (ret < 0)
            return error_set(error, ret, "subtitle detection failed on frame %lld",
                             (long long)index);
        if (a->reader_done)
            return error_set(error, VSR_E_INTERNAL,
                             "the detector wants frames past the end of the video (frame %lld)",
                             (long long)index);
        if (stopping(a)) return error_set(error, VSR_E_CANCELED, "canceled");
        struct luma_frame frame;
        ret = luma_feed_next(a->feed, &frame, error);
        if (ret < 0) return ret;
        if (ret == 0) {
            /* Frames reader A skipped may follow the last it decoded. */
            if (frame.index > a->frames_pushed) a->frames_pushed = frame.index;
            detector_finish_at(a->detector, a->frames_pushed);
            a->reader_done = 1;
            continue;
        }
        if (frame.index < a->frames_pushed)
            return error_set(error, VSR_E_INTERNAL, "frame %lld came after frame %lld",
                             (long long)frame.index, (long long)a->frames_pushed - 1);
        if (seen_push(a, frame.index, frame.pts) < 0)
            return error_set(error, VSR_E_NOMEM, "out of memory");
        ret = detector_push_plane_at(a->detector, frame.plane, frame.index);
        if (ret < 0) return error_set(error, ret, "subtitle detection failed");
        a->frames_pushed = frame.index + 1;
    }
}

static void *run(void *arg) {
    struct analysis *a = arg;
    thread_name("vsr-detect");
    for (int64_t index = 0;; index++) {
        pthread_mutex_lock(&a->lock);
        /* Full: wait until half are taken, then make that many in one go,
         * rather than take a core from the encoder at every frame. */
        if (a->count == QUEUE_MASKS)
            while (a->count > QUEUE_MASKS / 2 && !a->stop)
                pthread_cond_wait(&a->changed, &a->lock);
        int stop = a->stop, slot = (a->head + a->count) % QUEUE_MASKS;
        pthread_mutex_unlock(&a->lock);
        if (stop) break;

        struct vsr_error error = {0, ""};
        /* The slot's last mask goes; its rows outside the new band stay zero. */
        clear_rows(a->masks[slot], a->width, &a->rows[slot]);
        int ret = produce(a, index, a->masks[slot], &a->rows[slot], &a->pts[slot], &a->edges[slot],
                          &error);

        pthread_mutex_lock(&a->lock);
        if (ret == 1) {
            a->count++;
        } else {
            a->ended = 1;
            a->status = ret;
            a->error = error;
        }
        pthread_cond_broadcast(&a->changed);
        pthread_mutex_unlock(&a->lock);
        if (ret != 1) break;
    }
    return NULL;
}

int analysis_start(struct analysis **out, struct luma_feed *feed, struct detector *detector,
                   int width, int height, const atomic_int *cancel, struct vsr_error *error) {
    *out = NULL;
    struct analysis *a = calloc(1, sizeof *a);
    if (!a) {
        luma_feed_stop(feed);
        return error_set(error, VSR_E_NOMEM, "out of memory");
    }
    a->feed = feed;
    a->detector = detector;
    a->cancel = cancel;
    a->mask_size = (size_t)width * (size_t)height;
    a->width = (size_t)width;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->changed, NULL);
    for (int i = 0; i < QUEUE_MASKS; i++)
        if (!(a->masks[i] = calloc(a->mask_size, 1))) {
            analysis_stop(a);
            return error_set(error, VSR_E_NOMEM, "out of memory");
        }
    if (pthread_create(&a->thread, NULL, run, a) != 0) {
        analysis_stop(a);
        return error_set(error, VSR_E_NOMEM, "cannot start the analysis thread");
    }
    a->started = 1;
    *out = a;
    return 0;
}

int analysis_next(struct analysis *a, uint8_t *mask, struct mask_rows *rows, int64_t *pts,
                  struct detector_edges *edges, struct vsr_error *error) {
    pthread_mutex_lock(&a->lock);
    while (a->count == 0 && !a->ended)
        pthread_cond_wait(&a->changed, &a->lock);
    if (a->count == 0) {
        int status = a->status;
        if (status < 0 && error) *error = a->error;
        pthread_mutex_unlock(&a->lock);
        return status;
    }
    int slot = a->head;
    pthread_mutex_unlock(&a->lock);
    /* The slot stays ours until count drops: the thread writes only free slots. */
    clear_rows(mask, a->width, rows);
    *rows = a->rows[slot];
    *pts = a->pts[slot];
    /* The caller's buffers go back to the slot, to be filled again. */
    struct detector_edges swap = *edges;
    *edges = a->edges[slot];
    a->edges[slot] = swap;
    if (rows->y1 > rows->y0)
        memcpy(mask + (size_t)rows->y0 * a->width, a->masks[slot] + (size_t)rows->y0 * a->width,
               (size_t)(rows->y1 - rows->y0) * a->width);
    pthread_mutex_lock(&a->lock);
    a->head = (a->head + 1) % QUEUE_MASKS;
    a->count--;
    pthread_cond_broadcast(&a->changed);
    pthread_mutex_unlock(&a->lock);
    return 1;
}

void analysis_stop(struct analysis *a) {
    if (!a) return;
    if (a->started) {
        pthread_mutex_lock(&a->lock);
        a->stop = 1;
        pthread_cond_broadcast(&a->changed);
        pthread_mutex_unlock(&a->lock);
        pthread_join(a->thread, NULL);
    }
    luma_feed_stop(a->feed);
    for (int i = 0; i < QUEUE_MASKS; i++)
        free(a->masks[i]);
    free(a->seen);
    for (int i = 0; i < QUEUE_MASKS; i++)
        detector_edges_free(&a->edges[i]);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->changed);
    free(a);
}
