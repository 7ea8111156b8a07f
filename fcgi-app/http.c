/* http: response heads and methods; see http.h. */
#include "http.h"

#include <string.h>

httpMethod httpParseMethod(const char *method) {
    if (method == NULL) return HTTP_OTHER;
    if (strcmp(method, "GET") == 0) return HTTP_GET;
    if (strcmp(method, "HEAD") == 0) return HTTP_HEAD;
    return HTTP_OTHER;
}

const char *httpStatusText(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/* Plain appends rather than printf: this runs on every request, and vsnprintf was a third
 * of the worker's own instructions for a page. */
int httpFormatHead(buf *out, const response *r) {
    bufAppendStr(out, "Status: ");
    bufAppendUint(out, (unsigned)r->status);
    bufAppendStr(out, " ");
    bufAppendStr(out, httpStatusText(r->status));
    bufAppendStr(out, "\r\nContent-Type: ");
    bufAppendStr(out, r->contentType);
    bufAppendStr(out, "\r\nContent-Length: ");
    bufAppendUint(out, r->body.len);
    bufAppendStr(out, "\r\n");
    if (r->cacheControl) {
        bufAppendStr(out, "Cache-Control: ");
        bufAppendStr(out, r->cacheControl);
        bufAppendStr(out, "\r\n");
    }
    if (r->retryAfter > 0) {
        bufAppendStr(out, "Retry-After: ");
        bufAppendUint(out, (unsigned)r->retryAfter);
        bufAppendStr(out, "\r\n");
    }
    if (r->allowGetHead) bufAppendStr(out, "Allow: GET, HEAD\r\n");
    if (r->servedBy) {
        bufAppendStr(out, "X-Served-By: ");
        bufAppendStr(out, r->servedBy);
        bufAppendStr(out, "\r\n");
    }
    bufAppendStr(out, "\r\n");
    return out->oom ? -1 : 0;
}
