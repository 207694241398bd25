/* metrics.c: the service's metrics (see metrics.h). Requests are counted per
 * (route, method, status) and timed per (route, method) in small fixed
 * tables: routes are templates, so the label sets stay bounded whatever
 * clients send. */
#include "service/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "service/disk_space.h"
#include "util/ids.h"

#define MAX_SERIES 256
#define MAX_TIMED  64 /* (route, method) pairs: about 20 routes, 1 to 3 methods each */

/* Request latency buckets in seconds: the API should answer in milliseconds. */
static const double request_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,   0.25,   0.5,   1,    2.5,   10};
#define REQUEST_BUCKETS (sizeof request_buckets / sizeof request_buckets[0])

/* Job run-time buckets in seconds: from a short clip to a feature film. */
static const double job_buckets[] = {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200};
#define JOB_BUCKETS (sizeof job_buckets / sizeof job_buckets[0])

struct series {
    const char *route; /* a static template */
    char method[16];   /* copied: the caller's buffer goes away with its request */
    int status;
    uint64_t count;
};

struct histogram {
    uint64_t buckets[16]; /* cumulative counts are computed at render time */
    uint64_t count;
    double sum;
};

/* The request-duration histogram of one (route, method). */
struct timed {
    const char *route; /* a static template */
    char method[16];
    struct histogram histogram;
};

struct metrics {
    pthread_mutex_t lock;
    struct series series[MAX_SERIES];
    int series_count;
    struct timed timed[MAX_TIMED];
    int timed_count;
    /* Answers by class (1xx .. 5xx), rendered from the start at 0, so that
     * an alert on the 5xx ratio is defined before the first error. */
    uint64_t classes[5];
    struct histogram jobs;
    uint64_t jobs_ended[JOB_STATE_COUNT];
    int workers, busy;
    uint64_t webhook_deliveries, webhook_failures, webhooks_given_up;
    int64_t started_ms;
};

struct metrics *metrics_new(void) {
    struct metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->lock, NULL);
    m->started_ms = ids_now_ms();
    return m;
}

void metrics_free(struct metrics *metrics) {
    if (!metrics) return;
    pthread_mutex_destroy(&metrics->lock);
    free(metrics);
}

static void observe(struct histogram *h, const double *bounds, size_t n, double value) {
    for (size_t i = 0; i < n; i++)
        if (value <= bounds[i]) {
            h->buckets[i]++;
            break;
        }
    h->count++;
    h->sum += value;
}

void metrics_record_request(struct metrics *m, const char *route, const char *method, int status,
                            double seconds) {
    pthread_mutex_lock(&m->lock);
    int i;
    for (i = 0; i < m->series_count; i++)
        if (m->series[i].status == status && strcmp(m->series[i].route, route) == 0 &&
            strcmp(m->series[i].method, method) == 0)
            break;
    if (i == m->series_count && i < MAX_SERIES) {
        m->series[i] = (struct series){.route = route, .status = status};
        snprintf(m->series[i].method, sizeof m->series[i].method, "%s", method);
        m->series_count++;
    }
    if (i < MAX_SERIES) m->series[i].count++;
    for (i = 0; i < m->timed_count; i++)
        if (strcmp(m->timed[i].route, route) == 0 && strcmp(m->timed[i].method, method) == 0) break;
    if (i == m->timed_count && i < MAX_TIMED) {
        m->timed[i] = (struct timed){.route = route};
        snprintf(m->timed[i].method, sizeof m->timed[i].method, "%s", method);
        m->timed_count++;
    }
    if (i < MAX_TIMED) observe(&m->timed[i].histogram, request_buckets, REQUEST_BUCKETS, seconds);
    if (status >= 100 && status < 600) m->classes[status / 100 - 1]++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_record_job(struct metrics *m, enum job_state state, double seconds) {
    pthread_mutex_lock(&m->lock);
    if ((unsigned)state < JOB_STATE_COUNT) m->jobs_ended[state]++;
    if (state == JOB_SUCCEEDED) observe(&m->jobs, job_buckets, JOB_BUCKETS, seconds);
    pthread_mutex_unlock(&m->lock);
}

void metrics_record_webhook(struct metrics *m, int delivered, int given_up) {
    pthread_mutex_lock(&m->lock);
    if (delivered)
        m->webhook_deliveries++;
    else
        m->webhook_failures++;
    if (given_up) m->webhooks_given_up++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_workers(struct metrics *m, int total) {
    pthread_mutex_lock(&m->lock);
    m->workers = total;
    pthread_mutex_unlock(&m->lock);
}

void metrics_worker_busy(struct metrics *m, int delta) {
    pthread_mutex_lock(&m->lock);
    m->busy += delta;
    pthread_mutex_unlock(&m->lock);
}

/* A growing string for rendering. */
struct text {
    char *data;
    size_t len, cap;
    int failed;
};

__attribute__((format(printf, 2, 3))) static void text_printf(struct text *t, const char *format,
                                                              ...) {
    va_list args;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(args, format);
        int n = t->data ? vsnprintf(t->data + t->len, room, format, args) : -1;
        va_end(args);
        if (n >= 0 && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t need = t->cap * 2 + (n > 0 ? (size_t)n : 0) + 4096;
        char *grown = realloc(t->data, need);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->data = grown;
        t->cap = need;
    }
}

/* One histogram's series; LABELS ("route=\"/x\",method=\"GET\"" or "")
 * go before le. The HELP and TYPE lines are the caller's. */
static void render_histogram_series(struct text *t, const char *name, const char *labels,
                                    const struct histogram *h, const double *bounds, size_t n) {
    const char *comma = labels[0] ? "," : "";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < n; i++) {
        cumulative += h->buckets[i];
        text_printf(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, comma, bounds[i],
                    (unsigned long long)cumulative);
    }
    text_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, comma,
                (unsigned long long)h->count);
    if (labels[0])
        text_printf(t, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels, h->sum, name, labels,
                    (unsigned long long)h->count);
    else
        text_printf(t, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name,
                    (unsigned long long)h->count);
}

