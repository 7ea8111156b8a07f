#!/usr/bin/python3
"""make bench: how fast Khalid Tracker is, next to what nginx alone can do on this machine.

Starts the native stack (scripts/stack.sh) on a free port in a temp dir and measures
with wrk, at the same connection count and duration:
  (a) nginx answering a tiny page from memory (/nginx-ping): the ceiling;
  (b) /       a rendered page, no Redis;
  (c) /count  a rendered page plus a Redis INCR;
  (e) /stats  the statistics page: every figure read back from Redis in one round trip;
then, on a second stack with TLS=self-signed,
  (d) /count over HTTPS (HTTP/1.1 keep-alive: wrk's handshakes at the start, then the
      cost of encryption per request);
and, on a third stack with TRACKING=0,
  (f) /count without tracking: what recording page views costs, (c)/(f).
wrk sends a browser's User-Agent, so that every page is a tracked view (wrk's own requests
would carry none and count as a bot's).
Reports requests/s, p50/p99 latency, non-2xx and socket errors, the ratios (b)/(a),
(c)/(a) and (d)/(c), and the workers' resident memory, and checks the count of (c) and (d):
`visits` must rise by exactly the number of 200 answers nginx gave (its access log is the tally:
wrk drops the requests in flight when it stops, and nginx finishes those with
fastcgi_ignore_client_abort), at least one /count must have answered 200, and nginx must
have logged at least as many 200s as wrk received answers, less its errors. When the
count check fails, the results are still written and bench exits with status 1.

`--sizing` instead compares worker processes x threads per worker on / and /count.
Results go to bench/results/ as JSON and CSV and a Markdown table. A benchmark, not a
test: it is not part of `make check`. bench/deploy.py (make bench-deploy) reuses
measure() on the Docker Compose deployment.
"""
import argparse
import contextlib
import csv
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
from lib.stack import Stack, StackError, free_port  # noqa: E402

RESULTS = os.path.join(HERE, "results")
PAGES = ("/nginx-ping", "/", "/count")
ROUNDS = 3  # alternating runs of (f), tracked and untracked
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def wrk(url, duration, connections, threads=2, netns_pid=None):
    """Runs wrk once against url and returns its numbers. netns_pid: run it inside that
    process's network namespace (the binary and files stay the host's)."""
    argv = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration, "--latency",
            "--timeout", "5s", "-H", "User-Agent: " + BROWSER, url]
    if netns_pid is not None:
        argv = ["nsenter", "-t", str(netns_pid), "-n", "--"] + argv
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    def ms(label):
        m = re.search(r"^\s+%s\s+([\d.]+)(us|ms|s)\s*$" % re.escape(label), out, re.M)
        if not m:
            return None
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    parts = urllib.parse.urlsplit(url)
    return {
        "path": parts.path + ("?" + parts.query if parts.query else ""),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": requests,
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
    }


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def count_200s(lines):
    """How many of these access log lines (bytes; nginx's JSON lines, README Operations)
    are GET /count answered 200: the visits counted (HEAD /count counts none)."""
    n = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise SystemExit("bench: an access log line is not JSON (NGINX_ACCESS_LOG not khalid_json?): %r"
                             % line[:200])
        if (entry["method"], entry["path"], entry["status"]) == ("GET", "/count", 200):
            n += 1
    return n


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = re.search(r"model name\s*:\s*(.*)", f.read()).group(1)
    except (OSError, AttributeError):
        pass
    def version(cmd):  # nginx -v prints to stderr, redis-server --version to stdout
        r = subprocess.run(cmd, capture_output=True, text=True)
        return r.stderr.strip() or r.stdout.strip()
    return {"cpus": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "nginx": version(["nginx", "-v"]).split("\n")[0],
            "redis": version(["redis-server", "--version"]).split()[2]}


def wait_until_still(size, period=1.1, tries=60):
    """nginx writes its access log in buffers flushed when a second old: waits until
    size() has not changed for two full flush periods."""
    last, still = -1, 0
    for _ in range(tries):
        cur = size()
        still = still + 1 if cur == last else 0
        if still == 2:
            return
        last = cur
        time.sleep(period)


