/* metrics: what each worker did, for Prometheus, from every worker whichever one answers
 * the scrape.
 *
 * Each request thread counts into a block of its own (only that thread writes it: no lock
 * and no shared atomic on the request path). Once a second the worker's background thread
 * sums the blocks into a snapshot, which it stores in Redis under a per-worker key that
 * expires within seconds (a worker that died drops out). /metrics reads every worker's
 * snapshot and prints them, grouped by metric, in the Prometheus text format 0.0.4.
 *
 * A snapshot is text: for each metric, its name on a line, its sample lines (labels
 * included), then an empty line. metricsMerge() reads them back; it is pure, since a
 * snapshot comes from outside (Redis), so it is fuzzed. */
#ifndef KT_METRICS_H
#define KT_METRICS_H

#include <stddef.h>

#include "buf.h"

typedef struct metrics metrics;
typedef struct metricsThread metricsThread;

/* Makes the counters of a worker with `threads` request threads; routes are the route
 * table's paths (nroutes of them: counted by index; -1 is "other"), worker its
 * "host/pid" label. The strings must outlive the metrics. NULL when out of memory. */
metrics *metricsCreate(int threads, const char *const *routes, int nroutes, const char *worker);
void metricsFree(metrics *m);

/* The block request thread `thread` counts into. */
metricsThread *metricsFor(metrics *m, int thread);

/* Marks the thread busy (between accept and the end of its answer) or idle. */
void metricsBusy(metricsThread *t, int busy);
/* Counts one request answered: route index (-1: other), status, and the seconds the
 * worker spent on it. */
void metricsRequest(metricsThread *t, int route, int status, double seconds);
/* Counts Redis calls that failed. */
void metricsRedisErrors(metricsThread *t, unsigned long long n);

/* Appends this worker's snapshot (all threads summed) to out; dropped is the tracker's
 * count of views it could not record. Safe while the threads run. */
void metricsSnapshot(metrics *m, long long dropped, buf *out);

/* Appends the Prometheus text of n snapshots (any may be NULL or malformed: malformed
 * lines are skipped), each metric once with its HELP and TYPE and the samples of every
 * snapshot, in the order of the families this worker knows. */
void metricsMerge(const char *const *snapshots, size_t n, buf *out);

#endif
