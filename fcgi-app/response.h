/* response: what a handler answers, and its bytes on the wire (a CGI-style head, then the
 * body). Pure: no I/O, so it is unit-tested directly. */
#ifndef KT_RESPONSE_H
#define KT_RESPONSE_H

#include <stddef.h>

#include "buf.h"

/* The const char * fields point to strings that outlive the request (literals, or data
 * the view owns); the body is owned by the response and reused across requests. */
typedef struct response {
    int status;
    const char *contentType;
    const char *cacheControl;  /* NULL sends none */
    int retryAfter;            /* seconds for Retry-After; 0 sends none */
    const char *allow;         /* Allow header value (with 405), or NULL */
    const char *servedBy;      /* X-Served-By value, or NULL */
    const char *extraHeaders;  /* whole header lines ("Name: value\r\n"...), or NULL */
    buf body;
} response;

void responseInit(response *r);
/* Empties the body (keeping its memory) and sets the defaults: 500, text/plain, no
 * optional headers. Every request starts from here. */
void responseReset(response *r);
void responseFree(response *r);

/* The reason phrase for status, e.g. "Not Found"; "Unknown" for codes we never send. */
const char *responseStatusText(int status);

/* Appends the head for r (Status, headers, blank line) to out. Returns -1 on OOM. */
int responseHead(buf *out, const response *r);

/* Builds the whole answer in out (the body only when withBody) and points *data and *len
 * at the bytes to write. This is the one place that answers a lack of memory: a body
 * that could not be built becomes an empty 500, and an answer that could not be built
 * becomes a fixed one, so the client never sees half a page. */
void responseWire(response *r, int withBody, buf *out, const char **data, size_t *len);

#endif
