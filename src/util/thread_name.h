/* thread_name.h: names the calling thread, as top -H, perf and /proc show
 * it (15 bytes at most): which stage of a removal burns the CPU is then
 * plain to see. A no-op where the system has no such call. */
#ifndef VSR_UTIL_THREAD_NAME_H
#define VSR_UTIL_THREAD_NAME_H

#ifdef __linux__
#include <sys/prctl.h>
#endif

static inline void thread_name(const char *name) {
#ifdef __linux__
    prctl(PR_SET_NAME, name);
#else
    (void)name;
#endif
}

#endif
