/* plan_limits.c: a plan's limits at admission (see plan_limits.h). */
#include "service/plan_limits.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Jobs per day count over a sliding 24 hours: an hour is a fair guess of
 * when one falls out of the window. A running job ends in minutes. */
#define RETRY_JOBS_PER_DAY_SECONDS 3600
#define RETRY_CONCURRENT_SECONDS   30

int64_t plan_limits_seconds_to_next_month(int64_t month_start_ms, int64_t now_ms) {
    time_t t = (time_t)(month_start_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_mon += 1;
    int64_t wait = (int64_t)timegm(&tm) - now_ms / 1000;
    return wait > 1 ? wait : 1;
}

static int refuse(struct plan_refusal *refusal, int status, const char *limit, double value,
                  int64_t retry_after) {
    refusal->http_status = status;
    snprintf(refusal->code, sizeof refusal->code, "%s",
             status == 429 ? "quota_exceeded" : "plan_limit_exceeded");
    snprintf(refusal->limit, sizeof refusal->limit, "%s", limit);
    refusal->limit_value = value;
    refusal->retry_after = retry_after;
    return 1;
}

int plan_limits_check(const struct plan *plan, const struct plan_usage *usage,
                      const struct plan_request *request, int64_t now_ms,
                      struct plan_refusal *refusal) {
    memset(refusal, 0, sizeof *refusal);
    const char *name = plan->name;
    if (plan->max_duration_seconds > 0 && request->media_seconds > plan->max_duration_seconds) {
        snprintf(refusal->message, sizeof refusal->message,
                 "the video lasts %.0f s; the %s plan takes videos of up to %.0f s: cut it into"
                 " parts or move to a larger plan (GET /api/v1/account shows the limits)",
                 request->media_seconds, name, plan->max_duration_seconds);
        return refuse(refusal, 413, "max_duration_seconds", plan->max_duration_seconds, 0);
    }
    int wide = plan->max_width > 0 && request->width > plan->max_width;
    int tall = plan->max_height > 0 && request->height > plan->max_height;
    if (wide || tall) {
        snprintf(refusal->message, sizeof refusal->message,
                 "the video is %dx%d; the %s plan takes up to %dx%d (0: any): scale it down or"
                 " move to a larger plan",
                 request->width, request->height, name, plan->max_width, plan->max_height);
        return refuse(refusal, 422, wide ? "max_width" : "max_height",
                      wide ? plan->max_width : plan->max_height, 0);
    }
    if (plan->concurrent_jobs > 0 && usage->active_jobs >= plan->concurrent_jobs) {
        snprintf(refusal->message, sizeof refusal->message,
                 "the %s plan runs %d jobs at once and %lld are queued or running: wait for"
                 " one to finish, or move to a larger plan",
                 name, plan->concurrent_jobs, (long long)usage->active_jobs);
        return refuse(refusal, 429, "concurrent_jobs", plan->concurrent_jobs,
                      RETRY_CONCURRENT_SECONDS);
    }
    if (plan->jobs_per_day > 0 && usage->jobs_last_day >= plan->jobs_per_day) {
        snprintf(refusal->message, sizeof refusal->message,
                 "the %s plan's quota of %lld jobs per day is reached; retry later or move to a"
                 " larger plan",
                 name, (long long)plan->jobs_per_day);
        return refuse(refusal, 429, "jobs_per_day", (double)plan->jobs_per_day,
                      RETRY_JOBS_PER_DAY_SECONDS);
    }
    double minutes = request->media_seconds / 60.0;
    if (plan->minutes_per_month > 0 &&
        usage->minutes_this_month + minutes > (double)plan->minutes_per_month) {
        snprintf(refusal->message, sizeof refusal->message,
                 "the %s plan's quota of %lld video minutes per month is reached (%.1f used,"
                 " this video %.1f); it renews on the 1st (UTC), or move to a larger plan",
                 name, (long long)plan->minutes_per_month, usage->minutes_this_month, minutes);
        return refuse(refusal, 429, "minutes_per_month", (double)plan->minutes_per_month,
                      plan_limits_seconds_to_next_month(usage->month_start, now_ms));
    }
    return 0;
}
