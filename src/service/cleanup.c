/* cleanup.c: what `vsr cleanup` may delete, and deleting it (see cleanup.h). */
#include "service/cleanup.h"

#include <stdlib.h>
#include <string.h>

#include "service/orphans.h"
#include "service/retention.h"

static const char *const kind_names[CLEANUP_KIND_COUNT] = {
    "expired_result", "expired_input", "unused_upload", "orphan_file", "missing_file", "temp_file",
};

const char *cleanup_kind_name(enum cleanup_kind kind) {
    return kind < CLEANUP_KIND_COUNT ? kind_names[kind] : "?";
}

static int nomem(struct vsr_error *error) {
    error->code = VSR_E_NOMEM;
    snprintf(error->message, sizeof error->message, "out of memory");
    return VSR_E_NOMEM;
}

static int add(struct cleanup_plan *plan, enum cleanup_kind kind, const char *name, int64_t bytes,
               const struct expired_file *row) {
    if (plan->count == plan->capacity) {
        int capacity = plan->capacity ? plan->capacity * 2 : 64;
        struct cleanup_item *grown = realloc(plan->items, (size_t)capacity * sizeof *grown);
        if (!grown) return -1;
        plan->items = grown;
        plan->capacity = capacity;
    }
    struct cleanup_item *item = &plan->items[plan->count++];
    memset(item, 0, sizeof *item);
    item->kind = kind;
    snprintf(item->name, sizeof item->name, "%s", name);
    item->bytes = bytes;
    if (row) item->row = *row;
    plan->counts[kind]++;
    plan->bytes[kind] += bytes;
    return 0;
}

static int has(const struct cleanup_plan *plan, enum cleanup_kind kind, const char *name) {
    for (int i = 0; i < plan->count; i++)
        if (plan->items[i].kind == kind && strcmp(plan->items[i].name, name) == 0) return 1;
    return 0;
}

/* ---- the listing and the rows, sorted by key for lookups --------------- */

struct listed {
    char key[STORE_NAME_SIZE];
    int64_t size, modified_ms;
};

struct listing {
    struct listed *files;
    int count, capacity;
    int failed;
};

static int list_one(void *opaque, const char *key, int64_t size, int64_t modified_ms) {
    struct listing *l = opaque;
    if (strlen(key) >= STORE_NAME_SIZE) return 0; /* no row can name it; not ours */
    if (l->count == l->capacity) {
        int capacity = l->capacity ? l->capacity * 2 : 256;
        struct listed *grown = realloc(l->files, (size_t)capacity * sizeof *grown);
        if (!grown) {
            l->failed = 1;
            return 1;
        }
        l->files = grown;
        l->capacity = capacity;
    }
    struct listed *f = &l->files[l->count++];
    snprintf(f->key, sizeof f->key, "%s", key);
    f->size = size;
    f->modified_ms = modified_ms;
    return 0;
}

static int by_key(const void *a, const void *b) {
    return strcmp(((const struct listed *)a)->key, ((const struct listed *)b)->key);
}

static int by_blob(const void *a, const void *b) {
    return strcmp(((const struct file_row *)a)->blob, ((const struct file_row *)b)->blob);
}

static const struct listed *find_listed(const struct listing *l, const char *key) {
    struct listed probe = {0};
    snprintf(probe.key, sizeof probe.key, "%s", key);
    return l->count ? bsearch(&probe, l->files, (size_t)l->count, sizeof *l->files, by_key) : NULL;
}

static const struct file_row *find_row(const struct file_row *rows, int count, const char *blob) {
    struct file_row probe = {0};
    snprintf(probe.blob, sizeof probe.blob, "%s", blob);
    return count ? bsearch(&probe, rows, (size_t)count, sizeof *rows, by_blob) : NULL;
}

/* 1 when KEY ("results/job_ID.mp4") is a job's that a worker holds a live
 * lease on: its result may be in storage just before the row names it. */
