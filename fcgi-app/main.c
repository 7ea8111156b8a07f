/* khalid-fcgi: Khalid Tracker's FastCGI worker.
 *
 * spawn-fcgi hands us the listening socket as fd 0. FCGI_THREADS threads each run their
 * own FCGX_Accept_r loop with their own request, Redis connection and buffers; libfcgi's
 * accept is safe to call from several threads on Linux, so no accept mutex (which would
 * let one slow client stall every thread). The main thread only waits for SIGTERM/SIGINT
 * and then shuts down: see stopWorkers() and waitForNextRequest(). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "config.h"
#include "site.h"

#define VERSION "1.0.0"
#define THREAD_STACK_BYTES (512u << 10)
#define SHUTDOWN_GRACE_MS 10000

typedef struct worker {
    pthread_t tid;
    FCGX_Request req;
    siteThread th;
    response res;
    buf out;
    atomic_int done;    /* the thread has left its loop */
} worker;

static const site *theSite;
static atomic_int stopping;
/* Becomes readable (write end closed) when the worker stops; never read. */
static int stopPipe[2] = {-1, -1};

/* One line on stderr, prefixed with the program and pid (docker logs and the native
 * stack's terminal interleave several workers). */
static void logLine(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logLine(const char *fmt, ...) {
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "khalid-fcgi[%ld]: %s\n", (long)getpid(), line);
}

/* The path to route: nginx's normalised DOCUMENT_URI, else REQUEST_URI up to the query. */
static const char *requestPath(FCGX_ParamArray env, char *scratch, size_t n) {
    const char *path = FCGX_GetParam("DOCUMENT_URI", env);
    if (path) return path;
    const char *uri = FCGX_GetParam("REQUEST_URI", env);
    if (uri == NULL) return "";
    snprintf(scratch, n, "%.*s", (int)strcspn(uri, "?"), uri);
    return scratch;
}

/* Answers the accepted request with one write: the response is fully built first, so a
 * failure can still change the status, and the client never sees half a page. */
static void serve(worker *w) {
    char scratch[2048];
    httpMethod method = httpParseMethod(FCGX_GetParam("REQUEST_METHOD", w->req.envp));
    siteHandle(theSite, &w->th, method, requestPath(w->req.envp, scratch, sizeof(scratch)), &w->res);
    bufReset(&w->out);
    httpFormatHead(&w->out, &w->res);
    if (method != HTTP_HEAD) bufAppend(&w->out, w->res.body.data, w->res.body.len);
    if (w->out.oom) {
        static const char oom[] = "Status: 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
        FCGX_PutStr(oom, (int)sizeof(oom) - 1, w->req.out);
        return;
    }
    /* A client that went away makes this fail; nothing is left to tell it. */
    FCGX_PutStr(w->out.data, (int)w->out.len, w->req.out);
}

/* Before each request: on a kept-alive connection, waits until nginx sends the next
 * request or the worker stops. Returns 0 to go on to FCGX_Accept_r, -1 to stop (having
 * closed the connection). libfcgi would wait in read() on that connection forever, and
 * only this thread may close it: closed from the main thread, it could be one whose
 * request this thread has just read (nginx would retry it on another worker and a /count
 * would count twice), or its fd number could by then belong to another connection. A
 * request left unread on a closed connection is safe: nginx passes it to another worker. */
static int waitForNextRequest(worker *w) {
    int kept = w->req.keepConnection && w->req.ipcFd >= 0;
    if (kept && !atomic_load(&stopping)) {
        struct pollfd fds[2] = {{.fd = w->req.ipcFd, .events = POLLIN},
                                {.fd = stopPipe[0], .events = POLLIN}};
        int n;
        while ((n = poll(fds, 2, -1)) < 0 && errno == EINTR) {}
        /* Not expected; libfcgi's own blocking read takes over, as before keep-alive. */
        if (n < 0) logLine("poll on a kept-alive connection: %s", strerror(errno));
    }
    if (!atomic_load(&stopping)) return 0;
    if (kept) FCGX_Free(&w->req, 1);
    return -1;
}

static void *workerMain(void *arg) {
    worker *w = arg;
    while (waitForNextRequest(w) == 0) {
        if (FCGX_Accept_r(&w->req) < 0) {
            if (atomic_load(&stopping)) break;
            /* Out of descriptors or memory: wait instead of spinning, then try again. */
            logLine("accept failed: %s", strerror(errno ? errno : EIO));
            nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000}, NULL);
            continue;
        }
        serve(w);
        FCGX_Finish_r(&w->req);
    }
    atomic_store(&w->done, 1);
    return NULL;
}

