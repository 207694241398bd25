/* api.c: the handlers of the HTTP API (routes in server.c). Each handler
 * validates its input strictly (unknown fields are refused, so that a typo
 * never silently falls back to a default) and answers JSON; errors are
 * {"error": {"code", "message", "field"}}. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "captions/captions.h"
#include "http/http_internal.h"
#include "jobs/caption_jobs.h"
#include "jobs/job_types.h"
#include "service/disk_space.h"
#include "service/retention.h"
#include "service/webhooks.h"
#include "util/ids.h"
#include "util/redact.h"

/* ---- helpers ----------------------------------------------------------- */

static enum MHD_Result storage_error(struct request *req, const struct vsr_error *error) {
    return http_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                              error->message, NULL);
}

static json_t *time_or_null(int64_t ms) {
    if (ms <= 0) return json_null();
    char text[40];
    http_format_time(ms, text, sizeof text);
    return json_string(text);
}

/* Parses the body as a JSON object whose keys are all in ALLOWED (NULL-
 * terminated). On failure answers 400 and returns NULL. */
static json_t *parse_body(struct request *req, const char *const *allowed,
                          enum MHD_Result *result) {
    json_error_t json_error;
    json_t *root = req->body ? json_loadb(req->body, req->body_len, 0, &json_error) : NULL;
    if (!root || !json_is_object(root)) {
        char message[300];
        if (!req->body)
            snprintf(message, sizeof message, "the request needs a JSON object body");
        else if (!root)
            snprintf(message, sizeof message, "malformed JSON at line %d, column %d: %s",
                     json_error.line, json_error.column, json_error.text);
        else
            snprintf(message, sizeof message, "the body must be a JSON object");
        json_decref(root);
        *result = http_respond_error(req, MHD_HTTP_BAD_REQUEST, "invalid_json", message, NULL);
        return NULL;
    }
    const char *name;
    json_t *value;
    json_object_foreach(root, name, value) {
        int known = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, name) == 0) known = 1;
        if (!known) {
            char message[300];
            snprintf(message, sizeof message, "unknown field \"%.100s\"", name);
            *result = http_respond_error(req, MHD_HTTP_BAD_REQUEST, "unknown_field", message, name);
            json_decref(root);
            return NULL;
        }
    }
    return root;
}

static enum MHD_Result bad_field(struct request *req, const char *field, const char *message) {
    return http_respond_error(req, MHD_HTTP_BAD_REQUEST, "invalid_field", message, field);
}

/* ---- health and metrics ------------------------------------------------ */

enum MHD_Result api_healthz(struct request *req) {
    return http_respond_json(req, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
}

enum MHD_Result api_readyz(struct request *req) {
    struct http_server *server = req->server;
    struct vsr_error db_error = {0}, blob_error = {0}, queue_error = {0};
    int64_t t0 = ids_monotonic_ms();
    int db_ok = store_ping(server->store, &db_error) == VSR_OK;
    int64_t t1 = ids_monotonic_ms();
    int blob_ok = blob_check(server->blob, &blob_error) == VSR_OK;
    int64_t t2 = ids_monotonic_ms();
    int64_t depth[JOB_STATE_COUNT] = {0};
    int queue_ok = db_ok && store_queue_depth(server->store, depth, &queue_error) == VSR_OK;
    int64_t t3 = ids_monotonic_ms();
    json_t *database = json_pack("{s:b, s:I}", "ok", db_ok, "latency_ms", (json_int_t)(t1 - t0));
    if (!db_ok) json_object_set_new(database, "error", json_string(db_error.message));
    int pool_in_use = 0, pool_size = 0;
    if (store_pool_usage(server->store, &pool_in_use, &pool_size))
        json_object_set_new(database, "pool",
                            json_pack("{s:i, s:i}", "in_use", pool_in_use, "size", pool_size));
    json_t *storage = json_pack("{s:b, s:I}", "ok", blob_ok, "latency_ms", (json_int_t)(t2 - t1));
    if (!blob_ok) json_object_set_new(storage, "error", json_string(blob_error.message));
    json_t *queue = json_pack("{s:b, s:I, s:I, s:I}", "ok", queue_ok, "latency_ms",
                              (json_int_t)(t3 - t2), "queued", (json_int_t)depth[JOB_QUEUED],
                              "processing", (json_int_t)depth[JOB_PROCESSING]);
    /* Where workers write (the data folder when this process runs none).
     * Reported, not counted in "status": a full disk stops workers from
     * claiming, while the API still answers (uploads: 503). */
    char work[CONFIG_TEXT_SIZE + 8];
    snprintf(work, sizeof work, "%s/work", server->config->data_dir);
    int64_t free_bytes = disk_free_bytes(work);
    if (free_bytes < 0) free_bytes = disk_free_bytes(server->config->data_dir);
    int64_t min_free = (int64_t)server->config->min_free_mb * 1024 * 1024;
    json_t *disk =
        json_pack("{s:b, s:I, s:I}", "ok", free_bytes < 0 || free_bytes >= min_free, "free_bytes",
                  (json_int_t)free_bytes, "min_free_bytes", (json_int_t)min_free);
    int ok = db_ok && blob_ok && queue_ok;
    return http_respond_json(req, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                             json_pack("{s:s, s:{s:o, s:o, s:o, s:o}}", "status",
                                       ok ? "ok" : "unavailable", "services", "database", database,
                                       "storage", storage, "queue", queue, "disk", disk));
}

enum MHD_Result api_metrics(struct request *req, int json) {
    struct http_server *server = req->server;
    /* The same folder as readyz's disk check. */
    char work[CONFIG_TEXT_SIZE + 8];
    snprintf(work, sizeof work, "%s/work", server->config->data_dir);
    if (disk_free_bytes(work) < 0) snprintf(work, sizeof work, "%s", server->config->data_dir);
    char *text = json ? metrics_render_json(server->metrics, server->store)
                      : metrics_render_prometheus(server->metrics, server->store, work);
    return http_respond_text(req, MHD_HTTP_OK, text,
                             json ? "application/json" : "text/plain; version=0.0.4");
}

/* ---- uploads ----------------------------------------------------------- */

/* Subtitle files are small: a feature film's SRT is about 100 KB. */
#define MAX_SUBTITLES_SIZE (2 * 1024 * 1024)

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Whether the upload is a subtitle file (for burn and replace jobs) rather
 * than a video: said by its MIME type or its file name's extension. */
static int upload_is_subtitles(const struct upload *up) {
    static const char *const types[] = {"application/x-subrip", "text/vtt", "text/x-ssa",
                                        "text/x-ass",           "text/srt", NULL};
    static const char *const extensions[] = {".srt", ".vtt", ".ass", ".ssa", NULL};
    for (int i = 0; types[i]; i++)
        if (strncasecmp(up->mime_type, types[i], strlen(types[i])) == 0) return 1;
    for (int i = 0; extensions[i]; i++)
        if (ends_with(up->file_name, extensions[i])) return 1;
    return 0;
}

static json_t *upload_to_json(const struct http_server *server, const struct upload *up) {
    char url[CONFIG_TEXT_SIZE + 128];
    if (server->config->public_url[0])
        snprintf(url, sizeof url, "%s/api/v1/uploads/%s", server->config->public_url, up->id);
    else
        snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/uploads/%s", server->port, up->id);
    static const char *const states[] = {"pending", "ready", "rejected"};
    json_t *json =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:o, s:o}", "id", up->id, "fileName",
                  up->file_name, "mimeType", up->mime_type, "fileSize",
                  (json_int_t)up->declared_size, "received", (json_int_t)up->size, "status",
                  states[up->state], "upload_url", url, "method", "PUT", "expires_at",
                  time_or_null(up->expires_at), "created_at", time_or_null(up->created_at));
    /* Object storage: the client may PUT straight to the bucket instead;
     * the upload is checked when a job names it. */
    int64_t left = (up->expires_at - ids_now_ms()) / 1000;
    char direct[2048];
    struct vsr_error error = {0};
    if (up->state == UPLOAD_PENDING && left > 0 &&
        blob_presign(server->blob, up->blob, "PUT", (int)left, up->declared_size, direct,
                     sizeof direct, &error) == 1)
        json_object_set_new(json, "direct_upload_url", json_string(direct));
    json_object_set_new(json, "kind", json_string(upload_is_subtitles(up) ? "subtitles" : "video"));
    if (up->state == UPLOAD_READY && !upload_is_subtitles(up))
        json_object_set_new(json, "media",
                            json_pack("{s:f, s:i, s:i}", "duration_seconds",
                                      round(up->media_seconds * 1000) / 1000, "width", up->width,
                                      "height", up->height));
    if (up->state == UPLOAD_REJECTED) {
        char message[STORE_MESSAGE_SIZE];
        snprintf(message, sizeof message, "%s", up->error_message);
        redact_paths(message, sizeof message, server->config->data_dir);
        json_object_set_new(json, "error",
                            json_pack("{s:s, s:s}", "code", up->error_code, "message", message));
    }
    return json;
}