class NativeTarget:
    """The native stack as a thing to measure: nginx on 127.0.0.1:PORT (or its HTTPS_PORT),
    its access log file as the tally of answers, Redis over its unix socket as the counter."""
    netns_pid = None

    def __init__(self, stack, label="native", https_port=None):
        self.stack, self.label, self.https_port = stack, label, https_port
        self.access_log = os.path.join(stack.state_dir, "log", "access.log")

    def url(self, path):
        if self.https_port:
            return "https://127.0.0.1:%d%s" % (self.https_port, path)
        return "http://127.0.0.1:%d%s" % (self.stack.port, path)

    def visits(self):
        return self.stack.visits()

    def log_mark(self):
        wait_until_still(lambda: os.path.getsize(self.access_log))
        return os.path.getsize(self.access_log)

    def count_200s_since(self, mark):
        wait_until_still(lambda: os.path.getsize(self.access_log))
        with open(self.access_log, "rb") as f:
            f.seek(mark)
            return count_200s(f)


def measure(target, duration, connections):
    """(a), (b) and (c) on one target with the same wrk settings, and the count check of (c)."""
    def run(path, secs):
        return wrk(target.url(path), secs, connections, netns_pid=target.netns_pid)
    for path in PAGES:  # warm up connections and caches
        run(path, 1)
    a = run("/nginx-ping", duration)
    b = run("/", duration)
    c, check = count_run(target, duration, connections)
    return {"ceiling": a, "home": b, "count": c, "count_check": check,
            "ratio_home": b["rps"] / a["rps"], "ratio_count": c["rps"] / a["rps"]}


def count_run(target, duration, connections):
    """wrk on the target's /count, and its count check: (wrk's numbers, the check)."""
    # The log first: once it is still, the requests of a run before (a warm-up of /count)
    # that nginx was finishing have counted too.
    mark = target.log_mark()
    before = target.visits()
    c = wrk(target.url("/count"), duration, connections, netns_pid=target.netns_pid)
    ok200 = target.count_200s_since(mark)
    rose = target.visits() - before
    check = {"visits_rose_by": rose, "nginx_200s": ok200, "wrk_answers": c["requests"],
             "exact": rose == ok200}
    check["failures"] = count_failures(check, c)
    return c, check


def median_run(runs):
    """The (wrk numbers, count check) of the run with the median rate."""
    return sorted(runs, key=lambda r: r[0]["rps"])[len(runs) // 2]


def count_failures(check, c):
    """Why the count of a /count run is wrong, one sentence each (empty: it is right)."""
    out = []
    if check["nginx_200s"] == 0:
        out.append("no /count request was answered 200")
    if check["visits_rose_by"] != check["nginx_200s"]:
        out.append("visits rose by %d, but nginx answered %d /count requests with 200"
                   % (check["visits_rose_by"], check["nginx_200s"]))
    # A request wrk timed out may still be answered (and counted by wrk), so its socket
    # errors are taken off as well as its non-2xx answers.
    received = c["requests"] - c["non2xx"] - c["socket_errors"]
    if check["nginx_200s"] < received:
        out.append("nginx logged %d /count 200s, fewer than the %d wrk received less its errors"
                   % (check["nginx_200s"], received))
    return out


def stack_settings(stack):
    """What the running stack uses, read off it (stack.sh fills in what was not given)."""
    pids = stack.worker_pids()
    # The setting the worker was given: its thread count also holds threads other than the
    # accept threads.
    with open("/proc/%d/environ" % pids[0], "rb") as f:
        env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
    threads = int(env[b"FCGI_THREADS"])
    with open(os.path.join(stack.state_dir, "nginx", "upstream.conf")) as f:
        m = re.search(r"keepalive (\d+);", f.read())
    with open(os.path.join(stack.state_dir, "nginx", "nginx.conf")) as f:
        procs = int(re.search(r"^worker_processes (\d+);", f.read(), re.M).group(1))
    return {"workers": len(pids), "threads_per_worker": threads,
            "fastcgi_keepalive": int(m.group(1)) if m else 0, "nginx_worker_processes": procs}


def keepalive_env(value):
    return {} if value is None else {"FASTCGI_KEEPALIVE": str(value)}


@contextlib.contextmanager
def native_stack(args, name, workers=None, threads=None, keepalive=None, env=None):
    """A started native stack that is stopped and removed on every way out, a failed start
    included."""
    stack = Stack(args.worker, workers=workers, threads=threads, name=name,
                  nginx_processes=args.nginx_processes, env=dict(keepalive_env(keepalive), **(env or {})),
                  die_with_parent=True)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        stack.cleanup()


def stop_on_sigterm():
    """SIGTERM unwinds like Ctrl-C, so every `finally` tears down what it started."""
    def raise_exit(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, raise_exit)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def append_history(path, header, row):
    """Appends a row to a CSV file; when the columns have changed, rewrites the file under
    the new header first, old rows keeping their values and an empty cell for each new
    column."""
    rows = []
    if os.path.exists(path):
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != header:
                rows = list(reader)
                lost = set(reader.fieldnames or []) - set(header)
                if lost:
                    raise SystemExit("bench: %s has columns this version does not write: %s" % (path, sorted(lost)))
            else:
                rows = None
    if rows is None:
        with open(path, "a", newline="") as f:
            csv.DictWriter(f, header).writerow(row)
        return
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, header, restval="")
        w.writeheader()
        w.writerows(rows)
        w.writerow(row)
    os.replace(tmp, path)


