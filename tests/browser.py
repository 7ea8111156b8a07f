#!/usr/bin/env python3
"""Khalid Tracker in a real browser: Debian's headless Chromium driven by Debian's
python3-selenium against the native stack (issue 5).

    /usr/bin/python3 tests/browser.py --worker build/release/khalid-fcgi

Starts its own stack (tests/lib/stack.py) in a temp dir on a free port, seeds the counter,
and for every page -- /, /count, /about, a 404, and the 503 that /count answers while Redis
is stopped -- takes screenshots at desktop (1280x800) and phone (390x844) size into
docs/screenshots/ and checks:

  - every request the browser makes goes to http://127.0.0.1:PORT/ (or is a data: URL),
    read from the DevTools performance log (Network.requestWillBeSent);
  - no console errors (the 404/503 pages may log exactly one: their own document's status)
    and no CSP violations (console messages and securitypolicyviolation events);
  - every link leads where its name says (clicked, then URL and h1 checked; the skip link
    with the keyboard; off-site links only compared with the configured URLs, not followed);
  - reloading /count shows a higher number, the one Redis holds; #visits is plain digits;
  - the pages work with JavaScript disabled (a second browser);
  - accessibility basics: lang, a title per page, one h1, alt on images, accessible names on
    icon-only links, text contrast >= 4.5:1 (from style.css, and from the computed colours
    of every visible text in the browser, composited over the gradient's worst colour),
    a visible keyboard focus ring on every link, no horizontal overflow at 390 px.

Prints `ok - name` / `FAIL - name: reason`, then `N passed, N failed` as the last line;
exits 1 on any failure, 2 when it cannot run at all. The stack, the browsers and their temp
dirs are removed on every exit path.
"""
import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEBIAN_PYTHON = "/usr/bin/python3"
PACKAGES = ("chromium", "chromium-driver", "python3-selenium")

APP_NAME = "Khalid Tracker"
# The off-site links come from configuration: the test sets its own and expects exactly them.
GITHUB_URL = "https://github.com/example/khalid-tracker"
LINKEDIN_URL = "https://www.linkedin.com/in/example"
SEED_VISITS = 1234566            # the first /count then shows 1,234,567

VIEWPORTS = {
    "desktop": {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False},
    "phone": {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
}
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--window-size=1280,800", "--hide-scrollbars", "--force-color-profile=srgb",
               "--lang=en-US", "--disable-extensions", "--disable-default-apps",
               "--no-default-browser-check", "--mute-audio"]
MIN_TEXT_CONTRAST = 4.5
MIN_FOCUS_CONTRAST = 3.0         # WCAG 1.4.11, non-text contrast of the focus ring

# What each link's accessible name promises: a path on the site, the skip link's target,
# or an off-site URL from configuration. A link whose name is not here fails the link check
# (add new links here, so that the test knows where they must lead).
LINK_TARGETS = {
    APP_NAME: "/", "Home": "/", "Back home": "/",
    "Live count": "/count", "See the live count": "/count", "Count me again": "/count",
    "About": "/about", "How it works": "/about", "About this site": "/about",
    "Skip to content": "#main",
    "GitHub": GITHUB_URL, "LinkedIn": LINKEDIN_URL,
}
H1_404 = "Error 404: Page not found"
H1_503 = "Error 503: The counter is taking a break"


def expected_h1(path, redis_up=True):
    """A regex the h1 (textContent, whitespace collapsed) of the page at path must match."""
    if path == "/":
        return "^%s$" % re.escape(APP_NAME)
    if path == "/count":
        return r"^Total visits [0-9][0-9,]*$" if redis_up else "^%s$" % re.escape(H1_503)
    if path == "/about":
        return "^How %s works$" % re.escape(APP_NAME)
    return "^%s$" % re.escape(H1_404)


class Page:
    def __init__(self, name, path, status, shot):
        self.name, self.path, self.status, self.shot = name, path, status, shot


PAGES = [
    Page("home", "/", 200, "home"),
    Page("count", "/count", 200, "count"),
    Page("about", "/about", 200, "about"),
    Page("404", "/no/such-page", 404, "error-404"),
]
PAGE_503 = Page("503", "/count", 503, "error-503")


# ============================================================================ results

class Failed(Exception):
    pass


class Deadline(BaseException):
    """The whole run took too long (SIGALRM). A BaseException, so that no check catches it."""


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def note(self, text):
        print("# " + text, flush=True)

    @contextlib.contextmanager
    def check(self, name):
        """Runs the block as one check. The block appends problems to the list it gets, or
        raises; either makes the check fail."""
        problems, details = [], []
        try:
            yield problems
        except Failed as e:
            problems.append(str(e))
        except Exception as e:  # a crash in a check is that check's failure
            lines = str(e).strip().splitlines() or [""]
            problems.append("%s: %s" % (type(e).__name__, lines[0]))
            # More lines (a stack's log tail) go out as notes; WebDriver stack traces don't.
            if not lines[0].startswith("Message:"):
                details = lines[1:21]
        if problems:
            self.failed += 1
            reason = "; ".join(problems)
            if len(reason) > 900:
                reason = reason[:900] + " ..."
            print("FAIL - %s: %s" % (name, reason), flush=True)
            for line in details:
                self.note("  " + line)
        else:
            self.passed += 1
            print("ok - %s" % name, flush=True)


