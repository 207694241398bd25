/* caption_jobs.h: the "transcribe" and "caption" job types (registered in
 * job_types.c): speech to an SRT file, and speech to captions burned into
 * the video, on the same queue, progress and limits as "remove". */
#ifndef VSR_JOBS_CAPTION_JOBS_H
#define VSR_JOBS_CAPTION_JOBS_H

#include "jobs/job_types.h"

int transcribe_job_validate(const char *options_json, char *field, size_t field_size,
                            struct vsr_error *error);
int transcribe_job_run(const struct job_run *run, struct vsr_error *error);

int caption_job_validate(const char *options_json, char *field, size_t field_size,
                         struct vsr_error *error);
int caption_job_run(const struct job_run *run, struct vsr_error *error);

#endif