HISTORY_COLUMNS = [
    "when", "workers", "threads", "connections", "duration_s", "ceiling_rps", "home_rps", "home_p99_ms",
    "count_rps", "count_p99_ms", "ratio_home", "ratio_count", "count_exact", "max_worker_rss_kb",
    "fastcgi_keepalive", "nginx_processes",
    # Added with the count check's failure exit; empty in the rows written before.
    "ceiling_non2xx", "ceiling_socket_errors", "home_non2xx", "home_socket_errors",
    "count_non2xx", "count_socket_errors", "count_nginx_200s", "count_visits_rose", "count_wrk_answers",
    "load_average_before",
    # Added with (d), /count over HTTPS.
    "https_count_rps", "https_count_p99_ms", "ratio_count_https", "https_count_exact", "https_count_non2xx",
    "https_count_socket_errors",
    # Added with tracking: (e) /stats and (f) /count with TRACKING=0.
    "stats_rps", "stats_p99_ms", "untracked_count_rps", "ratio_count_tracking"]


def error_cells(m):
    row = {}
    for key in ("ceiling", "home", "count"):
        row[key + "_non2xx"] = m[key]["non2xx"]
        row[key + "_socket_errors"] = m[key]["socket_errors"]
    cc = m["count_check"]
    row.update(count_nginx_200s=cc["nginx_200s"], count_visits_rose=cc["visits_rose_by"],
               count_wrk_answers=cc["wrk_answers"])
    return row


