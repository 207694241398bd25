/* test_cli.c: the vsr command as a user meets it: exit codes (documented in
 * `vsr help`), one "vsr: ..." line on stderr for each failure, and no output
 * or temporary file left behind when a run fails or is canceled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"
#include "test_media.h"

static int lines_in(const char *text) {
    int n = 0;
    for (const char *c = text; *c; c++)
        if (*c == '\n') n++;
    return n;
}

/* Runs the CLI with ARGS; STDERR_TEXT gets what it wrote on stderr only. */
static int run_vsr(const char *args, char *stderr_text, size_t size) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "{ %s %s 2>&1 >/dev/null; }", test_vsr_bin(), args);
    return test_run(cmd, stderr_text, size);
}

/* A failure must print exactly one line, "vsr: ...", and exit with WANT. */
static void check_failure(const char *args, int want) {
    char err[8192];
    int rc = run_vsr(args, err, sizeof err);
    if (rc != want) fprintf(stderr, "    vsr %s\n    said: %s", args, err);
    CHECK_INT(want, rc);
    CHECK_INT(1, lines_in(err));
    CHECK(strncmp(err, "vsr: ", 5) == 0);
}

TEST(cli_help_version_usage) {
    SLOW_TEST();
    char out[16384];
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s --version", test_vsr_bin());
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strncmp(out, "vsr ", 4) == 0);
    snprintf(cmd, sizeof cmd, "%s help", test_vsr_bin());
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    /* Every exit code is documented. */
    static const char *const codes[] = {"  0  success",       "  2  usage",    "  3  input",
                                        "  4  no video",      "  5  output",   "  6  codec",
                                        "  7  out of memory", "  8  canceled", "  9  internal"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        CHECK(strstr(out, codes[i]));
    check_failure("frobnicate", 2);
    check_failure("remove", 2);
    check_failure("remove only-input.mp4", 2);
    check_failure("remove a.mp4 b.mp4 c.mp4", 2);
    check_failure("remove a.mp4 b.mp4 --crf 99", 2);
    check_failure("remove a.mp4 b.mp4 --crf", 2);
    check_failure("remove a.mp4 b.mp4 --region 1,2,3", 2);
    check_failure("remove a.mp4 b.mp4 --region 1,2,3,0", 2);
    check_failure("remove a.mp4 b.mp4 --threads -1", 2);
    check_failure("remove a.mp4 b.mp4 --bogus", 2);
    check_failure("probe", 2);
}

/* Each broken input: its exit code, one line, and nothing in the output
 * folder afterwards. */
TEST(cli_bad_inputs) {
    SLOW_TEST();
    media_test_quiet();
    const char *dir = test_tmpdir();
    char plain[512], faststart[512], audio[512], path[700], outdir[600], args[2048];
    int made = media_test_clip(dir, "plain.mp4", "-c:v libx264 -preset ultrafast -c:a copy", plain,
                               sizeof plain) |
               media_test_clip(dir, "faststart.mp4",
                               "-c:v libx264 -preset ultrafast -c:a copy -movflags +faststart",
                               faststart, sizeof faststart) |
               media_test_clip(dir, "audio.m4a", "-vn -c:a copy", audio, sizeof audio);
    if (made != 0) {
        CHECK(!"could not make the test clips");
        return;
    }
    snprintf(outdir, sizeof outdir, "%s/out", dir);
    mkdir(outdir, 0777);

    snprintf(path, sizeof path, "%s/half.mp4", dir);
    CHECK_INT(0, media_test_truncate_copy(plain, path, 0.5));
    snprintf(args, sizeof args, "remove %s %s/a.mp4", path, outdir);
    check_failure(args, 3);

    snprintf(path, sizeof path, "%s/half-faststart.mp4", dir);
    CHECK_INT(0, media_test_truncate_copy(faststart, path, 0.5));
    snprintf(args, sizeof args, "remove %s %s/a.mp4 --mask-out %s/m.mkv", path, outdir, outdir);
    check_failure(args, 3);

    snprintf(path, sizeof path, "%s/empty.mp4", dir);
    FILE *f = fopen(path, "wb");
    if (f) fclose(f);
    snprintf(args, sizeof args, "remove %s %s/a.mp4", path, outdir);
    check_failure(args, 3);

    snprintf(path, sizeof path, "%s/text.mp4", dir);
    f = fopen(path, "wb");
    if (f) {
        fputs("not a video, just text\n", f);
        fclose(f);
    }
    snprintf(args, sizeof args, "remove %s %s/a.mp4", path, outdir);
    check_failure(args, 3);

    snprintf(args, sizeof args, "remove %s/missing.mp4 %s/a.mp4", dir, outdir);
    check_failure(args, 3);

    snprintf(args, sizeof args, "remove %s %s/a.mp4 --mask-out %s/m.mkv", audio, outdir, outdir);
    check_failure(args, 4);

    /* probe refuses the same files with the same codes. */
    snprintf(args, sizeof args, "probe %s/half-faststart.mp4", dir);
    check_failure(args, 3);
    snprintf(args, sizeof args, "probe %s", audio);
    check_failure(args, 4);

    CHECK_INT(0, media_test_count_files(outdir));
    media_test_remove_dir(dir);
}

