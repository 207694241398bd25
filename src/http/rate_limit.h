/* rate_limit.h: a token bucket per API key, in this process's memory. A key
 * with rate R requests per second may burst up to max(1, R) requests, then
 * gets one every 1/R seconds. (Several server processes each allow R: the
 * limit is per process, which the README states.)
 *
 * Thread-safety: rate_limit_take may be called from any thread. */
#ifndef VSR_HTTP_RATE_LIMIT_H
#define VSR_HTTP_RATE_LIMIT_H

#include <stdint.h>

struct rate_limit;

struct rate_limit *rate_limit_new(void);
void rate_limit_free(struct rate_limit *limit); /* NULL is a no-op */

/* Takes a token from KEY_ID's bucket (RATE per second, 0: unlimited) at
 * NOW_MS. Returns 0 when allowed, else the seconds to wait (>= 1). */
int rate_limit_take(struct rate_limit *limit, const char *key_id, double rate, int64_t now_ms);

#endif
