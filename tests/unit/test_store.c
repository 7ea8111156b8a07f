/* store-tests: the Redis store against a real redis-server that this program starts on
 * a free port in a temp dir, like hiredis's own test suite. The server dies with this
 * process however it ends (PR_SET_PDEATHSIG), and the temp dir is removed at exit and on
 * a fatal signal (a crash, or the time limit's SIGTERM). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <hiredis/hiredis.h>

#include "store.h"

#define PASSWORD "test-pass"
#define TIMEOUT_MS 300

static char dir[] = "/tmp/kt-store-XXXXXX";
/* Made once, so that the fatal-signal handler only calls async-signal-safe functions. */
static char sockPath[64], logPath[64], aofDir[64];
static int port;
static pid_t redisPid = -1;

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleepMs(int ms) {
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

/* Asks the kernel for a port nobody uses right now. */
static int freePort(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, len) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        perror("free port");
        exit(2);
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts redis-server with a password on the test port and a unix socket; waits for it. */
static void startRedis(void) {
    char portArg[16];
    snprintf(portArg, sizeof(portArg), "%d", port);
    pid_t parent = getpid();
    redisPid = fork();
    if (redisPid == 0) {
        /* Dies with the test: nothing else would stop it after a crash in no-fork mode. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
        execlp("redis-server", "redis-server", "--port", portArg, "--bind", "127.0.0.1", "--dir", dir,
               "--unixsocket", sockPath, "--save", "", "--appendonly", "no", "--requirepass", PASSWORD,
               "--logfile", logPath, "--loglevel", "warning", (char *)NULL);
        perror("exec redis-server");
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        redisContext *c = redisConnect("127.0.0.1", port);
        int up = c && !c->err;
        redisFree(c);
        if (up) return;
        sleepMs(25);
    }
    fprintf(stderr, "store-tests: redis-server did not start on port %d\n", port);
    exit(2);
}

static void stopRedis(void) {
    if (redisPid <= 0) return;
    kill(redisPid, SIGCONT);
    kill(redisPid, SIGKILL);
    waitpid(redisPid, NULL, 0);
    redisPid = -1;
}

static void cleanup(void) {
    stopRedis();
    unlink(sockPath);
    unlink(logPath);
    rmdir(aofDir);
    rmdir(dir);
}

static void onFatalSignal(int sig) {
    if (redisPid > 0) kill(redisPid, SIGKILL);
    unlink(sockPath);
    unlink(logPath);
    rmdir(aofDir);
    rmdir(dir);
    signal(sig, SIG_DFL);
    raise(sig);
}

static store *connectTest(const char *password) {
    store *s = storeCreate("127.0.0.1", port, NULL, password, TIMEOUT_MS);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Polls PING for up to 3 s; returns whether the store answered again. */
static int recovers(store *s) {
    for (int i = 0; i < 60; i++) {
        if (storePing(s) == 0) return 1;
        sleepMs(50);
    }
    return 0;
}

START_TEST(incr_counts_from_one_and_get_reads) {
    store *s = connectTest(PASSWORD);
    long long v = -1;
    ck_assert_int_eq(storeGet(s, "t:fresh", &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(storeIncr(s, "t:fresh", &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(storeIncr(s, "t:fresh", &v), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(storeGet(s, "t:fresh", &v), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(storePing(s), 0);
    ck_assert_int_eq(s->err, 0);
    storeFree(s);
}
END_TEST

START_TEST(keys_with_spaces_are_one_argument) {
    store *s = connectTest(PASSWORD);
    long long v;
    ck_assert_int_eq(storeIncr(s, "t:a key with spaces", &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(storeGet(s, "t:a", &v), 0);
    ck_assert_int_eq(v, 0);
    storeFree(s);
}
END_TEST

START_TEST(wrong_type_fails_but_keeps_connection) {
    store *s = connectTest(PASSWORD);
    redisContext *c = redisConnect("127.0.0.1", port);
    freeReplyObject(redisCommand(c, "AUTH %s", PASSWORD));
    freeReplyObject(redisCommand(c, "SET t:text %s", "not a number"));
    redisFree(c);
    long long v;
    ck_assert_int_eq(storeIncr(s, "t:text", &v), -1);
    ck_assert_msg(strstr(s->errstr, "not an integer") != NULL, "%s", s->errstr);
    ck_assert_int_eq(s->err, STORE_ERR_REPLY);
    ck_assert_int_eq(storeGet(s, "t:text", &v), -1);
    ck_assert_int_eq(storeIncr(s, "t:other", &v), 0);
    ck_assert_int_eq(s->err, 0);
    storeFree(s);
}
END_TEST

START_TEST(wrong_password_fails) {
    store *s = connectTest("wrong");
    long long v;
    ck_assert_int_eq(storeIncr(s, "visits", &v), -1);
    ck_assert_msg(strstr(s->errstr, "AUTH") != NULL, "%s", s->errstr);
    storeFree(s);
    s = connectTest(NULL);
    ck_assert_int_eq(storePing(s), -1);
    ck_assert_msg(strstr(s->errstr, "NOAUTH") != NULL, "%s", s->errstr);
    storeFree(s);
}
END_TEST

START_TEST(acl_user_authenticates_and_is_limited) {
    redisContext *c = redisConnect("127.0.0.1", port);
    freeReplyObject(redisCommand(c, "AUTH %s", PASSWORD));
    redisReply *r = redisCommand(c, "ACL SETUSER %s on >%s resetkeys ~t:acl:* resetchannels -@all +incr +ping",
                                 "kt-acl", "acl-pass");
    ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "ACL SETUSER failed: %s", r ? r->str : c->errstr);
    freeReplyObject(r);
    redisFree(c);
    store *s = storeCreate("127.0.0.1", port, "kt-acl", "acl-pass", TIMEOUT_MS);
    long long v;
    ck_assert_msg(storeIncr(s, "t:acl:n", &v) == 0, "%s", s->errstr);
    ck_assert_int_eq(v, 1);
    /* A command or key outside the user's rights is refused by Redis, not by the store. */
    ck_assert_int_eq(storeIncr(s, "t:other", &v), -1);
    ck_assert_msg(strstr(s->errstr, "NOPERM") != NULL, "%s", s->errstr);
    struct redisReply *replies[1];
    ck_assert_int_eq(storeAppend(s, "FLUSHALL"), 0);
    ck_assert_int_eq(storeExec(s, replies, 1), 1);
    ck_assert_int_eq(replies[0]->type, REDIS_REPLY_ERROR);
    ck_assert_msg(strstr(replies[0]->str, "NOPERM") != NULL, "%s", replies[0]->str);
    storeFreeReplies(replies, 1);
    storeFree(s);
    s = storeCreate("127.0.0.1", port, "kt-acl", "wrong", TIMEOUT_MS);
    ck_assert_int_eq(storePing(s), -1);
    ck_assert_msg(strstr(s->errstr, "AUTH") != NULL, "%s", s->errstr);
    storeFree(s);
}
END_TEST

START_TEST(unix_socket) {
    store *s = storeCreate(sockPath, 0, NULL, PASSWORD, TIMEOUT_MS);
    long long v;
    ck_assert_int_eq(storeIncr(s, "t:unix", &v), 0);
    ck_assert_int_eq(v, 1);
    storeFree(s);
}
END_TEST

START_TEST(hung_redis_times_out_then_recovers) {
    store *s = connectTest(PASSWORD);
    long long v;
    ck_assert_int_eq(storePing(s), 0);
    kill(redisPid, SIGSTOP);
    long long start = nowMs();
    int rc = storeIncr(s, "t:hang", &v);
    long long took = nowMs() - start;
    kill(redisPid, SIGCONT);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(took < 3 * TIMEOUT_MS, "a hung Redis took %lld ms (timeout %d ms)", took, TIMEOUT_MS);
    /* Reconnects after the backoff, without a new store. */
    ck_assert_msg(recovers(s), "no recovery after SIGCONT: %s", s->errstr);
    storeFree(s);
}
END_TEST

START_TEST(dead_redis_fails_fast_then_recovers_on_restart) {
    store *s = connectTest(PASSWORD);
    long long before, after;
    ck_assert_int_eq(storeIncr(s, "t:restart", &before), 0);
    stopRedis();
    long long start = nowMs();
    ck_assert_int_eq(storeIncr(s, "t:restart", &after), -1);
    ck_assert_int_eq(s->err, 1);
    /* While it is down, calls inside the backoff window fail at once. */
    ck_assert_int_eq(storePing(s), -1);
    ck_assert_msg(nowMs() - start < 2 * TIMEOUT_MS, "a dead Redis was slow to report");
    startRedis();
    ck_assert_msg(recovers(s), "no recovery after restart: %s", s->errstr);
    storeFree(s);
}
END_TEST

START_TEST(backoff_ends_when_another_thread_reaches_redis) {
    store *a = connectTest(PASSWORD), *b = connectTest(PASSWORD);
    long long v;
    ck_assert_int_eq(storePing(a), 0);
    ck_assert_int_eq(storePing(b), 0);
    stopRedis();
    ck_assert_int_eq(storePing(a), -1);
    /* b fails its reconnects until its backoff is long (50, 100, 200, 400 ms...). */
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(storePing(b), -1);
        sleepMs(50 << i);
    }
    ck_assert_int_eq(storePing(b), -1);
    startRedis();
    ck_assert_msg(recovers(a), "a did not reconnect: %s", a->errstr);
    /* Redis is back and this process knows it: b must not refuse for the rest of its
     * backoff. */
    ck_assert_msg(storeIncr(b, "t:backoff", &v) == 0, "b still backing off after a reached Redis: %s", b->errstr);
    storeFree(a);
    storeFree(b);
}
END_TEST

START_TEST(backoff_lets_one_thread_probe_for_the_process) {
    store *b = connectTest(PASSWORD);
    long long v;
    ck_assert_int_eq(storePing(b), 0);
    stopRedis();
    for (int i = 0; i < 6; i++) {  /* a backoff of a second by now */
        storePing(b);
        sleepMs(50 << i);
    }
    ck_assert_int_eq(storePing(b), -1);
    startRedis();
    /* No other thread reached Redis; b's own backoff has most of a second to go, but the
     * process's probe interval (100 ms) has passed. */
    sleepMs(150);
    ck_assert_msg(storeIncr(b, "t:probe", &v) == 0, "b still refuses with Redis back: %s", b->errstr);
    storeFree(b);
}
END_TEST

START_TEST(first_command_after_restart_succeeds) {
    store *s = connectTest(PASSWORD);
    long long v;
    ck_assert_int_eq(storeIncr(s, "t:idle", &v), 0);
    stopRedis();
    startRedis();
    /* The idle connection died with the old server; the store must notice before
     * writing to it rather than fail this request. */
    ck_assert_msg(storeIncr(s, "t:idle", &v) == 0, "first INCR after a restart failed: %s", s->errstr);
    ck_assert_int_eq(v, 1);
    storeFree(s);
}
END_TEST

START_TEST(unreachable_host_fails_within_timeout) {
    /* A port with no listener: connect is refused at once. */
    store *s = storeCreate("127.0.0.1", freePort(), NULL, NULL, TIMEOUT_MS);
    long long v, start = nowMs();
    ck_assert_int_eq(storeIncr(s, "visits", &v), -1);
    ck_assert_msg(nowMs() - start < 2 * TIMEOUT_MS, "refused connect was slow");
    ck_assert_msg(strstr(s->errstr, "connect") != NULL, "%s", s->errstr);
    storeFree(s);
}
END_TEST

START_TEST(host_name_is_looked_up) {
    store *s = storeCreate("localhost", port, NULL, PASSWORD, TIMEOUT_MS);
    long long v;
    ck_assert_msg(storeIncr(s, "t:named", &v) == 0, "INCR through \"localhost\" failed: %s", s->errstr);
    ck_assert_int_eq(v, 1);
    storeFree(s);
}
END_TEST

START_TEST(unknown_host_name_fails_within_timeout) {
    /* NXDOMAIN where DNS answers; where it does not, the lookup goes on in the background
     * and the request still gets its answer within the timeout. */
    store *s = storeCreate("no-such-host.invalid", 6379, NULL, NULL, TIMEOUT_MS);
    long long v, start = nowMs();
    ck_assert_int_eq(storeIncr(s, "visits", &v), -1);
    ck_assert_msg(nowMs() - start < 2 * TIMEOUT_MS, "a failed lookup held the call %lld ms", nowMs() - start);
    ck_assert_int_eq(s->err, STORE_ERR_IO);
    ck_assert_msg(strncmp(s->errstr, "redis host: ", 12) == 0, "%s", s->errstr);
    storeFree(s);
}
END_TEST

int main(void) {
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(sockPath, sizeof(sockPath), "%s/redis.sock", dir);
    snprintf(logPath, sizeof(logPath), "%s/redis.log", dir);
    snprintf(aofDir, sizeof(aofDir), "%s/appendonlydir", dir);
    port = freePort();
    atexit(cleanup);
    const int fatal[] = {SIGTERM, SIGINT, SIGHUP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) signal(fatal[i], onFatalSignal);
    signal(SIGPIPE, SIG_IGN);
    startRedis();

    Suite *su = suite_create("store (real redis-server)");
    TCase *tc = tcase_create("redis");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, incr_counts_from_one_and_get_reads);
    tcase_add_test(tc, keys_with_spaces_are_one_argument);
    tcase_add_test(tc, wrong_type_fails_but_keeps_connection);
    tcase_add_test(tc, wrong_password_fails);
    tcase_add_test(tc, acl_user_authenticates_and_is_limited);
    tcase_add_test(tc, unix_socket);
    tcase_add_test(tc, unreachable_host_fails_within_timeout);
    tcase_add_test(tc, host_name_is_looked_up);
    tcase_add_test(tc, unknown_host_name_fails_within_timeout);
    tcase_add_test(tc, hung_redis_times_out_then_recovers);
    tcase_add_test(tc, dead_redis_fails_fast_then_recovers_on_restart);
    tcase_add_test(tc, backoff_ends_when_another_thread_reaches_redis);
    tcase_add_test(tc, backoff_lets_one_thread_probe_for_the_process);
    tcase_add_test(tc, first_command_after_restart_succeeds);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    /* No fork: the tests stop and restart the server this process owns. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
