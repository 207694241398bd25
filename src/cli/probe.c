/* probe.c: `vsr probe INPUT [--json]`: what a video file holds. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cli_probe(int argc, char **argv) {
    const char *input = NULL;
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return cli_fail(VSR_E_USAGE, "unknown option '%s'; run 'vsr help'", argv[i]);
        else if (!input)
            input = argv[i];
        else
            return cli_fail(VSR_E_USAGE, "too many arguments: give one INPUT");
    }
    if (!input) return cli_fail(VSR_E_USAGE, "usage: vsr probe INPUT [--json]");

    struct vsr_media_info info;
    struct vsr_error error = {0};
    int status = vsr_probe(input, &info, &error);
    if (status != VSR_OK) {
        if (json) {
            printf("{\"status\":\"%s\",\"exit_code\":%d,\"message\":", vsr_status_name(status),
                   cli_exit_code(status));
            cli_json_string(stdout, error.message);
            printf("}\n");
        }
        return cli_fail(status, "%s", error.message);
    }
    if (json) {
        printf("{\"status\":\"ok\",\"width\":%d,\"height\":%d,\"fps\":%.3f,"
               "\"duration_seconds\":%.3f,\"frame_count\":%lld,\"audio_streams\":%d,"
               "\"rotation_degrees\":%d,\"video_codec\":",
               info.width, info.height, info.fps, info.duration_seconds,
               (long long)info.frame_count, info.audio_streams, info.rotation_degrees);
        cli_json_string(stdout, info.video_codec);
        printf(",\"container\":");
        cli_json_string(stdout, info.container);
        printf("}\n");
    } else {
        printf("size:      %dx%d\n", info.width, info.height);
        printf("fps:       %.3f\n", info.fps);
        printf("duration:  %.3f s\n", info.duration_seconds);
        printf("frames:    %lld (estimate)\n", (long long)info.frame_count);
        printf("audio:     %d stream%s\n", info.audio_streams, info.audio_streams == 1 ? "" : "s");
        printf("rotation:  %d degrees\n", info.rotation_degrees);
        printf("codec:     %s\n", info.video_codec);
        printf("container: %s\n", info.container);
    }
    return 0;
}
