/* track: queues of views, and the flusher that writes their sums; see track.h. */
#include "track.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <hiredis/hiredis.h>

#include "buf.h"
#include "cidr.h"
#include "clock.h"
#include "keys.h"
#include "referrer.h"
#include "siphash.h"
#include "store.h"
#include "ua.h"

#define FLUSH_INTERVAL_MS 1000
#define QUEUE_MAX_BYTES (256u << 10)  /* per thread: about 2,000 views with referrers */
#define SUMS_MAX 4096                 /* distinct (key, field) sums in one flush */
#define HASHES_PER_PFADD 512
#define REFERRER_MAX 254

/* What is queued per view; followed by refLen bytes of referrer host. */
typedef struct view {
    time_t at;
    uint64_t visitor;          /* SipHash of address and User-Agent under a fixed key */
    const char *path, *browser, *system, *device;  /* literals */
    unsigned char bot, refLen;
} view;

typedef struct queue {
    pthread_mutex_t lock;
    buf views;                 /* packed view records */
} queue;

/* One sum to write: HINCRBY key field n, ZINCRBY key n field, or INCRBY key n. */
typedef enum { SUM_HASH, SUM_ZSET, SUM_COUNTER } sumKind;
typedef struct sum {
    sumKind kind;
    char key[KEY_MAX];
    char field[REFERRER_MAX + 1];
    long long n;
} sum;

/* Visitor hashes bound for one HyperLogLog. */
typedef struct hashes {
    char key[KEY_MAX];
    buf hex;                   /* 16 hex digits per hash, back to back */
    uint64_t last;             /* the last hash added: a visitor's repeated views add one */
} hashes;

/* The key names of the buckets of the view being summed, remade only when its day,
 * hour or minute differs from the previous view's. */
typedef struct bucketKeys {
    char day[CLOCK_DAY_LEN], hour[CLOCK_HOUR_LEN], minute[CLOCK_MINUTE_LEN];
    char viewsDay[KEY_MAX], viewsHour[KEY_MAX], visitorsDay[KEY_MAX], visitorsHour[KEY_MAX];
    char visitorsMinute[KEY_MAX], referrers[KEY_MAX], browsers[KEY_MAX], systems[KEY_MAX];
    char devices[KEY_MAX], bots[KEY_MAX];
} bucketKeys;

struct tracker {
    queue *queues;
    int nqueues;
    metrics *metrics;
    char metricsKey[KEY_MAX + 300];
    buf snapshot;
    cidrList ignore;
    store *store;              /* the flusher's own connection */
    pthread_t flusher;
    int started;
    pthread_mutex_t stopLock;
    pthread_cond_t stopCond;
    int stopping;
    atomic_llong dropped;
    /* Flusher state: only the flusher thread touches these. */
    buf batch;
    sum *sums;
    int nsums;
    hashes hll[16];            /* day, hour and minute keys the views of one flush span */
    int nhll;
    bucketKeys keys;
    char saltDay[2][CLOCK_DAY_LEN];
    unsigned char salt[2][16];
};

/* The fixed key of the first hash: it only turns an address and User-Agent into 64
 * bits in memory; what reaches Redis is keyed again with the day's secret salt. */
static const unsigned char visitorKey[16] = "khalid-tracker-v";

tracker *trackerCreate(const config *cfg, int threads, metrics *m, const char *worker) {
    tracker *t = calloc(1, sizeof(*t));
    if (t == NULL) return NULL;
    t->metrics = m;
    snprintf(t->metricsKey, sizeof(t->metricsKey), KEY_METRICS_WORKER, worker);
    bufInit(&t->snapshot);
    t->queues = calloc((size_t)threads, sizeof(*t->queues));
    t->sums = calloc(SUMS_MAX, sizeof(*t->sums));
    t->store = storeCreate(cfg->redisHost, cfg->redisPort, cfg->redisUser, cfg->redisPassword,
                           cfg->redisTimeoutMs);
    if (t->queues == NULL || t->sums == NULL || t->store == NULL) {
        storeFree(t->store);
        free(t->sums);
        free(t->queues);
        free(t);
        return NULL;
    }
    t->nqueues = threads;
    for (int i = 0; i < threads; i++) {
        pthread_mutex_init(&t->queues[i].lock, NULL);
        bufInit(&t->queues[i].views);
    }
    t->ignore = cfg->ignoreIps;
    pthread_mutex_init(&t->stopLock, NULL);
    pthread_cond_init(&t->stopCond, NULL);
    bufInit(&t->batch);
    for (size_t i = 0; i < sizeof(t->hll) / sizeof(t->hll[0]); i++) bufInit(&t->hll[i].hex);
    return t;
}

