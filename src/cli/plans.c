/* plans.c: `vsr plans list|show|set|remove`: the plans file named by
 * --plans or VSR_PLANS_FILE. set and remove rewrite the file (atomically);
 * running servers read it when they start, so restart them to apply. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "service/config.h"

extern char **environ;

static const char usage[] =
    "usage: vsr plans list [--plans FILE]\n"
    "       vsr plans show NAME [--plans FILE]\n"
    "       vsr plans set NAME FIELD=VALUE... [--plans FILE]\n"
    "       vsr plans remove NAME [--plans FILE]\n"
    "The plans file is JSON (README, \"Plans and billing\"); without one there is a\n"
    "single plan, free, with no limits. set adds the plan NAME or changes its fields,\n"
    "creating the file if needed; restart `vsr serve` and `vsr worker` to apply.\n"
    "Fields (0: no limit):\n"
    "  jobs_per_day=N  minutes_per_month=N  max_width=N  max_height=N\n"
    "  max_duration_seconds=S  concurrent_jobs=N\n"
    "  priority=N             0..1000; each point is priority_step_seconds of queue head start\n"
    "  stripe_prices=A,B      the Stripe price ids that buy the plan\n"
    "  --plans FILE           VSR_PLANS_FILE; the file to read and write; default none\n"
    "A new plan's fields default to 0; the file's payment_grace_days (default 7) and\n"
    "priority_step_seconds (default 60) are set in the file itself.\n";

static void print_limit(double value, const char *unit) {
    if (value > 0)
        printf(" %10g%s", value, unit);
    else
        printf(" %10s%s", "-", unit[0] ? " " : "");
}

static int plans_list(const struct plans *plans) {
    printf("%-12s %10s %11s %11s %13s %8s %10s  %s\n", "NAME", "JOBS/DAY", "MIN/MONTH", "MAX SIZE",
           "MAX DURATION", "PRIORITY", "CONCURRENT", "STRIPE PRICES");
    for (int i = 0; i < plans->count; i++) {
        const struct plan *plan = &plans->items[i];
        char size[32] = "-";
        if (plan->max_width || plan->max_height)
            snprintf(size, sizeof size, "%dx%d", plan->max_width, plan->max_height);
        printf("%-12s", plan->name);
        print_limit((double)plan->jobs_per_day, "");
        print_limit((double)plan->minutes_per_month, " ");
        printf(" %11s", size);
        print_limit(plan->max_duration_seconds, "s  ");
        printf(" %8d", plan->priority);
        print_limit(plan->concurrent_jobs, " ");
        for (int p = 0; p < plan->price_count; p++)
            printf("%s%s", p ? "," : " ", plan->stripe_prices[p]);
        printf("\n");
    }
    printf("payment grace: %d days; priority step: %d s\n", plans->payment_grace_days,
           plans->priority_step_seconds);
    return 0;
}

static int plans_show(const struct plans *plans, const char *name) {
    const struct plan *plan = name ? plans_find(plans, name) : NULL;
    if (!plan) return cli_fail(VSR_E_USAGE, "no plan named '%s'; see vsr plans list", name);
    json_t *json = plan_to_json(plan);
    char *text = json ? json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(json);
    if (!text) return cli_fail(VSR_E_NOMEM, "out of memory");
    printf("%s\n", text);
    free(text);
    return 0;
}

/* Applies NAME's FIELD=VALUE pairs, then checks the whole file as a load
 * would, so that set never writes a file the server refuses. */
