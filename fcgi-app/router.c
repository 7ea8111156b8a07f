/* router: path to page; see router.h. */
#include "router.h"

#include <string.h>

route routeMatch(const char *path) {
    static const struct { const char *path; route r; } table[] = {
        {"/", ROUTE_HOME}, {"/count", ROUTE_COUNT}, {"/about", ROUTE_ABOUT}, {"/health", ROUTE_HEALTH},
    };
    if (path == NULL) return ROUTE_NONE;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(path, table[i].path) == 0) return table[i].r;
    return ROUTE_NONE;
}
