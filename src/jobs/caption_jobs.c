/* caption_jobs.c: job types "transcribe" (options: language), "caption"
 * (options: language, style, font, size, position, margin, crf), and
 * "burn" and "replace" (options: subtitles_upload_id, style, font, size,
 * position, margin, crf), which draw a subtitle upload onto the video.
 * Jobs use the offline pocketsphinx engine: the service has no
 * configuration for a remote one yet. Style names and fonts are checked at
 * submission, so that a typo fails at once rather than in a worker. */
#include "jobs/caption_jobs.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "captions/captions.h"
#include "util/error.h"

struct caption_job {
    struct vsr_transcribe_options transcribe;
    struct vsr_burn_options burn;
    char strings[5][256]; /* language, style, font, position, subtitles: the JSON is freed */
    const char *subtitles_upload_id;
};

/* What a job type reads from its options. */
enum caption_kind { KIND_TRANSCRIBE, KIND_CAPTION, KIND_BURN, KIND_REPLACE };

static int invalid(char *field, size_t field_size, const char *name, struct vsr_error *error,
                   const char *message) {
    snprintf(field, field_size, "%s", name);
    error->code = VSR_E_USAGE;
    /* Field names are short JSON paths; a rule's message is cut to what fits. */
    snprintf(error->message, sizeof error->message, "%.64s: %.440s", name, message);
    return VSR_E_USAGE;
}

static int copy_string(json_t *value, char *out, const char **target) {
    const char *s = json_string_value(value);
    if (!s || !*s || strlen(s) >= 256) return -1;
    snprintf(out, 256, "%s", s);
    *target = out;
    return 0;
}

static int integer_in(json_t *value, int min, int max, int *out) {
    if (!json_is_integer(value) || json_integer_value(value) < min ||
        json_integer_value(value) > max)
        return -1;
    *out = (int)json_integer_value(value);
    return 0;
}

static const char *const unknown_option[] = {
    [KIND_TRANSCRIBE] = "unknown option; transcribe jobs take language",
    [KIND_CAPTION] = "unknown option; caption jobs take language, style, font, size, position,"
                     " margin and crf",
    [KIND_BURN] = "unknown option; burn jobs take subtitles_upload_id, style, font, size,"
                  " position, margin and crf",
    [KIND_REPLACE] = "unknown option; replace jobs take subtitles_upload_id, style, font, size,"
                     " position, margin and crf",
};

/* Every kind but transcribe takes the burn options; burn and replace need
 * a subtitle upload and take no language. */
