"""The browser suite's checks of Khalid Tracker: what the site must be (pages, link
targets, headings), and the Suite that starts a stack and two Chromiums and checks every
page through them. tests/browser/run.py runs it; the module docstring there says what is
checked.
"""
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browser.chrome import VIEWPORTS, Browser, png_size
from browser.colour import (MIN_FOCUS_CONTRAST, MIN_TEXT_CONTRAST, hexc, page_backdrops, parse_color,
                            ring_contrast, static_contrast, text_contrast)
from browser.probes import JS_AFTER_TAB, JS_FACTS, JS_FOCUS_START, JS_STATS, JS_TEXT_COLOURS
from lib.results import Deadline, Failure
from lib.stack import REPO, Stack, free_port, http_get, proc_alive, wait_gone

APP_NAME = "Khalid Tracker"
# Visits from people's browsers, so that /stats has something in every list: the suite's
# own Chromium says HeadlessChrome, which counts as a bot.
SEED_VIEWS = [
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
     "https://news.ycombinator.com/item?id=1", "/"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36", "https://www.google.com/", "/about"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Mobile/15E148 Safari/604.1", "https://github.com/example", "/"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Safari/605.1.15", "https://news.ycombinator.com/", "/stats"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Mobile Safari/537.36", "", "/"),
    ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Mobile/15E148 Safari/604.1", "https://duckduckgo.com/", "/about"),
] * 3

# The off-site links come from configuration: the test sets its own and expects exactly them.
GITHUB_URL = "https://github.com/example/khalid-tracker"
LINKEDIN_URL = "https://www.linkedin.com/in/example"
SEED_VISITS = 1234566            # the first /count then shows 1,234,567

# What each link's accessible name promises: a path on the site, the skip link's target,
# or an off-site URL from configuration. A link whose name is not here fails the link check
# (add new links here, so that the test knows where they must lead).
LINK_TARGETS = {
    APP_NAME: "/", "Home": "/", "Back home": "/",
    "Live count": "/count", "See the live count": "/count", "Count me again": "/count",
    "About": "/about", "How it works": "/about", "About this site": "/about",
    "Stats": "/stats", "See the stats": "/stats",
    "Today": "/stats?period=day", "7 days": "/stats?period=7d", "30 days": "/stats?period=30d",
    # /stats shows the day unless asked otherwise, and its JSON link follows the period.
    "same figures as JSON": "/api/stats?period=day", "the views per day as CSV": "/api/export.csv",
    "Skip to content": "#main",
    "GitHub": GITHUB_URL, "LinkedIn": LINKEDIN_URL,
}
# Links to data, not pages: their href is checked and the target fetched (status 200 and
# this content type), never clicked (the browser would download the CSV).
DATA_TYPES = {"/api/stats": "application/json", "/api/export.csv": "text/csv"}
PERIODS = {"day": "Today", "7d": "7 days", "30d": "30 days"}
H1_404 = "Error 404: Page not found"
H1_503 = "Error 503: The counter is taking a break"


def expected_h1(path, redis_up=True):
    """A regex the h1 (textContent, whitespace collapsed) of the page at path (a query
    allowed) must match."""
    path = path.split("?")[0]
    if path == "/":
        return "^%s$" % re.escape(APP_NAME)
    if path == "/count":
        return r"^Total visits [0-9][0-9,]*$" if redis_up else "^%s$" % re.escape(H1_503)
    if path == "/about":
        return "^How %s works$" % re.escape(APP_NAME)
    if path == "/stats":
        return "^Statistics$"
    return "^%s$" % re.escape(H1_404)


class Page:
    def __init__(self, name, path, status, shot):
        self.name, self.path, self.status, self.shot = name, path, status, shot


PAGE_404 = Page("404", "/no/such-page", 404, "error-404")
PAGES = [
    Page("home", "/", 200, "home"),
    Page("count", "/count", 200, "count"),
    Page("about", "/about", 200, "about"),
    Page("stats", "/stats", 200, "stats"),
    PAGE_404,
]
PAGE_503 = Page("503", "/count", 503, "error-503")
# Checked again over HTTPS, on a second stack with TLS=self-signed.
HTTPS_PAGES = [p for p in PAGES if p.path in ("/", "/count", "/stats")]


