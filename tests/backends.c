/* backends.c: which job store and file store the service tests run on. By
 * default SQLite and a folder inside the test's scratch folder; with
 * VSR_TEST_DB=postgres://... every scratch folder gets its own fresh
 * database on that server (created here), and with VSR_TEST_STORAGE=s3://...
 * its own key prefix in that bucket, so tests never see each other's data. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "blob/blob.h"
#include "jobs/store.h"
#include "test.h"
#include "vsr.h"

/* "vsr-test-AbC123" -> "vsr_test_abc123": a valid unquoted identifier. */
static void scratch_name(const char *dir, char *out, size_t size) {
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    size_t n = 0;
    for (; *base && n + 1 < size; base++)
        out[n++] = isalnum((unsigned char)*base) ? (char)tolower((unsigned char)*base) : '_';
    out[n] = '\0';
}

/* URL with its database name replaced by NAME. */
static void with_database(const char *url, const char *name, char *out, size_t size) {
    const char *host = strstr(url, "://");
    const char *slash = host ? strchr(host + 3, '/') : NULL;
    const char *query = strchr(url, '?');
    size_t head = slash ? (size_t)(slash - url) : query ? (size_t)(query - url) : strlen(url);
    snprintf(out, size, "%.*s/%s%s", (int)head, url, name, query ? query : "");
}

int test_on_postgres(void) {
    const char *url = getenv("VSR_TEST_DB");
    return url && (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0);
}

int test_on_s3(void) {
    const char *url = getenv("VSR_TEST_STORAGE");
    return url && strncmp(url, "s3://", 5) == 0;
}

void test_database_url(const char *dir, char *out, size_t size) {
    if (!test_on_postgres()) {
        snprintf(out, size, "%s/vsr.db", dir);
        return;
    }
    const char *server = getenv("VSR_TEST_DB");
    char name[64];
    scratch_name(dir, name, sizeof name);
    with_database(server, name, out, size);
    /* Created on first use; "already exists" on later calls is fine. */
    PGconn *conn = PQconnectdb(server);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "  VSR_TEST_DB %s: %s", server, PQerrorMessage(conn));
        test_failures++;
    } else {
        char sql[128];
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
        PGresult *res = PQexec(conn, sql);
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (PQresultStatus(res) != PGRES_COMMAND_OK && !(state && strcmp(state, "42P04") == 0)) {
            fprintf(stderr, "  %s: %s", sql, PQerrorMessage(conn));
            test_failures++;
        }
        PQclear(res);
    }
    PQfinish(conn);
}

void test_storage_url(const char *dir, char *out, size_t size) {
    if (!test_on_s3()) {
        snprintf(out, size, "%s/blobs", dir);
        return;
    }
    /* s3://BUCKET?query -> s3://BUCKET/PREFIX?query */
    const char *url = getenv("VSR_TEST_STORAGE");
    const char *query = strchr(url, '?');
    size_t head = query ? (size_t)(query - url) : strlen(url);
    while (head > 5 && url[head - 1] == '/')
        head--;
    char name[64];
    scratch_name(dir, name, sizeof name);
    snprintf(out, size, "%.*s/%s%s", (int)head, url, name, query ? query : "");
}

void test_backend_args(const char *dir, char *out, size_t size) {
    char db[1024], storage[1024];
    test_database_url(dir, db, sizeof db);
    test_storage_url(dir, storage, sizeof storage);
    snprintf(out, size, "--database '%s' --storage '%s'", db, storage);
}

/* PostgreSQL: the database named in URL stops (or resumes) taking
 * connections, and its open ones are cut, as when the server goes away. */
static void postgres_allow(const char *url, int allow) {
    const char *name = strrchr(url, '/') + 1;
    char sql[256];
    PGconn *admin = PQconnectdb(getenv("VSR_TEST_DB"));
    if (PQstatus(admin) != CONNECTION_OK) test_failures++;
    snprintf(sql, sizeof sql, "ALTER DATABASE %.60s ALLOW_CONNECTIONS %s", name,
             allow ? "true" : "false");
    PQclear(PQexec(admin, sql));
    if (!allow) {
        snprintf(sql, sizeof sql,
                 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%.60s'",
                 name);
        PQclear(PQexec(admin, sql));
    }
    PQfinish(admin);
}

void test_database_break(const char *url) {
    if (test_on_postgres()) {
        postgres_allow(url, 0);
        return;
    }
    /* SQLite: the file replaced by text (pooled connections would not notice
     * a plain removal). */
    char moved[1200];
    snprintf(moved, sizeof moved, "%s.moved", url);
    if (rename(url, moved) != 0) test_failures++;
    FILE *f = fopen(url, "w");
    if (f) {
        fputs("this is not a database, but long enough to have a header of some sort\n", f);
        fclose(f);
    }
}

void test_database_restore(const char *url) {
    if (test_on_postgres()) {
        postgres_allow(url, 1);
        return;
    }
    char moved[1200];
    snprintf(moved, sizeof moved, "%s.moved", url);
    if (rename(moved, url) != 0) test_failures++;
}

int test_open_backends(const char *db, const char *storage, struct store **store,
                       struct blob **blob) {
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, store_open(store, db, NULL, &error));
    if (!*store) {
        fprintf(stderr, "  store %s: %s\n", db, error.message);
        return -1;
    }
    CHECK_INT(VSR_OK, blob_open(blob, storage, &error));
    if (!*blob) {
        fprintf(stderr, "  file store %s: %s\n", storage, error.message);
        return -1;
    }
    return 0;
}
