"""What every answer of the site must look like, as lists of problems (empty: fine), so a
test can collect them for many pages into one failure:

    e = Errors()
    for prob in security_problems(r, "GET /") + layout_problems(r.text, "/"):
        e.check(False, prob)

security_problems(): the security headers nginx adds to every answer, errors included;
layout_problems(): the page is rendered in the shared layout; inline_code_problems():
nothing the CSP would block; foreign_refs(): links and sources to other origins;
visits_on(): the number a /count page shows. Standard library only.
"""
import html
import re

from lib.http_client import Response

APP_NAME = "Khalid Tracker"
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
                    "Referrer-Policy")
VISITS_RE = re.compile(r'id="visits"[^>]*>(\d+)<')
ATTR_RE = re.compile(r"""\b(src|href|action|formaction|poster|data|srcset|xlink:href)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))""",
                     re.I)


def security_problems(resp, what):
    """Missing or wrong security headers on one response."""
    out = []
    for h in SECURITY_HEADERS:
        vals = resp.header_all(h)
        if len(vals) != 1:
            out.append("%s: %d %s headers" % (what, len(vals), h))
    csp = resp.header("Content-Security-Policy") or ""
    if csp:
        for part in ("default-src 'none'", "frame-ancestors 'none'"):
            if part not in csp:
                out.append("%s: CSP lacks %s" % (what, part))
        if re.search(r"https?:|\*|//", csp):
            out.append("%s: CSP allows another origin: %s" % (what, csp))
    if (resp.header("X-Content-Type-Options") or "").lower() not in ("", "nosniff"):
        out.append("%s: X-Content-Type-Options is %r" % (what, resp.header("X-Content-Type-Options")))
    if (resp.header("X-Frame-Options") or "DENY").upper() not in ("DENY", "SAMEORIGIN"):
        out.append("%s: X-Frame-Options is %r" % (what, resp.header("X-Frame-Options")))
    server = resp.header("Server")
    if server is not None and re.search(r"\d", server):
        out.append("%s: Server header shows a version: %r" % (what, server))
    return out


def raw_security_problems(headers, what):
    """security_problems() for the (name, value) headers of a raw answer."""
    return security_problems(Response(None, "", headers, b""), what)


def layout_problems(body, what, app_name=APP_NAME):
    """Whether a page is rendered in the site's shared layout."""
    out = []
    for needle in ("<!doctype html>", 'href="/static/style.css"', 'class="site-header"',
                   'class="site-footer"', app_name):
        if needle not in body:
            out.append("%s: page lacks %r (not the shared layout)" % (what, needle))
    return out


def foreign_refs(body, allowed):
    """Attribute values that point to another origin, except the allowed links."""
    bad = []
    for m in ATTR_RE.finditer(body):
        val = html.unescape(m.group(3) or m.group(4) or m.group(5) or "").strip()
        if re.match(r"(?i)^([a-z][a-z0-9+.-]*:|//)", val) and val not in allowed:
            bad.append("%s=%r" % (m.group(1), val))
        elif m.group(1).lower() == "src" and re.match(r"(?i)^https?:", val):
            bad.append("src=%r" % val)
    return bad


def inline_code_problems(body, what):
    """Scripts, inline styles and event handlers: the CSP blocks them, so a page must not
    need them."""
    out = []
    if re.search(r"(?i)<script", body):
        out.append("%s: has a <script> element" % what)
    if re.search(r"(?i)<style", body):
        out.append("%s: has an inline <style> (blocked by the CSP)" % what)
    if re.search(r"(?i)\sstyle\s*=", body):
        out.append("%s: has a style= attribute (blocked by the CSP)" % what)
    m = re.search(r"(?i)\son[a-z]+\s*=", body)
    if m:
        out.append("%s: has an inline event handler %r" % (what, m.group(0).strip()))
    return out


def visits_on(body):
    """The number in id="visits" on a /count page, or None."""
    m = VISITS_RE.search(body)
    return int(m.group(1)) if m else None
