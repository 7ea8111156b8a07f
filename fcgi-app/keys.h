/* keys: every Redis key the worker writes, in one place. */
#ifndef KT_KEYS_H
#define KT_KEYS_H

/* The all-time visit counter: /count increments it, as in the original demo. */
#define KEY_VISITS "visits"

#endif
