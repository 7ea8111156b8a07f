#!/usr/bin/python3
"""make soak: the compose deployment (or, with --native, the native stack) under mixed load
for SOAK_SECONDS (default 600), with a Redis restart and a worker scale-down and up in the
middle; flat memory and descriptors, and no error but the Redis restart's 503s.

The load, all to the port published on 127.0.0.1, from clients that never send a request
twice (a request on a kept-alive connection the server closed counts as an error):
  pages     /, /about, /stats and /count on 8 keep-alive connections;
  bad       malformed and hostile requests from the integration suite's table (each must
            be answered 4xx), each on a new connection, one at a time.
The events, at fractions of the time: `restart redis` at 0.3 (503s for /count and /stats are
allowed from its start until /health has answered 200 for 2 s), `--scale fcgi-app=2` at 0.5,
`--scale fcgi-app=3` at 0.65. Natively (3 workers of 64 threads, 1 nginx process, as `make
run`): Redis SIGKILLed (scripts/stack.sh starts a new one), the third worker stopped by
SIGTERM, and a new worker started on its socket as stack.sh starts them.

Each process of the stack (nginx's, the workers', Redis's) is measured from /proc at 0.05
and at 0.95, load running both times, after a warm-up of 192 requests at once (every worker
thread serving): resident memory (VmRSS) and open descriptors. A process alive at both must
end within 20 % + 4 MiB of its start's memory and 20 % + 16 of its descriptors ("flat"); the
processes the events replaced are listed too. It also checks that `visits` rose by at least
the /count 200s seen, and that 3 workers serve at the end (compose: all in nginx's balancer).

Everything it starts is removed at the end, also on failure or SIGTERM (bench/deploy.py's
Compose: containers, networks, volumes, the images built, and a base image this run made;
natively the stack and its temp directory).
Prints a table and "N passed, N failed"; exits 1 when a check failed, 2 when the stack
could not be set up. Not part of make check or CI: it takes SOAK_SECONDS plus a build.
"""
import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402,F401  (puts tests/ on the path)
from bench import REPO  # noqa: E402
from deploy import Compose, DeployError, docker  # noqa: E402
from integration.bad_input import bad_input_table  # noqa: E402
from lib.http_client import KeepAlive, http_get, parse_raw_response, raw_exchange  # noqa: E402
from lib.load import burst  # noqa: E402
from lib.stack import Stack, StackError, proc_alive, proc_children  # noqa: E402

PAGES = ("/", "/about", "/stats", "/count")
REDIS_PATHS = ("/stats", "/count")   # answer 503 while Redis is away
WATCHED = ("nginx", "khalid-fcgi", "redis-server")
RSS_SLACK, FD_SLACK = (1.2, 4096), (1.2, 16)   # (factor, kB or descriptors added)
WARM_CONNECTIONS = 3 * 64   # 3 workers x FCGI_THREADS (the default, and the native stack's here)