/* Stops accepting, lets in-flight requests finish, and wakes the threads waiting on
 * kept-alive connections, which close them. Returns once every thread has left its loop,
 * or after SHUTDOWN_GRACE_MS; returns how many threads are still running. */
static int stopWorkers(worker *workers, int n) {
    atomic_store(&stopping, 1);
    /* Every accept() blocked on the listening socket now fails (EINVAL, which libfcgi
     * returns as an error). Not FCGX_ShutdownPending(): with its flag set, libfcgi 2.4.2
     * loops forever on a unix-socket connection that sent nothing within 2 s. */
    shutdown(0, SHUT_RDWR);
    close(stopPipe[1]);
    int running = n;
    for (int waited = 0; running > 0 && waited < SHUTDOWN_GRACE_MS; waited += 5) {
        nanosleep(&(struct timespec){.tv_nsec = 5 * 1000000}, NULL);
        running = 0;
        for (int i = 0; i < n; i++) running += !atomic_load(&workers[i].done);
    }
    return running;
}

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

int main(int argc, char **argv) {
    int checkOnly = 0;
    if (argc > 2) { usage(stderr); return 2; }
    if (argc == 2) {
        if (strcmp(argv[1], "--check") == 0) checkOnly = 1;
        else if (strcmp(argv[1], "--version") == 0) { puts("khalid-fcgi " VERSION); return 0; }
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
    site *s = siteLoad(&cfg, err, sizeof(err));
    if (s == NULL) {
        logLine("template error: %s", err);
        return 1;
    }
    if (checkOnly) {
        printf("khalid-fcgi: configuration and templates in %s are valid\n", cfg.templateDir);
        siteFree(s);
        return 0;
    }
    if (!isListeningSocket(0)) {
        logLine("fd 0 is not a listening socket: start the worker with spawn-fcgi");
        siteFree(s);
        return 2;
    }
    theSite = s;

    /* Stop signals are taken by sigwait() below, never by a handler: blocked before any
     * thread exists, so every thread inherits the mask and libfcgi's handler never runs.
     * SIGUSR1 stays blocked for good: FCGX_Init() installs a handler for it (even over
     * SIG_IGN) that makes every later accept fail, so one stray signal would leave the
     * worker running but answering nothing. SIGPIPE is ignored: a write to a closed Redis
     * or nginx socket must not kill us. */
    sigset_t stopSignals, blocked;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGTERM);
    sigaddset(&stopSignals, SIGINT);
    blocked = stopSignals;
    sigaddset(&blocked, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &blocked, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (pipe(stopPipe) < 0) {
        logLine("pipe: %s", strerror(errno));
        return 1;
    }
    if (FCGX_Init() != 0) {
        logLine("FCGX_Init failed");
        return 1;
    }
    worker *workers = calloc((size_t)cfg.threads, sizeof(*workers));
    if (workers == NULL) {
        logLine("out of memory");
        return 1;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK_BYTES);
    int started = 0, rc = 0;
    for (; started < cfg.threads; started++) {
        worker *w = &workers[started];
        FCGX_InitRequest(&w->req, 0, 0);
        bufInit(&w->out);
        bufInit(&w->res.body);
        w->th.rng = ((unsigned long long)time(NULL) << 20) ^ (unsigned long long)getpid() ^
                    (0x9E3779B97F4A7C15ull * (unsigned long long)(started + 1));
        if (w->th.rng == 0) w->th.rng = 1;
        w->th.store = storeCreate(cfg.redisHost, cfg.redisPort, cfg.redisPassword, cfg.redisTimeoutMs);
        int e = w->th.store ? pthread_create(&w->tid, &attr, workerMain, w) : ENOMEM;
        if (e != 0) {
            logLine("cannot start a thread: %s", strerror(e));
            storeFree(w->th.store);
            rc = 1;
            break;
        }
    }
    pthread_attr_destroy(&attr);

    if (rc == 0) {
        int sig;
        sigwait(&stopSignals, &sig);
    }
    int stuck = stopWorkers(workers, started);
    if (stuck > 0) {
        /* Leave the stuck threads to exit(); joining them would hang the shutdown. */
        logLine("%d threads still busy after %d ms, exiting anyway", stuck, SHUTDOWN_GRACE_MS);
        return 1;
    }
    for (int i = 0; i < started; i++) {
        worker *w = &workers[i];
        pthread_join(w->tid, NULL);
        FCGX_Free(&w->req, 1);
        storeFree(w->th.store);
        bufFree(&w->out);
        bufFree(&w->res.body);
    }
    free(workers);
    close(stopPipe[0]);
    siteFree(s);
    return rc;
}
