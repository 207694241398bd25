/* caption_jobs.h: the "transcribe", "caption", "burn" and "replace" job
 * types (registered in job_types.c): speech to an SRT file, speech to
 * captions burned into the video, a subtitle upload burned into the video
 * (after removing the old subtitles, for replace), on the same queue, progress and limits as
 * "remove". */
#ifndef VSR_JOBS_CAPTION_JOBS_H
#define VSR_JOBS_CAPTION_JOBS_H

#include "jobs/job_types.h"

/* transcribe and caption: the input must have an audio stream. */
int speech_job_check_input(const char *options_json, const struct vsr_media_info *media,
                           struct job_input_error *out);

int transcribe_job_validate(const char *options_json, char *field, size_t field_size,
                            struct vsr_error *error);
int transcribe_job_run(const struct job_run *run, struct vsr_error *error);

int caption_job_validate(const char *options_json, char *field, size_t field_size,
                         struct vsr_error *error);
int caption_job_run(const struct job_run *run, struct vsr_error *error);

int burn_job_validate(const char *options_json, char *field, size_t field_size,
                      struct vsr_error *error);
int burn_job_run(const struct job_run *run, struct vsr_error *error);

int replace_job_validate(const char *options_json, char *field, size_t field_size,
                         struct vsr_error *error);
int replace_job_run(const struct job_run *run, struct vsr_error *error);

/* The subtitles_upload_id in OPTIONS_JSON, copied into OUT; NULL when none. */
const char *caption_job_subtitles_upload(const char *options_json, char *out, size_t size);

#endif
