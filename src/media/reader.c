/* reader.c: decode the first video stream of a file into YUV420P frames.
 *
 * Besides decoding, the reader's job is to refuse broken input: a file that
 * stops in the middle must fail rather than become a short output. Demuxers
 * report a clean AVERROR_EOF at a cut, so at the end the reader compares what it
 * read against the container's index (complete for MP4/MOV, whose sample table
 * lists every packet; the cues of Matroska; the idx1 of AVI). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "media/frame_pool.h"
#include "media/media.h"
#include "util/error.h"

/* Undecodable packets are tolerated (the decoder conceals them) up to this
 * share of the stream; past it the video is too damaged to be worth keeping. */
#define MAX_BAD_PACKET_SHARE 0.10
/* Packet timestamps waiting for their frame (see count_frame): as many as the
 * decoder holds back, a few dozen at most. */
#define MAX_PENDING 256

struct media_reader {
    AVFormatContext *format;
    AVCodecContext *decoder;
    struct frame_pool *pool; /* the decoder's pictures */
    AVStream *stream;
    struct SwsContext *scaler;
    AVPacket *packet;
    AVFrame *decoded;
    AVFrame *first;        /* decoded by open, handed out by the first next() */
    int flushing;          /* the decoder was sent its end-of-stream */
    int ended;             /* next() returned 0 */
    int64_t packets_read;  /* of the video stream */
    int64_t packets_shown; /* of them, those whose frame is to be shown (not discarded) */
    int64_t bad_packets;   /* the decoder refused them */
    int64_t frames_decoded;
    int64_t frames_rescaled; /* of another size than the first, scaled to it */
    int other_width, other_height;
    int64_t last_timestamp; /* greatest pts or dts read, AV_NOPTS_VALUE before any */
    int seeked;             /* read from a keyframe on, not from the start */
    /* Display indices (see media_reader_index). The pts of packets sent whose
     * frames have not come out yet: a frame's index advances past every one
     * at or before its pts, which counts the frames the decoder skipped. */
    int skip_nonref;
    int64_t pending[MAX_PENDING];
    int pending_count;
    int uncounted;        /* a packet or frame without pts, or too many pending */
    int64_t index;        /* of the frame returned last, -1 before any */
    int64_t last_pts;     /* its pts, AV_NOPTS_VALUE before any */
    int64_t frames_total; /* once ended: frames in display order, skipped ones too */
    struct media_info info;
    char path[1024];
};

static int rotation_of(const AVStream *stream) {
    const uint8_t *matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (!matrix) return 0;
    /* av_display_rotation_get is counter-clockwise; "rotate" metadata and
     * players speak clockwise. */
    double degrees = -av_display_rotation_get((const int32_t *)matrix);
    if (degrees != degrees) return 0; /* NaN: a degenerate matrix */
    int rounded = ((int)lround(degrees / 90.0) * 90) % 360;
    return rounded < 0 ? rounded + 360 : rounded;
}

/* Reads an EBML variable-size integer (RFC 8794, section 4) at P; returns its
 * length in bytes, 0 when malformed. *UNKNOWN is set for the reserved
 * all-ones value that live recordings use for "size not known". */
static size_t read_ebml_size(const uint8_t *p, size_t n, uint64_t *value, int *unknown) {
    if (n == 0 || p[0] == 0) return 0;
    size_t len = 1;
    while (!(p[0] & (0x80 >> (len - 1))))
        len++;
    if (len > n) return 0;
    uint64_t v = p[0] & (0xff >> len);
    int all_ones = v == (uint64_t)(0xff >> len);
    for (size_t i = 1; i < len; i++) {
        v = v << 8 | p[i];
        all_ones = all_ones && p[i] == 0xff;
    }
    *value = v;
    *unknown = all_ones;
    return len;
}

/* Matroska/WebM: the Segment element says how many bytes follow it, so a
 * file shorter than that was cut. Demuxers end such files with a clean EOF. */
