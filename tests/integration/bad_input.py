"""Bad input and slow clients: a table of malformed and hostile requests, each answered
4xx or with a harmless page and none changing a worker or the count; clients that reset
the connection unread; clients that connect and never finish a request, which must neither
hold up others nor stay open past nginx's client_header_timeout."""
import contextlib
import select
import socket
import struct
import time

from integration.suite import (CLIENT_HEADER_TIMEOUT, PLAIN_ANSWER, SLACK, running_workers, same_workers,
                               secs, start_times, test)
from lib.http_client import HOST, http_get, parse_raw_response, raw_exchange
from lib.pagecheck import APP_NAME, raw_security_problems
from lib.results import Errors, expect

# No complete answer within this long: the request hangs (every row is answered at once,
# by nginx or by a worker without Redis).
HANG = 5.0


def bad_input_table():
    H = b"Host: localhost\r\nConnection: close\r\n\r\n"
    big_headers = b"".join(b"X-Filler-%03d: %s\r\n" % (i, b"v" * 30) for i in range(200))
    huge_headers = b"".join(b"X-Filler-%03d: %s\r\n" % (i, b"v" * 200) for i in range(200))
    script = b"<script>alert(1)</script>"
    # (name, request bytes, allowed: "4xx" or "4xx|page", extra check on the body or None)
    return [
        ("method FOO", b"FOO / HTTP/1.1\r\n" + H, "4xx", None),
        ("method PROPFIND", b"PROPFIND /count HTTP/1.1\r\n" + H, "4xx", None),
        ("method TRACE", b"TRACE / HTTP/1.1\r\n" + H, "4xx", None),
        ("method CONNECT", b"CONNECT localhost:443 HTTP/1.1\r\n" + H, "4xx", None),
        ("method CONNECT /", b"CONNECT / HTTP/1.1\r\n" + H, "4xx", None),
        ("lower-case method", b"get / HTTP/1.1\r\n" + H, "4xx", None),
        ("overlong method (5000 bytes)", b"A" * 5000 + b" / HTTP/1.1\r\n" + H, "4xx", None),
        ("overlong method (20000 bytes)", b"A" * 20000 + b" / HTTP/1.1\r\n" + H, "4xx", None),
        ("10 KB URL", b"GET /" + b"a" * 10240 + b" HTTP/1.1\r\n" + H, "4xx", None),
        ("10 KB query on /", b"GET /?q=" + b"a" * 10240 + b" HTTP/1.1\r\n" + H, "4xx", None),
        ("7 KB unknown path", b"GET /" + b"b" * 7000 + b" HTTP/1.1\r\n" + H, "4xx", None),
        ("percent-encoding /%zz", b"GET /%zz HTTP/1.1\r\n" + H, "4xx", None),
        ("percent-encoding /%", b"GET /% HTTP/1.1\r\n" + H, "4xx", None),
        ("percent-encoding /count%", b"GET /count% HTTP/1.1\r\n" + H, "4xx", None),
        ("percent-encoding /%c0%af", b"GET /%c0%af HTTP/1.1\r\n" + H, "4xx", None),
        ("percent-encoding in query /?q=%zz", b"GET /?q=%zz% HTTP/1.1\r\n" + H, "4xx|page", None),
        ("%00 in path", b"GET /%00 HTTP/1.1\r\n" + H, "4xx", None),
        ("%00 after /count", b"GET /count%00 HTTP/1.1\r\n" + H, "4xx", None),
        ("%00 in query of /", b"GET /?q=%00 HTTP/1.1\r\n" + H, "4xx|page", None),
        ("%00 in query of /about", b"GET /about?q=a%00b HTTP/1.1\r\n" + H, "4xx|page", None),
        ("raw NUL in the path", b"GET /\x00 HTTP/1.1\r\n" + H, "4xx", None),
        ("raw NUL in the query", b"GET /?q=\x00 HTTP/1.1\r\n" + H, "4xx", None),
        ("raw NUL in a header", b"GET / HTTP/1.1\r\nX-A: a\x00b\r\n" + H, "4xx", None),
        ("20 KB header", b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20480 + b"\r\n" + H, "4xx", None),
        ("200 headers (8 KB)", b"GET / HTTP/1.1\r\n" + big_headers + H, "4xx|page", None),
        ("200 headers (42 KB)", b"GET / HTTP/1.1\r\n" + huge_headers + H, "4xx", None),
        ("<script> in the query of /", b"GET /?q=" + script + b" HTTP/1.1\r\n" + H, "4xx|page", "noscript"),
        ("<script> in a 404 path", b"GET /nope" + script + b" HTTP/1.1\r\n" + H, "4xx", "escaped"),
        ("%3Cscript%3E in a 404 path", b"GET /x%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1\r\n" + H, "4xx", "escaped"),
        ("<script> on a 405", b"POST /nope/../count?" + script + b" HTTP/1.1\r\nContent-Length: 0\r\n" + H, "4xx", "noscript"),
        ("CRLF in the path", b"GET /%0d%0aSet-Cookie:%20x=1 HTTP/1.1\r\n" + H, "4xx", "nocookie"),
        ("path traversal", b"GET /static/../../../../etc/passwd HTTP/1.1\r\n" + H, "4xx", "nopasswd"),
        ("encoded path traversal", b"GET /static/..%2f..%2f..%2fetc/passwd HTTP/1.1\r\n" + H, "4xx", "nopasswd"),
        ("HTTP/0.9 request", b"GET /\r\n", "4xx|page", None),
        ("request line without a version", b"GET /about\r\n\r\n", "4xx|page", None),
        ("request line without a path", b"GET\r\n\r\n", "4xx", None),
        ("space in the path", b"GET /a b HTTP/1.1\r\n" + H, "4xx", None),
        ("no Host in HTTP/1.1", b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", "4xx", None),
        ("bad Content-Length", b"GET / HTTP/1.1\r\nContent-Length: abc\r\n" + H, "4xx", None),
        ("Content-Length and chunked", b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n" + H + b"0\r\n\r\n", "4xx", None),
        ("chunked POST", b"POST /count HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" + H + b"5\r\nhello\r\n0\r\n\r\n", "4xx", None),
        ("100 KB body announced", b"POST /count HTTP/1.1\r\nContent-Length: 100000\r\n" + H + b"x" * 2000, "4xx", None),
        ("TLS ClientHello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, "4xx", None),
        ("binary junk", bytes(range(256)) * 4, "4xx", None),
        ("absolute URI to another host", b"GET http://evil.example/ HTTP/1.1\r\n" + H, "4xx|page", None),
        ("Host header with junk", b"GET / HTTP/1.1\r\nHost: <script>\r\nConnection: close\r\n\r\n", "4xx|page", "noscript"),
    ]


def check_row(e, name, data, how, allowed, extra):
    status, headers, body = parse_raw_response(data)
    text = body.decode("utf-8", "replace")
    if how == "timeout":
        e.check(False, "%s: no complete answer within %s (hang)" % (name, secs(HANG)))
        return
    if status is None:
        # No status line: an HTTP/0.9 answer (the body alone) or nothing at all.
        ok = "page" in allowed and text.startswith("<!doctype html>") and APP_NAME in text
        e.check(ok, "%s: no HTTP status line; answer %r (%s)" % (name, data[:80], how))
        e.check(how == "eof", "%s: connection not closed after an HTTP/0.9 answer (%s)" % (name, how))
        return
    if 400 <= status < 500:
        pass
    elif status == 200 and "page" in allowed:
        e.check(APP_NAME in text and text.startswith("<!doctype html>"), "%s: 200 but not a page of the site" % name)
    else:
        e.check(False, "%s: answered %s, expected %s" % (name, status, "4xx" if allowed == "4xx" else "4xx or a harmless 200 page"))
    if status >= 500:
        return
    low = text.lower()
    if extra in ("noscript", "escaped"):
        e.check("<script" not in low, "%s: the answer contains a raw <script>" % name)
    if extra == "escaped":
        e.check("&lt;script&gt;alert(1)&lt;/script&gt;" in text,
                "%s: the path is not shown HTML-escaped on the 404 page" % name)
    if extra == "nocookie":
        e.check(not any(k.lower() == "set-cookie" for k, _ in headers), "%s: a Set-Cookie header was injected" % name)
    if extra == "nopasswd":
        e.check("root:" not in text, "%s: served /etc/passwd" % name)
    for prob in raw_security_problems(headers, name):
        e.check(False, prob)


@test("bad-input table: 4xx or harmless page, workers unchanged")
def t_bad_input(ctx):
    st = ctx.stack()
    pids = running_workers(st)
    starts = start_times(pids)
    before = st.visits()
    e = Errors()
    for name, req, allowed, extra in bad_input_table():
        try:
            data, how = raw_exchange(st.port, req, timeout=HANG)
        except OSError as ex:
            e.check(False, "%s: %s" % (name, ex))
            continue
        check_row(e, name, data, how, allowed, extra)
    # Clients that send a request and reset the connection without reading the answer.
    for i in range(60):
        c = socket.create_connection((HOST, st.port), timeout=5)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % (b"/about", b"/nope", b"/health")[i % 3])
        if i % 2:
            time.sleep(0.001)
        c.close()
    time.sleep(0.3)
    same_workers(e, starts, "during the bad-input table")
    e.check([p for p in st.worker_pids() if p] == pids, "worker pid files changed: %s -> %s" % (pids, st.worker_pids()))
    e.check(st.visits() == before, "the bad requests changed visits from %d to %d" % (before, st.visits()))
    for path in ("/", "/about", "/health"):
        r = http_get(st.port, path)
        e.check(r.status == 200, "after the table %s answered %s" % (path, r.status))
    e.raise_if_any()


@contextlib.contextmanager
def slow_clients(port, n=40):
    """n connections to nginx: half of them idle, half with a request that is never
    finished. Yields (sockets, when they were opened); closes them on leaving."""
    socks = []
    try:
        opened = time.monotonic()
        for i in range(n):
            c = socket.create_connection((HOST, port), timeout=5)
            socks.append(c)
            if i % 2:
                c.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")  # never finished
        yield socks, opened
    finally:
        for c in socks:
            c.close()


@test("slow clients do not block others (answers within %s)" % secs(PLAIN_ANSWER))
def t_slow_clients_open(ctx):
    """Idle connections and half-sent requests do not keep nginx from answering others."""
    st = ctx.stack()
    with slow_clients(st.port) as (socks, _):
        time.sleep(0.3)
        for i in range(20):
            t0 = time.monotonic()
            r = http_get(st.port, "/" if i % 2 else "/count", timeout=5)
            el = time.monotonic() - t0
            expect(r.status == 200, "with 40 slow clients open, request %d answered %s" % (i, r.status))
            expect(el < PLAIN_ANSWER, "with 40 slow clients open, request %d took %.2f s (limit %s)"
                   % (i, el, secs(PLAIN_ANSWER)))
        for c in socks:
            r, _, _ = select.select([c], [], [], 0)
            expect(not r, "nginx answered or closed a slow client right away")


def read_until_closed(c, deadline):
    """Reads what the server sends until it closes the connection or the deadline passes.
    Returns (data, "closed" | "reset" | "still open")."""
    data = b""
    while True:
        # At least one short read even when the deadline has passed.
        c.settimeout(max(deadline - time.monotonic(), 0.05))
        try:
            chunk = c.recv(65536)
        except socket.timeout:
            return data, "still open"
        except ConnectionResetError:
            return data, "reset"
        if not chunk:
            return data, "closed"
        data += chunk


@test("slow clients closed by nginx's timeout", background=True)
def t_slow_clients_closed(ctx):
    """nginx closes the slow clients when client_header_timeout has passed, not before,
    and without a 5xx."""
    st = ctx.stack()
    e = Errors()
    with slow_clients(st.port) as (socks, opened):
        for i, c in enumerate(socks):
            data, how = read_until_closed(c, opened + CLIENT_HEADER_TIMEOUT + 5 * SLACK)
            after = time.monotonic() - opened
            e.check(how in ("closed", "reset"), "slow client %d %s %.0f s after it connected" % (i, how, after))
            e.check(how == "still open" or after > CLIENT_HEADER_TIMEOUT - SLACK,
                    "slow client %d %s after %.1f s, before client_header_timeout (%d s)"
                    % (i, how, after, CLIENT_HEADER_TIMEOUT))
            status, _, _ = parse_raw_response(data)
            e.check(not data or (status is not None and 400 <= status < 500),
                    "slow client %d got %r" % (i, data[:60]))
    e.raise_if_any(5)
