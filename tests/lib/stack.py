"""Helpers for tests that drive the native Khalid Tracker stack (scripts/stack.sh).

Python 3 standard library only. Used by tests/integration.py; meant to be reused by a
benchmark or browser tests:

    from lib.stack import Stack
    with Stack(worker="build/release/khalid-fcgi") as st:   # started in a temp dir
        r = http_get(st.port, "/count")
        print(r.status, st.visits())

What is here:
  - Stack: starts `scripts/stack.sh run` in its own session on a free port in a temp
    state directory, waits for run/ready, knows its pids, stops it gracefully
    (SIGTERM) or by force (SIGKILL of every process of its process groups, found by
    pgid and start time, and of every pid it has seen), and removes its temp directory.
    die_with_parent=True: the stack stops itself if the starting thread dies (even by
    SIGKILL), through setpriv --pdeathsig.
  - HTTP: http_request() (one request on a fresh connection), KeepAlive (a reused
    connection), raw_exchange() (bytes in, bytes out, over a plain socket, with a
    deadline) and parse_raw_response().
  - FastCGI: fcgi_request_bytes() / fcgi_read_response() to talk to a worker's socket
    directly, bypassing nginx.
  - Processes: proc_alive(), proc_start_time(), wait_gone() (zombies count as gone).
"""
import http.client
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STACK_SH = os.path.join(REPO, "scripts", "stack.sh")
HOST = "127.0.0.1"

# Worker and stack settings that must not leak from the caller's environment into a
# test stack (a stray SHOW_SERVED_BY=0 or REDIS_PASSWORD would change what is tested).
WORKER_ENV_VARS = (
    "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_PASSWORD_FILE", "REDIS_TIMEOUT_MS",
    "APP_NAME", "FCGI_THREADS", "TEMPLATE_DIR", "GITHUB_URL", "LINKEDIN_URL", "SHOW_SERVED_BY",
    "PORT", "WORKERS", "STATE_DIR", "KHALID_WORKER", "NGINX_WORKER_PROCESSES", "FASTCGI_KEEPALIVE",
)


class StackError(Exception):
    pass


# ---------------------------------------------------------------------------- processes

def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name, or None if there is no such
    process. fields[0] is the state, fields[1] the ppid, fields[19] the start time."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return data[data.rindex(b")") + 2:].split()


def proc_alive(pid):
    """True while the process exists and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in (b"Z", b"X")


def proc_start_time(pid):
    """The process's start time in clock ticks since boot (identifies it across pid
    reuse), or None when it does not exist."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields is not None else None


def proc_children(pid):
    """Pids whose parent is pid."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields is not None and int(fields[1]) == pid:
                out.append(int(name))
    return out


def proc_group_members(pgid, started_since):
    """Pids in process group pgid that started at or after `started_since` (clock ticks),
    so a recycled group id can't match older, unrelated processes."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields is not None and int(fields[2]) == pgid and int(fields[19]) >= started_since:
                out.append(int(name))
    return out


def wait_gone(pid, timeout):
    """Polls until pid has exited (or is a zombie). Returns the seconds it took, or None
    if it was still running after timeout seconds."""
    t0 = time.monotonic()
    while True:
        if not proc_alive(pid):
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            return None
        time.sleep(0.002)


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _signal_if_same(pid, start, sig):
    """Sends sig to pid only if it is still the process that started at `start`."""
    if pid and proc_start_time(pid) == start:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------------------- HTTP

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


def http_request(port, method, path, headers=None, body=None, timeout=10.0):
    """One request on a fresh connection (Connection: close)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
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

    def __init__(self, port, timeout=10.0):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, headers=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
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


# ---------------------------------------------------------------------------- FastCGI

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


def fcgi_call(sock_path, method, path, timeout=5.0):
    """One request straight to a worker's unix socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(fcgi_request_bytes(fcgi_params(method, path)))
        return fcgi_read_response(s, timeout)
    finally:
        s.close()


# ---------------------------------------------------------------------------- the stack

def clean_env(extra=None):
    """os.environ without the stack's and worker's settings, plus extra."""
    env = {k: v for k, v in os.environ.items() if k not in WORKER_ENV_VARS}
    env.update(extra or {})
    return env