static int parse(const char *options_json, enum caption_kind kind, struct caption_job *job,
                 char *field, size_t field_size, struct vsr_error *error) {
    int caption = kind != KIND_TRANSCRIBE, speech = kind <= KIND_CAPTION;
    memset(job, 0, sizeof *job);
    vsr_transcribe_options_init(&job->transcribe);
    vsr_burn_options_init(&job->burn);
    if (!options_json || !*options_json) options_json = "{}";
    json_t *root = json_loads(options_json, 0, NULL);
    int rc = VSR_OK;
    if (!json_is_object(root)) {
        rc = invalid(field, field_size, "options", error, "must be a JSON object");
        goto done;
    }
    const char *name;
    json_t *value;
    struct vsr_caption_style *style = &job->burn.style;
    json_object_foreach(root, name, value) {
        if (!speech && !strcmp(name, "subtitles_upload_id")) {
            if (copy_string(value, job->strings[4], &job->subtitles_upload_id) < 0) {
                rc = invalid(field, field_size, "options.subtitles_upload_id", error,
                             "must be the id of a subtitle upload (SRT, WebVTT or ASS)");
                goto done;
            }
        } else if (speech && !strcmp(name, "language")) {
            if (copy_string(value, job->strings[0], &job->transcribe.language) < 0 ||
                strcmp(job->transcribe.language, "en") != 0) {
                rc = invalid(field, field_size, "options.language", error,
                             "must be \"en\": the service's speech engine (pocketsphinx) knows "
                             "English only");
                goto done;
            }
        } else if (caption && !strcmp(name, "style")) {
            if (copy_string(value, job->strings[1], &style->style) < 0) {
                rc = invalid(field, field_size, "options.style", error,
                             "must be classic, yellow, boxed, social or karaoke");
                goto done;
            }
        } else if (caption && !strcmp(name, "font")) {
            if (copy_string(value, job->strings[2], &style->font) < 0) {
                rc = invalid(field, field_size, "options.font", error,
                             "must be the name of an installed font family");
                goto done;
            }
        } else if (caption && !strcmp(name, "position")) {
            if (copy_string(value, job->strings[3], &style->position) < 0) {
                rc = invalid(field, field_size, "options.position", error,
                             "must be bottom, middle or top");
                goto done;
            }
        } else if (caption && !strcmp(name, "size")) {
            if (integer_in(value, 1, 1000, &style->size) < 0) {
                rc = invalid(field, field_size, "options.size", error,
                             "must be the font size in pixels, 1 to 1000");
                goto done;
            }
        } else if (caption && !strcmp(name, "margin")) {
            if (integer_in(value, 0, 10000, &style->margin) < 0) {
                rc = invalid(field, field_size, "options.margin", error,
                             "must be pixels from the edge, 0 to 10000");
                goto done;
            }
        } else if (caption && !strcmp(name, "crf")) {
            struct vsr_error rule = {0};
            json_int_t crf = json_integer_value(value);
            int in_range = crf < INT_MIN ? INT_MIN : crf > INT_MAX ? INT_MAX : (int)crf;
            if (!json_is_integer(value) || vsr_check_crf(in_range, &rule) != VSR_OK) {
                rc = invalid(field, field_size, "options.crf", error,
                             json_is_integer(value) ? rule.message : "must be a whole number");
                goto done;
            }
            job->burn.crf = in_range;
        } else {
            char full[160];
            snprintf(full, sizeof full, "options.%s", name);
            rc = invalid(field, field_size, full, error, unknown_option[kind]);
            goto done;
        }
    }
    if (!speech && !job->subtitles_upload_id) {
        rc = invalid(field, field_size, "options.subtitles_upload_id", error,
                     "is required: the id of a subtitle upload (SRT, WebVTT or ASS)");
        goto done;
    }
    if (caption) {
        /* The style as burn will apply it: unknown names, missing fonts. */
        char overrides[4096];
        struct vsr_caption_style check = *style;
        if (!check.style) check.style = "classic";
        if (caption_style_overrides(&check, 0, 1080, 288, overrides, sizeof overrides, error) < 0) {
            const char *which = strstr(error->message, "font")       ? "options.font"
                                : strstr(error->message, "position") ? "options.position"
                                                                     : "options.style";
            char message[400];
            snprintf(message, sizeof message, "%.399s", error->message);
            rc = invalid(field, field_size, which, error, message);
        }
    }
done:
    json_decref(root);
    return rc;
}

int transcribe_job_validate(const char *options_json, char *field, size_t field_size,
                            struct vsr_error *error) {
    struct caption_job job;
    return parse(options_json, KIND_TRANSCRIBE, &job, field, field_size, error);
}

int caption_job_validate(const char *options_json, char *field, size_t field_size,
                         struct vsr_error *error) {
    struct caption_job job;
    return parse(options_json, KIND_CAPTION, &job, field, field_size, error);
}

int speech_job_check_input(const char *options_json, const struct vsr_media_info *media,
                           struct job_input_error *out) {
    if (media->audio_streams != 0) return VSR_OK; /* < 0: not known, the worker will tell */
    snprintf(out->field, sizeof out->field, "upload_id");
    snprintf(out->code, sizeof out->code, "no_audio");
    return error_set(&out->error, VSR_E_INPUT,
                     "the video has no audio stream, so there is no speech to transcribe;"
                     " upload a file with sound");
}

static void transcribe_progress(void *opaque, const struct vsr_progress *progress) {
    const struct job_run *run = opaque;
    if (run->progress && progress->percent >= 0)
        run->progress(run->progress_opaque, progress->percent);
}

