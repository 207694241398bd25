/* server.c: the HTTP server's plumbing on libmicrohttpd: the daemon, the
 * life of a request (route, auth, rate limit, body), the response helpers
 * and the JSON log line written when a request completes.
 *
 * libmicrohttpd calls the access handler first with the headers only (no
 * body read yet): that is where requests are refused early, so that a 401,
 * 413 or 429 never costs reading the body, and where a client that sent
 * "Expect: 100-continue" gets its answer instead of "100 Continue". */
#include "http/server.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http_internal.h"
#include "util/ids.h"
#include "util/redact.h"

void http_format_time(int64_t ms, char *out, size_t size) {
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03dZ", base, (int)(ms % 1000));
}

/* The Access-Control-Allow-Origin value for ORIGIN under the configured
 * list ("a,b" or "*"): "*", ORIGIN itself, or NULL when it is not allowed. */
static const char *cors_allow(const char *list, const char *origin) {
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len == 1 && *p == '*') return "*";
        if (len && origin && strlen(origin) == len && strncmp(p, origin, len) == 0) return origin;
        p += len;
    }
    return NULL;
}

/* CORS (the Fetch standard): an allowed origin may read the answer and the
 * headers a client needs. Vary: Origin, as the answer depends on it. */
static void add_cors_headers(const struct request *req, struct MHD_Response *response) {
    const char *list = req->server->config->cors_origins;
    if (!list[0]) return;
    const char *origin = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Origin");
    const char *allow = cors_allow(list, origin);
    if (!allow || strcmp(allow, "*") != 0) MHD_add_response_header(response, "Vary", "Origin");
    if (!origin || !allow) return;
    MHD_add_response_header(response, "Access-Control-Allow-Origin", allow);
    MHD_add_response_header(response, "Access-Control-Expose-Headers",
                            "X-Request-Id, Location, Retry-After, Content-Disposition,"
                            " Content-Range, ETag, Last-Modified, Idempotent-Replayed");
}

enum MHD_Result http_respond(struct request *req, int status, struct MHD_Response *response) {
    if (!response) return MHD_NO;
    MHD_add_response_header(response, "X-Request-Id", req->request_id);
    add_cors_headers(req, response);
    enum MHD_Result result = MHD_queue_response(req->connection, (unsigned)status, response);
    MHD_destroy_response(response);
    if (result == MHD_YES) req->status = status;
    return result;
}

/* A response owning TEXT (malloc'd), or NULL (TEXT freed) when out of memory. */
static struct MHD_Response *text_response(char *text, const char *content_type) {
    struct MHD_Response *response =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!response) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(response, "Content-Type", content_type);
    MHD_add_response_header(response, "Cache-Control", "no-store");
    return response;
}

enum MHD_Result http_respond_text(struct request *req, int status, char *text,
                                  const char *content_type) {
    return http_respond(req, status, text_response(text, content_type));
}

enum MHD_Result http_respond_json_with(struct request *req, int status, json_t *json,
                                       const struct http_header *headers, size_t count) {
    /* 12 significant digits: numbers read as they were rounded (0.276, not
     * jansson's default 17 digits, 0.27600000000000002). */
    char *text = json ? json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(json);
    struct MHD_Response *response = text_response(text, "application/json");
    if (!response) return MHD_NO;
    for (size_t i = 0; i < count; i++)
        if (headers[i].value) MHD_add_response_header(response, headers[i].name, headers[i].value);
    return http_respond(req, status, response);
}

enum MHD_Result http_respond_json(struct request *req, int status, json_t *json) {
    return http_respond_json_with(req, status, json, NULL, 0);
}

