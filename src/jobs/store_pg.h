/* store_pg.h: what the files of the PostgreSQL job store share (store_pg.c
 * holds the operations, store_pg_pool.c the connection pool and the
 * LISTEN/NOTIFY wake-ups, store_pg_schema.c the migrations). Not part of the
 * store's public API: callers use store.h. */
#ifndef VSR_JOBS_STORE_PG_H
#define VSR_JOBS_STORE_PG_H

#include <pthread.h>

#include <libpq-fe.h>

#include "jobs/store.h"

/* Statements are prepared once per connection, by index, on first use. */
#define PG_STATEMENT_MAX 48

struct pg_connection {
    PGconn *conn;
    unsigned char prepared[PG_STATEMENT_MAX];
    struct pg_connection *next;
};

struct pg_store {
    struct store base;
    char *conninfo;
    pthread_mutex_t lock; /* guards the pool and the listener's bookkeeping */
    pthread_cond_t returned;
    struct pg_connection *idle;
    int size;   /* connections allowed (store_options.pool_size) */
    int opened; /* connections alive, idle or lent */
    int in_use;
    /* LISTEN vsr_jobs: one connection, polled by one waiting thread at a
     * time while the others wait on `notified` for its news. */
    PGconn *listener;
    int listener_busy;
    uint64_t notifications;
    pthread_cond_t notified;
    PGconn *maintenance; /* holds the advisory lock of store_maintenance_lock, or NULL */
};

/* The channel a trigger notifies whenever a job becomes queued. */
#define PG_JOBS_CHANNEL "vsr_jobs"

/* Borrows a connection, waiting while all pool_size are lent; reconnects a
 * broken one. */
int pg_acquire(struct pg_store *s, struct pg_connection **out, struct vsr_error *error);
/* Gives it back; BROKEN closes it (after a failure that may have left a
 * transaction open or the socket dead). */
void pg_release(struct pg_store *s, struct pg_connection *c, int broken);
void pg_pool_close(struct pg_store *s);

/* A database failure as VSR_E_OUTPUT with the server's message. */
int pg_fail(struct vsr_error *error, PGconn *conn, const char *what);

/* Waits up to TIMEOUT_MS for a notification on PG_JOBS_CHANNEL: 1 woken,
 * 0 timed out, negative on failure (the listener reconnects next time). */
int pg_wait_for_work(struct pg_store *s, int timeout_ms, struct vsr_error *error);

/* Brings the schema to version TARGET (0: the newest) under an advisory
 * lock, so that processes starting together migrate one after the other. */
int pg_migrate(PGconn *conn, int target, struct vsr_error *error);

/* Drops every object the migrations make (store_pg_schema.c). */
extern const char pg_drop_schema_sql[];

/* The operator's operations (store_pg_maintenance.c), as in store_ops. */
int pg_backup(struct store *store, const char *path, struct store_counts *counts,
              struct vsr_error *error);
int pg_restore_dump(struct store *store, const char *path, struct vsr_error *error);
int pg_counts(struct store *store, struct store_counts *out, struct vsr_error *error);
int pg_file_rows(struct store *store, struct file_row **out, int *count, struct vsr_error *error);
int pg_webhook_prune(struct store *store, int64_t before, int *count, struct vsr_error *error);
int pg_webhook_retry_failed(struct store *store, int64_t since, int64_t now, int *count,
                            struct vsr_error *error);
int pg_maintenance_lock(struct store *store, int take, struct vsr_error *error);

#endif