class Stack:
    """The native stack (`scripts/stack.sh run`) in a temp state directory.

    Stack(worker, workers=3, threads=4, env={...}, state_dir=None, port=None, name=...)
    start() / stop() / kill() / cleanup(); usable as a context manager. workers, threads
    or nginx_processes None: scripts/stack.sh's own default (what `make run` uses)."""

    def __init__(self, worker, workers=3, threads=4, env=None, state_dir=None, port=None,
                 name="stack", nginx_processes=2, die_with_parent=False):
        self.worker = os.path.abspath(worker)
        self.workers = workers
        self.threads = threads
        self.extra_env = dict(env or {})
        self.own_dir = state_dir is None
        self.fixed_port = port is not None
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="kt-it-")
        self.port = port
        self.name = name
        self.nginx_processes = nginx_processes
        # die_with_parent: stack.sh (and a Redis from start_redis) get SIGTERM, and stop
        # cleanly, if the thread that started them dies, even by SIGKILL (setpriv
        # --pdeathsig). Only for stacks started from a thread that lives as long as they do
        # (the main thread).
        self.die_with_parent = die_with_parent
        self.proc = None
        self.redis_procs = []      # Redis servers started by start_redis()
        self.seen = {}             # pid -> start time of every process of this stack
        self.logs = []             # every log file written (stack runs, Redis restarts)
        self.runs = 0

    # -- paths and pids
    @property
    def run_dir(self):
        return os.path.join(self.state_dir, "run")

    @property
    def redis_sock(self):
        return os.path.join(self.run_dir, "redis.sock")

    def worker_sock(self, i):
        return os.path.join(self.run_dir, "worker-%d.sock" % i)

    def _note(self, pid):
        if pid:
            st = proc_start_time(pid)
            if st is not None:
                self.seen.setdefault(pid, st)
        return pid

    def worker_pids(self):
        """Worker pids in order worker-1..N (None for a missing pid file)."""
        n = self.workers
        if n is None:  # stack.sh chose: as many as it wrote pid files for
            names = os.listdir(self.run_dir) if os.path.isdir(self.run_dir) else []
            n = len([f for f in names if re.fullmatch(r"worker-\d+\.pid", f)])
        return [self._note(read_pid(os.path.join(self.run_dir, "worker-%d.pid" % i)))
                for i in range(1, n + 1)]

    def redis_pid(self):
        return self._note(read_pid(os.path.join(self.run_dir, "redis.pid")))

    def nginx_pid(self):
        return self._note(read_pid(os.path.join(self.run_dir, "nginx.pid")))

    def all_pids(self):
        """Every process of the running stack: stack.sh, Redis, workers, nginx master and
        its worker processes."""
        pids = [self.proc.pid] if self.proc else []
        pids += [p for p in self.worker_pids() if p]
        for p in (self.redis_pid(), self.nginx_pid()):
            if p:
                pids.append(p)
        if self.nginx_pid():
            pids += [self._note(c) for c in proc_children(self.nginx_pid())]
        return pids

    # -- logs
    @property
    def log_path(self):
        return self.logs[-1] if self.logs else None

    def log_text(self):
        out = []
        for path in self.logs:
            try:
                with open(path, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "".join(out)

    def log_tail(self, n=40):
        lines = self.log_text().splitlines()
        return lines[-n:]

    # -- lifecycle
    def _argv(self, *args):
        argv = [STACK_SH] + list(args)
        setpriv = shutil.which("setpriv")
        if self.die_with_parent and setpriv:
            argv = [setpriv, "--pdeathsig", "TERM", "--"] + argv
        return argv

    def env(self):
        settings = {"WORKERS": self.workers, "FCGI_THREADS": self.threads,
                    "NGINX_WORKER_PROCESSES": self.nginx_processes}
        return clean_env(dict(self.extra_env, STATE_DIR=self.state_dir, PORT=str(self.port),
                              KHALID_WORKER=self.worker,
                              **{k: str(v) for k, v in settings.items() if v is not None}))

    def start(self, timeout=20.0):
        """Starts the stack and waits for run/ready. Retries on another port if the chosen
        one was taken meanwhile. Raises StackError (with the log's tail) on failure."""
        fixed_port = self.fixed_port
        for attempt in range(3):
            if not fixed_port:
                self.port = free_port()
            self.runs += 1
            log = os.path.join(self.state_dir, "stack-%d.log" % self.runs)
            self.logs.append(log)
            try:
                os.unlink(os.path.join(self.run_dir, "ready"))
            except OSError:
                pass
            with open(log, "wb") as logf:
                self.proc = subprocess.Popen(
                    self._argv("run"), cwd=REPO, env=self.env(), stdin=subprocess.DEVNULL,
                    stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
            self.seen.setdefault(self.proc.pid, proc_start_time(self.proc.pid))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if os.path.exists(os.path.join(self.run_dir, "ready")):
                    self.all_pids()
                    return self
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
            rc = self.proc.poll()
            self.kill()
            text = self.log_text()
            if rc is not None and not fixed_port and "Address already in use" in text and attempt < 2:
                continue
            raise StackError("%s did not become ready within %.0f s (exit status %s); log tail:\n%s"
                             % (self.name, timeout, rc, "\n".join(self.log_tail(30))))
        raise StackError("unreachable")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """Graceful stop: SIGTERM to stack.sh, wait up to timeout. Returns (exit status,
        seconds) or (None, seconds) if it had to be killed. Always leaves nothing behind."""
        if self.proc is None:
            return None, 0.0
        self.all_pids()
        rp = self.redis_pid()
        if rp:
            _signal_if_same(rp, self.seen.get(rp), signal.SIGCONT)  # a stopped Redis can't stop
        t0 = time.monotonic()
        rc = self.proc.poll()
        if rc is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                rc = None
        elapsed = time.monotonic() - t0
        self.kill()
        return rc, elapsed

    def kill(self):
        """Forced cleanup: SIGKILL every process of the stack. Each process was started in
        its own session (its pid is its process group id); the leader may be gone while
        members (an nginx worker, a Redis) remain, so members are found by process group
        and start time and signalled by pid, never by a group id that could be recycled.
        Repeats until a pass finds nothing alive (a dying script may have just forked)."""
        groups = ([self.proc] if self.proc is not None else []) + list(self.redis_procs)
        for _ in range(5):
            for p in groups:
                since = self.seen.get(p.pid)
                if since is not None:
                    for pid in proc_group_members(p.pid, since):
                        self.seen.setdefault(pid, proc_start_time(pid))
            if os.path.isdir(self.run_dir):
                for name in os.listdir(self.run_dir):
                    if name.endswith(".pid"):
                        self._note(read_pid(os.path.join(self.run_dir, name)))
            alive = [(pid, st) for pid, st in self.seen.items()
                     if st is not None and proc_start_time(pid) == st and proc_alive(pid)]
            if not alive:
                break
            for pid, st in alive:
                _signal_if_same(pid, st, signal.SIGCONT)
                _signal_if_same(pid, st, signal.SIGKILL)
            for p in groups:
                try:
                    p.wait(2)
                except subprocess.TimeoutExpired:
                    pass
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and any(
                    proc_start_time(pid) == st and proc_alive(pid) for pid, st in alive):
                time.sleep(0.01)

    def cleanup(self):
        """kill() and remove the temp state directory (if this object made it)."""
        self.kill()
        if self.own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.cleanup()

    # -- Redis
    def redis_cli(self, *args, timeout=5.0):
        env = clean_env()
        if self.extra_env.get("REDIS_PASSWORD"):
            env["REDISCLI_AUTH"] = self.extra_env["REDIS_PASSWORD"]
        r = subprocess.run(["redis-cli", "-s", self.redis_sock] + list(args), env=env,
                           capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return r.stdout.decode().strip()

    def visits(self):
        """The Redis key `visits` as an int (0 when unset). Raises if Redis can't say."""
        out = self.redis_cli("GET", "visits")
        if out == "":
            return 0
        if not out.isdigit():
            raise StackError("redis-cli GET visits answered %r" % out)
        return int(out)

    def start_redis(self, timeout=10.0):
        """Starts `scripts/stack.sh redis` (Redis alone, as the stack runs it) in the
        background and waits until it answers PING. Returns its Popen."""
        log = os.path.join(self.state_dir, "redis-%d.log" % (len(self.redis_procs) + 1))
        self.logs.append(log)
        with open(log, "wb") as logf:
            p = subprocess.Popen(self._argv("redis"), cwd=REPO, env=self.env(),
                                 stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        self.redis_procs.append(p)
        self.seen.setdefault(p.pid, proc_start_time(p.pid))
        # Reap it when it exits: stack.sh's teardown waits while its pid is alive, and an
        # unreaped zombie would look alive to `kill -0`.
        threading.Thread(target=p.wait, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise StackError("stack.sh redis exited with %s" % p.returncode)
            try:
                if self.redis_cli("PING", timeout=2) == "PONG":
                    self.redis_pid()
                    return p
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.05)
        raise StackError("Redis restarted by stack.sh redis did not answer PING in %.0f s" % timeout)
