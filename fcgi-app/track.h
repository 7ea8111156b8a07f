/* track: page views, unique visitors, referrers, browsers and bots, recorded without a
 * Redis round trip of their own.
 *
 * A request thread only classifies the view and appends it to its own queue (a mutex
 * that only the flusher ever contends, once a second); the tracker's flusher thread
 * takes every queue once a second, sums the views, and writes the sums, with the
 * worker's metrics snapshot, in one pipelined round trip on its own Redis connection. A crash loses at most the last second of views
 * (never `visits`, which /count increments itself). When Redis is down, or a queue is
 * full, views are dropped and counted.
 *
 * Privacy: the visitor is SipHash(day salt, SipHash(fixed key, address + User-Agent)).
 * The salt is random per UTC day, shared by all workers through Redis (SET NX, expiring
 * after 25 hours, under a key apart from the counts), and kept only in memory here. No
 * address or User-Agent is ever written to Redis. */
#ifndef KT_TRACK_H
#define KT_TRACK_H

#include <time.h>

#include "config.h"
#include "metrics.h"
#include "request.h"

typedef struct tracker tracker;

/* Makes a tracker with one queue per request thread. Once a second its thread also
 * stores m's snapshot under this worker's metrics key (worker: "host/pid"); m must
 * outlive the tracker. NULL when out of memory. */
tracker *trackerCreate(const config *cfg, int threads, metrics *m, const char *worker);
/* Starts the flusher thread. Returns -1 with err set when it cannot. */
int trackerStart(tracker *t, char *err, size_t errlen);
/* Stops the flusher after one last flush of every queue. Safe when never started. */
void trackerStop(tracker *t);
void trackerFree(tracker *t);

/* Records one view of path (a literal from the route table) made by req at now, on
 * request thread `thread`'s queue. Ignored addresses are skipped, bots only counted. */
void trackerView(tracker *t, int thread, const request *req, const char *path, time_t now);

/* Views dropped by this worker since it started (Redis down, queue full). */
long long trackerDropped(const tracker *t);

#endif
