#!/usr/bin/python3
"""make bench: how fast Khalid Tracker is, next to what nginx alone can do on this machine.

Starts the native stack (scripts/stack.sh) on a free port in a temp dir and measures
with wrk, at the same connection count and duration:
  (a) nginx answering a tiny page from memory (/nginx-ping): the ceiling;
  (b) /       a rendered page, no Redis;
  (c) /count  a rendered page plus a Redis INCR.
Reports requests/s, p50/p99 latency, non-2xx and socket errors, the ratios (b)/(a) and
(c)/(a), whether `visits` rose by exactly the number of 200 answers nginx gave to (c)
(nginx's access log is the tally: wrk drops the requests in flight when it stops, and
nginx finishes those with fastcgi_ignore_client_abort), and the workers' resident memory.

`--sizing` instead compares worker processes x threads per worker on / and /count.
Results go to bench/results/ as JSON and CSV and a Markdown table. A benchmark, not a
test: it never fails CI and is not part of `make check`.
"""
import argparse
import csv
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
from lib.stack import Stack, http_get  # noqa: E402

RESULTS = os.path.join(HERE, "results")


def wrk(port, path, duration, connections, threads=2):
    """Runs wrk once and returns its numbers."""
    out = subprocess.run(
        ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration, "--latency",
         "--timeout", "5s", "http://127.0.0.1:%d%s" % (port, path)],
        capture_output=True, text=True, check=True).stdout

    def ms(label):
        m = re.search(r"^\s+%s\s+([\d.]+)(us|ms|s)\s*$" % re.escape(label), out, re.M)
        if not m:
            return None
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "path": path,
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


def count_200s(access_log, offset):
    """/count requests answered 200 in the access log after byte offset."""
    n = 0
    with open(access_log, "rb") as f:
        f.seek(offset)
        for line in f:
            parts = line.split(b'"')
            if len(parts) > 2 and parts[1].split(b" ")[1:2] == [b"/count"] and parts[2].split()[:1] == [b"200"]:
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


def wait_for_log_flush(access_log):
    """nginx writes the access log in 64k buffers, flushed when a second old: wait until the
    file has not grown for two full flush periods."""
    size, still = -1, 0
    for _ in range(60):
        cur = os.path.getsize(access_log)
        still = still + 1 if cur == size else 0
        if still == 2:
            return
        size = cur
        time.sleep(1.1)


def stack_settings(stack):
    """What the running stack uses, read off it (stack.sh fills in what was not given)."""
    pids = stack.worker_pids()
    with open("/proc/%d/status" % pids[0]) as f:
        threads = int(re.search(r"Threads:\s+(\d+)", f.read()).group(1)) - 1  # minus main
    with open(os.path.join(stack.state_dir, "nginx", "upstream.conf")) as f:
        m = re.search(r"keepalive (\d+);", f.read())
    with open(os.path.join(stack.state_dir, "nginx", "nginx.conf")) as f:
        procs = int(re.search(r"^worker_processes (\d+);", f.read(), re.M).group(1))
    return {"workers": len(pids), "threads_per_worker": threads,
            "fastcgi_keepalive": int(m.group(1)) if m else 0, "nginx_worker_processes": procs}


def keepalive_env(value):
    return {} if value is None else {"FASTCGI_KEEPALIVE": str(value)}