enum MHD_Result http_respond_error(struct request *req, int status, const char *code,
                                   const char *message, const char *field) {
    /* Clients learn which upload or job failed, never where it lives. */
    char text[1024];
    snprintf(text, sizeof text, "%s", message);
    if (redact_paths(text, sizeof text, req->server->config->data_dir))
        snprintf(req->log_detail, sizeof req->log_detail, "%s", message);
    json_t *error = json_pack("{s:s, s:s}", "code", code, "message", text);
    if (field && error) json_object_set_new(error, "field", json_string(field));
    return http_respond_json(req, status, json_pack("{s:o}", "error", error));
}

/* ---- routing ----------------------------------------------------------- */

/* Copies the path segment after PREFIX into ID when it is one plain
 * segment followed by SUFFIX ("" or "/result"); 1 when it matched. */
static int match_id(const char *url, const char *prefix, const char *suffix, char *id,
                    size_t id_size) {
    size_t plen = strlen(prefix);
    if (strncmp(url, prefix, plen) != 0) return 0;
    const char *start = url + plen, *end = strchr(start, '/');
    size_t len = end ? (size_t)(end - start) : strlen(start);
    if (len == 0 || len >= id_size || strcmp(start + len, suffix) != 0) return 0;
    memcpy(id, start, len);
    id[len] = '\0';
    return 1;
}

static void route_request(struct request *req, const char *url) {
    static const struct {
        const char *path;
        enum route route;
    } fixed[] = {
        {"/health/healthz", ROUTE_HEALTHZ},
        {"/healthz", ROUTE_HEALTHZ},
        {"/health/readyz", ROUTE_READYZ},
        {"/api/health", ROUTE_READYZ},
        {"/readyz", ROUTE_READYZ},
        {"/metrics", ROUTE_METRICS},
        {"/metrics/json", ROUTE_METRICS_JSON},
        {"/openapi.json", ROUTE_OPENAPI},
        {"/docs", ROUTE_DOCS},
        {"/", ROUTE_WEB},
        {"/web/app.js", ROUTE_WEB},
        {"/web/app.css", ROUTE_WEB},
        {"/api/v1/cron/daily", ROUTE_CRON_DAILY},
        {"/api/v1/admin/jobs", ROUTE_ADMIN_JOBS},
        {"/api/v1/uploads", ROUTE_UPLOADS},
        {"/api/v1/jobs", ROUTE_JOBS},
    };
    req->route = ROUTE_NOT_FOUND;
    req->route_name = "other";
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(url, fixed[i].path) == 0) {
            req->route = fixed[i].route;
            req->route_name = fixed[i].path;
            return;
        }
    if (match_id(url, "/api/v1/uploads/", "", req->id, sizeof req->id)) {
        req->route = ROUTE_UPLOAD;
        req->route_name = "/api/v1/uploads/{id}";
    } else if (match_id(url, "/api/v1/jobs/", "", req->id, sizeof req->id)) {
        req->route = ROUTE_JOB;
        req->route_name = "/api/v1/jobs/{id}";
    } else if (match_id(url, "/api/v1/jobs/", "/result", req->id, sizeof req->id)) {
        req->route = ROUTE_JOB_RESULT;
        req->route_name = "/api/v1/jobs/{id}/result";
    } else if (match_id(url, "/api/v1/jobs/", "/webhooks", req->id, sizeof req->id)) {
        req->route = ROUTE_JOB_WEBHOOKS;
        req->route_name = "/api/v1/jobs/{id}/webhooks";
    } else if (match_id(url, "/api/v1/jobs/", "/events", req->id, sizeof req->id)) {
        req->route = ROUTE_JOB_EVENTS;
        req->route_name = "/api/v1/jobs/{id}/events";
    }
}

static int route_needs_auth(enum route route) {
    return route >= ROUTE_UPLOADS;
}

/* The methods each route answers, for 405 and Allow. */
static const char *route_methods(enum route route) {
    switch (route) {
    case ROUTE_UPLOADS:
    case ROUTE_CRON_DAILY:
        return "POST";
    case ROUTE_UPLOAD:
        return "PUT";
    case ROUTE_JOBS:
        return "GET, POST";
    case ROUTE_JOB:
        return "GET, DELETE";
    case ROUTE_NOT_FOUND:
        return "";
    default:
        return "GET";
    }
}

