/* http: the parts of an HTTP response a FastCGI worker writes, and the request method.
 * Pure functions: no I/O, so they are unit-tested directly. */
#ifndef KT_HTTP_H
#define KT_HTTP_H

#include "buf.h"

typedef enum { HTTP_GET, HTTP_HEAD, HTTP_OTHER } httpMethod;

typedef struct response {
    int status;
    const char *contentType;
    const char *cacheControl;
    int retryAfter;        /* seconds for Retry-After; 0 sends none */
    int allowGetHead;      /* send "Allow: GET, HEAD" (with 405) */
    const char *servedBy;  /* X-Served-By value, or NULL */
    buf body;              /* owned by the response; reused across requests */
} response;

httpMethod httpParseMethod(const char *method);
/* The reason phrase for status, e.g. "Not Found"; "Unknown" for codes we never send. */
const char *httpStatusText(int status);
/* Appends the CGI response head (Status, headers, blank line) for r to out. */
int httpFormatHead(buf *out, const response *r);

#endif
