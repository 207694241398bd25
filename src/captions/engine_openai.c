/* engine_openai.c: speech to text through an OpenAI-compatible
 * POST /v1/audio/transcriptions (OpenAI, a whisper.cpp or faster-whisper
 * server), with libcurl's multipart form.
 *
 * The audio goes as a 16 kHz mono WAV; the answer is asked as verbose_json
 * with word timestamps. 429 and 5xx answers and network errors are tried
 * again after 1, 2, 4... s, or after the server's Retry-After (seconds or an
 * HTTP date), at most 60 s. Word texts of the API carry no punctuation: it is
 * taken back from the segments' text where the words match. */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "captions/transcript.h"
#include "util/error.h"

#define DEFAULT_URL      "https://api.openai.com"
#define DEFAULT_PATH     "/v1/audio/transcriptions"
#define DEFAULT_MODEL    "whisper-1"
#define MAX_UPLOAD_BYTES (25u << 20) /* the API's file limit */
#define MAX_WAIT_SECONDS 60
#define MAX_ANSWER_BYTES (64u << 20)

struct answer {
    char *data;
    size_t size;
    long retry_after; /* seconds, -1 when not given */
};

static size_t on_body(char *data, size_t size, size_t count, void *opaque) {
    struct answer *a = opaque;
    size_t n = size * count;
    if (a->size + n > MAX_ANSWER_BYTES) return 0;
    char *grown = realloc(a->data, a->size + n + 1);
    if (!grown) return 0;
    memcpy(grown + a->size, data, n);
    a->data = grown;
    a->size += n;
    a->data[a->size] = '\0';
    return n;
}

static size_t on_header(char *line, size_t size, size_t count, void *opaque) {
    struct answer *a = opaque;
    size_t n = size * count;
    static const char name[] = "retry-after:";
    if (n > sizeof name && strncasecmp(line, name, sizeof name - 1) == 0) {
        char value[128];
        size_t length =
            n - (sizeof name - 1) < sizeof value - 1 ? n - (sizeof name - 1) : sizeof value - 1;
        memcpy(value, line + sizeof name - 1, length);
        value[length] = '\0';
        char *end;
        long seconds = strtol(value, &end, 10);
        while (*end && isspace((unsigned char)*end))
            end++;
        if (end != value && !*end && seconds >= 0) {
            a->retry_after = seconds;
        } else {
            time_t when = curl_getdate(value, NULL); /* an HTTP date */
            if (when > 0) a->retry_after = when > time(NULL) ? (long)(when - time(NULL)) : 0;
        }
    }
    return n;
}

/* A canonical 44-byte WAV header and the samples, little-endian. */
static unsigned char *make_wav(const struct audio_pcm *pcm, size_t *size) {
    size_t data = pcm->count * 2;
    unsigned char *wav = malloc(44 + data);
    if (!wav) return NULL;
    uint32_t rate = (uint32_t)pcm->rate,
             fields[] = {36 + (uint32_t)data, 16, 1 | 1 << 16, rate, rate * 2, 2 | 16 << 16,
                         (uint32_t)data};
    memcpy(wav, "RIFF", 4);
    memcpy(wav + 8, "WAVEfmt ", 8);
    memcpy(wav + 36, "data", 4);
    size_t at[] = {4, 16, 20, 24, 28, 32, 40};
    for (int i = 0; i < 7; i++)
        for (int b = 0; b < 4; b++)
            wav[at[i] + b] = (unsigned char)(fields[i] >> (8 * b));
    for (size_t i = 0; i < pcm->count; i++) {
        uint16_t s = (uint16_t)pcm->samples[i];
        wav[44 + 2 * i] = (unsigned char)s;
        wav[45 + 2 * i] = (unsigned char)(s >> 8);
    }
    *size = 44 + data;
    return wav;
}

/* Lowercase letters and digits of S, for matching words to segment text. */
static void normalise(const char *s, char *out, size_t size) {
    size_t n = 0;
    for (; *s && n + 1 < size; s++)
        if (isalnum((unsigned char)*s) || (unsigned char)*s >= 0x80)
            out[n++] = (char)tolower((unsigned char)*s);
    out[n] = '\0';
}

