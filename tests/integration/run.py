#!/usr/bin/python3
"""Integration tests for Khalid Tracker against the real native stack.

    /usr/bin/python3 tests/integration/run.py --worker build/release/khalid-fcgi [-k FILTER]

The tests live in this directory, one file per subject, each registered with @test where
it is defined (suite.py). Each starts what it needs (scripts/stack.sh, or the worker
alone) in temp dirs on free ports, at 127.0.0.1 only, and everything is torn down after
it, also on failure, Ctrl-C, SIGTERM or the suite's time limit. -k runs only the tests
whose name contains FILTER (repeatable); any test runs alone.

Last, every log is scanned: for nginx alerts, and, when the worker is built with a
sanitizer (it refers to the ASan/UBSan runtime), for sanitizer reports, which the
workers' exit-time leak checks write when the stacks stop. Prints "ok - name" or
"FAIL - name: reason" per check and "N passed, N failed" last; exits 1 if anything failed.
Python 3 standard library only.
"""
import argparse
import importlib
import os
import re
import sys
import threading
import time

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Imported as integration.* and lib.*: a subject file is never importable by a bare name
# that could shadow a standard module.
sys.path[0] = TESTS_DIR

from integration.suite import TESTS, Context  # noqa: E402
from lib.results import Deadline, Results, expect, stop_on_signals  # noqa: E402
from lib.sanitizer import instrumented, report_lines  # noqa: E402
from lib.stack import REPO  # noqa: E402

# Every other file here is a subject; importing it registers its tests.
SUBJECTS = sorted(f[:-3] for f in os.listdir(os.path.dirname(os.path.abspath(__file__)))
                  if f.endswith(".py") and f not in ("__init__.py", "run.py", "suite.py"))
for _subject in SUBJECTS:
    importlib.import_module("integration." + _subject)

TIME_LIMIT = 600  # a last resort: never hang a CI job
NGINX_ALERT_RE = re.compile(r"\[(alert|emerg)\]")


class Background:
    """A test run in a thread beside the others; reported after them, from the main thread
    (Results is not thread-safe)."""

    def __init__(self, t, worker, logs):
        self.test = t
        self.notes = []
        self.ctx = Context(worker, logs, self.notes.append)
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True, name=t.name)
        self.thread.start()

    def _run(self):
        try:
            self.test.fn(self.ctx)
        except BaseException as e:  # reported by the main thread, as the check's failure
            self.error = e

    def result(self):
        while self.thread.is_alive():
            self.thread.join(0.5)  # short waits, so SIGALRM and SIGTERM get through
        if self.error is not None:
            raise self.error


def log_scan(logs, sanitized):
    """The final check: which lines of every log are nginx alerts or (sanitized workers)
    sanitizer reports."""
    def check():
        expect(logs, "no logs to scan")
        problems = []
        for where, text in logs:
            bad = [line for line in text.splitlines() if NGINX_ALERT_RE.search(line)]
            if sanitized:
                bad += report_lines(text)
            problems += ["%s: %s" % (where, line.strip()[:200]) for line in bad]
        expect(not problems, "%d bad log lines: %s" % (len(problems), " | ".join(problems[:8])))
    if sanitized:
        return "no sanitizer reports (ASan/UBSan/LSan) and no nginx alerts in the logs", check
    return "no nginx alerts in the logs (release worker: no sanitizer to report)", check


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", default=os.path.join(REPO, "build", "release", "khalid-fcgi"))
    ap.add_argument("-k", dest="only", action="append", default=[],
                    help="run only the tests whose name contains this text (repeatable)")
    args = ap.parse_args()
    res = Results()
    worker = os.path.abspath(args.worker)
    if not os.access(worker, os.X_OK):
        res.fail("setup", "%s is not an executable worker (run make worker)" % worker)
        return res.summary()
    sanitized = instrumented(worker)

    shield = stop_on_signals(TIME_LIMIT)
    t0 = time.monotonic()
    res.note("integration tests, worker %s (%s)" % (worker, "built with a sanitizer" if sanitized else "release"))
    tests = [t for t in TESTS if not args.only or any(k.lower() in t.name.lower() for k in args.only)]
    if args.only:
        res.note("only %d tests selected by -k" % len(tests))
        if not tests:
            res.fail("select", "no test name contains %s" % " or ".join(map(repr, args.only)))
    logs = []
    open_contexts = []
    interrupted = None
    try:
        background = []
        for t in tests:
            if t.background:
                b = Background(t, worker, logs)
                open_contexts.append(b.ctx)
                background.append(b)
        for t in tests:
            if not t.background:
                ctx = Context(worker, logs, res.note)
                open_contexts.append(ctx)
                try:
                    res.run(t.name, t.fn, ctx, details=ctx.log_tails)
                finally:
                    for p in ctx.close():
                        res.fail("teardown after " + t.name, p)
        for b in background:
            try:
                res.run(b.test.name, b.result, details=b.ctx.log_tails)
            finally:
                for n in b.notes:
                    res.note(n)
                for p in b.ctx.close():
                    res.fail("teardown after " + b.test.name, p)
        if logs or not args.only:
            res.run(*log_scan(logs, sanitized))
        else:
            res.note("no logs to scan: the selected tests started no stack and no worker")
    except (KeyboardInterrupt, Deadline) as e:
        interrupted = str(e) or type(e).__name__
    finally:
        shield()
        for ctx in open_contexts:
            ctx.close()  # a second close finds nothing left to do
    if interrupted:
        res.fail("run", "interrupted (%s); everything was torn down" % interrupted)
    res.note("%.1f s" % (time.monotonic() - t0))
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