static int matroska_cut_short(const char *path, int64_t file_size) {
    uint8_t head[64];
    FILE *file = fopen(path, "rb");
    if (!file) return 0;
    size_t n = fread(head, 1, sizeof head, file);
    fclose(file);
    static const uint8_t ebml_id[4] = {0x1a, 0x45, 0xdf, 0xa3};
    static const uint8_t segment_id[4] = {0x18, 0x53, 0x80, 0x67};
    uint64_t size;
    int unknown;
    if (n < 8 || memcmp(head, ebml_id, 4) != 0) return 0;
    size_t len = read_ebml_size(head + 4, n - 4, &size, &unknown);
    if (!len || unknown || size > n) return 0;
    size_t at = 4 + len + (size_t)size;
    if (at + 4 > n || memcmp(head + at, segment_id, 4) != 0) return 0;
    at += 4;
    len = read_ebml_size(head + at, n - at, &size, &unknown);
    if (!len || unknown) return 0;
    return (uint64_t)file_size < at + len + size;
}

/* MP4/MOV (ISO/IEC 14496-12, section 4.2): the file is a chain of top-level
 * boxes, each starting with its size; a box that runs past the end of the
 * file was cut, even where the demuxer would read on without complaint. */
static int mp4_cut_short(const char *path, int64_t file_size) {
    FILE *file = fopen(path, "rb");
    if (!file) return 0;
    int64_t at = 0;
    int cut = 0;
    for (int boxes = 0; boxes < 10000 && at < file_size; boxes++) {
        uint8_t head[16];
        if (fseeko(file, (off_t)at, SEEK_SET) != 0 || fread(head, 1, 8, file) != 8) {
            cut = 1; /* not even a box header left */
            break;
        }
        uint64_t size =
            (uint64_t)head[0] << 24 | (uint64_t)head[1] << 16 | (uint64_t)head[2] << 8 | head[3];
        if (size == 0) break; /* "extends to the end of the file" */
        if (size == 1) {      /* 64-bit size follows the type */
            if (fread(head + 8, 1, 8, file) != 8) {
                cut = 1;
                break;
            }
            size = 0;
            for (int i = 8; i < 16; i++)
                size = size << 8 | head[i];
        }
        if (size < 8) break; /* not a box chain we understand: let the demuxer judge */
        if (size > (uint64_t)(file_size - at)) {
            cut = 1;
            break;
        }
        at += (int64_t)size;
    }
    fclose(file);
    return cut;
}

/* An index entry (MP4 sample table, Matroska cues, AVI idx1) that points
 * past the end of the file means the file was cut. */
static int index_beyond_end(AVFormatContext *format, int64_t file_size) {
    for (unsigned i = 0; i < format->nb_streams; i++) {
        AVStream *stream = format->streams[i];
        int entries = avformat_index_get_entries_count(stream);
        for (int k = entries - 1; k >= 0 && k >= entries - 16; k--) {
            const AVIndexEntry *entry = avformat_index_get_entry(stream, k);
            if (entry && entry->pos + entry->size > file_size) return 1;
        }
    }
    return 0;
}

struct media_streams {
    char path[1024];
    int index; /* of the video stream */
    AVCodecParameters *codecpar;
    struct media_info info;
};

