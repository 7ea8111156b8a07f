/* cidr: lists of IPv4 and IPv6 networks ("10.0.0.0/8, 2001:db8::/32, 127.0.0.1"), parsed
 * once from configuration and matched against client addresses. Pure: no allocation. */
#ifndef KT_CIDR_H
#define KT_CIDR_H

#include <stddef.h>

#define CIDR_MAX 64

typedef struct cidrNet {
    int family;               /* 4 or 6 */
    unsigned char addr[16];   /* network address, host bits cleared */
    int bits;                 /* prefix length; a bare address is /32 or /128 */
} cidrNet;

typedef struct cidrList {
    int n;
    cidrNet nets[CIDR_MAX];
} cidrList;

/* Parses a list separated by commas and/or whitespace ("" is the empty list). Returns 0,
 * or -1 with out empty and one line in err, "item: why", naming the bad item (cut, with
 * control characters shown as '?') and why: not an address, a prefix length that is not
 * a number or out of range, host bits set (the message gives the network meant), more
 * than CIDR_MAX items. */
int cidrParse(const char *text, cidrList *out, char *err, size_t errlen);

/* Whether addr (a textual IPv4 or IPv6 address, as nginx's $remote_addr) lies in one of
 * the networks. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches IPv4 networks (and
 * IPv6 networks that hold it); a plain IPv4 address matches IPv4 networks only. An
 * unparsable address, or NULL, matches nothing. */
int cidrMatch(const cidrList *l, const char *addr);

#endif
