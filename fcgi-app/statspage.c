/* statspage: see statspage.h. */
#include "statspage.h"

#include <stdio.h>
#include <string.h>

#include "chart.h"

/* Appends one chart in a figure, with its numbers in a table behind a disclosure, one
 * row per bar named by rows (the full date or hour; the chart's own labels are short). */
static void figure(buf *b, const chart *c, const char *firstColumn, const char *const *rows) {
    bufAppendStr(b, "<figure class=\"chart-figure\">\n<figcaption>");
    bufAppendHtml(b, c->title, strlen(c->title));
    bufAppendStr(b, "</figcaption>\n");
    chartBars(b, c);
    bufAppendStr(b, "\n<details class=\"chart-numbers\"><summary>The numbers</summary>\n"
                    "<table><thead><tr><th scope=\"col\">");
    bufAppendStr(b, firstColumn);
    bufAppendStr(b, "</th><th scope=\"col\">Views</th><th scope=\"col\">Visitors</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < c->n; i++) {
        bufAppendStr(b, "<tr><th scope=\"row\">");
        bufAppendHtml(b, rows[i], strlen(rows[i]));
        bufAppendStr(b, "</th><td>");
        bufAppendInt(b, c->series[0].values[i]);
        bufAppendStr(b, "</td><td>");
        bufAppendInt(b, c->series[1].values[i]);
        bufAppendStr(b, "</td></tr>\n");
    }
    bufAppendStr(b, "</tbody></table></details>\n</figure>\n");
}

/* Appends a titled list of names with their views and a bar scaled to the largest. */
static void barList(buf *b, const char *title, const char *empty, const statsList *l) {
    bufAppendStr(b, "<section class=\"top-list\"><h2>");
    bufAppendStr(b, title);
    bufAppendStr(b, "</h2>\n");
    if (l->n == 0) {
        bufAppendStr(b, "<p class=\"top-empty\">");
        bufAppendStr(b, empty);
        bufAppendStr(b, "</p></section>\n");
        return;
    }
    bufAppendStr(b, "<table class=\"bars\"><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Views</th>"
                    "<th scope=\"col\"><span class=\"visually-hidden\">Share</span></th></tr></thead><tbody>\n");
    long long max = l->items[0].views > 0 ? l->items[0].views : 1;
    for (int i = 0; i < l->n; i++) {
        const statsName *it = &l->items[i];
        bufAppendStr(b, "<tr><th scope=\"row\">");
        bufAppendHtml(b, it->name, strlen(it->name));
        bufAppendStr(b, "</th><td>");
        bufAppendInt(b, it->views);
        /* A bar as SVG: its width is an attribute, which the CSP allows, unlike style. */
        bufAppendStr(b, "</td><td><svg class=\"bar\" viewBox=\"0 0 100 8\" preserveAspectRatio=\"none\" "
                        "aria-hidden=\"true\"><rect width=\"");
        bufAppendInt(b, it->views * 100 / max > 0 ? it->views * 100 / max : 1);
        bufAppendStr(b, "\" height=\"8\" rx=\"2\"/></svg></td></tr>\n");
    }
    bufAppendStr(b, "</tbody></table></section>\n");
}

void statsPageRender(const stats *st, buf *charts, buf *lists) {
    const char *hourRows[STATS_HOURS], *hourLabels[STATS_HOURS];
    const char *dayRows[STATS_DAYS], *dayLabels[STATS_DAYS];
    long long hourViews[STATS_HOURS], hourVisitors[STATS_HOURS];
    long long dayViews[STATS_DAYS], dayVisitors[STATS_DAYS];
    char hourNames[STATS_HOURS][CLOCK_HOUR_LEN + 4];
    for (int i = 0; i < STATS_HOURS; i++) {
        /* "2026-12-01T13" becomes "2026-12-01 13:00": the bar's title shows it all, the
         * axis its last word. */
        hourRows[i] = st->hours[i].hour;
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
    figure(charts, &hours, "Hour (UTC)", hourRows);
    figure(charts, &days, "Day", dayRows);
    bufAppendStr(lists, "<div class=\"top-lists\">\n");
    barList(lists, "Pages", "No page views yet.", &st->pages);
    barList(lists, "Referrers", "No referrers yet: visits came straight here.", &st->referrers);
    barList(lists, "Browsers", "No browsers yet.", &st->browsers);
    barList(lists, "Systems", "No systems yet.", &st->systems);
    barList(lists, "Devices", "No devices yet.", &st->devices);
    bufAppendStr(lists, "</div>\n");
}
