"""The native Khalid Tracker stack (scripts/stack.sh) for tests, and the process helpers
it needs. Python 3 standard library only.

    from lib.stack import Stack
    with Stack(worker="build/release/khalid-fcgi") as st:   # started in a temp dir
        r = http_get(st.port, "/count")                     # lib.http_client
        print(r.status, st.visits())

What is here:
  - Stack: starts `scripts/stack.sh run` in its own session on a free port in a temp
    state directory, waits for run/ready, knows its pids, stops it gracefully
    (SIGTERM) or by force (SIGKILL of every process of its process groups, found by
    pgid and start time, and of every pid it has seen), and removes its temp directory.
    die_with_parent=True: the stack stops itself if the starting thread dies (even by
    SIGKILL), through setpriv --pdeathsig.
  - clean_env(): the caller's environment without the stack's and worker's settings, with
    the sanitizer options set explicitly (lib.sanitizer).
  - Processes: proc_alive(), proc_start_time(), wait_gone() (zombies count as gone).
The HTTP client is lib.http_client, the FastCGI client lib.fastcgi.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from lib.http_client import HOST
# bench.py and tests/browser.py import http_get from here.
from lib.http_client import http_get  # noqa: F401
from lib.sanitizer import SANITIZER_ENV

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STACK_SH = os.path.join(REPO, "scripts", "stack.sh")

# Worker and stack settings that must not leak from the caller's environment into a
# test stack (a stray SHOW_SERVED_BY=0 or REDIS_PASSWORD would change what is tested).
WORKER_ENV_VARS = (
    "REDIS_HOST", "REDIS_PORT", "REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_PASSWORD_FILE", "REDIS_TIMEOUT_MS",
    "APP_NAME", "FCGI_THREADS", "TEMPLATE_DIR", "GITHUB_URL", "LINKEDIN_URL", "SHOW_SERVED_BY",
    "TRACKING", "IGNORE_IPS", "TRUSTED_PROXIES", "KHALID_FAKE_NOW_FILE", "STATS_PASSWORD",
    "STATS_PASSWORD_FILE", "METRICS_ALLOW", "NGINX_STATUS_ALLOW",
    "PORT", "WORKERS", "STATE_DIR", "KHALID_WORKER", "KHALID_WORKER_WRAPPER", "NGINX_WORKER_PROCESSES",
    "FASTCGI_KEEPALIVE",
    "TLS", "TLS_CERT", "TLS_KEY", "TLS_CHAIN", "HTTPS_PORT", "HSTS_MAX_AGE", "SERVER_NAME",
    "RATE_LIMIT", "RATE_BURST", "RATE_LIMIT_EXEMPT",
)


class StackError(Exception):
    pass


# ---------------------------------------------------------------------------- processes

def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name, or None if there is no such
    process. fields[0] is the state, fields[1] the ppid, fields[19] the start time."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return data[data.rindex(b")") + 2:].split()


def proc_alive(pid):
    """True while the process exists and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in (b"Z", b"X")


def proc_start_time(pid):
    """The process's start time in clock ticks since boot (identifies it across pid
    reuse), or None when it does not exist."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields is not None else None


def proc_children(pid):
    """Pids whose parent is pid."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields is not None and int(fields[1]) == pid:
                out.append(int(name))
    return out