void trackerFree(tracker *t) {
    if (t == NULL) return;
    for (int i = 0; i < t->nqueues; i++) {
        pthread_mutex_destroy(&t->queues[i].lock);
        bufFree(&t->queues[i].views);
    }
    for (size_t i = 0; i < sizeof(t->hll) / sizeof(t->hll[0]); i++) bufFree(&t->hll[i].hex);
    pthread_mutex_destroy(&t->stopLock);
    pthread_cond_destroy(&t->stopCond);
    bufFree(&t->batch);
    bufFree(&t->snapshot);
    storeFree(t->store);
    free(t->sums);
    free(t->queues);
    free(t);
}

long long trackerDropped(const tracker *t) {
    return atomic_load(&((tracker *)t)->dropped);
}

void trackerView(tracker *t, int thread, const request *req, const char *path, time_t now) {
    if (t->ignore.n && cidrMatch(&t->ignore, req->clientAddr)) return;
    uaInfo ua;
    uaClassify(req->userAgent, &ua);
    char ref[REFERRER_MAX + 1] = "";
    size_t refLen = ua.bot ? 0 : referrerHost(req->referer, req->host, ref, sizeof(ref));
    view v = {.at = now, .path = path, .browser = ua.browser, .system = ua.system,
              .device = ua.device, .bot = (unsigned char)ua.bot, .refLen = (unsigned char)refLen};
    if (!ua.bot) {
        char who[1024];
        int n = snprintf(who, sizeof(who), "%s\n%s", req->clientAddr, req->userAgent);
        v.visitor = siphash24(visitorKey, who, n < 0 ? 0 : (size_t)n < sizeof(who) ? (size_t)n : sizeof(who) - 1);
    }
    queue *q = &t->queues[thread];
    pthread_mutex_lock(&q->lock);
    int full = q->views.len + sizeof(v) + refLen > QUEUE_MAX_BYTES;
    if (!full) {
        bufAppend(&q->views, (const char *)&v, sizeof(v));
        bufAppend(&q->views, ref, refLen);
    }
    pthread_mutex_unlock(&q->lock);
    if (full) atomic_fetch_add(&t->dropped, 1);
}

/* ---- the flusher ---- */

/* Finds the salt of day in the cache, or fetches it: the first worker to ask creates it
 * (SET NX) and everyone reads the same one. Returns NULL when Redis cannot be reached. */
static const unsigned char *daySalt(tracker *t, const char *day) {
    for (int i = 0; i < 2; i++)
        if (strcmp(t->saltDay[i], day) == 0) return t->salt[i];
    unsigned char fresh[16];
    char hex[33], key[KEY_MAX];
    if (getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh)) return NULL;
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", fresh[i]);
    snprintf(key, sizeof(key), KEY_SALT_DAY, day);
    redisReply *r[2];
    if (storeAppend(t->store, "SET %s %s NX EX %d", key, hex, TTL_SALT_S) < 0 ||
        storeAppend(t->store, "GET %s", key) < 0 || storeExec(t->store, r, 2) != 2)
        return NULL;
    int ok = r[1]->type == REDIS_REPLY_STRING && r[1]->len == 32;
    for (int i = 0; ok && i < 16; i++) ok = sscanf(r[1]->str + 2 * i, "%2hhx", &fresh[i]) == 1;
    storeFreeReplies(r, 2);
    if (!ok) return NULL;
    /* Keep today's and the newest other day: a flush spans at most two days. */
    int slot = strcmp(t->saltDay[0], t->saltDay[1]) < 0 ? 0 : 1;
    memcpy(t->saltDay[slot], day, CLOCK_DAY_LEN);
    memcpy(t->salt[slot], fresh, 16);
    return t->salt[slot];
}

/* Adds n to the sum for (kind, key, field), making it when new. Returns -1 when the
 * table is full (the caller drops that figure). */
static int addSum(tracker *t, sumKind kind, const char *key, const char *field, long long n) {
    for (int i = t->nsums - 1; i >= 0; i--) {
        sum *s = &t->sums[i];
        if (s->kind == kind && strcmp(s->key, key) == 0 && strcmp(s->field, field) == 0) {
            s->n += n;
            return 0;
        }
    }
    if (t->nsums == SUMS_MAX) return -1;
    sum *s = &t->sums[t->nsums++];
    s->kind = kind;
    snprintf(s->key, sizeof(s->key), "%s", key);
    snprintf(s->field, sizeof(s->field), "%s", field);
    s->n = n;
    return 0;
}

