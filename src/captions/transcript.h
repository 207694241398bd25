/* transcript.h: recognised words with their times, how they are grouped into
 * readable captions, and the files they are written to (SRT, WebVTT, JSON,
 * and ASS for burning, with the spoken word highlighted when asked).
 * Speech engines (pocketsphinx, the OpenAI-compatible HTTP API) fill a
 * transcript; everything after that is shared. */
#ifndef VSR_TRANSCRIPT_H
#define VSR_TRANSCRIPT_H

#include <stddef.h>
#include <stdio.h>

#include "media/audio.h"
#include "vsr.h"

struct transcript_word {
    char text[64];
    double start, end; /* seconds */
};

struct transcript {
    struct transcript_word *words;
    size_t count, capacity;
    double duration; /* of the audio, seconds */
    char engine[32];
    char language[16];
};

/* Appends a word (longer text is cut at a UTF-8 boundary); 0 or VSR_E_NOMEM. */
int transcript_add(struct transcript *t, const char *text, size_t length, double start, double end);
void transcript_free(struct transcript *t);

/* A transcript in lower case without punctuation (pocketsphinx's) gets
 * sentence case: a sentence ends where the speaker pauses for PAUSE seconds
 * or more, and at the end, with a full stop; its first word, and "I"
 * ("I'm", "I'll", ...), are capitalised. One with any capital or sentence
 * punctuation is left as the engine wrote it. */
void transcript_sentence_case(struct transcript *t, double pause);
#define SENTENCE_PAUSE_SECONDS 0.5

/* Caption layout, after common subtitle guidelines (e.g. the BBC's): at most
 * MAX_LINES lines of MAX_CHARS characters, shown for MIN..MAX seconds, a new
 * caption after a pause or at the end of a sentence. */
struct caption_rules {
    int max_chars; /* per line */
    int max_lines; /* 1 or 2 */
    int max_words; /* 0: no limit (the social style shows a few words at a time) */
    double min_seconds, max_seconds;
    double pause_seconds; /* a silence this long ends a caption */
};

void caption_rules_default(struct caption_rules *rules); /* 42 chars, 2 lines, 1..6 s */
void caption_rules_social(struct caption_rules *rules);  /* 3 words, 1 line */

struct caption {
    size_t first, count; /* words of the transcript */
    size_t line_break;   /* words on the first line (== count: one line) */
    double start, end;
};

/* Groups T's words into captions (malloc'd array in *OUT). 0 or VSR_E_NOMEM. */
int caption_layout(const struct transcript *t, const struct caption_rules *rules,
                   struct caption **out, size_t *count);

enum caption_format { CAPTION_SRT, CAPTION_VTT, CAPTION_JSON, CAPTION_ASS };

/* The format named by PATH's extension (.srt, .vtt, .json, .ass); -1 when none. */
int caption_format_of(const char *path);

/* Writes the captions to OUT. HIGHLIGHT (ASS only): one event per spoken
 * word, that word in the style's PrimaryColour and the rest white. */
int caption_write(FILE *out, enum caption_format format, const struct transcript *t,
                  const struct caption *captions, size_t count, int highlight);

/* Writes PATH whole or not at all (temporary file beside it, renamed). */
int caption_write_file(const char *path, enum caption_format format, const struct transcript *t,
                       const struct caption *captions, size_t count, int highlight,
                       struct vsr_error *error);

/* ---- engines ------------------------------------------------------------ */

/* Splits PCM into stretches of speech (energy above the noise floor), so
 * that each is recognised as one utterance with exact times. */
struct speech_span {
    size_t start, end; /* samples */
};
int speech_spans(const struct audio_pcm *pcm, struct speech_span **out, size_t *count);

/* Calls O's progress function (when set) with DONE of TOTAL seconds of
 * audio recognised, STARTED being when recognition began (speech_clock). */
void speech_progress(const struct vsr_transcribe_options *o, double done, double total,
                     double started);
double speech_clock(void); /* monotonic seconds */

/* CMU pocketsphinx with the en-us model of pocketsphinx-en-us. */
int transcribe_pocketsphinx(const struct audio_pcm *pcm, const struct vsr_transcribe_options *o,
                            struct transcript *t, struct vsr_error *error);

/* An OpenAI-compatible POST /v1/audio/transcriptions (verbose_json, word
 * timestamps), with retries on 429 and 5xx honouring Retry-After. */
int transcribe_openai(const struct audio_pcm *pcm, const struct vsr_transcribe_options *o,
                      struct transcript *t, struct vsr_error *error);

/* Reads the JSON of a verbose_json answer into T (the fuzz target's entry). */
int transcript_from_openai_json(const char *text, size_t length, struct transcript *t,
                                struct vsr_error *error);

#endif
