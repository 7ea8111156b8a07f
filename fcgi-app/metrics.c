/* metrics: per-thread counters, snapshots and their merge; see metrics.h. */
#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The statuses the worker answers; anything else is counted as "other". */
static const int codes[] = {200, 400, 404, 405, 500, 503};
#define NCODES ((int)(sizeof(codes) / sizeof(codes[0])))

/* Upper bounds of the duration histogram, in seconds: the worker answers in well under a
 * millisecond unless Redis is slow, and its Redis timeout is 0.5 s by default. */
static const char *const bucketNames[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                          "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5"};
static const double bucketBounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                      0.5, 1, 2.5, 5};
#define NBUCKETS ((int)(sizeof(bucketBounds) / sizeof(bucketBounds[0])))

/* Every family, in the order /metrics prints them. */
static const struct {
    const char *name, *type, *help;
} families[] = {
    {"khalid_http_requests_total", "counter", "Requests answered by the worker, by route and status."},
    {"khalid_http_request_duration_seconds", "histogram", "The worker's own time per request, by route."},
    {"khalid_redis_errors_total", "counter", "Redis calls of the worker that failed."},
    {"khalid_threads", "gauge", "Request threads of the worker."},
    {"khalid_threads_busy", "gauge", "Request threads answering a request now."},
    {"khalid_worker_start_time_seconds", "gauge", "When the worker started, in seconds since the epoch."},
    {"khalid_tracking_dropped_total", "counter", "Page views the worker could not record (Redis down, queue full)."},
    {"khalid_visits", "gauge", "The all-time visit counter (/count)."},
    {"khalid_page_views_total", "counter", "Page views recorded, by path, all time."},
    {"khalid_build_info", "gauge", "The worker's version; always 1."},
};
#define NFAMILIES ((int)(sizeof(families) / sizeof(families[0])))

/* Per (route, code) requests, then per route the histogram's buckets, count and sum in
 * nanoseconds, then the Redis errors. Only its own thread writes a block, with plain
 * relaxed stores; the snapshot reads it concurrently, hence atomics. */
struct metricsThread {
    const struct metrics *m;
    atomic_ullong *counts;
    atomic_int busy;
};

struct metrics {
    int threads, nroutes;
    const char *const *routes;
    char worker[300];             /* the label value, escaped */
    time_t started;
    metricsThread *blocks;
    size_t perThread;             /* counters in each block */
};

#define REQUESTS(r, c) ((size_t)(r) * (NCODES + 1) + (size_t)(c))
#define HISTO(m, r, b) ((size_t)((m)->nroutes + 1) * (NCODES + 1) + (size_t)(r) * (NBUCKETS + 2) + (size_t)(b))
#define REDIS_ERRORS(m) ((m)->perThread - 1)

