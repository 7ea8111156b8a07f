/* Referer hosts: what is recorded, what is refused, the site's own host, the limits. */
#include <string.h>

#include "referrer.h"
#include "suites.h"

typedef struct referrerCase {
    const char *referer;
    const char *host; /* "" when nothing is recorded */
} referrerCase;

/* Runs each case with a 256-byte buffer and ownHost "khalid.example:5000", checking the
 * host and the length returned. */
static void expectHosts(const referrerCase *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char out[256];
        memset(out, 'Z', sizeof(out));
        size_t len = referrerHost(cases[i].referer, "khalid.example:5000", out, sizeof(out));
        ck_assert_msg(strcmp(out, cases[i].host) == 0 && len == strlen(cases[i].host),
                      "'%s': got '%s' (%zu), want '%s'", cases[i].referer, out, len, cases[i].host);
    }
}

#define EXPECT_HOSTS(cases) expectHosts(cases, sizeof(cases) / sizeof(cases[0]))

START_TEST(hosts) {
    static const referrerCase cases[] = {
        {"https://www.example.org/page?q=1#top", "www.example.org"},
        {"http://example.org", "example.org"},
        {"HTTPS://WWW.Example.ORG/", "www.example.org"},
        {"HtTp://example.org/", "example.org"},
        {"https://user:pw@example.org/", "example.org"},
        {"https://user@example.org:8443/x", "example.org"},
        {"https://a@b@example.org/", "example.org"},
        {"https://example.org./", "example.org"},
        {"https://example.org:443", "example.org"},
        {"https://example.org:/", "example.org"},
        {"https://example.org?x=1", "example.org"},
        {"https://example.org#frag", "example.org"},
        {"https://example.org/path@other.example", "example.org"},
        /* A backslash ends the authority, as browsers read it. */
        {"https://example.org\\@evil.example/", "example.org"},
        {"https://[2001:DB8::1]:8080/path", "[2001:db8::1]"},
        {"http://[::ffff:192.0.2.1]/", "[::ffff:192.0.2.1]"},
        {"http://192.0.2.1:8080/", "192.0.2.1"},
        {"https://my_host.internal-site.example/", "my_host.internal-site.example"},
        {"https://xn--bcher-kva.example/", "xn--bcher-kva.example"},
    };
    EXPECT_HOSTS(cases);
}
END_TEST

START_TEST(refused) {
    static const referrerCase cases[] = {
        {"", ""},
        {"example.org", ""},
        {"//example.org/", ""},
        {"ftp://example.org/", ""},
        {"android-app://com.google.android.gm/", ""},
        {"javascript:alert(1)", ""},
        {"http:example.org", ""},
        {"https:/example.org", ""},
        {"https://", ""},
        {"https:///path", ""},
        {"https://:443/", ""},
        {"https://user@/", ""},
        {"https://exa mple.org/", ""},
        {"https://example.org :80/", ""},
        {"https://exam\tple.org/", ""},
        {"https://example.org\r\nX-Fake: 1", ""},
        {"https://ex\x7f" "ample.org/", ""},
        {"https://user name@example.org/", ""},
        {"https://us\ter@example.org/", ""},
        {"https://user:\x01@example.org/", ""},
        {"https://user\x7f@example.org/", ""},
        {"https://ex\xc3\xa4mple.org/", ""},
        {"https://ex%61mple.org/", ""},
        {"https://ex*ample.org/", ""},
        {"https://example.org;x/", ""},
        {"https://example.org:80a/", ""},
        {"https://example.org:-1/", ""},
        {"https://example.org:80:81/", ""},
        {"https://[::1/", ""},
        {"https://[::1]x/", ""},
        {"https://[]/", ""},
        {"https://[not:an:address]/", ""},
        {"https://[::1%25eth0]/", ""},
        {"https://[::1]]/", ""},
        {"https://a..b/", ""},
        {"https://.example.org/", ""},
        {"https://example.org../", ""},
        {"https://./", ""},
    };
    EXPECT_HOSTS(cases);
    char out[16] = "untouched";
    ck_assert_uint_eq(referrerHost(NULL, NULL, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

/* Returns what referrerHost records for referer when the site is ownHost. */
static const char *hostWith(const char *referer, const char *ownHost) {
    static char out[256];
    size_t len = referrerHost(referer, ownHost, out, sizeof(out));
    ck_assert_uint_eq(len, strlen(out));
    return out;
}

START_TEST(own_host) {
    ck_assert_str_eq(hostWith("http://localhost:5000/count", "localhost:5000"), "");
    ck_assert_str_eq(hostWith("http://LOCALHOST./", "localhost:5000"), "");
    /* Hosts are compared without their ports. */
    ck_assert_str_eq(hostWith("http://localhost:8080/", "localhost:5000"), "");
    ck_assert_str_eq(hostWith("https://user@example.org/", "Example.ORG."), "");
    ck_assert_str_eq(hostWith("http://[::1]/", "[::1]:5000"), "");
    ck_assert_str_eq(hostWith("http://[::1]:5000/", "[::1]"), "");
    /* Another host, even a subdomain or a prefix of ours, is recorded. */
    ck_assert_str_eq(hostWith("https://www.example.org/", "example.org"), "www.example.org");
    ck_assert_str_eq(hostWith("https://example.or/", "example.org"), "example.or");
    ck_assert_str_eq(hostWith("https://example.org/", "example.or"), "example.org");
    /* No own host, or one that cannot be read, leaves every host recorded. */
    ck_assert_str_eq(hostWith("https://example.org/", ""), "example.org");
    ck_assert_str_eq(hostWith("https://example.org/", NULL), "example.org");
    ck_assert_str_eq(hostWith("https://example.org/", "example.org:x"), "example.org");
}
END_TEST

START_TEST(limits) {
    char referer[600], out[300];
    /* 253 bytes of host are recorded, 254 are not; a trailing dot does not count. */
    strcpy(referer, "https://");
    memset(referer + 8, 'a', 253);
    strcpy(referer + 8 + 253, "/");
    ck_assert_uint_eq(referrerHost(referer, NULL, out, sizeof(out)), 253);
    ck_assert_uint_eq(strlen(out), 253);
    strcpy(referer + 8 + 253, "./");
    ck_assert_uint_eq(referrerHost(referer, NULL, out, sizeof(out)), 253);
    strcpy(referer + 8 + 253, "a/");
    ck_assert_uint_eq(referrerHost(referer, NULL, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    memset(referer + 8, 'a', 500);
    referer[508] = '\0';
    ck_assert_uint_eq(referrerHost(referer, NULL, out, sizeof(out)), 0);

    /* The host and its NUL must fit in outlen; otherwise nothing is written but "". */
    ck_assert_uint_eq(referrerHost("https://example.org/", NULL, out, 12), 11);
    ck_assert_str_eq(out, "example.org");
    ck_assert_uint_eq(referrerHost("https://example.org/", NULL, out, 11), 0);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(referrerHost("https://example.org:8080/", NULL, out, 12), 11);
    out[0] = 'Z';
    ck_assert_uint_eq(referrerHost("https://example.org/", NULL, out, 0), 0);
    ck_assert_int_eq(out[0], 'Z');
}
END_TEST

Suite *referrerSuite(void) {
    Suite *s = suite_create("referrer");
    TCase *tc = tcase_create("host");
    tcase_add_test(tc, hosts);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, own_host);
    tcase_add_test(tc, limits);
    suite_add_tcase(s, tc);
    return s;
}
