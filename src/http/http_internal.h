/* http_internal.h: what server.c (connections, routing, auth, logging) and
 * api.c (the handlers) share. Not a public header. */
#ifndef VSR_HTTP_INTERNAL_H
#define VSR_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <stdint.h>

#include <jansson.h>

#include "blob/blob.h"
#include "http/connections.h"
#include "http/events.h"
#include "http/key_cache.h"
#include "http/log_writer.h"
#include "http/rate_limit.h"
#include "jobs/store.h"
#include "service/config.h"
#include "service/metrics.h"

/* JSON request bodies are small; anything bigger is refused with 413. */
#define HTTP_JSON_BODY_MAX (64 * 1024)

enum route {
    ROUTE_NOT_FOUND,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_METRICS_JSON,
    ROUTE_OPENAPI,      /* GET /openapi.json */
    ROUTE_DOCS,         /* GET /docs */
    ROUTE_WEB,          /* GET / and /web/...: the page (web.c) */
    ROUTE_CRON_DAILY,   /* POST /api/v1/cron/daily: VSR_CRON_SECRET, not an API key */
    ROUTE_UPLOADS,      /* POST /api/v1/uploads; this and every route below need a key */
    ROUTE_UPLOAD,       /* PUT /api/v1/uploads/{id} */
    ROUTE_JOBS,         /* GET, POST /api/v1/jobs */
    ROUTE_JOB,          /* GET, DELETE /api/v1/jobs/{id} */
    ROUTE_JOB_RESULT,   /* GET /api/v1/jobs/{id}/result */
    ROUTE_JOB_WEBHOOKS, /* GET /api/v1/jobs/{id}/webhooks */
    ROUTE_JOB_EVENTS,   /* GET /api/v1/jobs/{id}/events: Server-Sent Events (events.c) */
    ROUTE_ADMIN_JOBS,   /* GET /api/v1/admin/jobs: admin keys only */
};

/* The served assets (build/gen/http_assets.c, made from src/http/). */
extern const char http_openapi_json[];
extern const char http_docs_html[];
extern const char http_web_index_html[], http_web_app_js[], http_web_app_css[];

struct http_server {
    const struct service_config *config;
    struct store *store;
    struct blob *blob;
    struct metrics *metrics;
    struct rate_limit *rate_limit;
    struct key_cache *keys;
    struct log_writer *log; /* request lines; NULL when they are off */
    struct connections *connections;
    struct events *events; /* the job event streams */
    struct MHD_Daemon *daemon;
    int port;
    /* Request ids: a random prefix per server and a counter (no system call
     * per request, unique across processes in practice). */
    char request_prefix[16];
    _Atomic uint64_t request_count;
};

/* One request, from its headers to its completion. */
struct request {
    struct http_server *server;
    struct MHD_Connection *connection;
    struct connection_state *connection_state; /* its deadlines (NULL: none) */
    int has_body;                              /* a Content-Length > 0 or chunked */
    int url_has_nul;                           /* an escaped NUL in the path or query */
    enum route route;
    const char *route_name; /* the template, for metrics */
    char method[16];
    char path[256];
    char id[STORE_ID_SIZE]; /* the {id} of the path */
    char request_id[40];
    int64_t started_us;
    int status; /* of the queued response; 0 until one is */
    /* An error message as it was before redact_paths took the server's paths
     * out of the client's copy: for the request log only. */
    char log_detail[STORE_MESSAGE_SIZE];
    struct api_key key;
    int authenticated;
    /* JSON bodies are buffered (up to HTTP_JSON_BODY_MAX). */
    char *body;
    size_t body_len;
    int body_too_large;
    /* Uploads stream into the blob store. */
    struct blob_writer *writer;
    struct upload upload;
    int64_t received;
    int over_declared; /* an upload's body went past its declared fileSize */
    int write_failed;
    struct vsr_error write_error;
    /* A multipart POST /api/v1/jobs: the "file" part streams into WRITER
     * (its bytes counted in file_bytes), the other fields collect in FORM. */
    int multipart;
    struct MHD_PostProcessor *post;
    json_t *form; /* field name -> string value */
    int64_t file_bytes;
    /* The optional "subtitles" part (burn and replace jobs), likewise. */
    struct blob_writer *subtitles_writer;
    struct upload subtitles_upload;
    int64_t subtitles_bytes;
    char form_error[160]; /* the first problem; answered with 400 at the end */
    char form_error_field[64];
};

/* Queues RESPONSE with STATUS, adding X-Request-Id; takes the response. */
enum MHD_Result http_respond(struct request *req, int status, struct MHD_Response *response);

/* Queues TEXT (malloc'd; taken over) with STATUS and CONTENT_TYPE. */
enum MHD_Result http_respond_text(struct request *req, int status, char *text,
                                  const char *content_type);

/* Queues JSON (a reference is taken over) with STATUS. */
enum MHD_Result http_respond_json(struct request *req, int status, json_t *json);

/* The same with COUNT extra headers (a NULL value skips its header). */
struct http_header {
    const char *name, *value;
};
enum MHD_Result http_respond_json_with(struct request *req, int status, json_t *json,
                                       const struct http_header *headers, size_t count);

/* Queues {"error": {code, message[, field]}} with STATUS. */
enum MHD_Result http_respond_error(struct request *req, int status, const char *code,
                                   const char *message, const char *field);

/* Handlers, in api.c. Each queues exactly one response. */
enum MHD_Result api_healthz(struct request *req);
/* In cron.c. */
enum MHD_Result api_cron_daily(struct request *req);
enum MHD_Result api_readyz(struct request *req);
enum MHD_Result api_metrics(struct request *req, int json);
enum MHD_Result api_upload_create(struct request *req);
enum MHD_Result api_upload_begin(struct request *req); /* at the PUT's headers */
enum MHD_Result api_upload_finish(struct request *req);
enum MHD_Result api_job_create(struct request *req);
/* A multipart POST /api/v1/jobs: _begin at the headers (sets up the parser),
 * _feed with each piece of the body, _finish at its end. */
enum MHD_Result api_job_multipart_begin(struct request *req);
void api_job_multipart_feed(struct request *req, const char *data, size_t size);
enum MHD_Result api_job_multipart_finish(struct request *req);
enum MHD_Result api_job_get(struct request *req);
enum MHD_Result api_job_list(struct request *req);
enum MHD_Result api_job_cancel(struct request *req);
enum MHD_Result api_job_result(struct request *req);
enum MHD_Result api_job_webhooks(struct request *req);
enum MHD_Result api_admin_job_list(struct request *req);
enum MHD_Result api_asset(struct request *req, const char *text, const char *content_type);
/* The job as GET /api/v1/jobs/{id} answers it (with its queue position). */
json_t *api_job_json(struct http_server *server, const struct job *job);
/* In web.c: the page's files, by REQ's path. */
enum MHD_Result web_serve(struct request *req);

/* Milliseconds since the epoch as "2026-11-23T09:17:39.123Z" (32 bytes). */
void http_format_time(int64_t ms, char *out, size_t size);

#endif
