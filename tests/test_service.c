/* test_service.c: the job service's commands as processes: `vsr keys`,
 * `vsr serve` and `vsr worker` started from the built binary against one
 * data folder, stopped with SIGTERM (they must drain and exit 0). */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blob/blob.h"
#include "jobs/store.h"
#include "service/config.h"
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
    SLOW_TEST();
    char dir[2400], backend[2200], cmd[4096], out[4096];
    /* "DIR --database URL --storage URL": the options follow every --data-dir. */
    const char *scratch = test_tmpdir();
    test_backend_args(scratch, backend, sizeof backend);
    snprintf(dir, sizeof dir, "%s %s", scratch, backend);
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
 * `vsr serve --workers 0` and two workers all run webhook senders on the one
 * outbox, and the job's webhook reaches the receiver (which verifies it with
 * the `standardwebhooks` package) exactly once. `vsr serve` and the workers
 * drain and exit 0 on SIGTERM. */
TEST(service_worker_process) {
    SLOW_TEST();
    char dir[256], video[512], log_serve[512], log_worker[512], args[1024], cmd[1024];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    snprintf(video, sizeof video, "%s/in.mp4", dir);
    CHECK_INT(0, test_make_video(video, "160x120", 2));

    /* Queue a job straight in the store, as the API would. */
    char db[1024], blobs[1024];
    test_database_url(dir, db, sizeof db);
    test_storage_url(dir, blobs, sizeof blobs);
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    if (test_open_backends(db, blobs, &store, &blob) < 0) goto done;
    CHECK_INT(VSR_OK, blob_put_file(blob, "uploads/upl_cli", video, 0, &error));
    struct api_key key = {0};
    char token[80];
    snprintf(key.name, sizeof key.name, "cli");
    CHECK_INT(VSR_OK, store_key_create(store, &key, token, sizeof token, &error));
    struct test_child receiver = {0};
    char line[4096], receiver_log[512];
    int receiver_port = 0;
    snprintf(receiver_log, sizeof receiver_log, "%s/receiver.log", dir);
    snprintf(cmd, sizeof cmd, "exec node tests/webhook/receiver.mjs '%s' 0", key.webhook_secret);
    if (test_have_program("node") && test_spawn(&receiver, cmd, receiver_log) == 0 &&
        test_read_line(&receiver, line, sizeof line, 20000) == 0) {
        char *port = strstr(line, "\"port\":");
        receiver_port = port ? atoi(port + 7) : 0;
    }
    CHECK(receiver_port > 0);
    struct job job = {0};
    snprintf(job.key_id, sizeof job.key_id, "%s", key.id);
    snprintf(job.type, sizeof job.type, "remove");
    snprintf(job.input_blob, sizeof job.input_blob, "uploads/upl_cli");
    snprintf(job.options, sizeof job.options, "{\"preset\":\"ultrafast\"}");
    snprintf(job.webhook_url, sizeof job.webhook_url, "http://127.0.0.1:%d/hook", receiver_port);
    CHECK_INT(0, store_job_create(store, &job, &error));

    snprintf(log_serve, sizeof log_serve, "%s/serve.log", dir);
    snprintf(log_worker, sizeof log_worker, "%s/worker.log", dir);
    snprintf(args, sizeof args,
             "serve --data-dir %s --listen 127.0.0.1:0 --workers 0 --poll-ms 20"
             " --webhook-allow-private 1",
             dir);
    pid_t serve = start(dir, args, log_serve);
    snprintf(args, sizeof args,
             "worker --data-dir %s --workers 1 --poll-ms 20 --webhook-allow-private 1", dir);
    pid_t worker = start(dir, args, log_worker);
    char log_worker2[600];
    snprintf(log_worker2, sizeof log_worker2, "%s/worker2.log", dir);
    pid_t worker2 = start(dir, args, log_worker2);
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
    /* One delivery, verified; three senders polling every 20 ms made no
     * second attempt in the next second. */
    if (receiver_port > 0) {
        CHECK_INT(0, test_read_line(&receiver, line, sizeof line, 20000));
        CHECK(strstr(line, "\"verified\":true") != NULL);
        CHECK(strstr(line, "job.succeeded") != NULL && strstr(line, job.id) != NULL);
        CHECK_INT(-1, test_read_line(&receiver, line, sizeof line, 1000));
        struct webhook_delivery rows[4];
        int count = 0;
        CHECK_INT(VSR_OK, store_webhook_list(store, job.id, rows, 4, &count, &error));
        CHECK_INT(1, count);
        CHECK_INT(1, rows[0].attempts);
        CHECK_INT(1, rows[0].delivered);
    }
    CHECK_INT(0, stop(worker2));
    CHECK_INT(0, stop(worker));
    CHECK_INT(0, stop(serve));
    CHECK(log_contains(log_worker, "worker.stopped"));
    CHECK(log_contains(log_serve, "serve.stopped"));
    if (receiver.pid) test_child_stop(&receiver);
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
    SLOW_TEST();
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
    SLOW_TEST();
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

struct writer_args {
    const char *db;
    struct job job;
};

/* Keeps adding jobs through a store of its own while the backup runs. */
static void *write_jobs(void *arg) {
    struct writer_args *w = arg;
    struct store *store = NULL;
    struct vsr_error error = {0};
    if (store_open(&store, w->db, NULL, &error) != VSR_OK) return NULL;
    for (int i = 0; i < 2000; i++) {
        struct job job = w->job;
        store_job_create(store, &job, &error);
    }
    store_close(store);
    return NULL;
}

/* `vsr backup` while `vsr serve` runs and a writer keeps adding jobs: the
 * copy opens and holds the jobs written before it (PostgreSQL: backup
 * refuses and names pg_dump); `vsr cleanup` with a retention of 1.8 seconds
 * deletes a finished job's result and keeps the row. */
TEST(service_backup_and_cleanup) {
    SLOW_TEST();
    char dir[256], db[1024], blobs[1024], log[512], args[1024], cmd[4096], out[4096];
    char backend[2200];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    test_database_url(dir, db, sizeof db);
    test_storage_url(dir, blobs, sizeof blobs);
    test_backend_args(dir, backend, sizeof backend);
    snprintf(log, sizeof log, "%s/serve.log", dir);
    struct store *store = NULL, *copy = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    if (test_open_backends(db, blobs, &store, &blob) < 0) goto done;
    struct job job = {0};
    snprintf(job.key_id, sizeof job.key_id, "key_backup");
    snprintf(job.type, sizeof job.type, "remove");
    snprintf(job.input_blob, sizeof job.input_blob, "uploads/none");
    for (int i = 0; i < 200; i++)
        CHECK_INT(0, store_job_create(store, &job, &error));
    char first_id[STORE_ID_SIZE];
    snprintf(first_id, sizeof first_id, "%s", job.id);

    snprintf(args, sizeof args, "serve --data-dir %s --listen 127.0.0.1:0 --workers 0", dir);
    pid_t serve = start(dir, args, log);
    struct writer_args writer_args = {.db = db, .job = job};
    pthread_t writer;
    CHECK_INT(0, pthread_create(&writer, NULL, write_jobs, &writer_args));
    char backup[600];
    snprintf(backup, sizeof backup, "%s/backup.db", dir);
    snprintf(cmd, sizeof cmd, "%s backup '%s' --data-dir %s %s", test_vsr_bin(), backup, dir,
             backend);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "backed up") != NULL);
    pthread_join(writer, NULL);
    CHECK_INT(0, stop(serve));
    char copy_path[700];
    snprintf(copy_path, sizeof copy_path, "%s/database.sqlite", backup);
    if (!test_on_postgres()) CHECK_INT(VSR_OK, store_open(&copy, copy_path, NULL, &error));
    if (copy) {
        struct job got;
        CHECK_INT(1, store_job_get(copy, NULL, first_id, &got, &error));
        int64_t depth[JOB_STATE_COUNT] = {0};
        CHECK_INT(VSR_OK, store_queue_depth(copy, depth, &error));
        CHECK_AT_LEAST(200, depth[JOB_QUEUED]);
        CHECK_AT_MOST(2200, depth[JOB_QUEUED]);
    }
    snprintf(cmd, sizeof cmd, "%s backup --data-dir %s", test_vsr_bin(), dir);
    CHECK_INT(2, test_run(cmd, out, sizeof out)); /* no folder named */

    /* A job finished with a result, then sweeps with a 1.8-second retention. */
    struct job claimed;
    CHECK_INT(1, store_job_claim(store, "test-worker", 60000, &claimed, &error));
    CHECK_INT(VSR_OK, blob_put_file(blob, "results/r.mp4", log, 0, &error));
    struct job_finish finish = {.state = JOB_SUCCEEDED, .output_blob = "results/r.mp4"};
    CHECK_INT(1, store_job_finish(store, claimed.id, "test-worker", &finish, &error));
    snprintf(cmd, sizeof cmd, "%s cleanup --data-dir %s %s --retention-hours 0.0005",
             test_vsr_bin(), dir, backend);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "deleted 0 files") != NULL); /* finished just now */
    usleep(2000 * 1000);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "deleted 1 files") != NULL);
    int64_t size = 0;
    CHECK_INT(0, blob_stat(blob, "results/r.mp4", &size, &error));
    struct job got;
    CHECK_INT(1, store_job_get(store, NULL, claimed.id, &got, &error));
    CHECK(got.purged_at > 0);
    CHECK_INT(JOB_SUCCEEDED, got.state);
