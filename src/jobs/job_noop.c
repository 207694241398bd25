/* job_noop.c: the "noop" job type, for tests and benchmarks of the queue
 * itself (tests/test_scaleout.c, bench/scaleout.sh): it copies its input to
 * its output after waiting options.sleep_ms (0..60000), reporting progress
 * and honouring cancel. It exists only when VSR_TEST_JOB_TYPES=1 is set in
 * the environment of the process (see job_type_find), so a production
 * service never accepts it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "jobs/job_types.h"

static int noop_sleep_ms(const char *options_json, long *sleep_ms, char *field, size_t field_size,
                         struct vsr_error *error) {
    *sleep_ms = 0;
    if (!options_json || !*options_json) return VSR_OK;
    json_t *root = json_loads(options_json, 0, NULL);
    json_t *value = root ? json_object_get(root, "sleep_ms") : NULL;
    int ok = json_is_object(root) && json_object_size(root) <= (value ? 1u : 0u) &&
             (!value || (json_is_integer(value) && json_integer_value(value) >= 0 &&
                         json_integer_value(value) <= 60000));
    if (ok && value) *sleep_ms = (long)json_integer_value(value);
    json_decref(root);
    if (ok) return VSR_OK;
    snprintf(field, field_size, "options.sleep_ms");
    error->code = VSR_E_USAGE;
    snprintf(error->message, sizeof error->message,
             "options.sleep_ms: noop jobs take only sleep_ms, 0..60000");
    return VSR_E_USAGE;
}

static int noop_validate(const char *options_json, char *field, size_t field_size,
                         struct vsr_error *error) {
    long sleep_ms;
    return noop_sleep_ms(options_json, &sleep_ms, field, field_size, error);
}

/* OUTPUT gets INPUT's bytes through a temporary file, so it appears whole. */
static int copy_file(const char *input, const char *output, struct vsr_error *error) {
    char temp[4200];
    snprintf(temp, sizeof temp, "%s.part", output);
    FILE *in = fopen(input, "rb"), *out = fopen(temp, "wb");
    char buf[65536];
    size_t got;
    int ok = in && out;
    while (ok && (got = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, got, out) == got;
    ok = ok && !ferror(in);
    if (in) fclose(in);
    if (out && fclose(out) != 0) ok = 0;
    if (ok && rename(temp, output) == 0) return VSR_OK;
    unlink(temp);
    error->code = VSR_E_OUTPUT;
    snprintf(error->message, sizeof error->message, "noop: cannot copy %.300s", input);
    return VSR_E_OUTPUT;
}

static int noop_run(const struct job_run *run, struct vsr_error *error) {
    long sleep_ms;
    char field[64];
    int rc = noop_sleep_ms(run->options_json, &sleep_ms, field, sizeof field, error);
    if (rc != VSR_OK) return rc;
    for (long waited = 0; waited < sleep_ms; waited += 10) {
        if (run->cancel && atomic_load(run->cancel)) {
            error->code = VSR_E_CANCELED;
            snprintf(error->message, sizeof error->message, "canceled");
            return VSR_E_CANCELED;
        }
        if (run->progress) run->progress(run->progress_opaque, 100.0 * (double)waited / sleep_ms);
        struct timespec step = {0, 10 * 1000000L};
        nanosleep(&step, NULL);
    }
    return copy_file(run->input_path, run->output_path, error);
}

const struct job_type job_type_noop = {
    .name = "noop",
    .output_extension = ".bin",
    .content_type = "application/octet-stream",
    .validate = noop_validate,
    .run = noop_run,
};
