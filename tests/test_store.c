/* test_store.c: the job store on a real database (SQLite in a scratch
 * folder, or a fresh PostgreSQL database when VSR_TEST_DB is set): keys,
 * idempotency, claims under leases, expiry and backoff, cancel, paging, the
 * webhook outbox, concurrent claims from several threads, readiness, and
 * the wake-up of idle workers. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <time.h>

#include <jansson.h>

#include "jobs/store.h"
#include "test.h"

static struct store *open_store(char *path, size_t size, int64_t backoff_ms) {
    test_database_url(test_tmpdir(), path, size);
    struct store_options options;
    store_options_init(&options);
    options.backoff_base_ms = backoff_ms;
    options.backoff_max_ms = 10 * backoff_ms;
    struct store *store = NULL;
    struct vsr_error error = {0};
    int rc = store_open(&store, path, &options, &error);
    if (rc != VSR_OK) fprintf(stderr, "  store_open: %s\n", error.message);
    CHECK_INT(VSR_OK, rc);
    return store;
}

static void add_job(struct store *store, const char *key_id, const char *idempotency,
                    struct job *job) {
    struct vsr_error error = {0};
    memset(job, 0, sizeof *job);
    snprintf(job->key_id, sizeof job->key_id, "%s", key_id);
    snprintf(job->type, sizeof job->type, "remove");
    snprintf(job->input_blob, sizeof job->input_blob, "uploads/x");
    snprintf(job->idempotency_key, sizeof job->idempotency_key, "%s", idempotency);
    job->max_attempts = 2;
    job->media_seconds = 90;
    int rc = store_job_create(store, job, &error);
    CHECK(rc == 0 || rc == 1);
}

TEST(store_keys) {
    char path[512];
    struct store *store = open_store(path, sizeof path, 1000);
    if (!store) return;
    struct vsr_error error = {0};
    struct api_key key = {0}, found;
    char token[80];
    snprintf(key.name, sizeof key.name, "alice");
    key.jobs_per_day = 10;
    key.rate_per_second = 2.5;
    CHECK_INT(VSR_OK, store_key_create(store, &key, token, sizeof token, &error));
    CHECK(strncmp(token, "vsr_", 4) == 0);
    CHECK_INT(52, strlen(token));
    CHECK_INT(1, store_key_authenticate(store, token, &found, &error));
    CHECK_STR(key.id, found.id);
    CHECK_INT(10, found.jobs_per_day);
    CHECK(found.rate_per_second == 2.5);
    /* Only the hash is kept: the token itself appears nowhere in the row. */
    CHECK(strstr(found.secret_hash, token + 4) == NULL);
    CHECK_INT(0, store_key_authenticate(store, "vsr_wrong", &found, &error));

    struct job job;
    add_job(store, key.id, "", &job);
    struct key_usage usage;
    CHECK_INT(VSR_OK, store_key_usage(store, key.id, &usage, &error));
    CHECK_INT(1, usage.jobs_last_day);
    CHECK(usage.minutes_this_month > 1.49 && usage.minutes_this_month < 1.51);

    struct api_key *keys = NULL;
    int count = 0;
    CHECK_INT(VSR_OK, store_key_list(store, &keys, &count, &error));
    CHECK_INT(1, count);
    free(keys);
    CHECK_INT(1, store_key_revoke(store, "alice", &error));
    CHECK_INT(0, store_key_revoke(store, "alice", &error));
    CHECK_INT(0, store_key_authenticate(store, token, &found, &error));
    store_close(store);

    /* Reopening an existing database keeps its data (migrations are idempotent). */
    struct store *again = NULL;
    CHECK_INT(VSR_OK, store_open(&again, path, NULL, &error));
    if (!again) return;
    CHECK_INT(VSR_OK, store_key_list(again, &keys, &count, &error));
    CHECK_INT(1, count);
    if (count == 1) CHECK(keys[0].revoked_at > 0);
    free(keys);
    store_close(again);
}