int transcribe_job_run(const struct job_run *run, struct vsr_error *error) {
    struct caption_job job;
    char field[64];
    int rc = parse(run->options_json, KIND_TRANSCRIBE, &job, field, sizeof field, error);
    if (rc != VSR_OK) return rc;
    job.transcribe.cancel = run->cancel;
    job.transcribe.progress = transcribe_progress;
    job.transcribe.progress_opaque = (void *)run;
    if (run->progress) run->progress(run->progress_opaque, 0);
    rc = vsr_transcribe(run->input_path, run->output_path, &job.transcribe, error);
    if (rc == VSR_OK && run->progress) run->progress(run->progress_opaque, 100);
    return rc;
}

/* A caption job: recognition is the first half, the video the second. */
static void recognition_progress(void *opaque, const struct vsr_progress *progress) {
    const struct job_run *run = opaque;
    if (run->progress && progress->percent >= 0)
        run->progress(run->progress_opaque, progress->percent / 2);
}

static void burn_progress(void *opaque, const struct vsr_progress *progress) {
    const struct job_run *run = opaque;
    if (run->progress && progress->percent >= 0)
        run->progress(run->progress_opaque, 50 + progress->percent / 2);
}

int caption_job_run(const struct job_run *run, struct vsr_error *error) {
    struct caption_job job;
    char field[64];
    int rc = parse(run->options_json, KIND_CAPTION, &job, field, sizeof field, error);
    if (rc != VSR_OK) return rc;
    job.transcribe.cancel = job.burn.cancel = run->cancel;
    job.burn.threads = run->threads;
    job.burn.progress = burn_progress;
    job.burn.progress_opaque = (void *)run;
    job.transcribe.progress = recognition_progress;
    job.transcribe.progress_opaque = (void *)run;
    if (run->progress) run->progress(run->progress_opaque, 0);
    return vsr_caption(run->input_path, run->output_path, &job.transcribe, &job.burn, error);
}

int burn_job_validate(const char *options_json, char *field, size_t field_size,
                      struct vsr_error *error) {
    struct caption_job job;
    return parse(options_json, KIND_BURN, &job, field, field_size, error);
}

int replace_job_validate(const char *options_json, char *field, size_t field_size,
                         struct vsr_error *error) {
    struct caption_job job;
    return parse(options_json, KIND_REPLACE, &job, field, field_size, error);
}

const char *caption_job_subtitles_upload(const char *options_json, char *out, size_t size) {
    json_t *root = json_loads(options_json ? options_json : "{}", 0, NULL);
    const char *id = json_string_value(json_object_get(root, "subtitles_upload_id"));
    if (id) snprintf(out, size, "%s", id);
    json_decref(root);
    return id ? out : NULL;
}

static int missing_subtitles(struct vsr_error *error) {
    error->code = VSR_E_INPUT;
    snprintf(error->message, sizeof error->message, "the job's subtitle file is missing");
    return VSR_E_INPUT;
}

static void video_progress(void *opaque, const struct vsr_progress *progress) {
    const struct job_run *run = opaque;
    if (run->progress && progress->percent >= 0)
        run->progress(run->progress_opaque, progress->percent);
}

int burn_job_run(const struct job_run *run, struct vsr_error *error) {
    struct caption_job job;
    char field[64];
    int rc = parse(run->options_json, KIND_BURN, &job, field, sizeof field, error);
    if (rc != VSR_OK) return rc;
    if (!run->subtitles_path) return missing_subtitles(error);
    job.burn.cancel = run->cancel;
    job.burn.threads = run->threads;
    job.burn.progress = video_progress;
    job.burn.progress_opaque = (void *)run;
    return vsr_burn(run->input_path, run->subtitles_path, run->output_path, &job.burn, error);
}

int replace_job_run(const struct job_run *run, struct vsr_error *error) {
    struct caption_job job;
    char field[64];
    int rc = parse(run->options_json, KIND_REPLACE, &job, field, sizeof field, error);
    if (rc != VSR_OK) return rc;
    if (!run->subtitles_path) return missing_subtitles(error);
    struct vsr_remove_options remove;
    vsr_remove_options_init(&remove);
    remove.crf = job.burn.crf;
    remove.threads = run->threads;
    remove.cancel = run->cancel;
    remove.progress = video_progress;
    remove.progress_opaque = (void *)run;
    return vsr_replace(run->input_path, run->subtitles_path, run->output_path, &remove,
                       &job.burn.style, error);
}
