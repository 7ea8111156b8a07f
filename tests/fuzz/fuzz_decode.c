/* libFuzzer target: percent-decoding and query values (request.c) on raw bytes. The first
 * byte chooses '+' handling (bit 0) and a small output size (bits 1-5); the rest is the
 * text to decode, which is also a query string up to its first NUL, and the name to look
 * up is what follows that NUL. Besides crashes and undefined behaviour it checks the
 * output's shape, that buffer size only decides whether a value fits, and round trips. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "request.h"

/* Every output buffer is allocated to the byte, so that ASan sees a write past its end. */
static char *alloc(size_t n) {
    char *p = malloc(n);
    if (p == NULL) abort();
    return p;
}

/* Aborts unless a successful decode left len bytes without a NUL, then a NUL. */
static void checkShape(int len, const char *out, size_t outlen) {
    if (len >= 0 && ((size_t)len >= outlen || strlen(out) != (size_t)len)) abort();
}

/* Percent-encodes s[0..n) with lower or upper hex digits (upper) into a new string; letters
 * and digits stay, so that both encoded and plain bytes reach the decoder. */
static char *encode(const char *s, size_t n, int upper) {
    char *e = alloc(3 * n + 1), *o = e;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            *o++ = (char)c;
        else
            o += sprintf(o, upper ? "%%%02X" : "%%%02x", c);
    }
    *o = '\0';
    return e;
}

static void checkDecode(const char *s, size_t n, size_t small, int plusIsSpace) {
    /* Decoding never lengthens, so n + 1 bytes always hold a good input's value. */
    char *full = alloc(n + 1);
    int len = requestDecode(s, n, full, n + 1, plusIsSpace);
    checkShape(len, full, n + 1);
    if (len < -1) abort();
    if (len == -1 && !memchr(s, '%', n) && !memchr(s, '\0', n)) abort();
    if (!memchr(s, '%', n) && !(plusIsSpace && memchr(s, '+', n)) && len >= 0 &&
        ((size_t)len != n || memcmp(full, s, n) != 0))
        abort();

    char *out = alloc(small);
    int got = requestDecode(s, n, out, small, plusIsSpace);
    if (len >= 0 && (size_t)len < small ? got != len || memcmp(out, full, (size_t)len + 1) != 0
                                        : got != -1)
        abort();
    free(out);

    if (len >= 0) {
        char *encoded = encode(full, (size_t)len, plusIsSpace);
        size_t elen = strlen(encoded);
        char *again = alloc(elen + 1);
        if (requestDecode(encoded, elen, again, elen + 1, !plusIsSpace) != len ||
            memcmp(again, full, (size_t)len + 1) != 0)
            abort();
        free(again);
        free(encoded);
    }
    free(full);
}

/* Looks name up in query with room for any value, then with a small buffer: the same
 * answer, or -2 when the value does not fit. A pair for name put first is what is found. */
static void checkQueryValue(const char *query, const char *name, size_t small) {
    size_t fullLen = strlen(query) + 1;
    char *full = alloc(fullLen);
    int len = requestQueryValue(query, name, full, fullLen);
    if (len < -2) abort();
    checkShape(len, full, fullLen);

    char *out = alloc(small);
    int got = requestQueryValue(query, name, out, small);
    if (len >= 0 && (size_t)len < small ? got != len || strcmp(out, full) != 0
                                        : got != (len == -1 ? -1 : -2))
        abort();
    free(out);

    if (strpbrk(name, "&=") == NULL && len >= 0) {
        char *value = encode(full, (size_t)len, 0);
        size_t n = strlen(name) + strlen(value) + fullLen + 2;
        char *first = alloc(n), *again = alloc(fullLen);
        snprintf(first, n, "%s=%s&%s", name, value, query);
        if (requestQueryValue(first, name, again, fullLen) != len || strcmp(again, full) != 0) abort();
        free(again);
        free(first);
        free(value);
    }
    free(full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    int plusIsSpace = data[0] & 1;
    size_t small = (data[0] >> 1) & 31;
    char *text = fuzzString(data + 1, size - 1);
    size_t n = size - 1, queryLen = strlen(text);
    checkDecode(text, n, small, plusIsSpace);
    checkQueryValue(text, queryLen < n ? text + queryLen + 1 : "period", small);
    free(text);
    return 0;
}
