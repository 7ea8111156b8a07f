"""A real Prometheus (Debian's) with its exporters, started by monitoring/run.sh (what `make
monitor` runs) against a native stack of 3 workers, scraping every second, checked through
Prometheus's HTTP API: the requests add up, a killed worker's series leave the latest
scrape, the exporter's Redis user is refused nothing it sends and reads no key, and Redis's
stop fires RedisDown."""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request

from integration.suite import SLACK, secs, test
from lib.load import burst, failures, poll
from lib.results import Errors, expect
from lib.stack import REPO, clean_env, free_port, wait_gone

RUN_SH = os.path.join(REPO, "monitoring", "run.sh")
RULES = os.path.join(REPO, "monitoring", "rules", "khalid.yml")
SCRAPE = 1.0                # the scrape and evaluation interval this test runs with
SNAPSHOT_TTL = 5.0          # a worker's metrics expire from Redis 5 s after its last write
# The rules' own `for:` durations (1 to 5 minutes) are promtool's to test (make check runs
# monitoring/rules/khalid.test.yml); Prometheus here loads a copy in which each is 2 s, so
# that an alert fires within seconds. Every expression is the file's, unchanged.
SHORT_FOR = "2s"
FIRING = 2 + 3 * SCRAPE + 2 * SLACK


def short_for_rules(tmp):
    with open(RULES) as f:
        text = f.read()
    n = len(re.findall(r"^(\s+)for: \S+$", text, re.M))
    expect(n > 0, "no `for:` in %s" % RULES)
    path = os.path.join(tmp, "khalid.yml")
    with open(path, "w") as f:
        f.write(re.sub(r"^(\s+)for: \S+$", r"\1for: " + SHORT_FOR, text, flags=re.M))
    return path


class Monitor:
    """monitoring/run.sh in its own session, stopped with SIGTERM as Ctrl-C would."""

    def __init__(self, st, tmp):
        self.port = free_port()
        self.log = os.path.join(tmp, "monitor.log")
        env = clean_env({"PORT": str(st.port), "STATE_DIR": st.state_dir, "PROMETHEUS_PORT": str(self.port),
                         "SCRAPE_INTERVAL": str(int(SCRAPE)), "MONITOR_RULES": short_for_rules(tmp)})
        argv = [RUN_SH]
        if shutil.which("setpriv"):
            # Stops with the thread that started it, even if the suite is SIGKILLed.
            argv = ["setpriv", "--pdeathsig", "TERM", "--"] + argv
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s?%s" % (self.port, path, urllib.parse.urlencode(params))
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        expect(body.get("status") == "success", "%s answered %s" % (url, body))
        return body["data"]

    def query(self, expr):
        """The instant vector of expr as {labels as a sorted tuple: value}."""
        return {tuple(sorted(s["metric"].items())): float(s["value"][1])
                for s in self.api("query", query=expr)["result"]}

    def scalar(self, expr):
        """The value of an expression that yields one series, or None when it yields none."""
        v = self.query(expr)
        expect(len(v) <= 1, "%s gave %d series" % (expr, len(v)))
        return next(iter(v.values()), None)

    def alerts(self):
        """{alertname: state} of the active (pending or firing) alerts."""
        return {a["labels"]["alertname"]: a["state"] for a in self.api("alerts")["alerts"]}

    def ready(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=2) as r:
                return r.status == 200
        except OSError:
            expect(self.proc.poll() is None, "monitoring/run.sh exited with %s: %s"
                   % (self.proc.returncode, self.tail()))
            return False

    def tail(self):
        with open(self.log, "rb") as f:
            return " | ".join(f.read().decode("utf-8", "replace").splitlines()[-8:])

    def stop(self):
        """SIGTERM, as Ctrl-C. Returns run.sh's exit status (None: it had to be killed) and
        the pids of its session still running once it exited (its exporters and Prometheus
        must be gone); then kills whatever remains."""
        rc = None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                rc = self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        else:
            rc = self.proc.returncode
        left = session_members(self.proc.pid)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return rc, left


