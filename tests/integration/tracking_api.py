"""What the tracker shows, on views spread over 40 days by the fake clock: /api/stats has
exactly the documented shape and the right figures for each period, the CSV export agrees
with it and refuses bad dates, and the SVG of /stats's charts and of /badge.svg is
well-formed XML (xmllint), the badge read-only."""
import csv
import io
import re
import subprocess
import time

from integration.suite import test
from integration.tracking import (CHROME_WINDOWS, DAY, FIREFOX_LINUX, GOOGLEBOT, KEY_VIEWS_TOTAL, KEY_VISITS,
                                  SAFARI_IPHONE, T0, api_stats, browser, clock_stack, day_name, hour_name,
                                  names, redis, settle, views_of, visitors_near, wait_for)
from lib.http_client import http_get, http_request
from lib.results import Errors, expect

# The views the API tests make: (days before T0, path, User-Agent, referrer, views), at
# T0's time of day; and bot requests: (days before T0, requests).
SEED = (
    (40, "/", FIREFOX_LINUX, None, 1),
    (10, "/about", FIREFOX_LINUX, "https://news.example.com/a", 2),
    (3, "/about", CHROME_WINDOWS, None, 1),
    (3, "/count", CHROME_WINDOWS, "https://news.example.com/b", 2),
    (1, "/stats", SAFARI_IPHONE, None, 1),
    (0, "/", SAFARI_IPHONE, "https://search.example/", 4),
    (0, "/stats", FIREFOX_LINUX, None, 1),
)
SEED_BOTS = ((3, 1), (0, 2))
PERIODS = {"day": 1, "7d": 7, "30d": 30}


def seeded(ctx):
    """A fake-clock stack holding SEED, the clock back at T0, every view written."""
    st, clock = clock_stack(ctx)
    for ago, path, ua, ref, n in SEED:
        clock.set(T0 - ago * DAY)
        views_of(st.port, [path], browser(ua, referer=ref), times=n)
    for ago, n in SEED_BOTS:
        clock.set(T0 - ago * DAY)
        views_of(st.port, ["/"], {"User-Agent": GOOGLEBOT}, times=n)
    clock.set(T0)
    total = sum(s[4] for s in SEED)
    with redis(st) as r:
        wait_for(st.port, lambda s: sum(r.hash(KEY_VIEWS_TOTAL).values()) >= total and s["bots"] >= 3,
                 "the %d views and 3 bots made over 40 days" % total, period="30d")
    return st


BROWSERS = {FIREFOX_LINUX: "Firefox", CHROME_WINDOWS: "Chrome", SAFARI_IPHONE: "Safari"}


def expected(days, name_of=None):
    """What SEED gives over the `days` days ending at T0: the views, or {name: views}
    with each SEED row's name_of(row) (rows without a name left out)."""
    if name_of is None:
        return sum(row[4] for row in SEED if row[0] < days)
    out = {}
    for row in SEED:
        if row[0] < days and name_of(row):
            out[name_of(row)] = out.get(name_of(row), 0) + row[4]
    return out


def per_day(frm, to):
    """{date: views} that SEED gives from frm to to (times)."""
    out = {}
    for ago, _, _, _, n in SEED:
        if frm <= T0 - ago * DAY <= to:
            out[day_name(T0 - ago * DAY)] = out.get(day_name(T0 - ago * DAY), 0) + n
    return out

# ---------------------------------------------------------------------------- /api/stats


def _list(key):
    return [{key: str, "views": int}]


SHAPE = {"visits": int, "period": {"name": str, "from": str, "to": str},
         "views": int, "visitors": int, "live_visitors": int, "bots": int,
         "pages": _list("path"), "referrers": _list("host"), "browsers": _list("name"),
         "systems": _list("name"), "devices": _list("name"),
         "hours": [{"hour": str, "views": int, "visitors": int}],
         "days": [{"date": str, "views": int, "visitors": int}]}


def shape_problems(value, shape, where="$"):
    """Where value differs from shape: the same keys in every object, the same types
    (an int is no bool or float), lists of items of the shape of shape[0]."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return ["%s is %r, not an object" % (where, value)]
        out = [] if set(value) == set(shape) else ["%s has the keys %s, expected %s"
                                                   % (where, sorted(value), sorted(shape))]
        return out + [p for k in shape if k in value for p in shape_problems(value[k], shape[k], where + "." + k)]
    if isinstance(shape, list):
        if not isinstance(value, list):
            return ["%s is %r, not a list" % (where, value)]
        return [p for i, v in enumerate(value) for p in shape_problems(v, shape[0], "%s[%d]" % (where, i))]
    return [] if type(value) is shape else ["%s is %r, not %s" % (where, value, shape.__name__)]


def window_problems(s, now, period):
    """The period, the 48 hours and 30 days (oldest first, the current one last), the
    lists sorted by views, the period's views the sum of its days."""
    n = PERIODS[period]
    out = []
    want = {"name": period, "from": day_name(now - (n - 1) * DAY), "to": day_name(now)}
    if s["period"] != want:
        out.append("period %s, expected %s" % (s["period"], want))
    hours = [h["hour"] for h in s["hours"]]
    if hours != [hour_name(now - (47 - i) * 3600) for i in range(48)]:
        out.append("%d hours %s..%s, expected the 48 ending %s" % (len(hours), hours[:1], hours[-1:], hour_name(now)))
    dates = [d["date"] for d in s["days"]]
    if dates != [day_name(now - (29 - i) * DAY) for i in range(30)]:
        out.append("%d days %s..%s, expected the 30 ending %s" % (len(dates), dates[:1], dates[-1:], day_name(now)))
    for field in ("pages", "referrers", "browsers", "systems", "devices"):
        views = [i["views"] for i in s[field]]
        if views != sorted(views, reverse=True) or 0 in views:
            out.append("%s not sorted by views, descending, or with zeros: %s" % (field, s[field]))
    days = sum(d["views"] for d in s["days"][30 - n:])
    if s["views"] != days:
        out.append("views %d, but its %d days add up to %d" % (s["views"], n, days))
    return out