/* OPTIONS: the route's methods, and for a CORS preflight from an allowed
 * origin what the browser may send (answered before any key is asked for:
 * a preflight carries none). */
static enum MHD_Result answer_options(struct request *req) {
    struct MHD_Response *response = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!response) return MHD_NO;
    char allow[64];
    snprintf(allow, sizeof allow, "%s, OPTIONS", route_methods(req->route));
    MHD_add_response_header(response, "Allow", allow);
    const char *origin = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Origin");
    if (origin && cors_allow(req->server->config->cors_origins, origin)) {
        MHD_add_response_header(response, "Access-Control-Allow-Methods", allow);
        MHD_add_response_header(response, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type, Idempotency-Key, X-Request-Id,"
                                " Range, If-Range");
        MHD_add_response_header(response, "Access-Control-Max-Age", "600");
    }
    return http_respond(req, MHD_HTTP_NO_CONTENT, response);
}

/* Whether the request's Content-Type is JSON: application/json or a
 * "+json" type, parameters (charset) aside. */
static int content_is_json(const struct request *req) {
    const char *type =
        MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Content-Type");
    if (!type) return 0;
    size_t len = strcspn(type, "; \t");
    return (len == 16 && strncasecmp(type, "application/json", 16) == 0) ||
           (len > 5 && strncasecmp(type + len - 5, "+json", 5) == 0 &&
            strncasecmp(type, "application/", 12) == 0);
}

/* A body of another type than a JSON route takes: 415 before it is read.
 * No body at all is left to the handler's clearer 400. */
static enum MHD_Result check_media_type(struct request *req) {
    int json_route = strcmp(req->method, "POST") == 0 &&
                     (req->route == ROUTE_UPLOADS || (req->route == ROUTE_JOBS && !req->multipart));
    const char *type =
        MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Content-Type");
    if (!json_route || content_is_json(req) || (!type && !req->has_body)) return MHD_YES;
    char message[240];
    snprintf(message, sizeof message,
             "the body must be JSON sent with \"Content-Type: application/json\"%s (got %.60s)",
             req->route == ROUTE_JOBS ? ", or a multipart/form-data form" : "",
             type ? type : "no Content-Type");
    return http_respond_json_with(
        req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
        json_pack("{s:{s:s, s:s, s:s}}", "error", "code", "unsupported_media_type", "message",
                  message, "field", "Content-Type"),
        (struct http_header[]){{"Accept-Post", req->route == ROUTE_JOBS
                                                   ? "application/json, multipart/form-data"
                                                   : "application/json"}},
        1);
}

static int method_allowed(enum route route, const char *method) {
    const char *allowed = route_methods(route);
    if (strcmp(method, "HEAD") == 0) method = "GET";
    const char *hit = strstr(allowed, method);
    size_t len = strlen(method);
    return hit && (hit[len] == '\0' || hit[len] == ',');
}

/* ---- the request's first call: headers only ---------------------------- */

