/* writer.c: encode frames (libx264, or PNG for masks) into a container
 * chosen by the file's extension, copying the audio of the source unchanged,
 * and its subtitles and attachments where the container holds them (MKV).
 *
 * The output keeps the source's exact size, colour range, colorspace and
 * field order. 4:2:0 H.264 cannot code an odd width or height (its chroma,
 * and even its cropping, go by two pixels), so such a video is written as
 * 4:4:4 H.264 (High 4:4:4 profile): the exact size, every pixel kept, at the
 * price of players that know only 4:2:0 (browsers, some phones).
 *
 * The file is written under a temporary name in the destination folder and
 * renamed when complete, so a reader of that folder never sees half a video;
 * a failed or abandoned writer removes its temporary file. Audio packets are
 * read from their own demuxer on the source and written as the video reaches
 * their time, so the muxer's interleaving queue stays short. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/random_seed.h>
#include <libswscale/swscale.h>

#include "media/media.h"
#include "util/error.h"

struct media_writer {
    AVFormatContext *format;
    AVCodecContext *encoder;
    AVStream *video;
    AVPacket *packet;
    struct SwsContext *scaler; /* to the encoder's 4:4:4 for odd sizes, else NULL */
    AVFrame *converted;
    int interlaced;            /* the encoder codes fields: frames are tagged so */
    AVFormatContext *audio_in; /* second demuxer on the source, for its audio */
    int *audio_map;            /* input stream index -> output stream index, or -1 */
    /* Per input stream: where its timestamps are expected to go on, and what
     * is added to them since they last started again (see restart_offset). */
    struct timeline *audio_lines;
    AVPacket *audio_packet;
    int audio_pending; /* audio_packet holds a packet not yet written */
    int audio_done;
    int64_t last_pts;   /* of the last frame sent, AV_NOPTS_VALUE before any */
    int64_t pts_offset; /* added to the frames' pts since they last started again */
    int64_t frame_step;
    int finished;
    char *path, *temp_path;
};

/* Timestamps and offsets beyond this are left alone: no real file has them,
 * and keeping every sum below 2^63 keeps the arithmetic defined. */
#define TIMESTAMP_LIMIT (INT64_C(1) << 61)

static int sane(int64_t ts) {
    return ts != AV_NOPTS_VALUE && ts > -TIMESTAMP_LIMIT && ts < TIMESTAMP_LIMIT;
}

/* A stream's timestamps as written: expected next, and the offset added. */
struct timeline {
    int64_t next; /* AV_NOPTS_VALUE before the first */
    int64_t offset;
};

/* A broadcast capture or files joined end to end (cat a.ts b.ts) start their
 * timestamps again part way through. A muxer refuses time that goes back, so,
 * as ffmpeg does, each stream goes on from where it was: the offset grows by
 * the jump. Video and audio start again at the same point of the file, so
 * they stay together. TS is the timestamp as read; returns it as written. */
static int64_t restart_offset(struct timeline *line, int64_t ts, int64_t duration) {
    if (!sane(ts)) return ts; /* the muxer will say what is wrong */
    if (!sane(duration) || duration < 0) duration = 0;
    int64_t out = ts + line->offset;
    if (line->next != AV_NOPTS_VALUE && out < line->next - duration &&
        sane(line->offset + (line->next - out))) {
        line->offset += line->next - out;
        out = line->next;
    }
    if (sane(out + (duration > 0 ? duration : 1))) line->next = out + (duration > 0 ? duration : 1);
    return out;
}

/* A temporary name beside PATH (".NAME.XXXXXX"), created empty so that a
 * folder we cannot write in fails here, before any work. Not mkstemp: its
 * 0600 mode would become the output's; open() with 0666 honours the umask. */
static int make_temp_file(struct media_writer *writer, const char *path, struct vsr_error *error) {
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    size_t size = strlen(path) + 16;
    writer->temp_path = av_malloc(size);
    if (!writer->temp_path) return error_set(error, VSR_E_NOMEM, "out of memory");
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(writer->temp_path, size, "%.*s.%s.%06x", (int)dir_len, path, path + dir_len,
                 av_get_random_seed() & 0xffffff);
        fd = open(writer->temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int saved = errno;
        av_freep(&writer->temp_path);
        if (dir_len)
            return error_set(error, VSR_E_OUTPUT, "cannot create output '%s' in folder '%.*s': %s",
                             path, (int)dir_len, path, strerror(saved));
        return error_set(error, VSR_E_OUTPUT, "cannot create output '%s' in this folder: %s", path,
                         strerror(saved));
    }
    close(fd);
    return 0;
}

