/* test_http_hardening.c: the HTTP server against hostile and picky clients
 * (issue 23): a bounded slowloris on loopback, and HTTP conformance (auth
 * challenges, keep-alive, validators, media types, CORS). The real server on
 * a loopback port with the real stores, libcurl or raw sockets as clients. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "blob/blob.h"
#include "http/server.h"
#include "jobs/store.h"
#include "service/config.h"
#include "service/metrics.h"
#include "service/worker.h"
#include "test.h"
#include "util/ids.h"

struct service {
    struct service_config config;
    struct store *store;
    struct blob *blob;
    struct metrics *metrics;
    struct http_server *server;
    struct worker_pool *workers;
    char base[64];
    char token[80];
    struct api_key key;
    char dir[256];
};

/* Starts the service in a fresh folder; TWEAK may change the settings. */
static int service_start(struct service *s, int workers, void (*tweak)(struct service_config *)) {
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", test_tmpdir());
    config_init(&s->config);
    snprintf(s->config.listen, sizeof s->config.listen, "127.0.0.1:0");
    snprintf(s->config.data_dir, sizeof s->config.data_dir, "%s", s->dir);
    s->config.workers = workers;
    s->config.http_threads = 2;
    s->config.max_request_size = 64 << 20;
    s->config.poll_ms = 50;
    s->config.log_requests = 0;
    test_database_url(s->dir, s->config.database_url, sizeof s->config.database_url);
    test_storage_url(s->dir, s->config.storage_url, sizeof s->config.storage_url);
    if (tweak) tweak(&s->config);
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, config_finish(&s->config, &error));
    struct store_options options;
    store_options_init(&options);
    if (store_open(&s->store, s->config.database_url, &options, &error) != VSR_OK ||
        blob_open(&s->blob, s->config.storage_url, &error) != VSR_OK ||
        !(s->metrics = metrics_new())) {
        fprintf(stderr, "  service_start: %s\n", error.message);
        test_failures++;
        return -1;
    }
    snprintf(s->key.name, sizeof s->key.name, "alice");
    CHECK_INT(VSR_OK, store_key_create(s->store, &s->key, s->token, sizeof s->token, &error));
    if (http_server_start(&s->server, &s->config, s->store, s->blob, s->metrics, &error) !=
            VSR_OK ||
        (workers > 0 && worker_pool_start(&s->workers, &s->config, s->store, s->blob, s->metrics,
                                          &error) != VSR_OK)) {
        fprintf(stderr, "  service_start: %s\n", error.message);
        test_failures++;
        return -1;
    }
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", http_server_port(s->server));
    return 0;
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

struct response {
    long status;
    long connects; /* new connections curl opened for it (0: one was reused) */
    struct buffer body, headers;
    json_t *json;
};

static void response_free(struct response *r) {
    free(r->body.data);
    free(r->headers.data);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* One request on CURL (reused between calls to keep its connection):
 * HEADERS is a NULL-terminated list of header lines or NULL; BODY is sent as
 * it is when not NULL. */
static void call_on(CURL *curl, const char *url, const char *method, const char *const *headers,
                    const char *body, struct response *r) {
    memset(r, 0, sizeof *r);
    struct curl_slist *list = NULL;
    for (const char *const *h = headers; h && *h; h++)
        list = curl_slist_append(list, *h);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    if (!body && strcmp(method, "HEAD") != 0) curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    if (!body) curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) fprintf(stderr, "  %s %s: %s\n", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &r->connects);
    curl_slist_free_all(list);
    if (r->body.data) r->json = json_loads(r->body.data, 0, NULL);
}

static void call(struct service *s, const char *method, const char *path,
                 const char *const *headers, const char *body, struct response *r) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", s->base, path);
    CURL *curl = curl_easy_init();
    call_on(curl, url, method, headers, body, r);
    curl_easy_cleanup(curl);
}

/* The value of header NAME in R ("" when absent), without its line end. */
static const char *header_value(const struct response *r, const char *name, char *out,
                                size_t size) {
    size_t len = strlen(name);
    out[0] = '\0';
    for (const char *p = r->headers.data; p && *p;) {
        const char *end = strstr(p, "\r\n");
        if (!end) break;
        if (strncasecmp(p, name, len) == 0 && p[len] == ':') {
            const char *v = p + len + 1;
            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)(end - v), v);
            return out;
        }
        p = end + 2;
    }
    return out;
}

