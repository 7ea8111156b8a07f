/* libFuzzer target: the request value (request.c) built from FastCGI parameters, given
 * as NAME=value lines (see fuzz.h), then its query searched for the names the pages read.
 * Besides crashes and undefined behaviour it checks what request.h promises of every
 * field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "request.h"

/* Aborts unless field is the parameter's own value, or "" when it was not sent. */
static void checkField(const char *field, const char *sent) {
    if (field == NULL || (sent ? field != sent : field[0] != '\0')) abort();
}

/* Aborts unless the path is DOCUMENT_URI, or else REQUEST_URI up to '?', cut to fit. */
static void checkPath(const request *r, fuzzParams *p) {
    const char *doc = fuzzParam("DOCUMENT_URI", p);
    if (doc) {
        checkField(r->path, doc);
        return;
    }
    const char *uri = fuzzParam("REQUEST_URI", p);
    if (uri == NULL) uri = "";
    size_t want = strcspn(uri, "?"), n = strlen(r->path);
    if (want >= REQUEST_PATH_MAX) want = REQUEST_PATH_MAX - 1;
    if (r->path != r->pathCopy || n != want || memcmp(r->path, uri, n) != 0) abort();
}

static void checkMethod(requestMethod method, const char *sent) {
    static const char *const known[] = {"GET", "HEAD", "POST"};
    static const requestMethod bits[] = {METHOD_GET, METHOD_HEAD, METHOD_POST};
    requestMethod want = METHOD_OTHER;
    for (int i = 0; i < 3; i++)
        if (sent && strcmp(sent, known[i]) == 0) want = bits[i];
    if (method != want) abort();
}

/* The pages read period into 8 bytes and dates into 16; fuzz_decode tries other sizes. */
static void checkQueryValue(const char *query, const char *name, size_t outlen) {
    char *out = malloc(outlen);
    if (out == NULL) return;
    int len = requestQueryValue(query, name, out, outlen);
    if (len < -2 || (len >= 0 && ((size_t)len >= outlen || strlen(out) != (size_t)len))) abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzzString(data, size);
    fuzzParams p;
    fuzzParseParams(text, size, &p);
    request r;
    memset(&r, 0xa5, sizeof(r));
    requestParse(&r, fuzzParam, &p);
    checkMethod(r.method, fuzzParam("REQUEST_METHOD", &p));
    checkPath(&r, &p);
    checkField(r.query, fuzzParam("QUERY_STRING", &p));
    checkField(r.clientAddr, fuzzParam("REMOTE_ADDR", &p));
    checkField(r.userAgent, fuzzParam("HTTP_USER_AGENT", &p));
    checkField(r.referer, fuzzParam("HTTP_REFERER", &p));
    checkField(r.host, fuzzParam("HTTP_HOST", &p));
    checkQueryValue(r.query, "period", 8);
    checkQueryValue(r.query, "from", 16);
    checkQueryValue(r.query, "to", 16);
    free(text);
    return 0;
}
