/* backup.c: backups of the job store and file store, their checks and
 * restores (see backup.h). */
#include "service/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "util/ids.h"

#define MANIFEST_FORMAT 1

extern char **environ;

static int fail(struct vsr_error *error, int code, const char *format, const char *a,
                const char *b) {
    error->code = code;
    snprintf(error->message, sizeof error->message, format, a, b);
    return code;
}

static int is_postgres(const char *url) {
    return strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
}

/* mkdir -p of PATH's folders (PATH itself when IS_DIR). */
static int make_dirs(const char *path, int is_dir) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return is_dir && mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static void hex(const unsigned char *digest, unsigned len, char out[65]) {
    for (unsigned i = 0; i < len && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* SHA-256 and size of the file PATH. */
static int file_digest(const char *path, char out[65], int64_t *size, struct vsr_error *error) {
    FILE *f = fopen(path, "rb");
    if (!f) return fail(error, VSR_E_INPUT, "cannot read %.400s: %s", path, strerror(errno));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    unsigned char buf[65536], digest[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    size_t got;
    *size = 0;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        EVP_DigestUpdate(md, buf, got);
        *size += (int64_t)got;
    }
    int bad = ferror(f);
    fclose(f);
    EVP_DigestFinal_ex(md, digest, &len);
    EVP_MD_CTX_free(md);
    if (bad) return fail(error, VSR_E_INPUT, "cannot read %.400s%s", path, "");
    hex(digest, len, out);
    return VSR_OK;
}

/* ---- backup --------------------------------------------------------------- */

struct file_copy {
    struct blob *blob;
    const char *dir;
    json_t *files; /* the manifest's "files" array */
    struct backup_summary *summary;
    struct vsr_error *error;
    int rc;
    FILE *out; /* the file being written */
    EVP_MD_CTX *md;
};

static int copy_sink(void *opaque, const void *data, size_t size) {
    struct file_copy *c = opaque;
    EVP_DigestUpdate(c->md, data, size);
    return fwrite(data, 1, size, c->out) == size ? 0 : -1;
}

/* Copies one listed blob to DIR/files/KEY, hashing it on the way. */
static int copy_blob(void *opaque, const char *key, int64_t size, int64_t modified_ms) {
    struct file_copy *c = opaque;
    char path[4096], digest[65] = "";
    snprintf(path, sizeof path, "%s/files/%s", c->dir, key);
    if (make_dirs(path, 0) != 0 || !(c->out = fopen(path, "wb"))) {
        c->rc = fail(c->error, VSR_E_OUTPUT, "cannot write %.400s: %s", path, strerror(errno));
        return 1;
    }
    c->md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
    int rc = blob_get(c->blob, key, copy_sink, c, c->error);
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(c->md, raw, &len);
    EVP_MD_CTX_free(c->md);
    int closed = fclose(c->out);
    hex(raw, len, digest);
    if (rc == VSR_E_INPUT) { /* deleted since the listing (retention): not in the backup */
        remove(path);
        return 0;
    }
    if (rc != VSR_OK || closed != 0) {
        if (rc == VSR_OK)
            fail(c->error, VSR_E_OUTPUT, "cannot write %.400s: %s", path, strerror(errno));
        c->rc = rc != VSR_OK ? rc : VSR_E_OUTPUT;
        return 1;
    }
    struct stat st;
    int64_t bytes = stat(path, &st) == 0 ? (int64_t)st.st_size : size;
    json_array_append_new(c->files, json_pack("{s:s, s:I, s:s}", "key", key, "bytes",
                                              (json_int_t)bytes, "sha256", digest));
    c->summary->files++;
    c->summary->file_bytes += bytes;
    return 0;
}

int backup_create(struct store *store, struct blob *blob, const char *dir, int with_files,
                  const char *version, struct backup_summary *summary, struct vsr_error *error) {
    memset(summary, 0, sizeof *summary);
    char manifest_path[4096], db_path[4096], digest[65];
    snprintf(manifest_path, sizeof manifest_path, "%s/manifest.json", dir);
    if (access(manifest_path, F_OK) == 0)
        return fail(error, VSR_E_USAGE,
                    "%.400s already holds a backup; name a new folder for each backup%s", dir, "");
    if (make_dirs(dir, 1) != 0)
        return fail(error, VSR_E_OUTPUT, "cannot create %.400s: %s", dir, strerror(errno));
    /* The kind of copy store_backup writes tells which file it is. */
    struct store_counts counts;
    snprintf(db_path, sizeof db_path, "%s/database.copy", dir);
    int rc = store_backup(store, db_path, &counts, error);
    if (rc != VSR_OK) return rc;
    char head[6] = "";
    FILE *f = fopen(db_path, "rb");
    if (f) {
        if (fread(head, 1, 5, f) != 5) head[0] = '\0';
        fclose(f);
    }
    const char *backend = strncmp(head, "PGDMP", 5) == 0 ? "postgres" : "sqlite";
    char final_db[4096];
    const char *db_name = strcmp(backend, "postgres") == 0 ? "database.pgdump" : "database.sqlite";
    snprintf(final_db, sizeof final_db, "%s/%s", dir, db_name);
    if (rename(db_path, final_db) != 0)
        return fail(error, VSR_E_OUTPUT, "cannot write %.400s: %s", final_db, strerror(errno));
    int64_t db_bytes = 0;
    rc = file_digest(final_db, digest, &db_bytes, error);
    if (rc != VSR_OK) return rc;
    json_t *manifest = json_pack(
        "{s:i, s:s, s:I, s:s, s:i, s:{s:s, s:I, s:s}, s:{s:I, s:I, s:I}}", "format",
        MANIFEST_FORMAT, "vsr_version", version, "created_at", (json_int_t)ids_now_ms(), "backend",
        backend, "schema_version", counts.schema_version, "database", "file", db_name, "bytes",
        (json_int_t)db_bytes, "sha256", digest, "counts", "jobs", (json_int_t)counts.jobs, "keys",
        (json_int_t)counts.keys, "uploads", (json_int_t)counts.uploads);
    summary->counts = counts;
    if (with_files) {
        struct file_copy copy = {.blob = blob,
                                 .dir = dir,
                                 .files = json_array(),
                                 .summary = summary,
                                 .error = error,
                                 .rc = VSR_OK};
        rc = blob_list(blob, copy_blob, &copy, error);
        if (rc == VSR_OK) rc = copy.rc;
        json_object_set_new(manifest, "files", copy.files);
    }
    char partial[4200];
    snprintf(partial, sizeof partial, "%s.partial", manifest_path);
    if (rc == VSR_OK && (json_dump_file(manifest, partial, JSON_INDENT(2)) != 0 ||
                         rename(partial, manifest_path) != 0))
        rc = fail(error, VSR_E_OUTPUT, "cannot write %.400s: %s", manifest_path, strerror(errno));
    json_decref(manifest);
    return rc;
}

/* ---- verify --------------------------------------------------------------- */

/* Rows of TABLE in the pg_dump archive PATH: pg_restore writes its COPY
 * block as text, one line a row, ended by "\.". -1 when it cannot. */
static int64_t dump_rows(const char *path, const char *table, struct vsr_error *error) {
    int pipe_fd[2];
    if (pipe(pipe_fd) != 0) return -1;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fd[1], 1);
    posix_spawn_file_actions_addclose(&actions, pipe_fd[0]);
    char table_arg[64], file[4096];
    snprintf(table_arg, sizeof table_arg, "--table=%s", table);
    snprintf(file, sizeof file, "%s", path);
    char *argv[] = {"pg_restore", "--data-only", table_arg, "--file=-", file, NULL};
    pid_t pid;
    int spawned = posix_spawnp(&pid, argv[0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fd[1]);
    if (spawned != 0) {
        close(pipe_fd[0]);
        fail(error, VSR_E_USAGE, "cannot run pg_restore: %s; install Debian's postgresql-client%s",
             strerror(spawned), "");
        return -1;
    }
    FILE *in = fdopen(pipe_fd[0], "r");
    char line[8192];
    int64_t rows = -1;
    int in_copy = 0, line_start = 1;
    while (in && fgets(line, sizeof line, in)) {
        int starts = line_start;
        line_start = strchr(line, '\n') != NULL; /* a long row spans several reads */
        if (!starts) continue;
        if (!in_copy && strncmp(line, "COPY ", 5) == 0) {
            in_copy = 1;
            rows = 0;
        } else if (in_copy && strcmp(line, "\\.\n") == 0) {
            in_copy = 0;
        } else if (in_copy) {
            rows++;
        }
    }
    if (in) fclose(in);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fail(error, VSR_E_INPUT, "pg_restore cannot read %.400s (table %.40s)", path, table);
        return -1;
    }
    return rows < 0 ? 0 : rows;
}

/* The database copy's counts: a scratch copy of the SQLite file opened at
 * its own schema version, or the dump's tables read by pg_restore. */
static int open_copy(const char *backend, const char *db_path, int schema_version,
                     const char *scratch_dir, struct store_counts *out, struct vsr_error *error) {
    memset(out, 0, sizeof *out);
    if (strcmp(backend, "postgres") == 0) {
        out->jobs = dump_rows(db_path, "jobs", error);
        out->keys = out->jobs < 0 ? -1 : dump_rows(db_path, "api_keys", error);
        out->uploads = out->keys < 0 ? -1 : dump_rows(db_path, "uploads", error);
        out->schema_version = schema_version; /* vsr_schema's one row is that version */
        return out->uploads < 0 ? (error->code ? error->code : VSR_E_INPUT) : VSR_OK;
    }
    char scratch[4096];
    snprintf(scratch, sizeof scratch, "%s/vsr-verify-%lld.db", scratch_dir,
             (long long)ids_now_ms());
    FILE *from = fopen(db_path, "rb"), *to = from ? fopen(scratch, "wb") : NULL;
    char buf[65536];
    size_t got;
    int ok = from && to;
    while (ok && (got = fread(buf, 1, sizeof buf, from)) > 0)
        ok = fwrite(buf, 1, got, to) == got;
    if (from) fclose(from);
    if (to && fclose(to) != 0) ok = 0;
    int rc = VSR_OK;
    if (!ok)
        rc = fail(error, VSR_E_OUTPUT, "cannot copy the backup to %.400s: %s", scratch,
                  strerror(errno));
    struct store_options options;
    store_options_init(&options);
    options.schema_version = schema_version;
    struct store *store = NULL;
    if (rc == VSR_OK) rc = store_sqlite_open(&store, scratch, &options, error);
    if (rc == VSR_OK) rc = store_counts(store, out, error);
    store_close(store);
    char side[4200];
    remove(scratch);
    snprintf(side, sizeof side, "%s-wal", scratch);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", scratch);
    remove(side);
    if (rc != VSR_OK && rc != VSR_E_OUTPUT) return rc;
    if (rc != VSR_OK) {
        char why[sizeof error->message];
        snprintf(why, sizeof why, "%s", error->message);
        return fail(error, VSR_E_INPUT, "the backup's database cannot be opened: %.300s%s", why,
                    "");
    }
    return VSR_OK;
}

static int check_file(const char *path, json_t *entry, struct vsr_error *error) {
    char digest[65];
    int64_t bytes = 0;
    int rc = file_digest(path, digest, &bytes, error);
    if (rc != VSR_OK) return rc;
    const char *want = json_string_value(json_object_get(entry, "sha256"));
    json_int_t want_bytes = json_integer_value(json_object_get(entry, "bytes"));
    if (!want || strcmp(want, digest) != 0 || want_bytes != bytes)
        return fail(error, VSR_E_INPUT,
                    "%.400s does not match the manifest (its checksum or size changed); this"
                    " backup is damaged%s",
                    path, "");
    return VSR_OK;
}

static int64_t count_of(json_t *manifest, const char *name) {
    return json_integer_value(json_object_get(json_object_get(manifest, "counts"), name));
}

/* Loads and checks DIR's manifest; *OUT is the caller's to json_decref. */
static int load_manifest(const char *dir, json_t **out, struct vsr_error *error) {
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    json_error_t json_error;
    json_t *m = json_load_file(path, 0, &json_error);
    if (!m)
        return fail(error, VSR_E_INPUT,
                    "%.250s: no readable manifest.json (%.100s); not a complete vsr backup", dir,
                    json_error.text);
    const char *backend = json_string_value(json_object_get(m, "backend"));
    const char *file = json_string_value(json_object_get(json_object_get(m, "database"), "file"));
    if (json_integer_value(json_object_get(m, "format")) != MANIFEST_FORMAT || !backend || !file ||
        strchr(file, '/') || (strcmp(backend, "sqlite") != 0 && strcmp(backend, "postgres") != 0)) {
        json_decref(m);
        return fail(error, VSR_E_INPUT, "%.400s: manifest.json is not one this vsr wrote%s", dir,
                    "");
    }
    *out = m;
    return VSR_OK;
}

int backup_verify(const char *dir, const char *scratch_dir, struct backup_summary *summary,
                  struct vsr_error *error) {
    memset(summary, 0, sizeof *summary);
    json_t *m = NULL;
    int rc = load_manifest(dir, &m, error);
    if (rc != VSR_OK) return rc;
    json_t *database = json_object_get(m, "database");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, json_string_value(json_object_get(database, "file")));
    rc = check_file(path, database, error);
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(m, "files"), i, entry) {
        if (rc != VSR_OK) break;
        const char *key = json_string_value(json_object_get(entry, "key"));
        if (!key || !blob_key_valid(key)) {
            rc = fail(error, VSR_E_INPUT, "%.400s: manifest.json names a bad file key%s", dir, "");
            break;
        }
        char file[4096];
        snprintf(file, sizeof file, "%s/files/%s", dir, key);
        rc = check_file(file, entry, error);
        summary->files++;
        summary->file_bytes += json_integer_value(json_object_get(entry, "bytes"));
    }
    struct store_counts got;
    int version = (int)json_integer_value(json_object_get(m, "schema_version"));
    if (rc == VSR_OK)
        rc = open_copy(json_string_value(json_object_get(m, "backend")), path, version, scratch_dir,
                       &got, error);
    if (rc == VSR_OK) {
        summary->counts = got;
        if (got.jobs != count_of(m, "jobs") || got.keys != count_of(m, "keys") ||
            got.uploads != count_of(m, "uploads") || got.schema_version != version) {
            error->code = rc = VSR_E_INPUT;
            snprintf(error->message, sizeof error->message,
                     "%.300s: the database holds %lld jobs, %lld keys, %lld uploads (schema %d),"
                     " the manifest says %lld, %lld, %lld (schema %d); this backup is damaged",
                     dir, (long long)got.jobs, (long long)got.keys, (long long)got.uploads,
                     got.schema_version, (long long)count_of(m, "jobs"),
                     (long long)count_of(m, "keys"), (long long)count_of(m, "uploads"), version);
        }
    }
    json_decref(m);
    return rc;
}

