/* request: what the worker knows about one request, taken from its FastCGI parameters
 * through a lookup callback. No libfcgi here, so unit tests and fuzzers drive it with
 * plain tables of parameters. */
#ifndef KT_REQUEST_H
#define KT_REQUEST_H

#include <stddef.h>

/* Bits, so that a route can list the methods it answers in one field. */
typedef enum {
    METHOD_GET = 1, METHOD_HEAD = 2, METHOD_POST = 4, METHOD_OTHER = 8
} requestMethod;

#define REQUEST_PATH_MAX 2048

/* Returns the parameter's value, or NULL when it was not sent. */
typedef const char *(*requestLookup)(const char *name, void *ud);

/* Every string is non-NULL ("" when the parameter is missing) and points either into the
 * parameters, so it lives as long as they do, or into the request value itself. */
typedef struct request {
    requestMethod method;
    const char *path;        /* DOCUMENT_URI (decoded and normalised by nginx), else
                                REQUEST_URI up to '?', cut at REQUEST_PATH_MAX - 1 bytes */
    const char *query;       /* QUERY_STRING as sent: still percent-encoded */
    const char *clientAddr;  /* REMOTE_ADDR */
    const char *userAgent;   /* HTTP_USER_AGENT */
    const char *referer;     /* HTTP_REFERER */
    const char *host;        /* HTTP_HOST: the host (and port) the client asked for */
    char pathCopy[REQUEST_PATH_MAX];
} request;

requestMethod requestParseMethod(const char *method);

/* Fills r from the parameters that get returns. */
void requestParse(request *r, requestLookup get, void *ud);

/* Percent-decodes n bytes of s into out as a NUL-terminated string; '+' becomes a space
 * when plusIsSpace (query strings). Returns the decoded length, or -1 when s holds a bad
 * escape or a NUL, or does not fit in out. */
int requestDecode(const char *s, size_t n, char *out, size_t outlen, int plusIsSpace);

/* Finds name in a query string ("a=1&b=2") and decodes its first value into out.
 * Returns the value's length, -1 when the name is absent, -2 when the value is malformed
 * or longer than outlen - 1. */
int requestQueryValue(const char *query, const char *name, char *out, size_t outlen);

#endif
