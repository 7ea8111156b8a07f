/* pages: see pages.h. */
#include "pages.h"

#include <stdio.h>

#include "format.h"
#include "keys.h"

static const char htmlType[] = "text/html; charset=utf-8";

/* Every error page the site shows, by status: when to try again (Retry-After; 0: no
 * header), and whether the requested path is shown (a 429 is answered at /_limited). */
static const struct {
    int status, retryAfter, showPath;
    const char *heading, *message;
} errors[] = {
    {400, 0, 1, "Bad request", "This address asks for something the page cannot show."},
    {404, 0, 1, "Page not found", "There is nothing at this address."},
    {405, 0, 1, "Method not allowed", "This page answers GET and HEAD requests only."},
    {429, 2, 0, "Slow down a little",
     "You have asked for pages faster than this site answers one visitor. Please wait a moment."},
    {503, 5, 1, "The counter is taking a break",
     "We can't reach the visit counter right now, so we couldn't confirm your visit. "
     "Please try again in a moment."},
};

static void render(pageCtx *c, viewTemplate t, const char *const *values, int status) {
    c->res->status = status;
    c->res->contentType = htmlType;
    viewRender(c->view, t, values, &c->res->body);
}

void pageError(pageCtx *c, int status, const char *message) {
    size_t i = 0;
    while (i + 1 < sizeof(errors) / sizeof(errors[0]) && errors[i].status != status) i++;
    response *res = c->res;
    res->retryAfter = errors[i].retryAfter;
    res->cacheControl = "no-store";
    char code[8], retry[8];
    snprintf(code, sizeof(code), "%d", status);
    snprintf(retry, sizeof(retry), "%d", res->retryAfter);
    const char *v[V_COUNT];
    viewCommon(c->view, v, "error", errors[i].heading);
    v[V_STATUS] = code;
    v[V_HEADING] = errors[i].heading;
    v[V_MESSAGE] = message ? message : errors[i].message;
    v[V_PATH] = errors[i].showPath ? c->req->path : NULL;
    v[V_RETRY_AFTER] = res->retryAfter ? retry : NULL;
    render(c, T_ERROR, v, status);
}

static void fixedPage(pageCtx *c, viewTemplate t) {
    const buf *page = viewFixedPage(c->view, t);
    c->res->status = 200;
    c->res->contentType = htmlType;
    bufAppend(&c->res->body, page->data, page->len);
}

void pageHome(pageCtx *c) { fixedPage(c, T_INDEX); }
void pageLimited(pageCtx *c) { pageError(c, 429, NULL); }
void pageAbout(pageCtx *c) { fixedPage(c, T_ABOUT); }

void pageCount(pageCtx *c) {
    long long visits;
    /* HEAD shows the page's headers without counting a visit. */
    int rc = c->req->method == METHOD_HEAD ? storeGet(c->store, KEY_VISITS, &visits)
                                           : storeIncr(c->store, KEY_VISITS, &visits);
    if (rc < 0) {
        pageError(c, 503, NULL);
        return;
    }
    char plain[32], grouped[40];
    snprintf(plain, sizeof(plain), "%lld", visits);
    formatGrouped(visits, grouped, sizeof(grouped));
    const char *v[V_COUNT];
    viewCommon(c->view, v, "count", "Live count");
    v[V_VISITS] = plain;
    v[V_VISITS_GROUPED] = grouped;
    v[V_QUOTE] = viewQuote(c->view, c->rng);
    const char *servedBy = viewServedBy(c->view);
    if (servedBy) {
        v[V_SERVED_BY] = servedBy;
        v[V_HOST] = viewHost(c->view);
        v[V_PID] = viewPid(c->view);
        c->res->servedBy = servedBy;
    }
    render(c, T_COUNT, v, 200);
}

void pageHealth(pageCtx *c) {
    int up = storePing(c->store) == 0;
    c->res->status = up ? 200 : 503;
    c->res->contentType = "application/json";
    bufAppendStr(&c->res->body, up ? "{\"status\":\"ok\",\"redis\":\"up\"}\n"
                                   : "{\"status\":\"degraded\",\"redis\":\"down\"}\n");
}
