/* test_service.c: the job service's commands as processes: `vsr keys`,
 * `vsr serve` and `vsr worker` started from the built binary against one
 * data folder, stopped with SIGTERM (they must drain and exit 0). */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blob/blob.h"
#include "jobs/store.h"
#include "test.h"
#include "util/ids.h"

/* Starts "VSR ARGS" in the background, stderr into LOG; returns its pid. */
/* Runs `vsr ARGS` on DIR's job store and file store (tests/backends.c). */
static pid_t start(const char *dir, const char *args, const char *log) {
    char cmd[4096], backend[2200];
    test_backend_args(dir, backend, sizeof backend);
    snprintf(cmd, sizeof cmd, "exec %s %s %s 2>'%s'", test_vsr_bin(), args, backend, log);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Sends SIGTERM and returns the exit status (128+signal if killed). */
static int stop(pid_t pid) {
    int status = 0;
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int log_contains(const char *log, const char *text) {
    char buf[16384] = {0};
    FILE *f = fopen(log, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strstr(buf, text) != NULL;
}

TEST(service_keys_cli) {
    char dir[2400], cmd[4096], out[4096];
    /* "DIR --database URL --storage URL": the options follow every --data-dir. */
    snprintf(dir, sizeof dir, "%s ", test_tmpdir());
    test_backend_args(dir, dir + strlen(dir), sizeof dir - strlen(dir));
    snprintf(cmd, sizeof cmd, "%s keys create --name ci --jobs-per-day 3 --rate 5/s --data-dir %s",
             test_vsr_bin(), dir);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "token: vsr_") != NULL);
    CHECK(strstr(out, "webhook_secret: whsec_") != NULL);
    snprintf(cmd, sizeof cmd, "%s keys list --data-dir %s", test_vsr_bin(), dir);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "ci") != NULL && strstr(out, "active") != NULL);
    snprintf(cmd, sizeof cmd, "%s keys revoke ci --data-dir %s", test_vsr_bin(), dir);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK_INT(2, test_run(cmd, out, sizeof out)); /* no active key of that name now */
    snprintf(cmd, sizeof cmd, "%s keys create --data-dir %s", test_vsr_bin(), dir);
    CHECK_INT(2, test_run(cmd, out, sizeof out)); /* --name is required */
    snprintf(cmd, sizeof cmd, "%s keys create --name x --rate fast --data-dir %s", test_vsr_bin(),
             dir);
    CHECK_INT(2, test_run(cmd, out, sizeof out));
}

/* A job queued in the shared database is run by a separate `vsr worker`;
 * `vsr serve` and the worker both drain and exit 0 on SIGTERM. */
