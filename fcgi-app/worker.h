/* worker: the FastCGI accept threads. Each thread owns its libfcgi request, its Redis
 * connection, its random state and its buffers, and runs its own FCGX_Accept_r loop:
 * libfcgi's accept is safe to call from several threads on Linux, so there is no accept
 * mutex (which would let one slow client stall every thread). The view is shared. */
#ifndef KT_WORKER_H
#define KT_WORKER_H

#include <stddef.h>

#include "config.h"
#include "metrics.h"
#include "track.h"
#include "view.h"

typedef struct workerPool workerPool;

/* Starts cfg->threads threads answering on the listening socket, fd 0, from v, recording
 * views in t when cfg->tracking (thread i uses queue i) and counting into m (block i).
 * v, t, m and cfg must outlive the pool. Call FCGX_Init() first, with the stop signals
 * blocked. Returns NULL with the reason in err when a thread cannot start (the others
 * are stopped). */
workerPool *workerPoolStart(const view *v, tracker *t, metrics *m, const config *cfg, char *err,
                            size_t errlen);

/* Stops accepting, lets the requests in flight finish, and wakes the threads waiting on
 * kept-alive connections, which close them. Waits up to graceMs; returns how many threads
 * are still running. Call once. */
int workerPoolStop(workerPool *p, int graceMs);

/* Joins the threads and frees everything; only after workerPoolStop() returned 0. */
void workerPoolFree(workerPool *p);

#endif