static const char *json_text(json_t *json, const char *key1, const char *key2) {
    json_t *v = json_object_get(json, key1);
    if (key2) v = json_object_get(v, key2);
    return json_string_value(v) ? json_string_value(v) : "";
}

/* ---- slowloris ---------------------------------------------------------- */

enum { SLOW_CONNECTIONS = 1500, SLOW_SECONDS = 20 };

static void slowloris_limits(struct service_config *config) {
    config->max_connections = 400;
    config->max_connections_per_ip = 50;
    config->header_timeout_seconds = 2;
}

/* The honest client: a fresh connection from 127.0.0.1 for each health
 * check, every quarter second, while the attack lasts. */
struct honest {
    const char *url;
    atomic_int stop;
    int answered, unanswered;
};

static void *honest_client(void *opaque) {
    struct honest *h = opaque;
    while (!atomic_load(&h->stop)) {
        CURL *curl = curl_easy_init();
        struct buffer body = {0};
        curl_easy_setopt(curl, CURLOPT_URL, h->url);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 5L); /* no answer in 5 s: locked out */
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        long status = 0;
        if (curl_easy_perform(curl) == CURLE_OK)
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status == 200)
            h->answered++;
        else
            h->unanswered++;
        curl_easy_cleanup(curl);
        free(body.data);
        usleep(250 * 1000);
    }
    return NULL;
}

struct slow_socket {
    int fd;
    int first; /* opened at the start (never reopened) */
    int sent;
};

