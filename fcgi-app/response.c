/* response: heads and wire bytes; see response.h. */
#include "response.h"

static const char plainType[] = "text/plain; charset=utf-8";

void responseInit(response *r) {
    bufInit(&r->body);
    responseReset(r);
}

void responseReset(response *r) {
    bufReset(&r->body);
    r->status = 500;
    r->contentType = plainType;
    r->cacheControl = NULL;
    r->retryAfter = 0;
    r->allow = NULL;
    r->servedBy = NULL;
    r->extraHeaders = NULL;
}

void responseFree(response *r) {
    bufFree(&r->body);
}

const char *responseStatusText(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 429: return "Too Many Requests";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

static void header(buf *out, const char *name, const char *value) {
    bufAppendStr(out, name);
    bufAppendStr(out, ": ");
    bufAppendStr(out, value);
    bufAppendStr(out, "\r\n");
}

/* Plain appends rather than printf: this runs on every request, and vsnprintf was a third
 * of the worker's own instructions for a page. */
int responseHead(buf *out, const response *r) {
    bufAppendStr(out, "Status: ");
    bufAppendUint(out, (unsigned)r->status);
    bufAppendStr(out, " ");
    bufAppendStr(out, responseStatusText(r->status));
    bufAppendStr(out, "\r\n");
    header(out, "Content-Type", r->contentType);
    bufAppendStr(out, "Content-Length: ");
    bufAppendUint(out, r->body.len);
    bufAppendStr(out, "\r\n");
    if (r->cacheControl) header(out, "Cache-Control", r->cacheControl);
    if (r->retryAfter > 0) {
        bufAppendStr(out, "Retry-After: ");
        bufAppendUint(out, (unsigned)r->retryAfter);
        bufAppendStr(out, "\r\n");
    }
    if (r->allow) header(out, "Allow", r->allow);
    if (r->servedBy) header(out, "X-Served-By", r->servedBy);
    if (r->extraHeaders) bufAppendStr(out, r->extraHeaders);
    bufAppendStr(out, "\r\n");
    return out->oom ? -1 : 0;
}

void responseWire(response *r, int withBody, buf *out, const char **data, size_t *len) {
    static const char fixed500[] = "Status: 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
    if (r->body.oom) {
        responseReset(r);
        r->cacheControl = "no-store";
    }
    bufReset(out);
    responseHead(out, r);
    if (withBody) bufAppend(out, r->body.data, r->body.len);
    if (out->oom) {
        *data = fixed500;
        *len = sizeof(fixed500) - 1;
    } else {
        *data = out->data;
        *len = out->len;
    }
}
