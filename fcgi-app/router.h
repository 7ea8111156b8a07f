/* router: which page a request path names. Exact matches only: "/count/" and "/Count"
 * are not "/count", as in the original demo. */
#ifndef KT_ROUTER_H
#define KT_ROUTER_H

typedef enum { ROUTE_HOME, ROUTE_COUNT, ROUTE_ABOUT, ROUTE_HEALTH, ROUTE_NONE } route;

route routeMatch(const char *path);

#endif
