/* store_pg_pool.c: the PostgreSQL store's connections: a pool of at most
 * store_options.pool_size, lent one per call so that no connection is shared
 * by two threads, and one more connection that LISTENs for queued jobs so
 * that idle workers sleep until there is work instead of polling. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/store_pg.h"

int pg_fail(struct vsr_error *error, PGconn *conn, const char *what) {
    const char *why = conn ? PQerrorMessage(conn) : "cannot connect";
    size_t len = strlen(why);
    while (len > 0 && (why[len - 1] == '\n' || why[len - 1] == ' '))
        len--;
    error->code = VSR_E_OUTPUT;
    snprintf(error->message, sizeof error->message,
             "database: %s failed: %.*s; check that PostgreSQL is running and VSR_DATABASE_URL"
             " is right",
             what, (int)(len > 300 ? 300 : len), why);
    return VSR_E_OUTPUT;
}

static void ignore_notice(void *opaque, const char *message) {
    (void)opaque;
    (void)message;
}

static PGconn *connect_quietly(const char *conninfo) {
    PGconn *conn = PQconnectdb(conninfo);
    /* Notices (e.g. "relation already exists, skipping") are not errors. */
    if (conn && PQstatus(conn) == CONNECTION_OK) PQsetNoticeProcessor(conn, ignore_notice, NULL);
    return conn;
}

static void connection_free(struct pg_connection *c) {
    if (!c) return;
    PQfinish(c->conn);
    free(c);
}

int pg_acquire(struct pg_store *s, struct pg_connection **out, struct vsr_error *error) {
    *out = NULL;
    pthread_mutex_lock(&s->lock);
    while (!s->idle && s->opened >= s->size)
        pthread_cond_wait(&s->returned, &s->lock);
    struct pg_connection *c = s->idle;
    if (c)
        s->idle = c->next;
    else
        s->opened++; /* reserve the slot; opened below, outside the lock */
    s->in_use++;
    pthread_mutex_unlock(&s->lock);
    if (c && PQstatus(c->conn) == CONNECTION_OK) {
        *out = c;
        return VSR_OK;
    }
    if (c) { /* broken while idle (server restart): open a new one */
        PQfinish(c->conn);
        memset(c, 0, sizeof *c);
    } else {
        c = calloc(1, sizeof *c);
    }
    if (!c) {
        pg_release(s, NULL, 1);
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    c->conn = connect_quietly(s->conninfo);
    if (PQstatus(c->conn) != CONNECTION_OK) {
        int rc = pg_fail(error, c->conn, "connecting");
        pg_release(s, c, 1);
        return rc;
    }
    *out = c;
    return VSR_OK;
}

void pg_release(struct pg_store *s, struct pg_connection *c, int broken) {
    /* A call that failed inside a transaction leaves it open: end it here,
     * and close connections that cannot be brought back to idle. */
    if (c && !broken && PQtransactionStatus(c->conn) != PQTRANS_IDLE)
        PQclear(PQexec(c->conn, "ROLLBACK"));
    if (c && (PQstatus(c->conn) != CONNECTION_OK || PQtransactionStatus(c->conn) != PQTRANS_IDLE))
        broken = 1;
    pthread_mutex_lock(&s->lock);
    s->in_use--;
    if (broken) {
        s->opened--;
    } else {
        c->next = s->idle;
        s->idle = c;
    }
    pthread_cond_signal(&s->returned);
    pthread_mutex_unlock(&s->lock);
    if (broken) connection_free(c);
}

void pg_pool_close(struct pg_store *s) {
    while (s->idle) {
        struct pg_connection *next = s->idle->next;
        connection_free(s->idle);
        s->idle = next;
    }
    PQfinish(s->listener);
    s->listener = NULL;
}

/* Opens the listener when there is none (or it broke). Called by the one
 * thread that holds listener_busy. */
static int listener_ready(struct pg_store *s, struct vsr_error *error) {
    if (s->listener && PQstatus(s->listener) == CONNECTION_OK) return VSR_OK;
    PQfinish(s->listener);
    s->listener = connect_quietly(s->conninfo);
    if (PQstatus(s->listener) != CONNECTION_OK) return pg_fail(error, s->listener, "connecting");
    PGresult *res = PQexec(s->listener, "LISTEN " PG_JOBS_CHANNEL);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    return ok ? VSR_OK : pg_fail(error, s->listener, "listening for jobs");
}

/* Polls the listener's socket up to TIMEOUT_MS; the number of notifications. */
static int poll_listener(struct pg_store *s, int timeout_ms, struct vsr_error *error) {
    int got = 0;
    PGnotify *note;
    PQconsumeInput(s->listener);
    while ((note = PQnotifies(s->listener)) != NULL) {
        got++;
        PQfreemem(note);
    }
    if (got) return got;
    struct pollfd fd = {.fd = PQsocket(s->listener), .events = POLLIN};
    int ready = poll(&fd, 1, timeout_ms);
    if (ready < 0 && errno != EINTR) return pg_fail(error, NULL, "waiting for jobs");
    if (ready > 0 && !PQconsumeInput(s->listener))
        return pg_fail(error, s->listener, "waiting for jobs");
    while ((note = PQnotifies(s->listener)) != NULL) {
        got++;
        PQfreemem(note);
    }
    return got;
}

int pg_wait_for_work(struct pg_store *s, int timeout_ms, struct vsr_error *error) {
    pthread_mutex_lock(&s->lock);
    uint64_t seen = s->notifications;
    if (s->listener_busy) {
        /* Another thread polls: wait for its news or the timeout. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (s->notifications == seen && s->listener_busy)
            if (pthread_cond_timedwait(&s->notified, &s->lock, &until) == ETIMEDOUT) break;
        int woken = s->notifications != seen;
        pthread_mutex_unlock(&s->lock);
        return woken;
    }
    s->listener_busy = 1;
    pthread_mutex_unlock(&s->lock);
    int rc = listener_ready(s, error);
    if (rc == VSR_OK) rc = poll_listener(s, timeout_ms, error);
    if (rc < 0) { /* reconnect on the next wait */
        PQfinish(s->listener);
        s->listener = NULL;
    }
    pthread_mutex_lock(&s->lock);
    s->listener_busy = 0;
    if (rc > 0) s->notifications++;
    pthread_cond_broadcast(&s->notified); /* news, or a free listener to take over */
    pthread_mutex_unlock(&s->lock);
    return rc < 0 ? rc : rc > 0;
}
