"""The browser suite's checks of Khalid Tracker: what the site must be (pages, link
targets, headings), and the Suite that starts a stack and two Chromiums and checks every
page through them. tests/browser/run.py runs it; the module docstring there says what is
checked.
"""
import os
import re
import shutil
import signal
import tempfile
import threading
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browser.chrome import VIEWPORTS, Browser, png_size
from browser.colour import (MIN_FOCUS_CONTRAST, MIN_TEXT_CONTRAST, hexc, page_backdrops, parse_color,
                            ring_contrast, static_contrast, text_contrast)
from browser import checks_https
from browser.checks_https import HttpsChecks
from browser.checks_links import LinkChecks
from browser.checks_stats import StatsChecks
from browser.site import APP_NAME, GITHUB_URL, LINKEDIN_URL, PAGES, PAGE_404, PAGE_503, SEED_VISITS, expected_h1
from browser.probes import JS_AFTER_TAB, JS_FACTS, JS_FOCUS_START, JS_TEXT_COLOURS
from lib.results import Deadline, Failure
from lib.stack import REPO, Stack, free_port, http_get, proc_alive, wait_gone

class Suite(LinkChecks, StatsChecks, HttpsChecks):
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
        spki = checks_https.spki_sha256(os.path.join(self.tls_stack.state_dir, "tls", "server.crt"))
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
