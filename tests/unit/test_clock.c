/* The tracker's calendar: UTC bucket names and dates read from requests. */
#include <string.h>

#include "clock.h"
#include "suites.h"

START_TEST(bucket_names_are_utc) {
    char day[CLOCK_DAY_LEN], hour[CLOCK_HOUR_LEN], minute[CLOCK_MINUTE_LEN];
    time_t t = 1796133600 + 7 * 60 + 59;   /* 2026-12-01T14:07:59Z */
    clockDay(t, day);
    clockHour(t, hour);
    clockMinute(t, minute);
    ck_assert_str_eq(day, "2026-12-01");
    ck_assert_str_eq(hour, "2026-12-01T14");
    ck_assert_str_eq(minute, "2026-12-01T14:07");
    clockDay(0, day);
    ck_assert_str_eq(day, "1970-01-01");
    clockDay(1796169599, day);             /* the day's last second */
    ck_assert_str_eq(day, "2026-12-01");
    clockDay(1796169600, day);
    ck_assert_str_eq(day, "2026-12-02");
}
END_TEST

START_TEST(parse_day_accepts_real_dates_only) {
    time_t t;
    ck_assert_int_eq(clockParseDay("2026-12-01", &t), 0);
    ck_assert_int_eq((long long)t, 1796083200LL);
    ck_assert_int_eq(clockParseDay("1970-01-01", &t), 0);
    ck_assert_int_eq((long long)t, 0);
    ck_assert_int_eq(clockParseDay("2024-02-29", &t), 0);
    ck_assert_int_eq(clockParseDay("2000-02-29", &t), 0);
    const char *bad[] = {"", "2026-12-1", "2026-13-01", "2026-00-10", "2026-11-31", "2025-02-29",
                         "1900-02-29", "1969-12-31", "2026/12/01", "20261201xx", "2026-12-01 ",
                         " 2026-12-01", "2026-12-0a", "+026-12-01", NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(clockParseDay(bad[i], &t) == -1, "'%s' parsed", bad[i]);
}
END_TEST

START_TEST(parse_and_name_round_trip) {
    char day[CLOCK_DAY_LEN];
    for (time_t t = 0; t < (time_t)60 * 365 * 86400; t += 86400 * 37) {
        time_t back;
        clockDay(t, day);
        ck_assert_int_eq(clockParseDay(day, &back), 0);
        ck_assert_int_eq((long long)back, (long long)(t - t % 86400));
    }
}
END_TEST

Suite *clockSuite(void) {
    Suite *s = suite_create("clock");
    TCase *tc = tcase_create("clock");
    tcase_add_test(tc, bucket_names_are_utc);
    tcase_add_test(tc, parse_day_accepts_real_dates_only);
    tcase_add_test(tc, parse_and_name_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