TEST(store_idempotency) {
    char path[512];
    struct store *store = open_store(path, sizeof path, 1000);
    if (!store) return;
    struct job a, b, c, other;
    add_job(store, "key_a", "same", &a);
    add_job(store, "key_a", "same", &b);
    add_job(store, "key_a", "different", &c);
    add_job(store, "key_b", "same", &other);
    CHECK_STR(b.id, a.id);
    CHECK(strcmp(a.id, c.id) != 0);
    CHECK(strcmp(a.id, other.id) != 0);
    /* Without a key every request is a new job. */
    struct job d, e;
    add_job(store, "key_a", "", &d);
    add_job(store, "key_a", "", &e);
    CHECK(strcmp(d.id, e.id) != 0);
    int64_t depth[JOB_STATE_COUNT];
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, store_queue_depth(store, depth, &error));
    CHECK_INT(5, depth[JOB_QUEUED]);
    store_close(store);
}

TEST(store_claim_finish) {
    char path[512];
    struct store *store = open_store(path, sizeof path, 1000);
    if (!store) return;
    struct vsr_error error = {0};
    struct job first, second, claimed, got;
    add_job(store, "key_a", "", &first);
    add_job(store, "key_a", "", &second);
    int64_t position = -1;
    CHECK_INT(VSR_OK, store_job_queue_position(store, &second, &position, &error));
    CHECK_INT(1, position);

    CHECK_INT(1, store_job_claim(store, "w1", 30000, &claimed, &error));
    CHECK_STR(first.id, claimed.id); /* oldest first */
    CHECK_INT(JOB_PROCESSING, claimed.state);
    CHECK_INT(1, claimed.attempts);
    int cancel = -1;
    CHECK_INT(1, store_job_heartbeat(store, first.id, "w1", 30000, 42.5, &cancel, &error));
    CHECK_INT(0, cancel);
    CHECK_INT(0, store_job_heartbeat(store, first.id, "w2", 30000, 1, &cancel, &error));
    CHECK_INT(1, store_job_get(store, "key_a", first.id, &got, &error));
    CHECK(got.progress == 42.5);
    CHECK_INT(0, store_job_get(store, "key_b", first.id, &got, &error)); /* other key */

    struct job_finish done = {.state = JOB_SUCCEEDED, .output_blob = "results/a.mp4"};
    CHECK_INT(0, store_job_finish(store, first.id, "w2", &done, &error)); /* not its lease */
    CHECK_INT(1, store_job_finish(store, first.id, "w1", &done, &error));
    CHECK_INT(1, store_job_get(store, NULL, first.id, &got, &error));
    CHECK_INT(JOB_SUCCEEDED, got.state);
    CHECK(got.progress == 100);
    CHECK_STR("results/a.mp4", got.output_blob);
    CHECK(got.finished_at >= got.started_at && got.started_at > 0);

    /* A non-retryable failure is final at once. */
    CHECK_INT(1, store_job_claim(store, "w1", 30000, &claimed, &error));
    struct job_finish bad = {.state = JOB_FAILED, .error_code = "input", .error_message = "nope"};
    CHECK_INT(1, store_job_finish(store, second.id, "w1", &bad, &error));
    CHECK_INT(1, store_job_get(store, NULL, second.id, &got, &error));
    CHECK_INT(JOB_FAILED, got.state);
    CHECK_STR("input", got.error_code);
    CHECK_INT(0, store_job_claim(store, "w1", 30000, &claimed, &error));

    int64_t completed = 0, failed = 0;
    double p50 = -1, p95 = -1;
    CHECK_INT(VSR_OK, store_job_stats(store, 0, &completed, &failed, &p50, &p95, &error));
    CHECK_INT(1, completed);
    CHECK_INT(1, failed);
    CHECK(p50 >= 0 && p95 >= p50);
    store_close(store);
}