/* A non-blocking socket from SOURCE to the server, connecting; -1 on error. */
static int slow_open(const struct sockaddr_in *server, const char *source) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    struct sockaddr_in from = {.sin_family = AF_INET};
    inet_pton(AF_INET, source, &from.sin_addr);
    if (bind(fd, (struct sockaddr *)&from, sizeof from) != 0 ||
        (connect(fd, (const struct sockaddr *)server, sizeof *server) != 0 &&
         errno != EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One step of a slow client: read what the server said (1 when it ended
 * the connection, counting 408 answers) and send one more byte of a head
 * that never ends. */
static int slow_step(struct slow_socket *c, int *timeouts) {
    char buf[512];
    ssize_t got = recv(c->fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    if (got > 0) {
        buf[got] = '\0';
        if (strstr(buf, " 408 ")) (*timeouts)++;
        return 0; /* the end follows */
    }
    if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)) return 1;
    static const char head[] = "GET /health/healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    const char *next = c->sent < (int)sizeof head - 1 ? head : "a";
    size_t len = c->sent < (int)sizeof head - 1 ? sizeof head - 1 : 1;
    ssize_t put = send(c->fd, next, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (put > 0) c->sent += (int)put;
    if (put < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN) return 1;
    return 0;
}

/* 1,500 connections from 127.0.0.2, each sending its head a byte a second
 * for 20 s (and reopened when the server cuts it), while a client on
 * 127.0.0.1 keeps asking for /health/healthz: every check is answered, the
 * slow heads are cut (408) instead of living on, and once the attacker
 * leaves its own address is served again. */
TEST(http_slowloris_bounded) {
    SLOW_TEST();
    struct rlimit files;
    getrlimit(RLIMIT_NOFILE, &files);
    if (files.rlim_cur < 4096 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max < 4096 ? files.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &files);
        getrlimit(RLIMIT_NOFILE, &files);
    }
    /* Each connection costs this process two descriptors (both ends). */
    int count = SLOW_CONNECTIONS;
    if ((rlim_t)count * 2 + 256 > files.rlim_cur) count = (int)(files.rlim_cur - 256) / 2;
    struct service s;
    if (service_start(&s, 0, slowloris_limits) != 0) return;
    struct sockaddr_in server = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)http_server_port(s.server))};
    inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
    struct slow_socket *slow = calloc((size_t)count, sizeof *slow);
    int opened = 0;
    for (int i = 0; slow && i < count; i++) {
        slow[i].fd = slow_open(&server, "127.0.0.2");
        slow[i].first = 1;
        if (slow[i].fd >= 0) opened++;
    }
    CHECK_INT(count, opened);
    printf("  slowloris: %d connections for %d s\n", opened, SLOW_SECONDS);

    char url[128];
    snprintf(url, sizeof url, "%s/health/healthz", s.base);
    struct honest honest = {.url = url};
    pthread_t thread;
    pthread_create(&thread, NULL, honest_client, &honest);
    int cut = 0, timeouts = 0;
    for (int second = 0; slow && second < SLOW_SECONDS; second++) {
        int reopened = 0;
        for (int i = 0; i < count; i++) {
            if (slow[i].fd >= 0 && slow_step(&slow[i], &timeouts)) {
                close(slow[i].fd);
                slow[i].fd = -1;
                cut++;
            }
            /* A real attacker comes back; 100 a second keeps ports in hand. */
            if (slow[i].fd < 0 && reopened < 100) {
                slow[i] = (struct slow_socket){.fd = slow_open(&server, "127.0.0.2")};
                reopened++;
            }
        }
        sleep(1);
    }
    atomic_store(&honest.stop, 1);
    pthread_join(thread, NULL);
    int survivors = 0;
    for (int i = 0; slow && i < count; i++) {
        if (slow[i].fd >= 0 && slow[i].first && slow_step(&slow[i], &timeouts) == 0) survivors++;
        if (slow[i].fd >= 0) close(slow[i].fd);
    }
    free(slow);
    printf("  slowloris: honest checks %d answered, %d not; %d cut, %d with 408; %d of the"
           " first connections still open\n",
           honest.answered, honest.unanswered, cut, timeouts, survivors);
    CHECK_INT(0, honest.unanswered);
    CHECK_AT_LEAST(SLOW_SECONDS, honest.answered);
    CHECK_AT_LEAST(1, timeouts);
    CHECK_INT(0, survivors);

    /* The attacker gone, its address is served again within seconds. */
    long status = 0;
    for (int attempt = 0; attempt < 10 && status != 200; attempt++) {
        if (attempt) sleep(1);
        CURL *curl = curl_easy_init();
        struct buffer body = {0};
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_INTERFACE, "127.0.0.2");
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 5L);
        if (curl_easy_perform(curl) == CURLE_OK)
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(curl);
        free(body.data);
    }
    CHECK_INT(200, status);
    service_stop(&s);
}

/* ---- HTTP conformance --------------------------------------------------- */

/* A queued job of S's key, made through the store; its id into ID. */
static void store_job(struct service *s, char *id) {
    struct job job = {0};
    struct vsr_error error = {0};
    snprintf(job.key_id, sizeof job.key_id, "%s", s->key.id);
    snprintf(job.type, sizeof job.type, "remove");
    snprintf(job.input_blob, sizeof job.input_blob, "uploads/x");
    CHECK_INT(0, store_job_create(s->store, &job, &error));
    snprintf(id, STORE_ID_SIZE, "%s", job.id);
}

/* 401 for an unknown key carries its challenge; 401 and 405 keep the
 * connection; an escaped NUL is refused, not cut at; a JSON route refuses
 * another media type with 415 before reading the body. */
