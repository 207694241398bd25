/* test_operations.c: the operator's commands of issue 26 on real stores
 * (SQLite and a folder, or PostgreSQL and S3 under scripts/check-scaleout.sh):
 * `vsr backup` while jobs are written, `vsr restore --verify`, `vsr restore`
 * into a fresh store that then serves the old results over HTTP, a backup
 * of an older schema migrated on restore, `vsr cleanup --dry-run` against
 * `--execute` on a store seeded with orphans, expired files and live work,
 * and POST /api/v1/cron/daily. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "blob/blob.h"
#include "http/server.h"
#include "jobs/store.h"
#include "service/backup.h"
#include "service/config.h"
#include "service/metrics.h"
#include "test.h"

/* Writes SIZE random bytes to PATH. */
static void random_file(const char *path, size_t size) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    for (size_t i = 0; i < size; i++)
        fputc(rand() & 0xff, f);
    fclose(f);
}

struct bytes {
    char *data;
    size_t len;
};

static int to_bytes(void *opaque, const void *data, size_t size) {
    struct bytes *b = opaque;
    char *grown = realloc(b->data, b->len + size + 1);
    if (!grown) return 1;
    memcpy(grown + b->len, data, size);
    b->data = grown;
    b->len += size;
    return 0;
}

static size_t curl_to_bytes(char *data, size_t size, size_t count, void *opaque) {
    return to_bytes(opaque, data, size * count) == 0 ? size * count : 0;
}

/* METHOD URL with "Authorization: Bearer TOKEN" (none when NULL): the
 * status, and the body into *BODY (the caller frees body->data). */
static long http(const char *method, const char *url, const char *token, struct bytes *body) {
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = NULL;
    char auth[600];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, auth);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, curl_to_bytes);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
    long status = 0;
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (body->data) body->data[body->len] = '\0';
    return status;
}

/* An in-process `vsr serve --workers 0` on a loopback port. */
struct api {
    struct service_config config;
    struct metrics *metrics;
    struct http_server *server;
    char base[64];
};

static int api_start(struct api *a, const char *dir, const char *db, const char *storage,
                     struct store *store, struct blob *blob, const char *cron_secret) {
    config_init(&a->config);
    snprintf(a->config.listen, sizeof a->config.listen, "127.0.0.1:0");
    snprintf(a->config.data_dir, sizeof a->config.data_dir, "%s", dir);
    snprintf(a->config.database_url, sizeof a->config.database_url, "%s", db);
    snprintf(a->config.storage_url, sizeof a->config.storage_url, "%s", storage);
    snprintf(a->config.cron_secret, sizeof a->config.cron_secret, "%s", cron_secret);
    a->config.workers = 0;
    a->config.log_requests = 0;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, config_finish(&a->config, &error));
    a->metrics = metrics_new();
    if (http_server_start(&a->server, &a->config, store, blob, a->metrics, &error) != VSR_OK) {
        fprintf(stderr, "  http_server_start: %s\n", error.message);
        test_failures++;
        return -1;
    }
    snprintf(a->base, sizeof a->base, "http://127.0.0.1:%d", http_server_port(a->server));
    return 0;
}

static void api_stop(struct api *a) {
    http_server_stop(a->server);
    metrics_free(a->metrics);
}

/* A finished job of KEY on UPLOAD with its result stored as RESULT_KEY. */
static void make_succeeded_job(struct store *store, struct blob *blob, const char *key_id,
                               const struct upload *up, const char *result_path, struct job *out) {
    struct vsr_error error = {0};
    struct job job = {0}, claimed;
    snprintf(job.key_id, sizeof job.key_id, "%s", key_id);
    snprintf(job.type, sizeof job.type, "remove");
    snprintf(job.upload_id, sizeof job.upload_id, "%s", up->id);
    snprintf(job.input_blob, sizeof job.input_blob, "%s", up->blob);
    job.max_attempts = 3;
    CHECK_INT(0, store_job_create(store, &job, &error));
    CHECK_INT(1, store_job_claim(store, "test-worker", 600000, &claimed, &error));
    CHECK_STR(job.id, claimed.id);
    char result[STORE_NAME_SIZE];
    snprintf(result, sizeof result, "results/%s.mp4", job.id);
    CHECK_INT(VSR_OK, blob_put_file(blob, result, result_path, 0, &error));
    struct job_finish finish = {.state = JOB_SUCCEEDED, .output_blob = result};
    CHECK_INT(1, store_job_finish(store, job.id, "test-worker", &finish, &error));
    CHECK_INT(1, store_job_get(store, NULL, job.id, out, &error));
}

