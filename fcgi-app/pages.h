/* pages: the handlers behind the routes, and the site's error pages. */
#ifndef KT_PAGES_H
#define KT_PAGES_H

#include "config.h"
#include "request.h"
#include "response.h"
#include "store.h"
#include "track.h"
#include "view.h"

/* What a handler works with. The view and tracker are shared (the tracker may be NULL:
 * tracking is off); the store, the random state and the tracker queue numbered thread
 * belong to the calling thread; the request and response to this request. */
typedef struct pageCtx {
    const view *view;
    const config *config;
    tracker *tracker;
    int thread;
    store *store;
    unsigned long long *rng;
    const request *req;
    response *res;
} pageCtx;

void pageHome(pageCtx *c);
void pageCount(pageCtx *c);
void pageAbout(pageCtx *c);
void pageHealth(pageCtx *c);
/* The 429 page nginx shows, through an internal redirect to /_limited, to a client over
 * its rate limit. */
void pageLimited(pageCtx *c);

/* Answers status (400, 404, 405, 429 or 503) with the site's error page: its heading,
 * and message or else the status's own message, the requested path, Retry-After for 429
 * and 503, and no caching. */
void pageError(pageCtx *c, int status, const char *message);

/* The pages of what the tracker recorded (trackpages.c). */
void pageStats(pageCtx *c);
void pageApiStats(pageCtx *c);
void pageExportCsv(pageCtx *c);
void pageBadge(pageCtx *c);
/* /metrics: every live worker's metrics, to the addresses in METRICS_ALLOW; a 404 page
 * to everyone else. */
void pageMetrics(pageCtx *c);

#endif
