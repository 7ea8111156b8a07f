/* clock: the one clock the tracker reads, and UTC calendar names for its buckets.
 *
 * Built with -DKT_FAKE_CLOCK (the Makefile's khalid-fcgi-fakeclock, for tests only),
 * clockNow() reads the time from the file named by KHALID_FAKE_NOW_FILE when that is
 * set, so tests can cross a day or pass 48 hours; a production build has no such hook. */
#ifndef KT_CLOCK_H
#define KT_CLOCK_H

#include <stddef.h>
#include <time.h>

time_t clockNow(void);

/* UTC names, NUL-terminated: "2026-12-01" (11 bytes), "2026-12-01T13" (14 bytes),
 * "2026-12-01T13:07" (17 bytes). */
#define CLOCK_DAY_LEN 11
#define CLOCK_HOUR_LEN 14
#define CLOCK_MINUTE_LEN 17
void clockDay(time_t t, char out[CLOCK_DAY_LEN]);
void clockHour(time_t t, char out[CLOCK_HOUR_LEN]);
void clockMinute(time_t t, char out[CLOCK_MINUTE_LEN]);

/* Parses a real calendar date "YYYY-MM-DD" (years 1970-9999) into the UTC midnight that
 * starts it. Returns 0, or -1 when s is anything else. */
int clockParseDay(const char *s, time_t *out);

#endif
