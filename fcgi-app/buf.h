/* buf: a growable byte buffer, reused across requests so the hot path does not allocate.
 *
 * A buf owns its memory: bufFree() releases it, bufReset() empties it and keeps the
 * memory for the next request. After an allocation failure every append fails and
 * b->oom stays set until bufReset(), so a caller may append freely and check once. */
#ifndef KT_BUF_H
#define KT_BUF_H

#include <stddef.h>

typedef struct buf {
    char *data;   /* not NUL-terminated unless bufCStr() was called */
    size_t len;
    size_t cap;
    int oom;      /* an append failed for lack of memory */
} buf;

void bufInit(buf *b);
void bufFree(buf *b);
void bufReset(buf *b);
int bufAppend(buf *b, const char *s, size_t n);
int bufAppendStr(buf *b, const char *s);
/* Appends n in decimal (no printf: heads are formatted on every request). */
int bufAppendUint(buf *b, unsigned long long n);
/* Appends n in decimal, with a '-' when negative. */
int bufAppendInt(buf *b, long long n);
/* Appends s with & < > " ' replaced by HTML entities, safe in text and quoted attributes
 * of HTML and XML (SVG). */
int bufAppendHtml(buf *b, const char *s, size_t n);
/* Appends s as a JSON string, quotes included: " \\ and control characters escaped. */
int bufAppendJson(buf *b, const char *s);
/* Appends s as one CSV field (RFC 4180): quoted, with quotes doubled, when it holds a
 * comma, quote or line break; a leading = + - @, tab or carriage return is prefixed with '
 * so that spreadsheets do not run it as a formula (OWASP's CSV injection list). */
int bufAppendCsv(buf *b, const char *s);
/* NUL-terminates the contents (not counted in len) and returns them, or NULL after OOM. */
const char *bufCStr(buf *b);

#endif
