/* Routing, methods, response heads, and the buffer they are built in. */
#include <string.h>

#include "buf.h"
#include "http.h"
#include "router.h"
#include "suites.h"

START_TEST(routes_exact_paths) {
    ck_assert_int_eq(routeMatch("/"), ROUTE_HOME);
    ck_assert_int_eq(routeMatch("/count"), ROUTE_COUNT);
    ck_assert_int_eq(routeMatch("/about"), ROUTE_ABOUT);
    ck_assert_int_eq(routeMatch("/health"), ROUTE_HEALTH);
    const char *misses[] = {"", "/count/", "/Count", "//", "/count?x=1", "/abou", "/health/x", "count", NULL};
    for (int i = 0; misses[i]; i++) ck_assert_msg(routeMatch(misses[i]) == ROUTE_NONE, "%s matched", misses[i]);
    ck_assert_int_eq(routeMatch(NULL), ROUTE_NONE);
}
END_TEST

START_TEST(methods) {
    ck_assert_int_eq(httpParseMethod("GET"), HTTP_GET);
    ck_assert_int_eq(httpParseMethod("HEAD"), HTTP_HEAD);
    ck_assert_int_eq(httpParseMethod("get"), HTTP_OTHER);
    ck_assert_int_eq(httpParseMethod("POST"), HTTP_OTHER);
    ck_assert_int_eq(httpParseMethod(""), HTTP_OTHER);
    ck_assert_int_eq(httpParseMethod(NULL), HTTP_OTHER);
}
END_TEST

START_TEST(head_has_status_length_and_optional_headers) {
    response r = {.status = 503, .contentType = "text/html", .cacheControl = "no-store",
                  .retryAfter = 5, .allowGetHead = 1, .servedBy = "web/42"};
    bufInit(&r.body);
    bufAppendStr(&r.body, "hello");
    buf out;
    bufInit(&out);
    ck_assert_int_eq(httpFormatHead(&out, &r), 0);
    ck_assert_str_eq(bufCStr(&out), "Status: 503 Service Unavailable\r\nContent-Type: text/html\r\n"
                                    "Content-Length: 5\r\nCache-Control: no-store\r\nRetry-After: 5\r\n"
                                    "Allow: GET, HEAD\r\nX-Served-By: web/42\r\n\r\n");
    bufReset(&out);
    response plain = {.status = 404, .contentType = "text/html"};
    bufInit(&plain.body);
    httpFormatHead(&out, &plain);
    ck_assert_str_eq(bufCStr(&out), "Status: 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n");
    bufFree(&out);
    bufFree(&r.body);
}
END_TEST

START_TEST(status_texts) {
    ck_assert_str_eq(httpStatusText(200), "OK");
    ck_assert_str_eq(httpStatusText(405), "Method Not Allowed");
    ck_assert_str_eq(httpStatusText(500), "Internal Server Error");
    ck_assert_str_eq(httpStatusText(299), "Unknown");
}
END_TEST

START_TEST(buffer_grows_and_resets) {
    buf b;
    bufInit(&b);
    for (int i = 0; i < 10000; i++) bufAppend(&b, "0123456789", 10);
    ck_assert_uint_eq(b.len, 100000);
    ck_assert_int_eq(b.data[99999], '9');
    size_t cap = b.cap;
    bufReset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, cap);
    bufAppendUint(&b, 0);
    bufAppendStr(&b, "-");
    bufAppendUint(&b, 18446744073709551615ull);
    bufAppendStr(&b, "-");
    bufAppendUint(&b, 1234567);
    ck_assert_str_eq(bufCStr(&b), "0-18446744073709551615-1234567");
    bufFree(&b);
    ck_assert_ptr_null(b.data);
}
END_TEST

Suite *httpSuite(void) {
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("http");
    tcase_add_test(tc, routes_exact_paths);
    tcase_add_test(tc, methods);
    tcase_add_test(tc, head_has_status_length_and_optional_headers);
    tcase_add_test(tc, status_texts);
    tcase_add_test(tc, buffer_grows_and_resets);
    suite_add_tcase(s, tc);
    return s;
}