enum MHD_Result api_upload_create(struct request *req) {
    static const char *const allowed[] = {"fileName", "fileSize", "mimeType", NULL};
    struct http_server *server = req->server;
    enum MHD_Result result = MHD_NO;
    json_t *body = parse_body(req, allowed, &result);
    if (!body) return result;
    json_t *name = json_object_get(body, "fileName"), *size = json_object_get(body, "fileSize"),
           *mime = json_object_get(body, "mimeType");
    struct upload up = {0};
    struct vsr_error error = {0};
    if (!json_is_string(name) || json_string_length(name) == 0 ||
        json_string_length(name) >= sizeof up.file_name) {
        result = bad_field(req, "fileName", "fileName must be a non-empty string (< 128 bytes)");
        goto done;
    }
    if (!json_is_integer(size) || json_integer_value(size) < 0) {
        result = bad_field(req, "fileSize", "fileSize must be the file's size in bytes");
        goto done;
    }
    if (mime && (!json_is_string(mime) || json_string_length(mime) >= sizeof up.mime_type)) {
        result = bad_field(req, "mimeType", "mimeType must be a string such as video/mp4");
        goto done;
    }
    snprintf(up.file_name, sizeof up.file_name, "%s", json_string_value(name));
    snprintf(up.mime_type, sizeof up.mime_type, "%s",
             mime ? json_string_value(mime) : "application/octet-stream");
    int64_t limit =
        upload_is_subtitles(&up) ? MAX_SUBTITLES_SIZE : server->config->max_request_size;
    if (json_integer_value(size) > limit) {
        char message[160];
        snprintf(message, sizeof message, "fileSize is over the limit of %lld bytes%s",
                 (long long)limit, upload_is_subtitles(&up) ? " for subtitle files" : "");
        result = http_respond_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "file_too_large", message,
                                    "fileSize");
        goto done;
    }
    ids_random(up.id, sizeof up.id, "upl_", 12);
    snprintf(up.key_id, sizeof up.key_id, "%s", req->key.id);
    up.declared_size = json_integer_value(size);
    snprintf(up.blob, sizeof up.blob, "uploads/%s", up.id);
    up.state = UPLOAD_PENDING;
    up.audio_streams = -1; /* known once the file is probed */
    up.created_at = ids_now_ms();
    up.expires_at = up.created_at + (int64_t)server->config->upload_expiry_seconds * 1000;
    if (store_upload_create(server->store, &up, &error) != VSR_OK) {
        result = storage_error(req, &error);
        goto done;
    }
    result = http_respond_json(req, MHD_HTTP_CREATED, upload_to_json(server, &up));
done:
    json_decref(body);
    return result;
}

/* 413 for a body longer than the upload's declared fileSize, 422 for a
 * shorter one; the upload stays pending, so the right file can be PUT.
 * SENT is the body's length, or -1 for a chunked body counted only up to
 * the first byte past DECLARED. */
static enum MHD_Result size_refused(struct request *req, long long sent, long long declared) {
    char message[240];
    int over = sent < 0 || sent > declared;
    if (sent < 0)
        snprintf(message, sizeof message,
                 "the body is longer than the declared fileSize of %lld bytes; PUT exactly"
                 " fileSize bytes, or start a new upload with the right fileSize",
                 declared);
    else
        snprintf(message, sizeof message,
                 "the body has %lld bytes but the upload declared fileSize %lld; PUT exactly"
                 " fileSize bytes, or start a new upload with the right fileSize",
                 sent, declared);
    return http_respond_error(req,
                              over ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_UNPROCESSABLE_CONTENT,
                              over ? "file_too_large" : "size_mismatch", message, "fileSize");
}

/* At the PUT's headers: the upload must exist, belong to the key, not have
 * expired and not be filled yet. The writer is opened here so the body
 * streams straight to storage. */
enum MHD_Result api_upload_begin(struct request *req) {
    struct http_server *server = req->server;
    struct vsr_error error = {0};
    int found = store_upload_get(server->store, req->key.id, req->id, &req->upload, &error);
    if (found < 0) return storage_error(req, &error);
    if (found == 0)
        return http_respond_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such upload", NULL);
    if (req->upload.expires_at < ids_now_ms())
        return http_respond_error(req, MHD_HTTP_GONE, "upload_expired",
                                  "this upload URL expired; start a new upload", NULL);
    if (req->upload.state != UPLOAD_PENDING)
        return http_respond_error(req, MHD_HTTP_CONFLICT, "upload_complete",
                                  "this upload already holds a file; start a new upload", NULL);
    /* A body of another length than declared is refused before it is read
     * (a chunked body is counted as it comes, in api_upload_finish). */
    const char *length =
        MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Content-Length");
    if (length) {
        long long declared = (long long)req->upload.declared_size;
        long long sent = strtoll(length, NULL, 10);
        if (sent != declared) return size_refused(req, sent, declared);
    }
    if (blob_writer_open(server->blob, req->upload.blob, &req->writer, &error) != VSR_OK)
        return storage_error(req, &error);
    return MHD_YES;
}

/* A local copy of KEY: the blob's own file, or a temporary copy in
 * DATA_DIR (TEMP set to 1: the caller deletes it). */
static int sink_to_file(void *opaque, const void *data, size_t size) {
    return fwrite(data, 1, size, opaque) == size ? 0 : 1;
}

static int local_copy(struct http_server *server, const char *key, char *path, size_t size,
                      int *temp, struct vsr_error *error) {
    *temp = 0;
    if (blob_local_path(server->blob, key, path, size)) return VSR_OK;
    /* Named after the blob, so that an error about it names the upload
     * once redact_paths has taken the folder out. */
    const char *name = strrchr(key, '/');
    snprintf(path, size, "%s/probe-%.80s-XXXXXX", server->config->data_dir, name ? name + 1 : key);
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        error->code = VSR_E_OUTPUT;
        snprintf(error->message, sizeof error->message, "cannot create a temporary file in %.300s",
                 server->config->data_dir);
        return VSR_E_OUTPUT;
    }
    *temp = 1;
    int rc = blob_get(server->blob, key, sink_to_file, f, error);
    if (fclose(f) != 0 && rc == VSR_OK) rc = VSR_E_OUTPUT;
    return rc;
}

/* Reads a subtitle upload with the captions module's reader, the code
 * burn jobs use, so that a file refused here would fail there too. */
