/* SipHash-2-4 against the reference test vectors. */
#include <string.h>

#include "siphash.h"
#include "suites.h"

/* vectors_sip64 of the reference implementation (github.com/veorq/SipHash, vectors.h),
 * each entry's 8 bytes read as a little-endian integer: entry i is the hash of the
 * message 00 01 .. (i-1) under the key 00 01 .. 0f. All 64 were checked against a second,
 * independent implementation, OpenSSL 3.0's SIPHASH MAC:
 *   for i in $(seq 0 63); do python3 -c "import sys; sys.stdout.buffer.write(bytes(range($i)))" |
 *     openssl mac -macopt hexkey:000102030405060708090a0b0c0d0e0f -macopt size:8 SIPHASH; done
 * prints the same 64 entries as little-endian bytes. */
static const uint64_t reference[64] = {
    0x726fdb47dd0e0e31ull, 0x74f839c593dc67fdull, 0x0d6c8009d9a94f5aull, 0x85676696d7fb7e2dull,
    0xcf2794e0277187b7ull, 0x18765564cd99a68dull, 0xcbc9466e58fee3ceull, 0xab0200f58b01d137ull,
    0x93f5f5799a932462ull, 0x9e0082df0ba9e4b0ull, 0x7a5dbbc594ddb9f3ull, 0xf4b32f46226bada7ull,
    0x751e8fbc860ee5fbull, 0x14ea5627c0843d90ull, 0xf723ca908e7af2eeull, 0xa129ca6149be45e5ull,
    0x3f2acc7f57c29bdbull, 0x699ae9f52cbe4794ull, 0x4bc1b3f0968dd39cull, 0xbb6dc91da77961bdull,
    0xbed65cf21aa2ee98ull, 0xd0f2cbb02e3b67c7ull, 0x93536795e3a33e88ull, 0xa80c038ccd5ccec8ull,
    0xb8ad50c6f649af94ull, 0xbce192de8a85b8eaull, 0x17d835b85bbb15f3ull, 0x2f2e6163076bcfadull,
    0xde4daaaca71dc9a5ull, 0xa6a2506687956571ull, 0xad87a3535c49ef28ull, 0x32d892fad841c342ull,
    0x7127512f72f27cceull, 0xa7f32346f95978e3ull, 0x12e0b01abb051238ull, 0x15e034d40fa197aeull,
    0x314dffbe0815a3b4ull, 0x027990f029623981ull, 0xcadcd4e59ef40c4dull, 0x9abfd8766a33735cull,
    0x0e3ea96b5304a7d0ull, 0xad0c42d6fc585992ull, 0x187306c89bc215a9ull, 0xd4a60abcf3792b95ull,
    0xf935451de4f21df2ull, 0xa9538f0419755787ull, 0xdb9acddff56ca510ull, 0xd06c98cd5c0975ebull,
    0xe612a3cb9ecba951ull, 0xc766e62cfcadaf96ull, 0xee64435a9752fe72ull, 0xa192d576b245165aull,
    0x0a8787bf8ecb74b2ull, 0x81b3e73d20b49b6full, 0x7fa8220ba3b2eceaull, 0x245731c13ca42499ull,
    0xb78dbfaf3a8d83bdull, 0xea1ad565322a1a0bull, 0x60e61c23a3795013ull, 0x6606d7e446282b93ull,
    0x6ca4ecb15c5f91e1ull, 0x9f626da15c9625f3ull, 0xe51b38608ef25f57ull, 0x958a324ceb064572ull,
};

static unsigned char key[16], message[64];

static void setup(void) {
    for (int i = 0; i < 16; i++) key[i] = (unsigned char)i;
    for (int i = 0; i < 64; i++) message[i] = (unsigned char)i;
}

/* Every length from 0 to 63: empty, partial and whole 8-byte words, and both together. */
START_TEST(reference_vectors) {
    for (size_t i = 0; i < 64; i++) {
        uint64_t got = siphash24(key, message, i);
        ck_assert_msg(got == reference[i], "vector %zu: got %016llx, want %016llx", i,
                      (unsigned long long)got, (unsigned long long)reference[i]);
    }
}
END_TEST

/* The same bytes at every offset within a word hash the same: no aligned loads. */
START_TEST(unaligned_input) {
    unsigned char shifted[64 + 8];
    unsigned char shiftedKey[16 + 8];
    for (size_t offset = 1; offset < 8; offset++) {
        memcpy(shifted + offset, message, 63);
        memcpy(shiftedKey + offset, key, 16);
        ck_assert(siphash24(shiftedKey + offset, shifted + offset, 63) == reference[63]);
        ck_assert(siphash24(key, shifted + offset, 15) == reference[15]);
    }
}
END_TEST

/* Any key bit and the message length both change the hash. */
START_TEST(key_and_length_matter) {
    for (int bit = 0; bit < 128; bit++) {
        unsigned char other[16];
        memcpy(other, key, sizeof(other));
        other[bit / 8] ^= (unsigned char)(1 << (bit % 8));
        ck_assert_msg(siphash24(other, message, 15) != reference[15], "key bit %d ignored", bit);
    }
    /* A trailing zero byte is part of the message: 00 and 00 00 differ. */
    ck_assert(siphash24(key, message, 1) != siphash24(key, "\0\0", 2));
}
END_TEST

Suite *siphashSuite(void) {
    Suite *s = suite_create("siphash");
    TCase *tc = tcase_create("siphash24");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, reference_vectors);
    tcase_add_test(tc, unaligned_input);
    tcase_add_test(tc, key_and_length_matter);
    suite_add_tcase(s, tc);
    return s;
}
