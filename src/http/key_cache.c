/* key_cache.c: a direct-mapped table of recently authenticated keys (see
 * key_cache.h). A slot is picked by the first bytes of the token's SHA-256,
 * which are uniformly spread; a collision simply replaces the older key. */
#include "http/key_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 256 /* far more keys than a service polls at once */

struct slot {
    struct api_key key;
    int64_t read_ms; /* 0: empty */
};

struct key_cache {
    pthread_mutex_t lock;
    struct slot slots[SLOTS];
};

struct key_cache *key_cache_new(void) {
    struct key_cache *cache = calloc(1, sizeof *cache);
    if (cache) pthread_mutex_init(&cache->lock, NULL);
    return cache;
}

void key_cache_free(struct key_cache *cache) {
    if (!cache) return;
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

static unsigned slot_of(const char *hash) {
    return (unsigned)strtoul((char[]){hash[0], hash[1], hash[2], hash[3], '\0'}, NULL, 16) % SLOTS;
}

int key_cache_get(struct key_cache *cache, const char *hash, int64_t now_ms, struct api_key *out) {
    if (strlen(hash) < 4) return 0;
    struct slot *slot = &cache->slots[slot_of(hash)];
    int found = 0;
    pthread_mutex_lock(&cache->lock);
    if (slot->read_ms && now_ms - slot->read_ms < KEY_CACHE_TTL_MS &&
        strcmp(slot->key.secret_hash, hash) == 0) {
        *out = slot->key;
        found = 1;
    }
    pthread_mutex_unlock(&cache->lock);
    return found;
}

void key_cache_put(struct key_cache *cache, const struct api_key *key, int64_t now_ms) {
    if (strlen(key->secret_hash) < 4) return;
    struct slot *slot = &cache->slots[slot_of(key->secret_hash)];
    pthread_mutex_lock(&cache->lock);
    slot->key = *key;
    slot->read_ms = now_ms;
    pthread_mutex_unlock(&cache->lock);
}
