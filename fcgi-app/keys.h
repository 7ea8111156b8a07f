/* keys: every Redis key the worker reads or writes, in one place. %s is a UTC bucket name
 * from clock.h: a day "2026-12-01", an hour "2026-12-01T13" or a minute "2026-12-01T13:07".
 * Every key with a time in its name expires: it is given its expiry in the same round
 * trip that writes it. */
#ifndef KT_KEYS_H
#define KT_KEYS_H

/* The all-time visit counter: /count increments it, as in the original demo. */
#define KEY_VISITS "visits"

#define KEY_VIEWS_TOTAL "views:total"            /* hash: path -> views, all time */
#define KEY_VIEWS_DAY "views:day:%s"             /* hash: path -> views */
#define KEY_VIEWS_HOUR "views:hour:%s"           /* hash: path -> views */
#define KEY_VISITORS_DAY "visitors:day:%s"       /* HyperLogLog of visitor hashes */
#define KEY_VISITORS_HOUR "visitors:hour:%s"     /* HyperLogLog */
#define KEY_VISITORS_MINUTE "visitors:minute:%s" /* HyperLogLog, for live visitors */
#define KEY_REFERRERS_DAY "referrers:day:%s"     /* sorted set: host -> views, capped */
#define KEY_BROWSERS_DAY "browsers:day:%s"       /* sorted set: name -> views */
#define KEY_SYSTEMS_DAY "systems:day:%s"         /* sorted set: name -> views */
#define KEY_DEVICES_DAY "devices:day:%s"         /* sorted set: name -> views */
#define KEY_BOTS_DAY "bots:day:%s"               /* counter of bot requests */
#define KEY_SALT_DAY "salt:day:%s"               /* the day's random visitor-hash key */
#define KEY_METRICS_WORKER "metrics:worker:%s"   /* a worker's metrics snapshot; %s host/pid */
#define KEY_METRICS_MATCH "metrics:worker:*"

#define KEY_MAX 64                               /* room for any key name above */

#define TTL_DAY_S (401 * 86400)                  /* per-day figures: 400 days and a bit */
#define TTL_HOUR_S (50 * 3600)                   /* per-hour figures: 48 hours and a bit */
#define TTL_MINUTE_S (10 * 60)                   /* live visitors look 5 minutes back */
#define TTL_SALT_S (25 * 3600)                   /* the salt outlives its day by an hour */
#define TTL_METRICS_S 5                          /* a dead worker's metrics go in seconds */

/* A day's referrers, browsers, systems and devices keep this many names at most: the
 * ones with the fewest views are dropped first (see README, "What is recorded"). */
#define TOP_NAMES_MAX 500

#endif