/* ---- restore -------------------------------------------------------------- */

static int any_blob(void *opaque, const char *key, int64_t size, int64_t modified_ms) {
    *(int *)opaque = 1;
    return 1;
}

int backup_restore(const char *dir, const char *database_url, const char *scratch_dir,
                   struct blob *blob, int force, struct backup_summary *summary,
                   struct vsr_error *error) {
    int rc = backup_verify(dir, scratch_dir, summary, error);
    if (rc != VSR_OK) return rc;
    json_t *m = NULL;
    rc = load_manifest(dir, &m, error);
    if (rc != VSR_OK) return rc;
    const char *backend = json_string_value(json_object_get(m, "backend"));
    struct store *store = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir,
             json_string_value(json_object_get(json_object_get(m, "database"), "file")));
    if (is_postgres(database_url) != (strcmp(backend, "postgres") == 0)) {
        rc = fail(error, VSR_E_USAGE,
                  "this backup is of a %s database and the database to restore into is not;"
                  " name one of that kind with --database%s",
                  strcmp(backend, "postgres") == 0 ? "PostgreSQL" : "SQLite", "");
        goto done;
    }
    struct store_counts now;
    rc = store_open(&store, database_url, NULL, error);
    if (rc == VSR_OK) rc = store_counts(store, &now, error);
    if (rc != VSR_OK) goto done;
    if (!force && now.jobs + now.keys + now.uploads > 0) {
        error->code = rc = VSR_E_USAGE;
        snprintf(error->message, sizeof error->message,
                 "the database to restore into is not empty (%lld jobs, %lld keys, %lld uploads);"
                 " restore into an empty one, or add --force to replace what it holds",
                 (long long)now.jobs, (long long)now.keys, (long long)now.uploads);
        goto done;
    }
    json_t *files = json_object_get(m, "files");
    if (!force && json_array_size(files) > 0) {
        int found = 0;
        rc = blob_list(blob, any_blob, &found, error);
        if (rc == VSR_OK && found)
            rc = fail(error, VSR_E_USAGE,
                      "the file store to restore into is not empty; restore into an empty one,"
                      " or add --force to write the backup's files over it%s%s",
                      "", "");
        if (rc != VSR_OK) goto done;
    }
    rc = store_restore(store, path, error);
    store_close(store);
    store = NULL;
    /* Opening again migrates a backup of an older schema. */
    if (rc == VSR_OK) rc = store_open(&store, database_url, NULL, error);
    if (rc == VSR_OK) rc = store_counts(store, &now, error);
    if (rc == VSR_OK && (now.jobs != count_of(m, "jobs") || now.keys != count_of(m, "keys") ||
                         now.uploads != count_of(m, "uploads"))) {
        error->code = rc = VSR_E_OUTPUT;
        snprintf(error->message, sizeof error->message,
                 "the restored database holds %lld jobs, %lld keys, %lld uploads; the backup"
                 " had %lld, %lld, %lld",
                 (long long)now.jobs, (long long)now.keys, (long long)now.uploads,
                 (long long)count_of(m, "jobs"), (long long)count_of(m, "keys"),
                 (long long)count_of(m, "uploads"));
    }
    if (rc == VSR_OK) summary->counts = now;
    size_t i;
    json_t *entry;
    json_array_foreach(files, i, entry) {
        if (rc != VSR_OK) break;
        char file[4096];
        const char *key = json_string_value(json_object_get(entry, "key"));
        snprintf(file, sizeof file, "%s/files/%s", dir, key);
        rc = blob_put_file(blob, key, file, 0, error);
    }
done:
    store_close(store);
    json_decref(m);
    return rc;
}
