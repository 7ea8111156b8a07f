"""Faults under load, each with what it may cost and nothing more: Redis killed (503s
within the command timeout, the stack restarts it, every acknowledged visit kept); a clean
stop and an AOF cut short (nothing lost that was answered); a hung Redis back (no 503 once
/health says so); a worker killed (no visit counted beyond the answers and the requests in
flight); Redis refusing writes (503 with a clear log line, recovery without a restart)."""
import glob
import os
import re
import signal
import time

from integration.suite import (HUNG_REDIS_ANSWER, REDIS_RECOVERY, SLACK, STACK_STOP, running_workers, same_workers,
                               secs, start_times, test)
from lib.http_client import http_get, status_of
from lib.load import Steady, burst, poll
from lib.pagecheck import visits_on
from lib.results import Errors, expect
from lib.stack import proc_alive, wait_gone

# scripts/stack.sh looks at its processes once a second and restarts a Redis that died at
# once (the first time); Redis then loads its AOF.
REDIS_RESTART = 1.0 + SLACK


def statuses(answers):
    """{status or error text: how many}"""
    out = {}
    for a in answers:
        out[a[0]] = out.get(a[0], 0) + 1
    return out


def redis_back(st, old_pid):
    """The pid of a Redis other than old_pid answering PING, or None."""
    pid = st.redis_pid()
    if not pid or pid == old_pid or not proc_alive(pid):
        return None
    try:
        return pid if st.redis_cli("PING", timeout=2) == "PONG" else None
    except Exception:  # not listening yet
        return None


@test("Redis SIGKILLed under /count load: 503 within %s, never a hang; the stack restarts Redis within %s; "
      "every visit acknowledged before the kill is kept" % (secs(HUNG_REDIS_ANSWER), secs(REDIS_RESTART)))
def t_redis_killed(ctx):
    st = ctx.stack(threads=8)
    starts = start_times(st.worker_pids())
    rpid = st.redis_pid()
    expect(rpid and proc_alive(rpid), "no running Redis (pid %s)" % rpid)
    load = Steady(st.port, "/count", 16).start()
    try:
        time.sleep(1.5)
        killed = time.monotonic()
        os.kill(rpid, signal.SIGKILL)
        new_pid, took = poll(lambda: redis_back(st, rpid), REDIS_RESTART + 5, interval=0.05)
        time.sleep(0.5)
    finally:
        answers = load.stop()
    before_kill = [a for a in answers if a[3] < killed]
    acked = max([a[1] for a in before_kill if a[0] == 200] or [0])
    shown = [a[1] for a in answers if a[0] == 200]
    e = Errors()
    e.check(new_pid is not None and took <= REDIS_RESTART, "Redis answered again %s after the kill (limit %s)"
            % ("%.2f s" % took if new_pid else "not within %s" % secs(REDIS_RESTART + 5), secs(REDIS_RESTART)))
    counts = statuses(answers)
    e.check(set(counts) <= {200, 503}, "answers other than 200 and 503: %s" % counts)
    e.check(counts.get(503, 0) > 0, "no 503 while Redis was dead: %s" % counts)
    e.check(before_kill and all(a[0] == 200 for a in before_kill), "before the kill: %s" % statuses(before_kill))
    slow = max(a[2] for a in answers)
    e.check(slow < HUNG_REDIS_ANSWER, "the slowest request took %.2f s (limit %s)" % (slow, secs(HUNG_REDIS_ANSWER)))
    # A visit lost with the old Redis would show its number again on a page after the restart.
    e.check(len(set(shown)) == len(shown), "%d pages answered 200 showed only %d distinct numbers (visits lost "
            "and counted again)" % (len(shown), len(set(shown))))
    if new_pid is not None:
        kept = st.visits()
        e.check(kept >= max(shown or [0]), "visits is %d after the restart; a page answered 200 showed %d (acknowledged "
                "visits lost)" % (kept, max(shown or [0])))
        r, back = poll(lambda: (lambda r: r if r.status == 200 else None)(http_get(st.port, "/count")), REDIS_RECOVERY)
        e.check(r is not None and visits_on(r.text) == kept + 1, "/count after the restart: %s, showing %s, expected %d"
                % (r and r.status, r and visits_on(r.text), kept + 1))
        ctx.note("Redis back %.2f s after SIGKILL; %s; highest acknowledged before the kill %d, visits %d at "
                 "the end" % (took, counts, acked, kept))
    e.check("stack: Redis died" in st.log_text(), "the stack did not say that Redis died")
    same_workers(e, starts, "while Redis was killed")
    e.raise_if_any()


