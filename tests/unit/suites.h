/* The suites linked into unit-tests: no server, no network. */
#ifndef KT_TEST_SUITES_H
#define KT_TEST_SUITES_H

#include <check.h>

Suite *templateSuite(void);
Suite *configSuite(void);
Suite *requestSuite(void);
Suite *responseSuite(void);
Suite *routesSuite(void);
Suite *uaSuite(void);
Suite *referrerSuite(void);
Suite *cidrSuite(void);
Suite *siphashSuite(void);
Suite *chartSuite(void);

Suite *clockSuite(void);
Suite *statsSuite(void);
Suite *metricsSuite(void);

#endif