/* CODEC names what will be written, for the refusal message. */
static const AVOutputFormat *pick_container(const char *path, const char *codec,
                                            struct vsr_error *error, int *ret) {
    const AVOutputFormat *format = av_guess_format(NULL, path, NULL);
    /* Image sequences and network targets cannot be one renamed file. */
    if (!format || (format->flags & (AVFMT_NOFILE | AVFMT_NOTIMESTAMPS)) ||
        format->video_codec == AV_CODEC_ID_NONE) {
        *ret = error_set(error, VSR_E_OUTPUT,
                         "cannot tell a video container from the name '%s': end it with .mp4, "
                         ".mkv or .mov",
                         path);
        return NULL;
    }
    /* Asked about H.264 for masks too: Matroska answers "no" to PNG although
     * it carries it (as VfW), and the containers that hold H.264 hold PNG. */
    enum AVCodecID id = AV_CODEC_ID_H264;
    if (avformat_query_codec(format, id, FF_COMPLIANCE_NORMAL) == 0) {
        *ret = error_set(error, VSR_E_OUTPUT,
                         "output '%s': a %s file cannot hold %s video; use .mp4, .mkv or .mov",
                         path, format->name, codec);
        return NULL;
    }
    *ret = 0;
    return format;
}

static int open_encoder(struct media_writer *writer, const struct media_writer_options *options,
                        struct vsr_error *error) {
    const struct media_info *like = options->like;
    const char *name = options->codec ? options->codec : "libx264";
    int is_x264 = strcmp(name, "libx264") == 0;
    const AVCodec *codec = avcodec_find_encoder_by_name(name);
    if (!codec)
        return error_set(error, VSR_E_CODEC, "the %s encoder is missing from this FFmpeg build",
                         name);
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    if (!enc) return error_set(error, VSR_E_NOMEM, "out of memory");
    writer->encoder = enc;
    enc->width = like->width;
    enc->height = like->height;
    enc->pix_fmt = options->pix_fmt > 0 ? options->pix_fmt : AV_PIX_FMT_YUV420P;
    int odd = (like->width | like->height) & 1;
    if (is_x264 && odd && enc->pix_fmt == AV_PIX_FMT_YUV420P) {
        /* See the top of the file: 4:4:4 is the only way to keep the size. */
        enc->pix_fmt = AV_PIX_FMT_YUV444P;
        writer->scaler =
            sws_getContext(like->width, like->height, AV_PIX_FMT_YUV420P, like->width, like->height,
                           AV_PIX_FMT_YUV444P, SWS_BICUBIC, NULL, NULL, NULL);
        writer->converted = av_frame_alloc();
        if (!writer->scaler || !writer->converted)
            return error_set(error, VSR_E_NOMEM, "out of memory");
        writer->converted->format = AV_PIX_FMT_YUV444P;
        writer->converted->width = like->width;
        writer->converted->height = like->height;
        if (av_frame_get_buffer(writer->converted, 0) < 0)
            return error_set(error, VSR_E_NOMEM, "out of memory");
    }
    if (is_x264) {
        /* Tagged as the source was (VUI of the stream, and the container's
         * colour fields), so that players read the pixels the same way. */
        enc->color_range = like->color_range;
        enc->colorspace = like->color_space;
        enc->color_primaries = like->color_primaries;
        enc->color_trc = like->color_trc;
        enc->chroma_sample_location = like->chroma_location;
        /* Interlaced video is coded as fields (x264's MBAFF), so that it
         * stays interlaced; x264 needs the height a multiple of 4 for it. */
        int interlaced = like->field_order > AV_FIELD_PROGRESSIVE;
        if (interlaced && like->height % 4 == 0) {
            enc->flags |= AV_CODEC_FLAG_INTERLACED_DCT | AV_CODEC_FLAG_INTERLACED_ME;
            enc->field_order = like->field_order;
            writer->interlaced =
                like->field_order == AV_FIELD_BB || like->field_order == AV_FIELD_BT ? 2 : 1;
        } else if (like->field_order != AV_FIELD_UNKNOWN) {
            enc->field_order = AV_FIELD_PROGRESSIVE;
        }
    }
    enc->time_base = like->time_base;
    if (like->frame_rate.num > 0) enc->framerate = like->frame_rate;
    enc->thread_count = options->threads > 0 ? options->threads : 0;
    if (writer->format->oformat->flags & AVFMT_GLOBALHEADER)
        enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *opts = NULL;
    if (is_x264) {
        /* A zeroed options struct means the default CRF, 18. */
        av_dict_set_int(&opts, "crf", options->crf > 0 ? options->crf : 18, 0);
        av_dict_set(&opts, "preset", options->preset ? options->preset : "veryfast", 0);
    }
    int ret = avcodec_open2(enc, codec, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        return error_set(error, error_from_av(ret, VSR_E_CODEC),
                         "cannot start the %s encoder for %dx%d video (%s)", name, enc->width,
                         enc->height, av_err2str(ret));

    writer->video = avformat_new_stream(writer->format, NULL);
    if (!writer->video) return error_set(error, VSR_E_NOMEM, "out of memory");
    ret = avcodec_parameters_from_context(writer->video->codecpar, enc);
    if (ret < 0) return error_set(error, VSR_E_NOMEM, "out of memory");
    writer->video->time_base = enc->time_base;
    if (like->frame_rate.num > 0) writer->video->avg_frame_rate = like->frame_rate;
    if (like->rotation_degrees) {
        uint8_t *matrix =
            av_stream_new_side_data(writer->video, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t));
        if (!matrix) return error_set(error, VSR_E_NOMEM, "out of memory");
        /* av_display_rotation_set takes clockwise degrees, like
         * rotation_degrees (av_display_rotation_get answers counter-clockwise). */
        av_display_rotation_set((int32_t *)matrix, (double)like->rotation_degrees);
    }
    writer->frame_step = 1;
    if (like->frame_rate.num > 0) {
        int64_t step = av_rescale_q(1, av_inv_q(like->frame_rate), like->time_base);
        if (step > 0 && sane(step)) writer->frame_step = step;
    }
    return 0;
}

