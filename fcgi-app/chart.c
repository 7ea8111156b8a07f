/* chart: SVG bar charts and the badge; see chart.h. */
#include "chart.h"

#include <string.h>

#include "format.h"

/* The viewBox and the plot inside it, in user units. The margins leave room for the
 * largest label size style.css picks (on phones, where the chart is drawn smallest):
 * y labels on the left, the legend above, x labels below. */
#define CHART_W 720
#define CHART_H 280
#define PLOT_LEFT 66
#define PLOT_RIGHT 712
#define PLOT_TOP 40
#define PLOT_BOTTOM 244
#define Y_LABEL_X 58
#define LEGEND_Y 16

/* Appends t tenths of a unit ("12.5", "7") with integers only, so no locale turns the
 * point into a comma. */
static void chartTenths(buf *out, unsigned long long t) {
    bufAppendUint(out, t / 10);
    if (t % 10) {
        bufAppendStr(out, ".");
        bufAppendUint(out, t % 10);
    }
}

/* Appends ` name="value"` for a coordinate given in tenths. */
static void chartAttr(buf *out, const char *name, unsigned long long tenths) {
    bufAppendStr(out, " ");
    bufAppendStr(out, name);
    bufAppendStr(out, "=\"");
    chartTenths(out, tenths);
    bufAppendStr(out, "\"");
}

/* Appends s escaped: every text and attribute value goes through here. */
static void chartText(buf *out, const char *s) {
    bufAppendHtml(out, s, strlen(s));
}

/* The smallest 1, 2 or 5 x 10^k at or above max, so gridlines fall on round numbers;
 * max <= LLONG_MAX, so the answer (at most 10^19) fits. */
static unsigned long long chartNiceMax(unsigned long long max) {
    static const unsigned mantissas[] = {1, 2, 5};
    for (unsigned long long p = 1;; p *= 10)
        for (size_t i = 0; i < 3; i++)
            if (max <= mantissas[i] * p) return mantissas[i] * p;
}

/* The gridline spacing for a nice maximum: whole numbers, since counts have no
 * fractions (so 1 and 2 get one and two lines), else 4 or 5 lines above zero. */
static unsigned long long chartStep(unsigned long long nice) {
    if (nice <= 5) return 1;
    unsigned long long m = nice;
    while (m % 10 == 0) m /= 10;
    return nice / (m == 2 ? 4 : 5);
}

/* Appends an axis value as axes show it (0, 500, 1.5k, 10E): short enough for the
 * margin; the exact numbers are in the bars' titles and the page's table. */
static void chartCompact(buf *out, unsigned long long v) {
    static const char suffixes[] = "kMGTPE";
    unsigned long long unit = 1;
    int s = -1;
    while (s < 5 && v / unit >= 1000) {
        unit *= 1000;
        s++;
    }
    bufAppendUint(out, v / unit);
    if (s < 0) return;
    /* (v % unit) * 10 < 10^19 fits: unit is at most 10^18. */
    unsigned long long tenth = v % unit * 10 / unit;
    if (tenth) {
        bufAppendStr(out, ".");
        bufAppendUint(out, tenth);
    }
    bufAppend(out, suffixes + s, 1);
}

/* A value as drawn: the contract says >= 0, and a negative one must not wrap around. */
static unsigned long long chartValue(const chartSeries *s, size_t i) {
    return s->values[i] < 0 ? 0 : (unsigned long long)s->values[i];
}

/* Appends <tag id="<id>-tag">text</tag>: the title and desc that aria-labelledby names. */
static void chartNamed(buf *out, const char *tag, const char *id, const char *text) {
    bufAppendStr(out, "<");
    bufAppendStr(out, tag);
    bufAppendStr(out, " id=\"");
    chartText(out, id);
    bufAppendStr(out, "-");
    bufAppendStr(out, tag);
    bufAppendStr(out, "\">");
    chartText(out, text);
    bufAppendStr(out, "</");
    bufAppendStr(out, tag);
    bufAppendStr(out, ">");
}

