/* maintenance.c: `vsr backup DIR`, `vsr restore DIR`, `vsr cleanup` and
 * `vsr cron daily`: operator commands on the service's database and files,
 * safe to run while `vsr serve` and `vsr worker` keep running (restore
 * excepted: it wants an empty target). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/service_run.h"
#include "service/backup.h"
#include "service/cleanup.h"
#include "service/daily.h"
#include "util/ids.h"

static const char backup_usage[] =
    "usage: vsr backup DIR [--with-files] [options]\n"
    "Writes a backup into the folder DIR while the service runs: the database (SQLite's\n"
    "online backup, or pg_dump -Fc from PATH for PostgreSQL), every stored file with\n"
    "--with-files (folder or S3), and DIR/manifest.json (written last) with the schema\n"
    "version, the counts of jobs, keys and uploads, the checksums and the vsr version.\n"
    "Check it with `vsr restore --verify DIR`. Options name the stores as for `vsr serve`:\n";

static const char restore_usage[] =
    "usage: vsr restore DIR [--force] [options]\n"
    "       vsr restore --verify DIR\n"
    "Restores the backup in DIR (see `vsr backup`) into the database and file store that\n"
    "the options name, as for `vsr serve`. Both must be empty unless --force. The backup is\n"
    "verified first, and a backup of an older schema is migrated. --verify only checks it:\n"
    "every checksum, the database opened and its counts against the manifest's.\n";

static const char cleanup_usage[] =
    "usage: vsr cleanup --dry-run|--execute [--orphan-minutes N] [options]\n"
    "--dry-run prints what --execute deletes, one line per file (KIND NAME BYTES), then a\n"
    "count and bytes per kind: results and inputs past --retention-hours, uploads no job\n"
    "used, stored files no row names (untouched for N minutes, default 15), rows whose\n"
    "files are gone (marked purged: they answer 410), and temporary files of crashed\n"
    "processes that no live job owns. --execute deletes what still qualifies when it runs;\n"
    "the rows stay. Without either flag it executes. Options as for `vsr serve`:\n";

static const char cron_usage[] =
    "usage: vsr cron daily [options]\n"
    "The daily maintenance run, as POST /api/v1/cron/daily: cleanup --execute, webhook\n"
    "deliveries older than 30 days pruned, those given up in the last day tried again;\n"
    "prints a JSON report. One run at a time across processes: a second one prints\n"
    "{\"ran\": false}. Options as for `vsr serve`:\n";

/* Takes the flags NAMES (each "--flag" or "--flag=" for one with a value)
 * out of ARGV in place; FOUND[i] is 1 (or the value) when given. Returns the
 * arguments left. */
static int take_flags(int argc, char **argv, const char *const *names, int count,
                      const char **found) {
    int left = 0;
    for (int i = 0; i < argc; i++) {
        int taken = 0;
        for (int n = 0; n < count && !taken; n++) {
            size_t len = strlen(names[n]);
            int has_value = names[n][len - 1] == '=';
            if (!has_value && strcmp(argv[i], names[n]) == 0) {
                found[n] = "1";
                taken = 1;
            } else if (has_value && strncmp(argv[i], names[n], len - 1) == 0) {
                if (argv[i][len - 1] == '=') {
                    found[n] = argv[i] + len;
                    taken = 1;
                } else if (argv[i][len - 1] == '\0' && i + 1 < argc) {
                    found[n] = argv[++i];
                    taken = 1;
                }
            }
        }
        if (!taken) argv[left++] = argv[i];
    }
    return left;
}

static const char *const cleanup_flags[] = {"data-dir",        "database", "storage",
                                            "retention-hours", "timezone", NULL};

/* Splits off the first argument that is not an option (or an option's
 * value); the others go to the service configuration. */
static const char *take_positional(int argc, char **argv, char **rest, int *rest_count) {
    const char *positional = NULL;
    *rest_count = 0;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-') {
            rest[(*rest_count)++] = argv[i];
            if (!strchr(argv[i], '=') && i + 1 < argc && strcmp(argv[i], "--help") != 0 &&
                strcmp(argv[i], "-h") != 0)
                rest[(*rest_count)++] = argv[++i];
        } else if (!positional) {
            positional = argv[i];
        } else {
            rest[(*rest_count)++] = argv[i]; /* config_apply_args names it */
        }
    }
    return positional;
}

static void print_summary(const char *verb, const struct backup_summary *s) {
    printf("%s %lld jobs, %lld keys, %lld uploads (schema %d), %lld files (%lld bytes)\n", verb,
           (long long)s->counts.jobs, (long long)s->counts.keys, (long long)s->counts.uploads,
           s->counts.schema_version, (long long)s->files, (long long)s->file_bytes);
}

int cli_backup(int argc, char **argv) {
    static const char *const names[] = {"--with-files"};
    const char *found[1] = {NULL};
    argc = take_flags(argc, argv, names, 1, found);
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) return cli_fail(VSR_E_NOMEM, "out of memory");
    int rest_count = 0, exit_code = 0;
    const char *out = take_positional(argc, argv, rest, &rest_count);
    struct service_config config;
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    struct backup_summary summary;
    if (service_configure(&config, rest_count, rest, backup_usage, service_store_flags,
                          &exit_code) != 0)
        goto done;
    if (!out) {
        exit_code = cli_fail(VSR_E_USAGE, "backup needs the folder to write, e.g. vsr backup"
                                          " /backups/vsr-2026-12-07; see --help");
        goto done;
    }
    int rc = service_open(&config, &store, &blob, &error);
    if (rc == VSR_OK)
        rc = backup_create(store, blob, out, found[0] != NULL, VSR_VERSION, &summary, &error);
    if (rc != VSR_OK) {
        exit_code = cli_fail(rc, "%s", error.message);
        goto done;
    }
    print_summary("backed up", &summary);
    printf("backup written to %s\n", out);
