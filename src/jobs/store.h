/* store.h: the durable job store behind `vsr serve` and `vsr worker`: jobs,
 * uploads, API keys and the webhook outbox.
 *
 * The store is an interface (struct store_ops) with one backend per database;
 * store_open picks the backend from the URL ("sqlite:PATH" or a plain path
 * today). Callers use only the store_* functions below, so a PostgreSQL
 * backend slots in without touching them.
 *
 * Return values: VSR_OK (0) or a negative vsr_status with a message in the
 * caller's struct vsr_error; lookups return 1 when found and 0 when not.
 * Database failures are VSR_E_OUTPUT. Times are milliseconds since the Unix
 * epoch, because several processes on one machine share the store.
 *
 * Thread-safety: every function except store_close may be called from any
 * number of threads at once, and any number of processes may open the same
 * database. store_close must be called once, after the last call returned. */
#ifndef VSR_JOBS_STORE_H
#define VSR_JOBS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "vsr.h"

enum job_state {
    JOB_QUEUED = 0,
    JOB_PROCESSING,
    JOB_SUCCEEDED,
    JOB_FAILED,
    JOB_CANCELED,
    JOB_STATE_COUNT,
};

/* "queued", "processing", ...; job_state_parse returns -1 for unknown names. */
const char *job_state_name(enum job_state state);
int job_state_parse(const char *name);

#define STORE_ID_SIZE      48
#define STORE_NAME_SIZE    128
#define STORE_OPTIONS_SIZE 4096 /* options JSON; the API refuses bigger ones */
#define STORE_URL_SIZE     1024
#define STORE_MESSAGE_SIZE 512

struct job {
    int64_t seq; /* insertion order: the list cursor and the queue order */
    char id[STORE_ID_SIZE];
    char key_id[STORE_ID_SIZE]; /* the API key that owns the job */
    char type[32];              /* a name from job_types.h */
    enum job_state state;
    double progress; /* 0..100 */
    char upload_id[STORE_ID_SIZE];
    char input_blob[STORE_NAME_SIZE];  /* blob key of the input */
    char output_blob[STORE_NAME_SIZE]; /* blob key of the result, "" until succeeded */
    char options[STORE_OPTIONS_SIZE];  /* JSON object, validated by the job type */
    char webhook_url[STORE_URL_SIZE];
    char idempotency_key[STORE_NAME_SIZE];
    double media_seconds; /* input duration, for quotas and ETA */
    int attempts;         /* claims so far */
    int max_attempts;
    int cancel_requested;
    char lease_owner[STORE_NAME_SIZE];
    int64_t lease_expires_at;
    int64_t not_before; /* a queued job is not claimed before this time (backoff) */
    int64_t created_at, started_at, finished_at, updated_at; /* 0 when not yet */
    char error_code[32];
    char error_message[STORE_MESSAGE_SIZE];
    int64_t purged_at;   /* when retention deleted its result; 0 while kept */
    char request_id[40]; /* the API request that created it, for the job's log lines */
    /* burn, replace: the upload holding the subtitles (options'
     * subtitles_upload_id, kept in a column so that retention finds the jobs
     * using an upload by index); "" when none. */
    char subtitles_upload_id[STORE_ID_SIZE];
};

enum upload_state { UPLOAD_PENDING = 0, UPLOAD_READY, UPLOAD_REJECTED };

struct upload {
    char id[STORE_ID_SIZE];
    char key_id[STORE_ID_SIZE];
    char file_name[STORE_NAME_SIZE];
    char mime_type[STORE_NAME_SIZE];
    int64_t declared_size; /* fileSize from the client */
    int64_t size;          /* bytes received */
    char blob[STORE_NAME_SIZE];
    enum upload_state state;
    double media_seconds;
    int width, height;
    int audio_streams;   /* -1: not known (probed before vsr recorded it) */
    char error_code[32]; /* why it was rejected */
    char error_message[STORE_MESSAGE_SIZE];
    int64_t created_at, expires_at;
    int64_t purged_at; /* when retention deleted its file; 0 while kept */
};

struct api_key {
    char id[STORE_ID_SIZE];
    char name[STORE_NAME_SIZE];
    char secret_hash[65]; /* SHA-256 of the whole token, lower-case hex */
    char prefix[16];      /* the token's first characters, to recognise it in lists */
    int admin;
    int64_t jobs_per_day;      /* 0: unlimited */
    int64_t minutes_per_month; /* 0: unlimited */
    double rate_per_second;    /* requests; 0: unlimited */
    int64_t created_at;
    int64_t revoked_at; /* 0 while valid */
    /* Signs this key's webhooks (Standard Webhooks): "whsec_" + base64 of the
     * HMAC key. Made with the key; shown by `vsr keys create`. */
    char webhook_secret[64];
};