def proc_group_members(pgid, started_since):
    """Pids in process group pgid that started at or after `started_since` (clock ticks),
    so a recycled group id can't match older, unrelated processes."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields is not None and int(fields[2]) == pgid and int(fields[19]) >= started_since:
                out.append(int(name))
    return out


def proc_with_env(entry, started_since):
    """Pids that started at or after `started_since` (clock ticks) whose environment holds
    entry ("NAME=value"), as it was when they were started."""
    needle = b"\0" + entry.encode() + b"\0"
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/environ" % name, "rb") as f:
                    env = b"\0" + f.read()
            except OSError:  # gone, or not ours to read
                continue
            start = proc_start_time(int(name))
            if needle in env and start is not None and start >= started_since:
                out.append(int(name))
    return out


def clock_ticks_now():
    """Now, in the clock ticks since boot that /proc/PID/stat counts start times in."""
    with open("/proc/uptime") as f:
        return int(float(f.read().split()[0]) * os.sysconf("SC_CLK_TCK"))


def wait_gone(pid, timeout):
    """Polls until pid has exited (or is a zombie). Returns the seconds it took, or None
    if it was still running after timeout seconds."""
    t0 = time.monotonic()
    while True:
        if not proc_alive(pid):
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            return None
        time.sleep(0.002)


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _signal_if_same(pid, start, sig):
    """Sends sig to pid only if it is still the process that started at `start`."""
    if pid and proc_start_time(pid) == start:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

# ---------------------------------------------------------------------------- the stack

def clean_env(extra=None):
    """os.environ without the stack's and worker's settings, with this suite's sanitizer
    options, plus extra."""
    env = {k: v for k, v in os.environ.items() if k not in WORKER_ENV_VARS}
    env.update(SANITIZER_ENV)
    env.update(extra or {})
    return env


class Stack:
    """The native stack (`scripts/stack.sh run`) in a temp state directory.

    Stack(worker, workers=3, threads=4, env={...}, state_dir=None, port=None, name=...)
    start() / stop() / kill() / cleanup(); usable as a context manager. workers, threads
    or nginx_processes None: scripts/stack.sh's own default (what `make run` uses).
    nginx's rate limit is off (RATE_LIMIT=0) unless env sets RATE_LIMIT: a test loads its
    stack from one address, which the limit would hold to a few requests a second."""

    def __init__(self, worker, workers=3, threads=4, env=None, state_dir=None, port=None,
                 name="stack", nginx_processes=2, die_with_parent=False):
        self.worker = os.path.abspath(worker)
        self.workers = workers
        self.threads = threads
        self.extra_env = dict(env or {})
        self.own_dir = state_dir is None
        self.fixed_port = port is not None
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="kt-it-")
        self.port = port
        self.name = name
        self.nginx_processes = nginx_processes
        # die_with_parent: stack.sh (and a Redis from start_redis) get SIGTERM, and stop
        # cleanly, if the thread that started them dies, even by SIGKILL (setpriv
        # --pdeathsig). Only for stacks started from a thread that lives as long as they do
        # (the main thread).
        self.die_with_parent = die_with_parent
        self.proc = None
        self.redis_procs = []      # Redis servers started by start_redis()
        self.seen = {}             # pid -> start time of every process of this stack
        self.logs = []             # every log file written (stack runs, Redis restarts)
        self.runs = 0
        self.created = clock_ticks_now() - 1

    # -- paths and pids
    @property
    def run_dir(self):
        return os.path.join(self.state_dir, "run")

    @property
    def redis_sock(self):
        return os.path.join(self.run_dir, "redis.sock")

    @property
    def secrets_dir(self):
        """Where stack.sh keeps the Redis users' passwords (redis-admin.pass, ...)."""
        return os.path.join(self.state_dir, "secrets")

    def redis_password(self, user="admin"):
        """The password of a Redis user of the stack (admin, worker or health), as stack.sh
        made it (or took the admin's from REDIS_PASSWORD)."""
        with open(os.path.join(self.secrets_dir, "redis-%s.pass" % user)) as f:
            return f.readline().rstrip("\r\n")

    def worker_sock(self, i):
        return os.path.join(self.run_dir, "worker-%d.sock" % i)

    def _note(self, pid):
        if pid:
            st = proc_start_time(pid)
            if st is not None:
                self.seen.setdefault(pid, st)
        return pid

    def worker_pids(self):
        """Worker pids in order worker-1..N (None for a missing pid file)."""
        n = self.workers
        if n is None:  # stack.sh chose: as many as it wrote pid files for
            names = os.listdir(self.run_dir) if os.path.isdir(self.run_dir) else []
            n = len([f for f in names if re.fullmatch(r"worker-\d+\.pid", f)])
        return [self._note(read_pid(os.path.join(self.run_dir, "worker-%d.pid" % i)))
                for i in range(1, n + 1)]

    def redis_pid(self):
        return self._note(read_pid(os.path.join(self.run_dir, "redis.pid")))

    def nginx_pid(self):
        return self._note(read_pid(os.path.join(self.run_dir, "nginx.pid")))

    def all_pids(self):
        """Every process of the running stack: stack.sh, Redis, workers, nginx master and
        its worker processes."""
        pids = [self.proc.pid] if self.proc else []
        pids += [p for p in self.worker_pids() if p]
        for p in (self.redis_pid(), self.nginx_pid()):
            if p:
                pids.append(p)
        if self.nginx_pid():
            pids += [self._note(c) for c in proc_children(self.nginx_pid())]
        return pids

    # -- logs
    @property
    def log_path(self):
        return self.logs[-1] if self.logs else None

    def log_text(self):
        out = []
        for path in self.logs:
            try:
                with open(path, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "".join(out)

    def log_tail(self, n=40):
        lines = self.log_text().splitlines()
        return lines[-n:]

    # -- lifecycle
    def _argv(self, *args):
        argv = [STACK_SH] + list(args)
        setpriv = shutil.which("setpriv")
        if self.die_with_parent and setpriv:
            argv = [setpriv, "--pdeathsig", "TERM", "--"] + argv
        return argv

    def env(self):
        settings = {"WORKERS": self.workers, "FCGI_THREADS": self.threads,
                    "NGINX_WORKER_PROCESSES": self.nginx_processes}
        extra = dict({"RATE_LIMIT": "0"}, **self.extra_env)
        return clean_env(dict(extra, STATE_DIR=self.state_dir, PORT=str(self.port),
                              KHALID_WORKER=self.worker,
                              **{k: str(v) for k, v in settings.items() if v is not None}))

    def start(self, timeout=20.0):
        """Starts the stack and waits for run/ready. Retries on another port if the chosen
        one was taken meanwhile. Raises StackError (with the log's tail) on failure."""
        fixed_port = self.fixed_port
        for attempt in range(3):
            if not fixed_port:
                self.port = free_port()
            self.runs += 1
            log = os.path.join(self.state_dir, "stack-%d.log" % self.runs)
            self.logs.append(log)
            try:
                os.unlink(os.path.join(self.run_dir, "ready"))
            except OSError:
                pass
            with open(log, "wb") as logf:
                self.proc = subprocess.Popen(
                    self._argv("run"), cwd=REPO, env=self.env(), stdin=subprocess.DEVNULL,
                    stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
            self.seen.setdefault(self.proc.pid, proc_start_time(self.proc.pid))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if os.path.exists(os.path.join(self.run_dir, "ready")):
                    self.all_pids()
                    return self
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
            rc = self.proc.poll()
            self.kill()
            text = self.log_text()
            if rc is not None and not fixed_port and "Address already in use" in text and attempt < 2:
                continue
            raise StackError("%s did not become ready within %.0f s (exit status %s); log tail:\n%s"
                             % (self.name, timeout, rc, "\n".join(self.log_tail(30))))
        raise StackError("unreachable")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """Graceful stop: SIGTERM to stack.sh, wait up to timeout. Returns (exit status,
        seconds) or (None, seconds) if it had to be killed. Always leaves nothing behind."""
        if self.proc is None:
            return None, 0.0
        self.all_pids()
        rp = self.redis_pid()
        if rp:
            _signal_if_same(rp, self.seen.get(rp), signal.SIGCONT)  # a stopped Redis can't stop
        t0 = time.monotonic()
        rc = self.proc.poll()
        if rc is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                rc = None
        elapsed = time.monotonic() - t0
        self.kill()
        return rc, elapsed

    def kill(self):
        """Forced cleanup: SIGKILL every process of the stack. Each process was started in
        its own session (its pid is its process group id); the leader may be gone while
        members (an nginx worker, a Redis) remain, so members are found by process group
        and start time and signalled by pid, never by a group id that could be recycled;
        so are processes started since this object was made with its STATE_DIR in their
        environment. Repeats until a pass finds nothing alive (a dying script may have just
        forked)."""
        groups = ([self.proc] if self.proc is not None else []) + list(self.redis_procs)
        for _ in range(5):
            for p in groups:
                since = self.seen.get(p.pid)
                if since is not None:
                    for pid in proc_group_members(p.pid, since):
                        self.seen.setdefault(pid, proc_start_time(pid))
            # A process this object never learnt the pid of (stack.sh itself, when an
            # interrupt came before Popen returned) still has the stack's STATE_DIR.
            for pid in proc_with_env("STATE_DIR=" + self.state_dir, self.created):
                self.seen.setdefault(pid, proc_start_time(pid))
            if os.path.isdir(self.run_dir):
                for name in os.listdir(self.run_dir):
                    if name.endswith(".pid"):
                        self._note(read_pid(os.path.join(self.run_dir, name)))
            alive = [(pid, st) for pid, st in self.seen.items()
                     if st is not None and proc_start_time(pid) == st and proc_alive(pid)]
            if not alive:
                break
            for pid, st in alive:
                _signal_if_same(pid, st, signal.SIGCONT)
                _signal_if_same(pid, st, signal.SIGKILL)
            for p in groups:
                try:
                    p.wait(2)
                except subprocess.TimeoutExpired:
                    pass
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and any(
                    proc_start_time(pid) == st and proc_alive(pid) for pid, st in alive):
                time.sleep(0.01)

    def cleanup(self):
        """kill() and remove the temp state directory (if this object made it)."""
        self.kill()
        if self.own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()  # __exit__ is not called when __enter__ raises
            raise

    def __exit__(self, *exc):
        self.stop()
        self.cleanup()

    # -- Redis
    def redis_cli(self, *args, timeout=5.0):
        """redis-cli ARGS on the stack's socket as the admin; its answer."""
        env = clean_env({"REDISCLI_AUTH": self.redis_password()})
        r = subprocess.run(["redis-cli", "-s", self.redis_sock] + list(args), env=env,
                           capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        # redis-cli reports a failed connection on stderr with exit status 1 and prints
        # nothing on stdout, which would read as an empty answer.
        if r.returncode != 0 or r.stderr.strip():
            raise StackError("redis-cli %s: exit status %d: %s"
                             % (" ".join(args), r.returncode, r.stderr.decode("utf-8", "replace").strip()))
        return r.stdout.decode().strip()

    def visits(self):
        """The Redis key `visits` as an int (0 when unset). Raises if Redis can't say
        (unreachable, an error reply), so a check of "visits unchanged" cannot pass as 0 == 0."""
        out = self.redis_cli("GET", "visits")
        if out == "":
            return 0
        if not out.isdigit():
            raise StackError("redis-cli GET visits answered %r" % out)
        return int(out)

    def start_redis(self, timeout=10.0):
        """Starts `scripts/stack.sh redis` (Redis alone, as the stack runs it) in the
        background and waits until it answers PING. Returns its Popen."""
        log = os.path.join(self.state_dir, "redis-%d.log" % (len(self.redis_procs) + 1))
        self.logs.append(log)
        with open(log, "wb") as logf:
            p = subprocess.Popen(self._argv("redis"), cwd=REPO, env=self.env(),
                                 stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        self.redis_procs.append(p)
        self.seen.setdefault(p.pid, proc_start_time(p.pid))
        # Reap it when it exits: stack.sh's teardown waits while its pid is alive, and an
        # unreaped zombie would look alive to `kill -0`.
        threading.Thread(target=p.wait, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise StackError("stack.sh redis exited with %s" % p.returncode)
            try:
                if self.redis_cli("PING", timeout=2) == "PONG":
                    self.redis_pid()
                    return p
            except (subprocess.TimeoutExpired, StackError):
                pass  # not listening yet
            time.sleep(0.05)
        raise StackError("Redis restarted by stack.sh redis did not answer PING in %.0f s" % timeout)
