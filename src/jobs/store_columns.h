/* store_columns.h: the column lists and shared SQL pieces both job store
 * backends use. Row readers in store_sqlite.c and store_pg.c read columns by
 * position, so the lists live here once and the backends cannot drift apart.
 * Private to src/jobs. */
#ifndef VSR_JOBS_STORE_COLUMNS_H
#define VSR_JOBS_STORE_COLUMNS_H

#define JOB_COLUMNS                                                                                \
    "seq, id, key_id, type, state, progress, upload_id, input_blob, output_blob, options,"         \
    " webhook_url, coalesce(idempotency_key, ''), media_seconds, attempts, max_attempts,"          \
    " cancel_requested, lease_owner, lease_expires_at, not_before, created_at, started_at,"        \
    " finished_at, updated_at, error_code, error_message, purged_at, request_id,"                  \
    " coalesce(subtitles_upload_id, '')"

#define KEY_COLUMNS                                                                                \
    "id, name, secret_hash, prefix, admin, jobs_per_day, minutes_per_month, rate_per_second,"      \
    " created_at, revoked_at, webhook_secret"

#define UPLOAD_COLUMNS                                                                             \
    "id, key_id, file_name, mime_type, declared_size, size, blob, state, media_seconds, width,"    \
    " height, error_code, error_message, created_at, expires_at, purged_at, audio_streams"

#define WEBHOOK_COLUMNS                                                                            \
    "id, job_id, event, url, payload, attempts, next_attempt_at, delivered, last_status,"          \
    " last_error, created_at, coalesce((SELECT k.webhook_secret FROM jobs j"                       \
    " JOIN api_keys k ON k.id = j.key_id WHERE j.id = webhook_outbox.job_id), '')"

/* A job uses an upload as its video (upload_id) or, for burn and replace,
 * as its subtitles (subtitles_upload_id, NULL for other jobs); both columns
 * are indexed. */
#define USES_UPLOAD "(j.upload_id = u.id OR j.subtitles_upload_id = u.id)"

#endif
