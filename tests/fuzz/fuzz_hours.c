/* fuzz_hours.c: libFuzzer target for the business-hours parser
 * (VSR_BUSINESS_HOURS, "HH:MM-HH:MM"). An accepted range must lie within a
 * day and read back the same from its own HH:MM-HH:MM form. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/hours.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1); /* the parser reads a C string */
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct vsr_error error = {0};
    int open = -1, close = -1;
    if (hours_parse(text, &open, &close, &error) == VSR_OK) {
        if (open < 0 || open > 24 * 60 || close < 0 || close > 24 * 60) __builtin_trap();
        char again[32];
        snprintf(again, sizeof again, "%02d:%02d-%02d:%02d", open / 60, open % 60, close / 60,
                 close % 60);
        int open2 = -1, close2 = -1;
        if (hours_parse(again, &open2, &close2, &error) != VSR_OK || open2 != open ||
            close2 != close)
            __builtin_trap();
    } else if (!error.message[0]) {
        __builtin_trap(); /* a refusal always says why */
    }
    free(text);
    return 0;
}