# ============================================================================ colours

NAMED = {"white": (255, 255, 255, 1.0), "black": (0, 0, 0, 1.0), "transparent": (0, 0, 0, 0.0)}
COLOR_RE = re.compile(r"#[0-9a-fA-F]{3,8}\b|rgba?\([^()]*\)|\b(?:white|black|transparent)\b")


def parse_color(text):
    """(r, g, b, a) with r, g, b in 0..255 and a in 0..1, or None."""
    s = text.strip().lower()
    if s in NAMED:
        return NAMED[s]
    m = re.fullmatch(r"#([0-9a-f]{3,8})", s)
    if m:
        h = m.group(1)
        if len(h) in (3, 4):
            h = "".join(c * 2 for c in h)
        if len(h) not in (6, 8):
            return None
        a = int(h[6:8], 16) / 255 if len(h) == 8 else 1.0
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), a)
    m = re.fullmatch(r"rgba?\((.*)\)", s)
    if m:
        parts = [p for p in re.split(r"[\s,/]+", m.group(1).strip()) if p]
        if len(parts) not in (3, 4):
            return None
        try:
            rgb = [float(p[:-1]) * 2.55 if p.endswith("%") else float(p) for p in parts[:3]]
            a = 1.0
            if len(parts) == 4:
                a = float(parts[3][:-1]) / 100 if parts[3].endswith("%") else float(parts[3])
        except ValueError:
            return None
        return (rgb[0], rgb[1], rgb[2], a)
    return None


def colors_in(text):
    return [c for c in (parse_color(m.group(0)) for m in COLOR_RE.finditer(text)) if c]


def over(top, bottom):
    """Composites colour top (with alpha) over an opaque colour bottom."""
    a = top[3]
    return (top[0] * a + bottom[0] * (1 - a), top[1] * a + bottom[1] * (1 - a),
            top[2] * a + bottom[2] * (1 - a), 1.0)


def luminance(c):
    def ch(v):
        v = v / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * ch(c[0]) + 0.7152 * ch(c[1]) + 0.0722 * ch(c[2])


def contrast(a, b):
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def hexc(c):
    s = "#%02x%02x%02x" % tuple(int(round(v)) for v in c[:3])
    return s if c[3] >= 0.999 else "%s@%.2f" % (s, c[3])


