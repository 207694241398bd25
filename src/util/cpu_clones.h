/* cpu_clones.h: a hot loop built twice on x86-64, for AVX2 and for the
 * baseline the project is compiled for, and picked when the program loads
 * (GCC's function multiversioning, through an ifunc). Debian builds for
 * plain x86-64, whose vectors are SSE2's 16 bytes; AVX2's 32 halve the
 * instructions of a loop that vectorizes. Only integer loops carry it, so
 * that both builds give the same results. Elsewhere it is nothing. */
#ifndef VSR_UTIL_CPU_CLONES_H
#define VSR_UTIL_CPU_CLONES_H

#include <limits.h> /* defines __GLIBC__ where the C library is glibc */

/* GCC on x86-64 with glibc, whose ifuncs pick the build (musl has none).
 * Not under ThreadSanitizer: GCC instruments the ifunc's resolver too, and
 * the loader runs it before the TSan runtime is set up (a crash at load). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__GLIBC__) &&       \
    !defined(__SANITIZE_THREAD__)
#define CPU_CLONES __attribute__((target_clones("avx2", "default"), noinline))
#else
#define CPU_CLONES
#endif

#endif
