/* fuzz_transcript.c: libFuzzer target for our parsing of a transcription
 * server's verbose_json answer, then caption layout and every writer (SRT,
 * WebVTT, JSON, ASS with the spoken word highlighted). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "captions/transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct transcript t = {0};
    struct vsr_error error;
    if (transcript_from_openai_json((const char *)data, size, &t, &error) == 0) {
        struct caption_rules rules[2];
        caption_rules_default(&rules[0]);
        caption_rules_social(&rules[1]);
        for (int r = 0; r < 2; r++) {
            struct caption *captions = NULL;
            size_t count = 0;
            if (caption_layout(&t, &rules[r], &captions, &count) < 0) continue;
            FILE *sink = fopen("/dev/null", "w");
            for (int format = CAPTION_SRT; sink && format <= CAPTION_ASS; format++)
                caption_write(sink, (enum caption_format)format, &t, captions, count, r);
            if (sink) fclose(sink);
            free(captions);
        }
    }
    transcript_free(&t);
    return 0;
}
