/* chart: inline SVG for the stats page and the badge, rendered by the worker (no
 * JavaScript, no third-party request). Every text is escaped with bufAppendHtml(), whose
 * entities are valid XML too. Styling comes from classes that templates/static/style.css
 * defines (svg.chart, .legend, .grid, .axis, .axis-label, .x-labels .alt, .chart-bars
 * and each series' cssClass): the page's CSP forbids style attributes. Coordinates are
 * written with integers only, so no locale can change them. Pure: appends to a buf. */
#ifndef KT_CHART_H
#define KT_CHART_H

#include <stddef.h>

#include "buf.h"

typedef struct chartSeries {
    const char *name;          /* shown in the legend and in each bar's <title> */
    const long long *values;   /* n values, >= 0 */
    const char *cssClass;      /* e.g. "series-views" */
} chartSeries;

typedef struct chart {
    const char *id;            /* unique in the page; used for aria-labelledby ids */
    const char *title;         /* the <title> of the SVG (its accessible name) */
    const char *desc;          /* the <desc>: one sentence on what it shows */
    const char *const *labels; /* n labels, e.g. "2026-12-01 13:00" or "2026-12-01": each
                                * bar's <title> shows it whole, the x axis its last word */
    size_t n;
    int labelEvery;            /* draw every k-th label (1 = all), counted back from the
                                * last bar, which is always labelled */
    chartSeries series[2];     /* series[1].values may be NULL: a single series */
} chart;

/* Appends a bar chart: one slot per label, the series side by side, a y axis from 0 to
 * a rounded maximum (1, 2 or 5 x 10^k; 1 when every value is 0) with 4 or 5 labelled
 * gridlines (1 or 2 for a maximum of 1 or 2: counts are whole), a <title> per bar
 * ("label: 12 views"), a legend, and a viewBox so it scales to the page width. The
 * <svg> has role="img" and aria-labelledby "<id>-title <id>-desc". Returns -1 when out
 * ran out of memory. */
int chartBars(buf *out, const chart *c);

/* Appends a shields-style badge: "label | value", two rectangles, as a standalone,
 * well-formed SVG document (with the xmlns, role="img", aria-label and <title>), sized
 * from approximate Verdana 11px widths. value is shown as given: group its digits with
 * formatGrouped(). Colours are presentation attributes, allowed here because the badge
 * is its own document. Returns -1 when out ran out of memory. */
int chartBadge(buf *out, const char *label, const char *value);

#endif