TEST(store_retry_backoff) {
    char path[512];
    struct store *store = open_store(path, sizeof path, 300);
    if (!store) return;
    struct vsr_error error = {0};
    struct job job, claimed, got;
    add_job(store, "key_a", "", &job);
    CHECK_INT(1, store_job_claim(store, "w1", 30000, &claimed, &error));
    struct job_finish retry = {.state = JOB_FAILED, .retryable = 1, .error_code = "codec"};
    CHECK_INT(1, store_job_finish(store, job.id, "w1", &retry, &error));
    CHECK_INT(1, store_job_get(store, NULL, job.id, &got, &error));
    CHECK_INT(JOB_QUEUED, got.state);
    /* Backoff: not claimable for the first 300 ms. */
    CHECK_INT(0, store_job_claim(store, "w1", 30000, &claimed, &error));
    usleep(400 * 1000);
    CHECK_INT(1, store_job_claim(store, "w1", 30000, &claimed, &error));
    CHECK_INT(2, claimed.attempts);
    /* Attempts used up: a retryable failure is now final. */
    CHECK_INT(1, store_job_finish(store, job.id, "w1", &retry, &error));
    CHECK_INT(1, store_job_get(store, NULL, job.id, &got, &error));
    CHECK_INT(JOB_FAILED, got.state);
    store_close(store);
}

TEST(store_lease_expiry) {
    char path[512];
    struct store *store = open_store(path, sizeof path, 200);
    if (!store) return;
    struct vsr_error error = {0};
    struct job job, claimed, got;
    add_job(store, "key_a", "", &job);
    CHECK_INT(1, store_job_claim(store, "dead-worker", 100, &claimed, &error));
    CHECK_INT(0, store_job_claim(store, "w2", 10000, &claimed, &error)); /* leased */
    usleep(150 * 1000);
    /* The lease ran out: back in the queue, behind a backoff of 200 ms. */
    int count = 0;
    CHECK_INT(VSR_OK, store_job_requeue_expired(store, &count, &error));
    CHECK_INT(1, count);
    CHECK_INT(1, store_job_get(store, NULL, job.id, &got, &error));
    CHECK_INT(JOB_QUEUED, got.state);
    CHECK_STR("lease_expired", got.error_code);
    CHECK_INT(0, store_job_claim(store, "w2", 10000, &claimed, &error));
    usleep(250 * 1000);
    CHECK_INT(1, store_job_claim(store, "w2", 100, &claimed, &error));
    CHECK_INT(2, claimed.attempts);
    /* The dead worker's late heartbeat and finish are refused. */
    int cancel = 0;
    CHECK_INT(0, store_job_heartbeat(store, job.id, "dead-worker", 100, 5, &cancel, &error));
    struct job_finish done = {.state = JOB_SUCCEEDED, .output_blob = "x"};
    CHECK_INT(0, store_job_finish(store, job.id, "dead-worker", &done, &error));
    /* The second lease also expires: attempts (2) are used up, so it fails. */
    usleep(150 * 1000);
    CHECK_INT(0, store_job_claim(store, "w3", 10000, &claimed, &error));
    CHECK_INT(1, store_job_get(store, NULL, job.id, &got, &error));
    CHECK_INT(JOB_FAILED, got.state);
    CHECK_STR("lease_expired", got.error_code);
    store_close(store);
}

