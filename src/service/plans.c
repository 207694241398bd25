/* plans.c: the plans file (see plans.h): parsed with jansson, strictly, so
 * that a typo in a limit's name is an error and not a plan without it. */
#include "service/plans.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"

/* A plans file is a few KB; more is not a plans file. */
#define PLANS_FILE_MAX (1 << 20)

void plans_init_default(struct plans *plans) {
    memset(plans, 0, sizeof *plans);
    snprintf(plans->items[0].name, sizeof plans->items[0].name, PLAN_FREE);
    plans->count = 1;
    plans->payment_grace_days = 7;
    plans->priority_step_seconds = 60;
}

const struct plan *plans_find(const struct plans *plans, const char *name) {
    for (int i = 0; i < plans->count; i++)
        if (strcmp(plans->items[i].name, name) == 0) return &plans->items[i];
    return NULL;
}

const struct plan *plans_find_by_price(const struct plans *plans, const char *price_id) {
    if (!price_id || !price_id[0]) return NULL;
    for (int i = 0; i < plans->count; i++)
        for (int p = 0; p < plans->items[i].price_count; p++)
            if (strcmp(plans->items[i].stripe_prices[p], price_id) == 0) return &plans->items[i];
    return NULL;
}

const struct plan *plans_free(const struct plans *plans) {
    return plans_find(plans, PLAN_FREE);
}

int64_t plans_queue_rank(const struct plans *plans, int priority, int64_t created_at_ms) {
    if (priority < 0) priority = 0;
    if (priority > PLAN_PRIORITY_MAX) priority = PLAN_PRIORITY_MAX;
    return created_at_ms - (int64_t)priority * plans->priority_step_seconds * 1000;
}

static int name_valid(const char *name) {
    size_t len = strlen(name);
    if (len == 0 || len >= PLAN_NAME_SIZE) return 0;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return 0;
    return 1;
}

/* The numeric fields: name, where in struct plan, kind and range. */
enum field_kind { FIELD_INT, FIELD_INT64, FIELD_DOUBLE };
static const struct {
    const char *name;
    size_t offset;
    enum field_kind kind;
    double max;
} numbers[] = {
    {"jobs_per_day", offsetof(struct plan, jobs_per_day), FIELD_INT64, 1e9},
    {"minutes_per_month", offsetof(struct plan, minutes_per_month), FIELD_INT64, 1e9},
    {"max_width", offsetof(struct plan, max_width), FIELD_INT, 65535},
    {"max_height", offsetof(struct plan, max_height), FIELD_INT, 65535},
    {"max_duration_seconds", offsetof(struct plan, max_duration_seconds), FIELD_DOUBLE, 1e7},
    {"priority", offsetof(struct plan, priority), FIELD_INT, PLAN_PRIORITY_MAX},
    {"concurrent_jobs", offsetof(struct plan, concurrent_jobs), FIELD_INT, 1e6},
};
#define NUMBER_COUNT (sizeof numbers / sizeof numbers[0])

static int set_number(struct plan *plan, size_t i, double value, struct vsr_error *error) {
    if (!isfinite(value) || value < 0 || value > numbers[i].max ||
        (numbers[i].kind != FIELD_DOUBLE && value != floor(value)))
        return error_set(error, VSR_E_USAGE, "plan \"%s\": %s must be a %s from 0 to %g",
                         plan->name, numbers[i].name,
                         numbers[i].kind == FIELD_DOUBLE ? "number" : "whole number",
                         numbers[i].max);
    char *field = (char *)plan + numbers[i].offset;
    if (numbers[i].kind == FIELD_INT)
        *(int *)(void *)field = (int)value;
    else if (numbers[i].kind == FIELD_INT64)
        *(int64_t *)(void *)field = (int64_t)value;
    else
        *(double *)(void *)field = value;
    return VSR_OK;
}

static int add_price(struct plan *plan, const char *price, struct vsr_error *error) {
    if (!price[0] || strlen(price) >= PLAN_PRICE_SIZE)
        return error_set(error, VSR_E_USAGE,
                         "plan \"%s\": a Stripe price id is 1 to %d characters (price_...)",
                         plan->name, PLAN_PRICE_SIZE - 1);
    if (plan->price_count == PLAN_PRICES_MAX)
        return error_set(error, VSR_E_USAGE, "plan \"%s\": at most %d Stripe prices", plan->name,
                         PLAN_PRICES_MAX);
    snprintf(plan->stripe_prices[plan->price_count++], PLAN_PRICE_SIZE, "%s", price);
    return VSR_OK;
}

