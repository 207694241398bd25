/* test_plans.c: the plans file's parser (what it accepts, what it refuses
 * and why), `vsr plans set`'s fields, the queue rank of a priority, and a
 * plan's limits at admission. */
#include <stdio.h>
#include <string.h>

#include "service/plan_limits.h"
#include "service/plans.h"
#include "test.h"

static const char good_plans[] =
    "{\"payment_grace_days\": 3, \"priority_step_seconds\": 30, \"plans\": ["
    " {\"name\": \"free\", \"jobs_per_day\": 5, \"minutes_per_month\": 30, \"max_width\": 1280,"
    "  \"max_height\": 720, \"max_duration_seconds\": 300, \"concurrent_jobs\": 1},"
    " {\"name\": \"pro\", \"jobs_per_day\": 500, \"priority\": 10, \"concurrent_jobs\": 4,"
    "  \"stripe_prices\": [\"price_pro_month\", \"price_pro_year\"]}]}";

static int parse(const char *text, struct plans *plans, struct vsr_error *error) {
    memset(error, 0, sizeof *error);
    return plans_parse(text, strlen(text), plans, error);
}

TEST(plans_parse_file) {
    struct plans plans;
    struct vsr_error error;
    CHECK_INT(VSR_OK, parse(good_plans, &plans, &error));
    CHECK_INT(2, plans.count);
    CHECK_INT(3, plans.payment_grace_days);
    CHECK_INT(30, plans.priority_step_seconds);
    const struct plan *free_plan = plans_free(&plans), *pro = plans_find(&plans, "pro");
    CHECK(free_plan && pro);
    if (!free_plan || !pro) return;
    CHECK_INT(5, free_plan->jobs_per_day);
    CHECK_INT(30, free_plan->minutes_per_month);
    CHECK_INT(1280, free_plan->max_width);
    CHECK_INT(720, free_plan->max_height);
    CHECK(free_plan->max_duration_seconds == 300);
    CHECK_INT(0, free_plan->priority);
    CHECK_INT(1, free_plan->concurrent_jobs);
    CHECK_INT(10, pro->priority);
    CHECK_INT(0, pro->max_width); /* not given: no limit */
    CHECK(plans_find_by_price(&plans, "price_pro_year") == pro);
    CHECK(plans_find_by_price(&plans, "price_other") == NULL);
    CHECK(plans_find(&plans, "gold") == NULL);

    /* Without a file: one plan, free, with no limits. */
    struct plans defaults;
    CHECK_INT(VSR_OK, plans_load("", &defaults, &error));
    CHECK_INT(1, defaults.count);
    CHECK_STR("free", defaults.items[0].name);
    CHECK_INT(0, defaults.items[0].jobs_per_day);
    CHECK_INT(7, defaults.payment_grace_days);
    CHECK_INT(60, defaults.priority_step_seconds);
}