TEST(store_cancel_and_release) {
    char path[512];
    struct store *store = open_store(path, sizeof path, 1000);
    if (!store) return;
    struct vsr_error error = {0};
    struct job queued, running, claimed, got;
    add_job(store, "key_a", "", &running);
    add_job(store, "key_a", "", &queued);
    CHECK_INT(1, store_job_claim(store, "w1", 30000, &claimed, &error));
    CHECK_INT(0, store_job_cancel(store, "key_b", queued.id, &got, &error));
    CHECK_INT(1, store_job_cancel(store, "key_a", queued.id, &got, &error));
    CHECK_INT(JOB_CANCELED, got.state);
    CHECK_INT(1, store_job_cancel(store, "key_a", running.id, &got, &error));
    CHECK_INT(JOB_PROCESSING, got.state);
    CHECK_INT(1, got.cancel_requested);
    int cancel = 0;
    CHECK_INT(1, store_job_heartbeat(store, running.id, "w1", 30000, 10, &cancel, &error));
    CHECK_INT(1, cancel);
    struct job_finish stop = {.state = JOB_CANCELED};
    CHECK_INT(1, store_job_finish(store, running.id, "w1", &stop, &error));
    CHECK_INT(1, store_job_get(store, NULL, running.id, &got, &error));
    CHECK_INT(JOB_CANCELED, got.state);

    /* A released job is claimable at once and keeps its attempt count. */
    struct job third;
    add_job(store, "key_a", "", &third);
    CHECK_INT(1, store_job_claim(store, "w1", 30000, &claimed, &error));
    CHECK_INT(1, store_job_release(store, third.id, "w1", &error));
    CHECK_INT(1, store_job_claim(store, "w2", 30000, &claimed, &error));
    CHECK_STR(third.id, claimed.id);
    CHECK_INT(1, claimed.attempts);
    store_close(store);
}

TEST(store_list_pages) {
    char path[512];
    struct store *store = open_store(path, sizeof path, 1000);
    if (!store) return;
    struct vsr_error error = {0};
    struct job job, page[3];
    for (int i = 0; i < 7; i++)
        add_job(store, "key_a", "", &job);
    add_job(store, "key_b", "", &job);
    struct job_list_query query = {.key_id = "key_a", .state = -1, .limit = 3};
    int count = 0, total = 0, pages = 0;
    int64_t next = 0, last_seq = INT64_MAX;
    do {
        query.cursor = next;
        CHECK_INT(VSR_OK, store_job_list(store, &query, page, &count, &next, &error));
        for (int i = 0; i < count; i++) {
            CHECK(page[i].seq < last_seq); /* newest first, no repeats */
            CHECK_STR("key_a", page[i].key_id);
            last_seq = page[i].seq;
        }
        total += count;
        pages++;
    } while (next != 0 && pages < 10);
    CHECK_INT(7, total);
    CHECK_INT(3, pages);
    struct job claimed;
    CHECK_INT(1, store_job_claim(store, "w1", 30000, &claimed, &error));
    query.cursor = 0;
    query.state = JOB_PROCESSING;
    CHECK_INT(VSR_OK, store_job_list(store, &query, page, &count, &next, &error));
    CHECK_INT(1, count);
    CHECK_INT(0, next);
    store_close(store);
}

TEST(store_webhook_outbox) {
    char path[512];
    struct store *store = open_store(path, sizeof path, 1000);
    if (!store) return;
    struct vsr_error error = {0};
    struct job job, claimed;
    memset(&job, 0, sizeof job);
    snprintf(job.key_id, sizeof job.key_id, "key_a");
    snprintf(job.type, sizeof job.type, "remove");
    snprintf(job.input_blob, sizeof job.input_blob, "uploads/x");
    snprintf(job.webhook_url, sizeof job.webhook_url, "https://example.com/hook");
    CHECK_INT(0, store_job_create(store, &job, &error));
    CHECK_INT(1, store_job_claim(store, "w1", 30000, &claimed, &error));
    struct job_finish done = {.state = JOB_SUCCEEDED, .output_blob = "r"};
    CHECK_INT(1, store_job_finish(store, job.id, "w1", &done, &error));
    struct webhook_delivery rows[4], due;
    int count = 0;
    CHECK_INT(VSR_OK, store_webhook_list(store, job.id, rows, 4, &count, &error));
    CHECK_INT(1, count);
    if (count == 1) {
        CHECK_STR("job.succeeded", rows[0].event);
        CHECK(strstr(rows[0].payload, job.id) != NULL);
        CHECK(strstr(rows[0].payload, "\"status\":\"succeeded\"") != NULL);
    }
    CHECK_INT(1, store_webhook_claim_due(store, 60000, &due, &error));
    CHECK_INT(1, due.attempts);
    CHECK_INT(0, store_webhook_claim_due(store, 60000, &due, &error)); /* leased */
    CHECK_INT(VSR_OK, store_webhook_record(store, due.id, 1, 200, "", 0, &error));
    CHECK_INT(VSR_OK, store_webhook_list(store, job.id, rows, 4, &count, &error));
    CHECK_INT(1, rows[0].delivered);
    CHECK_INT(200, rows[0].last_status);
    store_close(store);
}

