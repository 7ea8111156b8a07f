/* tracksums: what the tracker thread writes once a second. It sums the views it took
 * from the queues (views per path, day and hour; visitor hashes per day, hour and minute;
 * referrers, browsers, systems, devices and bots per day) and writes the sums, with the
 * worker's metrics snapshot, in one pipelined round trip. Only the tracker thread uses a
 * trackSums; see track.h for the design. */
#ifndef KT_TRACKSUMS_H
#define KT_TRACKSUMS_H

#include <stdint.h>
#include <time.h>

#include "metrics.h"
#include "store.h"

#define REFERRER_MAX 254

/* One queued page view; in a queue it is followed by refLen bytes of referrer host. */
typedef struct pageView {
    time_t at;
    uint64_t visitor;          /* SipHash of address and User-Agent under a fixed key */
    const char *path, *browser, *system, *device;  /* literals */
    unsigned char bot, refLen;
} pageView;

typedef struct trackSums trackSums;

/* Makes empty sums written through s (not owned) with m's snapshot under this worker's
 * metrics key (worker: "host/pid"). NULL when out of memory. */
trackSums *trackSumsCreate(store *s, metrics *m, const char *worker);
void trackSumsFree(trackSums *ts);

/* Adds one view (ref: its referrer host, or ""). Returns -1 when the view must be
 * dropped: its day's salt is not to be had (Redis is down) or the table is full. */
int trackSumsAdd(trackSums *ts, const pageView *v, const char *ref);

/* Writes the sums and the metrics snapshot (with dropped, the views dropped so far) in
 * one round trip, then empties the sums. Returns -1 when anything was not written. */
int trackSumsWrite(trackSums *ts, long long dropped);

#endif