static int parse_plan(json_t *object, struct plan *plan, struct vsr_error *error) {
    memset(plan, 0, sizeof *plan);
    json_t *name = json_object_get(object, "name");
    if (!json_is_string(name) || !name_valid(json_string_value(name)))
        return error_set(error, VSR_E_USAGE,
                         "each plan needs a \"name\" of 1 to %d characters a-z, 0-9, _ or -",
                         PLAN_NAME_SIZE - 1);
    snprintf(plan->name, sizeof plan->name, "%s", json_string_value(name));
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value) {
        if (strcmp(key, "name") == 0) continue;
        if (strcmp(key, "stripe_prices") == 0) {
            if (!json_is_array(value))
                return error_set(error, VSR_E_USAGE,
                                 "plan \"%s\": stripe_prices must be a list of price ids",
                                 plan->name);
            size_t i;
            json_t *price;
            json_array_foreach(value, i, price) {
                if (!json_is_string(price))
                    return error_set(error, VSR_E_USAGE,
                                     "plan \"%s\": stripe_prices must be a list of price ids",
                                     plan->name);
                int rc = add_price(plan, json_string_value(price), error);
                if (rc != VSR_OK) return rc;
            }
            continue;
        }
        size_t i = 0;
        while (i < NUMBER_COUNT && strcmp(numbers[i].name, key) != 0)
            i++;
        if (i == NUMBER_COUNT)
            return error_set(error, VSR_E_USAGE,
                             "plan \"%s\": unknown field \"%.60s\" (known: jobs_per_day,"
                             " minutes_per_month, max_width, max_height, max_duration_seconds,"
                             " priority, concurrent_jobs, stripe_prices)",
                             plan->name, key);
        if (!json_is_number(value))
            return error_set(error, VSR_E_USAGE, "plan \"%s\": %s must be a number", plan->name,
                             key);
        int rc = set_number(plan, i, json_number_value(value), error);
        if (rc != VSR_OK) return rc;
    }
    return VSR_OK;
}

/* Names and prices are keys: each may appear once. */
static int check_unique(const struct plans *plans, struct vsr_error *error) {
    for (int i = 0; i < plans->count; i++) {
        const struct plan *a = &plans->items[i];
        for (int j = 0; j < i; j++)
            if (strcmp(plans->items[j].name, a->name) == 0)
                return error_set(error, VSR_E_USAGE, "plan \"%s\" is defined twice", a->name);
        for (int p = 0; p < a->price_count; p++) {
            const struct plan *owner = plans_find_by_price(plans, a->stripe_prices[p]);
            int first = 0;
            while (first < owner->price_count &&
                   strcmp(owner->stripe_prices[first], a->stripe_prices[p]) != 0)
                first++;
            if (owner != a || first != p)
                return error_set(error, VSR_E_USAGE,
                                 "Stripe price \"%s\" is listed twice (plans \"%s\" and \"%s\")",
                                 a->stripe_prices[p], owner->name, a->name);
        }
    }
    if (!plans_free(plans))
        return error_set(error, VSR_E_USAGE,
                         "the plans need one named \"free\": keys without a paid plan use it");
    return VSR_OK;
}

static int parse_root(json_t *root, struct plans *plans, struct vsr_error *error) {
    if (!json_is_object(root))
        return error_set(error, VSR_E_USAGE, "the plans file must hold a JSON object");
    json_t *list = json_object_get(root, "plans");
    if (!json_is_array(list) || json_array_size(list) == 0)
        return error_set(error, VSR_E_USAGE, "the plans file needs \"plans\": a list of plans");
    if (json_array_size(list) > PLANS_MAX)
        return error_set(error, VSR_E_USAGE, "at most %d plans", PLANS_MAX);
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        int *target = strcmp(key, "payment_grace_days") == 0      ? &plans->payment_grace_days
                      : strcmp(key, "priority_step_seconds") == 0 ? &plans->priority_step_seconds
                                                                  : NULL;
        if (strcmp(key, "plans") == 0) continue;
        if (!target)
            return error_set(error, VSR_E_USAGE,
                             "unknown field \"%.60s\" in the plans file (known: plans,"
                             " payment_grace_days, priority_step_seconds)",
                             key);
        /* Up to a year of grace, up to a day of head start per point. */
        double max = target == &plans->payment_grace_days ? 365 : 86400;
        if (!json_is_integer(value) || json_integer_value(value) < 0 ||
            json_integer_value(value) > max)
            return error_set(error, VSR_E_USAGE, "%s must be a whole number from 0 to %g", key,
                             max);
        *target = (int)json_integer_value(value);
    }
    size_t i;
    json_array_foreach(list, i, value) {
        if (!json_is_object(value))
            return error_set(error, VSR_E_USAGE, "each plan must be a JSON object");
        int rc = parse_plan(value, &plans->items[i], error);
        if (rc != VSR_OK) return rc;
        plans->count = (int)i + 1;
    }
    return check_unique(plans, error);
}

int plans_parse(const char *text, size_t len, struct plans *plans, struct vsr_error *error) {
    plans_init_default(plans);
    json_error_t json_error;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &json_error);
    if (!root)
        return error_set(error, VSR_E_USAGE, "the plans file is not JSON: line %d, column %d: %s",
                         json_error.line, json_error.column, json_error.text);
    struct plans parsed;
    plans_init_default(&parsed);
    parsed.count = 0;
    int rc = parse_root(root, &parsed, error);
    json_decref(root);
    if (rc == VSR_OK) *plans = parsed;
    return rc;
}

