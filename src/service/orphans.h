/* orphans.h: files that a crashed process (kill -9, power loss) left behind
 * and nothing else would ever delete:
 *
 *   DATA_DIR/work/job_ID.input, .subtitles, .mp4 ... a job's local copies
 *   DATA_DIR/work/.job_ID.mp4.XXXXXX                   the encoder's temp file
 *   the file store's temporaries (blob_remove_abandoned: "*.part-XXXXXX")
 *   DATA_DIR/probe-NAME-XXXXXX                         the API's probe copies
 *
 * A work file is removed only when the job it is named after holds no live
 * lease (it is not processing, or its lease ran out, or there is no such
 * job) and the file has not changed for ORPHAN_WORK_AGE_MS; a temporary of
 * the file store or a probe copy when it has not changed for
 * ORPHAN_PART_AGE_MS. Both are
 * safe while workers and uploads run, on this host or others sharing the
 * folders. `vsr serve` and `vsr worker` sweep at start and with every
 * retention sweep; `vsr cleanup` sweeps once.
 *
 * Thread-safety: orphans_sweep may be called from any thread. */
#ifndef VSR_SERVICE_ORPHANS_H
#define VSR_SERVICE_ORPHANS_H

#include <stdint.h>

#include "blob/blob.h"
#include "jobs/store.h"
#include "service/config.h"

/* Longer than the moment between a claim and the first write of its files,
 * and than a live writer's pauses between writes (a finished input copy is
 * covered by its job's lease, not by its age). */
#define ORPHAN_WORK_AGE_MS (60 * 1000LL)
/* An upload's PUT writes as its bytes arrive, and the HTTP server closes a
 * connection idle for 2 minutes: a quarter of an hour untouched is dead. */
#define ORPHAN_PART_AGE_MS (15 * 60 * 1000LL)

/* One sweep as of NOW (ms since the epoch) over CONFIG's work folder and
 * BLOB's temporaries; *REMOVED counts the files deleted. */
int orphans_sweep(const struct service_config *config, struct store *store, struct blob *blob,
                  int64_t now, int *removed, struct vsr_error *error);

/* The same files reported to FN (their names: "work/NAME", "probe-NAME",
 * "storage:KEY"; modified_ms 0; FN returning non-zero keeps that one),
 * deleted only when not DRY_RUN; *COUNT counts those not kept. For `vsr cleanup --dry-run` and
 * `--execute`. */
int orphans_find(const struct service_config *config, struct store *store, struct blob *blob,
                 int64_t now, int dry_run, blob_list_fn fn, void *opaque, int *count,
                 struct vsr_error *error);

#endif