@test("tracking API: /api/stats has exactly the documented shape and figures for day, 7d, 30d; "
      "a bad period is 400")
def t_api_stats(ctx):
    st = seeded(ctx)
    e = Errors()
    for period, n in PERIODS.items():
        r = http_get(st.port, "/api/stats?period=" + period)
        e.check(r.status == 200 and (r.header("Content-Type") or "").startswith("application/json"),
                "period=%s: %s %s" % (period, r.status, r.header("Content-Type")))
        s = api_stats(st.port, period)
        problems = shape_problems(s, SHAPE)
        for p in problems:
            e.check(False, "period=%s: %s" % (period, p))
        if problems:
            continue
        for p in window_problems(s, T0, period):
            e.check(False, "period=%s: %s" % (period, p))
        bots = sum(b for ago, b in SEED_BOTS if ago < n)
        e.check((s["views"], s["bots"], s["visits"]) == (expected(n), bots, 2),
                "period=%s: views, bots, visits %s, expected %s" % (period, (s["views"], s["bots"], s["visits"]),
                                                                    (expected(n), bots, 2)))
        for field, key, name_of in (("pages", "path", lambda row: row[1]),
                                    ("referrers", "host", lambda row: row[3] and row[3].split("/")[2]),
                                    ("browsers", "name", lambda row: BROWSERS[row[2]])):
            want = expected(n, name_of)
            e.check(names(s[field], key) == want, "period=%s: %s %s, expected %s" % (period, field, s[field], want))
        # Each day's clients under that day's salt: today 2; over 7 days also yesterday's
        # and the one 3 days ago; over 30 days also the one 10 days ago.
        want = {1: 2, 7: 4, 30: 5}[n]
        e.check(visitors_near(s["visitors"], want),
                "period=%s: visitors %d, expected %d" % (period, s["visitors"], want))
        e.check(s["days"][-1]["views"] == 5 and s["days"][-2]["views"] == 1 and s["hours"][-1]["views"] == 5
                and s["hours"][-25]["views"] == 1, "period=%s: today %s, yesterday %s, this hour %s, 24 h ago %s"
                % (period, s["days"][-1], s["days"][-2], s["hours"][-1], s["hours"][-25]))
    for bad in ("week", "", "1d", "DAY", "7D", "30", "day%00", "d%61y%20"):
        r = http_get(st.port, "/api/stats?period=" + bad)
        e.check(r.status == 400 and "period" in r.text, "period=%s: %s %r" % (bad, r.status, r.text[:80]))
    r = http_get(st.port, "/api/stats")
    e.check(r.status == 200 and api_stats(st.port)["period"]["name"] == "day", "no period: %s, not day" % r.status)
    e.raise_if_any()

# ---------------------------------------------------------------------------- /api/export.csv


def export(port, query=""):
    """The CSV export's rows after its header, as {date: {path: views}}; fails unless 200."""
    r = http_get(port, "/api/export.csv" + query)
    expect(r.status == 200, "/api/export.csv%s answered %s: %s" % (query, r.status, r.text[:200]))
    expect((r.header("Content-Type") or "").startswith("text/csv"), "Content-Type %r" % r.header("Content-Type"))
    rows = list(csv.reader(io.StringIO(r.text, newline="")))
    expect(rows and rows[0] == ["date", "path", "views"], "header %r, expected date,path,views" % (rows[:1],))
    out = {}
    for row in rows[1:]:
        expect(len(row) == 3 and re.fullmatch(r"\d{4}-\d\d-\d\d", row[0]) and row[2].isdigit(), "row %r" % row)
        out.setdefault(row[0], {})[row[1]] = int(row[2])
    return out


@test("tracking API: /api/export.csv agrees with /api/stats day by day; bad dates and ranges are 400 "
      "naming the parameter")