static int leased(struct store *store, const char *key, int64_t now, struct vsr_error *error) {
    const char *base = strrchr(key, '/');
    base = base ? base + 1 : key;
    if (strncmp(base, "job_", 4) != 0) return 0;
    char id[STORE_ID_SIZE];
    size_t hex = strspn(base + 4, "0123456789abcdef");
    if (hex == 0 || 4 + hex >= sizeof id) return 0;
    snprintf(id, sizeof id, "%.*s", (int)(4 + hex), base);
    struct job job;
    int found = store_job_get(store, NULL, id, &job, error);
    if (found < 0) return found;
    return found && job.state == JOB_PROCESSING && job.lease_expires_at > now;
}

struct temp_collect {
    struct cleanup_plan *plan;
    const struct cleanup_plan *filter; /* execute: keep what it does not list */
    int failed;
};

static int collect_temp(void *opaque, const char *name, int64_t size, int64_t modified_ms) {
    struct temp_collect *c = opaque;
    if (c->filter && !has(c->filter, CLEANUP_TEMP_FILE, name)) return 1;
    if (add(c->plan, CLEANUP_TEMP_FILE, name, size, NULL) != 0) c->failed = 1;
    return 0;
}

static int expired_rows(struct store *store, const struct cleanup_options *o,
                        struct expired_file **out, int *count, struct vsr_error *error) {
    /* store_expired_files pages by what is not yet purged: ask for all at
     * once, growing until fewer come back than asked for. */
    for (int capacity = 1024;; capacity *= 4) {
        struct expired_file *files = malloc((size_t)capacity * sizeof *files);
        if (!files) return nomem(error);
        int rc =
            store_expired_files(store, o->now - o->retention_ms, o->now - RETENTION_UNUSED_GRACE_MS,
                                files, capacity, count, error);
        if (rc != VSR_OK || *count < capacity) {
            *out = files;
            if (rc != VSR_OK) free(files);
            return rc;
        }
        free(files);
    }
}

int cleanup_plan_make(const struct service_config *config, struct store *store, struct blob *blob,
                      const struct cleanup_options *o, struct cleanup_plan *plan,
                      struct vsr_error *error) {
    memset(plan, 0, sizeof *plan);
    struct file_row *rows = NULL;
    struct expired_file *expired = NULL;
    struct listing listing = {0};
    int row_count = 0, expired_count = 0;
    /* Rows before the listing: a file stored after the rows were read is at
     * worst taken for an orphan (and is too young to be one), while the
     * other order could take a new upload's row for one whose file is gone. */
    int rc = store_file_rows(store, &rows, &row_count, error);
    if (rc == VSR_OK) rc = blob_list(blob, list_one, &listing, error);
    if (rc == VSR_OK && listing.failed) rc = nomem(error);
    if (rc == VSR_OK && o->retention_ms > 0)
        rc = expired_rows(store, o, &expired, &expired_count, error);
    if (rc != VSR_OK) goto done;
    if (listing.count) qsort(listing.files, (size_t)listing.count, sizeof *listing.files, by_key);
    if (row_count) qsort(rows, (size_t)row_count, sizeof *rows, by_blob);
    int failed = 0;
    for (int i = 0; i < expired_count; i++) {
        const struct expired_file *e = &expired[i];
        const struct listed *f = find_listed(&listing, e->blob);
        enum cleanup_kind kind = CLEANUP_EXPIRED_RESULT;
        if (e->is_upload) {
            /* An upload some job took as its input, or one nobody used. */
            int used = 0;
            for (int r = 0; r < row_count && !used; r++)
                used = !rows[r].is_upload && strcmp(rows[r].blob, e->blob) == 0;
            kind = used ? CLEANUP_EXPIRED_INPUT : CLEANUP_UNUSED_UPLOAD;
        }
        failed |= add(plan, kind, e->blob, f ? f->size : 0, e);
    }
    for (int i = 0; i < listing.count; i++) {
        const struct listed *f = &listing.files[i];
        if (find_row(rows, row_count, f->key) || f->modified_ms >= o->now - o->orphan_age_ms)
            continue;
        int live = leased(store, f->key, o->now, error);
        if (live < 0) {
            rc = live;
            goto done;
        }
        if (!live) failed |= add(plan, CLEANUP_ORPHAN_FILE, f->key, f->size, NULL);
    }
    for (int i = 0; i < row_count; i++) {
        const struct file_row *r = &rows[i];
        if (!r->must_exist || find_listed(&listing, r->blob)) continue;
        if (has(plan, CLEANUP_EXPIRED_RESULT, r->blob) ||
            has(plan, CLEANUP_EXPIRED_INPUT, r->blob) || has(plan, CLEANUP_UNUSED_UPLOAD, r->blob))
            continue;
        struct expired_file row = {.is_upload = r->is_upload};
        snprintf(row.owner_id, sizeof row.owner_id, "%s", r->owner_id);
        snprintf(row.blob, sizeof row.blob, "%s", r->blob);
        failed |= add(plan, CLEANUP_MISSING_FILE, r->blob, 0, &row);
    }
    struct temp_collect temps = {.plan = plan};
    int temp_count = 0;
    rc = orphans_find(config, store, blob, o->now, 1, collect_temp, &temps, &temp_count, error);
    if (rc == VSR_OK && (failed || temps.failed)) rc = nomem(error);
done:
    free(rows);
    free(expired);
    free(listing.files);
    if (rc != VSR_OK) cleanup_plan_free(plan);
    return rc;
}

