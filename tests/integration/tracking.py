"""The tracker, through the whole native stack: what counts as a view and a visitor (the
daily salt, the hour and day windows, with the fake-clock worker), bots, IGNORE_IPS,
X-Forwarded-For with and without TRUSTED_PROXIES, what never counts, and TRACKING=0.
The helpers here (clients, the fake clock, a Redis client, /api/stats polling) serve
tracking_redis.py and tracking_api.py too.

Views reach Redis when each worker's flusher writes them, once a second: a figure is
polled for until the issue's 2 seconds (plus SLACK) have passed, and a check that
something was NOT recorded reads only after every flusher has had a whole interval. The
checks that mostly wait so, with little load, run in the background (suite.py)."""
import calendar
import contextlib
import json
import os
import re
import socket
import subprocess
import threading
import time

from integration.suite import SLACK, secs, test
from lib.fastcgi import fcgi_call
from lib.http_client import KeepAlive, http_get
from lib.load import poll
from lib.results import Errors, expect
from lib.stack import REPO

# ---------------------------------------------------------------------------- timing


def define(path, name):
    """A number #defined in a source file: digits, or a product of them in parentheses."""
    with open(os.path.join(REPO, path)) as f:
        m = re.search(r"^#define %s +\(?(\d+(?: \* \d+)*)\)?(?: |$)" % name, f.read(), re.M)
    if m is None:
        raise RuntimeError("%s #defines no number %s" % (path, name))
    n = 1
    for factor in m.group(1).split(" * "):
        n *= int(factor)
    return n


FLUSH_INTERVAL = define("fcgi-app/track.c", "FLUSH_INTERVAL_MS") / 1000
# Issue 10: "Figures appear in /api/stats within 2 seconds."
FIGURES_PROMISED = 2.0
FIGURES_APPEAR = FIGURES_PROMISED + SLACK
# Every view queued before a moment is written (or dropped) by each worker's next flush,
# at most one interval later: only then can a check say that something was not recorded.
SETTLED = FLUSH_INTERVAL + SLACK

# ---------------------------------------------------------------------------- the schema (keys.h)

with open(os.path.join(REPO, "fcgi-app", "keys.h")) as _f:
    KEY_FORMATS = dict(re.findall(r'^#define (KEY_\w+) "([^"]*)"', _f.read(), re.M))
KEY_VISITS = KEY_FORMATS["KEY_VISITS"]
KEY_VIEWS_TOTAL = KEY_FORMATS["KEY_VIEWS_TOTAL"]
TOP_NAMES_MAX = define("fcgi-app/keys.h", "TOP_NAMES_MAX")


def key(name, bucket=""):
    """The Redis key keys.h calls KEY_<name>, for a bucket ("2026-06-15", "...T12")."""
    return KEY_FORMATS["KEY_" + name].replace("%s", bucket)


def kind_of(k):
    """The keys.h name of a key (VIEWS_DAY for views:day:2026-06-15), or None."""
    for name, fmt in KEY_FORMATS.items():
        if "*" not in fmt and re.fullmatch(re.escape(fmt).replace("%s", ".+"), k):
            return name[4:]
    return None


# The tracker's keys; visits belongs to /count, and the other features' keys (a worker's
# metrics) are written whatever the tracker does.
TRACKER_KINDS = ("VIEWS_TOTAL", "VIEWS_DAY", "VIEWS_HOUR", "VISITORS_DAY", "VISITORS_HOUR", "VISITORS_MINUTE",
                 "REFERRERS_DAY", "BROWSERS_DAY", "SYSTEMS_DAY", "DEVICES_DAY", "BOTS_DAY", "SALT_DAY")

# ---------------------------------------------------------------------------- clients

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/126.0.0.0 Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
# Requests whose X-Forwarded-For nginx believes (set_real_ip_from) come from here.
TRUSTED = {"TRUSTED_PROXIES": "127.0.0.1"}
# Tracked pages, each as the route table names it.
PAGES = ("/", "/about", "/count", "/stats")


