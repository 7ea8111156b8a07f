/* libFuzzer target: merging the workers' metrics snapshots (metrics.c), which /metrics
 * reads back from Redis. The input is NUL-separated pieces: the first names a worker
 * whose own snapshot, with requests its bytes choose, must survive the merge whole; the
 * others are snapshots as read from Redis (an empty one stands for a missing key).
 * Besides crashes, leaks and undefined behaviour it checks that the merge prints each
 * family once, HELP and TYPE first, with nothing but lines copied from the snapshots. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "metrics.h"

#define SNAPSHOTS_MAX 4

static const char *const routes[] = {"/", "/count"};

/* Where the search for the next copied line stands: snapshot k, at p. */
typedef struct cursor {
    const char *const *snaps;
    size_t n, k;
    const char *p;
} cursor;

/* Moves c past the next snapshot line equal to line[0..len); 0 when none is left. */
static int findLine(cursor *c, const char *line, size_t len) {
    for (; c->k < c->n; c->k++, c->p = NULL) {
        if (c->snaps[c->k] == NULL) continue;
        if (c->p == NULL) c->p = c->snaps[c->k];
        while (*c->p) {
            size_t n = strcspn(c->p, "\n");
            int same = n == len && memcmp(c->p, line, len) == 0;
            c->p += n + (c->p[n] == '\n');
            if (same) return 1;
        }
    }
    return 0;
}

/* Aborts unless out is families, each once: "# HELP name ...", "# TYPE name ...", then at
 * least one printable sample of name, copied in order from the n snapshots when snaps is
 * not NULL. Returns the number of samples. */
static size_t checkMerged(const char *out, const char *const *snaps, size_t n) {
    char family[128] = "", seen[4096] = " ";
    size_t samples = 0, inFamily = 0;
    cursor from = {snaps, n, 0, NULL};
    for (const char *p = out; *p;) {
        const char *eol = strchr(p, '\n');
        if (eol == NULL) abort();
        size_t len = (size_t)(eol - p), nameLen = strcspn(p + 7, " \n");
        if (strncmp(p, "# HELP ", 7) == 0) {
            if ((family[0] && inFamily == 0) || nameLen == 0 || nameLen >= sizeof(family)) abort();
            memcpy(family, p + 7, nameLen);
            family[nameLen] = '\0';
            /* Each family once: seen holds " name " for every family printed. */
            char key[sizeof(family) + 2] = " ";
            strcat(strcat(key, family), " ");
            if (strstr(seen, key) || strlen(seen) + strlen(key) >= sizeof(seen)) abort();
            strcat(seen, family);
            strcat(seen, " ");
            inFamily = 0;
            from = (cursor){snaps, n, 0, NULL};
            p = eol + 1;
            if (strncmp(p, "# TYPE ", 7) != 0 || strncmp(p + 7, family, nameLen) != 0 || p[7 + nameLen] != ' ')
                abort();
            p = strchr(p, '\n');
            if (p == NULL) abort();
            p++;
            continue;
        }
        if (family[0] == '\0' || strncmp(p, family, strlen(family)) != 0) abort();
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) abort();
        if (snaps && !findLine(&from, p, len)) abort();
        inFamily++;
        samples++;
        p = eol + 1;
    }
    if (family[0] && inFamily == 0) abort();
    return samples;
}

/* A worker named by the input, with a request its first bytes choose (each request adds
 * some twenty lines to scan, and one is enough to carry the name): merging its snapshot
 * twice gives every sample line twice, whatever the name holds. */
static void checkOwnSnapshot(const char *worker) {
    static const int statuses[] = {200, 404, 503, 299};
    metrics *m = metricsCreate(2, routes, 2, worker);
    if (m == NULL) abort();
    unsigned char c = (unsigned char)worker[0];
    metricsRequest(metricsFor(m, c & 1), (c >> 1) % 3 - 1, statuses[(c >> 3) & 3], (c >> 5) * 0.2);
    metricsRedisErrors(metricsFor(m, 1), (unsigned long long)strlen(worker));
    buf snap, out;
    bufInit(&snap);
    bufInit(&out);
    metricsSnapshot(m, (long long)strlen(worker) - 3, &snap);
    const char *s = bufCStr(&snap);
    if (s == NULL) abort();
    /* Sample lines hold a space; the snapshot's family-name lines do not. */
    size_t samples = 0;
    for (const char *p = s; *p;) {
        size_t len = strcspn(p, "\n");
        samples += memchr(p, ' ', len) != NULL;
        p += len + (p[len] == '\n');
    }
    const char *snaps[] = {s, NULL, s};
    metricsMerge(snaps, 3, &out);
    if (bufCStr(&out) == NULL || checkMerged(out.data, NULL, 0) != 2 * samples) abort();
    bufFree(&out);
    bufFree(&snap);
    metricsFree(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzzString(data, size);
    const char *snaps[SNAPSHOTS_MAX];
    size_t n = 0;
    const char *end = text + size, *p = text + strlen(text) + 1;
    for (; p <= end && n < SNAPSHOTS_MAX; p += strlen(p) + 1, n++) snaps[n] = *p ? p : NULL;
    buf out;
    bufInit(&out);
    metricsMerge(snaps, n, &out);
    if (bufCStr(&out) == NULL) abort();
    checkMerged(out.data, snaps, n);
    bufFree(&out);
    checkOwnSnapshot(text);
    free(text);
    return 0;
}
