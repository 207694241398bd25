/* retention.c: the retention sweep and its thread (see retention.h). */
#include "service/retention.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include "service/orphans.h"
#include "util/ids.h"
#include "util/thread_name.h"

/* Files handled per store query: small enough to keep each query short. */
#define SWEEP_BATCH 64

int retention_sweep(struct store *store, struct blob *blob, int64_t retention_ms, int64_t now,
                    int *deleted, struct vsr_error *error) {
    *deleted = 0;
    struct expired_file files[SWEEP_BATCH];
    for (;;) {
        int count = 0;
        int rc = store_expired_files(store, now - retention_ms, now - RETENTION_UNUSED_GRACE_MS,
                                     files, SWEEP_BATCH, &count, error);
        if (rc != VSR_OK) return rc;
        for (int i = 0; i < count; i++) {
            /* The file goes first: a crash in between leaves a row that the
             * next sweep deletes again (a missing file is no error). */
            rc = blob_remove(blob, files[i].blob, error);
            if (rc == VSR_OK) rc = store_mark_purged(store, &files[i], error);
            if (rc != VSR_OK) return rc;
            (*deleted)++;
        }
        if (count < SWEEP_BATCH) return VSR_OK;
    }
}

struct retention_thread {
    const struct service_config *config;
    struct store *store;
    struct blob *blob;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
};

static void *retention_main(void *arg) {
    struct retention_thread *t = arg;
    thread_name("vsr-retention");
    int64_t retention_ms = (int64_t)(t->config->retention_hours * 3600.0 * 1000.0);
    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        pthread_mutex_unlock(&t->lock);
        int deleted = 0, orphans = 0;
        struct vsr_error error = {0};
        /* The first pass runs at start: a crash's leftovers go at once. */
        int rc = orphans_sweep(t->config, t->store, t->blob, ids_now_ms(), &orphans, &error);
        if (rc == VSR_OK && retention_ms > 0)
            rc = retention_sweep(t->store, t->blob, retention_ms, ids_now_ms(), &deleted, &error);
        json_t *line = NULL;
        if (rc != VSR_OK)
            line = json_pack("{s:s, s:s}", "event", "retention.failed", "error", error.message);
        else if (deleted > 0 || orphans > 0)
            line = json_pack("{s:s, s:i, s:i}", "event", "retention.swept", "deleted", deleted,
                             "orphans_deleted", orphans);
        char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
        if (text) fprintf(stderr, "%s\n", text);
        free(text);
        json_decref(line);
        pthread_mutex_lock(&t->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += t->config->cleanup_interval_seconds;
        while (!t->stopping && pthread_cond_timedwait(&t->wake, &t->lock, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int retention_start(struct retention_thread **out, const struct service_config *config,
                    struct store *store, struct blob *blob, struct vsr_error *error) {
    *out = NULL;
    struct retention_thread *t = calloc(1, sizeof *t);
    if (!t) {
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    t->config = config;
    t->store = store;
    t->blob = blob;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    if (pthread_create(&t->thread, NULL, retention_main, t) != 0) {
        pthread_mutex_destroy(&t->lock);
        pthread_cond_destroy(&t->wake);
        free(t);
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "cannot start the retention thread");
        return VSR_E_NOMEM;
    }
    *out = t;
    return VSR_OK;
}

void retention_stop(struct retention_thread *t) {
    if (!t) return;
    pthread_mutex_lock(&t->lock);
    t->stopping = 1;
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->wake);
    free(t);
}
