"""Load for tests, at 127.0.0.1 only: a burst of requests over several keep-alive
connections, a steady load until stopped, and polling until a condition holds. Standard
library only.

    results = burst(port, "/count", 5000, 50)   # [(status or error text, Response, t)]
    with Steady(port, "/count", 16) as load: ...   # until load.stop(); load.answers
    value, seconds = poll(lambda: ..., timeout=5)
"""
import threading
import time

from lib.http_client import KeepAlive
from lib.pagecheck import visits_on
from lib.results import expect


def burst(port, path, total, conns, on_response=None, timeout=60.0, tls=None):
    """`total` GET requests spread over `conns` threads, each with one keep-alive
    connection (HTTPS with the ssl.SSLContext tls). Returns a list of (status or exception
    text, response or None, t) where t is the time.monotonic() of the answer.
    on_response(item) is called in the thread that got the answer, as it comes (to act in
    the middle of the burst)."""
    results = []
    lock = threading.Lock()
    counter = [0]

    def work():
        c = KeepAlive(port, timeout=10, tls=tls)
        try:
            while True:
                with lock:
                    if counter[0] >= total:
                        return
                    counter[0] += 1
                try:
                    r = c.request("GET", path)
                    item = (r.status, r, time.monotonic())
                except Exception as e:  # recorded as a failed request
                    item = ("%s: %s" % (type(e).__name__, e), None, time.monotonic())
                with lock:
                    results.append(item)
                if on_response:
                    on_response(item)
        finally:
            c.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(conns)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    expect(not any(t.is_alive() for t in threads), "the burst of %d requests did not finish in %.0f s"
           % (total, timeout))
    return results


def failures(results):
    """"" when every answer of a burst was 200, else how many were not and with what."""
    bad = [r[0] for r in results if r[0] != 200]
    if not bad:
        return ""
    return "%d of %d requests failed: %s" % (len(bad), len(results), sorted(set(map(str, bad)))[:5])


def poll(fn, timeout, interval=0.1):
    """Calls fn until it returns a true value or timeout passes; returns (value, seconds)."""
    t0 = time.monotonic()
    while True:
        v = fn()
        if v:
            return v, time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            return None, time.monotonic() - t0
        time.sleep(interval)


class Steady:
    """GET `path` again and again over `conns` keep-alive connections, from start() until
    stop(), each connection waiting `pause` s after each answer. answers: (status or
    exception text, visits shown on a 200 page or None, seconds taken, time.monotonic() of
    the answer) per request. inflight(): requests sent and not answered yet."""

    def __init__(self, port, path, conns, pause=0.0, timeout=10.0):
        self.port, self.path, self.conns, self.pause, self.timeout = port, path, conns, pause, timeout
        self.answers = []
        self._lock = threading.Lock()
        self._inflight = 0
        self._stop = threading.Event()
        self._threads = []

    def _work(self):
        c = KeepAlive(self.port, timeout=self.timeout)
        try:
            while not self._stop.is_set():
                with self._lock:
                    self._inflight += 1
                t0 = time.monotonic()
                try:
                    r = c.request("GET", self.path)
                    item = (r.status, visits_on(r.text) if r.status == 200 else None)
                except Exception as e:  # recorded as a failed request
                    item = ("%s: %s" % (type(e).__name__, e), None)
                t1 = time.monotonic()
                with self._lock:
                    self._inflight -= 1
                    self.answers.append(item + (t1 - t0, t1))
                self._stop.wait(self.pause)
        finally:
            c.close()

    def start(self):
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(self.conns)]
        for t in self._threads:
            t.start()
        return self

    def inflight(self):
        with self._lock:
            return self._inflight

    def stop(self):
        """Stops sending and waits for the requests in flight; returns the answers."""
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 5)
        expect(not any(t.is_alive() for t in self._threads), "a request of the load did not end within %.0f s"
               % (self.timeout + 5))
        return self.answers

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 5)