def split_top(text, sep=","):
    """Splits at sep outside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [p.strip() for p in out if p.strip()]


def backdrops_from_layers(layers):
    """Every colour a background made of layers (CSS order: first on top) can show.
    Translucent colours of upper layers are composited over each colour below (and the
    colour below is kept: a gradient's translucent stop covers only part of the area)."""
    candidates = []
    for layer in reversed(layers):
        cols = colors_in(layer)
        opaque = [c for c in cols if c[3] >= 0.999]
        translucent = [c for c in cols if 0 < c[3] < 0.999]
        if opaque and not translucent:
            candidates = opaque
        elif opaque:
            candidates = opaque + [over(t, o) for t in translucent for o in opaque]
        elif translucent and candidates:
            candidates = candidates + [over(t, c) for t in translucent for c in candidates]
    return candidates


# ============================================================================ style.css

def css_rules(text):
    """[(at-rule context, selector, {property: value})], at-rules flattened; @keyframes and
    other at-rules with blocks are skipped."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    rules = []

    def parse(block, ctx):
        i = 0
        while True:
            j = block.find("{", i)
            if j < 0:
                return
            prelude = block[i:j].split(";")[-1].strip()
            depth, k = 1, j + 1
            while depth and k < len(block):
                depth += {"{": 1, "}": -1}.get(block[k], 0)
                k += 1
            body = block[j + 1:k - 1]
            if prelude.startswith("@"):
                if prelude.split()[0] in ("@media", "@supports", "@container", "@layer"):
                    parse(body, ctx + [prelude])
            else:
                decls = {}
                for d in body.split(";"):
                    if ":" in d:
                        p, v = d.split(":", 1)
                        decls[p.strip().lower()] = v.strip()
                rules.append((ctx, " ".join(prelude.split()), decls))
            i = k

    parse(text, [])
    return rules


def resolve_vars(value, variables, depth=0):
    def sub(m):
        name, fallback = m.group(1), m.group(2)
        if name in variables and depth < 10:
            return resolve_vars(variables[name], variables, depth + 1)
        return fallback.strip() if fallback else ""
    return re.sub(r"var\(\s*(--[\w-]+)\s*(?:,\s*([^()]*))?\)", sub, value)


SURFACE_SELECTORS = (".card", ".site-header", ".site-footer")


def static_contrast(css_text):
    """Checks style.css on its own. Returns (problems, notes).

    The gradient is the body::before background; the glass surfaces are the backgrounds of
    the .card, .site-header and .site-footer rules (with and without backdrop-filter), each
    composited over every colour the gradient can show. A text colour declared without a
    background of its own must reach 4.5:1 on every surface; a text colour declared with a
    background is checked on that background (translucent ones composited over every
    surface)."""
    rules = css_rules(css_text)
    variables = {}
    for ctx, sel, decls in rules:
        if sel == ":root":
            variables.update({k: v for k, v in decls.items() if k.startswith("--")})
    problems, notes = [], []
    gradient = None
    for ctx, sel, decls in rules:
        if sel == "body::before":
            bg = resolve_vars(decls.get("background", decls.get("background-image", "")), variables)
            if "gradient" in bg:
                gradient = backdrops_from_layers(split_top(bg))
    if not gradient:
        return ["no gradient found on body::before in style.css"], notes
    lightest = max(gradient, key=luminance)
    notes.append("gradient: %d backdrop colours, lightest %s" % (len(gradient), hexc(lightest)))

    def background_of(decls):
        v = decls.get("background-color") or decls.get("background")
        if v is None:
            return None
        v = resolve_vars(v, variables)
        c = parse_color(v)
        return c if c is not None else ("other", v)

    surfaces = []
    for ctx, sel, decls in rules:
        if any(part.strip() in SURFACE_SELECTORS for part in sel.split(",")):
            bg = background_of(decls)
            if isinstance(bg, tuple) and len(bg) == 4:
                for g in gradient:
                    surfaces.append((sel, bg, over(bg, g) if bg[3] < 0.999 else bg))
    if not surfaces:
        return ["no glass surfaces (.card/.site-header/.site-footer backgrounds) in style.css"], notes

    checked, worst = 0, None
    for ctx, sel, decls in rules:
        if "color" not in decls or any("forced-colors" in c for c in ctx):
            continue
        text = parse_color(resolve_vars(decls["color"], variables))
        if text is None:
            continue  # inherit, currentColor, system colours
        bg = background_of(decls)
        if isinstance(bg, tuple) and len(bg) == 2:
            problems.append("%s: cannot read its background %r" % (sel, bg[1]))
            continue
        if bg is None or bg[3] == 0:
            grounds = [(s_sel, s) for s_sel, _, s in surfaces]
        elif bg[3] >= 0.999:
            grounds = [("own background", bg)]
        else:
            grounds = [("own background over " + s_sel, over(bg, s)) for s_sel, _, s in surfaces]
        for where, ground in grounds:
            fg = over(text, ground) if text[3] < 0.999 else text
            ratio = contrast(fg, ground)
            checked += 1
            if worst is None or ratio < worst[0]:
                worst = (ratio, sel, hexc(text), hexc(ground))
            if ratio < MIN_TEXT_CONTRAST:
                problems.append("%s: %s on %s (%s) is %.2f:1" % (sel, hexc(text), hexc(ground), where, ratio))
    if checked == 0:
        problems.append("no text colours found in style.css")
    elif worst:
        notes.append("style.css: %d text/background pairs, lowest %.2f:1 (%s: %s on %s)" % ((checked,) + worst))
    # Only distinct problems, a few of them.
    problems = list(dict.fromkeys(problems))
    if len(problems) > 6:
        problems = problems[:6] + ["... %d more" % (len(problems) - 6)]
    return problems, notes


# ============================================================================ PNG

def png_size(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


# ============================================================================ the browser

JS_CSP_RECORDER = """
window.__ktCsp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__ktCsp.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline'));
}, true);
"""

# Everything about a loaded page the checks need, in one round trip.
JS_FACTS = """
const norm = s => (s || '').replace(/\\s+/g, ' ').trim();
const h1s = [...document.querySelectorAll('h1')];
const links = [...document.querySelectorAll('a[href]')];
const hiddenText = el => [...el.querySelectorAll('.visually-hidden, [aria-hidden="true"]')]
  .reduce((s, h) => s + h.textContent, '');