static void check_subtitles(struct http_server *server, struct upload *up) {
    char path[4096];
    int temp = 0;
    struct vsr_error error = {0};
    up->state = UPLOAD_REJECTED;
    if (up->size > MAX_SUBTITLES_SIZE) {
        snprintf(up->error_code, sizeof up->error_code, "file_too_large");
        snprintf(up->error_message, sizeof up->error_message,
                 "the subtitle file has %lld bytes, over the limit of %d", (long long)up->size,
                 MAX_SUBTITLES_SIZE);
        return;
    }
    int rc = local_copy(server, up->blob, path, sizeof path, &temp, &error);
    if (rc == VSR_OK) {
        ASS_Library *library = captions_library_new();
        ASS_Track *track = NULL;
        int is_ass = 0;
        rc = library ? subtitles_load(library, path, &track, &is_ass, &error) : VSR_E_NOMEM;
        if (track) ass_free_track(track);
        if (library) ass_library_done(library);
    }
    if (temp) unlink(path);
    if (rc != VSR_OK) {
        snprintf(up->error_code, sizeof up->error_code, "invalid_subtitles");
        snprintf(up->error_message, sizeof up->error_message,
                 "the file is not a readable subtitle file (%.400s); upload SRT, WebVTT or ASS",
                 error.message);
        return;
    }
    up->state = UPLOAD_READY;
}

/* Probes the upload with FFmpeg's libraries; fills its media facts or the
 * reason it is refused. */
static void probe_upload(struct http_server *server, struct upload *up) {
    char path[4096];
    int temp = 0;
    struct vsr_error error = {0};
    struct vsr_media_info info;
    if (upload_is_subtitles(up)) {
        check_subtitles(server, up);
        return;
    }
    int rc = local_copy(server, up->blob, path, sizeof path, &temp, &error);
    if (rc == VSR_OK) rc = vsr_probe(path, &info, &error);
    if (temp) unlink(path);
    up->state = UPLOAD_REJECTED;
    if (rc == VSR_E_NO_VIDEO) {
        snprintf(up->error_code, sizeof up->error_code, "no_video_stream");
        snprintf(up->error_message, sizeof up->error_message,
                 "the file has no video stream; upload a video file");
    } else if (rc != VSR_OK) {
        snprintf(up->error_code, sizeof up->error_code, "not_a_video");
        snprintf(up->error_message, sizeof up->error_message,
                 "the file is not a readable video (%.400s); upload an MP4, MKV or MOV file",
                 error.message);
    } else if (info.duration_seconds > server->config->max_duration_seconds) {
        snprintf(up->error_code, sizeof up->error_code, "too_long");
        snprintf(up->error_message, sizeof up->error_message,
                 "the video lasts %.0f s, over the limit of %.0f s; cut it into parts",
                 info.duration_seconds, server->config->max_duration_seconds);
    } else if (vsr_check_frame_size(info.width, info.height, &error) != VSR_OK) {
        snprintf(up->error_code, sizeof up->error_code, "too_small");
        snprintf(up->error_message, sizeof up->error_message, "%s", error.message);
    } else if (info.width > server->config->max_width || info.height > server->config->max_height) {
        snprintf(up->error_code, sizeof up->error_code, "too_large");
        snprintf(up->error_message, sizeof up->error_message,
                 "the video is %dx%d, over the limit of %dx%d; scale it down", info.width,
                 info.height, server->config->max_width, server->config->max_height);
    } else {
        up->state = UPLOAD_READY;
        up->media_seconds = info.duration_seconds;
        up->width = info.width;
        up->height = info.height;
        up->audio_streams = info.audio_streams;
    }
}

/* An upload still pending whose object exists was PUT straight to the
 * bucket (direct_upload_url): it is size-checked and probed now, as a PUT
 * through the server would have been. VSR_OK also when nothing is there. */
static int upload_complete_direct(struct http_server *server, struct upload *up,
                                  struct vsr_error *error) {
    int64_t size = 0;
    int found = blob_stat(server->blob, up->blob, &size, error);
    if (found <= 0) return found;
    up->size = size;
    if (size > server->config->max_request_size) {
        up->state = UPLOAD_REJECTED;
        snprintf(up->error_code, sizeof up->error_code, "file_too_large");
        snprintf(up->error_message, sizeof up->error_message,
                 "the file has %lld bytes, over the limit of %lld", (long long)size,
                 (long long)server->config->max_request_size);
    } else if (size != up->declared_size) {
        /* The presigned URL signs the length, but not every S3 store checks it. */
        up->state = UPLOAD_REJECTED;
        snprintf(up->error_code, sizeof up->error_code, "%s",
                 size > up->declared_size ? "file_too_large" : "size_mismatch");
        snprintf(up->error_message, sizeof up->error_message,
                 "the uploaded file has %lld bytes but the upload declared fileSize %lld;"
                 " start a new upload with the right fileSize",
                 (long long)size, (long long)up->declared_size);
    } else {
        probe_upload(server, up);
    }
    if (up->state == UPLOAD_REJECTED) blob_remove(server->blob, up->blob, error);
    return store_upload_update(server->store, up, error);
}

enum MHD_Result api_upload_finish(struct request *req) {
    struct http_server *server = req->server;
    struct vsr_error error = {0};
    if (req->write_failed) return storage_error(req, &req->write_error);
    struct blob_writer *writer = req->writer;
    req->writer = NULL;
    if (req->over_declared || req->received != req->upload.declared_size) {
        blob_writer_abort(writer); /* nothing is stored */
        long long declared = (long long)req->upload.declared_size;
        return size_refused(req, req->over_declared ? -1 : (long long)req->received, declared);
    }
    if (blob_writer_commit(writer, &error) != VSR_OK) return storage_error(req, &error);
    struct upload *up = &req->upload;
    up->size = req->received;
    probe_upload(server, up);
    if (up->state == UPLOAD_REJECTED) blob_remove(server->blob, up->blob, &error);
    if (store_upload_update(server->store, up, &error) != VSR_OK) return storage_error(req, &error);
    if (up->state == UPLOAD_REJECTED)
        return http_respond_error(req, MHD_HTTP_UNPROCESSABLE_CONTENT, up->error_code,
                                  up->error_message, "file");
    return http_respond_json(req, MHD_HTTP_OK, upload_to_json(server, up));
}

/* ---- jobs -------------------------------------------------------------- */

static json_t *job_to_json(struct http_server *server, const struct job *job, int with_position) {
    json_t *options = json_loads(job->options, 0, NULL);
    /* Workers store messages without paths; jobs failed before they did
     * may still hold some. */
    char message[STORE_MESSAGE_SIZE];
    snprintf(message, sizeof message, "%s", job->error_message);
    redact_paths(message, sizeof message, server->config->data_dir);
    json_t *json = json_pack(
        "{s:s, s:s, s:s, s:f, s:s, s:o, s:i, s:i, s:o, s:o, s:o, s:o}", "id", job->id, "type",
        job->type, "status", job_state_name(job->state), "progress", round(job->progress * 10) / 10,
        "upload_id", job->upload_id, "options", options ? options : json_object(), "attempts",
        job->attempts, "max_attempts", job->max_attempts, "created_at",
        time_or_null(job->created_at), "started_at", time_or_null(job->started_at), "finished_at",
        time_or_null(job->finished_at), "error",
        job->error_code[0] && job->state != JOB_SUCCEEDED
            ? json_pack("{s:s, s:s}", "code", job->error_code, "message", message)
            : json_null());
    if (!json) return NULL;
    json_object_set_new(json, "webhook_url",
                        job->webhook_url[0] ? json_string(job->webhook_url) : json_null());
    int64_t now = ids_now_ms();
    json_t *timings = json_object();
    int64_t started = job->started_at ? job->started_at : 0;
    int64_t queued_until = started ? started : (job->finished_at ? job->finished_at : now);
    json_object_set_new(timings, "queued_seconds",
                        json_real((double)(queued_until - job->created_at) / 1000.0));
    json_object_set_new(
        timings, "processing_seconds",
        started
            ? json_real((double)((job->finished_at ? job->finished_at : now) - started) / 1000.0)
            : json_null());
    json_object_set_new(json, "timings", timings);
    json_t *eta = json_null();
    if (job->state == JOB_PROCESSING && job->progress > 0.5 && started) {
        double elapsed = (double)(now - started) / 1000.0;
        eta = json_real(round(elapsed * (100.0 - job->progress) / job->progress));
    }
    json_object_set_new(json, "eta_seconds", eta);
    if (with_position && job->state == JOB_QUEUED) {
        int64_t position = 0;
        struct vsr_error error = {0};
        if (store_job_queue_position(server->store, job, &position, &error) == VSR_OK)
            json_object_set_new(json, "queue_position", json_integer(position));
    }
    if (job->purged_at) json_object_set_new(json, "purged_at", time_or_null(job->purged_at));
    if (job->state == JOB_SUCCEEDED && !job->purged_at) {
        char url[128];
        snprintf(url, sizeof url, "/api/v1/jobs/%s/result", job->id);
        json_object_set_new(json, "result_url", json_string(url));
        /* Object storage: a presigned URL that fetches the result straight
         * from the bucket, without the API server (and without a key). */
        char direct[2048], name[STORE_ID_SIZE + 16];
        struct vsr_error error = {0};
        int seconds = server->config->download_url_seconds;
        const struct job_type *type = job_type_find(job->type);
        snprintf(name, sizeof name, "%s%s", job->id, type ? type->output_extension : "");
        if (blob_presign_download(server->blob, job->output_blob, seconds,
                                  type ? type->content_type : "application/octet-stream", name,
                                  direct, sizeof direct, &error) == 1) {
            json_object_set_new(json, "download_url", json_string(direct));
            json_object_set_new(json, "download_expires_at",
                                time_or_null(now + (int64_t)seconds * 1000));
        }
    }
    return json;
}

