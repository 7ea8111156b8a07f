/* pages: the handlers behind the routes, and the site's error pages. */
#ifndef KT_PAGES_H
#define KT_PAGES_H

#include "request.h"
#include "response.h"
#include "store.h"
#include "view.h"

/* What a handler works with. The view is shared and read-only; the store and the random
 * state belong to the calling thread; the request and response to this request. */
typedef struct pageCtx {
    const view *view;
    store *store;
    unsigned long long *rng;
    const request *req;
    response *res;
} pageCtx;

void pageHome(pageCtx *c);
void pageCount(pageCtx *c);
void pageAbout(pageCtx *c);
void pageHealth(pageCtx *c);

/* Answers status (404, 405 or 503) with the site's error page: its heading and message
 * for that status, the requested path, Retry-After for 503, and no caching. */
void pageError(pageCtx *c, int status);

#endif
