/* job_types.h: the registry of job types. A job type names what a job does
 * ("remove"), checks its options when the job is submitted, and runs it in a
 * worker. The queue knows types only by name, so a new type (captions) is
 * one more entry in job_types.c and touches neither the store nor workers.
 *
 * Thread-safety: the registry is read-only; run functions are called from
 * many worker threads at once, each with its own struct job_run. */
#ifndef VSR_JOBS_JOB_TYPES_H
#define VSR_JOBS_JOB_TYPES_H

#include <stdatomic.h>
#include <stddef.h>

#include "vsr.h"

struct job_run {
    const char *input_path;     /* a local file holding the input */
    const char *output_path;    /* where to write the result (appears when complete) */
    const char *options_json;   /* as accepted by the type's validate */
    const char *subtitles_path; /* burn, replace: a local copy of options.subtitles_upload_id */
    int threads;                /* 0: automatic */
    void (*progress)(void *opaque, double percent); /* optional; percent 0..100 */
    void *progress_opaque;
    atomic_int *cancel; /* set non-zero to stop: run returns VSR_E_CANCELED */
};

/* Why a job does not fit its input: the API's error field ("options.regions",
 * "upload_id"), code ("region_outside_frame", "no_audio") and message. */
struct job_input_error {
    char field[64];
    char code[32];
    struct vsr_error error;
};

struct job_type {
    const char *name;
    const char *output_extension; /* of the result file, e.g. ".mp4" */
    const char *content_type;     /* of the result, e.g. "video/mp4" */
    /* Checks OPTIONS_JSON (an object; NULL or "" means {}). On failure returns
     * VSR_E_USAGE, names the offending option in FIELD ("options.crf") and
     * says what is wrong in ERROR. */
    int (*validate)(const char *options_json, char *field, size_t field_size,
                    struct vsr_error *error);
    /* Optional: checks OPTIONS_JSON (accepted by validate) against the
     * input's media facts, known once the upload was probed (audio_streams
     * < 0: not known, for uploads stored before it was recorded), so that a
     * job that cannot run is refused when it is made: a region outside the
     * frame, speech asked of a video without audio. */
    int (*check_input)(const char *options_json, const struct vsr_media_info *media,
                       struct job_input_error *out);
    int (*run)(const struct job_run *run, struct vsr_error *error);
};

/* A job that copies its input after options.sleep_ms, for tests and
 * benchmarks of the queue (job_noop.c); found only when the process runs
 * with VSR_TEST_JOB_TYPES=1. */
extern const struct job_type job_type_noop;

/* The type called NAME, or NULL. */
const struct job_type *job_type_find(const char *name);

/* The INDEX-th registered type (0-based), or NULL past the end. */
const struct job_type *job_type_at(int index);

#endif
