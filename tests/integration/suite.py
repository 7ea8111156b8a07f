"""The integration suite's frame. A test is a function registered where it is defined:

    @test("exact counting: 5000 requests at 50 connections")
    def t_counting(ctx):
        st = ctx.stack()            # a fresh native stack, only this test's
        ...

Each test gets a Context: the stacks it starts and the temp dirs it makes are its own and
are torn down after it, whatever happens, so no test sees another's state or depends on
running after it. Their logs are kept for the suite's final log scan (run.py).

Timing bounds are derived here from the settings the stacks run with, plus SLACK for a
busy 2-core machine (sanitizer builds and image builds running beside the suite).
"""
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile

from lib.results import expect
from lib.sanitizer import SANITIZER_ENV
from lib.stack import REPO, Stack, proc_alive, proc_start_time, wait_gone

# ---------------------------------------------------------------------------- timing

REDIS_TIMEOUT_MS = 500      # what the test stacks set (the worker's default)
REDIS_TIMEOUT = REDIS_TIMEOUT_MS / 1000
# The worker's longest wait between reconnect attempts to Redis (fcgi-app/store.c:
# 50 ms doubling to 1 s).
RECONNECT_BACKOFF_MAX = 1.0
# How long libfcgi waits for the first bytes on a new connection before it gives up on it.
LIBFCGI_FIRST_READ_WAIT = 2.0
# Scheduling delay a bound allows on a busy 2-core machine, on top of what the product may
# take by design.
SLACK = 1.0


def _nginx_seconds(directive):
    with open(os.path.join(REPO, "nginx", "nginx.conf.in")) as f:
        m = re.search(r"^\s*%s\s+(\d+)s;" % directive, f.read(), re.M)
    if m is None:
        raise RuntimeError("nginx/nginx.conf.in sets no %s in seconds" % directive)
    return int(m.group(1))


CLIENT_HEADER_TIMEOUT = _nginx_seconds("client_header_timeout")

# A request that waits on a hung Redis is answered after one command timeout.
HUNG_REDIS_ANSWER = REDIS_TIMEOUT + SLACK
# A worker told to stop finishes its requests in flight (each waits on Redis at most the
# timeout) and exits.
WORKER_EXIT = REDIS_TIMEOUT + SLACK
# The whole stack: nginx, then the workers, then Redis, one after the other.
STACK_STOP = WORKER_EXIT + 2 * SLACK
# After an outage every thread reconnects at its next attempt: at most one backoff later.
REDIS_RECOVERY = RECONNECT_BACKOFF_MAX + REDIS_TIMEOUT + SLACK
# SIGTERM while a client is connected that never sends a byte: libfcgi gives up on it first.
SILENT_CLIENT_EXIT = LIBFCGI_FIRST_READ_WAIT + SLACK
# A page nothing holds up; one held up by a slow client would wait client_header_timeout.
PLAIN_ANSWER = 2 * SLACK


def secs(x):
    """A bound as it appears in a check's name."""
    return ("%.1f" % x).rstrip("0").rstrip(".") + " s"


# ---------------------------------------------------------------------------- registry

TESTS = []


class Test:
    def __init__(self, name, fn, background):
        self.name = name
        self.fn = fn
        self.background = background


def test(name, background=False):
    """Registers fn(ctx) as one check named `name`. background=True: it mostly waits (for a
    server-side timeout), so run.py runs it in a thread beside the others; it must use
    only its own stacks."""
    def register(fn):
        TESTS.append(Test(name, fn, background))
        return fn
    return register


# ---------------------------------------------------------------------------- context

# The worker with a settable clock, built beside the worker (Makefile: fakeclock-worker).
FAKECLOCK_WORKER = "khalid-fcgi-fakeclock"


def worker_env(extra=None):
    """The environment of a worker run directly: nothing from the caller's but PATH and
    the locale, Redis nowhere (no test here needs it), the sanitizer options set."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TEMPLATE_DIR": os.path.join(REPO, "templates"),
           "REDIS_HOST": "/nonexistent/redis.sock"}
    env.update(SANITIZER_ENV)
    env.update(extra or {})
    return env


def stop_proc(p):
    """SIGKILL to a process started in its own session, and everything in it."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(5)


