/* cidr: lists of IPv4 and IPv6 networks; see cidr.h. */
#include "cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* Separators between items. */
#define SEPARATORS ", \t\n\v\f\r"

/* The longest item that can be valid: a full IPv6 address with an IPv4 tail, "/128". */
#define ITEM_MAX (INET6_ADDRSTRLEN + 4)

/* Formats "item: why" into err on one line: the item is cut at 60 bytes and its control
 * characters shown as '?', so a bad value cannot forge log lines. Returns -1. */
static int fail(char *err, size_t errlen, const char *item, size_t n, const char *why) {
    char shown[64];
    size_t i = 0;
    for (; i < n && i < 60; i++)
        shown[i] = ((unsigned char)item[i] < 0x20 || item[i] == 0x7f) ? '?' : item[i];
    shown[i] = '\0';
    if (errlen > 0) snprintf(err, errlen, "%s%s: %s", shown, i < n ? "..." : "", why);
    return -1;
}

/* Whether the first bits of a and b are equal. */
static int samePrefix(const unsigned char *a, const unsigned char *b, int bits) {
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)whole) != 0) return 0;
    if (rest == 0) return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/* Parses one item, "address" or "address/bits", into net; returns 0, or -1 with err. */
static int parseItem(const char *item, size_t n, cidrNet *net, char *err, size_t errlen) {
    char text[ITEM_MAX + 1];
    if (n > ITEM_MAX) return fail(err, errlen, item, n, "not an IPv4 or IPv6 address");
    memcpy(text, item, n);
    text[n] = '\0';
    char *slash = strchr(text, '/');
    if (slash) *slash = '\0';
    memset(net->addr, 0, sizeof(net->addr));
    if (inet_pton(AF_INET, text, net->addr) == 1) {
        net->family = 4;
    } else if (inet_pton(AF_INET6, text, net->addr) == 1) {
        net->family = 6;
    } else {
        return fail(err, errlen, item, n, "not an IPv4 or IPv6 address");
    }
    int max = net->family == 4 ? 32 : 128;
    net->bits = max;
    if (slash) {
        const char *p = slash + 1;
        if (*p == '\0' || strspn(p, "0123456789") != strlen(p))
            return fail(err, errlen, item, n, "the prefix length is not a number");
        net->bits = 0;
        for (; *p && net->bits <= max; p++) net->bits = net->bits * 10 + (*p - '0');
        if (net->bits > max) {
            char why[48];
            snprintf(why, sizeof(why), "prefix length out of range (0 to %d)", max);
            return fail(err, errlen, item, n, why);
        }
    }
    cidrNet clean = *net;
    for (int i = clean.bits; i < max; i++) clean.addr[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
    if (memcmp(clean.addr, net->addr, sizeof(clean.addr)) != 0) {
        char network[INET6_ADDRSTRLEN], why[INET6_ADDRSTRLEN + 48];
        inet_ntop(net->family == 4 ? AF_INET : AF_INET6, clean.addr, network, sizeof(network));
        snprintf(why, sizeof(why), "host bits set (the network is %s/%d)", network, net->bits);
        return fail(err, errlen, item, n, why);
    }
    return 0;
}

/* On an error the list is left empty, so a caller that ignores the error filters
 * nothing rather than part of what was meant. */
int cidrParse(const char *text, cidrList *out, char *err, size_t errlen) {
    int n = 0;
    if (errlen > 0) err[0] = '\0';
    out->n = 0;
    for (const char *p = text + strspn(text, SEPARATORS); *p; p += strspn(p, SEPARATORS)) {
        size_t len = strcspn(p, SEPARATORS);
        if (n == CIDR_MAX) {
            char why[48];
            snprintf(why, sizeof(why), "more than %d items", CIDR_MAX);
            return fail(err, errlen, p, len, why);
        }
        if (parseItem(p, len, &out->nets[n], err, errlen) != 0) return -1;
        n++;
        p += len;
    }
    out->n = n;
    return 0;
}

int cidrMatch(const cidrList *l, const char *addr) {
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    unsigned char v4[4], v6[16];
    int has4 = 0, has6 = 0;
    if (addr == NULL) return 0;
    if (inet_pton(AF_INET, addr, v4) == 1) {
        has4 = 1;
    } else if (inet_pton(AF_INET6, addr, v6) == 1) {
        has6 = 1;
        /* ::ffff:a.b.c.d is how a dual-stack socket shows an IPv4 client. */
        if (memcmp(v6, mapped, sizeof(mapped)) == 0) {
            memcpy(v4, v6 + 12, 4);
            has4 = 1;
        }
    }
    for (int i = 0; i < l->n; i++) {
        const cidrNet *net = &l->nets[i];
        if (net->family == 4 ? has4 && samePrefix(net->addr, v4, net->bits)
                             : has6 && samePrefix(net->addr, v6, net->bits))
            return 1;
    }
    return 0;
}
