/* key_cache.h: recently authenticated API keys, so that a client polling a
 * job costs one database query instead of two. An entry is trusted for
 * KEY_CACHE_TTL_MS after it was read from the store, so a revoked key stops
 * working within that time (README says so). Keys are found by the SHA-256
 * of their token: the cache never holds a token.
 *
 * Thread-safety: every function may be called from any thread (one mutex,
 * held only to copy an entry). */
#ifndef VSR_HTTP_KEY_CACHE_H
#define VSR_HTTP_KEY_CACHE_H

#include <stdint.h>

#include "jobs/store.h"

#define KEY_CACHE_TTL_MS 1000

struct key_cache;

struct key_cache *key_cache_new(void);        /* NULL when out of memory */
void key_cache_free(struct key_cache *cache); /* NULL is a no-op */

/* 1 and the key when HASH (64 hex characters) was stored less than
 * KEY_CACHE_TTL_MS before NOW_MS; 0 otherwise. */
int key_cache_get(struct key_cache *cache, const char *hash, int64_t now_ms, struct api_key *out);

/* Remembers KEY (found by its secret_hash) as read at NOW_MS. */
void key_cache_put(struct key_cache *cache, const struct api_key *key, int64_t now_ms);

#endif
