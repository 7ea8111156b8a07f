/* resolve: the address to connect to for Redis's host name, without a request ever waiting
 * on DNS for longer than it would wait for Redis.
 *
 * getaddrinfo() has no timeout. In Docker, looking up the name of a stopped container
 * waits for the upstream resolvers (10-20 s seen), far beyond REDIS_TIMEOUT_MS, and every
 * request that reconnected would wait with it. So lookups run in a thread of their own,
 * one at a time per process, and callers keep using the last address found while a new
 * lookup is under way. */
#ifndef KT_RESOLVE_H
#define KT_RESOLVE_H

#include <stddef.h>

#define RESOLVE_ADDR_MAX 64  /* room for any numeric IPv4 or IPv6 address */

/* Puts a numeric address for host into addr (RESOLVE_ADDR_MAX bytes); a host that is a
 * numeric address already is copied. Starts a lookup (unless one is running) when refresh
 * is set, because connecting to the last address failed, or when no address is known;
 * waits for it at most waitMs, and only when there is no known address to fall back on.
 * Returns 0, or -1 with *why (a static string) when no address is known. Safe from any
 * thread. */
int resolveHost(const char *host, int refresh, int waitMs, char *addr, const char **why);

#endif
