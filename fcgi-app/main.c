/* khalid-fcgi: Khalid Tracker's FastCGI worker.
 *
 * spawn-fcgi hands us the listening socket as fd 0. The settings are read and the view
 * loaded before anything is served; then FCGI_THREADS threads answer requests (worker.c)
 * while the main thread only waits for SIGTERM/SIGINT, and then shuts them down. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <fcgiapp.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"
#include "version.h"
#include "track.h"
#include "view.h"
#include "worker.h"

#define SHUTDOWN_GRACE_MS 10000

/* Makes sure FCGI_THREADS threads can hold their descriptors: each may have a FastCGI
 * connection and a Redis connection open, plus a few for the process. Raises the soft
 * limit up to the hard one when needed; fails, naming the variable, when even that is
 * too low (threads would otherwise fail one by one at accept or connect, under load). */
static int reserveDescriptors(int threads, char *err, size_t len) {
    struct rlimit rl;
    rlim_t need = (rlim_t)threads * 2 + 32;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        snprintf(err, len, "FCGI_THREADS=%d: needs %llu open files, the hard limit is %llu (ulimit -Hn)",
                 threads, (unsigned long long)need, (unsigned long long)rl.rlim_max);
        return -1;
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        snprintf(err, len, "FCGI_THREADS=%d: cannot raise the open-file limit to %llu: %s",
                 threads, (unsigned long long)need, strerror(errno));
        return -1;
    }
    return 0;
}

static int isListeningSocket(int fd) {
    int yes = 0;
    socklen_t len = sizeof(yes);
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &yes, &len) == 0 && yes;
}

static void usage(FILE *f) {
    fprintf(f, "usage: khalid-fcgi [--check | --version | --help]\n"
               "  Run under spawn-fcgi, which passes the listening socket as fd 0:\n"
               "    spawn-fcgi -n -s /run/khalid.sock -- khalid-fcgi\n"
               "  --check    load the configuration and templates, report, and exit\n"
               "  Settings come from environment variables; see README.md.\n");
}

/* Stop signals are taken by sigwait(), never by a handler: blocked before any thread
 * exists, so every thread inherits the mask and libfcgi's handler never runs. SIGUSR1
 * stays blocked for good: FCGX_Init() installs a handler for it (even over SIG_IGN) that
 * makes every later accept fail, so one stray signal would leave the worker running but
 * answering nothing. SIGPIPE is ignored: a write to a closed Redis or nginx socket must
 * not kill us. Returns the set to wait for. */
static sigset_t blockSignals(void) {
    sigset_t stop, blocked;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    blocked = stop;
    sigaddset(&blocked, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &blocked, NULL);
    signal(SIGPIPE, SIG_IGN);
    return stop;
}

/* Serves until SIGTERM or SIGINT, with t recording views and storing m's snapshots.
 * Returns the process's exit status, or -1 when threads are still busy after the grace
 * time (what they read must then stay). */
static int serveUntilStopped(const view *v, tracker *t, metrics *m, const config *cfg) {
    sigset_t stop = blockSignals();
    char err[256];
    if (FCGX_Init() != 0) {
        logLine("FCGX_Init failed");
        return 1;
    }
    if (trackerStart(t, err, sizeof(err)) < 0) {
        logLine("%s", err);
        return 1;
    }
    workerPool *pool = workerPoolStart(v, t, m, cfg, err, sizeof(err));
    if (pool == NULL) {
        logLine("%s", err);
        trackerStop(t);
        return 1;
    }
    int sig;
    sigwait(&stop, &sig);
    int stuck = workerPoolStop(pool, SHUTDOWN_GRACE_MS);
    if (stuck > 0) {
        /* Leave the stuck threads to exit(); joining them would hang the shutdown. */
        logLine("%d threads still busy after %d ms, exiting anyway", stuck, SHUTDOWN_GRACE_MS);
        return -1;
    }
    workerPoolFree(pool);
    /* After the last request: the final flush writes every view answered. */
    trackerStop(t);
    return 0;
}

/* Makes the metrics and the tracker (its thread also stores the metrics, so it runs even
 * when tracking is off), serves, and frees them. Returns as serveUntilStopped(). */
static int serveAll(const view *v, const config *cfg) {
    int nroutes = routeCount();
    const char **paths = malloc((size_t)nroutes * sizeof(*paths));
    char worker[300];
    snprintf(worker, sizeof(worker), "%s/%s", viewHost(v), viewPid(v));
    for (int i = 0; paths && i < nroutes; i++) paths[i] = routePath(i);
    metrics *m = paths ? metricsCreate(cfg->threads, paths, nroutes, worker) : NULL;
    tracker *t = m ? trackerCreate(cfg, cfg->threads, m, worker) : NULL;
    if (t == NULL) {
        logLine("out of memory");
        metricsFree(m);
        free(paths);
        return 1;
    }
    int rc = serveUntilStopped(v, t, m, cfg);
    if (rc < 0) return rc;
    trackerFree(t);
    metricsFree(m);
    free(paths);
    return rc;
}

int main(int argc, char **argv) {
    int checkOnly = 0;
    if (argc > 2) { usage(stderr); return 2; }
    if (argc == 2) {
        if (strcmp(argv[1], "--check") == 0) checkOnly = 1;
        else if (strcmp(argv[1], "--version") == 0) { puts("khalid-fcgi " KT_VERSION); return 0; }
        else if (strcmp(argv[1], "--help") == 0) { usage(stdout); return 0; }
        else { usage(stderr); return 2; }
    }

    config cfg;
    char err[512];
    if (configLoad(&cfg, NULL, NULL, err, sizeof(err)) < 0 ||
        reserveDescriptors(cfg.threads, err, sizeof(err)) < 0) {
        logLine("configuration error: %s", err);
        return 2;
    }
    view *v = viewLoad(&cfg, err, sizeof(err));
    if (v == NULL) {
        logLine("template error: %s", err);
        return 1;
    }
    int rc = 0;
    if (checkOnly) {
        printf("khalid-fcgi: configuration and templates in %s are valid\n", cfg.templateDir);
    } else if (!isListeningSocket(0)) {
        logLine("fd 0 is not a listening socket: start the worker with spawn-fcgi");
        rc = 2;
    } else {
        rc = serveAll(v, &cfg);
    }
    if (rc < 0) return 1; /* exit() ends the stuck threads */
    viewFree(v);
    return rc;
}
