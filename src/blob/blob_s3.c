/* blob_s3.c: the file store on S3-compatible object storage (see blob.h):
 * AWS S3, Ceph radosgw, MinIO, R2, Spaces. Objects live at
 * ENDPOINT/BUCKET/PREFIX+KEY (path-style addressing).
 *
 * Requests are signed by libcurl (CURLOPT_AWS_SIGV4). libcurl 7.88 does not
 * add the x-amz-content-sha256 header that S3 requires with SigV4, so every
 * request sends it as UNSIGNED-PAYLOAD (the body is covered by TLS and, for
 * parts, by the ETag check of the complete call).
 *
 * Writers hold at most one part in memory: up to PART_SIZE bytes go up in
 * one PUT at commit; more become a multipart upload, part by part, so a
 * blob of any size streams in bounded memory and appears only when the
 * upload completes. Readers fetch READ_WINDOW bytes at a time with Range
 * requests and serve smaller reads from that window. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob/blob_s3.h"

#define PART_SIZE   (8 << 20) /* S3 parts are 5 MiB at least (all but the last) */
#define READ_WINDOW (4 << 20)
#define ERROR_BODY  2048 /* bytes of an error response kept for the message */

struct s3_writer {
    struct blob_writer base;
    struct s3_blob *s3;
    char key[256];
    char content_type[128]; /* "" when none */
    char *part;
    size_t part_len, part_cap;
    int parts; /* uploaded so far */
    char upload_id[256];
    char (*etags)[96];
    int etags_cap;
};

struct s3_reader {
    struct blob_reader base;
    struct s3_blob *s3;
    char key[256];
    int64_t size;
    char *window;
    int64_t window_offset;
    size_t window_len;
};

/* ---- one request ---------------------------------------------------------- */

struct body_in {
    const char *data;
    size_t size, pos;
};

struct body_out {
    char *data;
    size_t len, cap;
};

struct request {
    const char *method;       /* "GET", "PUT", "POST", "DELETE", "HEAD" */
    const char *key;          /* blob key, or NULL for the bucket itself */
    const char *query;        /* "" or "?uploads=" ... */
    const char *range;        /* "START-END" or NULL */
    const char *content_type; /* of the object written (PUT, multipart start), or NULL */
    struct body_in in;        /* request body (PUT, POST) */
    struct body_out out;      /* response body; stops at cap */
    char etag[96];            /* response ETag */
    int64_t content_length;
    int64_t total_size; /* from Content-Range "bytes A-B/TOTAL", -1 when absent */
    long status;
};

static size_t read_body(char *buf, size_t size, size_t count, void *opaque) {
    struct body_in *in = opaque;
    size_t n = size * count, left = in->size - in->pos;
    if (n > left) n = left;
    memcpy(buf, in->data + in->pos, n);
    in->pos += n;
    return n;
}

static size_t write_body(char *data, size_t size, size_t count, void *opaque) {
    struct body_out *out = opaque;
    size_t n = size * count, room = out->cap - out->len;
    memcpy(out->data + out->len, data, n < room ? n : room);
    out->len += n < room ? n : room;
    return n; /* the rest of an oversized body is dropped, not an error */
}

static size_t read_header(char *data, size_t size, size_t count, void *opaque) {
    struct request *r = opaque;
    size_t n = size * count;
    if (n > 6 && strncasecmp(data, "ETag:", 5) == 0) {
        const char *v = data + 5;
        while (*v == ' ')
            v++;
        size_t len = n - (size_t)(v - data);
        while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n'))
            len--;
        snprintf(r->etag, sizeof r->etag, "%.*s", (int)len, v);
    }
    if (n > 14 && strncasecmp(data, "Content-Range:", 14) == 0) {
        const char *slash = memchr(data, '/', n);
        if (slash && slash[1] >= '0' && slash[1] <= '9')
            r->total_size = strtoll(slash + 1, NULL, 10);
    }
    return n;
}

