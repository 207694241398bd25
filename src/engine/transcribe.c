/* transcribe.c: vsr_transcribe and vsr_caption, speech to captions.
 *
 * The audio is decoded to 16 kHz mono (what both engines take), recognised
 * into timed words, laid out into captions, then written as a subtitle file,
 * or, for vsr_caption, as an ASS script in a temporary file that vsr_burn
 * draws (so captions get every style option of burn). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "captions/transcript.h"
#include "media/audio.h"
#include "util/error.h"
#include "vsr.h"

#define SPEECH_RATE 16000

void vsr_transcribe_options_init(struct vsr_transcribe_options *options) {
    memset(options, 0, sizeof *options);
    options->engine = "pocketsphinx";
    options->language = "en";
    options->max_attempts = 5;
}

/* Fills T from INPUT's audio with the engine O names. */
static int recognise(const char *input, const struct vsr_transcribe_options *o,
                     struct transcript *t, struct vsr_error *error) {
    const char *engine = o->engine ? o->engine : "pocketsphinx";
    int openai = strcmp(engine, "openai") == 0;
    if (!openai && strcmp(engine, "pocketsphinx") != 0)
        return error_set(error, VSR_E_USAGE, "unknown engine '%s': use pocketsphinx or openai",
                         engine);
    struct audio_pcm pcm;
    int ret = audio_read_mono(input, SPEECH_RATE, &pcm, o->cancel, error);
    if (ret < 0) return ret;
    t->duration = (double)pcm.count / SPEECH_RATE;
    ret =
        openai ? transcribe_openai(&pcm, o, t, error) : transcribe_pocketsphinx(&pcm, o, t, error);
    audio_pcm_free(&pcm);
    /* Readable captions, and sentence ends for the layout to end them at. */
    if (ret == 0) transcript_sentence_case(t, SENTENCE_PAUSE_SECONDS);
    return ret;
}

int vsr_transcribe(const char *input, const char *output,
                   const struct vsr_transcribe_options *options, struct vsr_error *error) {
    struct vsr_transcribe_options defaults;
    if (!options) {
        vsr_transcribe_options_init(&defaults);
        options = &defaults;
    }
    if (error) error->code = VSR_OK, error->message[0] = '\0';
    if (!input || !output || !*input || !*output)
        return error_set(error, VSR_E_USAGE, "give an input and an output file");
    int format = caption_format_of(output);
    if (format < 0 || format == CAPTION_ASS)
        return error_set(error, VSR_E_USAGE,
                         "cannot tell the caption format from '%s': end it with .srt, .vtt or "
                         ".json",
                         output);
    struct transcript t = {0};
    struct caption *captions = NULL;
    size_t count = 0;
    struct caption_rules rules;
    caption_rules_default(&rules);
    int ret = recognise(input, options, &t, error);
    if (ret == 0 && caption_layout(&t, &rules, &captions, &count) < 0)
        ret = error_set(error, VSR_E_NOMEM, "out of memory");
    if (ret == 0)
        ret =
            caption_write_file(output, (enum caption_format)format, &t, captions, count, 0, error);
    free(captions);
    transcript_free(&t);
    return ret;
}

int vsr_caption(const char *input, const char *output,
                const struct vsr_transcribe_options *transcribe,
                const struct vsr_burn_options *burn, struct vsr_error *error) {
    struct vsr_transcribe_options transcribe_defaults;
    struct vsr_burn_options options;
    if (!transcribe) {
        vsr_transcribe_options_init(&transcribe_defaults);
        transcribe = &transcribe_defaults;
    }
    if (burn)
        options = *burn;
    else
        vsr_burn_options_init(&options);
    if (error) error->code = VSR_OK, error->message[0] = '\0';
    if (!input || !output || !*input || !*output)
        return error_set(error, VSR_E_USAGE, "give an input and an output file");
    /* The script written here has its own Default style: without a preset
     * named, captions look like burn's default. */
    if (!options.style.style) options.style.style = "classic";
    int social = strcmp(options.style.style, "social") == 0;
    int karaoke = strcmp(options.style.style, "karaoke") == 0;
    struct transcript t = {0};
    struct caption *captions = NULL;
    size_t count = 0;
    struct caption_rules rules;
    if (social)
        caption_rules_social(&rules);
    else
        caption_rules_default(&rules);
    char script[] = "/tmp/vsr-captions-XXXXXX.ass";
    int fd = -1;
    int ret = recognise(input, transcribe, &t, error);
    if (ret == 0 && caption_layout(&t, &rules, &captions, &count) < 0)
        ret = error_set(error, VSR_E_NOMEM, "out of memory");
    if (ret == 0 && count == 0)
        ret = error_set(error, VSR_E_INPUT, "no speech found in '%s': nothing to caption", input);
    if (ret == 0) {
        fd = mkstemps(script, 4);
        if (fd < 0) ret = error_set(error, VSR_E_OUTPUT, "cannot create a temporary file in /tmp");
    }
    if (ret == 0) {
        FILE *out = fdopen(fd, "w");
        int failed = !out || caption_write(out, CAPTION_ASS, &t, captions, count, karaoke) < 0;
        if (out ? fclose(out) != 0 : close(fd) != 0) failed = 1;
        if (failed) ret = error_set(error, VSR_E_OUTPUT, "cannot write a temporary file in /tmp");
    }
    if (ret == 0) ret = vsr_burn(input, script, output, &options, error);
    if (fd >= 0) unlink(script);
    free(captions);
    transcript_free(&t);
    return ret;
}
