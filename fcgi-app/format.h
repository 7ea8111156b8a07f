/* format: numbers as people read them. Pure functions. */
#ifndef KT_FORMAT_H
#define KT_FORMAT_H

#include <stddef.h>

/* Writes n with a comma every three digits (1234567 -> "1,234,567") into out, cut to
 * fit outlen (40 bytes always suffice). */
void formatGrouped(long long n, char *out, size_t outlen);

#endif
