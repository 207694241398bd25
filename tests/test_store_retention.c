/* test_store_retention.c: which stored files retention may delete, on a real
 * database (SQLite, or PostgreSQL when VSR_TEST_DB is set): a burn or replace
 * job's subtitle upload lives as long as its newest job, found through the
 * jobs' subtitles_upload_id column; and the migration that added that column
 * fills it in for jobs an older vsr stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "jobs/store.h"
#include "test.h"
#include "util/ids.h"

#define HOUR_MS (3600 * 1000LL)

/* The schema version each backend had before subtitles_upload_id. */
#define SQLITE_VERSION_BEFORE 3
#define PG_VERSION_BEFORE     2

/* Opens the store at URL, migrated no further than SCHEMA_VERSION (0: the
 * latest). */
static struct store *open_at(const char *url, int schema_version) {
    struct store_options options;
    store_options_init(&options);
    options.schema_version = schema_version;
    struct store *store = NULL;
    struct vsr_error error = {0};
    int rc = store_open(&store, url, &options, &error);
    if (rc != VSR_OK) fprintf(stderr, "  store_open: %s\n", error.message);
    CHECK_INT(VSR_OK, rc);
    return store;
}

static int count_row(void *rows, int columns, char **values, char **names) {
    (void)columns, (void)values, (void)names;
    ++*(int *)rows;
    return 0;
}

/* Runs SQL on the database at URL past the store, as an older vsr or an
 * operator would: the rows it returned, or -1 (and the message in MESSAGE). */
static int run_sql(const char *url, const char *sql, char *message, size_t size) {
    int rows = -1;
    message[0] = '\0';
    if (test_on_postgres()) {
        PGconn *conn = PQconnectdb(url);
        PGresult *res = PQexec(conn, sql);
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
            rows = PQntuples(res);
        else
            snprintf(message, size, "%s", PQerrorMessage(conn));
        PQclear(res);
        PQfinish(conn);
        return rows;
    }
    sqlite3 *db = NULL;
    int count = 0;
    if (sqlite3_open(url, &db) == SQLITE_OK &&
        sqlite3_exec(db, sql, count_row, &count, NULL) == SQLITE_OK)
        rows = count;
    else
        snprintf(message, size, "%s", db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return rows;
}

/* A ready upload of key_a whose upload URL expired an hour ago, so that
 * retention deletes it at once unless a job uses it. */
static void add_upload(struct store *store, const char *id, const char *file_name) {
    struct upload up = {0};
    struct vsr_error error = {0};
    int64_t now = ids_now_ms();
    snprintf(up.id, sizeof up.id, "%s", id);
    snprintf(up.key_id, sizeof up.key_id, "key_a");
    snprintf(up.file_name, sizeof up.file_name, "%s", file_name);
    snprintf(up.mime_type, sizeof up.mime_type,
             strstr(file_name, ".srt") ? "application/x-subrip" : "video/mp4");
    snprintf(up.blob, sizeof up.blob, "uploads/%s", id);
    up.declared_size = up.size = 1000;
    up.state = UPLOAD_READY;
    up.created_at = now - 2 * HOUR_MS;
    up.expires_at = now - HOUR_MS;
    CHECK_INT(VSR_OK, store_upload_create(store, &up, &error));
}

static void add_caption_job(struct store *store, const char *type, const char *video,
                            const char *subtitles, const char *options, struct job *job) {
    struct vsr_error error = {0};
    memset(job, 0, sizeof *job);
    snprintf(job->key_id, sizeof job->key_id, "key_a");
    snprintf(job->type, sizeof job->type, "%s", type);
    snprintf(job->upload_id, sizeof job->upload_id, "%s", video);
    snprintf(job->input_blob, sizeof job->input_blob, "uploads/%s", video);
    snprintf(job->options, sizeof job->options, "%s", options);
    snprintf(job->subtitles_upload_id, sizeof job->subtitles_upload_id, "%s", subtitles);
    job->max_attempts = 1;
    CHECK_INT(0, store_job_create(store, job, &error));
}

/* The ids retention may delete as of NOW with a one-hour retention, each
 * followed by a space: "upl_a upl_b results/job_x ". */
static const char *expired(struct store *store, int64_t now, char *out, size_t size) {
    struct expired_file files[32];
    int count = 0;
    struct vsr_error error = {0};
    out[0] = '\0';
    CHECK_INT(VSR_OK, store_expired_files(store, now - HOUR_MS, now - 10 * 60 * 1000LL, files, 32,
                                          &count, &error));
    for (int i = 0; i < count; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s ",
                 files[i].is_upload ? files[i].owner_id : files[i].blob);
    }
    return out;
}

/* "upl_x" followed by a space is in LIST. */
static int listed(const char *list, const char *id) {
    char word[64];
    snprintf(word, sizeof word, "%s ", id);
    for (const char *p = strstr(list, word); p; p = strstr(p + 1, word))
        if (p == list || p[-1] == ' ') return 1;
    return 0;
}

