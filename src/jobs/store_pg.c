/* store_pg.c: the job store on PostgreSQL (see store.h), for several `vsr
 * serve` and `vsr worker` processes on several hosts sharing one database.
 *
 * Same behaviour as store_sqlite.c, statement for statement. Queue and
 * outbox claims take their row with FOR UPDATE SKIP LOCKED, so concurrent
 * workers never wait on each other nor take the same job; writes that must
 * be atomic (finish + webhook, cancel, lease expiry) run in one transaction.
 * Statements are prepared once per pooled connection (store_pg_pool.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "jobs/store_pg.h"
#include "jobs/store_columns.h"

/* Backoff after attempt N (1-based): base * 2^(N-1), capped; $B the base, $M
 * the cap (as in store_sqlite.c). */
#define BACKOFF_SQL(B, M)                                                                          \
    "least(" M "::bigint, " B "::bigint << least(greatest(attempts - 1, 0), 30))"

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
    ST_EXPIRED_ANY,
    ST_EXPIRED_FAIL,
    ST_EXPIRED_REQUEUE,
    ST_JOB_CLAIM,
    ST_JOB_HEARTBEAT,
    ST_JOB_FINISH,
    ST_WEBHOOK_INSERT,
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
    ST_PING,
    ST_EXPIRED_FILES,
    ST_PURGE_JOB,
    ST_PURGE_UPLOAD,
    ST_COUNT
};

