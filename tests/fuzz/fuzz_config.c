/* libFuzzer target: configuration from environment variables (config.c), given as
 * NAME=value lines (see fuzz.h). REDIS_PASSWORD_FILE is rewritten so that the fuzzer
 * never reads a file of its choosing: a value starting with '<' becomes a scratch file
 * holding the rest, any other value a path under a directory that does not exist. Besides
 * crashes and undefined behaviour it checks that an error is one line naming a variable
 * that is set, and that what loads is what was set. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static char scratchDir[4096], passwordPath[4096 + 16];

static void removeScratch(void) {
    unlink(passwordPath);
    rmdir(scratchDir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    /* A crash skips removeScratch(): make fuzz points TMPDIR at a directory it removes. */
    const char *tmp = getenv("TMPDIR");
    snprintf(scratchDir, sizeof(scratchDir), "%s/fuzz_config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(scratchDir) == NULL) abort();
    snprintf(passwordPath, sizeof(passwordPath), "%s/password", scratchDir);
    atexit(removeScratch);
    return 0;
}

/* Rewrites the REDIS_PASSWORD_FILE that configLoad() will see; returns the path to free,
 * or NULL, and in *content what the file holds (NULL when there is no file). */
static char *rewritePasswordFile(fuzzParams *p, const char **content) {
    *content = NULL;
    for (int i = 0; i < p->n; i++) {
        if (strcmp(p->name[i], "REDIS_PASSWORD_FILE") != 0) continue;
        const char *v = p->value[i];
        if (v[0] == '\0') return NULL;
        size_t n = strlen(scratchDir) + strlen(v) + sizeof("/missing/");
        char *path = malloc(n);
        if (path == NULL) abort();
        if (v[0] == '<') {
            FILE *f = fopen(passwordPath, "wb");
            if (f == NULL || fputs(v + 1, f) == EOF || fclose(f) != 0) abort();
            snprintf(path, n, "%s", passwordPath);
            *content = v + 1;
        } else {
            snprintf(path, n, "%s/missing/%s", scratchDir, v);
        }
        p->value[i] = path;
        return path;
    }
    return NULL;
}

/* The variable's value, or NULL when it is unset or empty (which count the same). */
static const char *setValue(fuzzParams *p, const char *name) {
    const char *v = fuzzParam(name, p);
    return v && *v ? v : NULL;
}

/* Aborts unless err is one printable line "NAME=..." naming a variable that is set. */
static void checkError(const char *err, fuzzParams *p) {
    size_t nameLen = strspn(err, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
    if (nameLen == 0 || err[nameLen] != '=') abort();
    for (const char *c = err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) abort();
    char name[64];
    if (nameLen >= sizeof(name)) abort();
    memcpy(name, err, nameLen);
    name[nameLen] = '\0';
    if (setValue(p, name) == NULL) abort();
}

/* Aborts unless field holds the variable's value, or def when it is not set. */
static void checkString(const char *field, fuzzParams *p, const char *name, const char *def) {
    const char *v = setValue(p, name);
    if (strcmp(field, v ? v : def) != 0) abort();
    for (const char *c = field; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) abort();
}

static void checkLoaded(const config *c, fuzzParams *p, const char *fileContent) {
    checkString(c->redisHost, p, "REDIS_HOST", "redis");
    checkString(c->appName, p, "APP_NAME", "Khalid Tracker");
    checkString(c->templateDir, p, "TEMPLATE_DIR", "templates");
    checkString(c->githubUrl, p, "GITHUB_URL", "https://github.com/");
    checkString(c->linkedinUrl, p, "LINKEDIN_URL", "https://www.linkedin.com/");
    if (strncmp(c->githubUrl, "http", 4) != 0 || strncmp(c->linkedinUrl, "http", 4) != 0) abort();
    const char *password = setValue(p, "REDIS_PASSWORD");
    if (password ? strcmp(c->redisPassword, password) != 0
                 : fileContent ? strncmp(c->redisPassword, fileContent, strcspn(fileContent, "\r\n")) != 0 ||
                                     strlen(c->redisPassword) != strcspn(fileContent, "\r\n")
                               : c->redisPassword[0] != '\0')
        abort();
    if (c->redisPort < 1 || c->redisPort > 65535 || c->redisTimeoutMs < 10 || c->redisTimeoutMs > 60000 ||
        c->threads < 1 || c->threads > 1024 || (c->showServedBy != 0 && c->showServedBy != 1) ||
        (c->tracking != 0 && c->tracking != 1) || c->ignoreIps.n < 0 || c->ignoreIps.n > CIDR_MAX)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzzString(data, size);
    fuzzParams p;
    fuzzParseParams(text, size, &p);
    const char *fileContent;
    char *path = rewritePasswordFile(&p, &fileContent);
    static config c;
    char err[512] = "";
    if (configLoad(&c, fuzzParam, &p, err, sizeof(err)) == 0)
        checkLoaded(&c, &p, fileContent);
    else
        checkError(err, &p);
    free(path);
    free(text);
    return 0;
}
