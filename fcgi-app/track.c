/* track: the queues of views and the thread that empties them; see track.h. */
#include "track.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cidr.h"
#include "referrer.h"
#include "siphash.h"
#include "store.h"
#include "tracksums.h"
#include "ua.h"

#define FLUSH_INTERVAL_MS 1000
#define QUEUE_MAX_BYTES (256u << 10)  /* per thread: about 2,000 views with referrers */

typedef struct queue {
    pthread_mutex_t lock;
    buf views;                 /* packed view records */
} queue;

struct tracker {
    queue *queues;
    int nqueues;
    cidrList ignore;
    store *store;              /* the flusher's own connection */
    pthread_t flusher;
    int started;
    pthread_mutex_t stopLock;
    pthread_cond_t stopCond;
    int stopping;
    atomic_llong dropped;
    /* Only the flusher thread touches these. */
    buf batch;
    trackSums *sums;
};

/* The fixed key of the first hash: it only turns an address and User-Agent into 64
 * bits in memory; what reaches Redis is keyed again with the day's secret salt. */
static const unsigned char visitorKey[16] = "khalid-tracker-v";

tracker *trackerCreate(const config *cfg, int threads, metrics *m, const char *worker) {
    tracker *t = calloc(1, sizeof(*t));
    if (t == NULL) return NULL;
    t->queues = calloc((size_t)threads, sizeof(*t->queues));
    t->store = storeCreate(cfg->redisHost, cfg->redisPort, cfg->redisUser, cfg->redisPassword,
                           cfg->redisTimeoutMs);
    t->sums = t->store ? trackSumsCreate(t->store, m, worker) : NULL;
    if (t->queues == NULL || t->sums == NULL) {
        storeFree(t->store);
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
    return t;
}

void trackerFree(tracker *t) {
    if (t == NULL) return;
    for (int i = 0; i < t->nqueues; i++) {
        pthread_mutex_destroy(&t->queues[i].lock);
        bufFree(&t->queues[i].views);
    }
    pthread_mutex_destroy(&t->stopLock);
    pthread_cond_destroy(&t->stopCond);
    bufFree(&t->batch);
    trackSumsFree(t->sums);
    storeFree(t->store);
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
    pageView v = {.at = now, .path = path, .browser = ua.browser, .system = ua.system,
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

/* Takes every queue's views and writes their sums. */
static void flush(tracker *t) {
    long long views = 0, failed = 0;
    for (int q = 0; q < t->nqueues; q++) {
        queue *qu = &t->queues[q];
        pthread_mutex_lock(&qu->lock);
        buf taken = qu->views;
        qu->views = t->batch;
        pthread_mutex_unlock(&qu->lock);
        t->batch = taken;
        for (size_t off = 0; off + sizeof(pageView) <= taken.len;) {
            pageView v;
            memcpy(&v, taken.data + off, sizeof(v));
            char ref[REFERRER_MAX + 1];
            memcpy(ref, taken.data + off + sizeof(v), v.refLen);
            ref[v.refLen] = '\0';
            off += sizeof(v) + v.refLen;
            views++;
            failed += trackSumsAdd(t->sums, &v, ref) < 0;
        }
        bufReset(&t->batch);
    }
    if (trackSumsWrite(t->sums, atomic_load(&t->dropped)) < 0) failed = views;
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