def browser(ua=FIREFOX_LINUX, addr=None, referer=None):
    """Request headers of a browser (a client that is no bot), from addr through a proxy."""
    h = {"User-Agent": ua}
    if addr:
        h["X-Forwarded-For"] = addr
    if referer:
        h["Referer"] = referer
    return h


def send(port, requests, conns=8, timeout=90):
    """Sends (method, path, headers[, expected status]) requests over `conns` keep-alive
    connections; returns their statuses in order (the exception's text for a request that
    failed)."""
    statuses = [None] * len(requests)
    todo = iter(range(len(requests)))
    lock = threading.Lock()

    def work():
        c = KeepAlive(port)
        try:
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                method, path, headers = requests[i][:3]
                try:
                    statuses[i] = c.request(method, path, headers).status
                except Exception as e:  # recorded as that request's answer
                    statuses[i] = "%s: %s" % (type(e).__name__, e)
        finally:
            c.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(min(conns, len(requests)))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    expect(not any(t.is_alive() for t in threads), "%d requests not answered in %.0f s" % (len(requests), timeout))
    return statuses


def expect_statuses(requests, statuses, want=200):
    """Fails unless every request was answered `want` (or its own status, as a 4th item)."""
    bad = ["%s %s: %s" % (r[0], r[1], s) for r, s in zip(requests, statuses)
           if s != (r[3] if len(r) > 3 else want)]
    expect(not bad, "%d of %d requests answered otherwise: %s" % (len(bad), len(requests), "; ".join(bad[:6])))


def views_of(port, paths, headers, times=1):
    """GETs of each path, `times` times, with the same headers; all must be 200."""
    reqs = [("GET", p, headers) for p in paths for _ in range(times)]
    expect_statuses(reqs, send(port, reqs))
    return len(reqs)

# ---------------------------------------------------------------------------- the fake clock


def utc(y, mo, d, h=0, mi=0, s=0):
    return calendar.timegm((y, mo, d, h, mi, s))


# The fake "now" of the tests that set the clock: mid-day, far from any boundary.
T0 = utc(2026, 6, 15, 12, 34, 56)
DAY = 86400


def day_name(t):
    return time.strftime("%Y-%m-%d", time.gmtime(t))


def hour_name(t):
    """An hour as /api/stats names it."""
    return time.strftime("%Y-%m-%dT%H:00Z", time.gmtime(t))


class FakeClock:
    """The file the fake-clock worker reads the time from on every call."""

    def __init__(self, directory, at):
        self.path = os.path.join(directory, "now")
        self.set(at)

    def set(self, at):
        # Written whole and renamed: a worker never reads a half-written time.
        with open(self.path + ".new", "w") as f:
            f.write("%d\n" % at)
        os.replace(self.path + ".new", self.path)
        self.now = at


def clock_stack(ctx, at=T0, workers=1, env=None):
    """A stack of the fake-clock worker, its clock set to `at`. One worker unless said:
    one flusher, so a figure seen means every view sent before it was written."""
    worker = ctx.fakeclock_worker()
    clock = FakeClock(ctx.tmpdir("kt-clock-"), at)
    st = ctx.stack(workers=workers, threads=4, worker=worker,
                   env=dict(env or {}, KHALID_FAKE_NOW_FILE=clock.path))
    return st, clock

# ---------------------------------------------------------------------------- Redis


class RedisError(Exception):
    pass


