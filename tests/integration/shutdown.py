"""Shutdown: the stack stopped by SIGTERM and restarted with the count kept; workers
stopped by SIGTERM under load (failover, requests in flight finish) and killed by SIGKILL;
and the same with FastCGI keep-alive, where nginx holds connections open to the workers."""
import os
import re
import select
import signal
import socket
import threading
import time

from integration.suite import STACK_STOP, WORKER_EXIT, gone_within, running_workers, secs, start_times, test
from lib.fastcgi import fcgi_params, fcgi_read_response, fcgi_request_bytes, fcgi_send, kept_connections
from lib.http_client import HOST, http_get, safe_get, status_of
from lib.load import burst, failures
from lib.pagecheck import visits_on
from lib.results import Errors, expect
from lib.stack import proc_alive, proc_start_time, wait_gone


def check_exit(e, pid, took, limit, what):
    """A check that pid exited within limit; took: seconds from the signal until pid was gone, or None (still running)."""
    e.check(took is not None and took < limit, "%s %d exited %s after SIGTERM (limit %s)"
            % (what, pid, "%.2f s" % took if took is not None else "not at all", secs(limit)))


@test("graceful stop of the stack within %s, restart keeps the count" % secs(STACK_STOP))
def t_graceful_stop(ctx):
    st = ctx.stack()
    for _ in range(5):
        expect(status_of(st.port, "/count") == 200, "/count did not answer 200 before the stop")
    pids = st.all_pids()
    starts = start_times(pids)
    workers = [p for p in st.worker_pids() if p]
    expect(len(workers) == 3 and st.nginx_pid() and st.redis_pid(),
           "incomplete stack before the stop: %s" % pids)
    nginx_children = [p for p in pids if p not in workers + [st.nginx_pid(), st.redis_pid(), st.proc.pid]]
    expect(nginx_children, "found no nginx worker processes")
    v = st.visits()
    expect(v == 5, "visits is %d after 5 counts, before the stop" % v)
    rc, took = st.stop(timeout=2 * STACK_STOP)
    expect(rc == 0, "stack.sh exited with %s after SIGTERM (%.1f s)" % (rc, took))
    expect(took < STACK_STOP, "stack.sh took %.1f s to stop (limit %s)" % (took, secs(STACK_STOP)))
    left = [p for p in pids if starts.get(p) is not None and proc_start_time(p) == starts[p] and proc_alive(p)]
    expect(not left, "processes left after the stop: %s" % left)
    for name in ("nginx.pid", "redis.pid", "ready", "redis.sock"):
        expect(not os.path.exists(os.path.join(st.run_dir, name)), "run/%s left behind" % name)
    try:
        socket.create_connection((HOST, st.port), timeout=1).close()
        expect(False, "port %d still answers after the stop" % st.port)
    except ConnectionRefusedError:
        pass
    # A second start in the same state directory finds the count where it was.
    st.start()
    v2 = st.visits()
    expect(v2 == v, "after a restart visits is %d, before the stop it was %d" % (v2, v))
    r = http_get(st.port, "/count")
    expect(r.status == 200 and visits_on(r.text) == v + 1, "after the restart /count answered %s showing %s, expected %d"
           % (r.status, visits_on(r.text), v + 1))
    rc, took = st.stop(timeout=2 * STACK_STOP)
    expect(rc == 0 and took < STACK_STOP, "the restarted stack stopped with %s in %.1f s (limit %s)"
           % (rc, took, secs(STACK_STOP)))


def sigterm_during_burst(st, targets, total, conns):
    """A /count burst during which each pid of targets gets SIGTERM once `at` answers have
    come ({at: pid}). Returns (results, {pid: (time of the signal, seconds until it was
    gone or None)})."""
    lock = threading.Lock()
    done = [0]
    exits = {}

    def on_response(item):
        with lock:
            done[0] += 1
            pid = targets.get(done[0])
        if pid:
            t = time.monotonic()
            os.kill(pid, signal.SIGTERM)
            exits[pid] = (t, gone_within(pid, WORKER_EXIT))

    results = burst(st.port, "/count", total, conns, on_response=on_response, timeout=90)
    expect(len(exits) == len(targets), "SIGTERM went to %d workers, expected %d (%d answers)"
           % (len(exits), len(targets), done[0]))
    return results, exits