class Context:
    """What one test owns. note(text) prints a `# text` line with the test's result."""

    def __init__(self, worker, logs, note):
        self.worker = worker
        self.logs = logs          # (where, text) of everything that ran, for the log scan
        self.note = note
        self.stacks = []
        self._cleanup = contextlib.ExitStack()

    def stack(self, workers=3, threads=4, env=None, worker=None, **kw):
        """A fresh native stack on a free port (REDIS_TIMEOUT_MS set, so the bounds above
        hold), running `worker` (the suite's by default); stopped and removed after the
        test."""
        st = Stack(worker or self.worker, workers=workers, threads=threads,
                   env=dict({"REDIS_TIMEOUT_MS": str(REDIS_TIMEOUT_MS)}, **(env or {})),
                   name="stack %d" % (len(self.stacks) + 1),
                   # The stack stops when the thread that started it ends, even if the
                   # suite is SIGKILLed: the main thread, or a background test's own
                   # thread, which ends with the test.
                   die_with_parent=True, **kw)
        self.stacks.append(st)
        st.start()
        return st

    def fakeclock_worker(self):
        """The suite's worker built with the clock tests set (KHALID_FAKE_NOW_FILE): the
        binary beside it, as the Makefile names it. Fails the test when it is missing."""
        path = os.path.join(os.path.dirname(self.worker), FAKECLOCK_WORKER)
        expect(os.access(path, os.X_OK), "%s is missing: build it with `make %sfakeclock-worker`"
               % (path, "SANITIZE=1 " if os.path.basename(os.path.dirname(self.worker)) == "sanitize" else ""))
        return path

    def tmpdir(self, prefix="kt-it-"):
        d = tempfile.mkdtemp(prefix=prefix)
        self._cleanup.callback(shutil.rmtree, d, True)
        return d

    def run(self, argv, env, timeout=10, **kw):
        """A command that runs the worker, run to its end; its stderr joins the logs
        scanned at the end."""
        r = subprocess.run(argv, env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)
        err = r.stderr if isinstance(r.stderr, str) else r.stderr.decode("utf-8", "replace")
        self.logs.append(("worker run directly", err))
        return r

    def run_worker(self, args, env, **kw):
        return self.run([self.worker] + args, env, **kw)

    @contextlib.contextmanager
    def spawned(self, env, sock_dir, wait):
        """The worker started as the stack starts it (spawn-fcgi -n on a unix socket).
        Yields (exit status, or None if still running after `wait` s; its stderr so far;
        the Popen; the socket path). Killed on leaving, however the block ends."""
        sock = os.path.join(sock_dir, "w.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        with tempfile.TemporaryFile() as errf:
            p = subprocess.Popen(["spawn-fcgi", "-n", "-s", sock, "-M", "0600", "--", self.worker], env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf,
                                 start_new_session=True)
            try:
                try:
                    rc = p.wait(wait)
                except subprocess.TimeoutExpired:
                    rc = None
                errf.seek(0)
                yield rc, errf.read().decode("utf-8", "replace"), p, sock
            finally:
                stop_proc(p)
                errf.seek(0)
                self.logs.append(("worker under spawn-fcgi", errf.read().decode("utf-8", "replace")))

    def log_tails(self):
        """The last lines of this test's stack logs, shown under a failure."""
        for st in self.stacks:
            for path in st.logs[-3:]:
                try:
                    with open(path, "rb") as f:
                        lines = f.read().decode("utf-8", "replace").splitlines()
                except OSError:
                    continue
                yield "last lines of %s (%s):" % (os.path.basename(path), st.name)
                for line in lines[-15:]:
                    yield "  " + line[:300]

    def close(self):
        """Stops every stack gracefully (the workers' exit-time sanitizer reports reach the
        logs), keeps the logs, and removes the stacks and temp dirs. Returns problems."""
        problems = []
        while self.stacks:
            st = self.stacks.pop(0)
            try:
                st.stop()
            except Exception as e:  # keep tearing down the others
                problems.append("%s: %s" % (st.name, e))
            finally:
                self.logs.append((st.name, st.log_text()))
                st.cleanup()
        self._cleanup.close()
        return problems


# ---------------------------------------------------------------------------- shared checks

def start_times(pids):
    return {p: proc_start_time(p) for p in pids if p}


def same_workers(e, starts, when):
    """Checks that the workers are the processes recorded in `starts` (pid -> start time):
    none crashed (a SIGPIPE, say) or was replaced."""
    now = start_times(starts)
    e.check(now == starts and all(proc_alive(p) for p in starts),
            "workers changed %s: before %s, after %s" % (when, starts, now))


def running_workers(st, n=3):
    """The stack's worker pids, checked to be n running processes."""
    pids = st.worker_pids()
    expect(len(pids) == n and all(pids) and all(proc_alive(p) for p in pids),
           "expected %d running workers, found %s" % (n, pids))
    return pids


def gone_within(pid, limit):
    """Seconds until pid is gone, waiting up to twice the limit so a slow exit is measured."""
    return wait_gone(pid, max(3.0, 2 * limit))

