/* store.c: the backend-independent half of the job store: picking a backend
 * from a URL, the clock, and API-key tokens (made and hashed here, so every
 * backend stores the same SHA-256). See store.h. */
#include "jobs/store.h"

#include <stdio.h>
#include <string.h>

#include <errno.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "util/ids.h"

static const char *const state_names[JOB_STATE_COUNT] = {"queued", "processing", "succeeded",
                                                         "failed", "canceled"};

const char *job_state_name(enum job_state state) {
    return (unsigned)state < JOB_STATE_COUNT ? state_names[state] : "unknown";
}

int job_state_parse(const char *name) {
    for (int i = 0; i < JOB_STATE_COUNT; i++)
        if (strcmp(name, state_names[i]) == 0) return i;
    return -1;
}

void store_options_init(struct store_options *options) {
    options->backoff_base_ms = 5000;
    options->backoff_max_ms = 600000;
    options->busy_timeout_ms = 5000;
    options->pool_size = 8;
    options->schema_version = 0;
}

int store_open(struct store **out, const char *url, const struct store_options *options,
               struct vsr_error *error) {
    *out = NULL;
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return store_pg_open(out, url, options, error);
    if (strncmp(url, "sqlite://", 9) == 0) return store_sqlite_open(out, url + 9, options, error);
    if (strncmp(url, "sqlite:", 7) == 0) return store_sqlite_open(out, url + 7, options, error);
    if (strstr(url, "://")) {
        error->code = VSR_E_USAGE;
        snprintf(
            error->message, sizeof error->message,
            "database URL %s: unsupported scheme; use sqlite:PATH, a file path or postgres://...",
            url);
        return VSR_E_USAGE;
    }
    return store_sqlite_open(out, url, options, error);
}

void store_close(struct store *store) {
    if (store) store->ops->close(store);
}

int store_ping(struct store *store, struct vsr_error *error) {
    return store->ops->ping(store, error);
}

int store_pool_usage(struct store *store, int *in_use, int *size) {
    *in_use = *size = 0;
    if (!store->ops->pool_usage) return 0;
    store->ops->pool_usage(store, in_use, size);
    return 1;
}

int store_wait_for_work(struct store *store, int timeout_ms, struct vsr_error *error) {
    if (!store->ops->wait_for_work) {
        error->code = VSR_E_USAGE;
        snprintf(error->message, sizeof error->message, "this database cannot wake workers");
        return VSR_E_USAGE;
    }
    return store->ops->wait_for_work(store, timeout_ms, error);
}

void store_hash_token(const char *token, char out[65]) {
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_Digest(token, strlen(token), digest, &len, EVP_sha256(), NULL);
    ids_hex(out, digest, 32);
}

int store_key_create(struct store *store, struct api_key *key, char *token, size_t token_size,
                     struct vsr_error *error) {
    /* 24 random bytes: 192 bits, far beyond guessing. */
    if (token_size < 64 || ids_random(token, token_size, "vsr_", 24) != VSR_OK ||
        ids_random(key->id, sizeof key->id, "key_", 8) != VSR_OK) {
        error->code = VSR_E_INTERNAL;
        snprintf(error->message, sizeof error->message, "cannot draw random bytes for a key");
        return VSR_E_INTERNAL;
    }
    /* The webhook secret: 24 random bytes, base64 after "whsec_" as the
     * Standard Webhooks libraries expect. */
    unsigned char raw[24];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error->code = VSR_E_INTERNAL;
            snprintf(error->message, sizeof error->message, "cannot draw random bytes for a key");
            return VSR_E_INTERNAL;
        }
        got += (size_t)n;
    }
    memcpy(key->webhook_secret, "whsec_", 6);
    EVP_EncodeBlock((unsigned char *)key->webhook_secret + 6, raw, (int)sizeof raw);
    store_hash_token(token, key->secret_hash);
    snprintf(key->prefix, sizeof key->prefix, "%.12s", token);
    key->created_at = ids_now_ms();
    key->revoked_at = 0;
    return store->ops->key_create(store, key, error);
}

int store_key_authenticate(struct store *store, const char *token, struct api_key *out,
                           struct vsr_error *error) {
    char hash[65];
    store_hash_token(token, hash);
    return store->ops->key_find_by_hash(store, hash, out, error);
}

int store_key_list(struct store *store, struct api_key **out, int *count, struct vsr_error *error) {
    return store->ops->key_list(store, out, count, error);
}

int store_key_revoke(struct store *store, const char *id_or_name, struct vsr_error *error) {
    return store->ops->key_revoke(store, id_or_name, ids_now_ms(), error);
}

int store_key_usage(struct store *store, const char *key_id, struct key_usage *out,
                    struct vsr_error *error) {
    return store->ops->key_usage(store, key_id, ids_now_ms(), out, error);
}

int store_upload_create(struct store *store, const struct upload *upload, struct vsr_error *error) {
    return store->ops->upload_create(store, upload, error);
}

int store_upload_get(struct store *store, const char *key_id, const char *id, struct upload *out,
                     struct vsr_error *error) {
    return store->ops->upload_get(store, key_id, id, out, error);
}

int store_upload_update(struct store *store, const struct upload *upload, struct vsr_error *error) {
    return store->ops->upload_update(store, upload, error);
}

