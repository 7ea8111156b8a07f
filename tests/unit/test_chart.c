/* Charts and badge: structure, escaping, scales, extreme values, and well-formed XML as
 * xmllint (libxml2-utils) reads it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "scratch.h"
#include "suites.h"

/* The plot area in chart.c's viewBox, which the geometry checks rely on. */
#define PLOT_LEFT 66.0
#define PLOT_RIGHT 712.0
#define PLOT_TOP 40.0
#define PLOT_BOTTOM 244.0

static buf out;
static char hourText[48][24];
static const char *hours[48];
static long long views[48], visitors[48];

/* 48 hourly labels from 2026-11-30 14:00 to 2026-12-01 13:00, as /stats gives them. */
static void setup(void) {
    bufInit(&out);
    for (int i = 0; i < 48; i++) {
        int h = (14 + i) % 24;
        snprintf(hourText[i], sizeof(hourText[i]), "2026-%s %02d:00", i < 10 ? "11-30" : "12-01", h);
        hours[i] = hourText[i];
        views[i] = i;
        visitors[i] = i / 2;
    }
    views[47] = 12;
}

static void teardown(void) {
    bufFree(&out);
}

static chart hourly(void) {
    return (chart){"hours", "Views and visitors, last 48 hours", "One pair of bars per hour.", hours, 48, 6,
                   {{"views", views, "series-views"}, {"visitors", visitors, "series-visitors"}}};
}

static const char *render(const chart *c) {
    bufReset(&out);
    ck_assert_int_eq(chartBars(&out, c), 0);
    return bufCStr(&out);
}

static int count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* The text from the element that starts with open to its closing </g>, into part. */
static const char *group(const char *svg, const char *open, char *part, size_t partlen) {
    const char *start = strstr(svg, open);
    ck_assert_msg(start != NULL, "no %s in %s", open, svg);
    const char *end = strstr(start, "</g>");
    ck_assert_ptr_nonnull(end);
    ck_assert_uint_lt((size_t)(end - start), partlen);
    memcpy(part, start, (size_t)(end - start));
    part[end - start] = '\0';
    return part;
}

/* The texts of a group's <text> elements, joined by commas: "0,500,1k". */
static const char *texts(const char *svg, const char *open) {
    static char part[1 << 16], joined[512];
    group(svg, open, part, sizeof(part));
    joined[0] = '\0';
    for (const char *p = part; (p = strstr(p, "<text")) != NULL;) {
        const char *from = strchr(p, '>') + 1, *to = strstr(from, "</text>");
        if (joined[0]) strcat(joined, ",");
        strncat(joined, from, (size_t)(to - from));
        p = to;
    }
    return joined;
}

/* The number in name="..." of the first tag at or after p that has one. */
static double attr(const char *p, const char *name) {
    char key[32];
    snprintf(key, sizeof(key), " %s=\"", name);
    const char *at = strstr(p, key);
    ck_assert_msg(at != NULL, "no %s in %.80s", name, p);
    return strtod(at + strlen(key), NULL);
}