static enum MHD_Result authenticate(struct request *req) {
    struct http_server *server = req->server;
    const char *header =
        MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Authorization");
    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return http_respond_json_with(
            req, MHD_HTTP_UNAUTHORIZED,
            json_pack("{s:{s:s, s:s}}", "error", "code", "unauthorized", "message",
                      "send an API key as \"Authorization: Bearer vsr_...\";"
                      " create one with `vsr keys create`"),
            (struct http_header[]){{"WWW-Authenticate", "Bearer"}}, 1);
    const char *token = header + 7;
    while (*token == ' ')
        token++;
    struct vsr_error error = {0};
    char hash[65];
    store_hash_token(token, hash);
    int64_t now = ids_monotonic_ms();
    int found = key_cache_get(server->keys, hash, now, &req->key);
    if (!found) {
        found = store_key_authenticate(server->store, token, &req->key, &error);
        if (found == 1) key_cache_put(server->keys, &req->key, now);
    }
    if (found < 0)
        return http_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "database_unavailable",
                                  error.message, NULL);
    if (found == 0) /* RFC 6750 3.1: the challenge names the reason */
        return http_respond_json_with(
            req, MHD_HTTP_UNAUTHORIZED,
            json_pack("{s:{s:s, s:s}}", "error", "code", "unauthorized", "message",
                      "this API key is unknown or revoked; create one with `vsr keys create`"),
            (struct http_header[]){{"WWW-Authenticate", "Bearer error=\"invalid_token\""}}, 1);
    req->authenticated = 1;
    int wait = rate_limit_take(server->rate_limit, req->key.id, req->key.rate_per_second, now);
    if (wait > 0) {
        char retry[16], message[160];
        snprintf(retry, sizeof retry, "%d", wait);
        snprintf(message, sizeof message,
                 "rate limit of %g requests per second exceeded; retry after %d s",
                 req->key.rate_per_second, wait);
        return http_respond_json_with(req, MHD_HTTP_TOO_MANY_REQUESTS,
                                      json_pack("{s:{s:s, s:s, s:s, s:f}}", "error", "code",
                                                "rate_limited", "message", message, "limit", "rate",
                                                "limit_value", req->key.rate_per_second),
                                      (struct http_header[]){{"Retry-After", retry}}, 1);
    }
    return MHD_YES;
}

/* Bodies that carry a file may be MAX_REQUEST_SIZE; JSON bodies are small. */
static int64_t body_limit(const struct request *req) {
    return req->route == ROUTE_UPLOAD || req->multipart ? req->server->config->max_request_size
                                                        : HTTP_JSON_BODY_MAX;
}

static enum MHD_Result body_too_large(struct request *req) {
    char message[160];
    snprintf(message, sizeof message, "the request body is over the limit of %lld bytes",
             (long long)body_limit(req));
    return http_respond_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "request_too_large", message, NULL);
}

/* Refuses a body that is declared too big before any of it is read. */
static enum MHD_Result check_declared_size(struct request *req) {
    const char *length =
        MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Content-Length");
    if (length && strtoll(length, NULL, 10) > body_limit(req)) return body_too_large(req);
    return MHD_YES;
}

/* A POST /api/v1/jobs that carries the file itself (multipart/form-data). */
static int is_multipart_job(const struct request *req) {
    if (req->route != ROUTE_JOBS || strcmp(req->method, "POST") != 0) return 0;
    const char *type =
        MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Content-Type");
    return type && strncasecmp(type, "multipart/form-data", 19) == 0;
}

static enum MHD_Result begin_request(struct request *req) {
    if (req->url_has_nul)
        return http_respond_error(req, MHD_HTTP_BAD_REQUEST, "invalid_url",
                                  "the URL holds an escaped NUL byte (%00), which no path or"
                                  " parameter may contain",
                                  NULL);
    if (req->route == ROUTE_NOT_FOUND)
        return http_respond_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such endpoint", NULL);
    if (strcmp(req->method, "OPTIONS") == 0) return answer_options(req);
    if (!method_allowed(req->route, req->method))
        return http_respond_json_with(
            req, MHD_HTTP_METHOD_NOT_ALLOWED,
            json_pack("{s:{s:s, s:s}}", "error", "code", "method_not_allowed", "message",
                      "this endpoint does not answer that method"),
            (struct http_header[]){{"Allow", route_methods(req->route)}}, 1);
    /* Metrics are open unless the operator keeps them to admin keys. */
    int metrics_route = req->route == ROUTE_METRICS || req->route == ROUTE_METRICS_JSON;
    if (route_needs_auth(req->route) ||
        (metrics_route && req->server->config->metrics_admin_only)) {
        enum MHD_Result result = authenticate(req);
        if (result != MHD_YES || req->status) return result;
        if ((metrics_route || req->route == ROUTE_ADMIN_JOBS) && !req->key.admin)
            return http_respond_error(req, MHD_HTTP_FORBIDDEN, "admin_only",
                                      "this endpoint needs an admin key"
                                      " (`vsr keys create --admin`)",
                                      NULL);
    }
    req->multipart = is_multipart_job(req);
    enum MHD_Result result = check_media_type(req);
    if (result != MHD_YES || req->status) return result;
    result = check_declared_size(req);
    if (result != MHD_YES || req->status) return result;
    if (req->route == ROUTE_UPLOAD) return api_upload_begin(req);
    if (req->multipart) return api_job_multipart_begin(req);
    return MHD_YES;
}