static void make_upload(struct store *store, struct blob *blob, const char *key_id,
                        const char *name, const char *path, int64_t size, struct upload *out) {
    struct vsr_error error = {0};
    struct upload up = {0};
    snprintf(up.id, sizeof up.id, "upl_%s", name);
    snprintf(up.key_id, sizeof up.key_id, "%s", key_id);
    snprintf(up.file_name, sizeof up.file_name, "%s.mp4", name);
    snprintf(up.mime_type, sizeof up.mime_type, "video/mp4");
    snprintf(up.blob, sizeof up.blob, "uploads/%s", up.id);
    up.declared_size = up.size = size;
    up.state = UPLOAD_READY;
    up.created_at = time(NULL) * 1000LL;
    up.expires_at = up.created_at + 3600 * 1000LL;
    CHECK_INT(VSR_OK, store_upload_create(store, &up, &error));
    CHECK_INT(VSR_OK, store_upload_update(store, &up, &error));
    if (path) CHECK_INT(VSR_OK, blob_put_file(blob, up.blob, path, 0, &error));
    *out = up;
}

struct writer_args {
    const char *db;
    const char *key_id;
    volatile int stop;
    int written;
};

/* Another process's worth of writes while the backup runs: new jobs. */
static void *write_jobs(void *arg) {
    struct writer_args *w = arg;
    struct store *store = NULL;
    struct vsr_error error = {0};
    if (store_open(&store, w->db, NULL, &error) != VSR_OK) return NULL;
    while (!w->stop && w->written < 3000) {
        struct job job = {0};
        snprintf(job.key_id, sizeof job.key_id, "%s", w->key_id);
        snprintf(job.type, sizeof job.type, "remove");
        snprintf(job.input_blob, sizeof job.input_blob, "uploads/upl_during");
        job.max_attempts = 3;
        if (store_job_create(store, &job, &error) == 0) w->written++;
    }
    store_close(store);
    return NULL;
}

static int blob_equals_file(struct blob *blob, const char *key, const char *path) {
    struct bytes got = {0}, want = {0};
    struct vsr_error error = {0};
    int rc = blob_get(blob, key, to_bytes, &got, &error);
    FILE *f = fopen(path, "rb");
    char buf[65536];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
        to_bytes(&want, buf, n);
    if (f) fclose(f);
    int same = rc == VSR_OK && got.len == want.len && memcmp(got.data, want.data, got.len) == 0;
    free(got.data);
    free(want.data);
    return same;
}

/* Issue 26: `vsr backup` copied SQLite only (PostgreSQL answered "use
 * pg_dump"), without files or a manifest, and nothing restored or checked a
 * backup. Now a backup taken while jobs are written is verified, restored
 * into an empty store (wiped: a fresh database and file store), and every
 * row and file is back and served. */
