/* The tracker's figures as /api/stats shows them, and the escapers behind JSON and CSV. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "stats.h"
#include "suites.h"

START_TEST(period_names) {
    ck_assert_int_eq(statsPeriodDays("day"), 1);
    ck_assert_int_eq(statsPeriodDays("7d"), 7);
    ck_assert_int_eq(statsPeriodDays("30d"), 30);
    const char *bad[] = {"", "Day", "1d", "7", "30d ", "week", NULL};
    for (int i = 0; bad[i]; i++) ck_assert_msg(statsPeriodDays(bad[i]) == 0, "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(json_has_the_documented_shape) {
    stats *st = calloc(1, sizeof(*st));
    ck_assert_ptr_nonnull(st);
    st->period = "7d";
    strcpy(st->from, "2026-11-25");
    strcpy(st->to, "2026-12-01");
    st->visits = 1234;
    st->views = 100;
    st->visitors = 10;
    st->live = 2;
    st->bots = 3;
    st->pages.n = 2;
    strcpy(st->pages.items[0].name, "/count");
    st->pages.items[0].views = 60;
    strcpy(st->pages.items[1].name, "/");
    st->pages.items[1].views = 40;
    st->referrers.n = 1;
    strcpy(st->referrers.items[0].name, "a\"b\\c");
    st->referrers.items[0].views = 5;
    for (int i = 0; i < STATS_HOURS; i++) strcpy(st->hours[i].hour, "2026-12-01T13");
    for (int i = 0; i < STATS_DAYS; i++) strcpy(st->days[i].day, "2026-12-01");
    st->hours[STATS_HOURS - 1].views = 7;
    st->hours[STATS_HOURS - 1].visitors = 2;
    buf b;
    bufInit(&b);
    statsJson(st, &b);
    const char *json = bufCStr(&b);
    const char *head = "{\"visits\": 1234,\n \"period\": {\"name\": \"7d\", \"from\": \"2026-11-25\", "
                       "\"to\": \"2026-12-01\"},\n \"views\": 100, \"visitors\": 10, \"live_visitors\": 2, "
                       "\"bots\": 3,\n \"pages\": [{\"path\": \"/count\", \"views\": 60}, "
                       "{\"path\": \"/\", \"views\": 40}],\n \"referrers\": [{\"host\": \"a\\\"b\\\\c\", "
                       "\"views\": 5}],\n \"browsers\": [],\n \"systems\": [],\n \"devices\": [],\n \"hours\": [";
    ck_assert_msg(strncmp(json, head, strlen(head)) == 0, "JSON starts: %.400s", json);
    ck_assert(strstr(json, "{\"hour\": \"2026-12-01T13:00Z\", \"views\": 7, \"visitors\": 2}],\n \"days\": [") != NULL);
    ck_assert(strstr(json, "{\"date\": \"2026-12-01\", \"views\": 0, \"visitors\": 0}]}\n") != NULL);
    int hours = 0, days = 0;
    for (const char *p = json; (p = strstr(p, "{\"hour\": ")) != NULL; p++) hours++;
    for (const char *p = json; (p = strstr(p, "{\"date\": ")) != NULL; p++) days++;
    ck_assert_int_eq(hours, STATS_HOURS);
    ck_assert_int_eq(days, STATS_DAYS);
    bufFree(&b);
    free(st);
}
END_TEST

START_TEST(json_strings_escape_quotes_backslashes_and_controls) {
    buf b;
    bufInit(&b);
    bufAppendJson(&b, "plain");
    bufAppendJson(&b, "q\"b\\n\n\t\x01\x1f\x7f\xc3\xa9");
    ck_assert_str_eq(bufCStr(&b), "\"plain\"\"q\\\"b\\\\n\\u000a\\u0009\\u0001\\u001f\x7f\xc3\xa9\"");
    bufFree(&b);
}
END_TEST

START_TEST(csv_fields_quote_and_defuse_formulas) {
    buf b;
    bufInit(&b);
    const char *in[] = {"/count", "a,b", "say \"hi\"", "=SUM(A1)", "-1", "@x", "+1", "line\nbreak", "\tx", "\rx", "", NULL};
    const char *want = "/count|\"a,b\"|\"say \"\"hi\"\"\"|'=SUM(A1)|'-1|'@x|'+1|\"line\nbreak\"|'\tx|\"'\rx\"|";
    for (int i = 0; in[i]; i++) {
        bufAppendCsv(&b, in[i]);
        if (in[i + 1]) bufAppendStr(&b, "|");
    }
    ck_assert_str_eq(bufCStr(&b), want);
    bufFree(&b);
}
END_TEST

START_TEST(signed_integers) {
    buf b;
    bufInit(&b);
    bufAppendInt(&b, 0);
    bufAppendStr(&b, " ");
    bufAppendInt(&b, -42);
    bufAppendStr(&b, " ");
    bufAppendInt(&b, -9223372036854775807LL - 1);
    bufAppendStr(&b, " ");
    bufAppendInt(&b, 9223372036854775807LL);
    ck_assert_str_eq(bufCStr(&b), "0 -42 -9223372036854775808 9223372036854775807");
    bufFree(&b);
}
END_TEST

Suite *statsSuite(void) {
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("stats");
    tcase_add_test(tc, period_names);
    tcase_add_test(tc, json_has_the_documented_shape);
    tcase_add_test(tc, json_strings_escape_quotes_backslashes_and_controls);
    tcase_add_test(tc, csv_fields_quote_and_defuse_formulas);
    tcase_add_test(tc, signed_integers);
    suite_add_tcase(s, tc);
    return s;
}
