/* test_scaleout.c: several `vsr worker` processes on one shared job store
 * and file store (SQLite + folder, or PostgreSQL + S3 under
 * scripts/check-scaleout.sh). Three workers drain 60 jobs while one of them
 * is killed with SIGKILL in the middle of a job: every job must succeed
 * exactly once, none may be lost, and only the killed job runs twice. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blob/blob.h"
#include "jobs/store.h"
#include "test.h"

#define JOBS 60

static pid_t start_worker(const char *dir, const char *log) {
    char cmd[4096], backend[2200];
    test_backend_args(dir, backend, sizeof backend);
    /* VSR_TEST_JOB_TYPES=1 enables the "noop" job type (src/jobs/job_noop.c). */
    int n = snprintf(cmd, sizeof cmd,
                     "VSR_TEST_JOB_TYPES=1 exec %s worker --data-dir %s %s --workers 1"
                     " --lease-seconds 2 --poll-ms 100 --backoff-seconds 0 2>'%s'",
                     test_vsr_bin(), dir, backend, log);
    if (n < 0 || (size_t)n >= sizeof cmd) return 0; /* a cut command would run something else */
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* How many "job.succeeded" lines LOG holds for each of IDS (counts[i]). */
static void count_successes(const char *log, char ids[][STORE_ID_SIZE], int *counts) {
    FILE *f = fopen(log, "r");
    char line[2048];
    while (f && fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"event\":\"job.succeeded\"")) continue;
        for (int i = 0; i < JOBS; i++)
            if (strstr(line, ids[i])) counts[i]++;
    }
    if (f) fclose(f);
}

TEST(scaleout_three_workers_kill9) {
    SLOW_TEST();
    char dir[256], db[1024], storage[1024], logs[3][600];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    test_database_url(dir, db, sizeof db);
    test_storage_url(dir, storage, sizeof storage);
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    pid_t workers[3] = {0};
    static char ids[JOBS][STORE_ID_SIZE];
    if (store_open(&store, db, NULL, &error) != VSR_OK ||
        blob_open(&blob, storage, &error) != VSR_OK) {
        fprintf(stderr, "  %s\n", error.message);
        test_failures++;
        goto done;
    }
    struct blob_writer *writer = NULL;
    CHECK_INT(VSR_OK, blob_writer_open(blob, "uploads/upl_noop", &writer, &error));
    if (!writer) goto done;
    blob_writer_write(writer, "sixteen bytes!!\n", 16, &error);
    CHECK_INT(VSR_OK, blob_writer_commit(writer, &error));
    for (int i = 0; i < JOBS; i++) {
        struct job job = {0};
        snprintf(job.key_id, sizeof job.key_id, "key_scale");
        snprintf(job.type, sizeof job.type, "noop");
        snprintf(job.input_blob, sizeof job.input_blob, "uploads/upl_noop");
        snprintf(job.options, sizeof job.options, "{\"sleep_ms\":150}");
        job.max_attempts = 3;
        CHECK_INT(0, store_job_create(store, &job, &error));
        snprintf(ids[i], sizeof ids[i], "%s", job.id);
    }
    for (int w = 0; w < 3; w++) {
        snprintf(logs[w], sizeof logs[w], "%s/worker-%d.log", dir, w);
        workers[w] = start_worker(dir, logs[w]);
        CHECK(workers[w] > 0);
    }

    /* Once a third of the jobs are done, kill worker 0 while it holds one. */
    char victim_tag[32], killed_job[STORE_ID_SIZE] = "";
    snprintf(victim_tag, sizeof victim_tag, ":%d:", (int)workers[0]);
    for (int tries = 0; tries < 3000 && workers[0] > 0 && !killed_job[0]; tries++) {
        int64_t depth[JOB_STATE_COUNT];
        if (store_queue_depth(store, depth, &error) == VSR_OK && depth[JOB_SUCCEEDED] >= JOBS / 3) {
            for (int i = 0; i < JOBS && !killed_job[0]; i++) {
                struct job job;
                if (store_job_get(store, NULL, ids[i], &job, &error) == 1 &&
                    job.state == JOB_PROCESSING && strstr(job.lease_owner, victim_tag)) {
                    kill(workers[0], SIGKILL);
                    snprintf(killed_job, sizeof killed_job, "%s", job.id);
                }
            }
        }
        if (!killed_job[0]) usleep(10 * 1000);
    }
    CHECK(killed_job[0] != '\0');
    int status = 0;
    waitpid(workers[0], &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    workers[0] = 0;

    /* The others finish everything, the killed job once its lease is over. */
    int64_t depth[JOB_STATE_COUNT] = {0};
    for (int tries = 0; tries < 600; tries++) {
        if (store_queue_depth(store, depth, &error) == VSR_OK &&
            depth[JOB_SUCCEEDED] + depth[JOB_FAILED] + depth[JOB_CANCELED] == JOBS)
            break;
        usleep(100 * 1000);
    }
    CHECK_INT(JOBS, depth[JOB_SUCCEEDED]);
    int counts[JOBS] = {0}, twice = 0;
    for (int w = 0; w < 3; w++)
        count_successes(logs[w], ids, counts);
    for (int i = 0; i < JOBS; i++) {
        struct job job;
        int64_t size = 0;
        CHECK_INT(1, store_job_get(store, NULL, ids[i], &job, &error));
        CHECK_INT(JOB_SUCCEEDED, job.state);
        CHECK_INT(1, counts[i]); /* finished by exactly one worker */
        CHECK_INT(1, blob_stat(blob, job.output_blob, &size, &error));
        CHECK_INT(16, size);
        if (strcmp(job.id, killed_job) == 0) {
            CHECK_INT(2, job.attempts); /* claimed by the dead worker, then again */
        } else {
            twice += job.attempts != 1;
        }
    }
    CHECK_INT(0, twice); /* no other job ran twice */
done:
    for (int w = 0; w < 3; w++)
        if (workers[w] > 0) {
            kill(workers[w], SIGTERM);
            waitpid(workers[w], &status, 0);
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
    blob_close(blob);
    store_close(store);
}