/* A job's webhook payload uses the API's forms: times in ISO 8601 as in
 * GET /api/v1/jobs/{id}, and a succeeded job's result_url. */
TEST(store_webhook_payload_like_api) {
    char path[512];
    struct store *store = open_store(path, sizeof path, 1000);
    if (!store) return;
    struct vsr_error error = {0};
    struct job job, claimed;
    const enum job_state ends[2] = {JOB_SUCCEEDED, JOB_FAILED};
    for (int i = 0; i < 2; i++) {
        memset(&job, 0, sizeof job);
        snprintf(job.key_id, sizeof job.key_id, "key_a");
        snprintf(job.type, sizeof job.type, "remove");
        snprintf(job.input_blob, sizeof job.input_blob, "uploads/x");
        snprintf(job.webhook_url, sizeof job.webhook_url, "https://example.com/hook");
        CHECK_INT(0, store_job_create(store, &job, &error));
        CHECK_INT(1, store_job_claim(store, "w1", 30000, &claimed, &error));
        struct job_finish done = {.state = ends[i], .output_blob = "r"};
        if (ends[i] == JOB_FAILED) {
            done.error_code = "input";
            done.error_message = "bad input";
        }
        CHECK_INT(1, store_job_finish(store, job.id, "w1", &done, &error));
        struct webhook_delivery rows[4];
        int count = 0;
        CHECK_INT(VSR_OK, store_webhook_list(store, job.id, rows, 4, &count, &error));
        CHECK_INT(1, count);
        json_t *payload = count == 1 ? json_loads(rows[0].payload, 0, NULL) : NULL;
        json_t *data = json_object_get(payload, "data");
        const char *times[2] = {"created_at", "finished_at"};
        for (int t = 0; t < 2; t++) {
            const char *text = json_string_value(json_object_get(data, times[t]));
            int y, mo, d, h, mi, sec, ms;
            char z = 0;
            if (!text ||
                sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &sec, &ms,
                       &z) != 8 ||
                z != 'Z' || strlen(text) != 24) {
                fprintf(stderr, "  data.%s is not ISO 8601 like the API's: %s\n", times[t],
                        rows[0].payload);
                test_failures++;
            }
        }
        char url[128];
        snprintf(url, sizeof url, "/api/v1/jobs/%s/result", job.id);
        json_t *result_url = json_object_get(data, "result_url");
        if (ends[i] == JOB_SUCCEEDED)
            CHECK_STR(url, json_string_value(result_url) ? json_string_value(result_url) : "");
        else
            CHECK(result_url == NULL || json_is_null(result_url));
        json_decref(payload);
    }
    store_close(store);
}

/* The SQLite file holds webhook secrets and key hashes: only its owner may
 * read it, whatever the umask, and so may its WAL and shared-memory files. */
TEST(store_sqlite_file_private) {
    if (test_on_postgres()) {
        printf("  skip: a SQLite file only\n");
        return;
    }
    char path[512], side[600];
    snprintf(path, sizeof path, "%s/private.db", test_tmpdir());
    mode_t before = umask(022);
    struct store_options options;
    store_options_init(&options);
    struct store *store = NULL;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, store_sqlite_open(&store, path, &options, &error));
    struct api_key key = {0};
    char token[80];
    snprintf(key.name, sizeof key.name, "k");
    CHECK_INT(VSR_OK, store_key_create(store, &key, token, sizeof token, &error));
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(side, sizeof side, "%s%s", path, suffixes[i]);
        struct stat st;
        if (stat(side, &st) != 0) continue;
        if ((st.st_mode & 0777) != 0600) {
            fprintf(stderr, "  %s has mode %o, not 600\n", side, (unsigned)(st.st_mode & 0777));
            test_failures++;
        }
    }
    store_close(store);
    umask(before);
}