/* Opens the file, with errors a user can act on for the common cases. */
static int open_container(struct media_reader *reader, const char *path,
                          const struct media_streams *like, struct vsr_error *error) {
    struct stat st;
    if (stat(path, &st) != 0)
        return error_set(error, VSR_E_INPUT, "cannot open input '%s': %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return error_set(error, VSR_E_INPUT, "input '%s' is a folder, not a video file", path);
    if (st.st_size == 0)
        return error_set(error, VSR_E_INPUT, "input '%s' is empty (0 bytes)", path);

    int ret = avformat_open_input(&reader->format, path, NULL, NULL);
    if (ret == AVERROR(EACCES) || ret == AVERROR(ENOENT))
        return error_set(error, VSR_E_INPUT, "cannot open input '%s': %s", path, av_err2str(ret));
    if (ret < 0)
        return error_set(error, error_from_av(ret, VSR_E_INPUT),
                         "input '%s' is not a video file FFmpeg can read, or it is truncated "
                         "(%s)",
                         path, av_err2str(ret));
    /* A second reader of a file takes its video stream's parameters from the
     * first (LIKE) rather than probing again: FFmpeg's probing decodes a
     * frame, 40 ms at 1080p. It probes still if the stream is not where the
     * first found it (a format that finds its streams only by probing). */
    AVStream *known = NULL;
    if (like && like->index < (int)reader->format->nb_streams) {
        known = reader->format->streams[like->index];
        if (known->codecpar->codec_type != AVMEDIA_TYPE_VIDEO ||
            known->codecpar->codec_id != like->codecpar->codec_id ||
            avcodec_parameters_copy(known->codecpar, like->codecpar) < 0)
            known = NULL;
    }
    ret = known ? 0 : avformat_find_stream_info(reader->format, NULL);
    if (ret < 0)
        return error_set(error, error_from_av(ret, VSR_E_INPUT),
                         "cannot read the streams of input '%s' (%s)", path, av_err2str(ret));
    if (index_beyond_end(reader->format, st.st_size) ||
        (strncmp(reader->format->iformat->name, "matroska", 8) == 0 &&
         matroska_cut_short(path, st.st_size)) ||
        (strncmp(reader->format->iformat->name, "mov,", 4) == 0 && mp4_cut_short(path, st.st_size)))
        return error_set(error, VSR_E_INPUT,
                         "input '%s' is truncated: the file is shorter than its header says "
                         "(an incomplete upload or copy?)",
                         path);
    return 0;
}

static int open_decoder(struct media_reader *reader, int threads, int flags,
                        struct vsr_error *error) {
    AVFormatContext *format = reader->format;
    for (unsigned i = 0; i < format->nb_streams; i++) {
        AVStream *s = format->streams[i];
        /* Cover art in audio files is a "video" stream of one picture. */
        if (!reader->stream && s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            !(s->disposition & AV_DISPOSITION_ATTACHED_PIC))
            reader->stream = s;
        else
            s->discard = AVDISCARD_ALL;
        if (s->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) reader->info.audio_streams++;
    }
    if (!reader->stream)
        return error_set(error, VSR_E_NO_VIDEO, "input '%s' has no video stream", reader->path);

    const AVCodecParameters *par = reader->stream->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec)
        return error_set(error, VSR_E_CODEC, "no decoder for the video codec '%s' of '%s'",
                         avcodec_get_name(par->codec_id), reader->path);
    reader->decoder = avcodec_alloc_context3(codec);
    if (!reader->decoder) return error_set(error, VSR_E_NOMEM, "out of memory");
    int ret = avcodec_parameters_to_context(reader->decoder, par);
    if (ret < 0) return error_set(error, VSR_E_NOMEM, "out of memory");
    reader->decoder->pkt_timebase = reader->stream->time_base;
    reader->pool = frame_pool_attach(reader->decoder);
    if (!reader->pool) return error_set(error, VSR_E_NOMEM, "out of memory");
    reader->decoder->thread_count = threads > 0 ? threads : 0;
    reader->decoder->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if (flags & MEDIA_READ_FAST) {
        /* Deblocking is a fifth of H.264 decoding and changes pixels by a
         * level or two: analysis does not need it. */
        reader->decoder->skip_loop_filter = AVDISCARD_ALL;
        reader->decoder->flags2 |= AV_CODEC_FLAG2_FAST;
    }
    ret = avcodec_open2(reader->decoder, codec, NULL);
    if (ret < 0)
        return error_set(error, error_from_av(ret, VSR_E_CODEC),
                         "cannot open the %s decoder for '%s' (%s)", codec->name, reader->path,
                         av_err2str(ret));
    return 0;
}

