"""Redis with least privilege: the users redis/acl.sh defines, as the native stack runs them.
The workers connect as `khalid`, allowed only their commands and keys; the admin is Redis's
default user, with the admin password; `health` may PING. The passwords are made on the
first start in $STATE_DIR/secrets (scripts/stack.sh)."""
import hashlib
import os
import re
import stat
import subprocess
import time

from integration.suite import test
from lib.http_client import http_get
from lib.results import Errors, expect
from lib.stack import REPO, StackError, clean_env

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
USERS = ("admin", "worker", "health")
TRACKER_FLUSH = 5.0  # the tracker writes once a second; room for a busy machine


def cli(st, *args, user=None, password=None, stdin=None):
    """redis-cli ARGS on the stack's socket, as `user` with `password` (neither: no
    credentials at all; stdin: commands one a line instead of ARGS). Returns the answer.
    Raises when redis-cli could not ask (no connection), so that not running is never
    taken for a refusal."""
    env = clean_env({"REDISCLI_AUTH": password} if password is not None else {})
    argv = ["redis-cli", "-s", st.redis_sock] + (["--user", user] if user else []) + list(args)
    r = subprocess.run(argv, env=env, capture_output=True, timeout=5,
                       input=stdin.encode() if stdin is not None else None,
                       stdin=subprocess.DEVNULL if stdin is None else None)
    if r.returncode != 0:
        raise StackError("redis-cli %s: exit status %d: %s"
                         % (" ".join(args), r.returncode, r.stderr.decode("utf-8", "replace").strip()))
    return r.stdout.decode("utf-8", "replace").strip()


def session(st, *commands):
    """The answers to commands sent on one connection without credentials, on stdin, so
    that no password is an argument of a process."""
    return [line for line in cli(st, stdin="".join(c + "\n" for c in commands)).splitlines() if line]


def as_khalid(st, *args):
    return cli(st, *args, user="khalid", password=st.redis_password("worker"))


def refused(answer, kind="NOPERM"):
    return answer.startswith(kind)


def views_total(st):
    """All-time page views, summed over the paths of views:total."""
    flat = cli(st, "HGETALL", "views:total", password=st.redis_password()).split("\n")
    return sum(int(n) for n in flat[1::2] if n.isdigit())


@test("Redis ACL: the workers as khalid serve every page, count and track, and no command of theirs is refused")
def t_worker_as_khalid(ctx):
    st = ctx.stack(workers=2)
    e = Errors()
    for pid in st.worker_pids():
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
        e.check(env.get(b"REDIS_USERNAME") == b"khalid" and b"REDIS_PASSWORD" not in env
                and env.get(b"REDIS_PASSWORD_FILE", b"").decode() == os.path.join(st.secrets_dir, "redis-worker.pass"),
                "worker %d: REDIS_USERNAME=%r REDIS_PASSWORD set: %s REDIS_PASSWORD_FILE=%r" % (
                    pid, env.get(b"REDIS_USERNAME"), b"REDIS_PASSWORD" in env, env.get(b"REDIS_PASSWORD_FILE")))
    browser = {"User-Agent": BROWSER, "Referer": "https://news.example/item"}
    pages = ["/", "/about", "/count", "/count", "/count", "/stats"]
    # /metrics: every worker's snapshot, read back with SCAN and MGET.
    for path in pages + ["/api/stats", "/api/stats?period=30d", "/api/export.csv", "/badge.svg", "/health", "/metrics"]:
        r = http_get(st.port, path, headers=browser)
        e.check(r.status == 200, "%s answered %s" % (path, r.status))
    deadline = time.monotonic() + TRACKER_FLUSH
    while time.monotonic() < deadline and views_total(st) < len(pages):
        time.sleep(0.1)
    keys = set(cli(st, "--scan", password=st.redis_password()).split())
    day = time.strftime("%Y-%m-%d", time.gmtime())
    for k in ("visits", "views:total", "views:day:" + day, "visitors:day:" + day, "referrers:day:" + day,
              "browsers:day:" + day, "systems:day:" + day, "devices:day:" + day, "salt:day:" + day):
        e.check(k in keys, "no key %s written (keys: %s)" % (k, " ".join(sorted(keys))))
    e.check(any(k.startswith("views:hour:") for k in keys) and any(k.startswith("visitors:minute:") for k in keys),
            "no hourly views or per-minute visitors written (keys: %s)" % " ".join(sorted(keys)))
    e.check(st.visits() == 3, "visits is %d after 3 /count" % st.visits())
    r = http_get(st.port, "/api/stats", headers=browser)
    m = re.search(r'"views": (\d+)', r.text)
    e.check(m is not None and int(m.group(1)) >= len(pages), "/api/stats reads back views %s, expected %d or more"
            % (m and m.group(1), len(pages)))
    # Redis logs every command the ACL refused: the workers' must be none.
    log = cli(st, "ACL", "LOG", password=st.redis_password())
    e.check(log == "", "Redis refused commands of the workers (ACL LOG): %s" % " ".join(log.split())[:400])
    e.raise_if_any()


