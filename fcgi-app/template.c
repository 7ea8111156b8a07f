/* template: compile-once HTML templates; see template.h. */
#include "template.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

#define TMPL_MAX_BYTES (1u << 20)
#define TMPL_MAX_DEPTH 16

typedef enum { SEG_TEXT, SEG_ESCAPED, SEG_RAW, SEG_SECTION, SEG_INVERTED } segType;

typedef struct seg {
    segType type;
    size_t off, len; /* SEG_TEXT: a slice of tmpl.text */
    int var;         /* other types: the variable's index */
    size_t end;      /* sections: index of the first segment after the section */
} seg;

struct tmpl {
    seg *segs;
    size_t nsegs, capsegs;
    buf text;        /* the literal text of all SEG_TEXT segments, back to back */
};

/* Compilation state: what an error message needs and the open sections. */
typedef struct parser {
    tmpl *t;
    const char *const *names;
    char *err;
    size_t errlen;
    int canMerge;    /* the last segment is text that the next text may extend */
    size_t open[TMPL_MAX_DEPTH];          /* segment index of each open section */
    const char *openAt[TMPL_MAX_DEPTH];   /* and where its tag is, for errors */
    int depth;
} parser;

/* Formats "name:line: message" into the parser's error buffer and returns -1. */
static int parseError(parser *p, const char *name, const char *src, const char *at,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int parseError(parser *p, const char *name, const char *src, const char *at,
                      const char *fmt, ...) {
    int line = 1;
    for (const char *c = src; c < at; c++) line += (*c == '\n');
    int n = snprintf(p->err, p->errlen, "%s:%d: ", name, line);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int addSeg(parser *p, seg s) {
    tmpl *t = p->t;
    if (t->nsegs == t->capsegs) {
        size_t cap = t->capsegs ? t->capsegs * 2 : 32;
        seg *n = realloc(t->segs, cap * sizeof(*n));
        if (n == NULL) return -1;
        t->segs = n;
        t->capsegs = cap;
    }
    t->segs[t->nsegs++] = s;
    return 0;
}

/* Adds literal text, extending the previous text segment when nothing lies between. */
static int addText(parser *p, const char *s, size_t n) {
    if (n == 0) return 0;
    tmpl *t = p->t;
    size_t off = t->text.len;
    if (bufAppend(&t->text, s, n) < 0) return -1;
    if (p->canMerge) {
        t->segs[t->nsegs - 1].len += n;
        return 0;
    }
    p->canMerge = 1;
    return addSeg(p, (seg){.type = SEG_TEXT, .off = off, .len = n});
}

static int lookupVar(const char *const *names, const char *name, size_t n) {
    for (int i = 0; names[i]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0) return i;
    return -1;
}

/* Compiles src into p->t. When page is not NULL, src is a layout and its {{>content}}
 * tag compiles the page in its place. */
static int parseSource(parser *p, const char *name, const char *src, const char *pageName,
                       const char *page) {
    int baseDepth = p->depth, sawContent = 0;
    const char *c = src;
    for (;;) {
        const char *tag = strstr(c, "{{");
        if (tag == NULL) {
            if (addText(p, c, strlen(c)) < 0) goto oom;
            break;
        }
        if (addText(p, c, (size_t)(tag - c)) < 0) goto oom;
        const char *close = strstr(tag + 2, "}}");
        const char *nl = strchr(tag + 2, '\n');
        if (close == NULL || (nl && nl < close))
            return parseError(p, name, src, tag, "unterminated tag '{{'");
        char sigil = tag[2];
        const char *id = tag + 2;
        if (strchr("&#^/>", sigil)) id++;
        else if (sigil == '{' || sigil == '!' || sigil == '=')
            return parseError(p, name, src, tag, "unsupported tag '{{%c' (use {{name}} or {{&name}})",
                              sigil);
        while (*id == ' ') id++;
        const char *idEnd = close;
        while (idEnd > id && idEnd[-1] == ' ') idEnd--;
        size_t idLen = (size_t)(idEnd - id);
        for (const char *k = id; k < idEnd; k++)
            if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_'))
                return parseError(p, name, src, tag, "bad name in tag (use a-z, 0-9 and _)");
        if (idLen == 0) return parseError(p, name, src, tag, "empty tag");
        c = close + 2;

        if (sigil == '>') {
            if (page == NULL || idLen != 7 || memcmp(id, "content", 7) != 0)
                return parseError(p, name, src, tag, "{{>content}} is allowed only once, in the layout");
            if (sawContent++)
                return parseError(p, name, src, tag, "second {{>content}} in the layout");
            if (parseSource(p, pageName, page, NULL, NULL) < 0) return -1;
            continue;
        }
        int var = lookupVar(p->names, id, idLen);
        if (var < 0)
            return parseError(p, name, src, tag, "unknown variable '%.*s'", (int)(idLen < 60 ? idLen : 60), id);
        if (sigil == '/') {
            if (p->depth == baseDepth)
                return parseError(p, name, src, tag, "'{{/%s}}' closes no open section", p->names[var]);
            seg *open = &p->t->segs[p->open[--p->depth]];
            if (open->var != var)
                return parseError(p, name, src, tag, "'{{/%s}}' does not close the innermost section",
                                  p->names[var]);
            open->end = p->t->nsegs;
            p->canMerge = 0;
            continue;
        }
        seg s = {.var = var};
        switch (sigil) {
        case '&': s.type = SEG_RAW; break;
        case '#': s.type = SEG_SECTION; break;
        case '^': s.type = SEG_INVERTED; break;
        default: s.type = SEG_ESCAPED; break;
        }
        if (s.type == SEG_SECTION || s.type == SEG_INVERTED) {
            if (p->depth == TMPL_MAX_DEPTH)
                return parseError(p, name, src, tag, "sections nested deeper than %d", TMPL_MAX_DEPTH);
            p->openAt[p->depth] = tag;
            p->open[p->depth++] = p->t->nsegs;
        }
        if (addSeg(p, s) < 0) goto oom;
        p->canMerge = 0;
    }
    if (p->depth != baseDepth) {
        const seg *open = &p->t->segs[p->open[p->depth - 1]];
        return parseError(p, name, src, p->openAt[p->depth - 1], "section '%s' is never closed",
                          p->names[open->var]);
    }
    if (page && !sawContent)
        return parseError(p, name, src, src, "the layout has no {{>content}} tag");
    return 0;
oom:
    snprintf(p->err, p->errlen, "%s: out of memory", name);
    return -1;
}

tmpl *tmplCompile(const char *layoutName, const char *layoutSrc, const char *pageName,
                  const char *pageSrc, const char *const *names, char *err, size_t errlen) {
    tmpl *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, errlen, "%s: out of memory", pageName);
        return NULL;
    }
    bufInit(&t->text);
    parser p = {.t = t, .names = names, .err = err, .errlen = errlen};
    int rc = layoutSrc ? parseSource(&p, layoutName, layoutSrc, pageName, pageSrc)
                       : parseSource(&p, pageName, pageSrc, NULL, NULL);
    if (rc < 0) {
        tmplFree(t);
        return NULL;
    }
    return t;
}