/* Whether the header alone described every audio stream well enough to copy
 * it: then FFmpeg's probing, which decodes a video frame too (40 ms at
 * 1080p), is not needed. Only MP4 and MOV, whose header holds every stream's
 * full description and timing; elsewhere probing also sets the timing that
 * copying relies on (from Matroska, a packet went missing without it). */
static int audio_known(const AVFormatContext *in) {
    if (strncmp(in->iformat->name, "mov,", 4) != 0 || (in->ctx_flags & AVFMTCTX_NOHEADER)) return 0;
    for (unsigned i = 0; i < in->nb_streams; i++) {
        const AVCodecParameters *par = in->streams[i]->codecpar;
        if (par->codec_type == AVMEDIA_TYPE_AUDIO &&
            (par->codec_id == AV_CODEC_ID_NONE || par->sample_rate <= 0 ||
             par->ch_layout.nb_channels <= 0))
            return 0;
        if (par->codec_type == AVMEDIA_TYPE_UNKNOWN) return 0;
    }
    return 1;
}

/* Whether a stream of SOURCE of TYPE and CODEC is copied into FORMAT:
 * audio always (or the output is refused), subtitles and attachments
 * (fonts of ASS subtitles, cover art) where the container holds them. */
static int copied_kind(const AVOutputFormat *format, enum AVMediaType type, enum AVCodecID codec) {
    if (type == AVMEDIA_TYPE_AUDIO) return 1;
    if (type == AVMEDIA_TYPE_SUBTITLE)
        return codec != AV_CODEC_ID_NONE &&
               avformat_query_codec(format, codec, FF_COMPLIANCE_NORMAL) == 1;
    /* Of the containers we write only Matroska has attachments; it does not
     * list their codecs for avformat_query_codec. */
    if (type == AVMEDIA_TYPE_ATTACHMENT) return strcmp(format->name, "matroska") == 0;
    return 0;
}

