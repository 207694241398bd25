/* test_transcribe.c: speech to captions (vsr_transcribe, vsr_caption).
 *
 * Recognition runs on recorded human speech: the LibriVox clips of Debian's
 * pocketsphinx-testdata, with their transcript. The OpenAI-compatible engine
 * runs against tests/transcribe_stand_in.py, a local server that answers
 * like the documented API: a contract test of the request and the answer's
 * parsing, not of any recogniser. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "captions/transcript.h"
#include "test.h"
#include "test_media.h"
#include "vsr.h"

#define LIBRIVOX "/usr/share/pocketsphinx/test/data/librivox"

static int have_librivox(void) {
    struct stat st;
    if (stat(LIBRIVOX "/transcription", &st) == 0) return 1;
    CHECK(!"pocketsphinx-testdata is missing: run scripts/install-deps.sh");
    return 0;
}

/* The reference words of clip ID from the transcription file. */
static int reference_of(const char *id, char *out, size_t size) {
    FILE *f = fopen(LIBRIVOX "/transcription", "r");
    if (!f) return -1;
    char line[2048];
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f)) {
        char *tag = strstr(line, id);
        if (!tag) continue;
        char *start = strstr(line, "<s>"), *end = strstr(line, "</s>");
        if (!start || !end) continue;
        snprintf(out, size, "%.*s", (int)(end - start - 3), start + 3);
        found = 0;
    }
    fclose(f);
    return found;
}

/* Words, without the punctuation at their end: WER is scored on words
 * alone (case is ignored by the comparison). */
static int split_words(char *text, char **words, int max) {
    int n = 0;
    for (char *save = NULL, *w = strtok_r(text, " \t\n", &save); w && n < max;
         w = strtok_r(NULL, " \t\n", &save)) {
        size_t len = strlen(w);
        while (len > 1 && strchr(".,;:?!", w[len - 1]))
            w[--len] = '\0';
        words[n++] = w;
    }
    return n;
}

/* Word error rate: word-level edit distance over the reference's length. */
static double word_error_rate(const char *reference, const char *hypothesis) {
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s", reference);
    snprintf(b, sizeof b, "%s", hypothesis);
    char *r[256], *h[256];
    int n = split_words(a, r, 256), m = split_words(b, h, 256);
    static int d[257][257];
    for (int i = 0; i <= n; i++)
        d[i][0] = i;
    for (int j = 0; j <= m; j++)
        d[0][j] = j;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++) {
            int best = d[i - 1][j - 1] + (strcasecmp(r[i - 1], h[j - 1]) != 0);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            d[i][j] = best;
        }
    return n ? (double)d[n][m] / n : m > 0;
}

