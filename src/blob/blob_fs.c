/* blob_fs.c: the file store in a local folder (see blob.h). A blob is the
 * file DIR/KEY; writers fill a temporary file beside it (same folder, so the
 * rename that publishes it is atomic) and fsync before the rename, so that a
 * crash leaves either the whole blob or none. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob.h"

struct fs_blob {
    struct blob base;
    char root[PATH_MAX];
};

struct fs_writer {
    struct blob_writer base;
    int fd;
    char temp[PATH_MAX + 32];
    char final[PATH_MAX + 256];
};

struct fs_reader {
    struct blob_reader base;
    int fd;
    int64_t size;
};

static int fail_errno(struct vsr_error *error, int code, const char *what, const char *path) {
    error->code = code;
    snprintf(error->message, sizeof error->message, "storage: %s %.300s: %s", what, path,
             strerror(errno));
    return code;
}

static void full_path(const struct fs_blob *fs, const char *key, char *out, size_t size) {
    snprintf(out, size, "%s/%s", fs->root, key);
}

/* mkdir -p of PATH's parent folders. */
static int make_parents(const char *path) {
    char buf[PATH_MAX + 256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return 0;
}

static void fs_close(struct blob *blob) {
    free(blob);
}

static int open_temp(const char *final, char *temp, size_t temp_size, struct vsr_error *error) {
    if (make_parents(final) != 0)
        return fail_errno(error, VSR_E_OUTPUT, "creating folders for", final);
    int n = snprintf(temp, temp_size, "%s.part-XXXXXX", final);
    if (n < 0 || (size_t)n >= temp_size) {
        errno = ENAMETOOLONG;
        return fail_errno(error, VSR_E_OUTPUT, "creating a temporary file for", final);
    }
    int fd = mkstemp(temp);
    if (fd < 0) return fail_errno(error, VSR_E_OUTPUT, "creating", temp);
    return fd;
}

static int fs_writer_open(struct blob *blob, const char *key, struct blob_writer **out,
                          struct vsr_error *error) {
    struct fs_blob *fs = (struct fs_blob *)blob;
    struct fs_writer *w = calloc(1, sizeof *w);
    if (!w) {
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    w->base.blob = blob;
    full_path(fs, key, w->final, sizeof w->final);
    w->fd = open_temp(w->final, w->temp, sizeof w->temp, error);
    if (w->fd < 0) {
        int rc = w->fd;
        free(w);
        return rc;
    }
    *out = &w->base;
    return VSR_OK;
}

static int write_all(int fd, const void *data, size_t size) {
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

static int fs_writer_write(struct blob_writer *writer, const void *data, size_t size,
                           struct vsr_error *error) {
    struct fs_writer *w = (struct fs_writer *)writer;
    if (write_all(w->fd, data, size) != 0)
        return fail_errno(error, VSR_E_OUTPUT, "writing", w->temp);
    return VSR_OK;
}

static void fs_writer_abort(struct blob_writer *writer) {
    struct fs_writer *w = (struct fs_writer *)writer;
    close(w->fd);
    unlink(w->temp);
    free(w);
}

static int fs_writer_commit(struct blob_writer *writer, struct vsr_error *error) {
    struct fs_writer *w = (struct fs_writer *)writer;
    int rc = VSR_OK;
    if (fsync(w->fd) != 0)
        rc = fail_errno(error, VSR_E_OUTPUT, "syncing", w->temp);
    else if (rename(w->temp, w->final) != 0)
        rc = fail_errno(error, VSR_E_OUTPUT, "publishing", w->final);
    close(w->fd);
    if (rc != VSR_OK) unlink(w->temp);
    free(w);
    return rc;
}

static int copy_file(const char *from, const char *to, struct vsr_error *error) {
    char temp[PATH_MAX + 300];
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) return fail_errno(error, VSR_E_INPUT, "opening", from);
    int out = open_temp(to, temp, sizeof temp, error), rc = VSR_OK;
    if (out < 0) {
        close(in);
        return out;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = fail_errno(error, VSR_E_INPUT, "reading", from);
            break;
        }
        if (n == 0) break;
        if (write_all(out, buf, (size_t)n) != 0) {
            rc = fail_errno(error, VSR_E_OUTPUT, "writing", temp);
            break;
        }
    }
    if (rc == VSR_OK && fsync(out) != 0) rc = fail_errno(error, VSR_E_OUTPUT, "syncing", temp);
    if (rc == VSR_OK && rename(temp, to) != 0)
        rc = fail_errno(error, VSR_E_OUTPUT, "publishing", to);
    close(in);
    close(out);
    if (rc != VSR_OK) unlink(temp);
    return rc;
}

static int fs_put_file(struct blob *blob, const char *key, const char *path, int move,
                       const char *content_type, struct vsr_error *error) {
    char final[PATH_MAX + 256];
    full_path((struct fs_blob *)blob, key, final, sizeof final);
    if (make_parents(final) != 0)
        return fail_errno(error, VSR_E_OUTPUT, "creating folders for", final);
    if (move && rename(path, final) == 0) return VSR_OK;
    if (move && errno != EXDEV) return fail_errno(error, VSR_E_OUTPUT, "moving into storage", path);
    int rc = copy_file(path, final, error);
    if (rc == VSR_OK && move) unlink(path);
    return rc;
}

static int fs_reader_open(struct blob *blob, const char *key, struct blob_reader **out,
                          struct vsr_error *error) {
    char path[PATH_MAX + 256];
    full_path((struct fs_blob *)blob, key, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(error, errno == ENOENT ? VSR_E_INPUT : VSR_E_OUTPUT, "opening", path);
    struct stat st;
    struct fs_reader *r = calloc(1, sizeof *r);
    if (!r || fstat(fd, &st) != 0) {
        int rc = r ? fail_errno(error, VSR_E_OUTPUT, "reading", path) : VSR_E_NOMEM;
        if (!r) {
            error->code = VSR_E_NOMEM;
            snprintf(error->message, sizeof error->message, "out of memory");
        }
        free(r);
        close(fd);
        return rc;
    }
    r->base.blob = blob;
    r->fd = fd;
    r->size = st.st_size;
    *out = &r->base;
    return VSR_OK;
}

static int64_t fs_reader_size(const struct blob_reader *reader) {
    return ((const struct fs_reader *)reader)->size;
}

static int64_t fs_reader_read_at(struct blob_reader *reader, int64_t offset, void *buf, size_t size,
                                 struct vsr_error *error) {
    struct fs_reader *r = (struct fs_reader *)reader;
    for (;;) {
        ssize_t n = pread(r->fd, buf, size, (off_t)offset);
        if (n >= 0) return n;
        if (errno != EINTR) return fail_errno(error, VSR_E_OUTPUT, "reading", "a blob");
    }
}

static void fs_reader_close(struct blob_reader *reader) {
    struct fs_reader *r = (struct fs_reader *)reader;
    close(r->fd);
    free(r);
}

static int fs_remove(struct blob *blob, const char *key, struct vsr_error *error) {
    char path[PATH_MAX + 256];
    full_path((struct fs_blob *)blob, key, path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT)
        return fail_errno(error, VSR_E_OUTPUT, "deleting", path);
    return VSR_OK;
}

static int fs_stat(struct blob *blob, const char *key, int64_t *size, struct vsr_error *error) {
    char path[PATH_MAX + 256];
    struct stat st;
    full_path((struct fs_blob *)blob, key, path, sizeof path);
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return 0;
        return fail_errno(error, VSR_E_OUTPUT, "inspecting", path);
    }
    *size = st.st_size;
    return 1;
}

static int fs_local_path(struct blob *blob, const char *key, char *path, size_t path_size) {
    full_path((struct fs_blob *)blob, key, path, path_size);
    return 1;
}

static int fs_presign(struct blob *blob, const char *key, const char *method, int expires_seconds,
                      int64_t content_length, const char *content_type, const char *file_name,
                      char *url, size_t url_size, struct vsr_error *error) {
    return 0; /* a local folder has no URL of its own: the service carries the bytes */
}

/* Writes and deletes a small file: the folder exists, is writable and has room. */
static int fs_check(struct blob *blob, struct vsr_error *error) {
    struct fs_blob *fs = (struct fs_blob *)blob;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/.health-XXXXXX", fs->root);
    int fd = mkstemp(path);
    if (fd < 0) return fail_errno(error, VSR_E_OUTPUT, "writing into", fs->root);
    int rc = write_all(fd, "ok", 2) == 0
                 ? VSR_OK
                 : fail_errno(error, VSR_E_OUTPUT, "writing into", fs->root);
    close(fd);
    unlink(path);
    return rc;
}

/* A writer's temporary file: "NAME.part-XXXXXX" (open_temp) or the
 * readiness probe's ".health-XXXXXX" (fs_check). */
static int is_temp_name(const char *name) {
    const char *part = strstr(name, ".part-");
    return (part && strlen(part) == 12) || strncmp(name, ".health-", 8) == 0;
}

/* Removes the temporary files under the folder DIR (open, and closed here)
 * last modified before BEFORE_MS; DEPTH bounds the walk (keys are a few
 * folders deep). Files that vanish meanwhile are no error. */
struct abandoned {
    int64_t before_ms;
    int dry_run;
    blob_list_fn fn;
    void *opaque;
    int *removed;
};

static int remove_abandoned_in(int dir, const char *path, const char *prefix, int depth,
                               const struct abandoned *a, struct vsr_error *error) {
    DIR *d = fdopendir(dir);
    if (!d) {
        close(dir);
        return fail_errno(error, VSR_E_OUTPUT, "listing", path);
    }
    int rc = VSR_OK;
    struct dirent *e;
    while (rc == VSR_OK && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISDIR(st.st_mode) && depth > 0) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            char sub_path[PATH_MAX + 256], sub_prefix[PATH_MAX];
            snprintf(sub_path, sizeof sub_path, "%.3000s/%s", path, e->d_name);
            snprintf(sub_prefix, sizeof sub_prefix, "%.3000s%s/", prefix, e->d_name);
            if (sub >= 0) rc = remove_abandoned_in(sub, sub_path, sub_prefix, depth - 1, a, error);
            continue;
        }
        int64_t modified_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        if (!S_ISREG(st.st_mode) || !is_temp_name(e->d_name) || modified_ms >= a->before_ms)
            continue;
        if (a->fn) {
            char name[PATH_MAX + 256];
            snprintf(name, sizeof name, "%.3000s%s", prefix, e->d_name);
            if (a->fn(a->opaque, name, (int64_t)st.st_size, modified_ms) != 0) continue;
        }
        if (a->dry_run)
            (*a->removed)++;
        else if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            (*a->removed)++;
        else if (errno != ENOENT)
            rc = fail_errno(error, VSR_E_OUTPUT, "deleting a temporary file in", path);
    }
    closedir(d);
    return rc;
}