static CURL *take_handle(struct s3_blob *s) {
    CURL *curl = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->idle_count > 0) curl = s->idle[--s->idle_count];
    pthread_mutex_unlock(&s->lock);
    if (curl)
        curl_easy_reset(curl); /* keeps its connection */
    else
        curl = curl_easy_init();
    return curl;
}

static void give_handle(struct s3_blob *s, CURL *curl) {
    pthread_mutex_lock(&s->lock);
    if (s->idle_count < S3_HANDLES) {
        s->idle[s->idle_count++] = curl;
        curl = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (curl) curl_easy_cleanup(curl);
}

static int storage_error(struct vsr_error *error, int code, const struct request *r,
                         const char *why) {
    error->code = code;
    /* S3 errors are XML: <Error><Code>NoSuchBucket</Code>... */
    const char *tag = r->out.data ? strstr(r->out.data, "<Code>") : NULL;
    const char *end = tag ? strstr(tag, "</Code>") : NULL;
    snprintf(error->message, sizeof error->message, "storage: %s %.200s: %s%s%.*s", r->method,
             r->key ? r->key : "(bucket)", why, tag && end ? " " : "",
             tag && end ? (int)(end - tag - 6) : 0, tag && end ? tag + 6 : "");
    return code;
}

/* Sends R; VSR_OK when it got any HTTP answer (look at r->status). */
static int perform(struct s3_blob *s, struct request *r, struct vsr_error *error) {
    char url[1024], range[64];
    struct curl_slist *headers = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    char type[160];
    if (headers && r->content_type) {
        snprintf(type, sizeof type, "Content-Type: %.140s", r->content_type);
        headers = curl_slist_append(headers, type);
    }
    snprintf(url, sizeof url, "%s/%s/%s%s%s", s->endpoint, s->bucket, r->key ? s->prefix : "",
             r->key ? r->key : "", r->query ? r->query : "");
    CURL *curl = take_handle(s);
    if (!curl || !headers) {
        curl_slist_free_all(headers);
        if (curl) curl_easy_cleanup(curl);
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(curl, CURLOPT_USERPWD, s->userpwd);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled server: give up */
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, read_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r->out);
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(curl, CURLOPT_READDATA, &r->in);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->in.size);
        if (strcmp(r->method, "POST") == 0) curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "POST");
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, r->method);
    }
    if (r->range) {
        snprintf(range, sizeof range, "%s", r->range);
        curl_easy_setopt(curl, CURLOPT_RANGE, range);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    r->total_size = -1;
    CURLcode rc = curl_easy_perform(curl);
    curl_off_t length = -1;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    r->content_length = length;
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        curl_easy_cleanup(curl);
        error->code = VSR_E_OUTPUT;
        snprintf(error->message, sizeof error->message,
                 "storage: %s %.200s: %s; check that the S3 endpoint %.200s answers", r->method,
                 r->key ? r->key : "(bucket)", curl_easy_strerror(rc), s->endpoint);
        return VSR_E_OUTPUT;
    }
    give_handle(s, curl);
    return VSR_OK;
}

/* A request whose answer must be 2xx; ERROR_BODY bytes of the body kept. */
static int perform_ok(struct s3_blob *s, struct request *r, char *body, struct vsr_error *error) {
    r->out.data = body;
    r->out.cap = ERROR_BODY - 1;
    int rc = perform(s, r, error);
    body[r->out.len < ERROR_BODY ? r->out.len : ERROR_BODY - 1] = '\0';
    if (rc != VSR_OK) return rc;
    if (r->status / 100 != 2) {
        char why[32];
        snprintf(why, sizeof why, "HTTP %ld", r->status);
        return storage_error(error, VSR_E_OUTPUT, r, why);
    }
    return VSR_OK;
}

/* ---- writers -------------------------------------------------------------- */

static void writer_free(struct s3_writer *w) {
    free(w->part);
    free(w->etags);
    free(w);
}

/* Uploads the buffered part as the next part of the multipart upload,
 * starting the upload first when needed. */
