"""HTTPS: nginx terminating TLS (TLS=self-signed, or an operator's TLS_CERT and TLS_KEY):
every page over HTTP/1.1 and HTTP/2, the redirect from plain HTTP, HSTS, the protocol and
cipher profile, session resumption, exact counting over HTTPS, bad files stopping the
stack before it serves, and nothing of it without a TLS setting."""
import hashlib
import os
import re
import socket
import ssl
import subprocess
import tempfile
import warnings

from integration.suite import test
from lib.http_client import HOST, http_get, http_request
from lib.load import burst, failures
from lib.pagecheck import APP_NAME, layout_problems, security_problems, visits_on
from lib.results import Errors, expect
from lib.stack import StackError, free_port

HSTS = "max-age=31536000"   # HSTS_MAX_AGE's default
# Every kind of answer the site gives: pages, the API, static files, nginx's and the
# worker's errors. (method, path, status)
ANSWERS = [
    ("GET", "/", 200), ("GET", "/count", 200), ("GET", "/about", 200), ("GET", "/stats", 200),
    ("GET", "/health", 200), ("GET", "/api/stats", 200), ("GET", "/api/export.csv", 200),
    ("GET", "/badge.svg", 200), ("GET", "/static/style.css", 200), ("GET", "/favicon.ico", 200),
    ("GET", "/no-such-page", 404), ("GET", "/static/nope.css", 404), ("POST", "/", 405),
    ("HEAD", "/count", 200),
]


# ---------------------------------------------------------------------------- helpers

def tls_stack(ctx, env=None, **kw):
    """A native stack with HTTPS (TLS=self-signed unless env says otherwise) on a free
    HTTPS_PORT: st.https_port, and st.ca the self-signed mode's CA certificate."""
    https_port = free_port()
    env = dict({"TLS": "self-signed", "HTTPS_PORT": str(https_port)}, **(env or {}))
    st = ctx.stack(env=env, **kw)
    st.https_port = https_port
    st.ca = os.path.join(tls_dir(st), "ca.crt")
    return st


def tls_dir(st):
    return os.path.join(st.state_dir, "tls")


def client(cafile, version=None, ciphers=None):
    """A verifying TLS client context trusting cafile; version pins one protocol version."""
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.load_verify_locations(cafile)
    if version is not None:
        with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            c.minimum_version = c.maximum_version = version
    if ciphers:
        c.set_ciphers(ciphers)
    return c


