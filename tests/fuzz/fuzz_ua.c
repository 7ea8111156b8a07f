/* libFuzzer target: User-Agent classification (ua.c) on any header. Besides crashes and
 * undefined behaviour it checks that every field is a documented name and that the
 * result does not depend on ASCII case. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ua.h"

/* Whether s is one of the NULL-terminated names. */
static int oneOf(const char *s, const char *const *names) {
    for (; *names; names++)
        if (strcmp(s, *names) == 0) return 1;
    return 0;
}

/* Aborts unless info holds documented values only. */
static void checkNames(const uaInfo *info) {
    static const char *const browsers[] = {"Edge", "Opera", "Samsung Internet", "Firefox", "Chrome",
                                           "Safari", "Other", NULL};
    static const char *const systems[] = {"iOS", "Android", "ChromeOS", "Windows", "macOS", "Linux",
                                          "Other", NULL};
    static const char *const devices[] = {"desktop", "mobile", "tablet", NULL};
    if ((info->bot != 0 && info->bot != 1) || !oneOf(info->browser, browsers) ||
        !oneOf(info->system, systems) || !oneOf(info->device, devices))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *ua = fuzzString(data, size);
    uaInfo info, upper;
    uaClassify(ua, &info);
    checkNames(&info);
    for (size_t i = 0; i < size; i++)
        if (ua[i] >= 'a' && ua[i] <= 'z') ua[i] = (char)(ua[i] - 'a' + 'A');
    uaClassify(ua, &upper);
    if (upper.bot != info.bot || strcmp(upper.browser, info.browser) != 0 ||
        strcmp(upper.system, info.system) != 0 || strcmp(upper.device, info.device) != 0)
        abort();
    free(ua);
    return 0;
}
