#!/usr/bin/python3
"""The worker's memory checked in the real native stack: every page, the Redis outage
path, a malformed request, then SIGTERM, with the worker either under valgrind (memcheck,
--valgrind) or built with ASan/UBSan (--sanitizer; make SANITIZE=1). Passes when the tool
reports no error and no leak. Prints "N passed, N failed" last."""
import argparse
import os
import re
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib.stack import Stack, http_get, raw_exchange, wait_gone  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--worker", required=True)
tool = ap.add_mutually_exclusive_group(required=True)
tool.add_argument("--valgrind", action="store_true")
tool.add_argument("--sanitizer", action="store_true")
args = ap.parse_args()
name = "valgrind" if args.valgrind else "ASan/UBSan"

state = Stack(args.worker, workers=1, threads=3, name=name)
# valgrind writes its own log; the sanitizers write to the worker's stderr, the stack log.
vlog = os.path.join(state.state_dir, "valgrind.log")
state.extra_env = {"REDIS_TIMEOUT_MS": "300"}
if args.valgrind:
    # spawn-fcgi execs without a PATH search: the wrapper needs a full path.
    state.extra_env["KHALID_WORKER_WRAPPER"] = (
        shutil.which("valgrind") + " --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible "
        "--errors-for-leak-kinds=definite,indirect,possible --log-file=" + vlog)
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("ok - %s" if ok else "FAIL - %s: " + detail) % name if not ok else "ok - %s" % name, flush=True)


try:
    state.start(timeout=60)
    statuses = {}
    for path in ("/", "/count", "/about", "/health", "/nope", "/count?<script>"):
        statuses[path] = http_get(state.port, path, timeout=20).status
    check("pages answer under " + name, statuses == {"/": 200, "/count": 200, "/about": 200, "/health": 200,
                                                      "/nope": 404, "/count?<script>": 200}, repr(statuses))
    raw_exchange(state.port, b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", timeout=10)
    os.kill(state.redis_pid(), signal.SIGTERM)
    wait_gone(state.redis_pid(), 10)
    down = [http_get(state.port, p, timeout=20).status for p in ("/count", "/health", "/")]
    check("redis down path under " + name, down == [503, 503, 200], repr(down))
    state.start_redis()
    back = None
    for _ in range(40):
        back = http_get(state.port, "/count", timeout=20).status
        if back == 200:
            break
        time.sleep(0.25)
    check("redis back under " + name, back == 200, repr(back))
    worker = state.worker_pids()[0]
    took = None
    if worker and os.path.exists("/proc/%d" % worker):
        os.kill(worker, signal.SIGTERM)
        took = wait_gone(worker, 30)
    check("worker exits on SIGTERM under " + name, took is not None, "not running, or still running after 30 s")
    time.sleep(0.5)
    if args.valgrind:
        report = open(vlog).read() if os.path.exists(vlog) else None
        check("valgrind wrote its log", report is not None, vlog)
        pattern = r"(Invalid|uninitialised|definitely lost|indirectly lost|possibly lost|ERROR SUMMARY: [1-9])"
    else:
        report = state.log_text()
        pattern = r"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:)"
    if report is not None:
        bad = re.search(pattern, report)
        check(name + ": no memory errors and no leaks", bad is None,
              "\n" + report[max(0, bad.start() - 200):bad.start() + 3000] if bad else "")
finally:
    rc, _ = state.stop()
    if not all(results):
        print("\n".join(state.log_tail(30)))
    state.cleanup()

failed = results.count(False)
print("%d passed, %d failed" % (len(results) - failed, failed))
sys.exit(1 if failed else 0)