def handshake(port, ctx, server_hostname="localhost", session=None, request=False):
    """One TLS connection to 127.0.0.1:port. Returns the SSLSocket's facts, or raises
    ssl.SSLError. request=True sends a request first, so that a TLS 1.3 server's session
    ticket (sent after the handshake) arrives."""
    with socket.create_connection((HOST, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname, session=session) as s:
            if request:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                while s.recv(65536):
                    pass
            return {"version": s.version(), "cipher": s.cipher()[0], "session": s.session,
                    "reused": s.session_reused, "der": s.getpeercert(binary_form=True)}


def der_of(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def fingerprint(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def curl(args, timeout=20):
    """curl with args; returns (stdout, stderr, exit status)."""
    r = subprocess.run(["curl", "-sS", "--max-time", "10"] + args, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return r.stdout, r.stderr, r.returncode


def curl_get(url, cafile, *extra):
    """One request with curl: (status, HTTP version, {lower-case header: [values]}), or
    raises with curl's error."""
    with tempfile.NamedTemporaryFile() as hdrs:
        out, err, rc = curl(["--cacert", cafile, "-o", "/dev/null", "-D", hdrs.name,
                             "-w", "%{http_code} %{http_version}"] + list(extra) + [url])
        expect(rc == 0, "curl %s: %s" % (url, err.strip()))
        headers = {}
        for line in open(hdrs.name, encoding="latin-1").read().splitlines()[1:]:
            k, sep, v = line.partition(":")
            if sep:
                headers.setdefault(k.strip().lower(), []).append(v.strip())
    status, version = out.split()
    return int(status), version, headers


def curl_header_problems(e, what, headers):
    """HSTS and each security header exactly once on an HTTPS answer read by curl_get."""
    e.check(headers.get("strict-transport-security") == [HSTS],
            "%s: Strict-Transport-Security %s" % (what, headers.get("strict-transport-security")))
    for h in ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"):
        e.check(len(headers.get(h, [])) == 1, "%s: %d %s headers" % (what, len(headers.get(h, [])), h))


def make_cert(d, name, cn):
    """A self-issued RSA certificate and key, as an operator might bring: (cert, key) paths."""
    cert, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % cn],
                   check=True, capture_output=True)
    return cert, key


def rendered_conf(st):
    with open(os.path.join(st.state_dir, "nginx", "nginx.conf")) as f:
        return f.read()


def refused(port):
    try:
        socket.create_connection((HOST, port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def resumed(port, ctx, n):
    """How many of n connections in a row resumed the previous one's session. Each takes
    the latest session: TLS 1.3 tickets are for one use."""
    session = handshake(port, ctx, request=True)["session"]
    count = 0
    for _ in range(n):
        h = handshake(port, ctx, session=session, request=True)
        count += h["reused"]
        session = h["session"]
    return count


# ---------------------------------------------------------------------------- tests

@test("TLS=self-signed: a private CA and a certificate for SERVER_NAME made on first start, kept on the next")
def t_self_signed(ctx):
    st = tls_stack(ctx, env={"SERVER_NAME": "tracker.test"}, workers=1)
    d = tls_dir(st)
    files = {n: os.path.join(d, n) for n in ("ca.crt", "ca.key", "server.crt", "server.key")}
    e = Errors()
    for n, path in files.items():
        if not e.check(os.path.isfile(path), "%s was not made" % path):
            e.raise_if_any()
        if n.endswith(".key"):
            mode = os.stat(path).st_mode & 0o777
            e.check(mode & 0o077 == 0, "%s is readable by others (mode %o)" % (path, mode))
    r = subprocess.run(["openssl", "x509", "-in", files["server.crt"], "-noout", "-ext", "subjectAltName"],
                       capture_output=True, text=True)
    for san in ("DNS:tracker.test", "DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"):
        e.check(san in r.stdout, "the certificate does not name %s: %s" % (san, r.stdout.strip()))
    # The certificate served is server.crt, and it verifies against ca.crt for SERVER_NAME.
    for name in ("tracker.test", "localhost", "127.0.0.1"):
        try:
            h = handshake(st.https_port, client(files["ca.crt"]), server_hostname=name)
            e.check(h["der"] == der_of(files["server.crt"]), "nginx serves another certificate than %s" % files["server.crt"])
        except (ssl.SSLError, OSError) as ex:
            e.check(False, "HTTPS for %s does not verify with the CA: %s" % (name, ex))
    prints = {n: fingerprint(p) for n, p in files.items()}
    first_log = st.log_text()
    e.check("making a private CA" in first_log, "the first start did not say it made a CA")
    rc, _ = st.stop()
    e.check(rc == 0, "the stack exited with %s" % rc)
    st.start()
    again = {n: fingerprint(p) for n, p in files.items()}
    e.check(again == prints, "files changed on the second start: %s"
            % ", ".join(n for n in files if again[n] != prints[n]))
    e.check("making" not in st.log_text()[len(first_log):], "the second start made a CA or certificate again")
    e.check(handshake(st.https_port, client(files["ca.crt"]))["der"] == der_of(files["server.crt"]),
            "after the restart nginx serves another certificate")
    e.raise_if_any()


@test("HTTPS: every page and error over HTTP/1.1 and HTTP/2 (curl --http2 --cacert), with the security headers and HSTS on each")
def t_https_pages(ctx):
    st = tls_stack(ctx)
    ca = st.ca
    tls = client(ca)
    e = Errors()
    for method, path, status in ANSWERS:
        what = "HTTPS/1.1 %s %s" % (method, path)
        r = http_request(st.https_port, method, path, tls=tls, body=b"x=1" if method == "POST" else None)
        e.check(r.status == status, "%s answered %s, expected %s" % (what, r.status, status))
        e.check(r.header_all("Strict-Transport-Security") == [HSTS],
                "%s: Strict-Transport-Security %s" % (what, r.header_all("Strict-Transport-Security")))
        for prob in security_problems(r, what):
            e.check(False, prob)
        if path in ("/", "/count", "/about", "/stats") and method == "GET":
            for prob in layout_problems(r.text, what):
                e.check(False, prob)
        if path == "/count" and method == "GET":
            e.check(visits_on(r.text) is not None, "%s shows no visits number" % what)

        url = "https://localhost:%d%s" % (st.https_port, path)
        what = "curl --http2 %s %s" % (method, path)
        args = ["--http2", "--resolve", "localhost:%d:127.0.0.1" % st.https_port, "-X", method]
        if method == "HEAD":
            args = ["--http2", "--resolve", "localhost:%d:127.0.0.1" % st.https_port, "-I"]
        code, version, headers = curl_get(url, ca, *args)
        e.check(version == "2", "%s: HTTP version %s, expected 2" % (what, version))
        e.check(code == status, "%s answered %s, expected %s" % (what, code, status))
        curl_header_problems(e, what, headers)
    # nginx's own 400 for a malformed request line, over TLS too.
    code, _, headers = curl_get("https://127.0.0.1:%d/%%zz" % st.https_port, ca, "--path-as-is", "--http1.1")
    e.check(code == 400, "HTTPS /%%zz answered %s, expected 400" % code)
    curl_header_problems(e, "HTTPS 400", headers)
    e.raise_if_any()


@test("HTTP with HTTPS on: 308 to https://host:HTTPS_PORT with path and query, no HSTS, nothing counted; /health, /nginx-ping, /nginx-status, /metrics still answer")
def t_redirect(ctx):
    st = tls_stack(ctx, workers=1)
    ca = st.ca
    e = Errors()
    before = st.visits()
    cases = [("GET", "/count?a=1&b=%20x&c", None, "https://127.0.0.1:%d/count?a=1&b=%%20x&c"),
             ("GET", "/", None, "https://127.0.0.1:%d/"),
             ("GET", "/no-such-page?x=%2F", None, "https://127.0.0.1:%d/no-such-page?x=%%2F"),
             ("GET", "/stats?period=7d", {"Host": "tracker.example:80"}, "https://tracker.example:%d/stats?period=7d"),
             ("HEAD", "/about", None, "https://127.0.0.1:%d/about"),
             ("POST", "/count?p=1", None, "https://127.0.0.1:%d/count?p=1")]
    for method, path, headers, want in cases:
        want = want % st.https_port
        what = "HTTP %s %s" % (method, path)
        r = http_request(st.port, method, path, headers=headers, body=b"x=1" if method == "POST" else None)
        e.check(r.status == 308, "%s answered %s, expected 308" % (what, r.status))
        e.check(r.header("Location") == want, "%s: Location %r, expected %r" % (what, r.header("Location"), want))
        e.check(not r.header_all("Strict-Transport-Security"), "%s carries Strict-Transport-Security %s"
                % (what, r.header_all("Strict-Transport-Security")))
        for prob in security_problems(r, what):
            e.check(False, prob)
    e.check(st.visits() == before, "redirected /count requests changed visits from %d to %d" % (before, st.visits()))
    # Where the redirect leads answers, and counts there.
    code, version, _ = curl_get("http://127.0.0.1:%d/count?a=1" % st.port, ca, "-L", "--proto-redir", "https")
    e.check(code == 200, "following the redirect from HTTP /count ended in %s" % code)
    e.check(st.visits() == before + 1, "following the redirect counted %d visits, expected 1" % (st.visits() - before))
    # The probes stay on plain HTTP.
    r = http_get(st.port, "/health")
    e.check(r.status == 200 and b'"status":"ok"' in r.body, "HTTP /health answered %s %r" % (r.status, r.body[:60]))
    e.check(not r.header_all("Strict-Transport-Security"), "HTTP /health carries Strict-Transport-Security")
    r = http_get(st.port, "/nginx-ping")
    e.check(r.status == 200 and r.body == b"ok\n", "HTTP /nginx-ping answered %s %r" % (r.status, r.body[:60]))
    # And the scrapers (both answer loopback only).
    for path in ("/nginx-status", "/metrics"):
        r = http_get(st.port, path)
        e.check(r.status == 200, "HTTP %s answered %s, expected 200" % (path, r.status))
    e.raise_if_any()


@test("TLS 1.0 and 1.1 refused (protocol version alert), 1.2 and 1.3 spoken; TLS 1.2 offers only Mozilla's intermediate ciphers; sessions resume from the shared cache, without tickets")
def t_protocols(ctx):
    st = tls_stack(ctx, workers=1)
    ca = st.ca
    e = Errors()
    # SECLEVEL=0: this client's OpenSSL would not offer TLS 1.0/1.1 otherwise, and a
    # refusal must be the server's.
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        try:
            h = handshake(st.https_port, client(ca, version, "DEFAULT:@SECLEVEL=0"))
            e.check(False, "%s accepted (%s)" % (version.name, h["version"]))
        except ssl.SSLError as ex:
            e.check(ex.reason == "TLSV1_ALERT_PROTOCOL_VERSION",
                    "%s refused, but not by the server's protocol version alert: %s" % (version.name, ex))
    for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        try:
            h = handshake(st.https_port, client(ca, version))
            e.check(h["version"] == name, "%s: spoke %s" % (name, h["version"]))
        except (ssl.SSLError, OSError) as ex:
            e.check(False, "%s refused: %s" % (name, ex))
    # The certificate is ECDSA: the intermediate profile has ECDHE-ECDSA with AES-GCM and
    # ChaCha20 only; CBC and SHA-1 suites are out.
    for cipher, allowed in (("ECDHE-ECDSA-AES128-GCM-SHA256", True), ("ECDHE-ECDSA-CHACHA20-POLY1305", True),
                            ("ECDHE-ECDSA-AES256-GCM-SHA384", True), ("ECDHE-ECDSA-AES128-SHA", False),
                            ("ECDHE-ECDSA-AES256-SHA384", False), ("ECDHE-ECDSA-AES128-SHA256", False)):
        try:
            h = handshake(st.https_port, client(ca, ssl.TLSVersion.TLSv1_2, cipher + ":@SECLEVEL=0"))
            e.check(allowed, "TLS 1.2 with %s accepted" % cipher)
        except ssl.SSLError as ex:
            e.check(not allowed, "TLS 1.2 with %s refused: %s" % (cipher, ex))
    # Resumption: the test stacks run two nginx processes, so new connections land on
    # either; the shared cache resumes in both. TLS 1.2 by session id (no ticket); TLS 1.3
    # by nginx's stateful tickets, backed by the same cache.
    for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        c = client(ca, version)
        try:
            if version == ssl.TLSVersion.TLSv1_2:
                e.check(not handshake(st.https_port, c, request=True)["session"].has_ticket,
                        "TLS 1.2: the server sent a session ticket")
            n = resumed(st.https_port, c, 8)
            e.check(n == 8, "%s: %d of 8 connections resumed the session" % (name, n))
        except (ssl.SSLError, OSError) as ex:
            e.check(False, "%s resumption: %s" % (name, ex))
    e.raise_if_any()


@test("visits counts exactly over HTTPS: 600 /count on 12 HTTP/1.1 keep-alive connections and 200 multiplexed on one HTTP/2 connection add exactly 800")
def t_https_counting(ctx):
    st = tls_stack(ctx)
    ca = st.ca
    before = st.visits()
    results = burst(st.https_port, "/count", 600, 12, timeout=90, tls=client(ca))
    expect(len(results) == 600 and not failures(results), failures(results) or "%d answers" % len(results))
    seen = [visits_on(r[1].text) for r in results]
    mid = st.visits()
    expect(mid - before == 600, "600 HTTPS/1.1 /count raised visits by %d" % (mid - before))
    expect(None not in seen and len(set(seen)) == 600, "%d distinct numbers on 600 pages" % len(set(seen)))
    # curl --parallel multiplexes the requests on one HTTP/2 connection.
    out, err, rc = curl(["--cacert", ca, "--http2", "--parallel", "--parallel-max", "50", "-o", "/dev/null",
                         "-w", "%{http_code} %{http_version} %{num_connects}\n",
                         "https://127.0.0.1:%d/count?n=[1-200]" % st.https_port], timeout=60)
    lines = out.split("\n")[:-1]
    expect(rc == 0, "curl --http2 --parallel: %s" % err.strip())
    codes = {}
    for line in lines:
        code, version, _ = line.split()
        codes[(code, version)] = codes.get((code, version), 0) + 1
    expect(codes == {("200", "2"): 200}, "HTTP/2 answers: %s" % codes)
    connects = sum(int(line.split()[2]) for line in lines)
    expect(connects == 1, "the 200 HTTP/2 requests used %d connections, expected 1" % connects)
    after = st.visits()
    expect(after - mid == 200, "200 HTTP/2 /count raised visits by %d" % (after - mid))
    ctx.note("visits %d -> %d -> %d" % (before, mid, after))


@test("a wrong or missing TLS key or certificate stops the stack before nginx serves, naming the file")
def t_bad_files(ctx):
    d = ctx.tmpdir()
    cert, key = make_cert(d, "site", "operator.test")
    _, other_key = make_cert(d, "other", "other.test")
    garbage = os.path.join(d, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    missing = os.path.join(d, "missing.key")
    cases = [("a missing key file", {"TLS_CERT": cert, "TLS_KEY": missing}, missing, "no such file"),
             ("another certificate's key", {"TLS_CERT": cert, "TLS_KEY": other_key}, other_key, "is not the key"),
             ("a malformed certificate", {"TLS_CERT": garbage, "TLS_KEY": key}, garbage, "not a PEM certificate"),
             ("a key that is no key", {"TLS_CERT": cert, "TLS_KEY": cert}, cert, "not an unencrypted PEM private key"),
             ("a certificate without key", {"TLS_CERT": cert}, cert, "TLS_KEY is not")]
    e = Errors()
    for what, env, path, reason in cases:
        try:
            st = ctx.stack(workers=1, threads=2, env=dict(env, HTTPS_PORT=str(free_port())))
            e.check(False, "%s: the stack started" % what)
            continue
        except StackError:
            st = ctx.stacks[-1]
        log = st.log_text()
        lines = [line for line in log.splitlines() if path in line and reason in line]
        e.check(lines, "%s: no log line names %s with %r; log tail: %s" % (what, path, reason, " | ".join(st.log_tail(4))))
        e.check(st.proc.returncode not in (None, 0), "%s: stack.sh exited with %s" % (what, st.proc.returncode))
        # Stopped at the configuration: nginx never got one to start with.
        e.check("stack: no nginx configuration, nothing served" in log and not rendered_conf(st),
                "%s: the stack got as far as nginx" % what)
    e.raise_if_any()


@test("no TLS setting: no HTTPS listener, no redirect, no HSTS, no TLS line in nginx.conf (as before HTTPS)")
def t_no_tls(ctx):
    https_port = free_port()
    st = ctx.stack(workers=1, env={"HTTPS_PORT": str(https_port)})
    e = Errors()
    before = st.visits()
    for path in ("/", "/count?a=1", "/about", "/stats"):
        r = http_get(st.port, path)
        e.check(r.status == 200, "HTTP %s answered %s" % (path, r.status))
        e.check(not r.header_all("Strict-Transport-Security"), "HTTP %s carries HSTS" % path)
    e.check(st.visits() == before + 1, "/count over HTTP counted %d" % (st.visits() - before))
    e.check(refused(https_port), "something answers on HTTPS_PORT %d" % https_port)
    conf = rendered_conf(st)
    found = re.findall(r"^\s*(ssl\w*|listen .*ssl.*|return 308.*|add_header Strict.*|map .*)$", conf, re.M)
    found += re.findall(r"^@IF_.*$", conf, re.M)
    e.check(not found, "nginx.conf has TLS lines: %s" % found[:4])
    e.check(not os.path.exists(tls_dir(st)), "%s was made without TLS=self-signed" % tls_dir(st))
    e.raise_if_any()


@test("an operator's TLS_CERT and TLS_KEY (RSA) served as given, with HSTS_MAX_AGE; TLS_CHAIN turns OCSP stapling on, nginx accepting it")
def t_operator_cert(ctx):
    d = ctx.tmpdir()
    cert, key = make_cert(d, "site", "operator.test")
    st = tls_stack(ctx, workers=1, env={"TLS": "", "TLS_CERT": cert, "TLS_KEY": key, "HSTS_MAX_AGE": "600"})
    e = Errors()
    try:
        h = handshake(st.https_port, client(cert), server_hostname="operator.test")
        e.check(h["der"] == der_of(cert), "nginx serves another certificate than TLS_CERT")
        e.check(h["cipher"].startswith("ECDHE-RSA-") or h["version"] == "TLSv1.3",
                "cipher %s for an RSA certificate" % h["cipher"])
    except (ssl.SSLError, OSError) as ex:
        e.check(False, "HTTPS with the operator's certificate: %s" % ex)
    r = http_get(st.https_port, "/", tls=client(cert))
    e.check(r.status == 200 and APP_NAME in r.text, "HTTPS / answered %s" % r.status)
    e.check(r.header_all("Strict-Transport-Security") == ["max-age=600"],
            "Strict-Transport-Security %s with HSTS_MAX_AGE=600" % r.header_all("Strict-Transport-Security"))
    e.check(not os.path.exists(tls_dir(st)), "a self-signed certificate was made beside the operator's")
    e.check("ssl_stapling" not in rendered_conf(st), "OCSP stapling is on without TLS_CHAIN")

    chained = tls_stack(ctx, workers=1, env={"TLS": "", "TLS_CERT": cert, "TLS_KEY": key, "TLS_CHAIN": cert})
    conf = rendered_conf(chained)
    for line in ("ssl_stapling on;", "ssl_stapling_verify on;", "ssl_trusted_certificate %s;" % cert, "resolver "):
        e.check(line in conf, "with TLS_CHAIN nginx.conf lacks %r" % line)
    r = http_get(chained.https_port, "/health", tls=client(cert))
    e.check(r.status == 200, "HTTPS /health with TLS_CHAIN answered %s" % r.status)
    e.raise_if_any()
