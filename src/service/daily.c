/* daily.c: the daily maintenance run (see daily.h). */
#include "service/daily.h"

#include "service/cleanup.h"
#include "util/ids.h"

#define DAY_MS (24 * 3600 * 1000LL)

int daily_run(const struct service_config *config, struct store *store, struct blob *blob,
              json_t **report, struct vsr_error *error) {
    *report = NULL;
    int locked = store_maintenance_lock(store, 1, error);
    if (locked <= 0) return locked;
    int64_t started = ids_now_ms();
    struct cleanup_options options = {
        .now = started,
        .retention_ms = (int64_t)(config->retention_hours * 3600.0 * 1000.0),
        .orphan_age_ms = CLEANUP_ORPHAN_AGE_MS,
    };
    struct cleanup_plan plan = {0}, done = {0};
    int pruned = 0, retried = 0;
    int rc = cleanup_plan_make(config, store, blob, &options, &plan, error);
    if (rc == VSR_OK) rc = cleanup_execute(config, store, blob, &options, &plan, &done, error);
    if (rc == VSR_OK)
        rc = store_webhook_prune(store, started - DAILY_WEBHOOK_KEEP_MS, &pruned, error);
    if (rc == VSR_OK) rc = store_webhook_retry_failed(store, started - DAY_MS, &retried, error);
    if (rc == VSR_OK)
        *report =
            json_pack("{s:b, s:I, s:I, s:o, s:{s:i, s:i}, s:{s:s, s:s}}", "ran", 1, "started_at",
                      (json_int_t)started, "finished_at", (json_int_t)ids_now_ms(), "cleanup",
                      cleanup_plan_json(&done), "webhooks", "pruned", pruned, "retried", retried,
                      "quotas", "jobs_per_day", "sliding 24 hours, counted from the jobs",
                      "minutes_per_month", "calendar month (UTC), counted from the jobs");
    cleanup_plan_free(&plan);
    cleanup_plan_free(&done);
    struct vsr_error ignored = {0};
    store_maintenance_lock(store, 0, &ignored);
    return rc == VSR_OK ? 1 : rc;
}
