"""Limits at the front door: nginx's rate limit per client address on the pages that count
(429 with the worker's own page and Retry-After; probes, static files and exempt networks
never limited), and slow clients (slowloris) that never reach a worker."""
import select
import socket
import threading
import time

from integration.suite import CLIENT_HEADER_TIMEOUT, PLAIN_ANSWER, SLACK, secs, test
from lib.fastcgi import fcgi_call
from lib.http_client import HOST, KeepAlive, http_get
from lib.load import burst
from lib.pagecheck import layout_problems, security_problems
from lib.results import Errors, expect

RATE, BURST = 10, 20   # the defaults (render-conf.sh), set explicitly here


def timed_burst(port, path, total, conns, pause=0.0):
    """burst(), each connection waiting `pause` s after each answer, and the seconds from
    its first request to its last answer."""
    t0 = time.monotonic()
    results = burst(port, path, total, conns, timeout=60, on_response=lambda item: time.sleep(pause))
    return results, max(r[2] for r in results) - t0


@test("rate limit: 200 /count from one client raise visits by at most rate x time + burst + 1; "
      "429 is the site's page with Retry-After; probes and static files are never limited")
def t_rate_limit(ctx):
    st = ctx.stack(env={"RATE_LIMIT": str(RATE), "RATE_BURST": str(BURST)})
    before = st.visits()
    # About 100 requests a second for 2 s: over the burst at once, then ten times the rate.
    results, took = timed_burst(st.port, "/count", 200, 8, pause=0.08)
    rose = st.visits() - before
    codes = [r[0] for r in results]
    ok, limited = codes.count(200), codes.count(429)
    e = Errors()
    e.check(ok + limited == 200, "answers other than 200 and 429: %s" % sorted(set(map(str, codes)) - {"200", "429"}))
    # nginx lets the first request through and BURST more at once, then RATE a second.
    bound = RATE * took + BURST + 1
    e.check(rose <= bound, "visits rose by %d in %.2f s, more than %d/s x %.2f s + %d + 1 = %.0f"
            % (rose, took, RATE, took, BURST, bound))
    e.check(rose == ok, "visits rose by %d for %d answers 200 (a limited request counted, or one lost?)" % (rose, ok))
    e.check(limited > 0, "no request of 200 in %.2f s was limited (429)" % took)
    r = next((r[1] for r in results if r[0] == 429), None)
    if r is not None:
        ra = r.header("Retry-After") or ""
        e.check(ra.isdigit() and int(ra) > 0, "a 429 came with Retry-After %r" % ra)
        e.check("no-store" in (r.header("Cache-Control") or ""), "a 429 came with Cache-Control %r" % r.header("Cache-Control"))
        for prob in layout_problems(r.text, "the 429 page") + security_problems(r, "the 429 page"):
            e.check(False, prob)
    # The pages share the client's bucket, nearly full now; the rest are never limited.
    conn = KeepAlive(st.port)
    try:
        for path in ("/", "/about", "/stats"):
            codes = [conn.request("GET", path).status for _ in range(BURST + 2)]
            e.check(429 in codes and set(codes) <= {200, 429}, "%s, %d times at once after the burst: %s"
                    % (path, len(codes), sorted(set(codes))))
        for path in ("/health", "/static/style.css", "/favicon.ico", "/metrics", "/nope"):
            codes = [conn.request("GET", path).status for _ in range(2 * (RATE + BURST))]
            want = 404 if path == "/nope" else 200
            e.check(all(c == want for c in codes), "%s, %d times at once after the burst: %s"
                    % (path, len(codes), sorted(set(codes))))
    finally:
        conn.close()
    e.check(http_get(st.port, "/_limited").status == 404, "/_limited answers from outside (it is nginx's internal redirect)")
    e.raise_if_any()
    ctx.note("200 /count at 8 connections in %.2f s: %d answered 200 (bound %.0f), %d got 429" % (took, ok, bound, limited))


@test("rate limit: RATE_LIMIT_EXEMPT networks are never limited")
def t_rate_exempt(ctx):
    st = ctx.stack(env={"RATE_LIMIT": "1", "RATE_BURST": "0", "RATE_LIMIT_EXEMPT": "10.0.0.0/8,%s/32" % HOST})
    before = st.visits()
    results, took = timed_burst(st.port, "/count", 100, 4)
    codes = [r[0] for r in results]
    expect(codes.count(200) == 100, "an exempt client got %s for 100 /count in %.2f s at 1 request a second"
           % (sorted(set(map(str, codes))), took))
    expect(st.visits() - before == 100, "visits rose by %d for 100 answers" % (st.visits() - before))


