#!/bin/sh
# Prometheus in compose's monitoring profile: renders the one configuration for the
# compose services' names (monitoring/render.sh) onto a tmpfs, then becomes Prometheus, with
# its data on the volume at /prometheus. SCRAPE_INTERVAL (seconds, default 15).
set -eu
LIB=/usr/local/lib/khalid-tracker/monitoring
CONF=/run/prometheus/prometheus.yml
PROM_SCRAPE_INTERVAL=${SCRAPE_INTERVAL:-15} PROM_RULE_FILE=/etc/khalid-tracker/rules/khalid.yml \
PROM_SITE=nginx:8080 PROM_NGINX_EXPORTER=nginx-exporter:9113 PROM_REDIS_EXPORTER=redis-exporter:9121 \
PROM_VOLUME_EXPORTER=redis-volume:9100 PROM_VOLUME_MOUNTPOINT=/data \
    "$LIB/render.sh" "$LIB/prometheus.yml.in" >"$CONF"
exec prometheus --config.file="$CONF" --storage.tsdb.path=/prometheus --web.listen-address=:9090 \
    --web.console.templates=/etc/prometheus/consoles --web.console.libraries=/etc/prometheus/console_libraries "$@"
