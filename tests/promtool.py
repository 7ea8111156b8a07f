#!/usr/bin/python3
"""promtool on the monitoring configuration (monitoring/): the rules are valid, the
Prometheus configuration renders valid for the native stack and for compose, and every
test group of monitoring/rules/khalid.test.yml passes, each run alone as one check; last,
that the tests cover every rule: each recording rule's value, each alert both firing and
not firing.

    /usr/bin/python3 tests/promtool.py

Prints "ok - name" or "FAIL - name: reason" per check and "N passed, N failed" last; exits
1 if anything failed. Needs promtool (Debian package prometheus) and PyYAML (Debian's
python3-yaml, hence /usr/bin/python3).
"""
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path[0] = TESTS_DIR

from lib.results import Results, expect  # noqa: E402
from lib.stack import REPO  # noqa: E402

MONITORING = os.path.join(REPO, "monitoring")
RULES = os.path.join(MONITORING, "rules", "khalid.yml")
RULE_TESTS = os.path.join(MONITORING, "rules", "khalid.test.yml")

# What monitoring/run.sh (native) and the Prometheus container (compose.yml) render.
RENDERINGS = {
    "native (make monitor)": {
        "PROM_SCRAPE_INTERVAL": "15", "PROM_RULE_FILE": RULES, "PROM_SITE": "127.0.0.1:5000",
        "PROM_NGINX_EXPORTER": "127.0.0.1:40001", "PROM_REDIS_EXPORTER": "127.0.0.1:40002",
        "PROM_VOLUME_EXPORTER": "127.0.0.1:40003", "PROM_VOLUME_MOUNTPOINT": "/",
    },
    "compose (monitoring profile)": {
        "PROM_SCRAPE_INTERVAL": "15", "PROM_RULE_FILE": RULES, "PROM_SITE": "nginx:8080",
        "PROM_NGINX_EXPORTER": "nginx-exporter:9113", "PROM_REDIS_EXPORTER": "redis-exporter:9121",
        "PROM_VOLUME_EXPORTER": "redis-volume:9100", "PROM_VOLUME_MOUNTPOINT": "/data",
    },
}


def promtool(*args, stdin=None):
    r = subprocess.run(["promtool"] + list(args), input=stdin, capture_output=True, timeout=30)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def check_rules():
    rc, out = promtool("check", "rules", RULES)
    expect(rc == 0, "promtool check rules: " + out.strip())


def check_config(env, tmp):
    conf = os.path.join(tmp, "prometheus.yml")
    with open(conf, "wb") as f:
        r = subprocess.run([os.path.join(MONITORING, "render.sh"), os.path.join(MONITORING, "prometheus.yml.in")],
                           env=dict(env, PATH="/usr/bin:/bin"), stdout=f, stderr=subprocess.PIPE, timeout=10)
    expect(r.returncode == 0, "render.sh failed: " + r.stderr.decode().strip())
    rc, out = promtool("check", "config", conf)
    expect(rc == 0, "promtool check config: " + out.strip())


def run_group(tests, group, tmp):
    """One test group alone, in a file of its own (promtool reports per file)."""
    path = os.path.join(tmp, "group.test.yml")
    with open(path, "w") as f:
        yaml.safe_dump({"rule_files": [RULES], "evaluation_interval": tests["evaluation_interval"],
                        "tests": [group]}, f, sort_keys=False)
    rc, out = promtool("test", "rules", path)
    expect(rc == 0, "promtool test rules: " + " ".join(out.split()))


def coverage(tests):
    with open(RULES) as f:
        rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
    groups = tests["tests"]
    fired = {a["alertname"] for g in groups for a in g.get("alert_rule_test", []) if a.get("exp_alerts")}
    silent = {a["alertname"] for g in groups for a in g.get("alert_rule_test", []) if not a.get("exp_alerts")}
    exprs = " ".join(t["expr"] for g in groups for t in g.get("promql_expr_test", []))
    problems = []
    for r in rules:
        if "alert" in r:
            if r["alert"] not in fired:
                problems.append("no test where %s fires" % r["alert"])
            if r["alert"] not in silent:
                problems.append("no test where %s stays silent" % r["alert"])
        elif r["record"] not in exprs:
            problems.append("no promql_expr_test of %s" % r["record"])
    expect(not problems, "; ".join(problems))


def main():
    res = Results()
    if shutil.which("promtool") is None:
        res.fail("setup", "promtool is missing (Debian package prometheus): make deps installs it")
        return res.summary()
    with open(RULE_TESTS) as f:
        tests = yaml.safe_load(f)
    with tempfile.TemporaryDirectory(prefix="kt-promtool-") as tmp:
        res.run("promtool check rules monitoring/rules/khalid.yml", check_rules)
        for name, env in RENDERINGS.items():
            res.run("prometheus.yml.in renders a valid configuration: " + name, check_config, env, tmp)
        for group in tests["tests"]:
            res.run("rule test: " + group["name"], run_group, tests, group, tmp)
        res.run("the rule tests cover every recording rule, and every alert firing and silent", coverage, tests)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
