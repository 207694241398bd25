/* worker.c: the worker pool (see worker.h).
 *
 * Each worker loops: claim, run, finish. The supervisor wakes every
 * heartbeat interval (a third of the lease, at most one second, so a lease
 * survives two missed beats and a cancel is seen within a second) and, for
 * each busy slot, copies the job id under the pool lock, heartbeats without
 * the lock, then applies the answer only if the slot still runs that job.
 *
 * Job threads run at a lower scheduling priority (nice WORKER_NICE): a job
 * may use every core, but the HTTP threads of `vsr serve` in the same process
 * then always get the CPU first, so processing never starves the API. Codec
 * threads started by the job inherit it.
 *
 * A full disk is no fault of a job: a job that fails for lack of space goes
 * back to the queue with its attempt unspent, and the pool claims nothing
 * for a while (DISK_WAIT_FIRST_MS, doubling up to DISK_WAIT_MAX_MS), nor
 * while the work folder has less than VSR_MIN_FREE_MB free; so accepted jobs
 * wait for room instead of failing for good, and run once it is back. */
#include "service/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "jobs/caption_jobs.h"
#include "jobs/job_types.h"
#include "service/disk_space.h"
#include "service/hours.h"
#include "util/ids.h"
#include "util/redact.h"
#include "util/thread_name.h"

struct slot {
    struct worker_pool *pool;
    pthread_t thread;
    int index;
    char worker_id[STORE_NAME_SIZE];
    /* Guarded by pool->lock: */
    int busy;
    uint64_t generation; /* bumps with every job, so late heartbeats are ignored */
    char job_id[STORE_ID_SIZE];
    int lease_lost;
    /* Shared with the job without the lock: */
    atomic_int cancel;
    atomic_int progress_bp; /* progress in hundredths of a percent */
};

struct worker_pool {
    const struct service_config *config;
    struct store *store;
    struct blob *blob;
    struct metrics *metrics;
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* idle workers and the supervisor wait on it */
    pthread_cond_t settled; /* signaled when a job ends */
    int stopping;           /* no more claims */
    int forced;             /* the drain deadline passed: running jobs were canceled */
    int released;
    int busy;
    int drained;
    pthread_t supervisor;
    int supervisor_started;
    int count;
    struct slot *slots;
    /* Out of disk space (guarded by lock): no claims before disk_retry_at
     * (monotonic ms); disk_wait_ms is the next wait, back to 0 when a job
     * succeeds; disk_low while the last check found too little room. */
    int64_t disk_retry_at;
    int64_t disk_wait_ms;
    int disk_low;
};

#define DISK_WAIT_FIRST_MS 1000
#define DISK_WAIT_MAX_MS   (5 * 60 * 1000)

static void log_job(const struct slot *slot, const struct job *job, const char *event,
                    const char *detail) {
    char when[40];
    int64_t now = ids_now_ms();
    time_t seconds = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    char ts[48];
    snprintf(ts, sizeof ts, "%s.%03dZ", when, (int)(now % 1000));
    json_t *line =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "ts", ts, "event", event, "job_id", job->id,
                  "worker", slot->worker_id, "type", job->type, "attempt", job->attempts);
    if (line && job->request_id[0])
        json_object_set_new(line, "request_id", json_string(job->request_id));
    if (line && detail && *detail) json_object_set_new(line, "detail", json_string(detail));
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (text) {
        fprintf(stderr, "%s\n", text);
        free(text);
    }
}

static void on_progress(void *opaque, double percent) {
    struct slot *slot = opaque;
    if (percent < 0) percent = 0;
    if (percent > 100) percent = 100;
    atomic_store(&slot->progress_bp, (int)(percent * 100));
}

/* A local copy being written; ERR keeps the errno of a failed write. */
struct file_sink {
    FILE *file;
    int err;
};

static int sink_to_file(void *opaque, const void *data, size_t size) {
    struct file_sink *sink = opaque;
    if (fwrite(data, 1, size, sink->file) == size) return 0;
    sink->err = errno;
    return 1;
}

/* A local path for the blob BLOB: its own file, or a copy named after the
 * job with SUFFIX. */
