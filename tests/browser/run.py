#!/usr/bin/env python3
"""Khalid Tracker in a real browser: Debian's headless Chromium driven by Debian's
python3-selenium against the native stack (issue 5).

    /usr/bin/python3 tests/browser/run.py --worker build/release/khalid-fcgi

`make check-browser` installs the packages (scripts/deps.sh) and runs this.

Starts its own stack (tests/lib/stack.py) in a temp dir on a free port, seeds the counter
and a few views from people's browsers (with referrers; the suite's own Chromium counts as
a bot), and for every page -- /, /count, /about, /stats, a 404, and the 503 that /count
answers while Redis is stopped -- takes screenshots at desktop (1280x800) and phone (390x844) size into
docs/screenshots/ and checks:

  - every request the browser makes goes to http://127.0.0.1:PORT/ (or is a data: URL),
    read from the DevTools performance log (Network.requestWillBeSent);
  - no console errors (the 404/503 pages may log exactly one: their own document's status)
    and no CSP violations (console messages and securitypolicyviolation events);
  - every link leads where its name says (clicked, then URL, query included, and h1 checked;
    the skip link with the keyboard; off-site links only compared with the configured URLs,
    not followed; links to JSON and CSV fetched outside the browser: status and type);
  - reloading /count shows a higher number, the one Redis holds; #visits is plain digits;
  - /stats: each chart has a <title> and its numbers in a table with a row per bar, agreeing
    with the bars' own titles; the five top lists are tables named by their headings, their
    bars hidden from assistive technology and scaled to the largest; the period switch marks
    the period shown with aria-current (and visibly) and the JSON link follows it;
  - the pages work with JavaScript disabled (a second browser);
  - accessibility basics: lang, a title per page, one h1, alt on images, accessible names on
    icon-only links, text contrast >= 4.5:1 (from style.css, and from the computed colours
    of every visible text in the browser, composited over the gradient's worst colour),
    a visible keyboard focus ring on every link, no horizontal overflow at 390 px;
  - over HTTPS, on a second stack with TLS=self-signed (Chromium accepts that stack's key
    alone, --ignore-certificate-errors-spki-list): /, /count and /stats load in a secure
    context with every request to https://127.0.0.1:PORT/, no mixed content warning, no
    console error or CSP violation; plain HTTP /count leads to the same page over HTTPS.

The files: suite.py (the checks), chrome.py (the browser), probes.py (the JavaScript that
reads a page), colour.py (the contrast maths, unit-tested by test_colour.py).

Prints `ok - name` / `FAIL - name: reason`, then `N passed, N failed` as the last line;
exits 1 on any failure, 2 when it cannot run at all. The stack, the browsers and their temp
dirs are removed on every exit path.
"""
import argparse
import importlib
import os
import signal
import sys
import time

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TESTS_DIR)
DEBIAN_PYTHON = "/usr/bin/python3"
PACKAGES = "chromium chromium-driver python3-selenium"
sys.path.insert(0, TESTS_DIR)

from lib.results import Deadline, Results  # noqa: E402


def cannot_run(reason):
    """The suite cannot start: one failure, and exit status 2."""
    res = Results()
    res.fail("the browser tests can run", reason)
    res.summary()
    return 2


def selenium_missing():
    """Why selenium cannot be imported, or None when it can."""
    try:
        importlib.import_module("selenium")
    except ImportError as e:
        return ("cannot import selenium (%s). Run `make check-browser`, which installs the packages "
                "first, or `scripts/deps.sh %s`, then run this with %s (Debian's python3-selenium "
                "is visible only to it)" % (e, PACKAGES, DEBIAN_PYTHON))
    return None


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

    missing = selenium_missing()
    if missing:
        # Debian's python3-selenium is only visible to Debian's Python: another python3
        # (a pyenv shim, a venv) hands over to it.
        if os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) and os.path.exists(DEBIAN_PYTHON):
            os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON] + sys.argv)
        return cannot_run(missing)
    if not os.access(args.worker, os.X_OK):
        return cannot_run("%s is missing: run make worker" % args.worker)
    os.makedirs(args.screenshots, exist_ok=True)

    from browser.suite import Suite  # needs selenium, checked above

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
        with results.check("stack and Chromium start", details=suite.stack_log):
            suite.start()
        if suite.browser is not None:
            suite.run()
    except (KeyboardInterrupt, Deadline) as e:
        results.fail("interrupted", str(e) or "SIGINT")
    except Exception as e:
        results.fail("the suite crashed", "%s: %s" % (type(e).__name__, (str(e).strip().splitlines() or [""])[0]))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            suite.stop()
        finally:
            results.note("took %.1f s" % (time.monotonic() - t0))
            status = results.summary()
    return status


if __name__ == "__main__":
    sys.exit(main())
