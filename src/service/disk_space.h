/* disk_space.h: how much room the work folder has, and whether a failure
 * was the disk running out. A job that fails for lack of space is no
 * failure of the job: the worker gives it back to the queue and waits for
 * room (worker.c), and /health/readyz reports the free space (http/api.c).
 *
 * Thread-safety: all functions may be called from any thread. */
#ifndef VSR_SERVICE_DISK_SPACE_H
#define VSR_SERVICE_DISK_SPACE_H

#include <stdint.h>

/* Bytes an unprivileged process may still write on the file system that
 * holds PATH (statvfs's f_bavail); -1 when it cannot be told. */
int64_t disk_free_bytes(const char *path);

/* Size of the file system that holds PATH (f_blocks * f_frsize), so that
 * /metrics can give "disk usage" as a fraction; -1 when it cannot be told. */
int64_t disk_size_bytes(const char *path);

/* 1 when MESSAGE (an error's text) says the disk or the quota is full
 * (strerror of ENOSPC or EDQUOT, as FFmpeg and libc print it). */
int disk_error_is_full(const char *message);

#endif
