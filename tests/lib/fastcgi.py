"""A FastCGI client, to talk to a worker's socket directly, bypassing nginx (standard
library only).

    a = fcgi_call(sock_path, "GET", "/")
    a["complete"], a["stdout"].startswith(b"Status: 200")

fcgi_request_bytes() builds a whole responder request (optionally asking the worker to
keep the connection), fcgi_read_response() reads one answer with a deadline, and
kept_connections() counts the connections a worker holds open on its unix socket.
"""
import socket
import struct
import time

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR = 1, 3, 4, 5, 6, 7


def _fcgi_record(rtype, req_id, content):
    pad = (-len(content)) % 8
    return struct.pack(">BBHHBx", 1, rtype, req_id, len(content), pad) + content + b"\0" * pad


def _fcgi_len(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def fcgi_request_bytes(params, req_id=1, keep_conn=False):
    """A whole FastCGI responder request (BEGIN_REQUEST, PARAMS, empty STDIN)."""
    out = _fcgi_record(FCGI_BEGIN_REQUEST, req_id, struct.pack(">HB5x", 1, 1 if keep_conn else 0))
    blob = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        blob += _fcgi_len(len(k)) + _fcgi_len(len(v)) + k + v
    for i in range(0, len(blob), 65535):
        out += _fcgi_record(FCGI_PARAMS, req_id, blob[i:i + 65535])
    out += _fcgi_record(FCGI_PARAMS, req_id, b"")
    out += _fcgi_record(FCGI_STDIN, req_id, b"")
    return out


def fcgi_params(method, path, query=""):
    """The parameters nginx sends for a request (see nginx/nginx.conf.in)."""
    return {
        "REQUEST_METHOD": method, "DOCUMENT_URI": path,
        "REQUEST_URI": path + ("?" + query if query else ""), "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
    }


def fcgi_read_response(sock, timeout=5.0):
    """Reads one response. Returns dict(stdout, stderr, app_status, protocol_status,
    complete) where complete tells whether END_REQUEST arrived before EOF/timeout."""
    deadline = time.monotonic() + timeout
    buf = b""
    res = {"stdout": b"", "stderr": b"", "app_status": None, "protocol_status": None,
           "complete": False, "error": None}

    def need(n):
        nonlocal buf
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                res["error"] = "timeout"
                return False
            sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                res["error"] = "timeout"
                return False
            except OSError as e:
                res["error"] = "recv: %s" % e
                return False
            if not chunk:
                res["error"] = "EOF before END_REQUEST"
                return False
            buf += chunk
        return True

    while True:
        if not need(8):
            return res
        _, rtype, _, clen, plen = struct.unpack(">BBHHBx", buf[:8])
        if not need(8 + clen + plen):
            return res
        content = buf[8:8 + clen]
        buf = buf[8 + clen + plen:]
        if rtype == FCGI_STDOUT:
            res["stdout"] += content
        elif rtype == FCGI_STDERR:
            res["stderr"] += content
        elif rtype == FCGI_END_REQUEST:
            res["app_status"], res["protocol_status"] = struct.unpack(">IB3x", content)
            res["complete"] = True
            return res


def fcgi_send(sock_path, method, path, timeout=5.0, keep_conn=False):
    """A new connection to a worker's unix socket with one request sent on it; the caller
    reads the answer and closes it."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(fcgi_request_bytes(fcgi_params(method, path), keep_conn=keep_conn))
    except BaseException:
        s.close()
        raise
    return s


def fcgi_call(sock_path, method, path, timeout=5.0):
    """One request straight to a worker's unix socket."""
    with fcgi_send(sock_path, method, path, timeout) as s:
        return fcgi_read_response(s, timeout)




def kept_connections(sock_path):
    """Open connections to a worker's unix socket (the worker's accepted ends: on Linux
    /proc/net/unix lists an accepted socket under its listener's path, and state 03 is
    connected)."""
    n = 0
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == sock_path and fields[5] == "03":
                n += 1
    return n