def results_table(rows):
    """Markdown rows of (label, measurement): one line per page, ratios to that label's (a)."""
    lines = ["| load | req/s | p50 ms | p99 ms | non-2xx | socket errors | vs (a) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label, m in rows:
        a = m["ceiling"]
        for name, key in (("(a) nginx from memory", "ceiling"), ("(b) /", "home"), ("(c) /count", "count"),
                          ("(d) /count over HTTPS", "count_https"), ("(e) /stats", "stats"),
                          ("(f) /count, tracked (in turn with the next)", "count_tracked"),
                          ("(f) /count, TRACKING=0", "count_untracked")):
            if key not in m:  # (d) to (f) only where measured (make bench, not bench-deploy)
                continue
            r = m[key]
            lines.append("| %s%s | %.0f | %.2f | %.2f | %d | %d | %.2f |" % (
                label + " " if label else "", name, r["rps"], r["p50_ms"], r["p99_ms"], r["non2xx"],
                r["socket_errors"], r["rps"] / a["rps"]))
    return lines


def count_line(label, cc):
    return "%svisits rose by %d; nginx answered %d /count requests with 200 (wrk saw %d): %s." % (
        label, cc["visits_rose_by"], cc["nginx_200s"], cc["wrk_answers"],
        "exact" if not cc["failures"] else "WRONG: " + "; ".join(cc["failures"]))


def load_average():
    """The 1-minute load average: other work on the machine shows in the numbers."""
    return round(os.getloadavg()[0], 2)


def run_main(args):
    load = load_average()
    with native_stack(args, "bench", args.workers, args.threads, args.keepalive) as stack:
        settings = stack_settings(stack)
        main = NativeTarget(stack)
        m = measure(main, args.duration, args.connections)
        m["stats"] = wrk(main.url("/stats"), args.duration, args.connections)
        rss = [rss_kb(p) for p in stack.worker_pids()]
    # (d): the same settings with HTTPS, where plain HTTP would only redirect.
    https_port = free_port()
    with native_stack(args, "bench-https", args.workers, args.threads, args.keepalive,
                      env={"TLS": "self-signed", "HTTPS_PORT": str(https_port)}) as stack:
        target = NativeTarget(stack, "native-https", https_port)
        wrk(target.url("/count"), 1, args.connections)  # warm-up, as measure() does
        d, m["count_https_check"] = count_run(target, args.duration, args.connections)
    m.update(count_https=d, ratio_count_https=d["rps"] / m["count"]["rps"])
    # (f): /count with and without tracking, on two stacks up side by side and measured in
    # turn, ROUNDS times each: other work on the machine then weighs on both alike, where
    # one run of each minutes apart compared whatever else the machine was doing.
    with native_stack(args, "bench-tracked", args.workers, args.threads, args.keepalive) as on, \
            native_stack(args, "bench-untracked", args.workers, args.threads, args.keepalive,
                         env={"TRACKING": "0"}) as off:
        targets = (NativeTarget(on, "native-tracked"), NativeTarget(off, "native-untracked"))
        runs = ([], [])
        for t in targets:
            wrk(t.url("/count"), 1, args.connections)
        for _ in range(ROUNDS):
            for t, out in zip(targets, runs):
                out.append(count_run(t, args.duration, args.connections))
    (tracked, m["count_tracked_check"]), (untracked, m["count_untracked_check"]) = (median_run(r) for r in runs)
    m.update(count_tracked=tracked, count_untracked=untracked,
             ratio_count_tracking=tracked["rps"] / untracked["rps"],
             count_tracking_rounds=[[round(c["rps"]) for c, _ in r] for r in runs],
             count_tracking_failures=[f for r in runs for _, check in r for f in check["failures"]])
    result = dict(m, when=now_utc(), machine=dict(machine(), load_average_before=load),
                  settings=dict(settings, connections=args.connections, duration_s=args.duration),
                  worker_rss_kb=rss)
    lines = results_table([("", m)])
    mach = result["machine"]
    lines.append("")
    lines.append("%s; %d CPUs (%s), kernel %s, %s, redis %s, load average %.2f before; %d workers x %d threads, "
                 "FastCGI keep-alive %d, %d nginx worker processes, wrk -t2 -c%d -d%ds." % (
                     result["when"], mach["cpus"], mach["cpu"], mach["kernel"], mach["nginx"], mach["redis"], load,
                     settings["workers"], settings["threads_per_worker"], settings["fastcgi_keepalive"],
                     settings["nginx_worker_processes"], args.connections, args.duration))
    lines.append(count_line("", m["count_check"]))
    lines.append(count_line("over HTTPS: ", m["count_https_check"]))
    lines.append("/count over HTTPS: %.2f of the plain HTTP rate." % m["ratio_count_https"])
    lines.append(count_line("with tracking, (f)'s median run: ", m["count_tracked_check"]))
    lines.append(count_line("without tracking, (f)'s median run: ", m["count_untracked_check"]))
    if m["count_tracking_failures"]:
        lines.append("(f), all %d runs: WRONG: %s." % (2 * ROUNDS, "; ".join(m["count_tracking_failures"])))
    lines.append("/count with tracking: %.2f of its rate with TRACKING=0 (medians of %d alternating runs: "
                 "%.0f and %.0f req/s; tracked %s, untracked %s)." % (
                     m["ratio_count_tracking"], ROUNDS, m["count_tracked"]["rps"], m["count_untracked"]["rps"],
                     m["count_tracking_rounds"][0], m["count_tracking_rounds"][1]))
    lines.append("/stats: %.0f req/s, p99 %.1f ms, %d non-2xx." % (
        m["stats"]["rps"], m["stats"]["p99_ms"], m["stats"]["non2xx"]))
    lines.append("worker resident memory after the load: %s." % ", ".join("%.1f MB" % (k / 1024) for k in rss))
    table = "\n".join(lines)
    print(table)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.join(RESULTS, "latest.md"), "w") as f:
        f.write(table + "\n")
    a, b, c = m["ceiling"], m["home"], m["count"]
    append_history(os.path.join(RESULTS, "history.csv"), HISTORY_COLUMNS, dict(
        error_cells(m), when=result["when"], workers=settings["workers"],
        threads=settings["threads_per_worker"], connections=args.connections, duration_s=args.duration,
        ceiling_rps=round(a["rps"]), home_rps=round(b["rps"]), home_p99_ms=b["p99_ms"],
        count_rps=round(c["rps"]), count_p99_ms=c["p99_ms"], ratio_home=round(m["ratio_home"], 3),
        ratio_count=round(m["ratio_count"], 3), count_exact=not m["count_check"]["failures"],
        max_worker_rss_kb=max(rss), fastcgi_keepalive=settings["fastcgi_keepalive"],
        nginx_processes=settings["nginx_worker_processes"], load_average_before=load,
        https_count_rps=round(d["rps"]), https_count_p99_ms=d["p99_ms"],
        ratio_count_https=round(m["ratio_count_https"], 3), https_count_exact=not m["count_https_check"]["failures"],
        https_count_non2xx=d["non2xx"], https_count_socket_errors=d["socket_errors"],
        stats_rps=round(m["stats"]["rps"]), stats_p99_ms=m["stats"]["p99_ms"], untracked_count_rps=round(untracked["rps"]),
        ratio_count_tracking=round(m["ratio_count_tracking"], 3)))
    checks = (m["count_check"], m["count_https_check"])
    return 1 if any(c["failures"] for c in checks) or m["count_tracking_failures"] or m["stats"]["non2xx"] else 0


