/* template: HTML templates compiled once at start-up, rendered per request without parsing.
 *
 * Syntax: {{name}} is HTML-escaped, {{&name}} is inserted raw, {{#name}}...{{/name}} is
 * kept only when name is set and non-empty, {{^name}}...{{/name}} only when it is not,
 * and {{>content}} (layout only) is where the page is spliced in. Anything else inside
 * {{ }} is an error, and so is a name missing from the caller's list of variables.
 *
 * Variables are numbered by their position in the NULL-terminated names array given at
 * compile time; tmplRender() takes the values in that order (NULL = unset). */
#ifndef KT_TEMPLATE_H
#define KT_TEMPLATE_H

#include <stddef.h>

#include "buf.h"

typedef struct tmpl tmpl;

/* Compiles page source pageSrc, spliced into layoutSrc at {{>content}} when layoutSrc is
 * not NULL. The *Name arguments appear in error messages as "name:line: ...". Returns a
 * template the caller frees with tmplFree(), or NULL with the reason in err. The sources
 * and names are copied or not kept: they may be freed after the call. */
tmpl *tmplCompile(const char *layoutName, const char *layoutSrc, const char *pageName,
                  const char *pageSrc, const char *const *names, char *err, size_t errlen);

/* Reads both files and compiles them as tmplCompile() does; layoutPath may be NULL. */
tmpl *tmplLoad(const char *layoutPath, const char *pagePath, const char *const *names,
               char *err, size_t errlen);

void tmplFree(tmpl *t);

/* Appends the page to out. Returns 0, or -1 when out ran out of memory. */
int tmplRender(const tmpl *t, const char *const *values, buf *out);

#endif
