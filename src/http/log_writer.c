/* log_writer.c: see log_writer.h. Two buffers: request threads append to the
 * active one under the mutex; the flusher swaps them and writes the full one
 * without holding the mutex, so a slow log pipe never blocks requests for
 * longer than a swap (when both buffers are full, appenders wait). */
#include "http/log_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUFFER_SIZE (256 * 1024)

struct log_writer {
    int fd;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* the flusher: a buffer filled or stop */
    pthread_cond_t drained; /* appenders: the flusher emptied a buffer */
    char *active, *spare;
    size_t active_len;
    int writing; /* the flusher holds SPARE */
    int stopping;
};

static void write_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return; /* a broken log pipe must not stop the service */
        data += n;
        len -= (size_t)n;
    }
}

static void *flusher(void *arg) {
    struct log_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        if (w->active_len == 0) {
            if (w->stopping) break;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            long ns = until.tv_nsec + LOG_WRITER_FLUSH_MS * 1000000L;
            until.tv_sec += ns / 1000000000L;
            until.tv_nsec = ns % 1000000000L;
            pthread_cond_timedwait(&w->wake, &w->lock, &until);
            continue;
        }
        char *full = w->active;
        size_t len = w->active_len;
        w->active = w->spare;
        w->active_len = 0;
        w->spare = full;
        w->writing = 1;
        pthread_mutex_unlock(&w->lock);
        write_all(w->fd, full, len);
        pthread_mutex_lock(&w->lock);
        w->writing = 0;
        pthread_cond_broadcast(&w->drained);
        if (!w->stopping) { /* let lines gather for the next write */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            long ns = until.tv_nsec + LOG_WRITER_FLUSH_MS * 1000000L;
            until.tv_sec += ns / 1000000000L;
            until.tv_nsec = ns % 1000000000L;
            if (w->active_len < BUFFER_SIZE / 2) pthread_cond_timedwait(&w->wake, &w->lock, &until);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct log_writer *log_writer_new(int fd) {
    struct log_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->fd = fd;
    w->active = malloc(BUFFER_SIZE);
    w->spare = malloc(BUFFER_SIZE);
    if (!w->active || !w->spare) goto fail;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->drained, NULL);
    if (pthread_create(&w->thread, NULL, flusher, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        pthread_cond_destroy(&w->drained);
        goto fail;
    }
    return w;
fail:
    free(w->active);
    free(w->spare);
    free(w);
    return NULL;
}

void log_writer_line(struct log_writer *w, const char *text, size_t len) {
    if (len + 1 > BUFFER_SIZE) len = BUFFER_SIZE - 1; /* never happens with request lines */
    pthread_mutex_lock(&w->lock);
    while (w->active_len + len + 1 > BUFFER_SIZE) {
        pthread_cond_signal(&w->wake);
        pthread_cond_wait(&w->drained, &w->lock);
    }
    memcpy(w->active + w->active_len, text, len);
    w->active[w->active_len + len] = '\n';
    w->active_len += len + 1;
    if (w->active_len >= BUFFER_SIZE / 2) pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

void log_writer_free(struct log_writer *w) {
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->drained);
    free(w->active);
    free(w->spare);
    free(w);
}
