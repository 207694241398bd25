/* test_web.c: the web page at / and the job event stream it watches, against
 * a real `vsr serve` (the built binary, one worker) on loopback: headers and
 * weight with libcurl, the Server-Sent Events stream read as it comes, and
 * the page's flows in Debian's Chromium (tests/web/run.mjs, playwright-core
 * and axe-core from npm). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "test.h"

struct serve {
    char dir[256];
    char log[320];
    char base[64];
    char token[128];
    char admin_token[128];
    struct test_child child;
};

/* `vsr keys create` in S's folder; the token into OUT. */
static int create_key(struct serve *s, const char *name, const char *flags, char *out,
                      size_t size) {
    char backend[2200], cmd[4096], text[4096];
    test_backend_args(s->dir, backend, sizeof backend);
    snprintf(cmd, sizeof cmd, "%s keys create --name %s %s --data-dir %s %s", test_vsr_bin(), name,
             flags, s->dir, backend);
    if (test_run(cmd, text, sizeof text) != 0) {
        fprintf(stderr, "  keys create: %s\n", text);
        return -1;
    }
    const char *token = strstr(text, "token: ");
    if (!token) return -1;
    snprintf(out, size, "%.*s", (int)strcspn(token + 7, " \n"), token + 7);
    return 0;
}

/* Starts `vsr serve` with one worker on a free loopback port; its log goes
 * to S->log, where the port is read from its serve.started line. */
static int serve_start(struct serve *s) {
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", test_tmpdir());
    snprintf(s->log, sizeof s->log, "%s/serve.log", s->dir);
    if (create_key(s, "web", "", s->token, sizeof s->token) != 0 ||
        create_key(s, "ops", "--admin", s->admin_token, sizeof s->admin_token) != 0) {
        test_failures++;
        return -1;
    }
    char backend[2200], cmd[4096];
    test_backend_args(s->dir, backend, sizeof backend);
    snprintf(cmd, sizeof cmd,
             "exec %s serve --data-dir %s %s --listen 127.0.0.1:0 --workers 1 --poll-ms 50"
             " 2>'%s'",
             test_vsr_bin(), s->dir, backend, s->log);
    if (test_spawn(&s->child, cmd, NULL) != 0) {
        test_failures++;
        return -1;
    }
    for (int i = 0; i < 400; i++) {
        char text[8192] = {0};
        FILE *f = fopen(s->log, "r");
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f) fclose(f);
        text[n] = '\0';
        const char *started = strstr(text, "\"serve.started\"");
        const char *port = started ? strstr(started, "\"port\":") : NULL;
        if (port) {
            snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", atoi(port + 7));
            return 0;
        }
        usleep(50 * 1000);
    }
    fprintf(stderr, "  vsr serve did not start; see %s\n", s->log);
    test_child_stop(&s->child);
    test_failures++;
    return -1;
}

static void serve_stop(struct serve *s) {
    test_child_stop(&s->child);
    if (test_failures) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "tail -n 40 '%s' >&2", s->log);
        if (system(cmd) != 0) fprintf(stderr, "  (no server log)\n");
    }
}

/* ---- one request with libcurl ------------------------------------------ */

struct reply {
    long status;
    char *body;
    size_t len;
    char headers[4096];
    int events; /* "event: job" messages seen as they came */
};

static size_t on_body(char *data, size_t size, size_t count, void *opaque) {
    struct reply *r = opaque;
    size_t n = size * count;
    char *grown = realloc(r->body, r->len + n + 1);
    if (!grown) return 0;
    r->body = grown;
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static size_t on_header(char *data, size_t size, size_t count, void *opaque) {
    struct reply *r = opaque;
    size_t n = size * count, used = strlen(r->headers);
    if (used + n < sizeof r->headers) {
        memcpy(r->headers + used, data, n);
        r->headers[used + n] = '\0';
    }
    return n;
}

/* METHOD BASE+PATH with TOKEN (NULL: none) and a JSON BODY (NULL: none), or
 * the file at UPLOAD as a PUT body. */
static void request(const char *base, const char *method, const char *path, const char *token,
                    const char *body, const char *upload, struct reply *r) {
    memset(r, 0, sizeof *r);
    CURL *curl = curl_easy_init();
    char url[512], auth[256];
    snprintf(url, sizeof url, "%s%s", base, path);
    struct curl_slist *headers = NULL;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, auth);
    }
    if (body) headers = curl_slist_append(headers, "Content-Type: application/json");
    FILE *file = upload ? fopen(upload, "rb") : NULL;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 300L);
    if (body) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    if (file) {
        struct stat st;
        fstat(fileno(file), &st);
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READDATA, file);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
    }
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) fprintf(stderr, "  %s %s: %s\n", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    if (file) fclose(file);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
}

