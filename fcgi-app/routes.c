/* routes: the table and dispatch; see routes.h. */
#include "routes.h"

#include <string.h>

#include "clock.h"

#define GET_HEAD (METHOD_GET | METHOD_HEAD)

static const route routes[] = {
    {"/",       GET_HEAD, pageHome,   ROUTE_CACHEABLE | ROUTE_PAGE_VIEW},
    {"/count",  GET_HEAD, pageCount,  ROUTE_PAGE_VIEW},
    {"/about",  GET_HEAD, pageAbout,  ROUTE_CACHEABLE | ROUTE_PAGE_VIEW},
    {"/health", GET_HEAD, pageHealth, 0},
    {"/stats",  GET_HEAD, pageStats,  ROUTE_PAGE_VIEW},
    {"/api/stats",      GET_HEAD, pageApiStats,  0},
    {"/api/export.csv", GET_HEAD, pageExportCsv, 0},
    {"/badge.svg",      GET_HEAD, pageBadge,     ROUTE_CACHEABLE},
    {"/metrics",        GET_HEAD, pageMetrics,   0},
    {"/_limited",       GET_HEAD, pageLimited,   0},
};

#define NROUTES ((int)(sizeof(routes) / sizeof(routes[0])))

const route *routeFind(const char *path) {
    for (int i = 0; i < NROUTES; i++)
        if (strcmp(path, routes[i].path) == 0) return &routes[i];
    return NULL;
}

int routeCount(void) {
    return NROUTES;
}

const char *routePath(int i) {
    return routes[i].path;
}

/* The Allow header for each set of GET, HEAD and POST (the METHOD_* bits 1, 2, 4). */
static const char *const allowHeaders[8] = {
    NULL, "GET", "HEAD", "GET, HEAD", "POST", "GET, POST", "HEAD, POST", "GET, HEAD, POST",
};

int routeDispatch(pageCtx *c) {
    responseReset(c->res);
    const route *r = routeFind(c->req->path);
    if (r == NULL) {
        pageError(c, 404, NULL);
        return -1;
    }
    if ((r->methods & c->req->method) == 0) {
        c->res->allow = allowHeaders[r->methods & 7];
        pageError(c, 405, NULL);
    } else {
        c->res->cacheControl = r->flags & ROUTE_CACHEABLE ? "no-cache" : "no-store";
        r->handler(c);
        if ((r->flags & ROUTE_PAGE_VIEW) && c->tracker && c->req->method == METHOD_GET &&
            c->res->status == 200 && !c->res->body.oom)
            trackerView(c->tracker, c->thread, c->req, r->path, clockNow());
    }
    return (int)(r - routes);
}