struct key_usage {
    int64_t jobs_last_day;     /* jobs created in the last 24 hours */
    double minutes_this_month; /* media minutes of jobs created this calendar month (UTC) */
    int64_t month_start;       /* when this month began */
};

struct webhook_delivery {
    int64_t id;
    char job_id[STORE_ID_SIZE];
    char event[32]; /* "job.succeeded", "job.failed", "job.canceled" */
    char url[STORE_URL_SIZE];
    char payload[STORE_OPTIONS_SIZE];
    int attempts;
    int64_t next_attempt_at;
    int delivered;   /* 1: done, -1: given up, 0: pending */
    int last_status; /* HTTP status of the last attempt, 0 when none */
    char last_error[STORE_MESSAGE_SIZE];
    int64_t created_at;
    char secret[64]; /* the owning key's webhook_secret, to sign with */
};

/* How the queue treats leases and retries. */
struct store_options {
    int64_t backoff_base_ms; /* first retry waits this long; each next one twice as long */
    int64_t backoff_max_ms;
    int busy_timeout_ms; /* how long a call waits for another writer */
    int pool_size;       /* PostgreSQL: connections per process (VSR_DB_POOL) */
    /* Migrate no further than this schema version (0: the latest). Only tests
     * of upgrades set it, to make a database as an older vsr left it; the
     * store cannot be used at an older version. Versions are per backend. */
    int schema_version;
};

void store_options_init(struct store_options *options); /* 5 s, 10 min, 5 s, 8 */

struct job_list_query {
    const char *key_id; /* the owner; NULL: every key's jobs (operators) */
    int state;          /* an enum job_state, or -1 for all */
    int64_t cursor;     /* 0: from the newest; else the next_cursor of the previous page */
    int limit;          /* 1..100 */
};

/* A stored file that retention may delete (store_expired_files). */
struct expired_file {
    int is_upload;                /* 1: an upload's file; 0: a job's result */
    char owner_id[STORE_ID_SIZE]; /* the upload's or the job's id */
    char blob[STORE_NAME_SIZE];
};

/* What a database holds: a backup's manifest, and restore's emptiness check. */
struct store_counts {
    int schema_version; /* per backend (PRAGMA user_version, vsr_schema) */
    int64_t jobs, keys, uploads;
};

/* A stored file that a row names, not yet purged (store_file_rows). */
struct file_row {
    int is_upload;                /* 1: an upload's file; 0: a job's input or result */
    char owner_id[STORE_ID_SIZE]; /* the upload's or the job's id */
    char blob[STORE_NAME_SIZE];
    int must_exist; /* a ready upload's file, a succeeded job's result: gone is a loss */
};

struct job_finish {
    enum job_state state; /* JOB_SUCCEEDED, JOB_FAILED or JOB_CANCELED */
    int retryable;        /* JOB_FAILED only: queue again with backoff while attempts remain */
    const char *output_blob;
    const char *error_code;
    const char *error_message;
};

struct store;

struct store_ops {
    void (*close)(struct store *store);
    int (*ping)(struct store *store, struct vsr_error *error);
    /* Optional (NULL: the backend has no such thing). */
    void (*pool_usage)(struct store *store, int *in_use, int *size);
    int (*wait_for_work)(struct store *store, int timeout_ms, struct vsr_error *error);

    int (*key_create)(struct store *store, const struct api_key *key, struct vsr_error *error);
    int (*key_find_by_hash)(struct store *store, const char *secret_hash, struct api_key *out,
                            struct vsr_error *error);
    int (*key_list)(struct store *store, struct api_key **out, int *count, struct vsr_error *error);
    int (*key_revoke)(struct store *store, const char *id_or_name, int64_t now,
                      struct vsr_error *error);
    int (*key_usage)(struct store *store, const char *key_id, int64_t now, struct key_usage *out,
                     struct vsr_error *error);

    int (*upload_create)(struct store *store, const struct upload *upload, struct vsr_error *error);
    int (*upload_get)(struct store *store, const char *key_id, const char *id, struct upload *out,
                      struct vsr_error *error);
    int (*upload_update)(struct store *store, const struct upload *upload, struct vsr_error *error);

