/* blob.h: the file store for uploads and results, as an interface (struct
 * blob_ops) with one backend per kind of storage; blob_open picks it from a
 * URL ("file:DIR" or a plain folder, or "s3://BUCKET..." for S3-compatible
 * object storage).
 *
 * Keys are relative names such as "uploads/upl_1f2e.bin": lower-case letters,
 * digits, '_', '-', '.' and '/', never "..". A blob appears only when it is
 * complete: writers fill a temporary object and publish it at commit.
 *
 * Return values: VSR_OK or a negative vsr_status (VSR_E_INPUT: no such blob,
 * VSR_E_OUTPUT: storage failed) with a message in struct vsr_error.
 * Thread-safety: all functions may be called from any thread at once, on
 * different writers and readers; one writer or reader is used by one thread
 * at a time. */
#ifndef VSR_BLOB_H
#define VSR_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "vsr.h"

struct blob;
struct blob_writer;
struct blob_reader;

/* Receives bytes of a blob in order; returns 0 to go on, non-zero to stop. */
typedef int (*blob_sink_fn)(void *opaque, const void *data, size_t size);

/* Receives one listed blob: its key, size and last change (ms since the
 * epoch); returns 0 to go on, non-zero to stop. */
typedef int (*blob_list_fn)(void *opaque, const char *key, int64_t size, int64_t modified_ms);

struct blob_ops {
    void (*close)(struct blob *blob);
    int (*writer_open)(struct blob *blob, const char *key, struct blob_writer **out,
                       struct vsr_error *error);
    int (*writer_write)(struct blob_writer *writer, const void *data, size_t size,
                        struct vsr_error *error);
    int (*writer_commit)(struct blob_writer *writer, struct vsr_error *error);
    void (*writer_abort)(struct blob_writer *writer);
    int (*put_file)(struct blob *blob, const char *key, const char *path, int move,
                    const char *content_type, struct vsr_error *error);
    int (*reader_open)(struct blob *blob, const char *key, struct blob_reader **out,
                       struct vsr_error *error);
    int64_t (*reader_size)(const struct blob_reader *reader);
    int64_t (*reader_read_at)(struct blob_reader *reader, int64_t offset, void *buf, size_t size,
                              struct vsr_error *error);
    void (*reader_close)(struct blob_reader *reader);
    int (*remove)(struct blob *blob, const char *key, struct vsr_error *error);
    int (*stat)(struct blob *blob, const char *key, int64_t *size, struct vsr_error *error);
    int (*local_path)(struct blob *blob, const char *key, char *path, size_t path_size);
    int (*presign)(struct blob *blob, const char *key, const char *method, int expires_seconds,
                   int64_t content_length, const char *content_type, const char *file_name,
                   char *url, size_t url_size, struct vsr_error *error);
    int (*check)(struct blob *blob, struct vsr_error *error);
    /* NULL when the backend leaves nothing behind (see blob_remove_abandoned);
     * FN (may be NULL) hears of each, and DRY_RUN deletes none. */
    int (*remove_abandoned)(struct blob *blob, int64_t before_ms, int dry_run, blob_list_fn fn,
                            void *opaque, int *removed, struct vsr_error *error);
    int (*list)(struct blob *blob, blob_list_fn fn, void *opaque, struct vsr_error *error);
};

struct blob {
    const struct blob_ops *ops;
};

/* Backends embed these first in their own writer and reader structs. */
struct blob_writer {
    struct blob *blob;
};

struct blob_reader {
    struct blob *blob;
};

/* Opens the store at URL: "file:DIR", "file://DIR" or a plain folder (made if
 * missing), or "s3://..." (see blob_s3_open). VSR_E_USAGE for an unknown
 * scheme. */
int blob_open(struct blob **out, const char *url, struct vsr_error *error);
int blob_fs_open(struct blob **out, const char *dir, struct vsr_error *error);
/* "s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION" (endpoint default: AWS's
 * for the region; region default us-east-1); keys from AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY. Opening sends nothing: blob_check tries the bucket. */
int blob_s3_open(struct blob **out, const char *url, struct vsr_error *error);
void blob_close(struct blob *blob); /* NULL is a no-op */

/* 1 when KEY is a valid key (see above), 0 otherwise. */
int blob_key_valid(const char *key);