def t_export_csv(ctx):
    st = seeded(ctx)
    e = Errors()
    rows = export(st.port)
    s = api_stats(st.port, "30d")
    from_stats = {d["date"]: d["views"] for d in s["days"] if d["views"]}
    e.check({d: sum(p.values()) for d, p in rows.items()} == from_stats,
            "per-day sums of the default export %s, /api/stats days %s" % (rows, from_stats))
    three = rows.get(day_name(T0 - 3 * DAY))
    e.check(three == {"/about": 1, "/count": 2}, "3 days ago: %s, expected /count 2 and /about 1" % three)
    first, last = day_name(T0 - 40 * DAY), day_name(T0)
    rows = export(st.port, "?from=%s&to=%s" % (first, last))
    sums = {d: sum(p.values()) for d, p in rows.items()}
    want = per_day(T0 - 40 * DAY, T0)
    e.check(sums == want, "from %s to %s: %s, expected %s" % (first, last, sums, want))
    rows = export(st.port, "?from=%s&to=%s" % ((day_name(T0 - 3 * DAY),) * 2))
    e.check(list(rows) == [day_name(T0 - 3 * DAY)], "one day: %s" % rows)
    e.check(export(st.port, "?from=2024-02-29&to=2024-03-01") == {}, "the leap day 2024-02-29 refused")
    e.check(export(st.port, "?from=%s" % day_name(T0 - 399 * DAY)).keys() == per_day(T0 - 399 * DAY, T0).keys(),
            "400 days (the longest range) refused or wrong")
    bad = (("from=2026-13-01", "from"), ("to=2026-02-30", "to"), ("from=2026-02-29", "from"), ("from=abc", "from"),
           ("to=abc", "to"), ("from=", "from"), ("from=2026-6-1", "from"), ("to=2026-06-15x", "to"),
           ("from=%s&to=%s" % (day_name(T0), day_name(T0 - DAY)), "from"),
           ("from=%s&to=%s" % (day_name(T0 - 400 * DAY), day_name(T0)), "from"),
           ("from=2024-01-01&to=2026-01-01", "to"))
    for query, param in bad:
        r = http_get(st.port, "/api/export.csv?" + query)
        e.check(r.status == 400 and re.search(r"\b%s\b" % param, r.text),
                "%s: %s %r (expected 400 naming %s)" % (query, r.status, r.text[:100], param))
    e.raise_if_any()

# ---------------------------------------------------------------------------- SVG


def xml_problems(data, what):
    """xmllint's complaints about data as an XML document ([] when well-formed)."""
    r = subprocess.run(["xmllint", "--noout", "-"], input=data, capture_output=True, timeout=30)
    if r.returncode == 0 and not r.stderr:
        return []
    return ["%s: xmllint: %s" % (what, r.stderr.decode("utf-8", "replace").strip()[:300])]


CHART_RE = re.compile(rb'<svg\b[^>]*\bclass="chart"[^>]*>.*?</svg>', re.S)


@test("tracking API: /stats's SVG charts and /badge.svg pass xmllint; the badge shows the grouped "
      "visits, is embeddable and counts nothing", background=True)
def t_svg(ctx):
    e = Errors()
    expect(xml_problems(b"<svg><g></svg>", "a broken SVG"), "xmllint accepted a broken SVG")
    st = seeded(ctx)
    with redis(st) as r:
        r.call("SET", KEY_VISITS, 1234567)
        total = r.hash(KEY_VIEWS_TOTAL)
    for method in ("GET", "HEAD", "GET"):
        b = http_request(st.port, method, "/badge.svg", headers=browser())
        e.check(b.status == 200, "%s /badge.svg: %s" % (method, b.status))
    e.check((b.header("Content-Type") or "").startswith("image/svg+xml"),
            "badge Content-Type %r" % b.header("Content-Type"))
    e.check(b.header("Cache-Control") == "no-cache", "badge Cache-Control %r" % b.header("Cache-Control"))
    e.check(b.header("Cross-Origin-Resource-Policy") == "cross-origin",
            "badge Cross-Origin-Resource-Policy %r" % b.header("Cross-Origin-Resource-Policy"))
    e.check(re.search(rb">1,234,567</text>", b.body) and b"visits" in b.body,
            "the badge does not show visits 1,234,567")
    for p in xml_problems(b.body, "/badge.svg"):
        e.check(False, p)
    settle(time.monotonic())
    with redis(st) as r:
        e.check(r.call("GET", KEY_VISITS) == b"1234567" and r.hash(KEY_VIEWS_TOTAL) == total,
                "the badge counted: visits %s, views %s (before %s)" % (r.call("GET", KEY_VISITS),
                                                                        r.hash(KEY_VIEWS_TOTAL), total))
    for period in PERIODS:
        page = http_get(st.port, "/stats?period=" + period, headers=browser())
        charts = CHART_RE.findall(page.body)
        e.check(page.status == 200 and len(charts) >= 2, "/stats?period=%s: %s with %d charts"
                % (period, page.status, len(charts)))
        for i, chart in enumerate(charts):
            e.check(b"<title" in chart, "/stats?period=%s chart %d has no <title>" % (period, i + 1))
            for p in xml_problems(chart, "/stats?period=%s chart %d" % (period, i + 1)):
                e.check(False, p)
    e.raise_if_any()