/* Adds a visitor hash, as 16 hex digits, to the HyperLogLog key. */
static void addHash(tracker *t, const char *key, uint64_t h) {
    int i = 0;
    while (i < t->nhll && strcmp(t->hll[i].key, key) != 0) i++;
    if (i == t->nhll) {
        if (t->nhll == (int)(sizeof(t->hll) / sizeof(t->hll[0]))) return;
        snprintf(t->hll[i].key, sizeof(t->hll[i].key), "%s", key);
        bufReset(&t->hll[t->nhll++].hex);
    } else if (t->hll[i].last == h) {
        return;
    }
    t->hll[i].last = h;
    char hex[17];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)h);
    bufAppend(&t->hll[i].hex, hex, 16);
}

/* Makes t->keys name the buckets of time at. */
static void bucketsOf(tracker *t, time_t at) {
    bucketKeys *k = &t->keys;
    char minute[CLOCK_MINUTE_LEN];
    clockMinute(at, minute);
    if (strcmp(minute, k->minute) == 0) return;
    memcpy(k->minute, minute, sizeof(minute));
    snprintf(k->visitorsMinute, KEY_MAX, KEY_VISITORS_MINUTE, minute);
    char hour[CLOCK_HOUR_LEN];
    clockHour(at, hour);
    if (strcmp(hour, k->hour) == 0) return;
    memcpy(k->hour, hour, sizeof(hour));
    snprintf(k->viewsHour, KEY_MAX, KEY_VIEWS_HOUR, hour);
    snprintf(k->visitorsHour, KEY_MAX, KEY_VISITORS_HOUR, hour);
    char day[CLOCK_DAY_LEN];
    clockDay(at, day);
    if (strcmp(day, k->day) == 0) return;
    memcpy(k->day, day, sizeof(day));
    snprintf(k->viewsDay, KEY_MAX, KEY_VIEWS_DAY, day);
    snprintf(k->visitorsDay, KEY_MAX, KEY_VISITORS_DAY, day);
    snprintf(k->referrers, KEY_MAX, KEY_REFERRERS_DAY, day);
    snprintf(k->browsers, KEY_MAX, KEY_BROWSERS_DAY, day);
    snprintf(k->systems, KEY_MAX, KEY_SYSTEMS_DAY, day);
    snprintf(k->devices, KEY_MAX, KEY_DEVICES_DAY, day);
    snprintf(k->bots, KEY_MAX, KEY_BOTS_DAY, day);
}

/* Sums one view into the flusher's tables. Returns -1 when its day's salt is not to be
 * had (Redis is down) or the table is full: the view is then dropped. */
static int addView(tracker *t, const view *v, const char *ref) {
    bucketsOf(t, v->at);
    const bucketKeys *k = &t->keys;
    if (v->bot) return addSum(t, SUM_COUNTER, k->bots, "", 1);
    const unsigned char *salt = daySalt(t, k->day);
    if (salt == NULL) return -1;
    if (addSum(t, SUM_HASH, KEY_VIEWS_TOTAL, v->path, 1) < 0 ||
        addSum(t, SUM_HASH, k->viewsDay, v->path, 1) < 0 ||
        addSum(t, SUM_HASH, k->viewsHour, v->path, 1) < 0)
        return -1;
    /* The names below are extras: a full table loses them, not the view. */
    if (v->refLen) addSum(t, SUM_ZSET, k->referrers, ref, 1);
    addSum(t, SUM_ZSET, k->browsers, v->browser, 1);
    addSum(t, SUM_ZSET, k->systems, v->system, 1);
    addSum(t, SUM_ZSET, k->devices, v->device, 1);
    uint64_t h = siphash24(salt, &v->visitor, sizeof(v->visitor));
    addHash(t, k->visitorsDay, h);
    addHash(t, k->visitorsHour, h);
    addHash(t, k->visitorsMinute, h);
    return 0;
}

/* The expiry of a key written by the flusher, from its name. */
static int ttlOf(const char *key) {
    if (strncmp(key, "visitors:minute:", 16) == 0) return TTL_MINUTE_S;
    if (strncmp(key, "views:hour:", 11) == 0 || strncmp(key, "visitors:hour:", 14) == 0) return TTL_HOUR_S;
    return strcmp(key, KEY_VIEWS_TOTAL) == 0 ? 0 : TTL_DAY_S;
}

