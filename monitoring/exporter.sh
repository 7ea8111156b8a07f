#!/bin/sh
# Starts one of the exporters Khalid Tracker's Prometheus scrapes, the same way natively
# (monitoring/run.sh) and in compose's monitoring profile (the exporters' images):
#
#   exporter.sh nginx  LISTEN STATUS_URL           nginx's stub_status
#   exporter.sh redis  LISTEN REDIS_ADDR PASS_FILE Redis as the user "metrics" (redis/acl.sh),
#                                                  with the password in PASS_FILE's first line
#   exporter.sh volume LISTEN                      node_exporter's filesystem collector alone:
#                                                  free space of every mount; Prometheus keeps
#                                                  the one holding Redis's data
#
# LISTEN is [address]:port. The Redis password reaches the exporter in its environment,
# never in its arguments.
set -eu
die() { echo "exporter.sh: $*" >&2; exit 2; }
[ $# -ge 2 ] || die "usage: exporter.sh nginx|redis|volume LISTEN ..."
what=$1 listen=$2
shift 2
case $what in
    nginx)
        [ $# = 1 ] || die "usage: exporter.sh nginx LISTEN STATUS_URL"
        # Its default is to exit at once when stub_status does not answer yet (nginx
        # starting, or reloading on a loaded host): wait for it instead, up to a minute.
        exec prometheus-nginx-exporter -web.listen-address "$listen" -nginx.scrape-uri "$1" \
            -nginx.retries 30 -nginx.retry-interval 2s ;;
    redis)
        [ $# = 2 ] || die "usage: exporter.sh redis LISTEN REDIS_ADDR PASS_FILE"
        [ -r "$2" ] || die "cannot read the Redis password file $2"
        REDIS_PASSWORD=$(head -n 1 "$2")
        [ -n "$REDIS_PASSWORD" ] || die "$2 holds no password"
        export REDIS_PASSWORD REDIS_USER=metrics
        exec prometheus-redis-exporter -web.listen-address "$listen" -redis.addr "$1" -redis-only-metrics ;;
    volume)
        [ $# = 0 ] || die "usage: exporter.sh volume LISTEN"
        # Every mount but the kernel's pseudo file systems; overlay included, as Docker's
        # volumes (or a native state directory) may live on one.
        exec prometheus-node-exporter --web.listen-address="$listen" --collector.disable-defaults \
            --collector.filesystem --web.disable-exporter-metrics \
            --collector.filesystem.mount-points-exclude='^/(proc|sys|dev)($|/)' \
            --collector.filesystem.fs-types-exclude='^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|mqueue|nsfs|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$' ;;
    *) die "unknown exporter '$what': nginx, redis or volume" ;;
esac