SLOW_CLIENTS = 500
# What "answers others at once" means under slow clients: the bound for /, and the
# share of requests that must meet it on a machine busy with the other tests.
FAST_ANSWER = 0.1
FAST_SHARE = 0.9


@test("slowloris: %d clients sending headers a byte a second: / answers others within %d ms, "
      "no worker thread is held, nginx drops them within %s"
      % (SLOW_CLIENTS, FAST_ANSWER * 1000, secs(CLIENT_HEADER_TIMEOUT + SLACK)))
def t_slowloris(ctx):
    # No idle kept connection pins a worker thread, so every thread must be free for the
    # direct FastCGI requests below.
    st = ctx.stack(workers=3, threads=4, env={"FASTCGI_KEEPALIVE": "0"})
    slow, opened = [], time.monotonic()
    try:
        for _ in range(SLOW_CLIENTS):
            s = socket.create_connection((HOST, st.port), timeout=5)
            s.setblocking(False)
            slow.append(s)
        drip = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 100
        closed = {}
        stop = threading.Event()

        def dripper():
            # A byte to each open client every second; in between, note each close at once.
            by_fd = {s.fileno(): s for s in slow}
            poller = select.poll()
            for fd in by_fd:
                poller.register(fd, select.POLLIN)
            i, next_drip = 0, time.monotonic()
            while not stop.is_set() and by_fd:
                if time.monotonic() >= next_drip:
                    for fd, s in list(by_fd.items()):
                        try:
                            s.send(drip[i % len(drip):i % len(drip) + 1])
                        except BlockingIOError:
                            pass
                        except OSError:
                            closed[fd] = time.monotonic() - opened
                            poller.unregister(fd)
                            del by_fd[fd]
                    i += 1
                    next_drip += 1.0
                for fd, _ in poller.poll(100):
                    if fd in by_fd:
                        try:
                            by_fd[fd].recv(4096)
                        except OSError:
                            pass
                        closed[fd] = time.monotonic() - opened
                        poller.unregister(fd)
                        del by_fd[fd]

        t = threading.Thread(target=dripper, daemon=True)
        t.start()
        time.sleep(2)
        times = []
        while time.monotonic() - opened < CLIENT_HEADER_TIMEOUT - 2 and len(times) < 60:
            t0 = time.monotonic()
            r = http_get(st.port, "/", timeout=PLAIN_ANSWER + 5)
            times.append(time.monotonic() - t0)
            expect(r.status == 200, "/ answered %s with the slow clients connected" % r.status)
            time.sleep(0.1)
        direct = []
        for i in (1, 2, 3):
            threads = [threading.Thread(target=lambda: direct.append(fcgi_call(st.worker_sock(i), "GET", "/", timeout=2)))
                       for _ in range(4)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
        open_at_end = SLOW_CLIENTS - len(closed)
        deadline = opened + CLIENT_HEADER_TIMEOUT + SLACK + 2
        while len(closed) < len(slow) and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        t.join(5)
    finally:
        for s in slow:
            s.close()
    e = Errors()
    times.sort()
    fast = len([x for x in times if x <= FAST_ANSWER])
    e.check(times and fast >= FAST_SHARE * len(times),
            "only %d of %d requests to / answered within %d ms (slowest %.3f s)"
            % (fast, len(times), FAST_ANSWER * 1000, times[-1] if times else 0))
    e.check(times and times[-1] < PLAIN_ANSWER, "the slowest / took %.2f s (limit %s)" % (times[-1], secs(PLAIN_ANSWER)))
    held = [a for a in direct if not (a["complete"] and a["stdout"].startswith(b"Status: 200"))]
    e.check(len(direct) == 12 and not held, "%d of 12 direct FastCGI requests (every worker thread) were not answered "
            "within 2 s: threads held by the slow clients?" % (len(held) + 12 - len(direct)))
    e.check(open_at_end > 0, "the slow clients were gone before the check ended (%d open)" % open_at_end)
    late = sorted(closed.values())
    e.check(len(late) == SLOW_CLIENTS and late[-1] <= CLIENT_HEADER_TIMEOUT + SLACK,
            "nginx closed %d of %d slow clients, the last %.1f s after they connected (client_header_timeout %d s)"
            % (len(late), SLOW_CLIENTS, late[-1] if late else 0, CLIENT_HEADER_TIMEOUT))
    e.raise_if_any()
    ctx.note("%d slow clients: / answered in %.1f ms median, %.1f ms slowest (%d requests); nginx closed them "
             "%.1f-%.1f s after they connected" % (SLOW_CLIENTS, 1000 * times[len(times) // 2], 1000 * times[-1],
                                                   len(times), late[0] if late else 0, late[-1] if late else 0))
