/* site: pages, routing to them, and their data; see site.h. */
#include "site.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router.h"
#include "template.h"

#define QUOTES_MAX_BYTES (256u << 10)
#define RETRY_AFTER_S 5

/* Every template variable; the templates may use any of them. */
enum {
    V_APP_NAME, V_TITLE, V_PAGE, V_GITHUB_URL, V_LINKEDIN_URL, V_TAGLINE, V_VISITS,
    V_VISITS_GROUPED, V_QUOTE, V_SERVED_BY, V_HOST, V_PID, V_STATUS, V_HEADING, V_MESSAGE,
    V_PATH, V_RETRY_AFTER, V_COUNT
};
static const char *const varNames[V_COUNT + 1] = {
    "app_name", "title", "page", "github_url", "linkedin_url", "tagline", "visits",
    "visits_grouped", "quote", "served_by", "host", "pid", "status", "heading", "message",
    "path", "retry_after", NULL
};

enum { T_INDEX, T_COUNT, T_ABOUT, T_ERROR, T_NTEMPLATES };
static const char *const templateFiles[T_NTEMPLATES] = {
    "index.html", "count.html", "about.html", "error.html"
};

struct site {
    tmpl *pages[T_NTEMPLATES];
    char *quoteText;       /* quotes.txt, its lines cut into NUL-terminated strings */
    const char **quotes;
    size_t nquotes;
    char appName[128], githubUrl[512], linkedinUrl[512];
    char host[256], pid[24];
    char servedBy[300];    /* "host/pid", or empty when served-by is switched off */
    buf home, about;       /* these pages depend only on the configuration: rendered once */
};

static const char htmlType[] = "text/html; charset=utf-8";
static const char *const tagline = "Every visit counted: rendered in C, kept in Redis.";