static int flush_part(struct s3_writer *w, struct vsr_error *error) {
    char body[ERROR_BODY], query[400];
    if (!w->upload_id[0]) {
        struct request start = {.method = "POST", .key = w->key, .query = "?uploads="};
        if (w->content_type[0]) start.content_type = w->content_type;
        int rc = perform_ok(w->s3, &start, body, error);
        if (rc != VSR_OK) return rc;
        const char *id = strstr(body, "<UploadId>"), *end = id ? strstr(id, "</UploadId>") : NULL;
        if (!id || !end || end - id - 10 >= (long)sizeof w->upload_id)
            return storage_error(error, VSR_E_OUTPUT, &start, "no UploadId in the answer");
        snprintf(w->upload_id, sizeof w->upload_id, "%.*s", (int)(end - id - 10), id + 10);
    }
    if (w->parts == w->etags_cap) {
        int cap = w->etags_cap ? 2 * w->etags_cap : 64;
        char(*grown)[96] = realloc(w->etags, (size_t)cap * sizeof *grown);
        if (!grown) {
            error->code = VSR_E_NOMEM;
            snprintf(error->message, sizeof error->message, "out of memory");
            return VSR_E_NOMEM;
        }
        w->etags = grown;
        w->etags_cap = cap;
    }
    snprintf(query, sizeof query, "?partNumber=%d&uploadId=%s", w->parts + 1, w->upload_id);
    struct request put = {.method = "PUT", .key = w->key, .query = query};
    put.in = (struct body_in){.data = w->part, .size = w->part_len};
    int rc = perform_ok(w->s3, &put, body, error);
    if (rc != VSR_OK) return rc;
    if (!put.etag[0]) return storage_error(error, VSR_E_OUTPUT, &put, "no ETag for the part");
    snprintf(w->etags[w->parts++], sizeof w->etags[0], "%s", put.etag);
    w->part_len = 0;
    return VSR_OK;
}

