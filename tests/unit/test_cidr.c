/* CIDR lists: parsing, every error with its one-line message, and matching. */
#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "suites.h"

static cidrList list;
static char err[256];

/* Parses text, expects success and returns the number of networks. */
static int parseOk(const char *text) {
    int rc = cidrParse(text, &list, err, sizeof(err));
    ck_assert_msg(rc == 0, "'%s' refused: %s", text, err);
    return list.n;
}

/* Parses text, expects a failure with the list left empty, and checks err is one line
 * without control characters, equal to want. */
static void expectError(const char *text, const char *want) {
    list.n = 99;
    ck_assert_int_eq(cidrParse(text, &list, err, sizeof(err)), -1);
    ck_assert_int_eq(list.n, 0);
    for (const char *p = err; *p; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 && *p != 0x7f, "control character in error: %s", err);
    ck_assert_str_eq(err, want);
}

START_TEST(parse_valid) {
    ck_assert_int_eq(parseOk(""), 0);
    ck_assert_int_eq(parseOk(" , ,\n\t"), 0);
    ck_assert_int_eq(parseOk("10.0.0.0/8, 2001:db8::/32, 127.0.0.1"), 3);
    ck_assert_int_eq(list.nets[0].family, 4);
    ck_assert_int_eq(list.nets[0].bits, 8);
    ck_assert_int_eq(list.nets[0].addr[0], 10);
    ck_assert_int_eq(list.nets[1].family, 6);
    ck_assert_int_eq(list.nets[1].bits, 32);
    ck_assert_int_eq(list.nets[1].addr[0], 0x20);
    ck_assert_int_eq(list.nets[1].addr[3], 0xb8);
    ck_assert_int_eq(list.nets[2].family, 4);
    ck_assert_int_eq(list.nets[2].bits, 32);
    ck_assert_int_eq(list.nets[2].addr[3], 1);
    /* Commas alone, blanks alone, or both in any number. */
    ck_assert_int_eq(parseOk("10.0.0.0/8,192.168.0.0/16"), 2);
    ck_assert_int_eq(parseOk("10.0.0.0/8 192.168.0.0/16"), 2);
    ck_assert_int_eq(parseOk(",10.0.0.0/8\t,\n ::1,,"), 2);
    ck_assert_int_eq(parseOk("::1"), 1);
    ck_assert_int_eq(list.nets[0].bits, 128);
    ck_assert_int_eq(parseOk("0.0.0.0/0 ::/0 ::1/128 1.2.3.4/32 ::ffff:10.0.0.0/104"), 5);
    ck_assert_int_eq(list.nets[0].bits, 0);
    ck_assert_int_eq(list.nets[4].bits, 104);
}
END_TEST