int store_job_create(struct store *store, struct job *job, struct vsr_error *error) {
    if (ids_random(job->id, sizeof job->id, "job_", 12) != VSR_OK) {
        error->code = VSR_E_INTERNAL;
        snprintf(error->message, sizeof error->message, "cannot draw random bytes for a job id");
        return VSR_E_INTERNAL;
    }
    job->state = JOB_QUEUED;
    job->created_at = job->updated_at = ids_now_ms();
    job->not_before = job->created_at;
    if (job->max_attempts <= 0) job->max_attempts = 3;
    return store->ops->job_create(store, job, error);
}

int store_job_get(struct store *store, const char *key_id, const char *id, struct job *out,
                  struct vsr_error *error) {
    return store->ops->job_get(store, key_id, id, out, error);
}

int store_job_list(struct store *store, const struct job_list_query *query, struct job *out,
                   int *count, int64_t *next_cursor, struct vsr_error *error) {
    return store->ops->job_list(store, query, out, count, next_cursor, error);
}

int store_job_claim(struct store *store, const char *worker_id, int64_t lease_ms, struct job *out,
                    struct vsr_error *error) {
    return store->ops->job_claim(store, worker_id, lease_ms, ids_now_ms(), out, error);
}

int store_job_heartbeat(struct store *store, const char *id, const char *worker_id,
                        int64_t lease_ms, double progress, int *cancel_requested,
                        struct vsr_error *error) {
    return store->ops->job_heartbeat(store, id, worker_id, lease_ms, progress, ids_now_ms(),
                                     cancel_requested, error);
}

int store_job_finish(struct store *store, const char *id, const char *worker_id,
                     const struct job_finish *finish, struct vsr_error *error) {
    return store->ops->job_finish(store, id, worker_id, finish, ids_now_ms(), error);
}

int store_job_release(struct store *store, const char *id, const char *worker_id,
                      struct vsr_error *error) {
    return store->ops->job_release(store, id, worker_id, ids_now_ms(), error);
}

int store_job_cancel(struct store *store, const char *key_id, const char *id, struct job *out,
                     struct vsr_error *error) {
    return store->ops->job_cancel(store, key_id, id, ids_now_ms(), out, error);
}

int store_job_requeue_expired(struct store *store, int *count, struct vsr_error *error) {
    return store->ops->job_requeue_expired(store, ids_now_ms(), count, error);
}

int store_job_queue_position(struct store *store, const struct job *job, int64_t *position,
                             struct vsr_error *error) {
    return store->ops->job_queue_position(store, job, position, error);
}

int store_queue_depth(struct store *store, int64_t counts[JOB_STATE_COUNT],
                      struct vsr_error *error) {
    return store->ops->queue_depth(store, counts, error);
}

int store_job_stats(struct store *store, int64_t since, int64_t *completed, int64_t *failed,
                    double *p50_seconds, double *p95_seconds, struct vsr_error *error) {
    return store->ops->job_stats(store, since, completed, failed, p50_seconds, p95_seconds, error);
}

int store_webhook_list(struct store *store, const char *job_id, struct webhook_delivery *out,
                       int capacity, int *count, struct vsr_error *error) {
    return store->ops->webhook_list(store, job_id, out, capacity, count, error);
}

int store_webhook_claim_due(struct store *store, int64_t lease_ms, struct webhook_delivery *out,
                            struct vsr_error *error) {
    return store->ops->webhook_claim_due(store, ids_now_ms(), lease_ms, out, error);
}

int store_webhook_record(struct store *store, int64_t id, int delivered, int http_status,
                         const char *error_text, int64_t next_attempt_at, struct vsr_error *error) {
    return store->ops->webhook_record(store, id, delivered, http_status, error_text,
                                      next_attempt_at, error);
}

int store_expired_files(struct store *store, int64_t finished_before, int64_t unused_before,
                        struct expired_file *out, int capacity, int *count,
                        struct vsr_error *error) {
    return store->ops->expired_files(store, finished_before, unused_before, out, capacity, count,
                                     error);
}

int store_mark_purged(struct store *store, const struct expired_file *file,
                      struct vsr_error *error) {
    return store->ops->mark_purged(store, file, ids_now_ms(), error);
}

int store_backup(struct store *store, const char *path, struct store_counts *counts,
                 struct vsr_error *error) {
    return store->ops->backup(store, path, counts, error);
}

int store_restore(struct store *store, const char *path, struct vsr_error *error) {
    return store->ops->restore(store, path, error);
}

int store_counts(struct store *store, struct store_counts *out, struct vsr_error *error) {
    return store->ops->counts(store, out, error);
}

int store_file_rows(struct store *store, struct file_row **out, int *count,
                    struct vsr_error *error) {
    *out = NULL;
    *count = 0;
    return store->ops->file_rows(store, out, count, error);
}

int store_webhook_prune(struct store *store, int64_t before, int *count, struct vsr_error *error) {
    *count = 0;
    return store->ops->webhook_prune(store, before, count, error);
}

int store_webhook_retry_failed(struct store *store, int64_t since, int *count,
                               struct vsr_error *error) {
    *count = 0;
    return store->ops->webhook_retry_failed(store, since, ids_now_ms(), count, error);
}

int store_maintenance_lock(struct store *store, int take, struct vsr_error *error) {
    return store->ops->maintenance_lock(store, take, error);
}