class Load:
    """The client threads; each answer is (time, path, status or error text)."""

    def __init__(self, port):
        self.port = port
        self.answers = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = []

    def record(self, path, what):
        with self.lock:
            self.answers.append((time.monotonic(), path, what))

    def pages(self, seed):
        rnd = random.Random(seed)
        conn = KeepAlive(self.port, timeout=15)
        try:
            while not self.stop.is_set():
                path = rnd.choice(PAGES)
                try:
                    self.record(path, conn.request("GET", path).status)
                except Exception as e:  # a failed request, not retried
                    self.record(path, "%s: %s" % (type(e).__name__, e))
                self.stop.wait(0.005)
        finally:
            conn.close()

    def bad(self):
        rows = [r for r in bad_input_table() if r[2] == "4xx"]
        i = 0
        while not self.stop.is_set():
            name, data = rows[i % len(rows)][:2]
            i += 1
            try:
                raw, how = raw_exchange(self.port, data, timeout=10)
                status = parse_raw_response(raw)[0]
                self.record("bad: " + name, status if status is not None else "no status (%s)" % how)
            except OSError as e:
                self.record("bad: " + name, "%s: %s" % (type(e).__name__, e))
            self.stop.wait(0.05)

    def start(self):
        self.threads = [threading.Thread(target=self.pages, args=(i,), daemon=True) for i in range(8)]
        self.threads.append(threading.Thread(target=self.bad, daemon=True))
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def proc_stats(pid):
    """(VmRSS kB, open descriptors) of a process on this host, or None when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            rss = int([x for x in f if x.startswith("VmRSS:")][0].split()[1])
        return rss, len(os.listdir("/proc/%d/fd" % pid))
    except (OSError, IndexError):
        return None


class ComposeTarget:
    """The compose deployment (bench/deploy.py's Compose), images of this run's own tag."""

    def __init__(self):
        # compose.yml tags its images khalid-tracker/<service>:$KHALID_VERSION: this run's
        # own tag, removed at the end, never another deployment's.
        self.tag = "soak-%d" % os.getpid()
        self.compose = Compose({"KHALID_VERSION": self.tag})
        self.port = self.compose.port
        self.log = os.path.join(self.compose.tmp, "events.log")

    def start(self):
        self.compose.build()
        self.compose.up(3)

    def processes(self):
        """{(service, container, pid): (command, VmRSS kB, descriptors)}"""
        out = {}
        for service in ("nginx", "fcgi-app", "redis"):
            for cid in self.compose.cids(service):
                for line in docker("top", cid, "-eo", "pid,comm", check=False).splitlines()[1:]:
                    pid, comm = line.split(None, 1)
                    stats = proc_stats(int(pid)) if comm.strip() in WATCHED else None
                    if stats:
                        out[(service, cid[:12], int(pid))] = (comm.strip(),) + stats
        return out

    def restart_redis(self):
        self.compose.compose("restart", "redis", log=self.log)

    def scale(self, n):
        self.compose.compose("up", "-d", "--no-recreate", "--scale", "fcgi-app=%d" % n, log=self.log)

    def ready(self, workers):
        return self.compose.ready(workers)

    def visits(self):
        return self.compose.visits()

    def teardown(self):
        self.compose.teardown()
        mine = [r for r in docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).split()
                if r.startswith("khalid-tracker/") and r.endswith(":" + self.tag)]
        if mine:
            docker("rmi", *mine, check=False)


class NativeTarget:
    """The native stack (scripts/stack.sh) of 3 workers. Redis is restarted by SIGKILL, which
    stack.sh answers with a new Redis; a scale-down is a worker stopped by SIGTERM, and the
    scale-up a new worker on its socket, started as stack.sh starts them."""

    def __init__(self, worker):
        self.stack = Stack(worker, workers=3, threads=64, nginx_processes=1, name="soak", die_with_parent=True)
        self.port = None
        self.spare = None

    def start(self):
        self.stack.start()
        self.port = self.stack.port

    def processes(self):
        st = self.stack
        nginx = st.nginx_pid()
        pids = [("nginx", nginx)] + [("nginx", c) for c in proc_children(nginx)] if nginx else []
        pids += [("worker", p) for p in st.worker_pids() + [self.spare and self.spare.pid] if p]
        pids.append(("redis", st.redis_pid()))
        out = {}
        for role, pid in pids:
            stats = proc_stats(pid) if pid else None
            if stats:
                out[(role, "-", pid)] = (role,) + stats
        return out

    def restart_redis(self):
        pid = self.stack.redis_pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.stack.redis_pid() in (pid, None):
            time.sleep(0.1)

    def scale(self, n):
        if n < 3:
            victim = self.stack.worker_pids()[2]
            os.kill(victim, signal.SIGTERM)
            while proc_alive(victim):
                time.sleep(0.1)
            return
        sock = self.stack.worker_sock(3)
        if os.path.exists(sock):
            os.unlink(sock)
        env = dict(self.stack.env(), REDIS_HOST=self.stack.redis_sock, REDIS_USERNAME="khalid",
                   REDIS_PASSWORD_FILE=os.path.join(self.stack.secrets_dir, "redis-worker.pass"),
                   TEMPLATE_DIR=os.path.join(REPO, "templates"))
        self.spare = subprocess.Popen(["spawn-fcgi", "-n", "-s", sock, "-M", "0600", "--", self.stack.worker],
                                      env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
        while not os.path.exists(sock) and self.spare.poll() is None:
            time.sleep(0.05)

    def ready(self, workers):
        alive = [p for p in self.stack.worker_pids() + [self.spare and self.spare.pid] if p and proc_alive(p)]
        try:
            health = http_get(self.port, "/health", timeout=3).status == 200
        except OSError:
            health = False
        return health and len(alive) == workers

    def visits(self):
        return self.stack.visits()

    def teardown(self):
        if self.spare is not None and self.spare.poll() is None:
            self.spare.terminate()
            self.spare.wait(10)
        self.stack.stop()
        self.stack.cleanup()


def flat(start, end, slack):
    return end <= start * slack[0] + slack[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("SOAK_SECONDS", "600")))
    ap.add_argument("--native", action="store_true", help="the native stack instead of compose")
    ap.add_argument("--worker", default=os.path.join(REPO, "build", "release", "khalid-fcgi"))
    args = ap.parse_args()
    total = args.seconds
    if total < 60:
        sys.exit("soak: --seconds %d: at least 60, to fit its events" % total)
    bench.stop_on_sigterm()
    target = NativeTarget(args.worker) if args.native else ComposeTarget()
    what = "native stack" if args.native else "compose stack"
    load = None
    passed = failed = 0

    def check(ok, name):
        nonlocal passed, failed
        print("%s - %s" % ("ok" if ok else "FAIL", name), flush=True)
        passed, failed = passed + bool(ok), failed + (not ok)

    try:
        target.start()
        print("soak: %s up on 127.0.0.1:%d, 3 workers; %d s of load" % (what, target.port, total), flush=True)
        # Every worker thread makes its Redis connection and buffers when it first serves:
        # as many requests at once as the workers have threads, so that the start's figures
        # are those of a warm stack, not of its first few threads.
        for path in ("/count", "/stats"):
            burst(target.port, path, 4000, WARM_CONNECTIONS, timeout=300)
        before = target.visits()
        load = Load(target.port)
        t0 = time.monotonic()
        load.start()

        def at(fraction):
            time.sleep(max(0.0, t0 + fraction * total - time.monotonic()))

        at(0.05)
        start = target.processes()
        at(0.3)
        redis_from = time.monotonic()
        target.restart_redis()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not target.ready(3):
            time.sleep(0.2)
        redis_until = time.monotonic() + 2
        print("soak: Redis restarted at %.1f s; /health 200 %.1f s later" % (redis_from - t0, redis_until - 2 - redis_from),
              flush=True)
        at(0.5)
        target.scale(2)
        at(0.65)
        target.scale(3)
        at(0.95)
        end = target.processes()
        at(1.0)
        load.finish()
        after = target.visits()

        answers = load.answers
        allowed_503 = [a for a in answers if a[2] == 503 and a[1] in REDIS_PATHS and redis_from <= a[0] <= redis_until]
        bad_ones = [a for a in answers if not (a[2] == 200 or (a[1].startswith("bad: ") and isinstance(a[2], int)
                                                                 and 400 <= a[2] < 500) or a in allowed_503)]
        kinds = {}
        for a in bad_ones:
            kinds[(a[1], a[2])] = kinds.get((a[1], a[2]), 0) + 1
        counts = len([a for a in answers if a[1] == "/count" and a[2] == 200])

        print("\n| service | container | pid | process | RSS start -> end (MiB) | descriptors start -> end |")
        print("|---|---|---|---|---:|---:|")
        flat_ok = True
        for key in sorted(set(start) | set(end)):
            s, e = start.get(key), end.get(key)
            comm = (s or e)[0]
            rss = "%s -> %s" % ("%.1f" % (s[1] / 1024) if s else "(new)", "%.1f" % (e[1] / 1024) if e else "(gone)")
            fds = "%s -> %s" % (s[2] if s else "(new)", e[2] if e else "(gone)")
            if s and e and not (flat(s[1], e[1], RSS_SLACK) and flat(s[2], e[2], FD_SLACK)):
                flat_ok = False
                rss, fds = "**%s**" % rss, "**%s**" % fds
            print("| %s | %s | %d | %s | %s | %s |" % (key[0], key[1], key[2], comm, rss, fds))
        print()
        both = [k for k in start if k in end]
        check(both and flat_ok, "memory and descriptors flat for the %d processes that lived through the soak "
              "(end within 20 %% + 4 MiB, 20 %% + 16 descriptors)" % len(both))
        check(not bad_ones, "%d requests, no error but %d 503s during the Redis restart%s"
              % (len(answers), len(allowed_503), "" if not bad_ones else ": %d errors %s, from %.1f to %.1f s"
                 % (len(bad_ones), sorted(kinds.items(), key=lambda kv: -kv[1])[:6],
                    min(a[0] for a in bad_ones) - t0, max(a[0] for a in bad_ones) - t0)))
        check(after - before >= counts, "visits rose by %d, at least the %d /count answered 200" % (after - before, counts))
        check(target.ready(3), "3 workers at the end, /health 200%s" % ("" if args.native else ", all in nginx's balancer"))
        per_path = {}
        for a in answers:
            key = "bad requests" if a[1].startswith("bad: ") else a[1]
            per_path[key] = per_path.get(key, 0) + 1
        print("# %d s; requests by path: %s" % (total, ", ".join("%s %d" % kv for kv in sorted(per_path.items()))))
    except (DeployError, StackError, OSError) as e:
        print("soak: %s" % e, file=sys.stderr)
        return 2
    finally:
        if load is not None:
            load.finish()
        target.teardown()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
