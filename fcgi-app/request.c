/* request: FastCGI parameters to a request value; see request.h. */
#include "request.h"

#include <string.h>

requestMethod requestParseMethod(const char *method) {
    if (method == NULL) return METHOD_OTHER;
    if (strcmp(method, "GET") == 0) return METHOD_GET;
    if (strcmp(method, "HEAD") == 0) return METHOD_HEAD;
    if (strcmp(method, "POST") == 0) return METHOD_POST;
    return METHOD_OTHER;
}

static const char *param(requestLookup get, void *ud, const char *name) {
    const char *v = get(name, ud);
    return v ? v : "";
}

void requestParse(request *r, requestLookup get, void *ud) {
    r->method = requestParseMethod(get("REQUEST_METHOD", ud));
    r->path = get("DOCUMENT_URI", ud);
    if (r->path == NULL) {
        const char *uri = param(get, ud, "REQUEST_URI");
        size_t n = strcspn(uri, "?");
        if (n >= sizeof(r->pathCopy)) n = sizeof(r->pathCopy) - 1;
        memcpy(r->pathCopy, uri, n);
        r->pathCopy[n] = '\0';
        r->path = r->pathCopy;
    }
    r->query = param(get, ud, "QUERY_STRING");
    r->clientAddr = param(get, ud, "REMOTE_ADDR");
    r->userAgent = param(get, ud, "HTTP_USER_AGENT");
    r->referer = param(get, ud, "HTTP_REFERER");
    r->host = param(get, ud, "HTTP_HOST");
}

static int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int requestDecode(const char *s, size_t n, char *out, size_t outlen, int plusIsSpace) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexValue(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexValue(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plusIsSpace) {
            c = ' ';
        }
        if (c == '\0' || o + 1 >= outlen) return -1;
        out[o++] = c;
    }
    if (outlen == 0) return -1;
    out[o] = '\0';
    return (int)o;
}

int requestQueryValue(const char *query, const char *name, char *out, size_t outlen) {
    size_t nameLen = strlen(name);
    for (const char *p = query; *p;) {
        size_t pairLen = strcspn(p, "&");
        const char *eq = memchr(p, '=', pairLen);
        size_t keyLen = eq ? (size_t)(eq - p) : pairLen;
        if (keyLen == nameLen && memcmp(p, name, nameLen) == 0) {
            const char *v = eq ? eq + 1 : p + pairLen;
            int n = requestDecode(v, (size_t)(p + pairLen - v), out, outlen, 1);
            return n < 0 ? -2 : n;
        }
        p += pairLen;
        if (*p == '&') p++;
    }
    return -1;
}
