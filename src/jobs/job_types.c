/* job_types.c: the job types the service runs (see job_types.h). "remove"
 * takes an upload and removes its burned-in subtitles through vsr_remove. */
#include "jobs/job_types.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jobs/caption_jobs.h"

#define MAX_REGIONS 16

static const char *const x264_presets[] = {"ultrafast", "superfast", "veryfast", "faster",   "fast",
                                           "medium",    "slow",      "slower",   "veryslow", NULL};

static int invalid(char *field, size_t field_size, const char *name, struct vsr_error *error,
                   const char *message) {
    snprintf(field, field_size, "%s", name);
    error->code = VSR_E_USAGE;
    /* Field names are short JSON paths; a rule's message is cut to what fits. */
    snprintf(error->message, sizeof error->message, "%.64s: %.440s", name, message);
    return VSR_E_USAGE;
}

/* Reads the options of a remove job into OPTIONS and REGIONS (MAX_REGIONS). */
static int remove_parse(const char *options_json, struct vsr_remove_options *options,
                        struct vsr_region *regions, char *field, size_t field_size,
                        struct vsr_error *error) {
    vsr_remove_options_init(options);
    if (!options_json || !*options_json) return VSR_OK;
    json_error_t json_error;
    json_t *root = json_loads(options_json, 0, &json_error);
    int rc = VSR_OK;
    if (!root || !json_is_object(root)) {
        rc = invalid(field, field_size, "options", error, "must be a JSON object");
        goto done;
    }
    const char *name;
    json_t *value;
    json_object_foreach(root, name, value) {
        if (strcmp(name, "crf") == 0) {
            struct vsr_error rule = {0};
            json_int_t crf = json_integer_value(value);
            int in_range = crf < INT_MIN ? INT_MIN : crf > INT_MAX ? INT_MAX : (int)crf;
            if (!json_is_integer(value) || vsr_check_crf(in_range, &rule) != VSR_OK) {
                rc = invalid(field, field_size, "options.crf", error,
                             json_is_integer(value) ? rule.message : "must be a whole number");
                goto done;
            }
            options->crf = in_range;
        } else if (strcmp(name, "preset") == 0) {
            const char *preset = json_string_value(value);
            int known = 0;
            for (int i = 0; preset && x264_presets[i]; i++)
                if (strcmp(preset, x264_presets[i]) == 0) {
                    options->preset = x264_presets[i];
                    known = 1;
                }
            if (!known) {
                rc = invalid(field, field_size, "options.preset", error,
                             "must be an x264 preset: ultrafast, superfast, veryfast, faster,"
                             " fast, medium, slow, slower or veryslow");
                goto done;
            }
        } else if (strcmp(name, "regions") == 0) {
            if (!json_is_array(value) || json_array_size(value) > MAX_REGIONS) {
                rc = invalid(field, field_size, "options.regions", error,
                             "must be an array of at most 16 {x, y, w, h} objects");
                goto done;
            }
            size_t i;
            json_t *region;
            json_array_foreach(value, i, region) {
                int xywh[4];
                const char *keys[4] = {"x", "y", "w", "h"};
                if (!json_is_object(region) || json_object_size(region) != 4) {
                    rc = invalid(field, field_size, "options.regions", error,
                                 "each region is an object with exactly x, y, w and h");
                    goto done;
                }
                for (int k = 0; k < 4; k++) {
                    json_t *n = json_object_get(region, keys[k]);
                    if (!json_is_integer(n) || json_integer_value(n) < 0 ||
                        json_integer_value(n) > 65535 || (k >= 2 && json_integer_value(n) == 0)) {
                        rc = invalid(field, field_size, "options.regions", error,
                                     "x and y must be integers >= 0, w and h integers >= 1");
                        goto done;
                    }
                    xywh[k] = (int)json_integer_value(n);
                }
                regions[i] = (struct vsr_region){xywh[0], xywh[1], xywh[2], xywh[3]};
            }
            options->regions = json_array_size(value) ? regions : NULL;
            options->region_count = (int)json_array_size(value);
        } else {
            char full[160];
            snprintf(full, sizeof full, "options.%s", name);
            rc = invalid(field, field_size, full, error,
                         "unknown option; remove jobs take regions, crf and preset");
            goto done;
        }
    }
done:
    json_decref(root);
    return rc;
}

static int remove_validate(const char *options_json, char *field, size_t field_size,
                           struct vsr_error *error) {
    struct vsr_remove_options options;
    struct vsr_region regions[MAX_REGIONS];
    return remove_parse(options_json, &options, regions, field, field_size, error);
}

static int remove_check_input(const char *options_json, const struct vsr_media_info *media,
                              struct job_input_error *out) {
    struct vsr_remove_options options;
    struct vsr_region regions[MAX_REGIONS];
    int rc =
        remove_parse(options_json, &options, regions, out->field, sizeof out->field, &out->error);
    if (rc != VSR_OK) return rc;
    struct vsr_error rule = {0};
    rc = vsr_check_regions(options.regions, options.region_count, media->width, media->height,
                           &rule);
    if (rc == VSR_OK) return VSR_OK;
    snprintf(out->code, sizeof out->code, "region_outside_frame");
    return invalid(out->field, sizeof out->field, "options.regions", &out->error, rule.message);
}

static void remove_progress(void *opaque, const struct vsr_progress *progress) {
    const struct job_run *run = opaque;
    if (run->progress && progress->percent >= 0)
        run->progress(run->progress_opaque, progress->percent);
}

static int remove_run(const struct job_run *run, struct vsr_error *error) {
    struct vsr_remove_options options;
    struct vsr_region regions[MAX_REGIONS];
    char field[64];
    int rc = remove_parse(run->options_json, &options, regions, field, sizeof field, error);
    if (rc != VSR_OK) return rc;
    options.threads = run->threads;
    options.progress = remove_progress;
    options.progress_opaque = (void *)run;
    options.cancel = run->cancel;
    return vsr_remove(run->input_path, run->output_path, &options, error);
}

static const struct job_type registry[] = {
    {
        .name = "remove",
        .output_extension = ".mp4",
        .content_type = "video/mp4",
        .validate = remove_validate,
        .check_input = remove_check_input,
        .run = remove_run,
    },
    {
        .name = "transcribe",
        .output_extension = ".srt",
        .content_type = "application/x-subrip",
        .validate = transcribe_job_validate,
        .check_input = speech_job_check_input,
        .run = transcribe_job_run,
    },
    {
        .name = "caption",
        .output_extension = ".mp4",
        .content_type = "video/mp4",
        .validate = caption_job_validate,
        .check_input = speech_job_check_input,
        .run = caption_job_run,
    },
    {
        .name = "burn",
        .output_extension = ".mp4",
        .content_type = "video/mp4",
        .validate = burn_job_validate,
        .run = burn_job_run,
    },
    {
        .name = "replace",
        .output_extension = ".mp4",
        .content_type = "video/mp4",
        .validate = replace_job_validate,
        .run = replace_job_run,
    },
};

const struct job_type *job_type_find(const char *name) {
    const char *test_types = getenv("VSR_TEST_JOB_TYPES");
    if (strcmp(name, job_type_noop.name) == 0 && test_types && strcmp(test_types, "1") == 0)
        return &job_type_noop;
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (strcmp(registry[i].name, name) == 0) return &registry[i];
    return NULL;
}

const struct job_type *job_type_at(int index) {
    if (index < 0 || (size_t)index >= sizeof registry / sizeof registry[0]) return NULL;
    return &registry[index];
}