@test("SIGTERM to a worker mid-burst: exits within %s, no failed request" % secs(WORKER_EXIT))
def t_sigterm_failover(ctx):
    """SIGTERM to a worker in the middle of a burst: it exits in time, every request of the
    burst answers 200, each counted exactly once, and / stays 200."""
    st = ctx.stack(threads=8)
    target = running_workers(st)[0]
    total = 1500
    before = st.visits()
    results, exits = sigterm_during_burst(st, {400: target}, total, 10)
    e = Errors()
    sent, took = exits[target]
    check_exit(e, target, took, WORKER_EXIT, "worker")
    e.check(not failures(results), failures(results) + " around the SIGTERM")
    after = st.visits()
    e.check(after - before == total, "visits rose by %d for %d requests (lost or double-counted)" % (after - before, total))
    served = [r[1].header("X-Served-By") for r in results if r[0] == 200 and r[2] < sent]
    e.check(any(sb and sb.endswith("/%d" % target) for sb in served),
            "worker %d served nothing before the SIGTERM (nothing was in flight there)" % target)
    for i in range(30):
        r = safe_get(st.port, "/")
        e.check(r is not None and r.status == 200, "request %d to / after the SIGTERM: %s" % (i, r and r.status))
    e.raise_if_any()


@test("SIGTERM with requests in flight: they finish, exit within %s" % secs(WORKER_EXIT))
def t_sigterm_inflight(ctx):
    """Requests a worker is serving when SIGTERM arrives get their whole answer. Redis is
    SIGSTOPped so each request sits in the worker for the Redis command timeout; the
    requests go straight to the worker's FastCGI socket so they can't be retried."""
    st = ctx.stack(threads=8)
    target = running_workers(st)[1]
    rpid = st.redis_pid()
    expect(rpid and proc_alive(rpid), "no Redis")
    conns = []
    e = Errors()
    os.kill(rpid, signal.SIGSTOP)
    try:
        for _ in range(3):
            conns.append(fcgi_send(st.worker_sock(2), "GET", "/count", timeout=3))
        time.sleep(0.2)
        ready, _, _ = select.select(conns, [], [], 0)
        expect(not ready, "%d answers came back before the SIGTERM: the requests were not in flight" % len(ready))
        t0 = time.monotonic()
        os.kill(target, signal.SIGTERM)
        answers = []
        for c in conns:
            answers.append(fcgi_read_response(c, timeout=3))
            c.close()  # as nginx does; libfcgi lingers up to 2 s for the peer to close
        answered = time.monotonic() - t0
        gone = gone_within(target, WORKER_EXIT)
        exit_after = None if gone is None else time.monotonic() - t0
        for i, a in enumerate(answers):
            e.check(a["complete"] and a["protocol_status"] == 0,
                    "in-flight request %d: no complete answer (%s, %d bytes of stdout)" % (i, a["error"], len(a["stdout"])))
            head, _, body = a["stdout"].partition(b"\r\n\r\n")
            m = re.search(rb"(?i)content-length:\s*(\d+)", head)
            e.check(head.startswith(b"Status: 503") and m is not None and int(m.group(1)) == len(body),
                    "in-flight request %d: answer %r (body %d bytes)" % (i, head[:60], len(body)))
        check_exit(e, target, exit_after, WORKER_EXIT, "worker with requests in flight")
        ctx.note("3 in-flight requests answered %.2f s after SIGTERM; worker gone after %s s"
                 % (answered, "%.2f" % exit_after if exit_after is not None else "?"))
    finally:
        os.kill(rpid, signal.SIGCONT)
        for c in conns:
            c.close()
    e.raise_if_any()


def keepalive_stack(ctx):
    """3 workers x 16 threads, and nginx keeping up to 6 idle connections to them."""
    return ctx.stack(workers=3, threads=16, env={"FASTCGI_KEEPALIVE": "6"})


