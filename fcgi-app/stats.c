/* stats: figures from Redis; see stats.h. */
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "format.h"
#include "keys.h"

#define DAY_S 86400
#define LIVE_MINUTES 5
/* One reply per command statsLoad() queues: at most visits, 2 per day and per hour, the
 * period's union and live counts, and 5 per day of the period. */
#define LOAD_REPLIES (1 + 2 * STATS_DAYS + 2 * STATS_HOURS + 2 + 5 * STATS_DAYS)

int statsPeriodDays(const char *name) {
    if (strcmp(name, "day") == 0) return 1;
    if (strcmp(name, "7d") == 0) return 7;
    if (strcmp(name, "30d") == 0) return 30;
    return 0;
}

static long long integerOf(const redisReply *r) {
    if (r->type == REDIS_REPLY_INTEGER) return r->integer;
    return r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
}

/* Sum of the values of a flat [name, value, name, value...] reply (HGETALL). */
static long long valueSum(const redisReply *r) {
    long long sum = 0;
    for (size_t i = 1; r->type == REDIS_REPLY_ARRAY && i < r->elements; i += 2)
        sum += integerOf(r->element[i]);
    return sum;
}

static int byName(const void *a, const void *b) {
    return strcmp(((const statsName *)a)->name, ((const statsName *)b)->name);
}

static int byViews(const void *a, const void *b) {
    const statsName *x = a, *y = b;
    if (x->views != y->views) return x->views > y->views ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Merges flat [name, value, ...] replies (HGETALL or ZRANGE WITHSCORES of several days)
 * into out: the STATS_TOP names with most views, summed over the replies. */
static int mergeNames(redisReply **replies, int n, statsList *out) {
    size_t total = 0;
    for (int i = 0; i < n; i++)
        if (replies[i]->type == REDIS_REPLY_ARRAY) total += replies[i]->elements / 2;
    out->n = 0;
    if (total == 0) return 0;
    statsName *all = malloc(total * sizeof(*all));
    if (all == NULL) return -1;
    size_t k = 0;
    for (int i = 0; i < n; i++)
        for (size_t e = 0; replies[i]->type == REDIS_REPLY_ARRAY && e + 1 < replies[i]->elements; e += 2) {
            const redisReply *name = replies[i]->element[e];
            if (name->type != REDIS_REPLY_STRING) continue;
            snprintf(all[k].name, sizeof(all[k].name), "%s", name->str);
            all[k++].views = integerOf(replies[i]->element[e + 1]);
        }
    qsort(all, k, sizeof(*all), byName);
    size_t merged = 0;
    for (size_t i = 0; i < k; i++) {
        if (merged > 0 && strcmp(all[merged - 1].name, all[i].name) == 0) all[merged - 1].views += all[i].views;
        else all[merged++] = all[i];
    }
    qsort(all, merged, sizeof(*all), byViews);
    out->n = merged < STATS_TOP ? (int)merged : STATS_TOP;
    memcpy(out->items, all, (size_t)out->n * sizeof(*all));
    free(all);
    return 0;
}

/* Queues "before KEY after", the key named by fmt (a KEY_* with a %s bucket); sets rc
 * in the caller on failure. A macro so that fmt stays a literal for -Wformat. */
#define APPEND_KEY(s, before, fmt, bucket, after) do { \
        char k_[KEY_MAX]; \
        snprintf(k_, sizeof(k_), fmt, bucket); \
        rc |= storeAppend((s), before " %s" after, k_); \
    } while (0)

/* Queues PFCOUNT over one HyperLogLog per bucket: their union's count. */
static int appendUnionCount(store *s, const char *const *keys, int n) {
    const char *argv[STATS_DAYS + 1];
    size_t len[STATS_DAYS + 1];
    argv[0] = "PFCOUNT", len[0] = 7;
    for (int i = 0; i < n; i++) argv[i + 1] = keys[i], len[i + 1] = strlen(keys[i]);
    return storeAppendArgv(s, n + 1, argv, len);
}

