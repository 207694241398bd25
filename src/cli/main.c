/* main.c: the vsr command: dispatches to the subcommands and holds what they
 * share (exit codes, error lines, JSON strings). FFmpeg's own log is silenced:
 * every failure reaches the user as one "vsr: ..." line. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "cli/cli.h"
#include "cli/commands.h"

static const char usage_text[] =
    "usage: vsr COMMAND [ARGS]\n"
    "\n"
    "Removes burned-in subtitles from videos, and draws new captions.\n"
    "\n"
    "commands (each one's --help lists its own options and their defaults):\n"
    "  remove INPUT OUTPUT [options]  write OUTPUT: INPUT without its subtitles\n"
    "      --region X,Y,W,H   look for subtitles only in this rectangle (pixels of the\n"
    "                         decoded frame); repeat for several; default: everywhere\n"
    "      --mask-out FILE    also write the mask of removed pixels (PNG gray, .mkv)\n"
    "      --crf N            x264 quality, 1 (best) .. 51 (smallest); default 18\n"
    "      --preset NAME      x264 preset (ultrafast .. veryslow); default veryfast\n"
    "      --threads N        decoder and encoder threads; default 0 (automatic)\n"
    "      --json             print progress and the result as JSON lines on stdout\n"
    "    OUTPUT's extension picks the container (.mp4, .mkv, .mov); video is\n"
    "    H.264, audio streams are copied unchanged. OUTPUT (and the mask) appear only\n"
    "    when complete. Ctrl-C cancels and removes partial files.\n"
    "  burn INPUT SUBS OUTPUT [options]     draw the captions of SUBS (SRT, WebVTT, ASS)\n"
    "      --style NAME       classic (default for SRT/VTT), yellow, boxed, social, karaoke;\n"
    "                         ASS files keep their own styles unless a style is given\n"
    "      --style-file FILE  Key=Value lines of ASS style fields (FontSize=24, ...)\n"
    "      --font NAME        font family (fc-list); --size N  font size in pixels\n"
    "      --position bottom|middle|top   --margin N  pixels from that edge\n"
    "      --crf N, --preset NAME, --threads N, --json   as for remove\n"
    "  replace INPUT SUBS OUTPUT [options]  remove the burned-in subtitles and draw SUBS,\n"
    "                         in one pass; remove's --region and burn's style options\n"
    "  transcribe INPUT [-o OUT.srt|.vtt|.json] [--language en] [--engine NAME]\n"
    "                         speech to captions; engines: pocketsphinx (default,\n"
    "                         offline), openai (VSR_TRANSCRIBE_URL, _PATH, _KEY, _MODEL)\n"
    "  caption INPUT OUTPUT [--engine NAME] [style options]   transcribe, then burn\n"
    "  probe INPUT [--json]           print what INPUT holds (size, fps, frames, audio)\n"
    "  serve [options]                run the job service: HTTP API and workers (--help)\n"
    "  worker [options]               run job workers only, on serve's database (--help)\n"
    "  keys create|list|revoke        manage API keys of the job service (--help)\n"
    "  migrate [options]              apply the job service's database migrations\n"
    "  backup DIR [--with-files]      back up the database (and files) while it runs (--help)\n"
    "  restore [--verify] DIR         check a backup, or restore it into an empty store (--help)\n"
    "  cleanup --dry-run|--execute    list or delete expired, orphaned and temporary files\n"
    "  cron daily [options]           the daily maintenance run, as POST /api/v1/cron/daily\n"
    "  plans list|show|set|remove     the plans (limits, priority, Stripe prices) (--help)\n"
    "  help                           print this text\n"
    "  --version                      print the version\n"
    "\n"
    "exit codes:\n"
    "  0  success\n"
    "  2  usage: bad command, option or argument\n"
    "  3  input: missing, unreadable, not a video, truncated or corrupt\n"
    "  4  no video: the input has no video stream\n"
    "  5  output: the output cannot be created or written (folder, extension, disk)\n"
    "  6  codec: a decoder or encoder is missing or failed\n"
    "  7  out of memory\n"
    "  8  canceled (SIGINT or SIGTERM)\n"
    "  9  internal error: a bug, please report it\n"
    "\n"
    "Set VSR_FFMPEG_LOG=1 to see FFmpeg's own messages.\n";

/* `vsr COMMAND --help` for the media commands: each lists its own options
 * and their defaults (the service commands print theirs, from the
 * configuration table). */
#define STYLE_HELP                                                                                 \
    "  --style NAME        classic, yellow, boxed, social, karaoke; default classic (an ASS\n"     \
    "                      file keeps its own styles unless one is named)\n"                       \
    "  --style-file FILE   Key=Value lines of ASS style fields (FontSize=24, ...); default none\n" \
    "  --font NAME         font family (fc-list); default the style's\n"                           \
    "  --size N            font size in pixels of the video; default the style's\n"                \
    "  --position P        bottom, middle or top; default the style's (bottom)\n"                  \
    "  --margin N          pixels from that edge; default the style's\n"
#define ENCODE_HELP                                                                                \
    "  --crf N             x264 quality, 1 (best) .. 51; default 18\n"                             \
    "  --preset NAME       x264 preset, ultrafast .. veryslow; default veryfast\n"
#define THREADS_HELP "  --threads N         decoder and encoder threads; default 0 (automatic)\n"
#define JSON_HELP                                                                                  \
    "  --json              progress and the result as JSON lines on stdout; default off\n"
#define ENGINE_HELP                                                                                \
    "  --engine NAME       pocketsphinx (offline, English) or openai (VSR_TRANSCRIBE_URL,\n"       \
    "                      _PATH, _KEY, _MODEL); default pocketsphinx\n"                           \
    "  --language CODE     ISO 639-1 language of the speech; default en\n"

