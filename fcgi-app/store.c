/* store: Redis access through hiredis 0.14; see store.h. */
#include "store.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "resolve.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
#define PROBE_INTERVAL_MS 100

struct storePriv {
    redisContext *ctx;
    char *host, *user, *password;
    int port;
    struct timeval timeout;
    long long retryAtMs;  /* no reconnect before this monotonic time... */
    int recoveriesSeen;   /* ...unless the process saw Redis recover since it was set */
    int backoffMs;
    int connectFailed;    /* the last connection attempt failed: the name may have a new address */
    int queued;           /* commands appended and not yet sent by storeExec() */
};

/* Whether the last call of any store in this process found Redis unreachable: shared by
 * the threads so that an outage is logged once per process, not once per thread or
 * request. */
static atomic_int outage;
/* How often the process saw Redis come back. A store backing off reconnects at once when
 * this changes: once one thread reached Redis again (and /health said so), no other
 * thread may still refuse requests for up to a backoff. */
static atomic_int recoveries;
/* When a thread backing off may next try anyway, on behalf of its process: one attempt per
 * PROBE_INTERVAL_MS however many threads back off, so that a Redis that came back is
 * found within that interval, where each thread's own backoff would take up to a second.
 * Another worker process may already have said so on /health. */
static atomic_llong probeAtMs;
/* Whether Redis refused a command since it last accepted a write. A Redis that refuses
 * writes (out of memory, a failed save) still answers reads and PING, so refusals are
 * apart from the outage: otherwise every read between two refused writes would log a
 * recovery and the next write a new outage, a line per request. */
static atomic_int refusing;

/* Logs a failure or a recovery when the process-wide state changes; returns rc. A write
 * accepted (wrote) ends a time of refusals. */
static int noteOutcome(store *s, int rc, int wrote) {
    if (rc < 0) s->failures++;
    if (rc < 0 && s->err == STORE_ERR_REPLY) {
        if (!atomic_exchange(&refusing, 1)) logLine("redis refuses commands: %s", s->errstr);
        return rc;
    }
    if (rc == 0 && wrote && atomic_exchange(&refusing, 0)) logLine("redis accepts writes again");
    int down = rc < 0;
    if (atomic_exchange(&outage, down) == down) return rc;
    if (down) {
        logLine("redis unavailable: %s", s->errstr);
    } else {
        atomic_fetch_add(&recoveries, 1);
        logLine("redis reachable again");
    }
    return rc;
}

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Records a failure of the given kind (STORE_ERR_*); returns -1. */
static int fail(store *s, int kind, const char *what, const char *detail) {
    s->err = kind;
    snprintf(s->errstr, sizeof(s->errstr), "%s: %.100s", what,
             detail && *detail ? detail : "unknown error");
    return -1;
}

/* Drops the connection after an error and schedules the next attempt, backing off. */
static void disconnect(store *s) {
    struct storePriv *p = s->priv;
    redisFree(p->ctx);
    p->ctx = NULL;
    p->queued = 0;
    p->retryAtMs = nowMs() + p->backoffMs;
    p->recoveriesSeen = atomic_load(&recoveries);
    p->backoffMs = p->backoffMs * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoffMs * 2;
}

/* Whether an idle connection was closed by Redis (a restart, a timeout, a kill): between
 * commands Redis never sends anything, so a readable socket means EOF or an error. A
 * dead connection is found this way before a command is written to it, so nothing is
 * half-done and reconnecting at once, without backoff, is safe. */
static int closedByPeer(const redisContext *ctx) {
    struct pollfd pfd = {.fd = ctx->fd, .events = POLLIN};
    return poll(&pfd, 1, 0) != 0;
}