def run_main(args, worker):
    with Stack(worker, workers=args.workers, threads=args.threads, name="bench",
               nginx_processes=args.nginx_processes, env=keepalive_env(args.keepalive)) as stack:
        settings = stack_settings(stack)
        access_log = os.path.join(stack.state_dir, "log", "access.log")
        for path in ("/nginx-ping", "/", "/count"):  # warm up connections and caches
            wrk(stack.port, path, 1, args.connections)
        wait_for_log_flush(access_log)
        a = wrk(stack.port, "/nginx-ping", args.duration, args.connections)
        b = wrk(stack.port, "/", args.duration, args.connections)
        wait_for_log_flush(access_log)
        before, offset = stack.visits(), os.path.getsize(access_log)
        c = wrk(stack.port, "/count", args.duration, args.connections)
        wait_for_log_flush(access_log)
        rose, ok200 = stack.visits() - before, count_200s(access_log, offset)
        rss = [rss_kb(p) for p in stack.worker_pids()]
    result = {
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "settings": dict(settings, connections=args.connections, duration_s=args.duration),
        "ceiling": a, "home": b, "count": c,
        "ratio_home": b["rps"] / a["rps"], "ratio_count": c["rps"] / a["rps"],
        "count_check": {"visits_rose_by": rose, "nginx_200s": ok200, "wrk_answers": c["requests"],
                        "exact": rose == ok200},
        "worker_rss_kb": rss,
    }
    rows = [("(a) nginx from memory", a), ("(b) /", b), ("(c) /count", c)]
    lines = ["| load | req/s | p50 ms | p99 ms | non-2xx | socket errors | vs (a) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows:
        lines.append("| %s | %.0f | %.2f | %.2f | %d | %d | %.2f |" % (
            name, r["rps"], r["p50_ms"], r["p99_ms"], r["non2xx"], r["socket_errors"], r["rps"] / a["rps"]))
    m = result["machine"]
    lines.append("")
    lines.append("%s; %d CPUs (%s), kernel %s, %s, redis %s; %d workers x %d threads, "
                 "FastCGI keep-alive %d, %d nginx worker processes, wrk -t2 -c%d -d%ds." % (
                     result["when"], m["cpus"], m["cpu"], m["kernel"], m["nginx"], m["redis"],
                     settings["workers"], settings["threads_per_worker"], settings["fastcgi_keepalive"],
                     settings["nginx_worker_processes"], args.connections, args.duration))
    lines.append("visits rose by %d; nginx answered %d /count requests with 200 (wrk saw %d): %s." % (
        rose, ok200, c["requests"], "exact" if rose == ok200 else "MISMATCH"))
    lines.append("worker resident memory after the load: %s." % ", ".join("%.1f MB" % (k / 1024) for k in rss))
    table = "\n".join(lines)
    print(table)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.join(RESULTS, "latest.md"), "w") as f:
        f.write(table + "\n")
    history = os.path.join(RESULTS, "history.csv")
    new = not os.path.exists(history)
    with open(history, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["when", "workers", "threads", "connections", "duration_s", "ceiling_rps",
                        "home_rps", "home_p99_ms", "count_rps", "count_p99_ms", "ratio_home",
                        "ratio_count", "count_exact", "max_worker_rss_kb", "fastcgi_keepalive",
                        "nginx_processes"])
        w.writerow([result["when"], settings["workers"], settings["threads_per_worker"], args.connections,
                    args.duration, round(a["rps"]), round(b["rps"]), b["p99_ms"], round(c["rps"]),
                    c["p99_ms"], round(result["ratio_home"], 3), round(result["ratio_count"], 3),
                    result["count_check"]["exact"], max(rss), settings["fastcgi_keepalive"],
                    settings["nginx_worker_processes"]])


def run_sizing(args, worker):
    grid = [(1, 16), (1, 64), (1, 128), (2, 32), (2, 64), (3, 64), (4, 32)]
    rows = []
    for workers, threads in grid:
        keepalive = None
        if args.keepalive is not None:  # as given, but never more than the threads allow
            keepalive = min(args.keepalive, (threads - 1) // (args.nginx_processes or 1))
        with Stack(worker, workers=workers, threads=threads, name="sizing",
                   nginx_processes=args.nginx_processes, env=keepalive_env(keepalive)) as stack:
            settings = stack_settings(stack)
            wrk(stack.port, "/count", 1, args.connections)
            home = wrk(stack.port, "/", args.duration, args.connections)
            count = wrk(stack.port, "/count", args.duration, args.connections)
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
            procs, args.connections, args.duration,
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"), os.cpu_count(), machine()["cpu"]))
    with open(os.path.join(RESULTS, "sizing.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["workers", "threads", "fastcgi_keepalive", "nginx_processes", "home_rps", "home_p99_ms",
                    "count_rps", "count_p99_ms", "max_rss_kb"])
        for st, home, count, rss in rows:
            w.writerow([st["workers"], st["threads_per_worker"], st["fastcgi_keepalive"],
                        st["nginx_worker_processes"], round(home["rps"]), home["p99_ms"], round(count["rps"]),
                        count["p99_ms"], rss])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
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
    ap.add_argument("--sizing", action="store_true", help="compare worker counts and threads per worker")
    args = ap.parse_args()
    if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
        sys.exit("bench: wrk is missing (apt-get install wrk)")
    (run_sizing if args.sizing else run_main)(args, args.worker)


if __name__ == "__main__":
    main()