int statsLoad(store *s, time_t now, const char *period, stats *out) {
    int periodDays = statsPeriodDays(period), rc = 0;
    memset(out, 0, sizeof(*out));
    out->period = periodDays == 7 ? "7d" : periodDays == 30 ? "30d" : "day";
    if (periodDays == 0) periodDays = 1;
    time_t today = now - now % DAY_S;
    clockDay(today - (periodDays - 1) * DAY_S, out->from);
    clockDay(today, out->to);

    rc |= storeAppend(s, "GET %s", KEY_VISITS);
    for (int i = 0; i < STATS_DAYS; i++) {
        clockDay(today - (STATS_DAYS - 1 - i) * DAY_S, out->days[i].day);
        APPEND_KEY(s, "HGETALL", KEY_VIEWS_DAY, out->days[i].day, "");
        APPEND_KEY(s, "PFCOUNT", KEY_VISITORS_DAY, out->days[i].day, "");
    }
    for (int i = 0; i < STATS_HOURS; i++) {
        clockHour(now - (STATS_HOURS - 1 - i) * 3600, out->hours[i].hour);
        APPEND_KEY(s, "HGETALL", KEY_VIEWS_HOUR, out->hours[i].hour, "");
        APPEND_KEY(s, "PFCOUNT", KEY_VISITORS_HOUR, out->hours[i].hour, "");
    }
    char keys[STATS_DAYS][KEY_MAX];
    const char *names[STATS_DAYS];
    for (int i = 0; i < periodDays; i++) {
        snprintf(keys[i], KEY_MAX, KEY_VISITORS_DAY, out->days[STATS_DAYS - periodDays + i].day);
        names[i] = keys[i];
    }
    rc |= appendUnionCount(s, names, periodDays);
    for (int i = 0; i < LIVE_MINUTES; i++) {
        char minute[CLOCK_MINUTE_LEN];
        clockMinute(now - i * 60, minute);
        snprintf(keys[i], KEY_MAX, KEY_VISITORS_MINUTE, minute);
        names[i] = keys[i];
    }
    rc |= appendUnionCount(s, names, LIVE_MINUTES);
    for (int d = STATS_DAYS - periodDays; d < STATS_DAYS; d++) {
        const char *day = out->days[d].day;
        APPEND_KEY(s, "GET", KEY_BOTS_DAY, day, "");
        APPEND_KEY(s, "ZRANGE", KEY_REFERRERS_DAY, day, " 0 -1 WITHSCORES");
        APPEND_KEY(s, "ZRANGE", KEY_BROWSERS_DAY, day, " 0 -1 WITHSCORES");
        APPEND_KEY(s, "ZRANGE", KEY_SYSTEMS_DAY, day, " 0 -1 WITHSCORES");
        APPEND_KEY(s, "ZRANGE", KEY_DEVICES_DAY, day, " 0 -1 WITHSCORES");
    }
    redisReply *r[LOAD_REPLIES];
    int n = rc == 0 ? storeExec(s, r, LOAD_REPLIES) : -1;
    if (n < 0) return -1;

    int i = 0;
    out->visits = integerOf(r[i++]);
    redisReply *pages[STATS_DAYS];
    for (int d = 0; d < STATS_DAYS; d++, i += 2) {
        out->days[d].views = valueSum(r[i]);
        out->days[d].visitors = integerOf(r[i + 1]);
        if (d >= STATS_DAYS - periodDays) {
            pages[d - (STATS_DAYS - periodDays)] = r[i];
            out->views += out->days[d].views;
        }
    }
    for (int h = 0; h < STATS_HOURS; h++, i += 2) {
        out->hours[h].views = valueSum(r[i]);
        out->hours[h].visitors = integerOf(r[i + 1]);
    }
    out->visitors = integerOf(r[i++]);
    out->live = integerOf(r[i++]);
    redisReply *perList[4][STATS_DAYS];
    for (int d = 0; d < periodDays; d++) {
        out->bots += integerOf(r[i++]);
        for (int l = 0; l < 4; l++) perList[l][d] = r[i++];
    }
    int failed = mergeNames(pages, periodDays, &out->pages) < 0 ||
                 mergeNames(perList[0], periodDays, &out->referrers) < 0 ||
                 mergeNames(perList[1], periodDays, &out->browsers) < 0 ||
                 mergeNames(perList[2], periodDays, &out->systems) < 0 ||
                 mergeNames(perList[3], periodDays, &out->devices) < 0;
    storeFreeReplies(r, n);
    return failed ? -1 : 0;
}

