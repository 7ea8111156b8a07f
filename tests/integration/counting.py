"""Exact counting: every /count of a large concurrent burst raises `visits` by exactly one
and shows its own number; and nginx spreads the requests over every worker."""
import re
import socket
import time

from integration.suite import running_workers, same_workers, start_times, test
from lib.http_client import http_get
from lib.load import burst, failures
from lib.pagecheck import visits_on
from lib.results import Errors, expect


@test("exact counting: 5000 requests at 50 connections")
def t_counting(ctx):
    st = ctx.stack()
    total, conns = 5000, 50
    starts = start_times(st.worker_pids())
    before = st.visits()
    log_lines_before = st.log_text().count("khalid-fcgi[")
    t0 = time.monotonic()
    results = burst(st.port, "/count", total, conns, timeout=90)
    elapsed = time.monotonic() - t0
    after = st.visits()
    seen = [visits_on(r[1].text) for r in results if r[0] == 200]
    expect(len(results) == total, "%d answers for %d requests" % (len(results), total))
    expect(not failures(results), failures(results))
    expect(after - before == total, "visits rose by %d (from %d to %d), expected exactly %d"
           % (after - before, before, after, total))
    expect(None not in seen, "%d pages without a visits number" % seen.count(None))
    expect(len(set(seen)) == total, "only %d distinct numbers shown on %d pages" % (len(set(seen)), total))
    expect(min(seen) == before + 1 and max(seen) == after,
           "pages showed %d..%d, expected %d..%d" % (min(seen), max(seen), before + 1, after))
    new_lines = st.log_text().count("khalid-fcgi[") - log_lines_before
    expect(new_lines == 0, "the workers logged %d lines during %d successful requests (one per request?)"
           % (new_lines, total))
    e = Errors()
    same_workers(e, starts, "during the burst")
    e.raise_if_any()
    ctx.note("%d requests at %d connections in %.1f s (%.0f/s)" % (total, conns, elapsed, total / elapsed))


@test("requests spread over all workers (served-by)")
def t_spread(ctx):
    st = ctx.stack()
    pids = running_workers(st)
    host = socket.gethostname()
    seen = {}
    for _ in range(60):
        r = http_get(st.port, "/count")
        expect(r.status == 200, "/count answered %s" % r.status)
        sb = r.header("X-Served-By") or ""
        m = re.fullmatch(r"(.+)/(\d+)", sb)
        expect(m is not None, "X-Served-By %r is not host/pid" % sb)
        expect(m.group(1) == host, "X-Served-By host %r, this machine is %r" % (m.group(1), host))
        pid = int(m.group(2))
        page = re.search(r'class="served-by">Served by <code>([^<]*)</code> · pid (\d+)<', r.text)
        expect(page is not None and page.group(1) == host and int(page.group(2)) == pid,
               "the page's served-by (%s) does not match the header %r" % (page and page.groups(), sb))
        seen[pid] = seen.get(pid, 0) + 1
    expect(set(seen) == set(pids), "served by %s, the workers are %s" % (seen, pids))
