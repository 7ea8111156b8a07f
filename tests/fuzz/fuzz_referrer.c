/* libFuzzer target: Referer hosts (referrer.c). The input is the Referer, then
 * optionally a NUL byte and the site's own host. Besides crashes and undefined behaviour
 * it checks what referrer.h promises of a recorded host. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "referrer.h"

/* Aborts unless host[0..len) is "[...]" or made of [a-z0-9._-]. */
static void checkHost(const char *host, size_t len) {
    if (len == 0 || len > 253 || strlen(host) != len) abort();
    if (host[0] == '[') {
        if (host[len - 1] != ']') abort();
        return;
    }
    for (size_t i = 0; i < len; i++)
        if (!((host[i] >= 'a' && host[i] <= 'z') || (host[i] >= '0' && host[i] <= '9') ||
              host[i] == '.' || host[i] == '-' || host[i] == '_'))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *in = fuzzString(data, size);
    const char *nul = memchr(in, '\0', size);
    const char *ownHost = nul ? nul + 1 : NULL;
    char out[256], again[256], url[300];
    size_t len = referrerHost(in, ownHost, out, sizeof(out));
    if (len == 0) {
        if (out[0] != '\0') abort();
    } else {
        checkHost(out, len);
        /* Just big enough works, one byte less records nothing. */
        if (referrerHost(in, ownHost, again, len + 1) != len || strcmp(again, out) != 0) abort();
        if (referrerHost(in, ownHost, again, len) != 0 || again[0] != '\0') abort();
        /* The host is its own host, and reads back as itself. */
        if (referrerHost(in, out, again, sizeof(again)) != 0) abort();
        memcpy(url, "http://", 7);
        memcpy(url + 7, out, len + 1);
        if (referrerHost(url, NULL, again, sizeof(again)) != len || strcmp(again, out) != 0) abort();
    }
    free(in);
    return 0;
}