static void fill_info(struct media_reader *reader, const AVFrame *first) {
    struct media_info *info = &reader->info;
    AVStream *stream = reader->stream;
    info->width = first->width;
    info->height = first->height;
    info->time_base = stream->time_base;
    info->frame_rate = av_guess_frame_rate(reader->format, stream, NULL);
    if (info->frame_rate.num <= 0 || info->frame_rate.den <= 0)
        info->frame_rate = (AVRational){0, 1};
    if (stream->duration > 0 && stream->duration != AV_NOPTS_VALUE)
        info->duration_seconds = (double)stream->duration * av_q2d(stream->time_base);
    else if (reader->format->duration > 0)
        info->duration_seconds = (double)reader->format->duration / AV_TIME_BASE;
    if (stream->nb_frames > 0)
        info->frame_count = stream->nb_frames;
    else if (info->frame_rate.num > 0)
        info->frame_count = llround(info->duration_seconds * av_q2d(info->frame_rate));
    info->rotation_degrees = rotation_of(stream);
    info->color_range = first->color_range;
    info->color_space = first->colorspace;
    info->color_primaries = first->color_primaries;
    info->color_trc = first->color_trc;
    info->chroma_location = first->chroma_location;
    /* The container's or the bitstream's word; else what the first frame
     * says, which decoders set from the picture itself. */
    info->field_order = stream->codecpar->field_order;
    if (info->field_order == AV_FIELD_UNKNOWN)
        info->field_order = !first->interlaced_frame ? AV_FIELD_PROGRESSIVE
                            : first->top_field_first ? AV_FIELD_TT
                                                     : AV_FIELD_BB;
    snprintf(info->video_codec, sizeof info->video_codec, "%s",
             avcodec_get_name(stream->codecpar->codec_id));
    snprintf(info->container, sizeof info->container, "%s", reader->format->iformat->name);
}

/* Whether the demuxer stopped before the end its index promises. */
static int ended_early(struct media_reader *reader) {
    AVIOContext *pb = reader->format->pb;
    if (pb && pb->error < 0 && pb->error != AVERROR_EOF) return 1;
    int entries = avformat_index_get_entries_count(reader->stream);
    if (entries <= 0 || reader->last_timestamp == AV_NOPTS_VALUE) return entries > 0;
    int64_t indexed = AV_NOPTS_VALUE;
    for (int i = 0; i < entries; i++) {
        const AVIndexEntry *entry = avformat_index_get_entry(reader->stream, i);
        if (entry && entry->timestamp != AV_NOPTS_VALUE &&
            (indexed == AV_NOPTS_VALUE || entry->timestamp > indexed))
            indexed = entry->timestamp;
    }
    return indexed != AV_NOPTS_VALUE && indexed > reader->last_timestamp;
}

/* Whether FORMAT's samples span 0..255 rather than 16..235 (the JPEG
 * formats say so by their name; others by the frame's tag). */
static int full_range(const AVFrame *frame) {
    return frame->color_range == AVCOL_RANGE_JPEG || frame->format == AV_PIX_FMT_YUVJ420P ||
           frame->format == AV_PIX_FMT_YUVJ422P || frame->format == AV_PIX_FMT_YUVJ444P ||
           frame->format == AV_PIX_FMT_YUVJ440P || frame->format == AV_PIX_FMT_YUVJ411P;
}

/* Gives the frame in the engine's format: YUV420P at the size of the first
 * frame (a stream may change size midway; it is scaled back, and counted).
 * The range stays the source's, tagged on the frame: converting full range
 * to limited would lose levels and change what the output looks like. */
