/* fuzz_plans.c: libFuzzer target for the plans file's parser (VSR_PLANS_FILE).
 * An accepted file must hold "free", keep every field in range, and read
 * back the same from the JSON that `vsr plans set` would write. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "service/plans.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct plans plans, again;
    struct vsr_error error = {0};
    if (plans_parse((const char *)data, size, &plans, &error) != VSR_OK) {
        if (!error.message[0] || plans.count != 1) __builtin_trap(); /* refusals say why */
        return 0;
    }
    if (!plans_free(&plans) || plans.count < 1 || plans.count > PLANS_MAX) __builtin_trap();
    for (int i = 0; i < plans.count; i++) {
        const struct plan *plan = &plans.items[i];
        if (plan->priority < 0 || plan->priority > PLAN_PRIORITY_MAX || plan->jobs_per_day < 0 ||
            plan->price_count < 0 || plan->price_count > PLAN_PRICES_MAX)
            __builtin_trap();
        for (int p = 0; p < plan->price_count; p++)
            if (plans_find_by_price(&plans, plan->stripe_prices[p]) != plan) __builtin_trap();
    }
    json_t *json = plans_to_json(&plans);
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    if (!text) __builtin_trap();
    if (plans_parse(text, strlen(text), &again, &error) != VSR_OK ||
        memcmp(&plans, &again, sizeof plans) != 0)
        __builtin_trap();
    free(text);
    json_decref(json);
    return 0;
}
