/* test_cli_commands.c: the commands as a user meets them: every command's
 * --help (its own options, with defaults), `keys revoke` of a shared name,
 * `remove X X`, transcription progress (on a terminal, in --json and in
 * the transcribe and caption jobs), transcripts in sentence case, and what
 * `vsr serve` says when it starts. Key and serve tests run on both stores. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "captions/transcript.h"
#include "jobs/job_types.h"
#include "test.h"
#include "test_media.h"

#define LIBRIVOX "/usr/share/pocketsphinx/test/data/librivox"

/* Runs `vsr ARGS` in folder DIR; OUT gets stdout and stderr. */
static int vsr_in(const char *dir, const char *args, char *out, size_t size) {
    char cmd[4096], bin[1024];
    const char *b = test_vsr_bin();
    /* A relative binary path is the repository's: keep it from the new cwd. */
    if (b[0] != '/') {
        char *cwd = realpath(".", NULL);
        snprintf(bin, sizeof bin, "%s/%s", cwd ? cwd : ".", b);
        free(cwd);
        b = bin;
    }
    snprintf(cmd, sizeof cmd, "cd '%s' && %s %s", dir, b, args);
    return test_run(cmd, out, size);
}

static int lines_in(const char *text) {
    int n = 0;
    for (const char *c = text; *c; c++)
        n += *c == '\n';
    return n;
}

/* Each command's --help exits 0 without doing anything (no data folder
 * made), lists its own options with defaults, and no other command's. */
TEST(cli_every_command_has_help) {
    SLOW_TEST();
    static const struct {
        const char *args, *has, *lacks;
    } cases[] = {
        {"remove --help", "--mask-out", "--style"},
        {"remove in.mp4 out.mp4 --help", "--region", "--listen"},
        {"burn --help", "--style-file", "--region"},
        {"replace --help", "--region", "--engine"},
        {"transcribe --help", "--engine", "--crf"},
        {"caption --help", "--engine", "--region"},
        {"probe --help", "--json", "--crf"},
        {"keys --help", "--jobs-per-day", "--workers"},
        {"keys revoke --help", "--database", "--listen"},
        {"serve --help", "--listen", "--jobs-per-day"},
        {"worker --help", "--workers", "--listen"},
        {"migrate --help", "--database", "--workers"},
        {"backup --help", "--database", "--workers"},
        {"cleanup --help", "--retention-hours", "--listen"},
        {"plans --help", "stripe_prices", "--listen"},
    };
    const char *dir = test_tmpdir();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[16384], usage[64];
        int rc = vsr_in(dir, cases[i].args, out, sizeof out);
        if (rc != 0) fprintf(stderr, "    vsr %s:\n%s", cases[i].args, out);
        CHECK_INT(0, rc);
        snprintf(usage, sizeof usage, "usage: vsr %.*s", (int)strcspn(cases[i].args, " "),
                 cases[i].args);
        CHECK(strncmp(out, usage, strlen(usage)) == 0);
        CHECK(strstr(out, cases[i].has) != NULL);
        CHECK(strstr(out, "default") != NULL);
        if (strstr(out, cases[i].lacks)) {
            fprintf(stderr, "    vsr %s lists %s\n", cases[i].args, cases[i].lacks);
            CHECK(!"help lists another command's option");
        }
    }
    CHECK_INT(0, media_test_count_files(dir)); /* no vsr-data made */
    media_test_remove_dir(dir);
}

/* The active key with id ID is listed as STATUS ("active", "revoked"). */
static int key_status(const char *list, const char *id, const char *status) {
    const char *line = strstr(list, id);
    if (!line) return 0;
    const char *end = strchr(line, '\n');
    const char *at = strstr(line, status);
    return at && (!end || at < end);
}

/* Reads the "id: ..." line of `keys create` output into ID. */
static void created_id(const char *out, char *id, size_t size) {
    const char *at = strstr(out, "id: ");
    id[0] = '\0';
    if (at) snprintf(id, size, "%.*s", (int)strcspn(at + 4, "\n"), at + 4);
}

