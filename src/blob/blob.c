/* blob.c: the backend-independent half of the file store: picking a backend
 * from a URL, key validation, and whole-blob reads on top of the reader. */
#include "blob/blob.h"

#include <stdio.h>
#include <string.h>

int blob_key_valid(const char *key) {
    size_t len = strlen(key);
    if (len == 0 || len > 200 || key[0] == '/' || key[len - 1] == '/' || strstr(key, ".."))
        return 0;
    for (const char *c = key; *c; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' ||
                 *c == '.' || *c == '/';
        if (!ok) return 0;
    }
    return 1;
}

int blob_open(struct blob **out, const char *url, struct vsr_error *error) {
    *out = NULL;
    if (strncmp(url, "s3://", 5) == 0) return blob_s3_open(out, url, error);
    if (strncmp(url, "file://", 7) == 0) return blob_fs_open(out, url + 7, error);
    if (strncmp(url, "file:", 5) == 0) return blob_fs_open(out, url + 5, error);
    if (strstr(url, "://")) {
        error->code = VSR_E_USAGE;
        snprintf(error->message, sizeof error->message,
                 "storage URL %s: unsupported scheme; use file:DIR, a folder or "
                 "s3://BUCKET?endpoint=...",
                 url);
        return VSR_E_USAGE;
    }
    return blob_fs_open(out, url, error);
}

void blob_close(struct blob *blob) {
    if (blob) blob->ops->close(blob);
}

static int bad_key(const char *key, struct vsr_error *error) {
    error->code = VSR_E_USAGE;
    snprintf(error->message, sizeof error->message, "invalid blob key \"%s\"", key);
    return VSR_E_USAGE;
}

int blob_writer_open(struct blob *blob, const char *key, struct blob_writer **out,
                     struct vsr_error *error) {
    *out = NULL;
    if (!blob_key_valid(key)) return bad_key(key, error);
    return blob->ops->writer_open(blob, key, out, error);
}

int blob_writer_write(struct blob_writer *writer, const void *data, size_t size,
                      struct vsr_error *error) {
    return writer->blob->ops->writer_write(writer, data, size, error);
}

int blob_writer_commit(struct blob_writer *writer, struct vsr_error *error) {
    return writer->blob->ops->writer_commit(writer, error);
}

void blob_writer_abort(struct blob_writer *writer) {
    if (writer) writer->blob->ops->writer_abort(writer);
}

int blob_put_file(struct blob *blob, const char *key, const char *path, int move,
                  struct vsr_error *error) {
    if (!blob_key_valid(key)) return bad_key(key, error);
    return blob->ops->put_file(blob, key, path, move, NULL, error);
}

int blob_put_file_typed(struct blob *blob, const char *key, const char *path, int move,
                        const char *content_type, struct vsr_error *error) {
    if (!blob_key_valid(key)) return bad_key(key, error);
    return blob->ops->put_file(blob, key, path, move, content_type, error);
}

int blob_reader_open(struct blob *blob, const char *key, struct blob_reader **out,
                     struct vsr_error *error) {
    *out = NULL;
    if (!blob_key_valid(key)) return bad_key(key, error);
    return blob->ops->reader_open(blob, key, out, error);
}

int64_t blob_reader_size(const struct blob_reader *reader) {
    return reader->blob->ops->reader_size(reader);
}

int64_t blob_reader_read_at(struct blob_reader *reader, int64_t offset, void *buf, size_t size,
                            struct vsr_error *error) {
    return reader->blob->ops->reader_read_at(reader, offset, buf, size, error);
}

void blob_reader_close(struct blob_reader *reader) {
    if (reader) reader->blob->ops->reader_close(reader);
}

int blob_get(struct blob *blob, const char *key, blob_sink_fn sink, void *opaque,
             struct vsr_error *error) {
    struct blob_reader *reader = NULL;
    int rc = blob_reader_open(blob, key, &reader, error);
    if (rc != VSR_OK) return rc;
    char buf[65536];
    int64_t offset = 0;
    for (;;) {
        int64_t got = blob_reader_read_at(reader, offset, buf, sizeof buf, error);
        if (got < 0) {
            rc = (int)got;
            break;
        }
        if (got == 0) break;
        if (sink(opaque, buf, (size_t)got) != 0) {
            error->code = rc = VSR_E_OUTPUT;
            snprintf(error->message, sizeof error->message, "blob %s: the receiver stopped", key);
            break;
        }
        offset += got;
    }
    blob_reader_close(reader);
    return rc;
}

int blob_remove(struct blob *blob, const char *key, struct vsr_error *error) {
    if (!blob_key_valid(key)) return bad_key(key, error);
    return blob->ops->remove(blob, key, error);
}

int blob_stat(struct blob *blob, const char *key, int64_t *size, struct vsr_error *error) {
    if (!blob_key_valid(key)) return bad_key(key, error);
    return blob->ops->stat(blob, key, size, error);
}

int blob_local_path(struct blob *blob, const char *key, char *path, size_t path_size) {
    if (!blob_key_valid(key)) return 0;
    return blob->ops->local_path(blob, key, path, path_size);
}

int blob_presign(struct blob *blob, const char *key, const char *method, int expires_seconds,
                 int64_t content_length, char *url, size_t url_size, struct vsr_error *error) {
    if (!blob_key_valid(key)) return bad_key(key, error);
    return blob->ops->presign(blob, key, method, expires_seconds, content_length, NULL, NULL, url,
                              url_size, error);
}

int blob_presign_download(struct blob *blob, const char *key, int expires_seconds,
                          const char *content_type, const char *file_name, char *url,
                          size_t url_size, struct vsr_error *error) {
    if (!blob_key_valid(key)) return bad_key(key, error);
    return blob->ops->presign(blob, key, "GET", expires_seconds, -1, content_type, file_name, url,
                              url_size, error);
}

int blob_check(struct blob *blob, struct vsr_error *error) {
    return blob->ops->check(blob, error);
}

int blob_remove_abandoned(struct blob *blob, int64_t before_ms, int *removed,
                          struct vsr_error *error) {
    *removed = 0;
    if (!blob->ops->remove_abandoned) return VSR_OK;
    return blob->ops->remove_abandoned(blob, before_ms, 0, NULL, NULL, removed, error);
}

int blob_find_abandoned(struct blob *blob, int64_t before_ms, int dry_run, blob_list_fn fn,
                        void *opaque, int *count, struct vsr_error *error) {
    *count = 0;
    if (!blob->ops->remove_abandoned) return VSR_OK;
    return blob->ops->remove_abandoned(blob, before_ms, dry_run, fn, opaque, count, error);
}

int blob_list(struct blob *blob, blob_list_fn fn, void *opaque, struct vsr_error *error) {
    return blob->ops->list(blob, fn, opaque, error);
}