/* Queues the commands for one sum: the write, the cap of a day's names, the expiry. */
static int appendSum(store *s, const sum *m) {
    char n[24];
    snprintf(n, sizeof(n), "%lld", m->n);
    int rc = m->kind == SUM_HASH ? storeAppend(s, "HINCRBY %s %s %s", m->key, m->field, n)
           : m->kind == SUM_ZSET ? storeAppend(s, "ZINCRBY %s %s %s", m->key, n, m->field)
                                 : storeAppend(s, "INCRBY %s %s", m->key, n);
    if (rc == 0 && m->kind == SUM_ZSET)
        rc = storeAppend(s, "ZREMRANGEBYRANK %s 0 %d", m->key, -(TOP_NAMES_MAX + 1));
    int ttl = ttlOf(m->key);
    if (rc == 0 && ttl) rc = storeAppend(s, "EXPIRE %s %d", m->key, ttl);
    return rc;
}

/* Queues PFADD commands for one HyperLogLog, in chunks, and its expiry. */
static int appendHashes(store *s, const hashes *h) {
    const char *argv[HASHES_PER_PFADD + 2];
    size_t len[HASHES_PER_PFADD + 2];
    size_t total = h->hex.len / 16;
    for (size_t done = 0; done < total;) {
        int argc = 0;
        argv[argc] = "PFADD", len[argc++] = 5;
        argv[argc] = h->key, len[argc++] = strlen(h->key);
        for (; done < total && argc < HASHES_PER_PFADD + 2; done++)
            argv[argc] = h->hex.data + done * 16, len[argc++] = 16;
        if (storeAppendArgv(s, argc, argv, len) < 0) return -1;
    }
    return storeAppend(s, "EXPIRE %s %d", h->key, ttlOf(h->key));
}

/* Writes the sums and the metrics snapshot in one round trip. Returns 0 when every
 * command succeeded. */
static int writeSums(tracker *t) {
    bufReset(&t->snapshot);
    metricsSnapshot(t->metrics, atomic_load(&t->dropped), &t->snapshot);
    int rc = t->snapshot.oom ? -1
           : storeAppend(t->store, "SET %s %b EX %d", t->metricsKey, t->snapshot.data, t->snapshot.len,
                         TTL_METRICS_S);
    for (int i = 0; rc == 0 && i < t->nsums; i++) rc = appendSum(t->store, &t->sums[i]);
    for (int i = 0; rc == 0 && i < t->nhll; i++) rc = appendHashes(t->store, &t->hll[i]);
    /* A failure is logged by the store, once per outage, not once a second here. */
    return storeExecWrites(t->store) < 0 ? -1 : rc;
}

/* Takes every queue's views and writes their sums. */
static void flush(tracker *t) {
    t->nsums = 0;
    t->nhll = 0;
    long long views = 0, failed = 0;
    for (int q = 0; q < t->nqueues; q++) {
        queue *qu = &t->queues[q];
        pthread_mutex_lock(&qu->lock);
        buf taken = qu->views;
        qu->views = t->batch;
        pthread_mutex_unlock(&qu->lock);
        t->batch = taken;
        for (size_t off = 0; off + sizeof(view) <= taken.len;) {
            view v;
            memcpy(&v, taken.data + off, sizeof(v));
            char ref[REFERRER_MAX + 1];
            memcpy(ref, taken.data + off + sizeof(v), v.refLen);
            ref[v.refLen] = '\0';
            off += sizeof(v) + v.refLen;
            views++;
            failed += addView(t, &v, ref) < 0;
        }
        bufReset(&t->batch);
    }
    if (writeSums(t) < 0) failed = views;
    if (failed) atomic_fetch_add(&t->dropped, failed);
}

static void *flusherMain(void *arg) {
    tracker *t = arg;
    pthread_mutex_lock(&t->stopLock);
    while (!t->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += FLUSH_INTERVAL_MS / 1000;
        pthread_cond_timedwait(&t->stopCond, &t->stopLock, &until);
        pthread_mutex_unlock(&t->stopLock);
        flush(t);
        pthread_mutex_lock(&t->stopLock);
    }
    pthread_mutex_unlock(&t->stopLock);
    return NULL;
}

int trackerStart(tracker *t, char *err, size_t errlen) {
    int e = pthread_create(&t->flusher, NULL, flusherMain, t);
    if (e != 0) {
        snprintf(err, errlen, "cannot start the tracking thread: %s", strerror(e));
        return -1;
    }
    t->started = 1;
    return 0;
}

void trackerStop(tracker *t) {
    if (!t->started) return;
    pthread_mutex_lock(&t->stopLock);
    t->stopping = 1;
    pthread_cond_signal(&t->stopCond);
    pthread_mutex_unlock(&t->stopLock);
    pthread_join(t->flusher, NULL);
    t->started = 0;
}