/* Two keys named "dup": revoking "dup" is refused with both ids and
 * revokes nothing; either is revoked by its id, and a name only one active
 * key has still works. */
TEST(service_cli_keys_revoke_ambiguous_name) {
    SLOW_TEST();
    const char *dir = test_tmpdir();
    char backend[2400], args[3000], out[16384], id1[64], id2[64], id3[64];
    test_backend_args(dir, backend, sizeof backend);
    snprintf(args, sizeof args, "keys create --name dup --data-dir %s %s", dir, backend);
    CHECK_INT(0, vsr_in(dir, args, out, sizeof out));
    created_id(out, id1, sizeof id1);
    CHECK_INT(0, vsr_in(dir, args, out, sizeof out));
    created_id(out, id2, sizeof id2);
    snprintf(args, sizeof args, "keys create --name solo --data-dir %s %s", dir, backend);
    CHECK_INT(0, vsr_in(dir, args, out, sizeof out));
    created_id(out, id3, sizeof id3);
    CHECK(id1[0] && id2[0] && id3[0] && strcmp(id1, id2) != 0);

    snprintf(args, sizeof args, "keys revoke dup --data-dir %s %s", dir, backend);
    CHECK_INT(2, vsr_in(dir, args, out, sizeof out));
    CHECK_INT(1, lines_in(out));
    CHECK(strstr(out, id1) != NULL);
    CHECK(strstr(out, id2) != NULL);
    snprintf(args, sizeof args, "keys list --data-dir %s %s", dir, backend);
    CHECK_INT(0, vsr_in(dir, args, out, sizeof out));
    CHECK(key_status(out, id1, "active"));
    CHECK(key_status(out, id2, "active"));

    snprintf(args, sizeof args, "keys revoke %s --data-dir %s %s", id1, dir, backend);
    CHECK_INT(0, vsr_in(dir, args, out, sizeof out));
    snprintf(args, sizeof args, "keys revoke solo --data-dir %s %s", dir, backend);
    CHECK_INT(0, vsr_in(dir, args, out, sizeof out));
    snprintf(args, sizeof args, "keys list --data-dir %s %s", dir, backend);
    CHECK_INT(0, vsr_in(dir, args, out, sizeof out));
    CHECK(key_status(out, id1, "revoked"));
    CHECK(key_status(out, id2, "active"));
    CHECK(key_status(out, id3, "revoked"));
    /* Now one active "dup" is left: its name is enough. */
    snprintf(args, sizeof args, "keys revoke dup --data-dir %s %s", dir, backend);
    CHECK_INT(0, vsr_in(dir, args, out, sizeof out));
    snprintf(args, sizeof args, "keys list --data-dir %s %s", dir, backend);
    CHECK_INT(0, vsr_in(dir, args, out, sizeof out));
    CHECK(key_status(out, id2, "revoked"));
    media_test_remove_dir(dir);
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* `vsr remove X X` (or X ./X, or X as the mask) is refused and X stays. */
TEST(cli_remove_refuses_own_input) {
    media_test_quiet();
    const char *dir = test_tmpdir();
    char clip[600], args[2000], out[8192];
    snprintf(clip, sizeof clip, "%s/clip.mp4", dir);
    snprintf(args, sizeof args,
             "-f lavfi -i testsrc=size=160x120:rate=10 -t 1 -pix_fmt yuv420p -c:v libx264 "
             "-preset ultrafast %s",
             clip);
    CHECK_INT(0, media_test_ffmpeg(args));
    long long size = file_size(clip);
    CHECK(size > 0);
    static const char *const forms[] = {"remove clip.mp4 clip.mp4 --preset ultrafast",
                                        "remove clip.mp4 ./clip.mp4 --preset ultrafast",
                                        "remove clip.mp4 out.mp4 --mask-out clip.mp4"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        int rc = vsr_in(dir, forms[i], out, sizeof out);
        if (rc != 2) fprintf(stderr, "    vsr %s: %d %s", forms[i], rc, out);
        CHECK_INT(2, rc);
        CHECK(strstr(out, "is the input") != NULL);
        CHECK_INT(size, file_size(clip));
    }
    CHECK_INT(1, media_test_count_files(dir)); /* no out.mp4, no temporary file */
    /* The video is whole still. */
    CHECK_INT(0, vsr_in(dir, "probe clip.mp4", out, sizeof out));
    media_test_remove_dir(dir);
}

/* Two librivox clips with 1.5 s of silence between: two stretches of
 * speech, so that recognition reports progress between them. */
static int joined_speech(const char *dir, char *path, size_t size) {
    snprintf(path, size, "%s/joined.wav", dir);
    char args[2048];
    snprintf(args, sizeof args,
             "-i " LIBRIVOX "/sense_and_sensibility_01_austen_64kb-0880.wav -i " LIBRIVOX
             "/sense_and_sensibility_01_austen_64kb-0930.wav -filter_complex "
             "\"[0]apad=pad_dur=1.5[a];[a][1]concat=n=2:v=0:a=1\" '%s'",
             path);
    return media_test_ffmpeg(args);
}

/* `vsr transcribe` shows progress and an ETA on a terminal (script(1)
 * gives it one), and progress events with --json, before it is done. */
TEST(cli_transcribe_shows_progress) {
    SLOW_TEST();
    media_test_quiet();
    const char *dir = test_tmpdir();
    char wav[600], cmd[3000], out[65536];
    CHECK_INT(0, joined_speech(dir, wav, sizeof wav));
    snprintf(cmd, sizeof cmd, "%s transcribe %s -o %s/a.srt --json 2>/dev/null", test_vsr_bin(),
             wav, dir);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    double last = -1;
    int events = 0, between = 0, done_after = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        const char *event = json_string_value(json_object_get(j, "event"));
        if (event && strcmp(event, "progress") == 0) {
            CHECK_STR("transcribe", json_string_value(json_object_get(j, "stage")));
            double percent = json_number_value(json_object_get(j, "percent"));
            CHECK(percent >= last);
            last = percent;
            events++;
            between += percent > 0 && percent < 100;
        } else if (event && strcmp(event, "done") == 0) {
            done_after = events > 0;
        }
        json_decref(j);
    }
    CHECK(events >= 3);
    CHECK(between >= 1);
    CHECK(last == 100);
    CHECK(done_after);
    if (test_have_program("script")) {
        snprintf(cmd, sizeof cmd, "script -qec '%s transcribe %s -o %s/b.srt' /dev/null",
                 test_vsr_bin(), wav, dir);
        CHECK_INT(0, test_run(cmd, out, sizeof out));
        CHECK(strstr(out, "transcribe") != NULL);
        CHECK(strstr(out, "100.0%") != NULL);
        CHECK(strstr(out, "ETA") != NULL);
    }
    media_test_remove_dir(dir);
}

