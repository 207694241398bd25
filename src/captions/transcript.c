/* transcript.c: words into captions, and captions into SRT, WebVTT, JSON and
 * ASS files.
 *
 * Layout is greedy, word by word: a caption grows while its words fit on
 * MAX_LINES lines and MAX_SECONDS, and ends early after a pause or a full
 * stop (a comma too, once the caption is half full). Two-line captions are
 * split where the lines are most even. A caption shorter than MIN_SECONDS is
 * held on screen longer, up to the next one's start. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "captions/transcript.h"
#include "util/error.h"

int transcript_add(struct transcript *t, const char *text, size_t length, double start,
                   double end) {
    if (t->count == t->capacity) {
        size_t capacity = t->capacity ? t->capacity * 2 : 256;
        struct transcript_word *grown = realloc(t->words, capacity * sizeof *grown);
        if (!grown) return VSR_E_NOMEM;
        t->words = grown;
        t->capacity = capacity;
    }
    struct transcript_word *w = &t->words[t->count++];
    size_t n = length < sizeof w->text - 1 ? length : sizeof w->text - 1;
    /* Do not cut a UTF-8 sequence in half. */
    while (n < length && n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
        n--;
    memcpy(w->text, text, n);
    w->text[n] = '\0';
    w->start = start;
    w->end = end < start ? start : end;
    return 0;
}

void transcript_free(struct transcript *t) {
    free(t->words);
    t->words = NULL;
    t->count = t->capacity = 0;
}

/* Whether T's text is raw: no capital and no sentence punctuation. */
static int raw_text(const struct transcript *t) {
    for (size_t i = 0; i < t->count; i++)
        for (const char *c = t->words[i].text; *c; c++)
            if ((*c >= 'A' && *c <= 'Z') || strchr(".?!", *c)) return 0;
    return 1;
}

void transcript_sentence_case(struct transcript *t, double pause) {
    if (!raw_text(t)) return;
    int starts = 1; /* the next word starts a sentence */
    for (size_t i = 0; i < t->count; i++) {
        char *w = t->words[i].text;
        /* "i" and its contractions are always capitalised. */
        if (w[0] == 'i' && (w[1] == '\0' || w[1] == '\'')) w[0] = 'I';
        if (starts && w[0] >= 'a' && w[0] <= 'z') w[0] = (char)(w[0] - 'a' + 'A');
        starts = i + 1 == t->count || t->words[i + 1].start - t->words[i].end >= pause;
        size_t n = strlen(w);
        if (starts && n > 0 && n + 1 < sizeof t->words[i].text) {
            w[n] = '.';
            w[n + 1] = '\0';
        }
    }
}

void caption_rules_default(struct caption_rules *r) {
    *r = (struct caption_rules){.max_chars = 42,
                                .max_lines = 2,
                                .min_seconds = 1.0,
                                .max_seconds = 6.0,
                                .pause_seconds = 0.6};
}

void caption_rules_social(struct caption_rules *r) {
    *r = (struct caption_rules){.max_chars = 18,
                                .max_lines = 1,
                                .max_words = 3,
                                .min_seconds = 0.4,
                                .max_seconds = 2.5,
                                .pause_seconds = 0.4};
}