static int fs_remove_abandoned(struct blob *blob, int64_t before_ms, int dry_run, blob_list_fn fn,
                               void *opaque, int *removed, struct vsr_error *error) {
    struct fs_blob *fs = (struct fs_blob *)blob;
    int dir = open(fs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return fail_errno(error, VSR_E_OUTPUT, "opening", fs->root);
    struct abandoned a = {before_ms, dry_run, fn, opaque, removed};
    return remove_abandoned_in(dir, fs->root, "", 8, &a, error);
}

/* Lists the blobs under the folder DIR (open, and closed here), whose keys
 * start with PREFIX ("" or "uploads/"); DEPTH bounds the walk. */
static int list_in(int dir, const char *prefix, int depth, blob_list_fn fn, void *opaque,
                   struct vsr_error *error) {
    DIR *d = fdopendir(dir);
    if (!d) {
        close(dir);
        return fail_errno(error, VSR_E_OUTPUT, "listing", prefix[0] ? prefix : "the folder");
    }
    int rc = VSR_OK;
    struct dirent *e;
    while (rc == VSR_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || strcmp(e->d_name, "..") == 0)) continue;
        struct stat st;
        char key[PATH_MAX];
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (snprintf(key, sizeof key, "%s%s%s", prefix, e->d_name,
                     S_ISDIR(st.st_mode) ? "/" : "") >= (int)sizeof key)
            continue;
        if (S_ISDIR(st.st_mode) && depth > 0) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (sub >= 0) rc = list_in(sub, key, depth - 1, fn, opaque, error);
            continue;
        }
        if (!S_ISREG(st.st_mode) || is_temp_name(e->d_name) || !blob_key_valid(key)) continue;
        int64_t modified_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        if (fn(opaque, key, (int64_t)st.st_size, modified_ms) != 0) break;
    }
    closedir(d);
    return rc;
}