static const char *const statement_sql[ST_COUNT] = {
    [ST_KEY_INSERT] = "INSERT INTO api_keys(" KEY_COLUMNS ") VALUES($1, $2, $3, $4, $5, $6, $7,"
                      " $8, $9, $10, $11)",
    [ST_KEY_BY_HASH] = "SELECT " KEY_COLUMNS " FROM api_keys WHERE secret_hash = $1"
                       " AND revoked_at = 0",
    [ST_KEY_LIST] = "SELECT " KEY_COLUMNS " FROM api_keys ORDER BY created_at DESC, id",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = $2 WHERE (id = $1 OR name = $1)"
                      " AND revoked_at = 0",
    [ST_KEY_JOBS_SINCE] = "SELECT count(*) FROM jobs WHERE key_id = $1 AND created_at >= $2",
    [ST_KEY_MINUTES_SINCE] = "SELECT coalesce(sum(media_seconds), 0) / 60.0 FROM jobs"
                             " WHERE key_id = $1 AND created_at >= $2",
    [ST_UPLOAD_INSERT] = "INSERT INTO uploads(" UPLOAD_COLUMNS ") VALUES($1, $2, $3, $4, $5, $6,"
                         " $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    [ST_UPLOAD_GET] = "SELECT " UPLOAD_COLUMNS " FROM uploads WHERE id = $2 AND key_id = $1",
    [ST_UPLOAD_UPDATE] = "UPDATE uploads SET size = $2, state = $3, media_seconds = $4,"
                         " width = $5, height = $6, error_code = $7, error_message = $8,"
                         " audio_streams = $9 WHERE id = $1",
    [ST_JOB_INSERT] =
        "INSERT INTO jobs(id, key_id, type, state, upload_id, input_blob, options, webhook_url,"
        " idempotency_key, media_seconds, max_attempts, not_before, created_at, updated_at,"
        " request_id, subtitles_upload_id) VALUES($1, $2, $3, 'queued', $4, $5, $6, $7,"
        " nullif($8::text, ''), $9, $10, $11, $11, $11, $12, nullif($13::text, ''))"
        " ON CONFLICT DO NOTHING RETURNING " JOB_COLUMNS,
    [ST_JOB_BY_IDEMPOTENCY] = "SELECT " JOB_COLUMNS " FROM jobs WHERE key_id = $1"
                              " AND idempotency_key = $2",
    [ST_JOB_GET] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = $2 AND key_id = $1",
    [ST_JOB_GET_ANY] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = $1",
    [ST_JOB_LIST] = "SELECT " JOB_COLUMNS " FROM jobs WHERE key_id = $1 AND seq < $3"
                    " AND ($2::text = '' OR state = $2::text) ORDER BY seq DESC LIMIT $4",
    [ST_JOB_LIST_ALL] = "SELECT " JOB_COLUMNS " FROM jobs WHERE $1::text IS NOT NULL"
                        " AND seq < $3 AND ($2::text = '' OR state = $2::text)"
                        " ORDER BY seq DESC LIMIT $4",
    [ST_EXPIRED_ANY] = "SELECT 1 FROM jobs WHERE state = 'processing' AND lease_expires_at < $1"
                       " LIMIT 1",
    [ST_EXPIRED_FAIL] =
        "UPDATE jobs SET state = CASE WHEN cancel_requested <> 0 THEN 'canceled' ELSE 'failed'"
        " END, error_code = CASE WHEN cancel_requested <> 0 THEN '' ELSE 'lease_expired' END,"
        " error_message = CASE WHEN cancel_requested <> 0 THEN '' ELSE"
        " 'the worker stopped answering on every attempt; the job was given up' END,"
        " lease_owner = '', finished_at = $1, updated_at = $1"
        " WHERE seq IN (SELECT seq FROM jobs WHERE state = 'processing' AND lease_expires_at < $1"
        " AND (attempts >= max_attempts OR cancel_requested <> 0) FOR UPDATE SKIP LOCKED)"
        " RETURNING id",
    [ST_EXPIRED_REQUEUE] =
        "UPDATE jobs SET state = 'queued', lease_owner = '', progress = 0,"
        " not_before = $1::bigint + " BACKOFF_SQL(
            "$2", "$3") ","
                        " updated_at = $1, error_code = 'lease_expired',"
                        " error_message = 'the worker stopped answering; retrying'"
                        " WHERE seq IN (SELECT seq FROM jobs WHERE state = 'processing'"
                        " AND lease_expires_at < $1 FOR UPDATE SKIP LOCKED)",
    [ST_JOB_CLAIM] = "UPDATE jobs SET state = 'processing', attempts = attempts + 1,"
                     " lease_owner = $1, lease_expires_at = $2::bigint + $3::bigint, progress = 0,"
                     " started_at = $2, updated_at = $2"
                     " WHERE seq = (SELECT seq FROM jobs WHERE state = 'queued'"
                     " AND not_before <= $2 ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)"
                     " RETURNING " JOB_COLUMNS,
    [ST_JOB_HEARTBEAT] = "UPDATE jobs SET lease_expires_at = $1::bigint + $2::bigint,"
                         " progress = $3, updated_at = $1 WHERE id = $4 AND state = 'processing'"
                         " AND lease_owner = $5 RETURNING cancel_requested",
    [ST_JOB_FINISH] =
        "UPDATE jobs SET state = CASE WHEN $1::int <> 0 AND attempts < max_attempts"
        " THEN 'queued' ELSE $2::text END, not_before = CASE WHEN $1::int <> 0"
        " AND attempts < max_attempts THEN $3::bigint + " BACKOFF_SQL(
            "$4",
            "$5") " ELSE"
                  " not_before END, progress = CASE WHEN $2::text = 'succeeded' THEN 100 ELSE "
                  "progress END,"
                  " output_blob = $6, error_code = $7, error_message = $8, lease_owner = '',"
                  " finished_at = CASE WHEN $1::int <> 0 AND attempts < max_attempts THEN 0"
                  " ELSE $3::bigint END, updated_at = $3::bigint"
                  " WHERE id = $9 AND state = 'processing' AND lease_owner = $10 RETURNING state",
    [ST_WEBHOOK_INSERT] = "INSERT INTO webhook_outbox(job_id, event, url, payload,"
                          " next_attempt_at, created_at) VALUES($1, $2, $3, $4, $5, $5)",
    [ST_JOB_RELEASE] = "UPDATE jobs SET state = 'queued', lease_owner = '', progress = 0,"
                       " attempts = greatest(attempts - 1, 0), not_before = $1, updated_at = $1"
                       " WHERE id = $2 AND state = 'processing' AND lease_owner = $3",
    [ST_JOB_CANCEL_QUEUED] = "UPDATE jobs SET state = 'canceled', finished_at = $1,"
                             " updated_at = $1 WHERE id = $2 AND key_id = $3"
                             " AND state = 'queued'",
    [ST_JOB_CANCEL_RUNNING] = "UPDATE jobs SET cancel_requested = 1, updated_at = $1"
                              " WHERE id = $2 AND key_id = $3 AND state = 'processing'",
    [ST_QUEUE_POSITION] = "SELECT count(*) FROM jobs WHERE state = 'queued' AND seq < $1",
    [ST_QUEUE_DEPTH] = "SELECT state, count(*) FROM jobs GROUP BY state",
    [ST_STATS_COUNT] = "SELECT count(*) FILTER (WHERE state = 'succeeded'),"
                       " count(*) FILTER (WHERE state = 'failed') FROM jobs"
                       " WHERE finished_at >= $1",
    [ST_STATS_DURATION] = "SELECT (finished_at - started_at) / 1000.0 FROM jobs"
                          " WHERE finished_at >= $1 AND state = 'succeeded'"
                          " ORDER BY 1 LIMIT 1 OFFSET $2",
    [ST_WEBHOOK_LIST] = "SELECT " WEBHOOK_COLUMNS " FROM webhook_outbox WHERE job_id = $1"
                        " ORDER BY id LIMIT $2",
    [ST_WEBHOOK_CLAIM] = "UPDATE webhook_outbox SET next_attempt_at = $1::bigint + $2::bigint,"
                         " attempts = attempts + 1 WHERE id = (SELECT id FROM webhook_outbox"
                         " WHERE delivered = 0 AND next_attempt_at <= $1::bigint"
                         " ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
                         " RETURNING " WEBHOOK_COLUMNS,
    [ST_WEBHOOK_RECORD] = "UPDATE webhook_outbox SET delivered = $2, last_status = $3,"
                          " last_error = $4, next_attempt_at = $5 WHERE id = $1",
    [ST_PING] = "SELECT seq FROM jobs ORDER BY seq DESC LIMIT 1",
    /* Results of old jobs; files of uploads whose jobs are all old, or that
     * no job used and whose URL expired (as store_sqlite.c). */
    [ST_EXPIRED_FILES] =
        "SELECT 0, id, output_blob FROM jobs WHERE purged_at = 0 AND output_blob <> ''"
        " AND finished_at > 0 AND finished_at < $1"
        " AND state IN ('succeeded', 'failed', 'canceled')"
        " UNION ALL SELECT 1, u.id, u.blob FROM uploads u WHERE u.purged_at = 0 AND u.state = 1"
        " AND CASE WHEN EXISTS (SELECT 1 FROM jobs j WHERE " USES_UPLOAD ")"
        " THEN NOT EXISTS (SELECT 1 FROM jobs j WHERE (" USES_UPLOAD ")"
        " AND (j.state IN ('queued', 'processing') OR j.finished_at >= $1))"
        " ELSE u.expires_at < $2 END LIMIT $3",
    [ST_PURGE_JOB] = "UPDATE jobs SET purged_at = $1 WHERE id = $2 AND purged_at = 0",
    [ST_PURGE_UPLOAD] = "UPDATE uploads SET purged_at = $1 WHERE id = $2 AND purged_at = 0",
};

_Static_assert(ST_COUNT <= PG_STATEMENT_MAX, "raise PG_STATEMENT_MAX");

/* ---- parameters and results --------------------------------------------- */

/* Parameters are sent as text; numbers are formatted into STORAGE. The
 * widest statement, the upload insert, takes 17. */