/* Appends "name": list as [{"<key>": name, "views": n}, ...]. */
static void jsonList(buf *b, const char *name, const char *key, const statsList *l) {
    bufAppendStr(b, ",\n \"");
    bufAppendStr(b, name);
    bufAppendStr(b, "\": [");
    for (int i = 0; i < l->n; i++) {
        bufAppendStr(b, i ? ", {\"" : "{\"");
        bufAppendStr(b, key);
        bufAppendStr(b, "\": ");
        bufAppendJson(b, l->items[i].name);
        bufAppendStr(b, ", \"views\": ");
        bufAppendInt(b, l->items[i].views);
        bufAppendStr(b, "}");
    }
    bufAppendStr(b, "]");
}

/* Appends , "name": n. */
static void jsonNumber(buf *b, const char *name, long long n) {
    bufAppendStr(b, ", \"");
    bufAppendStr(b, name);
    bufAppendStr(b, "\": ");
    bufAppendInt(b, n);
}

void statsJson(const stats *st, buf *b) {
    bufAppendStr(b, "{\"visits\": ");
    bufAppendInt(b, st->visits);
    bufAppendStr(b, ",\n \"period\": {\"name\": ");
    bufAppendJson(b, st->period);
    bufAppendStr(b, ", \"from\": ");
    bufAppendJson(b, st->from);
    bufAppendStr(b, ", \"to\": ");
    bufAppendJson(b, st->to);
    bufAppendStr(b, "},\n \"views\": ");
    bufAppendInt(b, st->views);
    jsonNumber(b, "visitors", st->visitors);
    jsonNumber(b, "live_visitors", st->live);
    jsonNumber(b, "bots", st->bots);
    jsonList(b, "pages", "path", &st->pages);
    jsonList(b, "referrers", "host", &st->referrers);
    jsonList(b, "browsers", "name", &st->browsers);
    jsonList(b, "systems", "name", &st->systems);
    jsonList(b, "devices", "name", &st->devices);
    bufAppendStr(b, ",\n \"hours\": [");
    for (int i = 0; i < STATS_HOURS; i++) {
        bufAppendStr(b, i ? ", {\"hour\": \"" : "{\"hour\": \"");
        bufAppendStr(b, st->hours[i].hour);
        bufAppendStr(b, ":00Z\"");
        jsonNumber(b, "views", st->hours[i].views);
        jsonNumber(b, "visitors", st->hours[i].visitors);
        bufAppendStr(b, "}");
    }
    bufAppendStr(b, "],\n \"days\": [");
    for (int i = 0; i < STATS_DAYS; i++) {
        bufAppendStr(b, i ? ", {\"date\": " : "{\"date\": ");
        bufAppendJson(b, st->days[i].day);
        jsonNumber(b, "views", st->days[i].views);
        jsonNumber(b, "visitors", st->days[i].visitors);
        bufAppendStr(b, "}");
    }
    bufAppendStr(b, "]}\n");
}

int statsCsv(store *s, time_t from, time_t to, buf *b) {
    int rc = 0, days = (int)((to - from) / DAY_S) + 1;
    for (int d = 0; d < days; d++) {
        char day[CLOCK_DAY_LEN];
        clockDay(from + d * DAY_S, day);
        APPEND_KEY(s, "HGETALL", KEY_VIEWS_DAY, day, "");
    }
    redisReply **r = rc == 0 ? malloc((size_t)days * sizeof(*r)) : NULL;
    int n = r ? storeExec(s, r, days) : -1;
    if (n < 0) {
        free(r);
        return -1;
    }
    bufAppendStr(b, "date,path,views\r\n");
    for (int d = 0; d < n; d++) {
        char day[CLOCK_DAY_LEN];
        clockDay(from + d * DAY_S, day);
        statsList paths;
        if (mergeNames(&r[d], 1, &paths) < 0) rc = -1;
        for (int p = 0; p < paths.n; p++) {
            bufAppendStr(b, day);
            bufAppendStr(b, ",");
            bufAppendCsv(b, paths.items[p].name);
            bufAppendStr(b, ",");
            bufAppendInt(b, paths.items[p].views);
            bufAppendStr(b, "\r\n");
        }
    }
    storeFreeReplies(r, n);
    free(r);
    return rc;
}