static json_t *load_json(const char *path) {
    json_error_t error;
    return json_load_file(path, 0, &error);
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

TEST(transcribe_layout_rules) {
    /* 40 words of 0.3 s, a 1 s pause after word 14, a full stop after word 25. */
    struct transcript t = {0};
    static const char *const vocabulary[] = {"captions", "are", "read",   "at",       "a",
                                             "glance",   "by",  "people", "watching", "quickly"};
    double at = 0.5;
    for (int i = 0; i < 40; i++) {
        char word[32];
        snprintf(word, sizeof word, "%s%s", vocabulary[i % 10], i == 25 ? "." : "");
        CHECK_INT(0, transcript_add(&t, word, strlen(word), at, at + 0.25));
        at += i == 14 ? 1.3 : 0.3;
    }
    struct caption_rules rules;
    caption_rules_default(&rules);
    struct caption *c = NULL;
    size_t n = 0;
    CHECK_INT(0, caption_layout(&t, &rules, &c, &n));
    CHECK(n >= 3);
    size_t words = 0;
    for (size_t i = 0; i < n; i++) {
        words += c[i].count;
        /* Lines: at most two, each at most 42 characters. */
        int first = 0, second = 0;
        for (size_t w = c[i].first; w < c[i].first + c[i].count; w++) {
            int *line = w - c[i].first < c[i].line_break ? &first : &second;
            *line += (int)strlen(t.words[w].text) + (*line > 0);
        }
        CHECK_AT_MOST(42, first);
        CHECK_AT_MOST(42, second);
        CHECK_AT_MOST(6.0, c[i].end - c[i].start);
        CHECK_AT_LEAST(1.0, c[i].end - c[i].start);
        if (i + 1 < n) CHECK(c[i].end <= c[i + 1].start + 1e-9);
        /* No caption runs over the pause or past the full stop. */
        CHECK(!(c[i].first <= 14 && c[i].first + c[i].count > 15));
        CHECK(!(c[i].first <= 25 && c[i].first + c[i].count > 26));
    }
    CHECK_INT(40, (long long)words);
    free(c);
    /* Social: three words at a time, one line. */
    caption_rules_social(&rules);
    CHECK_INT(0, caption_layout(&t, &rules, &c, &n));
    for (size_t i = 0; i < n; i++) {
        CHECK_AT_MOST(3, (double)c[i].count);
        CHECK_INT((long long)c[i].count, (long long)c[i].line_break);
    }
    free(c);
    transcript_free(&t);
}

TEST(transcribe_pocketsphinx_librivox) {
    SLOW_TEST();
    if (!have_librivox()) return;
    const char *dir = test_tmpdir();
    static const char *const ids[] = {"sense_and_sensibility_01_austen_64kb-0880",
                                      "sense_and_sensibility_01_austen_64kb-0930"};
    for (size_t i = 0; i < 2; i++) {
        char input[512], output[512], reference[2048];
        snprintf(input, sizeof input, LIBRIVOX "/%s.wav", ids[i]);
        snprintf(output, sizeof output, "%s/%zu.json", dir, i);
        CHECK_INT(0, reference_of(ids[i], reference, sizeof reference));
        struct vsr_error error = {0};
        int ret = vsr_transcribe(input, output, NULL, &error);
        CHECK_INT(VSR_OK, ret);
        if (ret) fprintf(stderr, "  %s\n", error.message);
        json_t *root = load_json(output);
        CHECK(root != NULL);
        const char *text = json_string_value(json_object_get(root, "text"));
        double wer = word_error_rate(reference, text ? text : "");
        printf("    %s: WER %.2f (\"%s\")\n", ids[i], wer, text ? text : "");
        /* pocketsphinx scores about 27% on these clips overall. */
        CHECK_AT_MOST(0.5, wer);
        /* Word times are in order and inside the audio. */
        double duration = json_number_value(json_object_get(root, "duration")), last = 0;
        size_t index, w;
        json_t *segment, *word;
        json_array_foreach(json_object_get(root, "segments"), index, segment) {
            json_array_foreach(json_object_get(segment, "words"), w, word) {
                double start = json_number_value(json_object_get(word, "start"));
                double end = json_number_value(json_object_get(word, "end"));
                CHECK(start >= last - 1e-6 && end >= start && end <= duration + 0.05);
                last = end;
            }
        }
        json_decref(root);
    }
    media_test_remove_dir(dir);
}

/* Two clips with 1.5 s of digital silence between them: the captions must
 * break in the gap, within the clips' own silent edges. */
TEST(transcribe_breaks_at_known_pause) {
    SLOW_TEST();
    if (!have_librivox()) return;
    const char *dir = test_tmpdir();
    char joined[512], output[512], args[2048];
    snprintf(joined, sizeof joined, "%s/joined.wav", dir);
    snprintf(output, sizeof output, "%s/joined.srt", dir);
    snprintf(args, sizeof args,
             "-i " LIBRIVOX "/sense_and_sensibility_01_austen_64kb-0880.wav -i " LIBRIVOX
             "/sense_and_sensibility_01_austen_64kb-0930.wav -filter_complex "
             "\"[0]apad=pad_dur=1.5[a];[a][1]concat=n=2:v=0:a=1\" '%s'",
             joined);
    CHECK_INT(0, media_test_ffmpeg(args));
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, vsr_transcribe(joined, output, NULL, &error));
    /* Clip one lasts 2.99 s: the gap is 2.99 .. 4.49 s. */
    FILE *f = fopen(output, "r");
    CHECK(f != NULL);
    char line[512];
    int in_gap = 0, spans_gap = 0, captions = 0;
    while (f && fgets(line, sizeof line, f)) {
        int h1, m1, s1, ms1, h2, m2, s2, ms2;
        if (sscanf(line, "%d:%d:%d,%d --> %d:%d:%d,%d", &h1, &m1, &s1, &ms1, &h2, &m2, &s2, &ms2) !=
            8)
            continue;
        captions++;
        double start = h1 * 3600 + m1 * 60 + s1 + ms1 / 1000.0;
        double end = h2 * 3600 + m2 * 60 + s2 + ms2 / 1000.0;
        if (start < 2.99 && end > 4.49) spans_gap = 1;
        if (start >= 2.99 && start < 4.49 + 0.6) in_gap = 1; /* the second starts near 4.49 */
    }
    if (f) fclose(f);
    CHECK(captions >= 2);
    CHECK(!spans_gap);
    CHECK(in_gap);
    media_test_remove_dir(dir);
}