/* Appends the opening tag with its accessible name and description. */
static void chartOpen(buf *out, const chart *c) {
    bufAppendStr(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 ");
    bufAppendUint(out, CHART_W);
    bufAppendStr(out, " ");
    bufAppendUint(out, CHART_H);
    bufAppendStr(out, "\"");
    chartAttr(out, "width", CHART_W * 10);
    chartAttr(out, "height", CHART_H * 10);
    bufAppendStr(out, " role=\"img\" aria-labelledby=\"");
    chartText(out, c->id);
    bufAppendStr(out, "-title ");
    chartText(out, c->id);
    bufAppendStr(out, "-desc\">");
    chartNamed(out, "title", c->id, c->title);
    chartNamed(out, "desc", c->id, c->desc);
}

/* Appends the legend as one line of text, so its items space themselves at any font
 * size the CSS picks. */
static void chartLegend(buf *out, const chart *c, int nseries) {
    bufAppendStr(out, "<text class=\"legend\"");
    chartAttr(out, "x", PLOT_LEFT * 10);
    chartAttr(out, "y", LEGEND_Y * 10);
    bufAppendStr(out, " dy=\".35em\">");
    for (int s = 0; s < nseries; s++) {
        bufAppendStr(out, s ? "<tspan dx=\"1.2em\" class=\"" : "<tspan class=\"");
        chartText(out, c->series[s].cssClass);
        bufAppendStr(out, "\">\xE2\x96\xA0</tspan> "); /* U+25A0, a square in the bar's colour */
        chartText(out, c->series[s].name);
    }
    bufAppendStr(out, "</text>");
}

/* Appends the gridlines from 0 to nice, each labelled on the left. */
static void chartGrid(buf *out, unsigned long long nice, unsigned long long step) {
    unsigned long long lines = nice / step;
    bufAppendStr(out, "<g class=\"grid\">");
    for (unsigned long long k = 0; k <= lines; k++) {
        unsigned long long y = PLOT_BOTTOM * 10 - k * (PLOT_BOTTOM - PLOT_TOP) * 10 / lines;
        bufAppendStr(out, k ? "<line" : "<line class=\"axis\"");
        chartAttr(out, "x1", PLOT_LEFT * 10);
        chartAttr(out, "x2", PLOT_RIGHT * 10);
        chartAttr(out, "y1", y);
        chartAttr(out, "y2", y);
        bufAppendStr(out, "/>");
    }
    bufAppendStr(out, "</g><g class=\"axis-label y-labels\" text-anchor=\"end\">");
    for (unsigned long long k = 0; k <= lines; k++) {
        bufAppendStr(out, "<text");
        chartAttr(out, "x", Y_LABEL_X * 10);
        chartAttr(out, "y", PLOT_BOTTOM * 10 - k * (PLOT_BOTTOM - PLOT_TOP) * 10 / lines);
        bufAppendStr(out, " dy=\".35em\">");
        chartCompact(out, k * step);
        bufAppendStr(out, "</text>");
    }
    bufAppendStr(out, "</g>");
}

/* Appends one series' bars, each with a <title> giving its label and exact value: slot
 * i spans the plot's width / n, and the series sit side by side in its middle. */
static void chartSeriesBars(buf *out, const chart *c, int s, int nseries, unsigned long long nice) {
    const chartSeries *sr = &c->series[s];
    unsigned long long plotW = (PLOT_RIGHT - PLOT_LEFT) * 10, plotH = (PLOT_BOTTOM - PLOT_TOP) * 10;
    unsigned long long slot = plotW / c->n, barW = slot * (nseries == 2 ? 38 : 70) / 100;
    bufAppendStr(out, "<g class=\"chart-bars ");
    chartText(out, sr->cssClass);
    bufAppendStr(out, "\">");
    for (size_t i = 0; i < c->n; i++) {
        unsigned long long v = chartValue(sr, i);
        /* In double: v * plotH would overflow 64 bits near LLONG_MAX. */
        unsigned long long h = (unsigned long long)((double)v / (double)nice * (double)plotH + 0.5);
        unsigned long long slotX = PLOT_LEFT * 10 + i * plotW / c->n;
        unsigned long long x = slotX + (slot - barW * nseries) / 2 + barW * s;
        char grouped[40];
        formatGrouped((long long)v, grouped, sizeof(grouped));
        bufAppendStr(out, "<rect");
        chartAttr(out, "x", x);
        chartAttr(out, "y", PLOT_BOTTOM * 10 - h);
        chartAttr(out, "width", barW);
        chartAttr(out, "height", h);
        bufAppendStr(out, "><title>");
        chartText(out, c->labels[i]);
        bufAppendStr(out, ": ");
        bufAppendStr(out, grouped);
        bufAppendStr(out, " ");
        chartText(out, sr->name);
        bufAppendStr(out, "</title></rect>");
    }
    bufAppendStr(out, "</g>");
}

/* Appends every labelEvery-th x label, counted back from the newest bar so it always has
 * one (anchored at the plot's right edge so it stays inside the viewBox); every other
 * label drawn is of class "alt", which narrow screens hide. */
static void chartXLabels(buf *out, const chart *c) {
    size_t every = c->labelEvery > 1 ? (size_t)c->labelEvery : 1;
    unsigned long long plotW = (PLOT_RIGHT - PLOT_LEFT) * 10;
    bufAppendStr(out, "<g class=\"axis-label x-labels\" text-anchor=\"middle\">");
    for (size_t back = 0; back < c->n; back += every) {
        size_t i = c->n - 1 - back;
        /* The axis shows the label's last word: "13:00" of "2026-12-01 13:00". */
        const char *word = strrchr(c->labels[i], ' ');
        word = word ? word + 1 : c->labels[i];
        bufAppendStr(out, back / every % 2 ? "<text class=\"alt\"" : "<text");
        if (back == 0) {
            bufAppendStr(out, " text-anchor=\"end\"");
            chartAttr(out, "x", PLOT_RIGHT * 10);
        } else {
            chartAttr(out, "x", PLOT_LEFT * 10 + (2 * i + 1) * plotW / (2 * c->n));
        }
        chartAttr(out, "y", (PLOT_BOTTOM + 6) * 10);
        bufAppendStr(out, " dy=\".9em\">");
        chartText(out, word);
        bufAppendStr(out, "</text>");
    }
    bufAppendStr(out, "</g>");
}

int chartBars(buf *out, const chart *c) {
    int nseries = c->series[1].values ? 2 : 1;
    unsigned long long max = 0;
    for (int s = 0; s < nseries; s++)
        for (size_t i = 0; i < c->n; i++)
            if (chartValue(&c->series[s], i) > max) max = chartValue(&c->series[s], i);
    unsigned long long nice = chartNiceMax(max);
    chartOpen(out, c);
    chartLegend(out, c, nseries);
    chartGrid(out, nice, chartStep(nice));
    for (int s = 0; s < nseries && c->n; s++) chartSeriesBars(out, c, s, nseries, nice);
    chartXLabels(out, c);
    bufAppendStr(out, "</svg>");
    return out->oom ? -1 : 0;
}

/* The width of s in Verdana 11px, in tenths of a pixel, by character class: close
 * enough for the badge, whose text is then stretched to exactly this width. */
static unsigned chartTextWidth(const char *s) {
    unsigned w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) == 0x80) continue; /* a UTF-8 continuation byte */
        if (strchr(" .,:;!|'ijlft()[]", *p)) w += 40;
        else if (strchr("mwMW%@", *p)) w += 100;
        else if (*p >= '0' && *p <= '9') w += 70;
        else if ((*p >= 'A' && *p <= 'Z') || *p >= 0x80) w += 75;
        else w += 63;
    }
    return w;
}