/* Characters of a line (UTF-8 code points, spaces between words included). */
static int text_width(const char *s) {
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static int line_width(const struct transcript *t, size_t first, size_t count) {
    int width = 0;
    for (size_t i = first; i < first + count; i++)
        width += text_width(t->words[i].text) + (i > first);
    return width;
}

/* The most even split of words FIRST..FIRST+COUNT into two lines of at most
 * MAX characters, as the number of words on line one; 0 when none fits. */
static size_t best_break(const struct transcript *t, size_t first, size_t count, int max) {
    size_t best = 0;
    int best_longest = 1 << 30;
    for (size_t k = 1; k < count; k++) {
        int a = line_width(t, first, k), b = line_width(t, first + k, count - k);
        int longest = a > b ? a : b;
        if (a <= max && b <= max && longest < best_longest) best = k, best_longest = longest;
    }
    return best;
}

static int fits(const struct transcript *t, size_t first, size_t count,
                const struct caption_rules *r) {
    if (line_width(t, first, count) <= r->max_chars) return 1;
    return r->max_lines >= 2 && best_break(t, first, count, r->max_chars) > 0;
}

static int ends_sentence(const char *word) {
    size_t n = strlen(word);
    return n > 0 && strchr(".?!", word[n - 1]);
}

static int ends_clause(const char *word) {
    size_t n = strlen(word);
    return n > 0 && strchr(",;:", word[n - 1]);
}

int caption_layout(const struct transcript *t, const struct caption_rules *r, struct caption **out,
                   size_t *count) {
    *out = NULL;
    *count = 0;
    if (t->count == 0) return 0;
    struct caption *captions = calloc(t->count, sizeof *captions);
    if (!captions) return VSR_E_NOMEM;
    size_t n = 0;
    for (size_t first = 0; first < t->count;) {
        size_t words = 1;
        while (first + words < t->count) {
            const struct transcript_word *last = &t->words[first + words - 1], *next = last + 1;
            if (next->start - last->end >= r->pause_seconds) break;
            if (ends_sentence(last->text)) break;
            if (ends_clause(last->text) &&
                line_width(t, first, words) * 2 >= r->max_chars * r->max_lines)
                break;
            if (r->max_words && (int)words >= r->max_words) break;
            if (next->end - t->words[first].start > r->max_seconds) break;
            if (!fits(t, first, words + 1, r)) break;
            words++;
        }
        struct caption *c = &captions[n++];
        c->first = first;
        c->count = words;
        c->line_break = words;
        if (line_width(t, first, words) > r->max_chars && r->max_lines >= 2) {
            size_t k = best_break(t, first, words, r->max_chars);
            if (k) c->line_break = k;
        }
        c->start = t->words[first].start;
        c->end = t->words[first + words - 1].end;
        first += words;
    }
    for (size_t i = 0; i < n; i++) {
        double next = i + 1 < n ? captions[i + 1].start : captions[i].end + r->min_seconds;
        if (captions[i].end - captions[i].start < r->min_seconds)
            captions[i].end = captions[i].start + r->min_seconds;
        if (captions[i].end > next) captions[i].end = next;
        if (captions[i].end <= captions[i].start) captions[i].end = captions[i].start + 0.01;
    }
    *out = captions;
    *count = n;
    return 0;
}

int caption_format_of(const char *path) {
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/')) return -1;
    if (!strcasecmp(dot, ".srt")) return CAPTION_SRT;
    if (!strcasecmp(dot, ".vtt")) return CAPTION_VTT;
    if (!strcasecmp(dot, ".json")) return CAPTION_JSON;
    if (!strcasecmp(dot, ".ass")) return CAPTION_ASS;
    return -1;
}

/* HH:MM:SS + SEPARATOR + milliseconds (SRT ',', WebVTT '.'). */
static void print_time(FILE *out, double seconds, char separator) {
    long long ms = (long long)(seconds * 1000 + 0.5);
    if (ms < 0) ms = 0;
    fprintf(out, "%02lld:%02lld:%02lld%c%03lld", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60,
            separator, ms % 1000);
}

static void print_ass_time(FILE *out, double seconds) {
    long long cs = (long long)(seconds * 100 + 0.5);
    if (cs < 0) cs = 0;
    fprintf(out, "%lld:%02lld:%02lld.%02lld", cs / 360000, cs / 6000 % 60, cs / 100 % 60, cs % 100);
}

/* Text is plain words: '<' '&' would be markup in WebVTT, '{' '\' in ASS. */
static void print_word(FILE *out, const char *word, enum caption_format format) {
    for (const char *c = word; *c; c++) {
        if (format == CAPTION_VTT && *c == '<')
            fputs("&lt;", out);
        else if (format == CAPTION_VTT && *c == '&')
            fputs("&amp;", out);
        else if (format == CAPTION_ASS && (*c == '{' || *c == '}' || *c == '\\'))
            fputc(' ', out);
        else if (*c == '\n' || *c == '\r')
            fputc(' ', out);
        else
            fputc(*c, out);
    }
}

/* The caption's text; in ASS with HIGHLIGHT >= 0, that word marked. */
static void print_text(FILE *out, const struct transcript *t, const struct caption *c,
                       enum caption_format format, long highlight) {
    for (size_t i = c->first; i < c->first + c->count; i++) {
        if (i > c->first) {
            if (i - c->first == c->line_break)
                fputs(format == CAPTION_ASS ? "\\N" : "\n", out);
            else
                fputc(' ', out);
        }
        if (highlight >= 0) fputs((long)i == highlight ? "{\\r}" : "{\\1c&HFFFFFF&}", out);
        print_word(out, t->words[i].text, format);
    }
}

/* FFmpeg's default header for text subtitles (384x288 script), so that
 * preset sizes mean the same as for an SRT file. */
static const char ass_header[] =
    "[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n"
    "ScaledBorderAndShadow: yes\n\n[V4+ Styles]\n"
    "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
    "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
    "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
    "Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
    "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n";

static int write_json(FILE *out, const struct transcript *t, const struct caption *captions,
                      size_t count) {
    json_t *root = json_object(), *segments = json_array();
    if (!root || !segments) goto fail;
    json_object_set_new(root, "engine", json_string(t->engine));
    json_object_set_new(root, "language", json_string(t->language));
    json_object_set_new(root, "duration", json_real(t->duration));
    char *text = NULL;
    size_t text_size = 0;
    FILE *text_stream = open_memstream(&text, &text_size);
    if (!text_stream) goto fail;
    for (size_t i = 0; i < count; i++) {
        const struct caption *c = &captions[i];
        json_t *segment = json_object(), *words = json_array();
        char *line = NULL;
        size_t line_size = 0;
        FILE *line_stream = open_memstream(&line, &line_size);
        if (line_stream) {
            struct caption one_line = *c;
            one_line.line_break = c->count;
            print_text(line_stream, t, &one_line, CAPTION_SRT, -1);
            fclose(line_stream);
        }
        if (!segment || !words || !line) {
            json_decref(segment), json_decref(words), free(line), fclose(text_stream), free(text);
            goto fail;
        }
        fprintf(text_stream, "%s%s", i ? " " : "", line);
        for (size_t w = c->first; w < c->first + c->count; w++) {
            json_t *word = json_pack("{s:s, s:f, s:f}", "word", t->words[w].text, "start",
                                     t->words[w].start, "end", t->words[w].end);
            json_array_append_new(words, word);
        }
        json_object_set_new(segment, "start", json_real(c->start));
        json_object_set_new(segment, "end", json_real(c->end));
        json_object_set_new(segment, "text", json_string(line));
        json_object_set_new(segment, "words", words);
        json_array_append_new(segments, segment);
        free(line);
    }
    fclose(text_stream);
    json_object_set_new(root, "text", json_string(text ? text : ""));
    free(text);
    json_object_set_new(root, "segments", segments);
    int ret = json_dumpf(root, out, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
    fputc('\n', out);
    json_decref(root);
    return ret == 0 ? 0 : -1;
fail:
    json_decref(root), json_decref(segments);
    return -1;
}

int caption_write(FILE *out, enum caption_format format, const struct transcript *t,
                  const struct caption *captions, size_t count, int highlight) {
    if (format == CAPTION_JSON) return write_json(out, t, captions, count);
    if (format == CAPTION_VTT) fputs("WEBVTT\n\n", out);
    if (format == CAPTION_ASS) fputs(ass_header, out);
    for (size_t i = 0; i < count; i++) {
        const struct caption *c = &captions[i];
        if (format == CAPTION_ASS) {
            size_t events = highlight ? c->count : 1;
            for (size_t k = 0; k < events; k++) {
                size_t w = c->first + k;
                double start = highlight && k > 0 ? t->words[w].start : c->start;
                double end = highlight && k + 1 < events ? t->words[w + 1].start : c->end;
                if (end <= start) continue;
                fputs("Dialogue: 0,", out);
                print_ass_time(out, start);
                fputc(',', out);
                print_ass_time(out, end);
                fputs(",Default,,0,0,0,,", out);
                print_text(out, t, c, format, highlight ? (long)w : -1);
                fputc('\n', out);
            }
            continue;
        }
        if (format == CAPTION_SRT) fprintf(out, "%zu\n", i + 1);
        print_time(out, c->start, format == CAPTION_SRT ? ',' : '.');
        fputs(" --> ", out);
        print_time(out, c->end, format == CAPTION_SRT ? ',' : '.');
        fputc('\n', out);
        print_text(out, t, c, format, -1);
        fputs("\n\n", out);
    }
    return ferror(out) ? -1 : 0;
}

int caption_write_file(const char *path, enum caption_format format, const struct transcript *t,
                       const struct caption *captions, size_t count, int highlight,
                       struct vsr_error *error) {
    size_t size = strlen(path) + 16;
    char *temp = malloc(size);
    if (!temp) return error_set(error, VSR_E_NOMEM, "out of memory");
    snprintf(temp, size, "%s.XXXXXX", path);
    int fd = mkstemp(temp);
    if (fd < 0) {
        free(temp);
        return error_set(error, VSR_E_OUTPUT, "cannot create output '%s': check the folder", path);
    }
    FILE *out = fdopen(fd, "w");
    int ret = out ? caption_write(out, format, t, captions, count, highlight) : -1;
    if (out ? fclose(out) != 0 : close(fd) != 0) ret = -1;
    /* mkstemp makes 0600; subtitle files are for sharing. */
    if (ret == 0 && chmod(temp, 0644) != 0) ret = -1;
    if (ret == 0 && rename(temp, path) != 0) ret = -1;
    if (ret < 0) {
        unlink(temp);
        free(temp);
        return error_set(error, VSR_E_OUTPUT, "cannot write output '%s' (disk full?)", path);
    }
    free(temp);
    return 0;
}