/* ---- the body and the end of the request ------------------------------- */

static void take_body(struct request *req, const char *data, size_t size) {
    if (req->multipart) {
        req->received += (int64_t)size;
        if (req->received > body_limit(req))
            req->body_too_large = 1;
        else
            api_job_multipart_feed(req, data, size);
        return;
    }
    if (req->route == ROUTE_UPLOAD) {
        req->received += (int64_t)size;
        if (req->write_failed || !req->writer) return;
        if (req->received > req->server->config->max_request_size) {
            req->body_too_large = 1;
            return;
        }
        if (req->received > req->upload.declared_size) {
            req->over_declared = 1; /* api_upload_finish answers 413 */
            return;
        }
        if (blob_writer_write(req->writer, data, size, &req->write_error) != VSR_OK)
            req->write_failed = 1;
        return;
    }
    if (req->body_too_large) return;
    if (req->body_len + size > HTTP_JSON_BODY_MAX) {
        req->body_too_large = 1;
        return;
    }
    char *grown = realloc(req->body, req->body_len + size + 1);
    if (!grown) {
        req->body_too_large = 1;
        return;
    }
    req->body = grown;
    memcpy(req->body + req->body_len, data, size);
    req->body_len += size;
    req->body[req->body_len] = '\0';
}

static enum MHD_Result finish_request(struct request *req) {
    if (req->body_too_large) return body_too_large(req);
    int is_get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    switch (req->route) {
    case ROUTE_HEALTHZ:
        return api_healthz(req);
    case ROUTE_CRON_DAILY:
        return api_cron_daily(req);
    case ROUTE_READYZ:
        return api_readyz(req);
    case ROUTE_METRICS:
        return api_metrics(req, 0);
    case ROUTE_METRICS_JSON:
        return api_metrics(req, 1);
    case ROUTE_OPENAPI:
        return api_asset(req, http_openapi_json, "application/json");
    case ROUTE_DOCS:
        return api_asset(req, http_docs_html, "text/html; charset=utf-8");
    case ROUTE_WEB:
        return web_serve(req);
    case ROUTE_JOB_EVENTS:
        return api_job_events(req);
    case ROUTE_ADMIN_JOBS:
        return api_admin_job_list(req);
    case ROUTE_UPLOADS:
        return api_upload_create(req);
    case ROUTE_UPLOAD:
        return api_upload_finish(req);
    case ROUTE_JOBS:
        if (is_get) return api_job_list(req);
        return req->multipart ? api_job_multipart_finish(req) : api_job_create(req);
    case ROUTE_JOB:
        return is_get ? api_job_get(req) : api_job_cancel(req);
    case ROUTE_JOB_RESULT:
        return api_job_result(req);
    case ROUTE_JOB_WEBHOOKS:
        return api_job_webhooks(req);
    case ROUTE_NOT_FOUND:
        break;
    }
    return http_respond_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such endpoint", NULL);
}

/* Whether a body follows the head: a Content-Length above 0, or chunked. */
static int request_has_body(struct MHD_Connection *connection) {
    const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Length");
    const char *chunked =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Transfer-Encoding");
    return chunked || (length && strtoll(length, NULL, 10) > 0);
}

