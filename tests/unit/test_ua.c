/* User-Agent classification: real headers of current browsers and bots, table-driven. */
#include <string.h>

#include "suites.h"
#include "ua.h"

typedef struct uaCase {
    const char *ua;
    int bot;
    const char *browser, *system, *device;
} uaCase;

/* Classifies each case's header and checks every field, naming the header on failure. */
static void expectAll(const uaCase *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const uaCase *c = &cases[i];
        uaInfo info;
        uaClassify(c->ua, &info);
        ck_assert_msg(info.bot == c->bot && strcmp(info.browser, c->browser) == 0 &&
                          strcmp(info.system, c->system) == 0 && strcmp(info.device, c->device) == 0,
                      "'%s': got bot=%d %s/%s/%s, want bot=%d %s/%s/%s", c->ua, info.bot, info.browser,
                      info.system, info.device, c->bot, c->browser, c->system, c->device);
    }
}

#define EXPECT_ALL(cases) expectAll(cases, sizeof(cases) / sizeof(cases[0]))

START_TEST(browsers) {
    static const uaCase cases[] = {
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 0,
         "Firefox", "Windows", "desktop"},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0", 0,
         "Firefox", "macOS", "desktop"},
        {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 0,
         "Firefox", "Linux", "desktop"},
        {"Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", 0,
         "Firefox", "Android", "mobile"},
        {"Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0", 0,
         "Firefox", "Android", "tablet"},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "FxiOS/133.0 Mobile/15E148 Safari/605.1.15", 0, "Firefox", "iOS", "mobile"},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Safari/537.36", 0, "Chrome", "Windows", "desktop"},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Safari/537.36", 0, "Chrome", "macOS", "desktop"},
        {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
         0, "Chrome", "Linux", "desktop"},
        {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
         "Mobile Safari/537.36", 0, "Chrome", "Android", "mobile"},
        {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
         "Safari/537.36", 0, "Chrome", "Android", "tablet"},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", 0, "Chrome", "iOS", "mobile"},
        {"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Safari/537.36", 0, "Chrome", "ChromeOS", "desktop"},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/18.1 Safari/605.1.15", 0, "Safari", "macOS", "desktop"},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/18.1 Mobile/15E148 Safari/604.1", 0, "Safari", "iOS", "mobile"},
        {"Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/18.1 Mobile/15E148 Safari/604.1", 0, "Safari", "iOS", "tablet"},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", 0, "Edge", "Windows", "desktop"},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", 0, "Edge", "macOS", "desktop"},
        {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
         "Mobile Safari/537.36 EdgA/131.0.0.0", 0, "Edge", "Android", "mobile"},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/17.0 EdgiOS/131.2903.68 Mobile/15E148 Safari/605.1.15", 0, "Edge", "iOS", "mobile"},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0", 0, "Opera", "Windows", "desktop"},
        {"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
         "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", 0, "Samsung Internet", "Android", "mobile"},
    };
    EXPECT_ALL(cases);
}
END_TEST