/* Gives words the punctuation and case of the segments' text. */
static void punctuate(struct transcript *t, size_t first, const json_t *segments) {
    size_t w = first;
    size_t index;
    const json_t *segment;
    json_array_foreach(segments, index, segment) {
        const char *text = json_string_value(json_object_get(segment, "text"));
        if (!text) continue;
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", text);
        for (char *save = NULL, *token = strtok_r(copy, " \t\n", &save); token && w < t->count;
             token = strtok_r(NULL, " \t\n", &save)) {
            char a[64], b[64];
            normalise(token, a, sizeof a);
            normalise(t->words[w].text, b, sizeof b);
            if (!*a) continue;
            if (strcmp(a, b) == 0 && strlen(token) < sizeof t->words[w].text)
                snprintf(t->words[w].text, sizeof t->words[w].text, "%s", token);
            if (strcmp(a, b) == 0) w++;
        }
    }
}

static int add_words_of(struct transcript *t, const char *text, double start, double end) {
    /* Segments without word times: words spread evenly over the segment. */
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", text);
    int n = 0;
    for (const char *p = copy; *p;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (*p) n++;
        while (*p && !isspace((unsigned char)*p))
            p++;
    }
    int i = 0;
    for (char *save = NULL, *token = strtok_r(copy, " \t\n", &save); token;
         token = strtok_r(NULL, " \t\n", &save), i++) {
        double a = start + (end - start) * i / n, b = start + (end - start) * (i + 1) / n;
        if (transcript_add(t, token, strlen(token), a, b) < 0) return VSR_E_NOMEM;
    }
    return 0;
}

int transcript_from_openai_json(const char *text, size_t length, struct transcript *t,
                                struct vsr_error *error) {
    json_error_t parse_error;
    json_t *root = json_loadb(text, length, 0, &parse_error);
    int ret = 0;
    if (!json_is_object(root)) {
        ret = error_set(error, VSR_E_CODEC,
                        "the transcription server answered something that is not a JSON object "
                        "(%s)",
                        root ? "not an object" : parse_error.text);
        goto done;
    }
    const json_t *words = json_object_get(root, "words"),
                 *segments = json_object_get(root, "segments");
    const json_t *language = json_object_get(root, "language");
    const json_t *duration = json_object_get(root, "duration");
    if (json_is_string(language))
        snprintf(t->language, sizeof t->language, "%s", json_string_value(language));
    if (json_is_number(duration)) t->duration = json_number_value(duration);
    size_t first = t->count, index;
    const json_t *item;
    if (json_is_array(words) && json_array_size(words) > 0) {
        json_array_foreach(words, index, item) {
            const json_t *word = json_object_get(item, "word"),
                         *start = json_object_get(item, "start"),
                         *end = json_object_get(item, "end");
            if (!json_is_string(word) || !json_is_number(start) || !json_is_number(end)) {
                ret = error_set(error, VSR_E_CODEC,
                                "the transcription server's word %zu lacks word, start or end",
                                index);
                goto done;
            }
            const char *s = json_string_value(word);
            while (isspace((unsigned char)*s))
                s++;
            size_t n = strlen(s);
            while (n > 0 && isspace((unsigned char)s[n - 1]))
                n--;
            double a = json_number_value(start), b = json_number_value(end);
            if (n == 0) continue;
            if (!(a >= 0 && b >= a && b < 1e7)) {
                ret = error_set(error, VSR_E_CODEC,
                                "the transcription server's word %zu has bad times (%g to %g)",
                                index, a, b);
                goto done;
            }
            if (transcript_add(t, s, n, a, b) < 0) {
                ret = error_set(error, VSR_E_NOMEM, "out of memory");
                goto done;
            }
        }
        if (json_is_array(segments)) punctuate(t, first, segments);
    } else if (json_is_array(segments)) {
        json_array_foreach(segments, index, item) {
            const json_t *segment_text = json_object_get(item, "text"),
                         *start = json_object_get(item, "start"),
                         *end = json_object_get(item, "end");
            double a = json_number_value(start), b = json_number_value(end);
            if (!json_is_string(segment_text) || !json_is_number(start) || !json_is_number(end) ||
                !(a >= 0 && b >= a && b < 1e7)) {
                ret =
                    error_set(error, VSR_E_CODEC,
                              "the transcription server's segment %zu lacks text or times", index);
                goto done;
            }
            if (add_words_of(t, json_string_value(segment_text), a, b) < 0) {
                ret = error_set(error, VSR_E_NOMEM, "out of memory");
                goto done;
            }
        }
    } else if (!json_is_string(json_object_get(root, "text"))) {
        ret = error_set(error, VSR_E_CODEC,
                        "the transcription server's answer has no words, segments or text: is "
                        "it an OpenAI-compatible /v1/audio/transcriptions?");
    }
done:
    json_decref(root);
    return ret;
}

