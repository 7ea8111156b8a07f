#!/usr/bin/env bash
# `make monitor`: Prometheus (Debian's package) for the running native stack, in the
# foreground, with the configuration and rules compose's monitoring profile uses. It starts
# the three exporters it scrapes beside it, each on a free port on 127.0.0.1: nginx's
# (stub_status at /nginx-status), Redis's (the stack's unix socket, as the Redis user
# "metrics"), and node_exporter's filesystem collector alone, for the file system holding
# $STATE_DIR/redis. Ctrl-C or SIGTERM stops all four; the data stays in
# $STATE_DIR/prometheus.
#
# Settings (environment): PORT (5000) and STATE_DIR (./var), those of the stack to watch
# (scripts/stack.sh); PROMETHEUS_PORT (9090): the UI and API on 127.0.0.1:PROMETHEUS_PORT;
# SCRAPE_INTERVAL (15): seconds between scrapes and rule evaluations; MONITOR_RULES
# (monitoring/rules/khalid.yml): the rule file (the integration test loads a copy with
# shorter `for:` durations).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-5000}
STATE_DIR=${STATE_DIR:-./var}
PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
SCRAPE_INTERVAL=${SCRAPE_INTERVAL:-15}
MONITOR_RULES=${MONITOR_RULES:-$repo/monitoring/rules/khalid.yml}

die() { echo "monitor: $*" >&2; exit 2; }
for v in PORT PROMETHEUS_PORT; do
    eval "p=\$$v"
    case $p in ''|*[!0-9]*) die "$v=$p: expected a port number" ;; esac
    [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "$v=$p: expected 1..65535"
done
[ -d "$STATE_DIR/redis" ] || die "$STATE_DIR/redis does not exist: start the stack first (make run, with the same STATE_DIR)"
state=$(cd "$STATE_DIR" && pwd)
[ -r "$MONITOR_RULES" ] || die "MONITOR_RULES=$MONITOR_RULES: cannot read it"
metrics_pass=$state/secrets/redis-metrics.pass
[ -r "$metrics_pass" ] || die "$metrics_pass is missing: start the stack (make run) once, it writes it"

dir=$state/prometheus
mkdir -p "$dir/data" "$state/log"

# free_ports N: N TCP ports on 127.0.0.1 that were free a moment ago (the exporters take
# them at once; one taken meanwhile makes that exporter exit, which is reported below).
free_ports() {
    python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}
read -r nginx_port redis_port volume_port <<<"$(free_ports 3)"

pids=()
stop_all() {
    trap '' INT TERM
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

# start NAME COMMAND...: one exporter in the background, its output in $state/log/NAME.log.
start() {
    local name=$1; shift
    "$@" >"$state/log/$name.log" 2>&1 &
    pids+=($!)
}
exporter=$repo/monitoring/exporter.sh
start nginx-exporter "$exporter" nginx "127.0.0.1:$nginx_port" "http://127.0.0.1:$PORT/nginx-status"
start redis-exporter "$exporter" redis "127.0.0.1:$redis_port" "unix://$state/run/redis.sock" "$metrics_pass"
start volume-exporter "$exporter" volume "127.0.0.1:$volume_port"

conf=$dir/prometheus.yml
PROM_SCRAPE_INTERVAL=$SCRAPE_INTERVAL PROM_RULE_FILE=$(cd "$(dirname "$MONITOR_RULES")" && pwd)/$(basename "$MONITOR_RULES") \
PROM_SITE=127.0.0.1:$PORT PROM_NGINX_EXPORTER=127.0.0.1:$nginx_port PROM_REDIS_EXPORTER=127.0.0.1:$redis_port \
PROM_VOLUME_EXPORTER=127.0.0.1:$volume_port PROM_VOLUME_MOUNTPOINT=$(df -P "$state/redis" | awk 'NR == 2 { print $NF }') \
    "$repo/monitoring/render.sh" "$repo/monitoring/prometheus.yml.in" >"$conf" || die "cannot write $conf (see above)"
promtool check config --syntax-only "$conf" >/dev/null || die "promtool rejects $conf"

# Each exporter answers before Prometheus starts, or its log says why not.
for name_port in nginx-exporter:$nginx_port redis-exporter:$redis_port volume-exporter:$volume_port; do
    for _ in $(seq 50); do
        curl -fsS -o /dev/null "http://127.0.0.1:${name_port#*:}/metrics" 2>/dev/null && continue 2
        sleep 0.1
    done
    die "${name_port%:*} did not answer on 127.0.0.1:${name_port#*:} within 5 s: $(tail -n 3 "$state/log/${name_port%:*}.log")"
done
echo "monitor: Prometheus on http://127.0.0.1:$PROMETHEUS_PORT/ for the stack on port $PORT (state in $state); Ctrl-C stops it" >&2
prometheus --config.file="$conf" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --web.console.templates=/etc/prometheus/consoles --web.console.libraries=/etc/prometheus/console_libraries &
pids+=($!)
wait "${pids[-1]}"