class Redis:
    """A RESP client on the stack's unix socket: binary-safe values, and thousands of
    commands without a redis-cli process each."""

    def __init__(self, st, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(st.redis_sock)
        self.reader = self.sock.makefile("rb")
        self.call("AUTH", st.redis_password())

    def close(self):
        self.reader.close()
        self.sock.close()

    def pipeline(self, commands):
        out = []
        for args in commands:
            parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
            out.append(b"*%d\r\n" % len(parts))
            out += [b"$%d\r\n%s\r\n" % (len(p), p) for p in parts]
        self.sock.sendall(b"".join(out))
        return [self._reply() for _ in commands]

    def call(self, *args):
        r = self.pipeline([args])[0]
        if isinstance(r, RedisError):
            raise r
        return r

    def _reply(self):
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("Redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        n = int(rest)
        if kind == b"$":
            return None if n < 0 else self.reader.read(n + 2)[:-2]
        return None if n < 0 else [self._reply() for _ in range(n)]

    def keys(self):
        """Every key name (decoded byte for byte, so nothing is lost)."""
        found, cursor = set(), b"0"
        while True:
            cursor, batch = self.call("SCAN", cursor, "COUNT", 1000)
            found.update(k.decode("latin-1") for k in batch)
            if cursor == b"0":
                return found

    def hash(self, k):
        flat = self.call("HGETALL", k)
        return {flat[i].decode(): int(flat[i + 1]) for i in range(0, len(flat), 2)}


@contextlib.contextmanager
def redis(st):
    r = Redis(st)
    try:
        yield r
    finally:
        r.close()


def keys_of(st):
    with redis(st) as r:
        return r.keys()


def tracker_keys(st):
    """The keys the tracker made, and any key keys.h does not name."""
    return {k for k in keys_of(st) if kind_of(k) in TRACKER_KINDS + (None,)}

# ---------------------------------------------------------------------------- /api/stats


def api_stats(port, period="day"):
    r = http_get(port, "/api/stats?period=" + period)
    expect(r.status == 200, "/api/stats?period=%s answered %s: %s" % (period, r.status, r.text[:200]))
    return json.loads(r.body)


def brief(s):
    """The figures of an /api/stats answer that a failure message shows."""
    if s is None:
        return "none read"
    fields = ("views", "visitors", "live_visitors", "bots", "visits", "pages")
    return ", ".join("%s %s" % (k, s.get(k)) for k in fields)


def wait_for(port, cond, what, period="day", timeout=FIGURES_APPEAR):
    """Polls /api/stats until cond(answer) holds; returns (answer, seconds). Fails after
    timeout, showing the last answer."""
    last = [None]

    def probe():
        last[0] = api_stats(port, period)
        return cond(last[0])

    ok, took = poll(probe, timeout, interval=0.05)
    expect(ok, "%s not in /api/stats within %s; it showed: %s" % (what, secs(timeout), brief(last[0])))
    return last[0], took


def settle(since):
    """Waits until every flusher has had a whole interval after `since` (monotonic)."""
    time.sleep(max(0.0, since + SETTLED - time.monotonic()))


def names(items, field="name"):
    """A top list as {name: views}."""
    return {i[field]: i["views"] for i in items}


# Redis's HyperLogLog has 16,384 registers: at a few dozen visitors, two of them falling in
# the same register (about n^2/32768 chance: 0.3 % at 10) makes the count one lower, and
# the estimator can be one off either way; one element alone is always counted exactly.
def visitors_near(got, want):
    return abs(got - want) <= (0 if want <= 1 else 1)

# ---------------------------------------------------------------------------- what counts


@test("tracking: 100 views from 10 clients (5 addresses through a trusted proxy x 2 User-Agents) over "
      "3 workers: 100 views, 10 visitors (HyperLogLog: +-1), figures in /api/stats within %s"
      % secs(FIGURES_PROMISED))
def t_hundred_views(ctx):
    st, clock = clock_stack(ctx, workers=3, env=TRUSTED)
    addrs = ["198.51.100.%d" % i for i in range(1, 6)]
    clients = [(a, ua) for a in addrs for ua in (FIREFOX_LINUX, SAFARI_IPHONE)]
    paths = ["/"] * 40 + ["/about"] * 30 + ["/count"] * 20 + ["/stats"] * 10
    reqs = []
    for i, path in enumerate(paths):
        addr, ua = clients[i % 10]
        # A tenth come from another site (its host is recorded, lowercased, without port), a
        # tenth from this site itself (not a referrer).
        ref = {0: "https://Example.ORG:8443/some/page?q=1", 1: "http://127.0.0.1:%d/about" % st.port}.get(i % 10)
        reqs.append(("GET", path, browser(ua, addr, ref)))
    expect_statuses(reqs, send(st.port, reqs))
    sent = time.monotonic()
    _, took = wait_for(st.port, lambda s: s["views"] >= 100, "100 views")
    ctx.note("100 views from 10 clients appeared in /api/stats %.2f s after the last answer" % took)
    settle(sent)
    s = api_stats(st.port)
    e = Errors()
    e.check(s["views"] == 100, "views %d, expected 100" % s["views"])
    e.check(visitors_near(s["visitors"], 10), "visitors %d, expected 10 (+-1)" % s["visitors"])
    e.check(visitors_near(s["live_visitors"], 10), "live_visitors %d, expected 10 (+-1)" % s["live_visitors"])
    e.check(s["bots"] == 0, "bots %d, expected 0" % s["bots"])
    e.check(s["pages"] == [{"path": "/", "views": 40}, {"path": "/about", "views": 30},
                           {"path": "/count", "views": 20}, {"path": "/stats", "views": 10}], "pages %s" % s["pages"])
    e.check(s["referrers"] == [{"host": "example.org", "views": 10}], "referrers %s" % s["referrers"])
    for field, want in (("browsers", {"Firefox": 50, "Safari": 50}), ("systems", {"Linux": 50, "iOS": 50}),
                        ("devices", {"desktop": 50, "mobile": 50})):
        e.check(names(s[field]) == want, "%s %s, expected %s" % (field, s[field], want))
    now = s["hours"][-1]
    e.check(now["hour"] == hour_name(clock.now) and now["views"] == 100 and visitors_near(now["visitors"], 10),
            "this hour: %s" % now)
    today = s["days"][-1]
    e.check(today["views"] == 100 and visitors_near(today["visitors"], 10), "today: %s" % today)
    e.check(s["visits"] == st.visits() == 20,
            "visits %d, Redis %d, expected the 20 /count" % (s["visits"], st.visits()))
    e.raise_if_any()


@test("tracking: one client is one visitor a day, a new one the next day (new salt); the 48-hour "
      "and 30-day windows move with the clock")
def t_days(ctx):
    st, clock = clock_stack(ctx, workers=2)
    uas = (FIREFOX_LINUX, SAFARI_IPHONE, CHROME_WINDOWS)
    for ua in uas:
        views_of(st.port, ["/", "/about", "/"], browser(ua))
    s, _ = wait_for(st.port, lambda s: s["views"] >= 9, "9 views on the first day")
    e = Errors()
    e.check(visitors_near(s["visitors"], 3), "3 clients with 3 views each: %d visitors, expected 3" % s["visitors"])
    # The next day at 09:10: its hour is the 21st after the first views' hour.
    t1 = T0 - T0 % DAY + DAY + 9 * 3600 + 600
    clock.set(t1)
    for ua in uas:
        views_of(st.port, ["/count", "/"], browser(ua))
    s, _ = wait_for(st.port, lambda s: s["views"] >= 6, "6 views on the second day")
    e.check(visitors_near(s["visitors"], 3), "the next day: %d visitors, expected the same 3 clients" % s["visitors"])
    week = api_stats(st.port, "7d")
    # Each day's salt makes a client's hash another one: over both days, 6 visitors.
    e.check(week["views"] == 15 and visitors_near(week["visitors"], 6),
            "7d: views %d, visitors %d; expected 15 and 6 (the second day's salt is another)"
            % (week["views"], week["visitors"]))
    with redis(st) as r:
        salts = [r.call("GET", key("SALT_DAY", day_name(t))) for t in (T0, t1)]
    e.check(all(v is not None and re.fullmatch(rb"[0-9a-f]{32}", v) for v in salts) and salts[0] != salts[1],
            "salts of the two days: %s (expected two different 32-hex-digit keys)" % salts)

    def window(at, hours, days):
        """Checks the windows at `at`: hours and days with views, the others zero."""
        clock.set(at)
        s = api_stats(st.port, "30d")
        want_h = [hours.get(i, 0) for i in range(48)]
        got_h = [h["views"] for h in s["hours"]]
        e.check([h["hour"] for h in s["hours"]] == [hour_name(at - (47 - i) * 3600) for i in range(48)],
                "at %s: hours %s..%s, expected the 48 ending %s" % (hour_name(at), s["hours"][0]["hour"],
                                                                     s["hours"][-1]["hour"], hour_name(at)))
        e.check(got_h == want_h, "at %s: hourly views %s, expected %s" % (hour_name(at), got_h, want_h))
        want_d = [days.get(i, 0) for i in range(30)]
        got_d = [d["views"] for d in s["days"]]
        e.check([d["date"] for d in s["days"]] == [day_name(at - (29 - i) * DAY) for i in range(30)],
                "at %s: days %s..%s, expected the 30 ending %s" % (hour_name(at), s["days"][0]["date"],
                                                                    s["days"][-1]["date"], day_name(at)))
        e.check(got_d == want_d, "at %s: daily views %s, expected %s" % (hour_name(at), got_d, want_d))
        e.check(s["views"] == sum(want_d),
                "at %s: 30d views %d, expected %d" % (hour_name(at), s["views"], sum(want_d)))

    window(t1, {47: 6, 47 - 21: 9}, {29: 6, 28: 9})
    window(T0 + 3 * DAY, {}, {29 - 2: 6, 29 - 3: 9})
    window(T0 + 30 * DAY, {}, {0: 6})
    e.raise_if_any()


@test("tracking: bots (curl's own User-Agent, an empty one, none, Googlebot) change only bots",
      background=True)
def t_bots(ctx):
    st, _ = clock_stack(ctx)
    views_of(st.port, ["/", "/about"], browser(referer="https://example.org/"))
    before, _ = wait_for(st.port, lambda s: s["views"] >= 2, "2 views")
    keys_before = tracker_keys(st)
    reqs = [("GET", p, h) for p in PAGES for h in ({"User-Agent": GOOGLEBOT, "Referer": "https://bots.example/"},
                                                   {"User-Agent": ""}, {})]
    expect_statuses(reqs, send(st.port, reqs))
    curl = [subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-e", "https://curl.example/",
                            "http://127.0.0.1:%d%s" % (st.port, p)], capture_output=True, text=True, timeout=10)
            for p in PAGES]
    expect(all(c.stdout == "200" for c in curl), "curl got %s" % [c.stdout + c.stderr for c in curl])
    sent = time.monotonic()
    bots = len(reqs) + len(curl)
    wait_for(st.port, lambda s: s["bots"] >= bots, "%d bots" % bots)
    settle(sent)
    after = api_stats(st.port)
    e = Errors()
    e.check(after["bots"] == bots, "bots %d, expected %d" % (after["bots"], bots))
    visits = before["visits"] + [r[1] for r in reqs].count("/count") + 1
    e.check(after["visits"] == visits, "visits %d, expected %d (the bots' /count)" % (after["visits"], visits))
    changed = [k for k in before if k not in ("bots", "visits") and before[k] != after[k]]
    e.check(not changed, "bots changed %s: %s" % (changed, {k: (before[k], after[k]) for k in changed}))
    new = tracker_keys(st) - keys_before
    e.check(new == {key("BOTS_DAY", day_name(T0))}, "the bots made the keys %s" % sorted(new))
    e.raise_if_any()


