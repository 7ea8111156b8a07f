/* log: the worker's one log-line format, "khalid-fcgi[pid]: message", on stderr (docker
 * logs, and the native stack's terminal, interleave several workers). */
#ifndef KT_LOG_H
#define KT_LOG_H

/* Writes one line with a single write(), so lines from several threads never mix. Lines
 * longer than about 1 KiB are cut. Safe from any thread. */
void logLine(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
