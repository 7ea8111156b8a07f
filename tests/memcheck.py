#!/usr/bin/python3
"""The worker's memory checked in the real native stack: every page, the Redis outage
path, a malformed request, then SIGTERM, with the worker either under valgrind (memcheck,
--valgrind) or built with ASan/UBSan (--sanitizer; make SANITIZE=1).

Passes only on positive evidence: valgrind's closing "ERROR SUMMARY: 0 errors" (it counts
every error record, leaks included), or the ASan runtime's exit statistics (its exit-time
checks ran) and not one sanitizer report. Prints "N passed, N failed" last.

    /usr/bin/python3 tests/memcheck.py --valgrind --worker build/release/khalid-fcgi
    /usr/bin/python3 tests/memcheck.py --sanitizer --worker build/sanitize/khalid-fcgi
"""
import argparse
import os
import re
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib.http_client import http_get, raw_exchange, status_of  # noqa: E402
from lib.results import Deadline, Results, expect, stop_on_signals  # noqa: E402
from lib.sanitizer import SANITIZER_ENV, instrumented, report_lines  # noqa: E402
from lib.stack import Stack, StackError, wait_gone  # noqa: E402

TIME_LIMIT = 600  # valgrind makes the worker 20-50 times slower; never hang a CI job
VALGRIND_SUMMARY_RE = re.compile(r"^==\d+== ERROR SUMMARY: (\d+) errors? from (\d+) contexts?", re.M)
# The first line of every kind of valgrind error record, to show what the summary counted:
# "Invalid read of size 4", "Syscall param write(buf) points to unaddressable byte(s)",
# "Conditional jump or move depends on uninitialised value(s)", "Mismatched free()",
# "8 bytes in 1 blocks are definitely lost in loss record 1 of 2", ...
VALGRIND_RECORD_RE = re.compile(
    r"^==\d+== (Invalid |Syscall param |Conditional jump |Use of uninitialised |Mismatched |"
    r"Source and destination overlap|Argument '|Process terminating|Jump to the invalid address|"
    r"Warning: invalid file descriptor|.* bytes in .* blocks are (definitely|indirectly|possibly) lost).*$",
    re.M)
# ASan prints these at exit when asked (atexit=1): proof that the process left through
# exit(), where the leak check runs too, and not by a signal that skips both.
ASAN_EXIT_STATS = "AddressSanitizer exit stats:"


def valgrind_wrapper(log):
    # spawn-fcgi execs without a PATH search: the wrapper needs a full path. No --quiet:
    # the closing ERROR SUMMARY is the evidence.
    valgrind = shutil.which("valgrind")
    expect(valgrind, "valgrind is not installed")
    return (valgrind + " --leak-check=full --show-leak-kinds=definite,indirect,possible"
            " --errors-for-leak-kinds=definite,indirect,possible --log-file=" + log)


