/* ids.h: random identifiers and wall-clock time for the job service.
 *
 * Identifiers come from the kernel's CSPRNG (getrandom), because API-key
 * secrets are made from the same bytes. All functions are thread-safe. */
#ifndef VSR_UTIL_IDS_H
#define VSR_UTIL_IDS_H

#include <stddef.h>
#include <stdint.h>

/* Writes PREFIX followed by BYTES random bytes in lower-case hex into OUT.
 * Returns 0, or VSR_E_INTERNAL when OUT is too small or the kernel fails. */
int ids_random(char *out, size_t out_size, const char *prefix, size_t bytes);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME): the store keeps times
 * in this unit because several processes share it. */
int64_t ids_now_ms(void);

/* Milliseconds of CLOCK_MONOTONIC, for durations inside one process. */
int64_t ids_monotonic_ms(void);

/* Lower-case hex of LEN bytes into OUT (2*LEN+1 bytes). */
void ids_hex(char *out, const unsigned char *bytes, size_t len);

#endif