static int s3_writer_open(struct blob *blob, const char *key, struct blob_writer **out,
                          struct vsr_error *error) {
    struct s3_writer *w = calloc(1, sizeof *w);
    if (!w) {
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    w->base.blob = blob;
    w->s3 = (struct s3_blob *)blob;
    snprintf(w->key, sizeof w->key, "%s", key);
    *out = &w->base;
    return VSR_OK;
}

static int s3_writer_write(struct blob_writer *writer, const void *data, size_t size,
                           struct vsr_error *error) {
    struct s3_writer *w = (struct s3_writer *)writer;
    const char *bytes = data;
    while (size > 0) {
        if (w->part_len == PART_SIZE) {
            int rc = flush_part(w, error);
            if (rc != VSR_OK) return rc;
        }
        size_t take = PART_SIZE - w->part_len < size ? PART_SIZE - w->part_len : size;
        if (w->part_len + take > w->part_cap) {
            /* Grow as bytes come, so small blobs take little memory. */
            size_t cap = w->part_cap ? w->part_cap : 256 << 10;
            while (cap < w->part_len + take)
                cap *= 2;
            if (cap > PART_SIZE) cap = PART_SIZE;
            char *grown = realloc(w->part, cap);
            if (!grown) {
                error->code = VSR_E_NOMEM;
                snprintf(error->message, sizeof error->message, "out of memory");
                return VSR_E_NOMEM;
            }
            w->part = grown;
            w->part_cap = cap;
        }
        memcpy(w->part + w->part_len, bytes, take);
        w->part_len += take;
        bytes += take;
        size -= take;
    }
    return VSR_OK;
}

static void abort_upload(struct s3_writer *w) {
    if (!w->upload_id[0]) return;
    char query[300], body[ERROR_BODY];
    struct vsr_error ignored = {0};
    snprintf(query, sizeof query, "?uploadId=%s", w->upload_id);
    struct request r = {.method = "DELETE", .key = w->key, .query = query};
    perform_ok(w->s3, &r, body, &ignored);
}

static int complete_upload(struct s3_writer *w, struct vsr_error *error) {
    int rc = VSR_OK;
    if (w->part_len > 0 && (rc = flush_part(w, error)) != VSR_OK) return rc;
    size_t cap = 128 + (size_t)w->parts * 160, len = 0;
    char *xml = malloc(cap), query[300], body[ERROR_BODY];
    if (!xml) {
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    len += (size_t)snprintf(xml + len, cap - len, "<CompleteMultipartUpload>");
    for (int i = 0; i < w->parts; i++)
        len += (size_t)snprintf(xml + len, cap - len,
                                "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1,
                                w->etags[i]);
    len += (size_t)snprintf(xml + len, cap - len, "</CompleteMultipartUpload>");
    snprintf(query, sizeof query, "?uploadId=%s", w->upload_id);
    struct request r = {.method = "POST", .key = w->key, .query = query};
    r.in = (struct body_in){.data = xml, .size = len};
    rc = perform_ok(w->s3, &r, body, error);
    /* S3 may answer 200 and still fail, with an <Error> in the body. */
    if (rc == VSR_OK && strstr(body, "<Error>"))
        rc = storage_error(error, VSR_E_OUTPUT, &r, "completing the upload failed");
    free(xml);
    return rc;
}

static int s3_writer_commit(struct blob_writer *writer, struct vsr_error *error) {
    struct s3_writer *w = (struct s3_writer *)writer;
    int rc;
    if (w->upload_id[0]) {
        rc = complete_upload(w, error);
        if (rc != VSR_OK) abort_upload(w);
    } else {
        char body[ERROR_BODY];
        struct request put = {.method = "PUT", .key = w->key};
        if (w->content_type[0]) put.content_type = w->content_type;
        put.in = (struct body_in){.data = w->part ? w->part : "", .size = w->part_len};
        rc = perform_ok(w->s3, &put, body, error);
    }
    writer_free(w);
    return rc;
}

static void s3_writer_abort(struct blob_writer *writer) {
    struct s3_writer *w = (struct s3_writer *)writer;
    abort_upload(w);
    writer_free(w);
}

static int s3_put_file(struct blob *blob, const char *key, const char *path, int move,
                       const char *content_type, struct vsr_error *error) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        error->code = VSR_E_INPUT;
        snprintf(error->message, sizeof error->message, "storage: cannot read %.300s", path);
        return VSR_E_INPUT;
    }
    struct blob_writer *writer = NULL;
    char *buf = malloc(1 << 20);
    int rc = buf ? s3_writer_open(blob, key, &writer, error) : VSR_E_NOMEM;
    struct s3_writer *w = (struct s3_writer *)writer;
    if (rc == VSR_OK && content_type)
        snprintf(w->content_type, sizeof w->content_type, "%s", content_type);
    size_t got;
    while (rc == VSR_OK && (got = fread(buf, 1, 1 << 20, f)) > 0)
        rc = s3_writer_write(writer, buf, got, error);
    if (rc == VSR_OK && ferror(f)) {
        error->code = rc = VSR_E_INPUT;
        snprintf(error->message, sizeof error->message, "storage: cannot read %.300s", path);
    }
    if (rc == VSR_OK) {
        rc = s3_writer_commit(writer, error);
    } else if (writer) {
        s3_writer_abort(writer);
    } else if (!buf) {
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
    }
    fclose(f);
    free(buf);
    if (rc == VSR_OK && move) unlink(path);
    return rc;
}

/* ---- readers and the rest ------------------------------------------------ */

/* The size of KEY: 1 and *size, 0 when missing. A GET of its first byte
 * (whose Content-Range tells the size) rather than a HEAD: with radosgw and
 * libcurl a HEAD on a kept-alive connection costs tens of milliseconds more. */
