/* daily.h: the daily maintenance run, `POST /api/v1/cron/daily` and `vsr
 * cron daily`: the cleanup (cleanup.h, with the configured retention),
 * webhook deliveries that finished more than DAILY_WEBHOOK_KEEP_MS ago
 * pruned, deliveries given up in the last day tried once more (their
 * endpoint may be back), and a JSON report of what it did.
 *
 * Quotas need no reset: jobs per day and minutes per month are counted from
 * the jobs themselves over a sliding day and the calendar month (UTC), so
 * the report states the windows instead.
 *
 * One run at a time across processes and hosts: the store's maintenance
 * lock (store_maintenance_lock); a second call while one runs does nothing.
 * Thread-safety: any thread. */
#ifndef VSR_SERVICE_DAILY_H
#define VSR_SERVICE_DAILY_H

#include <jansson.h>

#include "blob/blob.h"
#include "jobs/store.h"
#include "service/config.h"

/* Finished deliveries are kept this long, for GET /api/v1/jobs/{id}/webhooks. */
#define DAILY_WEBHOOK_KEEP_MS (30 * 24 * 3600 * 1000LL)

/* Runs once: 1 and *REPORT (the caller's to json_decref) when it ran, 0 when
 * another run holds the lock, or a negative status. */
int daily_run(const struct service_config *config, struct store *store, struct blob *blob,
              json_t **report, struct vsr_error *error);

#endif
