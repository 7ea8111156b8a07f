/* unit-tests: runs every pure suite and exits non-zero when any check fails. */
#include <stdlib.h>

#include "suites.h"

int main(void) {
    SRunner *sr = srunner_create(templateSuite());
    srunner_add_suite(sr, configSuite());
    srunner_add_suite(sr, httpSuite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
