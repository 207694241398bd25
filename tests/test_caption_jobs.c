/* test_caption_jobs.c: the "transcribe" and "caption" job types, as the
 * service's workers call them (validate at submission, run in a worker):
 * option errors name their field, a run on a clip with recorded speech
 * gives captions, and progress reaches 100. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "jobs/job_types.h"
#include "test.h"
#include "test_media.h"

static void note_progress(void *opaque, double percent) {
    *(double *)opaque = percent;
}

TEST(caption_jobs_validate_and_run) {
    SLOW_TEST();
    const struct job_type *transcribe = job_type_find("transcribe");
    const struct job_type *caption = job_type_find("caption");
    CHECK(transcribe && caption);
    if (!transcribe || !caption) return;
    char field[64];
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, caption->validate("{\"style\":\"karaoke\",\"size\":40}", field, sizeof field,
                                        &error));
    static const struct {
        const char *options, *field;
    } bad[] = {
        {"{\"style\":\"neon\"}", "options.style"},
        {"{\"font\":\"No Such Font\"}", "options.font"},
        {"{\"position\":\"left\"}", "options.position"},
        {"{\"size\":0}", "options.size"},
        {"{\"language\":\"fr\"}", "options.language"},
        {"{\"regions\":[]}", "options.regions"},
        {"[1]", "options"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        field[0] = '\0';
        CHECK_INT(VSR_E_USAGE, caption->validate(bad[i].options, field, sizeof field, &error));
        if (strcmp(field, bad[i].field) != 0)
            fprintf(stderr, "  %s: field '%s', expected '%s'\n", bad[i].options, field,
                    bad[i].field);
        CHECK_STR(bad[i].field, field);
    }
    CHECK_INT(VSR_E_USAGE,
              transcribe->validate("{\"style\":\"classic\"}", field, sizeof field, &error));
    CHECK_STR("options.style", field);

    /* Runs: a grey video with a LibriVox clip as its sound track. */
    media_test_quiet();
    const char *dir = test_tmpdir();
    char video[512], srt[512], captioned[512], args[2048];
    snprintf(video, sizeof video, "%s/speech.mp4", dir);
    snprintf(srt, sizeof srt, "%s/out.srt", dir);
    snprintf(captioned, sizeof captioned, "%s/out.mp4", dir);
    snprintf(args, sizeof args,
             "-f lavfi -i color=c=gray:s=320x180:r=25 -i "
             "/usr/share/pocketsphinx/test/data/librivox/"
             "sense_and_sensibility_01_austen_64kb-0880.wav -shortest -c:v libx264 -preset "
             "ultrafast -c:a aac '%s'",
             video);
    CHECK_INT(0, media_test_ffmpeg(args));
    double percent = -1;
    atomic_int cancel = 0;
    struct job_run run = {.input_path = video,
                          .output_path = srt,
                          .options_json = "{\"language\":\"en\"}",
                          .progress = note_progress,
                          .progress_opaque = &percent,
                          .cancel = &cancel};
    CHECK_INT(VSR_OK, transcribe->run(&run, &error));
    CHECK(percent == 100);
    FILE *f = fopen(srt, "r");
    char text[4096] = "";
    if (f) {
        text[fread(text, 1, sizeof text - 1, f)] = '\0';
        fclose(f);
    }
    CHECK(strstr(text, "00:00:0") != NULL); /* a cue in the first seconds */
    CHECK(strstr(text, "young man") != NULL);
    percent = -1;
    run.output_path = captioned;
    run.options_json = "{\"style\":\"social\"}";
    CHECK_INT(VSR_OK, caption->run(&run, &error));
    CHECK(percent == 100);
    struct vsr_media_info info;
    CHECK_INT(VSR_OK, vsr_probe(captioned, &info, &error));
    CHECK_INT(320, info.width);
    CHECK_INT(1, info.audio_streams);
    /* Cancel: the job stops with VSR_E_CANCELED and leaves nothing. */
    atomic_store(&cancel, 1);
    snprintf(captioned, sizeof captioned, "%s/canceled.mp4", dir);
    run.output_path = captioned;
    CHECK_INT(VSR_E_CANCELED, caption->run(&run, &error));
    struct stat st;
    CHECK(stat(captioned, &st) != 0);
    media_test_remove_dir(dir);
}