TEST(cli_bad_outputs) {
    SLOW_TEST();
    media_test_quiet();
    const char *dir = test_tmpdir();
    char clip[512], outdir[600], args[2048];
    if (media_test_clip(dir, "clip.mp4", "-c:v libx264 -preset ultrafast -c:a copy", clip,
                        sizeof clip) != 0) {
        CHECK(!"could not make the test clip");
        return;
    }
    snprintf(outdir, sizeof outdir, "%s/out", dir);
    mkdir(outdir, 0777);
    /* A folder that cannot be written in: below a regular file (a read-only
     * folder would not do, the tests may run as root). */
    snprintf(args, sizeof args, "remove %s %s/not-a-folder/a.mp4", clip, clip);
    check_failure(args, 5);
    snprintf(args, sizeof args, "remove %s %s/missing/a.mp4", clip, outdir);
    check_failure(args, 5);
    snprintf(args, sizeof args, "remove %s %s/a.xyz", clip, outdir);
    check_failure(args, 5);
    snprintf(args, sizeof args, "remove %s %s/a.webm", clip, outdir);
    check_failure(args, 5);
    snprintf(args, sizeof args, "remove %s %s/noextension", clip, outdir);
    check_failure(args, 5);
    /* The mask fails after the video writer opened: neither may remain. */
    snprintf(args, sizeof args, "remove %s %s/a.mp4 --mask-out %s/missing/m.mkv", clip, outdir,
             outdir);
    check_failure(args, 5);
    snprintf(args, sizeof args, "remove %s %s/a.mp4 --region 700,400,100,100", clip, outdir);
    check_failure(args, 2);
    snprintf(args, sizeof args, "remove %s %s/a.mp4 --preset warp", clip, outdir);
    check_failure(args, 2);
    CHECK_INT(0, media_test_count_files(outdir));
    media_test_remove_dir(dir);
}

/* A good run: exit 0, JSON lines on stdout ending with the result, the
 * output and the mask in place and nothing else. */
TEST(cli_remove_json) {
    SLOW_TEST();
    media_test_quiet();
    const char *dir = test_tmpdir();
    char clip[512], outdir[600], cmd[2048], out[65536];
    if (media_test_clip(dir, "clip.mp4", "-c:v libx264 -preset ultrafast -c:a copy", clip,
                        sizeof clip) != 0) {
        CHECK(!"could not make the test clip");
        return;
    }
    snprintf(outdir, sizeof outdir, "%s/out", dir);
    mkdir(outdir, 0777);
    snprintf(cmd, sizeof cmd,
             "%s remove %s %s/clean.mp4 --mask-out %s/mask.mkv --json --preset ultrafast "
             "--crf 23 --threads 2 --region 0,300,768,132 2>/dev/null",
             test_vsr_bin(), clip, outdir, outdir);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strncmp(out, "{\"event\":\"progress\"", 19) == 0);
    const char *last = out + strlen(out);
    if (last > out) last--; /* the final newline */
    while (last > out && last[-1] != '\n')
        last--;
    CHECK(strncmp(last, "{\"event\":\"done\",\"status\":\"ok\"", 29) == 0);
    CHECK(strstr(last, "\"frames\":25,") != NULL);
    CHECK_INT(2, media_test_count_files(outdir));

    snprintf(cmd, sizeof cmd, "%s probe %s/clean.mp4 --json", test_vsr_bin(), outdir);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "\"width\":768,\"height\":432") != NULL);
    CHECK(strstr(out, "\"audio_streams\":1") != NULL);
    CHECK(strstr(out, "\"video_codec\":\"h264\"") != NULL);
    snprintf(cmd, sizeof cmd, "%s probe %s/mask.mkv --json", test_vsr_bin(), outdir);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK(strstr(out, "\"video_codec\":\"png\"") != NULL);
    CHECK(strstr(out, "\"audio_streams\":0") != NULL);

    /* Failures in --json mode end with an error line on stdout too. */
    snprintf(cmd, sizeof cmd, "%s remove %s/none.mp4 %s/x.mp4 --json 2>/dev/null", test_vsr_bin(),
             dir, outdir);
    CHECK_INT(3, test_run(cmd, out, sizeof out));
    CHECK(strncmp(out, "{\"event\":\"error\",\"status\":\"input\",\"exit_code\":3", 47) == 0);
    CHECK_INT(2, media_test_count_files(outdir));
    media_test_remove_dir(dir);
}

/* SIGINT midway: exit 8 and no output, mask or temporary file. */
TEST(cli_cancel_removes_partial_output) {
    SLOW_TEST();
    media_test_quiet();
    const char *shared = test_shared_dir();
    CHECK(shared != NULL);
    if (!shared) return;
    const char *dir = test_tmpdir();
    char cmd[2048], err[4096];
    /* The whole 30 s clip takes several seconds; the signal comes after 1.5. */
    snprintf(
        cmd, sizeof cmd,
        "{ timeout --preserve-status -s INT 1.5 %s remove %s/media/car-detection.mp4 %s/clean.mp4 "
        "--mask-out %s/mask.mkv --preset ultrafast 2>&1 >/dev/null; }",
        test_vsr_bin(), shared, dir, dir);
    CHECK_INT(8, test_run(cmd, err, sizeof err));
    CHECK_INT(1, lines_in(err));
    CHECK(strstr(err, "vsr: canceled") == err);
    CHECK_INT(0, media_test_count_files(dir));
    media_test_remove_dir(dir);
}