/* Checks svg with xmllint, which must be installed: a check that cannot run fails. */
static void expectWellFormed(const char *svg, int want) {
    ck_assert_msg(system("command -v xmllint >/dev/null 2>&1") == 0,
                  "xmllint not found: install libxml2-utils (apt-get install -y libxml2-utils)");
    char path[256], cmd[512], said[1024] = "";
    scratchWrite("chart.svg", svg, path, sizeof(path));
    snprintf(cmd, sizeof(cmd), "xmllint --noout '%s' 2>&1", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(said, 1, sizeof(said) - 1, p);
    said[n] = '\0';
    int ok = pclose(p) == 0;
    ck_assert_msg(ok == want, "xmllint %s: %s\n%.400s", ok ? "accepted" : "rejected", said, svg);
}

START_TEST(bars_structure) {
    chart c = hourly();
    const char *svg = render(&c);
    const char *head = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 720 280\"";
    ck_assert_msg(strncmp(svg, head, strlen(head)) == 0, "%.120s", svg);
    ck_assert_ptr_nonnull(strstr(svg, " role=\"img\" aria-labelledby=\"hours-title hours-desc\">"));
    ck_assert_ptr_nonnull(strstr(svg, "<title id=\"hours-title\">Views and visitors, last 48 hours</title>"));
    ck_assert_ptr_nonnull(strstr(svg, "<desc id=\"hours-desc\">One pair of bars per hour.</desc>"));
    char part[1 << 16];
    ck_assert_int_eq(count(group(svg, "<g class=\"chart-bars series-views\">", part, sizeof(part)), "<rect"), 48);
    ck_assert_int_eq(count(part, "<title>"), 48);
    ck_assert_ptr_nonnull(strstr(part, "<title>2026-12-01 13:00: 12 views</title></rect>"));
    ck_assert_ptr_nonnull(strstr(part, "<title>2026-11-30 14:00: 0 views</title></rect>"));
    group(svg, "<g class=\"chart-bars series-visitors\">", part, sizeof(part));
    ck_assert_int_eq(count(part, "<rect"), 48);
    ck_assert_ptr_nonnull(strstr(part, "<title>2026-12-01 13:00: 23 visitors</title></rect>"));
    ck_assert_int_eq(count(svg, "<rect"), 96);
    /* Every 6th label back from the newest bar, its last word; every other one "alt". */
    const char *xLabels = "<g class=\"axis-label x-labels\"";
    ck_assert_str_eq(texts(svg, xLabels), "13:00,07:00,01:00,19:00,13:00,07:00,01:00,19:00");
    ck_assert_int_eq(count(group(svg, xLabels, part, sizeof(part)), "class=\"alt\""), 4);
    ck_assert_ptr_nonnull(strstr(part, "<text text-anchor=\"end\" x=\"712\""));
    ck_assert_ptr_nonnull(strstr(svg, "<tspan class=\"series-views\">\xE2\x96\xA0</tspan> views"));
    ck_assert_ptr_nonnull(strstr(svg, "<tspan dx=\"1.2em\" class=\"series-visitors\">\xE2\x96\xA0</tspan> "
                                      "visitors"));
    ck_assert_msg(strstr(svg, "style") == NULL, "a style attribute: the CSP would block it");
    ck_assert_str_eq(svg + strlen(svg) - 6, "</svg>");
    expectWellFormed(svg, 1);
}
END_TEST

START_TEST(bars_escaping) {
    const char *nasty = "<&\">'";
    const char *labels[2] = {"a <&\">' b", "<script>"};
    long long v[2] = {1, 2};
    chart c = {nasty, nasty, nasty, labels, 2, 1, {{nasty, v, nasty}, {nasty, v, "x\"onload=\"y"}}};
    const char *svg = render(&c);
    ck_assert_msg(strstr(svg, "<&") == NULL && strstr(svg, "\">'") == NULL && strstr(svg, "<script") == NULL,
                  "raw text in %s", svg);
    ck_assert_ptr_nonnull(strstr(svg, "<title>a &lt;&amp;&quot;&gt;&#39; b: 1 &lt;&amp;&quot;&gt;&#39;</title>"));
    ck_assert_ptr_nonnull(strstr(svg, "aria-labelledby=\"&lt;&amp;&quot;&gt;&#39;-title "
                                      "&lt;&amp;&quot;&gt;&#39;-desc\""));
    ck_assert_ptr_nonnull(strstr(svg, "class=\"chart-bars x&quot;onload=&quot;y\""));
    ck_assert_ptr_nonnull(strstr(svg, ">&lt;script&gt;</text>"));
    expectWellFormed(svg, 1);
}
END_TEST

START_TEST(all_zero_and_empty) {
    long long zero[48] = {0};
    chart c = hourly();
    c.series[0].values = c.series[1].values = zero;
    const char *svg = render(&c);
    ck_assert_str_eq(texts(svg, "<g class=\"axis-label y-labels\""), "0,1");
    char part[1 << 16];
    ck_assert_int_eq(count(group(svg, "<g class=\"grid\">", part, sizeof(part)), "<line"), 2);
    ck_assert_int_eq(count(svg, "height=\"0\""), 96);
    ck_assert_int_eq(count(svg, ": 0 views</title>"), 48);
    expectWellFormed(svg, 1);
    /* No bars at all still draws the axes. */
    c.n = 0;
    svg = render(&c);
    ck_assert_int_eq(count(svg, "<rect"), 0);
    ck_assert_str_eq(texts(svg, "<g class=\"axis-label y-labels\""), "0,1");
    expectWellFormed(svg, 1);
}
END_TEST

START_TEST(single_series) {
    chart c = hourly();
    c.series[1].values = NULL;
    c.labelEvery = 0; /* taken as 1 */
    c.n = 3;
    const char *svg = render(&c);
    ck_assert_ptr_null(strstr(svg, "series-visitors"));
    ck_assert_int_eq(count(svg, "<rect"), 3);
    ck_assert_int_eq(count(svg, "<tspan"), 1);
    ck_assert_str_eq(texts(svg, "<g class=\"axis-label x-labels\""), "16:00,15:00,14:00");
    /* A lone series gets the slot's 70%, not 38% of it. */
    ck_assert_double_eq_tol(attr(strstr(svg, "<rect"), "width"), (PLOT_RIGHT - PLOT_LEFT) / 3 * 0.7, 0.15);
    expectWellFormed(svg, 1);
}
END_TEST

START_TEST(bar_heights) {
    long long v[3] = {0, 5, 10}, u[3] = {-7, 1, 3};
    const char *labels[3] = {"a", "b", "c"};
    chart c = {"h", "t", "d", labels, 3, 1, {{"views", v, "series-views"}, {"visitors", u, "series-visitors"}}};
    const char *svg = render(&c);
    const char *bar = strstr(svg, "<rect");
    ck_assert_double_eq(attr(bar, "height"), 0);
    ck_assert_double_eq(attr(bar, "y"), PLOT_BOTTOM);
    bar = strstr(bar + 1, "<rect");
    ck_assert_double_eq_tol(attr(bar, "height"), (PLOT_BOTTOM - PLOT_TOP) / 2, 0.05);
    bar = strstr(bar + 1, "<rect");
    ck_assert_double_eq(attr(bar, "y"), PLOT_TOP);
    ck_assert_double_eq(attr(bar, "height"), PLOT_BOTTOM - PLOT_TOP);
    /* A negative value (outside the contract) is drawn as 0, not wrapped around. */
    ck_assert_ptr_nonnull(strstr(svg, "height=\"0\"><title>a: 0 visitors</title>"));
    /* Side by side: visitors start where views end. */
    const char *viewsBar = strstr(svg, "<rect");
    const char *visitorsBar = strstr(strstr(svg, "chart-bars series-visitors\">"), "<rect");
    ck_assert_double_eq_tol(attr(visitorsBar, "x"), attr(viewsBar, "x") + attr(viewsBar, "width"), 0.05);
}
END_TEST

START_TEST(nice_max) {
    static const struct { long long max; const char *ticks; } cases[] = {
        {1, "0,1"}, {2, "0,1,2"}, {3, "0,1,2,3,4,5"}, {5, "0,1,2,3,4,5"}, {6, "0,2,4,6,8,10"},
        {10, "0,2,4,6,8,10"}, {11, "0,5,10,15,20"}, {21, "0,10,20,30,40,50"}, {99, "0,20,40,60,80,100"},
        {101, "0,50,100,150,200"}, {1234, "0,500,1k,1.5k,2k"}, {5001, "0,2k,4k,6k,8k,10k"},
        {999999, "0,200k,400k,600k,800k,1M"}, {1000001, "0,500k,1M,1.5M,2M"},
        {3000000000LL, "0,1G,2G,3G,4G,5G"},
    };
    const char *labels[1] = {"x"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long long v[1] = {cases[i].max};
        chart c = {"n", "t", "d", labels, 1, 1, {{"views", v, "series-views"}, {NULL, NULL, NULL}}};
        const char *svg = render(&c);
        ck_assert_msg(strcmp(texts(svg, "<g class=\"axis-label y-labels\""), cases[i].ticks) == 0,
                      "max %lld: ticks %s, want %s", cases[i].max, texts(svg, "<g class=\"axis-label y-labels\""),
                      cases[i].ticks);
    }
}
END_TEST

START_TEST(huge_values) {
    long long v[3] = {9000000000000000000LL, LLONG_MAX, 1}, u[3] = {LLONG_MAX, 0, LLONG_MAX};
    const char *labels[3] = {"a", "b", "c"};
    chart c = {"h", "t", "d", labels, 3, 1, {{"views", v, "series-views"}, {"visitors", u, "series-visitors"}}};
    const char *svg = render(&c);
    ck_assert_str_eq(texts(svg, "<g class=\"axis-label y-labels\""), "0,2E,4E,6E,8E,10E");
    ck_assert_ptr_nonnull(strstr(svg, "<title>a: 9,000,000,000,000,000,000 views</title>"));
    ck_assert_ptr_nonnull(strstr(svg, "<title>b: 9,223,372,036,854,775,807 views</title>"));
    ck_assert_double_eq_tol(attr(strstr(svg, "<rect"), "height"), (PLOT_BOTTOM - PLOT_TOP) * 0.9, 0.05);
    expectWellFormed(svg, 1);
}
END_TEST

START_TEST(coordinates_plain_numbers) {
    chart c = hourly();
    const char *svg = render(&c);
    /* Every number attribute: digits with at most one decimal, never a comma. */
    static const char *const names[] = {" x=\"", " y=\"", " width=\"", " height=\"",
                                        " x1=\"", " x2=\"", " y1=\"", " y2=\""};
    int seen = 0;
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
        for (const char *p = svg; (p = strstr(p, names[k])) != NULL; seen++) {
            p += strlen(names[k]);
            size_t digits = strspn(p, "0123456789"), decimals = 0;
            if (p[digits] == '.') decimals = strspn(p + digits + 1, "0123456789") + 1;
            ck_assert_msg(digits > 0 && decimals != 1 && decimals <= 2 && p[digits + decimals] == '"',
                          "not a plain number: %.20s", p);
        }
    ck_assert_int_gt(seen, 4 * 96);
}
END_TEST

START_TEST(out_of_memory) {
    chart c = hourly();
    out.oom = 1;
    ck_assert_int_eq(chartBars(&out, &c), -1);
    ck_assert_int_eq(chartBadge(&out, "visits", "1"), -1);
}
END_TEST

START_TEST(xmllint_rejects_malformed) {
    /* The checker the others rely on can say no. */
    expectWellFormed("<svg xmlns=\"http://www.w3.org/2000/svg\"><g></svg>", 0);
    expectWellFormed("<svg xmlns=\"http://www.w3.org/2000/svg\"><title>a & b</title></svg>", 0);
}
END_TEST

START_TEST(badge) {
    ck_assert_int_eq(chartBadge(&out, "visits", "1,234"), 0);
    const char *svg = bufCStr(&out), *head = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"";
    ck_assert_msg(strncmp(svg, head, strlen(head)) == 0, "%.80s", svg);
    ck_assert_ptr_nonnull(strstr(svg, " role=\"img\" aria-label=\"visits: 1,234\"><title>visits: 1,234</title>"));
    ck_assert_int_eq(count(svg, ">visits</text>"), 2);
    ck_assert_int_eq(count(svg, ">1,234</text>"), 2);
    ck_assert_str_eq(svg + strlen(svg) - 6, "</svg>");
    expectWellFormed(svg, 1);
    double small = attr(svg, "width");
    /* The value's box grows with its text, and the text is centred in it. */
    bufReset(&out);
    ck_assert_int_eq(chartBadge(&out, "visits", "9,223,372,036,854,775,807"), 0);
    svg = bufCStr(&out);
    double big = attr(svg, "width");
    ck_assert_double_gt(big - small, 100);
    double left = attr(strstr(svg, "<g clip-path"), "width");
    const char *value = strstr(svg, ">9,223");
    while (strncmp(value, "<text", 5) != 0) value--;
    ck_assert_double_eq_tol(attr(value, "x"), left + (big - left) / 2, 0.1);
    ck_assert_double_gt(attr(value, "textLength"), 0);
    ck_assert_double_lt(attr(value, "textLength"), big - left - 10);
    expectWellFormed(svg, 1);
    bufReset(&out);
    ck_assert_int_eq(chartBadge(&out, "<&\">'", ""), 0);
    svg = bufCStr(&out);
    ck_assert_ptr_null(strstr(svg, "<&"));
    ck_assert_ptr_nonnull(strstr(svg, "aria-label=\"&lt;&amp;&quot;&gt;&#39;: \""));
    expectWellFormed(svg, 1);
}
END_TEST

Suite *chartSuite(void) {
    Suite *s = suite_create("chart");
    TCase *tc = tcase_create("svg");
    tcase_add_checked_fixture(tc, setup, teardown);
    scratchAdd(tc);
    tcase_add_test(tc, bars_structure);
    tcase_add_test(tc, bars_escaping);
    tcase_add_test(tc, all_zero_and_empty);
    tcase_add_test(tc, single_series);
    tcase_add_test(tc, bar_heights);
    tcase_add_test(tc, nice_max);
    tcase_add_test(tc, huge_values);
    tcase_add_test(tc, coordinates_plain_numbers);
    tcase_add_test(tc, out_of_memory);
    tcase_add_test(tc, xmllint_rejects_malformed);
    tcase_add_test(tc, badge);
    suite_add_tcase(s, tc);
    return s;
}
