#!/bin/bash
# Container entrypoint for the worker. Under `init: true` the process tree is
#   docker-init (PID 1) -> this script -> khalid-fcgi (spawn-fcgi binds :9000, then execs it)
# so the worker's stderr is the container's log.
#
# The Redis password (user REDIS_USERNAME): REDIS_PASSWORD_FILE or REDIS_PASSWORD when set;
# else the secret /run/secrets/redis_worker_password when its first line holds one (always
# on Swarm, where a volume is on one node only); else /run/redis-auth/worker.pass, which the
# redis container writes at every start into the redis-auth volume (compose's default).
# Before the worker starts, this script waits up to REDIS_WAIT_SECONDS (default 30) for
# Redis to accept that password, reading the file again at each try: compose's depends_on
# is an order only (Swarm rejects conditions) and Swarm has none, so a worker started beside
# a Redis that is still starting, or rewriting worker.pass after a rotation, would
# otherwise hold a stale password. After the wait it starts anyway: / needs no Redis, and
# /count answers 503 until Redis is back.
#
# On SIGTERM (docker stop, scale down) the worker closes its listening socket, finishes its
# in-flight requests and exits within a second. This script then keeps the container, and so
# its address, alive for STOP_DRAIN_SECONDS more (default 4): connections to it are refused
# at once, nginx retries them on another worker, and nginx/watch-upstream.sh drops this
# address before it vanishes. Without the pause the address would stop answering at all and
# a request sent there would wait for nginx's connect timeout.
set -u

say() { echo "khalid-fcgi-entrypoint: $*" >&2; }

DRAIN=${STOP_DRAIN_SECONDS:-4}
case $DRAIN in ''|*[!0-9]*) say "STOP_DRAIN_SECONDS=$DRAIN: expected whole seconds"; exit 2 ;; esac
WAIT=${REDIS_WAIT_SECONDS:-30}
case $WAIT in ''|*[!0-9]*) say "REDIS_WAIT_SECONDS=$WAIT: expected whole seconds"; exit 2 ;; esac
SECRET=/run/secrets/redis_worker_password
HANDED=/run/redis-auth/worker.pass

holds_password() { [ -r "$1" ] && [ -n "$(head -n 1 "$1" | tr -d '\r')" ]; }

# redis_accepts FILE: Redis at REDIS_HOST:REDIS_PORT answers +OK to AUTH with the password
# in FILE (its first line, as the worker reads it), sent as a RESP array so that any byte
# may be in it; printf is a builtin, so the password is no process's argument. timeout
# bounds the connect, which bash's /dev/tcp does not.
read -r -d '' AUTH_PROBE <<'PROBE'
LC_ALL=C
IFS= read -r pw <"$1" || [ -n "$pw" ] || exit 1
pw=${pw%$'\r'}
exec 3<>"/dev/tcp/$2/$3" || exit 1
printf '*3\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' "${#4}" "$4" "${#pw}" "$pw" >&3
IFS= read -r answer <&3
[ "${answer%$'\r'}" = +OK ]
PROBE
redis_accepts() {
    timeout 3 bash -c "$AUTH_PROBE" _ "$1" "${REDIS_HOST:-redis}" "${REDIS_PORT:-6379}" "${REDIS_USERNAME:-default}" \
        2>/dev/null
}

if [ -z "${REDIS_PASSWORD_FILE:-}" ] && [ -z "${REDIS_PASSWORD:-}" ]; then
    if holds_password "$SECRET"; then
        export REDIS_PASSWORD_FILE=$SECRET
    else
        export REDIS_PASSWORD_FILE=$HANDED
    fi
fi
if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
    end=$((SECONDS + WAIT))
    until redis_accepts "$REDIS_PASSWORD_FILE"; do
        if [ "$SECONDS" -ge "$end" ]; then
            if holds_password "$REDIS_PASSWORD_FILE"; then
                say "Redis did not accept the password in $REDIS_PASSWORD_FILE within ${WAIT}s: starting anyway (/count answers 503 until it does)"
                break
            fi
            say "no Redis password: $REDIS_PASSWORD_FILE holds none after ${WAIT}s. On Swarm give the secret redis_worker_password (REDIS_WORKER_PASSWORD_FILE; README, Scaling out): the redis-auth volume exists only on Redis's node"
            exit 1
        fi
        sleep 0.5
    done
fi

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