static int object_size(struct s3_blob *s, const char *key, int64_t *size, struct vsr_error *error) {
    char body[ERROR_BODY];
    struct request r = {.method = "GET", .key = key, .range = "0-0"};
    r.out = (struct body_out){.data = body, .cap = sizeof body - 1};
    int rc = perform(s, &r, error);
    if (rc != VSR_OK) return rc;
    body[r.out.len] = '\0';
    if (r.status == 404) return 0;
    if (r.status == 416) { /* empty: no byte 0 */
        *size = 0;
        return 1;
    }
    if (r.status == 206 && r.total_size >= 0) {
        *size = r.total_size;
        return 1;
    }
    if (r.status == 200) {
        *size = (int64_t)r.out.len;
        return 1;
    }
    char why[32];
    snprintf(why, sizeof why, "HTTP %ld", r.status);
    return storage_error(error, VSR_E_OUTPUT, &r, why);
}

/* Opening reads the first window with a ranged GET, which also tells the
 * object's size (Content-Range), so that a small blob costs one request. */
static int s3_reader_open(struct blob *blob, const char *key, struct blob_reader **out,
                          struct vsr_error *error) {
    struct s3_blob *s = (struct s3_blob *)blob;
    struct s3_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->window = malloc(READ_WINDOW))) {
        free(r);
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    r->base.blob = blob;
    r->s3 = s;
    snprintf(r->key, sizeof r->key, "%s", key);
    char range[64];
    snprintf(range, sizeof range, "0-%d", READ_WINDOW - 1);
    struct request get = {.method = "GET", .key = key, .range = range};
    get.out = (struct body_out){.data = r->window, .cap = READ_WINDOW};
    int rc = perform(s, &get, error);
    if (rc == VSR_OK && get.status == 206 && get.total_size >= 0) {
        r->size = get.total_size;
    } else if (rc == VSR_OK && get.status == 200) {
        r->size = (int64_t)get.out.len; /* the server ignored Range: the whole object */
    } else if (rc == VSR_OK && get.status == 416) {
        r->size = 0; /* an empty object has no byte 0 */
        get.out.len = 0;
    } else if (rc == VSR_OK) {
        char why[32];
        snprintf(why, sizeof why, "HTTP %ld", get.status);
        get.out.data[get.out.len < ERROR_BODY ? get.out.len : ERROR_BODY - 1] = '\0';
        rc = get.status == 404 ? VSR_E_INPUT : VSR_E_OUTPUT;
        storage_error(error, rc, &get, get.status == 404 ? "no such blob" : why);
    }
    if (rc != VSR_OK) {
        free(r->window);
        free(r);
        return rc;
    }
    r->window_offset = 0;
    r->window_len = get.out.len;
    *out = &r->base;
    return VSR_OK;
}

static int64_t s3_reader_size(const struct blob_reader *reader) {
    return ((const struct s3_reader *)reader)->size;
}

/* GET of bytes [OFFSET, OFFSET+SIZE) of the reader's object into BUF. */
static int64_t get_range(struct s3_reader *r, int64_t offset, char *buf, size_t size,
                         struct vsr_error *error) {
    char range[64], body_error[ERROR_BODY];
    snprintf(range, sizeof range, "%lld-%lld", (long long)offset,
             (long long)(offset + (int64_t)size - 1));
    struct request get = {.method = "GET", .key = r->key, .range = range};
    get.out = (struct body_out){.data = buf, .cap = size};
    int rc = perform(r->s3, &get, error);
    if (rc != VSR_OK) return rc;
    if (get.status != 206 && get.status != 200) {
        snprintf(body_error, sizeof body_error, "%.*s",
                 (int)(get.out.len < 512 ? get.out.len : 512), buf);
        get.out.data = body_error;
        char why[32];
        snprintf(why, sizeof why, "HTTP %ld", get.status);
        return storage_error(error, get.status == 404 ? VSR_E_INPUT : VSR_E_OUTPUT, &get, why);
    }
    return (int64_t)get.out.len;
}