TEST(http_conformance_requests) {
    struct service s;
    if (service_start(&s, 0, NULL) != 0) return;
    char auth[128], value[256], path[160], id[STORE_ID_SIZE];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s.token);
    const char *const with_key[] = {auth, NULL};
    const char *const unknown_key[] = {"Authorization: Bearer vsr_0123456789", NULL};
    struct response r;

    call(&s, "GET", "/api/v1/jobs", unknown_key, NULL, &r);
    CHECK_INT(401, r.status);
    CHECK_STR("Bearer error=\"invalid_token\"",
              header_value(&r, "WWW-Authenticate", value, sizeof value));
    response_free(&r);

    /* One connection for all four answers. */
    char url[256];
    CURL *curl = curl_easy_init();
    snprintf(url, sizeof url, "%s/api/v1/jobs", s.base);
    call_on(curl, url, "GET", NULL, NULL, &r);
    CHECK_INT(401, r.status);
    CHECK_INT(1, r.connects);
    response_free(&r);
    call_on(curl, url, "GET", unknown_key, NULL, &r);
    CHECK_INT(401, r.status);
    CHECK_INT(0, r.connects);
    response_free(&r);
    snprintf(url, sizeof url, "%s/health/healthz", s.base);
    call_on(curl, url, "DELETE", NULL, NULL, &r);
    CHECK_INT(405, r.status);
    CHECK_INT(0, r.connects);
    response_free(&r);
    call_on(curl, url, "GET", NULL, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK_INT(0, r.connects);
    response_free(&r);
    curl_easy_cleanup(curl);

    /* "/jobs/ID%00/result" is not "/jobs/ID". */
    store_job(&s, id);
    snprintf(path, sizeof path, "/api/v1/jobs/%s%%00/result", id);
    call(&s, "GET", path, with_key, NULL, &r);
    CHECK_INT(400, r.status);
    CHECK_STR("invalid_url", json_text(r.json, "error", "code"));
    CHECK(json_object_get(r.json, "id") == NULL);
    response_free(&r);
    snprintf(path, sizeof path, "/api/v1/jobs?status=queued%%00x");
    call(&s, "GET", path, with_key, NULL, &r);
    CHECK_INT(400, r.status);
    response_free(&r);

    /* JSON routes take JSON. */
    const char *const as_text[] = {auth, "Content-Type: text/plain", NULL};
    const char *const as_json[] = {auth, "Content-Type: application/json; charset=utf-8", NULL};
    static const char upload[] = "{\"fileName\":\"clip.mp4\",\"fileSize\":1000}";
    call(&s, "POST", "/api/v1/uploads", as_text, upload, &r);
    CHECK_INT(415, r.status);
    CHECK_STR("unsupported_media_type", json_text(r.json, "error", "code"));
    CHECK_STR("application/json", header_value(&r, "Accept-Post", value, sizeof value));
    response_free(&r);
    call(&s, "POST", "/api/v1/jobs", as_text, "{\"type\":\"remove\",\"upload_id\":\"upl_x\"}", &r);
    CHECK_INT(415, r.status);
    response_free(&r);
    call(&s, "POST", "/api/v1/uploads", as_json, upload, &r);
    CHECK_INT(201, r.status);
    response_free(&r);
    service_stop(&s);
}

/* A result has a strong ETag and a Last-Modified; a Range with an If-Range
 * that matches neither gets the whole file (200), one that matches gets the
 * part (206). */
TEST(http_conformance_result_validators) {
    struct service s;
    if (service_start(&s, 0, NULL) != 0) return;
    char auth[128], etag[128], modified[128], value[256], path[160], id[STORE_ID_SIZE];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s.token);
    store_job(&s, id);
    struct job claimed;
    struct vsr_error error = {0};
    CHECK_INT(1, store_job_claim(s.store, "test-worker", 60000, &claimed, &error));
    char file[512], key[STORE_NAME_SIZE];
    snprintf(file, sizeof file, "%s/result.mp4", s.dir);
    FILE *f = fopen(file, "wb");
    for (int i = 0; f && i < 1000; i++)
        fputc('a' + i % 26, f);
    if (f) fclose(f);
    snprintf(key, sizeof key, "results/%s.mp4", id);
    CHECK_INT(VSR_OK, blob_put_file(s.blob, key, file, 0, &error));
    struct job_finish finish = {.state = JOB_SUCCEEDED, .output_blob = key};
    CHECK_INT(1, store_job_finish(s.store, id, "test-worker", &finish, &error));
    snprintf(path, sizeof path, "/api/v1/jobs/%s/result", id);

    struct response r;
    const char *const plain[] = {auth, NULL};
    call(&s, "GET", path, plain, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK_INT(1000, r.body.len);
    header_value(&r, "ETag", etag, sizeof etag);
    header_value(&r, "Last-Modified", modified, sizeof modified);
    CHECK(etag[0] == '"' && strstr(etag, id) != NULL);
    CHECK(curl_getdate(modified, NULL) > 0);
    response_free(&r);

    char if_range[200];
    struct {
        const char *if_range; /* NULL: none */
        long status;
        size_t bytes;
    } cases[] = {
        {NULL, 206, 10},     {etag, 206, 10},
        {modified, 206, 10}, {"\"another-version\"", 200, 1000},
        {"W/x", 200, 1000},  {"Tue, 01 Jan 2019 00:00:00 GMT", 200, 1000},
    };
    char weak[140];
    snprintf(weak, sizeof weak, "W/%s", etag);
    cases[4].if_range = weak;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(if_range, sizeof if_range, "If-Range: %s",
                 cases[i].if_range ? cases[i].if_range : "");
        const char *const headers[] = {auth, "Range: bytes=0-9",
                                       cases[i].if_range ? if_range : NULL, NULL};
        call(&s, "GET", path, headers, NULL, &r);
        if (r.status != cases[i].status) fprintf(stderr, "  If-Range: %s\n", if_range);
        CHECK_INT(cases[i].status, r.status);
        CHECK_INT(cases[i].bytes, r.body.len);
        CHECK_STR(etag, header_value(&r, "ETag", value, sizeof value));
        response_free(&r);
    }
    service_stop(&s);
}

