/* config: the worker's settings, read once from environment variables and validated
 * before anything is served. Every field has a default; see README.md for the table. */
#ifndef KT_CONFIG_H
#define KT_CONFIG_H

#include <stddef.h>

#include "cidr.h"

typedef struct config {
    char redisHost[256];     /* host name, IP address, or a unix socket path starting with '/' */
    int redisPort;
    char redisUser[128];     /* an ACL user; empty: the default user */
    char redisPassword[512]; /* empty: no AUTH */
    int redisTimeoutMs;      /* bounds connect and every command */
    char appName[128];
    int threads;             /* FastCGI accept threads, each with its own Redis connection */
    char templateDir[1024];
    char githubUrl[512];
    char linkedinUrl[512];
    int showServedBy;        /* show host and pid on /count and in X-Served-By */
    int tracking;            /* record page views, visitors, referrers, browsers, bots */
    cidrList ignoreIps;      /* clients whose views are never recorded */
    cidrList metricsAllow;   /* clients that may read /metrics */
} config;

/* Looks a variable up; returns NULL when it is unset. */
typedef const char *(*configGetenv)(const char *name, void *ud);

/* Fills c from the variables get returns (getenv's when get is NULL). Returns 0, or -1
 * with one line in err naming the variable and its bad value. Empty counts as unset. */
int configLoad(config *c, configGetenv get, void *ud, char *err, size_t errlen);

#endif
