/* status.c: names of the status codes, and the default removal options. */
#include <stddef.h>
#include <string.h>

#include "vsr.h"

const char *vsr_status_name(int code) {
    switch (code) {
    case VSR_OK:
        return "ok";
    case VSR_E_USAGE:
        return "usage";
    case VSR_E_INPUT:
        return "input";
    case VSR_E_NO_VIDEO:
        return "no_video";
    case VSR_E_OUTPUT:
        return "output";
    case VSR_E_CODEC:
        return "codec";
    case VSR_E_NOMEM:
        return "nomem";
    case VSR_E_CANCELED:
        return "canceled";
    case VSR_E_INTERNAL:
        return "internal";
    default:
        return "unknown";
    }
}

void vsr_remove_options_init(struct vsr_remove_options *options) {
    memset(options, 0, sizeof *options);
    options->crf = 18;
    options->preset = "veryfast";
    options->threads = 0;
}