static int plans_set(struct plans *plans, const char *path, const char *name, int argc,
                     char **argv) {
    struct vsr_error error = {0};
    if (!path[0]) return cli_fail(VSR_E_USAGE, "plans set needs --plans FILE or VSR_PLANS_FILE");
    if (!name) return cli_fail(VSR_E_USAGE, "plans set needs a plan name");
    struct plan *plan = (struct plan *)plans_find(plans, name);
    if (!plan) {
        if (plans->count == PLANS_MAX) return cli_fail(VSR_E_USAGE, "at most %d plans", PLANS_MAX);
        plan = &plans->items[plans->count++];
        memset(plan, 0, sizeof *plan);
        if (strlen(name) >= sizeof plan->name)
            return cli_fail(VSR_E_USAGE, "plan name '%s' is too long", name);
        snprintf(plan->name, sizeof plan->name, "%s", name);
    }
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return cli_fail(VSR_E_USAGE, "'%s': fields are FIELD=VALUE; see --help", argv[i]);
        *eq = '\0';
        int rc = plan_set_field(plan, argv[i], eq + 1, &error);
        *eq = '=';
        if (rc != VSR_OK) return cli_fail(rc, "%s", error.message);
    }
    json_t *json = plans_to_json(plans);
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (!text) return cli_fail(VSR_E_NOMEM, "out of memory");
    struct plans checked;
    int rc = plans_parse(text, strlen(text), &checked, &error);
    free(text);
    if (rc == VSR_OK) rc = plans_save(path, &checked, &error);
    if (rc != VSR_OK) return cli_fail(rc, "%s", error.message);
    printf("plan %s saved in %s; restart the service to apply\n", name, path);
    return 0;
}

static int plans_remove(struct plans *plans, const char *path, const char *name) {
    struct vsr_error error = {0};
    if (!path[0]) return cli_fail(VSR_E_USAGE, "plans remove needs --plans FILE or VSR_PLANS_FILE");
    if (name && strcmp(name, PLAN_FREE) == 0)
        return cli_fail(VSR_E_USAGE, "the plan free cannot be removed: keys without a paid plan"
                                     " use it");
    const struct plan *plan = name ? plans_find(plans, name) : NULL;
    if (!plan) return cli_fail(VSR_E_USAGE, "no plan named '%s'; see vsr plans list", name);
    int index = (int)(plan - plans->items);
    memmove(&plans->items[index], &plans->items[index + 1],
            (size_t)(plans->count - index - 1) * sizeof plans->items[0]);
    plans->count--;
    int rc = plans_save(path, plans, &error);
    if (rc != VSR_OK) return cli_fail(rc, "%s", error.message);
    printf("plan %s removed from %s; accounts on it get free's limits\n", name, path);
    return 0;
}

int cli_plans(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
    if (argc < 1) return cli_fail(VSR_E_USAGE, "plans needs list, show, set or remove; see --help");
    const char *action = argv[0];
    /* --plans is service configuration; the rest is the action's. */
    char *flags[2] = {0};
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) return cli_fail(VSR_E_NOMEM, "out of memory");
    int flag_count = 0, rest_count = 0, exit_code = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--plans") == 0 && i + 1 < argc) {
            flags[0] = argv[i];
            flags[1] = argv[++i];
            flag_count = 2;
        } else if (strncmp(argv[i], "--plans=", 8) == 0) {
            flags[0] = argv[i];
            flag_count = 1;
        } else {
            rest[rest_count++] = argv[i];
        }
    }
    struct service_config config;
    struct plans plans;
    struct vsr_error error = {0};
    config_init(&config);
    int rc = config_apply_env(&config, environ, &error);
    if (rc == VSR_OK) rc = config_apply_args(&config, flag_count, flags, &error);
    /* set may create the file. */
    int creating = strcmp(action, "set") == 0 && config.plans_file[0] &&
                   access(config.plans_file, F_OK) != 0 && errno == ENOENT;
    if (rc == VSR_OK && !creating) rc = plans_load(config.plans_file, &plans, &error);
    if (creating) plans_init_default(&plans);
    if (rc != VSR_OK) {
        exit_code = cli_fail(rc, "%s", error.message);
        goto done;
    }
    const char *name = rest_count > 0 ? rest[0] : NULL;
    if (strcmp(action, "list") == 0 && rest_count == 0)
        exit_code = plans_list(&plans);
    else if (strcmp(action, "show") == 0 && rest_count == 1)
        exit_code = plans_show(&plans, name);
    else if (strcmp(action, "set") == 0 && rest_count >= 2)
        exit_code = plans_set(&plans, config.plans_file, name, rest_count - 1, rest + 1);
    else if (strcmp(action, "remove") == 0 && rest_count == 1)
        exit_code = plans_remove(&plans, config.plans_file, name);
    else
        exit_code = cli_fail(VSR_E_USAGE, "usage: vsr plans list|show NAME|set NAME FIELD=VALUE..."
                                          "|remove NAME; see --help");
done:
    free(rest);
    return exit_code;
}
