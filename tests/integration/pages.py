"""Pages and headers: every page and status the site answers, as nginx delivers them
(security headers, layout, no foreign origins, static files, gzip), and the pages with
configured names, links and SHOW_SERVED_BY=0."""
import gzip
import html
import json
import os
import re
import socket

from integration.suite import test
from lib.http_client import http_get, http_request, parse_raw_response, raw_exchange
from lib.pagecheck import (APP_NAME, foreign_refs, inline_code_problems, layout_problems,
                           raw_security_problems, security_problems, visits_on)
from lib.results import Errors
from lib.stack import REPO

DEFAULT_GITHUB = "https://github.com/"
DEFAULT_LINKEDIN = "https://www.linkedin.com/"


@test("pages, status codes, headers, static files")
def t_pages(ctx):
    st = ctx.stack()
    p = st.port
    e = Errors()
    allowed = {DEFAULT_GITHUB, DEFAULT_LINKEDIN}

    r = http_get(p, "/")
    e.check(r.status == 200, "/ answered %s" % r.status)
    e.check((r.header("Content-Type") or "").startswith("text/html"), "/ Content-Type %r" % r.header("Content-Type"))
    body = r.text
    e.check(APP_NAME in body, "/ lacks the app name")
    e.check('href="/count"' in body and 'href="/about"' in body, "/ lacks links to /count and /about")
    for prob in layout_problems(body, "/") + inline_code_problems(body, "/") + security_problems(r, "GET /"):
        e.check(False, prob)
    e.check(not foreign_refs(body, allowed), "/ refers to other origins: %s" % foreign_refs(body, allowed))
    home_len = len(r.body)

    before = st.visits()
    r = http_get(p, "/count")
    e.check(r.status == 200, "/count answered %s" % r.status)
    n = visits_on(r.text)
    e.check(n is not None, 'no id="visits" with plain digits on /count')
    e.check(n == before + 1, "/count showed %s, Redis had %d before" % (n, before))
    e.check(st.visits() == before + 1, "Redis visits is %d after one /count, expected %d" % (st.visits(), before + 1))
    e.check("no-store" in (r.header("Cache-Control") or ""), "/count Cache-Control %r" % r.header("Cache-Control"))
    e.check(re.fullmatch(r"[^/\s]+/\d+", r.header("X-Served-By") or "") is not None,
            "/count X-Served-By %r" % r.header("X-Served-By"))
    with open(os.path.join(REPO, "templates", "quotes.txt"), encoding="utf-8") as f:
        quotes = {q.strip() for q in f if q.strip()}
    m = re.search(r'<blockquote class="quote">\s*<p>(.*?)</p>', r.text, re.S)
    e.check(m is not None and html.unescape(m.group(1)).strip() in quotes, "/count shows no quote from quotes.txt")
    for prob in layout_problems(r.text, "/count") + inline_code_problems(r.text, "/count") + security_problems(r, "GET /count"):
        e.check(False, prob)
    e.check(not foreign_refs(r.text, allowed), "/count refers to other origins: %s" % foreign_refs(r.text, allowed))

    r = http_get(p, "/about")
    e.check(r.status == 200, "/about answered %s" % r.status)
    hrefs = re.findall(r'<a [^>]*href="([^"]*)"[^>]*>(?:(?!</a>).)*?<span>(GitHub|LinkedIn)</span>', r.text, re.S)
    e.check(("https://github.com/", "GitHub") in hrefs, "/about has no GitHub link to %s (found %s)" % (DEFAULT_GITHUB, hrefs))
    e.check(("https://www.linkedin.com/", "LinkedIn") in hrefs, "/about has no LinkedIn link (found %s)" % hrefs)
    for prob in layout_problems(r.text, "/about") + inline_code_problems(r.text, "/about") + security_problems(r, "GET /about"):
        e.check(False, prob)
    e.check(not foreign_refs(r.text, allowed), "/about refers to other origins: %s" % foreign_refs(r.text, allowed))

    r = http_get(p, "/health")
    e.check(r.status == 200, "/health answered %s" % r.status)
    e.check(r.body.strip() == b'{"status":"ok","redis":"up"}', "/health body %r" % r.body)
    e.check((r.header("Content-Type") or "").startswith("application/json"), "/health Content-Type %r" % r.header("Content-Type"))
    try:
        e.check(json.loads(r.body) == {"status": "ok", "redis": "up"}, "/health JSON %r" % r.body)
    except ValueError:
        e.check(False, "/health is not JSON: %r" % r.body)

    r = http_get(p, "/nope")
    e.check(r.status == 404, "/nope answered %s" % r.status)
    e.check("Page not found" in r.text, "/nope is not the site's 404 page")
    for prob in layout_problems(r.text, "404 page") + inline_code_problems(r.text, "404 page") + security_problems(r, "404"):
        e.check(False, prob)
    e.check(not foreign_refs(r.text, allowed), "404 page refers to other origins: %s" % foreign_refs(r.text, allowed))

    # 405 with Allow on known paths; none of them counts a visit.
    before = st.visits()
    for method in ("POST", "PUT", "DELETE"):
        for path in ("/", "/count"):
            r = http_request(p, method, path, body=b"x=1" if method != "DELETE" else None,
                             headers={"Content-Type": "application/x-www-form-urlencoded"} if method != "DELETE" else {})
            what = "%s %s" % (method, path)
            e.check(r.status == 405, "%s answered %s" % (what, r.status))
            e.check(r.header("Allow") == "GET, HEAD", "%s Allow header %r" % (what, r.header("Allow")))
            for prob in security_problems(r, what) + layout_problems(r.text, what):
                e.check(False, prob)
    e.check(st.visits() == before, "POST/PUT/DELETE /count changed visits from %d to %d" % (before, st.visits()))

    # HEAD: headers only, and HEAD /count does not count.
    for path in ("/", "/count", "/about"):
        before = st.visits()
        data, how = raw_exchange(p, b"HEAD %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % path.encode())
        status, headers, rest = parse_raw_response(data)
        e.check(status == 200, "HEAD %s answered %s (%s)" % (path, status, how))
        e.check(rest == b"", "HEAD %s sent a body of %d bytes" % (path, len(rest)))
        e.check(how == "eof", "HEAD %s: connection not closed after the answer (%s)" % (path, how))
        if path == "/":
            cl = dict((k.lower(), v) for k, v in headers).get("content-length")
            e.check(cl is None or int(cl) == home_len, "HEAD / Content-Length %s, GET / body %d" % (cl, home_len))
        e.check(st.visits() == before, "HEAD %s changed visits from %d to %d" % (path, before, st.visits()))

    # nginx's own error answers carry the security headers too.
    for what, req in (("400 (bad percent-encoding)", b"GET /%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                      ("414 (10 KB URL)", b"GET /" + b"a" * 10240 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                      ("404 (missing static file)", b"GET /static/nope.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")):
        data, how = raw_exchange(p, req)
        status, headers, _ = parse_raw_response(data)
        e.check(status is not None and 400 <= status < 500, "%s: answered %s (%s)" % (what, status, how))
        for prob in raw_security_problems(headers, what):
            e.check(False, prob)

    # Static files: right types, caching headers, the files' exact bytes.
    static_dir = os.path.join(REPO, "templates", "static")
    for name, ctype in (("style.css", "text/css"), ("favicon.svg", "image/svg+xml"),
                        ("github.svg", "image/svg+xml"), ("linkedin.svg", "image/svg+xml")):
        r = http_get(p, "/static/" + name)
        what = "/static/" + name
        e.check(r.status == 200, "%s answered %s" % (what, r.status))
        e.check((r.header("Content-Type") or "").startswith(ctype), "%s Content-Type %r" % (what, r.header("Content-Type")))
        cc = r.header("Cache-Control") or ""
        m = re.search(r"max-age=(\d+)", cc)
        e.check(m is not None and int(m.group(1)) >= 3600, "%s Cache-Control %r" % (what, cc))
        e.check(r.header("Expires") is not None, "%s has no Expires header" % what)
        with open(os.path.join(static_dir, name), "rb") as f:
            e.check(r.body == f.read(), "%s differs from templates/static/%s" % (what, name))
        for prob in security_problems(r, what):
            e.check(False, prob)
        text = re.sub(r"/\*.*?\*/", "", r.text, flags=re.S)  # CSS comments
        if name.endswith(".css"):
            e.check(not re.search(r"(?i)url\(\s*['\"]?\s*(https?:|//)|@import", text),
                    "%s loads something from another origin" % what)
        else:
            e.check(not foreign_refs(re.sub(r'xmlns(:\w+)?="[^"]*"', "", text), set()),
                    "%s refers to other origins" % what)
    # /favicon.ico is favicon.svg (nginx.conf.in aliases it): it must say so, or browsers
    # (which never sniff SVG) can't show it.
    r = http_get(p, "/favicon.ico")
    e.check(r.status == 200, "/favicon.ico answered %s" % r.status)
    e.check(not r.body.lstrip().startswith(b"<svg") or (r.header("Content-Type") or "").startswith("image/svg+xml"),
            "/favicon.ico sends an SVG labelled %r, not image/svg+xml" % r.header("Content-Type"))

    # gzip for text.
    for path in ("/", "/static/style.css"):
        r = http_get(p, path, headers={"Accept-Encoding": "gzip"})
        e.check(r.header("Content-Encoding") == "gzip", "%s with Accept-Encoding: gzip not gzipped (%r)"
                % (path, r.header("Content-Encoding")))
        if r.header("Content-Encoding") == "gzip":
            try:
                plain = gzip.decompress(r.body)
                e.check(len(plain) > len(r.body), "%s: gzip did not shrink the body" % path)
            except OSError as ex:
                e.check(False, "%s: bad gzip body: %s" % (path, ex))
    e.raise_if_any()


@test("SHOW_SERVED_BY=0 and configured names/links")
def t_served_by_off(ctx):
    """SHOW_SERVED_BY=0 hides the worker identity; APP_NAME and the link targets come
    from the environment and are HTML-escaped."""
    app = "Khalid <Test> & Co"
    gh = "https://github.com/example-user?tab=repos&x=1"
    li = "https://www.linkedin.com/in/example-user/"
    st = ctx.stack(workers=1, threads=2,
                   env={"SHOW_SERVED_BY": "0", "APP_NAME": app, "GITHUB_URL": gh, "LINKEDIN_URL": li})
    e = Errors()
    r = http_get(st.port, "/count")
    e.check(r.status == 200, "/count answered %s" % r.status)
    e.check(r.header("X-Served-By") is None, "X-Served-By %r with SHOW_SERVED_BY=0" % r.header("X-Served-By"))
    e.check("served-by" not in r.text and "Served by" not in r.text, "the page shows the served-by line")
    wpid = st.worker_pids()[0]
    e.check(not re.search(r"\bpid\b|\b%d\b" % wpid, r.text), "the page shows the worker pid")
    e.check("<code>%s</code>" % html.escape(socket.gethostname()) not in r.text, "the page shows the host name")
    e.check(visits_on(r.text) is not None, "no visits number on /count")
    esc = "Khalid &lt;Test&gt; &amp; Co"
    for path in ("/", "/about", "/count"):
        t = http_get(st.port, path).text
        e.check(esc in t and "<Test>" not in t, "%s: APP_NAME not shown HTML-escaped" % path)
    t = http_get(st.port, "/about").text
    e.check('href="%s"' % html.escape(gh) in t, "/about lacks the configured GitHub link %s" % gh)
    e.check('href="%s"' % html.escape(li) in t, "/about lacks the configured LinkedIn link %s" % li)
    e.check(DEFAULT_GITHUB + '"' not in t and DEFAULT_LINKEDIN + '"' not in t, "/about still links the default URLs")
    e.raise_if_any()
