/* ua: User-Agent classification from one table of markers; see ua.h. */
#include "ua.h"

#include <string.h>

typedef enum uaKind { UA_BOT, UA_BROWSER, UA_SYSTEM, UA_DEVICE, UA_KINDS } uaKind;

typedef struct uaRule {
    uaKind kind;
    const char *marker; /* lowercase ASCII; found anywhere in the header, ignoring case */
    const char *also;   /* NULL, or a second marker the header must contain as well */
    const char *name;   /* the browser, system or device the rule names; NULL for bots */
} uaRule;

/* The table is documented in README.md ("What is recorded"): change both together.
 * Within each kind the first rule in table order that matches wins, so order matters:
 * Edge, Opera and Samsung Internet also say "Chrome/", Chrome also says "Safari/", iPads
 * also say "like Mac OS X" and "Mobile/", and Android phones also say "Linux". */
static const uaRule rules[] = {
    /* Bots: crawlers, headless browsers, HTTP libraries and command-line clients,
     * monitors, link previews and scanners. "+http" catches the contact URL that
     * well-behaved bots put in their User-Agent; browsers never do. */
    {UA_BOT, "bot", NULL, NULL},
    {UA_BOT, "crawl", NULL, NULL},
    {UA_BOT, "spider", NULL, NULL},
    {UA_BOT, "slurp", NULL, NULL},
    {UA_BOT, "archiver", NULL, NULL},
    {UA_BOT, "+http", NULL, NULL},
    {UA_BOT, "google-", NULL, NULL},
    {UA_BOT, "-google", NULL, NULL},
    {UA_BOT, "googleother", NULL, NULL},
    {UA_BOT, "headless", NULL, NULL},
    {UA_BOT, "phantomjs", NULL, NULL},
    {UA_BOT, "lighthouse", NULL, NULL},
    {UA_BOT, "curl", NULL, NULL},
    {UA_BOT, "wget", NULL, NULL},
    {UA_BOT, "httpie", NULL, NULL},
    {UA_BOT, "python-requests", NULL, NULL},
    {UA_BOT, "python-urllib", NULL, NULL},
    {UA_BOT, "python-httpx", NULL, NULL},
    {UA_BOT, "aiohttp", NULL, NULL},
    {UA_BOT, "go-http-client", NULL, NULL},
    {UA_BOT, "java/", NULL, NULL},
    {UA_BOT, "okhttp", NULL, NULL},
    {UA_BOT, "libwww", NULL, NULL},
    {UA_BOT, "httpclient", NULL, NULL},
    {UA_BOT, "axios", NULL, NULL},
    {UA_BOT, "node-fetch", NULL, NULL},
    {UA_BOT, "undici", NULL, NULL},
    {UA_BOT, "guzzlehttp", NULL, NULL},
    {UA_BOT, "ruby", NULL, NULL},
    {UA_BOT, "dart:io", NULL, NULL},
    {UA_BOT, "scrapy", NULL, NULL},
    {UA_BOT, "postmanruntime", NULL, NULL},
    {UA_BOT, "powershell", NULL, NULL},
    {UA_BOT, "dalvik/", NULL, NULL},
    {UA_BOT, "cfnetwork/", NULL, NULL},
    {UA_BOT, "pingdom", NULL, NULL},
    {UA_BOT, "uptime", NULL, NULL},
    {UA_BOT, "monitor", NULL, NULL},
    {UA_BOT, "statuscake", NULL, NULL},
    {UA_BOT, "preview", NULL, NULL},
    {UA_BOT, "facebookexternalhit", NULL, NULL},
    {UA_BOT, "whatsapp", NULL, NULL},
    {UA_BOT, "embedly", NULL, NULL},
    {UA_BOT, "nmap", NULL, NULL},
    {UA_BOT, "masscan", NULL, NULL},
    {UA_BOT, "zgrab", NULL, NULL},
    {UA_BOT, "nuclei", NULL, NULL},
    {UA_BOT, "sqlmap", NULL, NULL},
    {UA_BOT, "nikto", NULL, NULL},

    {UA_BROWSER, "edg/", NULL, "Edge"},
    {UA_BROWSER, "edga/", NULL, "Edge"},
    {UA_BROWSER, "edgios/", NULL, "Edge"},
    {UA_BROWSER, "edge/", NULL, "Edge"},
    {UA_BROWSER, "opr/", NULL, "Opera"},
    {UA_BROWSER, "opera", NULL, "Opera"},
    {UA_BROWSER, "samsungbrowser/", NULL, "Samsung Internet"},
    {UA_BROWSER, "firefox/", NULL, "Firefox"},
    {UA_BROWSER, "fxios/", NULL, "Firefox"},
    {UA_BROWSER, "chrome/", NULL, "Chrome"},
    {UA_BROWSER, "crios/", NULL, "Chrome"},
    {UA_BROWSER, "safari/", "version/", "Safari"},

    {UA_SYSTEM, "iphone", NULL, "iOS"},
    {UA_SYSTEM, "ipad", NULL, "iOS"},
    {UA_SYSTEM, "ipod", NULL, "iOS"},
    {UA_SYSTEM, "android", NULL, "Android"},
    /* With the space: "cros" alone is inside "Microsoft". */
    {UA_SYSTEM, "cros ", NULL, "ChromeOS"},
    {UA_SYSTEM, "windows", NULL, "Windows"},
    {UA_SYSTEM, "macintosh", NULL, "macOS"},
    {UA_SYSTEM, "mac os x", NULL, "macOS"},
    {UA_SYSTEM, "linux", NULL, "Linux"},

    {UA_DEVICE, "ipad", NULL, "tablet"},
    {UA_DEVICE, "tablet", NULL, "tablet"},
    {UA_DEVICE, "mobi", NULL, "mobile"},
    {UA_DEVICE, "iphone", NULL, "mobile"},
    {UA_DEVICE, "ipod", NULL, "mobile"},
    /* Android browsers say "Mobile" on phones only, so an Android that got past the
     * mobile rules is a tablet. */
    {UA_DEVICE, "android", NULL, "tablet"},
};