    int (*job_create)(struct store *store, struct job *job, struct vsr_error *error);
    int (*job_get)(struct store *store, const char *key_id, const char *id, struct job *out,
                   struct vsr_error *error);
    int (*job_list)(struct store *store, const struct job_list_query *query, struct job *out,
                    int *count, int64_t *next_cursor, struct vsr_error *error);
    int (*job_claim)(struct store *store, const char *worker_id, int64_t lease_ms, int64_t now,
                     struct job *out, struct vsr_error *error);
    int (*job_heartbeat)(struct store *store, const char *id, const char *worker_id,
                         int64_t lease_ms, double progress, int64_t now, int *cancel_requested,
                         struct vsr_error *error);
    int (*job_finish)(struct store *store, const char *id, const char *worker_id,
                      const struct job_finish *finish, int64_t now, struct vsr_error *error);
    int (*job_release)(struct store *store, const char *id, const char *worker_id, int64_t now,
                       struct vsr_error *error);
    int (*job_cancel)(struct store *store, const char *key_id, const char *id, int64_t now,
                      struct job *out, struct vsr_error *error);
    int (*job_requeue_expired)(struct store *store, int64_t now, int *count,
                               struct vsr_error *error);
    int (*job_queue_position)(struct store *store, const struct job *job, int64_t *position,
                              struct vsr_error *error);
    int (*queue_depth)(struct store *store, int64_t counts[JOB_STATE_COUNT],
                       struct vsr_error *error);
    int (*job_stats)(struct store *store, int64_t since, int64_t *completed, int64_t *failed,
                     double *p50_seconds, double *p95_seconds, struct vsr_error *error);

    int (*webhook_list)(struct store *store, const char *job_id, struct webhook_delivery *out,
                        int capacity, int *count, struct vsr_error *error);
    int (*webhook_claim_due)(struct store *store, int64_t now, int64_t lease_ms,
                             struct webhook_delivery *out, struct vsr_error *error);
    int (*webhook_record)(struct store *store, int64_t id, int delivered, int http_status,
                          const char *error_text, int64_t next_attempt_at, struct vsr_error *error);

    int (*expired_files)(struct store *store, int64_t finished_before, int64_t unused_before,
                         struct expired_file *out, int capacity, int *count,
                         struct vsr_error *error);
    int (*mark_purged)(struct store *store, const struct expired_file *file, int64_t now,
                       struct vsr_error *error);
    int (*backup)(struct store *store, const char *path, struct store_counts *counts,
                  struct vsr_error *error);
    int (*restore)(struct store *store, const char *path, struct vsr_error *error);
    int (*counts)(struct store *store, struct store_counts *out, struct vsr_error *error);
    int (*file_rows)(struct store *store, struct file_row **out, int *count,
                     struct vsr_error *error);
    int (*webhook_prune)(struct store *store, int64_t before, int *count, struct vsr_error *error);
    int (*webhook_retry_failed)(struct store *store, int64_t since, int64_t now, int *count,
                                struct vsr_error *error);
    int (*maintenance_lock)(struct store *store, int take, struct vsr_error *error);
};

struct store {
    const struct store_ops *ops;
    struct store_options options;
};

/* Opens (creating and migrating as needed) the store at URL: "sqlite:PATH",
 * "sqlite://PATH", a plain file path, or "postgres://..." /
 * "postgresql://..." (a libpq connection URI). VSR_E_USAGE for an unknown
 * scheme. Opening applies the schema migrations (`vsr migrate` just opens). */
int store_open(struct store **out, const char *url, const struct store_options *options,
               struct vsr_error *error);
int store_sqlite_open(struct store **out, const char *path, const struct store_options *options,
                      struct vsr_error *error);
int store_pg_open(struct store **out, const char *url, const struct store_options *options,
                  struct vsr_error *error);
void store_close(struct store *store); /* NULL is a no-op */

/* Reads the database; VSR_OK when it answers. */
int store_ping(struct store *store, struct vsr_error *error);

/* Connections lent now and the pool's size: 1 when the backend has a bounded
 * pool (PostgreSQL), 0 when it reports none (SQLite). For readiness. */
int store_pool_usage(struct store *store, int *in_use, int *size);