/* MHD's own unescaping, noting an escaped NUL that would cut the string. */
static size_t unescape(void *cls, struct MHD_Connection *connection, char *text) {
    size_t len = MHD_http_unescape(text);
    if (strlen(text) != len) connections_mark_nul(connections_state(connection));
    return len;
}

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    struct request *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req) return MHD_NO;
        *con_cls = req;
        req->server = cls;
        req->connection = connection;
        req->started_us = now_us();
        snprintf(req->method, sizeof req->method, "%s", method);
        snprintf(req->path, sizeof req->path, "%s", url);
        const char *given =
            MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-Request-Id");
        if (given && *given && strlen(given) < sizeof req->request_id &&
            strspn(given, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
                strlen(given))
            snprintf(req->request_id, sizeof req->request_id, "%s", given);
        else
            snprintf(req->request_id, sizeof req->request_id, "req_%s%08llx",
                     req->server->request_prefix,
                     (unsigned long long)atomic_fetch_add(&req->server->request_count, 1));
        req->connection_state = connections_state(connection);
        req->url_has_nul = connections_take_nul(req->connection_state);
        req->has_body = request_has_body(connection);
        route_request(req, url);
        connections_head_received(req->server->connections, req->connection_state, req->has_body);
        /* libmicrohttpd closes the connection after an answer queued at the
         * head, as a body might follow; without one, the answer waits for
         * the next call and the connection stays open. */
        if (!req->has_body) return MHD_YES;
        enum MHD_Result result = begin_request(req);
        if (req->status)
            connections_request_received(req->server->connections, req->connection_state);
        return result;
    }
    if (*upload_data_size > 0) {
        connections_body_received(req->server->connections, req->connection_state,
                                  *upload_data_size);
        /* After an early answer the rest of the body is read and dropped. */
        if (!req->status) take_body(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    connections_request_received(req->server->connections, req->connection_state);
    if (!req->has_body && !req->status) {
        enum MHD_Result result = begin_request(req);
        if (result != MHD_YES || req->status) return result;
    }
    if (req->status) return MHD_YES;
    return finish_request(req);
}

static void log_request(const struct request *req, double seconds) {
    char when[40];
    http_format_time(ids_now_ms(), when, sizeof when);
    json_t *line = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:I}", "ts", when, "event",
                             "request", "request_id", req->request_id, "method", req->method,
                             "path", req->path, "route", req->route_name, "status", req->status,
                             "duration_ms", round(seconds * 1e6) / 1000.0, "bytes_in",
                             (json_int_t)(req->route == ROUTE_UPLOAD || req->multipart
                                              ? req->received
                                              : (int64_t)req->body_len));
    if (line && req->authenticated) json_object_set_new(line, "key_id", json_string(req->key.id));
    if (line && req->log_detail[0])
        json_object_set_new(line, "detail", json_string(req->log_detail));
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (text) {
        log_writer_line(req->server->log, text, strlen(text));
        free(text);
    }
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode code) {
    struct request *req = *con_cls;
    if (!req) return;
    struct http_server *server = cls;
    connections_response_sent(server->connections, connections_state(connection));
    double seconds = (double)(now_us() - req->started_us) / 1e6;
    if (!req->status) req->status = 499; /* the client went away before an answer */
    metrics_record_request(server->metrics, req->route_name, req->method, req->status, seconds);
    if (server->log) log_request(req, seconds);
    blob_writer_abort(req->writer);
    blob_writer_abort(req->subtitles_writer);
    if (req->post) MHD_destroy_post_processor(req->post);
    json_decref(req->form);
    free(req->body);
    free(req);
    *con_cls = NULL;
}

/* ---- the daemon -------------------------------------------------------- */

