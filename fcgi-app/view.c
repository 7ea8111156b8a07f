/* view: templates, quotes, identity and fixed pages; see view.h. */
#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "template.h"

#define QUOTES_MAX_BYTES (256u << 10)

#define VIEW_VAR_NAME(id, name) #name,
static const char *const varNames[V_COUNT + 1] = {VIEW_VARIABLES(VIEW_VAR_NAME) NULL};
#undef VIEW_VAR_NAME

#define VIEW_TEMPLATE_FILE(id, file) file,
static const char *const templateFiles[T_COUNT_] = {VIEW_TEMPLATES(VIEW_TEMPLATE_FILE)};
#undef VIEW_TEMPLATE_FILE

static const char tagline[] = "Every visit counted: rendered in C, kept in Redis.";

struct view {
    tmpl *templates[T_COUNT_];
    char *quoteText;       /* quotes.txt, its lines cut into NUL-terminated strings */
    const char **quotes;
    size_t nquotes;
    char appName[128], githubUrl[512], linkedinUrl[512];
    char host[256], pid[24];
    char servedBy[300];    /* "host/pid", or empty when served-by is switched off */
    buf home, about;
};

/* Splits the quotes file into lines, skipping blank ones; fails when none is left. */
static int loadQuotes(view *v, const char *path, char *err, size_t errlen) {
    if ((v->quoteText = fileRead(path, QUOTES_MAX_BYTES, err, errlen)) == NULL) return -1;
    size_t lines = 1;
    for (const char *c = v->quoteText; *c; c++) lines += (*c == '\n');
    if ((v->quotes = calloc(lines, sizeof(*v->quotes))) == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (char *line = v->quoteText, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        line[strcspn(line, "\r")] = '\0';
        if (line[strspn(line, " \t")] != '\0') v->quotes[v->nquotes++] = line;
    }
    if (v->nquotes == 0) {
        snprintf(err, errlen, "%s: no quotes in the file", path);
        return -1;
    }
    return 0;
}

void viewCommon(const view *v, const char **values, const char *page, const char *title) {
    memset(values, 0, sizeof(*values) * V_COUNT);
    values[V_APP_NAME] = v->appName;
    values[V_GITHUB_URL] = v->githubUrl;
    values[V_LINKEDIN_URL] = v->linkedinUrl;
    values[V_PAGE] = page;
    values[V_TITLE] = title;
}

int viewRender(const view *v, viewTemplate t, const char *const *values, buf *out) {
    return tmplRender(v->templates[t], values, out);
}

/* Renders the pages without per-request values into v->home and v->about. */
static int renderFixedPages(view *v) {
    const char *values[V_COUNT];
    viewCommon(v, values, "home", "Welcome");
    values[V_TAGLINE] = tagline;
    viewRender(v, T_INDEX, values, &v->home);
    viewCommon(v, values, "about", "About");
    viewRender(v, T_ABOUT, values, &v->about);
    return v->home.oom || v->about.oom ? -1 : 0;
}

/* "dir/name" into out; fails, naming the file, when it does not fit. */
static int joinPath(char *out, size_t n, const char *dir, const char *name, char *err, size_t errlen) {
    if ((size_t)snprintf(out, n, "%s/%s", dir, name) < n) return 0;
    snprintf(err, errlen, "%s/%s: path too long", dir, name);
    return -1;
}

view *viewLoad(const config *cfg, char *err, size_t errlen) {
    view *v = calloc(1, sizeof(*v));
    if (v == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    bufInit(&v->home);
    bufInit(&v->about);
    char layout[sizeof(cfg->templateDir) + 32], path[sizeof(cfg->templateDir) + 32];
    if (joinPath(layout, sizeof(layout), cfg->templateDir, "layout.html", err, errlen) < 0) goto fail;
    for (int i = 0; i < T_COUNT_; i++) {
        if (joinPath(path, sizeof(path), cfg->templateDir, templateFiles[i], err, errlen) < 0 ||
            (v->templates[i] = tmplLoad(layout, path, varNames, err, errlen)) == NULL)
            goto fail;
    }
    if (joinPath(path, sizeof(path), cfg->templateDir, "quotes.txt", err, errlen) < 0 ||
        loadQuotes(v, path, err, errlen) < 0)
        goto fail;

    snprintf(v->appName, sizeof(v->appName), "%s", cfg->appName);
    snprintf(v->githubUrl, sizeof(v->githubUrl), "%s", cfg->githubUrl);
    snprintf(v->linkedinUrl, sizeof(v->linkedinUrl), "%s", cfg->linkedinUrl);
    if (gethostname(v->host, sizeof(v->host)) != 0) snprintf(v->host, sizeof(v->host), "unknown");
    v->host[sizeof(v->host) - 1] = '\0';
    snprintf(v->pid, sizeof(v->pid), "%ld", (long)getpid());
    if (cfg->showServedBy) snprintf(v->servedBy, sizeof(v->servedBy), "%s/%s", v->host, v->pid);
    if (renderFixedPages(v) < 0) {
        snprintf(err, errlen, "out of memory rendering the fixed pages");
        goto fail;
    }
    return v;
fail:
    viewFree(v);
    return NULL;
}

void viewFree(view *v) {
    if (v == NULL) return;
    for (int i = 0; i < T_COUNT_; i++) tmplFree(v->templates[i]);
    free(v->quotes);
    free(v->quoteText);
    bufFree(&v->home);
    bufFree(&v->about);
    free(v);
}

const buf *viewFixedPage(const view *v, viewTemplate t) {
    return t == T_INDEX ? &v->home : t == T_ABOUT ? &v->about : NULL;
}

/* xorshift64: quotes need variety, not cryptographic randomness. */
const char *viewQuote(const view *v, unsigned long long *rng) {
    unsigned long long x = *rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *rng = x;
    return v->quotes[x % v->nquotes];
}

const char *viewServedBy(const view *v) { return v->servedBy[0] ? v->servedBy : NULL; }
const char *viewHost(const view *v) { return v->host; }
const char *viewPid(const view *v) { return v->pid; }