START_TEST(bots) {
    static const uaCase cases[] = {
        {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 1, "Other", "Other", "desktop"},
        {"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 1, "Other", "Other", "desktop"},
        {"Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)", 1, "Other", "Other",
         "desktop"},
        {"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", 1, "Other", "Other",
         "desktop"},
        {"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", 1,
         "Other", "Other", "desktop"},
        {"Mozilla/5.0 (compatible; Google-InspectionTool/1.0;)", 1, "Other", "Other", "desktop"},
        {"FeedFetcher-Google; (+http://www.google.com/feedfetcher.html)", 1, "Other", "Other", "desktop"},
        {"curl/8.5.0", 1, "Other", "Other", "desktop"},
        {"Wget/1.21.3", 1, "Other", "Other", "desktop"},
        {"HTTPie/3.2.2", 1, "Other", "Other", "desktop"},
        {"python-requests/2.31.0", 1, "Other", "Other", "desktop"},
        {"Python-urllib/3.11", 1, "Other", "Other", "desktop"},
        {"Python/3.11 aiohttp/3.9.5", 1, "Other", "Other", "desktop"},
        {"Go-http-client/1.1", 1, "Other", "Other", "desktop"},
        {"Java/17.0.2", 1, "Other", "Other", "desktop"},
        {"Apache-HttpClient/4.5.14 (Java/17.0.9)", 1, "Other", "Other", "desktop"},
        {"okhttp/4.12.0", 1, "Other", "Other", "desktop"},
        {"axios/1.6.8", 1, "Other", "Other", "desktop"},
        {"node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", 1, "Other", "Other", "desktop"},
        {"libwww-perl/6.72", 1, "Other", "Other", "desktop"},
        {"Scrapy/2.11.0 (+https://scrapy.org)", 1, "Other", "Other", "desktop"},
        {"PostmanRuntime/7.39.0", 1, "Other", "Other", "desktop"},
        {"Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP2A.240805.005)", 1, "Other", "Android", "tablet"},
        {"MyApp/1.0 CFNetwork/1496.0.7 Darwin/23.5.0", 1, "Other", "Other", "desktop"},
        {"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 1, "Other", "Other",
         "desktop"},
        {"WhatsApp/2.23.20.0", 1, "Other", "Other", "desktop"},
        {"Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", 1, "Other", "Other", "desktop"},
        {"Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", 1, "Other", "Other", "desktop"},
        {"http.rb/5.1.1 (Mastodon/4.2.1; +https://mastodon.social/)", 1, "Other", "Other", "desktop"},
        {"Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
         1, "Other", "Linux", "desktop"},
        /* A bot still gets the browser, system and device it claims to be. */
        {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 "
         "Safari/537.36", 1, "Chrome", "Linux", "desktop"},
        {"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
         1, "Chrome", "Android", "mobile"},
        {"Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse", 1, "Chrome", "Android", "mobile"},
        /* No User-Agent at all (the worker passes ""), or only blanks. */
        {"", 1, "Other", "Other", "desktop"},
        {" \t ", 1, "Other", "Other", "desktop"},
    };
    EXPECT_ALL(cases);
}
END_TEST

/* Each pair differs only in what an earlier rule must win over. */
START_TEST(order_of_rules) {
    static const uaCase cases[] = {
        /* Edge on iOS also says Version/ and Safari/. */
        {"Mozilla/5.0 (iPhone) Version/17.0 EdgiOS/131 Mobile/15E148 Safari/605.1.15", 0, "Edge", "iOS", "mobile"},
        {"Mozilla/5.0 (iPhone) Version/17.0 Mobile/15E148 Safari/605.1.15", 0, "Safari", "iOS", "mobile"},
        /* Chrome also says Safari/, without Version/ usually; with it (Android WebView), still Chrome. */
        {"Mozilla/5.0 (Linux; Android 14; wv) Version/4.0 Chrome/131.0.0.0 Mobile Safari/537.36", 0, "Chrome",
         "Android", "mobile"},
        {"Mozilla/5.0 (X11; Linux x86_64) Safari/537.36", 0, "Other", "Linux", "desktop"},
        /* An iPad says "like Mac OS X" and "Mobile/". */
        {"Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) Mobile/15E148", 0, "Other", "iOS", "tablet"},
        /* Android phones say Linux too; Android tablets do not say Mobile. */
        {"Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile", 0, "Other", "Android", "mobile"},
        {"Mozilla/5.0 (Linux; Android 14; SM-X710)", 0, "Other", "Android", "tablet"},
        /* "Microsoft" holds "cros": Outlook on Windows is not ChromeOS. */
        {"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)", 0, "Other", "Windows",
         "desktop"},
    };
    EXPECT_ALL(cases);
}
END_TEST

START_TEST(case_and_unknown) {
    static const uaCase cases[] = {
        {"CURL/8.5.0", 1, "Other", "Other", "desktop"},
        {"Mozilla/5.0 (compatible; GOOGLEBOT/2.1)", 1, "Other", "Other", "desktop"},
        {"mozilla/5.0 (windows nt 10.0; win64; x64; rv:133.0) gecko/20100101 firefox/133.0", 0, "Firefox",
         "Windows", "desktop"},
        {"MOZILLA/5.0 (IPHONE; CPU IPHONE OS 18_1 LIKE MAC OS X) VERSION/18.1 MOBILE/15E148 SAFARI/604.1", 0,
         "Safari", "iOS", "mobile"},
        /* Nothing known: a visitor, with nothing to say about it. */
        {"Mozilla/5.0 (X11; FreeBSD amd64; rv:128.0) Gecko/20100101 Firefox/128.0", 0, "Firefox", "Other",
         "desktop"},
        {"SomeBrowser/1.0", 0, "Other", "Other", "desktop"},
        /* Bytes outside ASCII neither match nor stop the scan. */
        {"\xff\xfe\x80 Firefox/1 \xc3\xa9 Windows", 0, "Firefox", "Windows", "desktop"},
        /* A marker cut by the end of the header is not a marker. */
        {"Mozilla/5.0 Firefo", 0, "Other", "Other", "desktop"},
        {"Mozilla/5.0 b", 0, "Other", "Other", "desktop"},
    };
    EXPECT_ALL(cases);
}
END_TEST

/* Markers count wherever they are, even after 8 KB (nginx's largest header by default). */
START_TEST(long_header) {
    static char ua[8192 + 64];
    memset(ua, 'x', 8192);
    strcpy(ua + 8192, " (Windows NT 10.0) Firefox/133.0");
    uaInfo info;
    uaClassify(ua, &info);
    ck_assert_int_eq(info.bot, 0);
    ck_assert_str_eq(info.browser, "Firefox");
    ck_assert_str_eq(info.system, "Windows");
    /* Repeated partial markers: every position is tried again. */
    for (size_t i = 0; i + 4 < 8192; i += 4) memcpy(ua + i, "bobo", 4);
    strcpy(ua + 8192, "bot");
    uaClassify(ua, &info);
    ck_assert_int_eq(info.bot, 1);
}
END_TEST

Suite *uaSuite(void) {
    Suite *s = suite_create("ua");
    TCase *tc = tcase_create("classify");
    tcase_add_test(tc, browsers);
    tcase_add_test(tc, bots);
    tcase_add_test(tc, order_of_rules);
    tcase_add_test(tc, case_and_unknown);
    tcase_add_test(tc, long_header);
    suite_add_tcase(s, tc);
    return s;
}
