/* disk_space.c: free space and full-disk errors (see disk_space.h). */
#include "service/disk_space.h"

#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

int64_t disk_free_bytes(const char *path) {
    struct statvfs st;
    if (statvfs(path, &st) != 0) return -1;
    return (int64_t)st.f_bavail * (int64_t)st.f_frsize;
}

int64_t disk_size_bytes(const char *path) {
    struct statvfs st;
    if (statvfs(path, &st) != 0) return -1;
    return (int64_t)st.f_blocks * (int64_t)st.f_frsize;
}

int disk_error_is_full(const char *message) {
    /* Errors reach the worker as text (the engine's vsr_error); FFmpeg's
     * av_strerror and libc's strerror give the same words for these. */
    return strstr(message, strerror(ENOSPC)) != NULL || strstr(message, strerror(EDQUOT)) != NULL;
}