static void cors_one_origin(struct service_config *config) {
    snprintf(config->cors_origins, sizeof config->cors_origins,
             "https://app.example, https://admin.example");
}

static void cors_any_origin(struct service_config *config) {
    snprintf(config->cors_origins, sizeof config->cors_origins, "*");
}

/* VSR_CORS_ORIGINS: a preflight from a listed origin gets 204 with what it
 * may send; the answers themselves (errors included) let that origin read
 * them; other origins get no grant; "*" grants every origin. */
TEST(http_cors) {
    struct service s;
    if (service_start(&s, 0, cors_one_origin) != 0) return;
    char auth[128], value[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s.token);
    struct response r;
    const char *const preflight[] = {
        "Origin: https://app.example", "Access-Control-Request-Method: POST",
        "Access-Control-Request-Headers: authorization, content-type", NULL};
    call(&s, "OPTIONS", "/api/v1/jobs", preflight, NULL, &r);
    CHECK_INT(204, r.status);
    CHECK_STR("https://app.example",
              header_value(&r, "Access-Control-Allow-Origin", value, sizeof value));
    CHECK(strstr(header_value(&r, "Access-Control-Allow-Methods", value, sizeof value), "POST"));
    CHECK(strstr(header_value(&r, "Access-Control-Allow-Headers", value, sizeof value),
                 "Authorization"));
    CHECK(strstr(header_value(&r, "Access-Control-Allow-Headers", value, sizeof value),
                 "Content-Type"));
    CHECK_STR("Origin", header_value(&r, "Vary", value, sizeof value));
    response_free(&r);

    const char *const evil[] = {"Origin: https://evil.example",
                                "Access-Control-Request-Method: POST", NULL};
    call(&s, "OPTIONS", "/api/v1/jobs", evil, NULL, &r);
    CHECK_INT(204, r.status);
    CHECK_STR("", header_value(&r, "Access-Control-Allow-Origin", value, sizeof value));
    response_free(&r);

    const char *const from_app[] = {auth, "Origin: https://admin.example", NULL};
    call(&s, "GET", "/api/v1/jobs", from_app, NULL, &r);
    CHECK_INT(200, r.status);
    CHECK_STR("https://admin.example",
              header_value(&r, "Access-Control-Allow-Origin", value, sizeof value));
    CHECK(strstr(header_value(&r, "Access-Control-Expose-Headers", value, sizeof value),
                 "X-Request-Id"));
    CHECK_STR("Origin", header_value(&r, "Vary", value, sizeof value));
    response_free(&r);
    const char *const no_key[] = {"Origin: https://app.example", NULL};
    call(&s, "GET", "/api/v1/jobs", no_key, NULL, &r);
    CHECK_INT(401, r.status);
    CHECK_STR("https://app.example",
              header_value(&r, "Access-Control-Allow-Origin", value, sizeof value));
    response_free(&r);
    service_stop(&s);

    if (service_start(&s, 0, cors_any_origin) != 0) return;
    call(&s, "OPTIONS", "/api/v1/uploads", evil, NULL, &r);
    CHECK_INT(204, r.status);
    CHECK_STR("*", header_value(&r, "Access-Control-Allow-Origin", value, sizeof value));
    response_free(&r);
    service_stop(&s);
}