static int parse_listen(const char *listen, struct sockaddr_in *addr, struct vsr_error *error) {
    char host[256];
    const char *colon = strrchr(listen, ':');
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    if (!colon || (size_t)(colon - listen) >= sizeof host) goto bad;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535) goto bad;
    addr->sin_port = htons((uint16_t)port);
    if (!*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
        addr->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        goto bad;
    return VSR_OK;
bad:
    error->code = VSR_E_USAGE;
    snprintf(error->message, sizeof error->message,
             "listen address \"%.200s\" is not IPV4:PORT (e.g. 127.0.0.1:8080 or 0.0.0.0:80)",
             listen);
    return VSR_E_USAGE;
}

/* Descriptors kept back for everything but client sockets: the database,
 * stored files, webhooks, workers' media files. */
#define RESERVED_FDS 256

/* The connection limit: WANTED, or fewer when the descriptor limit would
 * run out first. Past that limit accept() fails and nothing is answered any
 * more, health checks included, so the soft limit is raised to the hard one
 * first (as most servers do). */
static unsigned connection_limit(int wanted) {
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) != 0) return (unsigned)wanted;
    if (files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &files) != 0) getrlimit(RLIMIT_NOFILE, &files);
    }
    if (files.rlim_cur == RLIM_INFINITY) return (unsigned)wanted;
    rlim_t room =
        files.rlim_cur > 2 * RESERVED_FDS ? files.rlim_cur - RESERVED_FDS : files.rlim_cur / 2;
    return room < (rlim_t)wanted ? (unsigned)room : (unsigned)wanted;
}

int http_server_start(struct http_server **out, const struct service_config *config,
                      struct store *store, struct blob *blob, struct metrics *metrics,
                      struct vsr_error *error) {
    *out = NULL;
    struct sockaddr_in addr;
    int rc = parse_listen(config->listen, &addr, error);
    if (rc != VSR_OK) return rc;
    struct http_server *server = calloc(1, sizeof *server);
    if (!server || !(server->rate_limit = rate_limit_new()) || !(server->keys = key_cache_new()) ||
        (config->log_requests && !(server->log = log_writer_new(2))) ||
        !(server->connections =
              connections_new(config->header_timeout_seconds, config->min_upload_rate)) ||
        !(server->events = events_new())) {
        http_server_stop(server);
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    server->config = config;
    server->store = store;
    server->blob = blob;
    server->metrics = metrics;
    ids_random(server->request_prefix, sizeof server->request_prefix, "", 4);
    /* One thread per CPU by default: more threads than cores only queue
     * behind each other on SQLite's in-process WAL lock and stretch p99. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = config->http_threads > 0 ? (unsigned)config->http_threads
                       : cpus > 1               ? (unsigned)cpus
                                                : 1;
    unsigned limit = connection_limit(config->max_connections);
    if (limit < threads) limit = threads; /* MHD shares the limit out among its threads */
    server->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
        on_request, server, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
        MHD_OPTION_NOTIFY_CONNECTION, connections_notify, server->connections,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)config->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)config->idle_timeout_seconds,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
    if (!server->daemon) {
        http_server_stop(server);
        error->code = VSR_E_OUTPUT;
        snprintf(error->message, sizeof error->message,
                 "cannot listen on %.200s: the port is in use or the address is not local;"
                 " pick another with --listen",
                 config->listen);
        return VSR_E_OUTPUT;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info ? info->port : ntohs(addr.sin_port);
    *out = server;
    return VSR_OK;
}

int http_server_port(const struct http_server *server) {
    return server->port;
}

void http_server_stop(struct http_server *server) {
    if (!server) return;
    events_shutdown(server->events); /* MHD may stop no suspended connection */
    if (server->daemon) MHD_stop_daemon(server->daemon);
    events_free(server->events);
    connections_free(server->connections); /* after the daemon: no more callbacks */
    rate_limit_free(server->rate_limit);
    key_cache_free(server->keys);
    log_writer_free(server->log); /* after the daemon: the last lines are in */
    free(server);
}