def session_members(sid):
    """Pids of processes in session sid (run.sh, its exporters and Prometheus)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] not in (b"Z", b"X"):
                out.append(int(name))
    return out


@test("prometheus (make monitor, 1 s scrapes): N /count over 3 workers sum to N, a killed worker's series leave, "
      "RedisDown fires when Redis stops", background=True)
def t_prometheus(ctx):
    st = ctx.stack(workers=3, threads=4)
    e = Errors()
    mon = Monitor(st, ctx.tmpdir())
    try:
        up, took = poll(mon.ready, 20)
        expect(up, "Prometheus was not ready within 20 s: %s" % mon.tail())
        targets = "count(up == 1)"
        scraping, took = poll(lambda: mon.scalar(targets) == 4 and mon.scalar("count(khalid_threads)") == 3,
                              5 * SCRAPE + 2 * SLACK)
        expect(scraping, "Prometheus did not scrape its 4 targets and 3 workers: up %s, khalid_threads %s; %s"
               % (mon.query("up"), mon.query("khalid_threads"), mon.tail()))

        total = 'sum(khalid_http_requests_total{route="/count",code="200"})'
        # Each worker writes its counts to Redis once a second; Prometheus scrapes each second.
        counted = 1 + 2 * SCRAPE + 2 * SLACK
        # A few requests first, so that /count's series exist before the burst: Prometheus
        # takes a new series' first value as its start, and the recording rules need a rise.
        first = burst(st.port, "/count", 3, 3)
        expect(not failures(first), "the first /count requests failed: %s" % failures(first))
        ok, took = poll(lambda: mon.scalar(total) == 3, counted)
        expect(ok, "Prometheus: %s = %s, not 3" % (total, mon.scalar(total)))
        n = 300
        results = burst(st.port, "/count", n, 12)
        expect(not failures(results), "the /count burst failed: %s" % failures(results)[:3])
        ok, took = poll(lambda: mon.scalar(total) == n + 3, counted)
        e.check(ok, "Prometheus: %s = %s, not %d" % (total, mon.scalar(total), n + 3))
        per_worker = mon.query('khalid_http_requests_total{route="/count",code="200"}')
        e.check(len(per_worker) == 3 and all(v > 0 for v in per_worker.values()),
                "the requests did not reach all 3 workers: %s" % per_worker)
        # The recording rules, evaluated each second over the last minute's samples.
        rate = 'route:khalid_http_requests:rate1m{route="/count"}'
        p99 = 'route:khalid_http_request_duration_seconds:p99_1m{route="/count"}'
        recorded, took = poll(lambda: (mon.scalar(rate) or 0) > 0 and 0 < (mon.scalar(p99) or 0) < 0.1,
                              3 * SCRAPE + 2 * SLACK)
        e.check(recorded, "recording rules for /count: %s = %s, %s = %s"
                % (rate, mon.scalar(rate), p99, mon.scalar(p99)))

        victim = st.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        wait_gone(victim, 5)
        left, took = poll(lambda: mon.scalar("count(khalid_threads)") == 2 and
                          not mon.query('khalid_threads{worker=~".*/%d"}' % victim), SNAPSHOT_TTL + 2 * SCRAPE + 2 * SLACK)
        e.check(left, "the killed worker's series was still in the latest scrape after %s: khalid_threads %s"
                % (secs(SNAPSHOT_TTL + 2 * SCRAPE + 2 * SLACK), mon.query("khalid_threads")))
        # Latency and error alerts may fire on a busy machine with the short `for:`; these may not.
        down = {a: s for a, s in mon.alerts().items() if a in ("RedisDown", "NginxDown", "NoLiveWorker", "ExporterDown")}
        e.check(not down, "alerts before Redis stopped: %s" % down)

        # The exporter's Redis user (redis/acl.sh): allowed everything the exporter sent, no key.
        log = st.redis_cli("ACL", "LOG").splitlines()
        refused = [log[i + 1] for i, line in enumerate(log[:-1]) if line == "username"]
        e.check("metrics" not in refused, "Redis refused commands of the exporter's user metrics: %s" % log[:40])
        r = subprocess.run(["redis-cli", "-s", st.redis_sock, "--user", "metrics", "GET", "visits"],
                           env=clean_env({"REDISCLI_AUTH": st.redis_password("metrics")}),
                           capture_output=True, timeout=5, stdin=subprocess.DEVNULL)
        e.check(r.stdout.startswith(b"NOPERM"), "the user metrics read the key visits: %r" % (r.stdout + r.stderr))

        redis = st.redis_pid()
        os.kill(redis, signal.SIGTERM)
        wait_gone(redis, 10)
        fired, took = poll(lambda: mon.alerts().get("RedisDown") == "firing", FIRING)
        e.check(fired, "RedisDown not firing %s after Redis stopped: alerts %s, redis_up %s"
                % (secs(FIRING), mon.alerts(), mon.query("redis_up")))
        e.check("NoLiveWorker" not in mon.alerts(), "NoLiveWorker fired while Redis was down: %s" % mon.alerts())
    finally:
        rc, left = mon.stop()
        e.check(rc == 0, "monitoring/run.sh exited with %s on SIGTERM: %s" % (rc, mon.tail()))
        e.check(not left, "processes of monitoring/run.sh still running after it exited: %s" % left)
    e.raise_if_any()
