/* subtitles.c: read an SRT, WebVTT or ASS file into a libass track.
 *
 * FFmpeg's subtitle demuxers split the file into timed packets and its text
 * decoders turn each into ASS dialogue lines with the ASS header of the file
 * (or a default one for SRT and WebVTT): the same route as FFmpeg's own
 * `subtitles` filter, so that a file renders here as it does there. Memory
 * input goes through a custom AVIOContext (for the fuzz target). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/mem.h>

#include "captions/captions.h"
#include "util/error.h"

/* An hour-long event is no subtitle; days mean a broken timestamp. */
#define MAX_EVENT_MS (24LL * 3600 * 1000)
/* Script resolutions (PlayResX/Y) that make sense for video. */
#define MIN_PLAY_RES 16
#define MAX_PLAY_RES 16384

struct memory_input {
    const uint8_t *data;
    size_t size, at;
};

static int read_memory(void *opaque, uint8_t *buffer, int size) {
    struct memory_input *in = opaque;
    size_t left = in->size - in->at;
    if (left == 0) return AVERROR_EOF;
    size_t n = (size_t)size < left ? (size_t)size : left;
    memcpy(buffer, in->data + in->at, n);
    in->at += n;
    return (int)n;
}

static int64_t seek_memory(void *opaque, int64_t offset, int whence) {
    struct memory_input *in = opaque;
    if (whence == AVSEEK_SIZE) return (int64_t)in->size;
    int64_t base = (whence & 3) == SEEK_CUR   ? (int64_t)in->at
                   : (whence & 3) == SEEK_END ? (int64_t)in->size
                                              : 0;
    int64_t to = base + offset;
    if (to < 0 || to > (int64_t)in->size) return AVERROR(EINVAL);
    in->at = (size_t)to;
    return to;
}

static const char *name_of(const char *path) {
    return path ? path : "subtitles";
}

