/* store_pg_maintenance.c: the PostgreSQL store's operator side (see
 * store.h): backups by pg_dump -Fc on a snapshot exported from the
 * transaction that counts the rows, restores by pg_restore, the files rows
 * name, webhook pruning, and the daily run's advisory lock. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "jobs/store_pg.h"

/* Any constant shared by every vsr process; the migrations use 7762802. */
#define MAINTENANCE_LOCK_ID "7762803"

extern char **environ;

/* Runs ARGV (argv[0] found on PATH) and waits; its stderr is the user's. */
static int run_tool(char *const argv[], struct vsr_error *error) {
    pid_t pid;
    int status = 0, spawned = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (spawned != 0) {
        error->code = VSR_E_USAGE;
        snprintf(error->message, sizeof error->message,
                 "cannot run %s: %s; install Debian's postgresql-client (same major version as"
                 " the server or newer) so that it is on PATH",
                 argv[0], strerror(spawned));
        return VSR_E_USAGE;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return VSR_OK;
    error->code = VSR_E_OUTPUT;
    snprintf(error->message, sizeof error->message, "%s failed (exit status %d): see its message",
             argv[0], WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return VSR_E_OUTPUT;
}

static int tuples(PGconn *conn, const char *sql, int params, const char *const *values,
                  PGresult **out, const char *what, struct vsr_error *error) {
    /* PQexec for several statements in one string (no parameters). */
    PGresult *res =
        params ? PQexecParams(conn, sql, params, NULL, values, NULL, NULL, 0) : PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        int rc = pg_fail(error, conn, what);
        PQclear(res);
        return rc;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return VSR_OK;
}

#define COUNTS_SQL                                                                                 \
    "(SELECT coalesce(max(version), 0) FROM vsr_schema), (SELECT count(*) FROM jobs),"             \
    " (SELECT count(*) FROM api_keys), (SELECT count(*) FROM uploads)"

static void read_counts(const PGresult *res, int col, struct store_counts *out) {
    out->schema_version = atoi(PQgetvalue(res, 0, col));
    out->jobs = strtoll(PQgetvalue(res, 0, col + 1), NULL, 10);
    out->keys = strtoll(PQgetvalue(res, 0, col + 2), NULL, 10);
    out->uploads = strtoll(PQgetvalue(res, 0, col + 3), NULL, 10);
}

/* The counts and pg_dump see the same snapshot: this transaction exports
 * it and stays open until pg_dump is done (--snapshot). */
int pg_backup(struct store *store, const char *path, struct store_counts *counts,
              struct vsr_error *error) {
    struct pg_store *s = (struct pg_store *)store;
    char partial[4096], snapshot[128], file_arg[4200], snapshot_arg[160];
    if (snprintf(partial, sizeof partial, "%s.partial", path) >= (int)sizeof partial) {
        error->code = VSR_E_USAGE;
        snprintf(error->message, sizeof error->message, "backup path is too long");
        return VSR_E_USAGE;
    }
    struct pg_connection *c;
    PGresult *res = NULL;
    int rc = pg_acquire(s, &c, error);
    if (rc != VSR_OK) return rc;
    rc = tuples(c->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL, NULL,
                "starting the backup", error);
    if (rc == VSR_OK)
        rc = tuples(c->conn, "SELECT pg_export_snapshot(), " COUNTS_SQL, 0, NULL, &res,
                    "counting the rows", error);
    if (rc != VSR_OK) goto done;
    snprintf(snapshot, sizeof snapshot, "%s", PQgetvalue(res, 0, 0));
    read_counts(res, 1, counts);
    snprintf(file_arg, sizeof file_arg, "--file=%s", partial);
    snprintf(snapshot_arg, sizeof snapshot_arg, "--snapshot=%s", snapshot);
    char *argv[] = {"pg_dump", "--format=custom", "--no-owner", snapshot_arg,
                    file_arg,  "--dbname",        s->conninfo,  NULL};
    remove(partial);
    rc = run_tool(argv, error);
    if (rc == VSR_OK && rename(partial, path) != 0) {
        error->code = rc = VSR_E_OUTPUT;
        snprintf(error->message, sizeof error->message, "cannot move the backup to %.400s", path);
    }
    if (rc != VSR_OK) remove(partial);
done:
    PQclear(res);
    pg_release(s, c,
               tuples(c->conn, "COMMIT", 0, NULL, NULL, "ending the backup", error) != VSR_OK);
    return rc;
}

/* What the migrations made goes first (a dump of an older schema lacks
 * some of it, and the store's open just made the newest), then pg_restore
 * loads the dump in one transaction. */
int pg_restore_dump(struct store *store, const char *path, struct vsr_error *error) {
    struct pg_store *s = (struct pg_store *)store;
    struct pg_connection *c;
    int rc = pg_acquire(s, &c, error);
    if (rc != VSR_OK) return rc;
    rc = tuples(c->conn, pg_drop_schema_sql, 0, NULL, NULL, "emptying the database", error);
    pg_release(s, c, rc != VSR_OK);
    if (rc != VSR_OK) return rc;
    char file[4200];
    snprintf(file, sizeof file, "%s", path);
    char *argv[] = {"pg_restore",
                    "--no-owner",
                    "--no-privileges",
                    "--single-transaction",
                    "--exit-on-error",
                    "--dbname",
                    s->conninfo,
                    file,
                    NULL};
    return run_tool(argv, error);
}

int pg_counts(struct store *store, struct store_counts *out, struct vsr_error *error) {
    struct pg_store *s = (struct pg_store *)store;
    struct pg_connection *c;
    PGresult *res = NULL;
    int rc = pg_acquire(s, &c, error);
    if (rc != VSR_OK) return rc;
    rc = tuples(c->conn, "SELECT " COUNTS_SQL, 0, NULL, &res, "counting the rows", error);
    if (rc == VSR_OK) read_counts(res, 0, out);
    PQclear(res);
    pg_release(s, c, rc != VSR_OK);
    return rc;
}

int pg_file_rows(struct store *store, struct file_row **out, int *count, struct vsr_error *error) {
    struct pg_store *s = (struct pg_store *)store;
    struct pg_connection *c;
    PGresult *res = NULL;
    int rc = pg_acquire(s, &c, error);
    if (rc != VSR_OK) return rc;
    rc = tuples(c->conn,
                "SELECT 1, id, blob, (state = 1)::int FROM uploads WHERE purged_at = 0"
                " AND blob <> '' UNION ALL SELECT 0, id, input_blob, 0 FROM jobs"
                " WHERE purged_at = 0 AND input_blob <> '' UNION ALL SELECT 0, id, output_blob,"
                " (state = 'succeeded')::int FROM jobs WHERE purged_at = 0 AND output_blob <> ''",
                0, NULL, &res, "listing the stored files", error);
    int rows = rc == VSR_OK ? PQntuples(res) : 0;
    if (rc == VSR_OK && rows > 0 && !(*out = calloc((size_t)rows, sizeof **out))) {
        error->code = rc = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
    }
    for (int i = 0; rc == VSR_OK && i < rows; i++) {
        struct file_row *row = &(*out)[i];
        row->is_upload = atoi(PQgetvalue(res, i, 0));
        snprintf(row->owner_id, sizeof row->owner_id, "%s", PQgetvalue(res, i, 1));
        snprintf(row->blob, sizeof row->blob, "%s", PQgetvalue(res, i, 2));
        row->must_exist = atoi(PQgetvalue(res, i, 3));
        *count = i + 1;
    }
    PQclear(res);
    pg_release(s, c, rc == VSR_E_OUTPUT);
    return rc;
}

static int change(struct pg_store *s, const char *sql, int64_t a, int64_t b, int *count,
                  const char *what, struct vsr_error *error) {
    char first[32], second[32];
    snprintf(first, sizeof first, "%lld", (long long)a);
    snprintf(second, sizeof second, "%lld", (long long)b);
    const char *values[] = {first, second};
    struct pg_connection *c;
    PGresult *res = NULL;
    int rc = pg_acquire(s, &c, error);
    if (rc != VSR_OK) return rc;
    rc = tuples(c->conn, sql, strstr(sql, "$2") ? 2 : 1, values, &res, what, error);
    if (rc == VSR_OK) *count = atoi(PQcmdTuples(res));
    PQclear(res);
    pg_release(s, c, rc != VSR_OK);
    return rc;
}

int pg_webhook_prune(struct store *store, int64_t before, int *count, struct vsr_error *error) {
    return change((struct pg_store *)store,
                  "DELETE FROM webhook_outbox WHERE delivered <> 0 AND created_at < $1::bigint",
                  before, 0, count, "pruning webhook deliveries", error);
}

int pg_webhook_retry_failed(struct store *store, int64_t since, int64_t now, int *count,
                            struct vsr_error *error) {
    return change((struct pg_store *)store,
                  "UPDATE webhook_outbox SET delivered = 0, next_attempt_at = $2::bigint"
                  " WHERE delivered = -1 AND created_at >= $1::bigint",
                  since, now, count, "retrying webhook deliveries", error);
}

/* A session-level advisory lock on a connection of its own, outside the
 * pool: it lasts while this store holds it, and goes with the connection
 * if the process dies. */
int pg_maintenance_lock(struct store *store, int take, struct vsr_error *error) {
    struct pg_store *s = (struct pg_store *)store;
    if (!take) {
        PQfinish(s->maintenance);
        s->maintenance = NULL;
        return 1;
    }
    if (s->maintenance) return 0;
    PGconn *conn = PQconnectdb(s->conninfo);
    PGresult *res = NULL;
    if (PQstatus(conn) != CONNECTION_OK) {
        int rc = pg_fail(error, conn, "connecting");
        PQfinish(conn);
        return rc;
    }
    int rc = tuples(conn, "SELECT pg_try_advisory_lock(" MAINTENANCE_LOCK_ID ")", 0, NULL, &res,
                    "taking the maintenance lock", error);
    if (rc == VSR_OK && strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        s->maintenance = conn;
        rc = 1;
    } else {
        PQfinish(conn);
        if (rc == VSR_OK) rc = 0;
    }
    PQclear(res);
    return rc;
}
