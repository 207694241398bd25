/* fuzz_style.c: libFuzzer target for the style-file parser (our own code:
 * "Key=Value" lines into ASS style overrides). */
#include <stdint.h>
#include <string.h>

#include "captions/captions.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char out[4096];
    struct vsr_error error;
    out[0] = '\0';
    if (caption_style_parse((const char *)data, size, "fuzz", out, sizeof out, &error) == 0 &&
        strlen(out) >= sizeof out)
        __builtin_trap();
    return 0;
}
