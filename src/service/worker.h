/* worker.h: a pool of job workers: threads that claim jobs from the store
 * under a lease, run them through the job-type registry, and report the
 * result. One supervisor thread heartbeats every running job (extending its
 * lease, saving its progress) and raises a job's cancel flag when a DELETE
 * asked for it or when the lease was lost, so a canceled job stops within
 * about a second whatever the job type.
 *
 * Used by `vsr serve` (threads beside the HTTP server) and `vsr worker` (a
 * process of its own). Thread-safety: start, drain and free from one thread;
 * the store, blob store and metrics are borrowed and must outlive the pool. */
#ifndef VSR_SERVICE_WORKER_H
#define VSR_SERVICE_WORKER_H

#include "blob/blob.h"
#include "jobs/store.h"
#include "service/config.h"
#include "service/metrics.h"

struct worker_pool;

/* Starts config->workers worker threads and the supervisor. METRICS may be
 * NULL. */
int worker_pool_start(struct worker_pool **out, const struct service_config *config,
                      struct store *store, struct blob *blob, struct metrics *metrics,
                      struct vsr_error *error);

/* Graceful stop: claims no more jobs, waits up to DEADLINE_MS for running
 * ones to finish, then cancels the rest and gives them back to the queue
 * (without using up an attempt), and joins every thread. Returns how many
 * jobs were given back. */
int worker_pool_drain(struct worker_pool *pool, int64_t deadline_ms);

/* Drains with no wait (if not drained yet) and frees. NULL is a no-op. */
void worker_pool_free(struct worker_pool *pool);

/* Jobs running now. */
int worker_pool_busy(struct worker_pool *pool);

#endif
