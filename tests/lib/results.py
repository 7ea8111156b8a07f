"""How every Python suite reports: one line per check, `ok - name` or `FAIL - name: reason`,
notes as `# text`, and as the last line `N passed, N failed`, which tests/check.sh counts.

    from lib.results import Results, Failure, expect, stop_on_signals
    shield = stop_on_signals(600)       # SIGTERM/SIGINT/time limit raise, so teardown runs
    res = Results()
    with res.check("home page answers") as problems:
        expect(http_get(port, "/").status == 200, "/ is not 200")
        problems.append("...")          # collected problems fail the check too
    res.run("counting", t_counting, stack)  # a function as one check
    sys.exit(res.summary())

Python 3 standard library only.
"""
import contextlib
import signal
import sys
import traceback

MAX_REASON = 2000


class Failure(Exception):
    """A check found the product wrong; its text is the reason printed."""


class Deadline(BaseException):
    """A suite's overall time ran out (SIGALRM). A BaseException, so no check catches it."""


def stop_on_signals(limit):
    """From now on SIGTERM and SIGINT raise KeyboardInterrupt, and after `limit` seconds
    SIGALRM raises Deadline, in the main thread: whatever stops a suite, its `finally`
    blocks run and tear down what it started. Returns a function to call before the
    teardown, so that a second signal cannot interrupt it."""
    def on_signal(signum, frame):
        if signum == signal.SIGALRM:
            raise Deadline("ran for %d s" % limit)
        raise KeyboardInterrupt("signal %d" % signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(sig, on_signal)
    signal.alarm(limit)

    def shield():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.alarm(0)
    return shield


def expect(cond, msg):
    """An assertion that survives python -O."""
    if not cond:
        raise Failure(msg)


class Errors:
    """Collects several failures (a table's rows) and raises them together."""

    def __init__(self):
        self.items = []

    def check(self, cond, msg):
        if not cond:
            self.items.append(msg)
        return cond

    def raise_if_any(self, limit=12):
        if self.items:
            more = len(self.items) - limit
            raise Failure("; ".join(self.items[:limit]) + (" (and %d more)" % more if more > 0 else ""))


class Results:
    """Counts and prints checks. Not thread-safe: report from the main thread."""

    def __init__(self, out=None):
        self.passed = 0
        self.failed = 0
        self.out = out or sys.stdout

    def _print(self, line):
        self.out.write(line + "\n")
        self.out.flush()

    def note(self, text):
        for line in str(text).splitlines() or [""]:
            self._print("# " + line)

    def ok(self, name):
        self.passed += 1
        self._print("ok - %s" % name)

    def fail(self, name, reason, details=()):
        """Counts one failure; the reason goes on one line, details as notes below it."""
        self.failed += 1
        reason = " ".join(str(reason).split("\n"))
        if len(reason) > MAX_REASON:
            reason = reason[:MAX_REASON] + " ..."
        self._print("FAIL - %s: %s" % (name, reason))
        for line in details:
            self.note("  " + line)

    @contextlib.contextmanager
    def check(self, name, details=None):
        """Runs the block as one check: it fails when the block raises or appends a problem
        to the list it is given. details, if given, is called on failure for lines to show
        under it (a log tail)."""
        problems = []
        try:
            yield problems
        except (KeyboardInterrupt, Deadline):
            raise
        except Failure as e:
            problems.append(str(e))
        except Exception as e:  # a crash in a check is that check's failure
            tb = traceback.format_exc().strip().splitlines()
            problems.append("%s: %s [%s]" % (type(e).__name__, str(e).strip().split("\n")[0],
                                             " | ".join(tb[-3:])))
        if problems:
            extra = []
            if details is not None:
                try:
                    extra = list(details())
                except Exception as e:  # the details are a courtesy; never mask the failure
                    extra = ["(could not gather details: %s)" % e]
            self.fail(name, "; ".join(problems), extra)
        else:
            self.ok(name)

    def run(self, name, fn, *args, details=None):
        """Runs fn(*args) as one check; returns whether it passed."""
        before = self.failed
        with self.check(name, details) as problems:
            if fn(*args) is False:
                problems.append("returned False")
        return self.failed == before

    def summary(self):
        """Prints the closing line and returns the exit status: 0 when nothing failed."""
        self._print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0