static int64_t s3_reader_read_at(struct blob_reader *reader, int64_t offset, void *buf, size_t size,
                                 struct vsr_error *error) {
    struct s3_reader *r = (struct s3_reader *)reader;
    if (offset >= r->size || size == 0) return 0;
    if ((int64_t)size > r->size - offset) size = (size_t)(r->size - offset);
    if (size >= READ_WINDOW) return get_range(r, offset, buf, size, error);
    int inside = offset >= r->window_offset &&
                 offset + (int64_t)size <= r->window_offset + (int64_t)r->window_len;
    if (!inside) {
        if (!r->window && !(r->window = malloc(READ_WINDOW))) {
            error->code = VSR_E_NOMEM;
            snprintf(error->message, sizeof error->message, "out of memory");
            return VSR_E_NOMEM;
        }
        int64_t want = r->size - offset < READ_WINDOW ? r->size - offset : READ_WINDOW;
        int64_t got = get_range(r, offset, r->window, (size_t)want, error);
        if (got < 0) return got;
        r->window_offset = offset;
        r->window_len = (size_t)got;
        if ((int64_t)size > got) size = (size_t)got;
    }
    memcpy(buf, r->window + (offset - r->window_offset), size);
    return (int64_t)size;
}

static void s3_reader_close(struct blob_reader *reader) {
    struct s3_reader *r = (struct s3_reader *)reader;
    free(r->window);
    free(r);
}

static int s3_remove(struct blob *blob, const char *key, struct vsr_error *error) {
    char body[ERROR_BODY];
    struct request r = {.method = "DELETE", .key = key};
    r.out = (struct body_out){.data = body, .cap = sizeof body - 1};
    int rc = perform((struct s3_blob *)blob, &r, error);
    if (rc != VSR_OK) return rc;
    body[r.out.len] = '\0';
    if (r.status / 100 == 2 || r.status == 404) return VSR_OK;
    char why[32];
    snprintf(why, sizeof why, "HTTP %ld", r.status);
    return storage_error(error, VSR_E_OUTPUT, &r, why);
}

static int s3_stat(struct blob *blob, const char *key, int64_t *size, struct vsr_error *error) {
    return object_size((struct s3_blob *)blob, key, size, error);
}

static int s3_local_path(struct blob *blob, const char *key, char *path, size_t path_size) {
    return 0; /* objects are never local files */
}

static int s3_presign(struct blob *blob, const char *key, const char *method, int expires_seconds,
                      int64_t content_length, const char *content_type, const char *file_name,
                      char *url, size_t url_size, struct vsr_error *error) {
    if (s3_presign_at((struct s3_blob *)blob, key, method, expires_seconds, content_length,
                      content_type, file_name, time(NULL), url, url_size) != VSR_OK) {
        error->code = VSR_E_USAGE;
        snprintf(error->message, sizeof error->message, "storage: presigned URL too long");
        return VSR_E_USAGE;
    }
    return 1;
}

/* The bucket answers a HEAD with our keys (readiness). */
static int s3_check(struct blob *blob, struct vsr_error *error) {
    char body[ERROR_BODY];
    struct request r = {.method = "HEAD"};
    return perform_ok((struct s3_blob *)blob, &r, body, error);
}

/* ---- listing -------------------------------------------------------------- */

#define LIST_BODY (4 << 20) /* one ListObjectsV2 page: 1000 keys of a few hundred bytes */

/* The text of <TAG>...</TAG> at or after FROM and before LIMIT, into OUT. */
static int xml_value(const char *from, const char *limit, const char *tag, char *out, size_t size) {
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *start = strstr(from, open), *end = start ? strstr(start, close) : NULL;
    if (!start || !end || end > limit) return 0;
    start += strlen(open);
    snprintf(out, size, "%.*s", (int)(end - start), start);
    return 1;
}

