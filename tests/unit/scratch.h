/* scratch: a temp directory per test case for tests that need files. It is made before
 * the case's tests and removed, with everything in it, after them, in the runner's own
 * process: a failed assertion ends only the forked test, so nothing is left behind. */
#ifndef KT_TEST_SCRATCH_H
#define KT_TEST_SCRATCH_H

#include <check.h>
#include <stddef.h>

/* Registers the directory's setup and removal on tc (an unchecked fixture). */
void scratchAdd(TCase *tc);

/* Writes text to a file named name in the directory and puts its path in path. */
void scratchWrite(const char *name, const char *text, char *path, size_t pathlen);

#endif
