/* libFuzzer target: CIDR lists (cidr.c). The input is the list, then optionally a NUL
 * byte and an address to match. Besides crashes and undefined behaviour it checks the
 * error line and that every network parsed holds its own address. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *in = fuzzString(data, size);
    const char *nul = memchr(in, '\0', size);
    cidrList list;
    char err[256];
    if (cidrParse(in, &list, err, sizeof(err)) != 0) {
        /* One non-empty line without control characters, and nothing parsed. */
        if (err[0] == '\0' || list.n != 0) abort();
        for (const char *p = err; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) abort();
    } else {
        if (list.n < 0 || list.n > CIDR_MAX) abort();
        for (int i = 0; i < list.n; i++) {
            const cidrNet *net = &list.nets[i];
            char text[INET6_ADDRSTRLEN + 8] = "::ffff:";
            if (inet_ntop(net->family == 4 ? AF_INET : AF_INET6, net->addr, text + 7, INET6_ADDRSTRLEN) == NULL)
                abort();
            if (!cidrMatch(&list, text + 7)) abort();
            if (net->family == 4 && !cidrMatch(&list, text)) abort();
        }
        if (nul) cidrMatch(&list, nul + 1);
    }
    free(in);
    return 0;
}
