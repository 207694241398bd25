/* audio.c: decode a file's first audio stream to mono PCM with libavcodec
 * and libswresample (which downmixes and resamples with its own filters). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#include "media/audio.h"
#include "util/error.h"

/* Packets the decoder may refuse before the stream counts as undecodable. */
#define MAX_BAD_PACKET_SHARE 0.10

struct decoding {
    AVFormatContext *format;
    AVCodecContext *decoder;
    SwrContext *resampler;
    AVPacket *packet;
    AVFrame *frame;
    int stream;
    size_t capacity;
};

static int append(struct decoding *d, struct audio_pcm *out, const uint8_t **data, int in_count,
                  struct vsr_error *error) {
    int room = swr_get_out_samples(d->resampler, in_count);
    if (room < 0) return error_set(error, VSR_E_CODEC, "audio resampling failed");
    if (out->count + (size_t)room > d->capacity) {
        size_t capacity = d->capacity ? d->capacity : 1 << 16;
        while (capacity < out->count + (size_t)room)
            capacity *= 2;
        int16_t *grown = realloc(out->samples, capacity * sizeof *grown);
        if (!grown) return error_set(error, VSR_E_NOMEM, "out of memory for the audio");
        out->samples = grown;
        d->capacity = capacity;
    }
    uint8_t *dest = (uint8_t *)(out->samples + out->count);
    int n = swr_convert(d->resampler, &dest, room, data, in_count);
    if (n < 0) return error_set(error, VSR_E_CODEC, "audio resampling failed");
    out->count += (size_t)n;
    return 0;
}

static int open_stream(struct decoding *d, const char *path, int rate, struct vsr_error *error) {
    struct stat st;
    if (stat(path, &st) != 0)
        return error_set(error, VSR_E_INPUT, "cannot open input '%s': %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode) || st.st_size == 0)
        return error_set(error, VSR_E_INPUT, "input '%s' is %s", path,
                         st.st_size == 0 ? "empty (0 bytes)" : "a folder");
    int ret = avformat_open_input(&d->format, path, NULL, NULL);
    if (ret < 0)
        return error_set(error, VSR_E_INPUT, "input '%s' is not a media file FFmpeg can read (%s)",
                         path, av_err2str(ret));
    ret = avformat_find_stream_info(d->format, NULL);
    if (ret < 0)
        return error_set(error, VSR_E_INPUT, "cannot read the streams of '%s' (%s)", path,
                         av_err2str(ret));
    const AVCodec *codec = NULL;
    d->stream = av_find_best_stream(d->format, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (d->stream == AVERROR_STREAM_NOT_FOUND)
        return error_set(error, VSR_E_INPUT,
                         "input '%s' has no audio stream: nothing to transcribe", path);
    if (d->stream < 0 || !codec)
        return error_set(error, VSR_E_CODEC, "no decoder for the audio of '%s'", path);
    for (unsigned i = 0; i < d->format->nb_streams; i++)
        if ((int)i != d->stream) d->format->streams[i]->discard = AVDISCARD_ALL;
    d->decoder = avcodec_alloc_context3(codec);
    if (!d->decoder ||
        avcodec_parameters_to_context(d->decoder, d->format->streams[d->stream]->codecpar) < 0)
        return error_set(error, VSR_E_NOMEM, "out of memory");
    d->decoder->pkt_timebase = d->format->streams[d->stream]->time_base;
    ret = avcodec_open2(d->decoder, codec, NULL);
    if (ret < 0)
        return error_set(error, VSR_E_CODEC, "cannot open the %s audio decoder for '%s' (%s)",
                         codec->name, path, av_err2str(ret));
    if (d->decoder->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&d->decoder->ch_layout, d->decoder->ch_layout.nb_channels);
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    ret = swr_alloc_set_opts2(&d->resampler, &mono, AV_SAMPLE_FMT_S16, rate, &d->decoder->ch_layout,
                              d->decoder->sample_fmt, d->decoder->sample_rate, 0, NULL);
    if (ret < 0 || d->decoder->sample_rate <= 0 || swr_init(d->resampler) < 0)
        return error_set(error, VSR_E_CODEC,
                         "cannot resample the audio of '%s' (%d Hz, %d "
                         "channels)",
                         path, d->decoder->sample_rate, d->decoder->ch_layout.nb_channels);
    d->packet = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (!d->packet || !d->frame) return error_set(error, VSR_E_NOMEM, "out of memory");
    return 0;
}

static int drain(struct decoding *d, struct audio_pcm *out, struct vsr_error *error) {
    for (;;) {
        int ret = avcodec_receive_frame(d->decoder, d->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return 0;
        if (ret < 0) return 0; /* a damaged frame: concealed as silence */
        ret =
            append(d, out, (const uint8_t **)d->frame->extended_data, d->frame->nb_samples, error);
        av_frame_unref(d->frame);
        if (ret < 0) return ret;
    }
}

int audio_read_mono(const char *path, int rate, struct audio_pcm *out, atomic_int *cancel,
                    struct vsr_error *error) {
    memset(out, 0, sizeof *out);
    out->rate = rate;
    struct decoding d = {0};
    int64_t packets = 0, bad = 0;
    int ret = open_stream(&d, path, rate, error);
    while (ret == 0) {
        if (cancel && atomic_load(cancel)) {
            ret = error_set(error, VSR_E_CANCELED, "canceled");
            break;
        }
        ret = av_read_frame(d.format, d.packet);
        if (ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (ret < 0) {
            ret = error_set(error, VSR_E_INPUT, "cannot read '%s' (%s): is it truncated?", path,
                            av_err2str(ret));
            break;
        }
        if (d.packet->stream_index == d.stream) {
            packets++;
            if (avcodec_send_packet(d.decoder, d.packet) < 0) bad++;
            ret = drain(&d, out, error);
        }
        av_packet_unref(d.packet);
    }
    if (ret == 0 && packets > 0 && (double)bad > MAX_BAD_PACKET_SHARE * (double)packets)
        ret = error_set(error, VSR_E_INPUT, "the audio of '%s' is too damaged to decode", path);
    if (ret == 0) {
        avcodec_send_packet(d.decoder, NULL);
        ret = drain(&d, out, error);
    }
    if (ret == 0) ret = append(&d, out, NULL, 0, error); /* the resampler's tail */
    av_frame_free(&d.frame);
    av_packet_free(&d.packet);
    swr_free(&d.resampler);
    avcodec_free_context(&d.decoder);
    avformat_close_input(&d.format);
    if (ret < 0) audio_pcm_free(out);
    return ret;
}

void audio_pcm_free(struct audio_pcm *pcm) {
    free(pcm->samples);
    pcm->samples = NULL;
    pcm->count = 0;
}
