/* test_service.c: the job service's commands as processes: `vsr keys`,
 * `vsr serve` and `vsr worker` started from the built binary against one
 * data folder, stopped with SIGTERM (they must drain and exit 0). */
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
static pid_t start(const char *args, const char *log) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "exec %s %s 2>'%s'", test_vsr_bin(), args, log);
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
    const char *dir = test_tmpdir();
    char cmd[1024], out[4096];
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
    char db[512], blobs[512];
    snprintf(db, sizeof db, "%s/vsr.db", dir);
    snprintf(blobs, sizeof blobs, "%s/blobs", dir);
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
    pid_t serve = start(args, log_serve);
    snprintf(args, sizeof args, "worker --data-dir %s --workers 1 --poll-ms 50", dir);
    pid_t worker = start(args, log_worker);
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
