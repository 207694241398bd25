/* retention.h: storage cleanup. With VSR_RETENTION_HOURS = H (> 0), the files
 * of jobs that finished more than H hours ago (their results, and their
 * uploads once no newer or unfinished job uses them) are deleted from the file
 * store, and so are uploads that no job used, once their upload URL has been
 * expired for RETENTION_UNUSED_GRACE_MS. The rows stay: a purged job still
 * answers GET /api/v1/jobs/{id}, and its result answers 410 Gone.
 *
 * The sweep runs in a thread of `vsr serve` and of `vsr worker` every
 * VSR_CLEANUP_INTERVAL_SECONDS, and once from `vsr cleanup`; each pass also
 * deletes the temporary files of crashed processes (orphans.h). Several sweeps at
 * once are harmless: deleting a deleted file is not an error.
 *
 * Thread-safety: retention_sweep may be called from any thread; start and
 * stop the thread from one thread. */
#ifndef VSR_SERVICE_RETENTION_H
#define VSR_SERVICE_RETENTION_H

#include <stdint.h>

#include "blob/blob.h"
#include "jobs/store.h"
#include "service/config.h"

/* An unused upload is deleted this long after its URL expired, and the API
 * refuses new jobs on an upload whose URL expired more than half as long
 * ago, so a job is never created on a file the sweep is deleting. */
#define RETENTION_UNUSED_GRACE_MS (10 * 60 * 1000LL)

/* One sweep as of NOW (ms since the epoch) with RETENTION_MS: deletes what
 * expired and marks it purged. *DELETED counts the files removed. */
int retention_sweep(struct store *store, struct blob *blob, int64_t retention_ms, int64_t now,
                    int *deleted, struct vsr_error *error);

struct retention_thread;

/* Starts the periodic sweep, whose first pass runs at once. With
 * config->retention_hours 0 it deletes only what crashed processes left
 * behind (orphans.h). The arguments are borrowed and must outlive it. */
int retention_start(struct retention_thread **out, const struct service_config *config,
                    struct store *store, struct blob *blob, struct vsr_error *error);

/* Stops and frees the thread; NULL is a no-op. */
void retention_stop(struct retention_thread *thread);

#endif