#define PG_PARAMS_MAX 24
struct params {
    int n;
    const char *values[PG_PARAMS_MAX];
    char storage[PG_PARAMS_MAX][32];
};

static void p_text(struct params *p, const char *value) {
    p->values[p->n++] = value ? value : "";
}

static void p_int(struct params *p, int64_t value) {
    snprintf(p->storage[p->n], sizeof p->storage[p->n], "%lld", (long long)value);
    p->values[p->n] = p->storage[p->n];
    p->n++;
}

static void p_double(struct params *p, double value) {
    snprintf(p->storage[p->n], sizeof p->storage[p->n], "%.17g", value);
    p->values[p->n] = p->storage[p->n];
    p->n++;
}

/* Runs statement ID on C: the result (the caller PQclears it), or NULL and
 * ERROR filled. */
static PGresult *query(struct pg_connection *c, enum statement id, const struct params *p,
                       const char *what, struct vsr_error *error) {
    char name[16];
    snprintf(name, sizeof name, "vsr%d", (int)id);
    if (!c->prepared[id]) {
        PGresult *res = PQprepare(c->conn, name, statement_sql[id], 0, NULL);
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok) {
            pg_fail(error, c->conn, what);
            return NULL;
        }
        c->prepared[id] = 1;
    }
    PGresult *res =
        PQexecPrepared(c->conn, name, p ? p->n : 0, p ? p->values : NULL, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        pg_fail(error, c->conn, what);
        PQclear(res);
        return NULL;
    }
    return res;
}

