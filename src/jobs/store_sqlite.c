/* store_sqlite.c: the job store on SQLite (see store.h).
 *
 * The database runs in WAL mode so that readers (status polls) never wait for
 * the writer (claims, heartbeats). Each call borrows a connection from a small
 * pool and gives it back, so threads never share a connection and no lock is
 * held while SQLite does I/O; writes that must be atomic run in BEGIN
 * IMMEDIATE transactions, which also serialise writers across processes. The
 * schema version lives in PRAGMA user_version and migrations run at open. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <sqlite3.h>

#include "jobs/store.h"
#include "jobs/store_columns.h"

/* ---- schema ------------------------------------------------------------ */

/* The subtitles_upload_id in a job's options (JSON text), for jobs stored
 * before the column existed; HAS_... is true when it is there as a string. */
#define SUBTITLES_IN_OPTIONS "nullif(json_extract(options, '$.subtitles_upload_id'), '')"
#define HAS_SUBTITLES_IN_OPTIONS                                                                   \
    "CASE WHEN json_valid(options) THEN json_type(options, '$.subtitles_upload_id') = 'text'"      \
    " ELSE 0 END"

static const char *const migrations[] = {
    /* version 1 */
    "CREATE TABLE api_keys("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT NOT NULL UNIQUE,"
    " prefix TEXT NOT NULL, admin INTEGER NOT NULL DEFAULT 0,"
    " jobs_per_day INTEGER NOT NULL DEFAULT 0, minutes_per_month INTEGER NOT NULL DEFAULT 0,"
    " rate_per_second REAL NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
    " revoked_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE uploads("
    " id TEXT PRIMARY KEY, key_id TEXT NOT NULL, file_name TEXT NOT NULL,"
    " mime_type TEXT NOT NULL, declared_size INTEGER NOT NULL, size INTEGER NOT NULL DEFAULT 0,"
    " blob TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0,"
    " media_seconds REAL NOT NULL DEFAULT 0, width INTEGER NOT NULL DEFAULT 0,"
    " height INTEGER NOT NULL DEFAULT 0, error_code TEXT NOT NULL DEFAULT '',"
    " error_message TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL);"
    "CREATE TABLE jobs("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, key_id TEXT NOT NULL,"
    " type TEXT NOT NULL, state TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0,"
    " upload_id TEXT NOT NULL DEFAULT '', input_blob TEXT NOT NULL,"
    " output_blob TEXT NOT NULL DEFAULT '', options TEXT NOT NULL DEFAULT '{}',"
    " webhook_url TEXT NOT NULL DEFAULT '', idempotency_key TEXT,"
    " media_seconds REAL NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
    " max_attempts INTEGER NOT NULL, cancel_requested INTEGER NOT NULL DEFAULT 0,"
    " lease_owner TEXT NOT NULL DEFAULT '', lease_expires_at INTEGER NOT NULL DEFAULT 0,"
    " not_before INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
    " started_at INTEGER NOT NULL DEFAULT 0, finished_at INTEGER NOT NULL DEFAULT 0,"
    " updated_at INTEGER NOT NULL, error_code TEXT NOT NULL DEFAULT '',"
    " error_message TEXT NOT NULL DEFAULT '');"
    "CREATE UNIQUE INDEX jobs_idempotency ON jobs(key_id, idempotency_key)"
    " WHERE idempotency_key IS NOT NULL;"
    "CREATE INDEX jobs_key ON jobs(key_id, seq);"
    "CREATE INDEX jobs_key_created ON jobs(key_id, created_at);"
    "CREATE INDEX jobs_queue ON jobs(state, seq);"
    "CREATE INDEX jobs_lease ON jobs(state, lease_expires_at);"
    "CREATE INDEX jobs_finished ON jobs(finished_at);"
    "CREATE TABLE webhook_outbox("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, event TEXT NOT NULL,"
    " url TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_at INTEGER NOT NULL, delivered INTEGER NOT NULL DEFAULT 0,"
    " last_status INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX webhook_due ON webhook_outbox(delivered, next_attempt_at);"
    "CREATE INDEX webhook_job ON webhook_outbox(job_id, id);",
    /* version 2: a webhook signing secret per key (Standard Webhooks "whsec_"
     * + base64; keys made before get 24 random bytes as hex, which is valid
     * base64 too), and uploads indexed by age for a future retention sweep. */
    "ALTER TABLE api_keys ADD COLUMN webhook_secret TEXT NOT NULL DEFAULT '';"
    "UPDATE api_keys SET webhook_secret = 'whsec_' || hex(randomblob(24));"
    "CREATE INDEX uploads_created ON uploads(created_at);",
    /* version 3: retention (VSR_RETENTION_HOURS) deletes old files but keeps
     * the rows, marked with when their files went; jobs remember the request
     * that created them, for their log lines. */
    "ALTER TABLE jobs ADD COLUMN purged_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE uploads ADD COLUMN purged_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN request_id TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX jobs_upload ON jobs(upload_id);",
    /* version 4: burn and replace jobs name their subtitle upload in a column
     * of its own, so that retention finds the jobs using an upload by index;
     * jobs made before get it from their options (always a JSON object the
     * API wrote; the CASE keeps json_type off anything else), and so do jobs
     * that a previous vsr, still running during a rolling deploy, inserts
     * without the column (the trigger). */
    "ALTER TABLE jobs ADD COLUMN subtitles_upload_id TEXT;"
    "UPDATE jobs SET subtitles_upload_id = " SUBTITLES_IN_OPTIONS " WHERE " HAS_SUBTITLES_IN_OPTIONS
    ";"
    "CREATE INDEX jobs_subtitles_upload ON jobs(subtitles_upload_id)"
    " WHERE subtitles_upload_id IS NOT NULL;"
    "CREATE TRIGGER jobs_subtitles_from_options AFTER INSERT ON jobs"
    " WHEN NEW.subtitles_upload_id IS NULL AND NEW.options LIKE '%subtitles_upload_id%'"
    " BEGIN UPDATE jobs SET subtitles_upload_id = " SUBTITLES_IN_OPTIONS
    " WHERE seq = NEW.seq AND " HAS_SUBTITLES_IN_OPTIONS "; END;",
    /* version 5: uploads remember how many audio streams they hold, so that
     * a transcribe job on a silent video is refused when it is made; -1 for
     * uploads probed before (not known: the worker tells). */
    "ALTER TABLE uploads ADD COLUMN audio_streams INTEGER NOT NULL DEFAULT -1;",
};

#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* ---- statements -------------------------------------------------------- */

/* Backoff after attempt N (1-based): base * 2^(N-1), capped; :B is the base,
 * :M the cap. The shift is capped too, so that it cannot overflow. */
#define BACKOFF_SQL "min(:M, :B << min(max(attempts - 1, 0), 30))"

/* A time in milliseconds since the epoch as ISO 8601, the API's form. */
#define ISO_TIME(ms) "strftime('%Y-%m-%dT%H:%M:%fZ', " #ms " / 1000.0, 'unixepoch')"

/* A final state's outbox row, built where the job is, so that the payload is
 * written in the same transaction as the state change. */
#define WEBHOOK_INSERT_SQL                                                                         \
    "INSERT INTO webhook_outbox(job_id, event, url, payload, next_attempt_at, created_at)"         \
    " SELECT id, 'job.' || state, webhook_url,"                                                    \
    " json_object('type', 'job.' || state,"                                                        \
    "  'timestamp', strftime('%Y-%m-%dT%H:%M:%fZ', :N / 1000.0, 'unixepoch'), 'data',"             \
    "  json_object('id', id, 'type', type, 'status', state, 'created_at', " ISO_TIME(              \
        created_at) ","                                                                            \
                    "   'finished_at', " ISO_TIME(                                                 \
                        finished_at) ", 'result_url', CASE WHEN state = 'succeeded'"               \
                                     "   THEN '/api/v1/jobs/' || id || '/result' END, 'error', "   \
                                     "CASE WHEN error_code = '' THEN NULL ELSE"                    \
                                     "   json_object('code', error_code, 'message', "              \
                                     "error_message) END)), :N, :N"                                \
                                     " FROM jobs WHERE "