def run_sizing(args):
    grid = [(1, 16), (1, 64), (1, 128), (2, 32), (2, 64), (3, 64), (4, 32)]
    rows = []
    for workers, threads in grid:
        keepalive = None
        if args.keepalive is not None:  # as given, but never more than the threads allow
            keepalive = min(args.keepalive, (threads - 1) // (args.nginx_processes or 1))
        with native_stack(args, "sizing", workers, threads, keepalive) as stack:
            settings = stack_settings(stack)
            target = NativeTarget(stack)
            wrk(target.url("/count"), 1, args.connections)
            home = wrk(target.url("/"), args.duration, args.connections)
            count = wrk(target.url("/count"), args.duration, args.connections)
            rss = max(rss_kb(p) for p in stack.worker_pids())
        rows.append((settings, home, count, rss))
        print("workers=%d threads=%d keep-alive=%d: / %.0f req/s p99 %.1f ms; /count %.0f req/s p99 %.1f ms; rss %.1f MB"
              % (workers, threads, settings["fastcgi_keepalive"], home["rps"], home["p99_ms"], count["rps"],
                 count["p99_ms"], rss / 1024), flush=True)
    lines = ["| workers | threads each | keep-alive | / req/s | / p99 ms | /count req/s | /count p99 ms | errors | max RSS MB |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for st, home, count, rss in rows:
        lines.append("| %d | %d | %d | %.0f | %.2f | %.0f | %.2f | %d | %.1f |" % (
            st["workers"], st["threads_per_worker"], st["fastcgi_keepalive"], home["rps"], home["p99_ms"],
            count["rps"], count["p99_ms"],
            home["non2xx"] + home["socket_errors"] + count["non2xx"] + count["socket_errors"], rss / 1024))
    table = "\n".join(lines)
    print(table)
    os.makedirs(RESULTS, exist_ok=True)
    procs = rows[0][0]["nginx_worker_processes"]
    with open(os.path.join(RESULTS, "sizing.md"), "w") as f:
        f.write(table + "\n\n%d nginx worker process(es); wrk -t2 -c%d -d%ds each; %s, %d CPUs (%s).\n" % (
            procs, args.connections, args.duration, now_utc()[:10], os.cpu_count(), machine()["cpu"]))
    with open(os.path.join(RESULTS, "sizing.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["workers", "threads", "fastcgi_keepalive", "nginx_processes", "home_rps", "home_p99_ms",
                    "count_rps", "count_p99_ms", "max_rss_kb"])
        for st, home, count, rss in rows:
            w.writerow([st["workers"], st["threads_per_worker"], st["fastcgi_keepalive"],
                        st["nginx_worker_processes"], round(home["rps"]), home["p99_ms"], round(count["rps"]),
                        count["p99_ms"], rss])
    return 0


def arg_parser(description):
    """The options make bench and make bench-deploy share (one set of wrk settings)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--worker", default=os.environ.get("KHALID_WORKER", os.path.join(REPO, "build/release/khalid-fcgi")))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    # Unset: what `make run` uses (scripts/stack.sh's defaults), read back off the stack.
    env_int = lambda name: int(os.environ[name]) if os.environ.get(name) else None
    ap.add_argument("--workers", type=int, default=env_int("WORKERS"))
    ap.add_argument("--threads", type=int, default=env_int("FCGI_THREADS"))
    ap.add_argument("--keepalive", type=int, default=env_int("FASTCGI_KEEPALIVE"),
                    help="idle nginx->worker connections per nginx process (0: off)")
    ap.add_argument("--nginx-processes", type=int, default=env_int("NGINX_WORKER_PROCESSES"))
    return ap


def require_wrk():
    if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
        sys.exit("bench: wrk is missing (apt-get install wrk)")


def main():
    ap = arg_parser(__doc__.split("\n")[0])
    ap.add_argument("--sizing", action="store_true", help="compare worker counts and threads per worker")
    args = ap.parse_args()
    require_wrk()
    stop_on_sigterm()
    try:
        rc = (run_sizing if args.sizing else run_main)(args)
    except StackError as e:
        sys.exit("bench: the native stack did not start: %s" % e)
    if rc:
        print("bench: FAILED: the count is wrong (results written all the same)", file=sys.stderr)
    sys.exit(rc)


if __name__ == "__main__":
    main()
