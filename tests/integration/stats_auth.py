"""Private statistics: STATS_PASSWORD puts /stats and /api/ behind HTTP basic auth in
nginx (render-conf.sh), while the pages, the badge and /health stay public."""
import base64

from integration.suite import test
from lib.http_client import http_get
from lib.results import Errors

PASSWORD = "correct horse battery staple"


def auth(user, password):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()}


@test("STATS_PASSWORD: /stats and /api/ need it, the rest stays public")
def t_stats_password(ctx):
    st = ctx.stack(workers=1, env={"STATS_PASSWORD": PASSWORD})
    e = Errors()
    private = ("/stats", "/api/stats", "/api/stats?period=7d", "/api/export.csv")
    for path in private:
        r = http_get(st.port, path)
        e.check(r.status == 401, "%s without a password answered %s" % (path, r.status))
        e.check("Basic" in (r.header("WWW-Authenticate") or ""), "%s: no Basic challenge" % path)
        r = http_get(st.port, path, headers=auth("stats", "wrong"))
        e.check(r.status == 401, "%s with a wrong password answered %s" % (path, r.status))
        r = http_get(st.port, path, headers=auth("stats", PASSWORD))
        e.check(r.status == 200, "%s with the password answered %s" % (path, r.status))
    for path in ("/", "/count", "/about", "/health", "/badge.svg", "/static/style.css"):
        r = http_get(st.port, path)
        e.check(r.status == 200, "%s (public) answered %s" % (path, r.status))
    e.raise_if_any()


@test("no STATS_PASSWORD: the statistics are public")
def t_stats_public(ctx):
    st = ctx.stack(workers=1)
    e = Errors()
    for path in ("/stats", "/api/stats", "/api/export.csv"):
        r = http_get(st.port, path)
        e.check(r.status == 200, "%s answered %s" % (path, r.status))
    e.raise_if_any()
