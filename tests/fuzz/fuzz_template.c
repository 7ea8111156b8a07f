/* libFuzzer target: the template compiler and renderer (template.c). The input is a
 * layout, a NUL byte and a page; with no NUL it is a page alone. The variables are the
 * site's own (view.h). Besides crashes, leaks and undefined behaviour it checks that an
 * error names the file and a line it has, and that rendering adds no markup of its own. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "template.h"
#include "view.h"

#define VAR_NAME(id, name) #name,
static const char *const names[] = {VIEW_VARIABLES(VAR_NAME) NULL};
#undef VAR_NAME

static size_t count(const char *s, size_t n, char c) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == c;
    return k;
}

/* Aborts unless err is "file:line: message", line within that file, message printable. */
static void checkError(const char *err, const char *layout, const char *page) {
    const char *src = strncmp(err, "layout.html:", 12) == 0 ? layout
                      : strncmp(err, "page.html:", 10) == 0 ? page : NULL;
    if (src == NULL) abort();
    char *end;
    long line = strtol(strchr(err, ':') + 1, &end, 10);
    if (line < 1 || (size_t)line > count(src, strlen(src), '\n') + 1 || strncmp(end, ": ", 2) != 0 ||
        end[2] == '\0')
        abort();
    for (const char *c = end; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) abort();
}

/* Compiles again with an error buffer allocated to the byte: the same error, cut. */
static void checkShortError(const char *layout, const char *page, const char *err) {
    char *small = malloc(12);
    if (small == NULL) return;
    if (tmplCompile("layout.html", layout, "page.html", page, names, small, 12) != NULL ||
        strncmp(small, err, 11) != 0 || strlen(small) > 11)
        abort();
    free(small);
}

/* Renders t with values into a fresh buffer and returns its text, or aborts. */
static char *render(const tmpl *t, const char *const *values, size_t *len) {
    buf out;
    bufInit(&out);
    if (tmplRender(t, values, &out) != 0 || bufCStr(&out) == NULL) abort();
    *len = out.len;
    return out.data;
}

/* With nothing set, the page is the sources' text at most; with values full of markup,
 * none of it survives unless a {{&name}} tag asked for it raw; and rendering is repeatable. */
static void checkRender(const tmpl *t, const char *layout, const char *page) {
    static const char markup[] = "<b class=\"x\">&'</b>";
    const char *none[V_COUNT] = {NULL};
    const char *some[V_COUNT];
    for (int i = 0; i < V_COUNT; i++) some[i] = i % 3 == 0 ? NULL : i % 3 == 1 ? "" : markup;
    size_t layoutLen = layout ? strlen(layout) : 0, pageLen = strlen(page), len, again;

    char *plain = render(t, none, &len);
    if (len > layoutLen + pageLen || memchr(plain, '\0', len)) abort();
    free(plain);

    char *filled = render(t, some, &len), *second = render(t, some, &again);
    if (again != len || memcmp(filled, second, len) != 0 || memchr(filled, '\0', len)) abort();
    int raw = strstr(page, "{{&") || (layout && strstr(layout, "{{&"));
    if (!raw && count(filled, len, '<') > count(page, pageLen, '<') + (layout ? count(layout, layoutLen, '<') : 0))
        abort();
    free(second);
    free(filled);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzzString(data, size);
    size_t first = strlen(text);
    const char *layout = first < size ? text : NULL, *page = first < size ? text + first + 1 : text;
    char err[256] = "";
    tmpl *t = tmplCompile("layout.html", layout, "page.html", page, names, err, sizeof(err));
    if (t == NULL) {
        checkError(err, layout ? layout : "", page);
        checkShortError(layout, page, err);
    } else {
        checkRender(t, layout, page);
        tmplFree(t);
    }
    free(text);
    return 0;
}
