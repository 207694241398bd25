/* keys.c: `vsr keys create|list|revoke`: API keys in the service's database.
 * A new key's token is printed once; the database keeps only its SHA-256. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/service_run.h"

static const char usage[] =
    "usage: vsr keys create --name NAME [--jobs-per-day N] [--minutes-per-month N]\n"
    "                       [--rate R/s] [--admin] [options]\n"
    "       vsr keys list [options]\n"
    "       vsr keys revoke ID|NAME [options]\n"
    "create prints a new key's token (shown once); revoke takes a key's id, or a name\n"
    "that only one active key has.\n"
    "  --name NAME              the key's name (create); required\n"
    "  --jobs-per-day N         jobs a day (create); default 0 (unlimited)\n"
    "  --minutes-per-month N    minutes of video a month (create); default 0 (unlimited)\n"
    "  --rate R/s               requests a second, or R/m, R/h (create); default 0 (unlimited)\n"
    "  --admin                  may see every key's jobs and the metrics (create); default off\n"
    "Options that name the database, as for `vsr serve`:\n";

/* "5", "5/s" or "300/m" as requests per second. */
static int parse_rate(const char *text, double *rate) {
    char *end;
    double value = strtod(text, &end);
    if (end == text || value < 0) return -1;
    if (*end == '\0' || strcmp(end, "/s") == 0)
        *rate = value;
    else if (strcmp(end, "/m") == 0)
        *rate = value / 60.0;
    else if (strcmp(end, "/h") == 0)
        *rate = value / 3600.0;
    else
        return -1;
    return 0;
}

static int parse_count(const char *text, int64_t *out) {
    char *end;
    long long value = strtoll(text, &end, 10);
    if (end == text || *end || value < 0) return -1;
    *out = value;
    return 0;
}

static int keys_create(struct store *store, struct api_key *key) {
    char token[80];
    struct vsr_error error = {0};
    if (!key->name[0]) return cli_fail(VSR_E_USAGE, "keys create needs --name NAME");
    int rc = store_key_create(store, key, token, sizeof token, &error);
    if (rc != VSR_OK) return cli_fail(rc, "%s", error.message);
    printf("id: %s\nname: %s\ntoken: %s\nwebhook_secret: %s\n", key->id, key->name, token,
           key->webhook_secret);
    fprintf(stderr, "vsr: keep the token now: it is not stored and cannot be shown again;"
                    " verify webhooks with the webhook_secret (Standard Webhooks)\n");
    return 0;
}

static void print_limit(int64_t value) {
    if (value > 0)
        printf(" %-8lld", (long long)value);
    else
        printf(" %-8s", "-");
}

static int keys_list(struct store *store) {
    struct api_key *keys = NULL;
    int count = 0;
    struct vsr_error error = {0};
    int rc = store_key_list(store, &keys, &count, &error);
    if (rc != VSR_OK) return cli_fail(rc, "%s", error.message);
    printf("%-22s %-20s %-13s %-6s %-8s %-8s %-8s %s\n", "ID", "NAME", "PREFIX", "ROLE", "JOBS/D",
           "MIN/MO", "RATE/S", "STATUS");
    for (int i = 0; i < count; i++) {
        printf("%-22s %-20s %-13s %-6s", keys[i].id, keys[i].name, keys[i].prefix,
               keys[i].admin ? "admin" : "user");
        print_limit(keys[i].jobs_per_day);
        print_limit(keys[i].minutes_per_month);
        if (keys[i].rate_per_second > 0)
            printf(" %-8g", keys[i].rate_per_second);
        else
            printf(" %-8s", "-");
        printf(" %s\n", keys[i].revoked_at ? "revoked" : "active");
    }
    free(keys);
    return 0;
}

/* Revokes the key with id WHICH, or the one active key named WHICH: a name
 * that several active keys share is refused, with their ids, rather than
 * revoking them all. */
static int keys_revoke(struct store *store, const char *which) {
    struct vsr_error error = {0};
    if (!which) return cli_fail(VSR_E_USAGE, "keys revoke needs a key id or name");
    struct api_key *keys = NULL;
    int count = 0;
    int rc = store_key_list(store, &keys, &count, &error);
    if (rc != VSR_OK) return cli_fail(rc, "%s", error.message);
    int by_id = 0, named = 0;
    char ids[1024] = "";
    for (int i = 0; i < count; i++) {
        if (keys[i].revoked_at) continue;
        if (strcmp(keys[i].id, which) == 0) by_id = 1;
        if (strcmp(keys[i].name, which) == 0) {
            size_t used = strlen(ids);
            snprintf(ids + used, sizeof ids - used, "%s%s", named ? ", " : "", keys[i].id);
            named++;
        }
    }
    free(keys);
    if (!by_id && named > 1)
        return cli_fail(VSR_E_USAGE,
                        "%d active keys are named '%s' (%s): revoke one by its id (see vsr keys "
                        "list)",
                        named, which, ids);
    const char *target = !by_id && named == 1 ? ids : which;
    rc = store_key_revoke(store, target, &error);
    if (rc < 0) return cli_fail(rc, "%s", error.message);
    if (rc == 0) return cli_fail(VSR_E_USAGE, "no active key with id or name '%s'", which);
    printf("revoked %s\n", target);
    return 0;
}

int cli_keys(int argc, char **argv) {
    if (argc < 1) return cli_fail(VSR_E_USAGE, "keys needs create, list or revoke; see --help");
    const char *action = argv[0];
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            config_print_help(stdout, service_store_flags);
            return 0;
        }
    struct api_key key = {0};
    const char *target = NULL;
    /* Key flags are taken here; everything else is service configuration. */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) return cli_fail(VSR_E_NOMEM, "out of memory");
    int rest_count = 0, exit_code = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(arg, "--name") == 0 && value) {
            snprintf(key.name, sizeof key.name, "%s", value);
            i++;
        } else if (strcmp(arg, "--jobs-per-day") == 0 && value) {
            bad = parse_count(value, &key.jobs_per_day);
            i++;
        } else if (strcmp(arg, "--minutes-per-month") == 0 && value) {
            bad = parse_count(value, &key.minutes_per_month);
            i++;
        } else if (strcmp(arg, "--rate") == 0 && value) {
            bad = parse_rate(value, &key.rate_per_second);
            i++;
        } else if (strcmp(arg, "--admin") == 0) {
            key.admin = 1;
        } else if (strcmp(action, "revoke") == 0 && !target && arg[0] != '-') {
            target = arg;
        } else {
            rest[rest_count++] = argv[i];
        }
        if (bad) {
            free(rest);
            return cli_fail(VSR_E_USAGE, "%s: bad value '%s'", arg, value);
        }
    }
    struct service_config config;
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    if (service_configure(&config, rest_count, rest, usage, service_store_flags, &exit_code) != 0)
        goto done;
    int rc = service_open(&config, &store, &blob, &error);
    if (rc != VSR_OK) {
        exit_code = cli_fail(rc, "%s", error.message);
        goto done;
    }
    if (strcmp(action, "create") == 0)
        exit_code = keys_create(store, &key);
    else if (strcmp(action, "list") == 0)
        exit_code = keys_list(store);
    else if (strcmp(action, "revoke") == 0)
        exit_code = keys_revoke(store, target);
    else
        exit_code =
            cli_fail(VSR_E_USAGE, "unknown keys action '%s'; use create, list or revoke", action);
done:
    blob_close(blob);
    store_close(store);
    free(rest);
    return exit_code;
}