struct progress_log {
    double values[64];
    int count;
};

static void log_progress(void *opaque, double percent) {
    struct progress_log *log = opaque;
    if (log->count < 64) log->values[log->count++] = percent;
}

/* The transcribe job reports progress while it recognises, and the caption
 * job reports it in its first half, before the video. */
TEST(caption_jobs_report_transcription_progress) {
    SLOW_TEST();
    media_test_quiet();
    const char *dir = test_tmpdir();
    char wav[600], srt[600], video[600], mp4[600], args[2400];
    CHECK_INT(0, joined_speech(dir, wav, sizeof wav));
    snprintf(srt, sizeof srt, "%s/out.srt", dir);
    struct progress_log log = {0};
    struct job_run run = {.input_path = wav,
                          .output_path = srt,
                          .options_json = "{}",
                          .progress = log_progress,
                          .progress_opaque = &log};
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, job_type_find("transcribe")->run(&run, &error));
    int between = 0;
    for (int i = 0; i < log.count; i++)
        between += log.values[i] > 0 && log.values[i] < 100;
    CHECK(between >= 1);

    snprintf(video, sizeof video, "%s/speech.mp4", dir);
    snprintf(args, sizeof args,
             "-f lavfi -i color=gray:size=160x120:rate=10 -i %s -shortest -pix_fmt yuv420p "
             "-c:v libx264 -preset ultrafast -c:a aac %s",
             wav, video);
    CHECK_INT(0, media_test_ffmpeg(args));
    snprintf(mp4, sizeof mp4, "%s/captioned.mp4", dir);
    log.count = 0;
    run.input_path = video;
    run.output_path = mp4;
    run.options_json = "{}";
    CHECK_INT(VSR_OK, job_type_find("caption")->run(&run, &error));
    if (error.code) fprintf(stderr, "    %s\n", error.message);
    int first_half = 0;
    for (int i = 0; i < log.count; i++)
        first_half += log.values[i] > 0 && log.values[i] <= 50;
    CHECK(first_half >= 2); /* between the stretches, and at the end of recognition */
    media_test_remove_dir(dir);
}

