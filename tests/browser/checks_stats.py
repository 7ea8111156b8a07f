"""The browser suite's checks of /stats: the views seeded from people's browsers, the
charts (a title each, and a table of their numbers), the top lists and the period switch.
A mixin of browser.suite.Suite, which provides the stack, the browser and the results."""
import json
import re
import time

from selenium.webdriver.common.by import By

from browser import site
from browser.probes import JS_STATS
from lib.results import Failure
from lib.stack import http_get


class StatsChecks:
    # -- /stats
    def api_views(self):
        r = http_get(self.stack.port, "/api/stats")
        if r.status != 200:
            raise Failure("/api/stats answered %d" % r.status)
        return json.loads(r.text)["views"]

    def seed_views(self):
        """Sends site.SEED_VIEWS and waits until /api/stats counts them, each once."""
        with self.r.check("stats: %d views from people's browsers show in /api/stats" % len(site.SEED_VIEWS)) as p:
            before = self.api_views()
            for ua, referer, path in site.SEED_VIEWS:
                headers = {"User-Agent": ua, **({"Referer": referer} if referer else {})}
                status = http_get(self.stack.port, path, headers=headers).status
                if status != 200:
                    p.append("%s answered %d" % (path, status))
                    return
            want = before + len(site.SEED_VIEWS)
            t0 = time.monotonic()
            views = before
            # Workers flush views once a second; a generous bound, as this is not the test
            # of that promise (the integration tests are).
            while views < want and time.monotonic() - t0 < 5:
                time.sleep(0.1)
                views = self.api_views()
            if views != want:
                p.append("/api/stats shows %d views after %.1f s, expected %d" % (views, time.monotonic() - t0, want))
            else:
                self.r.note("stats: the seeded views showed after %.1f s" % (time.monotonic() - t0))

    def stats_page(self):
        """The charts, the top lists and the period switch of /stats."""
        b = self.browser
        b.set_viewport("desktop")
        b.load(self.url("/stats"))
        data = b.js(JS_STATS)
        with self.r.check("stats: each chart has a <title> and its numbers in a table, a row per bar") as p:
            names = [e.accessible_name for e in b.driver.find_elements(By.CSS_SELECTOR, "svg.chart")]
            if len(data["charts"]) != 2:
                p.append("%d charts, expected 2 (per hour and per day)" % len(data["charts"]))
            for c, name in zip(data["charts"], names):
                self.chart_problems(c, name, p)
        with self.r.check("stats: five top lists, tables named by their headings, bars hidden from "
                          "assistive technology and scaled to the largest") as p:
            headings = [x["heading"] for x in data["lists"]]
            if headings != ["Pages", "Referrers", "Browsers", "Systems", "Devices"]:
                p.append("the lists are %s" % headings)
            for x in data["lists"]:
                self.list_problems(x, p)
            referrers = {r["name"] for x in data["lists"] if x["heading"] == "Referrers" for r in x["rows"] or []}
            seeded = {re.sub(r"^https://([^/]+).*", r"\1", ref) for _, ref, _ in site.SEED_VIEWS if ref}
            if not seeded <= referrers:
                p.append("the referrers list lacks %s" % ", ".join(sorted(seeded - referrers)))
        with self.r.check("stats: the period switch marks the period shown (aria-current, and visibly), "
                          "the JSON link follows it") as p:
            for period in [None] + list(site.PERIODS):
                path = "/stats" + ("?period=" + period if period else "")
                if period:
                    b.load(self.url(path))
                    data = b.js(JS_STATS)
                self.period_problems(path, period or "day", data, p)

    def chart_problems(self, c, name, p):
        """Problems of one chart as JS_STATS read it; name is its computed accessible name."""
        label = c["title"] or c["caption"] or "a chart"
        if not c["title"]:
            p.append("%r has no <title>" % label)
        elif c["title"] not in (name or ""):
            p.append("%r: its accessible name is %r" % (label, name))
        if c["role"] != "img":
            p.append("%r: role %r, expected img" % (label, c["role"]))
        if c["rows"] is None:
            p.append("%r: no table in a details.chart-numbers" % label)
            return
        bars = [len(s) for s in c["series"]]
        if not bars or min(bars) == 0 or len(set(bars)) != 1:
            p.append("%r: series of %s bars" % (label, bars))
            return
        if len(c["rows"]) != bars[0]:
            p.append("%r: %d bars, %d table rows" % (label, bars[0], len(c["rows"])))
            return
        # Each bar's title ("12-01: 1,234 views") against its row ("2026-12-01", "1,234", ...).
        for i, row in enumerate(c["rows"]):
            for k, titles in enumerate(c["series"]):
                when, _, value = titles[i].partition(": ")
                if len(row) != 1 + len(c["series"]) or not row[0].endswith(when) or row[1 + k] != value.split(" ")[0]:
                    p.append("%r: bar %r, table row %r" % (label, titles[i], row))
                    return

    def list_problems(self, x, p):
        """Problems of one top list as JS_STATS read it. After seed_views no list is empty."""
        if x["rows"] is None:
            p.append("%r: no table%s" % (x["heading"], " (%r)" % x["empty"] if x["empty"] else ""))
            return
        if not x["named"]:
            p.append("%r: the table is not named by the heading (aria-labelledby)" % x["heading"])
        try:
            views = [int(r["views"].replace(",", "")) for r in x["rows"]]
        except ValueError:
            p.append("%r: views %s" % (x["heading"], [r["views"] for r in x["rows"]]))
            return
        if not views or views != sorted(views, reverse=True):
            p.append("%r: views %s, expected most first" % (x["heading"], views))
            return
        shown = [r["name"] for r in x["rows"] if not r["hidden"]]
        if shown:
            p.append("%r: %d bars not aria-hidden (%s)" % (x["heading"], len(shown), ", ".join(map(repr, shown[:3]))))
        for r, v in zip(x["rows"], views):
            want = max(1, v * 100 // max(views[0], 1))
            if r["width"] != want:
                p.append("%r, %r: bar %s wide for %d of %d views, expected %d"
                         % (x["heading"], r["name"], r["width"], v, views[0], want))
                return

    def period_problems(self, path, period, data, p):
        """Problems of the period switch and the JSON link of /stats as JS_STATS read it at
        path, which shows period."""
        links = data["periods"]
        if [x["text"] for x in links] != list(site.PERIODS.values()):
            p.append("%s: period links %s" % (path, [x["text"] for x in links]))
            return
        current = [x for x in links if x["current"] == "page"]
        if [x["text"] for x in current] != [site.PERIODS[period]]:
            p.append("%s: aria-current on %s, expected %r" % (path, [x["text"] for x in current], site.PERIODS[period]))
        elif any(x["background"] == current[0]["background"] for x in links if x is not current[0]):
            p.append("%s: the current period looks like the others (background %s)" % (path, current[0]["background"]))
        if data["json"] != [self.url("/api/stats?period=" + period)]:
            p.append("%s: JSON links %s, expected %s" % (path, data["json"], self.url("/api/stats?period=" + period)))

    # -- JavaScript off