struct claim_race {
    struct store *store;
    int claimed;
    char worker[16];
};

static void *claim_all(void *arg) {
    struct claim_race *race = arg;
    struct vsr_error error = {0};
    struct job job;
    struct job_finish done = {.state = JOB_SUCCEEDED, .output_blob = "r"};
    while (store_job_claim(race->store, race->worker, 30000, &job, &error) == 1) {
        race->claimed++;
        store_job_finish(race->store, job.id, race->worker, &done, &error);
    }
    return NULL;
}

/* Four threads drain 40 jobs: each is claimed exactly once. */
TEST(store_concurrent_claims) {
    char path[512];
    struct store *store = open_store(path, sizeof path, 1000);
    if (!store) return;
    struct job job;
    for (int i = 0; i < 40; i++)
        add_job(store, "key_a", "", &job);
    struct claim_race races[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        races[i] = (struct claim_race){.store = store};
        snprintf(races[i].worker, sizeof races[i].worker, "w%d", i);
        pthread_create(&threads[i], NULL, claim_all, &races[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        total += races[i].claimed;
    }
    CHECK_INT(40, total);
    int64_t depth[JOB_STATE_COUNT];
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, store_queue_depth(store, depth, &error));
    CHECK_INT(40, depth[JOB_SUCCEEDED]);
    store_close(store);
}

TEST(store_ping_unreadable) {
    char path[512];
    struct store *store = open_store(path, sizeof path, 1000);
    if (!store) return;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, store_ping(store, &error));
    test_database_break(path);
    CHECK(store_ping(store, &error) < 0);
    CHECK(strstr(error.message, "database") != NULL);
    test_database_restore(path);
    CHECK_INT(VSR_OK, store_ping(store, &error));
    /* PostgreSQL reports its pool: nothing lent between calls. */
    int in_use = -1, size = -1;
    CHECK_INT(test_on_postgres(), store_pool_usage(store, &in_use, &size));
    CHECK_INT(0, in_use);
    CHECK_INT(test_on_postgres() ? 8 : 0, size);
    store_close(store);
}

struct waiter {
    struct store *store;
    int woken;
    int64_t waited_ms;
};

static void *wait_for_work(void *arg) {
    struct waiter *w = arg;
    struct vsr_error error = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    w->woken = store_wait_for_work(w->store, 5000, &error);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    w->waited_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    return NULL;
}

/* An idle worker sleeps on the database until a job is queued (PostgreSQL
 * LISTEN/NOTIFY); SQLite says it cannot, and workers poll instead. */
TEST(store_wait_wakes_on_new_job) {
    char path[512];
    struct store *store = open_store(path, sizeof path, 1000);
    if (!store) return;
    struct vsr_error error = {0};
    if (!test_on_postgres()) {
        CHECK_INT(VSR_E_USAGE, store_wait_for_work(store, 10, &error));
        store_close(store);
        return;
    }
    /* Nothing queued: the wait runs to its timeout. */
    CHECK_INT(0, store_wait_for_work(store, 200, &error));
    struct waiter waiters[2] = {{.store = store}, {.store = store}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, wait_for_work, &waiters[i]);
    usleep(300 * 1000); /* both asleep */
    struct job job;
    add_job(store, "key_a", "", &job);
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        CHECK_INT(1, waiters[i].woken);
        CHECK_AT_MOST(3000, waiters[i].waited_ms); /* well before the 5 s timeout */
    }
    store_close(store);
}
