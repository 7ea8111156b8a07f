/* Metrics: per-thread counts summed into a snapshot, and snapshots merged into the
 * Prometheus text format with each family once. */
#include <string.h>

#include "metrics.h"
#include "suites.h"

static const char *const routes[] = {"/", "/count"};

/* Counts the lines of text that start with prefix. */
static int linesStarting(const char *text, const char *prefix) {
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        n += strncmp(p, prefix, len) == 0;
    return n;
}

START_TEST(snapshot_sums_threads) {
    metrics *m = metricsCreate(2, routes, 2, "web\"1/42");
    ck_assert_ptr_nonnull(m);
    metricsRequest(metricsFor(m, 0), 1, 200, 0.0004);
    metricsRequest(metricsFor(m, 1), 1, 200, 0.002);
    metricsRequest(metricsFor(m, 1), 1, 503, 0.6);
    metricsRequest(metricsFor(m, 0), -1, 404, 0.0001);
    metricsRequest(metricsFor(m, 0), 0, 299, 0.0001);
    metricsRedisErrors(metricsFor(m, 1), 3);
    metricsBusy(metricsFor(m, 1), 1);
    buf b;
    bufInit(&b);
    metricsSnapshot(m, 7, &b);
    const char *s = bufCStr(&b);
    ck_assert_msg(strstr(s, "khalid_http_requests_total{worker=\"web\\\"1/42\",route=\"/count\",code=\"200\"} 2\n"), "%s", s);
    ck_assert(strstr(s, "route=\"/count\",code=\"503\"} 1\n"));
    ck_assert(strstr(s, "route=\"other\",code=\"404\"} 1\n"));
    ck_assert(strstr(s, "route=\"/\",code=\"other\"} 1\n"));
    ck_assert(strstr(s, "khalid_http_request_duration_seconds_bucket{worker=\"web\\\"1/42\",route=\"/count\",le=\"0.0005\"} 1\n"));
    ck_assert(strstr(s, "route=\"/count\",le=\"0.0025\"} 2\n"));
    ck_assert(strstr(s, "route=\"/count\",le=\"0.5\"} 2\n"));
    ck_assert(strstr(s, "route=\"/count\",le=\"1\"} 3\n"));
    ck_assert(strstr(s, "route=\"/count\",le=\"+Inf\"} 3\n"));
    ck_assert(strstr(s, "khalid_http_request_duration_seconds_count{worker=\"web\\\"1/42\",route=\"/count\"} 3\n"));
    ck_assert(strstr(s, "khalid_http_request_duration_seconds_sum{worker=\"web\\\"1/42\",route=\"/count\"} 0.602400000\n"));
    ck_assert(strstr(s, "khalid_redis_errors_total{worker=\"web\\\"1/42\"} 3\n"));
    ck_assert(strstr(s, "khalid_threads{worker=\"web\\\"1/42\"} 2\n"));
    ck_assert(strstr(s, "khalid_threads_busy{worker=\"web\\\"1/42\"} 1\n"));
    ck_assert(strstr(s, "khalid_tracking_dropped_total{worker=\"web\\\"1/42\"} 7\n"));
    bufFree(&b);
    metricsFree(m);
}
END_TEST

START_TEST(merge_groups_each_family_once) {
    metrics *a = metricsCreate(1, routes, 2, "a/1"), *z = metricsCreate(1, routes, 2, "z/2");
    metricsRequest(metricsFor(a, 0), 0, 200, 0.001);
    metricsRequest(metricsFor(z, 0), 0, 200, 0.001);
    buf sa, sz, out;
    bufInit(&sa);
    bufInit(&sz);
    bufInit(&out);
    metricsSnapshot(a, 0, &sa);
    metricsSnapshot(z, 0, &sz);
    const char *snaps[] = {bufCStr(&sa), NULL, bufCStr(&sz), "khalid_visits\nkhalid_visits 12\n"};
    metricsMerge(snaps, 4, &out);
    const char *text = bufCStr(&out);
    ck_assert_int_eq(linesStarting(text, "# TYPE khalid_http_requests_total counter"), 1);
    ck_assert_int_eq(linesStarting(text, "# HELP khalid_http_requests_total "), 1);
    ck_assert_int_eq(linesStarting(text, "khalid_http_requests_total{"), 2);
    ck_assert_int_eq(linesStarting(text, "# TYPE khalid_http_request_duration_seconds histogram"), 1);
    ck_assert_int_eq(linesStarting(text, "khalid_threads{"), 2);
    ck_assert_int_eq(linesStarting(text, "# TYPE khalid_visits gauge"), 1);
    ck_assert(strstr(text, "\nkhalid_visits 12\n"));
    /* Families with no sample are left out entirely. */
    ck_assert_int_eq(linesStarting(text, "# TYPE khalid_page_views_total"), 0);
    /* The samples of one family follow its TYPE line, with no other family between. */
    const char *type = strstr(text, "# TYPE khalid_http_requests_total");
    const char *next = strstr(type + 1, "# HELP");
    const char *second = strstr(text, "khalid_http_requests_total{worker=\"z/2\"");
    ck_assert(second > type && second < next);
    bufFree(&sa);
    bufFree(&sz);
    bufFree(&out);
    metricsFree(a);
    metricsFree(z);
}
END_TEST

START_TEST(merge_skips_what_is_not_a_sample) {
    const char *snaps[] = {
        "khalid_threads\nkhalid_threads{worker=\"x\"} 1\nkhalid_visits 99\nbogus line\nkhalid_threads_x 3\n"
        "khalid_threads{worker=\"evil\"}\x01 1\n\nnot_a_family\nkhalid_threads{worker=\"y\"} 2\n\n\n",
        "", "\n\n\n", "khalid_threads",
    };
    buf out;
    bufInit(&out);
    metricsMerge(snaps, 4, &out);
    const char *text = bufCStr(&out);
    ck_assert_int_eq(linesStarting(text, "khalid_threads{"), 1);
    ck_assert(strstr(text, "khalid_threads{worker=\"x\"} 1\n"));
    ck_assert(!strstr(text, "khalid_visits"));
    ck_assert(!strstr(text, "bogus"));
    ck_assert(!strstr(text, "evil"));
    ck_assert(!strstr(text, "worker=\"y\""));
    bufFree(&out);
}
END_TEST

/* The merge drops lines with control characters, so a worker's name must not bring one. */
START_TEST(worker_name_control_characters_survive_merge) {
    metrics *m = metricsCreate(1, routes, 2, "web\x7f\r1/42");
    buf snap, out;
    bufInit(&snap);
    bufInit(&out);
    metricsSnapshot(m, 0, &snap);
    const char *snaps[] = {bufCStr(&snap)};
    metricsMerge(snaps, 1, &out);
    const char *text = bufCStr(&out);
    ck_assert_msg(strstr(text, "khalid_threads{worker=\"web??1/42\"} 1\n"), "%s", text);
    bufFree(&snap);
    bufFree(&out);
    metricsFree(m);
}
END_TEST

Suite *metricsSuite(void) {
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, snapshot_sums_threads);
    tcase_add_test(tc, merge_groups_each_family_once);
    tcase_add_test(tc, merge_skips_what_is_not_a_sample);
    tcase_add_test(tc, worker_name_control_characters_survive_merge);
    suite_add_tcase(s, tc);
    return s;
}