json_t *api_job_json(struct http_server *server, const struct job *job) {
    return job_to_json(server, job, 1);
}

/* Seconds until the first day of next month (UTC), for Retry-After. */
static int64_t seconds_to_next_month(int64_t month_start_ms) {
    time_t t = (time_t)(month_start_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_mon += 1;
    int64_t next = (int64_t)timegm(&tm);
    int64_t wait = next - ids_now_ms() / 1000;
    return wait > 1 ? wait : 1;
}

static enum MHD_Result quota_exceeded(struct request *req, const char *limit, int64_t limit_value,
                                      int64_t retry_after, const char *message) {
    char retry[32];
    snprintf(retry, sizeof retry, "%lld", (long long)retry_after);
    return http_respond_json_with(req, MHD_HTTP_TOO_MANY_REQUESTS,
                                  json_pack("{s:{s:s, s:s, s:s, s:I}}", "error", "code",
                                            "quota_exceeded", "message", message, "limit", limit,
                                            "limit_value", (json_int_t)limit_value),
                                  (struct http_header[]){{"Retry-After", retry}}, 1);
}

/* Checks the key's quotas for a job of MEDIA_SECONDS; answers 429 when over. */
static enum MHD_Result check_quotas(struct request *req, double media_seconds, int *refused) {
    struct http_server *server = req->server;
    *refused = 0;
    if (req->key.jobs_per_day <= 0 && req->key.minutes_per_month <= 0) return MHD_YES;
    struct key_usage usage;
    struct vsr_error error = {0};
    if (store_key_usage(server->store, req->key.id, &usage, &error) != VSR_OK) {
        *refused = 1;
        return storage_error(req, &error);
    }
    char message[200];
    if (req->key.jobs_per_day > 0 && usage.jobs_last_day >= req->key.jobs_per_day) {
        *refused = 1;
        snprintf(message, sizeof message,
                 "quota of %lld jobs per day reached; retry later or ask for a larger quota",
                 (long long)req->key.jobs_per_day);
        return quota_exceeded(req, "jobs_per_day", req->key.jobs_per_day, 3600, message);
    }
    if (req->key.minutes_per_month > 0 &&
        usage.minutes_this_month + media_seconds / 60.0 > (double)req->key.minutes_per_month) {
        *refused = 1;
        snprintf(message, sizeof message,
                 "quota of %lld video minutes per month reached (%.1f used, this video %.1f)",
                 (long long)req->key.minutes_per_month, usage.minutes_this_month,
                 media_seconds / 60.0);
        return quota_exceeded(req, "minutes_per_month", req->key.minutes_per_month,
                              seconds_to_next_month(usage.month_start), message);
    }
    return MHD_YES;
}

/* burn and replace jobs: the subtitle upload named by the options must be
 * this key's, hold a readable subtitle file and be complete. 1 when it is
 * (its id in ID, "" when the options name none); otherwise the 422 or 503 is
 * queued in *RESULT and 0 is returned. */
static int check_job_subtitles(struct request *req, const char *options_text,
                               char id[STORE_ID_SIZE], enum MHD_Result *result) {
    struct http_server *server = req->server;
    static const char field[] = "options.subtitles_upload_id";
    struct upload up;
    struct vsr_error error = {0};
    id[0] = '\0';
    if (!caption_job_subtitles_upload(options_text, id, STORE_ID_SIZE)) return 1;
    int found = store_upload_get(server->store, req->key.id, id, &up, &error);
    if (found == 1 && up.state == UPLOAD_PENDING && upload_is_subtitles(&up) &&
        upload_complete_direct(server, &up, &error) < 0)
        found = -1;
    if (found < 0) {
        *result = storage_error(req, &error);
        return 0;
    }
    const char *code = NULL, *message = NULL;
    if (found == 0) {
        code = "upload_not_found";
        message = "options.subtitles_upload_id: no such upload for this key";
    } else if (!upload_is_subtitles(&up)) {
        code = "not_subtitles";
        message = "options.subtitles_upload_id: the upload is not a subtitle file; upload an SRT,"
                  " WebVTT or ASS file (mimeType application/x-subrip, text/vtt or text/x-ssa)";
    } else if (up.purged_at || up.expires_at + RETENTION_UNUSED_GRACE_MS / 2 < ids_now_ms()) {
        code = "upload_expired";
        message = "options.subtitles_upload_id: this upload expired; upload the file again";
    } else if (up.state == UPLOAD_PENDING) {
        code = "upload_incomplete";
        message = "options.subtitles_upload_id: the upload has no file yet: PUT the bytes to its"
                  " upload_url";
    } else if (up.state == UPLOAD_REJECTED) {
        code = up.error_code;
        message = up.error_message;
    }
    if (!code) return 1;
    *result = http_respond_error(req, MHD_HTTP_UNPROCESSABLE_CONTENT, code, message, field);
    return 0;
}

/* Whether the earlier job JOB, found by its Idempotency-Key, came from the
 * same request as this one (type, options and webhook_url; the upload is
 * compared by the caller). Options are compared as JSON values, so that key
 * order does not matter; a multipart retry brings its subtitles part again
 * as a new upload, so its id is not compared. */
static int same_request(const struct job *job, const char *type, const char *options_text,
                        json_t *webhook, int multipart) {
    if (strcmp(job->type, type) != 0) return 0;
    const char *url = json_string_value(webhook);
    if (strcmp(job->webhook_url, url ? url : "") != 0) return 0;
    json_t *before = json_loads(job->options, 0, NULL), *now = json_loads(options_text, 0, NULL);
    if (multipart && json_is_object(before) && json_is_object(now)) {
        json_object_del(before, "subtitles_upload_id");
        json_object_del(now, "subtitles_upload_id");
    }
    int same = before && now && json_equal(before, now);
    json_decref(before);
    json_decref(now);
    return same;
}

/* Creates a job from BODY (an object with only known fields): the JSON
 * request and the multipart form both end here. */
static enum MHD_Result create_job(struct request *req, json_t *body) {
    struct http_server *server = req->server;
    enum MHD_Result result = MHD_NO;
    struct job job = {0};
    struct upload up;
    struct vsr_error error = {0};
    char *options_text = NULL;
    json_t *type = json_object_get(body, "type"), *upload_id = json_object_get(body, "upload_id"),
           *options = json_object_get(body, "options"),
           *webhook = json_object_get(body, "webhook_url");
    const char *type_name = type ? json_string_value(type) : "remove";
    const struct job_type *job_type = type_name ? job_type_find(type_name) : NULL;
    if (!job_type) {
        result = bad_field(req, "type",
                           "type must name a job type: \"remove\", \"transcribe\", \"caption\","
                           " \"burn\" or \"replace\"");
        goto done;
    }
    if (!json_is_string(upload_id) || json_string_length(upload_id) >= sizeof job.upload_id) {
        result = bad_field(req, "upload_id", "upload_id must be the id from POST /api/v1/uploads");
        goto done;
    }
    if (options && !json_is_object(options)) {
        result = bad_field(req, "options", "options must be an object");
        goto done;
    }
    options_text = options ? json_dumps(options, JSON_COMPACT) : strdup("{}");
    if (!options_text || strlen(options_text) >= sizeof job.options) {
        result = bad_field(req, "options", "options are too long");
        goto done;
    }
    char field[64] = "options";
    if (job_type->validate(options_text, field, sizeof field, &error) != VSR_OK) {
        result = bad_field(req, field, error.message);
        goto done;
    }
    if (webhook && !json_is_null(webhook)) {
        const char *url = json_string_value(webhook);
        if (!url || strlen(url) >= sizeof job.webhook_url ||
            (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)) {
            result = bad_field(req, "webhook_url", "webhook_url must be an http(s) URL");
            goto done;
        }
        /* The SSRF guard: no webhooks into the operator's own network. */
        if (webhook_url_check(url, server->config->webhook_allow_private, &error) != VSR_OK) {
            result = bad_field(req, "webhook_url", error.message);
            goto done;
        }
        snprintf(job.webhook_url, sizeof job.webhook_url, "%s", url);
    }
    const char *idempotency =
        MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Idempotency-Key");
    if (idempotency &&
        (strlen(idempotency) == 0 || strlen(idempotency) >= sizeof job.idempotency_key)) {
        result =
            http_respond_error(req, MHD_HTTP_BAD_REQUEST, "invalid_header",
                               "Idempotency-Key must be 1 to 127 characters", "Idempotency-Key");
        goto done;
    }
    int found =
        store_upload_get(server->store, req->key.id, json_string_value(upload_id), &up, &error);
    if (found < 0) {
        result = storage_error(req, &error);
        goto done;
    }
    /* An upload that no job used is deleted RETENTION_UNUSED_GRACE_MS after its
     * URL expired; refusing it from half that on keeps a new job off a file the
     * sweep is deleting. */
    if (found == 1 &&
        (up.purged_at || up.expires_at + RETENTION_UNUSED_GRACE_MS / 2 < ids_now_ms())) {
        result = http_respond_error(req, MHD_HTTP_UNPROCESSABLE_CONTENT, "upload_expired",
                                    "this upload expired and its file was or is being deleted;"
                                    " upload the file again",
                                    "upload_id");
        goto done;
    }
    if (found == 1 && up.state == UPLOAD_PENDING) {
        int rc = upload_complete_direct(server, &up, &error);
        if (rc < 0) {
            result = storage_error(req, &error);
            goto done;
        }
    }
    if (found == 1 && upload_is_subtitles(&up)) {
        result = http_respond_error(req, MHD_HTTP_UNPROCESSABLE_CONTENT, "not_a_video",
                                    "upload_id names a subtitle file; it goes in"
                                    " options.subtitles_upload_id of a burn or replace job, and"
                                    " upload_id names the video",
                                    "upload_id");
        goto done;
    }
    if (found == 1 && up.state == UPLOAD_READY && up.size != up.declared_size) {
        /* Only uploads stored before sizes were enforced can get here. */
        up.state = UPLOAD_REJECTED;
        snprintf(up.error_code, sizeof up.error_code, "size_mismatch");
        snprintf(up.error_message, sizeof up.error_message,
                 "the upload holds %lld bytes but declared fileSize %lld; start a new upload",
                 (long long)up.size, (long long)up.declared_size);
    }
    if (found == 0 || up.state != UPLOAD_READY) {
        int too_large = found == 1 && up.state == UPLOAD_REJECTED &&
                        strcmp(up.error_code, "file_too_large") == 0;
        result = http_respond_error(
            req, too_large ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_UNPROCESSABLE_CONTENT,
            found == 0 ? "upload_not_found"
                       : (up.state == UPLOAD_PENDING ? "upload_incomplete" : up.error_code),
            found == 0 ? "no such upload for this key"
                       : (up.state == UPLOAD_PENDING
                              ? "the upload has no file yet: PUT the bytes to its upload_url"
                              : up.error_message),
            "upload_id");
        goto done;
    }
    if (job_type->check_input) {
        struct vsr_media_info media = {
            .width = up.width, .height = up.height, .audio_streams = up.audio_streams};
        struct job_input_error refusal = {0};
        if (job_type->check_input(options_text, &media, &refusal) != VSR_OK) {
            result = http_respond_error(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
                                        refusal.code[0] ? refusal.code : "invalid_field",
                                        refusal.error.message, refusal.field);
            goto done;
        }
    }
    if (!check_job_subtitles(req, options_text, job.subtitles_upload_id, &result)) goto done;
    int refused = 0;
    result = check_quotas(req, up.media_seconds, &refused);
    if (refused) goto done;
    snprintf(job.key_id, sizeof job.key_id, "%s", req->key.id);
    snprintf(job.type, sizeof job.type, "%s", job_type->name);
    snprintf(job.upload_id, sizeof job.upload_id, "%s", up.id);
    snprintf(job.input_blob, sizeof job.input_blob, "%s", up.blob);
    snprintf(job.options, sizeof job.options, "%s", options_text);
    if (idempotency) snprintf(job.idempotency_key, sizeof job.idempotency_key, "%s", idempotency);
    snprintf(job.request_id, sizeof job.request_id, "%s", req->request_id);
    job.media_seconds = up.media_seconds;
    job.max_attempts = server->config->max_attempts;
    int replayed = store_job_create(server->store, &job, &error);
    if (replayed < 0) {
        result = storage_error(req, &error);
        goto done;
    }
    if (replayed && req->multipart && strcmp(job.upload_id, up.id) != 0) {
        /* A retried multipart request brought its file again: the copy is
         * not needed. The same key with another file is refused. */
        struct upload first;
        int same =
            store_upload_get(server->store, req->key.id, job.upload_id, &first, &error) == 1 &&
            first.size == up.size && strcmp(first.file_name, up.file_name) == 0;
        blob_remove(server->blob, up.blob, &error);
        up.state = UPLOAD_REJECTED;
        snprintf(up.error_code, sizeof up.error_code, "duplicate");
        snprintf(up.error_message, sizeof up.error_message, "a retried request's copy of %s",
                 job.upload_id);
        store_upload_update(server->store, &up, &error);
        if (same) snprintf(up.id, sizeof up.id, "%s", job.upload_id);
    }
    if (replayed && (strcmp(job.upload_id, up.id) != 0 ||
                     !same_request(&job, job_type->name, options_text, webhook, req->multipart))) {
        result = http_respond_error(req, MHD_HTTP_UNPROCESSABLE_CONTENT, "idempotency_key_reused",
                                    "this Idempotency-Key was used for a different request;"
                                    " use a new key for a new request",
                                    "Idempotency-Key");
        goto done;
    }
    char location[96];
    snprintf(location, sizeof location, "/api/v1/jobs/%s", job.id);
    result = http_respond_json_with(
        req, MHD_HTTP_ACCEPTED, job_to_json(server, &job, 1),
        (struct http_header[]){{"Location", location},
                               {"Idempotent-Replayed", replayed ? "true" : NULL}},
        2);
done:
    free(options_text);
    return result;
}

enum MHD_Result api_job_create(struct request *req) {
    static const char *const allowed[] = {"type", "upload_id", "options", "webhook_url", NULL};
    enum MHD_Result result = MHD_NO;
    json_t *body = parse_body(req, allowed, &result);
    if (!body) return result;
    result = create_job(req, body);
    json_decref(body);
    return result;
}

/* ---- jobs from a multipart form ---------------------------------------- */

static void form_refuse(struct request *req, const char *field, const char *message) {
    if (req->form_error[0]) return; /* the first problem is the one answered */
    snprintf(req->form_error, sizeof req->form_error, "%s", message);
    snprintf(req->form_error_field, sizeof req->form_error_field, "%.63s", field);
}

/* A piece of the file part KEY ("file" or "subtitles"): the first opens a
 * new upload UP and its WRITER; bytes past CAP are counted, not stored (the
 * upload is refused for its size at the end). */
static enum MHD_Result form_file_piece(struct request *req, const char *key, const char *filename,
                                       const char *content_type, const char *data, uint64_t off,
                                       size_t size, struct blob_writer **writer, struct upload *up,
                                       int64_t *bytes, int64_t cap) {
    struct http_server *server = req->server;
    /* A new value (OFF 0) after file bytes arrived is a second file. */
    if (off == 0 && *bytes > 0) {
        char message[80];
        snprintf(message, sizeof message, "send one %s part only", key);
        form_refuse(req, key, message);
        return MHD_YES;
    }
    if (!*writer) {
        ids_random(up->id, sizeof up->id, "upl_", 12);
        snprintf(up->key_id, sizeof up->key_id, "%s", req->key.id);
        snprintf(up->file_name, sizeof up->file_name, "%.127s",
                 filename && *filename ? filename : "upload");
        snprintf(up->mime_type, sizeof up->mime_type, "%.127s",
                 content_type ? content_type : "application/octet-stream");
        snprintf(up->blob, sizeof up->blob, "uploads/%s", up->id);
        if (blob_writer_open(server->blob, up->blob, writer, &req->write_error) != VSR_OK) {
            req->write_failed = 1;
            return MHD_YES;
        }
    }
    int fits = *bytes + (int64_t)size <= cap;
    *bytes += (int64_t)size;
    if (fits && size > 0 && blob_writer_write(*writer, data, size, &req->write_error) != VSR_OK)
        req->write_failed = 1;
    return MHD_YES;
}

/* Called by libmicrohttpd's parser with each piece of each part, in order:
 * OFF is the piece's offset within its part's value. */
static enum MHD_Result form_part(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size) {
    struct request *req = cls;
    if (req->form_error[0] || req->write_failed) return MHD_YES; /* read on, answer at the end */
    if (strcmp(key, "file") == 0)
        return form_file_piece(req, key, filename, content_type, data, off, size, &req->writer,
                               &req->upload, &req->file_bytes, INT64_MAX);
    if (strcmp(key, "subtitles") == 0)
        return form_file_piece(req, key, filename, content_type, data, off, size,
                               &req->subtitles_writer, &req->subtitles_upload,
                               &req->subtitles_bytes, MAX_SUBTITLES_SIZE);
    static const char *const fields[] = {"type", "options", "webhook_url", NULL};
    int known = 0;
    for (const char *const *f = fields; *f; f++)
        if (strcmp(*f, key) == 0) known = 1;
    if (!known) {
        char message[160];
        snprintf(message, sizeof message,
                 "unknown form field \"%.60s\"; use file, subtitles, type, options, webhook_url",
                 key);
        form_refuse(req, key, message);
        return MHD_YES;
    }
    /* Text fields arrive in pieces, appended to what came so far; a new
     * value (OFF 0) where one is already held is a repeated field. */
    const char *before = json_string_value(json_object_get(req->form, key));
    size_t len = before ? strlen(before) : 0;
    if (off == 0 && len > 0) {
        form_refuse(req, key, "a form field appears twice");
        return MHD_YES;
    }
    if (len + size >= STORE_OPTIONS_SIZE) {
        form_refuse(req, key, "a form field is too long");
        return MHD_YES;
    }
    char *value = malloc(len + size + 1);
    if (!value) {
        form_refuse(req, key, "out of memory");
        return MHD_YES;
    }
    memcpy(value, before ? before : "", len);
    memcpy(value + len, data, size);
    value[len + size] = '\0';
    json_object_set_new(req->form, key, json_stringn(value, len + size));
    free(value);
    return MHD_YES;
}

enum MHD_Result api_job_multipart_begin(struct request *req) {
    req->multipart = 1;
    req->form = json_object();
    /* 64 KiB: the parser's buffer; file data passes through it in pieces. */
    req->post = MHD_create_post_processor(req->connection, 64 * 1024, form_part, req);
    if (!req->form || !req->post)
        return http_respond_error(req, MHD_HTTP_BAD_REQUEST, "invalid_multipart",
                                  "a multipart/form-data body needs a boundary parameter in"
                                  " Content-Type",
                                  NULL);
    return MHD_YES;
}

void api_job_multipart_feed(struct request *req, const char *data, size_t size) {
    if (req->form_error[0] || !req->post) return;
    if (MHD_post_process(req->post, data, size) != MHD_YES)
        form_refuse(req, "", "the multipart/form-data body is malformed");
}

/* A stored upload of a refused multipart request: its file deleted, the
 * row kept as rejected (retention skips it). */
static void discard_upload(struct http_server *server, struct upload *up) {
    struct vsr_error error = {0};
    if (up->state == UPLOAD_REJECTED) return; /* its file is gone already */
    blob_remove(server->blob, up->blob, &error);
    up->state = UPLOAD_REJECTED;
    snprintf(up->error_code, sizeof up->error_code, "request_refused");
    snprintf(up->error_message, sizeof up->error_message,
             "the request that brought this file was refused, and the file deleted");
    store_upload_update(server->store, up, &error);
}

static enum MHD_Result multipart_create_job(struct request *req);

enum MHD_Result api_job_multipart_finish(struct request *req) {
    struct http_server *server = req->server;
    struct vsr_error error = {0};
    /* Destroying the parser hands over the last part's tail. */
    if (req->post && MHD_destroy_post_processor(req->post) != MHD_YES)
        form_refuse(req, "", "the multipart/form-data body is malformed or cut short");
    req->post = NULL;
    if (req->write_failed) return storage_error(req, &req->write_error);
    if (req->form_error[0])
        return http_respond_error(req, MHD_HTTP_BAD_REQUEST, "invalid_form", req->form_error,
                                  req->form_error_field[0] ? req->form_error_field : NULL);
    if (!req->writer)
        return bad_field(req, "file", "the form needs a \"file\" part holding the video");
    struct blob_writer *writer = req->writer;
    req->writer = NULL;
    if (blob_writer_commit(writer, &error) != VSR_OK) return storage_error(req, &error);
    /* The file becomes an upload, probed like a PUT one. */
    struct upload *up = &req->upload;
    up->declared_size = up->size = req->file_bytes;
    up->created_at = ids_now_ms();
    up->expires_at = up->created_at + (int64_t)server->config->upload_expiry_seconds * 1000;
    probe_upload(server, up);
    if (up->state == UPLOAD_REJECTED) blob_remove(server->blob, up->blob, &error);
    if (store_upload_create(server->store, up, &error) != VSR_OK) {
        struct vsr_error ignored = {0};
        blob_remove(server->blob, up->blob, &ignored);
        return storage_error(req, &error);
    }
    if (up->state == UPLOAD_REJECTED)
        return http_respond_error(req, MHD_HTTP_UNPROCESSABLE_CONTENT, up->error_code,
                                  up->error_message, "file");
    enum MHD_Result result = multipart_create_job(req);
    /* Refused after the files were stored: a refused request keeps nothing. */
    if (req->status != MHD_HTTP_ACCEPTED) {
        discard_upload(server, up);
        if (req->subtitles_upload.id[0]) discard_upload(server, &req->subtitles_upload);
    }
    return result;
}

/* The files of a multipart request are stored: the subtitles part becomes
 * an upload, the form fields a job request, as api_job_create takes it. */
static enum MHD_Result multipart_create_job(struct request *req) {
    struct http_server *server = req->server;
    struct vsr_error error = {0};
    struct blob_writer *writer;
    struct upload *up = &req->upload;
    /* The subtitles part becomes a subtitle upload of its own. */
    struct upload *subs = &req->subtitles_upload;
    if (req->subtitles_writer) {
        writer = req->subtitles_writer;
        req->subtitles_writer = NULL;
        if (blob_writer_commit(writer, &error) != VSR_OK) return storage_error(req, &error);
        subs->declared_size = subs->size = req->subtitles_bytes;
        subs->created_at = up->created_at;
        subs->expires_at = up->expires_at;
        if (upload_is_subtitles(subs)) {
            check_subtitles(server, subs);
        } else {
            subs->state = UPLOAD_REJECTED;
            snprintf(subs->error_code, sizeof subs->error_code, "invalid_subtitles");
            snprintf(subs->error_message, sizeof subs->error_message,
                     "the subtitles part must be an .srt, .vtt, .ass or .ssa file, or have the"
                     " type application/x-subrip, text/vtt or text/x-ssa");
        }
        if (subs->state == UPLOAD_REJECTED) blob_remove(server->blob, subs->blob, &error);
        if (store_upload_create(server->store, subs, &error) != VSR_OK)
            return storage_error(req, &error);
        if (subs->state == UPLOAD_REJECTED)
            return http_respond_error(req, MHD_HTTP_UNPROCESSABLE_CONTENT, subs->error_code,
                                      subs->error_message, "subtitles");
    }
    /* The fields become the JSON body: options is JSON text. */
    json_t *body = json_pack("{s:s}", "upload_id", up->id);
    const char *text_fields[] = {"type", "webhook_url"};
    for (int i = 0; i < 2; i++) {
        json_t *value = json_object_get(req->form, text_fields[i]);
        if (value) json_object_set(body, text_fields[i], value);
    }
    const char *options = json_string_value(json_object_get(req->form, "options"));
    if (options) {
        json_error_t json_error;
        json_t *parsed = json_loads(options, 0, &json_error);
        if (!parsed) {
            json_decref(body);
            char message[300];
            snprintf(message, sizeof message, "options: malformed JSON at column %d: %s",
                     json_error.column, json_error.text);
            return http_respond_error(req, MHD_HTTP_BAD_REQUEST, "invalid_json", message,
                                      "options");
        }
        json_object_set_new(body, "options", parsed);
    }
    if (req->subtitles_bytes > 0 || subs->id[0]) {
        json_t *parsed = json_object_get(body, "options");
        if (!parsed) json_object_set_new(body, "options", parsed = json_object());
        if (!json_is_object(parsed) || json_object_get(parsed, "subtitles_upload_id")) {
            json_decref(body);
            return bad_field(req, "options.subtitles_upload_id",
                             "give the subtitles either as the subtitles part or as"
                             " options.subtitles_upload_id, not both");
        }
        json_object_set_new(parsed, "subtitles_upload_id", json_string(subs->id));
    }
    enum MHD_Result result = create_job(req, body);
    json_decref(body);
    return result;
}

/* Reads the key's job named by the path into JOB: 1 when found; otherwise
 * the 404 or 503 is queued, *RESULT holds its result and 0 is returned. */
static int find_job(struct request *req, struct job *job, enum MHD_Result *result) {
    struct vsr_error error = {0};
    int found = store_job_get(req->server->store, req->key.id, req->id, job, &error);
    if (found == 1) return 1;
    *result = found < 0
                  ? storage_error(req, &error)
                  : http_respond_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such job", NULL);
    return 0;
}

enum MHD_Result api_job_get(struct request *req) {
    struct http_server *server = req->server;
    struct job job;
    enum MHD_Result result = MHD_NO;
    if (!find_job(req, &job, &result)) return result;
    return http_respond_json(req, MHD_HTTP_OK, job_to_json(server, &job, 1));
}

enum MHD_Result api_job_cancel(struct request *req) {
    struct http_server *server = req->server;
    struct job job;
    struct vsr_error error = {0};
    int found = store_job_cancel(server->store, req->key.id, req->id, &job, &error);
    if (found < 0) return storage_error(req, &error);
    if (found == 0)
        return http_respond_error(req, MHD_HTTP_NOT_FOUND, "not_found", "no such job", NULL);
    /* 202 while the worker is still stopping it, 200 once it is final. */
    return http_respond_json(req, job.state == JOB_PROCESSING ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK,
                             job_to_json(server, &job, 0));
}

struct list_args {
    int unknown;
    char name[64];
};

static enum MHD_Result check_argument(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value) {
    struct list_args *args = cls;
    if (strcmp(key, "status") && strcmp(key, "limit") && strcmp(key, "cursor")) {
        args->unknown = 1;
        snprintf(args->name, sizeof args->name, "%s", key);
        return MHD_NO;
    }
    return MHD_YES;
}

/* A page of KEY_ID's jobs (NULL: every key's). */
static enum MHD_Result list_jobs(struct request *req, const char *key_id) {
    struct http_server *server = req->server;
    struct list_args args = {0};
    MHD_get_connection_values(req->connection, MHD_GET_ARGUMENT_KIND, check_argument, &args);
    if (args.unknown)
        return bad_field(req, args.name, "unknown query parameter; use status, limit, cursor");
    const char *status =
        MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, "status");
    const char *limit =
        MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, "limit");
    const char *cursor =
        MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, "cursor");
    struct job_list_query query = {.key_id = key_id, .state = -1, .limit = 20};
    if (status && *status && (query.state = job_state_parse(status)) < 0)
        return bad_field(req, "status",
                         "status must be queued, processing, succeeded, failed or canceled");
    if (limit) {
        char *end;
        long n = strtol(limit, &end, 10);
        if (*end || end == limit || n < 1 || n > 100)
            return bad_field(req, "limit", "limit must be a whole number from 1 to 100");
        query.limit = (int)n;
    }
    if (cursor && *cursor) {
        char *end;
        long long n = strtoll(cursor, &end, 10);
        if (*end || n <= 0) return bad_field(req, "cursor", "cursor must come from next_cursor");
        query.cursor = n;
    }
    struct job *jobs = calloc((size_t)query.limit, sizeof *jobs);
    if (!jobs) return MHD_NO;
    int count = 0;
    int64_t next = 0;
    struct vsr_error error = {0};
    enum MHD_Result result;
    if (store_job_list(server->store, &query, jobs, &count, &next, &error) != VSR_OK) {
        result = storage_error(req, &error);
    } else {
        json_t *data = json_array();
        for (int i = 0; i < count; i++) {
            json_t *job = job_to_json(server, &jobs[i], 0);
            if (!key_id && job) json_object_set_new(job, "key_id", json_string(jobs[i].key_id));
            json_array_append_new(data, job);
        }
        char next_text[32];
        snprintf(next_text, sizeof next_text, "%lld", (long long)next);
        result = http_respond_json(req, MHD_HTTP_OK,
                                   json_pack("{s:o, s:o}", "data", data, "next_cursor",
                                             next ? json_string(next_text) : json_null()));
    }
    free(jobs);
    return result;
}

