/* redact.c: paths in client messages become ids (see redact.h). */
#include "util/redact.h"

#include <stdlib.h>
#include <string.h>

static int starts_word(const char *message, size_t i) {
    if (i == 0) return 1;
    return strchr(" \t\n'\"`([=", message[i - 1]) != NULL;
}

static int ends_path(char c) {
    return c == '\0' || strchr(" \t\n'\"`)],;:", c) != NULL;
}

/* The length of the path starting at P, 0 when none starts there. A path
 * after a quote runs to the closing quote (it may hold spaces). */
static size_t path_length(const char *p, char quote, const char *data_dir) {
    size_t head = 0;
    if (p[0] == '/' && p[1] != '/' && !ends_path(p[1]))
        head = 1;
    else if (strncmp(p, "./", 2) == 0 || strncmp(p, "~/", 2) == 0)
        head = 2;
    else if (strncmp(p, "../", 3) == 0)
        head = 3;
    else if (data_dir && data_dir[0] && data_dir[0] != '/') {
        size_t n = strlen(data_dir);
        if (strncmp(p, data_dir, n) == 0 && p[n] == '/') head = n + 1;
    }
    if (head == 0) return 0;
    size_t len = head;
    if (quote) {
        while (p[len] && p[len] != quote)
            len++;
        return len;
    }
    while (!ends_path(p[len]))
        len++;
    return len;
}

/* The upload or job id in the path P[0..LEN): its start in *ID, its length
 * returned; 0 when it holds none. */
static size_t id_in(const char *p, size_t len, const char **id) {
    static const char *const prefixes[] = {"upl_", "job_"};
    for (size_t i = 0; i + 4 < len; i++)
        for (size_t k = 0; k < 2; k++) {
            if (strncmp(p + i, prefixes[k], 4) != 0) continue;
            size_t n = 4;
            while (i + n < len && strchr("0123456789abcdefghijklmnopqrstuvwxyz", p[i + n]))
                n++;
            if (n > 4) {
                *id = p + i;
                return n;
            }
        }
    return 0;
}

int redact_paths(char *message, size_t size, const char *data_dir) {
    if (!message || size == 0) return 0;
    char *out = malloc(size);
    if (!out) { /* no room to rewrite: say nothing rather than a path */
        message[0] = '\0';
        return 1;
    }
    static const char placeholder[] = "(server path)";
    size_t o = 0;
    int changed = 0;
    for (size_t i = 0; message[i] && o + 1 < size;) {
        char before = i > 0 ? message[i - 1] : '\0';
        char quote = before == '\'' || before == '"' || before == '`' ? before : '\0';
        size_t len = starts_word(message, i) ? path_length(message + i, quote, data_dir) : 0;
        if (len == 0) {
            out[o++] = message[i++];
            continue;
        }
        const char *id = NULL;
        size_t id_len = id_in(message + i, len, &id);
        const char *with = id_len ? id : placeholder;
        size_t with_len = id_len ? id_len : sizeof placeholder - 1;
        if (with_len > size - 1 - o) with_len = size - 1 - o;
        memcpy(out + o, with, with_len);
        o += with_len;
        i += len;
        changed = 1;
    }
    out[o] = '\0';
    if (changed) memcpy(message, out, o + 1);
    free(out);
    return changed;
}