/* Adds n to a counter that only the calling thread writes. */
static void bump(atomic_ullong *c, unsigned long long n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* Copies s into out as a label value: backslash, quote and newline escaped, any other
 * control character shown as '?' (metricsMerge() drops a line holding one). */
static void labelValue(char *out, size_t n, const char *s) {
    size_t o = 0;
    for (; *s && o + 3 < n; s++) {
        if (*s == '\\' || *s == '"') out[o++] = '\\';
        if (*s == '\n') { out[o++] = '\\'; out[o++] = 'n'; continue; }
        if ((unsigned char)*s < 0x20 || *s == 0x7f) { out[o++] = '?'; continue; }
        out[o++] = *s;
    }
    out[o] = '\0';
}

metrics *metricsCreate(int threads, const char *const *routes, int nroutes, const char *worker) {
    metrics *m = calloc(1, sizeof(*m));
    if (m == NULL) return NULL;
    m->threads = threads;
    m->routes = routes;
    m->nroutes = nroutes;
    m->started = time(NULL);
    labelValue(m->worker, sizeof(m->worker), worker);
    m->perThread = (size_t)(nroutes + 1) * (NCODES + 1) + (size_t)(nroutes + 1) * (NBUCKETS + 2) + 1;
    m->blocks = calloc((size_t)threads, sizeof(*m->blocks));
    if (m->blocks == NULL) {
        free(m);
        return NULL;
    }
    for (int i = 0; i < threads; i++) {
        /* One allocation per thread keeps threads' counters off each other's cache lines. */
        m->blocks[i].m = m;
        if ((m->blocks[i].counts = calloc(m->perThread, sizeof(atomic_ullong))) == NULL) {
            metricsFree(m);
            return NULL;
        }
    }
    return m;
}

void metricsFree(metrics *m) {
    if (m == NULL) return;
    for (int i = 0; i < m->threads; i++) free(m->blocks[i].counts);
    free(m->blocks);
    free(m);
}

metricsThread *metricsFor(metrics *m, int thread) {
    return &m->blocks[thread];
}

void metricsBusy(metricsThread *t, int busy) {
    atomic_store_explicit(&t->busy, busy, memory_order_relaxed);
}

void metricsRequest(metricsThread *t, int route, int status, double seconds) {
    const metrics *m = t->m;
    int r = route >= 0 && route < m->nroutes ? route : m->nroutes;
    int c = 0;
    while (c < NCODES && codes[c] != status) c++;
    bump(&t->counts[REQUESTS(r, c)], 1);
    int b = 0;
    while (b < NBUCKETS && seconds > bucketBounds[b]) b++;
    bump(&t->counts[HISTO(m, r, b)], 1);
    bump(&t->counts[HISTO(m, r, NBUCKETS + 1)], (unsigned long long)(seconds * 1e9));
}

void metricsRedisErrors(metricsThread *t, unsigned long long n) {
    bump(&t->counts[REDIS_ERRORS(t->m)], n);
}

/* The sum over all threads of counter i. */
static unsigned long long total(const metrics *m, size_t i) {
    unsigned long long sum = 0;
    for (int t = 0; t < m->threads; t++) sum += atomic_load_explicit(&m->blocks[t].counts[i], memory_order_relaxed);
    return sum;
}

/* Starts a family's block in a snapshot. */
static void block(buf *out, int family) {
    if (out->len) bufAppendStr(out, "\n");
    bufAppendStr(out, families[family].name);
    bufAppendStr(out, "\n");
}

/* Appends name{worker="…"<labels>} value. labels starts with ',' or is "". */
static void sample(buf *out, const metrics *m, const char *name, const char *labels, unsigned long long v) {
    bufAppendStr(out, name);
    bufAppendStr(out, "{worker=\"");
    bufAppendStr(out, m->worker);
    bufAppendStr(out, "\"");
    bufAppendStr(out, labels);
    bufAppendStr(out, "} ");
    bufAppendUint(out, v);
    bufAppendStr(out, "\n");
}

static const char *routeName(const metrics *m, int r) {
    return r < m->nroutes ? m->routes[r] : "other";
}

void metricsSnapshot(metrics *m, long long dropped, buf *out) {
    char labels[400];
    block(out, 0);
    for (int r = 0; r <= m->nroutes; r++)
        for (int c = 0; c <= NCODES; c++) {
            unsigned long long v = total(m, REQUESTS(r, c));
            if (v == 0) continue;
            char code[16];
            if (c < NCODES) snprintf(code, sizeof(code), "%d", codes[c]);
            else snprintf(code, sizeof(code), "other");
            snprintf(labels, sizeof(labels), ",route=\"%s\",code=\"%s\"", routeName(m, r), code);
            sample(out, m, "khalid_http_requests_total", labels, v);
        }
    block(out, 1);
    for (int r = 0; r <= m->nroutes; r++) {
        unsigned long long count = 0;
        for (int b = 0; b <= NBUCKETS; b++) count += total(m, HISTO(m, r, b));
        /* A route not asked for yet would show only zeros. */
        if (count == 0) continue;
        unsigned long long cumulative = 0;
        for (int b = 0; b <= NBUCKETS; b++) {
            cumulative += total(m, HISTO(m, r, b));
            snprintf(labels, sizeof(labels), ",route=\"%s\",le=\"%s\"", routeName(m, r),
                     b < NBUCKETS ? bucketNames[b] : "+Inf");
            sample(out, m, "khalid_http_request_duration_seconds_bucket", labels, cumulative);
        }
        snprintf(labels, sizeof(labels), ",route=\"%s\"", routeName(m, r));
        unsigned long long ns = total(m, HISTO(m, r, NBUCKETS + 1));
        /* The sum in seconds, with nanosecond digits, without floating-point printing. */
        bufAppendStr(out, "khalid_http_request_duration_seconds_sum{worker=\"");
        bufAppendStr(out, m->worker);
        bufAppendStr(out, "\"");
        bufAppendStr(out, labels);
        bufAppendStr(out, "} ");
        char secs[48];
        snprintf(secs, sizeof(secs), "%llu.%09llu\n", ns / 1000000000ull, ns % 1000000000ull);
        bufAppendStr(out, secs);
        sample(out, m, "khalid_http_request_duration_seconds_count", labels, cumulative);
    }
    block(out, 2);
    sample(out, m, "khalid_redis_errors_total", "", total(m, REDIS_ERRORS(m)));
    block(out, 3);
    sample(out, m, "khalid_threads", "", (unsigned long long)m->threads);
    unsigned long long busy = 0;
    for (int t = 0; t < m->threads; t++) busy += atomic_load_explicit(&m->blocks[t].busy, memory_order_relaxed) != 0;
    block(out, 4);
    sample(out, m, "khalid_threads_busy", "", busy);
    block(out, 5);
    sample(out, m, "khalid_worker_start_time_seconds", "", (unsigned long long)m->started);
    block(out, 6);
    sample(out, m, "khalid_tracking_dropped_total", "", (unsigned long long)(dropped > 0 ? dropped : 0));
}

/* Whether line is a sample of family: the name, then '{' or ' ' (a histogram's samples
 * add _bucket, _sum or _count), and only printable characters. */
static int sampleOf(const char *line, size_t len, const char *family) {
    size_t n = strlen(family);
    if (len <= n || memcmp(line, family, n) != 0) return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) return 0;
    const char *rest = line + n;
    static const char *const suffixes[] = {"", "_bucket", "_sum", "_count"};
    for (int i = 0; i < 4; i++) {
        size_t k = strlen(suffixes[i]);
        if (len > n + k && memcmp(rest, suffixes[i], k) == 0 && (rest[k] == '{' || rest[k] == ' ')) return 1;
    }
    return 0;
}

