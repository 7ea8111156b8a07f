/* clock: see clock.h. */
#include "clock.h"

#include <string.h>

#ifdef KT_FAKE_CLOCK
#include <stdlib.h>

#include "file.h"

time_t clockNow(void) {
    const char *path = getenv("KHALID_FAKE_NOW_FILE");
    char err[128], *text = path ? fileRead(path, 32, err, sizeof(err)) : NULL;
    if (text == NULL) return time(NULL);
    time_t t = (time_t)strtoll(text, NULL, 10);
    free(text);
    return t;
}
#else
time_t clockNow(void) {
    return time(NULL);
}
#endif

/* strftime of t in UTC with a literal format, "" when it does not fit (a year past 9999). */
#define UTC_NAME(t, fmt, out, n) do { \
        struct tm tm_; \
        time_t t_ = (t); \
        if (gmtime_r(&t_, &tm_) == NULL || strftime((out), (n), fmt, &tm_) == 0) (out)[0] = '\0'; \
    } while (0)

void clockDay(time_t t, char out[CLOCK_DAY_LEN]) { UTC_NAME(t, "%Y-%m-%d", out, CLOCK_DAY_LEN); }
void clockHour(time_t t, char out[CLOCK_HOUR_LEN]) { UTC_NAME(t, "%Y-%m-%dT%H", out, CLOCK_HOUR_LEN); }
void clockMinute(time_t t, char out[CLOCK_MINUTE_LEN]) { UTC_NAME(t, "%Y-%m-%dT%H:%M", out, CLOCK_MINUTE_LEN); }

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's
 * days_from_civil): timegm() is not in C11 or POSIX. */
static long long daysFromCivil(int y, int m, int d) {
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int clockParseDay(const char *s, time_t *out) {
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return -1;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap)) return -1;
    *out = (time_t)(daysFromCivil(y, m, d) * 86400);
    return 0;
}