/* "2026-12-07T16:27:11.000Z" as ms since the epoch. */
static int64_t iso_ms(const char *text) {
    struct tm tm = {0};
    int ms = 0;
    if (sscanf(text, "%d-%d-%dT%d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &ms) < 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* ListObjectsV2 under the prefix, 1000 keys a page; the query's parameters
 * in sorted order, as SigV4's canonical request wants them. */
static int s3_list(struct blob *blob, blob_list_fn fn, void *opaque, struct vsr_error *error) {
    struct s3_blob *s = (struct s3_blob *)blob;
    char *body = malloc(LIST_BODY), token[1024] = "", query[2048];
    CURL *escaper = curl_easy_init();
    char *prefix = escaper ? curl_easy_escape(escaper, s->prefix, 0) : NULL;
    int rc = VSR_OK, stop = 0;
    if (!body || !prefix) {
        error->code = rc = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        goto done;
    }
    do {
        char *escaped = token[0] ? curl_easy_escape(escaper, token, 0) : NULL;
        snprintf(query, sizeof query, "?%s%s%slist-type=2&prefix=%s",
                 escaped ? "continuation-token=" : "", escaped ? escaped : "", escaped ? "&" : "",
                 prefix);
        curl_free(escaped);
        struct request r = {.method = "GET", .query = query};
        r.out = (struct body_out){.data = body, .cap = LIST_BODY - 1};
        rc = perform(s, &r, error);
        if (rc != VSR_OK) break;
        body[r.out.len] = '\0';
        if (r.status / 100 != 2) {
            char why[32];
            snprintf(why, sizeof why, "HTTP %ld", r.status);
            rc = storage_error(error, VSR_E_OUTPUT, &r, why);
            break;
        }
        if (r.out.len >= LIST_BODY - 1) {
            error->code = rc = VSR_E_OUTPUT;
            snprintf(error->message, sizeof error->message,
                     "storage: listing the bucket: a page over %d bytes", LIST_BODY);
            break;
        }
        const char *at = body;
        while (!stop && (at = strstr(at, "<Contents>")) != NULL) {
            const char *end = strstr(at, "</Contents>");
            if (!end) break;
            char key[1024], size[32], modified[64];
            size_t skip = strlen(s->prefix);
            if (xml_value(at, end, "Key", key, sizeof key) &&
                xml_value(at, end, "Size", size, sizeof size) &&
                xml_value(at, end, "LastModified", modified, sizeof modified) &&
                strncmp(key, s->prefix, skip) == 0 && blob_key_valid(key + skip))
                stop = fn(opaque, key + skip, strtoll(size, NULL, 10), iso_ms(modified)) != 0;
            at = end;
        }
        char truncated[16] = "";
        xml_value(body, body + r.out.len, "IsTruncated", truncated, sizeof truncated);
        if (stop || strcmp(truncated, "true") != 0 ||
            !xml_value(body, body + r.out.len, "NextContinuationToken", token, sizeof token))
            token[0] = '\0';
    } while (token[0]);
done:
    curl_free(prefix);
    if (escaper) curl_easy_cleanup(escaper);
    free(body);
    return rc;
}

static void s3_close(struct blob *blob) {
    struct s3_blob *s = (struct s3_blob *)blob;
    for (int i = 0; i < s->idle_count; i++)
        curl_easy_cleanup(s->idle[i]);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const struct blob_ops s3_ops = {
    .close = s3_close,
    .writer_open = s3_writer_open,
    .writer_write = s3_writer_write,
    .writer_commit = s3_writer_commit,
    .writer_abort = s3_writer_abort,
    .put_file = s3_put_file,
    .reader_open = s3_reader_open,
    .reader_size = s3_reader_size,
    .reader_read_at = s3_reader_read_at,
    .reader_close = s3_reader_close,
    .remove = s3_remove,
    .stat = s3_stat,
    .local_path = s3_local_path,
    .presign = s3_presign,
    .check = s3_check,
    .list = s3_list,
};

int blob_s3_open(struct blob **out, const char *url, struct vsr_error *error) {
    *out = NULL;
    struct s3_blob *s = calloc(1, sizeof *s);
    if (!s) {
        error->code = VSR_E_NOMEM;
        snprintf(error->message, sizeof error->message, "out of memory");
        return VSR_E_NOMEM;
    }
    s->base.ops = &s3_ops;
    pthread_mutex_init(&s->lock, NULL);
    int rc = s3_parse_url(s, url, error);
    if (rc != VSR_OK) {
        s3_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return VSR_OK;
}