return {
  url: location.href,
  lang: document.documentElement.getAttribute('lang'),
  title: document.title,
  h1: h1s.map(h => norm(h.textContent)),
  visits: (document.getElementById('visits') || {}).textContent || null,
  grouped: norm((document.querySelector('.count-number') || {}).textContent || ''),
  imgsWithoutAlt: [...document.querySelectorAll('img:not([alt])')].map(i => i.getAttribute('src')),
  scripts: document.scripts.length,
  csp: window.__ktCsp || null,
  links: links.map(a => ({
    href: a.getAttribute('href'), abs: a.href, rel: a.rel,
    visibleText: norm(a.textContent.replace(hiddenText(a), '')),
    ariaLabel: a.getAttribute('aria-label'),
    hasIcon: !!a.querySelector('svg, img'),
  })),
  overflow: {
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    innerWidth: window.innerWidth,
    clientWidth: document.documentElement.clientWidth,
    wide: [...document.body.querySelectorAll('*')]
      .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
      .filter(e => !e.closest('.visually-hidden'))
      .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className && e.className.baseVal === undefined ? '.' + String(e.className).split(' ').join('.') : '') + ' right=' + Math.round(e.getBoundingClientRect().right)),
  },
};
"""

# For every visible text: its colour, and the backgrounds under it (from
# elementsFromPoint, so positioned elements count where they are drawn), bottom first.
JS_TEXT_COLOURS = """
const out = [];
const seen = new Set();
const norm = s => (s || '').replace(/\\s+/g, ' ').trim();
const isClipped = el => {
  for (let a = el; a && a !== document.body; a = a.parentElement) {
    const s = getComputedStyle(a), r = a.getBoundingClientRect();
    if ((r.width <= 1 || r.height <= 1) && (s.overflow !== 'visible' || s.clipPath !== 'none' || s.clip !== 'auto')) return true;
  }
  return false;
};
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const texts = [];
while (walker.nextNode()) {
  const t = walker.currentNode;
  if (!t.nodeValue.trim()) continue;
  const el = t.parentElement;
  if (!el || seen.has(el) || el.closest('svg, script, style, template')) continue;
  seen.add(el);
  texts.push([t, el]);
}
for (const [t, el] of texts) {
  const cs = getComputedStyle(el);
  if (cs.visibility !== 'visible' || isClipped(el)) continue;
  const range = document.createRange();
  range.selectNodeContents(t);
  let rects = [...range.getClientRects()].filter(r => r.width > 1 && r.height > 1);
  if (!rects.length) continue;
  if (rects[0].bottom + window.scrollY <= 0 || rects[0].right + window.scrollX <= 0) continue; // off-screen until focused
  if (rects[0].top < 0 || rects[0].bottom > window.innerHeight || rects[0].left < 0 || rects[0].right > window.innerWidth) {
    el.scrollIntoView({block: 'center', inline: 'nearest'});
    rects = [...range.getClientRects()].filter(r => r.width > 1 && r.height > 1);
  }
  const r = rects[0];
  const x = Math.min(Math.max(r.left + r.width / 2, 0), window.innerWidth - 1);
  const y = Math.min(Math.max(r.top + r.height / 2, 0), window.innerHeight - 1);
  const stack = document.elementsFromPoint(x, y);
  let i = stack.indexOf(el);
  if (i < 0) { // the text's element may not be hit-testable (pointer-events): use ancestors
    i = stack.findIndex(s => s.contains(el));
  }
  const under = (i < 0 ? [] : stack.slice(i)).filter(s => s !== document.body && s !== document.documentElement);
  let opacity = 1;
  for (let a = el; a; a = a.parentElement) opacity *= parseFloat(getComputedStyle(a).opacity);
  out.push({
    text: norm(t.nodeValue).slice(0, 40),
    where: el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).trim().split(/\\s+/).join('.') : ''),
    color: cs.color, opacity: opacity, size: cs.fontSize, weight: cs.fontWeight,
    layers: under.reverse().map(s => {
      const ss = getComputedStyle(s);
      return {bg: ss.backgroundColor, image: ss.backgroundImage, opacity: parseFloat(ss.opacity),
              who: s.tagName.toLowerCase() + (s.className ? '.' + String(s.className).trim().split(/\\s+/).join('.') : '')};
    }),
  });
}
window.scrollTo(0, 0);
const before = getComputedStyle(document.body, '::before');
return {texts: out, gradient: before.backgroundImage,
        bodyBg: getComputedStyle(document.body).backgroundColor,
        htmlBg: getComputedStyle(document.documentElement).backgroundColor};