TEST(service_worker_process) {
    char dir[256], video[512], log_serve[512], log_worker[512], args[1024], cmd[1024], out[2048];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    snprintf(video, sizeof video, "%s/in.mp4", dir);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -f lavfi -i testsrc=size=160x120:rate=10 -t 2 -pix_fmt yuv420p"
             " -c:v libx264 -preset ultrafast '%s'",
             video);
    CHECK_INT(0, test_run(cmd, out, sizeof out));

    /* Queue a job straight in the store, as the API would. */
    char db[1024], blobs[1024];
    test_database_url(dir, db, sizeof db);
    test_storage_url(dir, blobs, sizeof blobs);
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, store_open(&store, db, NULL, &error));
    CHECK_INT(VSR_OK, blob_open(&blob, blobs, &error));
    if (!store || !blob) goto done;
    CHECK_INT(VSR_OK, blob_put_file(blob, "uploads/upl_cli", video, 0, &error));
    struct job job = {0};
    snprintf(job.key_id, sizeof job.key_id, "key_cli");
    snprintf(job.type, sizeof job.type, "remove");
    snprintf(job.input_blob, sizeof job.input_blob, "uploads/upl_cli");
    snprintf(job.options, sizeof job.options, "{\"preset\":\"ultrafast\"}");
    CHECK_INT(0, store_job_create(store, &job, &error));

    snprintf(log_serve, sizeof log_serve, "%s/serve.log", dir);
    snprintf(log_worker, sizeof log_worker, "%s/worker.log", dir);
    snprintf(args, sizeof args, "serve --data-dir %s --listen 127.0.0.1:0 --workers 0", dir);
    pid_t serve = start(dir, args, log_serve);
    snprintf(args, sizeof args, "worker --data-dir %s --workers 1 --poll-ms 50", dir);
    pid_t worker = start(dir, args, log_worker);
    struct job got = {0};
    for (int i = 0; i < 600; i++) {
        if (store_job_get(store, NULL, job.id, &got, &error) == 1 &&
            (got.state == JOB_SUCCEEDED || got.state == JOB_FAILED))
            break;
        usleep(100 * 1000);
    }
    CHECK_INT(JOB_SUCCEEDED, got.state);
    CHECK_INT(1, got.attempts);
    int64_t size = 0;
    CHECK_INT(1, blob_stat(blob, got.output_blob, &size, &error));
    CHECK(size > 1000);
    CHECK(log_contains(log_serve, "serve.started"));
    CHECK_INT(0, stop(worker));
    CHECK_INT(0, stop(serve));
    CHECK(log_contains(log_worker, "worker.stopped"));
    CHECK(log_contains(log_serve, "serve.stopped"));
done:
    blob_close(blob);
    store_close(store);
}

/* A clip that takes a worker a few seconds: 5 s of a shared fixture (or a
 * synthetic one when ../shared is absent). */
static int make_clip(const char *path) {
    char cmd[2048], out[2048];
    const char *shared = test_shared_dir();
    if (shared)
        snprintf(cmd, sizeof cmd,
                 "ffmpeg -v error -y -t 5 -i '%s/media/car-detection.mp4' -an -c:v libx264"
                 " -preset ultrafast '%s'",
                 shared, path);
    else
        snprintf(cmd, sizeof cmd,
                 "ffmpeg -v error -y -f lavfi -i testsrc=size=768x432:rate=25 -t 5"
                 " -vf \"drawbox=x=200:y=380:w=360:h=30:color=white:t=fill\""
                 " -pix_fmt yuv420p -c:v libx264 -preset ultrafast '%s'",
                 path);
    int rc = test_run(cmd, out, sizeof out);
    if (rc != 0) fprintf(stderr, "  ffmpeg: %s\n", out);
    return rc;
}

/* Opens DIR's store and files and queues a remove job on CLIP. */
static int queue_clip_job(const char *dir, const char *clip, struct store **store,
                          struct blob **blob, struct job *job) {
    char db[1024], blobs[1024];
    struct vsr_error error = {0};
    test_database_url(dir, db, sizeof db);
    test_storage_url(dir, blobs, sizeof blobs);
    if (store_open(store, db, NULL, &error) != VSR_OK || blob_open(blob, blobs, &error) != VSR_OK ||
        blob_put_file(*blob, "uploads/upl_clip", clip, 0, &error) != VSR_OK) {
        fprintf(stderr, "  queue_clip_job: %s\n", error.message);
        return -1;
    }
    memset(job, 0, sizeof *job);
    snprintf(job->key_id, sizeof job->key_id, "key_cli");
    snprintf(job->type, sizeof job->type, "remove");
    snprintf(job->input_blob, sizeof job->input_blob, "uploads/upl_clip");
    job->max_attempts = 3;
    return store_job_create(*store, job, &error) == 0 ? 0 : -1;
}

/* Waits up to SECONDS for the job to reach a state accepted by DONE. */
static int wait_state(struct store *store, const char *id, int seconds, int poll_ms,
                      int (*done)(const struct job *), struct job *got) {
    struct vsr_error error = {0};
    for (int i = 0; i < seconds * 1000 / poll_ms; i++) {
        if (store_job_get(store, NULL, id, got, &error) == 1 && done(got)) return 0;
        usleep((useconds_t)poll_ms * 1000);
    }
    return -1;
}