@test("tracking: IGNORE_IPS (a list with 127.0.0.1/32) records nothing, no key made; other addresses count",
      background=True)
def t_ignore_ips(ctx):
    st, _ = clock_stack(ctx, env=dict(TRUSTED, IGNORE_IPS="10.0.0.0/8, 127.0.0.1/32"))
    n = views_of(st.port, PAGES, browser(), times=2)
    n += views_of(st.port, PAGES, browser(addr="10.1.2.3"))
    n += views_of(st.port, PAGES, {"User-Agent": GOOGLEBOT})
    settle(time.monotonic())
    keys = tracker_keys(st)
    expect(not keys, "%d views from ignored addresses made the keys %s" % (n, sorted(keys)))
    expect(st.visits() == 4, "visits %d, expected the 4 /count (counted even when ignored)" % st.visits())
    views_of(st.port, ["/about"], browser(addr="198.51.100.7"))
    s, _ = wait_for(st.port, lambda s: s["views"] >= 1, "a view from 198.51.100.7 (not ignored)")
    expect(s["views"] == 1 and s["pages"] == [{"path": "/about", "views": 1}] and s["bots"] == 0,
           "after one view from an address not ignored: %s" % brief(s))


@test("tracking: X-Forwarded-For (and X-Real-IP, Forwarded) without TRUSTED_PROXIES change nothing: "
      "one client, one visitor")