static void render_histogram(struct text *t, const char *name, const char *help,
                             const struct histogram *h, const double *bounds, size_t n) {
    text_printf(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    render_histogram_series(t, name, "", h, bounds, n);
}

char *metrics_render_prometheus(struct metrics *m, struct store *store, const char *disk_path) {
    struct metrics copy;
    pthread_mutex_lock(&m->lock);
    memcpy(&copy, m, sizeof copy);
    pthread_mutex_unlock(&m->lock);

    struct text t = {0};
    text_printf(&t, "# HELP vsr_http_requests_total HTTP requests answered, by route, method"
                    " and status.\n# TYPE vsr_http_requests_total counter\n");
    for (int i = 0; i < copy.series_count; i++)
        text_printf(&t, "vsr_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n",
                    copy.series[i].route, copy.series[i].method, copy.series[i].status,
                    (unsigned long long)copy.series[i].count);
    text_printf(&t, "# HELP vsr_http_responses_total HTTP requests answered, by status class"
                    " (every class from the start).\n# TYPE vsr_http_responses_total counter\n");
    for (int c = 0; c < 5; c++)
        text_printf(&t, "vsr_http_responses_total{class=\"%dxx\"} %llu\n", c + 1,
                    (unsigned long long)copy.classes[c]);
    text_printf(&t, "# HELP vsr_http_request_duration_seconds Time to answer a request, by route"
                    " and method.\n# TYPE vsr_http_request_duration_seconds histogram\n");
    for (int i = 0; i < copy.timed_count; i++) {
        char labels[160];
        snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\"", copy.timed[i].route,
                 copy.timed[i].method);
        render_histogram_series(&t, "vsr_http_request_duration_seconds", labels,
                                &copy.timed[i].histogram, request_buckets, REQUEST_BUCKETS);
    }
    text_printf(&t, "# HELP vsr_jobs_finished_total Jobs this process's workers ended, by"
                    " state.\n# TYPE vsr_jobs_finished_total counter\n");
    for (int s = JOB_SUCCEEDED; s < JOB_STATE_COUNT; s++)
        text_printf(&t, "vsr_jobs_finished_total{state=\"%s\"} %llu\n",
                    job_state_name((enum job_state)s), (unsigned long long)copy.jobs_ended[s]);
    render_histogram(&t, "vsr_job_duration_seconds", "Processing time of succeeded jobs.",
                     &copy.jobs, job_buckets, JOB_BUCKETS);
    text_printf(&t,
                "# HELP vsr_workers Job worker threads in this process.\n"
                "# TYPE vsr_workers gauge\nvsr_workers %d\n"
                "# HELP vsr_workers_busy Worker threads running a job.\n"
                "# TYPE vsr_workers_busy gauge\nvsr_workers_busy %d\n",
                copy.workers, copy.busy);
    text_printf(&t,
                "# HELP vsr_webhook_deliveries_total Webhooks this process delivered (2xx).\n"
                "# TYPE vsr_webhook_deliveries_total counter\nvsr_webhook_deliveries_total %llu\n"
                "# HELP vsr_webhook_failures_total Webhook attempts that failed (non-2xx,"
                " timeout, refused).\n"
                "# TYPE vsr_webhook_failures_total counter\nvsr_webhook_failures_total %llu\n"
                "# HELP vsr_webhook_given_up_total Webhooks given up after their last attempt or"
                " a 410.\n"
                "# TYPE vsr_webhook_given_up_total counter\nvsr_webhook_given_up_total %llu\n",
                (unsigned long long)copy.webhook_deliveries,
                (unsigned long long)copy.webhook_failures,
                (unsigned long long)copy.webhooks_given_up);
    int64_t depth[JOB_STATE_COUNT];
    struct vsr_error error = {0};
    if (store && store_queue_depth(store, depth, &error) == VSR_OK) {
        text_printf(&t, "# HELP vsr_queue_jobs Jobs in the store, by state (all processes).\n"
                        "# TYPE vsr_queue_jobs gauge\n");
        for (int s = 0; s < JOB_STATE_COUNT; s++)
            text_printf(&t, "vsr_queue_jobs{state=\"%s\"} %lld\n",
                        job_state_name((enum job_state)s), (long long)depth[s]);
    }
    int64_t free_bytes = disk_path ? disk_free_bytes(disk_path) : -1;
    int64_t size_bytes = disk_path ? disk_size_bytes(disk_path) : -1;
    if (free_bytes >= 0 && size_bytes > 0)
        text_printf(&t,
                    "# HELP vsr_disk_free_bytes Bytes still writable where workers write.\n"
                    "# TYPE vsr_disk_free_bytes gauge\nvsr_disk_free_bytes %lld\n"
                    "# HELP vsr_disk_size_bytes Size of the file system workers write on.\n"
                    "# TYPE vsr_disk_size_bytes gauge\nvsr_disk_size_bytes %lld\n",
                    (long long)free_bytes, (long long)size_bytes);
    text_printf(&t,
                "# HELP vsr_uptime_seconds Seconds since this process started.\n"
                "# TYPE vsr_uptime_seconds gauge\nvsr_uptime_seconds %.3f\n",
                (double)(ids_now_ms() - copy.started_ms) / 1000.0);
    /* The names Prometheus's own clients use, so that stock dashboards and
     * restart alerts work. */
    text_printf(&t,
                "# HELP process_start_time_seconds Start time of the process since the Unix"
                " epoch in seconds.\n"
                "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n"
                "# HELP vsr_build_info The running vsr's version (always 1).\n"
                "# TYPE vsr_build_info gauge\nvsr_build_info{version=\"%s\"} 1\n",
                (double)copy.started_ms / 1000.0, VSR_VERSION);
    if (t.failed) {
        free(t.data);
        return NULL;
    }
    return t.data;
}