enum MHD_Result api_job_list(struct request *req) {
    return list_jobs(req, req->key.id);
}

enum MHD_Result api_admin_job_list(struct request *req) {
    return list_jobs(req, NULL); /* server.c let only admin keys through */
}

/* ---- documentation ----------------------------------------------------- */

enum MHD_Result api_asset(struct request *req, const char *text, const char *content_type) {
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!response) return MHD_NO;
    MHD_add_response_header(response, "Content-Type", content_type);
    MHD_add_response_header(response, "Cache-Control", "public, max-age=300");
    return http_respond(req, MHD_HTTP_OK, response);
}

/* ---- results ----------------------------------------------------------- */

struct download {
    struct blob_reader *reader;
    int64_t offset; /* of the first byte sent */
};

static ssize_t read_download(void *cls, uint64_t pos, char *buf, size_t max) {
    struct download *d = cls;
    struct vsr_error error = {0};
    int64_t got = blob_reader_read_at(d->reader, d->offset + (int64_t)pos, buf, max, &error);
    if (got < 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (got == 0) return MHD_CONTENT_READER_END_OF_STREAM;
    return (ssize_t)got;
}

static void free_download(void *cls) {
    struct download *d = cls;
    blob_reader_close(d->reader);
    free(d);
}

/* Parses "bytes=A-B", "bytes=A-" or "bytes=-N" against SIZE. Returns 1 with
 * [*first, *last] for a satisfiable single range, 0 for none or an ignored
 * form (several ranges: the whole file is sent), -1 when unsatisfiable. */
static int parse_range(const char *header, int64_t size, int64_t *first, int64_t *last) {
    if (!header || strncmp(header, "bytes=", 6) != 0 || strchr(header, ',')) return 0;
    const char *spec = header + 6, *dash = strchr(spec, '-');
    if (!dash) return 0;
    char *end;
    if (dash == spec) {
        long long n = strtoll(dash + 1, &end, 10);
        if (*end || end == dash + 1 || n <= 0) return -1;
        if (size == 0) return -1;
        *first = n >= size ? 0 : size - n;
        *last = size - 1;
        return 1;
    }
    long long a = strtoll(spec, &end, 10);
    if (end != dash || a < 0) return 0;
    long long b = size - 1;
    if (dash[1]) {
        b = strtoll(dash + 1, &end, 10);
        if (*end || b < a) return 0;
        if (b > size - 1) b = size - 1;
    }
    if (a >= size) return -1;
    *first = a;
    *last = b;
    return 1;
}

/* IMF-fixdate (RFC 9110 5.6.7) of MS since the epoch. */
static void http_date(int64_t ms, char *out, size_t size) {
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Whether If-Range VALUE names the result as it is (RFC 9110 13.1.5): its
 * strong ETag, or exactly its Last-Modified date (a weak tag never does).
 * Dates are parsed by libcurl's curl_getdate, which reads all three HTTP
 * date forms. */
static int if_range_matches(const char *value, const char *etag, int64_t modified_ms) {
    if (value[0] == '"') return strcmp(value, etag) == 0;
    if (strncmp(value, "W/", 2) == 0) return 0;
    time_t date = curl_getdate(value, NULL);
    return date != -1 && (int64_t)date == modified_ms / 1000;
}

enum MHD_Result api_job_result(struct request *req) {
    struct http_server *server = req->server;
    struct job job;
    struct vsr_error error = {0};
    enum MHD_Result result = MHD_NO;
    if (!find_job(req, &job, &result)) return result;
    if (job.state != JOB_SUCCEEDED)
        return http_respond_error(req, MHD_HTTP_CONFLICT, "not_ready",
                                  "the job has no result: it has not succeeded (see status)", NULL);
    if (job.purged_at) {
        char message[200];
        snprintf(message, sizeof message,
                 "the result was deleted: results are kept %g hours after the job finished"
                 " (VSR_RETENTION_HOURS); run the job again",
                 server->config->retention_hours);
        return http_respond_error(req, MHD_HTTP_GONE, "result_expired", message, NULL);
    }
    struct download *d = calloc(1, sizeof *d);
    if (!d) return MHD_NO;
    if (blob_reader_open(server->blob, job.output_blob, &d->reader, &error) != VSR_OK) {
        free(d);
        return http_respond_error(req, MHD_HTTP_GONE, "result_gone",
                                  "the result file is no longer stored", NULL);
    }
    int64_t size = blob_reader_size(d->reader), first = 0, last = size - 1;
    /* A job's result never changes once it succeeded: its id, end time and
     * size make a strong validator. */
    char etag[STORE_ID_SIZE + 48], modified[40];
    snprintf(etag, sizeof etag, "\"%s-%llx-%llx\"", job.id, (unsigned long long)job.finished_at,
             (unsigned long long)size);
    http_date(job.finished_at, modified, sizeof modified);
    const char *range = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Range");
    const char *if_range =
        MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "If-Range");
    if (range && if_range && !if_range_matches(if_range, etag, job.finished_at))
        range = NULL; /* it changed (or is not known to be the same): the whole of it */
    int ranged = parse_range(range, size, &first, &last);
    char content_range[96];
    if (ranged < 0) {
        free_download(d);
        snprintf(content_range, sizeof content_range, "bytes */%lld", (long long)size);
        return http_respond_json_with(req, MHD_HTTP_RANGE_NOT_SATISFIABLE,
                                      json_pack("{s:{s:s, s:s}}", "error", "code",
                                                "range_not_satisfiable", "message",
                                                "the range starts past the end of the file"),
                                      (struct http_header[]){{"Content-Range", content_range}}, 1);
    }
    if (ranged == 0) {
        first = 0;
        last = size - 1;
    }
    d->offset = first;
    struct MHD_Response *response = MHD_create_response_from_callback(
        (uint64_t)(last - first + 1), 64 * 1024, read_download, d, free_download);
    if (!response) {
        free_download(d);
        return MHD_NO;
    }
    const struct job_type *type = job_type_find(job.type);
    char disposition[128];
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s%s\"", job.id,
             type ? type->output_extension : "");
    MHD_add_response_header(response, "Content-Type",
                            type ? type->content_type : "application/octet-stream");
    MHD_add_response_header(response, "Accept-Ranges", "bytes");
    MHD_add_response_header(response, "Content-Disposition", disposition);
    MHD_add_response_header(response, "ETag", etag);
    MHD_add_response_header(response, "Last-Modified", modified);
    if (ranged > 0) {
        snprintf(content_range, sizeof content_range, "bytes %lld-%lld/%lld", (long long)first,
                 (long long)last, (long long)size);
        MHD_add_response_header(response, "Content-Range", content_range);
    }
    return http_respond(req, ranged > 0 ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK, response);
}