tmpl *tmplLoad(const char *layoutPath, const char *pagePath, const char *const *names,
               char *err, size_t errlen) {
    char *layout = NULL, *page = NULL;
    tmpl *t = NULL;
    if (layoutPath && (layout = fileRead(layoutPath, TMPL_MAX_BYTES, err, errlen)) == NULL)
        goto done;
    if ((page = fileRead(pagePath, TMPL_MAX_BYTES, err, errlen)) == NULL) goto done;
    t = tmplCompile(layoutPath, layout, pagePath, page, names, err, errlen);
done:
    free(layout);
    free(page);
    return t;
}

void tmplFree(tmpl *t) {
    if (t == NULL) return;
    free(t->segs);
    bufFree(&t->text);
    free(t);
}

int tmplRender(const tmpl *t, const char *const *values, buf *out) {
    size_t i = 0;
    while (i < t->nsegs) {
        const seg *s = &t->segs[i];
        const char *v = s->type == SEG_TEXT ? NULL : values[s->var];
        int set = v != NULL && v[0] != '\0';
        switch (s->type) {
        case SEG_TEXT: bufAppend(out, t->text.data + s->off, s->len); break;
        case SEG_ESCAPED: if (set) bufAppendHtml(out, v, strlen(v)); break;
        case SEG_RAW: if (set) bufAppendStr(out, v); break;
        case SEG_SECTION: if (!set) { i = s->end; continue; } break;
        case SEG_INVERTED: if (set) { i = s->end; continue; } break;
        }
        i++;
    }
    return out->oom ? -1 : 0;
}