static int fetch_blob(struct worker_pool *pool, const struct job *job, const char *blob,
                      const char *suffix, char *path, size_t size, int *temp,
                      struct vsr_error *error) {
    *temp = 0;
    if (blob_local_path(pool->blob, blob, path, size)) return VSR_OK;
    snprintf(path, size, "%.900s/work/%s%s", pool->config->data_dir, job->id, suffix);
    FILE *f = fopen(path, "wb");
    if (!f) {
        error->code = VSR_E_OUTPUT;
        snprintf(error->message, sizeof error->message, "cannot write %.400s: %s", path,
                 strerror(errno));
        return VSR_E_OUTPUT;
    }
    *temp = 1;
    struct file_sink sink = {.file = f};
    int rc = blob_get(pool->blob, blob, sink_to_file, &sink, error);
    int write_errno = sink.err;
    if (fclose(f) != 0 && !write_errno) write_errno = errno;
    if (write_errno) { /* the copy, not the store, failed: say why (a full disk?) */
        error->code = rc = VSR_E_OUTPUT;
        snprintf(error->message, sizeof error->message, "cannot write %.400s: %s", path,
                 strerror(write_errno));
    }
    return rc;
}

/* burn and replace jobs: a local copy of the subtitle upload their options
 * name (checked at submission; gone now only if retention deleted it). */
static int fetch_subtitles(struct worker_pool *pool, const struct job *job, char *path, size_t size,
                           int *temp, struct vsr_error *error) {
    char id[STORE_ID_SIZE];
    struct upload up;
    *temp = 0;
    path[0] = '\0';
    if (!caption_job_subtitles_upload(job->options, id, sizeof id)) return VSR_OK;
    int found = store_upload_get(pool->store, job->key_id, id, &up, error);
    if (found < 0) return found;
    if (found == 0 || up.purged_at) {
        error->code = VSR_E_INPUT;
        snprintf(error->message, sizeof error->message,
                 "the subtitle upload %s is no longer stored; upload it again", id);
        return VSR_E_INPUT;
    }
    return fetch_blob(pool, job, up.blob, ".subtitles", path, size, temp, error);
}

/* Failures that another attempt may not repeat: out of memory, a full disk,
 * a bug. Bad input fails for good at once. */
static int retryable(int status) {
    return status == VSR_E_NOMEM || status == VSR_E_OUTPUT || status == VSR_E_INTERNAL;
}

static void log_disk(const char *event, int64_t free_bytes, int64_t min_free, int64_t wait_ms) {
    json_t *line =
        json_pack("{s:s, s:I, s:I, s:I}", "event", event, "free_bytes", (json_int_t)free_bytes,
                  "min_free_bytes", (json_int_t)min_free, "next_check_in_ms", (json_int_t)wait_ms);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (text) {
        fprintf(stderr, "%s\n", text);
        free(text);
    }
}

/* No claims for the next wait, which doubles each time the disk is found
 * full again. Returns the wait. */
static int64_t disk_wait(struct worker_pool *pool) {
    pthread_mutex_lock(&pool->lock);
    int64_t wait = pool->disk_wait_ms > 0 ? pool->disk_wait_ms : DISK_WAIT_FIRST_MS;
    pool->disk_retry_at = ids_monotonic_ms() + wait;
    pool->disk_wait_ms = wait * 2 < DISK_WAIT_MAX_MS ? wait * 2 : DISK_WAIT_MAX_MS;
    pthread_mutex_unlock(&pool->lock);
    return wait;
}

static int64_t work_free_bytes(const struct worker_pool *pool) {
    char work[1100];
    snprintf(work, sizeof work, "%.1000s/work", pool->config->data_dir);
    return disk_free_bytes(work);
}

/* The check found room (again): logged once. The wait keeps growing until
 * a job succeeds, in case the room is still too little for the job. */
static void disk_recovered(struct worker_pool *pool, int64_t free_bytes, int64_t min_free) {
    pthread_mutex_lock(&pool->lock);
    int was_low = pool->disk_low;
    pool->disk_low = 0;
    pthread_mutex_unlock(&pool->lock);
    if (was_low) log_disk("worker.disk_ok", free_bytes, min_free, 0);
}

/* Whether a job may be claimed as far as disk space goes: not within a
 * wait, and not with less than min_free_mb free in the work folder. */
