/* worker: accept threads and their shutdown; see worker.h. */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "log.h"
#include "request.h"
#include "response.h"
#include "routes.h"
#include "store.h"

#define THREAD_STACK_BYTES (512u << 10)

typedef struct worker {
    workerPool *pool;
    int index;
    pthread_t tid;
    FCGX_Request fcgi;
    request req;
    response res;
    buf out;
    store *store;             /* this thread's Redis connection */
    metricsThread *metrics;   /* this thread's counters */
    unsigned long long rng;   /* random state for picking quotes; never 0 */
    atomic_int done;          /* the thread has left its loop */
} worker;

struct workerPool {
    const view *view;
    tracker *tracker;         /* NULL when tracking is off */
    metrics *metrics;
    const config *config;
    worker *workers;
    int started;
    atomic_int stopping;
    int stopPipe[2];          /* readable (write end closed) once stopping; never read */
};

static const char *fcgiParam(const char *name, void *envp) {
    return FCGX_GetParam(name, envp);
}

/* Answers the accepted request with one write: the response is fully built first, so a
 * failure can still change the status, and the client never sees half a page. */
static void serve(worker *w) {
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    unsigned long long failures = w->store->failures;
    requestParse(&w->req, fcgiParam, w->fcgi.envp);
    pageCtx c = {.view = w->pool->view, .config = w->pool->config, .tracker = w->pool->tracker,
                 .thread = w->index, .store = w->store, .rng = &w->rng, .req = &w->req, .res = &w->res};
    int routeIndex = routeDispatch(&c);
    const char *data;
    size_t len;
    responseWire(&w->res, w->req.method != METHOD_HEAD, &w->out, &data, &len);
    /* A client that went away makes this fail; nothing is left to tell it. */
    FCGX_PutStr(data, (int)len, w->fcgi.out);
    clock_gettime(CLOCK_MONOTONIC, &end);
    metricsRequest(w->metrics, routeIndex, w->res.status,
                   (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9);
    if (w->store->failures != failures) metricsRedisErrors(w->metrics, w->store->failures - failures);
}

/* Before each request: on a kept-alive connection, waits until nginx sends the next
 * request or the worker stops. Returns 0 to go on to FCGX_Accept_r, -1 to stop (having
 * closed the connection). libfcgi would wait in read() on that connection forever, and
 * only this thread may close it: closed from the main thread, it could be one whose
 * request this thread has just read (nginx would retry it on another worker and a /count
 * would count twice), or its fd number could by then belong to another connection. A
 * request left unread on a closed connection is safe: nginx passes it to another worker. */
static int waitForNextRequest(worker *w) {
    workerPool *p = w->pool;
    int kept = w->fcgi.keepConnection && w->fcgi.ipcFd >= 0;
    if (kept && !atomic_load(&p->stopping)) {
        struct pollfd fds[2] = {{.fd = w->fcgi.ipcFd, .events = POLLIN},
                                {.fd = p->stopPipe[0], .events = POLLIN}};
        int n;
        while ((n = poll(fds, 2, -1)) < 0 && errno == EINTR) {}
        /* Not expected; libfcgi's own blocking read takes over, as before keep-alive. */
        if (n < 0) logLine("poll on a kept-alive connection: %s", strerror(errno));
    }
    if (!atomic_load(&p->stopping)) return 0;
    if (kept) FCGX_Free(&w->fcgi, 1);
    return -1;
}

static void *workerMain(void *arg) {
    worker *w = arg;
    while (waitForNextRequest(w) == 0) {
        if (FCGX_Accept_r(&w->fcgi) < 0) {
            if (atomic_load(&w->pool->stopping)) break;
            /* Out of descriptors or memory: wait instead of spinning, then try again. */
            logLine("accept failed: %s", strerror(errno ? errno : EIO));
            nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000}, NULL);
            continue;
        }
        metricsBusy(w->metrics, 1);
        serve(w);
        FCGX_Finish_r(&w->fcgi);
        metricsBusy(w->metrics, 0);
    }
    atomic_store(&w->done, 1);
    return NULL;
}

/* Gives w what its thread owns. Returns -1 when out of memory (w is then left to
 * workerRelease). */
static int workerInit(worker *w, workerPool *p, const config *cfg, int index) {
    w->pool = p;
    w->index = index;
    w->metrics = metricsFor(p->metrics, index);
    FCGX_InitRequest(&w->fcgi, 0, 0);
    responseInit(&w->res);
    bufInit(&w->out);
    w->rng = ((unsigned long long)time(NULL) << 20) ^ (unsigned long long)getpid() ^
             (0x9E3779B97F4A7C15ull * (unsigned long long)(index + 1));
    if (w->rng == 0) w->rng = 1;
    w->store = storeCreate(cfg->redisHost, cfg->redisPort, cfg->redisUser, cfg->redisPassword,
                           cfg->redisTimeoutMs);
    return w->store ? 0 : -1;
}

/* Undoes workerInit(). */
static void workerRelease(worker *w) {
    FCGX_Free(&w->fcgi, 1);
    storeFree(w->store);
    responseFree(&w->res);
    bufFree(&w->out);
}

workerPool *workerPoolStart(const view *v, tracker *t, metrics *m, const config *cfg, char *err,
                            size_t errlen) {
    workerPool *p = calloc(1, sizeof(*p));
    if (p == NULL || (p->workers = calloc((size_t)cfg->threads, sizeof(*p->workers))) == NULL) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->view = v;
    p->tracker = cfg->tracking ? t : NULL;
    p->metrics = m;
    p->config = cfg;
    if (pipe(p->stopPipe) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        free(p->workers);
        free(p);
        return NULL;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK_BYTES);
    int e = 0;
    while (p->started < cfg->threads) {
        worker *w = &p->workers[p->started];
        e = workerInit(w, p, cfg, p->started) < 0 ? ENOMEM : pthread_create(&w->tid, &attr, workerMain, w);
        if (e != 0) {
            workerRelease(w);
            break;
        }
        p->started++;
    }
    pthread_attr_destroy(&attr);
    if (e != 0) {
        snprintf(err, errlen, "cannot start thread %d of %d: %s", p->started + 1, cfg->threads, strerror(e));
        if (workerPoolStop(p, 10000) == 0) workerPoolFree(p);
        return NULL;
    }
    return p;
}

int workerPoolStop(workerPool *p, int graceMs) {
    atomic_store(&p->stopping, 1);
    /* Every accept() blocked on the listening socket now fails (EINVAL, which libfcgi
     * returns as an error). Not FCGX_ShutdownPending(): with its flag set, libfcgi 2.4.2
     * loops forever on a unix-socket connection that sent nothing within 2 s. */
    shutdown(0, SHUT_RDWR);
    close(p->stopPipe[1]);
    p->stopPipe[1] = -1;
    int running = p->started;
    for (int waited = 0; running > 0 && waited < graceMs; waited += 5) {
        nanosleep(&(struct timespec){.tv_nsec = 5 * 1000000}, NULL);
        running = 0;
        for (int i = 0; i < p->started; i++) running += !atomic_load(&p->workers[i].done);
    }
    return running;
}

void workerPoolFree(workerPool *p) {
    for (int i = 0; i < p->started; i++) {
        pthread_join(p->workers[i].tid, NULL);
        workerRelease(&p->workers[i]);
    }
    close(p->stopPipe[0]);
    free(p->workers);
    free(p);
}
