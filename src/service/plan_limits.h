/* plan_limits.h: whether a plan admits one more job, as a pure function of
 * the plan, the account's usage and the job's video, and the answer the API
 * gives when it does not: 429 for the quotas that free up with time (jobs
 * per day, minutes per month, concurrent jobs), with Retry-After; 413 for a
 * video longer than the plan takes; 422 for a resolution over the plan's.
 * A limit of 0 is no limit. Thread-safe. */
#ifndef VSR_SERVICE_PLAN_LIMITS_H
#define VSR_SERVICE_PLAN_LIMITS_H

#include <stdint.h>

#include "service/plans.h"

/* The account's use of its plan, all its keys together. */
struct plan_usage {
    int64_t jobs_last_day;     /* jobs created in the last 24 hours */
    double minutes_this_month; /* media minutes of jobs created this calendar month (UTC) */
    int64_t month_start;       /* ms: when this month began */
    int64_t active_jobs;       /* queued or processing now */
};

/* The job asked for. */
struct plan_request {
    double media_seconds;
    int width, height;
};

struct plan_refusal {
    int http_status;     /* 429, 413 or 422 */
    char code[32];       /* "quota_exceeded" (429) or "plan_limit_exceeded" */
    char limit[32];      /* the plan field: "jobs_per_day", "max_width", ... */
    double limit_value;  /* the plan's value of it */
    int64_t retry_after; /* seconds, for 429; 0 otherwise */
    char message[300];   /* what happened and what to do */
};

/* 0 when PLAN admits REQUEST with USAGE at NOW_MS; 1 when it does not, with
 * the first limit reached in REFUSAL (the fixed ones, size and duration,
 * before those that free up with time). */
int plan_limits_check(const struct plan *plan, const struct plan_usage *usage,
                      const struct plan_request *request, int64_t now_ms,
                      struct plan_refusal *refusal);

/* Seconds from NOW_MS until the calendar month (UTC) after the one that
 * began at MONTH_START_MS begins; at least 1. */
int64_t plan_limits_seconds_to_next_month(int64_t month_start_ms, int64_t now_ms);

#endif