static int fs_list(struct blob *blob, blob_list_fn fn, void *opaque, struct vsr_error *error) {
    struct fs_blob *fs = (struct fs_blob *)blob;
    int dir = open(fs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return fail_errno(error, VSR_E_OUTPUT, "opening", fs->root);
    return list_in(dir, "", 8, fn, opaque, error);
}

static const struct blob_ops fs_ops = {
    .close = fs_close,
    .writer_open = fs_writer_open,
    .writer_write = fs_writer_write,
    .writer_commit = fs_writer_commit,
    .writer_abort = fs_writer_abort,
    .put_file = fs_put_file,
    .reader_open = fs_reader_open,
    .reader_size = fs_reader_size,
    .reader_read_at = fs_reader_read_at,
    .reader_close = fs_reader_close,
    .remove = fs_remove,
    .stat = fs_stat,
    .local_path = fs_local_path,
    .presign = fs_presign,
    .check = fs_check,
    .remove_abandoned = fs_remove_abandoned,
    .list = fs_list,
};

int blob_fs_open(struct blob **out, const char *dir, struct vsr_error *error) {
    *out = NULL;
    char probe[PATH_MAX + 8];
    snprintf(probe, sizeof probe, "%s/x", dir);
    if (make_parents(probe) != 0) return fail_errno(error, VSR_E_OUTPUT, "creating", dir);
    struct fs_blob *fs = calloc(1, sizeof *fs);
    if (!fs) {
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    if (!realpath(dir, fs->root)) {
        free(fs);
        return fail_errno(error, VSR_E_OUTPUT, "resolving", dir);
    }
    fs->base.ops = &fs_ops;
    *out = &fs->base;
    return VSR_OK;
}