/* Each mistake is refused with a message that names what is wrong. */
TEST(plans_parse_refusals) {
    static const struct {
        const char *text, *says;
    } cases[] = {
        {"", "not JSON"},
        {"[1]", "JSON object"},
        {"{}", "\"plans\""},
        {"{\"plans\": []}", "\"plans\""},
        {"{\"plans\": [{\"name\": \"pro\"}]}", "\"free\""},
        {"{\"plans\": [{\"name\": \"free\", \"jobs_per_dya\": 3}]}", "jobs_per_dya"},
        {"{\"plans\": [{\"name\": \"free\", \"jobs_per_day\": -1}]}", "jobs_per_day"},
        {"{\"plans\": [{\"name\": \"free\", \"jobs_per_day\": 1.5}]}", "whole number"},
        {"{\"plans\": [{\"name\": \"free\", \"priority\": 1001}]}", "priority"},
        {"{\"plans\": [{\"name\": \"free\", \"max_width\": \"wide\"}]}", "max_width"},
        {"{\"plans\": [{\"name\": \"Free Plan\"}]}", "name"},
        {"{\"plans\": [{\"jobs_per_day\": 1}]}", "name"},
        {"{\"plans\": [{\"name\": \"free\"}, {\"name\": \"free\"}]}", "twice"},
        {"{\"plans\": [{\"name\": \"free\", \"stripe_prices\": [\"p\"]},"
         " {\"name\": \"pro\", \"stripe_prices\": [\"p\"]}]}",
         "listed twice"},
        {"{\"plans\": [{\"name\": \"free\", \"stripe_prices\": [\"p\", \"p\"]}]}", "listed twice"},
        {"{\"plans\": [{\"name\": \"free\", \"stripe_prices\": \"p\"}]}", "stripe_prices"},
        {"{\"plans\": [{\"name\": \"free\", \"stripe_prices\": [\"\"]}]}", "price id"},
        {"{\"plans\": [{\"name\": \"free\"}], \"grace\": 3}", "grace"},
        {"{\"plans\": [{\"name\": \"free\"}], \"payment_grace_days\": 400}", "payment_grace_days"},
        {"{\"plans\": [{\"name\": \"free\"}], \"plans\": [{\"name\": \"free\"}]}", "not JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct plans plans;
        struct vsr_error error;
        CHECK_INT(VSR_E_USAGE, parse(cases[i].text, &plans, &error));
        if (!strstr(error.message, cases[i].says)) {
            fprintf(stderr, "  case %zu (%s): \"%s\" does not say \"%s\"\n", i, cases[i].text,
                    error.message, cases[i].says);
            test_failures++;
        }
        /* A refused file leaves the defaults, never half a file. */
        CHECK_INT(1, plans.count);
    }
    /* More plans than fit. */
    char many[4096] = "{\"plans\": [{\"name\": \"free\"}";
    for (int i = 0; i < PLANS_MAX; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), ", {\"name\": \"p%d\"}", i);
    snprintf(many + strlen(many), sizeof many - strlen(many), "]}");
    struct plans plans;
    struct vsr_error error;
    CHECK_INT(VSR_E_USAGE, parse(many, &plans, &error));
    CHECK(strstr(error.message, "at most") != NULL);
}

/* `vsr plans set`'s fields, and a file written and read back. */
TEST(plans_set_and_save) {
    struct plans plans;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, parse(good_plans, &plans, &error));
    struct plan *pro = &plans.items[1];
    CHECK_INT(VSR_OK, plan_set_field(pro, "minutes_per_month", "6000", &error));
    CHECK_INT(6000, pro->minutes_per_month);
    CHECK_INT(VSR_OK, plan_set_field(pro, "max_duration_seconds", "5400.5", &error));
    CHECK(pro->max_duration_seconds == 5400.5);
    CHECK_INT(VSR_OK, plan_set_field(pro, "stripe_prices", "price_a,price_b,price_c", &error));
    CHECK_INT(3, pro->price_count);
    CHECK_STR("price_c", pro->stripe_prices[2]);
    CHECK_INT(VSR_E_USAGE, plan_set_field(pro, "priority", "ten", &error));
    CHECK_INT(VSR_E_USAGE, plan_set_field(pro, "priority", "-1", &error));
    CHECK_INT(VSR_E_USAGE, plan_set_field(pro, "colour", "1", &error));
    CHECK(strstr(error.message, "colour") != NULL);
    CHECK_INT(VSR_E_USAGE, plan_set_field(pro, "stripe_prices", "a,,b", &error));
    CHECK_INT(VSR_E_USAGE, plan_set_field(pro, "stripe_prices", "a,", &error));
    CHECK_INT(3, pro->price_count); /* a refused list changes nothing */

    char path[300];
    snprintf(path, sizeof path, "%s/plans.json", test_tmpdir());
    CHECK_INT(VSR_OK, plans_save(path, &plans, &error));
    struct plans again;
    CHECK_INT(VSR_OK, plans_load(path, &again, &error));
    CHECK_INT(2, again.count);
    CHECK_INT(6000, again.items[1].minutes_per_month);
    CHECK(again.items[1].max_duration_seconds == 5400.5);
    CHECK_INT(3, again.items[1].price_count);
    CHECK_INT(3, again.payment_grace_days);
    CHECK_INT(VSR_E_USAGE, plans_load("/nonexistent/plans.json", &again, &error));
    CHECK(strstr(error.message, "/nonexistent/plans.json") != NULL);
}

/* The rule the queue claims by: a priority point is a head start of
 * priority_step_seconds, so a paid job passes free jobs queued shortly
 * before it, and never those that waited longer than its head start. */