/* pocketsphinx's words come in sentence case with full stops, and each
 * caption ends at a sentence's end. */
TEST(transcribe_sentence_case) {
    struct transcript t = {0};
    static const char *const words[] = {"i", "think", "so", "i'm", "here", "and", "you"};
    static const double starts[] = {0.0, 0.3, 0.6, 2.0, 2.3, 2.6, 2.9};
    for (int i = 0; i < 7; i++)
        CHECK_INT(0, transcript_add(&t, words[i], strlen(words[i]), starts[i], starts[i] + 0.25));
    transcript_sentence_case(&t, SENTENCE_PAUSE_SECONDS);
    static const char *const want[] = {"I", "think", "so.", "I'm", "here", "and", "you."};
    for (int i = 0; i < 7; i++)
        CHECK_STR(want[i], t.words[i].text);
    /* An engine's own punctuation and case stay as they are. */
    transcript_sentence_case(&t, SENTENCE_PAUSE_SECONDS);
    CHECK_STR("so.", t.words[2].text);
    transcript_free(&t);

    media_test_quiet();
    const char *dir = test_tmpdir();
    char wav[600], srt[700];
    CHECK_INT(0, joined_speech(dir, wav, sizeof wav));
    snprintf(srt, sizeof srt, "%s/out.srt", dir);
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, vsr_transcribe(wav, srt, NULL, &error));
    FILE *f = fopen(srt, "r");
    CHECK(f != NULL);
    char line[512], text[4096] = "";
    int captions = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strstr(line, " --> ")) {
            captions++;
            /* A caption's lines, up to the blank line after it. */
            int first = 1;
            while (fgets(line, sizeof line, f)) {
                line[strcspn(line, "\r\n")] = '\0';
                if (!line[0]) break;
                printf("    caption: %s\n", line);
                /* Two sentences, a pause apart: each caption starts one. */
                if (first) CHECK(line[0] >= 'A' && line[0] <= 'Z');
                if (!first) strcat(text, " ");
                strncat(text, line, sizeof text - strlen(text) - 600);
                first = 0;
            }
            strcat(text, "|");
        }
    }
    if (f) fclose(f);
    CHECK(captions >= 2);
    CHECK(strstr(text, ".|") != NULL);    /* a caption ends with the sentence */
    CHECK(text[strlen(text) - 2] == '.'); /* and the last one too */
    CHECK(strstr(text, "He ") == text);   /* "he was not an ill disposed ..." */
    media_test_remove_dir(dir);
}

/* `vsr serve` says where it listens and, with no key yet, how to make the
 * first; once a key exists the hint is gone. */
