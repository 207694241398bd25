/* plans.h: the service's plans (free, pro, ...), what each allows, and the
 * Stripe prices that buy it. Plans are configuration: a JSON file named by
 * VSR_PLANS_FILE (or `--plans`), edited by hand or with `vsr plans set`, read
 * when a process starts. Without a file there is one plan, "free", with no
 * limits: a service without plans behaves as before they existed.
 *
 * The file:
 *   {"payment_grace_days": 7, "priority_step_seconds": 60,
 *    "plans": [{"name": "free", "jobs_per_day": 10, ...},
 *              {"name": "pro", "priority": 10, "stripe_prices": ["price_..."]}]}
 * A plan's numbers are limits, 0 meaning none (priority and concurrent_jobs
 * included: priority 0 is the lowest). The plan "free" must be there: keys
 * without a paid plan, and accounts whose payment's grace ran out, use it.
 *
 * Everything here is pure and thread-safe: a struct plans is read-only
 * once parsed. */
#ifndef VSR_SERVICE_PLANS_H
#define VSR_SERVICE_PLANS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vsr.h"

#define PLAN_NAME_SIZE    32
#define PLAN_PRICE_SIZE   64
#define PLAN_PRICES_MAX   8 /* Stripe prices per plan: monthly, yearly, currencies */
#define PLANS_MAX         16
#define PLAN_FREE         "free"
#define PLAN_PRIORITY_MAX 1000

struct plan {
    char name[PLAN_NAME_SIZE]; /* [a-z0-9_-], 1 to 31 characters */
    int64_t jobs_per_day;      /* jobs created in the last 24 hours */
    int64_t minutes_per_month; /* media minutes of jobs created this calendar month (UTC) */
    int max_width, max_height; /* of an input video */
    double max_duration_seconds;
    int priority;        /* 0..PLAN_PRIORITY_MAX; see plans_queue_rank */
    int concurrent_jobs; /* queued or processing at once */
    char stripe_prices[PLAN_PRICES_MAX][PLAN_PRICE_SIZE];
    int price_count;
};

struct plans {
    struct plan items[PLANS_MAX];
    int count;
    int payment_grace_days;    /* after a failed payment, the paid plan holds this long */
    int priority_step_seconds; /* one point of priority is worth this much waiting */
};

/* The plans of a service with no file: "free" without limits, 7 days of
 * grace, 60 s per priority point. */
void plans_init_default(struct plans *plans);

/* Parses the plans file's TEXT (LEN bytes, not NUL-terminated) into PLANS.
 * Strict: unknown fields, wrong types, values out of range, a name or price
 * twice, and a file without "free" are VSR_E_USAGE with a message naming
 * the field. PLANS is left as plans_init_default made it on failure. */
int plans_parse(const char *text, size_t len, struct plans *plans, struct vsr_error *error);

/* Reads and parses the file at PATH ("" or NULL: the defaults). */
int plans_load(const char *path, struct plans *plans, struct vsr_error *error);

/* Writes PLANS to PATH atomically (a temporary file renamed over it). */
int plans_save(const char *path, const struct plans *plans, struct vsr_error *error);

/* The plan named NAME, or NULL. */
const struct plan *plans_find(const struct plans *plans, const char *name);

/* The plan that Stripe price PRICE_ID buys, or NULL. */
const struct plan *plans_find_by_price(const struct plans *plans, const char *price_id);

/* The plan "free" (always there in parsed plans). */
const struct plan *plans_free(const struct plans *plans);

/* Sets FIELD of PLAN from VALUE, as `vsr plans set` does ("jobs_per_day",
 * "stripe_prices" as a comma list, ...): VSR_E_USAGE for an unknown field
 * or a value out of range. */
int plan_set_field(struct plan *plan, const char *field, const char *value,
                   struct vsr_error *error);

/* The plan as JSON, in the file's form (a new reference). */
json_t *plan_to_json(const struct plan *plan);
/* The whole file's JSON (a new reference). */
json_t *plans_to_json(const struct plans *plans);

/* Where a job of PRIORITY created at CREATED_AT_MS stands in the queue: the
 * queue claims the lowest rank first. Each priority point counts as
 * priority_step_seconds of waiting, so a paid job goes ahead of free jobs
 * queued up to priority * step before it, and a free job that waited longer
 * than that goes first: no job waits more than the highest priority's head
 * start behind jobs queued after it. */
int64_t plans_queue_rank(const struct plans *plans, int priority, int64_t created_at_ms);

#endif