/* Makes sure a usable connection exists: connect, timeouts, keepalive, AUTH. */
static int connectIfNeeded(store *s) {
    struct storePriv *p = s->priv;
    if (p->ctx && closedByPeer(p->ctx)) {
        redisFree(p->ctx);
        p->ctx = NULL;
        p->retryAtMs = 0;
    }
    if (p->ctx) return 0;
    long long now = nowMs();
    if (now < p->retryAtMs && atomic_load(&recoveries) == p->recoveriesSeen) {
        long long at = atomic_load(&probeAtMs);
        if (now < at || !atomic_compare_exchange_strong(&probeAtMs, &at, now + PROBE_INTERVAL_MS))
            return fail(s, STORE_ERR_IO, "redis", "unreachable (waiting before reconnecting)");
    }
    if (p->host[0] == '/') {
        p->ctx = redisConnectUnixWithTimeout(p->host, p->timeout);
    } else {
        char addr[RESOLVE_ADDR_MAX];
        const char *why;
        int waitMs = (int)(p->timeout.tv_sec * 1000 + p->timeout.tv_usec / 1000);
        if (resolveHost(p->host, p->connectFailed, waitMs, addr, &why) < 0) {
            fail(s, STORE_ERR_IO, "redis host", why);
            disconnect(s);
            return -1;
        }
        p->ctx = redisConnectWithTimeout(addr, p->port, p->timeout);
    }
    p->connectFailed = 1;  /* until AUTH succeeded: another server may have the address now */
    if (p->ctx == NULL) {
        disconnect(s);
        return fail(s, STORE_ERR_IO, "redis connect", "out of memory");
    }
    if (p->ctx->err) {
        fail(s, STORE_ERR_IO, "redis connect", p->ctx->errstr);
        disconnect(s);
        return -1;
    }
    /* Without a command timeout a hung (not dead) Redis would block the thread forever.
     * TCP keepalive notices a peer that vanished without closing (unix sockets can't). */
    if (redisSetTimeout(p->ctx, p->timeout) != REDIS_OK ||
        (p->host[0] != '/' && redisEnableKeepAlive(p->ctx) != REDIS_OK)) {
        fail(s, STORE_ERR_IO, "redis setup", p->ctx->errstr);
        disconnect(s);
        return -1;
    }
    if (p->password[0]) {
        redisReply *r = p->user[0] ? redisCommand(p->ctx, "AUTH %s %s", p->user, p->password)
                                   : redisCommand(p->ctx, "AUTH %s", p->password);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        if (!ok) fail(s, STORE_ERR_IO, "redis AUTH", r ? r->str : p->ctx->errstr);
        freeReplyObject(r);
        if (!ok) {
            disconnect(s);
            return -1;
        }
    }
    p->backoffMs = BACKOFF_MIN_MS;
    p->connectFailed = 0;
    return 0;
}

/* Runs one command and returns its reply, or NULL on failure (the connection is dropped
 * when the failure was an I/O error, kept when Redis answered with an error). */
static redisReply *command(store *s, const char *fmt, ...) {
    if (connectIfNeeded(s) < 0) return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(s->priv->ctx, fmt, ap);
    va_end(ap);
    if (r == NULL) {
        fail(s, STORE_ERR_IO, "redis", s->priv->ctx->errstr);
        disconnect(s);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        fail(s, STORE_ERR_REPLY, "redis", r->str);
        freeReplyObject(r);
        return NULL;
    }
    s->err = 0;
    s->errstr[0] = '\0';
    return r;
}

store *storeCreate(const char *host, int port, const char *user, const char *password, int timeoutMs) {
    store *s = calloc(1, sizeof(*s));
    if (s == NULL) return NULL;
    struct storePriv *p = s->priv = calloc(1, sizeof(*p));
    if (p == NULL) {
        free(s);
        return NULL;
    }
    p->host = strdup(host);
    p->user = strdup(user ? user : "");
    p->password = strdup(password ? password : "");
    if (p->host == NULL || p->user == NULL || p->password == NULL) {
        storeFree(s);
        return NULL;
    }
    p->port = port;
    p->timeout.tv_sec = timeoutMs / 1000;
    p->timeout.tv_usec = (timeoutMs % 1000) * 1000;
    p->backoffMs = BACKOFF_MIN_MS;
    return s;
}

void storeFree(store *s) {
    if (s == NULL) return;
    struct storePriv *p = s->priv;
    if (p->ctx) redisFree(p->ctx);
    free(p->host);
    free(p->user);
    free(p->password);
    free(p);
    free(s);
}

static int incr(store *s, const char *key, long long *value) {
    redisReply *r = command(s, "INCR %s", key);
    if (r == NULL) return -1;
    int ok = r->type == REDIS_REPLY_INTEGER;
    if (ok) *value = r->integer;
    freeReplyObject(r);
    return ok ? 0 : fail(s, STORE_ERR_REPLY, "redis INCR", "unexpected reply type");
}

