/* probe.c: vsr_probe, what a media file holds, through the media reader (which
 * decodes the first frame, so a file that only looks like a video fails). */
#include <libavutil/rational.h>
#include <stdio.h>
#include <string.h>

#include "media/media.h"
#include "vsr.h"

int vsr_probe(const char *input, struct vsr_media_info *info, struct vsr_error *error) {
    memset(info, 0, sizeof *info);
    if (error) {
        error->code = VSR_OK;
        error->message[0] = '\0';
    }
    struct media_reader *reader = NULL;
    int ret = media_reader_open(&reader, input, 1, 0, error);
    if (ret < 0) return ret;
    const struct media_info *media = media_reader_info(reader);
    info->width = media->width;
    info->height = media->height;
    info->fps = media->frame_rate.num > 0 ? av_q2d(media->frame_rate) : 0;
    info->duration_seconds = media->duration_seconds;
    info->frame_count = media->frame_count;
    info->audio_streams = media->audio_streams;
    info->rotation_degrees = media->rotation_degrees;
    snprintf(info->video_codec, sizeof info->video_codec, "%s", media->video_codec);
    snprintf(info->container, sizeof info->container, "%s", media->container);
    media_reader_free(reader);
    return VSR_OK;
}
