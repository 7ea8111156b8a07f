/* site: Khalid Tracker's pages. siteLoad() compiles every template and reads the quotes
 * once; siteHandle() answers one request from them without touching the disk. */
#ifndef KT_SITE_H
#define KT_SITE_H

#include <stddef.h>

#include "config.h"
#include "http.h"
#include "store.h"

typedef struct site site;

/* What one accept thread owns; siteHandle() updates it. */
typedef struct siteThread {
    store *store;            /* this thread's Redis connection */
    unsigned long long rng;  /* random state for picking quotes; never 0 */
} siteThread;

/* Loads templates and quotes from cfg->templateDir. Returns NULL with the reason in err
 * (naming the file and line). The site keeps no pointer into cfg. */
site *siteLoad(const config *cfg, char *err, size_t errlen);
void siteFree(site *s);

/* Answers one request into res (status, headers, body). Never fails: errors become the
 * right status page. Safe to call from several threads with their own th and res. */
void siteHandle(const site *s, siteThread *th, httpMethod method, const char *path, response *res);

#endif
