"""Redis faults: Redis stopped (SIGTERM) and hung (SIGSTOP) under a running stack. /count
and /health answer 503 quickly, the pages without Redis stay 200, no worker dies, and the
workers reconnect by themselves when Redis is back, with the count where it was."""
import os
import signal
import time

from integration.suite import (HUNG_REDIS_ANSWER, REDIS_RECOVERY, same_workers, secs, start_times,
                               test)
from lib.http_client import http_get, safe_get, status_of
from lib.load import burst, failures, poll
from lib.pagecheck import layout_problems, security_problems, visits_on
from lib.results import Errors, expect
from lib.stack import proc_alive, wait_gone


def ok_count(st):
    """A /count answer if it is a 200, else None (to poll for recovery)."""
    r = safe_get(st.port, "/count")
    return r if r is not None and r.status == 200 else None


@test("Redis stopped: 503 pages, / stays 200, recovery within %s, count kept" % secs(REDIS_RECOVERY))
def t_redis_stopped(ctx):
    st = ctx.stack()
    rpid = st.redis_pid()
    expect(rpid and proc_alive(rpid), "no running Redis (pid %s)" % rpid)
    starts = start_times(st.worker_pids())
    # Traffic first, so that every worker thread holds a Redis connection when it goes.
    warm = burst(st.port, "/count", 240, 24)
    expect(not failures(warm), "before Redis was stopped: " + failures(warm))
    before = st.visits()
    os.kill(rpid, signal.SIGTERM)
    expect(wait_gone(rpid, 10) is not None, "Redis (pid %d) did not exit within 10 s of SIGTERM" % rpid)
    e = Errors()
    try:
        for i in range(4):
            r = http_get(st.port, "/count")
            what = "/count with Redis stopped (#%d)" % (i + 1)
            e.check(r.status == 503, "%s answered %s" % (what, r.status))
            ra = r.header("Retry-After") or ""
            e.check(ra.isdigit() and int(ra) > 0, "%s Retry-After %r" % (what, ra))
            e.check("taking a break" in r.text, "%s is not the friendly 503 page" % what)
            e.check(visits_on(r.text) is None, "%s shows a visits number" % what)
            e.check("no-store" in (r.header("Cache-Control") or ""), "%s Cache-Control %r" % (what, r.header("Cache-Control")))
            for prob in layout_problems(r.text, what) + security_problems(r, what):
                e.check(False, prob)
        r = http_get(st.port, "/health")
        e.check(r.status == 503, "/health with Redis stopped answered %s" % r.status)
        e.check(r.body.strip() == b'{"status":"degraded","redis":"down"}', "/health body %r" % r.body)
        for path in ("/", "/about"):
            r = http_get(st.port, path)
            e.check(r.status == 200, "%s with Redis stopped answered %s" % (path, r.status))
        r = http_get(st.port, "/nope")
        e.check(r.status == 404, "/nope with Redis stopped answered %s" % r.status)
    finally:
        st.start_redis()
    # Back: the workers reconnect by themselves, and the count goes on where it was.
    r, took = poll(lambda: ok_count(st), REDIS_RECOVERY)
    e.check(r is not None, "/count did not answer 200 within %s of Redis coming back" % secs(REDIS_RECOVERY))
    if r is not None:
        n = visits_on(r.text)
        e.check(n == before + 1, "first count after the restart is %s, expected %d (count lost?)" % (n, before + 1))
        ctx.note("/count answered 200 again %.2f s after Redis was back" % took)
    # By then every thread has made its next reconnect attempt, whatever its backoff.
    time.sleep(REDIS_RECOVERY)
    codes = [status_of(st.port, "/count") for _ in range(36)]
    e.check(all(c == 200 for c in codes), "%d of 36 /count requests failed (%s) although Redis had been "
            "back for over %s" % (len([c for c in codes if c != 200]), sorted(set(map(str, codes))),
                                  secs(REDIS_RECOVERY)))
    r = http_get(st.port, "/health")
    e.check(r.status == 200, "/health answered %s after recovery" % r.status)
    same_workers(e, starts, "while Redis was down (writes to a closed socket: SIGPIPE?)")
    e.raise_if_any()


@test("Redis hung (SIGSTOP): 503 within %s, recovery within %s" % (secs(HUNG_REDIS_ANSWER), secs(REDIS_RECOVERY)))
def t_redis_hung(ctx):
    st = ctx.stack()
    rpid = st.redis_pid()
    expect(rpid and proc_alive(rpid), "no running Redis (pid %s)" % rpid)
    starts = start_times(st.worker_pids())
    e = Errors()
    os.kill(rpid, signal.SIGSTOP)
    try:
        for i in range(6):
            path = "/health" if i == 5 else "/count"
            t0 = time.monotonic()
            try:
                r = http_get(st.port, path, timeout=10)
            except Exception as ex:
                e.check(False, "%s with Redis hung: %s after %.2f s" % (path, ex, time.monotonic() - t0))
                continue
            el = time.monotonic() - t0
            e.check(r.status == 503, "%s with Redis hung answered %s" % (path, r.status))
            e.check(el < HUNG_REDIS_ANSWER, "%s with Redis hung took %.2f s (limit %s)" % (path, el, secs(HUNG_REDIS_ANSWER)))
        t0 = time.monotonic()
        r = http_get(st.port, "/")
        e.check(r.status == 200 and time.monotonic() - t0 < HUNG_REDIS_ANSWER, "/ with Redis hung: %s in %.2f s (limit %s)"
                % (r.status, time.monotonic() - t0, secs(HUNG_REDIS_ANSWER)))
    finally:
        os.kill(rpid, signal.SIGCONT)
    r, took = poll(lambda: ok_count(st), REDIS_RECOVERY)
    e.check(r is not None, "/count did not answer 200 within %s of SIGCONT" % secs(REDIS_RECOVERY))
    same_workers(e, starts, "while Redis was hung")
    e.raise_if_any()
