/* connections.c: deadlines for slow clients (see connections.h). One list of
 * the open connections under one lock; a watcher thread looks at it four
 * times a second and cuts the connections past their deadline. */
#include "http/connections.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/ids.h"

/* How often the watcher looks: deadlines hold to within this. */
#define WATCH_INTERVAL_MS 250

enum phase {
    PHASE_HEAD,   /* waiting for a request's head (or the next one's) */
    PHASE_BODY,   /* reading its body */
    PHASE_ANSWER, /* the server's turn: no deadline here */
};

struct connection_state {
    struct connection_state *prev, *next;
    int fd;
    enum phase phase;
    int64_t since_ms; /* when the phase began */
    int64_t body_bytes;
    int served; /* responses sent on it */
    int nul;    /* the request line held an escaped NUL */
    int cut;    /* shut down already */
};

struct connections {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int stopping;
    int64_t header_ms, min_body_rate;
    struct connection_state *head;
};

/* A short answer before the cut, so that the client learns why. Sent only
 * while the server has not started an answer of its own (head and body
 * phases), so it never lands inside one; and not on a kept-alive connection
 * waiting for its next request, where a client could take it for the answer
 * to a request it sends just then (such a connection is closed quietly, as
 * any server closes idle keep-alive connections). */
static void cut(struct connection_state *state, const char *why) {
    static const char format[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                                 "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s";
    char body[256], text[512];
    snprintf(body, sizeof body, "{\"error\":{\"code\":\"request_timeout\",\"message\":\"%s\"}}",
             why);
    int n = snprintf(text, sizeof text, format, (int)strlen(body), body);
    int idle = state->phase == PHASE_HEAD && state->served > 0;
    if (!idle && n > 0 && (size_t)n < sizeof text) {
        ssize_t sent = send(state->fd, text, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)sent; /* best effort: the socket is cut either way */
    }
    /* shutdown, not close: MHD owns the descriptor and closes it itself,
     * after telling connections_notify (so it is never reused under us). */
    shutdown(state->fd, SHUT_RDWR);
    state->cut = 1;
}

static void watch_once(struct connections *all, int64_t now) {
    for (struct connection_state *s = all->head; s; s = s->next) {
        int64_t elapsed = now - s->since_ms;
        if (s->cut || elapsed <= all->header_ms) continue;
        if (s->phase == PHASE_HEAD)
            cut(s, "the request headers did not arrive in time; send the whole head at once");
        else if (s->phase == PHASE_BODY && all->min_body_rate > 0 &&
                 s->body_bytes < all->min_body_rate * elapsed / 1000)
            cut(s, "the request body arrives too slowly; send it faster");
    }
}

static void *watch(void *opaque) {
    struct connections *all = opaque;
    pthread_mutex_lock(&all->lock);
    while (!all->stopping) {
        watch_once(all, ids_monotonic_ms());
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += WATCH_INTERVAL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&all->wake, &all->lock, &until);
    }
    pthread_mutex_unlock(&all->lock);
    return NULL;
}

struct connections *connections_new(int header_timeout_seconds, int64_t min_body_rate) {
    struct connections *all = calloc(1, sizeof *all);
    if (!all) return NULL;
    all->header_ms = (int64_t)header_timeout_seconds * 1000;
    all->min_body_rate = min_body_rate;
    pthread_mutex_init(&all->lock, NULL);
    pthread_cond_init(&all->wake, NULL);
    if (pthread_create(&all->thread, NULL, watch, all) != 0) {
        pthread_cond_destroy(&all->wake);
        pthread_mutex_destroy(&all->lock);
        free(all);
        return NULL;
    }
    return all;
}

void connections_free(struct connections *all) {
    if (!all) return;
    pthread_mutex_lock(&all->lock);
    all->stopping = 1;
    pthread_cond_signal(&all->wake);
    pthread_mutex_unlock(&all->lock);
    pthread_join(all->thread, NULL);
    while (all->head) {
        struct connection_state *next = all->head->next;
        free(all->head);
        all->head = next;
    }
    pthread_cond_destroy(&all->wake);
    pthread_mutex_destroy(&all->lock);
    free(all);
}

void connections_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
                        enum MHD_ConnectionNotificationCode code) {
    struct connections *all = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct connection_state *state = calloc(1, sizeof *state);
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!state || !info) {
            free(state);
            return; /* the connection goes on, without deadlines */
        }
        state->fd = info->connect_fd;
        state->since_ms = ids_monotonic_ms();
        pthread_mutex_lock(&all->lock);
        state->next = all->head;
        if (all->head) all->head->prev = state;
        all->head = state;
        pthread_mutex_unlock(&all->lock);
        *socket_context = state;
        return;
    }
    struct connection_state *state = *socket_context;
    if (!state) return;
    pthread_mutex_lock(&all->lock);
    if (state->prev)
        state->prev->next = state->next;
    else
        all->head = state->next;
    if (state->next) state->next->prev = state->prev;
    pthread_mutex_unlock(&all->lock);
    free(state);
    *socket_context = NULL;
}

struct connection_state *connections_state(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void enter(struct connections *all, struct connection_state *state, enum phase phase) {
    if (!state) return;
    pthread_mutex_lock(&all->lock);
    state->phase = phase;
    state->since_ms = ids_monotonic_ms();
    state->body_bytes = 0;
    pthread_mutex_unlock(&all->lock);
}

void connections_head_received(struct connections *all, struct connection_state *state,
                               int has_body) {
    enter(all, state, has_body ? PHASE_BODY : PHASE_ANSWER);
}

void connections_body_received(struct connections *all, struct connection_state *state,
                               size_t size) {
    if (!state) return;
    pthread_mutex_lock(&all->lock);
    state->body_bytes += (int64_t)size;
    pthread_mutex_unlock(&all->lock);
}

void connections_request_received(struct connections *all, struct connection_state *state) {
    enter(all, state, PHASE_ANSWER);
}

void connections_response_sent(struct connections *all, struct connection_state *state) {
    enter(all, state, PHASE_HEAD);
    if (!state) return;
    pthread_mutex_lock(&all->lock);
    state->served++;
    pthread_mutex_unlock(&all->lock);
}

void connections_mark_nul(struct connection_state *state) {
    if (state) state->nul = 1; /* only the connection's own thread reads it */
}

int connections_take_nul(struct connection_state *state) {
    if (!state || !state->nul) return 0;
    state->nul = 0;
    return 1;
}