static void finish(struct store *store, const char *id, const char *result) {
    struct job claimed;
    struct vsr_error error = {0};
    CHECK_INT(1, store_job_claim(store, "w1", 60000, &claimed, &error));
    CHECK_STR(id, claimed.id);
    struct job_finish done = {.state = JOB_SUCCEEDED, .output_blob = result};
    CHECK_INT(1, store_job_finish(store, id, "w1", &done, &error));
}

/* A subtitle upload stays while any job using it is queued, running or
 * finished less than the retention ago, and goes with the last of them;
 * JSON options with spaces ("subtitles_upload_id": "...") count too, since
 * the link is the column the API fills, not the options' text. */
TEST(store_retention_subtitle_uploads) {
    char url[512], list[1024];
    test_database_url(test_tmpdir(), url, sizeof url);
    struct store *store = open_at(url, 0);
    if (!store) return;
    struct vsr_error error = {0};
    add_upload(store, "upl_video1", "clip1.mp4");
    add_upload(store, "upl_subs", "captions.srt");
    add_upload(store, "upl_unused", "other.srt");
    struct job burn, replace, got;
    add_caption_job(store, "burn", "upl_video1", "upl_subs",
                    "{\"subtitles_upload_id\": \"upl_subs\", \"style\": \"classic\"}", &burn);
    CHECK_INT(1, store_job_get(store, NULL, burn.id, &got, &error));
    CHECK_STR("upl_subs", got.subtitles_upload_id);
    CHECK_STR("upl_subs", burn.subtitles_upload_id); /* the row create returned */

    /* Queued: only the upload no job uses goes. */
    int64_t now = ids_now_ms();
    expired(store, now, list, sizeof list);
    CHECK_STR("upl_unused ", list);

    /* Finished just now: still young. */
    finish(store, burn.id, "results/burn.mp4");
    expired(store, now, list, sizeof list);
    CHECK_STR("upl_unused ", list);

    /* A replace job uses the same subtitles: two hours on, the burn job's
     * result and video go, the subtitles stay for the queued job. */
    add_upload(store, "upl_video2", "clip2.mp4");
    add_caption_job(store, "replace", "upl_video2", "upl_subs",
                    "{\"subtitles_upload_id\":\"upl_subs\"}", &replace);
    expired(store, now + 2 * HOUR_MS, list, sizeof list);
    CHECK(listed(list, "results/burn.mp4"));
    CHECK(listed(list, "upl_video1"));
    CHECK(listed(list, "upl_unused"));
    CHECK(!listed(list, "upl_subs"));
    CHECK(!listed(list, "upl_video2"));

    /* Once that job is over and old too, the subtitles go with it. */
    struct job canceled;
    CHECK_INT(1, store_job_cancel(store, "key_a", replace.id, &canceled, &error));
    CHECK_INT(JOB_CANCELED, canceled.state);
    expired(store, now, list, sizeof list);
    CHECK(!listed(list, "upl_subs"));
    expired(store, now + 2 * HOUR_MS, list, sizeof list);
    CHECK(listed(list, "upl_subs"));
    CHECK(listed(list, "upl_video2"));
    store_close(store);
}

/* A database as the previous vsr left it (schema before subtitles_upload_id)
 * holding burn and replace jobs whose options name subtitle uploads, and a
 * removal job: reopening migrates it, the column is filled in from the
 * options (for jobs the previous vsr inserts afterwards too), and retention
 * keeps the subtitles while the jobs are young. */
