/* libFuzzer target: the escapes that put outside text into answers (buf.c): JSON strings
 * for /api/stats, CSV fields for the export, HTML text for the pages. JSON and HTML take
 * the whole input (JSON up to its first NUL); CSV writes a record of two fields, the
 * input cut at its first NUL. Besides crashes and undefined behaviour it reads each
 * output back with a small parser of that format and checks that it holds the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"

/* Appends to a buffer that already holds a byte, so that offsets are exercised too. */
static void start(buf *b) {
    bufInit(b);
    if (bufAppend(b, "[", 1) != 0) abort();
}

static int hexDigit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* j[0..n) must be one JSON string, with no raw control character and no quote but its
 * two, made of the escapes bufAppendJson() writes, that reads back as s. */
static void checkJson(const char *s, const char *j, size_t n) {
    if (n < 2 || j[0] != '"' || j[n - 1] != '"') abort();
    size_t k = 0;
    for (size_t i = 1; i < n - 1; i++, k++) {
        char c = j[i];
        if ((unsigned char)c < 0x20 || c == '"') abort();
        if (c == '\\') {
            if (i + 1 >= n - 1) abort();
            c = j[++i];
            if (c == 'u') {
                if (i + 4 >= n - 1 || j[i + 1] != '0' || j[i + 2] != '0' || hexDigit(j[i + 3]) < 0 ||
                    hexDigit(j[i + 4]) < 0)
                    abort();
                c = (char)(hexDigit(j[i + 3]) * 16 + hexDigit(j[i + 4]));
                if ((unsigned char)c >= 0x20) abort();
                i += 4;
            } else if (c != '"' && c != '\\') {
                abort();
            }
        }
        if (s[k] != c) abort();
    }
    if (s[k] != '\0') abort();
}

/* Reads one RFC 4180 field at p into out: quoted, with "" for a quote, or bare, without
 * comma, quote or line break. Returns where it ends, or NULL when p holds none. */
static const char *csvField(const char *p, const char *end, char *out) {
    if (p < end && *p == '"') {
        for (p++; p < end; p++) {
            if (*p == '"') {
                if (p + 1 < end && p[1] == '"') p++;
                else break;
            }
            *out++ = *p;
        }
        if (p == end) return NULL;
        p++;
    } else {
        for (; p < end && !strchr(",\"\r\n", *p); p++) *out++ = *p;
        if (p < end && (*p == '"' || (*p == '\r' && (p + 1 == end || p[1] != '\n')) || *p == '\n'))
            return NULL;
    }
    *out = '\0';
    return p;
}

/* A field read back is the text, behind a ' when it starts like a spreadsheet formula
 * (= + - @, or a tab or carriage return, which some spreadsheets skip before one). */
static void checkCsvField(const char *field, const char *s) {
    int guarded = s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL;
    if ((guarded && field[0] != '\'') || strcmp(field + guarded, s) != 0) abort();
}

static void checkCsv(const char *first, const char *second) {
    buf b;
    start(&b);
    if (bufAppendCsv(&b, first) != 0 || bufAppend(&b, ",", 1) != 0 || bufAppendCsv(&b, second) != 0 ||
        bufAppend(&b, "\r\n", 2) != 0)
        abort();
    const char *end = b.data + b.len;
    char *field = malloc(b.len);
    if (field == NULL) abort();
    const char *p = csvField(b.data + 1, end, field);
    if (p == NULL || *p != ',') abort();
    checkCsvField(field, first);
    p = csvField(p + 1, end, field);
    if (p == NULL || end - p != 2 || memcmp(p, "\r\n", 2) != 0) abort();
    checkCsvField(field, second);
    free(field);
    bufFree(&b);
}

/* h[0..n) must hold no & < > " ' but in the entities bufAppendHtml() writes, and read
 * back as s[0..len) with every NUL as U+FFFD. */
static void checkHtml(const char *s, size_t len, const char *h, size_t n) {
    static const char *const entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    static const char chars[] = "&<>\"'";
    size_t k = 0;
    for (size_t i = 0; i < n; i++, k++) {
        char c = h[i];
        if (strchr("<>\"'", c) && c != '\0') abort();
        if (c == '&') {
            int e = 0;
            while (e < 5 && strncmp(h + i, entities[e], strlen(entities[e])) != 0) e++;
            if (e == 5) abort();
            c = chars[e];
            i += strlen(entities[e]) - 1;
        }
        if (k >= len) abort();
        if (s[k] == '\0') {
            if (n - i < 3 || memcmp(h + i, "\xEF\xBF\xBD", 3) != 0) abort();
            i += 2;
        } else if (s[k] != c) {
            abort();
        }
    }
    if (k != len) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = fuzzString(data, size);
    size_t firstLen = strlen(s);
    buf b;
    start(&b);
    if (bufAppendJson(&b, s) != 0) abort();
    checkJson(s, b.data + 1, b.len - 1);
    bufFree(&b);
    checkCsv(s, firstLen < size ? s + firstLen + 1 : "");
    start(&b);
    if (bufAppendHtml(&b, s, size) != 0) abort();
    checkHtml(s, size, b.data + 1, b.len - 1);
    bufFree(&b);
    free(s);
    return 0;
}