/* Appends one half's text twice, a shadow 1px below, as shields.io draws it. */
static void chartBadgeText(buf *out, const char *s, unsigned centre, unsigned width) {
    static const char *const lines[] = {" y=\"15\" fill=\"#010101\" fill-opacity=\".3\"",
                                        " y=\"14\""};
    for (int k = 0; k < 2; k++) {
        bufAppendStr(out, "<text");
        chartAttr(out, "x", centre);
        bufAppendStr(out, lines[k]);
        chartAttr(out, "textLength", width);
        bufAppendStr(out, ">");
        chartText(out, s);
        bufAppendStr(out, "</text>");
    }
}

int chartBadge(buf *out, const char *label, const char *value) {
    /* Widths in tenths of a pixel: each half is its text plus 6px on either side. */
    unsigned lw = chartTextWidth(label), vw = chartTextWidth(value);
    unsigned left = lw + 120, right = vw + 120, total = left + right;
    bufAppendStr(out, "<svg xmlns=\"http://www.w3.org/2000/svg\"");
    chartAttr(out, "width", total);
    bufAppendStr(out, " height=\"20\" role=\"img\" aria-label=\"");
    for (int k = 0; k < 2; k++) { /* the same name in aria-label and <title> */
        chartText(out, label);
        bufAppendStr(out, ": ");
        chartText(out, value);
        bufAppendStr(out, k ? "</title>" : "\"><title>");
    }
    bufAppendStr(out, "<linearGradient id=\"s\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" "
                      "stop-color=\"#bbb\" stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/>"
                      "</linearGradient><clipPath id=\"r\"><rect");
    chartAttr(out, "width", total);
    bufAppendStr(out, " height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath><g clip-path=\"url(#r)\"><rect");
    chartAttr(out, "width", left);
    bufAppendStr(out, " height=\"20\" fill=\"#555\"/><rect");
    chartAttr(out, "x", left);
    chartAttr(out, "width", right);
    /* #1e66b0 keeps white text at 5.9:1, where shields' green gives 2.6:1. */
    bufAppendStr(out, " height=\"20\" fill=\"#1e66b0\"/><rect");
    chartAttr(out, "width", total);
    bufAppendStr(out, " height=\"20\" fill=\"url(#s)\"/></g><g fill=\"#fff\" text-anchor=\"middle\" "
                      "font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" font-size=\"11\" "
                      "text-rendering=\"geometricPrecision\">");
    chartBadgeText(out, label, left / 2, lw);
    chartBadgeText(out, value, left + right / 2, vw);
    bufAppendStr(out, "</g></svg>");
    return out->oom ? -1 : 0;
}
