/* engine_pocketsphinx.c: offline speech recognition with CMU pocketsphinx
 * (Debian's 5prealpha, the 0.8-era API) and its US English model.
 *
 * Each stretch of speech (speech.c) is one utterance; word times come from
 * the segment iterator in 10 ms frames from the utterance start. Fillers,
 * silences and sentence markers are dropped, and "word(2)" (an alternative
 * pronunciation in the dictionary) becomes "word". */
#include <stdlib.h>
#include <string.h>

#include <pocketsphinx.h>

#include "captions/transcript.h"
#include "util/error.h"

#define DEFAULT_MODEL     "/usr/share/pocketsphinx/model/en-us"
#define FRAMES_PER_SECOND 100.0 /* -frate default */

static int is_filler(const char *word) {
    return word[0] == '<' || word[0] == '[' || word[0] == '+' || !strcmp(word, "<sil>");
}

static int decode_span(ps_decoder_t *ps, const struct audio_pcm *pcm,
                       const struct speech_span *span, struct transcript *t) {
    if (ps_start_utt(ps) < 0) return -1;
    if (ps_process_raw(ps, pcm->samples + span->start, span->end - span->start, FALSE, TRUE) < 0)
        return -1;
    if (ps_end_utt(ps) < 0) return -1;
    double offset = (double)span->start / pcm->rate;
    for (ps_seg_t *seg = ps_seg_iter(ps); seg; seg = ps_seg_next(seg)) {
        const char *word = ps_seg_word(seg);
        if (!word || is_filler(word)) continue;
        int first, last;
        ps_seg_frames(seg, &first, &last);
        size_t length = strcspn(word, "(");
        if (length == 0) continue;
        if (transcript_add(t, word, length, offset + first / FRAMES_PER_SECOND,
                           offset + (last + 1) / FRAMES_PER_SECOND) < 0) {
            ps_seg_free(seg);
            return VSR_E_NOMEM;
        }
    }
    return 0;
}

int transcribe_pocketsphinx(const struct audio_pcm *pcm, const struct vsr_transcribe_options *o,
                            struct transcript *t, struct vsr_error *error) {
    if (o->language && strcmp(o->language, "en") && strcmp(o->language, "en-us"))
        return error_set(error, VSR_E_USAGE,
                         "the pocketsphinx engine knows English only (--language en); use "
                         "--engine openai for '%s'",
                         o->language);
    if (pcm->rate != 16000)
        return error_set(error, VSR_E_INTERNAL, "pocketsphinx needs 16 kHz audio");
    const char *model = o->model ? o->model : DEFAULT_MODEL;
    char hmm[1024], lm[1024], dict[1024];
    snprintf(hmm, sizeof hmm, "%s/en-us", model);
    snprintf(lm, sizeof lm, "%s/en-us.lm.bin", model);
    snprintf(dict, sizeof dict, "%s/cmudict-en-us.dict", model);
    FILE *probe = fopen(lm, "rb");
    if (!probe)
        return error_set(error, VSR_E_CODEC,
                         "the pocketsphinx model is missing ('%s'): install pocketsphinx-en-us "
                         "(scripts/install-deps.sh)",
                         lm);
    fclose(probe);
    cmd_ln_t *config = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-lm", lm, "-dict", dict,
                                   "-logfn", "/dev/null", "-remove_silence", "no", NULL);
    ps_decoder_t *ps = config ? ps_init(config) : NULL;
    struct speech_span *spans = NULL;
    size_t count = 0;
    int ret = 0;
    if (!ps) {
        ret =
            error_set(error, VSR_E_CODEC, "pocketsphinx could not load its model from '%s'", model);
        goto done;
    }
    if (speech_spans(pcm, &spans, &count) < 0) {
        ret = error_set(error, VSR_E_NOMEM, "out of memory");
        goto done;
    }
    double started = speech_clock(), total = (double)pcm->count / pcm->rate;
    speech_progress(o, 0, total, started);
    for (size_t i = 0; i < count && ret == 0; i++) {
        if (i > 0) speech_progress(o, (double)spans[i - 1].end / pcm->rate, total, started);
        if (o->cancel && atomic_load(o->cancel)) {
            ret = error_set(error, VSR_E_CANCELED, "canceled");
            break;
        }
        ret = decode_span(ps, pcm, &spans[i], t);
        if (ret < 0)
            ret = error_set(error, ret == VSR_E_NOMEM ? VSR_E_NOMEM : VSR_E_CODEC,
                            "pocketsphinx failed on the speech at %.1f s",
                            (double)spans[i].start / pcm->rate);
    }
    if (ret == 0) speech_progress(o, total, total, started);
done:
    free(spans);
    if (ps) ps_free(ps);
    if (config) cmd_ln_free_r(config);
    snprintf(t->engine, sizeof t->engine, "pocketsphinx");
    snprintf(t->language, sizeof t->language, "en");
    return ret;
}
