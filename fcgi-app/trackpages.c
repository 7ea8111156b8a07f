/* trackpages: /stats, /api/stats, /api/export.csv and /badge.svg, the pages that show
 * what the tracker recorded; see pages.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "clock.h"
#include "format.h"
#include "keys.h"
#include "pages.h"
#include "stats.h"
#include "statspage.h"

#define DAY_S 86400
#define EXPORT_DAYS_MAX 400   /* the per-day figures are kept this long */
#define RETRY_AFTER_S 5

static const char statsDown[] = "We can't reach the statistics right now. Please try again in a moment.";

/* Answers a plain-text error (the API's clients are programs: no HTML page). */
static void plainError(pageCtx *c, int status, const char *message) {
    response *res = c->res;
    res->status = status;
    res->contentType = "text/plain; charset=utf-8";
    res->cacheControl = "no-store";
    res->retryAfter = status == 503 ? RETRY_AFTER_S : 0;
    bufAppendStr(&res->body, message);
    bufAppendStr(&res->body, "\n");
}

/* The period asked for in the query: "day" when absent; NULL when it is not a period. */
static const char *periodOf(const request *req, char *out, size_t n) {
    int len = requestQueryValue(req->query, "period", out, n);
    if (len == -1) return "day";
    return len >= 0 && statsPeriodDays(out) ? out : NULL;
}

/* Loads the figures for the request's period, or answers the error itself (via fail,
 * an HTML or a plain error) and returns NULL. The caller frees the result. */
static stats *load(pageCtx *c, void (*fail)(pageCtx *, int, const char *)) {
    char buffer[8];
    const char *period = periodOf(c->req, buffer, sizeof(buffer));
    if (period == NULL) {
        fail(c, 400, "period: expected day, 7d or 30d.");
        return NULL;
    }
    stats *st = malloc(sizeof(*st));
    if (st == NULL) {
        c->res->body.oom = 1;
        return NULL;
    }
    if (statsLoad(c->store, clockNow(), period, st) < 0) {
        free(st);
        fail(c, 503, statsDown);
        return NULL;
    }
    return st;
}

void pageStats(pageCtx *c) {
    stats *st = load(c, pageError);
    if (st == NULL) return;
    buf charts, lists;
    bufInit(&charts);
    bufInit(&lists);
    statsPageRender(st, &charts, &lists);
    char views[40], visitors[40], live[40], bots[40], visits[40];
    formatGrouped(st->views, views, sizeof(views));
    formatGrouped(st->visitors, visitors, sizeof(visitors));
    formatGrouped(st->live, live, sizeof(live));
    formatGrouped(st->bots, bots, sizeof(bots));
    formatGrouped(st->visits, visits, sizeof(visits));
    const char *v[V_COUNT];
    viewCommon(c->view, v, "stats", "Statistics");
    v[V_FROM] = st->from;
    v[V_TO] = st->to;
    v[V_VIEWS] = views;
    v[V_VISITORS] = visitors;
    v[V_LIVE] = live;
    v[V_BOTS] = bots;
    v[V_VISITS_GROUPED] = visits;
    v[V_PAGE_PERIOD] = st->period;
    v[V_PERIOD_DAY] = strcmp(st->period, "day") == 0 ? "1" : NULL;
    v[V_PERIOD_7D] = strcmp(st->period, "7d") == 0 ? "1" : NULL;
    v[V_PERIOD_30D] = strcmp(st->period, "30d") == 0 ? "1" : NULL;
    v[V_CHARTS] = bufCStr(&charts);
    v[V_LISTS] = bufCStr(&lists);
    c->res->status = 200;
    c->res->contentType = "text/html; charset=utf-8";
    if (v[V_CHARTS] == NULL || v[V_LISTS] == NULL) c->res->body.oom = 1;
    else viewRender(c->view, T_STATS, v, &c->res->body);
    bufFree(&charts);
    bufFree(&lists);
    free(st);
}

void pageApiStats(pageCtx *c) {
    stats *st = load(c, plainError);
    if (st == NULL) return;
    c->res->status = 200;
    c->res->contentType = "application/json";
    statsJson(st, &c->res->body);
    free(st);
}

/* Reads the date parameter name, or def when absent. Returns -1 after answering 400. */
static int dateParam(pageCtx *c, const char *name, time_t def, time_t *out) {
    char value[16], message[96];
    int len = requestQueryValue(c->req->query, name, value, sizeof(value));
    if (len == -1) {
        *out = def;
        return 0;
    }
    if (len >= 0 && clockParseDay(value, out) == 0) return 0;
    snprintf(message, sizeof(message), "%s: expected a date as YYYY-MM-DD, from 1970-01-01.", name);
    plainError(c, 400, message);
    return -1;
}

void pageExportCsv(pageCtx *c) {
    time_t now = clockNow(), today = now - now % DAY_S, from, to;
    if (dateParam(c, "to", today, &to) < 0 || dateParam(c, "from", to - 29 * DAY_S, &from) < 0) return;
    if (from > to) {
        plainError(c, 400, "from: must not be after to.");
        return;
    }
    if ((to - from) / DAY_S >= EXPORT_DAYS_MAX) {
        plainError(c, 400, "from, to: at most 400 days at a time (the per-day figures are kept that long).");
        return;
    }
    if (statsCsv(c->store, from, to, &c->res->body) < 0) {
        bufReset(&c->res->body);
        plainError(c, 503, statsDown);
        return;
    }
    c->res->status = 200;
    c->res->contentType = "text/csv; charset=utf-8";
    c->res->extraHeaders = "Content-Disposition: attachment; filename=\"khalid-tracker-views.csv\"\r\n";
}

void pageBadge(pageCtx *c) {
    long long visits;
    char grouped[40];
    int up = storeGet(c->store, KEY_VISITS, &visits) == 0;
    if (up) formatGrouped(visits, grouped, sizeof(grouped));
    c->res->status = up ? 200 : 503;
    c->res->retryAfter = up ? 0 : RETRY_AFTER_S;
    c->res->contentType = "image/svg+xml";
    /* Other sites embed it: let their pages load it even under their own COEP. */
    c->res->extraHeaders = "Cross-Origin-Resource-Policy: cross-origin\r\n";
    chartBadge(&c->res->body, "visits", up ? grouped : "unavailable");
}
