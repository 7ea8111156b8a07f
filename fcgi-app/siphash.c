/* siphash: SipHash-2-4 as in the reference implementation; see siphash.h. */
#include "siphash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* Reads 8 bytes as a little-endian integer one byte at a time, so input may be unaligned
 * and the result is the same on every host. */
static uint64_t load64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* One SipRound over the state v[0..3]. */
static void sipRound(uint64_t v[4]) {
    v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0]; v[0] = ROTL(v[0], 32);
    v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
    v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
    v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2]; v[2] = ROTL(v[2], 32);
}

/* Mixes one 64-bit message word into the state with the two compression rounds. */
static void sipCompress(uint64_t v[4], uint64_t m) {
    v[3] ^= m;
    sipRound(v);
    sipRound(v);
    v[0] ^= m;
}

uint64_t siphash24(const unsigned char key[16], const void *data, size_t len) {
    const unsigned char *in = data;
    uint64_t k0 = load64(key), k1 = load64(key + 8);
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
                     k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};
    size_t whole = len - len % 8;
    for (size_t i = 0; i < whole; i += 8) sipCompress(v, load64(in + i));
    /* The last word holds the 0-7 remaining bytes and, in its top byte, len mod 256. */
    uint64_t last = (uint64_t)len << 56;
    for (size_t i = whole; i < len; i++) last |= (uint64_t)in[i] << (8 * (i - whole));
    sipCompress(v, last);
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++) sipRound(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}
