/* queue_tool.c: the driver of bench/scaleout.sh. Puts INPUT in the file
 * store, enqueues COUNT jobs of TYPE with OPTIONS as fast as it can, then
 * waits until workers (started by the script) have finished them all, and
 * prints one JSON line: enqueue and total seconds, jobs per second, states.
 *   queue-tool DATABASE_URL STORAGE_URL COUNT TYPE OPTIONS_JSON INPUT */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "blob/blob.h"
#include "jobs/store.h"

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: queue-tool DATABASE_URL STORAGE_URL COUNT TYPE OPTIONS INPUT\n");
        return 2;
    }
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    int count = atoi(argv[3]), rc = 1;
    if (store_open(&store, argv[1], NULL, &error) != VSR_OK ||
        blob_open(&blob, argv[2], &error) != VSR_OK ||
        blob_put_file(blob, "uploads/bench-input", argv[6], 0, &error) != VSR_OK) {
        fprintf(stderr, "queue-tool: %s\n", error.message);
        goto done;
    }
    double t0 = now_seconds();
    for (int i = 0; i < count; i++) {
        struct job job = {0};
        snprintf(job.key_id, sizeof job.key_id, "key_bench");
        snprintf(job.type, sizeof job.type, "%s", argv[4]);
        snprintf(job.input_blob, sizeof job.input_blob, "uploads/bench-input");
        snprintf(job.options, sizeof job.options, "%s", argv[5]);
        if (store_job_create(store, &job, &error) < 0) {
            fprintf(stderr, "queue-tool: %s\n", error.message);
            goto done;
        }
    }
    double t1 = now_seconds();
    int64_t depth[JOB_STATE_COUNT] = {0};
    for (;;) {
        if (store_queue_depth(store, depth, &error) != VSR_OK) {
            fprintf(stderr, "queue-tool: %s\n", error.message);
            goto done;
        }
        if (depth[JOB_SUCCEEDED] + depth[JOB_FAILED] + depth[JOB_CANCELED] >= count) break;
        usleep(5000);
    }
    double t2 = now_seconds();
    printf("{\"jobs\":%d,\"enqueue_seconds\":%.3f,\"total_seconds\":%.3f,"
           "\"jobs_per_second\":%.1f,\"enqueued_per_second\":%.1f,\"succeeded\":%lld,"
           "\"failed\":%lld}\n",
           count, t1 - t0, t2 - t0, count / (t2 - t0), count / (t1 - t0),
           (long long)depth[JOB_SUCCEEDED], (long long)depth[JOB_FAILED]);
    rc = depth[JOB_SUCCEEDED] == count ? 0 : 1;
done:
    blob_close(blob);
    store_close(store);
    return rc;
}