/* Splits the quotes file into lines, skipping blank ones; fails when none is left. */
static int loadQuotes(site *s, const char *path, char *err, size_t errlen) {
    if ((s->quoteText = tmplReadFile(path, QUOTES_MAX_BYTES, err, errlen)) == NULL) return -1;
    size_t lines = 1;
    for (const char *c = s->quoteText; *c; c++) lines += (*c == '\n');
    if ((s->quotes = calloc(lines, sizeof(*s->quotes))) == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (char *line = s->quoteText, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        line[strcspn(line, "\r")] = '\0';
        if (line[strspn(line, " \t")] != '\0') s->quotes[s->nquotes++] = line;
    }
    if (s->nquotes == 0) {
        snprintf(err, errlen, "%s: no quotes in the file", path);
        return -1;
    }
    return 0;
}

/* Sets the values every page shares; the caller adds its own and renders. */
static void commonValues(const site *s, const char **v, const char *page, const char *title) {
    memset(v, 0, sizeof(*v) * V_COUNT);
    v[V_APP_NAME] = s->appName;
    v[V_GITHUB_URL] = s->githubUrl;
    v[V_LINKEDIN_URL] = s->linkedinUrl;
    v[V_PAGE] = page;
    v[V_TITLE] = title;
}

/* Renders the pages without per-request values, once, into s->home and s->about. */
static int prerender(site *s) {
    const char *v[V_COUNT];
    commonValues(s, v, "home", "Welcome");
    v[V_TAGLINE] = tagline;
    tmplRender(s->pages[T_INDEX], v, &s->home);
    commonValues(s, v, "about", "About");
    tmplRender(s->pages[T_ABOUT], v, &s->about);
    return s->home.oom || s->about.oom ? -1 : 0;
}

site *siteLoad(const config *cfg, char *err, size_t errlen) {
    site *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char layout[1100], path[1100];
    snprintf(layout, sizeof(layout), "%s/layout.html", cfg->templateDir);
    for (int i = 0; i < T_NTEMPLATES; i++) {
        snprintf(path, sizeof(path), "%s/%s", cfg->templateDir, templateFiles[i]);
        if ((s->pages[i] = tmplLoad(layout, path, varNames, err, errlen)) == NULL) goto fail;
    }
    snprintf(path, sizeof(path), "%s/quotes.txt", cfg->templateDir);
    if (loadQuotes(s, path, err, errlen) < 0) goto fail;

    snprintf(s->appName, sizeof(s->appName), "%s", cfg->appName);
    snprintf(s->githubUrl, sizeof(s->githubUrl), "%s", cfg->githubUrl);
    snprintf(s->linkedinUrl, sizeof(s->linkedinUrl), "%s", cfg->linkedinUrl);
    if (gethostname(s->host, sizeof(s->host)) != 0) snprintf(s->host, sizeof(s->host), "unknown");
    s->host[sizeof(s->host) - 1] = '\0';
    snprintf(s->pid, sizeof(s->pid), "%ld", (long)getpid());
    if (cfg->showServedBy) snprintf(s->servedBy, sizeof(s->servedBy), "%s/%s", s->host, s->pid);
    if (prerender(s) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return s;
fail:
    siteFree(s);
    return NULL;
}

void siteFree(site *s) {
    if (s == NULL) return;
    for (int i = 0; i < T_NTEMPLATES; i++) tmplFree(s->pages[i]);
    free(s->quotes);
    free(s->quoteText);
    bufFree(&s->home);
    bufFree(&s->about);
    free(s);
}

/* xorshift64: quotes need variety, not cryptographic randomness. */
static unsigned long long nextRandom(unsigned long long *state) {
    unsigned long long x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

/* Writes n with a comma every three digits (1234567 -> "1,234,567"). */
static void groupDigits(long long n, char *out, size_t outlen) {
    char digits[32];
    int len = snprintf(digits, sizeof(digits), "%lld", n);
    int neg = digits[0] == '-';
    size_t o = 0;
    for (int i = 0; i < len && o + 1 < outlen; i++) {
        out[o++] = digits[i];
        int left = len - i - 1;
        if (left > 0 && left % 3 == 0 && !(neg && i == 0) && o + 1 < outlen) out[o++] = ',';
    }
    out[o] = '\0';
}

static void render(const site *s, int page, const char **values, int status, response *res) {
    res->status = status;
    res->contentType = htmlType;
    tmplRender(s->pages[page], values, &res->body);
}

static void errorPage(const site *s, int status, const char *heading, const char *message,
                      const char *path, response *res) {
    const char *v[V_COUNT];
    char code[8], retry[8];
    snprintf(code, sizeof(code), "%d", status);
    snprintf(retry, sizeof(retry), "%d", res->retryAfter);
    commonValues(s, v, "error", heading);
    v[V_STATUS] = code;
    v[V_HEADING] = heading;
    v[V_MESSAGE] = message;
    v[V_PATH] = path;
    v[V_RETRY_AFTER] = res->retryAfter ? retry : NULL;
    res->cacheControl = "no-store";
    render(s, T_ERROR, v, status, res);
}

/* Whether the last Redis call of this process failed: shared by the threads so that an
 * outage is logged once per process, not once per thread or request. */
static atomic_int redisDown;

/* Notes a Redis failure or recovery in the log when the state changes. */
static void noteRedis(const siteThread *th, int failed) {
    if (atomic_exchange(&redisDown, failed) == failed) return;
    if (failed)
        fprintf(stderr, "khalid-fcgi[%ld]: redis unavailable: %s\n", (long)getpid(), th->store->errstr);
    else
        fprintf(stderr, "khalid-fcgi[%ld]: redis reachable again\n", (long)getpid());
}

static void countPage(const site *s, siteThread *th, httpMethod method, const char *path,
                      response *res) {
    long long visits;
    /* HEAD shows the page's headers without counting a visit. */
    int rc = method == HTTP_HEAD ? storeGet(th->store, "visits", &visits)
                                 : storeIncr(th->store, "visits", &visits);
    noteRedis(th, rc < 0);
    if (rc < 0) {
        res->retryAfter = RETRY_AFTER_S;
        errorPage(s, 503, "The counter is taking a break",
                  "We can't reach the visit counter right now, so we couldn't confirm your "
                  "visit. Please try again in a moment.", path, res);
        return;
    }
    char plain[32], grouped[40];
    snprintf(plain, sizeof(plain), "%lld", visits);
    groupDigits(visits, grouped, sizeof(grouped));
    const char *v[V_COUNT];
    commonValues(s, v, "count", "Live count");
    v[V_VISITS] = plain;
    v[V_VISITS_GROUPED] = grouped;
    v[V_QUOTE] = s->quotes[nextRandom(&th->rng) % s->nquotes];
    if (s->servedBy[0]) {
        v[V_SERVED_BY] = s->servedBy;
        v[V_HOST] = s->host;
        v[V_PID] = s->pid;
        res->servedBy = s->servedBy;
    }
    res->cacheControl = "no-store";
    render(s, T_COUNT, v, 200, res);
}

static void healthPage(siteThread *th, response *res) {
    int up = storePing(th->store) == 0;
    noteRedis(th, !up);
    res->status = up ? 200 : 503;
    res->contentType = "application/json";
    res->cacheControl = "no-store";
    bufAppendStr(&res->body, up ? "{\"status\":\"ok\",\"redis\":\"up\"}\n"
                                : "{\"status\":\"degraded\",\"redis\":\"down\"}\n");
}

void siteHandle(const site *s, siteThread *th, httpMethod method, const char *path, response *res) {
    bufReset(&res->body);
    res->status = 500;
    res->contentType = "text/plain; charset=utf-8";
    res->cacheControl = NULL;
    res->retryAfter = 0;
    res->allowGetHead = 0;
    res->servedBy = NULL;

    route r = routeMatch(path);
    if (r == ROUTE_NONE) {
        errorPage(s, 404, "Page not found", "There is nothing at this address.", path, res);
    } else if (method == HTTP_OTHER) {
        res->allowGetHead = 1;
        errorPage(s, 405, "Method not allowed", "This page answers GET and HEAD requests only.",
                  path, res);
    } else if (r == ROUTE_COUNT) {
        countPage(s, th, method, path, res);
    } else if (r == ROUTE_HEALTH) {
        healthPage(th, res);
    } else {
        const buf *page = r == ROUTE_HOME ? &s->home : &s->about;
        res->status = 200;
        res->contentType = htmlType;
        res->cacheControl = "no-cache";
        bufAppend(&res->body, page->data, page->len);
    }

    if (res->body.oom) {
        /* The only failure left is memory: answer 500 with an empty body. */
        bufReset(&res->body);
        res->status = 500;
        res->contentType = "text/plain; charset=utf-8";
        res->cacheControl = "no-store";
        res->servedBy = NULL;
        res->retryAfter = 0;
    }
}