TEST(transcribe_silence_and_no_audio) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char silent[512], noaudio[512], out[512], args[1024];
    snprintf(silent, sizeof silent, "%s/silent.wav", dir);
    snprintf(noaudio, sizeof noaudio, "%s/noaudio.mp4", dir);
    snprintf(args, sizeof args, "-f lavfi -i anullsrc=r=44100:cl=stereo -t 3 '%s'", silent);
    CHECK_INT(0, media_test_ffmpeg(args));
    snprintf(args, sizeof args, "-f lavfi -i testsrc=d=1:s=160x120 -c:v libx264 '%s'", noaudio);
    CHECK_INT(0, media_test_ffmpeg(args));
    struct vsr_error error = {0};
    /* Silence: valid files with no captions. */
    snprintf(out, sizeof out, "%s/silent.srt", dir);
    CHECK_INT(VSR_OK, vsr_transcribe(silent, out, NULL, &error));
    CHECK_INT(0, file_size(out));
    snprintf(out, sizeof out, "%s/silent.vtt", dir);
    CHECK_INT(VSR_OK, vsr_transcribe(silent, out, NULL, &error));
    CHECK_INT(8, file_size(out)); /* "WEBVTT\n\n" */
    snprintf(out, sizeof out, "%s/silent.json", dir);
    CHECK_INT(VSR_OK, vsr_transcribe(silent, out, NULL, &error));
    json_t *root = load_json(out);
    CHECK(root && json_array_size(json_object_get(root, "segments")) == 0);
    json_decref(root);
    /* No audio stream: an error that says so, and no file. */
    snprintf(out, sizeof out, "%s/noaudio.srt", dir);
    CHECK_INT(VSR_E_INPUT, vsr_transcribe(noaudio, out, NULL, &error));
    CHECK(strstr(error.message, "no audio stream") != NULL);
    CHECK_INT(-1, file_size(out));
    /* Nothing to caption in silence. */
    snprintf(out, sizeof out, "%s/captioned.mp4", dir);
    CHECK_INT(VSR_E_INPUT, vsr_caption(silent, out, NULL, NULL, &error));
    CHECK(strstr(error.message, "no speech") != NULL);
    CHECK_INT(-1, file_size(out));
    /* Bad options. */
    struct vsr_transcribe_options options;
    vsr_transcribe_options_init(&options);
    options.engine = "vosk";
    CHECK_INT(VSR_E_USAGE, vsr_transcribe(silent, out, &options, &error));
    snprintf(out, sizeof out, "%s/out.txt", dir);
    CHECK_INT(VSR_E_USAGE, vsr_transcribe(silent, out, NULL, &error));
    vsr_transcribe_options_init(&options);
    options.language = "fr";
    snprintf(out, sizeof out, "%s/fr.srt", dir);
    CHECK_INT(VSR_E_USAGE, vsr_transcribe(silent, out, &options, &error));
    media_test_remove_dir(dir);
}

static const char stand_in_script[] =
    "{\"segments\": [{\"start\": 0.0, \"end\": 2.9, \"text\": \" He was not an ill-disposed "
    "young man.\"}],\n"
    " \"words\": [{\"word\": \"He\", \"start\": 0.1, \"end\": 0.3}, {\"word\": \"was\", "
    "\"start\": 0.3, \"end\": 0.5}, {\"word\": \"not\", \"start\": 0.5, \"end\": 0.8}, "
    "{\"word\": \"an\", \"start\": 0.8, \"end\": 0.9}, {\"word\": \"ill-disposed\", \"start\": "
    "0.9, \"end\": 1.7}, {\"word\": \"young\", \"start\": 1.7, \"end\": 2.1}, {\"word\": \"man\", "
    "\"start\": 2.1, \"end\": 2.6}]}\n";

/* Starts the stand-in with ARGS; its port goes into URL. */
static int start_stand_in(struct test_child *child, const char *dir, const char *args, char *url,
                          size_t size) {
    char script[512], cmd[2048], port[64];
    snprintf(script, sizeof script, "%s/script.json", dir);
    FILE *f = fopen(script, "w");
    if (!f) return -1;
    fputs(stand_in_script, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "exec python3 tests/transcribe_stand_in.py '%s' %s", script, args);
    if (test_spawn(child, cmd, NULL) != 0) return -1;
    if (test_read_line(child, port, sizeof port, 10000) != 0) return -1;
    snprintf(url, size, "http://127.0.0.1:%s", port);
    return 0;
}

static int requests_seen(const char *url) {
    char cmd[512], out[4096];
    /* python3 (the stand-in's own runtime), not curl: CI may lack curl. */
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import sys, urllib.request; "
             "print(urllib.request.urlopen(sys.argv[1] + \"/stats\").read().decode())' %s",
             url);
    if (test_run(cmd, out, sizeof out) != 0) return -1;
    json_t *root = json_loads(out, 0, NULL);
    int n = (int)json_integer_value(json_object_get(root, "requests"));
    json_decref(root);
    return n;
}

