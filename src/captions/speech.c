/* speech.c: find the stretches of speech in PCM audio by energy.
 *
 * pocketsphinx's own voice detector drops silent frames from its frame count,
 * which shifts word times; cutting the audio here and decoding each stretch
 * as one utterance keeps every time exact. Energy is measured over 10 ms
 * frames; the noise floor is the 10th percentile, speech is 12 dB above it
 * (and above an absolute floor, so that digital silence has no "speech").
 * Short gaps are bridged, blips dropped, edges padded, and a stretch longer
 * than 20 s is cut at its quietest frame (the recogniser's search grows with
 * the length of an utterance). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "captions/transcript.h"

#define FRAME_SECONDS      0.010
#define ABOVE_FLOOR_DB     12.0
#define ABSOLUTE_FLOOR_DB  30.0 /* RMS of about 32 in 16-bit samples (-60 dBFS) */
#define BRIDGE_SECONDS     0.30
#define MIN_SPEECH_SECONDS 0.10
#define PAD_SECONDS        0.20
#define MAX_SPAN_SECONDS   20.0

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Appends [START, END) frames, split while longer than MAX frames. */
static int add_span(const double *energy, size_t start, size_t end, size_t max,
                    struct speech_span **spans, size_t *count, size_t *capacity, size_t frame) {
    while (end - start > max) {
        /* The quietest frame in the middle half of the first MAX frames. */
        size_t cut = start + max / 2;
        for (size_t i = start + max / 4; i < start + max; i++)
            if (energy[i] < energy[cut]) cut = i;
        int ret = add_span(energy, start, cut, max, spans, count, capacity, frame);
        if (ret < 0) return ret;
        start = cut;
    }
    if (*count == *capacity) {
        size_t grown_capacity = *capacity ? *capacity * 2 : 32;
        struct speech_span *grown = realloc(*spans, grown_capacity * sizeof *grown);
        if (!grown) return -1;
        *spans = grown;
        *capacity = grown_capacity;
    }
    (*spans)[(*count)++] = (struct speech_span){start * frame, end * frame};
    return 0;
}

int speech_spans(const struct audio_pcm *pcm, struct speech_span **out, size_t *count) {
    *out = NULL;
    *count = 0;
    size_t frame = (size_t)(pcm->rate * FRAME_SECONDS);
    size_t frames = frame ? pcm->count / frame : 0;
    if (frames == 0) return 0;
    double *energy = malloc(frames * sizeof *energy), *sorted = malloc(frames * sizeof *sorted);
    unsigned char *speech = calloc(frames, 1);
    int ret = -1;
    size_t capacity = 0;
    if (!energy || !sorted || !speech) goto done;
    for (size_t f = 0; f < frames; f++) {
        double sum = 0;
        const int16_t *s = pcm->samples + f * frame;
        for (size_t i = 0; i < frame; i++)
            sum += (double)s[i] * s[i];
        energy[f] = sorted[f] = 10 * log10(sum / (double)frame + 1);
    }
    qsort(sorted, frames, sizeof *sorted, compare_doubles);
    double floor_db = sorted[frames / 10];
    double threshold = floor_db + ABOVE_FLOOR_DB;
    if (threshold < ABSOLUTE_FLOOR_DB) threshold = ABSOLUTE_FLOOR_DB;
    for (size_t f = 0; f < frames; f++)
        speech[f] = energy[f] > threshold;
    size_t bridge = (size_t)(BRIDGE_SECONDS / FRAME_SECONDS),
           min_speech = (size_t)(MIN_SPEECH_SECONDS / FRAME_SECONDS),
           pad = (size_t)(PAD_SECONDS / FRAME_SECONDS),
           max = (size_t)(MAX_SPAN_SECONDS / FRAME_SECONDS);
    /* Bridge short gaps. */
    for (size_t f = 0, last = (size_t)-1; f < frames; f++) {
        if (!speech[f]) continue;
        if (last != (size_t)-1 && f - last - 1 <= bridge)
            memset(speech + last + 1, 1, f - last - 1);
        last = f;
    }
    ret = 0;
    size_t span_start = 0, span_end = 0;
    int open = 0;
    for (size_t f = 0; f < frames && ret == 0;) {
        if (!speech[f]) {
            f++;
            continue;
        }
        size_t end = f;
        while (end < frames && speech[end])
            end++;
        if (end - f >= min_speech) {
            size_t start = f > pad ? f - pad : 0, stop = end + pad < frames ? end + pad : frames;
            if (open && start <= span_end) {
                span_end = stop;
            } else {
                if (open)
                    ret = add_span(energy, span_start, span_end, max, out, count, &capacity, frame);
                span_start = start, span_end = stop, open = 1;
            }
        }
        f = end;
    }
    if (ret == 0 && open)
        ret = add_span(energy, span_start, span_end, max, out, count, &capacity, frame);
done:
    free(energy);
    free(sorted);
    free(speech);
    if (ret < 0) {
        free(*out);
        *out = NULL;
        *count = 0;
    }
    return ret;
}

double speech_clock(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void speech_progress(const struct vsr_transcribe_options *o, double done, double total,
                     double started) {
    if (!o->progress) return;
    if (done > total) done = total;
    double elapsed = speech_clock() - started;
    struct vsr_progress p = {.frames_done = (int64_t)done,
                             .frames_total = (int64_t)(total + 0.5),
                             .percent = total > 0 ? 100.0 * done / total : -1,
                             .fps = elapsed > 0 ? done / elapsed : 0,
                             .eta_seconds = -1};
    /* The rest of the audio at the speed so far; none before any is done. */
    if (done > 0 && elapsed > 0) p.eta_seconds = (total - done) * elapsed / done;
    o->progress(o->progress_opaque, &p);
}