#define RULES (sizeof(rules) / sizeof(rules[0]))
_Static_assert(RULES < 255, "rule numbers are stored in unsigned char");

/* ASCII lowercase, independent of the locale. */
static unsigned char lower(unsigned char c) {
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Whether s starts with the lowercase marker m, ignoring the case of s. */
static int startsWith(const char *s, const char *m) {
    for (; *m; s++, m++)
        if (lower((unsigned char)*s) != (unsigned char)*m) return 0;
    return 1;
}

/* Whether s contains the lowercase marker m anywhere, ignoring the case of s. */
static int contains(const char *s, const char *m) {
    for (; *s; s++)
        if (startsWith(s, m)) return 1;
    return 0;
}

/* Buckets for a marker's first two bytes (every marker has at least two): the low five
 * bits of each, which are the same for both cases of an ASCII letter, so the header
 * needs no lowering to find its bucket. */
#define BUCKETS 1024

static unsigned bucket(unsigned char a, unsigned char b) {
    return (a & 31u) << 5 | (b & 31u);
}

/* One pass over the header: at each byte only the rules whose marker's first two bytes
 * share a bucket with the header's next two are tried (chained in head/next, numbered
 * from 1), so the cost is one scan of the header, not one per marker. */
void uaClassify(const char *ua, uaInfo *out) {
    unsigned char head[BUCKETS] = {0}, next[RULES], found[RULES] = {0};
    for (size_t r = RULES; r-- > 0;) {
        unsigned b = bucket((unsigned char)rules[r].marker[0], (unsigned char)rules[r].marker[1]);
        next[r] = head[b];
        head[b] = (unsigned char)(r + 1);
    }
    for (const char *p = ua; *p; p++)
        for (unsigned r = head[bucket((unsigned char)p[0], (unsigned char)p[1])]; r; r = next[r - 1])
            if (!found[r - 1] && startsWith(p, rules[r - 1].marker)) found[r - 1] = 1;

    const char *name[UA_KINDS] = {NULL, NULL, NULL, NULL};
    int bot = ua[strspn(ua, " \t")] == '\0';
    for (size_t r = 0; r < RULES; r++) {
        const uaRule *rule = &rules[r];
        if (!found[r] || (rule->kind != UA_BOT && name[rule->kind])) continue;
        if (rule->also && !contains(ua, rule->also)) continue;
        if (rule->kind == UA_BOT) bot = 1;
        else name[rule->kind] = rule->name;
    }
    out->bot = bot;
    out->browser = name[UA_BROWSER] ? name[UA_BROWSER] : "Other";
    out->system = name[UA_SYSTEM] ? name[UA_SYSTEM] : "Other";
    out->device = name[UA_DEVICE] ? name[UA_DEVICE] : "desktop";
}
