/* Response heads, the wire bytes and their out-of-memory fallback, and the buffer they
 * are built in. */
#include <string.h>

#include "buf.h"
#include "format.h"
#include "response.h"
#include "suites.h"

START_TEST(head_has_status_length_and_optional_headers) {
    response r;
    responseInit(&r);
    r.status = 503;
    r.contentType = "text/html";
    r.cacheControl = "no-store";
    r.retryAfter = 5;
    r.allow = "GET, HEAD";
    r.servedBy = "web/42";
    bufAppendStr(&r.body, "hello");
    buf out;
    bufInit(&out);
    ck_assert_int_eq(responseHead(&out, &r), 0);
    ck_assert_str_eq(bufCStr(&out), "Status: 503 Service Unavailable\r\nContent-Type: text/html\r\n"
                                    "Content-Length: 5\r\nCache-Control: no-store\r\nRetry-After: 5\r\n"
                                    "Allow: GET, HEAD\r\nX-Served-By: web/42\r\n\r\n");
    bufReset(&out);
    responseReset(&r);
    r.status = 404;
    r.contentType = "text/html";
    responseHead(&out, &r);
    ck_assert_str_eq(bufCStr(&out), "Status: 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n");
    bufFree(&out);
    responseFree(&r);
}
END_TEST

START_TEST(reset_restores_defaults_and_keeps_memory) {
    response r;
    responseInit(&r);
    r.status = 200;
    r.servedBy = "x";
    r.allow = "GET";
    r.retryAfter = 3;
    r.cacheControl = "no-cache";
    bufAppendStr(&r.body, "page");
    size_t cap = r.body.cap;
    responseReset(&r);
    ck_assert_int_eq(r.status, 500);
    ck_assert_str_eq(r.contentType, "text/plain; charset=utf-8");
    ck_assert_ptr_null(r.servedBy);
    ck_assert_ptr_null(r.allow);
    ck_assert_ptr_null(r.cacheControl);
    ck_assert_int_eq(r.retryAfter, 0);
    ck_assert_uint_eq(r.body.len, 0);
    ck_assert_uint_eq(r.body.cap, cap);
    responseFree(&r);
}
END_TEST

START_TEST(wire_joins_head_and_body_except_for_head) {
    response r;
    responseInit(&r);
    r.status = 200;
    r.contentType = "text/plain";
    bufAppendStr(&r.body, "body");
    buf out;
    bufInit(&out);
    const char *data;
    size_t len;
    responseWire(&r, 1, &out, &data, &len);
    const char want[] = "Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody";
    ck_assert_uint_eq(len, sizeof(want) - 1);
    ck_assert(memcmp(data, want, len) == 0);
    /* HEAD: the same head, Content-Length included, and no body. */
    responseWire(&r, 0, &out, &data, &len);
    ck_assert_uint_eq(len, sizeof(want) - 1 - 4);
    ck_assert(memcmp(data, want, len) == 0);
    bufFree(&out);
    responseFree(&r);
}
END_TEST

START_TEST(wire_turns_a_body_out_of_memory_into_an_empty_500) {
    response r;
    responseInit(&r);
    r.status = 200;
    r.contentType = "text/html";
    r.servedBy = "web/1";
    bufAppendStr(&r.body, "half a pa");
    r.body.oom = 1;
    buf out;
    bufInit(&out);
    const char *data;
    size_t len;
    responseWire(&r, 1, &out, &data, &len);
    const char want[] = "Status: 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: 0\r\nCache-Control: no-store\r\n\r\n";
    ck_assert_uint_eq(len, sizeof(want) - 1);
    ck_assert(memcmp(data, want, len) == 0);
    bufFree(&out);
    responseFree(&r);
}
END_TEST

START_TEST(status_texts) {
    ck_assert_str_eq(responseStatusText(200), "OK");
    ck_assert_str_eq(responseStatusText(405), "Method Not Allowed");
    ck_assert_str_eq(responseStatusText(500), "Internal Server Error");
    ck_assert_str_eq(responseStatusText(299), "Unknown");
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

START_TEST(grouped_digits) {
    static const struct { long long n; const char *want; } cases[] = {
        {0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-1234, "-1,234"},
        {-123, "-123"}, {9223372036854775807LL, "9,223,372,036,854,775,807"},
    };
    char out[40];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        formatGrouped(cases[i].n, out, sizeof(out));
        ck_assert_str_eq(out, cases[i].want);
    }
    formatGrouped(1234567, out, 4);
    ck_assert_str_eq(out, "1,2");
}
END_TEST

Suite *responseSuite(void) {
    Suite *s = suite_create("response");
    TCase *tc = tcase_create("response");
    tcase_add_test(tc, head_has_status_length_and_optional_headers);
    tcase_add_test(tc, reset_restores_defaults_and_keeps_memory);
    tcase_add_test(tc, wire_joins_head_and_body_except_for_head);
    tcase_add_test(tc, wire_turns_a_body_out_of_memory_into_an_empty_500);
    tcase_add_test(tc, status_texts);
    tcase_add_test(tc, buffer_grows_and_resets);
    tcase_add_test(tc, grouped_digits);
    suite_add_tcase(s, tc);
    return s;
}