TEST(service_cli_serve_prints_url_and_first_key) {
    const char *dir = test_tmpdir();
    char backend[2400], cmd[4096], line[4096], out[8192];
    test_backend_args(dir, backend, sizeof backend);
    for (int round = 0; round < 2; round++) {
        snprintf(cmd, sizeof cmd,
                 "exec %s serve --data-dir %s %s --listen 127.0.0.1:0 --workers 0 2>&1",
                 test_vsr_bin(), dir, backend);
        struct test_child serve;
        CHECK_INT(0, test_spawn(&serve, cmd, NULL));
        int port = 0, url_seen = 0, hint_seen = 0;
        char url[128] = "";
        /* The lines come at once after serve.started; a second is plenty. */
        while (test_read_line(&serve, line, sizeof line, port ? 1000 : 20000) == 0) {
            const char *at = strstr(line, "\"port\":");
            if (strstr(line, "serve.started") && at) {
                port = atoi(at + 7);
                snprintf(url, sizeof url, "serving the API on http://127.0.0.1:%d/api/v1", port);
            }
            if (url[0] && strstr(line, url)) url_seen = 1;
            if (strstr(line, "vsr keys create --name")) hint_seen = 1;
            if (round == 0 && url_seen && hint_seen) break;
        }
        test_child_stop(&serve);
        CHECK(port > 0);
        CHECK(url_seen);
        CHECK_INT(round == 0, hint_seen);
        if (round == 0) {
            snprintf(cmd, sizeof cmd, "%s keys create --name me --data-dir %s %s", test_vsr_bin(),
                     dir, backend);
            CHECK_INT(0, test_run(cmd, out, sizeof out));
        }
    }
    media_test_remove_dir(dir);
}

/* `vsr plans`: set creates the file and a plan, list and show read it back,
 * a bad value changes nothing, free cannot be removed, and a file the
 * server would refuse stops every action with its reason. */
TEST(cli_plans_file) {
    const char *dir = test_tmpdir();
    char out[8192];
    CHECK_INT(0, vsr_in(dir, "plans list", out, sizeof out));
    CHECK(strstr(out, "free") != NULL);
    CHECK_INT(2, vsr_in(dir, "plans set pro priority=10", out, sizeof out)); /* no file named */
    CHECK_INT(0, vsr_in(dir,
                        "plans set pro --plans plans.json priority=10 jobs_per_day=500"
                        " stripe_prices=price_m,price_y",
                        out, sizeof out));
    CHECK(strstr(out, "restart") != NULL);
    CHECK_INT(0, vsr_in(dir, "plans set free --plans plans.json jobs_per_day=5 max_width=1280", out,
                        sizeof out));
    CHECK_INT(2, vsr_in(dir, "plans set pro --plans plans.json priority=high", out, sizeof out));
    CHECK(strstr(out, "priority") != NULL);
    CHECK_INT(
        2, vsr_in(dir, "plans set team --plans plans.json stripe_prices=price_m", out, sizeof out));
    CHECK(strstr(out, "listed twice") != NULL);
    CHECK_INT(0, vsr_in(dir, "plans list --plans plans.json", out, sizeof out));
    CHECK(strstr(out, "price_m,price_y") != NULL);
    CHECK(strstr(out, "team") == NULL); /* the refused set wrote nothing */
    CHECK_INT(0, vsr_in(dir, "plans show pro --plans=plans.json", out, sizeof out));
    json_t *pro = json_loads(out, 0, NULL);
    CHECK_INT(10, json_integer_value(json_object_get(pro, "priority")));
    CHECK_INT(500, json_integer_value(json_object_get(pro, "jobs_per_day")));
    CHECK_INT(2, json_array_size(json_object_get(pro, "stripe_prices")));
    json_decref(pro);
    CHECK_INT(2, vsr_in(dir, "plans remove free --plans plans.json", out, sizeof out));
    CHECK_INT(0, vsr_in(dir, "plans remove pro --plans plans.json", out, sizeof out));
    CHECK_INT(2, vsr_in(dir, "plans show pro --plans plans.json", out, sizeof out));

    char path[512];
    snprintf(path, sizeof path, "%s/bad.json", dir);
    FILE *file = fopen(path, "w");
    if (file) {
        fputs("{\"plans\": [{\"name\": \"free\", \"jobs_per_dya\": 3}]}", file);
        fclose(file);
    }
    CHECK_INT(2, vsr_in(dir, "plans list --plans bad.json", out, sizeof out));
    CHECK(strstr(out, "jobs_per_dya") != NULL);
    /* serve refuses it too, before it listens. */
    CHECK_INT(2, vsr_in(dir, "serve --plans bad.json --listen 127.0.0.1:0", out, sizeof out));
    CHECK(strstr(out, "jobs_per_dya") != NULL);
}