def drive(res, st, name):
    """Every page, a malformed request, a Redis outage and recovery, then SIGTERM: the
    paths whose memory the tool then judges."""
    with res.check("pages answer under " + name) as problems:
        statuses = {path: http_get(st.port, path, timeout=20).status
                    for path in ("/", "/count", "/about", "/health", "/nope", "/count?<script>")}
        want = {"/": 200, "/count": 200, "/about": 200, "/health": 200, "/nope": 404, "/count?<script>": 200}
        if statuses != want:
            problems.append(repr(statuses))
    raw_exchange(st.port, b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", timeout=10)
    with res.check("redis down path under " + name):
        rpid = st.redis_pid()
        os.kill(rpid, signal.SIGTERM)
        expect(wait_gone(rpid, 10) is not None, "Redis did not stop")
        down = [http_get(st.port, p, timeout=20).status for p in ("/count", "/health", "/")]
        expect(down == [503, 503, 200], repr(down))
    with res.check("redis back under " + name):
        st.start_redis()
        back = None
        for _ in range(40):
            back = status_of(st.port, "/count", timeout=20)
            if back == 200:
                break
            time.sleep(0.25)
        expect(back == 200, repr(back))
    with res.check("worker exits on SIGTERM under " + name):
        worker = st.worker_pids()[0]
        expect(worker and os.path.exists("/proc/%d" % worker), "the worker is not running")
        os.kill(worker, signal.SIGTERM)
        expect(wait_gone(worker, 30) is not None, "still running 30 s after SIGTERM")


def judge_valgrind(res, log):
    with res.check("valgrind wrote its log"):
        expect(os.path.exists(log), "valgrind wrote no log at %s" % log)
    with res.check("valgrind: ERROR SUMMARY of 0 errors, no error record, no leak") as problems:
        with open(log, errors="replace") as f:
            report = f.read()
        summaries = VALGRIND_SUMMARY_RE.findall(report)
        expect(len(summaries) == 1, "%d ERROR SUMMARY lines in the log, expected the worker's one "
               "(it did not exit through valgrind?): %s" % (len(summaries), report[-1500:]))
        errors, contexts = summaries[0]
        records = [m.group(0) for m in VALGRIND_RECORD_RE.finditer(report)]
        if errors != "0" or records:
            first = VALGRIND_RECORD_RE.search(report)
            excerpt = report[first.start():first.start() + 3000] if first else report[-3000:]
            problems.append("ERROR SUMMARY: %s errors from %s contexts; %s\n%s"
                            % (errors, contexts, " | ".join(records[:5]), excerpt))


def judge_sanitizer(res, st):
    with res.check("ASan/UBSan: exit-time checks ran, no sanitizer report") as problems:
        report = st.log_text()
        expect(ASAN_EXIT_STATS in report, "no %r in the worker's output: the exit-time checks did not run"
               % ASAN_EXIT_STATS)
        bad = report_lines(report)
        if bad:
            at = report.index(bad[0])
            problems.append("%s\n%s" % (" | ".join(bad[:5]), report[at:at + 3000]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", required=True)
    tool = ap.add_mutually_exclusive_group(required=True)
    tool.add_argument("--valgrind", action="store_true")
    tool.add_argument("--sanitizer", action="store_true")
    args = ap.parse_args()
    name = "valgrind" if args.valgrind else "ASan/UBSan"
    res = Results()

    shield = stop_on_signals(TIME_LIMIT)
    try:
        with tempfile.TemporaryDirectory(prefix="kt-mem-") as tmp:
            env = {"REDIS_TIMEOUT_MS": "300"}
            vlog = os.path.join(tmp, "valgrind.log")
            if args.valgrind:
                env["KHALID_WORKER_WRAPPER"] = valgrind_wrapper(vlog)
            else:
                with res.check("the worker is built with ASan/UBSan"):
                    expect(instrumented(args.worker), "%s refers to no sanitizer runtime (make SANITIZE=1)"
                           % args.worker)
                env["ASAN_OPTIONS"] = SANITIZER_ENV["ASAN_OPTIONS"] + ":atexit=1"
            st = Stack(args.worker, workers=1, threads=3, name=name, env=env, state_dir=tmp, die_with_parent=True)
            try:
                st.start(timeout=60)  # valgrind makes the worker's start-up slow
                drive(res, st, name)
                if args.valgrind:
                    judge_valgrind(res, vlog)
                else:
                    judge_sanitizer(res, st)
            finally:
                if res.failed:
                    res.note("last lines of the stack's log:\n" + "\n".join(st.log_tail(30)))
                st.stop()
                st.cleanup()
    except StackError as e:
        res.fail("the stack starts with the worker under " + name, e)
    except (KeyboardInterrupt, Deadline) as e:
        res.fail("run", "interrupted (%s); everything was torn down" % e)
    except Exception as e:  # a setup failure (no valgrind, say): one failed check
        res.fail("setup for " + name, "%s: %s" % (type(e).__name__, e))
    finally:
        shield()
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
