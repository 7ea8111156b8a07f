/* stats: the tracker's figures read back from Redis for /stats, /api/stats, the CSV
 * export and the badge, in one pipelined round trip per request. */
#ifndef KT_STATS_H
#define KT_STATS_H

#include <time.h>

#include "buf.h"
#include "clock.h"
#include "store.h"

#define STATS_HOURS 48      /* the hourly chart: the last 48 hours, this one included */
#define STATS_DAYS 30       /* the daily chart: the last 30 days, today included */
#define STATS_TOP 20        /* names kept per list, most viewed first */
#define STATS_NAME_MAX 256

typedef struct statsName {
    char name[STATS_NAME_MAX];
    long long views;
} statsName;

typedef struct statsList {
    int n;
    statsName items[STATS_TOP];
} statsList;

typedef struct stats {
    const char *period;                 /* "day", "7d" or "30d" (a literal) */
    char from[CLOCK_DAY_LEN], to[CLOCK_DAY_LEN];
    long long visits, views, visitors, live, bots;
    statsList pages, referrers, browsers, systems, devices;
    struct { char hour[CLOCK_HOUR_LEN]; long long views, visitors; } hours[STATS_HOURS];
    struct { char day[CLOCK_DAY_LEN]; long long views, visitors; } days[STATS_DAYS];
} stats;

/* The number of days of a period name ("day" 1, "7d" 7, "30d" 30), or 0 when unknown. */
int statsPeriodDays(const char *name);

/* Reads every figure for the period ending today (at now) into out. Returns 0, or -1
 * with s->err set when Redis could not be read. */
int statsLoad(store *s, time_t now, const char *period, stats *out);

/* Appends the figures as the JSON document of /api/stats to b. */
void statsJson(const stats *st, buf *b);

/* Reads the views per path of each day from `from` to `to` (UTC midnights, from <= to)
 * and appends them to b as CSV: a "date,path,views" header, then one row per day and
 * path, busiest path first. Returns 0, or -1 with s->err set. */
int statsCsv(store *s, time_t from, time_t to, buf *b);

#endif
