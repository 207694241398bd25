/* events.c: a job's state as Server-Sent Events (events.h). Each stream
 * looks at the job at most every TICK_MS; between looks its connection is
 * suspended (MHD_suspend_connection, allowed from a content reader) and the
 * ticker resumes it, so a thousand watchers cost no thread each. */
#include "http/events.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_internal.h"
#include "util/ids.h"

#define TICK_MS      500
#define REFRESH_MS   5000  /* the ETA and timings move without a new state */
#define KEEPALIVE_MS 15000 /* a comment line, so proxies keep the stream */

struct stream {
    struct events *events;
    struct http_server *server;
    struct MHD_Connection *connection;
    char key_id[STORE_ID_SIZE];
    char job_id[STORE_ID_SIZE];
    char signature[96]; /* state, progress, position of the last event */
    int64_t last_look_ms, last_sent_ms;
    int done;      /* the final state was sent */
    char *pending; /* an event not yet handed to MHD */
    size_t pending_len, pending_off;
    struct stream *next; /* in the suspended list */
};

struct events {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t ticker;
    int stopping;
    struct stream *suspended; /* resumed by the ticker */
};

static void *tick(void *arg) {
    struct events *events = arg;
    pthread_mutex_lock(&events->lock);
    while (!events->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&events->wake, &events->lock, &until);
        /* Once resumed, a stream may end and be freed at once: its next
         * is read first. */
        for (struct stream *s = events->suspended, *next; s; s = next) {
            next = s->next;
            MHD_resume_connection(s->connection);
        }
        events->suspended = NULL;
    }
    pthread_mutex_unlock(&events->lock);
    return NULL;
}

struct events *events_new(void) {
    struct events *events = calloc(1, sizeof *events);
    if (!events) return NULL;
    pthread_mutex_init(&events->lock, NULL);
    pthread_cond_init(&events->wake, NULL);
    if (pthread_create(&events->ticker, NULL, tick, events) != 0) {
        pthread_cond_destroy(&events->wake);
        pthread_mutex_destroy(&events->lock);
        free(events);
        return NULL;
    }
    return events;
}

void events_shutdown(struct events *events) {
    if (!events) return;
    pthread_mutex_lock(&events->lock);
    if (events->stopping) {
        pthread_mutex_unlock(&events->lock);
        return;
    }
    events->stopping = 1; /* the ticker resumes the last ones as it leaves */
    pthread_cond_signal(&events->wake);
    pthread_mutex_unlock(&events->lock);
    pthread_join(events->ticker, NULL);
}

void events_free(struct events *events) {
    if (!events) return;
    events_shutdown(events);
    pthread_cond_destroy(&events->wake);
    pthread_mutex_destroy(&events->lock);
    free(events);
}

/* Looks at the job; queues an event in S->pending when there is news.
 * 0, or -1 when the job cannot be read (the stream ends). */
static int look(struct stream *s, int64_t now) {
    struct job job;
    struct vsr_error error = {0};
    s->last_look_ms = now;
    if (store_job_get(s->server->store, s->key_id, s->job_id, &job, &error) != 1) return -1;
    json_t *json = api_job_json(s->server, &job);
    if (!json) return -1;
    char signature[sizeof s->signature];
    snprintf(signature, sizeof signature, "%d %.1f %lld", (int)job.state, job.progress,
             (long long)json_integer_value(json_object_get(json, "queue_position")));
    int final = job.state == JOB_SUCCEEDED || job.state == JOB_FAILED || job.state == JOB_CANCELED;
    if (strcmp(signature, s->signature) != 0 || now - s->last_sent_ms >= REFRESH_MS) {
        char *text = json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(12));
        size_t size = text ? strlen(text) + 32 : 0;
        s->pending = text ? malloc(size) : NULL;
        if (s->pending) {
            s->pending_len = (size_t)snprintf(s->pending, size, "event: job\ndata: %s\n\n", text);
            s->pending_off = 0;
            s->last_sent_ms = now;
            snprintf(s->signature, sizeof s->signature, "%s", signature);
            s->done = final;
        }
        free(text);
    }
    json_decref(json);
    return 0;
}

static ssize_t read_events(void *cls, uint64_t pos, char *buf, size_t max) {
    struct stream *s = cls;
    for (;;) {
        if (s->pending) {
            size_t n = s->pending_len - s->pending_off;
            if (n > max) n = max;
            memcpy(buf, s->pending + s->pending_off, n);
            s->pending_off += n;
            if (s->pending_off == s->pending_len) {
                free(s->pending);
                s->pending = NULL;
            }
            return (ssize_t)n;
        }
        if (s->done) return MHD_CONTENT_READER_END_OF_STREAM;
        int64_t now = ids_monotonic_ms();
        if (now - s->last_look_ms >= TICK_MS) {
            if (look(s, now) != 0) return MHD_CONTENT_READER_END_OF_STREAM;
            if (s->pending) continue;
        }
        if (now - s->last_sent_ms >= KEEPALIVE_MS) {
            s->pending = strdup(": keep-alive\n\n");
            if (!s->pending) return MHD_CONTENT_READER_END_WITH_ERROR;
            s->pending_len = strlen(s->pending);
            s->pending_off = 0;
            s->last_sent_ms = now;
            continue;
        }
        /* Nothing new: wait for the ticker without holding the thread.
         * Under the lock, so that a shutdown never misses this one. */
        struct events *events = s->events;
        pthread_mutex_lock(&events->lock);
        if (events->stopping) {
            pthread_mutex_unlock(&events->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        s->next = events->suspended;
        events->suspended = s;
        MHD_suspend_connection(s->connection);
        pthread_mutex_unlock(&events->lock);
        return 0;
    }
}

static void free_stream(void *cls) {
    struct stream *s = cls;
    free(s->pending);
    free(s);
}

enum MHD_Result api_job_events(struct request *req) {
    struct http_server *server = req->server;
    struct job job;
    struct vsr_error error = {0};
    int found = store_job_get(server->store, req->key.id, req->id, &job, &error);
    if (found < 0)
        return http_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "database_unavailable",
                                  error.message, NULL);
    if (found == 0)
        return http_respond_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such job", NULL);
    struct stream *s = calloc(1, sizeof *s);
    if (!s) return MHD_NO;
    s->events = server->events;
    s->server = server;
    s->connection = req->connection;
    snprintf(s->key_id, sizeof s->key_id, "%s", req->key.id);
    snprintf(s->job_id, sizeof s->job_id, "%s", req->id);
    s->last_look_ms = ids_monotonic_ms() - TICK_MS; /* the first call looks at once */
    s->last_sent_ms = s->last_look_ms;
    struct MHD_Response *response =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_events, s, free_stream);
    if (!response) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(response, "Content-Type", "text/event-stream");
    MHD_add_response_header(response, "Cache-Control", "no-store");
    /* nginx buffers proxied answers unless told not to. */
    MHD_add_response_header(response, "X-Accel-Buffering", "no");
    return http_respond(req, MHD_HTTP_OK, response);
}
