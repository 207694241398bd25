/* prefetch.c: a ring of decoded frames between a decoding thread and its
 * consumer (see prefetch.h). The end of the stream, or a failure, is passed
 * along after the frames before it. */
#include "media/prefetch.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/error.h"
#include "util/thread_name.h"

struct media_prefetch {
    struct media_reader *reader;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    AVFrame **ring;
    int capacity;   /* of the ring */
    int depth;      /* frames decoded ahead at most: first_depth, then depth */
    int next_depth; /* depth once a frame was taken */
    int head, count;
    int pictures; /* to reserve, RESERVE_STEP at a time while the ring is full */
    int ended;    /* no frame will follow the queued ones */
    int status;   /* after them: 0 at the end, or the failure */
    struct vsr_error error;
    int stop;
};

/* Pictures reserved at a time: faulting in one takes about 7 ms at 1080p on
 * a VM whose host has not backed the memory yet. */
#define RESERVE_STEP 2

static void *decode(void *arg) {
    struct media_prefetch *p = arg;
    thread_name("vsr-fetch");
    int reserved = 0;
    for (;;) {
        /* Frames come first: the pictures are reserved a few at a time while
         * the ring is full, so a consumer that starts early (a head start
         * shorter than the reserve) never waits for all of them. */
        pthread_mutex_lock(&p->lock);
        int reserve = 0;
        if (p->count >= p->depth && reserved < p->pictures)
            reserve = reserved + RESERVE_STEP < p->pictures ? reserved + RESERVE_STEP : p->pictures;
        while (!reserve && !p->stop && p->count >= p->depth)
            pthread_cond_wait(&p->changed, &p->lock);
        int stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        if (stop) return NULL;
        if (reserve) {
            media_reader_reserve(p->reader, reserve);
            reserved = reserve;
            continue;
        }

        struct vsr_error error = {0, ""};
        AVFrame *frame = NULL;
        int ret = media_reader_next(p->reader, &frame, &error);
        pthread_mutex_lock(&p->lock);
        if (ret == 1) {
            p->ring[(p->head + p->count) % p->capacity] = frame;
            p->count++;
        } else {
            p->ended = 1;
            p->status = ret;
            p->error = error;
        }
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
        if (ret != 1) return NULL;
    }
}

int media_prefetch_start(struct media_prefetch **out, struct media_reader *reader, int depth,
                         int first_depth, int pictures, struct vsr_error *error) {
    *out = NULL;
    struct media_prefetch *p = calloc(1, sizeof *p);
    if (!p) return error_set(error, VSR_E_NOMEM, "out of memory");
    p->reader = reader;
    p->next_depth = depth > 0 ? depth : 1;
    p->depth = first_depth > p->next_depth ? first_depth : p->next_depth;
    p->capacity = p->depth;
    p->pictures = pictures > 0 ? pictures : 0;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->changed, NULL);
    p->ring = calloc((size_t)p->capacity, sizeof *p->ring);
    if (!p->ring) {
        media_prefetch_stop(p);
        return error_set(error, VSR_E_NOMEM, "out of memory");
    }
    if (pthread_create(&p->thread, NULL, decode, p) != 0) {
        media_prefetch_stop(p);
        return error_set(error, VSR_E_NOMEM, "cannot start a decoding thread");
    }
    p->started = 1;
    *out = p;
    return 0;
}

int media_prefetch_next(struct media_prefetch *p, AVFrame **frame, struct vsr_error *error) {
    *frame = NULL;
    pthread_mutex_lock(&p->lock);
    while (p->count == 0 && !p->ended)
        pthread_cond_wait(&p->changed, &p->lock);
    int ret = 1;
    if (p->count > 0) {
        *frame = p->ring[p->head];
        p->ring[p->head] = NULL;
        p->head = (p->head + 1) % p->capacity;
        p->count--;
        p->depth = p->next_depth;
        pthread_cond_broadcast(&p->changed);
    } else {
        ret = p->status;
        if (ret < 0 && error) *error = p->error;
    }
    pthread_mutex_unlock(&p->lock);
    return ret;
}

void media_prefetch_stop(struct media_prefetch *p) {
    if (!p) return;
    if (p->started) {
        pthread_mutex_lock(&p->lock);
        p->stop = 1;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
    }
    for (int i = 0; p->ring && i < p->capacity; i++)
        av_frame_free(&p->ring[i]);
    free(p->ring);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->changed);
    free(p);
}