/* Sleeps until a job may have become claimable or TIMEOUT_MS passed: 1 woken
 * by the database (PostgreSQL LISTEN/NOTIFY), 0 timed out, VSR_E_USAGE when
 * the backend cannot wake anyone (SQLite: callers poll instead), another
 * negative status when the database failed. */
int store_wait_for_work(struct store *store, int timeout_ms, struct vsr_error *error);

/* ---- API keys ---------------------------------------------------------- */

/* Makes a new key with a fresh token ("vsr_" + 48 hex characters). KEY holds
 * the name, role and limits; on return its id, hash, prefix and created_at
 * are filled and TOKEN (at least 64 bytes) holds the secret, which the store
 * never keeps: only its SHA-256 is stored. */
int store_key_create(struct store *store, struct api_key *key, char *token, size_t token_size,
                     struct vsr_error *error);

/* Finds the valid (not revoked) key whose token is TOKEN: 1 found, 0 not. */
int store_key_authenticate(struct store *store, const char *token, struct api_key *out,
                           struct vsr_error *error);

/* All keys, newest first, revoked ones included; *out is freed with free(). */
int store_key_list(struct store *store, struct api_key **out, int *count, struct vsr_error *error);

/* Revokes the key with this id or name: 1 revoked, 0 no such valid key. */
int store_key_revoke(struct store *store, const char *id_or_name, struct vsr_error *error);

int store_key_usage(struct store *store, const char *key_id, struct key_usage *out,
                    struct vsr_error *error);

/* SHA-256 of TOKEN as 64 lower-case hex characters plus NUL. */
void store_hash_token(const char *token, char out[65]);

/* ---- uploads ----------------------------------------------------------- */

int store_upload_create(struct store *store, const struct upload *upload, struct vsr_error *error);
/* 1 found, 0 not (or owned by another key). */
int store_upload_get(struct store *store, const char *key_id, const char *id, struct upload *out,
                     struct vsr_error *error);
/* Writes size, state, media facts and error of UPLOAD (found by id). */
int store_upload_update(struct store *store, const struct upload *upload, struct vsr_error *error);

/* ---- jobs -------------------------------------------------------------- */

/* Inserts JOB (key_id, type, input, options, webhook_url, max_attempts,
 * media_seconds, subtitles_upload_id when the options name one, and
 * optionally idempotency_key set by the caller; id, seq,
 * state and times are filled in). When the key already has a job with the
 * same idempotency key, JOB is overwritten with that job and 1 is returned;
 * otherwise 0. */
int store_job_create(struct store *store, struct job *job, struct vsr_error *error);

/* 1 found, 0 not. KEY_ID NULL finds any key's job (workers, operators). */
int store_job_get(struct store *store, const char *key_id, const char *id, struct job *out,
                  struct vsr_error *error);

/* Up to query->limit jobs, newest first, into OUT (capacity query->limit).
 * *next_cursor is 0 on the last page. */
int store_job_list(struct store *store, const struct job_list_query *query, struct job *out,
                   int *count, int64_t *next_cursor, struct vsr_error *error);

/* Takes the oldest queued job whose backoff is over, moving it to processing
 * under a lease held by WORKER_ID for LEASE_MS. Leases that expired first go
 * back to the queue (see store_job_requeue_expired). 1 claimed, 0 none. */
int store_job_claim(struct store *store, const char *worker_id, int64_t lease_ms, struct job *out,
                    struct vsr_error *error);

/* Extends the lease and records PROGRESS. *cancel_requested says whether the
 * job should stop (DELETE arrived). Returns 1 while WORKER_ID holds the lease,
 * 0 when it lost it (expired and reclaimed, or canceled while queued). */
int store_job_heartbeat(struct store *store, const char *id, const char *worker_id,
                        int64_t lease_ms, double progress, int *cancel_requested,
                        struct vsr_error *error);

/* Ends a processing job held by WORKER_ID. A retryable failure with attempts
 * left goes back to the queue after an exponential backoff; otherwise the
 * state is final and, when the job has a webhook_url, a delivery is queued in
 * the outbox in the same transaction. 1 done, 0 the worker no longer held it. */
int store_job_finish(struct store *store, const char *id, const char *worker_id,
                     const struct job_finish *finish, struct vsr_error *error);

/* Gives a processing job back to the queue without using up an attempt (a
 * draining worker that ran out of time). 1 released, 0 not held. */
int store_job_release(struct store *store, const char *id, const char *worker_id,
                      struct vsr_error *error);

