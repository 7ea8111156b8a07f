#!/bin/sh
# Container entrypoint for the worker. Under `init: true` the process tree is
#   docker-init (PID 1) -> this script -> khalid-fcgi (spawn-fcgi binds :9000, then execs it)
# so the worker's stderr is the container's log.
#
# On SIGTERM (docker stop, scale down) the worker closes its listening socket, finishes its
# in-flight requests and exits within a second. This script then keeps the container, and so
# its address, alive for STOP_DRAIN_SECONDS more (default 4): connections to it are refused
# at once, nginx retries them on another worker, and nginx/watch-upstream.sh drops this
# address before it vanishes. Without the pause the address would stop answering at all and
# a request sent there would wait for nginx's connect timeout.
set -u

DRAIN=${STOP_DRAIN_SECONDS:-4}
case $DRAIN in ''|*[!0-9]*) echo "khalid-fcgi-entrypoint: STOP_DRAIN_SECONDS=$DRAIN: expected whole seconds" >&2; exit 2 ;; esac

spawn-fcgi -n -p 9000 -a 0.0.0.0 -- /usr/bin/khalid-fcgi "$@" &
pid=$!

stopping=0
trap 'stopping=1; kill -TERM "$pid" 2>/dev/null' TERM INT

while :; do
    rc=0
    wait "$pid" || rc=$?
    kill -0 "$pid" 2>/dev/null || break   # gone (else wait was interrupted by the trap)
done

if [ "$stopping" = 1 ] && [ "$DRAIN" -gt 0 ]; then
    sleep "$DRAIN"
fi
exit "$rc"
