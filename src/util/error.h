/* error.h: fill a struct vsr_error, the one way the engine reports failures.
 * error_set formats the user's message and returns the code, so a failing
 * path reads `return error_set(error, VSR_E_INPUT, "...", ...);`. */
#ifndef VSR_UTIL_ERROR_H
#define VSR_UTIL_ERROR_H

#include "vsr.h"

/* Stores CODE and the printf-style message in ERROR (which may be NULL) and
 * returns CODE. */
int error_set(struct vsr_error *error, int code, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* The vsr_status that fits an FFmpeg AVERROR when a step failed with it:
 * out of memory stays VSR_E_NOMEM, anything else becomes FALLBACK. */
int error_from_av(int averror, int fallback);

#endif
