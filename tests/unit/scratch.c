/* scratch: see scratch.h. */
#define _XOPEN_SOURCE 700
#include "scratch.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];

static void make(void) {
    snprintf(dir, sizeof(dir), "%s", "/tmp/kt-unit-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int removeOne(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static void removeAll(void) {
    if (dir[0]) nftw(dir, removeOne, 8, FTW_DEPTH | FTW_PHYS);
    dir[0] = '\0';
}

void scratchAdd(TCase *tc) {
    tcase_add_unchecked_fixture(tc, make, removeAll);
}

void scratchWrite(const char *name, const char *text, char *path, size_t pathlen) {
    ck_assert_msg(dir[0] != '\0', "scratchAdd() was not called for this test case");
    ck_assert_int_lt(snprintf(path, pathlen, "%s/%s", dir, name), (int)pathlen);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}
