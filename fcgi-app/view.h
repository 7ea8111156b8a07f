/* view: what the pages are rendered from, loaded once at start-up and read-only after
 * that, so every thread shares one: the compiled templates, the quotes, the worker's
 * identity, and the pages that depend only on the configuration, rendered once. */
#ifndef KT_VIEW_H
#define KT_VIEW_H

#include <stddef.h>

#include "buf.h"
#include "config.h"

/* Every template variable: X(enum suffix, name in the templates). Any template may use
 * any of them; values are passed as an array indexed by V_<suffix>. */
#define VIEW_VARIABLES(X) \
    X(APP_NAME, app_name) X(TITLE, title) X(PAGE, page) X(GITHUB_URL, github_url) \
    X(LINKEDIN_URL, linkedin_url) X(TAGLINE, tagline) X(VISITS, visits) \
    X(VISITS_GROUPED, visits_grouped) X(QUOTE, quote) X(SERVED_BY, served_by) X(HOST, host) \
    X(PID, pid) X(STATUS, status) X(HEADING, heading) X(MESSAGE, message) X(PATH, path) \
    X(RETRY_AFTER, retry_after) X(FROM, from) X(TO, to) X(VIEWS, views) X(VISITORS, visitors) \
    X(LIVE, live) X(BOTS, bots) X(CHARTS, charts) X(LISTS, lists) X(PERIOD_DAY, period_day) \
    X(PERIOD_7D, period_7d) X(PERIOD_30D, period_30d) X(PAGE_PERIOD, page_period)

#define VIEW_VAR_ENUM(id, name) V_##id,
typedef enum { VIEW_VARIABLES(VIEW_VAR_ENUM) V_COUNT } viewVar;
#undef VIEW_VAR_ENUM

/* Every page template: X(enum suffix, file in TEMPLATE_DIR), each spliced into
 * layout.html. */
#define VIEW_TEMPLATES(X) \
    X(INDEX, "index.html") X(COUNT, "count.html") X(ABOUT, "about.html") X(ERROR, "error.html") \
    X(STATS, "stats.html")

#define VIEW_TEMPLATE_ENUM(id, file) T_##id,
typedef enum { VIEW_TEMPLATES(VIEW_TEMPLATE_ENUM) T_COUNT_ } viewTemplate;
#undef VIEW_TEMPLATE_ENUM

typedef struct view view;

/* Loads the templates and quotes from cfg->templateDir and renders the fixed pages.
 * Returns NULL with the reason in err (naming the file and line). Keeps no pointer into
 * cfg. Free with viewFree(). */
view *viewLoad(const config *cfg, char *err, size_t errlen);
void viewFree(view *v);

/* Fills values with what every page shows (name, links, page and title) and clears the
 * rest; the caller sets its own and calls viewRender(). */
void viewCommon(const view *v, const char **values, const char *page, const char *title);

/* Appends template t rendered with values to out. Returns -1 when out ran out of memory. */
int viewRender(const view *v, viewTemplate t, const char *const *values, buf *out);

/* The home and about pages, rendered at load time; NULL for other templates. */
const buf *viewFixedPage(const view *v, viewTemplate t);

/* A random quote; advances *rng, the calling thread's random state (never 0). */
const char *viewQuote(const view *v, unsigned long long *rng);

/* This worker's identity: "host/pid", or NULL when SHOW_SERVED_BY is off; and its
 * parts. The strings live as long as the view. */
const char *viewServedBy(const view *v);
const char *viewHost(const view *v);
const char *viewPid(const view *v);

#endif