TEST(service_backup_restore_running) {
    SLOW_TEST();
    char dir[256], fresh[512], db[1024], storage[1024], db2[1024], storage2[1024];
    char backup[600], cmd[8192], out[4096], input[600], result[600], token[80];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    snprintf(fresh, sizeof fresh, "%s-restored", dir); /* its own database name */
    mkdir(fresh, 0700);
    test_database_url(dir, db, sizeof db);
    test_storage_url(dir, storage, sizeof storage);
    test_database_url(fresh, db2, sizeof db2);
    test_storage_url(fresh, storage2, sizeof storage2);
    snprintf(backup, sizeof backup, "%s/backup-1", dir);
    snprintf(input, sizeof input, "%s/input.bin", dir);
    snprintf(result, sizeof result, "%s/result.bin", dir);
    random_file(input, 200000);
    random_file(result, 9 << 20); /* over one S3 part */
    struct store *store = NULL, *restored = NULL;
    struct blob *blob = NULL, *blob2 = NULL;
    struct vsr_error error = {0};
    struct api api = {0};
    if (test_open_backends(db, storage, &store, &blob) < 0) goto done;
    struct api_key key = {0};
    snprintf(key.name, sizeof key.name, "backup-test");
    CHECK_INT(VSR_OK, store_key_create(store, &key, token, sizeof token, &error));
    struct upload up;
    struct job job;
    make_upload(store, blob, key.id, "backup1", input, 200000, &up);
    make_succeeded_job(store, blob, key.id, &up, result, &job);

    struct writer_args writer_args = {.db = db, .key_id = key.id};
    pthread_t writer;
    CHECK_INT(0, pthread_create(&writer, NULL, write_jobs, &writer_args));
    usleep(100 * 1000);
    snprintf(cmd, sizeof cmd,
             "%s backup '%s' --with-files --data-dir %s --database '%s'"
             " --storage '%s'",
             test_vsr_bin(), backup, dir, db, storage);
    int backup_rc = test_run(cmd, out, sizeof out);
    CHECK_INT(0, backup_rc);
    if (backup_rc != 0) fprintf(stderr, "  %s\n", out);
    writer_args.stop = 1;
    pthread_join(writer, NULL);
    CHECK_AT_LEAST(1, writer_args.written);

    /* The manifest's counts are those of the copy, taken mid-writes. */
    char manifest_path[700];
    snprintf(manifest_path, sizeof manifest_path, "%s/manifest.json", backup);
    json_t *manifest = json_load_file(manifest_path, 0, NULL);
    CHECK(manifest != NULL);
    json_int_t jobs_in_backup =
        json_integer_value(json_object_get(json_object_get(manifest, "counts"), "jobs"));
    CHECK_AT_LEAST(1, jobs_in_backup);
    CHECK_INT(2, json_array_size(json_object_get(manifest, "files")));
    CHECK_INT(1, json_integer_value(json_object_get(json_object_get(manifest, "counts"), "keys")));
    json_decref(manifest);

    snprintf(cmd, sizeof cmd, "%s restore --verify '%s'", test_vsr_bin(), backup);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "verified") != NULL);
    if (!strstr(out, "verified")) fprintf(stderr, "  %s\n", out);

    snprintf(cmd, sizeof cmd, "%s restore '%s' --data-dir %s --database '%s' --storage '%s'",
             test_vsr_bin(), backup, fresh, db2, storage2);
    int restore_rc = test_run(cmd, out, sizeof out);
    CHECK_INT(0, restore_rc);
    if (restore_rc != 0) fprintf(stderr, "  %s\n", out);
    /* Not again into what is no longer empty, unless --force. */
    CHECK_INT(2, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "not empty") != NULL);
    char forced[8300];
    snprintf(forced, sizeof forced, "%s --force", cmd);
    CHECK_INT(0, test_run(forced, out, sizeof out));

    CHECK_INT(VSR_OK, store_open(&restored, db2, NULL, &error));
    CHECK_INT(VSR_OK, blob_open(&blob2, storage2, &error));
    if (!restored || !blob2) goto done;
    struct store_counts counts;
    CHECK_INT(VSR_OK, store_counts(restored, &counts, &error));
    CHECK_INT(jobs_in_backup, counts.jobs);
    CHECK_INT(1, counts.keys);
    CHECK_INT(1, counts.uploads);
    struct job got_job;
    struct upload got_upload;
    CHECK_INT(1, store_job_get(restored, key.id, job.id, &got_job, &error));
    CHECK_INT(JOB_SUCCEEDED, got_job.state);
    CHECK_STR(job.output_blob, got_job.output_blob);
    CHECK_INT(1, store_upload_get(restored, key.id, up.id, &got_upload, &error));
    CHECK(blob_equals_file(blob2, up.blob, input));
    CHECK(blob_equals_file(blob2, job.output_blob, result));

    /* The restored service serves the old result to the old key. */
    if (api_start(&api, fresh, db2, storage2, restored, blob2, "") != 0) goto done;
    char url[300];
    snprintf(url, sizeof url, "%s/api/v1/jobs/%s/result", api.base, job.id);
    struct bytes body = {0};
    CHECK_INT(200, http("GET", url, token, &body));
    struct bytes want = {0};
    struct vsr_error ignored = {0};
    blob_get(blob, job.output_blob, to_bytes, &want, &ignored);
    CHECK(body.len == want.len && want.len > 0 && memcmp(body.data, want.data, want.len) == 0);
    free(body.data);
    free(want.data);
    api_stop(&api);

    /* A damaged backup is refused, by --verify and by restore. */
    char damaged[800];
    snprintf(damaged, sizeof damaged, "%s/files/%s", backup, job.output_blob);
    FILE *f = fopen(damaged, "r+b");
    if (f) {
        fputc('X', f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "%s restore --verify '%s'", test_vsr_bin(), backup);
    CHECK_INT(3, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "does not match the manifest") != NULL);
