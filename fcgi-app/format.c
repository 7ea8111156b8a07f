/* format: see format.h. */
#include "format.h"

#include <stdio.h>

void formatGrouped(long long n, char *out, size_t outlen) {
    char digits[32];
    int len = snprintf(digits, sizeof(digits), "%lld", n);
    int neg = digits[0] == '-';
    size_t o = 0;
    for (int i = 0; i < len && o + 1 < outlen; i++) {
        out[o++] = digits[i];
        int left = len - i - 1;
        if (left > 0 && left % 3 == 0 && !(neg && i == 0) && o + 1 < outlen) out[o++] = ',';
    }
    if (outlen) out[o] = '\0';
}