TEST(plans_queue_rank_rule) {
    struct plans plans;
    plans_init_default(&plans);
    int64_t t0 = 1700000000000;
    CHECK_INT(t0, plans_queue_rank(&plans, 0, t0));
    CHECK_INT(t0 - 600000, plans_queue_rank(&plans, 10, t0));
    /* A pro job (10) queued 5 minutes after a free one goes first ... */
    CHECK(plans_queue_rank(&plans, 10, t0 + 300000) < plans_queue_rank(&plans, 0, t0));
    /* ... one queued 11 minutes after it does not. */
    CHECK(plans_queue_rank(&plans, 10, t0 + 660000) > plans_queue_rank(&plans, 0, t0));
    /* Out-of-range priorities are held to 0..PLAN_PRIORITY_MAX. */
    CHECK_INT(t0, plans_queue_rank(&plans, -5, t0));
    CHECK_INT(t0 - (int64_t)PLAN_PRIORITY_MAX * 60000, plans_queue_rank(&plans, 5000, t0));
}

TEST(plan_limits_at_admission) {
    struct plans plans;
    struct vsr_error error;
    CHECK_INT(VSR_OK, parse(good_plans, &plans, &error));
    const struct plan *free_plan = plans_free(&plans), *pro = plans_find(&plans, "pro");
    /* 2026-03-10 12:00 UTC; the month began 2026-03-01. */
    int64_t now = 1773144000000, month_start = 1772323200000;
    struct plan_usage usage = {.month_start = month_start};
    struct plan_request small = {.media_seconds = 60, .width = 1280, .height = 720};
    struct plan_refusal refusal;
    CHECK_INT(0, plan_limits_check(free_plan, &usage, &small, now, &refusal));

    struct plan_request longer = small;
    longer.media_seconds = 301;
    CHECK_INT(1, plan_limits_check(free_plan, &usage, &longer, now, &refusal));
    CHECK_INT(413, refusal.http_status);
    CHECK_STR("plan_limit_exceeded", refusal.code);
    CHECK_STR("max_duration_seconds", refusal.limit);
    CHECK(strstr(refusal.message, "free plan") != NULL);
    CHECK_INT(0, plan_limits_check(pro, &usage, &longer, now, &refusal));

    struct plan_request wide = small;
    wide.width = 1920;
    CHECK_INT(1, plan_limits_check(free_plan, &usage, &wide, now, &refusal));
    CHECK_INT(422, refusal.http_status);
    CHECK_STR("max_width", refusal.limit);
    CHECK_INT(1280, refusal.limit_value);
    struct plan_request tall = small;
    tall.height = 721;
    CHECK_INT(1, plan_limits_check(free_plan, &usage, &tall, now, &refusal));
    CHECK_STR("max_height", refusal.limit);

    usage.active_jobs = 1;
    CHECK_INT(1, plan_limits_check(free_plan, &usage, &small, now, &refusal));
    CHECK_INT(429, refusal.http_status);
    CHECK_STR("quota_exceeded", refusal.code);
    CHECK_STR("concurrent_jobs", refusal.limit);
    CHECK(refusal.retry_after > 0);
    CHECK_INT(0, plan_limits_check(pro, &usage, &small, now, &refusal));
    usage.active_jobs = 0;

    usage.jobs_last_day = 5;
    CHECK_INT(1, plan_limits_check(free_plan, &usage, &small, now, &refusal));
    CHECK_STR("jobs_per_day", refusal.limit);
    CHECK_INT(429, refusal.http_status);
    usage.jobs_last_day = 4;
    CHECK_INT(0, plan_limits_check(free_plan, &usage, &small, now, &refusal));

    /* 29.5 minutes used and a 1-minute video: over 30. */
    usage.minutes_this_month = 29.5;
    CHECK_INT(1, plan_limits_check(free_plan, &usage, &small, now, &refusal));
    CHECK_STR("minutes_per_month", refusal.limit);
    /* Retry-After: until 2026-04-01 00:00 UTC, 21.5 days away. */
    CHECK_INT(1857600, refusal.retry_after);
    usage.minutes_this_month = 29;
    CHECK_INT(0, plan_limits_check(free_plan, &usage, &small, now, &refusal));
}
