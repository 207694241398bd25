/* cleanup.h: `vsr cleanup --dry-run` and `--execute`, and the cleanup of the
 * daily maintenance run: what may be deleted, by kind, with its size.
 *
 *   expired_result  a result of a job finished before the retention
 *   expired_input   an upload whose every job finished before it
 *   unused_upload   an upload no job used, its URL long expired
 *   orphan_file     a stored file no row names (folder or bucket), untouched
 *                   for the orphan age and not a job's under a live lease
 *   missing_file    a row whose file is gone (a ready upload, a succeeded
 *                   job's result): the row is marked purged, as retention
 *                   does, so it answers 410 instead of failing
 *   temp_file       a crashed process's temporary (orphans.h)
 *
 * cleanup_execute deletes the items of a plan that still qualify when it
 * runs (it looks again), so it deletes exactly what the dry run listed, less
 * what became live meanwhile; running it twice deletes nothing more. Rows
 * are never deleted, only marked purged.
 * Thread-safety: any thread; plans are the caller's. */
#ifndef VSR_SERVICE_CLEANUP_H
#define VSR_SERVICE_CLEANUP_H

#include <stdio.h>

#include <jansson.h>

#include "blob/blob.h"
#include "jobs/store.h"
#include "service/config.h"

enum cleanup_kind {
    CLEANUP_EXPIRED_RESULT,
    CLEANUP_EXPIRED_INPUT,
    CLEANUP_UNUSED_UPLOAD,
    CLEANUP_ORPHAN_FILE,
    CLEANUP_MISSING_FILE,
    CLEANUP_TEMP_FILE,
    CLEANUP_KIND_COUNT
};

const char *cleanup_kind_name(enum cleanup_kind kind);

struct cleanup_item {
    enum cleanup_kind kind;
    char name[1200]; /* the blob key, or the temp file's name (orphans.h) */
    int64_t bytes;
    struct expired_file row; /* the row marked purged, for the row kinds */
};

struct cleanup_plan {
    struct cleanup_item *items;
    int count, capacity;
    int64_t counts[CLEANUP_KIND_COUNT], bytes[CLEANUP_KIND_COUNT];
};

/* Stored files younger than this are never orphans: an upload sent in a
 * multipart job request is in storage before its row, for as long as its
 * probe takes. */
#define CLEANUP_ORPHAN_AGE_MS (15 * 60 * 1000LL)

struct cleanup_options {
    int64_t now;           /* ms since the epoch */
    int64_t retention_ms;  /* 0: no expired kinds */
    int64_t orphan_age_ms; /* CLEANUP_ORPHAN_AGE_MS unless a test or operator says */
};

/* Fills PLAN (zeroed first) with what may be deleted now. */
int cleanup_plan_make(const struct service_config *config, struct store *store, struct blob *blob,
                      const struct cleanup_options *options, struct cleanup_plan *plan,
                      struct vsr_error *error);

/* Deletes PLAN's items that still qualify; DONE (zeroed first) gets those
 * deleted. */
int cleanup_execute(const struct service_config *config, struct store *store, struct blob *blob,
                    const struct cleanup_options *options, const struct cleanup_plan *plan,
                    struct cleanup_plan *done, struct vsr_error *error);

void cleanup_plan_free(struct cleanup_plan *plan);

/* One line per item ("KIND NAME BYTES"), then one per kind ("KIND: N files,
 * B bytes"). */
void cleanup_plan_print(const struct cleanup_plan *plan, FILE *out);

/* {"KIND": {"count": N, "bytes": B}, ...} */
json_t *cleanup_plan_json(const struct cleanup_plan *plan);

#endif
