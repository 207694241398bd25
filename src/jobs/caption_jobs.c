/* caption_jobs.c: job types "transcribe" (options: language) and "caption"
 * (options: language, style, font, size, position, margin, crf, preset).
 * Jobs use the offline pocketsphinx engine: the service has no
 * configuration for a remote one yet. Style names and fonts are checked at
 * submission, so that a typo fails at once rather than in a worker. */
#include "jobs/caption_jobs.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "captions/captions.h"

struct caption_job {
    struct vsr_transcribe_options transcribe;
    struct vsr_burn_options burn;
    char strings[4][256]; /* language, style, font, position: the JSON is freed */
};

static int invalid(char *field, size_t field_size, const char *name, struct vsr_error *error,
                   const char *message) {
    snprintf(field, field_size, "%s", name);
    error->code = VSR_E_USAGE;
    snprintf(error->message, sizeof error->message, "%s: %s", name, message);
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

/* CAPTION: the burn options are allowed too. */
static int parse(const char *options_json, int caption, struct caption_job *job, char *field,
                 size_t field_size, struct vsr_error *error) {
    memset(job, 0, sizeof *job);
    vsr_transcribe_options_init(&job->transcribe);
    vsr_burn_options_init(&job->burn);
    if (!options_json || !*options_json) return VSR_OK;
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
        if (!strcmp(name, "language")) {
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
            if (integer_in(value, 0, 51, &job->burn.crf) < 0) {
                rc = invalid(field, field_size, "options.crf", error,
                             "must be an integer from 0 to 51");
                goto done;
            }
        } else {
            char full[160];
            snprintf(full, sizeof full, "options.%s", name);
            rc = invalid(field, field_size, full, error,
                         caption ? "unknown option; caption jobs take language, style, font, "
                                   "size, position, margin and crf"
                                 : "unknown option; transcribe jobs take language");
            goto done;
        }
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
    return parse(options_json, 0, &job, field, field_size, error);
}

int caption_job_validate(const char *options_json, char *field, size_t field_size,
                         struct vsr_error *error) {
    struct caption_job job;
    return parse(options_json, 1, &job, field, field_size, error);
}

int transcribe_job_run(const struct job_run *run, struct vsr_error *error) {
    struct caption_job job;
    char field[64];
    int rc = parse(run->options_json, 0, &job, field, sizeof field, error);
    if (rc != VSR_OK) return rc;
    job.transcribe.cancel = run->cancel;
    if (run->progress) run->progress(run->progress_opaque, 0);
    rc = vsr_transcribe(run->input_path, run->output_path, &job.transcribe, error);
    if (rc == VSR_OK && run->progress) run->progress(run->progress_opaque, 100);
    return rc;
}

static void burn_progress(void *opaque, const struct vsr_progress *progress) {
    const struct job_run *run = opaque;
    /* Recognition comes first and reports nothing: video is the second half. */
    if (run->progress && progress->percent >= 0)
        run->progress(run->progress_opaque, 50 + progress->percent / 2);
}

int caption_job_run(const struct job_run *run, struct vsr_error *error) {
    struct caption_job job;
    char field[64];
    int rc = parse(run->options_json, 1, &job, field, sizeof field, error);
    if (rc != VSR_OK) return rc;
    job.transcribe.cancel = job.burn.cancel = run->cancel;
    job.burn.threads = run->threads;
    job.burn.progress = burn_progress;
    job.burn.progress_opaque = (void *)run;
    if (run->progress) run->progress(run->progress_opaque, 0);
    return vsr_caption(run->input_path, run->output_path, &job.transcribe, &job.burn, error);
}
