"""An HTTP client for tests, standard library only, 127.0.0.1 only.

    from lib.http_client import http_get, KeepAlive, raw_exchange, parse_raw_response
    r = http_get(port, "/count")            # one request on a fresh connection
    r.status, r.header("X-Served-By"), r.text

http_request() sends one request with Connection: close; KeepAlive reuses one connection;
both speak HTTPS when given an ssl.SSLContext as tls (HTTP/1.1; the certificate is checked
against 127.0.0.1 unless the context says otherwise). raw_exchange() sends bytes as they
are (malformed requests) and reads the answer with a deadline; parse_raw_response() splits it.
"""
import http.client
import re
import socket
import time

HOST = "127.0.0.1"


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value), names as sent
        self.body = body        # bytes

    def header(self, name):
        """The first value of a header (case-insensitive), or None."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %s %s, %d bytes>" % (self.status, self.reason, len(self.body))


def connection(port, timeout, tls=None):
    """An HTTP connection to 127.0.0.1:port, or HTTPS with the ssl.SSLContext tls."""
    if tls is None:
        return http.client.HTTPConnection(HOST, port, timeout=timeout)
    return http.client.HTTPSConnection(HOST, port, timeout=timeout, context=tls)


def http_request(port, method, path, headers=None, body=None, timeout=10.0, tls=None):
    """One request on a fresh connection (Connection: close)."""
    conn = connection(port, timeout, tls)
    try:
        hdrs = {"Connection": "close"}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, r.getheaders(), data)
    finally:
        conn.close()


def http_get(port, path, **kw):
    return http_request(port, "GET", path, **kw)


class KeepAlive:
    """A reused HTTP/1.1 connection; reconnects after an error (the error is raised)."""

    def __init__(self, port, timeout=10.0, tls=None):
        self.port = port
        self.timeout = timeout
        self.tls = tls
        self.conn = None

    def request(self, method, path, headers=None):
        if self.conn is None:
            self.conn = connection(self.port, self.timeout, self.tls)
        try:
            self.conn.request(method, path, headers=headers or {})
            r = self.conn.getresponse()
            data = r.read()
            resp = Response(r.status, r.reason, r.getheaders(), data)
            if r.will_close:
                self.close()
            return resp
        except Exception:
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def raw_exchange(port, data, timeout=5.0):
    """Sends bytes on a fresh TCP connection and reads until the server closes it or the
    answer is complete (headers plus Content-Length bytes). Returns (bytes, how) where how
    is "eof", "complete", "reset" or "timeout"."""
    deadline = time.monotonic() + timeout
    s = socket.create_connection((HOST, port), timeout=timeout)
    out = b""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out, ("complete" if _raw_complete(out) else "timeout")
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return out, "reset"
            if not chunk:
                return out, "eof"
            out += chunk
            if _raw_complete(out):
                # nginx may linger on a request whose body it refused: the answer is all
                # there, don't wait for the close.
                return out, "complete"
    finally:
        s.close()


def _raw_complete(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/"):
        return False
    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    return m is not None and len(body) >= int(m.group(1))


def parse_raw_response(data):
    """(status, headers, body) of a raw answer; status is None when the answer has no
    HTTP status line (an HTTP/0.9 answer is just the body). headers: list of (name, value)."""
    if not data.startswith(b"HTTP/"):
        return None, [], data
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return None, [], data
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers.append((k.decode("latin-1").strip(), v.decode("latin-1").strip()))
    return status, headers, body



def safe_get(port, path, timeout=5):
    """GET that answers None instead of raising (a refused or reset connection)."""
    try:
        return http_get(port, path, timeout=timeout)
    except (OSError, http.client.HTTPException):
        return None


def status_of(port, path, timeout=5):
    """The status of a GET, or None when the request failed."""
    r = safe_get(port, path, timeout)
    return r.status if r is not None else None
