/* file: reading a whole small text file (templates, quotes, secrets) in one call. */
#ifndef KT_FILE_H
#define KT_FILE_H

#include <stddef.h>

/* Reads a whole text file (at most maxBytes) into a NUL-terminated string the caller
 * frees. Returns NULL with "path: reason" in err. A file holding a NUL byte is refused. */
char *fileRead(const char *path, size_t maxBytes, char *err, size_t errlen);

#endif