enum statement {
    ST_KEY_INSERT,
    ST_KEY_BY_HASH,
    ST_KEY_LIST,
    ST_KEY_REVOKE,
    ST_KEY_JOBS_SINCE,
    ST_KEY_MINUTES_SINCE,
    ST_UPLOAD_INSERT,
    ST_UPLOAD_GET,
    ST_UPLOAD_UPDATE,
    ST_JOB_INSERT,
    ST_JOB_BY_IDEMPOTENCY,
    ST_JOB_GET,
    ST_JOB_GET_ANY,
    ST_JOB_LIST,
    ST_JOB_LIST_ALL,
    ST_EXPIRED_FAIL,
    ST_EXPIRED_REQUEUE,
    ST_JOB_CLAIM,
    ST_JOB_HEARTBEAT,
    ST_JOB_FINISH,
    ST_JOB_WEBHOOK,
    ST_JOB_RELEASE,
    ST_JOB_CANCEL_QUEUED,
    ST_JOB_CANCEL_RUNNING,
    ST_QUEUE_POSITION,
    ST_QUEUE_DEPTH,
    ST_STATS_COUNT,
    ST_STATS_DURATION,
    ST_WEBHOOK_LIST,
    ST_WEBHOOK_CLAIM,
    ST_WEBHOOK_RECORD,
    ST_EXPIRED_FILES,
    ST_PURGE_JOB,
    ST_PURGE_UPLOAD,
    ST_PING,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

static const char *const statement_sql[ST_COUNT] = {
    [ST_KEY_INSERT] = "INSERT INTO api_keys(" KEY_COLUMNS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                      " ?8, ?9, ?10, ?11)",
    [ST_KEY_BY_HASH] = "SELECT " KEY_COLUMNS " FROM api_keys WHERE secret_hash = ?1"
                       " AND revoked_at = 0",
    [ST_KEY_LIST] = "SELECT " KEY_COLUMNS " FROM api_keys ORDER BY created_at DESC, id",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = ?2 WHERE (id = ?1 OR name = ?1)"
                      " AND revoked_at = 0",
    [ST_KEY_JOBS_SINCE] = "SELECT count(*) FROM jobs WHERE key_id = ?1 AND created_at >= ?2",
    [ST_KEY_MINUTES_SINCE] = "SELECT coalesce(sum(media_seconds), 0) / 60.0 FROM jobs"
                             " WHERE key_id = ?1 AND created_at >= ?2",
    [ST_UPLOAD_INSERT] = "INSERT INTO uploads(" UPLOAD_COLUMNS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6,"
                         " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    [ST_UPLOAD_GET] = "SELECT " UPLOAD_COLUMNS " FROM uploads WHERE id = ?2 AND key_id = ?1",
    [ST_UPLOAD_UPDATE] = "UPDATE uploads SET size = ?2, state = ?3, media_seconds = ?4,"
                         " width = ?5, height = ?6, error_code = ?7, error_message = ?8,"
                         " audio_streams = ?9 WHERE id = ?1",
    [ST_JOB_INSERT] =
        "INSERT INTO jobs(id, key_id, type, state, upload_id, input_blob, options, webhook_url,"
        " idempotency_key, media_seconds, max_attempts, not_before, created_at, updated_at,"
        " request_id, subtitles_upload_id)"
        " VALUES(?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, nullif(?8, ''), ?9, ?10, ?11, ?11, ?11, ?12,"
        " nullif(?13, ''))"
        " ON CONFLICT DO NOTHING RETURNING " JOB_COLUMNS,
    [ST_JOB_BY_IDEMPOTENCY] = "SELECT " JOB_COLUMNS " FROM jobs WHERE key_id = ?1"
                              " AND idempotency_key = ?2",
    [ST_JOB_GET] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?2 AND key_id = ?1",
    [ST_JOB_GET_ANY] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1",
    [ST_JOB_LIST] = "SELECT " JOB_COLUMNS " FROM jobs WHERE key_id = ?1 AND seq < ?3"
                    " AND (?2 = '' OR state = ?2) ORDER BY seq DESC LIMIT ?4",
    [ST_JOB_LIST_ALL] = "SELECT " JOB_COLUMNS " FROM jobs WHERE ?1 = ?1 AND seq < ?3"
                        " AND (?2 = '' OR state = ?2) ORDER BY seq DESC LIMIT ?4",
    [ST_EXPIRED_FAIL] =
        "UPDATE jobs SET state = CASE WHEN cancel_requested THEN 'canceled' ELSE 'failed' END,"
        " error_code = CASE WHEN cancel_requested THEN '' ELSE 'lease_expired' END,"
        " error_message = CASE WHEN cancel_requested THEN '' ELSE"
        " 'the worker stopped answering on every attempt; the job was given up' END,"
        " lease_owner = '', finished_at = :N, updated_at = :N"
        " WHERE state = 'processing' AND lease_expires_at < :N"
        " AND (attempts >= max_attempts OR cancel_requested) RETURNING id",
    [ST_EXPIRED_REQUEUE] = "UPDATE jobs SET state = 'queued', lease_owner = '', progress = 0,"
                           " not_before = :N + " BACKOFF_SQL ", updated_at = :N,"
                           " error_code = 'lease_expired',"
                           " error_message = 'the worker stopped answering; retrying'"
                           " WHERE state = 'processing' AND lease_expires_at < :N",
    [ST_JOB_CLAIM] = "UPDATE jobs SET state = 'processing', attempts = attempts + 1,"
                     " lease_owner = :W, lease_expires_at = :N + :L, progress = 0,"
                     " started_at = :N, updated_at = :N"
                     " WHERE seq = (SELECT seq FROM jobs WHERE state = 'queued'"
                     " AND not_before <= :N ORDER BY seq LIMIT 1) RETURNING " JOB_COLUMNS,
    [ST_JOB_HEARTBEAT] = "UPDATE jobs SET lease_expires_at = :N + :L, progress = :P,"
                         " updated_at = :N WHERE id = :I AND state = 'processing'"
                         " AND lease_owner = :W RETURNING cancel_requested",
    [ST_JOB_FINISH] =
        "UPDATE jobs SET state = CASE WHEN :R AND attempts < max_attempts THEN 'queued'"
        " ELSE :S END, not_before = CASE WHEN :R AND attempts < max_attempts THEN :N + " BACKOFF_SQL
        " ELSE not_before END,"
        " progress = CASE WHEN :S = 'succeeded' THEN 100 ELSE progress END,"
        " output_blob = :O, error_code = :C, error_message = :E, lease_owner = '',"
        " finished_at = CASE WHEN :R AND attempts < max_attempts THEN 0 ELSE :N END,"
        " updated_at = :N WHERE id = :I AND state = 'processing' AND lease_owner = :W"
        " RETURNING state",
    [ST_JOB_WEBHOOK] = WEBHOOK_INSERT_SQL "id = :I AND webhook_url <> ''",
    [ST_JOB_RELEASE] = "UPDATE jobs SET state = 'queued', lease_owner = '', progress = 0,"
                       " attempts = max(attempts - 1, 0), not_before = :N, updated_at = :N"
                       " WHERE id = :I AND state = 'processing' AND lease_owner = :W",
    [ST_JOB_CANCEL_QUEUED] = "UPDATE jobs SET state = 'canceled', finished_at = :N,"
                             " updated_at = :N WHERE id = :I AND key_id = :K"
                             " AND state = 'queued'",
    [ST_JOB_CANCEL_RUNNING] = "UPDATE jobs SET cancel_requested = 1, updated_at = :N"
                              " WHERE id = :I AND key_id = :K AND state = 'processing'",
    [ST_QUEUE_POSITION] = "SELECT count(*) FROM jobs WHERE state = 'queued' AND seq < ?1",
    [ST_QUEUE_DEPTH] = "SELECT state, count(*) FROM jobs GROUP BY state",
    [ST_STATS_COUNT] = "SELECT count(*) FILTER (WHERE state = 'succeeded'),"
                       " count(*) FILTER (WHERE state = 'failed') FROM jobs"
                       " WHERE finished_at >= ?1",
    [ST_STATS_DURATION] = "SELECT (finished_at - started_at) / 1000.0 FROM jobs"
                          " WHERE finished_at >= ?1 AND state = 'succeeded'"
                          " ORDER BY 1 LIMIT 1 OFFSET ?2",
    [ST_WEBHOOK_LIST] = "SELECT " WEBHOOK_COLUMNS " FROM webhook_outbox WHERE job_id = ?1"
                        " ORDER BY id LIMIT ?2",
    [ST_WEBHOOK_CLAIM] = "UPDATE webhook_outbox SET next_attempt_at = :N + :L,"
                         " attempts = attempts + 1 WHERE id = (SELECT id FROM webhook_outbox"
                         " WHERE delivered = 0 AND next_attempt_at <= :N"
                         " ORDER BY next_attempt_at LIMIT 1) RETURNING " WEBHOOK_COLUMNS,
    [ST_WEBHOOK_RECORD] = "UPDATE webhook_outbox SET delivered = ?2, last_status = ?3,"
                          " last_error = ?4, next_attempt_at = ?5 WHERE id = ?1",
    /* Results of old jobs; files of uploads whose jobs are all old, or that
     * no job used and whose URL expired. */
    [ST_EXPIRED_FILES] =
        "SELECT 0, id, output_blob FROM jobs WHERE purged_at = 0 AND output_blob <> ''"
        " AND finished_at > 0 AND finished_at < :F"
        " AND state IN ('succeeded', 'failed', 'canceled')"
        " UNION ALL SELECT 1, u.id, u.blob FROM uploads u WHERE u.purged_at = 0 AND u.state = 1"
        " AND CASE WHEN EXISTS (SELECT 1 FROM jobs j WHERE " USES_UPLOAD ")"
        " THEN NOT EXISTS (SELECT 1 FROM jobs j WHERE (" USES_UPLOAD ")"
        " AND (j.state IN ('queued', 'processing') OR j.finished_at >= :F))"
        " ELSE u.expires_at < :U END LIMIT :C",
    [ST_PURGE_JOB] = "UPDATE jobs SET purged_at = :N WHERE id = :I AND purged_at = 0",
    [ST_PURGE_UPLOAD] = "UPDATE uploads SET purged_at = :N WHERE id = :I AND purged_at = 0",
    [ST_PING] = "SELECT seq FROM jobs ORDER BY seq DESC LIMIT 1",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

/* ---- connections ------------------------------------------------------- */

struct connection {
    sqlite3 *db;
    sqlite3_stmt *statements[ST_COUNT];
    struct connection *next;
};

struct sqlite_store {
    struct store base;
    char *path;
    pthread_mutex_t lock; /* guards idle only; never held during a query */
    struct connection *idle;
    struct stat file;   /* the database file as opened, to tell it from a replacement */
    int maintenance_fd; /* PATH.maintenance-lock while store_maintenance_lock holds it, or -1 */
};

static int fail_db(struct vsr_error *error, sqlite3 *db, const char *what) {
    error->code = VSR_E_OUTPUT;
    snprintf(error->message, sizeof error->message,
             "database: %s failed: %s; check that the database file is writable and the disk"
             " is not full",
             what, db ? sqlite3_errmsg(db) : "cannot open");
    return VSR_E_OUTPUT;
}

/* The database holds webhook secrets and key hashes: a new file is made
 * readable by its owner only, whatever the umask (an empty file is an
 * empty database to SQLite, which gives the -wal and -shm files the
 * database's mode). An existing file keeps the mode its operator gave it. */
static void create_private(const char *path) {
    if (path[0] == ':' || strncmp(path, "file:", 5) == 0) return; /* in memory, or a URI */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
}

static void connection_free(struct connection *conn) {
    if (!conn) return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(conn->statements[i]);
    sqlite3_close_v2(conn->db);
    free(conn);
}

static int connection_open(struct sqlite_store *s, int flags, struct connection **out,
                           struct vsr_error *error) {
    struct connection *conn = calloc(1, sizeof *conn);
    if (!conn) {
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    /* NOMUTEX: a connection is used by one thread at a time (the pool). */
    if (sqlite3_open_v2(s->path, &conn->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        int rc = fail_db(error, conn->db, "opening the database");
        connection_free(conn);
        return rc;
    }
    sqlite3_busy_timeout(conn->db, s->base.options.busy_timeout_ms);
    /* NORMAL is durable in WAL mode except for the last transactions before a
     * power loss, which the leases and retries already tolerate. */
    if (sqlite3_exec(conn->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = fail_db(error, conn->db, "configuring the connection");
        connection_free(conn);
        return rc;
    }
    *out = conn;
    return VSR_OK;
}

static int acquire(struct sqlite_store *s, struct connection **out, struct vsr_error *error) {
    pthread_mutex_lock(&s->lock);
    struct connection *conn = s->idle;
    if (conn) s->idle = conn->next;
    pthread_mutex_unlock(&s->lock);
    if (conn) {
        *out = conn;
        return VSR_OK;
    }
    return connection_open(s, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, out, error);
}

static void release(struct sqlite_store *s, struct connection *conn) {
    if (sqlite3_get_autocommit(conn->db) == 0) sqlite3_exec(conn->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_lock(&s->lock);
    conn->next = s->idle;
    s->idle = conn;
    pthread_mutex_unlock(&s->lock);
}

/* The cached statement ID, reset and with its bindings cleared. */
static sqlite3_stmt *statement(struct connection *conn, enum statement id,
                               struct vsr_error *error) {
    sqlite3_stmt *st = conn->statements[id];
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    if (sqlite3_prepare_v3(conn->db, statement_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
        SQLITE_OK) {
        fail_db(error, conn->db, "preparing a statement");
        return NULL;
    }
    conn->statements[id] = st;
    return st;
}

static void bind_text(sqlite3_stmt *st, const char *name, const char *value) {
    int i = sqlite3_bind_parameter_index(st, name);
    if (i > 0) sqlite3_bind_text(st, i, value ? value : "", -1, SQLITE_TRANSIENT);
}

static void bind_int(sqlite3_stmt *st, const char *name, int64_t value) {
    int i = sqlite3_bind_parameter_index(st, name);
    if (i > 0) sqlite3_bind_int64(st, i, value);
}

static void bind_double(sqlite3_stmt *st, const char *name, double value) {
    int i = sqlite3_bind_parameter_index(st, name);
    if (i > 0) sqlite3_bind_double(st, i, value);
}

/* Borrows a connection and its cached statement ID: how every operation
 * starts. On success the caller releases CONN. */
static int open_statement(struct sqlite_store *s, enum statement id, struct connection **conn,
                          sqlite3_stmt **st, struct vsr_error *error) {
    int rc = acquire(s, conn, error);
    if (rc != VSR_OK) return rc;
    *st = statement(*conn, id, error);
    if (*st) return VSR_OK;
    release(s, *conn);
    return VSR_E_OUTPUT;
}

static void column_text(char *dst, size_t size, sqlite3_stmt *st, int col) {
    const unsigned char *text = sqlite3_column_text(st, col);
    snprintf(dst, size, "%s", text ? (const char *)text : "");
}

static void read_job(sqlite3_stmt *st, struct job *job) {
    char state[32];
    memset(job, 0, sizeof *job);
    job->seq = sqlite3_column_int64(st, 0);
    column_text(job->id, sizeof job->id, st, 1);
    column_text(job->key_id, sizeof job->key_id, st, 2);
    column_text(job->type, sizeof job->type, st, 3);
    column_text(state, sizeof state, st, 4);
    job->state = (enum job_state)job_state_parse(state);
    job->progress = sqlite3_column_double(st, 5);
    column_text(job->upload_id, sizeof job->upload_id, st, 6);
    column_text(job->input_blob, sizeof job->input_blob, st, 7);
    column_text(job->output_blob, sizeof job->output_blob, st, 8);
    column_text(job->options, sizeof job->options, st, 9);
    column_text(job->webhook_url, sizeof job->webhook_url, st, 10);
    column_text(job->idempotency_key, sizeof job->idempotency_key, st, 11);
    job->media_seconds = sqlite3_column_double(st, 12);
    job->attempts = sqlite3_column_int(st, 13);
    job->max_attempts = sqlite3_column_int(st, 14);
    job->cancel_requested = sqlite3_column_int(st, 15);
    column_text(job->lease_owner, sizeof job->lease_owner, st, 16);
    job->lease_expires_at = sqlite3_column_int64(st, 17);
    job->not_before = sqlite3_column_int64(st, 18);
    job->created_at = sqlite3_column_int64(st, 19);
    job->started_at = sqlite3_column_int64(st, 20);
    job->finished_at = sqlite3_column_int64(st, 21);
    job->updated_at = sqlite3_column_int64(st, 22);
    column_text(job->error_code, sizeof job->error_code, st, 23);
    column_text(job->error_message, sizeof job->error_message, st, 24);
    job->purged_at = sqlite3_column_int64(st, 25);
    column_text(job->request_id, sizeof job->request_id, st, 26);
    column_text(job->subtitles_upload_id, sizeof job->subtitles_upload_id, st, 27);
}

static void read_key(sqlite3_stmt *st, struct api_key *key) {
    memset(key, 0, sizeof *key);
    column_text(key->id, sizeof key->id, st, 0);
    column_text(key->name, sizeof key->name, st, 1);
    column_text(key->secret_hash, sizeof key->secret_hash, st, 2);
    column_text(key->prefix, sizeof key->prefix, st, 3);
    key->admin = sqlite3_column_int(st, 4);
    key->jobs_per_day = sqlite3_column_int64(st, 5);
    key->minutes_per_month = sqlite3_column_int64(st, 6);
    key->rate_per_second = sqlite3_column_double(st, 7);
    key->created_at = sqlite3_column_int64(st, 8);
    key->revoked_at = sqlite3_column_int64(st, 9);
    column_text(key->webhook_secret, sizeof key->webhook_secret, st, 10);
}

static void read_upload(sqlite3_stmt *st, struct upload *up) {
    memset(up, 0, sizeof *up);
    column_text(up->id, sizeof up->id, st, 0);
    column_text(up->key_id, sizeof up->key_id, st, 1);
    column_text(up->file_name, sizeof up->file_name, st, 2);
    column_text(up->mime_type, sizeof up->mime_type, st, 3);
    up->declared_size = sqlite3_column_int64(st, 4);
    up->size = sqlite3_column_int64(st, 5);
    column_text(up->blob, sizeof up->blob, st, 6);
    up->state = (enum upload_state)sqlite3_column_int(st, 7);
    up->media_seconds = sqlite3_column_double(st, 8);
    up->width = sqlite3_column_int(st, 9);
    up->height = sqlite3_column_int(st, 10);
    column_text(up->error_code, sizeof up->error_code, st, 11);
    column_text(up->error_message, sizeof up->error_message, st, 12);
    up->created_at = sqlite3_column_int64(st, 13);
    up->expires_at = sqlite3_column_int64(st, 14);
    up->purged_at = sqlite3_column_int64(st, 15);
    up->audio_streams = sqlite3_column_int(st, 16);
}

static void read_webhook(sqlite3_stmt *st, struct webhook_delivery *w) {
    memset(w, 0, sizeof *w);
    w->id = sqlite3_column_int64(st, 0);
    column_text(w->job_id, sizeof w->job_id, st, 1);
    column_text(w->event, sizeof w->event, st, 2);
    column_text(w->url, sizeof w->url, st, 3);
    column_text(w->payload, sizeof w->payload, st, 4);
    w->attempts = sqlite3_column_int(st, 5);
    w->next_attempt_at = sqlite3_column_int64(st, 6);
    w->delivered = sqlite3_column_int(st, 7);
    w->last_status = sqlite3_column_int(st, 8);
    column_text(w->last_error, sizeof w->last_error, st, 9);
    w->created_at = sqlite3_column_int64(st, 10);
    column_text(w->secret, sizeof w->secret, st, 11);
}

/* Runs a statement that returns no rows (or whose rows are not needed). */
static int run(struct connection *conn, sqlite3_stmt *st, const char *what,
               struct vsr_error *error) {
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? VSR_OK : fail_db(error, conn->db, what);
}

static int run_simple(struct connection *conn, enum statement id, const char *what,
                      struct vsr_error *error) {
    sqlite3_stmt *st = statement(conn, id, error);
    if (!st) return VSR_E_OUTPUT;
    return run(conn, st, what, error);
}

static int begin(struct connection *conn, struct vsr_error *error) {
    return run_simple(conn, ST_BEGIN, "starting a transaction", error);
}

static int commit(struct connection *conn, struct vsr_error *error) {
    return run_simple(conn, ST_COMMIT, "committing a transaction", error);
}

#define SQLITE_STORE(store) ((struct sqlite_store *)(store))

/* ---- operations -------------------------------------------------------- */

static void sqlite_close(struct store *store) {
    struct sqlite_store *s = SQLITE_STORE(store);
    while (s->idle) {
        struct connection *next = s->idle->next;
        connection_free(s->idle);
        s->idle = next;
    }
    if (s->maintenance_fd >= 0) close(s->maintenance_fd);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

/* Checks the path and then queries a pooled connection. Pooled connections
 * keep a deleted or replaced file open and serve pages from the WAL, so the
 * path itself is checked: a database file that was removed or replaced by
 * something that is not an SQLite database fails here. The header is read
 * only from a file other than the one open: closing any descriptor of the
 * open file would drop this process's POSIX locks on it, and another process
 * could then believe itself the last user and delete the WAL. */
static int sqlite_ping(struct store *store, struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    static const char magic[16] = "SQLite format 3";
    char header[16] = {0};
    struct stat now;
    int same_file =
        stat(s->path, &now) == 0 && now.st_dev == s->file.st_dev && now.st_ino == s->file.st_ino;
    size_t got = sizeof header;
    if (!same_file) {
        FILE *f = fopen(s->path, "rb");
        got = f ? fread(header, 1, sizeof header, f) : 0;
        if (f) fclose(f);
    }
    if (!same_file && (got != sizeof header || memcmp(header, magic, sizeof magic) != 0)) {
        error->code = VSR_E_OUTPUT;
        snprintf(error->message, sizeof error->message,
                 "database %s is missing, unreadable or not an SQLite database; restore it"
                 " from a backup or fix its permissions",
                 s->path);
        return VSR_E_OUTPUT;
    }
    struct connection *conn;
    int rc = acquire(s, &conn, error);
    if (rc != VSR_OK) return rc;
    sqlite3_stmt *st = statement(conn, ST_PING, error);
    if (!st)
        rc = VSR_E_OUTPUT;
    else
        rc = run(conn, st, "reading the database", error);
    release(s, conn);
    return rc;
}

static int sqlite_key_create(struct store *store, const struct api_key *key,
                             struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, ST_KEY_INSERT, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    sqlite3_bind_text(st, 1, key->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, key->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, key->secret_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, key->prefix, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 5, key->admin);
    sqlite3_bind_int64(st, 6, key->jobs_per_day);
    sqlite3_bind_int64(st, 7, key->minutes_per_month);
    sqlite3_bind_double(st, 8, key->rate_per_second);
    sqlite3_bind_int64(st, 9, key->created_at);
    sqlite3_bind_int64(st, 10, key->revoked_at);
    sqlite3_bind_text(st, 11, key->webhook_secret, -1, SQLITE_TRANSIENT);
    rc = run(conn, st, "creating an API key", error);
    release(s, conn);
    return rc;
}

static int sqlite_key_find_by_hash(struct store *store, const char *hash, struct api_key *out,
                                   struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, ST_KEY_BY_HASH, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        read_key(st, out);
        rc = 1;
    } else if (step == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = fail_db(error, conn->db, "looking up an API key");
    }
    sqlite3_reset(st);
    release(s, conn);
    return rc;
}

static int sqlite_key_list(struct store *store, struct api_key **out, int *count,
                           struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    *out = NULL;
    *count = 0;
    int rc = open_statement(s, ST_KEY_LIST, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    struct api_key *keys = NULL;
    int n = 0, capacity = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == capacity) {
            capacity = capacity ? 2 * capacity : 16;
            struct api_key *grown = realloc(keys, (size_t)capacity * sizeof *keys);
            if (!grown) {
                error->code = VSR_E_NOMEM;
                snprintf(error->message, sizeof error->message, "out of memory");
                rc = VSR_E_NOMEM;
                goto done;
            }
            keys = grown;
        }
        read_key(st, &keys[n++]);
    }
    if (step != SQLITE_DONE) {
        rc = fail_db(error, conn->db, "listing API keys");
        goto done;
    }
    *out = keys;
    *count = n;
    keys = NULL;
done:
    if (st) sqlite3_reset(st);
    free(keys);
    release(s, conn);
    return rc;
}

static int sqlite_key_revoke(struct store *store, const char *id_or_name, int64_t now,
                             struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, ST_KEY_REVOKE, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    sqlite3_bind_text(st, 1, id_or_name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now);
    rc = run(conn, st, "revoking an API key", error);
    if (rc == VSR_OK) rc = sqlite3_changes(conn->db) > 0 ? 1 : 0;
    release(s, conn);
    return rc;
}

/* The first millisecond of NOW's calendar month, UTC. */
static int64_t month_start(int64_t now) {
    time_t t = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    return (int64_t)timegm(&tm) * 1000;
}

static int sqlite_key_usage(struct store *store, const char *key_id, int64_t now,
                            struct key_usage *out, struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, ST_KEY_JOBS_SINCE, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    memset(out, 0, sizeof *out);
    out->month_start = month_start(now);
    sqlite3_bind_text(st, 1, key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now - 24 * 3600 * 1000LL);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = fail_db(error, conn->db, "counting a key's jobs");
        goto done;
    }
    out->jobs_last_day = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    st = statement(conn, ST_KEY_MINUTES_SINCE, error);
    if (!st) {
        rc = VSR_E_OUTPUT;
        goto done;
    }
    sqlite3_bind_text(st, 1, key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, out->month_start);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = fail_db(error, conn->db, "summing a key's minutes");
        goto done;
    }
    out->minutes_this_month = sqlite3_column_double(st, 0);
    sqlite3_reset(st);
done:
    release(s, conn);
    return rc;
}

static int sqlite_upload_create(struct store *store, const struct upload *up,
                                struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, ST_UPLOAD_INSERT, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    sqlite3_bind_text(st, 1, up->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, up->key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, up->file_name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, up->mime_type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, up->declared_size);
    sqlite3_bind_int64(st, 6, up->size);
    sqlite3_bind_text(st, 7, up->blob, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 8, up->state);
    sqlite3_bind_double(st, 9, up->media_seconds);
    sqlite3_bind_int(st, 10, up->width);
    sqlite3_bind_int(st, 11, up->height);
    sqlite3_bind_text(st, 12, up->error_code, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 13, up->error_message, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 14, up->created_at);
    sqlite3_bind_int64(st, 15, up->expires_at);
    sqlite3_bind_int64(st, 16, up->purged_at);
    sqlite3_bind_int(st, 17, up->audio_streams);
    rc = run(conn, st, "creating an upload", error);
    release(s, conn);
    return rc;
}

static int sqlite_upload_get(struct store *store, const char *key_id, const char *id,
                             struct upload *out, struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, ST_UPLOAD_GET, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    sqlite3_bind_text(st, 1, key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        read_upload(st, out);
        rc = 1;
    } else {
        rc = step == SQLITE_DONE ? 0 : fail_db(error, conn->db, "reading an upload");
    }
    sqlite3_reset(st);
    release(s, conn);
    return rc;
}

static int sqlite_upload_update(struct store *store, const struct upload *up,
                                struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, ST_UPLOAD_UPDATE, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    sqlite3_bind_text(st, 1, up->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, up->size);
    sqlite3_bind_int(st, 3, up->state);
    sqlite3_bind_double(st, 4, up->media_seconds);
    sqlite3_bind_int(st, 5, up->width);
    sqlite3_bind_int(st, 6, up->height);
    sqlite3_bind_text(st, 7, up->error_code, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, up->error_message, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 9, up->audio_streams);
    rc = run(conn, st, "updating an upload", error);
    release(s, conn);
    return rc;
}

/* Steps ST once: 1 and the job in OUT for a row, 0 for none. The statement
 * is run to completion so that an UPDATE ... RETURNING takes full effect. */
static int step_job(struct connection *conn, sqlite3_stmt *st, struct job *out, const char *what,
                    struct vsr_error *error) {
    int step = sqlite3_step(st), found = 0;
    if (step == SQLITE_ROW) {
        read_job(st, out);
        found = 1;
        step = sqlite3_step(st);
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) return fail_db(error, conn->db, what);
    return found;
}

static int sqlite_job_create(struct store *store, struct job *job, struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, ST_JOB_INSERT, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    sqlite3_bind_text(st, 1, job->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, job->key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, job->type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, job->upload_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, job->input_blob, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, job->options[0] ? job->options : "{}", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, job->webhook_url, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, job->idempotency_key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 9, job->media_seconds);
    sqlite3_bind_int(st, 10, job->max_attempts);
    sqlite3_bind_int64(st, 11, job->created_at);
    sqlite3_bind_text(st, 12, job->request_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 13, job->subtitles_upload_id, -1, SQLITE_TRANSIENT);
    rc = step_job(conn, st, job, "creating a job", error);
    if (rc == 1) {
        rc = 0; /* inserted */
    } else if (rc == 0) {
        /* The idempotency index refused it: hand back the earlier job. */
        st = statement(conn, ST_JOB_BY_IDEMPOTENCY, error);
        if (!st) {
            rc = VSR_E_OUTPUT;
            goto done;
        }
        sqlite3_bind_text(st, 1, job->key_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, job->idempotency_key, -1, SQLITE_TRANSIENT);
        rc = step_job(conn, st, job, "reading a job by idempotency key", error);
        if (rc == 0) rc = fail_db(error, conn->db, "creating a job (duplicate id)");
    }
done:
    release(s, conn);
    return rc;
}

static int sqlite_job_get(struct store *store, const char *key_id, const char *id, struct job *out,
                          struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, key_id ? ST_JOB_GET : ST_JOB_GET_ANY, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    if (key_id) {
        sqlite3_bind_text(st, 1, key_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    }
    rc = step_job(conn, st, out, "reading a job", error);
    release(s, conn);
    return rc;
}

static int sqlite_job_list(struct store *store, const struct job_list_query *query, struct job *out,
                           int *count, int64_t *next_cursor, struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    *count = 0;
    *next_cursor = 0;
    int rc = open_statement(s, query->key_id ? ST_JOB_LIST : ST_JOB_LIST_ALL, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    sqlite3_bind_text(st, 1, query->key_id ? query->key_id : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, query->state >= 0 ? job_state_name(query->state) : "", -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, query->cursor > 0 ? query->cursor : INT64_MAX);
    /* One row more than asked says whether another page follows. */
    sqlite3_bind_int(st, 4, query->limit + 1);
    int step, n = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == query->limit) {
            *next_cursor = out[n - 1].seq;
            continue;
        }
        read_job(st, &out[n++]);
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        rc = fail_db(error, conn->db, "listing jobs");
        goto done;
    }
    *count = n;
done:
    release(s, conn);
    return rc;
}

static void bind_backoff(struct sqlite_store *s, sqlite3_stmt *st) {
    bind_int(st, ":B", s->base.options.backoff_base_ms);
    bind_int(st, ":M", s->base.options.backoff_max_ms);
}

/* Inside a transaction: queues the webhook of job ID, now in a final state. */
static int queue_webhook(struct connection *conn, const char *id, int64_t now,
                         struct vsr_error *error) {
    sqlite3_stmt *st = statement(conn, ST_JOB_WEBHOOK, error);
    if (!st) return VSR_E_OUTPUT;
    bind_int(st, ":N", now);
    bind_text(st, ":I", id);
    return run(conn, st, "queueing a webhook", error);
}

/* Inside a transaction: expired leases go back to the queue, or end (failed,
 * or canceled when a cancel was asked for) with their webhooks queued. */
static int requeue_expired(struct sqlite_store *s, struct connection *conn, int64_t now, int *count,
                           struct vsr_error *error) {
    char(*ended)[STORE_ID_SIZE] = NULL;
    int n = 0, capacity = 0, step, rc = VSR_OK;
    sqlite3_stmt *st = statement(conn, ST_EXPIRED_FAIL, error);
    if (!st) return VSR_E_OUTPUT;
    bind_int(st, ":N", now);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == capacity) {
            capacity = capacity ? 2 * capacity : 8;
            char(*grown)[STORE_ID_SIZE] = realloc(ended, (size_t)capacity * sizeof *ended);
            if (!grown) {
                error->code = rc = VSR_E_NOMEM;
                snprintf(error->message, sizeof error->message, "out of memory");
                sqlite3_reset(st);
                goto done;
            }
            ended = grown;
        }
        column_text(ended[n++], STORE_ID_SIZE, st, 0);
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        rc = fail_db(error, conn->db, "failing expired jobs");
        goto done;
    }
    for (int i = 0; i < n && rc == VSR_OK; i++)
        rc = queue_webhook(conn, ended[i], now, error);
    if (rc != VSR_OK) goto done;
    st = statement(conn, ST_EXPIRED_REQUEUE, error);
    if (!st) {
        rc = VSR_E_OUTPUT;
        goto done;
    }
    bind_int(st, ":N", now);
    bind_backoff(s, st);
    rc = run(conn, st, "requeueing expired jobs", error);
    if (rc == VSR_OK && count) *count = n + sqlite3_changes(conn->db);
done:
    free(ended);
    return rc;
}

static int sqlite_job_requeue_expired(struct store *store, int64_t now, int *count,
                                      struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    int rc = acquire(s, &conn, error);
    if (rc != VSR_OK) return rc;
    rc = begin(conn, error);
    if (rc == VSR_OK) rc = requeue_expired(s, conn, now, count, error);
    if (rc == VSR_OK) rc = commit(conn, error);
    release(s, conn);
    return rc;
}

static int sqlite_job_claim(struct store *store, const char *worker_id, int64_t lease_ms,
                            int64_t now, struct job *out, struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    int rc = acquire(s, &conn, error);
    if (rc != VSR_OK) return rc;
    rc = begin(conn, error);
    if (rc == VSR_OK) rc = requeue_expired(s, conn, now, NULL, error);
    if (rc == VSR_OK) {
        sqlite3_stmt *st = statement(conn, ST_JOB_CLAIM, error);
        if (!st) {
            rc = VSR_E_OUTPUT;
            goto done;
        }
        bind_text(st, ":W", worker_id);
        bind_int(st, ":N", now);
        bind_int(st, ":L", lease_ms);
        rc = step_job(conn, st, out, "claiming a job", error);
    }
    if (rc >= 0) {
        int committed = commit(conn, error);
        if (committed != VSR_OK) rc = committed;
    }
done:
    release(s, conn);
    return rc;
}

static int sqlite_job_heartbeat(struct store *store, const char *id, const char *worker_id,
                                int64_t lease_ms, double progress, int64_t now,
                                int *cancel_requested, struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    *cancel_requested = 0;
    int rc = open_statement(s, ST_JOB_HEARTBEAT, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    bind_int(st, ":N", now);
    bind_int(st, ":L", lease_ms);
    bind_double(st, ":P", progress);
    bind_text(st, ":I", id);
    bind_text(st, ":W", worker_id);
    int step = sqlite3_step(st);
    rc = 0;
    if (step == SQLITE_ROW) {
        *cancel_requested = sqlite3_column_int(st, 0);
        rc = 1;
        step = sqlite3_step(st);
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) rc = fail_db(error, conn->db, "extending a lease");
    release(s, conn);
    return rc;
}

static int sqlite_job_finish(struct store *store, const char *id, const char *worker_id,
                             const struct job_finish *finish, int64_t now,
                             struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, ST_JOB_FINISH, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    rc = begin(conn, error);
    if (rc != VSR_OK) goto done;
    bind_int(st, ":R", finish->state == JOB_FAILED && finish->retryable);
    bind_text(st, ":S", job_state_name(finish->state));
    bind_int(st, ":N", now);
    bind_backoff(s, st);
    bind_text(st, ":O", finish->output_blob);
    bind_text(st, ":C", finish->error_code);
    bind_text(st, ":E", finish->error_message);
    bind_text(st, ":I", id);
    bind_text(st, ":W", worker_id);
    int step = sqlite3_step(st), found = 0, final = 0;
    if (step == SQLITE_ROW) {
        found = 1;
        final = strcmp((const char *)sqlite3_column_text(st, 0), "queued") != 0;
        step = sqlite3_step(st);
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        rc = fail_db(error, conn->db, "finishing a job");
        goto done;
    }
    if (final) {
        rc = queue_webhook(conn, id, now, error);
        if (rc != VSR_OK) goto done;
    }
    rc = commit(conn, error);
    if (rc == VSR_OK) rc = found;
done:
    release(s, conn);
    return rc;
}

static int sqlite_job_release(struct store *store, const char *id, const char *worker_id,
                              int64_t now, struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, ST_JOB_RELEASE, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    bind_int(st, ":N", now);
    bind_text(st, ":I", id);
    bind_text(st, ":W", worker_id);
    rc = run(conn, st, "releasing a job", error);
    if (rc == VSR_OK) rc = sqlite3_changes(conn->db) > 0;
    release(s, conn);
    return rc;
}

static int sqlite_job_cancel(struct store *store, const char *key_id, const char *id, int64_t now,
                             struct job *out, struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, ST_JOB_CANCEL_QUEUED, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    rc = begin(conn, error);
    if (rc != VSR_OK) goto done;
    bind_int(st, ":N", now);
    bind_text(st, ":I", id);
    bind_text(st, ":K", key_id);
    rc = run(conn, st, "canceling a job", error);
    if (rc != VSR_OK) goto done;
    if (sqlite3_changes(conn->db) > 0) {
        rc = queue_webhook(conn, id, now, error);
        if (rc != VSR_OK) goto done;
    }
    st = statement(conn, ST_JOB_CANCEL_RUNNING, error);
    if (!st) {
        rc = VSR_E_OUTPUT;
        goto done;
    }
    bind_int(st, ":N", now);
    bind_text(st, ":I", id);
    bind_text(st, ":K", key_id);
    rc = run(conn, st, "canceling a job", error);
    if (rc != VSR_OK) goto done;
    st = statement(conn, ST_JOB_GET, error);
    if (!st) {
        rc = VSR_E_OUTPUT;
        goto done;
    }
    sqlite3_bind_text(st, 1, key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
    int found = step_job(conn, st, out, "reading a job", error);
    if (found < 0) {
        rc = found;
        goto done;
    }
    rc = commit(conn, error);
    if (rc == VSR_OK) rc = found;
done:
    release(s, conn);
    return rc;
}

static int sqlite_job_queue_position(struct store *store, const struct job *job, int64_t *position,
                                     struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    *position = 0;
    int rc = open_statement(s, ST_QUEUE_POSITION, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    sqlite3_bind_int64(st, 1, job->seq);
    if (sqlite3_step(st) == SQLITE_ROW)
        *position = sqlite3_column_int64(st, 0);
    else
        rc = fail_db(error, conn->db, "computing a queue position");
    sqlite3_reset(st);
    release(s, conn);
    return rc;
}

static int sqlite_queue_depth(struct store *store, int64_t counts[JOB_STATE_COUNT],
                              struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    for (int i = 0; i < JOB_STATE_COUNT; i++)
        counts[i] = 0;
    int rc = open_statement(s, ST_QUEUE_DEPTH, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int state = job_state_parse((const char *)sqlite3_column_text(st, 0));
        if (state >= 0) counts[state] = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) rc = fail_db(error, conn->db, "counting jobs");
    release(s, conn);
    return rc;
}

static int sqlite_job_stats(struct store *store, int64_t since, int64_t *completed, int64_t *failed,
                            double *p50, double *p95, struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    *completed = *failed = 0;
    *p50 = *p95 = 0;
    int rc = open_statement(s, ST_STATS_COUNT, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    sqlite3_bind_int64(st, 1, since);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = fail_db(error, conn->db, "counting finished jobs");
        goto done;
    }
    *completed = sqlite3_column_int64(st, 0);
    *failed = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    const double quantiles[2] = {0.5, 0.95};
    double *outs[2] = {p50, p95};
    for (int i = 0; i < 2 && *completed > 0; i++) {
        st = statement(conn, ST_STATS_DURATION, error);
        if (!st) {
            rc = VSR_E_OUTPUT;
            goto done;
        }
        /* Nearest-rank percentile: the ceil(q*n)-th smallest value. */
        int64_t rank = (int64_t)(quantiles[i] * (double)*completed + 0.999999);
        sqlite3_bind_int64(st, 1, since);
        sqlite3_bind_int64(st, 2, rank > 0 ? rank - 1 : 0);
        if (sqlite3_step(st) == SQLITE_ROW) *outs[i] = sqlite3_column_double(st, 0);
        sqlite3_reset(st);
    }
done:
    release(s, conn);
    return rc;
}

static int sqlite_webhook_list(struct store *store, const char *job_id,
                               struct webhook_delivery *out, int capacity, int *count,
                               struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    *count = 0;
    int rc = open_statement(s, ST_WEBHOOK_LIST, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    sqlite3_bind_text(st, 1, job_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, capacity);
    int step, n = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW && n < capacity)
        read_webhook(st, &out[n++]);
    sqlite3_reset(st);
    if (step != SQLITE_DONE && step != SQLITE_ROW)
        rc = fail_db(error, conn->db, "listing webhooks");
    *count = n;
    release(s, conn);
    return rc;
}

static int sqlite_webhook_claim_due(struct store *store, int64_t now, int64_t lease_ms,
                                    struct webhook_delivery *out, struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, ST_WEBHOOK_CLAIM, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    bind_int(st, ":N", now);
    bind_int(st, ":L", lease_ms);
    int step = sqlite3_step(st);
    rc = 0;
    if (step == SQLITE_ROW) {
        read_webhook(st, out);
        rc = 1;
        step = sqlite3_step(st);
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) rc = fail_db(error, conn->db, "claiming a webhook");
    release(s, conn);
    return rc;
}

static int sqlite_webhook_record(struct store *store, int64_t id, int delivered, int http_status,
                                 const char *error_text, int64_t next_attempt_at,
                                 struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, ST_WEBHOOK_RECORD, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, delivered);
    sqlite3_bind_int(st, 3, http_status);
    sqlite3_bind_text(st, 4, error_text ? error_text : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, next_attempt_at);
    rc = run(conn, st, "recording a webhook attempt", error);
    release(s, conn);
    return rc;
}

static int sqlite_expired_files(struct store *store, int64_t finished_before, int64_t unused_before,
                                struct expired_file *out, int capacity, int *count,
                                struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    *count = 0;
    int rc = open_statement(s, ST_EXPIRED_FILES, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    bind_int(st, ":F", finished_before);
    bind_int(st, ":U", unused_before);
    bind_int(st, ":C", capacity);
    int step = SQLITE_DONE, n = 0;
    while (n < capacity && (step = sqlite3_step(st)) == SQLITE_ROW) {
        out[n].is_upload = sqlite3_column_int(st, 0);
        column_text(out[n].owner_id, sizeof out[n].owner_id, st, 1);
        column_text(out[n].blob, sizeof out[n].blob, st, 2);
        n++;
    }
    if (n < capacity && step != SQLITE_DONE) rc = fail_db(error, conn->db, "listing expired files");
    sqlite3_reset(st);
    *count = n;
    release(s, conn);
    return rc;
}

static int sqlite_mark_purged(struct store *store, const struct expired_file *file, int64_t now,
                              struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st;
    int rc = open_statement(s, file->is_upload ? ST_PURGE_UPLOAD : ST_PURGE_JOB, &conn, &st, error);
    if (rc != VSR_OK) return rc;
    bind_int(st, ":N", now);
    bind_text(st, ":I", file->owner_id);
    rc = run(conn, st, "marking deleted files", error);
    release(s, conn);
    return rc;
}

/* The schema version and row counts of the database DB. */
static int count_rows(sqlite3 *db, struct store_counts *out, struct vsr_error *error) {
    sqlite3_stmt *st = NULL;
    int rc = VSR_OK;
    memset(out, 0, sizeof *out);
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT user_version FROM pragma_user_version),"
                           " (SELECT count(*) FROM jobs), (SELECT count(*) FROM api_keys),"
                           " (SELECT count(*) FROM uploads)",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = fail_db(error, db, "counting the rows");
    } else {
        out->schema_version = sqlite3_column_int(st, 0);
        out->jobs = sqlite3_column_int64(st, 1);
        out->keys = sqlite3_column_int64(st, 2);
        out->uploads = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    return rc;
}

/* SQLite's online backup API copies a consistent snapshot page by page; in
 * WAL mode its read transaction never blocks the service's writers. The copy
 * is written beside PATH, counted, turned into a plain rollback-journal file
 * (one file, readable without its -wal and -shm) and renamed into place. */
static int sqlite_backup(struct store *store, const char *path, struct store_counts *counts,
                         struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    char partial[4096];
    if (snprintf(partial, sizeof partial, "%s.partial", path) >= (int)sizeof partial) {
        error->code = VSR_E_USAGE;
        snprintf(error->message, sizeof error->message, "backup path is too long");
        return VSR_E_USAGE;
    }
    struct connection *conn;
    int rc = acquire(s, &conn, error);
    if (rc != VSR_OK) return rc;
    sqlite3 *copy = NULL;
    remove(partial);
    create_private(partial);
    if (sqlite3_open_v2(partial, &copy, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = fail_db(error, copy, "creating the backup file");
        goto done;
    }
    sqlite3_backup *backup = sqlite3_backup_init(copy, "main", conn->db, "main");
    if (!backup) {
        rc = fail_db(error, copy, "starting the backup");
        goto done;
    }
    int step;
    while ((step = sqlite3_backup_step(backup, -1)) == SQLITE_BUSY || step == SQLITE_LOCKED)
        sqlite3_sleep(20);
    sqlite3_backup_finish(backup);
    if (step != SQLITE_DONE) {
        rc = fail_db(error, copy, "copying the database");
        goto done;
    }
    rc = count_rows(copy, counts, error);
    if (rc != VSR_OK) goto done;
    if (sqlite3_exec(copy, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = fail_db(error, copy, "finishing the backup file");
        goto done;
    }
    if (sqlite3_close(copy) != SQLITE_OK) {
        rc = fail_db(error, copy, "closing the backup file");
        goto done;
    }
    copy = NULL;
    if (rename(partial, path) != 0) {
        error->code = rc = VSR_E_OUTPUT;
        snprintf(error->message, sizeof error->message, "cannot move the backup to %.400s", path);
    }
done:
    if (copy) sqlite3_close_v2(copy);
    if (rc != VSR_OK) remove(partial);
    release(s, conn);
    return rc;
}

/* The same API the other way: the copy's pages replace the database's, in
 * one write transaction, whatever schema version the copy has. */
static int sqlite_restore(struct store *store, const char *path, struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    sqlite3 *source = NULL;
    struct connection *conn;
    int rc = acquire(s, &conn, error);
    if (rc != VSR_OK) return rc;
    if (sqlite3_open_v2(path, &source, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        rc = fail_db(error, source, "opening the backup");
        goto done;
    }
    sqlite3_backup *backup = sqlite3_backup_init(conn->db, "main", source, "main");
    if (!backup) {
        rc = fail_db(error, conn->db, "starting the restore");
        goto done;
    }
    int step;
    while ((step = sqlite3_backup_step(backup, -1)) == SQLITE_BUSY || step == SQLITE_LOCKED)
        sqlite3_sleep(20);
    sqlite3_backup_finish(backup);
    if (step != SQLITE_DONE) rc = fail_db(error, conn->db, "restoring the database");
done:
    sqlite3_close_v2(source);
    release(s, conn);
    return rc;
}

static int sqlite_counts(struct store *store, struct store_counts *out, struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    int rc = acquire(s, &conn, error);
    if (rc != VSR_OK) return rc;
    rc = count_rows(conn->db, out, error);
    release(s, conn);
    return rc;
}

/* Uploads' files (which must exist once ready), jobs' inputs, and results
 * (which must exist once the job succeeded), of rows not purged. */
#define FILE_ROWS_SQL                                                                              \
    "SELECT 1, id, blob, state = 1 FROM uploads WHERE purged_at = 0 AND blob <> ''"                \
    " UNION ALL SELECT 0, id, input_blob, 0 FROM jobs WHERE purged_at = 0 AND input_blob <> ''"    \
    " UNION ALL SELECT 0, id, output_blob, state = 'succeeded' FROM jobs"                          \
    " WHERE purged_at = 0 AND output_blob <> ''"

static int sqlite_file_rows(struct store *store, struct file_row **out, int *count,
                            struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    struct connection *conn;
    sqlite3_stmt *st = NULL;
    int rc = acquire(s, &conn, error), capacity = 0, step;
    if (rc != VSR_OK) return rc;
    if (sqlite3_prepare_v2(conn->db, FILE_ROWS_SQL, -1, &st, NULL) != SQLITE_OK) {
        rc = fail_db(error, conn->db, "listing the stored files");
        goto done;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*count == capacity) {
            capacity = capacity ? capacity * 2 : 256;
            struct file_row *grown = realloc(*out, (size_t)capacity * sizeof **out);
            if (!grown) {
                error->code = rc = VSR_E_NOMEM;
                snprintf(error->message, sizeof error->message, "out of memory");
                goto done;
            }
            *out = grown;
        }
        struct file_row *row = &(*out)[(*count)++];
        row->is_upload = sqlite3_column_int(st, 0);
        snprintf(row->owner_id, sizeof row->owner_id, "%s", sqlite3_column_text(st, 1));
        snprintf(row->blob, sizeof row->blob, "%s", sqlite3_column_text(st, 2));
        row->must_exist = sqlite3_column_int(st, 3);
    }
    if (step != SQLITE_DONE) rc = fail_db(error, conn->db, "listing the stored files");
done:
    sqlite3_finalize(st);
    release(s, conn);
    return rc;
}

/* One write statement with :B and :N bound; *COUNT gets the rows changed. */
static int exec_change(struct sqlite_store *s, const char *sql, int64_t b, int64_t n, int *count,
                       const char *what, struct vsr_error *error) {
    struct connection *conn;
    sqlite3_stmt *st = NULL;
    int rc = acquire(s, &conn, error);
    if (rc != VSR_OK) return rc;
    if (sqlite3_prepare_v2(conn->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = fail_db(error, conn->db, what);
    } else {
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":B"), b);
        int index = sqlite3_bind_parameter_index(st, ":N");
        if (index) sqlite3_bind_int64(st, index, n);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = fail_db(error, conn->db, what);
        else
            *count = sqlite3_changes(conn->db);
    }
    sqlite3_finalize(st);
    release(s, conn);
    return rc;
}

static int sqlite_webhook_prune(struct store *store, int64_t before, int *count,
                                struct vsr_error *error) {
    return exec_change(SQLITE_STORE(store),
                       "DELETE FROM webhook_outbox WHERE delivered <> 0 AND created_at < :B",
                       before, 0, count, "pruning webhook deliveries", error);
}

static int sqlite_webhook_retry_failed(struct store *store, int64_t since, int64_t now, int *count,
                                       struct vsr_error *error) {
    return exec_change(SQLITE_STORE(store),
                       "UPDATE webhook_outbox SET delivered = 0, next_attempt_at = :N"
                       " WHERE delivered = -1 AND created_at >= :B",
                       since, now, count, "retrying webhook deliveries", error);
}

/* flock on a file beside the database: SQLite lives on one host, and the
 * lock goes with the process if it dies. */
static int sqlite_maintenance_lock(struct store *store, int take, struct vsr_error *error) {
    struct sqlite_store *s = SQLITE_STORE(store);
    if (!take) {
        if (s->maintenance_fd >= 0) close(s->maintenance_fd);
        s->maintenance_fd = -1;
        return 1;
    }
    if (s->maintenance_fd >= 0) return 0;
    char path[4200];
    snprintf(path, sizeof path, "%.4000s.maintenance-lock", s->path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        error->code = VSR_E_OUTPUT;
        snprintf(error->message, sizeof error->message, "cannot open %.300s: %s", path,
                 strerror(errno));
        return VSR_E_OUTPUT;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return 0;
    }
    s->maintenance_fd = fd;
    return 1;
}

static const struct store_ops sqlite_ops = {
    .close = sqlite_close,
    .ping = sqlite_ping,
    .key_create = sqlite_key_create,
    .key_find_by_hash = sqlite_key_find_by_hash,
    .key_list = sqlite_key_list,
    .key_revoke = sqlite_key_revoke,
    .key_usage = sqlite_key_usage,
    .upload_create = sqlite_upload_create,
    .upload_get = sqlite_upload_get,
    .upload_update = sqlite_upload_update,
    .job_create = sqlite_job_create,
    .job_get = sqlite_job_get,
    .job_list = sqlite_job_list,
    .job_claim = sqlite_job_claim,
    .job_heartbeat = sqlite_job_heartbeat,
    .job_finish = sqlite_job_finish,
    .job_release = sqlite_job_release,
    .job_cancel = sqlite_job_cancel,
    .job_requeue_expired = sqlite_job_requeue_expired,
    .job_queue_position = sqlite_job_queue_position,
    .queue_depth = sqlite_queue_depth,
    .job_stats = sqlite_job_stats,
    .webhook_list = sqlite_webhook_list,
    .webhook_claim_due = sqlite_webhook_claim_due,
    .webhook_record = sqlite_webhook_record,
    .expired_files = sqlite_expired_files,
    .mark_purged = sqlite_mark_purged,
    .backup = sqlite_backup,
    .restore = sqlite_restore,
    .counts = sqlite_counts,
    .file_rows = sqlite_file_rows,
    .webhook_prune = sqlite_webhook_prune,
    .webhook_retry_failed = sqlite_webhook_retry_failed,
    .maintenance_lock = sqlite_maintenance_lock,
};

/* Brings the schema to TARGET (1..SCHEMA_VERSION). BEGIN IMMEDIATE makes two
 * processes opening a new database at once migrate it one after the other. */
static int migrate(struct connection *conn, int target, struct vsr_error *error) {
    if (sqlite3_exec(conn->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK)
        return fail_db(error, conn->db, "switching to WAL mode");
    if (sqlite3_exec(conn->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail_db(error, conn->db, "starting the migration");
    sqlite3_stmt *st = NULL;
    int version = 0, rc = VSR_OK;
    if (sqlite3_prepare_v2(conn->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = fail_db(error, conn->db, "reading the schema version");
        goto done;
    }
    version = sqlite3_column_int(st, 0);
    if (version > SCHEMA_VERSION) {
        error->code = rc = VSR_E_USAGE;
        snprintf(error->message, sizeof error->message,
                 "database schema version %d is newer than this vsr understands (%d);"
                 " upgrade vsr",
                 version, SCHEMA_VERSION);
        goto done;
    }
    for (int v = version; v < target; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(conn->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(conn->db, pragma, NULL, NULL, NULL) != SQLITE_OK) {
            rc = fail_db(error, conn->db, "migrating the schema");
            goto done;
        }
    }
done:
    sqlite3_finalize(st);
    sqlite3_exec(conn->db, rc == VSR_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* SQLite's allocation statistics take a process-wide mutex on every
 * allocation, which the HTTP threads would fight over; nothing here reads
 * them. Settable only before SQLite initialises, hence once, first. */
static void configure_sqlite(void) {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int store_sqlite_open(struct store **out, const char *path, const struct store_options *options,
                      struct vsr_error *error) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_sqlite);
    *out = NULL;
    struct sqlite_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    s->base.ops = &sqlite_ops;
    s->maintenance_fd = -1;
    if (options)
        s->base.options = *options;
    else
        store_options_init(&s->base.options);
    pthread_mutex_init(&s->lock, NULL);
    create_private(path);
    struct connection *conn = NULL;
    int rc = connection_open(s, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &conn, error);
    int target = s->base.options.schema_version;
    if (target <= 0 || target > SCHEMA_VERSION) target = SCHEMA_VERSION;
    if (rc == VSR_OK) rc = migrate(conn, target, error);
    if (rc == VSR_OK && stat(path, &s->file) != 0)
        rc = fail_db(error, conn->db, "finding the file");
    if (rc != VSR_OK) {
        connection_free(conn);
        sqlite_close(&s->base);
        return rc;
    }
    release(s, conn);
    *out = &s->base;
    return VSR_OK;
}