char *metrics_render_json(struct metrics *m, struct store *store) {
    struct metrics copy;
    pthread_mutex_lock(&m->lock);
    memcpy(&copy, m, sizeof copy);
    pthread_mutex_unlock(&m->lock);

    json_t *root = json_object();
    json_t *depth_json = json_object();
    json_t *errors = json_object();
    int64_t depth[JOB_STATE_COUNT];
    struct vsr_error error = {0};
    if (store && store_queue_depth(store, depth, &error) == VSR_OK)
        for (int s = 0; s < JOB_STATE_COUNT; s++)
            json_object_set_new(depth_json, job_state_name((enum job_state)s),
                                json_integer(depth[s]));
    for (int i = 0; i < copy.series_count; i++) {
        if (copy.series[i].status < 400) continue;
        char code[16];
        snprintf(code, sizeof code, "%d", copy.series[i].status);
        json_int_t before = json_integer_value(json_object_get(errors, code));
        json_object_set_new(errors, code, json_integer(before + (json_int_t)copy.series[i].count));
    }
    int64_t completed = 0, failed = 0;
    double p50 = 0, p95 = 0;
    if (store)
        store_job_stats(store, ids_now_ms() - 3600 * 1000, &completed, &failed, &p50, &p95, &error);
    json_object_set_new(root, "queue_depth", depth_json);
    json_object_set_new(root, "jobs_completed_hourly", json_integer(completed));
    json_object_set_new(root, "jobs_failed_hourly", json_integer(failed));
    json_object_set_new(root, "processing_seconds",
                        json_pack("{s:f, s:f}", "p50", p50, "p95", p95));
    json_object_set_new(root, "errors", errors);
    json_object_set_new(root, "webhook_failures", json_integer((json_int_t)copy.webhook_failures));
    json_object_set_new(root, "webhook_deliveries",
                        json_integer((json_int_t)copy.webhook_deliveries));
    json_object_set_new(root, "workers",
                        json_pack("{s:i, s:i}", "total", copy.workers, "busy", copy.busy));
    char *text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(12));
    json_decref(root);
    return text;
}
