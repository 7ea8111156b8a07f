/* The route table and dispatch through the real templates, with a store whose Redis is
 * unreachable (a unix socket that does not exist): no server, no network. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "routes.h"
#include "suites.h"

static config cfg;
static view *theView;
static store *deadStore;

static void setup(void) {
    char err[256];
    ck_assert_int_eq(configLoad(&cfg, NULL, NULL, err, sizeof(err)), 0);
    snprintf(cfg.templateDir, sizeof(cfg.templateDir), "%s", TEST_TEMPLATE_DIR);
    theView = viewLoad(&cfg, err, sizeof(err));
    ck_assert_msg(theView != NULL, "%s", err);
    deadStore = storeCreate("/nonexistent/kt-test/redis.sock", 0, NULL, NULL, 100);
    ck_assert_ptr_nonnull(deadStore);
}

static void teardown(void) {
    storeFree(deadStore);
    viewFree(theView);
}

/* Dispatches method path (query after '?') into res, which the caller frees. */
static void answer(const char *method, const char *path, response *res) {
    static unsigned long long rng = 1;
    request req = {.method = requestParseMethod(method), .path = path, .query = "",
                   .clientAddr = "", .userAgent = "", .referer = ""};
    responseInit(res);
    pageCtx c = {.view = theView, .store = deadStore, .rng = &rng, .req = &req, .res = res};
    routeDispatch(&c);
}

static int bodyHas(response *r, const char *needle) {
    return strstr(bufCStr(&r->body), needle) != NULL;
}

START_TEST(find_exact_paths_only) {
    const char *hits[] = {"/", "/count", "/about", "/health", NULL};
    for (int i = 0; hits[i]; i++) {
        const route *r = routeFind(hits[i]);
        ck_assert_msg(r && strcmp(r->path, hits[i]) == 0, "%s not found", hits[i]);
    }
    const char *misses[] = {"", "/count/", "/Count", "//", "/count?x=1", "/abou", "/health/x", "count", NULL};
    for (int i = 0; misses[i]; i++) ck_assert_msg(routeFind(misses[i]) == NULL, "%s matched", misses[i]);
}
END_TEST

START_TEST(fixed_pages_are_cacheable_html) {
    const char *paths[] = {"/", "/about", NULL};
    for (int i = 0; paths[i]; i++) {
        response res;
        answer("GET", paths[i], &res);
        ck_assert_int_eq(res.status, 200);
        ck_assert_str_eq(res.contentType, "text/html; charset=utf-8");
        ck_assert_str_eq(res.cacheControl, "no-cache");
        ck_assert(bodyHas(&res, "<!doctype html>"));
        ck_assert(bodyHas(&res, "Khalid Tracker"));
        responseFree(&res);
    }
}
END_TEST

START_TEST(unknown_path_is_the_404_page_with_the_path_escaped) {
    response res;
    answer("GET", "/no/<such>", &res);
    ck_assert_int_eq(res.status, 404);
    ck_assert_str_eq(res.cacheControl, "no-store");
    ck_assert_ptr_null(res.allow);
    ck_assert(bodyHas(&res, "Page not found"));
    ck_assert(bodyHas(&res, "/no/&lt;such&gt;"));
    ck_assert(!bodyHas(&res, "<such>"));
    responseFree(&res);
    /* Unknown path and unknown method: 404 wins, as in the original. */
    answer("DELETE", "/nope", &res);
    ck_assert_int_eq(res.status, 404);
    responseFree(&res);
}
END_TEST

START_TEST(wrong_method_is_405_with_allow_and_touches_nothing) {
    const char *methods[] = {"POST", "PUT", "DELETE", "get", NULL};
    for (int i = 0; methods[i]; i++) {
        response res;
        answer(methods[i], "/count", &res);
        ck_assert_int_eq(res.status, 405);
        ck_assert_str_eq(res.allow, "GET, HEAD");
        ck_assert(bodyHas(&res, "Method not allowed"));
        /* The handler never ran: it would have tried Redis and failed. */
        ck_assert_int_eq(deadStore->err, 0);
        responseFree(&res);
    }
}
END_TEST

START_TEST(count_without_redis_is_503_with_retry_after) {
    const char *methods[] = {"GET", "HEAD", NULL};
    for (int i = 0; methods[i]; i++) {
        response res;
        answer(methods[i], "/count", &res);
        ck_assert_int_eq(res.status, 503);
        ck_assert_int_eq(res.retryAfter, 5);
        ck_assert_str_eq(res.cacheControl, "no-store");
        ck_assert(bodyHas(&res, "The counter is taking a break"));
        ck_assert(bodyHas(&res, "Try again in 5 seconds"));
        ck_assert_int_eq(deadStore->err, 1);
        responseFree(&res);
    }
}
END_TEST

START_TEST(limited_is_the_429_page_with_retry_after) {
    response res;
    answer("GET", "/_limited", &res);
    ck_assert_int_eq(res.status, 429);
    ck_assert_int_eq(res.retryAfter, 2);
    ck_assert_str_eq(res.cacheControl, "no-store");
    ck_assert(bodyHas(&res, "Slow down a little"));
    /* nginx redirected here: the path would be /_limited, not what was asked for. */
    ck_assert(!bodyHas(&res, "/_limited"));
    /* Counted nowhere: it asks nothing of Redis. */
    ck_assert_int_eq(deadStore->err, 0);
    responseFree(&res);
}
END_TEST

START_TEST(health_without_redis_is_503_json) {
    response res;
    answer("GET", "/health", &res);
    ck_assert_int_eq(res.status, 503);
    ck_assert_str_eq(res.contentType, "application/json");
    ck_assert_str_eq(res.cacheControl, "no-store");
    ck_assert(bodyHas(&res, "{\"status\":\"degraded\",\"redis\":\"down\"}"));
    responseFree(&res);
}
END_TEST

START_TEST(quotes_vary_and_come_from_the_file) {
    unsigned long long rng = 12345;
    const char *first = viewQuote(theView, &rng);
    int differs = 0;
    for (int i = 0; i < 50; i++) differs |= viewQuote(theView, &rng) != first;
    ck_assert(differs);
    ck_assert(first[0] != '\0');
}
END_TEST

Suite *routesSuite(void) {
    Suite *s = suite_create("routes");
    TCase *tc = tcase_create("routes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, find_exact_paths_only);
    tcase_add_test(tc, fixed_pages_are_cacheable_html);
    tcase_add_test(tc, unknown_path_is_the_404_page_with_the_path_escaped);
    tcase_add_test(tc, wrong_method_is_405_with_allow_and_touches_nothing);
    tcase_add_test(tc, count_without_redis_is_503_with_retry_after);
    tcase_add_test(tc, limited_is_the_429_page_with_retry_after);
    tcase_add_test(tc, health_without_redis_is_503_json);
    tcase_add_test(tc, quotes_vary_and_come_from_the_file);
    suite_add_tcase(s, tc);
    return s;
}
