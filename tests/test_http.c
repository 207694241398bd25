/* test_http.c: the job service end to end: the real HTTP server on a
 * loopback port, real SQLite and a real folder, in-process workers running
 * the real engine, driven by libcurl as the client. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>

#include "blob/blob.h"
#include "http/key_cache.h"
#include "http/server.h"
#include "jobs/store.h"
#include "media/media.h"
#include "service/config.h"
#include "service/hours.h"
#include "service/metrics.h"
#include "service/retention.h"
#include "service/webhooks.h"
#include "service/worker.h"
#include "test.h"
#include "test_media.h"
#include "util/ids.h"

struct service {
    struct service_config config;
    struct store *store;
    struct blob *blob;
    struct metrics *metrics;
    struct http_server *server;
    struct worker_pool *workers;
    char base[64];
    char token[80], other_token[80];
    struct api_key key, other_key;
    char dir[256];
};

/* Starts the service in a fresh folder with WORKERS worker threads; TWEAK,
 * when given, changes the configuration before anything starts. */
static int service_start_tweaked(struct service *s, int workers, int64_t max_request_size,
                                 void (*tweak)(struct service_config *)) {
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", test_tmpdir());
    config_init(&s->config);
    snprintf(s->config.listen, sizeof s->config.listen, "127.0.0.1:0");
    snprintf(s->config.data_dir, sizeof s->config.data_dir, "%s", s->dir);
    s->config.workers = workers;
    s->config.http_threads = 2;
    s->config.max_request_size = max_request_size;
    s->config.lease_seconds = 2;
    s->config.poll_ms = 50;
    s->config.log_requests = 0;
    test_database_url(s->dir, s->config.database_url, sizeof s->config.database_url);
    test_storage_url(s->dir, s->config.storage_url, sizeof s->config.storage_url);
    if (tweak) tweak(&s->config);
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, config_finish(&s->config, &error));
    struct store_options options;
    store_options_init(&options);
    options.backoff_base_ms = 200;
    if (store_open(&s->store, s->config.database_url, &options, &error) != VSR_OK ||
        blob_open(&s->blob, s->config.storage_url, &error) != VSR_OK ||
        !(s->metrics = metrics_new())) {
        fprintf(stderr, "  service_start: %s\n", error.message);
        test_failures++;
        return -1;
    }
    snprintf(s->key.name, sizeof s->key.name, "alice");
    snprintf(s->other_key.name, sizeof s->other_key.name, "bob");
    CHECK_INT(VSR_OK, store_key_create(s->store, &s->key, s->token, sizeof s->token, &error));
    CHECK_INT(VSR_OK, store_key_create(s->store, &s->other_key, s->other_token,
                                       sizeof s->other_token, &error));
    int rc = http_server_start(&s->server, &s->config, s->store, s->blob, s->metrics, &error);
    if (rc != VSR_OK) {
        fprintf(stderr, "  http_server_start: %s\n", error.message);
        test_failures++;
        return -1;
    }
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", http_server_port(s->server));
    if (workers > 0 && worker_pool_start(&s->workers, &s->config, s->store, s->blob, s->metrics,
                                         &error) != VSR_OK) {
        fprintf(stderr, "  worker_pool_start: %s\n", error.message);
        test_failures++;
        return -1;
    }
    return 0;
}

static int service_start(struct service *s, int workers, int64_t max_request_size) {
    return service_start_tweaked(s, workers, max_request_size, NULL);
}

static void service_stop(struct service *s) {
    if (s->workers) worker_pool_drain(s->workers, 10000);
    worker_pool_free(s->workers);
    http_server_stop(s->server);
    metrics_free(s->metrics);
    blob_close(s->blob);
    store_close(s->store);
}

struct buffer {
    char *data;
    size_t len;
};

static size_t collect(char *ptr, size_t size, size_t n, void *opaque) {
    struct buffer *b = opaque;
    char *grown = realloc(b->data, b->len + size * n + 1);
    if (!grown) return 0;
    b->data = grown;
    memcpy(b->data + b->len, ptr, size * n);
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

/* Reads a file for an upload, counting what curl asked for. */
struct source {
    FILE *file;
    size_t sent;
    size_t fake_remaining; /* when no file: bytes of 'x' to send */
};

static size_t send_bytes(char *ptr, size_t size, size_t n, void *opaque) {
    struct source *src = opaque;
    size_t want = size * n, got;
    if (src->file) {
        got = fread(ptr, 1, want, src->file);
    } else {
        got = want < src->fake_remaining ? want : src->fake_remaining;
        memset(ptr, 'x', got);
        src->fake_remaining -= got;
    }
    src->sent += got;
    return got;
}

struct response {
    long status;
    struct buffer body;
    struct buffer headers;
    json_t *json;
};

static void response_free(struct response *r) {
    free(r->body.data);
    free(r->headers.data);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* One request. BODY (JSON text) or UPLOAD (a source of UPLOAD_SIZE bytes);
 * EXTRA is one more header line or NULL. */
static void call(struct service *s, const char *method, const char *path, const char *token,
                 const char *body, struct source *upload, long long upload_size, const char *extra,
                 struct response *r) {
    memset(r, 0, sizeof *r);
    CURL *curl = curl_easy_init();
    char url[512], auth[160];
    snprintf(url, sizeof url, "%s%s", s->base, path);
    struct curl_slist *headers = NULL;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, auth);
    }
    if (extra) headers = curl_slist_append(headers, extra);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    }
    if (upload) {
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, send_bytes);
        curl_easy_setopt(curl, CURLOPT_READDATA, upload);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)upload_size);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) fprintf(stderr, "  %s %s: %s\n", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (r->body.data) r->json = json_loads(r->body.data, 0, NULL);
}

static const char *json_text(json_t *json, const char *path1, const char *path2) {
    json_t *v = json_object_get(json, path1);
    if (path2) v = json_object_get(v, path2);
    return json_string_value(v) ? json_string_value(v) : "";
}

/* Whether the response's headers hold LINE (case-insensitive). */
static int has_header(const struct response *r, const char *line) {
    size_t len = strlen(line);
    for (const char *p = r->headers.data; p && *p; p++)
        if (strncasecmp(p, line, len) == 0) return 1;
    return 0;
}

/* A 2-second 160x120 video with a burned-in line of text. */
static int make_video(const char *path) {
    return test_make_video(path, "160x120", 2);
}

/* Starts the service (see service_start) and writes a test video VIDEO in
 * its folder; on failure everything is stopped again and -1 returned. */
static int service_start_with_video(struct service *s, int workers, int64_t max_request_size,
                                    char *video, size_t video_size) {
    if (service_start(s, workers, max_request_size) != 0) return -1;
    snprintf(video, video_size, "%s/clip.mp4", s->dir);
    if (make_video(video) == 0) return 0;
    test_failures++;
    service_stop(s);
    return -1;
}

/* POST /uploads of PATH as NAME of MIME, then PUT the file; returns the
 * upload response. */
static void upload_named(struct service *s, const char *token, const char *path, const char *name,
                         const char *mime, struct response *put) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char body[512];
    snprintf(body, sizeof body, "{\"fileName\":\"%s\",\"fileSize\":%ld,\"mimeType\":\"%s\"}", name,
             size, mime);
    struct response init;
    call(s, "POST", "/api/v1/uploads", token, body, NULL, 0, NULL, &init);
    CHECK_INT(201, init.status);
    const char *url = json_text(init.json, "upload_url", NULL);
    CHECK(strstr(url, "/api/v1/uploads/upl_") != NULL);
    char put_path[256];
    snprintf(put_path, sizeof put_path, "/api/v1/uploads/%s", json_text(init.json, "id", NULL));
    struct source src = {.file = f};
    call(s, "PUT", put_path, token, NULL, &src, size, NULL, put);
    fclose(f);
    response_free(&init);
}

/* POST /uploads then PUT the video; returns the upload response. */
static void upload_file(struct service *s, const char *token, const char *path,
                        struct response *put) {
    upload_named(s, token, path, "clip.mp4", "video/mp4", put);
}

static void create_job(struct service *s, const char *token, const char *upload_id,
                       const char *idempotency, struct response *r) {
    char body[512], header[200];
    snprintf(body, sizeof body,
             "{\"type\":\"remove\",\"upload_id\":\"%s\",\"options\":{\"crf\":23,"
             "\"preset\":\"ultrafast\"}}",
             upload_id);
    snprintf(header, sizeof header, "Idempotency-Key: %s", idempotency ? idempotency : "");
    call(s, "POST", "/api/v1/jobs", token, body, NULL, 0, idempotency ? header : NULL, r);
}

