/* Configuration: defaults, valid values, and the one-line error for each bad value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "scratch.h"
#include "suites.h"

/* A fake environment: NULL-terminated name/value pairs. */
static const char *tableGet(const char *name, void *ud) {
    const char *const *env = ud;
    for (int i = 0; env[i]; i += 2)
        if (strcmp(env[i], name) == 0) return env[i + 1];
    return NULL;
}

static config cfg;
static char err[512];

static int load(const char *const *env) {
    err[0] = '\0';
    return configLoad(&cfg, tableGet, (void *)env, err, sizeof(err));
}

/* Loads env, expects a failure, and checks the message starts with want. */
static void expectError(const char *const *env, const char *want) {
    ck_assert_int_eq(load(env), -1);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "error '%s' does not start with '%s'", err, want);
    ck_assert_msg(strchr(err, '\n') == NULL, "error spans lines: %s", err);
}

START_TEST(defaults) {
    const char *env[] = {NULL};
    ck_assert_int_eq(load(env), 0);
    ck_assert_str_eq(cfg.redisHost, "redis");
    ck_assert_int_eq(cfg.redisPort, 6379);
    ck_assert_str_eq(cfg.redisPassword, "");
    ck_assert_str_eq(cfg.appName, "Khalid Tracker");
    ck_assert_int_eq(cfg.threads, 64);
    ck_assert_int_eq(cfg.showServedBy, 1);
    ck_assert_str_eq(cfg.templateDir, "templates");
}
END_TEST

START_TEST(valid_values) {
    const char *env[] = {"REDIS_HOST", "127.0.0.1", "REDIS_PORT", "6380", "FCGI_THREADS", "16",
                         "APP_NAME", "My <Tracker>", "SHOW_SERVED_BY", "off", "REDIS_TIMEOUT_MS", "250",
                         "GITHUB_URL", "https://github.com/khalid", "LINKEDIN_URL", "https://linkedin.com/in/k",
                         "TEMPLATE_DIR", "/srv/t", "REDIS_PASSWORD", "s3cret", NULL};
    ck_assert_int_eq(load(env), 0);
    ck_assert_str_eq(cfg.redisHost, "127.0.0.1");
    ck_assert_int_eq(cfg.redisPort, 6380);
    ck_assert_int_eq(cfg.threads, 16);
    ck_assert_str_eq(cfg.appName, "My <Tracker>");
    ck_assert_int_eq(cfg.showServedBy, 0);
    ck_assert_int_eq(cfg.redisTimeoutMs, 250);
    ck_assert_str_eq(cfg.githubUrl, "https://github.com/khalid");
    ck_assert_str_eq(cfg.templateDir, "/srv/t");
    ck_assert_str_eq(cfg.redisPassword, "s3cret");
}
END_TEST

START_TEST(empty_means_default) {
    const char *env[] = {"REDIS_PORT", "", "REDIS_PASSWORD", "", NULL};
    ck_assert_int_eq(load(env), 0);
    ck_assert_int_eq(cfg.redisPort, 6379);
}
END_TEST

START_TEST(bad_numbers) {
    expectError((const char *[]){"REDIS_PORT", "abc", NULL}, "REDIS_PORT=abc: expected an integer from 1 to 65535");
    expectError((const char *[]){"REDIS_PORT", "70000", NULL}, "REDIS_PORT=70000: expected an integer");
    expectError((const char *[]){"REDIS_PORT", "0", NULL}, "REDIS_PORT=0:");
    expectError((const char *[]){"REDIS_PORT", "80x", NULL}, "REDIS_PORT=80x:");
    expectError((const char *[]){"REDIS_PORT", " 80", NULL}, "REDIS_PORT= 80:");
    expectError((const char *[]){"REDIS_PORT", "99999999999999999999", NULL}, "REDIS_PORT=99999999999999999999:");
    expectError((const char *[]){"FCGI_THREADS", "0", NULL}, "FCGI_THREADS=0: expected an integer from 1 to 1024");
    expectError((const char *[]){"FCGI_THREADS", "-3", NULL}, "FCGI_THREADS=-3:");
    expectError((const char *[]){"FCGI_THREADS", "1025", NULL}, "FCGI_THREADS=1025: expected an integer from 1 to 1024");
    expectError((const char *[]){"REDIS_TIMEOUT_MS", "5", NULL}, "REDIS_TIMEOUT_MS=5:");
    expectError((const char *[]){"REDIS_TIMEOUT_MS", "60001", NULL},
                "REDIS_TIMEOUT_MS=60001: expected an integer from 10 to 60000");
    /* The bounds themselves are valid. */
    ck_assert_int_eq(load((const char *[]){"FCGI_THREADS", "1024", "REDIS_TIMEOUT_MS", "60000", NULL}), 0);
    ck_assert_int_eq(load((const char *[]){"FCGI_THREADS", "1", "REDIS_TIMEOUT_MS", "10", "REDIS_PORT", "65535", NULL}), 0);
}
END_TEST

