"""/metrics: the Prometheus text of every live worker, whichever answers the scrape, only to
METRICS_ALLOW; checked with promtool and against the requests the test sent."""
import os
import re
import shutil
import signal
import subprocess

from integration.suite import SLACK, secs, test
from lib.http_client import http_get
from lib.load import burst, failures, poll
from lib.results import Errors, expect
from lib.stack import wait_gone

# Workers store their snapshot once a second, under a key that expires after 5 s
# (fcgi-app/keys.h, TTL_METRICS_S).
SNAPSHOT_EVERY = 1.0
SNAPSHOT_TTL = 5.0
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
SAMPLE_RE = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})? (\S+)$')


def samples(text, name):
    """{labels dict as a sorted tuple: value} of the samples of one metric."""
    out = {}
    for line in text.splitlines():
        m = SAMPLE_RE.match(line)
        if m and m.group(1) == name:
            labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
            out[labels] = float(m.group(3))
    return out


def scrape(port):
    r = http_get(port, "/metrics")
    expect(r.status == 200, "/metrics answered %s" % r.status)
    return r.text


def count_200(text, route):
    return sum(v for labels, v in samples(text, "khalid_http_requests_total").items()
               if dict(labels).get("route") == route and dict(labels).get("code") == "200")


@test("metrics: every worker's requests in one scrape, promtool-valid, dead workers drop out")
def t_metrics(ctx):
    st = ctx.stack(workers=3, threads=4)
    e = Errors()
    n = 600
    results = burst(st.port, "/count", n, 24)
    expect(not failures(results), "the /count burst failed: %s" % failures(results)[:3])
    pids = sorted(st.worker_pids())

    # The burst's client sends no User-Agent: a bot, no page view. One browser view of /:
    r = http_get(st.port, "/", headers={"User-Agent": BROWSER})
    expect(r.status == 200, "/ answered %s" % r.status)

    def all_counted():
        # The views are written by the same once-a-second flush as the snapshots.
        text = scrape(st.port)
        views = samples(text, "khalid_page_views_total").get((("path", "/"),))
        return text if count_200(text, "/count") == n and views == 1 else None

    text, took = poll(all_counted, SNAPSHOT_EVERY + 2 * SLACK)
    expect(text is not None, "the workers' /count 200s did not add up to %d, or the view of / was "
           "not in khalid_page_views_total, within %s" % (n, secs(SNAPSHOT_EVERY + 2 * SLACK)))
    workers = {dict(l)["worker"] for l in samples(text, "khalid_threads")}
    e.check(len(workers) == 3, "expected 3 workers in khalid_threads, got %s" % sorted(workers))
    e.check(all(w.endswith("/%d" % p) for w, p in zip(sorted(workers, key=lambda w: int(w.split("/")[-1])), pids)),
            "worker labels %s do not name the worker pids %s" % (sorted(workers), pids))
    e.check(all(v == 4 for v in samples(text, "khalid_threads").values()), "khalid_threads is not 4 per worker")
    e.check(samples(text, "khalid_visits").get((), None) == n, "khalid_visits is not %d" % n)
    e.check(samples(text, "khalid_build_info") != {}, "no khalid_build_info")
    counts = {dict(l)["worker"]: v for l, v in samples(text, "khalid_http_request_duration_seconds_count").items()
              if dict(l)["route"] == "/count"}
    e.check(sum(counts.values()) == n, "the /count histograms count %s requests, not %d" % (sum(counts.values()), n))
    for family in ("khalid_redis_errors_total", "khalid_threads_busy", "khalid_worker_start_time_seconds",
                   "khalid_tracking_dropped_total"):
        e.check(samples(text, family) != {}, "no %s samples" % family)
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
        e.check(r.returncode == 0, "promtool check metrics: %s" % (r.stdout + r.stderr).decode()[:400])
    else:
        e.check(False, "promtool is missing (Debian package prometheus): make deps installs it")

    victim = pids[0]
    os.kill(victim, signal.SIGKILL)
    wait_gone(victim, 5)

    def gone():
        t = scrape(st.port)
        return all(not dict(l)["worker"].endswith("/%d" % victim) for l in samples(t, "khalid_threads"))

    left, took = poll(gone, SNAPSHOT_TTL + 2 * SLACK)
    e.check(left, "the killed worker's series were still there after %s" % secs(SNAPSHOT_TTL + 2 * SLACK))
    e.raise_if_any()


@test("metrics: 404 to addresses outside METRICS_ALLOW")
def t_metrics_allow(ctx):
    st = ctx.stack(workers=1, env={"TRUSTED_PROXIES": "127.0.0.1"})
    e = Errors()
    r = http_get(st.port, "/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    e.check(r.status == 404, "/metrics from 203.0.113.9 answered %s" % r.status)
    e.check("Page not found" in r.text, "/metrics from outside is not the site's 404 page")
    e.check("khalid_" not in r.text, "/metrics from outside shows metrics")
    r = http_get(st.port, "/metrics")
    e.check(r.status == 200, "/metrics from 127.0.0.1 answered %s" % r.status)
    st2 = ctx.stack(workers=1, env={"TRUSTED_PROXIES": "127.0.0.1", "METRICS_ALLOW": "203.0.113.0/24"})
    r = http_get(st2.port, "/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    e.check(r.status == 200, "/metrics from 203.0.113.9 with METRICS_ALLOW=203.0.113.0/24 answered %s" % r.status)
    r = http_get(st2.port, "/metrics")
    e.check(r.status == 404, "/metrics from 127.0.0.1 outside METRICS_ALLOW answered %s" % r.status)
    e.raise_if_any()