/* Decodes every packet of the stream into TRACK. */
static int read_events(AVFormatContext *format, AVStream *stream, AVCodecContext *decoder,
                       ASS_Track *track, const char *path, struct vsr_error *error) {
    AVPacket *packet = av_packet_alloc();
    if (!packet) return error_set(error, VSR_E_NOMEM, "out of memory");
    int ret = 0, events = 0, index = 0;
    for (;;) {
        ret = av_read_frame(format, packet);
        if (ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (ret < 0) {
            ret = error_set(error, VSR_E_INPUT, "cannot read subtitle file '%s' (%s)",
                            name_of(path), av_err2str(ret));
            break;
        }
        if (packet->stream_index != stream->index) {
            av_packet_unref(packet);
            continue;
        }
        index++;
        if (packet->pts == AV_NOPTS_VALUE) {
            av_packet_unref(packet);
            ret = error_set(error, VSR_E_INPUT,
                            "subtitle %d of '%s' has no start time: check its timestamp line",
                            index, name_of(path));
            break;
        }
        int64_t start_ms = av_rescale_q(packet->pts, stream->time_base, (AVRational){1, 1000});
        int64_t length_ms =
            av_rescale_q(packet->duration, stream->time_base, (AVRational){1, 1000});
        if (start_ms < 0 || packet->duration < 0 || start_ms > MAX_EVENT_MS ||
            length_ms > MAX_EVENT_MS) {
            av_packet_unref(packet);
            ret = error_set(error, VSR_E_INPUT,
                            "subtitle %d of '%s' has bad times (starts at %lld ms, lasts %lld "
                            "ms): an event must not start before 0 or end before it starts",
                            index, name_of(path), (long long)start_ms, (long long)length_ms);
            break;
        }
        AVSubtitle sub;
        int got = 0;
        ret = avcodec_decode_subtitle2(decoder, &sub, &got, packet);
        av_packet_unref(packet);
        if (ret < 0) {
            if (ret == AVERROR_INVALIDDATA)
                ret = error_set(error, VSR_E_INPUT,
                                "subtitle %d of '%s' is not valid UTF-8 text: convert the file, "
                                "e.g. iconv -f WINDOWS-1252 -t UTF-8",
                                index, name_of(path));
            else
                ret = error_set(error, error_from_av(ret, VSR_E_INPUT),
                                "cannot decode subtitle %d of '%s' (%s)", index, name_of(path),
                                av_err2str(ret));
            break;
        }
        ret = 0;
        if (!got) continue;
        for (unsigned i = 0; i < sub.num_rects; i++) {
            char *line = sub.rects[i]->ass;
            if (!line) continue;
            ass_process_chunk(track, line, (int)strlen(line), start_ms, length_ms);
            events++;
        }
        avsubtitle_free(&sub);
    }
    av_packet_free(&packet);
    if (ret == 0 && events == 0)
        ret = error_set(error, VSR_E_INPUT,
                        "subtitle file '%s' holds no subtitles: is it empty, or are its "
                        "timestamp lines malformed?",
                        name_of(path));
    return ret;
}

static int load(ASS_Library *library, AVFormatContext *format, const char *path, ASS_Track **out,
                int *is_ass, struct vsr_error *error) {
    AVCodecContext *decoder = NULL;
    ASS_Track *track = NULL;
    int ret = avformat_open_input(&format, path ? path : "", NULL, NULL);
    if (ret < 0) {
        format = NULL; /* freed by avformat_open_input */
        ret = error_set(error, VSR_E_INPUT,
                        "'%s' is not a subtitle file FFmpeg can read: give SRT, WebVTT or ASS "
                        "(%s)",
                        name_of(path), av_err2str(ret));
        goto done;
    }
    ret = avformat_find_stream_info(format, NULL);
    if (ret < 0) {
        ret = error_set(error, VSR_E_INPUT, "cannot read subtitle file '%s' (%s)", name_of(path),
                        av_err2str(ret));
        goto done;
    }
    int index = av_find_best_stream(format, AVMEDIA_TYPE_SUBTITLE, -1, -1, NULL, 0);
    if (index < 0) {
        ret = error_set(error, VSR_E_INPUT,
                        "'%s' holds no subtitles (read as %s): give SRT, WebVTT or ASS",
                        name_of(path), format->iformat->name);
        goto done;
    }
    AVStream *stream = format->streams[index];
    const AVCodecDescriptor *descriptor = avcodec_descriptor_get(stream->codecpar->codec_id);
    const AVCodec *codec = avcodec_find_decoder(stream->codecpar->codec_id);
    if (!descriptor || !codec || !(descriptor->props & AV_CODEC_PROP_TEXT_SUB)) {
        ret = error_set(error, VSR_E_INPUT,
                        "'%s' holds %s subtitles, which are not text: give SRT, WebVTT or ASS",
                        name_of(path), avcodec_get_name(stream->codecpar->codec_id));
        goto done;
    }
    *is_ass = stream->codecpar->codec_id == AV_CODEC_ID_ASS ||
              stream->codecpar->codec_id == AV_CODEC_ID_SSA;
    decoder = avcodec_alloc_context3(codec);
    if (!decoder || avcodec_parameters_to_context(decoder, stream->codecpar) < 0) {
        ret = error_set(error, VSR_E_NOMEM, "out of memory");
        goto done;
    }
    decoder->pkt_timebase = stream->time_base;
    ret = avcodec_open2(decoder, codec, NULL);
    if (ret < 0) {
        ret = error_set(error, VSR_E_INPUT, "cannot read the %s subtitles of '%s' (%s)",
                        codec->name, name_of(path), av_err2str(ret));
        goto done;
    }
    track = ass_new_track(library);
    if (!track) {
        ret = error_set(error, VSR_E_NOMEM, "out of memory");
        goto done;
    }
    if (decoder->subtitle_header && decoder->subtitle_header_size > 0)
        ass_process_codec_private(track, (char *)decoder->subtitle_header,
                                  decoder->subtitle_header_size);
    ret = read_events(format, stream, decoder, track, path, error);
    /* libass scales the script to the frame: a script a few units wide
     * would make every glyph (and its blur) dozens of times larger, and
     * rendering crawl (found by tests/fuzz/fuzz_subtitles). */
    if (ret == 0 &&
        (track->PlayResX < MIN_PLAY_RES || track->PlayResY < MIN_PLAY_RES ||
         track->PlayResX > MAX_PLAY_RES || track->PlayResY > MAX_PLAY_RES ||
         track->PlayResX > 8 * track->PlayResY || track->PlayResY > 8 * track->PlayResX))
        ret = error_set(error, VSR_E_INPUT,
                        "the ASS script '%s' claims a %dx%d resolution (PlayResX, PlayResY): "
                        "fix its [Script Info]",
                        name_of(path), track->PlayResX, track->PlayResY);
done:
    if (ret == 0) {
        *out = track;
    } else if (track) {
        ass_free_track(track);
    }
    avcodec_free_context(&decoder);
    avformat_close_input(&format);
    return ret;
}

int subtitles_load(ASS_Library *library, const char *path, ASS_Track **out, int *is_ass,
                   struct vsr_error *error) {
    struct stat st;
    if (stat(path, &st) != 0)
        return error_set(error, VSR_E_INPUT, "cannot open subtitle file '%s': %s", path,
                         strerror(errno));
    if (S_ISDIR(st.st_mode))
        return error_set(error, VSR_E_INPUT, "subtitle file '%s' is a folder", path);
    if (st.st_size == 0)
        return error_set(error, VSR_E_INPUT, "subtitle file '%s' is empty (0 bytes)", path);
    return load(library, NULL, path, out, is_ass, error);
}

int subtitles_load_memory(ASS_Library *library, const uint8_t *data, size_t size, ASS_Track **out,
                          int *is_ass, struct vsr_error *error) {
    if (size == 0) return error_set(error, VSR_E_INPUT, "subtitle file is empty (0 bytes)");
    struct memory_input in = {.data = data, .size = size};
    enum { BUFFER_SIZE = 4096 };
    uint8_t *buffer = av_malloc(BUFFER_SIZE);
    AVIOContext *io =
        buffer ? avio_alloc_context(buffer, BUFFER_SIZE, 0, &in, read_memory, NULL, seek_memory)
               : NULL;
    AVFormatContext *format = io ? avformat_alloc_context() : NULL;
    int ret;
    if (!format) {
        if (io)
            av_freep(&io->buffer);
        else
            av_free(buffer);
        avio_context_free(&io);
        return error_set(error, VSR_E_NOMEM, "out of memory");
    }
    format->pb = io;
    ret = load(library, format, NULL, out, is_ass, error);
    av_freep(&io->buffer);
    avio_context_free(&io);
    return ret;
}