/* Maps every audio stream of SOURCE to a new output stream, unchanged, and
 * its subtitle and attachment streams where the output holds them. */
static int open_audio(struct media_writer *writer, const char *source, struct vsr_error *error) {
    int ret = avformat_open_input(&writer->audio_in, source, NULL, NULL);
    if (ret >= 0 && !audio_known(writer->audio_in))
        ret = avformat_find_stream_info(writer->audio_in, NULL);
    if (ret < 0)
        return error_set(error, error_from_av(ret, VSR_E_INPUT),
                         "cannot read the audio of '%s' (%s)", source, av_err2str(ret));
    AVFormatContext *in = writer->audio_in;
    writer->audio_map = av_malloc_array(in->nb_streams, sizeof *writer->audio_map);
    writer->audio_lines = av_malloc_array(in->nb_streams, sizeof *writer->audio_lines);
    writer->audio_packet = av_packet_alloc();
    if (!writer->audio_map || !writer->audio_lines || !writer->audio_packet)
        return error_set(error, VSR_E_NOMEM, "out of memory");
    for (unsigned i = 0; i < in->nb_streams; i++) {
        AVStream *src = in->streams[i];
        writer->audio_map[i] = -1;
        writer->audio_lines[i] = (struct timeline){AV_NOPTS_VALUE, 0};
        enum AVMediaType type = src->codecpar->codec_type;
        if (!copied_kind(writer->format->oformat, type, src->codecpar->codec_id)) {
            src->discard = AVDISCARD_ALL;
            continue;
        }
        if (type == AVMEDIA_TYPE_AUDIO &&
            avformat_query_codec(writer->format->oformat, src->codecpar->codec_id,
                                 FF_COMPLIANCE_NORMAL) == 0)
            return error_set(error, VSR_E_OUTPUT,
                             "the %s audio of '%s' cannot be copied into a %s file: use .mkv "
                             "for the output",
                             avcodec_get_name(src->codecpar->codec_id), source,
                             writer->format->oformat->name);
        AVStream *dst = avformat_new_stream(writer->format, NULL);
        if (!dst || avcodec_parameters_copy(dst->codecpar, src->codecpar) < 0)
            return error_set(error, VSR_E_NOMEM, "out of memory");
        dst->codecpar->codec_tag = 0; /* the output container picks its own tag */
        dst->time_base = src->time_base;
        dst->disposition = src->disposition;
        av_dict_copy(&dst->metadata, src->metadata, 0);
        writer->audio_map[i] = dst->index;
    }
    return 0;
}

/* Writes the audio packets that come before time LIMIT (in BASE), all of
 * them when LIMIT is INT64_MAX. */
static int write_audio_until(struct media_writer *writer, int64_t limit, AVRational base,
                             struct vsr_error *error) {
    if (!writer->audio_in) return 0;
    AVPacket *packet = writer->audio_packet;
    while (!writer->audio_done) {
        if (!writer->audio_pending) {
            int ret = av_read_frame(writer->audio_in, packet);
            if (ret == AVERROR_EOF) {
                writer->audio_done = 1;
                break;
            }
            if (ret == AVERROR(EAGAIN)) continue;
            if (ret < 0)
                return error_set(error, error_from_av(ret, VSR_E_INPUT),
                                 "cannot read the audio of the input (%s)", av_err2str(ret));
            if (writer->audio_map[packet->stream_index] < 0) {
                av_packet_unref(packet);
                continue;
            }
            struct timeline *line = &writer->audio_lines[packet->stream_index];
            int64_t ts = packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts;
            int64_t moved = restart_offset(line, ts, packet->duration) - ts;
            if (sane(packet->pts)) packet->pts += moved;
            if (sane(packet->dts)) packet->dts += moved;
            writer->audio_pending = 1;
        }
        AVStream *src = writer->audio_in->streams[packet->stream_index];
        int64_t ts = packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts;
        if (limit != INT64_MAX && ts != AV_NOPTS_VALUE &&
            av_compare_ts(ts, src->time_base, limit, base) > 0)
            break;
        AVStream *dst = writer->format->streams[writer->audio_map[packet->stream_index]];
        packet->stream_index = dst->index;
        av_packet_rescale_ts(packet, src->time_base, dst->time_base);
        packet->pos = -1;
        writer->audio_pending = 0;
        int ret = av_interleaved_write_frame(writer->format, packet);
        if (ret < 0)
            return error_set(error, error_from_av(ret, VSR_E_OUTPUT),
                             "cannot write the audio to '%s' (%s)", writer->path, av_err2str(ret));
    }
    return 0;
}