/* Uploads VIDEO and queues a remove job on it; fills the ids. */
static void queue_job(struct service *s, const char *video, char *upload_id, char *job_id) {
    struct response r;
    upload_file(s, s->token, video, &r);
    CHECK_INT(200, r.status);
    snprintf(upload_id, STORE_ID_SIZE, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    create_job(s, s->token, upload_id, NULL, &r);
    CHECK_INT(202, r.status);
    snprintf(job_id, STORE_ID_SIZE, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
}

/* Polls the job until it leaves queued/processing or SECONDS pass. */
static void wait_job(struct service *s, const char *job_id, int seconds, struct response *r) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/jobs/%s", job_id);
    for (int i = 0; i < seconds * 10; i++) {
        call(s, "GET", path, s->token, NULL, NULL, 0, NULL, r);
        const char *status = json_text(r->json, "status", NULL);
        if (strcmp(status, "queued") != 0 && strcmp(status, "processing") != 0) return;
        response_free(r);
        usleep(100 * 1000);
    }
    call(s, "GET", path, s->token, NULL, NULL, 0, NULL, r);
}

TEST(http_health) {
    struct service s;
    if (service_start(&s, 0, 1 << 20) != 0) return;
    struct response r;
    call(&s, "GET", "/health/healthz", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK_STR("ok", json_text(r.json, "status", NULL));
    CHECK(has_header(&r, "X-Request-Id: req_"));
    response_free(&r);
    call(&s, "GET", "/health/readyz", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    json_t *db = json_object_get(json_object_get(r.json, "services"), "database");
    CHECK(json_is_true(json_object_get(db, "ok")));
    CHECK(json_is_integer(json_object_get(db, "latency_ms")));
    CHECK(json_is_true(
        json_object_get(json_object_get(json_object_get(r.json, "services"), "storage"), "ok")));
    response_free(&r);

    /* The database unusable: readyz says 503, healthz stays 200. */
    test_database_break(s.config.database_url);
    call(&s, "GET", "/api/health", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(503, r.status);
    CHECK_STR("unavailable", json_text(r.json, "status", NULL));
    response_free(&r);
    call(&s, "GET", "/health/healthz", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    response_free(&r);
    test_database_restore(s.config.database_url);
    call(&s, "GET", "/api/health", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    /* PostgreSQL's readiness says how much of the connection pool is lent. */
    json_t *pool =
        json_object_get(json_object_get(json_object_get(r.json, "services"), "database"), "pool");
    if (test_on_postgres())
        CHECK(json_integer_value(json_object_get(pool, "size")) == 8);
    else
        CHECK(pool == NULL);
    response_free(&r);

    call(&s, "GET", "/metrics", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK(r.body.data && strstr(r.body.data, "vsr_http_requests_total{route=\"/api/health\","
                                             "method=\"GET\",status=\"503\"} 1"));
    CHECK(r.body.data && strstr(r.body.data, "vsr_queue_jobs{state=\"queued\"} 0"));
    response_free(&r);
    call(&s, "GET", "/metrics/json", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK(json_integer_value(json_object_get(json_object_get(r.json, "errors"), "503")) == 1);
    CHECK(json_is_object(json_object_get(r.json, "queue_depth")));
    response_free(&r);
    call(&s, "GET", "/nope", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(404, r.status);
    response_free(&r);
    call(&s, "DELETE", "/health/healthz", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(405, r.status);
    response_free(&r);
    service_stop(&s);
}

TEST(http_auth_and_isolation) {
    struct service s;
    if (service_start(&s, 0, 1 << 20) != 0) return;
    struct response r;
    call(&s, "GET", "/api/v1/jobs", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(401, r.status);
    CHECK_STR("unauthorized", json_text(r.json, "error", "code"));
    CHECK(has_header(&r, "WWW-Authenticate: Bearer"));
    response_free(&r);
    call(&s, "GET", "/api/v1/jobs", "vsr_0123456789", NULL, NULL, 0, NULL, &r);
    CHECK_INT(401, r.status);
    response_free(&r);

    /* A job of alice's is invisible to bob. */
    struct job job = {0};
    struct vsr_error error = {0};
    snprintf(job.key_id, sizeof job.key_id, "%s", s.key.id);
    snprintf(job.type, sizeof job.type, "remove");
    snprintf(job.input_blob, sizeof job.input_blob, "uploads/x");
    CHECK_INT(0, store_job_create(s.store, &job, &error));
    char path[128];
    snprintf(path, sizeof path, "/api/v1/jobs/%s", job.id);
    call(&s, "GET", path, s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK_STR("queued", json_text(r.json, "status", NULL));
    CHECK_INT(0, json_integer_value(json_object_get(r.json, "queue_position")));
    response_free(&r);
    call(&s, "GET", path, s.other_token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(404, r.status);
    response_free(&r);
    call(&s, "DELETE", path, s.other_token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(404, r.status);
    response_free(&r);
    call(&s, "GET", "/api/v1/jobs", s.other_token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK_INT(0, json_array_size(json_object_get(r.json, "data")));
    response_free(&r);
    call(&s, "GET", "/api/v1/jobs?status=queued&limit=5", s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK_INT(1, json_array_size(json_object_get(r.json, "data")));
    CHECK(json_is_null(json_object_get(r.json, "next_cursor")));
    response_free(&r);
    call(&s, "GET", "/api/v1/jobs?status=bogus", s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(400, r.status);
    CHECK_STR("status", json_text(r.json, "error", "field"));
    response_free(&r);
    /* Cancel by its owner: a queued job is canceled at once. */
    call(&s, "DELETE", path, s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK_STR("canceled", json_text(r.json, "status", NULL));
    response_free(&r);
    /* A revoked key is refused once the server's cache of keys has let it
     * go (KEY_CACHE_TTL_MS). */
    CHECK_INT(1, store_key_revoke(s.store, "bob", &error));
    usleep((KEY_CACHE_TTL_MS + 100) * 1000);
    call(&s, "GET", "/api/v1/jobs", s.other_token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(401, r.status);
    response_free(&r);
    service_stop(&s);
}

/* POSTs /uploads declaring DECLARED bytes; its PUT path into PATH and its
 * id into ID (64 bytes). */
static void declare_upload(struct service *s, long long declared, char *path, size_t size,
                           char id[64]) {
    char body[200];
    struct response r;
    snprintf(body, sizeof body, "{\"fileName\":\"clip.mp4\",\"fileSize\":%lld}", declared);
    call(s, "POST", "/api/v1/uploads", s->token, body, NULL, 0, NULL, &r);
    CHECK_INT(201, r.status);
    snprintf(id, 64, "%.60s", json_text(r.json, "id", NULL));
    snprintf(path, size, "/api/v1/uploads/%s", id);
    response_free(&r);
}

/* PUTs SEND bytes of VIDEO to PATH, with a Content-Length or (CHUNKED)
 * without one; returns the status and the error code in CODE. */
static long put_bytes(struct service *s, const char *path, const char *video, long long send,
                      int chunked, char *code, size_t code_size) {
    FILE *f = fopen(video, "rb");
    struct response r;
    char *bytes = malloc((size_t)send);
    size_t got = f && bytes ? fread(bytes, 1, (size_t)send, f) : 0;
    if (f) fclose(f);
    CHECK_INT(send, (long long)got);
    /* The first SEND bytes of the file, from memory. */
    struct source src = {.file = got ? fmemopen(bytes, got, "rb") : NULL};
    call(s, "PUT", path, s->token, NULL, &src, chunked ? -1 : (long long)got, NULL, &r);
    if (src.file) fclose(src.file);
    free(bytes);
    snprintf(code, code_size, "%s", json_text(r.json, "error", "code"));
    long status = r.status;
    if (status >= 400) CHECK_STR("fileSize", json_text(r.json, "error", "field"));
    response_free(&r);
    return status;
}

/* Issue 23: an upload declared as 1,000 bytes took a 400 KB file and ended
 * ready, and a short body ended ready too. Now a PUT of any other length
 * than the declared fileSize is refused, 413 when longer and 422 when
 * shorter, with or without a Content-Length; nothing is stored, and the
 * upload stays open for a PUT of the right length. */
TEST(http_upload_size_enforced) {
    struct service s;
    char video[512], path[256], code[64], upload_id[64];
    if (service_start_with_video(&s, 0, 64 << 20, video, sizeof video) != 0) return;
    FILE *f = fopen(video, "rb");
    long long size = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fclose(f);
    }
    CHECK_AT_LEAST(2000, size);
    struct response r;

    declare_upload(&s, 1000, path, sizeof path, upload_id);
    CHECK_INT(413, put_bytes(&s, path, video, size, 0, code, sizeof code));
    CHECK_STR("file_too_large", code);
    CHECK_INT(413, put_bytes(&s, path, video, size, 1, code, sizeof code)); /* chunked */
    CHECK_STR("file_too_large", code);
    create_job(&s, s.token, upload_id, NULL, &r);
    CHECK_INT(422, r.status);
    CHECK_STR("upload_incomplete", json_text(r.json, "error", "code"));
    response_free(&r);

    declare_upload(&s, size, path, sizeof path, upload_id);
    CHECK_INT(422, put_bytes(&s, path, video, size - 100, 0, code, sizeof code));
    CHECK_STR("size_mismatch", code);
    CHECK_INT(422, put_bytes(&s, path, video, size - 100, 1, code, sizeof code));
    CHECK_STR("size_mismatch", code);
    /* The right length is still taken, and makes a job. */
    CHECK_INT(200, put_bytes(&s, path, video, size, 1, code, sizeof code));
    create_job(&s, s.token, upload_id, NULL, &r);
    CHECK_INT(202, r.status);
    response_free(&r);
    service_stop(&s);
}

TEST(http_request_validation) {
    struct service s;
    if (service_start(&s, 0, 64 * 1024) != 0) return;
    struct response r;
    /* 413 from the declared size, answered before the body is sent. */
    call(&s, "POST", "/api/v1/uploads", s.token, "{\"fileName\":\"a.mp4\",\"fileSize\":1000000000}",
         NULL, 0, NULL, &r);
    CHECK_INT(413, r.status);
    CHECK_STR("fileSize", json_text(r.json, "error", "field"));
    response_free(&r);
    call(&s, "POST", "/api/v1/uploads", s.token, "{\"fileName\":\"a.mp4\",\"fileSize\":10}", NULL,
         0, NULL, &r);
    CHECK_INT(201, r.status);
    char put_path[256];
    snprintf(put_path, sizeof put_path, "/api/v1/uploads/%s", json_text(r.json, "id", NULL));
    response_free(&r);
    struct source big = {.fake_remaining = 10 * 1024 * 1024};
    call(&s, "PUT", put_path, s.token, NULL, &big, 10 * 1024 * 1024, "Expect: 100-continue", &r);
    CHECK_INT(413, r.status);
    CHECK_STR("request_too_large", json_text(r.json, "error", "code"));
    CHECK_AT_MOST(1024 * 1024, big.sent); /* the body was not pushed through */
    response_free(&r);

    /* 400: malformed JSON, unknown fields, bad options. */
    call(&s, "POST", "/api/v1/jobs", s.token, "{\"type\":", NULL, 0, NULL, &r);
    CHECK_INT(400, r.status);
    CHECK_STR("invalid_json", json_text(r.json, "error", "code"));
    response_free(&r);
    call(&s, "POST", "/api/v1/jobs", s.token, "{\"upload_id\":\"u\",\"colour\":1}", NULL, 0, NULL,
         &r);
    CHECK_INT(400, r.status);
    CHECK_STR("colour", json_text(r.json, "error", "field"));
    response_free(&r);
    call(&s, "POST", "/api/v1/jobs", s.token, "{\"upload_id\":\"u\",\"options\":{\"crf\":99}}",
         NULL, 0, NULL, &r);
    CHECK_INT(400, r.status);
    CHECK_STR("options.crf", json_text(r.json, "error", "field"));
    response_free(&r);
    call(&s, "POST", "/api/v1/jobs", s.token,
         "{\"upload_id\":\"u\",\"options\":{\"regions\":[{\"x\":1}]}}", NULL, 0, NULL, &r);
    CHECK_INT(400, r.status);
    CHECK_STR("options.regions", json_text(r.json, "error", "field"));
    response_free(&r);
    call(&s, "POST", "/api/v1/jobs", s.token, "{\"upload_id\":\"u\",\"type\":\"paint\"}", NULL, 0,
         NULL, &r);
    CHECK_INT(400, r.status);
    CHECK_STR("type", json_text(r.json, "error", "field"));
    response_free(&r);
    /* 422: the upload does not exist (or is someone else's). */
    call(&s, "POST", "/api/v1/jobs", s.token, "{\"upload_id\":\"upl_nope\"}", NULL, 0, NULL, &r);
    CHECK_INT(422, r.status);
    CHECK_STR("upload_not_found", json_text(r.json, "error", "code"));
    response_free(&r);

    /* 422: a text file is probed and refused; a job on it is refused too. */
    char text_path[512];
    snprintf(text_path, sizeof text_path, "%s/notes.txt", s.dir);
    FILE *f = fopen(text_path, "w");
    if (f) {
        for (int i = 0; i < 100; i++)
            fputs("this is a text file, not a video\n", f);
        fclose(f);
    }
    upload_file(&s, s.token, text_path, &r);
    CHECK_INT(422, r.status);
    CHECK_STR("not_a_video", json_text(r.json, "error", "code"));
    CHECK_STR("file", json_text(r.json, "error", "field"));
    response_free(&r);
    service_stop(&s);
}

TEST(http_end_to_end) {
    SLOW_TEST();
    struct service s;
    char video[512];
    if (service_start_with_video(&s, 1, 64 << 20, video, sizeof video) != 0) return;
    struct response r;
    upload_file(&s, s.token, video, &r);
    CHECK_INT(200, r.status);
    CHECK_STR("ready", json_text(r.json, "status", NULL));
    CHECK_INT(160, json_integer_value(json_object_get(json_object_get(r.json, "media"), "width")));
    char upload_id[64];
    snprintf(upload_id, sizeof upload_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);

    /* Bob cannot use alice's upload. */
    create_job(&s, s.other_token, upload_id, NULL, &r);
    CHECK_INT(422, r.status);
    response_free(&r);

    create_job(&s, s.token, upload_id, "e2e-1", &r);
    CHECK_INT(202, r.status);
    CHECK(has_header(&r, "Location: /api/v1/jobs/job_"));
    char job_id[64];
    snprintf(job_id, sizeof job_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    /* The same Idempotency-Key gives back the same job. */
    create_job(&s, s.token, upload_id, "e2e-1", &r);
    CHECK_INT(202, r.status);
    CHECK_STR(job_id, json_text(r.json, "id", NULL));
    CHECK(has_header(&r, "Idempotent-Replayed: true"));
    response_free(&r);

    wait_job(&s, job_id, 60, &r);
    CHECK_STR("succeeded", json_text(r.json, "status", NULL));
    if (strcmp(json_text(r.json, "status", NULL), "succeeded") != 0 && r.body.data)
        fprintf(stderr, "  job: %s\n", r.body.data);
    CHECK(json_real_value(json_object_get(r.json, "progress")) == 100.0);
    CHECK_INT(1, json_integer_value(json_object_get(r.json, "attempts")));
    response_free(&r);

    char path[160];
    snprintf(path, sizeof path, "/api/v1/jobs/%s/result", job_id);
    call(&s, "GET", path, s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK(has_header(&r, "Content-Type: video/mp4"));
    CHECK(r.body.len > 1000);
    size_t full = r.body.len;
    char result_path[600];
    snprintf(result_path, sizeof result_path, "%s/result.mp4", s.dir);
    FILE *out = fopen(result_path, "wb");
    if (out) {
        fwrite(r.body.data, 1, r.body.len, out);
        fclose(out);
    }
    response_free(&r);
    struct vsr_media_info info;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, vsr_probe(result_path, &info, &error));
    CHECK_INT(160, info.width);
    call(&s, "GET", path, s.token, NULL, NULL, 0, "Range: bytes=10-19", &r);
    CHECK_INT(206, r.status);
    CHECK_INT(10, r.body.len);
    char expected_range[64];
    snprintf(expected_range, sizeof expected_range, "Content-Range: bytes 10-19/%zu", full);
    CHECK(has_header(&r, expected_range));
    response_free(&r);
    call(&s, "GET", path, s.token, NULL, NULL, 0, "Range: bytes=99999999-", &r);
    CHECK_INT(416, r.status);
    response_free(&r);
    call(&s, "GET", path, s.other_token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(404, r.status);
    response_free(&r);
    service_stop(&s);
}

TEST(http_rate_and_quota) {
    struct service s;
    if (service_start(&s, 0, 64 << 20) != 0) return;
    struct api_key limited = {0};
    char token[80];
    struct vsr_error error = {0};
    snprintf(limited.name, sizeof limited.name, "limited");
    limited.rate_per_second = 2;
    limited.jobs_per_day = 1;
    CHECK_INT(VSR_OK, store_key_create(s.store, &limited, token, sizeof token, &error));
    struct response r;
    int ok = 0, limited_count = 0;
    for (int i = 0; i < 5; i++) {
        call(&s, "GET", "/api/v1/jobs", token, NULL, NULL, 0, NULL, &r);
        if (r.status == 200) ok++;
        if (r.status == 429) {
            limited_count++;
            CHECK(has_header(&r, "Retry-After: "));
            CHECK_STR("rate", json_text(r.json, "error", "limit"));
        }
        response_free(&r);
    }
    CHECK_INT(2, ok); /* the burst */
    CHECK_INT(3, limited_count);

    /* Quota: one job per day. The first job exists already. */
    sleep(2); /* refill the bucket */
    struct job job = {0};
    snprintf(job.key_id, sizeof job.key_id, "%s", limited.id);
    snprintf(job.type, sizeof job.type, "remove");
    snprintf(job.input_blob, sizeof job.input_blob, "uploads/x");
    CHECK_INT(0, store_job_create(s.store, &job, &error));
    struct upload up = {0};
    snprintf(up.id, sizeof up.id, "upl_ready");
    snprintf(up.key_id, sizeof up.key_id, "%s", limited.id);
    snprintf(up.blob, sizeof up.blob, "uploads/upl_ready");
    up.state = UPLOAD_READY;
    up.media_seconds = 10;
    up.created_at = ids_now_ms();
    up.expires_at = up.created_at + 3600 * 1000;
    CHECK_INT(VSR_OK, store_upload_create(s.store, &up, &error));
    create_job(&s, token, "upl_ready", NULL, &r);
    CHECK_INT(429, r.status);
    CHECK_STR("quota_exceeded", json_text(r.json, "error", "code"));
    CHECK_STR("jobs_per_day", json_text(r.json, "error", "limit"));
    CHECK(has_header(&r, "Retry-After: "));
    response_free(&r);
    service_stop(&s);
}

/* A worker that died (its lease runs out) loses the job to a live one, and
 * the job still succeeds once, on its second attempt. */
TEST(http_lease_reclaim) {
    struct service s;
    char video[512];
    if (service_start_with_video(&s, 0, 64 << 20, video, sizeof video) != 0) return;
    struct response r;
    char upload_id[STORE_ID_SIZE], job_id[STORE_ID_SIZE];
    queue_job(&s, video, upload_id, job_id);

    /* "dead" claims it with a 300 ms lease and never heartbeats. */
    struct job claimed;
    struct vsr_error error = {0};
    CHECK_INT(1, store_job_claim(s.store, "dead-worker", 300, &claimed, &error));
    CHECK_STR(job_id, claimed.id);
    s.config.workers = 1;
    CHECK_INT(VSR_OK, worker_pool_start(&s.workers, &s.config, s.store, s.blob, s.metrics, &error));
    wait_job(&s, job_id, 60, &r);
    CHECK_STR("succeeded", json_text(r.json, "status", NULL));
    CHECK_INT(2, json_integer_value(json_object_get(r.json, "attempts")));
    response_free(&r);
    struct job_finish late = {.state = JOB_SUCCEEDED, .output_blob = "x"};
    CHECK_INT(0, store_job_finish(s.store, job_id, "dead-worker", &late, &error));
    service_stop(&s);
}

/* ---- no server paths in client errors ---------------------------------- */

/* The work folder is a file, so every job fails writing there; one try. */
static void broken_work_folder(struct service_config *config) {
    char path[1100];
    snprintf(path, sizeof path, "%.1000s/work", config->data_dir);
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
    config->max_attempts = 1;
    config->webhook_allow_private = 1;
}

/* MESSAGE names no file of the server's (its folder, blobs/, work/). */
static void check_no_path(const char *dir, const char *message) {
    CHECK(message[0] != '\0');
    CHECK(strstr(message, dir) == NULL);
    CHECK(strstr(message, "/blobs/") == NULL);
    CHECK(strstr(message, "/work") == NULL);
    if (strstr(message, dir) || strstr(message, "/blobs/") || strstr(message, "/work"))
        fprintf(stderr, "  a server path in: %s\n", message);
}

/* Issue 23: 422 not_a_video, 503 storage_unavailable, a failed job's
 * error.message and its webhook's data.error named server paths such as
 * /.../blobs/uploads/upl_... Now they name the upload or the job. */
TEST(http_errors_name_no_paths) {
    SLOW_TEST();
    struct service s;
    char video[512], upload_id[64], path[256], job_id[64], body[512];
    if (service_start_tweaked(&s, 1, 64 << 20, broken_work_folder) != 0) return;
    snprintf(video, sizeof video, "%s/clip.mp4", s.dir);
    if (make_video(video) != 0) {
        test_failures++;
        service_stop(&s);
        return;
    }
    struct response r;
    /* 422 not_a_video */
    declare_upload(&s, 5000, path, sizeof path, upload_id);
    struct source garbage = {.fake_remaining = 5000};
    call(&s, "PUT", path, s.token, NULL, &garbage, 5000, NULL, &r);
    CHECK_INT(422, r.status);
    CHECK_STR("not_a_video", json_text(r.json, "error", "code"));
    check_no_path(s.dir, json_text(r.json, "error", "message"));
    CHECK(strstr(json_text(r.json, "error", "message"), upload_id) != NULL);
    response_free(&r);

    /* A failed job: the API's error.message and the webhook's data.error. */
    upload_file(&s, s.token, video, &r);
    CHECK_INT(200, r.status);
    snprintf(upload_id, sizeof upload_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    snprintf(body, sizeof body,
             "{\"upload_id\":\"%s\",\"webhook_url\":\"http://127.0.0.1:9/hook\","
             "\"options\":{\"preset\":\"ultrafast\"}}",
             upload_id);
    call(&s, "POST", "/api/v1/jobs", s.token, body, NULL, 0, NULL, &r);
    CHECK_INT(202, r.status);
    snprintf(job_id, sizeof job_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    wait_job(&s, job_id, 60, &r);
    CHECK_STR("failed", json_text(r.json, "status", NULL));
    check_no_path(s.dir, json_text(r.json, "error", "message"));
    CHECK(strstr(json_text(r.json, "error", "message"), job_id) != NULL);
    response_free(&r);
    struct webhook_delivery rows[2];
    int count = 0;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, store_webhook_list(s.store, job_id, rows, 2, &count, &error));
    CHECK_INT(1, count);
    json_t *payload = count == 1 ? json_loads(rows[0].payload, 0, NULL) : NULL;
    json_t *data = json_object_get(payload, "data");
    check_no_path(s.dir, json_text(json_object_get(data, "error"), "message", NULL));
    json_decref(payload);

    /* 503 storage_unavailable: the uploads folder is a file now. */
    if (!test_on_s3()) {
        char uploads[600], moved[620];
        snprintf(uploads, sizeof uploads, "%s/blobs/uploads", s.dir);
        snprintf(moved, sizeof moved, "%s.moved", uploads);
        CHECK_INT(0, rename(uploads, moved));
        FILE *f = fopen(uploads, "w");
        if (f) fclose(f);
        declare_upload(&s, 5000, path, sizeof path, upload_id);
        struct source more = {.fake_remaining = 5000};
        call(&s, "PUT", path, s.token, NULL, &more, 5000, NULL, &r);
        CHECK_INT(503, r.status);
        CHECK_STR("storage_unavailable", json_text(r.json, "error", "code"));
        check_no_path(s.dir, json_text(r.json, "error", "message"));
        CHECK(strstr(json_text(r.json, "error", "message"), upload_id) != NULL);
        response_free(&r);
    }
    service_stop(&s);
}

/* ---- a full disk ------------------------------------------------------- */

/* The work folder is a 1 MB tmpfs, filled up: a real full disk, for jobs
 * only (database and storage stay where they are). Needs the right to
 * mount (root); without it the test says skip. */
static int disk_mounted;
static int disk_min_free_mb;

static void fill_folder(const char *dir) {
    char path[1100];
    snprintf(path, sizeof path, "%.1000s/filler", dir);
    FILE *f = fopen(path, "wb");
    static char chunk[16384];
    while (f && fwrite(chunk, 1, sizeof chunk, f) == sizeof chunk) {
    }
    if (f) fclose(f);
    /* What is left is less than a chunk: the same in small writes. */
    f = fopen(path, "ab");
    while (f && fputc('x', f) != EOF && fflush(f) == 0) {
    }
    if (f) fclose(f);
}

static void full_work_folder(struct service_config *config) {
    char work[1100];
    snprintf(work, sizeof work, "%.1000s/work", config->data_dir);
    mkdir(work, 0755);
    disk_mounted = mount("tmpfs", work, "tmpfs", 0, "size=1m") == 0;
    if (disk_mounted) fill_folder(work);
    config->min_free_mb = disk_min_free_mb;
    config->max_attempts = 2;
}

/* Runs one remove job with the work folder full, frees it after FULL_MS;
 * returns the job's final state as JSON in R. */
static void job_on_full_disk(struct service *s, const char *video, int full_ms,
                             struct response *r) {
    char upload_id[64], job_id[64], work[600], filler[700], path[128];
    queue_job(s, video, upload_id, job_id);
    usleep((useconds_t)full_ms * 1000);
    snprintf(path, sizeof path, "/api/v1/jobs/%s", job_id);
    call(s, "GET", path, s->token, NULL, NULL, 0, NULL, r);
    /* Waiting, not failed: queued again (or between tries), attempts left. */
    CHECK(strcmp(json_text(r->json, "status", NULL), "queued") == 0 ||
          strcmp(json_text(r->json, "status", NULL), "processing") == 0);
    CHECK(json_is_null(json_object_get(r->json, "finished_at")));
    response_free(r);
    snprintf(work, sizeof work, "%s/work", s->dir);
    snprintf(filler, sizeof filler, "%s/filler", work);
    CHECK_INT(0, unlink(filler));
    wait_job(s, job_id, 60, r);
}

/* Issue 23: with the data folder on a small file system, accepted jobs
 * spent all their attempts within seconds and stayed failed after space was
 * freed. Now a worker claims nothing while the work folder has less than
 * VSR_MIN_FREE_MB free (readyz says so), a job that runs out of space goes
 * back to the queue with its attempt unspent and the pool waits 1, 2, 4 ...
 * s, and the job succeeds once there is room. */
TEST(http_disk_full_waits) {
    SLOW_TEST();
    struct service s;
    char video[512];
    struct response r;
    /* 1. Below VSR_MIN_FREE_MB: not claimed at all. */
    disk_min_free_mb = 1;
    if (service_start_tweaked(&s, 1, 64 << 20, full_work_folder) != 0) return;
    char work[600];
    snprintf(work, sizeof work, "%s/work", s.dir);
    if (!disk_mounted) {
        printf("  skip: cannot mount a tmpfs here (needs root)\n");
        service_stop(&s);
        return;
    }
    snprintf(video, sizeof video, "%s/clip.mp4", s.dir);
    CHECK_INT(0, make_video(video));
    call(&s, "GET", "/health/readyz", NULL, NULL, NULL, 0, NULL, &r);
    json_t *disk = json_object_get(json_object_get(r.json, "services"), "disk");
    CHECK(json_is_false(json_object_get(disk, "ok")));
    CHECK_AT_MOST(1 << 20, json_integer_value(json_object_get(disk, "free_bytes")));
    CHECK_INT(1 << 20, json_integer_value(json_object_get(disk, "min_free_bytes")));
    CHECK_STR("ok", json_text(r.json, "status", NULL)); /* the API itself is ready */
    response_free(&r);
    job_on_full_disk(&s, video, 2500, &r);
    CHECK_STR("succeeded", json_text(r.json, "status", NULL));
    CHECK_INT(1, json_integer_value(json_object_get(r.json, "attempts")));
    response_free(&r);
    call(&s, "GET", "/health/readyz", NULL, NULL, NULL, 0, NULL, &r);
    disk = json_object_get(json_object_get(r.json, "services"), "disk");
    CHECK(json_is_true(json_object_get(disk, "ok")));
    response_free(&r);
    service_stop(&s);
    umount2(work, MNT_DETACH);

    /* 2. No threshold: the job runs out of space itself, more often than
     * its 2 attempts, and still succeeds. */
    disk_min_free_mb = 0;
    if (service_start_tweaked(&s, 1, 64 << 20, full_work_folder) != 0) return;
    snprintf(work, sizeof work, "%s/work", s.dir);
    snprintf(video, sizeof video, "%s/clip.mp4", s.dir);
    CHECK_INT(0, make_video(video));
    job_on_full_disk(&s, video, 3500, &r);
    CHECK_STR("succeeded", json_text(r.json, "status", NULL));
    if (strcmp(json_text(r.json, "status", NULL), "succeeded") != 0)
        fprintf(stderr, "  job: %s\n", r.body.data ? r.body.data : "");
    CHECK_INT(1, json_integer_value(json_object_get(r.json, "attempts")));
    response_free(&r);
    service_stop(&s);
    umount2(work, MNT_DETACH);
}

/* ---- webhooks ---------------------------------------------------------- */

static void webhook_config(struct service_config *config) {
    config->webhook_backoff_ms = 200;
    config->webhook_timeout_seconds = 1;
    config->poll_ms = 50;
}

/* Reads receiver lines until one has "n": N; 0 when found. */
static int receiver_line(struct test_child *receiver, int n, json_t **out, int timeout_ms) {
    char line[4096];
    while (test_read_line(receiver, line, sizeof line, timeout_ms) == 0) {
        json_t *json = json_loads(line, 0, NULL);
        if (json_integer_value(json_object_get(json, "n")) == n) {
            *out = json;
            return 0;
        }
        json_decref(json);
    }
    *out = NULL;
    return -1;
}

static void job_webhooks(struct service *s, const char *job_id, struct response *r) {
    char path[160];
    snprintf(path, sizeof path, "/api/v1/jobs/%s/webhooks", job_id);
    call(s, "GET", path, s->token, NULL, NULL, 0, NULL, r);
}

/* A queued job canceled with a webhook_url: the job.canceled event goes to a
 * receiver built on the official `standardwebhooks` npm package, which first
 * answers 500 with Retry-After: 1 and then verifies the signature. The sender
 * is stopped after the failed attempt and a new one started (a restart): the
 * retry comes from the database. Also: the SSRF guard refuses a loopback URL
 * unless allowed, 410 Gone stops retries, and a timeout is retried. */
TEST(http_webhook_delivery) {
    SLOW_TEST();
    if (!test_have_program("node")) {
        printf("  skipped: node is not installed (scripts/install-deps.sh installs it)\n");
        return;
    }
    struct service s;
    struct test_child receiver = {0};
    struct webhook_sender *sender = NULL;
    json_t *first = NULL, *second = NULL;
    if (service_start_tweaked(&s, 0, 64 << 20, webhook_config) != 0) return;
    char cmd[512], line[256], log[512];
    snprintf(log, sizeof log, "%s/receiver.log", s.dir);
    snprintf(cmd, sizeof cmd, "exec node tests/webhook/receiver.mjs '%s' 1", s.key.webhook_secret);
    CHECK(strncmp(s.key.webhook_secret, "whsec_", 6) == 0);
    if (test_spawn(&receiver, cmd, log) != 0 ||
        test_read_line(&receiver, line, sizeof line, 20000)) {
        fprintf(stderr,
                "  the receiver did not start (run scripts/install-deps.sh for"
                " tests/webhook/node_modules); see %s\n",
                log);
        test_failures++;
        goto done;
    }
    json_t *hello = json_loads(line, 0, NULL);
    int port = (int)json_integer_value(json_object_get(hello, "port"));
    json_decref(hello);
    CHECK(port > 0);

    char video[512];
    snprintf(video, sizeof video, "%s/clip.mp4", s.dir);
    if (make_video(video) != 0) {
        test_failures++;
        goto done;
    }
    struct response r;
    upload_file(&s, s.token, video, &r);
    char upload_id[64];
    snprintf(upload_id, sizeof upload_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);

    /* The SSRF guard: a loopback receiver is refused by default. */
    char body[512];
    snprintf(body, sizeof body,
             "{\"upload_id\":\"%s\",\"webhook_url\":\"http://127.0.0.1:%d/hook\"}", upload_id,
             port);
    call(&s, "POST", "/api/v1/jobs", s.token, body, NULL, 0, NULL, &r);
    CHECK_INT(400, r.status);
    CHECK_STR("webhook_url", json_text(r.json, "error", "field"));
    response_free(&r);
    s.config.webhook_allow_private = 1; /* as VSR_WEBHOOK_ALLOW_PRIVATE=1 */
    call(&s, "POST", "/api/v1/jobs", s.token, body, NULL, 0, NULL, &r);
    CHECK_INT(202, r.status);
    char job_id[64], path[160];
    snprintf(job_id, sizeof job_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    snprintf(path, sizeof path, "/api/v1/jobs/%s", job_id);
    call(&s, "DELETE", path, s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    response_free(&r);

    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, webhook_sender_start(&sender, &s.config, s.store, s.metrics, &error));
    CHECK_INT(0, receiver_line(&receiver, 1, &first, 20000));
    CHECK_INT(500, json_integer_value(json_object_get(first, "answered")));
    webhook_sender_stop(sender); /* a restart: what is left is in the database */
    sender = NULL;
    job_webhooks(&s, job_id, &r);
    json_t *row = json_array_get(json_object_get(r.json, "data"), 0);
    CHECK_STR("pending", json_text(row, "status", NULL));
    CHECK_STR("job.canceled", json_text(row, "event", NULL));
    CHECK_INT(1, json_integer_value(json_object_get(row, "attempts")));
    CHECK_INT(500, json_integer_value(json_object_get(row, "last_status")));
    response_free(&r);

    CHECK_INT(VSR_OK, webhook_sender_start(&sender, &s.config, s.store, s.metrics, &error));
    CHECK_INT(0, receiver_line(&receiver, 2, &second, 20000));
    CHECK(json_is_true(json_object_get(second, "verified")));
    if (!json_is_true(json_object_get(second, "verified")))
        fprintf(stderr, "  receiver: %s\n", json_text(second, "error", NULL));
    CHECK_STR("job.canceled", json_text(second, "type", NULL));
    CHECK_STR(job_id, json_text(second, "job", NULL));
    CHECK(strcmp(json_text(second, "id", NULL), json_text(first, "id", NULL)) == 0);
    /* Retry-After: 1 was honoured. */
    CHECK_AT_LEAST(900, json_integer_value(json_object_get(second, "t")) -
                            json_integer_value(json_object_get(first, "t")));
    for (int i = 0; i < 50; i++) { /* the sender records the attempt after the answer */
        job_webhooks(&s, job_id, &r);
        row = json_array_get(json_object_get(r.json, "data"), 0);
        if (strcmp(json_text(row, "status", NULL), "pending") != 0) break;
        response_free(&r);
        usleep(50 * 1000);
    }
    CHECK_STR("delivered", json_text(row, "status", NULL));
    CHECK_INT(2, json_integer_value(json_object_get(row, "attempts")));
    CHECK_INT(200, json_integer_value(json_object_get(row, "last_status")));
    response_free(&r);

    /* 410 Gone stops at once; a receiver that does not answer in time is
     * retried. */
    const char *paths[2] = {"gone", "slow"};
    char ids[2][64];
    for (int k = 0; k < 2; k++) {
        snprintf(body, sizeof body,
                 "{\"upload_id\":\"%s\",\"webhook_url\":\"http://127.0.0.1:%d/%s\"}", upload_id,
                 port, paths[k]);
        call(&s, "POST", "/api/v1/jobs", s.token, body, NULL, 0, NULL, &r);
        snprintf(ids[k], sizeof ids[k], "%s", json_text(r.json, "id", NULL));
        response_free(&r);
        snprintf(path, sizeof path, "/api/v1/jobs/%s", ids[k]);
        call(&s, "DELETE", path, s.token, NULL, NULL, 0, NULL, &r);
        response_free(&r);
    }
    int gone_done = 0, slow_retried = 0;
    for (int i = 0; i < 100 && !(gone_done && slow_retried); i++) {
        usleep(100 * 1000);
        job_webhooks(&s, ids[0], &r);
        row = json_array_get(json_object_get(r.json, "data"), 0);
        if (strcmp(json_text(row, "status", NULL), "failed") == 0) {
            gone_done = 1;
            CHECK_INT(1, json_integer_value(json_object_get(row, "attempts")));
            CHECK_INT(410, json_integer_value(json_object_get(row, "last_status")));
        }
        response_free(&r);
        job_webhooks(&s, ids[1], &r);
        row = json_array_get(json_object_get(r.json, "data"), 0);
        if (json_integer_value(json_object_get(row, "attempts")) >= 2 &&
            strcmp(json_text(row, "status", NULL), "pending") == 0) {
            slow_retried = 1;
            CHECK(strstr(json_text(row, "last_error", NULL), "imeout") ||
                  strstr(json_text(row, "last_error", NULL), "timed out"));
        }
        response_free(&r);
    }
    CHECK(gone_done);
    CHECK(slow_retried);
    call(&s, "GET", "/metrics", NULL, NULL, NULL, 0, NULL, &r);
    CHECK(r.body.data && strstr(r.body.data, "vsr_webhook_deliveries_total 1\n"));
    CHECK(r.body.data && strstr(r.body.data, "vsr_webhook_given_up_total 1\n"));
    response_free(&r);
done:
    webhook_sender_stop(sender);
    json_decref(first);
    json_decref(second);
    if (receiver.pid) test_child_stop(&receiver);
    service_stop(&s);
}

/* A receiver that is down during its own deploy: it answers 500 (without
 * Retry-After) until DOWN_UNTIL_MS, then 200, and notes when each request
 * came. Built on libmicrohttpd on a loopback port, so no node is needed. */
#define DOWN_RECEIVER_MAX 32

struct down_receiver {
    struct MHD_Daemon *daemon;
    int port;
    int64_t down_until_ms;
    pthread_mutex_t lock;
    int count;
    int64_t at_ms[DOWN_RECEIVER_MAX];
    int answered[DOWN_RECEIVER_MAX];
};

static enum MHD_Result down_receiver_request(void *opaque, struct MHD_Connection *connection,
                                             const char *url, const char *method,
                                             const char *version, const char *upload_data,
                                             size_t *upload_data_size, void **request) {
    struct down_receiver *rx = opaque;
    static int started;
    if (!*request) { /* the headers: come back with the body */
        *request = &started;
        return MHD_YES;
    }
    if (*upload_data_size) { /* the body is not needed */
        *upload_data_size = 0;
        return MHD_YES;
    }
    int64_t now = ids_now_ms();
    unsigned status = now < rx->down_until_ms ? 500 : 200;
    pthread_mutex_lock(&rx->lock);
    if (rx->count < DOWN_RECEIVER_MAX) {
        rx->at_ms[rx->count] = now;
        rx->answered[rx->count] = (int)status;
        rx->count++;
    }
    pthread_mutex_unlock(&rx->lock);
    struct MHD_Response *response =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return rc;
}

static int down_receiver_start(struct down_receiver *rx, int64_t down_ms) {
    memset(rx, 0, sizeof *rx);
    pthread_mutex_init(&rx->lock, NULL);
    rx->down_until_ms = ids_now_ms() + down_ms;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rx->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, down_receiver_request, rx,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_END);
    if (!rx->daemon) return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(rx->daemon, MHD_DAEMON_INFO_BIND_PORT);
    rx->port = info ? (int)info->port : 0;
    return rx->port > 0 ? 0 : -1;
}

static void down_receiver_stop(struct down_receiver *rx) {
    if (rx->daemon) MHD_stop_daemon(rx->daemon);
    pthread_mutex_destroy(&rx->lock);
}

static void backoff_config(struct service_config *config) {
    config->webhook_backoff_ms = 200; /* 200, 400, 800, 1600 ms ... times [0.5, 1) */
    config->webhook_backoff_max_seconds = 60;
    config->webhook_max_attempts = 10;
    config->webhook_timeout_seconds = 2;
    config->webhook_allow_private = 1;
    config->poll_ms = 20;
}

/* Issue 23: a 500 without Retry-After was retried at once (libcurl reads a
 * missing Retry-After as 0), so all attempts went out within milliseconds
 * and a receiver down for a couple of seconds lost the event. Now the
 * attempts follow the configured backoff: the k-th wait is within
 * [0.5, 1) x base x 2^(k-1), and the event arrives once the receiver is up. */
TEST(http_webhook_backoff) {
    struct service s;
    struct down_receiver rx;
    struct webhook_sender *sender = NULL;
    if (service_start_tweaked(&s, 0, 1 << 20, backoff_config) != 0) return;
    if (down_receiver_start(&rx, 2500) != 0) {
        fprintf(stderr, "  the loopback receiver did not start\n");
        test_failures++;
        down_receiver_stop(&rx);
        service_stop(&s);
        return;
    }
    struct job job = {0};
    struct vsr_error error = {0};
    snprintf(job.key_id, sizeof job.key_id, "%s", s.key.id);
    snprintf(job.type, sizeof job.type, "remove");
    snprintf(job.input_blob, sizeof job.input_blob, "uploads/x");
    snprintf(job.webhook_url, sizeof job.webhook_url, "http://127.0.0.1:%d/hook", rx.port);
    CHECK_INT(0, store_job_create(s.store, &job, &error));
    char path[128];
    snprintf(path, sizeof path, "/api/v1/jobs/%s", job.id);
    struct response r;
    call(&s, "DELETE", path, s.token, NULL, NULL, 0, NULL, &r); /* job.canceled goes out */
    CHECK_INT(200, r.status);
    response_free(&r);
    CHECK_INT(VSR_OK, webhook_sender_start(&sender, &s.config, s.store, s.metrics, &error));

    json_t *row = NULL;
    for (int i = 0; i < 150; i++) { /* at most 15 s; about 3 s expected */
        usleep(100 * 1000);
        job_webhooks(&s, job.id, &r);
        row = json_array_get(json_object_get(r.json, "data"), 0);
        if (strcmp(json_text(row, "status", NULL), "pending") != 0) break;
        response_free(&r);
    }
    CHECK_STR("delivered", json_text(row, "status", NULL));
    response_free(&r);
    webhook_sender_stop(sender);

    pthread_mutex_lock(&rx.lock);
    int count = rx.count;
    CHECK_AT_LEAST(3, count); /* down for 2.5 s: several 500s first */
    CHECK_AT_MOST(8, count);  /* far from all 10 attempts */
    if (count > 0) CHECK_INT(200, rx.answered[count - 1]);
    for (int k = 1; k < count; k++) {
        int64_t gap = rx.at_ms[k] - rx.at_ms[k - 1];
        int64_t full = (int64_t)200 << (k - 1);
        printf("  attempt %d after %lld ms (backoff %lld-%lld ms)\n", k + 1, (long long)gap,
               (long long)full / 2, (long long)full);
        CHECK_AT_LEAST(full / 2 - 20, gap);
        /* The sender polls every 20 ms; the rest is slack for a busy host. */
        CHECK_AT_MOST(full + 500, gap);
    }
    pthread_mutex_unlock(&rx.lock);
    down_receiver_stop(&rx);
    service_stop(&s);
}

/* ---- documentation, metrics format, admin ------------------------------ */

/* Writes the body of R to DIR/NAME; returns the path in PATH. */
static void save_body(const struct response *r, const char *dir, const char *name, char *path,
                      size_t size) {
    snprintf(path, size, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (r->body.data) fwrite(r->body.data, 1, r->body.len, f);
    fclose(f);
}

/* /openapi.json describes every route and passes `redocly lint` (the
 * @redocly/cli npm package in tests/webhook); /docs renders it. */
TEST(http_openapi) {
    SLOW_TEST();
    struct service s;
    if (service_start(&s, 0, 1 << 20) != 0) return;
    struct response r;
    call(&s, "GET", "/openapi.json", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK(has_header(&r, "Content-Type: application/json"));
    CHECK_STR("3.1.0", json_text(r.json, "openapi", NULL));
    json_t *paths = json_object_get(r.json, "paths");
    const char *routes[] = {"/health/healthz",
                            "/health/readyz",
                            "/api/health",
                            "/metrics",
                            "/metrics/json",
                            "/openapi.json",
                            "/docs",
                            "/api/v1/uploads",
                            "/api/v1/uploads/{id}",
                            "/api/v1/jobs",
                            "/api/v1/jobs/{id}",
                            "/api/v1/jobs/{id}/result",
                            "/api/v1/jobs/{id}/webhooks",
                            "/api/v1/jobs/{id}/events",
                            "/",
                            "/api/v1/admin/jobs"};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!json_object_get(paths, routes[i])) {
            fprintf(stderr, "  %s is not in /openapi.json\n", routes[i]);
            test_failures++;
        }
    CHECK(json_object_get(json_object_get(json_object_get(r.json, "components"), "securitySchemes"),
                          "bearer") != NULL);
    char path[512];
    save_body(&r, s.dir, "openapi.json", path, sizeof path);
    response_free(&r);
    call(&s, "GET", "/docs", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK(has_header(&r, "Content-Type: text/html"));
    CHECK(r.body.data && strstr(r.body.data, "fetch('/openapi.json')"));
    response_free(&r);
    if (!test_have_program("node")) {
        printf("  skipped the lint: node is not installed (scripts/install-deps.sh)\n");
    } else {
        char cmd[1024], out[8192];
        snprintf(cmd, sizeof cmd,
                 "cd tests/webhook && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true"
                 " timeout 180 npx --no-install redocly lint --format=stylish '%s'",
                 path);
        int rc = test_run(cmd, out, sizeof out);
        CHECK_INT(0, rc);
        if (rc != 0) fprintf(stderr, "  redocly lint:\n%s\n", out);
        CHECK(strstr(out, "You have") == NULL); /* "You have N warnings" */
    }
    service_stop(&s);
}

/* `promtool check metrics` (Debian's prometheus package) accepts /metrics
 * after traffic of every kind. */
TEST(http_metrics_promtool) {
    struct service s;
    if (service_start(&s, 0, 1 << 20) != 0) return;
    struct response r;
    const char *warmup[] = {"/health/healthz", "/health/readyz", "/nope", "/api/v1/jobs",
                            "/metrics/json"};
    for (size_t i = 0; i < sizeof warmup / sizeof warmup[0]; i++) {
        call(&s, "GET", warmup[i], i == 3 ? s.token : NULL, NULL, NULL, 0, NULL, &r);
        response_free(&r);
    }
    call(&s, "GET", "/metrics", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK(has_header(&r, "Content-Type: text/plain; version=0.0.4"));
    char path[512];
    save_body(&r, s.dir, "metrics.txt", path, sizeof path);
    response_free(&r);
    if (!test_have_program("promtool")) {
        printf("  skipped: promtool is not installed (scripts/install-deps.sh)\n");
    } else {
        char cmd[1024], out[8192];
        snprintf(cmd, sizeof cmd, "promtool check metrics < '%s'", path);
        int rc = test_run(cmd, out, sizeof out);
        CHECK_INT(0, rc);
        if (rc != 0 || out[0]) fprintf(stderr, "  promtool:\n%s\n", out);
        CHECK(out[0] == '\0'); /* no lint remarks either */
    }
    service_stop(&s);
}

/* The value of the sample NAME (no labels) in a Prometheus text; -1 when
 * it is absent. */
static double metric_value(const char *text, const char *name) {
    size_t n = strlen(name);
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line += line ? 1 : 0)
        if (strncmp(line, name, n) == 0 && line[n] == ' ') return strtod(line + n + 1, NULL);
    return -1;
}

/* /metrics gives the work folder's free and total bytes, which the disk
 * usage alert (deploy/prometheus/vsr-rules.yml) divides; they agree with
 * statvfs of the same folder. */
TEST(http_metrics_disk) {
    struct service s;
    if (service_start(&s, 0, 1 << 20) != 0) return;
    struct response r;
    call(&s, "GET", "/metrics", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    double free_bytes = r.body.data ? metric_value(r.body.data, "vsr_disk_free_bytes") : -1;
    double size_bytes = r.body.data ? metric_value(r.body.data, "vsr_disk_size_bytes") : -1;
    response_free(&r);
    struct statvfs st;
    CHECK_INT(0, statvfs(s.dir, &st));
    CHECK_INT((long long)st.f_blocks * (long long)st.f_frsize, (long long)size_bytes);
    CHECK_AT_LEAST(1, free_bytes);
    CHECK_AT_MOST(size_bytes, free_bytes);
    service_stop(&s);
}

static void admin_metrics(struct service_config *config) {
    config->metrics_admin_only = 1;
}

/* Operator endpoints need an admin key: every key's jobs at
 * /api/v1/admin/jobs, and /metrics when VSR_METRICS_ADMIN_ONLY=1. */
TEST(http_admin_role) {
    struct service s;
    if (service_start_tweaked(&s, 0, 1 << 20, admin_metrics) != 0) return;
    struct api_key admin = {0};
    char admin_token[80];
    struct vsr_error error = {0};
    snprintf(admin.name, sizeof admin.name, "ops");
    admin.admin = 1;
    CHECK_INT(VSR_OK, store_key_create(s.store, &admin, admin_token, sizeof admin_token, &error));
    for (int k = 0; k < 2; k++) {
        struct job job = {0};
        snprintf(job.key_id, sizeof job.key_id, "%s", k ? s.other_key.id : s.key.id);
        snprintf(job.type, sizeof job.type, "remove");
        snprintf(job.input_blob, sizeof job.input_blob, "uploads/x");
        CHECK_INT(0, store_job_create(s.store, &job, &error));
    }
    struct response r;
    call(&s, "GET", "/api/v1/admin/jobs", s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(403, r.status);
    CHECK_STR("admin_only", json_text(r.json, "error", "code"));
    response_free(&r);
    call(&s, "GET", "/api/v1/admin/jobs", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(401, r.status);
    response_free(&r);
    call(&s, "GET", "/api/v1/admin/jobs?limit=10", admin_token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK_INT(2, json_array_size(json_object_get(r.json, "data")));
    CHECK(strcmp(json_text(json_array_get(json_object_get(r.json, "data"), 0), "key_id", NULL),
                 s.other_key.id) == 0);
    response_free(&r);
    call(&s, "GET", "/api/v1/jobs", s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(1, json_array_size(json_object_get(r.json, "data")));
    response_free(&r);
    call(&s, "GET", "/metrics", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(401, r.status);
    response_free(&r);
    call(&s, "GET", "/metrics/json", s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(403, r.status);
    response_free(&r);
    call(&s, "GET", "/metrics", admin_token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    response_free(&r);
    call(&s, "GET", "/health/healthz", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status); /* health checks stay open */
    response_free(&r);
    service_stop(&s);
}

/* ---- uploads: truncated files, memory ---------------------------------- */

/* A truncated mp4 is refused with 422 whether its index (moov) came last
 * (cut off) or first (the samples it points to are missing). */
TEST(http_truncated_mp4) {
    struct service s;
    if (service_start(&s, 0, 64 << 20) != 0) return;
    char video[512], faststart[600], cut[2][700], cmd[2048], out[1024];
    snprintf(video, sizeof video, "%s/clip.mp4", s.dir);
    snprintf(faststart, sizeof faststart, "%s/faststart.mp4", s.dir);
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -y -i '%s' -c copy -movflags +faststart '%s'", video,
             faststart);
    if (make_video(video) != 0 || test_run(cmd, out, sizeof out) != 0) {
        test_failures++;
        service_stop(&s);
        return;
    }
    const char *sources[2] = {video, faststart};
    for (int k = 0; k < 2; k++) {
        snprintf(cut[k], sizeof cut[k], "%s.cut.mp4", sources[k]);
        snprintf(cmd, sizeof cmd, "head -c $(( $(stat -c%%s '%s') / 2 )) '%s' > '%s'", sources[k],
                 sources[k], cut[k]);
        CHECK_INT(0, test_run(cmd, out, sizeof out));
        struct response r;
        upload_file(&s, s.token, cut[k], &r);
        CHECK_INT(422, r.status);
        CHECK_STR("not_a_video", json_text(r.json, "error", "code"));
        CHECK(strstr(json_text(r.json, "error", "message"), "truncated") != NULL);
        response_free(&r);
    }
    service_stop(&s);
}

static long status_kb(pid_t pid, const char *field) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    size_t len = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0 && line[len] == ':')
            kb = strtol(line + len + 1, NULL, 10);
    if (f) fclose(f);
    return kb;
}

/* A big PUT streams to storage: `vsr serve` (a process of its own) takes
 * 1 GiB while its peak RSS stays under 100 MB. */
TEST(http_big_upload_memory) {
    SLOW_TEST();
    struct service s;
    memset(&s, 0, sizeof s);
    snprintf(s.dir, sizeof s.dir, "%s", test_tmpdir());
    char cmd[4096], out[4096], line[1024], backend[2200];
    test_backend_args(s.dir, backend, sizeof backend);
    snprintf(cmd, sizeof cmd, "%s keys create --name big --data-dir %s %s", test_vsr_bin(), s.dir,
             backend);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    const char *token = strstr(out, "token: ");
    if (!token) {
        test_failures++;
        return;
    }
    snprintf(s.token, sizeof s.token, "%.52s", token + 7);
    /* ASan's quarantine would count freed memory as resident: keep it small
     * so the figure is the server's own. */
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=8 exec %s serve --data-dir %s %s"
             " --listen 127.0.0.1:0 --workers 0 --log-requests 0 --max-request-size 4294967296"
             " 2>&1",
             test_vsr_bin(), s.dir, backend);
    struct test_child serve;
    int port = 0;
    CHECK_INT(0, test_spawn(&serve, cmd, NULL));
    while (test_read_line(&serve, line, sizeof line, 20000) == 0) {
        json_t *json = json_loads(line, 0, NULL);
        if (strcmp(json_text(json, "event", NULL), "serve.started") == 0)
            port = (int)json_integer_value(json_object_get(json, "port"));
        json_decref(json);
        if (port) break;
    }
    CHECK(port > 0);
    if (!port) {
        test_child_stop(&serve);
        return;
    }
    snprintf(s.base, sizeof s.base, "http://127.0.0.1:%d", port);
    long before = status_kb(serve.pid, "VmRSS");
    const long long size = 1LL << 30;
    char body[256];
    snprintf(body, sizeof body, "{\"fileName\":\"big.mp4\",\"fileSize\":%lld}", size);
    struct response r;
    call(&s, "POST", "/api/v1/uploads", s.token, body, NULL, 0, NULL, &r);
    CHECK_INT(201, r.status);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/uploads/%s", json_text(r.json, "id", NULL));
    response_free(&r);
    struct source garbage = {.fake_remaining = (size_t)size};
    call(&s, "PUT", path, s.token, NULL, &garbage, size, NULL, &r);
    CHECK_INT(422, r.status); /* all of it arrived, and it is no video */
    CHECK_INT(size, (long long)garbage.sent);
    response_free(&r);
    /* The same through a multipart POST /api/v1/jobs (libcurl's mime API),
     * 256 MiB: the form parser streams the file part too. */
    const long long form_size = 256LL << 20;
    struct source form_garbage = {.fake_remaining = (size_t)form_size};
    CURL *curl = curl_easy_init();
    curl_mime *mime = curl_mime_init(curl);
    curl_mimepart *part = curl_mime_addpart(mime);
    curl_mime_name(part, "file");
    curl_mime_filename(part, "big.mp4");
    curl_mime_data_cb(part, (curl_off_t)form_size, send_bytes, NULL, NULL, &form_garbage);
    part = curl_mime_addpart(mime);
    curl_mime_name(part, "type");
    curl_mime_data(part, "remove", CURL_ZERO_TERMINATED);
    char url[256], auth[160];
    snprintf(url, sizeof url, "%s/api/v1/jobs", s.base);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s.token);
    struct curl_slist *headers = curl_slist_append(NULL, auth);
    struct buffer form_body = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &form_body);
    CHECK_INT(CURLE_OK, curl_easy_perform(curl));
    long form_status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &form_status);
    CHECK_INT(422, form_status);
    CHECK(form_body.data && strstr(form_body.data, "\"field\":\"file\""));
    CHECK_INT(form_size, (long long)form_garbage.sent);
    free(form_body.data);
    curl_slist_free_all(headers);
    curl_mime_free(mime);
    curl_easy_cleanup(curl);
    long peak = status_kb(serve.pid, "VmHWM");
    printf("  1 GiB upload and 256 MiB form: server RSS %ld kB before, peak %ld kB\n", before,
           peak);
    CHECK(peak > 0);
    CHECK_AT_MOST(100 * 1000, peak);
    CHECK_INT(0, test_child_stop(&serve));
}

/* ---- business hours ---------------------------------------------------- */

static char closed_hours[32];

static void business_hours_config(struct service_config *config) {
    config->business_hours_only = 1;
    snprintf(config->business_hours, sizeof config->business_hours, "%s", closed_hours);
}

static time_t local_time_at(int hour, int minute) {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

/* VSR_BUSINESS_HOURS_ONLY=1 with hours that exclude now: a worker claims
 * nothing and the job stays queued; with hours that include now it runs. */
TEST(http_business_hours) {
    int open = 0, close = 0;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, hours_parse("09:00-17:30", &open, &close, &error));
    CHECK_INT(540, open);
    CHECK_INT(1050, close);
    CHECK_INT(VSR_E_USAGE, hours_parse("9-5", &open, &close, &error));
    CHECK_INT(VSR_E_USAGE, hours_parse("09:00-25:00", &open, &close, &error));
    CHECK(hours_is_open(540, 1050, local_time_at(9, 0)));
    CHECK(!hours_is_open(540, 1050, local_time_at(17, 30)));
    CHECK(hours_is_open(22 * 60, 6 * 60, local_time_at(23, 30))); /* wraps past midnight */
    CHECK(hours_is_open(22 * 60, 6 * 60, local_time_at(5, 59)));
    CHECK(!hours_is_open(22 * 60, 6 * 60, local_time_at(12, 0)));
    CHECK_INT(VSR_E_USAGE, hours_apply_timezone("Mars/Olympus_Mons", &error));

    /* Hours that begin two hours from now and last one hour. */
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    int minute = tm.tm_hour * 60 + tm.tm_min;
    int from = (minute + 120) % 1440, to = (minute + 180) % 1440;
    snprintf(closed_hours, sizeof closed_hours, "%02d:%02d-%02d:%02d", from / 60, from % 60,
             to / 60, to % 60);
    struct service s;
    if (service_start_tweaked(&s, 1, 64 << 20, business_hours_config) != 0) return;
    char video[512];
    snprintf(video, sizeof video, "%s/clip.mp4", s.dir);
    if (make_video(video) != 0) {
        test_failures++;
        service_stop(&s);
        return;
    }
    struct response r;
    upload_file(&s, s.token, video, &r);
    char upload_id[64], job_id[64], path[128];
    snprintf(upload_id, sizeof upload_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    create_job(&s, s.token, upload_id, NULL, &r);
    CHECK_INT(202, r.status);
    snprintf(job_id, sizeof job_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    usleep(1500 * 1000); /* 30 polls of the worker */
    snprintf(path, sizeof path, "/api/v1/jobs/%s", job_id);
    call(&s, "GET", path, s.token, NULL, NULL, 0, NULL, &r);
    CHECK_STR("queued", json_text(r.json, "status", NULL));
    CHECK_INT(0, json_integer_value(json_object_get(r.json, "attempts")));
    response_free(&r);

    /* Opening hours now: a new pool (as after a config change) runs it. */
    worker_pool_drain(s.workers, 1000);
    worker_pool_free(s.workers);
    s.workers = NULL;
    from = (minute + 1440 - 60) % 1440;
    snprintf(s.config.business_hours, sizeof s.config.business_hours, "%02d:%02d-%02d:%02d",
             from / 60, from % 60, to / 60, to % 60);
    CHECK_INT(VSR_OK, config_finish(&s.config, &error));
    CHECK_INT(VSR_OK, worker_pool_start(&s.workers, &s.config, s.store, s.blob, s.metrics, &error));
    wait_job(&s, job_id, 60, &r);
    CHECK_STR("succeeded", json_text(r.json, "status", NULL));
    response_free(&r);
    service_stop(&s);
}

/* ---- retention --------------------------------------------------------- */

static int upload_blob_exists(struct service *s, const char *upload_id) {
    char key[STORE_NAME_SIZE];
    int64_t size = 0;
    struct vsr_error error = {0};
    snprintf(key, sizeof key, "uploads/%s", upload_id);
    return blob_stat(s->blob, key, &size, &error);
}

/* The sweep "two hours later" with a one-hour retention: the finished job's
 * result and upload go, an upload no job used goes, the upload of a job still
 * queued stays; the job row stays and its result answers 410. */
TEST(http_retention) {
    struct service s;
    char video[512];
    if (service_start_with_video(&s, 0, 64 << 20, video, sizeof video) != 0) return;
    char upload_done[STORE_ID_SIZE], job_done[STORE_ID_SIZE];
    char upload_queued[STORE_ID_SIZE], job_queued[STORE_ID_SIZE];
    queue_job(&s, video, upload_done, job_done);
    queue_job(&s, video, upload_queued, job_queued);
    struct response r;
    upload_file(&s, s.token, video, &r);
    char upload_unused[STORE_ID_SIZE];
    snprintf(upload_unused, sizeof upload_unused, "%s", json_text(r.json, "id", NULL));
    response_free(&r);

    /* The first job runs to success through the store, as a worker would. */
    struct job claimed;
    struct vsr_error error = {0};
    CHECK_INT(1, store_job_claim(s.store, "test-worker", 60000, &claimed, &error));
    CHECK_STR(job_done, claimed.id);
    char result[STORE_NAME_SIZE];
    snprintf(result, sizeof result, "results/%s.mp4", job_done);
    CHECK_INT(VSR_OK, blob_put_file(s.blob, result, video, 0, &error));
    struct job_finish finish = {.state = JOB_SUCCEEDED, .output_blob = result};
    CHECK_INT(1, store_job_finish(s.store, job_done, "test-worker", &finish, &error));
    char path[160];
    snprintf(path, sizeof path, "/api/v1/jobs/%s/result", job_done);
    call(&s, "GET", path, s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    response_free(&r);

    int deleted = -1;
    int64_t hour = 3600 * 1000LL, now = ids_now_ms();
    CHECK_INT(VSR_OK, retention_sweep(s.store, s.blob, hour, now, &deleted, &error));
    CHECK_INT(0, deleted); /* nothing is old yet */
    CHECK_INT(VSR_OK, retention_sweep(s.store, s.blob, hour, now + 2 * hour, &deleted, &error));
    CHECK_INT(3, deleted);
    int64_t size = 0;
    CHECK_INT(0, blob_stat(s.blob, result, &size, &error));
    CHECK_INT(0, upload_blob_exists(&s, upload_done));
    CHECK_INT(0, upload_blob_exists(&s, upload_unused));
    CHECK_INT(1, upload_blob_exists(&s, upload_queued));
    CHECK_INT(VSR_OK, retention_sweep(s.store, s.blob, hour, now + 2 * hour, &deleted, &error));
    CHECK_INT(0, deleted); /* marked purged: not listed again */

    call(&s, "GET", path, s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(410, r.status);
    CHECK_STR("result_expired", json_text(r.json, "error", "code"));
    CHECK(strstr(json_text(r.json, "error", "message"), "VSR_RETENTION_HOURS") != NULL);
    response_free(&r);
    snprintf(path, sizeof path, "/api/v1/jobs/%s", job_done);
    call(&s, "GET", path, s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK_STR("succeeded", json_text(r.json, "status", NULL));
    CHECK(json_is_string(json_object_get(r.json, "purged_at")));
    CHECK(json_object_get(r.json, "result_url") == NULL);
    response_free(&r);
    /* A purged upload cannot start a new job. */
    create_job(&s, s.token, upload_unused, NULL, &r);
    CHECK_INT(422, r.status);
    CHECK_STR("upload_expired", json_text(r.json, "error", "code"));
    response_free(&r);
    service_stop(&s);
}

/* ---- multipart jobs ---------------------------------------------------- */

/* POST /api/v1/jobs as a form with the curl program: FORM holds its -F
 * arguments (and any -H). Fills R's status and JSON; returns the bytes curl
 * sent. */
static long long post_form(struct service *s, const char *token, const char *form,
                           struct response *r) {
    char cmd[4096], out[512], body_path[600];
    memset(r, 0, sizeof *r);
    snprintf(body_path, sizeof body_path, "%s/form-response.json", s->dir);
    snprintf(cmd, sizeof cmd,
             "curl -s -o '%s' -w '%%{http_code} %%{size_upload}' -D '%s.headers'"
             " -H 'Authorization: Bearer %s' %s %s/api/v1/jobs",
             body_path, body_path, token, form, s->base);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    long long sent = 0;
    sscanf(out, "%ld %lld", &r->status, &sent);
    r->json = json_load_file(body_path, 0, NULL);
    char headers_path[700];
    snprintf(headers_path, sizeof headers_path, "%s.headers", body_path);
    FILE *f = fopen(headers_path, "r");
    if (f) {
        char chunk[4096];
        size_t n = fread(chunk, 1, sizeof chunk - 1, f);
        chunk[n] = '\0';
        collect(chunk, 1, n, &r->headers);
        fclose(f);
    }
    return sent;
}

/* A simple client's one request: the video, its type and options as a form
 * (the real curl program, -F), then the usual polling and download. Bad
 * forms get 400, a text file 422, a body over MAX_REQUEST_SIZE 413 before
 * curl sends it (Expect: 100-continue), a key over its quota 429, and a
 * retried request with the same Idempotency-Key the same job. */
TEST(http_multipart_job) {
    if (!test_have_program("curl")) {
        fprintf(stderr, "  curl is missing: run scripts/install-deps.sh\n");
        test_failures++;
        return;
    }
    struct service s;
    if (service_start(&s, 1, 4 << 20) != 0) return;
    char video[512], text[512], big[512], form[2048], cmd[1200], out[256];
    snprintf(video, sizeof video, "%s/clip.mp4", s.dir);
    snprintf(text, sizeof text, "%s/notes.txt", s.dir);
    snprintf(big, sizeof big, "%s/big.mp4", s.dir);
    snprintf(cmd, sizeof cmd, "echo 'not a video at all' > '%s' && truncate -s 10M '%s'", text,
             big);
    if (make_video(video) != 0 || test_run(cmd, out, sizeof out) != 0) {
        test_failures++;
        service_stop(&s);
        return;
    }
    struct response r;
    snprintf(form, sizeof form,
             "-H 'Idempotency-Key: form-1' -F 'file=@%s;type=video/mp4' -F type=remove"
             " -F 'options={\"crf\":23,\"preset\":\"ultrafast\"}'",
             video);
    post_form(&s, s.token, form, &r);
    CHECK_INT(202, r.status);
    char job_id[64];
    snprintf(job_id, sizeof job_id, "%s", json_text(r.json, "id", NULL));
    CHECK(strncmp(job_id, "job_", 4) == 0);
    CHECK(json_integer_value(json_object_get(json_object_get(r.json, "options"), "crf")) == 23);
    response_free(&r);
    post_form(&s, s.token, form, &r); /* a retry: the same job */
    CHECK_INT(202, r.status);
    CHECK_STR(job_id, json_text(r.json, "id", NULL));
    CHECK(has_header(&r, "Idempotent-Replayed: true"));
    response_free(&r);

    wait_job(&s, job_id, 60, &r);
    CHECK_STR("succeeded", json_text(r.json, "status", NULL));
    response_free(&r);
    char path[160];
    snprintf(path, sizeof path, "/api/v1/jobs/%s/result", job_id);
    call(&s, "GET", path, s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK(r.body.len > 1000);
    response_free(&r);

    snprintf(form, sizeof form, "-F 'file=@%s;type=text/plain'", text);
    post_form(&s, s.token, form, &r);
    CHECK_INT(422, r.status);
    CHECK_STR("not_a_video", json_text(r.json, "error", "code"));
    CHECK_STR("file", json_text(r.json, "error", "field"));
    response_free(&r);
    snprintf(form, sizeof form, "-F 'file=@%s' -F colour=red", video);
    post_form(&s, s.token, form, &r);
    CHECK_INT(400, r.status);
    CHECK_STR("colour", json_text(r.json, "error", "field"));
    response_free(&r);
    snprintf(form, sizeof form, "-F 'file=@%s' -F 'options={\"crf\":'", video);
    post_form(&s, s.token, form, &r);
    CHECK_INT(400, r.status);
    CHECK_STR("invalid_json", json_text(r.json, "error", "code"));
    response_free(&r);
    snprintf(form, sizeof form, "-F 'file=@%s' -F 'options={\"crf\":99}'", video);
    post_form(&s, s.token, form, &r);
    CHECK_INT(400, r.status);
    CHECK_STR("options.crf", json_text(r.json, "error", "field"));
    response_free(&r);
    snprintf(form, sizeof form, "-F 'file=@%s' -F 'file=@%s'", video, video);
    post_form(&s, s.token, form, &r);
    CHECK_INT(400, r.status);
    CHECK(strstr(json_text(r.json, "error", "message"), "one file") != NULL);
    response_free(&r);
    post_form(&s, s.token, "-F type=remove", &r);
    CHECK_INT(400, r.status);
    CHECK_STR("file", json_text(r.json, "error", "field"));
    response_free(&r);
    snprintf(form, sizeof form, "-F 'file=@%s'", big);
    long long sent = post_form(&s, s.token, form, &r);
    CHECK_INT(413, r.status);
    CHECK_STR("request_too_large", json_text(r.json, "error", "code"));
    CHECK_AT_MOST(1 << 20, sent); /* curl waited for 100 Continue and got 413 */
    response_free(&r);
    /* Quotas apply as to JSON requests: one job a day, then 429. */
    struct api_key limited = {.jobs_per_day = 1};
    char limited_token[80];
    struct vsr_error error = {0};
    snprintf(limited.name, sizeof limited.name, "one-a-day");
    CHECK_INT(VSR_OK,
              store_key_create(s.store, &limited, limited_token, sizeof limited_token, &error));
    snprintf(form, sizeof form, "-F 'file=@%s' -F 'options={\"preset\":\"ultrafast\"}'", video);
    post_form(&s, limited_token, form, &r);
    CHECK_INT(202, r.status);
    response_free(&r);
    post_form(&s, limited_token, form, &r);
    CHECK_INT(429, r.status);
    CHECK_STR("quota_exceeded", json_text(r.json, "error", "code"));
    CHECK(has_header(&r, "Retry-After: "));
    response_free(&r);
    service_stop(&s);
}

/* ---- API correctness and consistency (issue 23, items 9 and 12) -------- */

/* POST /api/v1/jobs with BODY (JSON text) and an optional Idempotency-Key. */
static void post_job(struct service *s, const char *body, const char *idempotency,
                     struct response *r) {
    char header[200];
    snprintf(header, sizeof header, "Idempotency-Key: %s", idempotency ? idempotency : "");
    call(s, "POST", "/api/v1/jobs", s->token, body, NULL, 0, idempotency ? header : NULL, r);
}

/* Uploads VIDEO and copies the upload's id into ID (STORE_ID_SIZE). */
static void upload_id_of(struct service *s, const char *video, char *id) {
    struct response r;
    upload_file(s, s->token, video, &r);
    CHECK_INT(200, r.status);
    snprintf(id, STORE_ID_SIZE, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
}

/* An Idempotency-Key replays its job only for the same request: the same
 * key with another body is 422 idempotency_key_reused, and no job is made. */
TEST(http_idempotency_key_other_body) {
    struct service s;
    char video[512], upload[STORE_ID_SIZE], body[512], job_id[STORE_ID_SIZE];
    if (service_start_with_video(&s, 0, 64 << 20, video, sizeof video) != 0) return;
    upload_id_of(&s, video, upload);
    struct response r;
    snprintf(body, sizeof body, "{\"upload_id\":\"%s\",\"options\":{\"crf\":23}}", upload);
    post_job(&s, body, "same-key", &r);
    CHECK_INT(202, r.status);
    snprintf(job_id, sizeof job_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    /* The same body again, its keys in another order: the same job. */
    snprintf(body, sizeof body, "{\"options\":{\"crf\":23},\"upload_id\":\"%s\"}", upload);
    post_job(&s, body, "same-key", &r);
    CHECK_INT(202, r.status);
    CHECK_STR(job_id, json_text(r.json, "id", NULL));
    CHECK(has_header(&r, "Idempotent-Replayed: true"));
    response_free(&r);
    const char *others[] = {
        "{\"upload_id\":\"%s\",\"options\":{\"crf\":30}}",
        "{\"upload_id\":\"%s\",\"options\":{\"crf\":23,\"regions\":[{\"x\":0,\"y\":0,\"w\":8,"
        "\"h\":8}]}}",
        "{\"upload_id\":\"%s\",\"options\":{\"crf\":23,\"preset\":\"fast\"}}",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        snprintf(body, sizeof body, others[i], upload);
        post_job(&s, body, "same-key", &r);
        CHECK_INT(422, r.status);
        CHECK_STR("idempotency_key_reused", json_text(r.json, "error", "code"));
        CHECK_STR("Idempotency-Key", json_text(r.json, "error", "field"));
        response_free(&r);
    }
    call(&s, "GET", "/api/v1/jobs", s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(1, json_array_size(json_object_get(r.json, "data")));
    response_free(&r);
    service_stop(&s);
}

/* A region outside the uploaded video's frame is refused when the job is
 * made (the upload's size is known), with the engine's own message. */
TEST(http_region_outside_frame) {
    struct service s;
    char video[512], upload[STORE_ID_SIZE], body[512];
    if (service_start_with_video(&s, 0, 64 << 20, video, sizeof video) != 0) return;
    upload_id_of(&s, video, upload);
    struct response r;
    const char *regions[] = {"{\"x\":100,\"y\":100,\"w\":100,\"h\":50}",
                             "{\"x\":0,\"y\":0,\"w\":161,\"h\":10}",
                             "{\"x\":0,\"y\":120,\"w\":10,\"h\":1}"};
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"upload_id\":\"%s\",\"options\":{\"regions\":[{\"x\":0,\"y\":0,\"w\":8,"
                 "\"h\":8},%s]}}",
                 upload, regions[i]);
        post_job(&s, body, NULL, &r);
        CHECK_INT(422, r.status);
        CHECK_STR("region_outside_frame", json_text(r.json, "error", "code"));
        CHECK_STR("options.regions", json_text(r.json, "error", "field"));
        CHECK(strstr(json_text(r.json, "error", "message"), "160x120") != NULL);
        response_free(&r);
    }
    /* The whole frame is inside it. */
    snprintf(body, sizeof body,
             "{\"upload_id\":\"%s\",\"options\":{\"regions\":[{\"x\":0,\"y\":0,\"w\":160,"
             "\"h\":120}]}}",
             upload);
    post_job(&s, body, NULL, &r);
    CHECK_INT(202, r.status);
    response_free(&r);
    service_stop(&s);
}

/* The x264 CRF range has one owner, the engine: the CLI and the API give
 * the same verdict on the same value, with the same words. */
TEST(http_crf_range_one_rule) {
    struct service s;
    char video[512], upload[STORE_ID_SIZE], body[512];
    if (service_start_with_video(&s, 0, 64 << 20, video, sizeof video) != 0) return;
    upload_id_of(&s, video, upload);
    struct response r;
    const int values[] = {0, 1, 51, 52, -1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        snprintf(body, sizeof body, "{\"upload_id\":\"%s\",\"options\":{\"crf\":%d}}", upload,
                 values[i]);
        post_job(&s, body, NULL, &r);
        char cmd[1400], out[4096];
        /* No such input: a CRF the CLI takes gets exit 3 (input), not 2. */
        snprintf(cmd, sizeof cmd, "'%s' remove '%s/missing.mp4' '%s/out.mp4' --crf %d",
                 test_vsr_bin(), s.dir, s.dir, values[i]);
        int rc = test_run(cmd, out, sizeof out);
        int api_ok = r.status == 202, cli_ok = rc != 2;
        if (api_ok != cli_ok) {
            fprintf(stderr, "  crf %d: the API answered %ld, the CLI exited %d (%s)\n", values[i],
                    r.status, rc, out);
            test_failures++;
        }
        if (!api_ok) {
            CHECK_INT(400, r.status);
            CHECK_STR("options.crf", json_text(r.json, "error", "field"));
            /* The API says "options.crf: " + the engine's message, the CLI
             * "vsr: --crf: " + the same message. */
            const char *message = strstr(json_text(r.json, "error", "message"), ": ");
            CHECK(message && strstr(out, message + 2) != NULL);
            if (message && !strstr(out, message + 2))
                fprintf(stderr, "  API: %s\n  CLI: %s\n", message + 2, out);
        }
        response_free(&r);
    }
    service_stop(&s);
}

/* A video too small to encode (1x1) is refused at its upload, with the
 * minimum size in the message, instead of failing in a worker. */
TEST(http_tiny_video_refused) {
    struct service s;
    if (service_start(&s, 0, 64 << 20) != 0) return;
    char tiny[512], cmd[1200], out[2048];
    snprintf(tiny, sizeof tiny, "%s/tiny.mkv", s.dir);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -f lavfi -i color=c=red:size=2x2:rate=10 -t 1 -vf scale=1:1"
             " -pix_fmt gray -c:v ffv1 '%s'",
             tiny);
    if (test_run(cmd, out, sizeof out) != 0) {
        fprintf(stderr, "  ffmpeg: %s\n", out);
        test_failures++;
        service_stop(&s);
        return;
    }
    struct response r;
    upload_named(&s, s.token, tiny, "tiny.mkv", "video/x-matroska", &r);
    CHECK_INT(422, r.status);
    CHECK_STR("too_small", json_text(r.json, "error", "code"));
    CHECK_STR("file", json_text(r.json, "error", "field"));
    CHECK(strstr(json_text(r.json, "error", "message"), "1x1") != NULL);
    CHECK(strstr(json_text(r.json, "error", "message"), "16x16") != NULL);
    response_free(&r);
    service_stop(&s);
}

/* Whether any upload that no job uses still has its file stored. */
static int unused_upload_files(struct service *s) {
    struct expired_file files[32];
    int count = 0, stored = 0;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, store_expired_files(s->store, 0, INT64_MAX, files, 32, &count, &error));
    for (int i = 0; i < count; i++) {
        int64_t size = 0;
        if (files[i].is_upload && blob_stat(s->blob, files[i].blob, &size, &error) == 1) {
            fprintf(stderr, "  %s is stored for no job\n", files[i].owner_id);
            stored++;
        }
    }
    return stored;
}

/* A multipart request refused after its file part was stored (a bad
 * webhook_url, bad options, a region outside the frame) keeps nothing. */
TEST(http_multipart_refused_keeps_nothing) {
    if (!test_have_program("curl")) {
        fprintf(stderr, "  curl is missing: run scripts/install-deps.sh\n");
        test_failures++;
        return;
    }
    struct service s;
    char video[512], form[2048];
    if (service_start_with_video(&s, 0, 64 << 20, video, sizeof video) != 0) return;
    struct response r;
    const char *forms[] = {
        "-F 'file=@%s;type=video/mp4' -F webhook_url=ftp://example.com/hook",
        "-F 'file=@%s;type=video/mp4' -F 'options={\"crf\":'",
        "-F 'file=@%s;type=video/mp4' -F 'options={\"regions\":[{\"x\":150,\"y\":0,\"w\":20,"
        "\"h\":20}]}'",
        "-F 'file=@%s;type=video/mp4' -F type=paint",
    };
    const long statuses[] = {400, 400, 422, 400};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(form, sizeof form, forms[i], video);
        post_form(&s, s.token, form, &r);
        CHECK_INT(statuses[i], r.status);
        response_free(&r);
        CHECK_INT(0, unused_upload_files(&s));
    }
    service_stop(&s);
}

/* transcribe and caption jobs need speech: a video without an audio stream
 * is refused when the job is made, not failed by a worker later. */
TEST(http_transcribe_needs_audio) {
    struct service s;
    char video[512], upload[STORE_ID_SIZE], body[512];
    if (service_start_with_video(&s, 0, 64 << 20, video, sizeof video) != 0) return;
    upload_id_of(&s, video, upload); /* test_make_video writes no audio */
    struct response r;
    const char *types[] = {"transcribe", "caption"};
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body, "{\"type\":\"%s\",\"upload_id\":\"%s\"}", types[i], upload);
        post_job(&s, body, NULL, &r);
        CHECK_INT(422, r.status);
        CHECK_STR("no_audio", json_text(r.json, "error", "code"));
        CHECK_STR("upload_id", json_text(r.json, "error", "field"));
        response_free(&r);
    }
    /* A remove job needs no audio. */
    snprintf(body, sizeof body, "{\"upload_id\":\"%s\"}", upload);
    post_job(&s, body, NULL, &r);
    CHECK_INT(202, r.status);
    response_free(&r);
    service_stop(&s);
}

/* The longest run of digits after a decimal point in TEXT. */
static int longest_fraction(const char *text) {
    int longest = 0;
    for (const char *p = text; p && *p; p++) {
        if (*p != '.' || p == text || p[-1] < '0' || p[-1] > '9') continue;
        int n = 0;
        while (p[1 + n] >= '0' && p[1 + n] <= '9')
            n++;
        if (n > longest) longest = n;
    }
    return longest;
}

/* Durations print as milliseconds, not as binary noise
 * (0.27600000000000002): no number in a job or upload has more than three
 * decimals. */
TEST(http_json_numbers_rounded) {
    struct service s;
    char video[512], upload[STORE_ID_SIZE], job_id[STORE_ID_SIZE], path[128];
    if (service_start_with_video(&s, 0, 64 << 20, video, sizeof video) != 0) return;
    queue_job(&s, video, upload, job_id);
    struct response r;
    snprintf(path, sizeof path, "/api/v1/jobs/%s", job_id);
    int worst = 0;
    for (int i = 0; i < 20; i++) {
        usleep(7000);
        call(&s, "GET", path, s.token, NULL, NULL, 0, NULL, &r);
        CHECK_INT(200, r.status);
        CHECK(
            json_is_number(json_object_get(json_object_get(r.json, "timings"), "queued_seconds")));
        int n = longest_fraction(r.body.data);
        if (n > worst) {
            worst = n;
            if (n > 3) fprintf(stderr, "  %s\n", r.body.data);
        }
        response_free(&r);
    }
    snprintf(path, sizeof path, "/api/v1/uploads/%s", upload);
    call(&s, "GET", path, s.token, NULL, NULL, 0, NULL, &r);
    if (r.status == 200) {
        int n = longest_fraction(r.body.data);
        if (n > worst) worst = n;
    }
    response_free(&r);
    CHECK_AT_MOST(3, worst);
    service_stop(&s);
}

/* /docs renders what /openapi.json says, offline: each operation's
 * parameters, request and response schemas and examples. The page's own
 * script is run by node on the served document. */
TEST(http_docs_render_spec) {
    if (!test_have_program("node")) {
        printf("  skip: node is not installed (scripts/install-deps.sh)\n");
        return;
    }
    struct service s;
    if (service_start(&s, 0, 1 << 20) != 0) return;
    struct response r;
    char spec[512], page[512], out_path[512], cmd[2400], out[256];
    call(&s, "GET", "/openapi.json", NULL, NULL, NULL, 0, NULL, &r);
    save_body(&r, s.dir, "openapi.json", spec, sizeof spec);
    response_free(&r);
    call(&s, "GET", "/docs", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK(r.body.data && !strstr(r.body.data, "src=\"http")); /* nothing from a CDN */
    save_body(&r, s.dir, "docs.html", page, sizeof page);
    response_free(&r);
    snprintf(out_path, sizeof out_path, "%s/rendered.html", s.dir);
    snprintf(cmd, sizeof cmd,
             "node -e \"const fs = require('fs');"
             " const html = fs.readFileSync('%s', 'utf8');"
             " const script = html.split('<script>')[1].split('</script>')[0];"
             " const render = new Function(script + '; return renderSpec;')();"
             " fs.writeFileSync('%s', render(JSON.parse(fs.readFileSync('%s', 'utf8'))));\"",
             page, out_path, spec);
    int rc = test_run(cmd, out, sizeof out);
    CHECK_INT(0, rc);
    if (rc != 0) fprintf(stderr, "  node: %s\n", out);
    FILE *f = fopen(out_path, "r");
    char *html = NULL;
    size_t len = 0;
    if (f) {
        html = calloc(1, 4 << 20);
        len = html ? fread(html, 1, (4 << 20) - 1, f) : 0;
        fclose(f);
    }
    CHECK(len > 1000);
    const char *expected[] = {
        "Idempotency-Key", /* a header parameter of POST /api/v1/jobs */
        "upload_id",       /* a property of the JobRequest schema */
        "bytes=0-1023",    /* the Range parameter's example */
        "fileSize",        /* a property of UploadRequest */
        "Content-Range",   /* a response header */
        "queue_position",  /* a property of the Job response */
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        if (!html || !strstr(html, expected[i])) {
            fprintf(stderr, "  /docs does not show %s\n", expected[i]);
            test_failures++;
        }
    free(html);
    service_stop(&s);
}

/* The spec documents HEAD, Content-Range, Accept-Ranges, Location and
 * /healthz, as the server answers them. */
TEST(http_openapi_headers) {
    struct service s;
    if (service_start(&s, 0, 1 << 20) != 0) return;
    struct response r;
    call(&s, "GET", "/openapi.json", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    json_t *paths = json_object_get(r.json, "paths");
    CHECK(json_object_get(paths, "/healthz") != NULL);
    json_t *result = json_object_get(paths, "/api/v1/jobs/{id}/result");
    CHECK(json_object_get(result, "head") != NULL);
    json_t *get = json_object_get(result, "get");
    json_t *ok = json_object_get(json_object_get(get, "responses"), "200");
    json_t *partial = json_object_get(json_object_get(get, "responses"), "206");
    json_t *unsatisfiable = json_object_get(json_object_get(get, "responses"), "416");
    CHECK(json_object_get(json_object_get(ok, "headers"), "Accept-Ranges") != NULL);
    CHECK(json_object_get(json_object_get(partial, "headers"), "Content-Range") != NULL);
    CHECK(json_object_get(json_object_get(partial, "headers"), "Accept-Ranges") != NULL);
    CHECK(json_object_get(json_object_get(unsatisfiable, "headers"), "Content-Range") != NULL);
    json_t *created = json_object_get(
        json_object_get(json_object_get(json_object_get(paths, "/api/v1/jobs"), "post"),
                        "responses"),
        "202");
    CHECK(json_object_get(json_object_get(created, "headers"), "Location") != NULL);
    response_free(&r);
    /* What the spec says is what the server does. */
    char cmd[300], out[64];
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' -I %s/healthz", s.base);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK_STR("200", out);
    service_stop(&s);
}

/* /metrics from the first scrape: the request-duration histogram by route
 * and method, process_start_time_seconds, vsr_build_info, and the 5xx
 * series at 0, so that an error-ratio alert is defined before any error. */
TEST(http_metrics_series) {
    struct service s;
    if (service_start(&s, 0, 1 << 20) != 0) return;
    struct response r;
    call(&s, "GET", "/metrics", NULL, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    const char *text = r.body.data ? r.body.data : "";
    CHECK(strstr(text, "\nvsr_http_responses_total{class=\"5xx\"} 0\n") != NULL);
    CHECK(strstr(text, "\nvsr_http_responses_total{class=\"2xx\"} 0\n") != NULL);
    CHECK(strstr(text, "\nvsr_build_info{version=\"") != NULL);
    const char *start = strstr(text, "\nprocess_start_time_seconds ");
    CHECK(start != NULL);
    if (start) {
        double t = strtod(start + 28, NULL);
        CHECK_AT_LEAST((double)time(NULL) - 600, t);
        CHECK_AT_MOST((double)time(NULL) + 1, t);
    }
    response_free(&r);
    call(&s, "GET", "/api/v1/jobs/job_nope", s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(404, r.status);
    response_free(&r);
    /* A request is counted once its answer is sent, which the client may
     * see first: scrape until the 404 is in (a bounded wait, not a timing). */
    for (int i = 0; i < 100; i++) {
        call(&s, "GET", "/metrics", NULL, NULL, NULL, 0, NULL, &r);
        text = r.body.data ? r.body.data : "";
        if (strstr(text, "\nvsr_http_responses_total{class=\"4xx\"} 1\n")) break;
        response_free(&r);
        usleep(20 * 1000);
    }
    text = r.body.data ? r.body.data : "";
    CHECK(strstr(text, "\nvsr_http_request_duration_seconds_count{route=\"/api/v1/jobs/{id}\","
                       "method=\"GET\"} 1\n") != NULL);
    CHECK(strstr(text, "\nvsr_http_request_duration_seconds_bucket{route=\"/metrics\","
                       "method=\"GET\",le=\"+Inf\"} ") != NULL);
    CHECK(strstr(text, "\nvsr_http_responses_total{class=\"4xx\"} 1\n") != NULL);
    CHECK(strstr(text, "\nvsr_http_responses_total{class=\"5xx\"} 0\n") != NULL);
    if (test_failures) fprintf(stderr, "%s", text);
    response_free(&r);
    service_stop(&s);
}

/* ---- the removal, scored ----------------------------------------------- */

/* The whole path a client takes, judged by the shared scorer: subtitles burned
 * into 5 s of a real clip (../shared/bench/burn-fixture.sh), uploaded, a job
 * with the default options, polled, the result downloaded, and
 * score-removal.py's PSNR inside the text area at the bar of the in-process
 * end-to-end test (test_e2e_removal.c, bottle-detection@20s: 28 dB; about
 * 38 dB measured). */
TEST(http_removal_scored) {
    SLOW_TEST();
    const char *shared = test_shared_dir();
    if (!shared) {
        printf("    skip: ../shared (or $VSR_SHARED) is absent\n");
        return;
    }
    struct service s;
    if (service_start(&s, 1, 256 << 20) != 0) return;
    char clip[400], srt[400], fixture[400], burned[500], cmd[4096], out[8192];
    snprintf(clip, sizeof clip, "%s/clip.mp4", s.dir);
    snprintf(srt, sizeof srt, "%s/subs.srt", s.dir);
    snprintf(fixture, sizeof fixture, "%s/fixture", s.dir);
    snprintf(burned, sizeof burned, "%s/burned.mp4", fixture);
    FILE *f = fopen(srt, "w");
    if (f) {
        fputs("1\n00:00:00,400 --> 00:00:02,200\nThe quick brown fox jumps.\n\n"
              "2\n00:00:02,600 --> 00:00:04,600\nOver the lazy dog, twice.\n",
              f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -ss 20 -i '%s/media/bottle-detection.mp4' -t 5 -map 0:v:0 -an"
             " -c:v libx264 -preset veryfast -crf 12 -pix_fmt yuv420p '%s' &&"
             " '%s/bench/burn-fixture.sh' '%s' '%s' 'Fontname=DejaVu Sans,Fontsize=22,"
             "PrimaryColour=&H00FFFFFF,OutlineColour=&H00000000,BorderStyle=1,Outline=2' '%s'",
             shared, clip, shared, clip, srt, fixture);
    if (test_run(cmd, out, sizeof out) != 0) {
        fprintf(stderr, "  building the fixture failed: %s\n", out);
        test_failures++;
        service_stop(&s);
        return;
    }
    struct response r;
    upload_file(&s, s.token, burned, &r);
    CHECK_INT(200, r.status);
    char body[256];
    snprintf(body, sizeof body, "{\"type\":\"remove\",\"upload_id\":\"%s\"}",
             json_text(r.json, "id", NULL));
    response_free(&r);
    call(&s, "POST", "/api/v1/jobs", s.token, body, NULL, 0, NULL, &r);
    CHECK_INT(202, r.status);
    char job_id[64], path[160], result[600];
    snprintf(job_id, sizeof job_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    wait_job(&s, job_id, 600, &r);
    CHECK_STR("succeeded", json_text(r.json, "status", NULL));
    response_free(&r);
    snprintf(path, sizeof path, "/api/v1/jobs/%s/result", job_id);
    call(&s, "GET", path, s.token, NULL, NULL, 0, NULL, &r);
    CHECK_INT(200, r.status);
    save_body(&r, s.dir, "result.mp4", result, sizeof result);
    response_free(&r);
    snprintf(cmd, sizeof cmd, "'%s/bench/score-removal.py' '%s' '%s' --json", shared, fixture,
             result);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    char *line = strrchr(out, '{');
    json_t *scores = line ? json_loads(line, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    double psnr_text = json_number_value(json_object_get(scores, "psnr_text"));
    printf("    psnr_text %.2f dB, psnr_outside %.2f dB\n", psnr_text,
           json_number_value(json_object_get(scores, "psnr_outside")));
    CHECK_AT_LEAST(28, psnr_text);
    json_decref(scores);
    service_stop(&s);
}

static void short_download_urls(struct service_config *config) {
    config->download_url_seconds = 2;
}

/* Object storage: the video goes straight to the bucket through the upload's
 * direct_upload_url and the result comes back through the job's
 * download_url, both with the plain curl program and no API key; the
 * download URL stops working when it expires (2 s here). With a folder the
 * API offers neither URL. */
TEST(http_direct_upload_download) {
    struct service s;
    if (service_start_tweaked(&s, 1, 64 << 20, short_download_urls) != 0) return;
    char video[512], body[256], cmd[4096], out[4096], result[600];
    snprintf(video, sizeof video, "%s/clip.mp4", s.dir);
    if (make_video(video) != 0) {
        test_failures++;
        service_stop(&s);
        return;
    }
    struct response r;
    FILE *clip = fopen(video, "rb");
    long long clip_size = 0;
    if (clip) {
        fseek(clip, 0, SEEK_END);
        clip_size = ftell(clip);
        fclose(clip);
    }
    snprintf(body, sizeof body, "{\"fileName\":\"clip.mp4\",\"fileSize\":%lld}", clip_size);
    call(&s, "POST", "/api/v1/uploads", s.token, body, NULL, 0, NULL, &r);
    CHECK_INT(201, r.status);
    const char *direct = json_text(r.json, "direct_upload_url", NULL);
    if (!test_on_s3()) {
        CHECK(direct == NULL || direct[0] == '\0');
        response_free(&r);
        service_stop(&s);
        return;
    }
    CHECK(direct && strstr(direct, "X-Amz-Signature=") != NULL);
    char upload_id[64];
    snprintf(upload_id, sizeof upload_id, "%s", json_text(r.json, "id", NULL));
    snprintf(cmd, sizeof cmd, "curl -sS -o /dev/null -w '%%{http_code}' -T '%s' '%s'", video,
             direct ? direct : "");
    response_free(&r);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK_STR("200", out);

    /* The job takes the upload as if it had come through the API. */
    create_job(&s, s.token, upload_id, NULL, &r);
    CHECK_INT(202, r.status);
    char job_id[64];
    snprintf(job_id, sizeof job_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    wait_job(&s, job_id, 60, &r);
    CHECK_STR("succeeded", json_text(r.json, "status", NULL));
    const char *download = json_text(r.json, "download_url", NULL);
    CHECK(download && strstr(download, "X-Amz-Expires=2&") != NULL);
    snprintf(result, sizeof result, "%s/direct-result.mp4", s.dir);
    snprintf(cmd, sizeof cmd, "curl -sSf -o '%s' '%s'", result, download ? download : "");
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    struct vsr_media_info info;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, vsr_probe(result, &info, &error));
    CHECK_INT(160, info.width);
    /* Expired: the bucket refuses it. */
    sleep(3);
    snprintf(cmd, sizeof cmd, "curl -sS -o /dev/null -w '%%{http_code}' '%s'",
             download ? download : "");
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK_STR("403", out);
    response_free(&r);

    /* A direct upload that is not a video is refused when a job names it. */
    snprintf(body, sizeof body, "{\"fileName\":\"notes.txt\",\"fileSize\":9}");
    call(&s, "POST", "/api/v1/uploads", s.token, body, NULL, 0, NULL, &r);
    snprintf(upload_id, sizeof upload_id, "%s", json_text(r.json, "id", NULL));
    snprintf(result, sizeof result, "%s/notes.txt", s.dir);
    snprintf(cmd, sizeof cmd, "printf 'not video' > '%s' && curl -sS -o /dev/null -T '%s' '%s'",
             result, result, json_text(r.json, "direct_upload_url", NULL));
    response_free(&r);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    create_job(&s, s.token, upload_id, NULL, &r);
    CHECK_INT(422, r.status);
    CHECK_STR("not_a_video", json_text(r.json, "error", "code"));
    response_free(&r);

    /* Issue 23: the direct URL signs the declared length, so the bucket
     * refuses a longer file; and a store that ignored it is caught when a
     * job names the upload (here the object is written behind its back). */
    snprintf(body, sizeof body, "{\"fileName\":\"clip.mp4\",\"fileSize\":1000}");
    call(&s, "POST", "/api/v1/uploads", s.token, body, NULL, 0, NULL, &r);
    snprintf(upload_id, sizeof upload_id, "%s", json_text(r.json, "id", NULL));
    snprintf(cmd, sizeof cmd, "curl -sS -o /dev/null -w '%%{http_code}' -T '%s' '%s'", video,
             json_text(r.json, "direct_upload_url", NULL));
    response_free(&r);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK_STR("403", out);
    char key[128];
    snprintf(key, sizeof key, "uploads/%s", upload_id);
    CHECK_INT(VSR_OK, blob_put_file(s.blob, key, video, 0, &error));
    create_job(&s, s.token, upload_id, NULL, &r);
    CHECK_INT(413, r.status);
    CHECK_STR("file_too_large", json_text(r.json, "error", "code"));
    CHECK(strstr(json_text(r.json, "error", "message"), "declared fileSize 1000") != NULL);
    response_free(&r);
    service_stop(&s);
}

/* ---- burn and replace jobs ---------------------------------------------- */

/* The lowest luma PSNR over the frames of A against B (99: identical);
 * -1 when either cannot be read or their frame counts differ. */
static double video_min_psnr(const char *a, const char *b) {
    struct media_reader *r[2] = {NULL, NULL};
    struct vsr_error error = {0};
    double min = 99;
    int frames = 0;
    if (media_reader_open(&r[0], a, 1, 0, &error) < 0 ||
        media_reader_open(&r[1], b, 1, 0, &error) < 0)
        min = -1;
    while (min >= 0) {
        AVFrame *f[2] = {NULL, NULL};
        int got = (media_reader_next(r[0], &f[0], &error) == 1) +
                  (media_reader_next(r[1], &f[1], &error) == 1);
        if (got == 2 && f[0]->width == f[1]->width && f[0]->height == f[1]->height) {
            double sum = 0;
            for (int y = 0; y < f[0]->height; y++)
                for (int x = 0; x < f[0]->width; x++) {
                    int d = f[0]->data[0][y * f[0]->linesize[0] + x] -
                            f[1]->data[0][y * f[1]->linesize[0] + x];
                    sum += d * d;
                }
            double count = (double)f[0]->width * f[0]->height;
            double psnr = sum > 0 ? 10 * log10(255.0 * 255.0 * count / sum) : 99;
            if (psnr < min) min = psnr;
            frames++;
        } else if (got != 0) {
            min = -1;
        }
        av_frame_free(&f[0]);
        av_frame_free(&f[1]);
        if (got != 2) break;
    }
    media_reader_free(r[0]);
    media_reader_free(r[1]);
    return frames > 0 ? min : -1;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Runs a TYPE job (burn or replace) of VIDEO_ID with SUBS_ID, downloads the
 * result to OUT and checks it against the CLI's own `vsr TYPE` of the same
 * files: the same picture (PSNR >= 40 dB), captions where the input has none
 * (PSNR vs the input < 30 dB). */
static void caption_job_matches_cli(struct service *s, const char *type, const char *video,
                                    const char *srt, const char *video_id, const char *subs_id) {
    char body[512], out[600], reference[600], cmd[2400], text[4096];
    snprintf(body, sizeof body,
             "{\"type\":\"%s\",\"upload_id\":\"%s\",\"options\":{\"subtitles_upload_id\":\"%s\","
             "\"style\":\"classic\",\"size\":24}}",
             type, video_id, subs_id);
    struct response r;
    call(s, "POST", "/api/v1/jobs", s->token, body, NULL, 0, NULL, &r);
    CHECK_INT(202, r.status);
    char job_id[STORE_ID_SIZE];
    snprintf(job_id, sizeof job_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    wait_job(s, job_id, 120, &r);
    CHECK_STR("succeeded", json_text(r.json, "status", NULL));
    if (strcmp(json_text(r.json, "status", NULL), "succeeded") != 0)
        fprintf(stderr, "  %s job: %s\n", type, r.body.data ? r.body.data : "");
    CHECK(json_real_value(json_object_get(r.json, "progress")) == 100);
    response_free(&r);
    snprintf(out, sizeof out, "%s/%s-job.mp4", s->dir, type);
    snprintf(reference, sizeof reference, "%s/%s-cli.mp4", s->dir, type);
    snprintf(cmd, sizeof cmd,
             "curl -sf -o '%s' -H 'Authorization: Bearer %s' %s/api/v1/jobs/%s/result && "
             "'%s' %s '%s' '%s' '%s' --style classic --size 24",
             out, s->token, s->base, job_id, test_vsr_bin(), type, video, srt, reference);
    CHECK_INT(0, test_run(cmd, text, sizeof text));
    double same = video_min_psnr(out, reference), changed = video_min_psnr(out, video);
    printf("    %s job: min PSNR vs `vsr %s` %.2f dB, vs the input %.2f dB\n", type, type, same,
           changed);
    CHECK_AT_LEAST(40, same);
    CHECK(changed > 0 && changed < 30);
}

/* Subtitle uploads and the burn and replace jobs that use them, over HTTP
 * with a worker: results match the CLI; bad or misplaced subtitle uploads
 * are refused with 422 naming the field; retention deletes the subtitle
 * file once its job is old. */
TEST(http_burn_replace_jobs) {
    SLOW_TEST();
    media_test_quiet();
    struct service s;
    char video[512], srt[512], bad[512];
    if (service_start_with_video(&s, 1, 64 << 20, video, sizeof video) != 0) return;
    snprintf(srt, sizeof srt, "%s/new.srt", s.dir);
    snprintf(bad, sizeof bad, "%s/bad.srt", s.dir);
    write_text(srt, "1\n00:00:00,000 --> 00:00:02,000\nNEW CAPTION\n");
    write_text(bad, "1\n00:00:05,000 --> 00:00:01,000\nends before it starts\n\n"
                    "this is not a subtitle file at all\n");
    struct response r;
    char video_id[STORE_ID_SIZE], subs_id[STORE_ID_SIZE], other_subs[STORE_ID_SIZE];
    upload_file(&s, s.token, video, &r);
    CHECK_INT(200, r.status);
    snprintf(video_id, sizeof video_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    upload_named(&s, s.token, srt, "new.srt", "application/x-subrip", &r);
    CHECK_INT(200, r.status);
    CHECK_STR("ready", json_text(r.json, "status", NULL));
    CHECK_STR("subtitles", json_text(r.json, "kind", NULL));
    snprintf(subs_id, sizeof subs_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    /* The extension alone says subtitles too; bob's upload is not alice's. */
    upload_named(&s, s.other_token, srt, "theirs.srt", "application/octet-stream", &r);
    CHECK_INT(200, r.status);
    snprintf(other_subs, sizeof other_subs, "%s", json_text(r.json, "id", NULL));
    response_free(&r);

    /* Bad subtitle files and videos posing as subtitles: 422 at the PUT. */
    upload_named(&s, s.token, bad, "bad.srt", "application/x-subrip", &r);
    CHECK_INT(422, r.status);
    CHECK_STR("invalid_subtitles", json_text(r.json, "error", "code"));
    CHECK_STR("file", json_text(r.json, "error", "field"));
    response_free(&r);
    upload_named(&s, s.token, video, "clip.vtt", "text/vtt", &r);
    CHECK_INT(422, r.status);
    CHECK_STR("invalid_subtitles", json_text(r.json, "error", "code"));
    response_free(&r);
    call(&s, "POST", "/api/v1/uploads", s.token,
         "{\"fileName\":\"huge.srt\",\"fileSize\":3000000,\"mimeType\":\"application/x-subrip\"}",
         NULL, 0, NULL, &r);
    CHECK_INT(413, r.status);
    CHECK_STR("fileSize", json_text(r.json, "error", "field"));
    response_free(&r);

    /* Misplaced uploads: 422 naming the field. */
    static const struct {
        const char *upload, *subtitles, *code, *field;
    } wrong[] = {
        {"V", "V", "not_subtitles", "options.subtitles_upload_id"},
        {"V", "O", "upload_not_found", "options.subtitles_upload_id"},
        {"S", "S", "not_a_video", "upload_id"},
        {"V", NULL, "invalid_field", "options.subtitles_upload_id"},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        const char *ids[] = {video_id, subs_id, other_subs};
        const char *upload = ids[wrong[i].upload[0] == 'S'];
        char body[512], options[200] = "";
        if (wrong[i].subtitles)
            snprintf(options, sizeof options, "\"subtitles_upload_id\":\"%s\"",
                     ids[wrong[i].subtitles[0] == 'V'   ? 0
                         : wrong[i].subtitles[0] == 'S' ? 1
                                                        : 2]);
        snprintf(body, sizeof body, "{\"type\":\"burn\",\"upload_id\":\"%s\",\"options\":{%s}}",
                 upload, options);
        call(&s, "POST", "/api/v1/jobs", s.token, body, NULL, 0, NULL, &r);
        CHECK_INT(wrong[i].code[0] == 'i' ? 400 : 422, r.status);
        CHECK_STR(wrong[i].code, json_text(r.json, "error", "code"));
        CHECK_STR(wrong[i].field, json_text(r.json, "error", "field"));
        if (strcmp(json_text(r.json, "error", "field"), wrong[i].field) != 0)
            fprintf(stderr, "  case %zu: %s\n", i, r.body.data ? r.body.data : "");
        response_free(&r);
    }

    caption_job_matches_cli(&s, "burn", video, srt, video_id, subs_id);
    caption_job_matches_cli(&s, "replace", video, srt, video_id, subs_id);

    /* A form with the video and the subtitles as parts: one request. */
    char form[2048];
    snprintf(form, sizeof form,
             "-F 'file=@%s;type=video/mp4' -F 'subtitles=@%s' -F type=burn"
             " -F 'options={\"style\":\"yellow\"}'",
             video, srt);
    post_form(&s, s.token, form, &r);
    CHECK_INT(202, r.status);
    char form_job[STORE_ID_SIZE], form_subs[STORE_ID_SIZE];
    snprintf(form_job, sizeof form_job, "%s", json_text(r.json, "id", NULL));
    snprintf(form_subs, sizeof form_subs, "%s",
             json_text(r.json, "options", "subtitles_upload_id"));
    CHECK(strncmp(form_subs, "upl_", 4) == 0);
    response_free(&r);
    /* The job's row names its subtitle upload for retention (and the worker). */
    struct job stored;
    struct vsr_error error = {0};
    CHECK_INT(1, store_job_get(s.store, NULL, form_job, &stored, &error));
    CHECK_STR(form_subs, stored.subtitles_upload_id);
    wait_job(&s, form_job, 120, &r);
    CHECK_STR("succeeded", json_text(r.json, "status", NULL));
    response_free(&r);
    snprintf(form, sizeof form, "-F 'file=@%s;type=video/mp4' -F 'subtitles=@%s' -F type=burn",
             video, bad);
    post_form(&s, s.token, form, &r);
    CHECK_INT(422, r.status);
    CHECK_STR("invalid_subtitles", json_text(r.json, "error", "code"));
    CHECK_STR("subtitles", json_text(r.json, "error", "field"));
    response_free(&r);

    /* Retention: the subtitle file goes with the video once the jobs are old. */
    int deleted = -1;
    int64_t hour = 3600 * 1000LL, now = ids_now_ms();
    CHECK_INT(VSR_OK, retention_sweep(s.store, s.blob, hour, now, &deleted, &error));
    CHECK_INT(1, upload_blob_exists(&s, subs_id));
    CHECK_INT(VSR_OK, retention_sweep(s.store, s.blob, hour, now + 2 * hour, &deleted, &error));
    CHECK_INT(0, upload_blob_exists(&s, subs_id));
    CHECK_INT(0, upload_blob_exists(&s, video_id));
    service_stop(&s);
}
