/* store: the visit counter in Redis, one connection per thread (a hiredis context is not
 * thread-safe).
 *
 * The connection is made lazily and remade after any error, because a hiredis context
 * cannot be used again once it has failed. Every connect and command is bounded by the
 * timeout, so a dead or hung Redis costs a request at most about twice the timeout;
 * after a failure, reconnects back off so a down Redis is not hammered (while one thread
 * per process tries every 100 ms, to find it back soon). The first failure
 * after a success, and the first success after a failure, are logged once per process;
 * so are the first refusal and the first write accepted after refusals. */
#ifndef KT_STORE_H
#define KT_STORE_H

#include <stddef.h>

/* What went wrong, in store.err. */
enum {
    STORE_ERR_IO = 1,  /* Redis unreachable, hung or gone: the connection was dropped */
    STORE_ERR_REPLY,   /* Redis answered, refusing the command (say, out of memory) */
};

typedef struct store {
    int err;           /* STORE_ERR_* of the last call that failed; 0 after a success */
    unsigned long long failures;  /* calls that failed since the store was made */
    char errstr[128];  /* what failed, for the log */
    struct storePriv *priv;
} store;

/* Creates a store for host:port (host starting with '/' is a unix socket). Connects on
 * first use and authenticates as user (an ACL user; NULL or "" is the default user) with
 * password (NULL or "": no AUTH). The strings are copied. Returns NULL only when out of
 * memory. */
store *storeCreate(const char *host, int port, const char *user, const char *password, int timeoutMs);
void storeFree(store *s);

/* INCR key; the new value goes to *value. Returns 0, or -1 with s->err and s->errstr set. */
int storeIncr(store *s, const char *key, long long *value);
/* GET key as an integer (0 when missing). Returns 0 or -1 as storeIncr(). */
int storeGet(store *s, const char *key, long long *value);
/* PING. Returns 0 when Redis answered PONG, -1 otherwise. */
int storePing(store *s);

/* Pipelines: storeAppend() queues commands (formatted as hiredis's redisCommand, with
 * %s and %b arguments) without sending them; storeExec() sends them all in one round
 * trip and reads their replies, which the caller walks as hiredis's redisReply. */
struct redisReply;
/* Returns 0, or -1 with err set when there is no connection (nothing is queued). */
int storeAppend(store *s, const char *fmt, ...);
/* Queues one command given as argc arguments of the given lengths. Returns as above. */
int storeAppendArgv(store *s, int argc, const char **argv, const size_t *argvlen);
/* Sends the queued commands and reads one reply per command into replies (room for as
 * many as were queued; the caller frees them with storeFreeReplies). Returns how many
 * were queued, or -1 with err set on an I/O failure (the connection is dropped and
 * replies are all NULL). A Redis error for one command is a reply of type ERROR. */
int storeExec(store *s, struct redisReply **replies, int max);
void storeFreeReplies(struct redisReply **replies, int n);
/* Sends the queued commands and reads their replies, keeping none: for pipelines of
 * writes. Returns 0, or -1 with err set on an I/O failure or when Redis refused any of
 * them (errstr then holds the first refusal). */
int storeExecWrites(store *s);

#endif
