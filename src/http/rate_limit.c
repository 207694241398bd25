/* rate_limit.c: token buckets per API key (see rate_limit.h), in a chained
 * hash table under one mutex held only for the arithmetic. */
#include "http/rate_limit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024

struct bucket {
    char key_id[48];
    double tokens;
    int64_t updated_ms;
    struct bucket *next;
};

struct rate_limit {
    pthread_mutex_t lock;
    struct bucket *table[BUCKETS];
};

struct rate_limit *rate_limit_new(void) {
    struct rate_limit *limit = calloc(1, sizeof *limit);
    if (limit) pthread_mutex_init(&limit->lock, NULL);
    return limit;
}

void rate_limit_free(struct rate_limit *limit) {
    if (!limit) return;
    for (int i = 0; i < BUCKETS; i++)
        while (limit->table[i]) {
            struct bucket *next = limit->table[i]->next;
            free(limit->table[i]);
            limit->table[i] = next;
        }
    pthread_mutex_destroy(&limit->lock);
    free(limit);
}

/* FNV-1a: short keys, no adversary controls them (ids are ours). */
static unsigned hash(const char *s) {
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

int rate_limit_take(struct rate_limit *limit, const char *key_id, double rate, int64_t now_ms) {
    if (rate <= 0) return 0;
    double burst = rate < 1 ? 1 : rate;
    int wait = 0;
    pthread_mutex_lock(&limit->lock);
    unsigned h = hash(key_id);
    struct bucket *b = limit->table[h];
    while (b && strcmp(b->key_id, key_id) != 0)
        b = b->next;
    if (!b && (b = calloc(1, sizeof *b)) != NULL) {
        strncpy(b->key_id, key_id, sizeof b->key_id - 1);
        b->tokens = burst;
        b->updated_ms = now_ms;
        b->next = limit->table[h];
        limit->table[h] = b;
    }
    if (b) {
        b->tokens += (double)(now_ms - b->updated_ms) / 1000.0 * rate;
        if (b->tokens > burst) b->tokens = burst;
        b->updated_ms = now_ms;
        if (b->tokens >= 1) {
            b->tokens -= 1;
        } else {
            wait = (int)ceil((1 - b->tokens) / rate);
            if (wait < 1) wait = 1;
        }
    }
    pthread_mutex_unlock(&limit->lock);
    return wait;
}
