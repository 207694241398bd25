/* hours.c: business hours (see hours.h). */
#include "service/hours.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int hours_parse(const char *text, int *open_minute, int *close_minute, struct vsr_error *error) {
    int h1, m1, h2, m2, used = 0;
    if (sscanf(text, "%2d:%2d-%2d:%2d%n", &h1, &m1, &h2, &m2, &used) != 4 || text[used] != '\0' ||
        h1 < 0 || h1 > 24 || h2 < 0 || h2 > 24 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59 ||
        (h1 == 24 && m1) || (h2 == 24 && m2)) {
        error->code = VSR_E_USAGE;
        snprintf(error->message, sizeof error->message,
                 "business hours \"%.100s\" must be HH:MM-HH:MM, e.g. 09:00-17:00", text);
        return VSR_E_USAGE;
    }
    *open_minute = h1 * 60 + m1;
    *close_minute = h2 * 60 + m2;
    return VSR_OK;
}

int hours_apply_timezone(const char *zone, struct vsr_error *error) {
    if (!zone || !*zone) return VSR_OK;
    char path[1200];
    struct stat st;
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", zone);
    if (strstr(zone, "..") || zone[0] == '/' || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        error->code = VSR_E_USAGE;
        snprintf(error->message, sizeof error->message,
                 "unknown time zone \"%.100s\"; use an IANA name such as Europe/Berlin"
                 " (the tzdata package lists them)",
                 zone);
        return VSR_E_USAGE;
    }
    setenv("TZ", zone, 1);
    tzset();
    return VSR_OK;
}

int hours_is_open(int open_minute, int close_minute, time_t now) {
    if (open_minute == close_minute) return 1;
    struct tm tm;
    localtime_r(&now, &tm);
    int minute = tm.tm_hour * 60 + tm.tm_min;
    if (open_minute < close_minute) return minute >= open_minute && minute < close_minute;
    return minute >= open_minute || minute < close_minute; /* wraps past midnight */
}