/* The value of header NAME in R (case-insensitive), or "". */
static const char *header(const struct reply *r, const char *name, char *out, size_t size) {
    out[0] = '\0';
    size_t len = strlen(name);
    for (const char *line = r->headers; *line; line = strchr(line, '\n') + 1) {
        if (strncasecmp(line, name, len) == 0 && line[len] == ':') {
            const char *v = line + len + 1;
            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)strcspn(v, "\r\n"), v);
            break;
        }
        if (!strchr(line, '\n')) break;
    }
    return out;
}

/* ---- the page's headers and weight --------------------------------------- */

/* The page is served at / with its two files, under a CSP that allows no
 * inline code and no other origin, and weighs under 100 KB all told. */
TEST(http_web_page_headers) {
    struct serve s;
    if (serve_start(&s) != 0) return;
    static const char *const files[][2] = {
        {"/", "text/html"}, {"/web/app.js", "text/javascript"}, {"/web/app.css", "text/css"}};
    size_t weight = 0;
    for (size_t i = 0; i < 3; i++) {
        struct reply r;
        char value[1024];
        request(s.base, "GET", files[i][0], NULL, NULL, NULL, &r);
        CHECK_INT(200, r.status);
        CHECK(strncmp(header(&r, "Content-Type", value, sizeof value), files[i][1],
                      strlen(files[i][1])) == 0);
        header(&r, "Content-Security-Policy", value, sizeof value);
        CHECK(strstr(value, "default-src 'none'") != NULL);
        CHECK(strstr(value, "script-src 'self'") != NULL);
        CHECK(strstr(value, "connect-src 'self'") != NULL);
        CHECK(strstr(value, "frame-ancestors 'none'") != NULL);
        CHECK(strstr(value, "unsafe") == NULL);
        CHECK_STR("nosniff", header(&r, "X-Content-Type-Options", value, sizeof value));
        CHECK_STR("no-referrer", header(&r, "Referrer-Policy", value, sizeof value));
        if (i == 0 && r.body) {
            /* Nothing inline that the CSP would have to allow. */
            CHECK(strstr(r.body, "<script>") == NULL);
            CHECK(strstr(r.body, " style=") == NULL);
            CHECK(strstr(r.body, " onclick=") == NULL);
            CHECK(strstr(r.body, "<script src=\"/web/app.js\"") != NULL);
        }
        weight += r.len;
        free(r.body);
    }
    printf("    page weight %zu bytes\n", weight);
    CHECK_AT_MOST(100 * 1024, weight);
    serve_stop(&s);
}

/* ---- the event stream ---------------------------------------------------- */

static size_t on_events(char *data, size_t size, size_t count, void *opaque) {
    size_t n = on_body(data, size, count, opaque);
    struct reply *r = opaque;
    r->events = 0;
    for (const char *p = r->body; (p = strstr(p, "event: job\n")); p++)
        r->events++;
    return n;
}

/* A remove job watched through GET /api/v1/jobs/{id}/events: one event per
 * change, the first before the job is done and the last its success, then
 * the stream ends. Another key's job, or none, is 404. */