TEST(transcribe_openai_contract) {
    SLOW_TEST();
    if (!have_librivox()) return;
    const char *dir = test_tmpdir();
    char url[128], output[512];
    const char *input = LIBRIVOX "/sense_and_sensibility_01_austen_64kb-0880.wav";
    struct test_child server;
    /* A 429 with Retry-After: 1, then a 503 (backoff 2 s), then the answer. */
    CHECK_INT(
        0, start_stand_in(&server, dir, "--key sk-test --fail 429:1 --fail 503", url, sizeof url));
    struct vsr_transcribe_options options;
    vsr_transcribe_options_init(&options);
    options.engine = "openai";
    options.url = url;
    options.key = "sk-test";
    snprintf(output, sizeof output, "%s/out.json", dir);
    struct vsr_error error = {0};
    int ret = vsr_transcribe(input, output, &options, &error);
    CHECK_INT(VSR_OK, ret);
    if (ret) fprintf(stderr, "  %s\n", error.message);
    CHECK_INT(3, requests_seen(url));
    json_t *root = load_json(output);
    CHECK(root != NULL);
    /* The stand-in measured the uploaded WAV: 2.99 s of audio arrived. */
    CHECK(fabs(json_number_value(json_object_get(root, "duration")) - 2.99) < 0.01);
    const char *text = json_string_value(json_object_get(root, "text"));
    /* Words with the segments' punctuation and case put back. */
    CHECK(text && strcmp(text, "He was not an ill-disposed young man.") == 0);
    json_t *first = json_array_get(json_object_get(root, "segments"), 0);
    json_t *words = json_object_get(first, "words");
    CHECK_INT(7, (long long)json_array_size(words));
    CHECK(fabs(json_number_value(json_object_get(json_array_get(words, 4), "start")) - 0.9) < 1e-6);
    json_decref(root);
    /* A wrong key: the server's 401, said plainly, nothing written. */
    options.key = "sk-wrong";
    snprintf(output, sizeof output, "%s/wrong.srt", dir);
    CHECK_INT(VSR_E_USAGE, vsr_transcribe(input, output, &options, &error));
    CHECK(strstr(error.message, "401") && strstr(error.message, "Incorrect API key"));
    CHECK_INT(-1, file_size(output));
    test_child_stop(&server);

    /* A server that keeps failing: give up after max_attempts. */
    CHECK_INT(
        0, start_stand_in(&server, dir, "--fail 500:0 --fail 500:0 --fail 500:0", url, sizeof url));
    options.url = url;
    options.key = NULL;
    options.max_attempts = 2;
    CHECK_INT(VSR_E_CODEC, vsr_transcribe(input, output, &options, &error));
    CHECK(strstr(error.message, "HTTP 500") != NULL);
    CHECK_INT(2, requests_seen(url));
    test_child_stop(&server);
    /* Nobody listening. */
    options.url = "http://127.0.0.1:9";
    CHECK_INT(VSR_E_CODEC, vsr_transcribe(input, output, &options, &error));
    CHECK(strstr(error.message, "cannot reach") != NULL);
    media_test_remove_dir(dir);
}

/* Karaoke from word timings: one ASS event per spoken word, from its start
 * to the next word's, that word alone in the style's colour. */
TEST(transcribe_karaoke_events) {
    struct transcript t = {0};
    static const char *const words[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++)
        CHECK_INT(0, transcript_add(&t, words[i], strlen(words[i]), 1.0 + i, 1.5 + i));
    struct caption_rules rules;
    caption_rules_default(&rules);
    rules.pause_seconds = 10;
    struct caption *c = NULL;
    size_t n = 0;
    CHECK_INT(0, caption_layout(&t, &rules, &c, &n));
    CHECK_INT(1, (long long)n);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    CHECK_INT(0, caption_write(out, CAPTION_ASS, &t, c, n, 1));
    fclose(out);
    CHECK(strstr(text, "Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,{\\r}one "
                       "{\\1c&HFFFFFF&}two {\\1c&HFFFFFF&}three\n") != NULL);
    CHECK(strstr(text, "Dialogue: 0,0:00:02.00,0:00:03.00,Default,,0,0,0,,{\\1c&HFFFFFF&}one "
                       "{\\r}two {\\1c&HFFFFFF&}three\n") != NULL);
    CHECK(strstr(text, "Dialogue: 0,0:00:03.00,0:00:03.50,Default,,0,0,0,,{\\1c&HFFFFFF&}one "
                       "{\\1c&HFFFFFF&}two {\\r}three\n") != NULL);
    free(text);
    free(c);
    transcript_free(&t);
}