@test("clean stop under /count load: every visit answered is kept, none that was not answered is counted")
def t_clean_stop_under_load(ctx):
    st = ctx.stack(threads=8)
    expect(st.visits() == 0, "a fresh stack starts at visits %d" % st.visits())
    load = Steady(st.port, "/count", 8).start()
    try:
        time.sleep(1.5)
        rc, took = st.stop(timeout=2 * STACK_STOP)
    finally:
        answers = load.stop()
    expect(rc == 0, "stack.sh exited with %s after SIGTERM (%.1f s)" % (rc, took))
    ok = [a for a in answers if a[0] == 200]
    st.start()
    kept = st.visits()
    acked = max([a[1] for a in ok] or [0])
    expect(ok, "no /count answered 200 before the stop: %s" % statuses(answers))
    expect(kept == len(ok) and kept >= acked, "after the restart visits is %d; %d requests were answered 200, "
           "the highest showing %d" % (kept, len(ok), acked))
    ctx.note("%d visits answered before the stop (%.1f s), %d kept" % (len(ok), took, kept))


def aof_commands(data):
    """The byte offsets at which each command of a RESP append-only file starts."""
    starts, i = [], 0
    while i < len(data):
        starts.append(i)
        m = re.match(rb"\*(\d+)\r\n", data[i:])
        expect(m is not None, "the AOF holds no command at byte %d: %r" % (i, data[i:i + 20]))
        i += m.end()
        for _ in range(int(m.group(1))):
            m = re.match(rb"\$(\d+)\r\n", data[i:])
            expect(m is not None, "the AOF holds no argument at byte %d" % i)
            i += m.end() + int(m.group(1)) + 2
    return starts


@test("an AOF whose last command was cut short still loads (aof-load-truncated): only that command is lost")
def t_aof_truncated(ctx):
    st = ctx.stack(workers=1, env={"TRACKING": "0"})
    for _ in range(10):
        expect(status_of(st.port, "/count") == 200, "/count did not answer 200")
    before = st.visits()
    rc, _ = st.stop(timeout=2 * STACK_STOP)
    expect(rc == 0, "the stack stopped with %s" % rc)
    incr = glob.glob(os.path.join(st.state_dir, "redis", "appendonlydir", "*.incr.aof"))
    expect(len(incr) == 1, "expected one incremental AOF file, found %s" % incr)
    with open(incr[0], "rb") as f:
        data = f.read()
    last = aof_commands(data)[-1]
    cut = last + (len(data) - last) // 2
    lost = 1 if re.match(rb"\*2\r\n\$4\r\nINCR\r\n\$6\r\nvisits\r\n", data[last:], re.I) else 0
    with open(incr[0], "r+b") as f:
        f.truncate(cut)
    st.start()
    after = st.visits()
    e = Errors()
    e.check(after == before - lost, "visits is %d after loading the cut AOF; it was %d and the cut command %s"
            % (after, before, "was an INCR visits" if lost else "was not an INCR of visits"))
    e.check("aof-load-truncated is enabled" in st.log_text(), "Redis did not say it loaded a truncated AOF")
    r = http_get(st.port, "/count")
    e.check(r.status == 200 and visits_on(r.text) == after + 1, "/count after the load answered %s showing %s"
            % (r.status, visits_on(r.text)))
    e.raise_if_any()
    ctx.note("cut %d of %d bytes of %s in its last command (%s)" % (len(data) - cut, len(data),
             os.path.basename(incr[0]), data[last:last + 40].split(b"\r\n")[2].decode("ascii", "replace")))