TEST(http_job_events_stream) {
    SLOW_TEST();
    struct serve s;
    if (serve_start(&s) != 0) return;
    char video[400], body[256], path[160], value[256];
    snprintf(video, sizeof video, "%s/clip.mp4", s.dir);
    CHECK_INT(0, test_make_video(video, "160x120", 3));
    struct stat st;
    stat(video, &st);
    struct reply r;
    snprintf(body, sizeof body, "{\"fileName\":\"clip.mp4\",\"fileSize\":%lld}",
             (long long)st.st_size);
    request(s.base, "POST", "/api/v1/uploads", s.token, body, NULL, &r);
    CHECK_INT(201, r.status);
    json_t *json = json_loads(r.body ? r.body : "", 0, NULL);
    char upload[64];
    snprintf(upload, sizeof upload, "%s", json_string_value(json_object_get(json, "id")));
    json_decref(json);
    free(r.body);
    snprintf(path, sizeof path, "/api/v1/uploads/%s", upload);
    request(s.base, "PUT", path, s.token, NULL, video, &r);
    CHECK_INT(200, r.status);
    free(r.body);
    snprintf(body, sizeof body, "{\"type\":\"remove\",\"upload_id\":\"%s\"}", upload);
    request(s.base, "POST", "/api/v1/jobs", s.token, body, NULL, &r);
    CHECK_INT(202, r.status);
    json = json_loads(r.body ? r.body : "", 0, NULL);
    char job[64];
    snprintf(job, sizeof job, "%s", json_string_value(json_object_get(json, "id")));
    json_decref(json);
    free(r.body);

    /* Read as a stream: libcurl returns when the server ends it. */
    snprintf(path, sizeof path, "%s/api/v1/jobs/%s/events", s.base, job);
    memset(&r, 0, sizeof r);
    CURL *curl = curl_easy_init();
    char auth[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s.token);
    struct curl_slist *headers = curl_slist_append(NULL, auth);
    curl_easy_setopt(curl, CURLOPT_URL, path);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_events);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 300L);
    CHECK_INT(CURLE_OK, curl_easy_perform(curl));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    CHECK_INT(200, r.status);
    CHECK_STR("text/event-stream", header(&r, "Content-Type", value, sizeof value));
    printf("    %d events\n", r.events);
    CHECK(r.events >= 2);
    /* Each event's data is the job as GET /api/v1/jobs/{id} answers it. */
    const char *first = r.body ? strstr(r.body, "data: ") : NULL;
    const char *last = r.body ? strrchr(r.body, '{') : NULL;
    /* Back to the start of the last event's JSON. */
    while (last && last >= r.body + 6 && strncmp(last - 6, "data: ", 6) != 0)
        last--;
    if (last && last < r.body + 6) last = NULL;
    json_t *a = first ? json_loads(first + 6, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    json_t *b = last ? json_loads(last, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    const char *first_status = json_string_value(json_object_get(a, "status"));
    const char *last_status = json_string_value(json_object_get(b, "status"));
    CHECK(first_status && strcmp(first_status, "succeeded") != 0);
    CHECK_STR("succeeded", last_status ? last_status : "");
    CHECK_STR(job, json_string_value(json_object_get(b, "id"))
                       ? json_string_value(json_object_get(b, "id"))
                       : "");
    json_decref(a);
    json_decref(b);
    free(r.body);

    snprintf(path, sizeof path, "/api/v1/jobs/%s/events", job);
    request(s.base, "GET", path, s.admin_token, NULL, NULL, &r); /* not that key's job */
    CHECK_INT(404, r.status);
    free(r.body);
    request(s.base, "GET", "/api/v1/jobs/job_nope/events", s.token, NULL, NULL, &r);
    CHECK_INT(404, r.status);
    free(r.body);
    request(s.base, "GET", path, NULL, NULL, NULL, &r);
    CHECK_INT(401, r.status);
    free(r.body);
    serve_stop(&s);
}

/* ---- the page in a browser ----------------------------------------------- */

/* 3 s of recorded speech (Debian's pocketsphinx test data), for the
 * caption job. */
#define SPEECH                                                                                     \
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"

/* The page's flows in Chromium (tests/web/run.mjs): sign in, a text file
 * refused with the API's 422, a clip uploaded with progress, a region
 * drawn, a remove job watched to the end, the comparison, the download
 * (scored here with score-removal.py), a caption job with a style, a
 * cancel, the jobs list paged, the operator view, axe-core on each view. */
TEST(http_web_browser_flows) {
    SLOW_TEST();
    const char *shared = test_shared_dir();
    if (!shared) SKIP("../shared (or $VSR_SHARED) is absent");
    if (access("/usr/bin/chromium", X_OK) != 0) SKIP("no /usr/bin/chromium (Debian's chromium)");
    if (access(SPEECH, R_OK) != 0) SKIP("no LibriVox clip of Debian's pocketsphinx (the speech)");
    if (access("tests/web/node_modules/playwright-core", R_OK) != 0)
        SKIP("tests/web/node_modules is missing: run scripts/install-deps.sh");
    struct serve s;
    if (serve_start(&s) != 0) return;
    /* A short small clip with speech (for the caption job) and burned-in
     * subtitles whose truth burn-fixture.sh keeps for the score. */
    char cmd[8192], out[16384], clip[400], srt[400], fixture[400];
    snprintf(clip, sizeof clip, "%s/clip.mp4", s.dir);
    snprintf(srt, sizeof srt, "%s/subs.srt", s.dir);
    snprintf(fixture, sizeof fixture, "%s/fixture", s.dir);
    FILE *f = fopen(srt, "w");
    if (f) {
        fputs("1\n00:00:00,200 --> 00:00:02,600\nThe quick brown fox.\n", f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -ss 2 -i '%s/media/car-detection.mp4' -i '%s' -map 0:v -map 1:a"
             " -t 3 -vf scale=320:-2 -c:v libx264 -preset veryfast -crf 14 -pix_fmt yuv420p"
             " -c:a aac '%s' &&"
             " '%s/bench/burn-fixture.sh' '%s' '%s' 'Fontname=DejaVu Sans,Fontsize=20,"
             "PrimaryColour=&H00FFFFFF,OutlineColour=&H00000000,BorderStyle=1,Outline=2' '%s'",
             shared, SPEECH, clip, shared, clip, srt, fixture);
    if (test_run(cmd, out, sizeof out) != 0) {
        fprintf(stderr, "  building the fixture failed: %s\n", out);
        test_failures++;
        serve_stop(&s);
        return;
    }
    char shots[512], result[512];
    snprintf(shots, sizeof shots, "build/web-shots");
    snprintf(result, sizeof result, "%s/downloaded", s.dir);
    snprintf(
        cmd, sizeof cmd,
        "VSR_WEB_BASE='%s' VSR_WEB_KEY='%s' VSR_WEB_ADMIN_KEY='%s' VSR_WEB_CLIP='%s/burned.mp4'"
        " VSR_WEB_SHOTS='%s' VSR_WEB_DOWNLOADS='%s' node tests/web/run.mjs",
        s.base, s.token, s.admin_token, fixture, shots, result);
    int rc = test_run(cmd, out, sizeof out);
    fprintf(stderr, "%s", out); /* each step, into the test's log */
    CHECK_INT(0, rc);
    /* The file the page downloaded, named after the upload. */
    char video[700];
    snprintf(video, sizeof video, "%s/burned-no-subtitles.mp4", result);
    if (access(video, R_OK) != 0) {
        fprintf(stderr, "  the page downloaded no %s\n", video);
        test_failures++;
        serve_stop(&s);
        return;
    }
    snprintf(cmd, sizeof cmd, "'%s/bench/score-removal.py' '%s' '%s' --json", shared, fixture,
             video);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    char *line = strrchr(out, '{');
    json_t *scores = line ? json_loads(line, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    double psnr_text = json_number_value(json_object_get(scores, "psnr_text"));
    printf("    downloaded result: psnr_text %.2f dB, psnr_outside %.2f dB\n", psnr_text,
           json_number_value(json_object_get(scores, "psnr_outside")));
    CHECK_AT_LEAST(25, psnr_text);
    json_decref(scores);
    /* The same score of the upload itself: the subtitles were there. */
    snprintf(cmd, sizeof cmd, "'%s/bench/score-removal.py' '%s' '%s/burned.mp4' --json", shared,
             fixture, fixture);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    line = strrchr(out, '{');
    scores = line ? json_loads(line, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    double psnr_burned = json_number_value(json_object_get(scores, "psnr_text"));
    printf("    the upload itself: psnr_text %.2f dB\n", psnr_burned);
    CHECK_AT_LEAST(psnr_burned + 8, psnr_text);
    json_decref(scores);
    serve_stop(&s);
}
