/* ids.c: random identifiers and clocks (see ids.h). */
#include "util/ids.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "vsr.h"

void ids_hex(char *out, const unsigned char *bytes, size_t len) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

int ids_random(char *out, size_t out_size, const char *prefix, size_t bytes) {
    unsigned char raw[64];
    size_t prefix_len = strlen(prefix);
    if (bytes > sizeof raw || prefix_len + 2 * bytes + 1 > out_size) return VSR_E_INTERNAL;
    size_t got = 0;
    while (got < bytes) {
        ssize_t n = getrandom(raw + got, bytes - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return VSR_E_INTERNAL;
        }
        got += (size_t)n;
    }
    memcpy(out, prefix, prefix_len);
    ids_hex(out + prefix_len, raw, bytes);
    return VSR_OK;
}

int64_t ids_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ids_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