/* Object storage: a result is stored with its content type, and its
 * download_url makes the bucket answer with that type and a download name
 * (Content-Disposition), as the API's own result_url does. */
TEST(http_presigned_download_named) {
    struct service s;
    if (service_start(&s, 1, NULL) != 0) return;
    char auth[128], video[512], body[256], path[160], cmd[4096], out[8192], value[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s.token);
    snprintf(video, sizeof video, "%s/clip.mp4", s.dir);
    CHECK_INT(0, test_make_video(video, "160x120", 2));
    FILE *f = fopen(video, "rb");
    long size = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fclose(f);
    }
    const char *const as_json[] = {auth, "Content-Type: application/json", NULL};
    struct response r;
    snprintf(body, sizeof body, "{\"fileName\":\"clip.mp4\",\"fileSize\":%ld}", size);
    call(&s, "POST", "/api/v1/uploads", as_json, body, &r);
    CHECK_INT(201, r.status);
    char upload_id[STORE_ID_SIZE], job_id[STORE_ID_SIZE];
    snprintf(upload_id, sizeof upload_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    snprintf(cmd, sizeof cmd,
             "curl -sS -o /dev/null -w '%%{http_code}' -H '%s' -T '%s' '%s/api/v1/uploads/%s'",
             auth, video, s.base, upload_id);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK_STR("200", out);
    snprintf(body, sizeof body,
             "{\"type\":\"remove\",\"upload_id\":\"%s\",\"options\":{\"preset\":\"ultrafast\"}}",
             upload_id);
    call(&s, "POST", "/api/v1/jobs", as_json, body, &r);
    CHECK_INT(202, r.status);
    snprintf(job_id, sizeof job_id, "%s", json_text(r.json, "id", NULL));
    response_free(&r);
    snprintf(path, sizeof path, "/api/v1/jobs/%s", job_id);
    const char *const with_key[] = {auth, NULL};
    for (int i = 0; i < 600; i++) {
        call(&s, "GET", path, with_key, NULL, &r);
        const char *status = json_text(r.json, "status", NULL);
        if (strcmp(status, "queued") != 0 && strcmp(status, "processing") != 0) break;
        response_free(&r);
        usleep(100 * 1000);
    }
    CHECK_STR("succeeded", json_text(r.json, "status", NULL));
    const char *download = json_text(r.json, "download_url", NULL);
    if (!test_on_s3()) {
        CHECK_STR("", download); /* a folder has no URL of its own */
        response_free(&r);
        service_stop(&s);
        return;
    }
    char expected[128];
    snprintf(expected, sizeof expected, "attachment; filename=\"%s.mp4\"", job_id);
    snprintf(cmd, sizeof cmd, "curl -sS -D - -o /dev/null '%s'", download);
    response_free(&r);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    struct response fetched = {.headers = {.data = strdup(out), .len = strlen(out)}};
    CHECK_STR("video/mp4", header_value(&fetched, "Content-Type", value, sizeof value));
    CHECK_STR(expected, header_value(&fetched, "Content-Disposition", value, sizeof value));
    response_free(&fetched);

    /* The object itself holds the type: a plain presigned GET shows it. */
    char key[STORE_NAME_SIZE], url[2048];
    struct vsr_error error = {0};
    snprintf(key, sizeof key, "results/%s.mp4", job_id);
    CHECK_INT(1, blob_presign(s.blob, key, "GET", 60, -1, url, sizeof url, &error));
    snprintf(cmd, sizeof cmd, "curl -sS -D - -o /dev/null '%s'", url);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    struct response plain = {.headers = {.data = strdup(out), .len = strlen(out)}};
    CHECK_STR("video/mp4", header_value(&plain, "Content-Type", value, sizeof value));
    response_free(&plain);
    service_stop(&s);
}