done:
    store_close(copy);
    blob_close(blob);
    store_close(store);
}

/* Writes a small file at DIR/NAME, modified AGE_S seconds ago. */
static void make_file(const char *dir, const char *name, int age_s) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("partial", f);
    fclose(f);
    struct timespec times[2];
    clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= age_s;
    times[1] = times[0];
    CHECK_INT(0, utimensat(AT_FDCWD, path, times, 0));
}

static int file_exists(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Issue 23: after kill -9 the encoder's work/.job_*.mp4.* temp files and
 * the folder store's *.part-* files stayed forever, `vsr cleanup` included.
 * Now `vsr cleanup` (even with retention off) and `vsr serve` at start
 * delete them, but never the files of a job a worker holds a live lease on,
 * files written lately (a live upload), or files that are not ours. */
TEST(service_orphan_files) {
    char dir[256], db[1024], blobs[1024], work[512], uploads[1200], log[512], args[1024];
    char cmd[4096], out[4096], backend[2200], name[256];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    test_database_url(dir, db, sizeof db);
    test_storage_url(dir, blobs, sizeof blobs);
    test_backend_args(dir, backend, sizeof backend);
    snprintf(work, sizeof work, "%s/work", dir);
    snprintf(log, sizeof log, "%s/serve.log", dir);
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    if (test_open_backends(db, blobs, &store, &blob) < 0) goto done;
    struct job held = {0}, queued = {0}, claimed;
    snprintf(held.key_id, sizeof held.key_id, "key_orphans");
    snprintf(held.type, sizeof held.type, "remove");
    snprintf(held.input_blob, sizeof held.input_blob, "uploads/none");
    queued = held;
    CHECK_INT(0, store_job_create(store, &held, &error));
    CHECK_INT(1, store_job_claim(store, "live-worker", 600000, &claimed, &error));
    CHECK_STR(held.id, claimed.id);
    CHECK_INT(0, store_job_create(store, &queued, &error));

    CHECK_INT(0, mkdir(work, 0755));
    const int old = 2 * 3600;
    char held_input[128], queued_temp[128], queued_input[128];
    snprintf(held_input, sizeof held_input, "%s.input", held.id);           /* a live lease */
    snprintf(queued_temp, sizeof queued_temp, ".%s.mp4.a1b2c3", queued.id); /* a crash's */
    snprintf(queued_input, sizeof queued_input, "%s.input", queued.id);     /* fresh */
    make_file(work, held_input, old);
    make_file(work, queued_temp, old);
    make_file(work, queued_input, 0);
    make_file(work, "job_0123abcd.mp4", old);  /* no such job */
    make_file(work, "notes.txt", old);         /* not ours */
    make_file(dir, "probe-upl_a-Q1w2E3", old); /* the API's copy on S3 */
    make_file(dir, "probe-upl_b-R4t5Y6", 0);   /* a probe going on */
    int folder = !test_on_s3();
    snprintf(uploads, sizeof uploads, "%s/uploads", blobs);
    if (folder) {
        mkdir(uploads, 0755);
        make_file(uploads, "upl_a.bin.part-AbC123", old); /* a killed PUT */
        make_file(uploads, "upl_b.bin.part-XyZ789", 0);   /* a PUT going on */
        make_file(uploads, "upl_c.bin", old);             /* a finished upload */
        /* Its row: a stored file no row names is an orphan of `vsr cleanup`. */
        struct upload up = {.state = UPLOAD_READY, .created_at = 1, .expires_at = 2};
        snprintf(up.id, sizeof up.id, "upl_c");
        snprintf(up.key_id, sizeof up.key_id, "key_orphans");
        snprintf(up.blob, sizeof up.blob, "uploads/upl_c.bin");
        CHECK_INT(VSR_OK, store_upload_create(store, &up, &error));
    }

    snprintf(cmd, sizeof cmd, "%s cleanup --data-dir %s %s --retention-hours 0", test_vsr_bin(),
             dir, backend);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    snprintf(name, sizeof name, "temp_file: %d files", folder ? 4 : 3);
    CHECK(strstr(out, name) != NULL);
    if (!strstr(out, name)) fprintf(stderr, "  cleanup said: %s\n", out);
    CHECK(file_exists(work, held_input));
    CHECK(!file_exists(work, queued_temp));
    CHECK(file_exists(work, queued_input));
    CHECK(!file_exists(work, "job_0123abcd.mp4"));
    CHECK(file_exists(work, "notes.txt"));
    CHECK(!file_exists(dir, "probe-upl_a-Q1w2E3"));
    CHECK(file_exists(dir, "probe-upl_b-R4t5Y6"));
    if (folder) {
        CHECK(!file_exists(uploads, "upl_a.bin.part-AbC123"));
        CHECK(file_exists(uploads, "upl_b.bin.part-XyZ789"));
        CHECK(file_exists(uploads, "upl_c.bin"));
    }

    /* At start: `vsr serve` sweeps before its first interval. */
    make_file(work, queued_temp, old);
    snprintf(args, sizeof args, "serve --data-dir %s --listen 127.0.0.1:0 --workers 0", dir);
    pid_t serve = start(dir, args, log);
    for (int i = 0; i < 100 && file_exists(work, queued_temp); i++)
        usleep(100 * 1000);
    CHECK(!file_exists(work, queued_temp));
    CHECK_INT(0, stop(serve));
    CHECK(log_contains(log, "\"orphans_deleted\":1"));
    CHECK(file_exists(work, held_input));
done:
    blob_close(blob);
    store_close(store);
}

/* `vsr serve`'s log: one JSON line per request and per job event, the job's
 * lines carrying the id of the request that created it (here the client's
 * own X-Request-Id). */
TEST(service_request_logs) {
    char dir[256], video[512], log[512], args[1024], cmd[4096], out[4096], backend[2200];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    snprintf(video, sizeof video, "%s/in.mp4", dir);
    snprintf(log, sizeof log, "%s/serve.log", dir);
    test_backend_args(dir, backend, sizeof backend);
    CHECK_INT(0, test_make_video(video, "160x120", 1));
    snprintf(cmd, sizeof cmd, "%s keys create --name logs --data-dir %s %s", test_vsr_bin(), dir,
             backend);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    char *token = strstr(out, "token: ");
    if (!token) return;
    token += 7;
    token[strcspn(token, "\n")] = '\0';
    snprintf(args, sizeof args, "serve --data-dir %s --listen 127.0.0.1:0 --workers 1 --poll-ms 50",
             dir);
    pid_t serve = start(dir, args, log);
    int port = 0;
    for (int i = 0; i < 100 && !port; i++) {
        usleep(100 * 1000);
        FILE *f = fopen(log, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f))
            if (strstr(line, "serve.started")) sscanf(strstr(line, "\"port\":") + 7, "%d", &port);
        if (f) fclose(f);
    }
    CHECK(port > 0);
    snprintf(
        cmd, sizeof cmd,
        "curl -s -H 'Authorization: Bearer %s' -H 'X-Request-Id: client-req-42'"
        " -F 'file=@%s' -F 'options={\"preset\":\"ultrafast\"}' http://127.0.0.1:%d/api/v1/jobs",
        token, video, port);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "\"status\":\"queued\"") != NULL);
    int done = 0;
    for (int i = 0; i < 300 && !done; i++) {
        usleep(100 * 1000);
        done = log_contains(log, "\"event\":\"job.succeeded\"");
    }
    CHECK_INT(0, stop(serve));
    CHECK(log_contains(log, "\"event\":\"request\",\"request_id\":\"client-req-42\""));
    CHECK(log_contains(log, "\"route\":\"/api/v1/jobs\",\"status\":202"));
    /* Each job event line names the request. */
    FILE *f = fopen(log, "r");
    char line[2048];
    int job_lines = 0, with_id = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "\"event\":\"job.")) {
            job_lines++;
            with_id += strstr(line, "\"request_id\":\"client-req-42\"") != NULL;
        }
    if (f) fclose(f);
    CHECK(job_lines >= 2); /* started, succeeded */
    CHECK_INT(job_lines, with_id);
}

/* Settings come from VSR_* variables; VSR_DB and VSR_STORAGE name the
 * database and the file store as well as their long names do. */
TEST(service_config_env_names) {
    struct service_config config;
    struct vsr_error error = {0, ""};
    config_init(&config);
    char *env[] = {"VSR_DB=postgres://vsr@db:5432/vsr", "VSR_STORAGE=s3://bucket?region=x",
                   "HOME=/root", NULL};
    CHECK_INT(VSR_OK, config_apply_env(&config, env, &error));
    CHECK_STR("postgres://vsr@db:5432/vsr", config.database_url);
    CHECK_STR("s3://bucket?region=x", config.storage_url);
    char *longer[] = {"VSR_DATABASE_URL=sqlite:/tmp/a.db", NULL};
    CHECK_INT(VSR_OK, config_apply_env(&config, longer, &error));
    CHECK_STR("sqlite:/tmp/a.db", config.database_url);
    char *bad[] = {"VSR_WORKERS=many", NULL};
    CHECK(config_apply_env(&config, bad, &error) < 0);
    CHECK(strstr(error.message, "VSR_WORKERS") != NULL);
}
