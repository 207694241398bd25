/* metrics.h: counters and histograms of one service process, rendered in the
 * Prometheus text format (exposition format 0.0.4) and as JSON. Queue depth
 * and job statistics shared by all processes come from the store at render
 * time; this file holds what only this process sees (requests, its workers).
 *
 * Thread-safety: every function may be called from any thread; the lock is
 * held only while numbers are copied, never during I/O. */
#ifndef VSR_SERVICE_METRICS_H
#define VSR_SERVICE_METRICS_H

#include <stdint.h>

#include "jobs/store.h"

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *metrics); /* NULL is a no-op */

/* One answered request: ROUTE is a template ("/api/v1/jobs/{id}"), a static
 * string. */
void metrics_record_request(struct metrics *metrics, const char *route, const char *method,
                            int status, double seconds);

/* One job that ended in STATE after SECONDS of processing. */
void metrics_record_job(struct metrics *metrics, enum job_state state, double seconds);

/* One webhook attempt: DELIVERED when the receiver took it; GIVEN_UP when
 * it failed for good. */
void metrics_record_webhook(struct metrics *metrics, int delivered, int given_up);

/* Workers of this process: how many there are and how many run a job. */
void metrics_set_workers(struct metrics *metrics, int total);
void metrics_worker_busy(struct metrics *metrics, int delta);

/* The Prometheus text; the caller frees it. STORE may be NULL. DISK_PATH
 * (may be NULL) is the folder whose file system's free and total bytes are
 * reported (vsr_disk_free_bytes, vsr_disk_size_bytes): the alert on disk
 * usage reads them. */
char *metrics_render_prometheus(struct metrics *metrics, struct store *store,
                                const char *disk_path);

/* The JSON summary for /metrics/json; the caller frees it. */
char *metrics_render_json(struct metrics *metrics, struct store *store);

#endif