/* Sends FRAME (NULL to flush) and writes every packet the encoder returns. */
static int encode(struct media_writer *writer, const AVFrame *frame, struct vsr_error *error) {
    int ret = avcodec_send_frame(writer->encoder, frame);
    if (ret < 0)
        return error_set(error, error_from_av(ret, VSR_E_CODEC), "the video encoder failed (%s)",
                         av_err2str(ret));
    for (;;) {
        ret = avcodec_receive_packet(writer->encoder, writer->packet);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return 0;
        if (ret < 0)
            return error_set(error, error_from_av(ret, VSR_E_CODEC),
                             "the video encoder failed (%s)", av_err2str(ret));
        writer->packet->stream_index = writer->video->index;
        av_packet_rescale_ts(writer->packet, writer->encoder->time_base, writer->video->time_base);
        ret = av_interleaved_write_frame(writer->format, writer->packet);
        if (ret < 0)
            return error_set(error, error_from_av(ret, VSR_E_OUTPUT),
                             "cannot write the video to '%s' (%s)", writer->path, av_err2str(ret));
    }
}

int media_writer_open(struct media_writer **out, const char *path,
                      const struct media_writer_options *options, struct vsr_error *error) {
    *out = NULL;
    int ret = 0;
    const char *codec = options->codec && strcmp(options->codec, "png") == 0 ? "PNG" : "H.264";
    const AVOutputFormat *container = pick_container(path, codec, error, &ret);
    if (!container) return ret;
    struct media_writer *writer = av_mallocz(sizeof *writer);
    if (!writer || !(writer->path = av_strdup(path))) {
        av_free(writer);
        return error_set(error, VSR_E_NOMEM, "out of memory");
    }
    writer->last_pts = AV_NOPTS_VALUE;
    ret = make_temp_file(writer, path, error);
    if (ret < 0) goto fail;
    ret = avformat_alloc_output_context2(&writer->format, container, NULL, writer->temp_path);
    if (ret < 0) {
        ret = error_set(error, VSR_E_NOMEM, "out of memory");
        goto fail;
    }
    writer->packet = av_packet_alloc();
    if (!writer->packet) {
        ret = error_set(error, VSR_E_NOMEM, "out of memory");
        goto fail;
    }
    ret = open_encoder(writer, options, error);
    if (ret < 0) goto fail;
    if (options->copy_audio_from) {
        ret = open_audio(writer, options->copy_audio_from, error);
        if (ret < 0) goto fail;
    }
    ret = avio_open(&writer->format->pb, writer->temp_path, AVIO_FLAG_WRITE);
    if (ret < 0) {
        ret =
            error_set(error, VSR_E_OUTPUT, "cannot write output '%s' (%s)", path, av_err2str(ret));
        goto fail;
    }
    AVDictionary *muxer_options = NULL;
    /* MP4/MOV: index first, so that players can start before the download
     * ends; costs one extra pass over the file at the end. */
    if (strstr(container->name, "mp4") || strstr(container->name, "mov"))
        av_dict_set(&muxer_options, "movflags", "+faststart", 0);
    ret = avformat_write_header(writer->format, &muxer_options);
    av_dict_free(&muxer_options);
    if (ret < 0) {
        ret = error_set(error, error_from_av(ret, VSR_E_OUTPUT),
                        "cannot start writing output '%s' (%s)", path, av_err2str(ret));
        goto fail;
    }
    *out = writer;
    return 0;
fail:
    media_writer_free(writer);
    return ret;
}