"""

# Focus check: the links' unfocused styles, with focus cleared and the page at the top.
JS_FOCUS_START = """
document.activeElement && document.activeElement.blur();
window.scrollTo(0, 0);
window.__ktLinks = [...document.querySelectorAll('a[href]')];
window.__ktFocused = null;
return window.__ktLinks.map(a => {
  const s = getComputedStyle(a);
  return {outlineStyle: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth) || 0,
          boxShadow: s.boxShadow,
          label: (a.getAttribute('aria-label') || a.textContent).replace(/\\s+/g, ' ').trim() || a.href};
});
"""

# After a Tab: waits until focus moved and two frames were drawn, then describes the
# focused link (index -1 when focus is on something else) and the backgrounds just
# outside it, where its ring is drawn.
JS_AFTER_TAB = """
const done = arguments[arguments.length - 1];
let frames = 0;
const wait = () => {
  if (document.activeElement === window.__ktFocused && frames++ < 30) { requestAnimationFrame(wait); return; }
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const el = document.activeElement;
    window.__ktFocused = el;
    const index = window.__ktLinks.indexOf(el);
    if (index < 0) { done({index: -1}); return; }
    const s = getComputedStyle(el), r = el.getBoundingClientRect();
    const width = parseFloat(s.outlineWidth) || 0, gap = (parseFloat(s.outlineOffset) || 0) + width / 2;
    const points = [[r.left - gap, (r.top + r.bottom) / 2], [r.right + gap, (r.top + r.bottom) / 2],
                    [(r.left + r.right) / 2, r.top - gap], [(r.left + r.right) / 2, r.bottom + gap]];
    const ring = points.filter(([x, y]) => x >= 0 && y >= 0 && x < innerWidth && y < innerHeight)
      .map(([x, y]) => document.elementsFromPoint(x, y)
        .filter(e => e !== el && !el.contains(e) && e !== document.body && e !== document.documentElement)
        .reverse().map(e => ({bg: getComputedStyle(e).backgroundColor, image: getComputedStyle(e).backgroundImage})));
    done({index: index, outlineStyle: s.outlineStyle, outlineWidth: width, outlineColor: s.outlineColor,
          boxShadow: s.boxShadow, focusVisible: el.matches(':focus-visible'),
          rect: [r.left, r.top, r.right, r.bottom], vw: innerWidth, vh: innerHeight, ring: ring,
          label: (el.getAttribute('aria-label') || el.textContent).replace(/\\s+/g, ' ').trim() || el.href});
  }));
};
wait();
"""


class Browser:
    """One Chromium under chromedriver, with its DevTools performance and console logs."""

    def __init__(self, label, chromium, chromedriver, user_dir, javascript=True):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        self.label = label
        self.javascript = javascript
        opts = webdriver.ChromeOptions()
        opts.binary_location = chromium
        for a in CHROME_ARGS:
            opts.add_argument(a)
        opts.add_argument("--user-data-dir=" + user_dir)
        if not javascript:
            opts.add_argument("--blink-settings=scriptEnabled=false")
            opts.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        opts.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
        self.service = Service(chromedriver)
        self.driver = webdriver.Chrome(service=self.service, options=opts)
        self.driver.set_page_load_timeout(20)
        self.driver.set_script_timeout(20)
        self.all_requests = []      # every URL requested since start (after the first drain)
        self.all_console = []       # every console entry since start
        self.pending = set()
        self.viewport = None
        # Chromium's own start page (chrome:// resources) is not the site's: start clean.
        self.driver.get("about:blank")
        time.sleep(0.2)
        self.drain()
        self.all_requests = []
        self.all_console = []
        if javascript:
            self.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": JS_CSP_RECORDER})
        # Screenshots of the settled page: animations run to their end at once.
        self.cdp("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})

    def cdp(self, cmd, params=None):
        return self.driver.execute_cdp_cmd(cmd, params or {})

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def set_viewport(self, name):
        if self.viewport != name:
            self.cdp("Emulation.setDeviceMetricsOverride", VIEWPORTS[name])
            self.viewport = name

    def drain(self):
        """Reads both logs. Returns (requested URLs, console entries) since the last drain;
        keeps them all in all_requests and all_console too."""
        urls = []
        for entry in self.driver.get_log("performance"):
            try:
                msg = json.loads(entry["message"])["message"]
            except (KeyError, ValueError):
                continue
            method, params = msg.get("method"), msg.get("params", {})
            if method == "Network.requestWillBeSent":
                urls.append(params["request"]["url"])
                self.pending.add(params.get("requestId"))
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                self.pending.discard(params.get("requestId"))
        self.all_requests += urls
        console = self.driver.get_log("browser")
        self.all_console += console
        return urls, console

    def load(self, url, quiet_ms=150, limit_s=4.0):
        """Opens url and waits until the document, its subresources and animations are done
        and the network has been quiet for quiet_ms. Returns (requested URLs, console)."""
        self.drain()
        self.pending.clear()
        self.driver.get(url)
        return self.settle(quiet_ms, limit_s)

    def settle(self, quiet_ms=150, limit_s=4.0):
        urls, console = [], []
        t0 = time.monotonic()
        quiet_since = time.monotonic()
        while time.monotonic() - t0 < limit_s:
            u, c = self.drain()
            urls += u
            console += c
            if u or c:
                quiet_since = time.monotonic()
            ready = self.js("return document.readyState === 'complete' && "
                            "(!document.getAnimations || document.getAnimations()"
                            ".every(a => a.playState !== 'running'))")
            if ready and not self.pending and (time.monotonic() - quiet_since) * 1000 >= quiet_ms:
                break
            time.sleep(0.05)
        return urls, console

    def screenshot(self):
        return self.driver.get_screenshot_as_png()

    def press(self, key):
        """Presses a key, then waits until focus has moved (when it does) and two frames have
        been drawn, so that styles read next are those of the new state."""
        from selenium.webdriver.common.action_chains import ActionChains
        before = self.js("return document.activeElement")
        ActionChains(self.driver).send_keys(key).perform()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and self.js("return document.activeElement") == before:
            time.sleep(0.02)
        self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "requestAnimationFrame(() => requestAnimationFrame(() => done()));")

    def quit(self):
        try:
            self.driver.quit()
        except Exception:
            pass
        try:
            self.service.stop()
        except Exception:
            pass


# ============================================================================ checks

class Suite:
    def __init__(self, args, results):
        self.args = args
        self.r = results
        self.stack = None
        self.browser = None
        self.nojs = None
        self.tmp = tempfile.mkdtemp(prefix="kt-browser-")
        self.titles = {}
        self.redis_up = True
        self._nojs_thread = None
        self._nojs_result = None

    # -- helpers
    def base(self):
        return "http://127.0.0.1:%d" % self.stack.port

    def url(self, path):
        return self.base() + path

    def local(self, url):
        return url.startswith(self.base() + "/") or url.startswith("data:") or url == "about:blank"

    def facts(self, browser=None):
        return (browser or self.browser).js(JS_FACTS)

    # -- set-up and tear-down
    def start(self):
        from lib.stack import Stack
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
        t0 = time.monotonic()
        self.browser = Browser("js", self.args.chromium, self.args.chromedriver,
                               os.path.join(self.tmp, "profile-js"), javascript=True)
        self.r.note("Chromium started in %.1f s" % (time.monotonic() - t0))
        # The second browser (JavaScript off) starts meanwhile; start_nojs() collects it.
        self._nojs_thread = threading.Thread(target=self._launch_nojs, daemon=True)
        self._nojs_thread.start()

    def _launch_nojs(self):
        try:
            self._nojs_result = Browser("nojs", self.args.chromium, self.args.chromedriver,
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
        if self.stack is not None:
            try:
                self.stack.stop()
            finally:
                self.stack.cleanup()
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
                self.text_contrast(page)
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
        from selenium.webdriver.common.by import By
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

    def gradient_backdrops(self, data):
        cands = backdrops_from_layers(split_top(data["gradient"])) if data["gradient"] not in ("none", "") else []
        if not cands:
            c = parse_color(data["bodyBg"])
            cands = [c] if c and c[3] > 0.999 else [(255, 255, 255, 1.0)]
        return cands

    def layers_over(self, layers, backdrops):
        """Composites element backgrounds (bottom first) over every backdrop colour."""
        grounds = list(backdrops)
        for layer in layers:
            bg = parse_color(layer["bg"])
            image = layer.get("image") or "none"
            if image != "none":
                cols = backdrops_from_layers(split_top(image))
                if cols:
                    grounds = [over(c, g) if c[3] < 0.999 else c for c in cols for g in grounds]
            if bg is None:
                raise Failed("cannot read background colour %r" % layer["bg"])
            if bg[3] >= 0.999:
                grounds = [bg]
            elif bg[3] > 0:
                grounds = [over(bg, g) for g in grounds]
        return grounds

    def contrast_problems(self):
        data = self.browser.js(JS_TEXT_COLOURS)
        backdrops = self.gradient_backdrops(data)
        problems, worst = [], None
        if not data["texts"]:
            return ["no visible text found"], None
        for t in data["texts"]:
            fg = parse_color(t["color"])
            if fg is None:
                problems.append("%s: cannot read colour %r" % (t["where"], t["color"]))
                continue
            fg = (fg[0], fg[1], fg[2], fg[3] * t["opacity"])
            grounds = self.layers_over(t["layers"], backdrops)
            ratio = min(contrast(over(fg, g) if fg[3] < 0.999 else fg, g) for g in grounds)
            g = min(grounds, key=lambda g: contrast(over(fg, g) if fg[3] < 0.999 else fg, g))
            if worst is None or ratio < worst[0]:
                worst = (ratio, t["where"], t["text"], hexc(fg), hexc(g))
            if ratio < MIN_TEXT_CONTRAST:
                problems.append("%s %r: %s on %s is %.2f:1" % (t["where"], t["text"], hexc(fg), hexc(g), ratio))
        problems = list(dict.fromkeys(problems))
        return problems[:6] + (["... %d more" % (len(problems) - 6)] if len(problems) > 6 else []), worst

    def text_contrast(self, page):
        with self.r.check("%s: text contrast >= %.1f:1 over the gradient (computed styles)" % (page.name, MIN_TEXT_CONTRAST)) as p:
            problems, worst = self.contrast_problems()
            p.extend(problems)
            if worst and not problems:
                self.r.note("%s: lowest text contrast %.2f:1 (%s %r, %s on %s)" % ((page.name,) + worst))

    def focus(self, page):
        """Tabs through the page: every link gets focus in turn and shows a ring that it
        does not show unfocused, contrasting >= 3:1 with what is around it."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys
        with self.r.check("%s: visible keyboard focus on every link" % page.name) as p:
            b = self.browser
            unfocused = b.js(JS_FOCUS_START)
            if not unfocused:
                p.append("no links")
                return
            backdrops = self.gradient_backdrops(b.js(
                "const b = getComputedStyle(document.body, '::before');"
                "return {gradient: b.backgroundImage, bodyBg: getComputedStyle(document.body).backgroundColor};"))
            reached = set()
            for _ in range(len(unfocused) + 2):
                ActionChains(b.driver).send_keys(Keys.TAB).perform()
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
                    lowest = min(contrast(colour if colour[3] >= 0.999 else over(colour, g), g)
                                 for layers in st["ring"] for g in self.layers_over(layers, backdrops))
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
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        with self.r.check("%s: links lead where they say" % page.name) as p:
            b = self.browser
            b.set_viewport("desktop")
            b.load(self.url(page.path))
            d = b.driver
            anchors = d.find_elements(By.CSS_SELECTOR, "a[href]")
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
                if target.startswith("#"):
                    want = self.url(page.path) + target
                    if hrefs[i] != want:
                        p.append("%r points to %s, expected %s" % (name, hrefs[i], want))
                        continue
                    if not (everything or in_main[i]):
                        continue
                    b.load(self.url(page.path))
                    b.js("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);")
                    b.press(Keys.TAB)
                    first = b.js("const a = document.activeElement, r = a.getBoundingClientRect();"
                                 "return [a.textContent.trim(), r.top >= 0 && r.bottom <= innerHeight && r.left >= 0];")
                    if first[0] != name:
                        p.append("the first Tab focuses %r, not %r" % (first[0], name))
                        continue
                    if not first[1]:
                        p.append("%r is focused but not visible" % name)
                    b.press(Keys.ENTER)
                    landed = b.js("return [location.href, document.activeElement && document.activeElement.id]")
                    if landed[0] != want:
                        p.append("%r led to %s, expected %s" % (name, landed[0], want))
                    elif landed[1] != target[1:]:
                        p.append("%r did not move focus to %s (focus on %r)" % (name, target, landed[1]))
                    clicked += 1
                    continue
                want = self.url(target)
                if hrefs[i] != want:
                    p.append("%r points to %s, expected %s" % (name, hrefs[i], want))
                    continue
                if not (everything or in_main[i]):
                    continue
                b.load(self.url(page.path))
                anchor = d.find_elements(By.CSS_SELECTOR, "a[href]")[i]
                b.js("window.__ktOld = true;")
                anchor.click()
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    if b.js("return !window.__ktOld && document.readyState === 'complete'"):
                        break
                    time.sleep(0.05)
                else:
                    p.append("clicking %r did not load a new page" % name)
                    continue
                b.settle()
                landed = b.js("return [location.href, [...document.querySelectorAll('h1')]"
                              ".map(h => h.textContent.replace(/\\s+/g, ' ').trim())]")
                if landed[0] != want:
                    p.append("%r led to %s, expected %s" % (name, landed[0], want))
                elif len(landed[1]) != 1 or not re.search(expected_h1(target, self.redis_up), landed[1][0]):
                    p.append("%r led to a page whose h1 is %r" % (name, landed[1]))
                clicked += 1
            if clicked == 0:
                p.append("no link was followed")

    # -- /count
    def count_reload(self):
        from selenium.webdriver.common.by import By
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

    # -- JavaScript off
    def start_nojs(self):
        if self.nojs is None:
            self._nojs_thread.join(60)
            result = self._nojs_result
            if isinstance(result, Exception) or result is None:
                raise Failed("the second Chromium (JavaScript off) did not start: %s" % result)
            self.nojs = result
            self.nojs.set_viewport("desktop")

    def without_js(self, pages):
        with self.r.check("without JavaScript: scripts are really disabled in the second browser") as p:
            self.start_nojs()
            self.nojs.load("data:text/html,<title>off</title><script>document.title='on'</script>")
            if self.nojs.driver.title != "off":
                p.append("a page script ran (title %r)" % self.nojs.driver.title)
        last = None
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
                        urls2, _ = self.nojs.load(self.url(page.path))
                        v2 = (self.facts(self.nojs)["visits"] or "").strip()
                        if not (v2.isdigit() and int(v2) > int(v)):
                            p.append("#visits %r after a reload, was %s" % (v2, v))
                        last = v2
                off = [u for u in urls if not self.local(u)]
                if off:
                    p.append("requests elsewhere: %s" % ", ".join(off[:3]))
        return last

    # -- Redis down
    def stop_redis(self):
        from lib.stack import wait_gone
        pid = self.stack.redis_pid()
        if not pid:
            raise Failed("no Redis pid")
        os.kill(pid, signal.SIGTERM)
        if wait_gone(pid, 10) is None:
            raise Failed("Redis (pid %d) did not exit within 10 s" % pid)
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
            with self.r.check(name) as p:
                p.append("could not run: %s: %s" % (type(e).__name__, (str(e).strip().splitlines() or [""])[0]))
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

        for page in PAGES:
            self.phase("%s: page checks" % page.name, self.page, page)
        for page in PAGES:
            self.phase("%s: links lead where they say" % page.name, self.links, page, everything=page is PAGES[0])
        self.phase("count: reload", self.count_reload)
        self.phase("without JavaScript", self.without_js, PAGES)

        with self.r.check("503: Redis stopped, /count answers 503") as p:
            self.stop_redis()
            from lib.stack import http_get
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

        with self.r.check("every request of the run stayed on 127.0.0.1:%d" % self.stack.port) as p:
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
                                 % (re.escape(self.url(PAGES[3].path)), re.escape(self.url(PAGE_503.path))))
            entries = self.browser.all_console + (self.nojs.all_console if self.nojs else [])
            bad = [e for e in entries if e.get("level") == "SEVERE" and not allowed.match(e.get("message", ""))]
            for e in bad[:4]:
                p.append("%s: %s" % (e.get("source"), e.get("message", "")[:200]))
            self.r.note("%d console entries in the run, %d allowed errors" % (
                len(entries), len([e for e in entries if e.get("level") == "SEVERE"]) - len(bad)))

        with self.r.check("the stack stayed up: same workers, nginx and stack script") as p:
            if not self.stack.running():
                p.append("scripts/stack.sh exited with %s" % self.stack.proc.poll())
            from lib.stack import proc_alive
            dead = [pid for pid in self.worker_pids_at_start if not proc_alive(pid)]
            if dead:
                p.append("workers %s are gone" % dead)
            if p:
                for line in self.stack.log_tail(15):
                    self.r.note("stack log: " + line)