TEST(store_migration_backfills_subtitles) {
    char url[512], list[1024], message[512];
    test_database_url(test_tmpdir(), url, sizeof url);
    struct store *old =
        open_at(url, test_on_postgres() ? PG_VERSION_BEFORE : SQLITE_VERSION_BEFORE);
    if (!old) return;
    store_close(old);
    /* The uploads as the old vsr wrote them: its columns only (this vsr's
     * statements name columns of later versions). */
    char sql[2048];
    int64_t now = ids_now_ms();
    const char *uploads[3][3] = {{"upl_video", "clip.mp4", "video/mp4"},
                                 {"upl_subs", "captions.srt", "application/x-subrip"},
                                 {"upl_subs2", "spaced.srt", "application/x-subrip"}};
    for (int i = 0; i < 3; i++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO uploads(id, key_id, file_name, mime_type, declared_size, size, blob,"
                 " state, created_at, expires_at) VALUES ('%s', 'key_a', '%s', '%s', 1000, 1000,"
                 " 'uploads/%s', 1, %lld, %lld)",
                 uploads[i][0], uploads[i][1], uploads[i][2], uploads[i][0],
                 (long long)(now - 2 * HOUR_MS), (long long)(now - HOUR_MS));
        CHECK_INT(0, run_sql(url, sql, message, sizeof message));
        if (message[0]) fprintf(stderr, "  inserting old uploads: %s\n", message);
    }

    /* The old schema has no such column... */
    CHECK_INT(-1, run_sql(url, "SELECT subtitles_upload_id FROM jobs", message, sizeof message));
    CHECK(strstr(message, "subtitles_upload_id") != NULL);
    /* ...and the old vsr wrote jobs with its columns only. */
    snprintf(sql, sizeof sql,
             "INSERT INTO jobs(id, key_id, type, state, upload_id, input_blob, options,"
             " max_attempts, created_at, updated_at) VALUES"
             " ('job_burn', 'key_a', 'burn', 'queued', 'upl_video', 'uploads/upl_video',"
             "  '{\"subtitles_upload_id\":\"upl_subs\",\"style\":\"classic\"}', 1, %lld, %lld),"
             " ('job_replace', 'key_a', 'replace', 'queued', 'upl_video', 'uploads/upl_video',"
             "  '{ \"size\": 24, \"subtitles_upload_id\" : \"upl_subs2\" }', 1, %lld, %lld),"
             " ('job_remove', 'key_a', 'remove', 'queued', 'upl_video', 'uploads/upl_video',"
             "  '{\"crf\":20}', 1, %lld, %lld)",
             (long long)now, (long long)now, (long long)now, (long long)now, (long long)now,
             (long long)now);
    CHECK_INT(0, run_sql(url, sql, message, sizeof message));
    if (message[0]) fprintf(stderr, "  inserting old jobs: %s\n", message);
    CHECK_INT(3, run_sql(url, "SELECT id FROM jobs", message, sizeof message));

    struct store *store = open_at(url, 0);
    if (!store) return;
    struct vsr_error error = {0};
    struct job got;
    CHECK_INT(1, store_job_get(store, NULL, "job_burn", &got, &error));
    CHECK_STR("upl_subs", got.subtitles_upload_id);
    CHECK_INT(1, store_job_get(store, NULL, "job_replace", &got, &error));
    CHECK_STR("upl_subs2", got.subtitles_upload_id);
    CHECK_INT(1, store_job_get(store, NULL, "job_remove", &got, &error));
    CHECK_STR("", got.subtitles_upload_id);
    /* NULL, not "", for jobs without subtitles: the index skips them. */
    CHECK_INT(1, run_sql(url,
                         "SELECT 1 FROM jobs WHERE id = 'job_remove'"
                         " AND subtitles_upload_id IS NULL",
                         message, sizeof message));

    /* During a rolling deploy the previous vsr still inserts jobs without
     * the column: the database fills it in from their options. */
    snprintf(sql, sizeof sql,
             "INSERT INTO jobs(id, key_id, type, state, upload_id, input_blob, options,"
             " max_attempts, created_at, updated_at) VALUES"
             " ('job_late', 'key_a', 'burn', 'canceled', 'upl_video', 'uploads/upl_video',"
             "  '{\"subtitles_upload_id\":\"upl_subs\"}', 1, %lld, %lld),"
             " ('job_late_remove', 'key_a', 'remove', 'canceled', 'upl_video',"
             "  'uploads/upl_video', '{}', 1, %lld, %lld)",
             (long long)now, (long long)now, (long long)now, (long long)now);
    CHECK_INT(0, run_sql(url, sql, message, sizeof message));
    if (message[0]) fprintf(stderr, "  inserting jobs as the previous vsr: %s\n", message);
    CHECK_INT(1, store_job_get(store, NULL, "job_late", &got, &error));
    CHECK_STR("upl_subs", got.subtitles_upload_id);
    CHECK_INT(1, run_sql(url,
                         "SELECT 1 FROM jobs WHERE id = 'job_late_remove'"
                         " AND subtitles_upload_id IS NULL",
                         message, sizeof message));

    /* Every upload's URL expired long ago, yet the queued jobs keep theirs. */
    expired(store, now, list, sizeof list);
    CHECK_STR("", list);
    finish(store, "job_burn", "results/job_burn.mp4");
    finish(store, "job_replace", "results/job_replace.mp4");
    finish(store, "job_remove", "results/job_remove.mp4");
    expired(store, now, list, sizeof list);
    CHECK_STR("", list);
    expired(store, now + 2 * HOUR_MS, list, sizeof list);
    CHECK(listed(list, "upl_subs"));
    CHECK(listed(list, "upl_subs2"));
    CHECK(listed(list, "upl_video"));
    CHECK(listed(list, "results/job_burn.mp4"));
    store_close(store);

    /* Opening again migrates nothing more and keeps the column. */
    store = open_at(url, 0);
    if (!store) return;
    CHECK_INT(1, store_job_get(store, NULL, "job_burn", &got, &error));
    CHECK_STR("upl_subs", got.subtitles_upload_id);
    store_close(store);
}