int plans_load(const char *path, struct plans *plans, struct vsr_error *error) {
    plans_init_default(plans);
    if (!path || !path[0]) return VSR_OK;
    FILE *file = fopen(path, "rb");
    if (!file) return error_set(error, VSR_E_USAGE, "plans file %s: %s", path, strerror(errno));
    char *text = malloc(PLANS_FILE_MAX);
    size_t len = text ? fread(text, 1, PLANS_FILE_MAX, file) : 0;
    int rc;
    if (!text)
        rc = error_set(error, VSR_E_NOMEM, "out of memory reading the plans file");
    else if (ferror(file) || len == PLANS_FILE_MAX)
        rc = error_set(error, VSR_E_USAGE, "plans file %s: unreadable or over 1 MB", path);
    else
        rc = plans_parse(text, len, plans, error);
    if (rc != VSR_OK && error->message[0] && strncmp(error->message, "plans file", 10) != 0) {
        char message[sizeof error->message];
        snprintf(message, sizeof message, "%s", error->message);
        error_set(error, rc, "plans file %.200s: %s", path, message);
    }
    free(text);
    fclose(file);
    return rc;
}

int plans_save(const char *path, const struct plans *plans, struct vsr_error *error) {
    char temp[4096];
    if (snprintf(temp, sizeof temp, "%s.tmp", path) >= (int)sizeof temp)
        return error_set(error, VSR_E_USAGE, "plans file path is too long");
    json_t *json = plans_to_json(plans);
    int rc = json && json_dump_file(json, temp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0
                 ? VSR_OK
                 : error_set(error, VSR_E_OUTPUT, "cannot write %s", temp);
    json_decref(json);
    if (rc == VSR_OK && rename(temp, path) != 0)
        rc = error_set(error, VSR_E_OUTPUT, "cannot replace %s: %s", path, strerror(errno));
    if (rc != VSR_OK) unlink(temp); /* a failed dump may have left half a file */
    return rc;
}

int plan_set_field(struct plan *plan, const char *field, const char *value,
                   struct vsr_error *error) {
    if (strcmp(field, "stripe_prices") == 0) {
        /* Into a copy: a refused list leaves the plan as it was. */
        struct plan changed = *plan;
        changed.price_count = 0;
        memset(changed.stripe_prices, 0, sizeof changed.stripe_prices);
        for (const char *p = value; *p;) {
            size_t len = strcspn(p, ",");
            char price[PLAN_PRICE_SIZE + 1];
            if (len > PLAN_PRICE_SIZE) len = PLAN_PRICE_SIZE; /* refused by add_price */
            snprintf(price, sizeof price, "%.*s", (int)len, p);
            int rc = add_price(&changed, price, error);
            if (rc != VSR_OK) return rc;
            p += strcspn(p, ",");
            if (*p == ',' && !*++p) return add_price(&changed, "", error); /* "a," */
        }
        *plan = changed;
        return VSR_OK;
    }
    for (size_t i = 0; i < NUMBER_COUNT; i++) {
        if (strcmp(numbers[i].name, field) != 0) continue;
        char *end = NULL;
        errno = 0;
        double number = strtod(value, &end);
        if (errno || end == value || *end)
            return error_set(error, VSR_E_USAGE, "%s: \"%.60s\" is not a number", field, value);
        return set_number(plan, i, number, error);
    }
    return error_set(error, VSR_E_USAGE,
                     "unknown plan field \"%.60s\" (known: jobs_per_day, minutes_per_month,"
                     " max_width, max_height, max_duration_seconds, priority, concurrent_jobs,"
                     " stripe_prices)",
                     field);
}

json_t *plan_to_json(const struct plan *plan) {
    json_t *prices = json_array();
    for (int p = 0; p < plan->price_count; p++)
        json_array_append_new(prices, json_string(plan->stripe_prices[p]));
    return json_pack("{s:s, s:I, s:I, s:i, s:i, s:f, s:i, s:i, s:o}", "name", plan->name,
                     "jobs_per_day", (json_int_t)plan->jobs_per_day, "minutes_per_month",
                     (json_int_t)plan->minutes_per_month, "max_width", plan->max_width,
                     "max_height", plan->max_height, "max_duration_seconds",
                     plan->max_duration_seconds, "priority", plan->priority, "concurrent_jobs",
                     plan->concurrent_jobs, "stripe_prices", prices);
}

json_t *plans_to_json(const struct plans *plans) {
    json_t *list = json_array();
    for (int i = 0; i < plans->count; i++)
        json_array_append_new(list, plan_to_json(&plans->items[i]));
    return json_pack("{s:i, s:i, s:o}", "payment_grace_days", plans->payment_grace_days,
                     "priority_step_seconds", plans->priority_step_seconds, "plans", list);
}