done:
    store_close(restored);
    blob_close(blob2);
    blob_close(blob);
    store_close(store);
}

/* A backup of an older schema restores, and the restore migrates it. */
TEST(service_backup_older_schema) {
    char dir[256], fresh[512], db[1024], storage[1024], db2[1024], storage2[1024], backup[600];
    char token[80];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    snprintf(fresh, sizeof fresh, "%s-restored", dir); /* its own database name */
    mkdir(fresh, 0700);
    test_database_url(dir, db, sizeof db);
    test_storage_url(dir, storage, sizeof storage);
    test_database_url(fresh, db2, sizeof db2);
    test_storage_url(fresh, storage2, sizeof storage2);
    snprintf(backup, sizeof backup, "%s/old-backup", dir);
    /* SQLite's version 3 and PostgreSQL's version 2 lack the subtitles
     * column of the newest. */
    int old_version = test_on_postgres() ? 2 : 3;
    struct store_options options;
    store_options_init(&options);
    options.schema_version = old_version;
    struct store *store = NULL, *restored = NULL;
    struct blob *blob = NULL, *blob2 = NULL;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, store_open(&store, db, &options, &error));
    CHECK_INT(VSR_OK, blob_open(&blob, storage, &error));
    CHECK_INT(VSR_OK, blob_open(&blob2, storage2, &error));
    if (!store || !blob || !blob2) goto done;
    struct api_key key = {0};
    snprintf(key.name, sizeof key.name, "old");
    CHECK_INT(VSR_OK, store_key_create(store, &key, token, sizeof token, &error));
    struct backup_summary summary;
    CHECK_INT(VSR_OK, backup_create(store, blob, backup, 0, "test", &summary, &error));
    CHECK_INT(old_version, summary.counts.schema_version);
    CHECK_INT(VSR_OK, backup_verify(backup, dir, &summary, &error));
    int rc = backup_restore(backup, db2, dir, blob2, 0, &summary, &error);
    CHECK_INT(VSR_OK, rc);
    if (rc != VSR_OK) fprintf(stderr, "  %s\n", error.message);
    CHECK_INT(VSR_OK, store_open(&restored, db2, NULL, &error));
    if (!restored) goto done;
    struct store_counts counts;
    CHECK_INT(VSR_OK, store_counts(restored, &counts, &error));
    CHECK_INT(1, counts.keys);
    CHECK_AT_LEAST(old_version + 1, counts.schema_version);
    struct api_key found;
    CHECK_INT(1, store_key_authenticate(restored, token, &found, &error));
    /* The migrated store works: a job with a subtitles upload is stored. */
    struct job job = {0};
    snprintf(job.key_id, sizeof job.key_id, "%s", key.id);
    snprintf(job.type, sizeof job.type, "burn");
    snprintf(job.input_blob, sizeof job.input_blob, "uploads/none");
    snprintf(job.subtitles_upload_id, sizeof job.subtitles_upload_id, "upl_subs");
    job.max_attempts = 1;
    CHECK_INT(0, store_job_create(restored, &job, &error));
