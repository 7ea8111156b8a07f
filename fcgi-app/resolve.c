/* resolve: Redis's host name looked up in the background; see resolve.h. */
#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* One name per process (REDIS_HOST): what is known about it, guarded by lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER;
static char *name;                   /* the name asked for last */
static char known[RESOLVE_ADDR_MAX]; /* its last address found, or "" */
static int running;                  /* a lookup thread is under way */
static unsigned long lookups;        /* lookups finished, to wait for the next one */
static const char *lastWhy = "DNS lookup timed out";

static int isNumeric(const char *host) {
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* The lookup thread: getaddrinfo() for its copy of the name, which it frees; the result
 * counts only if that is still the name asked for. */
static void *lookup(void *arg) {
    char *host = arg;
    char found[RESOLVE_ADDR_MAX] = "";
    /* IPv4 first, as hiredis does with a name: "localhost" is often ::1 first, while Redis
     * listens on 127.0.0.1 by default. */
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        hints.ai_family = AF_INET6;
        rc = getaddrinfo(host, NULL, &hints, &res);
    }
    if (rc == 0) {
        const void *a = res->ai_family == AF_INET6
                            ? (const void *)&((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr
                            : (const void *)&((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr;
        if (inet_ntop(res->ai_family, a, found, sizeof(found)) == NULL) found[0] = '\0';
        freeaddrinfo(res);
    }
    pthread_mutex_lock(&lock);
    if (name && strcmp(name, host) == 0) {
        if (found[0]) memcpy(known, found, sizeof(known));
        else lastWhy = rc ? gai_strerror(rc) : "no usable address";
    }
    running = 0;
    lookups++;
    pthread_cond_broadcast(&finished);
    pthread_mutex_unlock(&lock);
    free(host);
    return NULL;
}

/* Starts a detached lookup thread for the current name; called with lock held. */
static void startLookup(void) {
    char *copy = strdup(name);
    pthread_attr_t attr;
    pthread_t t;
    if (copy == NULL || pthread_attr_init(&attr) != 0) {
        free(copy);
        lastWhy = "out of memory for a DNS lookup";
        return;
    }
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, lookup, copy) == 0) {
        running = 1;
    } else {
        free(copy);
        lastWhy = "cannot start a DNS lookup thread";
    }
    pthread_attr_destroy(&attr);
}

int resolveHost(const char *host, int refresh, int waitMs, char *addr, const char **why) {
    if (strlen(host) < RESOLVE_ADDR_MAX && isNumeric(host)) {
        strcpy(addr, host);
        return 0;
    }
    pthread_mutex_lock(&lock);
    if (name == NULL || strcmp(name, host) != 0) {
        free(name);
        name = strdup(host);
        known[0] = '\0';
    }
    if (name && (refresh || !known[0]) && !running) startLookup();
    if (!known[0] && running) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += waitMs / 1000;
        until.tv_nsec += (long)(waitMs % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        unsigned long seen = lookups;
        while (lookups == seen && pthread_cond_timedwait(&finished, &lock, &until) != ETIMEDOUT) {}
    }
    int rc = known[0] ? 0 : -1;
    if (rc == 0) memcpy(addr, known, RESOLVE_ADDR_MAX);
    else *why = name ? (running ? "DNS lookup timed out" : lastWhy) : "out of memory";
    pthread_mutex_unlock(&lock);
    return rc;
}