# ============================================================================ main

def dpkg_installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.endswith(" installed")


def ensure_packages():
    if not shutil.which("dpkg-query"):
        return
    missing = [p for p in PACKAGES if not dpkg_installed(p)]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.stderr.write("browser: missing packages; run:  sudo apt-get install -y %s\n" % " ".join(missing))
        print("0 passed, 1 failed")
        sys.exit(2)
    print("# installing %s" % " ".join(missing), flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", default=os.path.join(REPO, "build", "release", "khalid-fcgi"),
                    help="the khalid-fcgi binary (default: build/release/khalid-fcgi)")
    ap.add_argument("--screenshots", default=os.path.join(REPO, "docs", "screenshots"),
                    help="where the PNGs go (default: docs/screenshots)")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    ap.add_argument("--timeout", type=int, default=300, help="give up after this many seconds")
    ap.add_argument("--template-dir", help="TEMPLATE_DIR for the workers (to try the checks on altered "
                    "templates; static files are always served from templates/static)")
    args = ap.parse_args()

    ensure_packages()
    try:
        import selenium  # noqa: F401
    except ImportError:
        # Debian's python3-selenium is only visible to Debian's Python.
        if os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) and os.path.exists(DEBIAN_PYTHON):
            os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON] + sys.argv)
        sys.stderr.write("browser: cannot import selenium (install python3-selenium; run with %s)\n" % DEBIAN_PYTHON)
        print("0 passed, 1 failed")
        return 2
    sys.path.insert(0, os.path.join(REPO, "tests"))
    if not os.access(args.worker, os.X_OK):
        sys.stderr.write("browser: %s is missing: run make worker\n" % args.worker)
        print("0 passed, 1 failed")
        return 2
    os.makedirs(args.screenshots, exist_ok=True)

    # SIGTERM/SIGINT and the overall deadline unwind through the finally below.
    def interrupted(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    def timed_out(signum, frame):
        raise Deadline("the browser tests took more than %d s" % args.timeout)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGALRM, timed_out)
    signal.alarm(args.timeout)

    results = Results()
    suite = Suite(args, results)
    t0 = time.monotonic()
    try:
        with results.check("stack and Chromium start"):
            suite.start()
        if suite.browser is not None:
            suite.run()
    except (KeyboardInterrupt, Deadline) as e:
        results.failed += 1
        print("FAIL - interrupted: %s" % (e or "SIGINT"), flush=True)
    except Exception as e:
        results.failed += 1
        print("FAIL - the suite crashed: %s: %s" % (type(e).__name__, (str(e).strip().splitlines() or [""])[0]), flush=True)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            suite.stop()
        finally:
            results.note("took %.1f s" % (time.monotonic() - t0))
            print("%d passed, %d failed" % (results.passed, results.failed), flush=True)
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
