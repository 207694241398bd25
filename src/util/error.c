/* error.c: see error.h. */
#include <stdarg.h>
#include <stdio.h>

#include <libavutil/error.h>

#include "util/error.h"

int error_set(struct vsr_error *error, int code, const char *format, ...) {
    if (!error) return code;
    error->code = code;
    va_list args;
    va_start(args, format);
    vsnprintf(error->message, sizeof error->message, format, args);
    va_end(args);
    return code;
}

int error_from_av(int averror, int fallback) {
    return averror == AVERROR(ENOMEM) ? VSR_E_NOMEM : fallback;
}
