/* store: the visit counter in Redis, one connection per thread (a hiredis context is not
 * thread-safe).
 *
 * The connection is made lazily and remade after any error, because a hiredis context
 * cannot be used again once it has failed. Every connect and command is bounded by the
 * timeout, so a dead or hung Redis costs a request at most about twice the timeout;
 * after a failure, reconnects back off so a down Redis is not hammered. The first failure
 * after a success, and the first success after a failure, are logged once per process. */
#ifndef KT_STORE_H
#define KT_STORE_H

typedef struct store {
    int err;           /* set by the last call that failed; 0 after a success */
    char errstr[128];  /* what failed, for the log */
    struct storePriv *priv;
} store;

/* Creates a store for host:port (host starting with '/' is a unix socket). Connects on
 * first use. The strings are copied. Returns NULL only when out of memory. */
store *storeCreate(const char *host, int port, const char *password, int timeoutMs);
void storeFree(store *s);

/* INCR key; the new value goes to *value. Returns 0, or -1 with s->err and s->errstr set. */
int storeIncr(store *s, const char *key, long long *value);
/* GET key as an integer (0 when missing). Returns 0 or -1 as storeIncr(). */
int storeGet(store *s, const char *key, long long *value);
/* PING. Returns 0 when Redis answered PONG, -1 otherwise. */
int storePing(store *s);

#endif
