/* referrer: the host a visitor came from, taken from the Referer header. Pure. */
#ifndef KT_REFERRER_H
#define KT_REFERRER_H

#include <stddef.h>

/* Writes the host of referer (an absolute http:// or https:// URL, scheme in any case)
 * into out, lowercased, without userinfo, port or trailing dot, and returns its length.
 * A host is a name of dot-separated, non-empty labels of [a-z0-9_-], or an IPv6 literal
 * kept in its brackets ("[2001:db8::1]"). Returns 0, with out set to "", when there is
 * nothing to record: no header, another scheme, a malformed host (a control character
 * or space anywhere before the path, any other byte, a port that is not digits), an
 * overlong one (more than 253 bytes or outlen - 1), or the site's own host (ownHost,
 * "host" or "host:port", compared the same way without its port; may be "" or NULL). */
size_t referrerHost(const char *referer, const char *ownHost, char *out, size_t outlen);

#endif
