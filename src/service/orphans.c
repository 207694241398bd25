/* orphans.c: deleting what crashed processes left behind (see orphans.h). */
#include "service/orphans.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The job id a work file is named after ("job_" and hex digits, after an
 * optional '.' of the encoder's temp names); 0 when NAME is not ours. */
static int job_id_of(const char *name, char *id, size_t size) {
    if (name[0] == '.') name++;
    if (strncmp(name, "job_", 4) != 0) return 0;
    size_t hex = strspn(name + 4, "0123456789abcdef");
    if (hex == 0 || 4 + hex >= size) return 0;
    snprintf(id, size, "%.*s", (int)(4 + hex), name);
    return 1;
}

static int64_t modified_ms(const struct stat *st) {
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

/* What a sweep reports to and whether it deletes (orphans_find). */
struct finder {
    int dry_run;
    blob_list_fn fn;
    void *opaque;
};

/* Non-zero when the finder's callback keeps the file. */
static int report(const struct finder *f, const char *prefix, const char *name,
                  const struct stat *st) {
    char shown[1200];
    snprintf(shown, sizeof shown, "%s%.1000s", prefix, name);
    return f->fn ? f->fn(f->opaque, shown, (int64_t)st->st_size, 0) : 0;
}

/* Whether the file NAME of DIR is a work file no live job owns. */
static int is_orphan(struct store *store, int dir, const char *name, int64_t now, struct stat *out,
                     struct vsr_error *error) {
    char id[STORE_ID_SIZE];
    struct stat st;
    if (!job_id_of(name, id, sizeof id)) return 0;
    struct job job;
    int found = store_job_get(store, NULL, id, &job, error);
    if (found < 0) return found;
    if (found && job.state == JOB_PROCESSING && job.lease_expires_at > now) return 0;
    /* Looked at after the lease, so that a file a new claim just (re)wrote
     * shows its fresh time here. */
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return 0;
    *out = st;
    return modified_ms(&st) < now - ORPHAN_WORK_AGE_MS;
}

static int sweep_work(const struct service_config *config, struct store *store, int64_t now,
                      const struct finder *f, int *removed, struct vsr_error *error) {
    char path[1100];
    snprintf(path, sizeof path, "%.1000s/work", config->data_dir);
    DIR *d = opendir(path);
    if (!d) return VSR_OK; /* no worker ever ran here */
    int rc = VSR_OK;
    struct dirent *e;
    while (rc == VSR_OK && (e = readdir(d)) != NULL) {
        struct stat st;
        int orphan = is_orphan(store, dirfd(d), e->d_name, now, &st, error);
        if (orphan < 0) {
            rc = orphan;
        } else if (orphan) {
            if (report(f, "work/", e->d_name, &st) != 0) continue;
            if (f->dry_run || unlinkat(dirfd(d), e->d_name, 0) == 0) {
                (*removed)++;
            } else if (errno != ENOENT) {
                error->code = rc = VSR_E_OUTPUT;
                snprintf(error->message, sizeof error->message, "cannot delete %.300s/%.100s: %s",
                         path, e->d_name, strerror(errno));
            }
        }
    }
    closedir(d);
    return rc;
}

/* The API's copies of uploads it probes on object storage (http/api.c,
 * DATA_DIR/probe-NAME-XXXXXX): a probe takes seconds, so one untouched for
 * ORPHAN_PART_AGE_MS belongs to no live request. */
static void sweep_probes(const struct service_config *config, int64_t now, const struct finder *f,
                         int *removed) {
    DIR *d = opendir(config->data_dir);
    if (!d) return;
    struct dirent *e;
    struct stat st;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "probe-", 6) == 0 &&
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            modified_ms(&st) < now - ORPHAN_PART_AGE_MS) {
            if (report(f, "", e->d_name, &st) == 0 &&
                (f->dry_run || unlinkat(dirfd(d), e->d_name, 0) == 0))
                (*removed)++;
        }
    closedir(d);
}

/* The file store's temporaries, shown as "storage:KEY". */
static int report_blob_temp(void *opaque, const char *key, int64_t size, int64_t modified) {
    const struct finder *f = opaque;
    char shown[1200];
    snprintf(shown, sizeof shown, "storage:%.1000s", key);
    return f->fn ? f->fn(f->opaque, shown, size, modified) : 0;
}

int orphans_find(const struct service_config *config, struct store *store, struct blob *blob,
                 int64_t now, int dry_run, blob_list_fn fn, void *opaque, int *count,
                 struct vsr_error *error) {
    int in_blob = 0, in_work = 0, probes = 0;
    struct finder f = {dry_run, fn, opaque};
    int rc = blob_find_abandoned(blob, now - ORPHAN_PART_AGE_MS, dry_run, report_blob_temp, &f,
                                 &in_blob, error);
    if (rc == VSR_OK) rc = sweep_work(config, store, now, &f, &in_work, error);
    if (rc == VSR_OK) sweep_probes(config, now, &f, &probes);
    *count = in_blob + in_work + probes;
    return rc;
}

int orphans_sweep(const struct service_config *config, struct store *store, struct blob *blob,
                  int64_t now, int *removed, struct vsr_error *error) {
    return orphans_find(config, store, blob, now, 0, NULL, NULL, removed, error);
}