int media_writer_write(struct media_writer *writer, const AVFrame *frame, struct vsr_error *error) {
    if (writer->finished)
        return error_set(error, VSR_E_INTERNAL, "write after the output was finished");
    /* Encoders need strictly increasing timestamps: keep the source's where
     * they are, and make up the missing or repeated ones. */
    int64_t pts = frame->pts;
    if (pts == AV_NOPTS_VALUE) {
        int64_t last = writer->last_pts;
        pts = last == AV_NOPTS_VALUE ? 0
              : sane(last)           ? last + writer->frame_step
              : last < INT64_MAX     ? last + 1
                                     : last;
    } else {
        if (sane(pts)) pts += writer->pts_offset; /* |offset| < 2^61: no overflow */
        int64_t last = writer->last_pts, step = writer->frame_step;
        /* Timestamps that start again go on from here (see restart_offset);
         * one repeated, or beyond any real file, goes on by a tick. */
        if (last != AV_NOPTS_VALUE && pts <= last && last < INT64_MAX) {
            if (pts < last && sane(pts) && sane(last) && sane(step) &&
                sane(writer->pts_offset + (last + step - pts))) {
                writer->pts_offset += last + step - pts;
                pts = last + step;
            } else {
                pts = last + 1;
            }
        }
    }
    writer->last_pts = pts;

    int ret = write_audio_until(writer, pts, writer->encoder->time_base, error);
    if (ret < 0) return ret;

    if (writer->scaler) {
        AVFrame *converted = writer->converted;
        /* The encoder may still hold a reference to the last picture. */
        if (av_frame_make_writable(converted) < 0 || av_frame_copy_props(converted, frame) < 0)
            return error_set(error, VSR_E_NOMEM, "out of memory");
        sws_scale(writer->scaler, (const uint8_t *const *)frame->data, frame->linesize, 0,
                  converted->height, converted->data, converted->linesize);
        frame = converted;
    }
    AVFrame *copy = av_frame_clone(frame);
    if (!copy) return error_set(error, VSR_E_NOMEM, "out of memory");
    copy->pts = pts;
    if (writer->interlaced) { /* x264 takes each frame's field order */
        copy->interlaced_frame = 1;
        copy->top_field_first = writer->interlaced == 1;
    }
    copy->width = writer->encoder->width;
    copy->height = writer->encoder->height;
    copy->pict_type = AV_PICTURE_TYPE_NONE; /* let the encoder place keyframes */
    ret = encode(writer, copy, error);
    av_frame_free(&copy);
    return ret;
}

int media_writer_finish(struct media_writer *writer, struct vsr_error *error) {
    if (writer->finished)
        return error_set(error, VSR_E_INTERNAL, "the output was already finished");
    int ret = encode(writer, NULL, error);
    if (ret < 0) goto fail;
    ret = write_audio_until(writer, INT64_MAX, (AVRational){1, 1}, error);
    if (ret < 0) goto fail;
    ret = av_write_trailer(writer->format);
    if (ret < 0) {
        ret = error_set(error, error_from_av(ret, VSR_E_OUTPUT), "cannot finish output '%s' (%s)",
                        writer->path, av_err2str(ret));
        goto fail;
    }
    ret = avio_closep(&writer->format->pb);
    if (ret < 0) {
        ret = error_set(error, VSR_E_OUTPUT, "cannot finish output '%s' (%s)", writer->path,
                        av_err2str(ret));
        goto fail;
    }
    if (rename(writer->temp_path, writer->path) != 0) {
        ret = error_set(error, VSR_E_OUTPUT, "cannot move the finished output to '%s': %s",
                        writer->path, strerror(errno));
        goto fail;
    }
    writer->finished = 1;
    return 0;
fail:
    avio_closep(&writer->format->pb);
    unlink(writer->temp_path);
    writer->finished = 1; /* nothing more can be written; the file is gone */
    return ret;
}

int media_same_file(const char *a, const char *b) {
    if (strcmp(a, b) == 0) return 1;
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

void media_writer_free(struct media_writer *writer) {
    if (!writer) return;
    if (writer->format) avio_closep(&writer->format->pb);
    if (!writer->finished && writer->temp_path) unlink(writer->temp_path);
    avcodec_free_context(&writer->encoder);
    sws_freeContext(writer->scaler);
    av_frame_free(&writer->converted);
    avformat_free_context(writer->format);
    avformat_close_input(&writer->audio_in);
    av_packet_free(&writer->audio_packet);
    av_packet_free(&writer->packet);
    av_free(writer->audio_map);
    av_free(writer->audio_lines);
    av_free(writer->temp_path);
    av_free(writer->path);
    av_free(writer);
}