static int disk_has_room(struct worker_pool *pool) {
    pthread_mutex_lock(&pool->lock);
    int waiting = ids_monotonic_ms() < pool->disk_retry_at;
    pthread_mutex_unlock(&pool->lock);
    if (waiting) return 0;
    int64_t min_free = (int64_t)pool->config->min_free_mb * 1024 * 1024;
    if (min_free <= 0) return 1;
    int64_t free_bytes = work_free_bytes(pool);
    if (free_bytes < 0 || free_bytes >= min_free) {
        disk_recovered(pool, free_bytes, min_free);
        return 1;
    }
    pthread_mutex_lock(&pool->lock);
    pool->disk_low = 1;
    pthread_mutex_unlock(&pool->lock);
    log_disk("worker.disk_full", free_bytes, min_free, disk_wait(pool));
    return 0;
}

static void run_job(struct slot *slot, struct job *job) {
    struct worker_pool *pool = slot->pool;
    struct vsr_error error = {0};
    char input[4096], subtitles[4096] = "", output[4096], key[STORE_NAME_SIZE];
    int temp_input = 0, temp_subtitles = 0, rc;
    const struct job_type *type = job_type_find(job->type);
    int64_t started = ids_monotonic_ms();
    log_job(slot, job, "job.started", NULL);

    pthread_mutex_lock(&pool->lock);
    slot->busy = 1;
    slot->generation++;
    slot->lease_lost = 0;
    snprintf(slot->job_id, sizeof slot->job_id, "%s", job->id);
    atomic_store(&slot->cancel, job->cancel_requested);
    atomic_store(&slot->progress_bp, 0);
    pool->busy++;
    pthread_mutex_unlock(&pool->lock);
    if (pool->metrics) metrics_worker_busy(pool->metrics, 1);

    if (!type) {
        error.code = rc = VSR_E_USAGE;
        snprintf(error.message, sizeof error.message, "unknown job type \"%s\"", job->type);
    } else {
        rc = fetch_blob(pool, job, job->input_blob, ".input", input, sizeof input, &temp_input,
                        &error);
        if (rc == VSR_OK)
            rc = fetch_subtitles(pool, job, subtitles, sizeof subtitles, &temp_subtitles, &error);
    }
    if (rc == VSR_OK) {
        snprintf(output, sizeof output, "%.900s/work/%s%s", pool->config->data_dir, job->id,
                 type->output_extension);
        struct job_run run = {
            .input_path = input,
            .output_path = output,
            .options_json = job->options,
            .subtitles_path = subtitles[0] ? subtitles : NULL,
            .threads = pool->config->threads_per_job,
            .progress = on_progress,
            .progress_opaque = slot,
            .cancel = &slot->cancel,
        };
        rc = type->run(&run, &error);
        if (rc == VSR_OK) {
            snprintf(key, sizeof key, "results/%s%s", job->id, type->output_extension);
            rc = blob_put_file_typed(pool->blob, key, output, 1, type->content_type, &error);
        }
        unlink(output); /* gone already when it was moved into storage */
    }
    if (temp_input) unlink(input);
    if (temp_subtitles) unlink(subtitles);

    pthread_mutex_lock(&pool->lock);
    int lease_lost = slot->lease_lost, forced = pool->forced;
    slot->busy = 0;
    slot->generation++;
    pthread_mutex_unlock(&pool->lock);

    struct vsr_error store_error = {0};
    char client_message[sizeof error.message];
    double seconds = (double)(ids_monotonic_ms() - started) / 1000.0;
    enum job_state final = JOB_FAILED;
    if (lease_lost) {
        /* Another worker holds the job now: whatever happened here is void. */
        log_job(slot, job, "job.lease_lost", NULL);
        if (rc == VSR_OK) blob_remove(pool->blob, key, &store_error);
    } else if (rc == VSR_E_CANCELED && forced) {
        store_job_release(pool->store, job->id, slot->worker_id, &store_error);
        log_job(slot, job, "job.released", "the drain deadline passed; back in the queue");
    } else if (rc != VSR_OK && rc != VSR_E_CANCELED && disk_error_is_full(error.message)) {
        /* Its attempt is not spent: it runs again once there is room. */
        store_job_release(pool->store, job->id, slot->worker_id, &store_error);
        int64_t wait = disk_wait(pool);
        char detail[sizeof error.message + 96];
        snprintf(detail, sizeof detail,
                 "out of disk space, back in the queue; no claims for %lld ms: %s", (long long)wait,
                 error.message);
        log_job(slot, job, "job.released", detail);
    } else {
        struct job_finish finish = {0};
        if (rc == VSR_OK) {
            finish.state = final = JOB_SUCCEEDED;
            finish.output_blob = key;
        } else if (rc == VSR_E_CANCELED) {
            finish.state = final = JOB_CANCELED;
        } else {
            finish.state = JOB_FAILED;
            finish.retryable = retryable(rc);
            finish.error_code = vsr_status_name(rc);
            /* The API and the webhook show this; the log line below keeps
             * the paths. */
            snprintf(client_message, sizeof client_message, "%s", error.message);
            redact_paths(client_message, sizeof client_message, pool->config->data_dir);
            finish.error_message = client_message;
        }
        int held = store_job_finish(pool->store, job->id, slot->worker_id, &finish, &store_error);
        if (held < 0) log_job(slot, job, "job.finish_failed", store_error.message);
        if (held == 0 && rc == VSR_OK) blob_remove(pool->blob, key, &store_error);
        if (rc == VSR_OK) { /* there was room for a whole job: waits start over */
            pthread_mutex_lock(&pool->lock);
            pool->disk_wait_ms = 0;
            pthread_mutex_unlock(&pool->lock);
        }
        log_job(slot, job,
                final == JOB_SUCCEEDED  ? "job.succeeded"
                : final == JOB_CANCELED ? "job.canceled"
                                        : "job.failed",
                rc == VSR_OK ? NULL : error.message);
        if (pool->metrics) metrics_record_job(pool->metrics, final, seconds);
    }
    if (pool->metrics) metrics_worker_busy(pool->metrics, -1);
    pthread_mutex_lock(&pool->lock);
    pool->busy--;
    pthread_cond_broadcast(&pool->settled);
    pthread_mutex_unlock(&pool->lock);
}