def spki_sha256(cert_path):
    """The base64 SHA-256 of a certificate's public key, as Chromium's
    --ignore-certificate-errors-spki-list takes it: that browser then accepts this one key
    without a trusted issuer, and no other."""
    with open(cert_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    pub = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-pubkey"], input=der,
                         capture_output=True, check=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                          capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


class Suite:
    def __init__(self, args, results):
        self.args = args
        self.r = results
        self.stack = None
        self.tls_stack = None
        self.browser = None
        self.nojs = None
        self.tmp = tempfile.mkdtemp(prefix="kt-browser-")
        self.titles = {}
        self.redis_up = True
        self._nojs_thread = None
        self._nojs_result = None
        self.worker_pids_at_start = []

    # -- helpers
    def base(self):
        return "http://127.0.0.1:%d" % self.stack.port

    def url(self, path):
        return self.base() + path

    def tls_base(self):
        return "https://127.0.0.1:%d" % self.tls_stack.https_port

    def local(self, url):
        """On one of the suite's own origins: the stack, and the HTTPS stack (whose plain
        HTTP port the redirect check asks)."""
        origins = [self.base()]
        if self.tls_stack is not None:
            origins += [self.tls_base(), "http://127.0.0.1:%d" % self.tls_stack.port]
        return any(url.startswith(o + "/") for o in origins) or url.startswith("data:") or url == "about:blank"

    def facts(self, browser=None):
        return (browser or self.browser).js(JS_FACTS)

    def stack_log(self):
        """The stack's log tail, shown under a check that failed perhaps by the stack's doing."""
        return ["stack log: " + line for line in self.stack.log_tail(15)] if self.stack else []

    # -- set-up and tear-down
    def start(self):
        # A copy of the worker: a rebuild during the run cannot pull it from under the stack.
        worker = os.path.join(self.tmp, "khalid-fcgi")
        shutil.copy2(self.args.worker, worker)
        self.stack = Stack(worker=worker, workers=3, threads=4, name="browser-stack",
                           env={"APP_NAME": APP_NAME, "GITHUB_URL": GITHUB_URL,
                                "LINKEDIN_URL": LINKEDIN_URL, "SHOW_SERVED_BY": "1",
                                **({"TEMPLATE_DIR": os.path.abspath(self.args.template_dir)}
                                   if self.args.template_dir else {})})
        self.stack.start()
        self.worker_pids_at_start = [pid for pid in self.stack.worker_pids() if pid]
        self.r.note("stack on %s (state in %s)" % (self.base(), self.stack.state_dir))
        if self.stack.redis_cli("SET", "visits", str(SEED_VISITS)) != "OK":
            raise RuntimeError("could not seed the counter")
        # The HTTPS stack's certificate comes from its own private CA, which Chromium does
        # not know: the browser accepts that one key (and no other untrusted one).
        https_port = free_port()
        self.tls_stack = Stack(worker=worker, workers=1, threads=4, name="browser-tls-stack",
                               env=dict(self.stack.extra_env, TLS="self-signed", HTTPS_PORT=str(https_port)))
        self.tls_stack.https_port = https_port
        self.tls_stack.start()
        self.r.note("HTTPS stack on %s" % self.tls_base())
        spki = spki_sha256(os.path.join(self.tls_stack.state_dir, "tls", "server.crt"))
        t0 = time.monotonic()
        self.browser = Browser(self.args.chromium, self.args.chromedriver,
                               os.path.join(self.tmp, "profile-js"), javascript=True,
                               extra_args=["--ignore-certificate-errors-spki-list=" + spki])
        self.r.note("Chromium started in %.1f s" % (time.monotonic() - t0))
        # The second browser (JavaScript off) starts meanwhile; start_nojs() collects it.
        self._nojs_thread = threading.Thread(target=self._launch_nojs, daemon=True)
        self._nojs_thread.start()

    def _launch_nojs(self):
        try:
            self._nojs_result = Browser(self.args.chromium, self.args.chromedriver,
                                        os.path.join(self.tmp, "profile-nojs"), javascript=False)
        except Exception as e:
            self._nojs_result = e

    def stop(self):
        if self._nojs_thread is not None:
            self._nojs_thread.join(60)
            if self.nojs is None and isinstance(self._nojs_result, Browser):
                self.nojs = self._nojs_result
        for b in (self.browser, self.nojs):
            if b is not None:
                b.quit()
        stacks = [st for st in (self.stack, self.tls_stack) if st is not None]
        try:
            for st in stacks:
                st.stop()
        finally:
            for st in stacks:
                st.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- one page, both sizes
    def page(self, page):
        loads = {}
        for vp in ("desktop", "phone"):
            self.browser.set_viewport(vp)
            urls, console = self.browser.load(self.url(page.path))
            facts = self.facts()
            shot = self.browser.screenshot()
            loads[vp] = (urls, console, facts)
            name = "%s-%s.png" % (page.shot, vp)
            with self.r.check("%s: %s screenshot %s" % (page.name, vp, name)) as p:
                size = png_size(shot)
                want = (VIEWPORTS[vp]["width"], VIEWPORTS[vp]["height"])
                if size != want:
                    p.append("screenshot is %s, expected %dx%d" % (size, want[0], want[1]))
                else:
                    path = os.path.join(self.args.screenshots, name)
                    with open(path + ".tmp", "wb") as f:
                        f.write(shot)
                    os.replace(path + ".tmp", path)
            if vp == "desktop":
                self.check_text_contrast(page)
                self.focus(page)
            with self.r.check("%s: no horizontal overflow at %s width (%dpx)" % (page.name, vp, VIEWPORTS[vp]["width"])) as p:
                o = facts["overflow"]
                width = VIEWPORTS[vp]["width"]
                if o["innerWidth"] != width:
                    p.append("window.innerWidth is %s, expected %d (the page was zoomed out to fit?)" % (o["innerWidth"], width))
                if o["scrollWidth"] > o["innerWidth"] or o["scrollWidth"] > width:
                    p.append("document scrollWidth %d > %d; widest: %s" % (o["scrollWidth"], width, ", ".join(o["wide"]) or "?"))
            if vp == "phone":
                with self.r.check("%s: text contrast >= %.1f:1 at phone width" % (page.name, MIN_TEXT_CONTRAST)) as p:
                    p.extend(self.contrast_problems()[0])

        urls = loads["desktop"][0] + loads["phone"][0]
        console = loads["desktop"][1] + loads["phone"][1]
        facts = loads["desktop"][2]

        with self.r.check("%s: every request stays on 127.0.0.1:%d" % (page.name, self.stack.port)) as p:
            if not any(u.startswith(self.url(page.path)) for u in urls):
                p.append("the page's own request was not seen in the performance log")
            if not any("/static/style.css" in u for u in urls):
                p.append("the stylesheet request was not seen in the performance log")
            off = sorted(set(u for u in urls if not self.local(u)))
            if off:
                p.append("requests elsewhere: " + ", ".join(off[:5]))

        with self.r.check("%s: no console errors" % page.name) as p:
            # An error page's own document logs "Failed to load resource: ... status of
            # 404/503": allowed once per load of that page, nothing else.
            allowed = "the server responded with a status of %d" % page.status if page.status >= 400 else None
            for vp in ("desktop", "phone"):
                used = False
                for e in loads[vp][1]:
                    msg = e.get("message", "")
                    if e.get("level") != "SEVERE":
                        continue
                    if (allowed and not used and e.get("source") == "network"
                            and msg.startswith(self.url(page.path) + " ") and allowed in msg):
                        used = True
                        continue
                    p.append("%s (%s): %s" % (e.get("source"), vp, msg[:200]))

        with self.r.check("%s: no CSP violations" % page.name) as p:
            for e in console:
                if "Content Security Policy" in e.get("message", ""):
                    p.append(e["message"][:200])
            for vp in ("desktop", "phone"):
                csp = loads[vp][2]["csp"]
                if csp is None:
                    p.append("the securitypolicyviolation recorder did not run (%s)" % vp)
                elif csp:
                    p.append("securitypolicyviolation (%s): %s" % (vp, "; ".join(csp[:3])))

        with self.r.check("%s: lang, title, one h1, alt on images" % page.name) as p:
            if not facts["lang"] or not re.fullmatch(r"[a-zA-Z]{2,3}(-[A-Za-z0-9]{1,8})*", facts["lang"]):
                p.append("<html lang> is %r" % facts["lang"])
            title = (facts["title"] or "").strip()
            if not title:
                p.append("empty <title>")
            elif APP_NAME not in title:
                p.append("title %r does not name the site" % title)
            else:
                other = [n for n, t in self.titles.items() if t == title and n != page.name]
                if other:
                    p.append("title %r is the same as the %s page's" % (title, other[0]))
                self.titles[page.name] = title
            if len(facts["h1"]) != 1:
                p.append("%d h1 elements" % len(facts["h1"]))
            elif not re.search(expected_h1(page.path, self.redis_up), facts["h1"][0]):
                p.append("h1 is %r" % facts["h1"][0])
            if facts["imgsWithoutAlt"]:
                p.append("img without alt: %s" % facts["imgsWithoutAlt"])

        with self.r.check("%s: links have accessible names (icon-only ones too)" % page.name) as p:
            self.link_names(facts, p)
        return facts

    # -- accessibility
    def link_names(self, facts, p):
        elements = self.browser.driver.find_elements(By.CSS_SELECTOR, "a[href]")
        if len(elements) != len(facts["links"]):
            p.append("the page changed while it was read")
            return
        icon_only = 0
        for el, info in zip(elements, facts["links"]):
            name = (el.accessible_name or "").strip()
            if info["hasIcon"] and not info["visibleText"]:
                icon_only += 1
                if not name:
                    p.append("icon-only link to %s has no accessible name" % info["href"])
                    continue
            if not name:
                p.append("link to %s has no accessible name" % info["href"])
        if icon_only < 2:
            p.append("expected the footer's GitHub and LinkedIn icon-only links, found %d icon-only links" % icon_only)

    def contrast_problems(self):
        data = self.browser.js(JS_TEXT_COLOURS)
        return text_contrast(data["texts"], page_backdrops(data["gradient"], data["bodyBg"]))

    def check_text_contrast(self, page):
        with self.r.check("%s: text contrast >= %.1f:1 over the gradient (computed styles)" % (page.name, MIN_TEXT_CONTRAST)) as p:
            problems, worst = self.contrast_problems()
            p.extend(problems)
            if worst and not problems:
                self.r.note("%s: lowest text contrast %.2f:1 (%s %r, %s on %s)" % ((page.name,) + worst))

    def focus(self, page):
        """Tabs through the page: every link gets focus in turn and shows a ring that it
        does not show unfocused, contrasting >= 3:1 with what is around it."""
        with self.r.check("%s: visible keyboard focus on every link" % page.name) as p:
            b = self.browser
            unfocused = b.js(JS_FOCUS_START)
            if not unfocused:
                p.append("no links")
                return
            backdrops = page_backdrops(*b.js(
                "return [getComputedStyle(document.body, '::before').backgroundImage,"
                " getComputedStyle(document.body).backgroundColor];"))
            reached = set()
            for _ in range(len(unfocused) + 2):
                b.send(Keys.TAB)
                st = b.driver.execute_async_script(JS_AFTER_TAB)
                idx = st["index"]
                if idx < 0:
                    continue
                if idx in reached:
                    break
                reached.add(idx)
                before = unfocused[idx]
                label = st["label"]
                ring = st["outlineStyle"] not in ("none", "hidden") and st["outlineWidth"] >= 2
                shadow = st["boxShadow"] != "none" and st["boxShadow"] != before["boxShadow"]
                if not st["focusVisible"]:
                    p.append("%r: keyboard focus does not match :focus-visible" % label)
                if not (ring or shadow):
                    p.append("%r: no focus ring (outline %s %.0fpx, box-shadow %s)"
                             % (label, st["outlineStyle"], st["outlineWidth"], st["boxShadow"]))
                    continue
                if (before["outlineStyle"], before["outlineWidth"], before["boxShadow"]) == \
                        (st["outlineStyle"], st["outlineWidth"], st["boxShadow"]):
                    p.append("%r: looks the same focused and unfocused" % label)
                left, top, right, bottom = st["rect"]
                if right <= 0 or bottom <= 0 or left >= st["vw"] or top >= st["vh"]:
                    p.append("%r: focused but outside the viewport" % label)
                colour = parse_color(st["outlineColor"])
                if ring and colour and st["ring"]:
                    lowest = ring_contrast(colour, st["ring"], backdrops)
                    if lowest < MIN_FOCUS_CONTRAST:
                        p.append("%r: focus ring %s is %.2f:1 against its surroundings"
                                 % (label, hexc(colour), lowest))
            missing = [u["label"] for i, u in enumerate(unfocused) if i not in reached]
            if missing:
                p.append("never reached with Tab: %s" % ", ".join(map(repr, missing)))
            b.js("document.activeElement && document.activeElement.blur();")

    # -- links
    def links(self, page, everything):
        """Checks every link's name and target; follows the on-site ones (desktop) and checks
        where they land. The header and footer are the same on every page: their links are
        followed on the first page only (everything=True), the links in <main> everywhere."""
        with self.r.check("%s: links lead where they say" % page.name) as p:
            b = self.browser
            b.set_viewport("desktop")
            b.load(self.url(page.path))
            anchors = b.driver.find_elements(By.CSS_SELECTOR, "a[href]")
            names = [(a.accessible_name or "").strip() for a in anchors]
            hrefs = [a.get_attribute("href") for a in anchors]
            rels = [a.get_attribute("rel") or "" for a in anchors]
            in_main = b.js("return [...document.querySelectorAll('a[href]')].map(a => !!a.closest('main'))")
            clicked = 0
            for i, name in enumerate(names):
                target = LINK_TARGETS.get(name)
                if target is None:
                    p.append("link %r (%s) is not in LINK_TARGETS: where should it lead?" % (name, hrefs[i]))
                    continue
                if target.startswith("http"):
                    # Off-site: compared with the configured URL, never followed (the browser
                    # must not leave the local host).
                    if hrefs[i] != target:
                        p.append("%r points to %s, configured %s" % (name, hrefs[i], target))
                    if "noopener" not in rels[i].split():
                        p.append("%r lacks rel=noopener" % name)
                    continue
                skip = target.startswith("#")
                # The whole URL, query included: "7 days" must not lead to plain /stats.
                want = self.url(page.path) + target if skip else self.url(target)
                if hrefs[i] != want:
                    p.append("%r points to %s, expected %s" % (name, hrefs[i], want))
                    continue
                if target.split("?")[0] in DATA_TYPES:
                    self.fetch_data_link(name, target, p)
                    continue
                if not (everything or in_main[i]):
                    continue
                b.load(self.url(page.path))
                if skip:
                    followed = self.follow_skip_link(name, target, want, p)
                else:
                    followed = self.click_link(i, name, target, want, p)
                clicked += followed
            if clicked == 0:
                p.append("no link was followed")

    def fetch_data_link(self, name, target, p):
        """Fetches the target of a link to data (JSON, CSV) outside the browser: it must
        answer 200 with the content type DATA_TYPES gives. Problems go to p."""
        r = http_get(self.stack.port, target)
        ctype = r.header("Content-Type") or ""
        want = DATA_TYPES[target.split("?")[0]]
        if r.status != 200:
            p.append("%r: %s answered %d" % (name, target, r.status))
        elif ctype.split(";")[0].strip() != want:
            p.append("%r: %s has Content-Type %r, expected %s" % (name, target, ctype, want))

    def follow_skip_link(self, name, target, want, p):
        """Reaches the skip link with the first Tab and follows it with Enter: the URL gets
        the fragment and focus moves to the target. Returns whether the link was followed;
        problems go to p."""
        b = self.browser
        b.js("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);")
        b.press(Keys.TAB)
        first = b.js("const a = document.activeElement, r = a.getBoundingClientRect();"
                     "return [a.textContent.trim(), r.top >= 0 && r.bottom <= innerHeight && r.left >= 0];")
        if first[0] != name:
            p.append("the first Tab focuses %r, not %r" % (first[0], name))
            return False
        if not first[1]:
            p.append("%r is focused but not visible" % name)
        b.press(Keys.ENTER)
        landed = b.js("return [location.href, document.activeElement && document.activeElement.id]")
        if landed[0] != want:
            p.append("%r led to %s, expected %s" % (name, landed[0], want))
        elif landed[1] != target[1:]:
            p.append("%r did not move focus to %s (focus on %r)" % (name, target, landed[1]))
        return True

    def click_link(self, i, name, target, want, p):
        """Clicks the page's i-th link and checks the page it opens: its URL and its h1.
        Returns whether a new page loaded; problems go to p."""
        b = self.browser
        anchor = b.driver.find_elements(By.CSS_SELECTOR, "a[href]")[i]
        b.js("window.__ktOld = true;")
        anchor.click()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if b.js("return !window.__ktOld && document.readyState === 'complete'"):
                break
            time.sleep(0.05)
        else:
            p.append("clicking %r did not load a new page" % name)
            return False
        b.settle()
        landed = b.js("return [location.href, [...document.querySelectorAll('h1')]"
                      ".map(h => h.textContent.replace(/\\s+/g, ' ').trim())]")
        if landed[0] != want:
            p.append("%r led to %s, expected %s" % (name, landed[0], want))
        elif len(landed[1]) != 1 or not re.search(expected_h1(target, self.redis_up), landed[1][0]):
            p.append("%r led to a page whose h1 is %r" % (name, landed[1]))
        return True

    # -- /count
    def count_reload(self):
        with self.r.check("count: #visits is plain digits, the headline groups them") as p:
            b = self.browser
            b.set_viewport("desktop")
            b.load(self.url("/count"))
            f = self.facts()
            v = (f["visits"] or "").strip()
            if not re.fullmatch(r"[0-9]+", v):
                p.append("#visits is %r" % f["visits"])
            elif f["grouped"] != "{:,}".format(int(v)):
                p.append("headline %r for #visits %s (expected %s)" % (f["grouped"], v, "{:,}".format(int(v))))
        with self.r.check("count: reloading /count shows a higher number") as p:
            b = self.browser
            first = b.driver.find_element(By.ID, "visits").text.strip()
            b.driver.refresh()
            b.settle()
            second = b.driver.find_element(By.ID, "visits").text.strip()
            stored = self.stack.visits()
            if not (first.isdigit() and second.isdigit()):
                p.append("#visits read %r then %r" % (first, second))
            elif int(second) <= int(first):
                p.append("%s after reload, was %s" % (second, first))
            elif int(second) != stored:
                p.append("the page shows %s, Redis holds %d" % (second, stored))
            else:
                self.r.note("reload: %s -> %s" % (first, second))

    # -- /stats
    def api_views(self):
        r = http_get(self.stack.port, "/api/stats")
        if r.status != 200:
            raise Failure("/api/stats answered %d" % r.status)
        return json.loads(r.text)["views"]

    def seed_views(self):
        """Sends SEED_VIEWS and waits until /api/stats counts them, each once."""
        with self.r.check("stats: %d views from people's browsers show in /api/stats" % len(SEED_VIEWS)) as p:
            before = self.api_views()
            for ua, referer, path in SEED_VIEWS:
                headers = {"User-Agent": ua, **({"Referer": referer} if referer else {})}
                status = http_get(self.stack.port, path, headers=headers).status
                if status != 200:
                    p.append("%s answered %d" % (path, status))
                    return
            want = before + len(SEED_VIEWS)
            t0 = time.monotonic()
            views = before
            # Workers flush views once a second; a generous bound, as this is not the test
            # of that promise (the integration tests are).
            while views < want and time.monotonic() - t0 < 5:
                time.sleep(0.1)
                views = self.api_views()
            if views != want:
                p.append("/api/stats shows %d views after %.1f s, expected %d" % (views, time.monotonic() - t0, want))
            else:
                self.r.note("stats: the seeded views showed after %.1f s" % (time.monotonic() - t0))

    def stats_page(self):
        """The charts, the top lists and the period switch of /stats."""
        b = self.browser
        b.set_viewport("desktop")
        b.load(self.url("/stats"))
        data = b.js(JS_STATS)
        with self.r.check("stats: each chart has a <title> and its numbers in a table, a row per bar") as p:
            names = [e.accessible_name for e in b.driver.find_elements(By.CSS_SELECTOR, "svg.chart")]
            if len(data["charts"]) != 2:
                p.append("%d charts, expected 2 (per hour and per day)" % len(data["charts"]))
            for c, name in zip(data["charts"], names):
                self.chart_problems(c, name, p)
        with self.r.check("stats: five top lists, tables named by their headings, bars hidden from "
                          "assistive technology and scaled to the largest") as p:
            headings = [x["heading"] for x in data["lists"]]
            if headings != ["Pages", "Referrers", "Browsers", "Systems", "Devices"]:
                p.append("the lists are %s" % headings)
            for x in data["lists"]:
                self.list_problems(x, p)
            referrers = {r["name"] for x in data["lists"] if x["heading"] == "Referrers" for r in x["rows"] or []}
            seeded = {re.sub(r"^https://([^/]+).*", r"\1", ref) for _, ref, _ in SEED_VIEWS if ref}
            if not seeded <= referrers:
                p.append("the referrers list lacks %s" % ", ".join(sorted(seeded - referrers)))
        with self.r.check("stats: the period switch marks the period shown (aria-current, and visibly), "
                          "the JSON link follows it") as p:
            for period in [None] + list(PERIODS):
                path = "/stats" + ("?period=" + period if period else "")
                if period:
                    b.load(self.url(path))
                    data = b.js(JS_STATS)
                self.period_problems(path, period or "day", data, p)

    def chart_problems(self, c, name, p):
        """Problems of one chart as JS_STATS read it; name is its computed accessible name."""
        label = c["title"] or c["caption"] or "a chart"
        if not c["title"]:
            p.append("%r has no <title>" % label)
        elif c["title"] not in (name or ""):
            p.append("%r: its accessible name is %r" % (label, name))
        if c["role"] != "img":
            p.append("%r: role %r, expected img" % (label, c["role"]))
        if c["rows"] is None:
            p.append("%r: no table in a details.chart-numbers" % label)
            return
        bars = [len(s) for s in c["series"]]
        if not bars or min(bars) == 0 or len(set(bars)) != 1:
            p.append("%r: series of %s bars" % (label, bars))
            return
        if len(c["rows"]) != bars[0]:
            p.append("%r: %d bars, %d table rows" % (label, bars[0], len(c["rows"])))
            return
        # Each bar's title ("12-01: 1,234 views") against its row ("2026-12-01", "1,234", ...).
        for i, row in enumerate(c["rows"]):
            for k, titles in enumerate(c["series"]):
                when, _, value = titles[i].partition(": ")
                if len(row) != 1 + len(c["series"]) or not row[0].endswith(when) or row[1 + k] != value.split(" ")[0]:
                    p.append("%r: bar %r, table row %r" % (label, titles[i], row))
                    return

    def list_problems(self, x, p):
        """Problems of one top list as JS_STATS read it. After seed_views no list is empty."""
        if x["rows"] is None:
            p.append("%r: no table%s" % (x["heading"], " (%r)" % x["empty"] if x["empty"] else ""))
            return
        if not x["named"]:
            p.append("%r: the table is not named by the heading (aria-labelledby)" % x["heading"])
        try:
            views = [int(r["views"].replace(",", "")) for r in x["rows"]]
        except ValueError:
            p.append("%r: views %s" % (x["heading"], [r["views"] for r in x["rows"]]))
            return
        if not views or views != sorted(views, reverse=True):
            p.append("%r: views %s, expected most first" % (x["heading"], views))
            return
        shown = [r["name"] for r in x["rows"] if not r["hidden"]]
        if shown:
            p.append("%r: %d bars not aria-hidden (%s)" % (x["heading"], len(shown), ", ".join(map(repr, shown[:3]))))
        for r, v in zip(x["rows"], views):
            want = max(1, v * 100 // max(views[0], 1))
            if r["width"] != want:
                p.append("%r, %r: bar %s wide for %d of %d views, expected %d"
                         % (x["heading"], r["name"], r["width"], v, views[0], want))
                return

    def period_problems(self, path, period, data, p):
        """Problems of the period switch and the JSON link of /stats as JS_STATS read it at
        path, which shows period."""
        links = data["periods"]
        if [x["text"] for x in links] != list(PERIODS.values()):
            p.append("%s: period links %s" % (path, [x["text"] for x in links]))
            return
        current = [x for x in links if x["current"] == "page"]
        if [x["text"] for x in current] != [PERIODS[period]]:
            p.append("%s: aria-current on %s, expected %r" % (path, [x["text"] for x in current], PERIODS[period]))
        elif any(x["background"] == current[0]["background"] for x in links if x is not current[0]):
            p.append("%s: the current period looks like the others (background %s)" % (path, current[0]["background"]))
        if data["json"] != [self.url("/api/stats?period=" + period)]:
            p.append("%s: JSON links %s, expected %s" % (path, data["json"], self.url("/api/stats?period=" + period)))

    # -- JavaScript off
    def start_nojs(self):
        if self.nojs is None:
            self._nojs_thread.join(60)
            result = self._nojs_result
            if isinstance(result, Exception) or result is None:
                raise Failure("the second Chromium (JavaScript off) did not start: %s" % result)
            self.nojs = result
            self.nojs.set_viewport("desktop")

    def without_js(self, pages):
        with self.r.check("without JavaScript: scripts are really disabled in the second browser") as p:
            self.start_nojs()
            self.nojs.load("data:text/html,<title>off</title><script>document.title='on'</script>")
            if self.nojs.driver.title != "off":
                p.append("a page script ran (title %r)" % self.nojs.driver.title)
        for page in pages:
            with self.r.check("%s: works with JavaScript disabled" % page.name) as p:
                self.start_nojs()
                urls, console = self.nojs.load(self.url(page.path))
                f = self.facts(self.nojs)
                if f["scripts"]:
                    p.append("the page has %d <script> elements" % f["scripts"])
                if len(f["h1"]) != 1 or not re.search(expected_h1(page.path, self.redis_up), f["h1"][0]):
                    p.append("h1 is %r" % f["h1"])
                if not any("/static/style.css" in u for u in urls):
                    p.append("the stylesheet was not loaded")
                if page.path == "/count" and self.redis_up:
                    v = (f["visits"] or "").strip()
                    if not v.isdigit():
                        p.append("#visits is %r" % f["visits"])
                    else:
                        self.nojs.load(self.url(page.path))
                        v2 = (self.facts(self.nojs)["visits"] or "").strip()
                        if not (v2.isdigit() and int(v2) > int(v)):
                            p.append("#visits %r after a reload, was %s" % (v2, v))
                off = [u for u in urls if not self.local(u)]
                if off:
                    p.append("requests elsewhere: %s" % ", ".join(off[:3]))

    # -- HTTPS
    def https_pages(self):
        """The pages over HTTPS: nothing loaded over plain HTTP or from elsewhere, no mixed
        content warning, no console error, no CSP violation; and plain HTTP leads there."""
        b = self.browser
        b.set_viewport("desktop")
        base = self.tls_base()
        for page in HTTPS_PAGES:
            with self.r.check("https: %s over HTTPS, every request https://127.0.0.1:%d, no mixed content, "
                              "no console error" % (page.path, self.tls_stack.https_port)) as p:
                urls, console = b.load(base + page.path)
                f = self.facts()
                where = b.js("return [location.href, window.isSecureContext]")
                if where != [base + page.path, True]:
                    p.append("the page is %s (secure context: %s)" % tuple(where))
                if len(f["h1"]) != 1 or not re.search(expected_h1(page.path), f["h1"][0]):
                    p.append("h1 is %r" % f["h1"])
                if not any(u == base + "/static/style.css" for u in urls):
                    p.append("the stylesheet was not loaded over HTTPS")
                off = sorted(set(u for u in urls if not (u.startswith(base + "/") or u.startswith("data:"))))
                if off:
                    p.append("requests not to %s: %s" % (base, ", ".join(off[:5])))
                for e in console:
                    msg = e.get("message", "")
                    if e.get("level") == "SEVERE" or "Mixed Content" in msg or "insecure" in msg.lower():
                        p.append("console %s: %s" % (e.get("level"), msg[:200]))
                if f["csp"] is None:
                    p.append("the securitypolicyviolation recorder did not run")
                elif f["csp"]:
                    p.append("securitypolicyviolation: %s" % "; ".join(f["csp"][:3]))
                if page.path == "/count" and (f["visits"] or "").strip() != str(self.tls_stack.visits()):
                    p.append("#visits %r, Redis holds %d" % (f["visits"], self.tls_stack.visits()))
        with self.r.check("https: http://127.0.0.1:%d/count?from=http leads to the same page over HTTPS"
                          % self.tls_stack.port) as p:
            b.load("http://127.0.0.1:%d/count?from=http" % self.tls_stack.port)
            where = b.js("return location.href")
            if where != base + "/count?from=http":
                p.append("landed on %s" % where)

    # -- Redis down
    def stop_redis(self):
        pid = self.stack.redis_pid()
        if not pid:
            raise Failure("no Redis pid")
        os.kill(pid, signal.SIGTERM)
        if wait_gone(pid, 10) is None:
            raise Failure("Redis (pid %d) did not exit within 10 s" % pid)
        self.redis_up = False

    # -- the whole run
    def phase(self, name, fn, *args, **kw):
        """Runs one part of the suite; a crash in it (say, the stack died under the browser)
        is reported as a failure of that part, and the rest still runs."""
        t0 = time.monotonic()
        try:
            return fn(*args, **kw)
        except (KeyboardInterrupt, Deadline):
            raise
        except Exception as e:
            self.r.fail(name, "could not run: %s: %s" % (type(e).__name__, (str(e).strip().splitlines() or [""])[0]))
            return None
        finally:
            self.r.note("%s: %.1f s" % (name, time.monotonic() - t0))

    def run(self):
        with self.r.check("style.css: text contrast >= %.1f:1 on every glass surface over the gradient" % MIN_TEXT_CONTRAST) as p:
            with open(os.path.join(REPO, "templates", "static", "style.css"), encoding="utf-8") as f:
                problems, notes = static_contrast(f.read())
            p.extend(problems)
            for n in notes:
                self.r.note(n)

        self.phase("stats: seeded views", self.seed_views)
        for page in PAGES:
            self.phase("%s: page checks" % page.name, self.page, page)
        for page in PAGES:
            self.phase("%s: links lead where they say" % page.name, self.links, page, everything=page is PAGES[0])
        self.phase("stats: charts, lists, periods", self.stats_page)
        self.phase("count: reload", self.count_reload)
        self.phase("without JavaScript", self.without_js, PAGES)
        self.phase("https: the pages over HTTPS", self.https_pages)

        with self.r.check("503: Redis stopped, /count answers 503") as p:
            self.stop_redis()
            status = http_get(self.stack.port, "/count").status
            if status != 503:
                p.append("/count answered %d" % status)
        if not self.redis_up:
            self.phase("503: page checks", self.page, PAGE_503)
            self.phase("503: links lead where they say", self.links, PAGE_503, everything=False)
            self.phase("503: without JavaScript", self.without_js, [PAGE_503])
            with self.r.check("503: /count counts again once Redis is back") as p:
                self.stack.start_redis()
                self.redis_up = True
                deadline = time.monotonic() + 10
                h1 = None
                while time.monotonic() < deadline:
                    self.browser.load(self.url("/count"))
                    f = self.facts()
                    h1 = f["h1"]
                    if len(h1) == 1 and re.search(expected_h1("/count"), h1[0]) and (f["visits"] or "").isdigit():
                        break
                    time.sleep(0.3)
                else:
                    p.append("still %r after 10 s" % h1)

        with self.r.check("every request of the run stayed on the suite's stacks (127.0.0.1:%d; HTTPS %d, HTTP %d)"
                          % (self.stack.port, self.tls_stack.https_port, self.tls_stack.port)) as p:
            self.browser.drain()
            everything = self.browser.all_requests + (self.nojs.all_requests if self.nojs else [])
            off = sorted(set(u for u in everything if not self.local(u)))
            if len(everything) < 20:
                p.append("only %d requests were recorded" % len(everything))
            if off:
                p.append("requests elsewhere: " + ", ".join(off[:5]))
            self.r.note("%d requests recorded in the run" % len(everything))

        with self.r.check("no console errors in the whole run (clicks and reloads included)") as p:
            # The only errors allowed: the 404 and 503 documents' own status.
            allowed = re.compile(r"^(%s|%s) - Failed to load resource: the server responded with a status of (404|503) "
                                 % (re.escape(self.url(PAGE_404.path)), re.escape(self.url(PAGE_503.path))))
            entries = self.browser.all_console + (self.nojs.all_console if self.nojs else [])
            bad = [e for e in entries if e.get("level") == "SEVERE" and not allowed.match(e.get("message", ""))]
            for e in bad[:4]:
                p.append("%s: %s" % (e.get("source"), e.get("message", "")[:200]))
            self.r.note("%d console entries in the run, %d allowed errors" % (
                len(entries), len([e for e in entries if e.get("level") == "SEVERE"]) - len(bad)))

        with self.r.check("the stack stayed up: same workers, nginx and stack script",
                          details=self.stack_log) as p:
            if not self.stack.running():
                p.append("scripts/stack.sh exited with %s" % self.stack.proc.poll())
            dead = [pid for pid in self.worker_pids_at_start if not proc_alive(pid)]
            if dead:
                p.append("workers %s are gone" % dead)
