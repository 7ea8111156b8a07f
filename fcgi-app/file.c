/* file: whole small files; see file.h. */
#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *fileRead(const char *path, size_t maxBytes, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *data = malloc(maxBytes + 1);
    size_t n = data ? fread(data, 1, maxBytes + 1, f) : 0;
    int failed = data == NULL || ferror(f);
    fclose(f);
    if (failed) {
        snprintf(err, errlen, "%s: %s", path, data ? "read error" : "out of memory");
    } else if (n > maxBytes) {
        snprintf(err, errlen, "%s: larger than %zu bytes", path, maxBytes);
        failed = 1;
    } else if (memchr(data, '\0', n)) {
        snprintf(err, errlen, "%s: contains a NUL byte", path);
        failed = 1;
    }
    if (failed) {
        free(data);
        return NULL;
    }
    data[n] = '\0';
    return data;
}