START_TEST(bad_switch_and_urls) {
    expectError((const char *[]){"SHOW_SERVED_BY", "maybe", NULL}, "SHOW_SERVED_BY=maybe: expected 1/0");
    expectError((const char *[]){"GITHUB_URL", "javascript:alert(1)", NULL},
                "GITHUB_URL=javascript:alert(1): expected an http:// or https:// URL");
    expectError((const char *[]){"LINKEDIN_URL", "https://x/\"onclick", NULL}, "LINKEDIN_URL=");
    expectError((const char *[]){"APP_NAME", "line\nbreak", NULL}, "APP_NAME=line");
    /* Control characters are refused and shown as '?', so a value cannot forge log lines. */
    expectError((const char *[]){"REDIS_HOST", "redis\r\nFAKE", NULL},
                "REDIS_HOST=redis??FAKE: contains a control character");
    expectError((const char *[]){"REDIS_HOST", "re\x7f", NULL}, "REDIS_HOST=re?:");
}
END_TEST

START_TEST(overlong_value_is_cut_in_message) {
    char longName[400];
    memset(longName, 'a', sizeof(longName) - 1);
    longName[sizeof(longName) - 1] = '\0';
    expectError((const char *[]){"APP_NAME", longName, NULL}, "APP_NAME=aaaa");
    ck_assert_msg(strstr(err, "...: too long") != NULL, "%s", err);
}
END_TEST

START_TEST(password_file) {
    char path[256];
    scratchWrite("pw", "from-file\n", path, sizeof(path));
    ck_assert_int_eq(load((const char *[]){"REDIS_PASSWORD_FILE", path, NULL}), 0);
    ck_assert_str_eq(cfg.redisPassword, "from-file");
    expectError((const char *[]){"REDIS_PASSWORD_FILE", path, "REDIS_PASSWORD", "x", NULL},
                "REDIS_PASSWORD_FILE=");
    ck_assert_msg(strstr(err, "not both") != NULL, "%s", err);
    scratchWrite("empty", "\n", path, sizeof(path));
    expectError((const char *[]){"REDIS_PASSWORD_FILE", path, NULL}, "REDIS_PASSWORD_FILE=");
    ck_assert_msg(strstr(err, "holds no password") != NULL, "%s", err);
    scratchWrite("missing", "", path, sizeof(path));
    unlink(path);
    expectError((const char *[]){"REDIS_PASSWORD_FILE", path, NULL}, "REDIS_PASSWORD_FILE=");
    ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
    /* The reason repeats the path: its line break must not reach the log either. */
    strcat(path, "\nFAKE");
    expectError((const char *[]){"REDIS_PASSWORD_FILE", path, NULL}, "REDIS_PASSWORD_FILE=");
    ck_assert_msg(strstr(err, "?FAKE: No such file") != NULL, "%s", err);
}
END_TEST

Suite *configSuite(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, valid_values);
    tcase_add_test(tc, empty_means_default);
    tcase_add_test(tc, bad_numbers);
    tcase_add_test(tc, bad_switch_and_urls);
    tcase_add_test(tc, overlong_value_is_cut_in_message);
    scratchAdd(tc);
    tcase_add_test(tc, password_file);
    suite_add_tcase(s, tc);
    return s;
}