static void wait_ms(struct worker_pool *pool, int64_t ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&pool->wake, &pool->lock, &until);
}

/* Linux applies nice values per thread (the thread id as the process id). */
#define WORKER_NICE 10

static void *worker_main(void *arg) {
    struct slot *slot = arg;
    thread_name("vsr-worker");
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WORKER_NICE); /* best effort */
    struct worker_pool *pool = slot->pool;
    int64_t lease_ms = (int64_t)pool->config->lease_seconds * 1000;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        int stopping = pool->stopping;
        pthread_mutex_unlock(&pool->lock);
        if (stopping) break;
        struct job job;
        struct vsr_error error = {0};
        int claimed = 0;
        const struct service_config *config = pool->config;
        /* Outside business hours, or without disk space, queued jobs wait:
         * nothing is claimed. */
        if ((!config->business_hours_only ||
             hours_is_open(config->business_open_minute, config->business_close_minute,
                           time(NULL))) &&
            disk_has_room(pool))
            claimed = store_job_claim(pool->store, slot->worker_id, lease_ms, &job, &error);
        if (claimed == 1) {
            run_job(slot, &job);
            continue;
        }
        if (claimed < 0) fprintf(stderr, "{\"event\":\"worker.claim_failed\"}\n");
        /* PostgreSQL wakes idle workers when a job is queued (LISTEN/NOTIFY);
         * the timeout still catches backoffs that end and leases that expire.
         * SQLite cannot: there the worker just sleeps poll_ms. */
        if (claimed == 0 && store_wait_for_work(pool->store, pool->config->poll_ms, &error) >= 0)
            continue;
        pthread_mutex_lock(&pool->lock);
        if (!pool->stopping) wait_ms(pool, pool->config->poll_ms);
        pthread_mutex_unlock(&pool->lock);
    }
    return NULL;
}

static void heartbeat_all(struct worker_pool *pool, int64_t lease_ms) {
    for (int i = 0; i < pool->count; i++) {
        struct slot *slot = &pool->slots[i];
        char job_id[STORE_ID_SIZE];
        pthread_mutex_lock(&pool->lock);
        int busy = slot->busy;
        uint64_t generation = slot->generation;
        snprintf(job_id, sizeof job_id, "%s", slot->job_id);
        pthread_mutex_unlock(&pool->lock);
        if (!busy) continue;
        int cancel = 0;
        struct vsr_error error = {0};
        double progress = atomic_load(&slot->progress_bp) / 100.0;
        int held = store_job_heartbeat(pool->store, job_id, slot->worker_id, lease_ms, progress,
                                       &cancel, &error);
        if (held < 0) continue; /* the database is busy or down: try again next beat */
        pthread_mutex_lock(&pool->lock);
        if (slot->busy && slot->generation == generation) {
            if (held == 0) slot->lease_lost = 1;
            if (held == 0 || cancel) atomic_store(&slot->cancel, 1);
        }
        pthread_mutex_unlock(&pool->lock);
    }
}

