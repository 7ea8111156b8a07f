/* config: environment-variable settings; see config.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

static const char *processGetenv(const char *name, void *ud) {
    (void)ud;
    return getenv(name);
}

typedef struct source {
    configGetenv get;
    void *ud;
    char *err;
    size_t errlen;
} source;

/* Returns the variable's value, or NULL when it is unset or empty. */
static const char *lookup(const source *s, const char *name) {
    const char *v = s->get(name, s->ud);
    return v && *v ? v : NULL;
}

/* Formats "NAME=value: why" on one line: the value is cut at 80 bytes and its control
 * characters shown as '?', so a bad value cannot forge log lines. */
static int invalid(const source *s, const char *name, const char *value, const char *why) {
    snprintf(s->err, s->errlen, "%s=%.80s%s: %s", name, value, strlen(value) > 80 ? "..." : "", why);
    /* Control characters of the value, and of why, which may quote it again uncut
     * (fileRead's "path: reason"), become '?'. */
    for (char *c = s->err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return -1;
}

static int readInt(const source *s, const char *name, int min, int max, int *out) {
    const char *v = lookup(s, name);
    if (v == NULL) return 0;
    char why[64];
    snprintf(why, sizeof(why), "expected an integer from %d to %d", min, max);
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || *end != '\0' || errno == ERANGE || n < min || n > max || v[0] == ' ' ||
        v[0] == '+')
        return invalid(s, name, v, why);
    *out = (int)n;
    return 0;
}

static int readBool(const source *s, const char *name, int *out) {
    static const char *const yes[] = {"1", "true", "yes", "on", NULL};
    static const char *const no[] = {"0", "false", "no", "off", NULL};
    const char *v = lookup(s, name);
    if (v == NULL) return 0;
    for (int i = 0; yes[i]; i++) {
        if (strcmp(v, yes[i]) == 0) { *out = 1; return 0; }
        if (strcmp(v, no[i]) == 0) { *out = 0; return 0; }
    }
    return invalid(s, name, v, "expected 1/0, true/false, yes/no or on/off");
}

/* Copies the value into out (size n), refusing control characters and overlong values. */
static int readString(const source *s, const char *name, char *out, size_t n) {
    const char *v = lookup(s, name);
    if (v == NULL) return 0;
    if (strlen(v) >= n) return invalid(s, name, v, "too long");
    for (const unsigned char *c = (const unsigned char *)v; *c; c++)
        if (*c < 0x20 || *c == 0x7f) return invalid(s, name, v, "contains a control character");
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* A link shown to visitors must be an absolute http(s) URL, never javascript: or similar. */
static int readUrl(const source *s, const char *name, char *out, size_t n) {
    if (readString(s, name, out, n) < 0) return -1;
    if (strncmp(out, "https://", 8) != 0 && strncmp(out, "http://", 7) != 0)
        return invalid(s, name, out, "expected an http:// or https:// URL");
    if (strpbrk(out, " \"'<>`") != NULL) return invalid(s, name, out, "URL contains a space or quote");
    return 0;
}

static int readCidrs(const source *s, const char *name, cidrList *out) {
    const char *v = lookup(s, name);
    if (v == NULL) return 0;
    char why[256];
    return cidrParse(v, out, why, sizeof(why)) < 0 ? invalid(s, name, v, why) : 0;
}

static int readPassword(const source *s, config *c) {
    const char *pw = lookup(s, "REDIS_PASSWORD"), *file = lookup(s, "REDIS_PASSWORD_FILE");
    if (pw && file)
        return invalid(s, "REDIS_PASSWORD_FILE", file, "set either it or REDIS_PASSWORD, not both");
    if (pw) return readString(s, "REDIS_PASSWORD", c->redisPassword, sizeof(c->redisPassword));
    if (file == NULL) return 0;
    char why[256];
    char *data = fileRead(file, sizeof(c->redisPassword) - 1, why, sizeof(why));
    if (data == NULL) return invalid(s, "REDIS_PASSWORD_FILE", file, why);
    /* Secret files usually end with a newline that is not part of the password. */
    data[strcspn(data, "\r\n")] = '\0';
    int empty = data[0] == '\0';
    if (!empty) memcpy(c->redisPassword, data, strlen(data) + 1);
    free(data);
    return empty ? invalid(s, "REDIS_PASSWORD_FILE", file, "the file holds no password") : 0;
}

int configLoad(config *c, configGetenv get, void *ud, char *err, size_t errlen) {
    *c = (config){
        .redisHost = "redis",
        .redisPort = 6379,
        .redisTimeoutMs = 500,
        .appName = "Khalid Tracker",
        .threads = 64,
        .templateDir = "templates",
        .githubUrl = "https://github.com/",
        .linkedinUrl = "https://www.linkedin.com/",
        .showServedBy = 1,
        .tracking = 1,
    };
    source s = {get ? get : processGetenv, ud, err, errlen};
    /* Loopback only, unless METRICS_ALLOW says otherwise. */
    cidrParse("127.0.0.0/8 ::1", &c->metricsAllow, err, errlen);
    if (readString(&s, "REDIS_HOST", c->redisHost, sizeof(c->redisHost)) < 0 ||
        readInt(&s, "REDIS_PORT", 1, 65535, &c->redisPort) < 0 ||
        readString(&s, "REDIS_USERNAME", c->redisUser, sizeof(c->redisUser)) < 0 ||
        readPassword(&s, c) < 0 ||
        readInt(&s, "REDIS_TIMEOUT_MS", 10, 60000, &c->redisTimeoutMs) < 0 ||
        readString(&s, "APP_NAME", c->appName, sizeof(c->appName)) < 0 ||
        readInt(&s, "FCGI_THREADS", 1, 1024, &c->threads) < 0 ||
        readString(&s, "TEMPLATE_DIR", c->templateDir, sizeof(c->templateDir)) < 0 ||
        readUrl(&s, "GITHUB_URL", c->githubUrl, sizeof(c->githubUrl)) < 0 ||
        readUrl(&s, "LINKEDIN_URL", c->linkedinUrl, sizeof(c->linkedinUrl)) < 0 ||
        readBool(&s, "SHOW_SERVED_BY", &c->showServedBy) < 0 ||
        readBool(&s, "TRACKING", &c->tracking) < 0 ||
        readCidrs(&s, "IGNORE_IPS", &c->ignoreIps) < 0 ||
        readCidrs(&s, "METRICS_ALLOW", &c->metricsAllow) < 0)
        return -1;
    return 0;
}