static int is_processing(const struct job *job) {
    return job->state == JOB_PROCESSING;
}

static int is_final(const struct job *job) {
    return job->state == JOB_SUCCEEDED || job->state == JOB_FAILED || job->state == JOB_CANCELED;
}

static int count_files(const char *path) {
    DIR *d = opendir(path);
    int n = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* kill -9 of a `vsr worker` in the middle of a job: after the lease runs out
 * another worker takes the job, and it succeeds exactly once (one result,
 * two attempts). */
TEST(service_worker_kill9_reclaimed) {
    char dir[256], clip[512], log_a[512], log_b[512], args[1024], results[600];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    snprintf(clip, sizeof clip, "%s/clip.mp4", dir);
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct job job, got;
    if (make_clip(clip) != 0 || queue_clip_job(dir, clip, &store, &blob, &job) != 0) {
        test_failures++;
        goto done;
    }
    snprintf(log_a, sizeof log_a, "%s/worker-a.log", dir);
    snprintf(log_b, sizeof log_b, "%s/worker-b.log", dir);
    snprintf(args, sizeof args,
             "worker --data-dir %s --workers 1 --threads-per-job 1 --poll-ms 50 --lease-seconds 2"
             " --backoff-seconds 0",
             dir);
    pid_t a = start(dir, args, log_a);
    CHECK_INT(0, wait_state(store, job.id, 30, 20, is_processing, &got));
    kill(a, SIGKILL);
    int status = 0;
    waitpid(a, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK_INT(JOB_PROCESSING, got.state); /* it died holding the job */
    CHECK_INT(1, got.attempts);

    pid_t b = start(dir, args, log_b);
    CHECK_INT(0, wait_state(store, job.id, 120, 100, is_final, &got));
    CHECK_INT(JOB_SUCCEEDED, got.state);
    CHECK_INT(2, got.attempts);
    snprintf(results, sizeof results, "%s/blobs/results", dir);
    /* One result: the dead worker left none (a folder can be counted). */
    if (!test_on_s3()) CHECK_INT(1, count_files(results));
    int64_t size = 0;
    struct vsr_error error = {0};
    CHECK_INT(1, blob_stat(blob, got.output_blob, &size, &error));
    CHECK(size > 1000);
    CHECK_INT(0, stop(b));
    CHECK(log_contains(log_b, "job.succeeded"));
done:
    blob_close(blob);
    store_close(store);
}

/* SIGTERM while a job runs: the worker stops claiming, finishes the job,
 * and exits 0 (a rolling deploy loses nothing). */
TEST(service_worker_sigterm_drains) {
    char dir[256], clip[512], log[512], args[1024];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    snprintf(clip, sizeof clip, "%s/clip.mp4", dir);
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct job job, got;
    if (make_clip(clip) != 0 || queue_clip_job(dir, clip, &store, &blob, &job) != 0) {
        test_failures++;
        goto done;
    }
    snprintf(log, sizeof log, "%s/worker.log", dir);
    snprintf(
        args, sizeof args,
        "worker --data-dir %s --workers 1 --threads-per-job 1 --poll-ms 50 --drain-seconds 120",
        dir);
    pid_t worker = start(dir, args, log);
    CHECK_INT(0, wait_state(store, job.id, 30, 20, is_processing, &got));
    CHECK_INT(0, stop(worker)); /* SIGTERM, then waits for the exit */
    struct vsr_error error = {0};
    CHECK_INT(1, store_job_get(store, NULL, job.id, &got, &error));
    CHECK_INT(JOB_SUCCEEDED, got.state);
    CHECK_INT(1, got.attempts);
    CHECK(log_contains(log, "worker.draining"));
    CHECK(log_contains(log, "\"released\":0"));
done:
    blob_close(blob);
    store_close(store);
}
