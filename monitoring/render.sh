#!/bin/sh
# Fills the @NAME@ placeholders of monitoring/prometheus.yml.in from the environment and
# prints the result. Used by monitoring/run.sh (make monitor, natively) and by the
# Prometheus container's entrypoint, so both run one configuration.
#
#   render.sh TEMPLATE
#
# Every variable must be set (no default hides a mistake):
#   PROM_SCRAPE_INTERVAL    seconds between scrapes and rule evaluations (1-300)
#   PROM_RULE_FILE          the rule file to load
#   PROM_SITE               host:port of nginx, which serves every worker's /metrics
#   PROM_NGINX_EXPORTER, PROM_REDIS_EXPORTER, PROM_VOLUME_EXPORTER   their host:port
#   PROM_VOLUME_MOUNTPOINT  the mount point of the file system holding Redis's data
set -eu
template=${1:?usage: render.sh TEMPLATE}
fail() { echo "monitoring/render.sh: $*" >&2; exit 2; }
for v in PROM_SCRAPE_INTERVAL PROM_RULE_FILE PROM_SITE PROM_NGINX_EXPORTER PROM_REDIS_EXPORTER \
         PROM_VOLUME_EXPORTER PROM_VOLUME_MOUNTPOINT; do
    eval "val=\${$v?monitoring/render.sh: $v is not set}"
    # The values go into YAML strings and a sed replacement.
    case $val in ''|*[!A-Za-z0-9._/:@+=~-]*) fail "$v='$val': letters, digits and ._/:@+=~- only" ;; esac
done
case $PROM_SCRAPE_INTERVAL in *[!0-9]*) fail "PROM_SCRAPE_INTERVAL=$PROM_SCRAPE_INTERVAL: a number of seconds" ;; esac
[ "$PROM_SCRAPE_INTERVAL" -ge 1 ] && [ "$PROM_SCRAPE_INTERVAL" -le 300 ] ||
    fail "PROM_SCRAPE_INTERVAL=$PROM_SCRAPE_INTERVAL: expected 1..300"
# A scrape may take at most the interval (Prometheus refuses a longer timeout), and 10 s.
timeout=$PROM_SCRAPE_INTERVAL
[ "$timeout" -gt 10 ] && timeout=10
# The mount point is matched as a regular expression: its dots and plus signs are literal.
mountpoint=$(printf '%s' "$PROM_VOLUME_MOUNTPOINT" | sed 's/[.+]/\\\\&/g')
sed -e "s|@SCRAPE_INTERVAL@|${PROM_SCRAPE_INTERVAL}s|g" \
    -e "s|@SCRAPE_TIMEOUT@|${timeout}s|g" \
    -e "s|@RULE_FILE@|$PROM_RULE_FILE|g" \
    -e "s|@SITE@|$PROM_SITE|g" \
    -e "s|@NGINX_EXPORTER@|$PROM_NGINX_EXPORTER|g" \
    -e "s|@REDIS_EXPORTER@|$PROM_REDIS_EXPORTER|g" \
    -e "s|@VOLUME_EXPORTER@|$PROM_VOLUME_EXPORTER|g" \
    -e "s|@VOLUME_MOUNTPOINT@|$mountpoint|g" \
    "$template"