/* Cancels KEY_ID's job: a queued job becomes canceled at once, a processing
 * one gets cancel_requested (its worker stops it). OUT gets the job after the
 * change. 1 found, 0 not; a finished job is left as it is. */
int store_job_cancel(struct store *store, const char *key_id, const char *id, struct job *out,
                     struct vsr_error *error);

/* Processing jobs whose lease ran out go back to the queue with backoff, or
 * fail for good ("lease_expired") when their attempts are used up. */
int store_job_requeue_expired(struct store *store, int *count, struct vsr_error *error);

/* Jobs ahead of a queued JOB (0: next). */
int store_job_queue_position(struct store *store, const struct job *job, int64_t *position,
                             struct vsr_error *error);

int store_queue_depth(struct store *store, int64_t counts[JOB_STATE_COUNT],
                      struct vsr_error *error);

/* Jobs finished since SINCE, and the p50/p95 of their run time (0 when none). */
int store_job_stats(struct store *store, int64_t since, int64_t *completed, int64_t *failed,
                    double *p50_seconds, double *p95_seconds, struct vsr_error *error);

/* ---- webhook outbox ---------------------------------------------------- */

/* The deliveries of one job, oldest first. */
int store_webhook_list(struct store *store, const char *job_id, struct webhook_delivery *out,
                       int capacity, int *count, struct vsr_error *error);

/* Takes the oldest pending delivery that is due, pushing its next attempt
 * LEASE_MS into the future so that no other sender takes it. 1 taken, 0 none. */
int store_webhook_claim_due(struct store *store, int64_t lease_ms, struct webhook_delivery *out,
                            struct vsr_error *error);

/* Records an attempt: DELIVERED 1 (done), -1 (given up) or 0 (try again at
 * NEXT_ATTEMPT_AT). */
int store_webhook_record(struct store *store, int64_t id, int delivered, int http_status,
                         const char *error_text, int64_t next_attempt_at, struct vsr_error *error);

/* ---- retention and backups -------------------------------------------- */

/* Up to CAPACITY stored files that retention may delete, not yet purged:
 * results of jobs that finished before FINISHED_BEFORE; files of uploads
 * whose every job finished before then; files of uploads that no job uses
 * and whose URL expired before UNUSED_BEFORE. */
int store_expired_files(struct store *store, int64_t finished_before, int64_t unused_before,
                        struct expired_file *out, int capacity, int *count,
                        struct vsr_error *error);

/* Records that FILE was deleted: its job or upload gets purged_at. The row
 * itself stays (GET of a purged job's result answers 410). */
int store_mark_purged(struct store *store, const struct expired_file *file,
                      struct vsr_error *error);

/* Writes a consistent copy of the whole database to the file PATH while the
 * service keeps using it, and *COUNTS of that copy: SQLite's online backup
 * API (PATH is a database), or PostgreSQL's pg_dump -Fc from PATH, run on a
 * snapshot the counts are read in. PATH appears only when complete. */
int store_backup(struct store *store, const char *path, struct store_counts *counts,
                 struct vsr_error *error);

/* Replaces the whole database with the copy at PATH that store_backup wrote
 * (pg_restore for PostgreSQL). Callers check that the database is empty
 * first, then close the store and open it again, which migrates a copy of an
 * older schema. */
int store_restore(struct store *store, const char *path, struct vsr_error *error);

int store_counts(struct store *store, struct store_counts *out, struct vsr_error *error);

/* Every file named by a row not purged: uploads' files, jobs' inputs and
 * results. *OUT is freed with free(). */
int store_file_rows(struct store *store, struct file_row **out, int *count,
                    struct vsr_error *error);

/* ---- daily maintenance ------------------------------------------------- */

/* Deletes the finished webhook deliveries (delivered or given up) created
 * before BEFORE; *COUNT counts them. */
int store_webhook_prune(struct store *store, int64_t before, int *count, struct vsr_error *error);

/* Gives each delivery given up since SINCE one more attempt, due now:
 * the endpoint may be back. *COUNT counts them. */
int store_webhook_retry_failed(struct store *store, int64_t since, int *count,
                               struct vsr_error *error);

/* TAKE 1: takes the database's maintenance lock, held by this store until
 * released (TAKE 0): 1 taken, 0 held by another process or store. Across
 * processes and hosts (a lock file beside SQLite's database, a PostgreSQL
 * advisory lock). */
int store_maintenance_lock(struct store *store, int take, struct vsr_error *error);

#endif