/* The server's error message, if its answer has one. */
static void server_message(const struct answer *a, char *out, size_t size) {
    out[0] = '\0';
    json_t *root = a->data ? json_loadb(a->data, a->size, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(json_object_get(root, "error"), "message"));
    if (m) snprintf(out, size, ": %s", m);
    json_decref(root);
}

int transcribe_openai(const struct audio_pcm *pcm, const struct vsr_transcribe_options *o,
                      struct transcript *t, struct vsr_error *error) {
    char url[2048];
    const char *base = o->url && *o->url ? o->url : DEFAULT_URL;
    snprintf(url, sizeof url, "%.*s%s", (int)(strlen(base) - (base[strlen(base) - 1] == '/')), base,
             o->path && *o->path ? o->path : DEFAULT_PATH);
    size_t wav_size = 0;
    unsigned char *wav = make_wav(pcm, &wav_size);
    if (!wav) return error_set(error, VSR_E_NOMEM, "out of memory");
    if (wav_size > MAX_UPLOAD_BYTES) {
        free(wav);
        return error_set(error, VSR_E_INPUT,
                         "the audio is %.0f minutes long: the transcription API takes 25 MB "
                         "(about 13 minutes of 16 kHz audio) at most",
                         (double)pcm->count / pcm->rate / 60);
    }
    CURL *curl = curl_easy_init();
    curl_mime *form = curl ? curl_mime_init(curl) : NULL;
    struct curl_slist *headers = NULL;
    struct answer a = {0};
    int ret = 0;
    if (!form) {
        ret = error_set(error, VSR_E_NOMEM, "out of memory");
        goto done;
    }
    curl_mimepart *part = curl_mime_addpart(form);
    curl_mime_name(part, "file");
    curl_mime_filename(part, "audio.wav");
    curl_mime_type(part, "audio/wav");
    curl_mime_data(part, (const char *)wav, wav_size);
    const char *fields[][2] = {
        {"model", o->model ? o->model : DEFAULT_MODEL}, {"response_format", "verbose_json"},
        {"timestamp_granularities[]", "word"},          {"timestamp_granularities[]", "segment"},
        {"language", o->language ? o->language : "en"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        part = curl_mime_addpart(form);
        curl_mime_name(part, fields[i][0]);
        curl_mime_data(part, fields[i][1], CURL_ZERO_TERMINATED);
    }
    if (o->key && *o->key) {
        char auth[1024];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->key);
        headers = curl_slist_append(headers, auth);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_MIMEPOST, form);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 20L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 900L);
    int attempts = o->max_attempts > 0 ? o->max_attempts : 5;
    long status = 0;
    double started = speech_clock(), total = (double)pcm->count / pcm->rate;
    speech_progress(o, 0, total, started); /* the server says nothing until it is done */
    for (int attempt = 1;; attempt++) {
        free(a.data);
        a = (struct answer){.retry_after = -1};
        CURLcode code = curl_easy_perform(curl);
        status = 0;
        if (code == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        int transient = code != CURLE_OK || status == 429 || status >= 500;
        if (!transient || attempt >= attempts) {
            if (code != CURLE_OK) {
                ret = error_set(error, VSR_E_CODEC,
                                "cannot reach the transcription server %s after %d tries: %s", url,
                                attempt, curl_easy_strerror(code));
                goto done;
            }
            break;
        }
        long wait = a.retry_after >= 0 ? a.retry_after : 1L << (attempt - 1);
        if (wait > MAX_WAIT_SECONDS) wait = MAX_WAIT_SECONDS;
        for (long waited = 0; waited < wait * 10; waited++) {
            if (o->cancel && atomic_load(o->cancel)) {
                ret = error_set(error, VSR_E_CANCELED, "canceled");
                goto done;
            }
            nanosleep(&(struct timespec){0, 100000000}, NULL);
        }
    }
    if (status != 200) {
        char message[600];
        server_message(&a, message, sizeof message);
        ret = error_set(error, status == 401 || status == 403 ? VSR_E_USAGE : VSR_E_CODEC,
                        "the transcription server %s answered HTTP %ld%s%s", url, status, message,
                        status == 401 ? " (check VSR_TRANSCRIBE_KEY)" : "");
        goto done;
    }
    snprintf(t->engine, sizeof t->engine, "openai");
    snprintf(t->language, sizeof t->language, "%s", o->language ? o->language : "en");
    ret = transcript_from_openai_json(a.data ? a.data : "", a.size, t, error);
    if (ret == 0) speech_progress(o, total, total, started);
done:
    free(a.data);
    curl_slist_free_all(headers);
    curl_mime_free(form);
    if (curl) curl_easy_cleanup(curl);
    free(wav);
    return ret;
}