enum MHD_Result api_job_webhooks(struct request *req) {
    struct http_server *server = req->server;
    struct job job;
    struct vsr_error error = {0};
    enum MHD_Result result = MHD_NO;
    if (!find_job(req, &job, &result)) return result;
    struct webhook_delivery rows[16];
    int count = 0;
    if (store_webhook_list(server->store, job.id, rows, 16, &count, &error) != VSR_OK)
        return storage_error(req, &error);
    json_t *data = json_array();
    for (int i = 0; i < count; i++) {
        const char *state = rows[i].delivered > 0   ? "delivered"
                            : rows[i].delivered < 0 ? "failed"
                                                    : "pending";
        json_array_append_new(
            data,
            json_pack("{s:I, s:s, s:s, s:s, s:i, s:i, s:s, s:o, s:o}", "id", (json_int_t)rows[i].id,
                      "event", rows[i].event, "url", rows[i].url, "status", state, "attempts",
                      rows[i].attempts, "last_status", rows[i].last_status, "last_error",
                      rows[i].last_error, "next_attempt_at",
                      rows[i].delivered ? json_null() : time_or_null(rows[i].next_attempt_at),
                      "created_at", time_or_null(rows[i].created_at)));
    }
    return http_respond_json(req, MHD_HTTP_OK, json_pack("{s:o}", "data", data));
}
