#!/usr/bin/python3
"""A keep-alive client that never retries, as wrk and many HTTP libraries behave: CONNS
threads each send GET PATH on one reused connection, again and again, for SECONDS. A request
on a reused connection that the server closed (a reset, or no answer before the close) is an
error, not sent again; browsers and curl would send it again on a new connection, which hides
such closes. Each connection waits PAUSE seconds (default 0) after each answer: an idle
connection is the one a server closes. Loopback only.

    tests/noretry_load.py PORT PATH SECONDS CONNS [PAUSE]

Prints one line, "requests N non2xx N errors N reused_errors N", and the first error seen on
stderr. Standard library only.
"""
import http.client
import sys
import threading
import time


def main():
    port, path, seconds, conns = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    lock = threading.Lock()
    totals = {"requests": 0, "non2xx": 0, "errors": 0, "reused_errors": 0}
    first = []
    deadline = time.monotonic() + seconds

    def work():
        conn, served = None, 0
        while time.monotonic() < deadline:
            if conn is None:
                conn, served = http.client.HTTPConnection("127.0.0.1", port, timeout=15), 0
            try:
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                status, closing = r.status, r.will_close
                served += 1
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    totals["requests"] += 1
                    totals["errors"] += 1
                    totals["reused_errors"] += served > 0
                    if not first:
                        first.append("%s on a connection that had served %d requests: %s"
                                     % (type(e).__name__, served, e))
                conn.close()
                conn = None
                continue
            with lock:
                totals["requests"] += 1
                totals["non2xx"] += not 200 <= status < 300
            if closing:
                conn.close()
                conn = None
            time.sleep(pause)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=work) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(" ".join("%s %d" % kv for kv in totals.items()))
    if first:
        print("first error: " + first[0], file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