int cleanup_execute(const struct service_config *config, struct store *store, struct blob *blob,
                    const struct cleanup_options *options, const struct cleanup_plan *plan,
                    struct cleanup_plan *done, struct vsr_error *error) {
    memset(done, 0, sizeof *done);
    /* Looked at again: only what qualifies both then and now goes. */
    struct cleanup_plan now;
    int rc = cleanup_plan_make(config, store, blob, options, &now, error);
    if (rc != VSR_OK) return rc;
    for (int i = 0; rc == VSR_OK && i < now.count; i++) {
        const struct cleanup_item *item = &now.items[i];
        if (item->kind == CLEANUP_TEMP_FILE || !has(plan, item->kind, item->name)) continue;
        if (item->kind == CLEANUP_ORPHAN_FILE) {
            /* A claim since the listing makes a job's file live again. */
            int live = leased(store, item->name, options->now, error);
            if (live < 0) rc = live;
            if (live != 0) continue;
        }
        /* The file goes first, as in retention: a crash in between leaves a
         * row the next run marks again. */
        if (item->kind != CLEANUP_MISSING_FILE) rc = blob_remove(blob, item->name, error);
        if (rc == VSR_OK && item->kind != CLEANUP_ORPHAN_FILE)
            rc = store_mark_purged(store, &item->row, error);
        if (rc == VSR_OK && add(done, item->kind, item->name, item->bytes, &item->row) != 0)
            rc = nomem(error);
    }
    if (rc == VSR_OK) {
        struct temp_collect temps = {.plan = done, .filter = plan};
        int count = 0;
        rc =
            orphans_find(config, store, blob, options->now, 0, collect_temp, &temps, &count, error);
        if (rc == VSR_OK && temps.failed) rc = nomem(error);
    }
    cleanup_plan_free(&now);
    return rc;
}

void cleanup_plan_free(struct cleanup_plan *plan) {
    free(plan->items);
    memset(plan, 0, sizeof *plan);
}

void cleanup_plan_print(const struct cleanup_plan *plan, FILE *out) {
    for (int i = 0; i < plan->count; i++)
        fprintf(out, "%s %s %lld\n", kind_names[plan->items[i].kind], plan->items[i].name,
                (long long)plan->items[i].bytes);
    for (int k = 0; k < CLEANUP_KIND_COUNT; k++)
        fprintf(out, "%s: %lld files, %lld bytes\n", kind_names[k], (long long)plan->counts[k],
                (long long)plan->bytes[k]);
}

json_t *cleanup_plan_json(const struct cleanup_plan *plan) {
    json_t *kinds = json_object();
    for (int k = 0; k < CLEANUP_KIND_COUNT; k++)
        json_object_set_new(kinds, kind_names[k],
                            json_pack("{s:I, s:I}", "count", (json_int_t)plan->counts[k], "bytes",
                                      (json_int_t)plan->bytes[k]));
    return kinds;
}
