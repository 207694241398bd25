/* styles.c: caption style presets and options, as ASS style overrides.
 *
 * A style is a list of "Key=Value" overrides of ASS [V4+ Styles] fields, the
 * same language as FFmpeg's force_style, applied to every style of the track
 * by libass (ass_set_style_overrides + ass_process_force_style). Sizes and
 * margins are given in pixels of the video and turned into script units
 * (PlayResY lines), so that a preset looks the same on any script. Preset
 * sizes are in units of a 288-line script, FFmpeg's default for SRT.
 * Alignment in overrides is libass's internal (legacy SSA) value: 1-3 left,
 * centre, right, +4 top, +8 middle; users write the numpad values of ASS
 * ([V4+ Styles]), converted here. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <fontconfig/fontconfig.h>

#include "captions/captions.h"
#include "util/error.h"

#define PRESET_PLAY_RES_Y 288

struct preset {
    const char *name;
    const char *overrides; /* FontSize, Outline, Shadow, MarginV: 288-line units */
};

/* Colours are &HAABBGGRR, alpha 00 = opaque. */
static const struct preset presets[] = {
    {"classic", "FontName=Roboto,Bold=0,FontSize=20,PrimaryColour=&H00FFFFFF,"
                "OutlineColour=&H00000000,BackColour=&H00000000,BorderStyle=1,Outline=1.5,"
                "Shadow=0,Alignment=2,MarginV=16"},
    {"yellow", "FontName=Roboto,Bold=1,FontSize=20,PrimaryColour=&H0000FFFF,"
               "OutlineColour=&H00000000,BackColour=&H80000000,BorderStyle=1,Outline=1.5,"
               "Shadow=1,Alignment=2,MarginV=16"},
    {"boxed", "FontName=Inter,Bold=0,FontSize=18,PrimaryColour=&H00FFFFFF,"
              "OutlineColour=&H60000000,BackColour=&H60000000,BorderStyle=3,Outline=5,"
              "Shadow=0,Alignment=2,MarginV=18"},
    {"social", "FontName=Inter,Bold=1,FontSize=30,PrimaryColour=&H00FFFFFF,"
               "OutlineColour=&H00000000,BackColour=&H80000000,BorderStyle=1,Outline=3,"
               "Shadow=1.5,Alignment=10,MarginV=20"},
    /* \k karaoke: SecondaryColour before a word is spoken, PrimaryColour
     * from then on; captions made from word timings highlight only the
     * current word (see caption layout). */
    {"karaoke", "FontName=Inter,Bold=1,FontSize=24,PrimaryColour=&H0000E5FF,"
                "SecondaryColour=&H00FFFFFF,OutlineColour=&H00000000,BackColour=&H80000000,"
                "BorderStyle=1,Outline=2.5,Shadow=1,Alignment=2,MarginV=20"},
};

const char *const caption_style_names[] = {"classic", "yellow", "boxed", "social", "karaoke", NULL};

/* ASS [V4+ Styles] fields a style file may set (libass's names). */
static const char *const style_keys[] = {
    "FontName",   "FontSize", "PrimaryColour", "SecondaryColour", "OutlineColour",
    "BackColour", "Bold",     "Italic",        "Underline",       "StrikeOut",
    "ScaleX",     "ScaleY",   "Spacing",       "Angle",           "BorderStyle",
    "Outline",    "Shadow",   "Alignment",     "MarginL",         "MarginR",
    "MarginV",    "Encoding", "Blur",          "Justify",         NULL};

void vsr_caption_style_init(struct vsr_caption_style *style) {
    memset(style, 0, sizeof *style);
    style->margin = -1;
}

