/* libFuzzer target: UTC day names (clock.c), as the CSV export's from and to parameters
 * read them. The input is a date to parse, and its first eight bytes are also a time to
 * name. Besides crashes and undefined behaviour it checks that a date accepted is the
 * name of the midnight it returns, and that the name of any time parses back to that
 * day's midnight when the day lies in the years 1970 to 9999, and fails otherwise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "fuzz.h"

#define DAY_S 86400
#define YEAR_10000 253402300800LL /* 10000-01-01T00:00:00Z */

static void checkParsed(const char *s) {
    time_t t;
    char name[CLOCK_DAY_LEN];
    if (clockParseDay(s, &t) != 0) return;
    if (t < 0 || t >= YEAR_10000 || t % DAY_S != 0) abort();
    clockDay(t, name);
    if (strcmp(name, s) != 0) abort();
}

static void checkNamed(time_t t) {
    char day[CLOCK_DAY_LEN], hour[CLOCK_HOUR_LEN], minute[CLOCK_MINUTE_LEN];
    time_t parsed;
    clockDay(t, day);
    clockHour(t, hour);
    clockMinute(t, minute);
    /* The hour and minute names start with the day's name. */
    if (strncmp(hour, day, strlen(day)) != 0 || strncmp(minute, hour, strlen(hour)) != 0) abort();
    int rc = clockParseDay(day, &parsed);
    if (t >= 0 && t < YEAR_10000 ? rc != 0 || parsed != t - t % DAY_S : rc != -1) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = fuzzString(data, size);
    checkParsed(s);
    uint64_t t = 0;
    memcpy(&t, data, size < sizeof(t) ? size : sizeof(t));
    checkNamed((time_t)(int64_t)t);
    /* Raw bytes rarely make a time in range: fold them into it too. */
    checkNamed((time_t)(t % YEAR_10000));
    free(s);
    return 0;
}
