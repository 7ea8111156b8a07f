/* siphash: SipHash-2-4 (Aumasson and Bernstein), a keyed hash: without the key its output
 * cannot be computed or reversed. Pure. */
#ifndef KT_SIPHASH_H
#define KT_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* The hash of data[0..len) under key: the reference implementation's 8 output bytes
 * read as a little-endian integer, the same on every host. data may be unaligned. */
uint64_t siphash24(const unsigned char key[16], const void *data, size_t len);

#endif