/* Streaming write: open, write any number of times, then commit (the blob
 * appears) or abort (nothing appears). Both commit and abort free WRITER. */
int blob_writer_open(struct blob *blob, const char *key, struct blob_writer **out,
                     struct vsr_error *error);
int blob_writer_write(struct blob_writer *writer, const void *data, size_t size,
                      struct vsr_error *error);
int blob_writer_commit(struct blob_writer *writer, struct vsr_error *error);
void blob_writer_abort(struct blob_writer *writer); /* NULL is a no-op */

/* Stores the file at PATH as KEY; MOVE lets the backend take the file (a
 * rename when both are on one file system) instead of copying it. */
int blob_put_file(struct blob *blob, const char *key, const char *path, int move,
                  struct vsr_error *error);
/* The same, stored with CONTENT_TYPE ("video/mp4"), which object stores
 * answer GETs with (a folder keeps no type). */
int blob_put_file_typed(struct blob *blob, const char *key, const char *path, int move,
                        const char *content_type, struct vsr_error *error);

/* Streams the whole of KEY to SINK. */
int blob_get(struct blob *blob, const char *key, blob_sink_fn sink, void *opaque,
             struct vsr_error *error);

/* Random access, for HTTP Range requests. read_at returns the bytes read (0 at
 * the end) or a negative vsr_status. */
int blob_reader_open(struct blob *blob, const char *key, struct blob_reader **out,
                     struct vsr_error *error);
int64_t blob_reader_size(const struct blob_reader *reader);
int64_t blob_reader_read_at(struct blob_reader *reader, int64_t offset, void *buf, size_t size,
                            struct vsr_error *error);
void blob_reader_close(struct blob_reader *reader); /* NULL is a no-op */

/* Deletes KEY; deleting a missing blob is not an error. */
int blob_remove(struct blob *blob, const char *key, struct vsr_error *error);

/* 1 and *size when KEY exists, 0 when not. */
int blob_stat(struct blob *blob, const char *key, int64_t *size, struct vsr_error *error);

/* 1 and a path when the backend keeps KEY as a local file that may be read
 * directly (the file-system backend); 0 when the caller must copy it. */
int blob_local_path(struct blob *blob, const char *key, char *path, size_t path_size);

/* 1 and a URL that lets a client METHOD ("GET", "PUT") KEY directly for
 * EXPIRES_SECONDS (object stores); 0 when the backend has no such URL and
 * the service must carry the bytes itself (the file-system backend).
 * CONTENT_LENGTH >= 0 signs a Content-Length header into the URL, so that
 * the store refuses a PUT of any other length; -1 signs none. */
int blob_presign(struct blob *blob, const char *key, const char *method, int expires_seconds,
                 int64_t content_length, char *url, size_t url_size, struct vsr_error *error);
/* A presigned GET whose answer carries CONTENT_TYPE and
 * "Content-Disposition: attachment; filename=FILE_NAME" whatever the object
 * was stored with, so that a browser saves it under that name. */
int blob_presign_download(struct blob *blob, const char *key, int expires_seconds,
                          const char *content_type, const char *file_name, char *url,
                          size_t url_size, struct vsr_error *error);

/* VSR_OK when the store can be written (readiness checks). */
int blob_check(struct blob *blob, struct vsr_error *error);

/* Deletes the temporary objects of writers that died before commit or abort
 * (a crash, kill -9): those last written before BEFORE_MS (ms since the
 * epoch). A live writer writes as its bytes arrive, so a cutoff longer than
 * any pause of a live writer never takes its file. *REMOVED counts them. */
int blob_remove_abandoned(struct blob *blob, int64_t before_ms, int *removed,
                          struct vsr_error *error);

/* The same temporaries, reported to FN (key: their path in the store; FN
 * returning non-zero keeps that one) and deleted only when not DRY_RUN:
 * what `vsr cleanup --dry-run` lists. */
int blob_find_abandoned(struct blob *blob, int64_t before_ms, int dry_run, blob_list_fn fn,
                        void *opaque, int *count, struct vsr_error *error);

/* Calls FN for every complete blob of the store (never a writer's
 * temporary), in no particular order: the folder's files, or the bucket's
 * objects under the prefix (ListObjectsV2, page by page). For backups and
 * the orphan files of `vsr cleanup`. */
int blob_list(struct blob *blob, blob_list_fn fn, void *opaque, struct vsr_error *error);

#endif
