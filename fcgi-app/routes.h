/* routes: the site's paths, each one line of a table: its path, the methods it answers,
 * its handler and its flags. Exact matches only: "/count/" and "/Count" are not "/count",
 * as in the original demo. */
#ifndef KT_ROUTES_H
#define KT_ROUTES_H

#include "pages.h"

enum {
    /* Browsers may keep the page but must revalidate it ("no-cache"); without the flag
     * nothing may store it ("no-store"). */
    ROUTE_CACHEABLE = 1,
    /* A GET answered 200 is a page view for the tracker. */
    ROUTE_PAGE_VIEW = 2,
};

typedef struct route {
    const char *path;
    unsigned methods;            /* METHOD_* bits */
    void (*handler)(pageCtx *c);
    unsigned flags;              /* ROUTE_* bits */
} route;

/* The route for path, or NULL. */
const route *routeFind(const char *path);

/* The number of routes, and the path of route i (0 <= i < routeCount()). */
int routeCount(void);
const char *routePath(int i);

/* Answers c->req into c->res: the route's handler, or the table's 404 or 405 (with
 * Allow), then records the page view when the route counts one. Starts from a reset
 * response; never fails (see responseWire for memory). Returns the route's index, or -1
 * when no route matched. */
int routeDispatch(pageCtx *c);

#endif