@test("Redis hung 3 s under 16 connections of /count: once /health is 200, no /count gets 503")
def t_no_503_after_health(ctx):
    st = ctx.stack(threads=8)
    rpid = st.redis_pid()
    expect(rpid and proc_alive(rpid), "no running Redis (pid %s)" % rpid)
    load = Steady(st.port, "/count", 16).start()
    try:
        time.sleep(1)
        os.kill(rpid, signal.SIGSTOP)
        time.sleep(3)
    finally:
        os.kill(rpid, signal.SIGCONT)
        during = load.stop()
    healthy, took = poll(lambda: status_of(st.port, "/health") == 200, REDIS_RECOVERY, interval=0.01)
    expect(healthy, "/health not 200 within %s of SIGCONT" % secs(REDIS_RECOVERY))
    after = burst(st.port, "/count", 2000, 16, timeout=60)
    counts = statuses(during)
    expect(counts.get(503, 0) > 0, "no 503 while Redis was hung (was it?): %s" % counts)
    failed = statuses([a for a in after if a[0] != 200])
    expect(not failed, "after /health said 200, %d of %d /count failed: %s" % (sum(failed.values()), len(after), failed))
    ctx.note("/health 200 %.2f s after SIGCONT; then 2000 /count at 16 connections, all 200" % took)


@test("a worker SIGKILLed under /count load: visits rise by no more than the answers 200 plus the requests in "
      "flight at the kill, and by no fewer than the answers")
def t_worker_killed(ctx):
    st = ctx.stack(threads=8)
    victim = running_workers(st)[1]
    before = st.visits()
    load = Steady(st.port, "/count", 16).start()
    try:
        time.sleep(1.5)
        inflight = load.inflight()
        os.kill(victim, signal.SIGKILL)
        time.sleep(1.5)
    finally:
        answers = load.stop()
    expect(wait_gone(victim, 3) is not None, "worker %d survived SIGKILL" % victim)
    ok = len([a for a in answers if a[0] == 200])
    rose = st.visits() - before
    e = Errors()
    e.check(ok <= rose <= ok + inflight, "visits rose by %d: %d answers 200, %d requests in flight at the kill"
            % (rose, ok, inflight))
    counts = statuses(answers)
    e.check(set(counts) == {200}, "answers while a worker was killed: %s" % counts)
    e.raise_if_any()
    ctx.note("%d answers 200, visits +%d, %d requests in flight at the kill" % (ok, rose, inflight))


@test("Redis refusing writes (maxmemory, noeviction): /count 503 with a log line naming it, / stays 200, "
      "recovery without a restart")
def t_redis_refuses_writes(ctx):
    st = ctx.stack()
    starts = start_times(st.worker_pids())
    for _ in range(3):
        expect(status_of(st.port, "/count") == 200, "/count did not answer 200 before the fault")
    before = st.visits()
    limit = st.redis_cli("CONFIG", "GET", "maxmemory").splitlines()[-1]
    e = Errors()
    st.redis_cli("CONFIG", "SET", "maxmemory", "1")
    try:
        for i in range(10):
            t0 = time.monotonic()
            r = http_get(st.port, "/count")
            el = time.monotonic() - t0
            e.check(r.status == 503 and el < HUNG_REDIS_ANSWER, "/count #%d with writes refused: %s in %.2f s"
                    % (i + 1, r.status, el))
            e.check(status_of(st.port, "/") == 200, "/ with writes refused did not answer 200")
            # Reads still succeed (PING): they must not log a recovery between two refusals.
            e.check(status_of(st.port, "/health") == 200, "/health with writes refused did not answer 200")
    finally:
        st.redis_cli("CONFIG", "SET", "maxmemory", limit)
    e.check(st.visits() == before, "visits changed from %d to %d while writes were refused" % (before, st.visits()))
    lines = [line for line in st.log_text().splitlines() if re.search(r"khalid-fcgi\[\d+\]: .*OOM", line)]
    e.check(lines, "no worker log line names the refusal (OOM)")
    r, took = poll(lambda: (lambda r: r if r.status == 200 else None)(http_get(st.port, "/count")), REDIS_RECOVERY)
    e.check(r is not None and visits_on(r.text) == before + 1, "/count after maxmemory was restored: %s showing %s"
            % (r and r.status, r and visits_on(r.text)))
    # Once per worker when it starts and once when it ends, not a line per refused request.
    logged = len([line for line in st.log_text().splitlines() if re.search(r"khalid-fcgi\[\d+\]: redis", line)])
    e.check(logged <= 2 * len(starts), "the workers logged %d Redis lines for one refusal (%d workers)"
            % (logged, len(starts)))
    same_workers(e, starts, "while Redis refused writes")
    e.raise_if_any()
    ctx.note("worker log: %s" % (lines[0].strip()[:160] if lines else "-"))
