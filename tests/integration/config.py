"""Configuration and templates, checked before the worker serves: every rejected value
and every template error stops it with one line naming the variable (exit 2) or the file
and line (exit 1), under --check and under spawn-fcgi as the stack starts it; the
open-file limit; signals libfcgi would act on by itself; and the stack's own keep-alive
settings and the upstream block nginx/upstream.sh renders for it."""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from integration.suite import SILENT_CLIENT_EXIT, WORKER_EXIT, gone_within, secs, test, worker_env
from lib.fastcgi import fcgi_call
from lib.results import Errors, expect
from lib.stack import REPO, Stack, StackError

UPSTREAM_SH = os.path.join(REPO, "nginx", "upstream.sh")
# Control characters other than the newline ending a line: a value echoed raw could forge
# or garble log lines.
CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def serves(sock):
    """Whether a worker's socket answers GET / with 200; returns (bool, the answer)."""
    a = fcgi_call(sock, "GET", "/")
    return a["complete"] and a["stdout"].startswith(b"Status: 200"), a


def socket_refuses(sock):
    """Whether nothing listens on the unix socket any more."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        c.connect(sock)
        return False
    except (ConnectionRefusedError, FileNotFoundError):
        return True
    finally:
        c.close()


def nonblank_lines(err):
    return [ln for ln in err.splitlines() if ln.strip()]


@test("config validation: bad values exit 2 with one line, before serving")
def t_config_validation(ctx):
    e = Errors()
    tmp = ctx.tmpdir("kt-cfg-")
    missing = os.path.join(tmp, "no-such-password-file")
    empty = os.path.join(tmp, "empty-password")
    with open(empty, "w") as f:
        f.write("\n")
    # (variable, value, what the message must show of the value)
    cases = [
        ("REDIS_PORT", "abc", "abc"), ("REDIS_PORT", "70000", "70000"), ("REDIS_PORT", "0", "0"),
        ("REDIS_PORT", "-1", "-1"), ("FCGI_THREADS", "0", "0"), ("FCGI_THREADS", "many", "many"),
        ("FCGI_THREADS", "1025", "1025"),
        ("REDIS_TIMEOUT_MS", "x", "x"), ("REDIS_TIMEOUT_MS", "60001", "60001"),
        ("SHOW_SERVED_BY", "maybe", "maybe"),
        ("GITHUB_URL", "javascript:alert(1)", "javascript:alert(1)"),
        ("LINKEDIN_URL", "ftp://example.org/", "ftp://example.org/"),
        ("REDIS_PASSWORD_FILE", missing, missing),
        ("REDIS_PORT", "6379\nkhalid-fcgi[1]: forged line", "6379"),
        ("REDIS_HOST", "redis\x1b[31mhost", "redis"),
        ("REDIS_HOST", "redis\x01", "redis"),
        ("REDIS_PASSWORD_FILE", empty, empty),
    ]
    # Positive controls: a valid configuration passes --check, and under spawn-fcgi the
    # worker keeps running and answers FastCGI (so a failing case is not a broken setup).
    r = ctx.run_worker(["--check"], worker_env())
    e.check(r.returncode == 0, "--check with a valid configuration exited %s: %s" % (r.returncode, r.stderr[-300:]))
    with ctx.spawned(worker_env(), tmp, wait=0.5) as (rc, err, p, sock):
        e.check(rc is None, "with a valid configuration the worker exited %s under spawn-fcgi: %s" % (rc, err[-300:]))
        if rc is None:
            ok, a = serves(sock)
            e.check(ok, "a valid worker under spawn-fcgi did not answer / (%s)" % a["stdout"][:40])
            os.kill(p.pid, signal.SIGTERM)
            e.check(gone_within(p.pid, WORKER_EXIT) is not None and p.wait(5) == 0,
                    "the valid worker did not exit with status 0 after SIGTERM: %s" % p.poll())

    for var, val, shown in cases:
        what = "%s=%r" % (var, val)
        r = ctx.run_worker(["--check"], worker_env({var: val}))
        err = r.stderr.decode("utf-8", "replace")
        lines = nonblank_lines(err)
        e.check(r.returncode == 2, "%s --check exited %s, expected 2" % (what, r.returncode))
        e.check(len(lines) == 1, "%s --check wrote %d stderr lines: %r" % (what, len(lines), err[:300]))
        e.check(bool(lines) and var + "=" + shown in lines[0], "%s --check stderr does not name the variable and value: %r"
                % (what, err[:300]))
        e.check(not CONTROL_RE.search(err), "%s --check wrote a control character: %r" % (what, err[:300]))
        # The same without --check, as the stack starts it: exits 2 before serving.
        with ctx.spawned(worker_env({var: val}), tmp, wait=5.0) as (rc, err, p, sock):
            lines = nonblank_lines(err)
            e.check(rc == 2, "%s under spawn-fcgi: %s, expected exit status 2" % (what, "still running (serving)" if rc is None else "exit %s" % rc))
            e.check(len(lines) == 1 and var + "=" + shown in lines[0],
                    "%s under spawn-fcgi stderr %r" % (what, err[:300]))
            if rc is not None:
                e.check(socket_refuses(sock), "%s: the socket still accepts connections after the exit" % what)
    # More threads than the open-file limit allows (two descriptors each): refused at
    # start-up, naming FCGI_THREADS, instead of failing accept() or connect() under load.
    # A soft limit below what is needed is raised when the hard limit allows it.
    for limits, threads, want in (("-n 100", 64, 2), ("-n 100", 30, 0), ("-Hn 400; ulimit -Sn 100", 64, 0)):
        r = ctx.run(["bash", "-c", 'ulimit %s && exec "$0" --check' % limits, ctx.worker],
                    worker_env({"FCGI_THREADS": str(threads)}), text=True)
        e.check(r.returncode == want and (want == 0 or "FCGI_THREADS=%d" % threads in r.stderr and "open files" in r.stderr),
                "%d threads with ulimit %s: exit %s (expected %d), stderr %r" % (threads, limits, r.returncode, want, r.stderr[-300:]))
    e.raise_if_any()


@test("SIGUSR1 ignored; SIGTERM with a silent client exits within %s" % secs(SILENT_CLIENT_EXIT))
def t_stray_signals(ctx):
    """Signals libfcgi reacts to on its own: SIGUSR1 is ignored (libfcgi's handler would
    make every later accept fail), and SIGTERM with a connected client that has sent
    nothing still stops the worker in time (libfcgi waits up to 2 s for its first bytes;
    with its shutdown flag set it would loop on that connection forever)."""
    tmp = ctx.tmpdir("kt-sig-")
    with ctx.spawned(worker_env({"FCGI_THREADS": "2"}), tmp, wait=0.5) as (rc, err, p, sock), \
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        expect(rc is None, "the worker exited %s at start: %s" % (rc, err[-300:]))
        os.kill(p.pid, signal.SIGUSR1)
        time.sleep(0.2)
        for i in range(3):
            ok, a = serves(sock)
            expect(ok, "request %d after SIGUSR1: %s (%s)" % (i, a["stdout"][:40], a["error"]))
        silent.connect(sock)
        time.sleep(0.3)
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGTERM)
        try:
            code = p.wait(2 * SILENT_CLIENT_EXIT)
        except subprocess.TimeoutExpired:
            code = None
        took = time.monotonic() - t0
        expect(code == 0 and took < SILENT_CLIENT_EXIT, "with a silent client connected, SIGTERM: exit %s after %.1f s "
               "(expected 0 within %s)" % (code, took, secs(SILENT_CLIENT_EXIT)))


def template_variant(ctx, edit):
    """A copy of templates/ in a temp dir, changed by edit(dir)."""
    tdir = os.path.join(ctx.tmpdir("kt-tmpl-"), "templates")
    shutil.copytree(os.path.join(REPO, "templates"), tdir)
    edit(tdir)
    return tdir


def set_line(fname, lineno, text):
    def edit(tdir):
        path = os.path.join(tdir, fname)
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        lines[lineno - 1] = text
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
    return edit


def remove(fname):
    return lambda tdir: os.unlink(os.path.join(tdir, fname))


@test("template errors stop start-up naming file and line")
def t_template_errors(ctx):
    e = Errors()
    r = ctx.run_worker(["--check"], worker_env({"TEMPLATE_DIR": template_variant(ctx, lambda d: None)}))
    e.check(r.returncode == 0, "an unmodified copy of templates/ fails --check (%s): %r" % (r.returncode, r.stderr[-300:]))

    # (what, edit, text the message must contain)
    cases = [
        ("unknown variable", set_line("count.html", 6, "  <p>{{no_such_value}}</p>"), "count.html:6"),
        ("{{#x}} (unknown section)", set_line("count.html", 3, "  {{#x}}"), "count.html:3"),
        ("unclosed section", set_line("count.html", 8, "    <p>{{#quote}}{{quote}}</p>"), "count.html:8"),
        ("unterminated tag", set_line("count.html", 5, '    <span class="count-number">{{visits_grouped</span>'), "count.html:5"),
        ("stray closing tag", set_line("count.html", 4, "    {{/quote}}"), "count.html:4"),
        ("broken layout", set_line("layout.html", 9, "<title>{{title} · {{app_name}}</title>"), "layout.html:9"),
        ("missing count.html", remove("count.html"), "count.html"),
        ("missing layout.html", remove("layout.html"), "layout.html"),
    ]
    tmp = ctx.tmpdir("kt-tmplsock-")
    for what, edit, needle in cases:
        tdir = template_variant(ctx, edit)
        r = ctx.run_worker(["--check"], worker_env({"TEMPLATE_DIR": tdir}))
        err = r.stderr.decode("utf-8", "replace")
        e.check(r.returncode == 1, "%s: --check exited %s, expected 1" % (what, r.returncode))
        e.check(needle in err, "%s: stderr %r does not name %s" % (what, err.strip()[-300:], needle))
        e.check(len(nonblank_lines(err)) == 1, "%s: stderr is not one line: %r" % (what, err[:300]))
        if what in ("unknown variable", "missing count.html"):
            with ctx.spawned(worker_env({"TEMPLATE_DIR": tdir}), tmp, wait=5.0) as (rc, err2, _, _):
                e.check(rc not in (None, 0), "%s: under spawn-fcgi the worker %s" % (what, "kept running" if rc is None else "exited 0"))
                e.check(needle in err2, "%s: under spawn-fcgi stderr %r" % (what, err2[-300:]))
    e.raise_if_any()


def refused_start(ctx, env):
    """stack.sh started with settings it must refuse. Returns (exit status, output, what it
    did that it should not have). Should it start after all, it is stopped and everything
    it started is killed before this returns."""
    tmp = ctx.tmpdir("kt-ka-")
    st = Stack(ctx.worker, workers=None, threads=None, nginx_processes=None, env=env, state_dir=tmp,
               name="stack.sh expected to refuse %s" % env)
    wrong = []
    try:
        st.start(timeout=20)
        wrong.append("started and served")
    except StackError:
        pass
    finally:
        st.stop()
        st.cleanup()
        ctx.logs.append((st.name, st.log_text()))
    if os.path.exists(os.path.join(tmp, "run")):
        wrong.append("made its run directory")
    return st.proc.returncode, st.log_text(), wrong


@test("keep-alive pool: derived from FCGI_THREADS, impossible settings refused")
def t_keepalive_settings(ctx):
    """The FastCGI keep-alive pool: derived from FCGI_THREADS when not given, and a pool that
    could pin every thread of a worker (or a malformed value) stops stack.sh with exit 2,
    naming the variables, before it starts anything."""
    e = Errors()
    st = ctx.stack()
    with open(os.path.join(st.state_dir, "nginx", "upstream.conf")) as f:
        conf = f.read()
    # 4 threads per worker, 2 nginx processes -> 3/4 x 4 / 2 = 1 idle connection each.
    e.check("fastcgi_keep_conn on;" in conf and re.search(r"^\s+keepalive 1;$", conf, re.M),
            "the stack's upstream block has no derived `keepalive 1`: %r" % conf[:300])
    cases = [({"FCGI_THREADS": "8", "FASTCGI_KEEPALIVE": "8", "NGINX_WORKER_PROCESSES": "1"},
              ["FCGI_THREADS=8", "FASTCGI_KEEPALIVE"]),
             ({"FCGI_THREADS": "16", "FASTCGI_KEEPALIVE": "4", "NGINX_WORKER_PROCESSES": "4"},
              ["FCGI_THREADS=16", "= 16"]),
             ({"FASTCGI_KEEPALIVE": "lots"}, ["FASTCGI_KEEPALIVE=lots"]),
             ({"FASTCGI_KEEPALIVE": "99999999999999999999"}, ["FASTCGI_KEEPALIVE=99999999999999999999"]),
             ({"NGINX_WORKER_PROCESSES": "00"}, ["NGINX_WORKER_PROCESSES=00"]),
             ({"FCGI_THREADS": "x"}, ["FCGI_THREADS=x"])]
    for env, words in cases:
        rc, out, wrong = refused_start(ctx, env)
        e.check(rc == 2 and all(w in out for w in words),
                "stack.sh with %s: exit %s, output %r (expected 2, naming %s)" % (env, rc, out[-300:], words))
        e.check(not wrong, "stack.sh with %s started something: it %s" % (env, " and ".join(wrong)))
    e.raise_if_any()


def upstream_sh(*args):
    return subprocess.run([UPSTREAM_SH] + list(args), capture_output=True, text=True, timeout=10,
                          stdin=subprocess.DEVNULL)


def nginx_rejects(ctx, upstream):
    """What `nginx -t` says of nginx.conf.in rendered around this upstream block ("" when
    it accepts it)."""
    d = ctx.tmpdir("kt-ngx-")
    os.mkdir(os.path.join(d, "temp"))
    with open(os.path.join(d, "upstream.conf"), "w") as f:
        f.write(upstream)
    env = dict(PATH=os.environ["PATH"], NGINX_USER_LINE="", NGINX_WORKER_PROCESSES="2", NGINX_PID_FILE=os.path.join(d, "nginx.pid"),
               NGINX_MIME_TYPES="/etc/nginx/mime.types", NGINX_ACCESS_LOG="off", NGINX_TEMP_DIR=os.path.join(d, "temp"),
               NGINX_UPSTREAM_CONF=os.path.join(d, "upstream.conf"), NGINX_LISTEN="127.0.0.1:1",
               NGINX_STATIC_ROOT=os.path.join(REPO, "templates", "static"),
               NGINX_STATS_HTPASSWD=os.path.join(d, "stats.htpasswd"))
    with open(os.path.join(d, "nginx.conf"), "w") as conf:
        subprocess.run([os.path.join(REPO, "nginx", "render-conf.sh"), os.path.join(REPO, "nginx", "nginx.conf.in")],
                       env=env, stdout=conf, check=True, timeout=10, stdin=subprocess.DEVNULL)
    r = subprocess.run(["nginx", "-t", "-q", "-e", "stderr", "-p", d, "-c", os.path.join(d, "nginx.conf")],
                       capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    return "" if r.returncode == 0 else "exit %d: %s" % (r.returncode, r.stderr.strip())


@test("nginx/upstream.sh: the upstream block nginx accepts, with and without keep-alive; bad values refused")
def t_upstream_block(ctx):
    """The one rendering of the upstream block (native stack, container, nginx -t in make
    check): keep-alive on only when asked, every server with the failover parameters,
    a placeholder that lets nginx start with no worker, and nothing that could smuggle a
    directive in."""
    e = Errors()
    cases = [
        (["48", "unix:/s/worker-1.sock", "unix:/s/worker-2.sock"],
         "fastcgi_keep_conn on;\nupstream khalid_workers {\n    keepalive 48;\n"
         "    server unix:/s/worker-1.sock max_fails=1 fail_timeout=2s;\n"
         "    server unix:/s/worker-2.sock max_fails=1 fail_timeout=2s;\n}\n"),
        (["0", "unix:/s/w.sock"],
         "upstream khalid_workers {\n    server unix:/s/w.sock max_fails=1 fail_timeout=2s;\n}\n"),
        (["-z", "-p", "max_fails=3 fail_timeout=5s", "6", "172.18.0.4:9000"],
         "fastcgi_keep_conn on;\nupstream khalid_workers {\n"
         "    zone khalid_workers 64k;  # failure state shared by nginx's worker processes\n"
         "    keepalive 6;\n    server 172.18.0.4:9000 max_fails=3 fail_timeout=5s;\n}\n"),
        (["-z", "0"],
         "upstream khalid_workers {\n"
         "    zone khalid_workers 64k;  # failure state shared by nginx's worker processes\n"
         "    server 127.0.0.1:9 down;  # no worker yet: 502 until one appears\n}\n"),
    ]
    for args, want in cases:
        r = upstream_sh(*args)
        e.check(r.returncode == 0 and r.stdout == want and not r.stderr,
                "upstream.sh %s: exit %s, printed %r, stderr %r" % (args, r.returncode, r.stdout, r.stderr))
        rejected = nginx_rejects(ctx, r.stdout)
        e.check(not rejected, "nginx -t rejects what upstream.sh %s printed: %s" % (args, rejected))
    for args, named in ((["x", "unix:/s"], "KEEPALIVE=x"), (["999999", "unix:/s"], "KEEPALIVE=999999"),
                        (["1", "unix:/s; include /etc/passwd"], "server unix:/s; include"),
                        (["1", "a:1}\nserver b:2"], "server a:1}"), (["-p", "down;", "1", "a:1"], "-p down;"),
                        ([], "usage")):
        r = upstream_sh(*args)
        e.check(r.returncode == 2 and not r.stdout and named in r.stderr,
                "upstream.sh %s: exit %s, printed %r, stderr %r (expected 2, naming %s)"
                % (args, r.returncode, r.stdout, r.stderr, named))
    e.raise_if_any()
