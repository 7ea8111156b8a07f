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

int httpFormatHead(buf *out, const response *r) {
    bufPrintf(out, "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n", r->status,
              httpStatusText(r->status), r->contentType, r->body.len);
    if (r->cacheControl) bufPrintf(out, "Cache-Control: %s\r\n", r->cacheControl);
    if (r->retryAfter > 0) bufPrintf(out, "Retry-After: %d\r\n", r->retryAfter);
    if (r->allowGetHead) bufAppendStr(out, "Allow: GET, HEAD\r\n");
    if (r->servedBy) bufPrintf(out, "X-Served-By: %s\r\n", r->servedBy);
    bufAppendStr(out, "\r\n");
    return out->oom ? -1 : 0;
}