static void *supervisor_main(void *arg) {
    struct worker_pool *pool = arg;
    thread_name("vsr-supervisor");
    int64_t lease_ms = (int64_t)pool->config->lease_seconds * 1000;
    int64_t interval = lease_ms / 3 < 1000 ? lease_ms / 3 : 1000;
    if (interval < 50) interval = 50;
    pthread_mutex_lock(&pool->lock);
    while (!(pool->stopping && pool->busy == 0)) {
        pthread_mutex_unlock(&pool->lock);
        heartbeat_all(pool, lease_ms);
        pthread_mutex_lock(&pool->lock);
        if (!(pool->stopping && pool->busy == 0)) wait_ms(pool, interval);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

int worker_pool_start(struct worker_pool **out, const struct service_config *config,
                      struct store *store, struct blob *blob, struct metrics *metrics,
                      struct vsr_error *error) {
    *out = NULL;
    char work[1100];
    snprintf(work, sizeof work, "%.1000s/work", config->data_dir);
    mkdir(config->data_dir, 0755);
    if (mkdir(work, 0755) != 0 && errno != EEXIST) {
        error->code = VSR_E_OUTPUT;
        snprintf(error->message, sizeof error->message, "cannot create %.400s: %s", work,
                 strerror(errno));
        return VSR_E_OUTPUT;
    }
    struct worker_pool *pool = calloc(1, sizeof *pool);
    struct slot *slots = calloc((size_t)(config->workers > 0 ? config->workers : 1), sizeof *slots);
    if (!pool || !slots) {
        free(pool);
        free(slots);
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    pool->config = config;
    pool->store = store;
    pool->blob = blob;
    pool->metrics = metrics;
    pool->slots = slots;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->settled, NULL);
    char host[64] = "host", suffix[16];
    gethostname(host, sizeof host - 1);
    ids_random(suffix, sizeof suffix, "", 3);
    for (int i = 0; i < config->workers; i++) {
        struct slot *slot = &slots[i];
        slot->pool = pool;
        slot->index = i;
        snprintf(slot->worker_id, sizeof slot->worker_id, "%.60s:%d:%s:%d", host, (int)getpid(),
                 suffix, i);
        if (pthread_create(&slot->thread, NULL, worker_main, slot) != 0) break;
        pool->count++;
    }
    if (pool->count == config->workers &&
        pthread_create(&pool->supervisor, NULL, supervisor_main, pool) == 0)
        pool->supervisor_started = 1;
    if (metrics) metrics_set_workers(metrics, pool->count);
    *out = pool;
    if (pool->count != config->workers || !pool->supervisor_started) {
        worker_pool_free(pool);
        *out = NULL;
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "cannot start worker threads");
        return VSR_E_NOMEM;
    }
    return VSR_OK;
}

int worker_pool_drain(struct worker_pool *pool, int64_t deadline_ms) {
    if (pool->drained) return pool->released;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += deadline_ms / 1000;
    until.tv_nsec += (deadline_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->wake);
    while (pool->busy > 0)
        if (pthread_cond_timedwait(&pool->settled, &pool->lock, &until) == ETIMEDOUT) break;
    if (pool->busy > 0) {
        pool->forced = 1;
        for (int i = 0; i < pool->count; i++)
            if (pool->slots[i].busy) {
                atomic_store(&pool->slots[i].cancel, 1);
                pool->released++;
            }
    }
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->count; i++)
        pthread_join(pool->slots[i].thread, NULL);
    pthread_mutex_lock(&pool->lock);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    if (pool->supervisor_started) pthread_join(pool->supervisor, NULL);
    pool->drained = 1;
    return pool->released;
}

void worker_pool_free(struct worker_pool *pool) {
    if (!pool) return;
    worker_pool_drain(pool, 0);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->settled);
    pthread_mutex_destroy(&pool->lock);
    free(pool->slots);
    free(pool);
}

int worker_pool_busy(struct worker_pool *pool) {
    pthread_mutex_lock(&pool->lock);
    int busy = pool->busy;
    pthread_mutex_unlock(&pool->lock);
    return busy;
}