def t_spoofed_xff(ctx):
    st, _ = clock_stack(ctx, workers=2)
    reqs = []
    for i in range(1, 7):
        fake = "203.0.113.%d" % i
        reqs.append(("GET", "/", dict(browser(addr=fake), **{"X-Real-IP": fake, "Forwarded": "for=" + fake})))
    expect_statuses(reqs, send(st.port, reqs))
    s, _ = wait_for(st.port, lambda s: s["views"] >= 6, "6 views")
    expect(s["views"] == 6 and s["visitors"] == 1,
           "6 views with 6 spoofed addresses: %d views, %d visitors; expected 6 and 1 (all from 127.0.0.1)"
           % (s["views"], s["visitors"]))


@test("tracking: HEAD, /health, the API, the badge, static files, 404, 405, 400 and the stacks' "
      "probes count no view", background=True)
def t_not_counted(ctx):
    st = ctx.stack(workers=1, threads=4)
    # stack.sh's start-up probe (curl /health) has run; so would compose's nginx probe,
    # and its worker probe (fcgi-app/healthcheck.sh: HEAD / straight to the worker).
    raw = socket.create_connection(("127.0.0.1", st.port), timeout=5)
    with raw:
        raw.sendall(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
        expect(raw.makefile("rb").readline().split()[1:2] == [b"200"], "compose's nginx probe did not get 200")
    a = fcgi_call(st.worker_sock(1), "HEAD", "/")
    expect(a["complete"] and a["stdout"].startswith(b"Status: 200"), "the worker probe got %r" % a["stdout"][:40])
    h = browser(referer="https://example.org/")
    reqs = [("HEAD", p, h) for p in PAGES]
    reqs += [("GET", p, h) for p in ("/health", "/metrics", "/api/stats", "/api/stats?period=30d", "/api/export.csv",
                                     "/badge.svg", "/static/style.css", "/favicon.ico")]
    reqs += [("GET", p, h, 404) for p in ("/nope", "/index.html", "/count/", "/stats/", "/api/", "/static/nope.css")]
    reqs += [("GET", "/stats?period=year", h, 400)]
    reqs += [(m, p, h, 405) for m in ("POST", "PUT", "DELETE") for p in PAGES]
    expect_statuses(reqs, send(st.port, reqs, conns=4))
    settle(time.monotonic())
    keys = tracker_keys(st) | ({KEY_VISITS} & keys_of(st))
    expect(not keys, "after start-up, the probes and %d requests that are no views, Redis holds %s"
           % (len(reqs), sorted(keys)))
    views_of(st.port, ["/"], browser())
    s, _ = wait_for(st.port, lambda s: s["views"] >= 1, "one view of /")
    expect(s["views"] == 1 and s["pages"] == [{"path": "/", "views": 1}], "after one view: %s" % brief(s))


@test("tracking: TRACKING=0 records no view (no tracking key); /count still counts visits", background=True)
def t_tracking_off(ctx):
    st = ctx.stack(workers=1, threads=4, env={"TRACKING": "0"})
    views_of(st.port, PAGES, browser(referer="https://example.org/"), times=3)
    views_of(st.port, ["/"], {"User-Agent": GOOGLEBOT})
    settle(time.monotonic())
    keys = tracker_keys(st)
    expect(not keys, "with TRACKING=0 Redis holds %s" % sorted(keys))
    expect(st.visits() == 3, "visits %d after 3 /count, expected 3" % st.visits())
    s = api_stats(st.port)
    expect(s["views"] == 0 and s["visitors"] == 0 and s["bots"] == 0 and s["visits"] == 3,
           "/api/stats with TRACKING=0: %s" % brief(s))
