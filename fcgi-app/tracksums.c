/* tracksums: the tracker thread's sums and their writing; see tracksums.h. */
#include "tracksums.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <hiredis/hiredis.h>

#include "buf.h"
#include "clock.h"
#include "keys.h"
#include "siphash.h"

#define SUMS_MAX 4096                 /* distinct (key, field) sums in one flush */
#define SLOTS (2 * SUMS_MAX)          /* the sums' hash index: a power of two, half empty */
#define HASHES_PER_PFADD 512

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

struct trackSums {
    store *store;
    metrics *metrics;
    char metricsKey[KEY_MAX + 300];
    buf snapshot;
    sum *sums;
    int nsums;
    int slot[SLOTS];                  /* 1 + the index of a sum, or 0: open addressing */
    hashes hll[16];            /* day, hour and minute keys the views of one flush span */
    int nhll;
    bucketKeys keys;
    char saltDay[2][CLOCK_DAY_LEN];
    unsigned char salt[2][16];
};

trackSums *trackSumsCreate(store *s, metrics *m, const char *worker) {
    trackSums *t = calloc(1, sizeof(*t));
    if (t == NULL || (t->sums = calloc(SUMS_MAX, sizeof(*t->sums))) == NULL) {
        free(t);
        return NULL;
    }
    t->store = s;
    t->metrics = m;
    snprintf(t->metricsKey, sizeof(t->metricsKey), KEY_METRICS_WORKER, worker);
    bufInit(&t->snapshot);
    for (size_t i = 0; i < sizeof(t->hll) / sizeof(t->hll[0]); i++) bufInit(&t->hll[i].hex);
    return t;
}

void trackSumsFree(trackSums *t) {
    if (t == NULL) return;
    for (size_t i = 0; i < sizeof(t->hll) / sizeof(t->hll[0]); i++) bufFree(&t->hll[i].hex);
    bufFree(&t->snapshot);
    free(t->sums);
    free(t);
}

/* Finds the salt of day in the cache, or fetches it: the first worker to ask creates it
 * (SET NX) and everyone reads the same one. Returns NULL when Redis cannot be reached. */
static const unsigned char *daySalt(trackSums *t, const char *day) {
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
/* FNV-1a over the sum's identity: a flood of distinct referrers must not make each view
 * compare against every sum so far. */
static unsigned slotOf(sumKind kind, const char *key, const char *field) {
    unsigned h = 2166136261u ^ (unsigned)kind;
    for (const char *c = key; *c; c++) h = (h ^ (unsigned char)*c) * 16777619u;
    h = (h ^ 0xff) * 16777619u;
    for (const char *c = field; *c; c++) h = (h ^ (unsigned char)*c) * 16777619u;
    return h & (SLOTS - 1);
}

static int addSum(trackSums *t, sumKind kind, const char *key, const char *field, long long n) {
    unsigned i = slotOf(kind, key, field);
    for (; t->slot[i]; i = (i + 1) & (SLOTS - 1)) {
        sum *s = &t->sums[t->slot[i] - 1];
        if (s->kind == kind && strcmp(s->key, key) == 0 && strcmp(s->field, field) == 0) {
            s->n += n;
            return 0;
        }
    }
    if (t->nsums == SUMS_MAX) return -1;
    t->slot[i] = t->nsums + 1;
    sum *s = &t->sums[t->nsums++];
    s->kind = kind;
    snprintf(s->key, sizeof(s->key), "%s", key);
    snprintf(s->field, sizeof(s->field), "%s", field);
    s->n = n;
    return 0;
}

/* Adds a visitor hash, as 16 hex digits, to the HyperLogLog key. */
static void addHash(trackSums *t, const char *key, uint64_t h) {
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
static void bucketsOf(trackSums *t, time_t at) {
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

int trackSumsAdd(trackSums *t, const pageView *v, const char *ref) {
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

int trackSumsWrite(trackSums *t, long long dropped) {
    bufReset(&t->snapshot);
    metricsSnapshot(t->metrics, dropped, &t->snapshot);
    int rc = t->snapshot.oom ? -1
           : storeAppend(t->store, "SET %s %b EX %d", t->metricsKey, t->snapshot.data, t->snapshot.len,
                         TTL_METRICS_S);
    for (int i = 0; rc == 0 && i < t->nsums; i++) rc = appendSum(t->store, &t->sums[i]);
    for (int i = 0; rc == 0 && i < t->nhll; i++) rc = appendHashes(t->store, &t->hll[i]);
    t->nsums = 0;
    memset(t->slot, 0, sizeof(t->slot));
    t->nhll = 0;
    /* A failure is logged by the store, once per outage, not once a second here. */
    return storeExecWrites(t->store) < 0 ? -1 : rc;
}
