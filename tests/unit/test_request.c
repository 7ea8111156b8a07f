/* Request values from FastCGI parameters, percent-decoding and query strings. */
#include <string.h>

#include "request.h"
#include "suites.h"

/* A parameter table: NULL-terminated name/value pairs. */
static const char *lookup(const char *name, void *ud) {
    const char *const *kv = ud;
    for (; kv[0]; kv += 2)
        if (strcmp(kv[0], name) == 0) return kv[1];
    return NULL;
}

START_TEST(methods) {
    ck_assert_int_eq(requestParseMethod("GET"), METHOD_GET);
    ck_assert_int_eq(requestParseMethod("HEAD"), METHOD_HEAD);
    ck_assert_int_eq(requestParseMethod("POST"), METHOD_POST);
    ck_assert_int_eq(requestParseMethod("get"), METHOD_OTHER);
    ck_assert_int_eq(requestParseMethod("DELETE"), METHOD_OTHER);
    ck_assert_int_eq(requestParseMethod(""), METHOD_OTHER);
    ck_assert_int_eq(requestParseMethod(NULL), METHOD_OTHER);
}
END_TEST

START_TEST(parse_takes_every_field) {
    const char *params[] = {"REQUEST_METHOD", "GET", "DOCUMENT_URI", "/count", "REQUEST_URI", "/ignored?x",
                            "QUERY_STRING", "period=7d", "REMOTE_ADDR", "192.0.2.7",
                            "HTTP_USER_AGENT", "Mozilla/5.0", "HTTP_REFERER", "https://example.org/a", NULL};
    request r;
    requestParse(&r, lookup, params);
    ck_assert_int_eq(r.method, METHOD_GET);
    ck_assert_str_eq(r.path, "/count");
    ck_assert_str_eq(r.query, "period=7d");
    ck_assert_str_eq(r.clientAddr, "192.0.2.7");
    ck_assert_str_eq(r.userAgent, "Mozilla/5.0");
    ck_assert_str_eq(r.referer, "https://example.org/a");
}
END_TEST

START_TEST(parse_missing_fields_are_empty) {
    const char *params[] = {NULL};
    request r;
    requestParse(&r, lookup, params);
    ck_assert_int_eq(r.method, METHOD_OTHER);
    ck_assert_str_eq(r.path, "");
    ck_assert_str_eq(r.query, "");
    ck_assert_str_eq(r.clientAddr, "");
    ck_assert_str_eq(r.userAgent, "");
    ck_assert_str_eq(r.referer, "");
}
END_TEST

START_TEST(parse_falls_back_to_request_uri_without_query) {
    const char *params[] = {"REQUEST_METHOD", "HEAD", "REQUEST_URI", "/about?x=1?y", NULL};
    request r;
    requestParse(&r, lookup, params);
    ck_assert_int_eq(r.method, METHOD_HEAD);
    ck_assert_str_eq(r.path, "/about");
}
END_TEST

START_TEST(parse_cuts_an_overlong_request_uri) {
    static char uri[REQUEST_PATH_MAX * 2];
    memset(uri, 'a', sizeof(uri) - 1);
    uri[0] = '/';
    const char *params[] = {"REQUEST_URI", uri, NULL};
    request r;
    requestParse(&r, lookup, params);
    ck_assert_uint_eq(strlen(r.path), REQUEST_PATH_MAX - 1);
    ck_assert(strncmp(r.path, uri, REQUEST_PATH_MAX - 1) == 0);
}
END_TEST

START_TEST(decode_escapes_and_plus) {
    char out[32];
    ck_assert_int_eq(requestDecode("a%20b%2Fc", 9, out, sizeof(out), 0), 5);
    ck_assert_str_eq(out, "a b/c");
    ck_assert_int_eq(requestDecode("a+b", 3, out, sizeof(out), 1), 3);
    ck_assert_str_eq(out, "a b");
    ck_assert_int_eq(requestDecode("a+b", 3, out, sizeof(out), 0), 3);
    ck_assert_str_eq(out, "a+b");
    ck_assert_int_eq(requestDecode("%e2%82%AC", 9, out, sizeof(out), 0), 3);
    ck_assert_str_eq(out, "\xe2\x82\xac");
    ck_assert_int_eq(requestDecode("", 0, out, sizeof(out), 0), 0);
    ck_assert_str_eq(out, "");
    /* Only n bytes are read: the escape cut by n is malformed. */
    ck_assert_int_eq(requestDecode("%41%42", 4, out, sizeof(out), 0), -1);
}
END_TEST

START_TEST(decode_refuses_bad_escapes_nul_and_overflow) {
    char out[4];
    const char *bad[] = {"%", "%4", "%G0", "%0g", "a%", "%00", "x%00y", NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(requestDecode(bad[i], strlen(bad[i]), out, sizeof(out), 0) == -1, "%s decoded", bad[i]);
    ck_assert_int_eq(requestDecode("abc", 3, out, sizeof(out), 0), 3);
    ck_assert_int_eq(requestDecode("abcd", 4, out, sizeof(out), 0), -1);
    ck_assert_int_eq(requestDecode("", 0, out, 0, 0), -1);
}
END_TEST

START_TEST(query_values) {
    char out[16];
    const char *q = "period=7d&from=2026-12-01&empty=&flag&x=a%26b&period=day";
    ck_assert_int_eq(requestQueryValue(q, "period", out, sizeof(out)), 2);
    ck_assert_str_eq(out, "7d");
    ck_assert_int_eq(requestQueryValue(q, "from", out, sizeof(out)), 10);
    ck_assert_str_eq(out, "2026-12-01");
    ck_assert_int_eq(requestQueryValue(q, "empty", out, sizeof(out)), 0);
    ck_assert_int_eq(requestQueryValue(q, "flag", out, sizeof(out)), 0);
    ck_assert_int_eq(requestQueryValue(q, "x", out, sizeof(out)), 3);
    ck_assert_str_eq(out, "a&b");
    ck_assert_int_eq(requestQueryValue(q, "to", out, sizeof(out)), -1);
    ck_assert_int_eq(requestQueryValue(q, "perio", out, sizeof(out)), -1);
    ck_assert_int_eq(requestQueryValue("", "a", out, sizeof(out)), -1);
    ck_assert_int_eq(requestQueryValue("a=%zz", "a", out, sizeof(out)), -2);
    ck_assert_int_eq(requestQueryValue("a=0123456789abcdefXYZ", "a", out, sizeof(out)), -2);
    ck_assert_int_eq(requestQueryValue("&&a=1&&", "a", out, sizeof(out)), 1);
    ck_assert_str_eq(out, "1");
}
END_TEST

Suite *requestSuite(void) {
    Suite *s = suite_create("request");
    TCase *tc = tcase_create("request");
    tcase_add_test(tc, methods);
    tcase_add_test(tc, parse_takes_every_field);
    tcase_add_test(tc, parse_missing_fields_are_empty);
    tcase_add_test(tc, parse_falls_back_to_request_uri_without_query);
    tcase_add_test(tc, parse_cuts_an_overlong_request_uri);
    tcase_add_test(tc, decode_escapes_and_plus);
    tcase_add_test(tc, decode_refuses_bad_escapes_nul_and_overflow);
    tcase_add_test(tc, query_values);
    suite_add_tcase(s, tc);
    return s;
}
