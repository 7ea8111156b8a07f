/* metricspage: /metrics, every live worker's metrics in the Prometheus text format; see
 * pages.h and metrics.h. */
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "keys.h"
#include "metrics.h"
#include "pages.h"
#include "version.h"

#define SCAN_BATCH "1000"
#define WORKERS_MAX 1024   /* snapshots read per scrape */

/* Appends the figures every worker shares, as one more snapshot: the visit counter, the
 * views per path, and the build. */
static void sharedSnapshot(buf *b, const redisReply *visits, const redisReply *views) {
    bufAppendStr(b, "khalid_visits\nkhalid_visits ");
    bufAppendStr(b, visits->type == REDIS_REPLY_STRING ? visits->str : "0");
    bufAppendStr(b, "\n\nkhalid_page_views_total\n");
    for (size_t i = 0; views->type == REDIS_REPLY_ARRAY && i + 1 < views->elements; i += 2) {
        /* Paths come from the route table: no quote or backslash to escape. */
        bufAppendStr(b, "khalid_page_views_total{path=\"");
        bufAppendStr(b, views->element[i]->str);
        bufAppendStr(b, "\"} ");
        bufAppendStr(b, views->element[i + 1]->str);
        bufAppendStr(b, "\n");
    }
    bufAppendStr(b, "\nkhalid_build_info\nkhalid_build_info{version=\"" KT_VERSION "\"} 1\n");
}

/* Reads every worker's snapshot (SCAN, then MGET) into the reply *values. Returns -1 when
 * Redis failed. */
static int readSnapshots(store *s, redisReply **values) {
    char cursor[32] = "0";
    const char *keys[WORKERS_MAX + 1];
    size_t lens[WORKERS_MAX + 1];
    redisReply *scans[64];
    int nkeys = 0, nscans = 0, rc = 0;
    keys[0] = "MGET", lens[0] = 4;
    do {
        redisReply *r;
        if (storeAppend(s, "SCAN %s MATCH %s COUNT " SCAN_BATCH, cursor, KEY_METRICS_MATCH) < 0 ||
            storeExec(s, &r, 1) != 1)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING) {
            storeFreeReplies(&r, 1);
            rc = -1;
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        const redisReply *found = r->element[1];
        for (size_t i = 0; found->type == REDIS_REPLY_ARRAY && i < found->elements && nkeys < WORKERS_MAX; i++) {
            /* SCAN may return a key twice; a worker's series must appear once. */
            int seen = 0;
            for (int k = 1; k <= nkeys && !seen; k++) seen = strcmp(keys[k], found->element[i]->str) == 0;
            if (seen) continue;
            keys[++nkeys] = found->element[i]->str;
            lens[nkeys] = found->element[i]->len;
        }
        /* The key strings live in the replies: keep them until the MGET is sent. */
        scans[nscans++] = r;
    } while (strcmp(cursor, "0") != 0 && nscans < (int)(sizeof(scans) / sizeof(scans[0])));
    *values = NULL;
    if (rc == 0 && nkeys > 0 &&
        (storeAppendArgv(s, nkeys + 1, keys, lens) < 0 || storeExec(s, values, 1) != 1))
        rc = -1;
    storeFreeReplies(scans, nscans);
    return rc;
}

void pageMetrics(pageCtx *c) {
    if (!cidrMatch(&c->config->metricsAllow, c->req->clientAddr)) {
        pageError(c, 404, NULL);
        return;
    }
    redisReply *shared[2], *values = NULL;
    int ok = storeAppend(c->store, "GET %s", KEY_VISITS) == 0 &&
             storeAppend(c->store, "HGETALL %s", KEY_VIEWS_TOTAL) == 0 &&
             storeExec(c->store, shared, 2) == 2;
    if (ok && readSnapshots(c->store, &values) < 0) {
        storeFreeReplies(shared, 2);
        ok = 0;
    }
    response *res = c->res;
    if (!ok) {
        res->status = 503;
        res->retryAfter = 5;
        bufAppendStr(&res->body, "Redis is unreachable: no metrics to show.\n");
        return;
    }
    buf mine;
    bufInit(&mine);
    sharedSnapshot(&mine, shared[0], shared[1]);
    size_t n = values ? values->elements : 0;
    const char **snapshots = malloc((n + 1) * sizeof(*snapshots));
    if (snapshots == NULL || bufCStr(&mine) == NULL) {
        res->body.oom = 1;
    } else {
        for (size_t i = 0; i < n; i++)
            snapshots[i] = values->element[i]->type == REDIS_REPLY_STRING ? values->element[i]->str : NULL;
        snapshots[n] = mine.data;
        res->status = 200;
        res->contentType = "text/plain; version=0.0.4; charset=utf-8";
        metricsMerge(snapshots, n + 1, &res->body);
    }
    free(snapshots);
    bufFree(&mine);
    storeFreeReplies(shared, 2);
    if (values) storeFreeReplies(&values, 1);
}
