/* unit-tests: runs every suite and exits non-zero when any check fails. */
#include <stdlib.h>

#include "suites.h"

int main(void) {
    SRunner *sr = srunner_create(templateSuite());
    srunner_add_suite(sr, configSuite());
    srunner_add_suite(sr, requestSuite());
    srunner_add_suite(sr, responseSuite());
    srunner_add_suite(sr, routesSuite());
    srunner_add_suite(sr, uaSuite());
    srunner_add_suite(sr, referrerSuite());
    srunner_add_suite(sr, cidrSuite());
    srunner_add_suite(sr, siphashSuite());
    srunner_add_suite(sr, chartSuite());
    srunner_add_suite(sr, clockSuite());
    srunner_add_suite(sr, statsSuite());
    srunner_add_suite(sr, metricsSuite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
