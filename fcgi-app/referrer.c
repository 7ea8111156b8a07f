/* referrer: the host of a Referer URL; see referrer.h. */
#include "referrer.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* The longest DNS name in its dotted text form. */
#define HOST_MAX 253

/* ASCII lowercase, independent of the locale. */
static unsigned char lower(unsigned char c) {
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Whether the lowercased name is made of labels of [a-z0-9_-] joined by single dots. */
static int validName(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (i == 0 || i + 1 == n || s[i + 1] == '.') return 0;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

/* Whether "[...]" holds an IPv6 address; inet_pton wants it NUL-terminated. */
static int validBracketed(const char *s, size_t n) {
    char inner[INET6_ADDRSTRLEN];
    unsigned char addr[16];
    if (n < 3 || n - 2 >= sizeof(inner)) return 0;
    memcpy(inner, s + 1, n - 2);
    inner[n - 2] = '\0';
    return inet_pton(AF_INET6, inner, addr) == 1;
}

/* Writes the host of s[0..n) ("host", "host:port", "[v6]" or "[v6]:port") into out,
 * lowercased, without the port or one trailing dot, and returns its length; returns 0
 * when it is malformed or longer than HOST_MAX or outlen - 1 (out may then hold part of it). */
static size_t hostOf(const char *s, size_t n, char *out, size_t outlen) {
    size_t len;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL) return 0;
        len = (size_t)(close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', n);
        len = colon ? (size_t)(colon - s) : n;
    }
    /* What follows the host is a port: digits, possibly none ("http://host:/"). */
    if (len < n && s[len] != ':') return 0;
    for (size_t i = len + 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    if (len > 0 && s[0] != '[' && s[len - 1] == '.') len--;
    if (len == 0 || len > HOST_MAX || len >= outlen) return 0;
    for (size_t i = 0; i < len; i++) out[i] = (char)lower((unsigned char)s[i]);
    out[len] = '\0';
    return (out[0] == '[' ? validBracketed(out, len) : validName(out, len)) ? len : 0;
}

size_t referrerHost(const char *referer, const char *ownHost, char *out, size_t outlen) {
    if (outlen > 0) out[0] = '\0';
    if (referer == NULL) return 0;
    size_t scheme;
    if (strncasecmp(referer, "http://", 7) == 0) scheme = 7;
    else if (strncasecmp(referer, "https://", 8) == 0) scheme = 8;
    else return 0;
    /* The authority ends where the path, query or fragment starts; browsers read a
     * backslash as a slash in http(s) URLs, so "http://a\@b/" is a visit from a. */
    const char *auth = referer + scheme;
    size_t n = strcspn(auth, "/?#\\");
    const char *host = auth;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)auth[i];
        if (c <= ' ' || c == 0x7f) return 0;
        if (c == '@') host = auth + i + 1;
    }
    size_t len = hostOf(host, n - (size_t)(host - auth), out, outlen);
    if (len > 0 && ownHost && *ownHost) {
        char own[HOST_MAX + 1];
        size_t ownLen = hostOf(ownHost, strlen(ownHost), own, sizeof(own));
        if (ownLen == len && memcmp(own, out, len) == 0) len = 0;
    }
    if (len == 0 && outlen > 0) out[0] = '\0';
    return len;
}
