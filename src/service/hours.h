/* hours.h: business-hours mode. With VSR_BUSINESS_HOURS_ONLY=1 workers claim
 * jobs only between the opening and closing time of VSR_BUSINESS_HOURS
 * ("09:00-17:00"; a range that wraps past midnight, "22:00-06:00", works
 * too) in the time zone VSR_TIMEZONE; queued jobs simply wait outside them.
 *
 * Time zones: the C library knows a zone only through TZ, and setenv() is not
 * safe while other threads run, so hours_apply_timezone sets TZ once, at
 * startup, before any thread starts; from then on localtime_r (thread-safe)
 * answers in that zone, daylight saving included. Logs use UTC throughout, so
 * nothing else changes. */
#ifndef VSR_SERVICE_HOURS_H
#define VSR_SERVICE_HOURS_H

#include <time.h>

#include "vsr.h"

/* Parses "HH:MM-HH:MM" into minutes after midnight. VSR_OK or VSR_E_USAGE. */
int hours_parse(const char *text, int *open_minute, int *close_minute, struct vsr_error *error);

/* Checks that ZONE names a zone in the system's database (/usr/share/zoneinfo)
 * and makes it the process's zone (TZ). "" keeps the machine's zone. Call
 * once, from main, before starting threads. */
int hours_apply_timezone(const char *zone, struct vsr_error *error);

/* Whether local time NOW lies in [open, close) (wrapping when close < open;
 * open == close means always). Thread-safe. */
int hours_is_open(int open_minute, int close_minute, time_t now);

#endif
