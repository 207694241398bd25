/* audio.h: the first audio stream of a media file, decoded and resampled to
 * mono 16-bit PCM at a given rate (for speech recognition). */
#ifndef VSR_MEDIA_AUDIO_H
#define VSR_MEDIA_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "vsr.h"

struct audio_pcm {
    int16_t *samples; /* malloc'd; free with audio_pcm_free */
    size_t count;
    int rate;
};

/* Decodes PATH's first audio stream into OUT at RATE Hz, mono. VSR_E_INPUT
 * when the file is missing, not media, or has no audio stream (the message
 * says which); a stream that cannot be decoded at all is VSR_E_INPUT too.
 * CANCEL (optional) stops it with VSR_E_CANCELED. */
int audio_read_mono(const char *path, int rate, struct audio_pcm *out, atomic_int *cancel,
                    struct vsr_error *error);

void audio_pcm_free(struct audio_pcm *pcm);

#endif
