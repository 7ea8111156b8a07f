"""nginx's access log: one JSON object per line with the fields README (Operations) lists,
in $STATE_DIR/log/access.log natively."""
import datetime
import json
import os
import re

from integration.suite import test
from lib.http_client import http_request
from lib.results import Errors, expect

# The fields of every line, as nginx/nginx.conf.in's log_format khalid_json writes them.
FIELDS = ("time", "method", "path", "status", "bytes", "request_time", "upstream_addr",
          "upstream_response_time", "served_by", "client")


@test("nginx access log: one JSON object per request with the documented fields, "
      "no query string, the path escaped, served-by as the worker said")
def t_access_log_json(ctx):
    st = ctx.stack()
    # (method, path sent, path logged, status); the query must never reach the log.
    asked = [("GET", "/count?token=sekrit", "/count", 200),
             ("GET", "/", "/", 200),
             ("GET", "/no%22such%5Cpage%01", '/no"such\\page\x01', 404),
             ("HEAD", "/about", "/about", 200),
             ("GET", "/nginx-ping", "/nginx-ping", 200),
             ("POST", "/count", "/count", 405),
             ("GET", "/static/style.css", None, 200)]  # access_log off for static files
    answers = []
    for method, path, _, status in asked:
        r = http_request(st.port, method, path)
        expect(r.status == status, "%s %s answered %d, expected %d" % (method, path, r.status, status))
        answers.append(r)
    st.stop()  # nginx writes out its log buffer when it stops
    with open(os.path.join(st.state_dir, "log", "access.log"), "rb") as f:
        raw = f.read()
    expect(b"sekrit" not in raw, "the query string is in the access log")
    e = Errors()
    entries = []
    for n, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        try:
            entry = json.loads(line)
        except ValueError as err:
            e.check(False, "line %d is not JSON (%s): %r" % (n, err, line[:200]))
            continue
        if not isinstance(entry, dict) or tuple(entry) != FIELDS:
            e.check(False, "line %d: fields %s, expected %s" % (n, list(entry) if isinstance(entry, dict) else entry, list(FIELDS)))
            continue
        entries.append(entry)
    e.raise_if_any()
    # stack.sh's start-up probe asks /health until it answers. Each nginx process buffers
    # its own lines: the order between them is not the requests'.
    mine = [x for x in entries if x["path"] != "/health"]
    want = sorted((m, logged, status) for m, _, logged, status in asked if logged is not None)
    got = sorted((x["method"], x["path"], x["status"]) for x in mine)
    expect(got == want, "logged %s, expected %s" % (got, want))
    sockets = {"unix:" + st.worker_sock(i) for i in range(1, 4)}
    for x in entries:
        e.check(isinstance(x["status"], int) and isinstance(x["bytes"], int) and x["bytes"] >= 0,
                "status and bytes are not whole numbers: %s" % x)
        e.check(isinstance(x["request_time"], (int, float)) and x["request_time"] >= 0,
                "request_time is not a number of seconds: %s" % x)
        try:
            when = datetime.datetime.fromisoformat(x["time"])
            e.check(when.tzinfo is not None and abs(datetime.datetime.now(datetime.timezone.utc) - when)
                    < datetime.timedelta(minutes=5), "time %r is not now, with an offset" % x["time"])
        except ValueError:
            e.check(False, "time %r is not ISO 8601" % x["time"])
        e.check(x["client"] == "127.0.0.1", "client %r, the requests came from 127.0.0.1" % x["client"])
        for k in ("upstream_addr", "upstream_response_time", "served_by"):
            e.check(isinstance(x[k], str), "%s is not a string: %s" % (k, x))
    count = next(x for x in mine if (x["method"], x["status"]) == ("GET", 200) and x["path"] == "/count")
    ping = next(x for x in mine if x["path"] == "/nginx-ping")
    e.check(count["served_by"] == answers[0].header("X-Served-By") and
            re.fullmatch(r".+/\d+", count["served_by"] or ""),
            "served_by %r, the worker's X-Served-By was %r" % (count["served_by"], answers[0].header("X-Served-By")))
    e.check(count["bytes"] == len(answers[0].body), "/count: bytes %s, the body had %d"
            % (count["bytes"], len(answers[0].body)))
    for x in mine:
        if x["path"] != "/nginx-ping":
            e.check(x["upstream_addr"] in sockets, "%s: upstream_addr %r is not a worker's socket %s"
                    % (x["path"], x["upstream_addr"], sorted(sockets)))
            e.check(re.fullmatch(r"\d+\.\d{3}", x["upstream_response_time"]) is not None,
                    "%s: upstream_response_time %r is not seconds" % (x["path"], x["upstream_response_time"]))
    e.check((ping["upstream_addr"], ping["upstream_response_time"], ping["served_by"]) == ("", "", ""),
            "/nginx-ping, answered by nginx alone, logged upstream fields %s" % ping)
    e.raise_if_any()