@test("keep-alive: SIGTERM to workers mid-burst counts each request once")
def t_keepalive_stop(ctx):
    """With FastCGI keep-alive, nginx keeps idle connections open to the workers, each
    held by a worker thread. SIGTERM to two workers in turn during a /count burst: each
    closes its kept connections and exits in time, every request answers 200, and visits
    rises by exactly the number of requests (a worker that read a request on a connection
    being closed, and nginx retrying it elsewhere, would count it twice)."""
    st = keepalive_stack(ctx)
    pids = running_workers(st)
    burst(st.port, "/", 200, 12, timeout=30)
    kept = [kept_connections(st.worker_sock(i)) for i in (1, 2, 3)]
    expect(sum(kept) > 0, "no idle nginx->worker connections after a burst: keep-alive is not in use")
    total = 4000
    before = st.visits()
    results, exits = sigterm_during_burst(st, {1000: pids[0], 2500: pids[1]}, total, 12)
    e = Errors()
    for pid, (_, took) in exits.items():
        check_exit(e, pid, took, WORKER_EXIT, "worker")
    e.check(not failures(results), failures(results) + " around the SIGTERMs")
    rose = st.visits() - before
    e.check(rose == total, "visits rose by %d for %d requests answered 200 (%s)"
            % (rose, total, "double-counted" if rose > total else "lost"))
    e.check(proc_alive(pids[2]), "the worker that was not stopped is gone")
    e.check(kept_connections(st.worker_sock(3)) > 0, "the remaining worker holds no kept connection")
    e.raise_if_any()
    ctx.note("kept connections before the burst: %s; %d /count with 2 workers stopped mid-burst" % (kept, total))


@test("keep-alive by hand: a request sent at the SIGTERM is answered or left unread")
def t_keepalive_stop_direct(ctx):
    """The keep-alive shutdown race, driven by hand on one worker's socket: connections
    that each served one request and are kept open (a thread waits on each), then SIGTERM
    and, at once, a /count on every one of them. Each must get either its whole answer or
    a closed connection, and visits must rise by exactly the number of answers: a request
    read but not answered (which nginx would retry elsewhere) would show as one more."""
    st = keepalive_stack(ctx)
    pid = running_workers(st)[2]
    conns = []
    e = Errors()
    try:
        for i in range(3):
            c = fcgi_send(st.worker_sock(3), "GET", "/", keep_conn=True)
            conns.append(c)
            a = fcgi_read_response(c, 5)
            expect(a["complete"] and a["stdout"].startswith(b"Status: 200"), "warm-up %d: %s" % (i, a["error"]))
        before = st.visits()
        os.kill(pid, signal.SIGTERM)
        for c in conns:
            try:
                c.sendall(fcgi_request_bytes(fcgi_params("GET", "/count"), req_id=2, keep_conn=True))
            except OSError:
                pass  # already closed by the worker: fine
        answered = 0
        for i, c in enumerate(conns):
            a = fcgi_read_response(c, 5)
            c.close()  # as nginx does; the worker's close waits for it (libfcgi lingers)
            if a["complete"]:
                e.check(a["stdout"].startswith(b"Status: 200"), "connection %d: answer %r" % (i, a["stdout"][:40]))
                answered += 1
            else:
                e.check(len(a["stdout"]) == 0, "connection %d: a partial answer (%d bytes, %s)" % (i, len(a["stdout"]), a["error"]))
        check_exit(e, pid, gone_within(pid, WORKER_EXIT), WORKER_EXIT, "worker-3")
        rose = st.visits() - before
        e.check(rose == answered, "visits rose by %d; %d of %d /count requests were answered" % (rose, answered, len(conns)))
        ctx.note("%d of %d /count requests sent at the SIGTERM were answered, the rest closed unread" % (answered, len(conns)))
    finally:
        for c in conns:
            c.close()
    e.raise_if_any()


@test("SIGKILL to a worker: / and /count stay 200")
def t_sigkill(ctx):
    st = ctx.stack()
    pids = running_workers(st)
    os.kill(pids[1], signal.SIGKILL)
    expect(wait_gone(pids[1], 3.0) is not None, "worker %d survived SIGKILL" % pids[1])
    e = Errors()
    codes = [status_of(st.port, "/") for _ in range(30)]
    e.check(all(c == 200 for c in codes), "/ after a worker was killed: %s" % codes)
    before = st.visits()
    codes = [status_of(st.port, "/count") for _ in range(30)]
    e.check(all(c == 200 for c in codes), "/count after a worker was killed: %s" % codes)
    e.check(st.visits() - before == 30, "30 counts raised visits by %d" % (st.visits() - before))
    e.check(proc_alive(pids[0]) and proc_alive(pids[2]), "the other workers are gone too")
    e.raise_if_any()