/* Appends the sample lines of family's block in snapshot s. */
static void familyLines(const char *s, const char *family, buf *out) {
    size_t n = strlen(family);
    for (const char *p = s; *p;) {
        /* A block: its name line, then sample lines up to an empty line or the end. */
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        int mine = len == n && memcmp(p, family, n) == 0;
        p += len + (eol != NULL);
        while (*p && *p != '\n') {
            eol = strchr(p, '\n');
            len = eol ? (size_t)(eol - p) : strlen(p);
            if (mine && sampleOf(p, len, family)) {
                bufAppend(out, p, len);
                bufAppendStr(out, "\n");
            }
            p += len + (eol != NULL);
        }
        while (*p == '\n') p++;
    }
}

void metricsMerge(const char *const *snapshots, size_t n, buf *out) {
    for (int f = 0; f < NFAMILIES; f++) {
        size_t head = out->len;
        bufAppendStr(out, "# HELP ");
        bufAppendStr(out, families[f].name);
        bufAppendStr(out, " ");
        bufAppendStr(out, families[f].help);
        bufAppendStr(out, "\n# TYPE ");
        bufAppendStr(out, families[f].name);
        bufAppendStr(out, " ");
        bufAppendStr(out, families[f].type);
        bufAppendStr(out, "\n");
        size_t samples = out->len;
        for (size_t i = 0; i < n; i++)
            if (snapshots[i]) familyLines(snapshots[i], families[f].name, out);
        /* A family without samples is left out. */
        if (out->len == samples && !out->oom) out->len = head;
    }
}
