/* ua: what a User-Agent header says about the client, from a small table of markers
 * (documented in README.md, "What is recorded"). Pure: no I/O, no allocation. */
#ifndef KT_UA_H
#define KT_UA_H

typedef struct uaInfo {
    int bot;              /* an automated client: counted only as a bot */
    const char *browser;  /* e.g. "Firefox", "Chrome", "Safari", "Edge", "Other" */
    const char *system;   /* e.g. "Windows", "macOS", "Linux", "Android", "iOS", "Other" */
    const char *device;   /* "desktop", "mobile" or "tablet" */
} uaInfo;

/* Classifies ua (never NULL; "" when the header was absent: empty or blank counts as a
 * bot). Markers are matched anywhere in ua, ignoring ASCII case; browser, system and
 * device are filled in for bots too. The strings in *out are literals: they live forever.
 * Cost: one pass over ua, whatever the number of markers. */
void uaClassify(const char *ua, uaInfo *out);

#endif
