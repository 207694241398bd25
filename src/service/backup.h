/* backup.h: `vsr backup DIR`, `vsr restore DIR` and `vsr restore --verify
 * DIR`: a consistent copy of the job store taken while the service runs,
 * optionally with every file of the file store, and a manifest that says
 * what it holds.
 *
 *   DIR/database.sqlite or DIR/database.pgdump   store_backup's copy
 *   DIR/files/KEY                                 each blob (--with-files)
 *   DIR/manifest.json                             written last: a backup
 *       without one is incomplete; the vsr version, the backend, the schema
 *       version, the counts of jobs, keys and uploads, and the SHA-256 and
 *       size of every file above.
 *
 * The database is copied first and the files after, so every file the
 * copy's rows name is there unless retention deleted it meanwhile (a
 * restored row whose file is gone is what `vsr cleanup` reports).
 * Thread-safety: none needed; these run in the CLI's one thread. */
#ifndef VSR_SERVICE_BACKUP_H
#define VSR_SERVICE_BACKUP_H

#include "blob/blob.h"
#include "jobs/store.h"

struct backup_summary {
    struct store_counts counts;
    int64_t files, file_bytes;
};

/* Writes the backup of STORE (and of BLOB's files when WITH_FILES) into the
 * folder DIR, made if missing; refuses a DIR that already holds a backup.
 * VERSION is the vsr version, for the manifest. */
int backup_create(struct store *store, struct blob *blob, const char *dir, int with_files,
                  const char *version, struct backup_summary *summary, struct vsr_error *error);

/* Checks the backup in DIR without applying it: every checksum and size,
 * the database copy opened (SQLite, in a scratch copy under SCRATCH_DIR) or
 * read (pg_restore), and its counts against the manifest's. */
int backup_verify(const char *dir, const char *scratch_dir, struct backup_summary *summary,
                  struct vsr_error *error);

/* Verifies DIR, then restores it into the database at DATABASE_URL and, when
 * it holds files, into BLOB: both must be empty unless FORCE. The store is
 * opened again afterwards, which migrates a backup of an older schema, and
 * the restored counts must match the manifest's. */
int backup_restore(const char *dir, const char *database_url, const char *scratch_dir,
                   struct blob *blob, int force, struct backup_summary *summary,
                   struct vsr_error *error);

#endif