START_TEST(parse_errors) {
    static const char *const cases[][2] = {
        {"10.0.0.0/33", "10.0.0.0/33: prefix length out of range (0 to 32)"},
        {"2001:db8::/129", "2001:db8::/129: prefix length out of range (0 to 128)"},
        {"10.0.0.0/99999999999999999999", "10.0.0.0/99999999999999999999: prefix length out of range (0 to 32)"},
        /* 2^32 + 8: a parser that wraps around would read 8. */
        {"10.0.0.0/4294967304", "10.0.0.0/4294967304: prefix length out of range (0 to 32)"},
        {"10.0.0.1/8", "10.0.0.1/8: host bits set (the network is 10.0.0.0/8)"},
        {"192.168.1.1/23", "192.168.1.1/23: host bits set (the network is 192.168.0.0/23)"},
        {"2001:db8::1/32", "2001:db8::1/32: host bits set (the network is 2001:db8::/32)"},
        {"10.0.0.0/", "10.0.0.0/: the prefix length is not a number"},
        {"10.0.0.0/x", "10.0.0.0/x: the prefix length is not a number"},
        {"10.0.0.0/-1", "10.0.0.0/-1: the prefix length is not a number"},
        {"10.0.0.0/+8", "10.0.0.0/+8: the prefix length is not a number"},
        {"10.0.0.0/8/8", "10.0.0.0/8/8: the prefix length is not a number"},
        {"10.0.0.256", "10.0.0.256: not an IPv4 or IPv6 address"},
        {"10.0.0", "10.0.0: not an IPv4 or IPv6 address"},
        {"1.2.3.4.5", "1.2.3.4.5: not an IPv4 or IPv6 address"},
        {"localhost", "localhost: not an IPv4 or IPv6 address"},
        {"fe80::1%eth0", "fe80::1%eth0: not an IPv4 or IPv6 address"},
        {"2001:db8:::1", "2001:db8:::1: not an IPv4 or IPv6 address"},
        {"/8", "/8: not an IPv4 or IPv6 address"},
        /* The bad item is named, not the list. */
        {"10.0.0.0/8, bogus, 10.1.0.0/16", "bogus: not an IPv4 or IPv6 address"},
        /* Control characters are shown as '?', so a value cannot forge log lines. */
        {"10.0.0.0/8,\x1b[31mevil\x7f", "?[31mevil?: not an IPv4 or IPv6 address"},
        {"a\x01" "b", "a?b: not an IPv4 or IPv6 address"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) expectError(cases[i][0], cases[i][1]);

    /* An overlong item is cut in the message. */
    char text[200], want[200];
    memset(text, 'a', 100);
    text[100] = '\0';
    memset(want, 'a', 60);
    strcpy(want + 60, "...: not an IPv4 or IPv6 address");
    expectError(text, want);

    /* A short err buffer gets a cut message, still NUL-terminated. */
    char small[8] = "xxxxxxx";
    ck_assert_int_eq(cidrParse("nope", &list, small, sizeof(small)), -1);
    ck_assert_str_eq(small, "nope: n");
    ck_assert_int_eq(cidrParse("nope", &list, NULL, 0), -1);
}
END_TEST

START_TEST(too_many_items) {
    char text[CIDR_MAX * 16 + 32];
    size_t o = 0;
    for (int i = 1; i <= CIDR_MAX; i++) o += (size_t)snprintf(text + o, sizeof(text) - o, "10.0.0.%d, ", i);
    ck_assert_int_eq(parseOk(text), CIDR_MAX);
    snprintf(text + o, sizeof(text) - o, "10.0.0.%d", CIDR_MAX + 1);
    expectError(text, "10.0.0.65: more than 64 items");
}
END_TEST

/* Whether addr matches the list text parses to. */
static int matches(const char *text, const char *addr) {
    parseOk(text);
    return cidrMatch(&list, addr);
}

START_TEST(match_ipv4) {
    const char *nets = "10.0.0.0/8, 192.168.1.0/24, 203.0.113.7, 172.16.0.0/12";
    ck_assert(matches(nets, "10.0.0.0"));
    ck_assert(matches(nets, "10.255.255.255"));
    ck_assert(!matches(nets, "11.0.0.0"));
    ck_assert(!matches(nets, "9.255.255.255"));
    ck_assert(matches(nets, "192.168.1.200"));
    ck_assert(!matches(nets, "192.168.2.1"));
    ck_assert(matches(nets, "203.0.113.7"));
    ck_assert(!matches(nets, "203.0.113.8"));
    /* A prefix that ends inside a byte. */
    ck_assert(matches(nets, "172.31.255.255"));
    ck_assert(!matches(nets, "172.32.0.0"));
    ck_assert(!matches(nets, "172.15.255.255"));
}
END_TEST

START_TEST(match_ipv6_and_mapped) {
    const char *nets = "2001:db8::/32, ::1, 1.2.3.0/24, fe80::/10";
    ck_assert(matches(nets, "2001:db8:ffff::1"));
    ck_assert(matches(nets, "2001:DB8::"));
    ck_assert(!matches(nets, "2001:db9::"));
    ck_assert(matches(nets, "::1"));
    ck_assert(!matches(nets, "::2"));
    ck_assert(matches(nets, "fe80::1"));
    ck_assert(matches(nets, "febf::1"));
    ck_assert(!matches(nets, "fec0::1"));
    /* An IPv4 client seen through a dual-stack socket. */
    ck_assert(matches(nets, "::ffff:1.2.3.4"));
    ck_assert(matches(nets, "::FFFF:1.2.3.255"));
    ck_assert(matches(nets, "::ffff:102:304"));
    ck_assert(!matches(nets, "::ffff:1.2.4.4"));
    ck_assert(matches(nets, "1.2.3.4"));
    /* Other embeddings of IPv4 are not IPv4 clients. */
    ck_assert(!matches(nets, "::1.2.3.4"));
    ck_assert(!matches(nets, "64:ff9b::1.2.3.4"));
    /* An IPv6 network holds mapped addresses in their IPv6 form only. */
    ck_assert(matches("::ffff:0:0/96", "::ffff:1.2.3.4"));
    ck_assert(!matches("::ffff:0:0/96", "1.2.3.4"));
}
END_TEST

START_TEST(match_edges) {
    ck_assert(matches("0.0.0.0/0", "255.255.255.255"));
    ck_assert(matches("0.0.0.0/0", "::ffff:8.8.8.8"));
    ck_assert(!matches("0.0.0.0/0", "::1"));
    ck_assert(matches("::/0", "2001:db8::1"));
    ck_assert(!matches("::/0", "1.2.3.4"));
    ck_assert(!matches("", "1.2.3.4"));
    ck_assert(!matches("", "::1"));
    static const char *const unparsable[] = {"", "garbage", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4/32", "1.2.3",
                                             "::1%lo", "::ffff:1.2.3.4.5", "[::1]"};
    parseOk("0.0.0.0/0 ::/0");
    for (size_t i = 0; i < sizeof(unparsable) / sizeof(unparsable[0]); i++)
        ck_assert_msg(!cidrMatch(&list, unparsable[i]), "'%s' matched", unparsable[i]);
    ck_assert(!cidrMatch(&list, NULL));
}
END_TEST

Suite *cidrSuite(void) {
    Suite *s = suite_create("cidr");
    TCase *tc = tcase_create("cidr");
    tcase_add_test(tc, parse_valid);
    tcase_add_test(tc, parse_errors);
    tcase_add_test(tc, too_many_items);
    tcase_add_test(tc, match_ipv4);
    tcase_add_test(tc, match_ipv6_and_mapped);
    tcase_add_test(tc, match_edges);
    suite_add_tcase(s, tc);
    return s;
}