@test("Redis ACL: as khalid, FLUSHALL, CONFIG GET, KEYS, DEBUG, SHUTDOWN and other keys are refused (NOPERM)")
def t_khalid_refused(ctx):
    st = ctx.stack(workers=1)
    e = Errors()
    # The password is right: what khalid may do works, so each NOPERM below is the ACL's.
    expect(as_khalid(st, "INCR", "visits") == "1", "khalid could not INCR visits")
    # SHUTDOWN last: were it allowed, nothing after it could be asked.
    for args in (["FLUSHALL"], ["FLUSHDB"], ["CONFIG", "GET", "maxmemory"], ["CONFIG", "SET", "appendonly", "no"],
                 ["KEYS", "*"], ["ACL", "LIST"], ["INFO"], ["SET", "elsewhere", "1"], ["GET", "visits2"],
                 ["EVAL", "return 1", "0"], ["SHUTDOWN", "NOSAVE"]):
        answer = as_khalid(st, *args)
        e.check(refused(answer), "%s as khalid answered %r" % (" ".join(args), answer[:120]))
    e.raise_if_any()
    # DEBUG is off for every user (Redis's enable-debug-command no), which Redis checks
    # before the ACL: the ACL's own answer is ACL DRYRUN's.
    answer = as_khalid(st, "DEBUG", "OBJECT", "visits")
    e.check(refused(answer) or "DEBUG command not allowed" in answer, "DEBUG as khalid answered %r" % answer[:120])
    answer = cli(st, "ACL", "DRYRUN", "khalid", "DEBUG", "OBJECT", "visits", password=st.redis_password())
    e.check("no permissions to run the 'debug' command" in answer, "ACL DRYRUN khalid DEBUG answered %r" % answer[:120])
    e.check(cli(st, "PING", password=st.redis_password()) == "PONG" and st.visits() == 1,
            "Redis or the count did not survive khalid's attempts (visits %s)" % st.visits())
    e.raise_if_any()


@test("Redis ACL: khalid may use every key of fcgi-app/keys.h (and metrics:*), and no other key")
def t_khalid_keys(ctx):
    with open(os.path.join(REPO, "fcgi-app", "keys.h")) as f:
        schema = re.findall(r'^#define KEY_\w+ "([^"]+)"', f.read(), re.M)
    expect(len(schema) >= 13, "found only %d keys in fcgi-app/keys.h" % len(schema))
    st = ctx.stack(workers=1)
    admin = st.redis_password()
    e = Errors()
    for key in [k.replace("%s", "2026-12-01T13") for k in schema] + ["metrics:worker:host/1"]:
        answer = cli(st, "ACL", "DRYRUN", "khalid", "GET", key, password=admin)
        e.check(answer == "OK", "khalid may not GET %s: %r" % (key, answer[:120]))
    for key in ("other", "visits2", "views", "salt", "config:day:x", "Visits"):
        answer = cli(st, "ACL", "DRYRUN", "khalid", "GET", key, password=admin)
        e.check("no permissions to access" in answer, "khalid may GET %s: %r" % (key, answer[:120]))
    e.raise_if_any()


@test("Redis ACL: no credentials get NOAUTH; the default user needs the admin password")
def t_no_credentials(ctx):
    st = ctx.stack(workers=1)
    admin, worker = st.redis_password(), st.redis_password("worker")
    e = Errors()
    for args in (["PING"], ["GET", "visits"], ["FLUSHALL"]):
        answer = cli(st, *args)
        e.check(refused(answer, "NOAUTH"), "%s without credentials answered %r" % (" ".join(args), answer[:120]))
    # On stdin, so that no password is an argument; then a command on that connection.
    for auth in ("AUTH not-the-password", "AUTH default not-the-password", "AUTH default " + worker,
                 "AUTH khalid " + admin):
        answer = session(st, auth, "GET visits")
        shown = auth.replace(admin, "<admin password>").replace(worker, "<worker password>")
        e.check(answer[:1] == ["WRONGPASS invalid username-password pair or user is disabled."]
                and refused(answer[-1], "NOAUTH"), "%s answered %r" % (shown, answer))
    answer = session(st, "AUTH default " + admin, "PING")
    e.check(answer == ["OK", "PONG"], "AUTH default <admin password> answered %r" % answer)
    e.raise_if_any()


