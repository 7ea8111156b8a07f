/* statspage: see statspage.h. */
#include "statspage.h"

#include <stdio.h>
#include <string.h>

#include "chart.h"
#include "format.h"

/* Appends a count as people read it: 1,234 rather than 1234. */
static void grouped(buf *b, long long n) {
    char s[40];
    formatGrouped(n, s, sizeof(s));
    bufAppendStr(b, s);
}

/* Appends one chart in a figure, with its numbers in a table behind a disclosure, one
 * row per bar named by rows (the full date or hour; the chart's own labels are short).
 * The summary names its chart, since a page with two charts would otherwise offer two
 * controls with the same name. */
static void figure(buf *b, const chart *c, const char *summary, const char *firstColumn,
                   const char *const *rows) {
    bufAppendStr(b, "<figure class=\"chart-figure\">\n<figcaption>");
    bufAppendHtml(b, c->title, strlen(c->title));
    bufAppendStr(b, "</figcaption>\n");
    chartBars(b, c);
    bufAppendStr(b, "\n<details class=\"chart-numbers\"><summary>");
    bufAppendStr(b, summary);
    bufAppendStr(b, "</summary>\n<table><caption class=\"visually-hidden\">");
    bufAppendHtml(b, c->title, strlen(c->title));
    bufAppendStr(b, "</caption><thead><tr><th scope=\"col\">");
    bufAppendStr(b, firstColumn);
    bufAppendStr(b, "</th><th scope=\"col\">Views</th><th scope=\"col\">Visitors</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < c->n; i++) {
        bufAppendStr(b, "<tr><th scope=\"row\">");
        bufAppendHtml(b, rows[i], strlen(rows[i]));
        bufAppendStr(b, "</th><td>");
        grouped(b, c->series[0].values[i]);
        bufAppendStr(b, "</td><td>");
        grouped(b, c->series[1].values[i]);
        bufAppendStr(b, "</td></tr>\n");
    }
    bufAppendStr(b, "</tbody></table></details>\n</figure>\n");
}

/* Appends a titled list of names with their views, each name over a bar scaled to the
 * largest. The bar shares the name's cell rather than a column of its own: a column
 * holding only hidden graphics would be read out as an empty cell on every row. The
 * table is named by the heading (id) above it. */
static void barList(buf *b, const char *id, const char *title, const char *column, const char *empty,
                    const statsList *l) {
    bufAppendStr(b, "<section class=\"top-list\"><h2 id=\"");
    bufAppendStr(b, id);
    bufAppendStr(b, "\">");
    bufAppendStr(b, title);
    bufAppendStr(b, "</h2>\n");
    if (l->n == 0) {
        bufAppendStr(b, "<p class=\"top-empty\">");
        bufAppendStr(b, empty);
        bufAppendStr(b, "</p></section>\n");
        return;
    }
    bufAppendStr(b, "<table class=\"bars\" aria-labelledby=\"");
    bufAppendStr(b, id);
    bufAppendStr(b, "\"><thead><tr><th scope=\"col\">");
    bufAppendStr(b, column);
    bufAppendStr(b, "</th><th scope=\"col\">Views</th></tr></thead><tbody>\n");
    long long max = l->items[0].views > 0 ? l->items[0].views : 1;
    for (int i = 0; i < l->n; i++) {
        const statsName *it = &l->items[i];
        bufAppendStr(b, "<tr><th scope=\"row\"><span class=\"bar-name\">");
        bufAppendHtml(b, it->name, strlen(it->name));
        /* A bar as SVG: its width is an attribute, which the CSP allows, unlike style.
         * Not class "bar": that is the header's and footer's row. */
        bufAppendStr(b, "</span><svg class=\"share-bar\" viewBox=\"0 0 100 8\" preserveAspectRatio=\"none\" "
                        "aria-hidden=\"true\"><rect width=\"");
        bufAppendInt(b, it->views * 100 / max > 0 ? it->views * 100 / max : 1);
        bufAppendStr(b, "\" height=\"8\"/></svg></th><td>");
        grouped(b, it->views);
        bufAppendStr(b, "</td></tr>\n");
    }
    bufAppendStr(b, "</tbody></table></section>\n");
}

void statsPageRender(const stats *st, buf *charts, buf *lists) {
    const char *hourLabels[STATS_HOURS];
    const char *dayRows[STATS_DAYS], *dayLabels[STATS_DAYS];
    long long hourViews[STATS_HOURS], hourVisitors[STATS_HOURS];
    long long dayViews[STATS_DAYS], dayVisitors[STATS_DAYS];
    char hourNames[STATS_HOURS][CLOCK_HOUR_LEN + 4];
    for (int i = 0; i < STATS_HOURS; i++) {
        /* "2026-12-01T13" becomes "2026-12-01 13:00": the bar's title and the table's row
         * show it all, the axis its last word. */
        snprintf(hourNames[i], sizeof(hourNames[i]), "%.10s %.2s:00", st->hours[i].hour, st->hours[i].hour + 11);
        hourLabels[i] = hourNames[i];
        hourViews[i] = st->hours[i].views;
        hourVisitors[i] = st->hours[i].visitors;
    }
    for (int i = 0; i < STATS_DAYS; i++) {
        dayRows[i] = st->days[i].day;
        dayLabels[i] = st->days[i].day + 5;   /* "12-01" */
        dayViews[i] = st->days[i].views;
        dayVisitors[i] = st->days[i].visitors;
    }
    chart hours = {.id = "hours", .title = "Views and visitors, last 48 hours (UTC)",
                   .desc = "Page views and unique visitors per hour over the last 48 hours.",
                   .labels = hourLabels, .n = STATS_HOURS, .labelEvery = 6,
                   .series = {{"views", hourViews, "series-views"}, {"visitors", hourVisitors, "series-visitors"}}};
    chart days = {.id = "days", .title = "Views and visitors, last 30 days (UTC)",
                  .desc = "Page views and unique visitors per day over the last 30 days.",
                  .labels = dayLabels, .n = STATS_DAYS, .labelEvery = 5,
                  .series = {{"views", dayViews, "series-views"}, {"visitors", dayVisitors, "series-visitors"}}};
    figure(charts, &hours, "The numbers, hour by hour", "Hour (UTC)", hourLabels);
    figure(charts, &days, "The numbers, day by day", "Day", dayRows);
    bufAppendStr(lists, "<div class=\"top-lists\">\n");
    barList(lists, "top-pages", "Pages", "Page", "No page views yet.", &st->pages);
    barList(lists, "top-referrers", "Referrers", "Host", "No referrers yet: visits came straight here.",
            &st->referrers);
    barList(lists, "top-browsers", "Browsers", "Browser", "No browsers yet.", &st->browsers);
    barList(lists, "top-systems", "Systems", "System", "No systems yet.", &st->systems);
    barList(lists, "top-devices", "Devices", "Device", "No devices yet.", &st->devices);
    bufAppendStr(lists, "</div>\n");
}
