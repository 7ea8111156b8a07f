/* log: one line per event; see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#define LOG_LINE_MAX 1024

void logLine(const char *fmt, ...) {
    char line[LOG_LINE_MAX];
    int n = snprintf(line, sizeof(line), "khalid-fcgi[%ld]: ", (long)getpid());
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;
    line[len++] = '\n';
    /* Nothing useful is left to do when stderr itself fails. */
    if (write(STDERR_FILENO, line, len) < 0) return;
}