@test("Redis ACL: the health user may PING and nothing else")
def t_health_user(ctx):
    st = ctx.stack(workers=1)
    health = st.redis_password("health")
    e = Errors()
    answer = cli(st, "PING", user="health", password=health)
    e.check(answer == "PONG", "PING as health answered %r" % answer[:120])
    for args in (["GET", "visits"], ["INCR", "visits"], ["INFO"], ["CONFIG", "GET", "port"], ["KEYS", "*"],
                 ["CLIENT", "LIST"], ["SCAN", "0"], ["FLUSHALL"]):
        answer = cli(st, *args, user="health", password=health)
        e.check(refused(answer), "%s as health answered %r" % (" ".join(args), answer[:120]))
    e.raise_if_any()


def secret_files(st):
    """{user: (mode of its file, password)} and the mode of the secrets directory."""
    files = {u: os.path.join(st.secrets_dir, "redis-%s.pass" % u) for u in USERS}
    return ({u: (stat.S_IMODE(os.stat(p).st_mode), st.redis_password(u)) for u, p in files.items()},
            stat.S_IMODE(os.stat(st.secrets_dir).st_mode))


def process_texts(pids):
    """The command line and environment of each process, as bytes."""
    out = []
    for pid in pids:
        for what in ("cmdline", "environ"):
            try:
                with open("/proc/%d/%s" % (pid, what), "rb") as f:
                    out.append(f.read())
            except OSError:  # gone
                pass
    return out


@test("Redis secrets: made on the first start (0600, random, one per user), kept across restarts, "
      "in no argument, environment, log or ACL file")
def t_secrets(ctx):
    st = ctx.stack(workers=1)
    first, dir_mode = secret_files(st)
    e = Errors()
    e.check(dir_mode == 0o700, "%s has mode %o" % (st.secrets_dir, dir_mode))
    for user, (mode, pw) in first.items():
        e.check(mode == 0o600, "redis-%s.pass has mode %o" % (user, mode))
        e.check(re.fullmatch(r"[0-9a-f]{64}", pw) is not None, "redis-%s.pass is not 64 hex digits" % user)
    passwords = [pw for _, pw in first.values()]
    e.check(len(set(passwords)) == 3, "the three users share a password")
    other = ctx.stack(workers=1)
    e.check(not set(passwords) & {other.redis_password(u) for u in USERS}, "another stack got the same passwords")
    texts = process_texts(st.all_pids())
    with open(os.path.join(st.run_dir, "redis.acl")) as f:
        acl = f.read()
    for user, pw in zip(USERS, passwords):
        e.check(not any(pw.encode() in t for t in texts), "the %s password is in a process's arguments or environment" % user)
        e.check(pw not in acl and hashlib.sha256(pw.encode()).hexdigest() in acl,
                "the ACL file does not hold the %s password's SHA-256 alone" % user)
    http_get(st.port, "/count")
    rc, _ = st.stop()
    e.check(rc == 0, "the stack stopped with %s" % rc)
    st.start()
    again, _ = secret_files(st)
    e.check(again == first, "the passwords or modes changed across a restart")
    e.check(http_get(st.port, "/count").status == 200 and st.visits() == 2, "/count after the restart: visits %s" % st.visits())
    log = st.log_text()
    e.check(not any(pw in log for pw in passwords), "a password is in the stack's log")
    e.raise_if_any()


@test("Redis secrets: REDIS_PASSWORD given to the stack is the admin password; the workers still use khalid")
def t_redis_password(ctx):
    given = "an operator's own admin password"
    st = ctx.stack(workers=1, env={"REDIS_PASSWORD": given})
    e = Errors()
    e.check(cli(st, "PING", password=given) == "PONG", "REDIS_PASSWORD does not authenticate the default user")
    e.check(st.redis_password() == given, "redis-admin.pass does not hold REDIS_PASSWORD")
    e.check(http_get(st.port, "/count").status == 200 and st.visits() == 1, "/count did not count")
    e.check(cli(st, "CLIENT", "LIST", password=given).count("user=khalid") >= 1,
            "no connection of the workers as khalid")
    # stack.sh itself was started with it; it unsets it before it starts anything.
    e.check(not any(given.encode() in t for t in process_texts(st.all_pids()[1:])),
            "REDIS_PASSWORD reached a process that stack.sh started")
    e.raise_if_any()
