/* What several libFuzzer targets share: the input as a C string, and the input as the
 * NAME=value table that the worker reads its FastCGI parameters and its environment from. */
#ifndef KT_FUZZ_H
#define KT_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The input with a NUL after it, for the caller to free. An embedded NUL still ends the
 * string early: several targets use it to cut the input in two. */
static inline char *fuzzString(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (s == NULL) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#define FUZZ_PARAMS_MAX 64

/* NAME=value pairs pointing into the string they were cut from. */
typedef struct fuzzParams {
    const char *name[FUZZ_PARAMS_MAX];
    const char *value[FUZZ_PARAMS_MAX];
    int n;
} fuzzParams;

/* Cuts text (from fuzzString) into pairs, one a line; one per NUL-ended item instead when
 * it holds a NUL, so that a value can hold a line break, as a real one can. Items with no
 * '=' are skipped, as an environment holds none. */
static inline void fuzzParseParams(char *text, size_t size, fuzzParams *p) {
    char sep = memchr(text, '\0', size) ? '\0' : '\n';
    char *end = text + size;
    p->n = 0;
    for (char *item = text; item <= end && p->n < FUZZ_PARAMS_MAX;) {
        char *stop = memchr(item, sep, (size_t)(end - item));
        if (stop == NULL) stop = end;
        *stop = '\0';
        char *eq = strchr(item, '=');
        if (eq) {
            *eq = '\0';
            p->name[p->n] = item;
            p->value[p->n++] = eq + 1;
        }
        item = stop + 1;
    }
}

/* The first value of name in the fuzzParams ud, or NULL: a lookup callback of the shape
 * both requestParse() and configLoad() take. */
static inline const char *fuzzParam(const char *name, void *ud) {
    const fuzzParams *p = ud;
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->name[i], name) == 0) return p->value[i];
    return NULL;
}

#endif