done:
    store_close(restored);
    blob_close(blob2);
    blob_close(blob);
    store_close(store);
}

/* The item lines ("KIND NAME BYTES") of a cleanup's output, sorted. */
static void item_lines(const char *out, char *lines, size_t size) {
    char copy[16384];
    snprintf(copy, sizeof copy, "%s", out);
    char *kept[256];
    int n = 0;
    for (char *line = strtok(copy, "\n"); line && n < 256; line = strtok(NULL, "\n"))
        if (!strchr(line, ':') || strncmp(line, "temp_file ", 10) == 0) {
            if (strncmp(line, "would delete", 12) != 0 && strncmp(line, "deleted", 7) != 0)
                kept[n++] = line;
        }
    for (int i = 0; i < n; i++) /* insertion sort: a handful of lines */
        for (int j = i; j > 0 && strcmp(kept[j - 1], kept[j]) > 0; j--) {
            char *t = kept[j];
            kept[j] = kept[j - 1];
            kept[j - 1] = t;
        }
    lines[0] = '\0';
    for (int i = 0; i < n; i++) {
        strncat(lines, kept[i], size - strlen(lines) - 2);
        strcat(lines, "\n");
    }
}

static void backdate(const char *path, int seconds) {
    struct timespec times[2];
    clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= seconds;
    times[1] = times[0];
    CHECK_INT(0, utimensat(AT_FDCWD, path, times, 0));
}

struct live_writer {
    struct blob *blob;
    const char *key, *path;
    volatile int stop;
    int writes;
};

/* A worker storing its result again and again while cleanup runs. */
static void *write_live(void *arg) {
    struct live_writer *w = arg;
    struct vsr_error error = {0};
    while (!w->stop)
        if (blob_put_file(w->blob, w->key, w->path, 0, &error) == VSR_OK) w->writes++;
    return NULL;
}

/* Issue 26: `vsr cleanup` had no dry run, never looked for stored files no
 * row names (folder or bucket), nor for rows whose files are gone. Now
 * --dry-run lists exactly what --execute deletes, and nothing live goes,
 * also while a worker writes. */