static int convert(struct media_reader *reader, AVFrame **out, struct vsr_error *error) {
    AVFrame *src = reader->decoded;
    int width = reader->info.width ? reader->info.width : src->width;
    int height = reader->info.height ? reader->info.height : src->height;
    src->pts = src->best_effort_timestamp;
    int full = full_range(src);
    if (src->width != width || src->height != height) {
        if (reader->frames_rescaled++ == 0) {
            reader->other_width = src->width;
            reader->other_height = src->height;
        }
    }
    /* YUVJ420P is YUV420P with full range: the same planes. */
    if ((src->format == AV_PIX_FMT_YUV420P || src->format == AV_PIX_FMT_YUVJ420P) &&
        src->width == width && src->height == height) {
        AVFrame *frame = av_frame_alloc();
        if (!frame) return error_set(error, VSR_E_NOMEM, "out of memory");
        av_frame_move_ref(frame, src);
        frame->format = AV_PIX_FMT_YUV420P;
        if (full) frame->color_range = AVCOL_RANGE_JPEG;
        *out = frame;
        return 0;
    }
    reader->scaler =
        sws_getCachedContext(reader->scaler, src->width, src->height, src->format, width, height,
                             AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
    if (!reader->scaler)
        return error_set(error, VSR_E_CODEC, "cannot convert the %s frames of '%s' to YUV 4:2:0",
                         av_get_pix_fmt_name(src->format), reader->path);
    const int *coefficients = sws_getCoefficients(
        src->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : (int)src->colorspace);
    sws_setColorspaceDetails(reader->scaler, coefficients, full, coefficients, full, 0, 1 << 16,
                             1 << 16);
    AVFrame *frame = av_frame_alloc();
    if (!frame) return error_set(error, VSR_E_NOMEM, "out of memory");
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = width;
    frame->height = height;
    if (av_frame_get_buffer(frame, 0) < 0 || av_frame_copy_props(frame, src) < 0) {
        av_frame_free(&frame);
        return error_set(error, VSR_E_NOMEM, "out of memory");
    }
    sws_scale(reader->scaler, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
              frame->data, frame->linesize);
    if (full) frame->color_range = AVCOL_RANGE_JPEG;
    av_frame_unref(src);
    *out = frame;
    return 0;
}

/* The end of the stream: either a real end, or a cut or damage to report. */
static int finish_stream(struct media_reader *reader, struct vsr_error *error) {
    if (reader->frames_decoded == 0)
        return error_set(error, VSR_E_INPUT, "input '%s': no video frame could be decoded",
                         reader->path);
    if (ended_early(reader))
        return error_set(error, VSR_E_INPUT,
                         "input '%s' is truncated: it ends before the last frame its index "
                         "lists (an incomplete upload or copy?)",
                         reader->path);
    if (!reader->seeked &&
        reader->bad_packets > MAX_BAD_PACKET_SHARE * (double)reader->packets_read)
        return error_set(error, VSR_E_INPUT,
                         "input '%s' is corrupt: %lld of %lld video packets could not be "
                         "decoded",
                         reader->path, (long long)reader->bad_packets,
                         (long long)reader->packets_read);
    reader->ended = 1;
    return 0;
}

/* Reads the next video packet into the decoder, or starts the flush. */
static int feed_decoder(struct media_reader *reader, struct vsr_error *error) {
    for (;;) {
        int ret = av_read_frame(reader->format, reader->packet);
        if (ret == AVERROR_EOF) {
            reader->flushing = 1;
            avcodec_send_packet(reader->decoder, NULL);
            return 0;
        }
        if (ret == AVERROR(EAGAIN)) continue;
        if (ret < 0)
            return error_set(error, error_from_av(ret, VSR_E_INPUT),
                             "input '%s' is corrupt or truncated (%s)", reader->path,
                             av_err2str(ret));
        AVPacket *packet = reader->packet;
        if (packet->stream_index != reader->stream->index) {
            av_packet_unref(packet);
            continue;
        }
        reader->packets_read++;
        int64_t ts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
        if (packet->dts != AV_NOPTS_VALUE && (ts == AV_NOPTS_VALUE || packet->dts > ts))
            ts = packet->dts;
        if (ts != AV_NOPTS_VALUE &&
            (reader->last_timestamp == AV_NOPTS_VALUE || ts > reader->last_timestamp))
            reader->last_timestamp = ts;
        if (packet->flags & AV_PKT_FLAG_CORRUPT) reader->bad_packets++;
        /* Frames of discarded packets (before an edit list's start) never
         * come out, skipped or not. */
        if (!(packet->flags & AV_PKT_FLAG_DISCARD)) {
            reader->packets_shown++;
            if (packet->pts == AV_NOPTS_VALUE || reader->pending_count == MAX_PENDING)
                reader->uncounted = 1;
            else
                reader->pending[reader->pending_count++] = packet->pts;
        }
        ret = avcodec_send_packet(reader->decoder, packet);
        av_packet_unref(packet);
        if (ret == AVERROR(ENOMEM)) return error_set(error, VSR_E_NOMEM, "out of memory");
        if (ret < 0 && ret != AVERROR(EAGAIN)) reader->bad_packets++;
        return 0;
    }
}

/* Removes the pending timestamps in (after, upto] and returns how many;
 * those at or before AFTER belong to frames that never come out (the leading
 * pictures of a keyframe a reader was moved to) and go uncounted. */
static int64_t take_pending(struct media_reader *reader, int64_t after, int64_t upto) {
    int64_t taken = 0;
    int kept = 0;
    for (int i = 0; i < reader->pending_count; i++) {
        int64_t pts = reader->pending[i];
        if (pts > upto)
            reader->pending[kept++] = pts;
        else if (after == AV_NOPTS_VALUE || pts > after)
            taken++;
    }
    reader->pending_count = kept;
    return taken;
}

/* Gives the frame just decoded its display index. Reading every frame, it
 * is the count; skipping, the frame after the last one returned also stands
 * for the packets between the two. The first frame after a seek is 0 (its
 * leading pictures, earlier in time, are not counted). */
static int count_frame(struct media_reader *reader, struct vsr_error *error) {
    int64_t pts = reader->decoded->pts;
    int64_t after = reader->last_pts;
    if (after == AV_NOPTS_VALUE && reader->seeked && pts != AV_NOPTS_VALUE) after = pts - 1;
    int64_t taken = pts == AV_NOPTS_VALUE ? 0 : take_pending(reader, after, pts);
    if (!reader->skip_nonref) {
        reader->index++;
    } else {
        if (reader->uncounted || taken == 0)
            return error_set(error, MEDIA_E_UNCOUNTED,
                             "input '%s': a frame's place in time is not known", reader->path);
        reader->index += taken;
    }
    if (pts != AV_NOPTS_VALUE) reader->last_pts = pts;
    return 0;
}

/* Decodes the next frame from the file, ignoring reader->first. */
static int decode_next(struct media_reader *reader, AVFrame **frame, struct vsr_error *error) {
    for (;;) {
        int ret = avcodec_receive_frame(reader->decoder, reader->decoded);
        if (ret == 0) {
            reader->frames_decoded++;
            ret = count_frame(reader, error);
            if (ret < 0) {
                av_frame_unref(reader->decoded);
                return ret;
            }
            ret = convert(reader, frame, error);
            return ret < 0 ? ret : 1;
        }
        if (ret == AVERROR_EOF || (ret == AVERROR(EAGAIN) && reader->flushing)) {
            ret = finish_stream(reader, error);
            if (ret < 0) return ret;
            /* Skipped frames after the last one returned end the video too. */
            reader->frames_total = reader->index + 1;
            if (reader->skip_nonref)
                reader->frames_total += take_pending(reader, reader->last_pts, INT64_MAX);
            return 0;
        }
        if (ret == AVERROR(ENOMEM)) return error_set(error, VSR_E_NOMEM, "out of memory");
        if (ret != AVERROR(EAGAIN)) {
            reader->bad_packets++; /* a frame that failed to decode; go on */
            continue;
        }
        ret = feed_decoder(reader, error);
        if (ret < 0) return ret;
    }
}

/* Opens PATH (as LIKE found it, when not NULL); with a SEEK_TS, moves there
 * instead of decoding the first frame, and takes LIKE's info. */
static int open_reader(struct media_reader **out, const char *path,
                       const struct media_streams *like, int threads, int flags, int64_t seek_ts,
                       struct vsr_error *error) {
    *out = NULL;
    struct media_reader *reader = av_mallocz(sizeof *reader);
    if (!reader) return error_set(error, VSR_E_NOMEM, "out of memory");
    snprintf(reader->path, sizeof reader->path, "%s", path);
    reader->last_timestamp = AV_NOPTS_VALUE;
    reader->index = -1;
    reader->last_pts = AV_NOPTS_VALUE;
    int ret = open_container(reader, path, like, error);
    if (ret < 0) goto fail;
    ret = open_decoder(reader, threads, flags, error);
    if (ret < 0) goto fail;
    if (flags & MEDIA_READ_SKIP_NONREF) media_reader_skip_nonref(reader);
    if (like && reader->stream->index != like->index) {
        ret = error_set(error, VSR_E_INPUT, "input '%s' changed while it was read", path);
        goto fail;
    }
    reader->packet = av_packet_alloc();
    reader->decoded = av_frame_alloc();
    if (!reader->packet || !reader->decoded) {
        ret = error_set(error, VSR_E_NOMEM, "out of memory");
        goto fail;
    }
    if (like && seek_ts != AV_NOPTS_VALUE) {
        reader->info = like->info;
        ret = media_reader_seek(reader, seek_ts, error);
        if (ret < 0) goto fail;
        *out = reader;
        return 0;
    }
    /* Decoding the first frame now catches files that open but cannot be
     * decoded, and gives the true frame size. */
    ret = decode_next(reader, &reader->first, error);
    if (ret < 0) goto fail;
    if (ret == 0) {
        ret = error_set(error, VSR_E_INPUT, "input '%s': no video frame could be decoded", path);
        goto fail;
    }
    fill_info(reader, reader->first);
    *out = reader;
    return 0;
fail:
    media_reader_free(reader);
    return ret;
}

int media_reader_open(struct media_reader **out, const char *path, int threads, int flags,
                      struct vsr_error *error) {
    return open_reader(out, path, NULL, threads, flags, AV_NOPTS_VALUE, error);
}

struct media_streams *media_reader_streams(const struct media_reader *reader) {
    struct media_streams *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    snprintf(s->path, sizeof s->path, "%s", reader->path);
    s->index = reader->stream->index;
    s->info = reader->info;
    s->codecpar = avcodec_parameters_alloc();
    if (!s->codecpar || avcodec_parameters_copy(s->codecpar, reader->stream->codecpar) < 0) {
        media_streams_free(s);
        return NULL;
    }
    return s;
}

void media_streams_free(struct media_streams *streams) {
    if (!streams) return;
    avcodec_parameters_free(&streams->codecpar);
    free(streams);
}

int media_reader_open_as(struct media_reader **out, const struct media_streams *like, int threads,
                         int flags, int64_t seek_ts, struct vsr_error *error) {
    return open_reader(out, like->path, like, threads, flags, seek_ts, error);
}

const struct media_info *media_reader_info(const struct media_reader *reader) {
    return &reader->info;
}

int media_reader_next(struct media_reader *reader, AVFrame **frame, struct vsr_error *error) {
    *frame = NULL;
    if (reader->first) {
        *frame = reader->first;
        reader->first = NULL;
        return 1;
    }
    if (reader->ended) return 0;
    return decode_next(reader, frame, error);
}

int64_t media_reader_index(const struct media_reader *reader) {
    return reader->index;
}

int64_t media_reader_frames_total(const struct media_reader *reader) {
    return reader->frames_total;
}

void media_reader_losses(const struct media_reader *reader, struct media_reader_losses *out) {
    *out = (struct media_reader_losses){.frames_rescaled = reader->frames_rescaled,
                                        .other_width = reader->other_width,
                                        .other_height = reader->other_height};
    /* A frame is missing for each packet shown that gave none; only those
     * the decoder refused count, as a field-coded stream (a packet per
     * field) gives one frame for two packets without losing any. */
    int64_t missing = reader->packets_shown - reader->frames_decoded;
    if (reader->seeked || reader->skip_nonref || missing <= 0) return;
    out->frames_dropped = missing < reader->bad_packets ? missing : reader->bad_packets;
}

int media_reader_skip_nonref(struct media_reader *reader) {
    enum AVCodecID codec = reader->stream->codecpar->codec_id;
    /* Only where the decoder honours it and every packet has a time: raw
     * streams (.h264) have none to count by. */
    if ((codec != AV_CODEC_ID_H264 && codec != AV_CODEC_ID_HEVC) ||
        (reader->format->iformat->flags & AVFMT_NOTIMESTAMPS))
        return 0;
    reader->decoder->skip_frame = AVDISCARD_NONREF;
    reader->skip_nonref = 1;
    return 1;
}

int media_reader_keyframes(const struct media_reader *reader, double low, double high, int64_t *ts,
                           double *seconds, int max) {
    AVStream *stream = reader->stream;
    double tb = av_q2d(stream->time_base);
    int64_t origin = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
    int entries = avformat_index_get_entries_count(stream);
    int found = 0;
    for (int i = 0; i < entries && found < max; i++) {
        const AVIndexEntry *entry = avformat_index_get_entry(stream, i);
        if (!entry || !(entry->flags & AVINDEX_KEYFRAME) || entry->timestamp == AV_NOPTS_VALUE)
            continue;
        double t = (double)(entry->timestamp - origin) * tb;
        if (t < low || t > high || (found > 0 && t <= seconds[found - 1])) continue;
        ts[found] = entry->timestamp;
        seconds[found++] = t;
    }
    return found;
}

int64_t media_reader_ts_at(const struct media_reader *reader, double seconds) {
    const AVStream *stream = reader->stream;
    int64_t origin = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
    return origin + llround(seconds / av_q2d(stream->time_base));
}

int media_reader_seek(struct media_reader *reader, int64_t ts, struct vsr_error *error) {
    /* Forward to the first keyframe at or after TS: an MP4 index holds decode
     * times, and seeking back from one lands on the keyframe before, as MP4
     * seeks by presentation time, which is later. */
    int ret = avformat_seek_file(reader->format, reader->stream->index, ts, ts, INT64_MAX, 0);
    if (ret < 0)
        return error_set(error, error_from_av(ret, VSR_E_INPUT), "cannot seek in '%s' (%s)",
                         reader->path, av_err2str(ret));
    avcodec_flush_buffers(reader->decoder);
    av_frame_free(&reader->first);
    reader->pending_count = 0;
    reader->uncounted = 0;
    reader->index = -1;
    reader->last_pts = AV_NOPTS_VALUE;
    reader->flushing = 0;
    reader->ended = 0;
    reader->seeked = 1;
    return 0;
}

void media_reader_reserve(struct media_reader *reader, int count) {
    frame_pool_reserve(reader->pool, count);
}

void media_reader_free(struct media_reader *reader) {
    if (!reader) return;
    av_frame_free(&reader->first);
    av_frame_free(&reader->decoded);
    av_packet_free(&reader->packet);
    sws_freeContext(reader->scaler);
    avcodec_free_context(&reader->decoder);
    frame_pool_free(reader->pool);
    avformat_close_input(&reader->format);
    av_free(reader);
}