static const struct command_help {
    const char *name, *text;
} command_helps[] = {
    {"remove", "usage: vsr remove INPUT OUTPUT [options]\n"
               "Writes OUTPUT: INPUT without its burned-in subtitles (container from OUTPUT's\n"
               "extension, H.264, audio copied). OUTPUT must not be INPUT.\n"
               "  --region X,Y,W,H    look only in this rectangle; repeat for several; default\n"
               "                      the whole frame\n"
               "  --mask-out FILE     also write the removed pixels (PNG gray, .mkv); default "
               "none\n" ENCODE_HELP THREADS_HELP JSON_HELP},
    {"burn",
     "usage: vsr burn INPUT SUBS OUTPUT [options]\n"
     "Draws the captions of SUBS (SRT, WebVTT or ASS) onto INPUT and writes OUTPUT.\n" STYLE_HELP
         ENCODE_HELP THREADS_HELP JSON_HELP},
    {"replace",
     "usage: vsr replace INPUT SUBS OUTPUT [options]\n"
     "Removes INPUT's burned-in subtitles and draws SUBS in their place, in one pass.\n"
     "  --region X,Y,W,H    look only in this rectangle; repeat for several; default\n"
     "                      the whole frame\n" STYLE_HELP ENCODE_HELP THREADS_HELP JSON_HELP},
    {"transcribe",
     "usage: vsr transcribe INPUT [options]\n"
     "Writes the speech of INPUT as captions (SRT, WebVTT) or timed words (JSON).\n"
     "  -o, --output FILE   .srt, .vtt or .json; default INPUT's name with .srt\n" ENGINE_HELP
         JSON_HELP},
    {"caption",
     "usage: vsr caption INPUT OUTPUT [options]\n"
     "Transcribes the speech of INPUT and draws it as captions into OUTPUT.\n" ENGINE_HELP
         STYLE_HELP ENCODE_HELP JSON_HELP},
    {"probe", "usage: vsr probe INPUT [options]\n"
              "Prints what INPUT holds: size, frame rate, frames, audio streams, rotation.\n"
              "  --json              print it as one JSON object; default off\n"},
};

/* Whether ARGV asks for help ("--help" or "-h" anywhere). */
static int wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    return 0;
}

int cli_exit_code(int status) {
    return status == VSR_OK ? 0 : 1 - status;
}

int cli_fail(int status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("vsr: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    return cli_exit_code(status);
}

int cli_parse_crf(const char *text, int *crf) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < INT_MIN || v > INT_MAX)
        return cli_fail(VSR_E_USAGE, "bad --crf '%s': give a whole number", text);
    struct vsr_error error = {0};
    if (vsr_check_crf((int)v, &error) != VSR_OK)
        return cli_fail(VSR_E_USAGE, "--crf: %s", error.message);
    *crf = (int)v;
    return 0;
}

void cli_json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(out, "\\%c", *c);
        else if (*c == '\n')
            fputs("\\n", out);
        else if (*c == '\t')
            fputs("\\t", out);
        else if (*c < 0x20)
            fprintf(out, "\\u%04x", *c);
        else
            fputc(*c, out);
    }
    fputc('"', out);
}

int main(int argc, char **argv) {
    const char *log = getenv("VSR_FFMPEG_LOG");
    av_log_set_level(log && *log && strcmp(log, "0") != 0 ? AV_LOG_INFO : AV_LOG_QUIET);
    if (argc < 2) {
        fputs(usage_text, stderr);
        return cli_exit_code(VSR_E_USAGE);
    }
    const char *command = argv[1];
    for (size_t i = 0; i < sizeof command_helps / sizeof command_helps[0]; i++)
        if (strcmp(command, command_helps[i].name) == 0 && wants_help(argc - 2, argv + 2)) {
            fputs(command_helps[i].text, stdout);
            return 0;
        }
    if (strcmp(command, "remove") == 0) return cli_remove(argc - 2, argv + 2);
    if (strcmp(command, "burn") == 0) return cli_burn(argc - 2, argv + 2);
    if (strcmp(command, "replace") == 0) return cli_replace(argc - 2, argv + 2);
    if (strcmp(command, "transcribe") == 0) return cli_transcribe(argc - 2, argv + 2);
    if (strcmp(command, "caption") == 0) return cli_caption(argc - 2, argv + 2);
    if (strcmp(command, "probe") == 0) return cli_probe(argc - 2, argv + 2);
    if (strcmp(command, "serve") == 0) return cli_serve(argc - 2, argv + 2);
    if (strcmp(command, "worker") == 0) return cli_worker(argc - 2, argv + 2);
    if (strcmp(command, "keys") == 0) return cli_keys(argc - 2, argv + 2);
    if (strcmp(command, "migrate") == 0) return cli_migrate(argc - 2, argv + 2);
    if (strcmp(command, "backup") == 0) return cli_backup(argc - 2, argv + 2);
    if (strcmp(command, "restore") == 0) return cli_restore(argc - 2, argv + 2);
    if (strcmp(command, "cleanup") == 0) return cli_cleanup(argc - 2, argv + 2);
    if (strcmp(command, "cron") == 0) return cli_cron(argc - 2, argv + 2);
    if (strcmp(command, "plans") == 0) return cli_plans(argc - 2, argv + 2);
    if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0 ||
        strcmp(command, "-h") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(command, "--version") == 0 || strcmp(command, "version") == 0) {
        printf("vsr %s\n", VSR_VERSION);
        return 0;
    }
    return cli_fail(VSR_E_USAGE, "unknown command '%s'; run 'vsr help'", command);
}
