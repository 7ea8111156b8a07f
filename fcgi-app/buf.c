/* buf: growable byte buffer; see buf.h. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

void bufInit(buf *b) {
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void bufFree(buf *b) {
    free(b->data);
    bufInit(b);
}

void bufReset(buf *b) {
    b->len = 0;
    b->oom = 0;
}

/* Makes room for extra more bytes plus a terminating NUL. */
static int bufReserve(buf *b, size_t extra) {
    if (b->oom) return -1;
    if (extra >= b->cap - b->len) {
        if (extra > (size_t)-1 - b->len - 1) { b->oom = 1; return -1; }
        size_t need = b->len + extra + 1, cap = b->cap ? b->cap : 256;
        while (cap < need) {
            if (cap > ((size_t)-1) / 2) { b->oom = 1; return -1; }
            cap *= 2;
        }
        char *p = realloc(b->data, cap);
        if (p == NULL) { b->oom = 1; return -1; }
        b->data = p;
        b->cap = cap;
    }
    return 0;
}

int bufAppend(buf *b, const char *s, size_t n) {
    if (bufReserve(b, n) < 0) return -1;
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

int bufAppendStr(buf *b, const char *s) {
    return bufAppend(b, s, strlen(s));
}

int bufAppendUint(buf *b, unsigned long long n) {
    char digits[20];
    size_t i = sizeof(digits);
    do digits[--i] = (char)('0' + n % 10); while ((n /= 10) != 0);
    return bufAppend(b, digits + i, sizeof(digits) - i);
}

int bufAppendInt(buf *b, long long n) {
    if (n >= 0) return bufAppendUint(b, (unsigned long long)n);
    bufAppend(b, "-", 1);
    return bufAppendUint(b, 0ull - (unsigned long long)n);
}

int bufAppendHtml(buf *b, const char *s, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *entity;
        switch (s[i]) {
        case '&': entity = "&amp;"; break;
        case '<': entity = "&lt;"; break;
        case '>': entity = "&gt;"; break;
        case '"': entity = "&quot;"; break;
        case '\'': entity = "&#39;"; break;
        case '\0': entity = "\xEF\xBF\xBD"; break; /* U+FFFD: a NUL never reaches the page */
        default: continue;
        }
        /* Ordinary bytes are copied in runs, not one by one. */
        bufAppend(b, s + start, i - start);
        bufAppendStr(b, entity);
        start = i + 1;
    }
    bufAppend(b, s + start, n - start);
    return b->oom ? -1 : 0;
}

int bufAppendJson(buf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    bufAppend(b, "\"", 1);
    size_t start = 0, i = 0;
    for (; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        bufAppend(b, s + start, i - start);
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            bufAppend(b, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            bufAppend(b, esc, 6);
        }
        start = i + 1;
    }
    bufAppend(b, s + start, i - start);
    bufAppend(b, "\"", 1);
    return b->oom ? -1 : 0;
}

int bufAppendCsv(buf *b, const char *s) {
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote) bufAppend(b, "\"", 1);
    if (s[0] && strchr("=+-@\t\r", s[0])) bufAppend(b, "'", 1);
    for (const char *c = s; *c; c++) {
        if (*c == '"') bufAppend(b, "\"", 1);
        bufAppend(b, c, 1);
    }
    if (quote) bufAppend(b, "\"", 1);
    return b->oom ? -1 : 0;
}

const char *bufCStr(buf *b) {
    if (bufReserve(b, 0) < 0) return NULL;
    b->data[b->len] = '\0';
    return b->data;
}