int storeIncr(store *s, const char *key, long long *value) {
    return noteOutcome(s, incr(s, key, value), 1);
}

static int get(store *s, const char *key, long long *value) {
    redisReply *r = command(s, "GET %s", key);
    if (r == NULL) return -1;
    int ok = 1;
    if (r->type == REDIS_REPLY_NIL) {
        *value = 0;
    } else if (r->type == REDIS_REPLY_STRING) {
        char *end;
        errno = 0;
        *value = strtoll(r->str, &end, 10);
        ok = end != r->str && *end == '\0' && errno == 0;
    } else {
        ok = 0;
    }
    freeReplyObject(r);
    return ok ? 0 : fail(s, STORE_ERR_REPLY, "redis GET", "value is not an integer");
}

int storeGet(store *s, const char *key, long long *value) {
    return noteOutcome(s, get(s, key, value), 0);
}

static int ping(store *s) {
    redisReply *r = command(s, "PING");
    if (r == NULL) return -1;
    int ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    freeReplyObject(r);
    return ok ? 0 : fail(s, STORE_ERR_REPLY, "redis PING", "unexpected reply");
}

int storePing(store *s) {
    return noteOutcome(s, ping(s), 0);
}

int storeAppend(store *s, const char *fmt, ...) {
    struct storePriv *p = s->priv;
    /* A pipeline under way has a live connection: checking again would cost a poll(). */
    if (p->queued == 0 && connectIfNeeded(s) < 0) return noteOutcome(s, -1, 0);
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAppendCommand(p->ctx, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) return noteOutcome(s, fail(s, STORE_ERR_IO, "redis", "out of memory"), 0);
    p->queued++;
    return 0;
}

int storeAppendArgv(store *s, int argc, const char **argv, const size_t *argvlen) {
    struct storePriv *p = s->priv;
    if (p->queued == 0 && connectIfNeeded(s) < 0) return noteOutcome(s, -1, 0);
    if (redisAppendCommandArgv(p->ctx, argc, argv, argvlen) != REDIS_OK)
        return noteOutcome(s, fail(s, STORE_ERR_IO, "redis", "out of memory"), 0);
    p->queued++;
    return 0;
}

static int execPipeline(store *s, redisReply **replies, int max) {
    struct storePriv *p = s->priv;
    int n = p->queued;
    if (n > max) {
        disconnect(s);
        return fail(s, STORE_ERR_IO, "redis pipeline", "more commands queued than room for replies");
    }
    for (int i = 0; i < n; i++) replies[i] = NULL;
    for (int i = 0; i < n; i++) {
        void *r;
        if (redisGetReply(p->ctx, &r) != REDIS_OK) {
            fail(s, STORE_ERR_IO, "redis", p->ctx->errstr);
            storeFreeReplies(replies, i);
            disconnect(s);
            return -1;
        }
        replies[i] = r;
    }
    p->queued = 0;
    s->err = 0;
    s->errstr[0] = '\0';
    return n;
}

int storeExec(store *s, redisReply **replies, int max) {
    return noteOutcome(s, execPipeline(s, replies, max), 0);
}

void storeFreeReplies(redisReply **replies, int n) {
    for (int i = 0; i < n; i++) {
        freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

static int execWrites(store *s) {
    struct storePriv *p = s->priv;
    int n = p->queued, refused = 0;
    for (int i = 0; i < n; i++) {
        void *r;
        if (redisGetReply(p->ctx, &r) != REDIS_OK) {
            fail(s, STORE_ERR_IO, "redis", p->ctx->errstr);
            disconnect(s);
            return -1;
        }
        redisReply *reply = r;
        if (reply->type == REDIS_REPLY_ERROR && !refused++) fail(s, STORE_ERR_REPLY, "redis", reply->str);
        freeReplyObject(reply);
    }
    p->queued = 0;
    if (refused) return -1;
    s->err = 0;
    s->errstr[0] = '\0';
    return 0;
}

int storeExecWrites(store *s) {
    return noteOutcome(s, execWrites(s), 1);
}