TEST(service_cleanup_dry_run_execute) {
    SLOW_TEST();
    char dir[256], db[1024], storage[1024], cmd[8192], out[16384], small[600], work[600];
    char dry[8192], done_lines[8192], token[80], name[700];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    test_database_url(dir, db, sizeof db);
    test_storage_url(dir, storage, sizeof storage);
    snprintf(small, sizeof small, "%s/small.bin", dir);
    snprintf(work, sizeof work, "%s/work", dir);
    random_file(small, 1000);
    mkdir(work, 0700);
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    if (test_open_backends(db, storage, &store, &blob) < 0) goto done;
    struct api_key key = {0};
    snprintf(key.name, sizeof key.name, "cleanup");
    CHECK_INT(VSR_OK, store_key_create(store, &key, token, sizeof token, &error));
    /* Expired: a job finished 2 s ago with a retention of 1.8 s. */
    struct upload old_up, live_up, gone_up;
    struct job old_job;
    make_upload(store, blob, key.id, "old", small, 1000, &old_up);
    make_succeeded_job(store, blob, key.id, &old_up, small, &old_job);
    /* Orphans: files no row names. */
    CHECK_INT(VSR_OK, blob_put_file(blob, "results/job_0badc0de.mp4", small, 0, &error));
    CHECK_INT(VSR_OK, blob_put_file(blob, "uploads/upl_stray", small, 0, &error));
    /* A row whose file is gone. */
    make_upload(store, blob, key.id, "gone", NULL, 1000, &gone_up);
    usleep(2100 * 1000);
    /* Live: a new upload, and a job a worker holds whose result is being
     * stored before the row names it. */
    make_upload(store, blob, key.id, "live", small, 1000, &live_up);
    struct job live = {0}, claimed;
    snprintf(live.key_id, sizeof live.key_id, "%s", key.id);
    snprintf(live.type, sizeof live.type, "remove");
    snprintf(live.upload_id, sizeof live.upload_id, "%s", live_up.id);
    snprintf(live.input_blob, sizeof live.input_blob, "%s", live_up.blob);
    live.max_attempts = 3;
    CHECK_INT(0, store_job_create(store, &live, &error));
    CHECK_INT(1, store_job_claim(store, "live-worker", 600000, &claimed, &error));
    char live_result[STORE_NAME_SIZE];
    snprintf(live_result, sizeof live_result, "results/%s.mp4", claimed.id);
    /* Temporaries: a crashed job's copy (folder work files exist on both
     * stores), and the live job's own, both untouched for two minutes. */
    snprintf(name, sizeof name, "%s/job_00dead00.input", work);
    random_file(name, 500);
    backdate(name, 120);
    snprintf(name, sizeof name, "%s/%s.input", work, claimed.id);
    random_file(name, 500);
    backdate(name, 120);

    struct live_writer writer = {.blob = blob, .key = live_result, .path = small};
    pthread_t writer_thread;
    CHECK_INT(0, pthread_create(&writer_thread, NULL, write_live, &writer));
    snprintf(cmd, sizeof cmd,
             "%s cleanup --dry-run --orphan-minutes 0 --retention-hours 0.0005"
             " --data-dir %s --database '%s' --storage '%s'",
             test_vsr_bin(), dir, db, storage);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    item_lines(out, dry, sizeof dry);
    CHECK(strstr(out, "orphan_file: 2 files, 2000 bytes") != NULL);
    CHECK(strstr(out, "missing_file: 1 files") != NULL);
    CHECK(strstr(out, "temp_file: 1 files, 500 bytes") != NULL);
    if (!strstr(out, "orphan_file: 2 files")) fprintf(stderr, "  %s\n", out);
    char expect[600];
    snprintf(expect, sizeof expect, "expired_result %s 1000\n", old_job.output_blob);
    CHECK(strstr(dry, expect) != NULL);
    snprintf(expect, sizeof expect, "expired_input %s 1000\n", old_up.blob);
    CHECK(strstr(dry, expect) != NULL);
    CHECK(strstr(dry, "orphan_file results/job_0badc0de.mp4 1000\n") != NULL);
    CHECK(strstr(dry, "orphan_file uploads/upl_stray 1000\n") != NULL);
    snprintf(expect, sizeof expect, "missing_file %s 0\n", gone_up.blob);
    CHECK(strstr(dry, expect) != NULL);
    CHECK(strstr(dry, "temp_file work/job_00dead00.input 500\n") != NULL);
    CHECK(strstr(dry, live_up.blob) == NULL);
    CHECK(strstr(dry, claimed.id) == NULL);
    /* The dry run deleted nothing. */
    int64_t size = 0;
    CHECK_INT(1, blob_stat(blob, "uploads/upl_stray", &size, &error));

    snprintf(cmd, sizeof cmd,
             "%s cleanup --execute --orphan-minutes 0 --retention-hours 0.0005"
             " --data-dir %s --database '%s' --storage '%s'",
             test_vsr_bin(), dir, db, storage);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    item_lines(out, done_lines, sizeof done_lines);
    CHECK_STR(dry, done_lines);
    writer.stop = 1;
    pthread_join(writer_thread, NULL);
    CHECK_AT_LEAST(1, writer.writes);

    CHECK_INT(0, blob_stat(blob, "uploads/upl_stray", &size, &error));
    CHECK_INT(0, blob_stat(blob, "results/job_0badc0de.mp4", &size, &error));
    CHECK_INT(0, blob_stat(blob, old_job.output_blob, &size, &error));
    CHECK_INT(1, blob_stat(blob, live_up.blob, &size, &error));
    CHECK_INT(1, blob_stat(blob, live_result, &size, &error));
    snprintf(name, sizeof name, "%s/%s.input", work, claimed.id);
    CHECK_INT(0, access(name, F_OK));
    struct upload got;
    CHECK_INT(1, store_upload_get(store, key.id, gone_up.id, &got, &error));
    CHECK(got.purged_at > 0);
    struct job got_job;
    CHECK_INT(1, store_job_get(store, NULL, old_job.id, &got_job, &error));
    CHECK(got_job.purged_at > 0);
    /* Idempotent: nothing more to delete. */
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "deleted 0 files, marked 0 rows") != NULL);
done:
    blob_close(blob);
    store_close(store);
}