static int append(char *out, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int append(char *out, size_t size, const char *format, ...) {
    size_t used = strlen(out);
    if (used && used + 1 < size) out[used++] = ',', out[used] = '\0';
    va_list args;
    va_start(args, format);
    int n = vsnprintf(out + used, size - used, format, args);
    va_end(args);
    return n < 0 || (size_t)n >= size - used ? -1 : 0;
}

int caption_font_exists(const char *name) {
    if (!name || !*name) return 0;
    /* A config of our own, freed here: FcInit's global one lives until exit. */
    FcConfig *config = FcInitLoadConfigAndFonts();
    FcPattern *pattern = config ? FcPatternCreate() : NULL;
    int found = 0;
    if (pattern) {
        FcPatternAddString(pattern, FC_FAMILY, (const FcChar8 *)name);
        FcConfigSubstitute(config, pattern, FcMatchPattern);
        FcDefaultSubstitute(pattern);
        FcResult result;
        FcPattern *match = FcFontMatch(config, pattern, &result);
        FcChar8 *family;
        for (int i = 0;
             match && !found && FcPatternGetString(match, FC_FAMILY, i, &family) == FcResultMatch;
             i++)
            found = strcasecmp((const char *)family, name) == 0;
        if (match) FcPatternDestroy(match);
        FcPatternDestroy(pattern);
    }
    if (config) FcConfigDestroy(config);
    return found;
}

static const char *known_key(const char *key, size_t length) {
    for (int i = 0; style_keys[i]; i++)
        if (strlen(style_keys[i]) == length && strncasecmp(style_keys[i], key, length) == 0)
            return style_keys[i];
    return NULL;
}

int caption_style_parse(const char *text, size_t length, const char *name, char *out, size_t size,
                        struct vsr_error *error) {
    size_t at = 0;
    for (int line_number = 1; at < length; line_number++) {
        size_t end = at;
        while (end < length && text[end] != '\n')
            end++;
        size_t a = at, b = end;
        at = end + 1;
        while (a < b && isspace((unsigned char)text[a]))
            a++;
        while (b > a && isspace((unsigned char)text[b - 1]))
            b--;
        if (a == b || text[a] == '#' || text[a] == ';') continue;
        size_t eq = a;
        while (eq < b && text[eq] != '=')
            eq++;
        size_t key_end = eq;
        while (key_end > a && isspace((unsigned char)text[key_end - 1]))
            key_end--;
        if (eq == b || key_end == a)
            return error_set(error, VSR_E_USAGE,
                             "style file '%s', line %d: write Key=Value (e.g. FontSize=24)", name,
                             line_number);
        const char *key = known_key(text + a, key_end - a);
        if (!key)
            return error_set(error, VSR_E_USAGE,
                             "style file '%s', line %d: '%.*s' is not an ASS style field "
                             "(FontName, FontSize, PrimaryColour, Outline, Alignment, ...)",
                             name, line_number, (int)(key_end - a), text + a);
        size_t v = eq + 1;
        while (v < b && isspace((unsigned char)text[v]))
            v++;
        for (size_t i = v; i < b; i++)
            if (text[i] == ',' || (unsigned char)text[i] < 0x20)
                return error_set(error, VSR_E_USAGE,
                                 "style file '%s', line %d: the value of %s holds a comma or a "
                                 "control character",
                                 name, line_number, key);
        if (v == b)
            return error_set(error, VSR_E_USAGE, "style file '%s', line %d: %s has no value", name,
                             line_number, key);
        if (strcmp(key, "Alignment") == 0) {
            /* Numpad (1-9, as in ASS files) to libass's internal value. */
            int numpad = text[v] - '0';
            if (b - v != 1 || numpad < 1 || numpad > 9)
                return error_set(error, VSR_E_USAGE,
                                 "style file '%s', line %d: Alignment is 1 to 9 (numpad: 2 is "
                                 "bottom centre, 5 middle, 8 top)",
                                 name, line_number);
            int row = (numpad - 1) / 3;
            if (append(out, size, "Alignment=%d", (numpad - 1) % 3 + 1 + (row == 2 ? 4 : row * 8)) <
                0)
                return error_set(error, VSR_E_USAGE, "style file '%s' is too long", name);
            continue;
        }
        if (append(out, size, "%s=%.*s", key, (int)(b - v), text + v) < 0)
            return error_set(error, VSR_E_USAGE, "style file '%s' is too long", name);
    }
    return 0;
}

static int read_style_file(const char *path, char *out, size_t size, struct vsr_error *error) {
    FILE *file = fopen(path, "rb");
    if (!file) return error_set(error, VSR_E_USAGE, "cannot open style file '%s'", path);
    char text[8192];
    size_t n = fread(text, 1, sizeof text, file);
    int too_long = n == sizeof text;
    fclose(file);
    if (too_long)
        return error_set(error, VSR_E_USAGE, "style file '%s' is too long (8 KB at most)", path);
    return caption_style_parse(text, n, path, out, size, error);
}

int caption_style_overrides(const struct vsr_caption_style *style, int no_preset, int height,
                            int play_res_y, char *out, size_t size, struct vsr_error *error) {
    out[0] = '\0';
    if (play_res_y <= 0) play_res_y = PRESET_PLAY_RES_Y;
    double scale = (double)play_res_y / PRESET_PLAY_RES_Y;
    const char *name = style->style ? style->style : no_preset ? NULL : "classic";
    if (name) {
        const struct preset *preset = NULL;
        for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
            if (strcmp(presets[i].name, name) == 0) preset = &presets[i];
        if (!preset)
            return error_set(error, VSR_E_USAGE,
                             "unknown style '%s': use classic, yellow, boxed, social or karaoke",
                             name);
        /* Scale the 288-line sizes to this script. */
        char copy[1024];
        snprintf(copy, sizeof copy, "%s", preset->overrides);
        for (char *save = NULL, *item = strtok_r(copy, ",", &save); item;
             item = strtok_r(NULL, ",", &save)) {
            double value;
            char key[32];
            if (sscanf(item, "%31[^=]=%lf", key, &value) == 2 &&
                (!strcmp(key, "FontSize") || !strcmp(key, "Outline") || !strcmp(key, "Shadow") ||
                 !strcmp(key, "MarginV"))) {
                if (append(out, size, "%s=%g", key, value * scale) < 0) goto too_long;
            } else if (append(out, size, "%s", item) < 0) {
                goto too_long;
            }
        }
    }
    if (style->style_file) {
        int ret = read_style_file(style->style_file, out, size, error);
        if (ret < 0) return ret;
    }
    if (style->font) {
        if (strchr(style->font, ',') || !caption_font_exists(style->font))
            return error_set(error, VSR_E_USAGE,
                             "font '%s' is not installed (fc-list lists those that are)",
                             style->font);
        if (append(out, size, "FontName=%s", style->font) < 0) goto too_long;
    }
    if (style->size < 0 || style->size > 1000)
        return error_set(error, VSR_E_USAGE, "font size %d is out of range (1 to 1000 pixels)",
                         style->size);
    if (style->size > 0 && height > 0 &&
        append(out, size, "FontSize=%g", style->size * (double)play_res_y / height) < 0)
        goto too_long;
    if (style->position) {
        int alignment = !strcmp(style->position, "bottom")   ? 2
                        : !strcmp(style->position, "middle") ? 10
                        : !strcmp(style->position, "top")    ? 6
                                                             : 0;
        if (!alignment)
            return error_set(error, VSR_E_USAGE, "unknown position '%s': use bottom, middle or top",
                             style->position);
        if (append(out, size, "Alignment=%d", alignment) < 0) goto too_long;
    }
    if (style->margin > 10000)
        return error_set(error, VSR_E_USAGE, "margin %d is out of range", style->margin);
    if (style->margin >= 0 && height > 0 &&
        append(out, size, "MarginV=%d", (int)(style->margin * (double)play_res_y / height + 0.5)) <
            0)
        goto too_long;
    /* The preset's font must be there too: libass would draw another. */
    const char *font = NULL;
    for (const char *p = strstr(out, "FontName="); p; p = strstr(p + 1, "FontName="))
        font = p + strlen("FontName=");
    if (font) {
        char family[256];
        size_t n = strcspn(font, ",");
        snprintf(family, sizeof family, "%.*s", (int)n, font);
        if (!caption_font_exists(family))
            return error_set(error, VSR_E_USAGE,
                             "font '%s' is not installed: run scripts/install-deps.sh "
                             "(fonts-inter, fonts-roboto) or pick another with --font",
                             family);
    }
    return 0;
too_long:
    return error_set(error, VSR_E_USAGE, "the caption style is too long");
}