static int exec_plain(struct pg_connection *c, const char *sql, const char *what,
                      struct vsr_error *error) {
    PGresult *res = PQexec(c->conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    return ok ? VSR_OK : pg_fail(error, c->conn, what);
}

/* Borrows a connection, runs one statement and gives the connection back. */
static PGresult *query_once(struct pg_store *s, enum statement id, const struct params *p,
                            const char *what, struct vsr_error *error) {
    struct pg_connection *c;
    if (pg_acquire(s, &c, error) != VSR_OK) return NULL;
    PGresult *res = query(c, id, p, what, error);
    pg_release(s, c, 0);
    return res;
}

static int64_t get_int(const PGresult *res, int row, int col) {
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static double get_double(const PGresult *res, int row, int col) {
    return strtod(PQgetvalue(res, row, col), NULL);
}

static void get_text(char *dst, size_t size, const PGresult *res, int row, int col) {
    snprintf(dst, size, "%s", PQgetvalue(res, row, col));
}

static int affected(const PGresult *res) {
    return atoi(PQcmdTuples((PGresult *)res));
}

static void read_job(const PGresult *res, int row, struct job *job) {
    char state[32];
    memset(job, 0, sizeof *job);
    job->seq = get_int(res, row, 0);
    get_text(job->id, sizeof job->id, res, row, 1);
    get_text(job->key_id, sizeof job->key_id, res, row, 2);
    get_text(job->type, sizeof job->type, res, row, 3);
    get_text(state, sizeof state, res, row, 4);
    job->state = (enum job_state)job_state_parse(state);
    job->progress = get_double(res, row, 5);
    get_text(job->upload_id, sizeof job->upload_id, res, row, 6);
    get_text(job->input_blob, sizeof job->input_blob, res, row, 7);
    get_text(job->output_blob, sizeof job->output_blob, res, row, 8);
    get_text(job->options, sizeof job->options, res, row, 9);
    get_text(job->webhook_url, sizeof job->webhook_url, res, row, 10);
    get_text(job->idempotency_key, sizeof job->idempotency_key, res, row, 11);
    job->media_seconds = get_double(res, row, 12);
    job->attempts = (int)get_int(res, row, 13);
    job->max_attempts = (int)get_int(res, row, 14);
    job->cancel_requested = (int)get_int(res, row, 15);
    get_text(job->lease_owner, sizeof job->lease_owner, res, row, 16);
    job->lease_expires_at = get_int(res, row, 17);
    job->not_before = get_int(res, row, 18);
    job->created_at = get_int(res, row, 19);
    job->started_at = get_int(res, row, 20);
    job->finished_at = get_int(res, row, 21);
    job->updated_at = get_int(res, row, 22);
    get_text(job->error_code, sizeof job->error_code, res, row, 23);
    get_text(job->error_message, sizeof job->error_message, res, row, 24);
    job->purged_at = get_int(res, row, 25);
    get_text(job->request_id, sizeof job->request_id, res, row, 26);
    get_text(job->subtitles_upload_id, sizeof job->subtitles_upload_id, res, row, 27);
}

static void read_key(const PGresult *res, int row, struct api_key *key) {
    memset(key, 0, sizeof *key);
    get_text(key->id, sizeof key->id, res, row, 0);
    get_text(key->name, sizeof key->name, res, row, 1);
    get_text(key->secret_hash, sizeof key->secret_hash, res, row, 2);
    get_text(key->prefix, sizeof key->prefix, res, row, 3);
    key->admin = (int)get_int(res, row, 4);
    key->jobs_per_day = get_int(res, row, 5);
    key->minutes_per_month = get_int(res, row, 6);
    key->rate_per_second = get_double(res, row, 7);
    key->created_at = get_int(res, row, 8);
    key->revoked_at = get_int(res, row, 9);
    get_text(key->webhook_secret, sizeof key->webhook_secret, res, row, 10);
}

static void read_upload(const PGresult *res, int row, struct upload *up) {
    memset(up, 0, sizeof *up);
    get_text(up->id, sizeof up->id, res, row, 0);
    get_text(up->key_id, sizeof up->key_id, res, row, 1);
    get_text(up->file_name, sizeof up->file_name, res, row, 2);
    get_text(up->mime_type, sizeof up->mime_type, res, row, 3);
    up->declared_size = get_int(res, row, 4);
    up->size = get_int(res, row, 5);
    get_text(up->blob, sizeof up->blob, res, row, 6);
    up->state = (enum upload_state)get_int(res, row, 7);
    up->media_seconds = get_double(res, row, 8);
    up->width = (int)get_int(res, row, 9);
    up->height = (int)get_int(res, row, 10);
    get_text(up->error_code, sizeof up->error_code, res, row, 11);
    get_text(up->error_message, sizeof up->error_message, res, row, 12);
    up->created_at = get_int(res, row, 13);
    up->expires_at = get_int(res, row, 14);
    up->purged_at = get_int(res, row, 15);
    up->audio_streams = (int)get_int(res, row, 16);
}

static void read_webhook(const PGresult *res, int row, struct webhook_delivery *w) {
    memset(w, 0, sizeof *w);
    w->id = get_int(res, row, 0);
    get_text(w->job_id, sizeof w->job_id, res, row, 1);
    get_text(w->event, sizeof w->event, res, row, 2);
    get_text(w->url, sizeof w->url, res, row, 3);
    get_text(w->payload, sizeof w->payload, res, row, 4);
    w->attempts = (int)get_int(res, row, 5);
    w->next_attempt_at = get_int(res, row, 6);
    w->delivered = (int)get_int(res, row, 7);
    w->last_status = (int)get_int(res, row, 8);
    get_text(w->last_error, sizeof w->last_error, res, row, 9);
    w->created_at = get_int(res, row, 10);
    get_text(w->secret, sizeof w->secret, res, row, 11);
}

#define PG_STORE(store) ((struct pg_store *)(store))

/* ---- operations ---------------------------------------------------------- */

static void pg_close(struct store *store) {
    struct pg_store *s = PG_STORE(store);
    PQfinish(s->maintenance);
    pg_pool_close(s);
    pthread_cond_destroy(&s->returned);
    pthread_cond_destroy(&s->notified);
    pthread_mutex_destroy(&s->lock);
    free(s->conninfo);
    free(s);
}

static int pg_ping(struct store *store, struct vsr_error *error) {
    PGresult *res = query_once(PG_STORE(store), ST_PING, NULL, "reading the database", error);
    PQclear(res);
    return res ? VSR_OK : VSR_E_OUTPUT;
}

static void pg_pool_usage(struct store *store, int *in_use, int *size) {
    struct pg_store *s = PG_STORE(store);
    pthread_mutex_lock(&s->lock);
    *in_use = s->in_use;
    *size = s->size;
    pthread_mutex_unlock(&s->lock);
}

static int pg_key_create(struct store *store, const struct api_key *key, struct vsr_error *error) {
    struct params p = {0};
    p_text(&p, key->id);
    p_text(&p, key->name);
    p_text(&p, key->secret_hash);
    p_text(&p, key->prefix);
    p_int(&p, key->admin);
    p_int(&p, key->jobs_per_day);
    p_int(&p, key->minutes_per_month);
    p_double(&p, key->rate_per_second);
    p_int(&p, key->created_at);
    p_int(&p, key->revoked_at);
    p_text(&p, key->webhook_secret);
    PGresult *res = query_once(PG_STORE(store), ST_KEY_INSERT, &p, "creating an API key", error);
    PQclear(res);
    return res ? VSR_OK : VSR_E_OUTPUT;
}

static int pg_key_find_by_hash(struct store *store, const char *hash, struct api_key *out,
                               struct vsr_error *error) {
    struct params p = {0};
    p_text(&p, hash);
    PGresult *res = query_once(PG_STORE(store), ST_KEY_BY_HASH, &p, "looking up an API key", error);
    if (!res) return VSR_E_OUTPUT;
    int found = PQntuples(res) > 0;
    if (found) read_key(res, 0, out);
    PQclear(res);
    return found;
}

static int pg_key_list(struct store *store, struct api_key **out, int *count,
                       struct vsr_error *error) {
    *out = NULL;
    *count = 0;
    PGresult *res = query_once(PG_STORE(store), ST_KEY_LIST, NULL, "listing API keys", error);
    if (!res) return VSR_E_OUTPUT;
    int n = PQntuples(res);
    struct api_key *keys = calloc((size_t)(n > 0 ? n : 1), sizeof *keys);
    if (!keys) {
        PQclear(res);
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    for (int i = 0; i < n; i++)
        read_key(res, i, &keys[i]);
    PQclear(res);
    *out = keys;
    *count = n;
    return VSR_OK;
}

static int pg_key_revoke(struct store *store, const char *id_or_name, int64_t now,
                         struct vsr_error *error) {
    struct params p = {0};
    p_text(&p, id_or_name);
    p_int(&p, now);
    PGresult *res = query_once(PG_STORE(store), ST_KEY_REVOKE, &p, "revoking an API key", error);
    if (!res) return VSR_E_OUTPUT;
    int changed = affected(res) > 0;
    PQclear(res);
    return changed;
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

static int pg_key_usage(struct store *store, const char *key_id, int64_t now, struct key_usage *out,
                        struct vsr_error *error) {
    struct pg_store *s = PG_STORE(store);
    memset(out, 0, sizeof *out);
    out->month_start = month_start(now);
    struct params p = {0};
    p_text(&p, key_id);
    p_int(&p, now - 24 * 3600 * 1000LL);
    PGresult *res = query_once(s, ST_KEY_JOBS_SINCE, &p, "counting a key's jobs", error);
    if (!res) return VSR_E_OUTPUT;
    out->jobs_last_day = get_int(res, 0, 0);
    PQclear(res);
    p.n = 1;
    p_int(&p, out->month_start);
    res = query_once(s, ST_KEY_MINUTES_SINCE, &p, "summing a key's minutes", error);
    if (!res) return VSR_E_OUTPUT;
    out->minutes_this_month = get_double(res, 0, 0);
    PQclear(res);
    return VSR_OK;
}

static int pg_upload_create(struct store *store, const struct upload *up, struct vsr_error *error) {
    struct params p = {0};
    p_text(&p, up->id);
    p_text(&p, up->key_id);
    p_text(&p, up->file_name);
    p_text(&p, up->mime_type);
    p_int(&p, up->declared_size);
    p_int(&p, up->size);
    p_text(&p, up->blob);
    p_int(&p, up->state);
    p_double(&p, up->media_seconds);
    p_int(&p, up->width);
    p_int(&p, up->height);
    p_text(&p, up->error_code);
    p_text(&p, up->error_message);
    p_int(&p, up->created_at);
    p_int(&p, up->expires_at);
    p_int(&p, up->purged_at);
    p_int(&p, up->audio_streams);
    PGresult *res = query_once(PG_STORE(store), ST_UPLOAD_INSERT, &p, "creating an upload", error);
    PQclear(res);
    return res ? VSR_OK : VSR_E_OUTPUT;
}

static int pg_upload_get(struct store *store, const char *key_id, const char *id,
                         struct upload *out, struct vsr_error *error) {
    struct params p = {0};
    p_text(&p, key_id);
    p_text(&p, id);
    PGresult *res = query_once(PG_STORE(store), ST_UPLOAD_GET, &p, "reading an upload", error);
    if (!res) return VSR_E_OUTPUT;
    int found = PQntuples(res) > 0;
    if (found) read_upload(res, 0, out);
    PQclear(res);
    return found;
}

static int pg_upload_update(struct store *store, const struct upload *up, struct vsr_error *error) {
    struct params p = {0};
    p_text(&p, up->id);
    p_int(&p, up->size);
    p_int(&p, up->state);
    p_double(&p, up->media_seconds);
    p_int(&p, up->width);
    p_int(&p, up->height);
    p_text(&p, up->error_code);
    p_text(&p, up->error_message);
    p_int(&p, up->audio_streams);
    PGresult *res = query_once(PG_STORE(store), ST_UPLOAD_UPDATE, &p, "updating an upload", error);
    PQclear(res);
    return res ? VSR_OK : VSR_E_OUTPUT;
}

/* 1 and the first row's job in OUT, 0 for no row, negative on failure;
 * clears RES. */
static int take_job(PGresult *res, struct job *out) {
    if (!res) return VSR_E_OUTPUT;
    int found = PQntuples(res) > 0;
    if (found) read_job(res, 0, out);
    PQclear(res);
    return found;
}

static int pg_job_create(struct store *store, struct job *job, struct vsr_error *error) {
    struct pg_store *s = PG_STORE(store);
    struct params p = {0};
    p_text(&p, job->id);
    p_text(&p, job->key_id);
    p_text(&p, job->type);
    p_text(&p, job->upload_id);
    p_text(&p, job->input_blob);
    p_text(&p, job->options[0] ? job->options : "{}");
    p_text(&p, job->webhook_url);
    p_text(&p, job->idempotency_key);
    p_double(&p, job->media_seconds);
    p_int(&p, job->max_attempts);
    p_int(&p, job->created_at);
    p_text(&p, job->request_id);
    p_text(&p, job->subtitles_upload_id);
    int rc = take_job(query_once(s, ST_JOB_INSERT, &p, "creating a job", error), job);
    if (rc == 1) return 0; /* inserted */
    if (rc < 0) return rc;
    /* The idempotency index refused it: hand back the earlier job. */
    struct params q = {0};
    p_text(&q, job->key_id);
    p_text(&q, job->idempotency_key);
    rc = take_job(
        query_once(s, ST_JOB_BY_IDEMPOTENCY, &q, "reading a job by idempotency key", error), job);
    if (rc == 0) {
        error->code = rc = VSR_E_OUTPUT;
        snprintf(error->message, sizeof error->message, "database: creating a job: duplicate id");
    }
    return rc;
}

static int pg_job_get(struct store *store, const char *key_id, const char *id, struct job *out,
                      struct vsr_error *error) {
    struct params p = {0};
    if (key_id) p_text(&p, key_id);
    p_text(&p, id);
    return take_job(query_once(PG_STORE(store), key_id ? ST_JOB_GET : ST_JOB_GET_ANY, &p,
                               "reading a job", error),
                    out);
}

static int pg_job_list(struct store *store, const struct job_list_query *query_, struct job *out,
                       int *count, int64_t *next_cursor, struct vsr_error *error) {
    *count = 0;
    *next_cursor = 0;
    struct params p = {0};
    p_text(&p, query_->key_id ? query_->key_id : "");
    p_text(&p, query_->state >= 0 ? job_state_name(query_->state) : "");
    p_int(&p, query_->cursor > 0 ? query_->cursor : INT64_MAX);
    /* One row more than asked says whether another page follows. */
    p_int(&p, query_->limit + 1);
    PGresult *res = query_once(PG_STORE(store), query_->key_id ? ST_JOB_LIST : ST_JOB_LIST_ALL, &p,
                               "listing jobs", error);
    if (!res) return VSR_E_OUTPUT;
    int rows = PQntuples(res), n = rows < query_->limit ? rows : query_->limit;
    for (int i = 0; i < n; i++)
        read_job(res, i, &out[i]);
    if (rows > query_->limit && n > 0) *next_cursor = out[n - 1].seq;
    PQclear(res);
    *count = n;
    return VSR_OK;
}

static void p_backoff(struct pg_store *s, struct params *p) {
    p_int(p, s->base.options.backoff_base_ms);
    p_int(p, s->base.options.backoff_max_ms);
}

/* MS as ISO 8601 in UTC with milliseconds, the form of the API's times. */
static void format_time(int64_t ms, char *out, size_t size) {
    char when[32];
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03dZ", when, (int)(ms % 1000));
}

/* The event's payload, byte for byte as store_sqlite.c writes it (compact,
 * keys in this order), so that receivers see the same JSON on both. */
static char *webhook_payload(const struct job *job, int64_t now) {
    char stamp[48], created[48], finished[48], result[STORE_ID_SIZE + 32];
    format_time(now, stamp, sizeof stamp);
    format_time(job->created_at, created, sizeof created);
    format_time(job->finished_at, finished, sizeof finished);
    snprintf(result, sizeof result, "/api/v1/jobs/%s/result", job->id);
    char event[48];
    snprintf(event, sizeof event, "job.%s", job_state_name(job->state));
    json_t *failure = job->error_code[0] ? json_pack("{s:s, s:s}", "code", job->error_code,
                                                     "message", job->error_message)
                                         : json_null();
    json_t *root = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:o, s:o}}", "type", event, "timestamp", stamp,
        "data", "id", job->id, "type", job->type, "status", job_state_name(job->state),
        "created_at", created, "finished_at", finished, "result_url",
        job->state == JOB_SUCCEEDED ? json_string(result) : json_null(), "error", failure);
    char *text = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    return text;
}

/* Inside a transaction: queues the webhook of job ID, now in a final state. */
static int queue_webhook(struct pg_connection *c, const char *id, int64_t now,
                         struct vsr_error *error) {
    struct params p = {0};
    struct job job;
    p_text(&p, id);
    int found = take_job(query(c, ST_JOB_GET_ANY, &p, "reading a job", error), &job);
    if (found <= 0 || !job.webhook_url[0]) return found < 0 ? found : VSR_OK;
    char *payload = webhook_payload(&job, now);
    if (!payload) {
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    char event[48];
    snprintf(event, sizeof event, "job.%s", job_state_name(job.state));
    p_text(&p, event);
    p_text(&p, job.webhook_url);
    p_text(&p, payload);
    p_int(&p, now);
    PGresult *res = query(c, ST_WEBHOOK_INSERT, &p, "queueing a webhook", error);
    free(payload);
    PQclear(res);
    return res ? VSR_OK : VSR_E_OUTPUT;
}

/* Expired leases go back to the queue, or end (failed, or canceled when a
 * cancel was asked for) with their webhooks queued, in one transaction. A
 * cheap look comes first, so that a claim with nothing expired costs one
 * more read and no write. */
static int requeue_expired(struct pg_store *s, struct pg_connection *c, int64_t now, int *count,
                           struct vsr_error *error) {
    struct params p = {0};
    p_int(&p, now);
    PGresult *res = query(c, ST_EXPIRED_ANY, &p, "looking for expired leases", error);
    if (!res) return VSR_E_OUTPUT;
    int any = PQntuples(res) > 0;
    PQclear(res);
    if (count) *count = 0;
    if (!any) return VSR_OK;
    int rc = exec_plain(c, "BEGIN", "starting a transaction", error);
    if (rc != VSR_OK) return rc;
    res = query(c, ST_EXPIRED_FAIL, &p, "failing expired jobs", error);
    if (!res) return VSR_E_OUTPUT;
    int ended = PQntuples(res);
    for (int i = 0; i < ended && rc == VSR_OK; i++)
        rc = queue_webhook(c, PQgetvalue(res, i, 0), now, error);
    PQclear(res);
    if (rc != VSR_OK) return rc;
    p_backoff(s, &p);
    res = query(c, ST_EXPIRED_REQUEUE, &p, "requeueing expired jobs", error);
    if (!res) return VSR_E_OUTPUT;
    if (count) *count = ended + affected(res);
    PQclear(res);
    return exec_plain(c, "COMMIT", "committing a transaction", error);
}

static int pg_job_requeue_expired(struct store *store, int64_t now, int *count,
                                  struct vsr_error *error) {
    struct pg_store *s = PG_STORE(store);
    struct pg_connection *c;
    int rc = pg_acquire(s, &c, error);
    if (rc != VSR_OK) return rc;
    rc = requeue_expired(s, c, now, count, error);
    pg_release(s, c, 0);
    return rc;
}

static int pg_job_claim(struct store *store, const char *worker_id, int64_t lease_ms, int64_t now,
                        struct job *out, struct vsr_error *error) {
    struct pg_store *s = PG_STORE(store);
    struct pg_connection *c;
    int rc = pg_acquire(s, &c, error);
    if (rc != VSR_OK) return rc;
    rc = requeue_expired(s, c, now, NULL, error);
    if (rc == VSR_OK) {
        struct params p = {0};
        p_text(&p, worker_id);
        p_int(&p, now);
        p_int(&p, lease_ms);
        rc = take_job(query(c, ST_JOB_CLAIM, &p, "claiming a job", error), out);
    }
    pg_release(s, c, 0);
    return rc;
}

static int pg_job_heartbeat(struct store *store, const char *id, const char *worker_id,
                            int64_t lease_ms, double progress, int64_t now, int *cancel_requested,
                            struct vsr_error *error) {
    *cancel_requested = 0;
    struct params p = {0};
    p_int(&p, now);
    p_int(&p, lease_ms);
    p_double(&p, progress);
    p_text(&p, id);
    p_text(&p, worker_id);
    PGresult *res = query_once(PG_STORE(store), ST_JOB_HEARTBEAT, &p, "extending a lease", error);
    if (!res) return VSR_E_OUTPUT;
    int held = PQntuples(res) > 0;
    if (held) *cancel_requested = (int)get_int(res, 0, 0);
    PQclear(res);
    return held;
}

static int pg_job_finish(struct store *store, const char *id, const char *worker_id,
                         const struct job_finish *finish, int64_t now, struct vsr_error *error) {
    struct pg_store *s = PG_STORE(store);
    struct pg_connection *c;
    int rc = pg_acquire(s, &c, error);
    if (rc != VSR_OK) return rc;
    rc = exec_plain(c, "BEGIN", "starting a transaction", error);
    if (rc != VSR_OK) goto done;
    struct params p = {0};
    p_int(&p, finish->state == JOB_FAILED && finish->retryable);
    p_text(&p, job_state_name(finish->state));
    p_int(&p, now);
    p_backoff(s, &p);
    p_text(&p, finish->output_blob);
    p_text(&p, finish->error_code);
    p_text(&p, finish->error_message);
    p_text(&p, id);
    p_text(&p, worker_id);
    PGresult *res = query(c, ST_JOB_FINISH, &p, "finishing a job", error);
    if (!res) {
        rc = VSR_E_OUTPUT;
        goto done;
    }
    int found = PQntuples(res) > 0;
    int final = found && strcmp(PQgetvalue(res, 0, 0), "queued") != 0;
    PQclear(res);
    if (final) {
        rc = queue_webhook(c, id, now, error);
        if (rc != VSR_OK) goto done;
    }
    rc = exec_plain(c, "COMMIT", "committing a transaction", error);
    if (rc == VSR_OK) rc = found;
done:
    pg_release(s, c, 0);
    return rc;
}

static int pg_job_release(struct store *store, const char *id, const char *worker_id, int64_t now,
                          struct vsr_error *error) {
    struct params p = {0};
    p_int(&p, now);
    p_text(&p, id);
    p_text(&p, worker_id);
    PGresult *res = query_once(PG_STORE(store), ST_JOB_RELEASE, &p, "releasing a job", error);
    if (!res) return VSR_E_OUTPUT;
    int released = affected(res) > 0;
    PQclear(res);
    return released;
}

static int pg_job_cancel(struct store *store, const char *key_id, const char *id, int64_t now,
                         struct job *out, struct vsr_error *error) {
    struct pg_store *s = PG_STORE(store);
    struct pg_connection *c;
    int rc = pg_acquire(s, &c, error);
    if (rc != VSR_OK) return rc;
    rc = exec_plain(c, "BEGIN", "starting a transaction", error);
    if (rc != VSR_OK) goto done;
    struct params p = {0};
    p_int(&p, now);
    p_text(&p, id);
    p_text(&p, key_id);
    PGresult *res = query(c, ST_JOB_CANCEL_QUEUED, &p, "canceling a job", error);
    if (!res) {
        rc = VSR_E_OUTPUT;
        goto done;
    }
    int canceled = affected(res) > 0;
    PQclear(res);
    if (canceled && (rc = queue_webhook(c, id, now, error)) != VSR_OK) goto done;
    res = query(c, ST_JOB_CANCEL_RUNNING, &p, "canceling a job", error);
    if (!res) {
        rc = VSR_E_OUTPUT;
        goto done;
    }
    PQclear(res);
    struct params q = {0};
    p_text(&q, key_id);
    p_text(&q, id);
    int found = take_job(query(c, ST_JOB_GET, &q, "reading a job", error), out);
    if (found < 0) {
        rc = found;
        goto done;
    }
    rc = exec_plain(c, "COMMIT", "committing a transaction", error);
    if (rc == VSR_OK) rc = found;
done:
    pg_release(s, c, 0);
    return rc;
}

static int pg_job_queue_position(struct store *store, const struct job *job, int64_t *position,
                                 struct vsr_error *error) {
    *position = 0;
    struct params p = {0};
    p_int(&p, job->seq);
    PGresult *res =
        query_once(PG_STORE(store), ST_QUEUE_POSITION, &p, "computing a queue position", error);
    if (!res) return VSR_E_OUTPUT;
    *position = get_int(res, 0, 0);
    PQclear(res);
    return VSR_OK;
}

static int pg_queue_depth(struct store *store, int64_t counts[JOB_STATE_COUNT],
                          struct vsr_error *error) {
    for (int i = 0; i < JOB_STATE_COUNT; i++)
        counts[i] = 0;
    PGresult *res = query_once(PG_STORE(store), ST_QUEUE_DEPTH, NULL, "counting jobs", error);
    if (!res) return VSR_E_OUTPUT;
    for (int i = 0; i < PQntuples(res); i++) {
        int state = job_state_parse(PQgetvalue(res, i, 0));
        if (state >= 0) counts[state] = get_int(res, i, 1);
    }
    PQclear(res);
    return VSR_OK;
}

static int pg_job_stats(struct store *store, int64_t since, int64_t *completed, int64_t *failed,
                        double *p50, double *p95, struct vsr_error *error) {
    struct pg_store *s = PG_STORE(store);
    *completed = *failed = 0;
    *p50 = *p95 = 0;
    struct params p = {0};
    p_int(&p, since);
    PGresult *res = query_once(s, ST_STATS_COUNT, &p, "counting finished jobs", error);
    if (!res) return VSR_E_OUTPUT;
    *completed = get_int(res, 0, 0);
    *failed = get_int(res, 0, 1);
    PQclear(res);
    const double quantiles[2] = {0.5, 0.95};
    double *outs[2] = {p50, p95};
    for (int i = 0; i < 2 && *completed > 0; i++) {
        /* Nearest-rank percentile: the ceil(q*n)-th smallest value. */
        int64_t rank = (int64_t)(quantiles[i] * (double)*completed + 0.999999);
        p.n = 1;
        p_int(&p, rank > 0 ? rank - 1 : 0);
        res = query_once(s, ST_STATS_DURATION, &p, "measuring run times", error);
        if (!res) return VSR_E_OUTPUT;
        if (PQntuples(res) > 0) *outs[i] = get_double(res, 0, 0);
        PQclear(res);
    }
    return VSR_OK;
}

static int pg_webhook_list(struct store *store, const char *job_id, struct webhook_delivery *out,
                           int capacity, int *count, struct vsr_error *error) {
    *count = 0;
    struct params p = {0};
    p_text(&p, job_id);
    p_int(&p, capacity);
    PGresult *res = query_once(PG_STORE(store), ST_WEBHOOK_LIST, &p, "listing webhooks", error);
    if (!res) return VSR_E_OUTPUT;
    int n = PQntuples(res) < capacity ? PQntuples(res) : capacity;
    for (int i = 0; i < n; i++)
        read_webhook(res, i, &out[i]);
    PQclear(res);
    *count = n;
    return VSR_OK;
}

static int pg_webhook_claim_due(struct store *store, int64_t now, int64_t lease_ms,
                                struct webhook_delivery *out, struct vsr_error *error) {
    struct params p = {0};
    p_int(&p, now);
    p_int(&p, lease_ms);
    PGresult *res = query_once(PG_STORE(store), ST_WEBHOOK_CLAIM, &p, "claiming a webhook", error);
    if (!res) return VSR_E_OUTPUT;
    int found = PQntuples(res) > 0;
    if (found) read_webhook(res, 0, out);
    PQclear(res);
    return found;
}

static int pg_webhook_record(struct store *store, int64_t id, int delivered, int http_status,
                             const char *error_text, int64_t next_attempt_at,
                             struct vsr_error *error) {
    struct params p = {0};
    p_int(&p, id);
    p_int(&p, delivered);
    p_int(&p, http_status);
    p_text(&p, error_text);
    p_int(&p, next_attempt_at);
    PGresult *res =
        query_once(PG_STORE(store), ST_WEBHOOK_RECORD, &p, "recording a webhook attempt", error);
    PQclear(res);
    return res ? VSR_OK : VSR_E_OUTPUT;
}

static int pg_expired_files(struct store *store, int64_t finished_before, int64_t unused_before,
                            struct expired_file *out, int capacity, int *count,
                            struct vsr_error *error) {
    *count = 0;
    struct params p = {0};
    p_int(&p, finished_before);
    p_int(&p, unused_before);
    p_int(&p, capacity);
    PGresult *res =
        query_once(PG_STORE(store), ST_EXPIRED_FILES, &p, "listing expired files", error);
    if (!res) return VSR_E_OUTPUT;
    int n = PQntuples(res) < capacity ? PQntuples(res) : capacity;
    for (int i = 0; i < n; i++) {
        out[i].is_upload = (int)get_int(res, i, 0);
        get_text(out[i].owner_id, sizeof out[i].owner_id, res, i, 1);
        get_text(out[i].blob, sizeof out[i].blob, res, i, 2);
    }
    PQclear(res);
    *count = n;
    return VSR_OK;
}

static int pg_mark_purged(struct store *store, const struct expired_file *file, int64_t now,
                          struct vsr_error *error) {
    struct params p = {0};
    p_int(&p, now);
    p_text(&p, file->owner_id);
    PGresult *res = query_once(PG_STORE(store), file->is_upload ? ST_PURGE_UPLOAD : ST_PURGE_JOB,
                               &p, "marking deleted files", error);
    PQclear(res);
    return res ? VSR_OK : VSR_E_OUTPUT;
}

static int pg_wait(struct store *store, int timeout_ms, struct vsr_error *error) {
    return pg_wait_for_work(PG_STORE(store), timeout_ms, error);
}

static const struct store_ops pg_ops = {
    .close = pg_close,
    .ping = pg_ping,
    .pool_usage = pg_pool_usage,
    .wait_for_work = pg_wait,
    .key_create = pg_key_create,
    .key_find_by_hash = pg_key_find_by_hash,
    .key_list = pg_key_list,
    .key_revoke = pg_key_revoke,
    .key_usage = pg_key_usage,
    .upload_create = pg_upload_create,
    .upload_get = pg_upload_get,
    .upload_update = pg_upload_update,
    .job_create = pg_job_create,
    .job_get = pg_job_get,
    .job_list = pg_job_list,
    .job_claim = pg_job_claim,
    .job_heartbeat = pg_job_heartbeat,
    .job_finish = pg_job_finish,
    .job_release = pg_job_release,
    .job_cancel = pg_job_cancel,
    .job_requeue_expired = pg_job_requeue_expired,
    .job_queue_position = pg_job_queue_position,
    .queue_depth = pg_queue_depth,
    .job_stats = pg_job_stats,
    .webhook_list = pg_webhook_list,
    .webhook_claim_due = pg_webhook_claim_due,
    .webhook_record = pg_webhook_record,
    .expired_files = pg_expired_files,
    .mark_purged = pg_mark_purged,
    .backup = pg_backup,
    .restore = pg_restore_dump,
    .counts = pg_counts,
    .file_rows = pg_file_rows,
    .webhook_prune = pg_webhook_prune,
    .webhook_retry_failed = pg_webhook_retry_failed,
    .maintenance_lock = pg_maintenance_lock,
};

int store_pg_open(struct store **out, const char *url, const struct store_options *options,
                  struct vsr_error *error) {
    *out = NULL;
    struct pg_store *s = calloc(1, sizeof *s);
    if (!s || !(s->conninfo = strdup(url))) {
        free(s);
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    s->base.ops = &pg_ops;
    if (options)
        s->base.options = *options;
    else
        store_options_init(&s->base.options);
    s->size = s->base.options.pool_size > 0 ? s->base.options.pool_size : 1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->returned, NULL);
    pthread_cond_init(&s->notified, NULL);
    struct pg_connection *c = NULL;
    int rc = pg_acquire(s, &c, error);
    if (rc == VSR_OK) {
        rc = pg_migrate(c->conn, s->base.options.schema_version, error);
        pg_release(s, c, rc != VSR_OK);
    }
    if (rc != VSR_OK) {
        pg_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return VSR_OK;
}