done:
    blob_close(blob);
    store_close(store);
    free(rest);
    return exit_code;
}

static const char *scratch_dir(void) {
    const char *tmp = getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}

int cli_restore(int argc, char **argv) {
    static const char *const names[] = {"--verify", "--force"};
    const char *found[2] = {NULL, NULL};
    argc = take_flags(argc, argv, names, 2, found);
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) return cli_fail(VSR_E_NOMEM, "out of memory");
    int rest_count = 0, exit_code = 0;
    const char *dir = take_positional(argc, argv, rest, &rest_count);
    struct service_config config;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    struct backup_summary summary;
    if (service_configure(&config, rest_count, rest, restore_usage, service_store_flags,
                          &exit_code) != 0)
        goto done;
    if (!dir) {
        exit_code = cli_fail(VSR_E_USAGE, "restore needs the backup's folder; see --help");
        goto done;
    }
    int rc;
    if (found[0]) {
        rc = backup_verify(dir, scratch_dir(), &summary, &error);
    } else {
        rc = blob_open(&blob, config.storage_url, &error);
        if (rc == VSR_OK)
            rc = backup_restore(dir, config.database_url, scratch_dir(), blob, found[1] != NULL,
                                &summary, &error);
    }
    if (rc != VSR_OK) {
        exit_code = cli_fail(rc, "%s", error.message);
        goto done;
    }
    print_summary(found[0] ? "verified: the backup holds" : "restored", &summary);
done:
    blob_close(blob);
    free(rest);
    return exit_code;
}

int cli_cleanup(int argc, char **argv) {
    static const char *const names[] = {"--dry-run", "--execute", "--orphan-minutes="};
    const char *found[3] = {NULL, NULL, NULL};
    argc = take_flags(argc, argv, names, 3, found);
    struct service_config config;
    int exit_code = 0;
    if (service_configure(&config, argc, argv, cleanup_usage, cleanup_flags, &exit_code) != 0)
        return exit_code;
    if (found[0] && found[1])
        return cli_fail(VSR_E_USAGE, "cleanup takes --dry-run or --execute, not both");
    char *end = NULL;
    double minutes = found[2] ? strtod(found[2], &end) : 15.0;
    if (found[2] && (end == found[2] || *end || minutes < 0))
        return cli_fail(VSR_E_USAGE, "--orphan-minutes takes a number of minutes, e.g. 15");
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    struct cleanup_plan plan = {0}, done = {0};
    struct cleanup_options options = {
        .now = ids_now_ms(),
        .retention_ms = (int64_t)(config.retention_hours * 3600.0 * 1000.0),
        .orphan_age_ms = (int64_t)(minutes * 60.0 * 1000.0),
    };
    int rc = service_open(&config, &store, &blob, &error);
    if (rc == VSR_OK) rc = cleanup_plan_make(&config, store, blob, &options, &plan, &error);
    if (rc == VSR_OK && !found[0])
        rc = cleanup_execute(&config, store, blob, &options, &plan, &done, &error);
    if (rc != VSR_OK) {
        exit_code = cli_fail(rc, "%s", error.message);
    } else {
        const struct cleanup_plan *shown = found[0] ? &plan : &done;
        cleanup_plan_print(shown, stdout);
        int64_t files = 0;
        for (int k = 0; k < CLEANUP_KIND_COUNT; k++)
            if (k != CLEANUP_MISSING_FILE) files += shown->counts[k];
        printf("%s %lld files, marked %lld rows whose files are gone\n",
               found[0] ? "would delete" : "deleted", (long long)files,
               (long long)shown->counts[CLEANUP_MISSING_FILE]);
    }
    cleanup_plan_free(&plan);
    cleanup_plan_free(&done);
    blob_close(blob);
    store_close(store);
    return exit_code;
}

int cli_cron(int argc, char **argv) {
    if (argc < 1 || strcmp(argv[0], "daily") != 0) {
        if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
            fputs(cron_usage, stdout);
            return 0;
        }
        return cli_fail(VSR_E_USAGE, "cron knows one run: vsr cron daily; see --help");
    }
    struct service_config config;
    int exit_code = 0;
    if (service_configure(&config, argc - 1, argv + 1, cron_usage, cleanup_flags, &exit_code) != 0)
        return exit_code;
    struct store *store = NULL;
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    json_t *report = NULL;
    int rc = service_open(&config, &store, &blob, &error);
    if (rc == VSR_OK) rc = daily_run(&config, store, blob, &report, &error);
    if (rc < 0) {
        exit_code = cli_fail(rc, "%s", error.message);
    } else {
        if (rc == 0)
            report = json_pack("{s:b, s:s}", "ran", 0, "reason",
                               "another daily run is under way; it does the same work");
        char *text = report ? json_dumps(report, JSON_COMPACT) : NULL;
        if (text) printf("%s\n", text);
        free(text);
    }
    json_decref(report);
    blob_close(blob);
    store_close(store);
    return exit_code;
}