/* Issue 26: there was no daily maintenance endpoint. POST
 * /api/v1/cron/daily answers 401 without VSR_CRON_SECRET, runs once with
 * it, and a second run while one holds the lock (another process: the
 * CLI, or a second server) does nothing. */
TEST(http_cron_daily) {
    char dir[256], db[1024], storage[1024], url[300], cmd[8192], out[4096];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    test_database_url(dir, db, sizeof db);
    test_storage_url(dir, storage, sizeof storage);
    struct store *store = NULL, *other = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    struct api api = {0};
    CHECK_INT(VSR_OK, store_open(&store, db, NULL, &error));
    CHECK_INT(VSR_OK, store_open(&other, db, NULL, &error));
    CHECK_INT(VSR_OK, blob_open(&blob, storage, &error));
    if (!store || !other || !blob) goto done;
    if (api_start(&api, dir, db, storage, store, blob, "cron-s3cret") != 0) goto done;
    snprintf(url, sizeof url, "%s/api/v1/cron/daily", api.base);
    struct bytes body = {0};
    CHECK_INT(401, http("POST", url, NULL, &body));
    free(body.data);
    body = (struct bytes){0};
    CHECK_INT(401, http("POST", url, "cron-s3cre", &body));
    free(body.data);
    body = (struct bytes){0};
    CHECK_INT(401, http("POST", url, "vsr_0123", &body));
    free(body.data);
    body = (struct bytes){0};
    CHECK_INT(200, http("POST", url, "cron-s3cret", &body));
    CHECK(body.data && strstr(body.data, "\"ran\":true") != NULL);
    CHECK(body.data && strstr(body.data, "\"orphan_file\"") != NULL);
    if (body.data && !strstr(body.data, "\"ran\":true")) fprintf(stderr, "  %s\n", body.data);
    free(body.data);
    body = (struct bytes){0};
    /* Another store (as another process would) holds the lock: the call
     * runs nothing, and neither does `vsr cron daily`. */
    CHECK_INT(1, store_maintenance_lock(other, 1, &error));
    CHECK_INT(409, http("POST", url, "cron-s3cret", &body));
    CHECK(body.data && strstr(body.data, "maintenance_running") != NULL);
    free(body.data);
    body = (struct bytes){0};
    snprintf(cmd, sizeof cmd, "%s cron daily --data-dir %s --database '%s' --storage '%s'",
             test_vsr_bin(), dir, db, storage);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "\"ran\":false") != NULL);
    CHECK_INT(1, store_maintenance_lock(other, 0, &error));
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "\"ran\":true") != NULL);
    if (!strstr(out, "\"ran\":true")) fprintf(stderr, "  %s\n", out);
    CHECK_INT(200, http("POST", url, "cron-s3cret", &body));
    free(body.data);
    api_stop(&api);
done:
    blob_close(blob);
    store_close(other);
    store_close(store);
}
