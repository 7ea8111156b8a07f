#!/usr/bin/env bash
# The native Khalid Tracker stack, in the foreground: Redis (data in $STATE_DIR/redis),
# $WORKERS spawn-fcgi workers on unix sockets, and nginx on 127.0.0.1:$PORT.
# Ctrl-C or SIGTERM stops everything cleanly: nginx first, then the workers (they finish
# their requests), then Redis (which flushes its AOF), so no count is lost.
#
#   scripts/stack.sh run      the whole stack (what `make run` calls)
#   scripts/stack.sh redis    only Redis, in the foreground, as the stack runs it (tests
#                             use it to bring Redis back after stopping it)
#
# Settings (environment): PORT (5000), WORKERS (2), STATE_DIR (./var), KHALID_WORKER (the
# binary), FCGI_THREADS (64), FASTCGI_KEEPALIVE (idle nginx->worker connections kept per
# nginx process; 0 = off; unset: 3/4 of FCGI_THREADS / NGINX_WORKER_PROCESSES),
# KHALID_WORKER_WRAPPER (a command the worker runs under, e.g. valgrind),
# NGINX_WORKER_PROCESSES (1), REDIS_PASSWORD (sets the Redis admin password), plus the
# worker's own variables (FCGI_THREADS, APP_NAME, ...), which are passed through to it; its
# Redis user and password are this script's. Redis's users (redis/acl.sh) get random
# passwords on the first start, kept in $STATE_DIR/secrets/redis-{admin,worker,health,metrics}.pass
# (0600); REDIS_PASSWORD replaces the admin one there.
# HTTPS (nginx/render-conf.sh): TLS_CERT + TLS_KEY (+ TLS_CHAIN), or TLS=self-signed (a CA
# and certificate for SERVER_NAME kept in $STATE_DIR/tls), serve https://127.0.0.1:HTTPS_PORT
# (5443) and make plain HTTP redirect there; HSTS_MAX_AGE (31536000).
# nginx's rate limit (render-conf.sh): RATE_LIMIT (10 requests a second per client; 0: off),
# RATE_BURST (20), RATE_LIMIT_EXEMPT (networks never limited).
# A Redis that dies (a crash, SIGKILL, the OOM killer) is restarted within a second, then
# after 1, 2, 4 ... 30 s while it keeps dying within 10 s of a restart; one that exits
# cleanly (SIGTERM, SHUTDOWN: stopped on purpose) is left stopped.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-5000}
WORKERS=${WORKERS:-2}
STATE_DIR=${STATE_DIR:-./var}
KHALID_WORKER=${KHALID_WORKER:-$repo/build/release/khalid-fcgi}

die() { echo "stack: $*" >&2; exit 2; }
case $PORT in ''|*[!0-9]*) die "PORT=$PORT: expected a port number" ;; esac
[ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "PORT=$PORT: expected 1..65535"
HTTPS_PORT=${HTTPS_PORT:-5443}
case $HTTPS_PORT in ''|*[!0-9]*) die "HTTPS_PORT=$HTTPS_PORT: expected a port number" ;; esac
[ "$HTTPS_PORT" -ge 1 ] && [ "$HTTPS_PORT" -le 65535 ] && [ "$HTTPS_PORT" != "$PORT" ] ||
    die "HTTPS_PORT=$HTTPS_PORT: expected 1..65535, other than PORT"
https=""
[ -n "${TLS:-}${TLS_CERT:-}${TLS_KEY:-}${TLS_CHAIN:-}" ] && https=1
case $WORKERS in ''|*[!0-9]*) die "WORKERS=$WORKERS: expected a number" ;; esac
[ "$WORKERS" -ge 1 ] && [ "$WORKERS" -le 64 ] || die "WORKERS=$WORKERS: expected 1..64"

# FastCGI keep-alive between nginx and the workers (see README, Performance): unless
# FASTCGI_KEEPALIVE says otherwise, each nginx process keeps up to 3/4 of a worker's
# threads' worth of idle connections (nginx/keepalive.sh has the rule and the check).
nginx_processes=${NGINX_WORKER_PROCESSES:-1}
export FCGI_THREADS=${FCGI_THREADS:-64}
keepalive=$("$repo/nginx/keepalive.sh" "${FASTCGI_KEEPALIVE:-}" "$FCGI_THREADS" "$nginx_processes") ||
    die "invalid keep-alive settings (see above)"
nginx_processes=$((10#$nginx_processes))  # plain decimal for nginx.conf; checked above

mkdir -p "$STATE_DIR"
state=$(cd "$STATE_DIR" && pwd)
run=$state/run
mkdir -p "$run" "$state/redis" "$state/nginx/temp" "$state/log"
chmod 0700 "$run"
redis_sock=$run/redis.sock

# Redis's users: default (the admin), khalid (the workers) and health (the start-up check).
secrets=$state/secrets
admin_pass=$secrets/redis-admin.pass worker_pass=$secrets/redis-worker.pass health_pass=$secrets/redis-health.pass
# ... and metrics, for Prometheus's Redis exporter (make monitor, monitoring/run.sh).
metrics_pass=$secrets/redis-metrics.pass
mkdir -p "$secrets"
chmod 0700 "$secrets"
if [ -n "${REDIS_PASSWORD:-}" ]; then
    # The worker and redis/acl.sh read a password file's first line only.
    case $REDIS_PASSWORD in *[$'\r\n']*) die "REDIS_PASSWORD contains a line break" ;; esac
    (umask 0077 && printf '%s\n' "$REDIS_PASSWORD" >"$admin_pass.new") && mv -f "$admin_pass.new" "$admin_pass"
fi
# The workers authenticate as khalid, never with the admin password.
unset REDIS_PASSWORD
"$repo/redis/password.sh" 0600 "$admin_pass" "$worker_pass" "$health_pass" "$metrics_pass" ||
    die "cannot write the Redis passwords in $secrets"

redis_foreground() {
    (umask 0077 && "$repo/redis/acl.sh" "$admin_pass" "$worker_pass" "$health_pass" "$metrics_pass" >"$run/redis.acl") ||
        die "cannot write Redis's users to $run/redis.acl (see above)"
    # Redis listens only on a unix socket here: no port to collide with another stack.
    exec redis-server "$repo/redis/redis.conf" --port 0 --unixsocket "$redis_sock" \
        --unixsocketperm 700 --dir "$state/redis" --pidfile "$run/redis.pid" --aclfile "$run/redis.acl"
}

if [ "${1:-run}" = redis ]; then
    redis_foreground
fi
[ "${1:-run}" = run ] || die "usage: stack.sh [run|redis]"
[ -x "$KHALID_WORKER" ] || die "$KHALID_WORKER is missing: run make first"

worker_pids=()
stopping=0
stop_all() {
    [ "$stopping" = 1 ] && return
    stopping=1
    trap '' INT TERM
    echo "stack: stopping" >&2
    # nginx first (graceful: open requests finish), then the workers, then Redis.
    [ -f "$run/nginx.pid" ] && kill -QUIT "$(cat "$run/nginx.pid")" 2>/dev/null || true
    wait "${nginx_pid:-0}" 2>/dev/null || true
    for p in "${worker_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${worker_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -f "$run/redis.pid" ] && kill -TERM "$(cat "$run/redis.pid")" 2>/dev/null || true
    wait "${redis_pid:-0}" 2>/dev/null || true
    # A Redis restarted by hand (tests do) is not our child: wait for it by its pid file.
    for _ in $(seq 100); do
        [ -f "$run/redis.pid" ] && kill -0 "$(cat "$run/redis.pid")" 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$run"/*.sock "$run"/*.pid "$run/ready"
    echo "stack: stopped; data kept in $state" >&2
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

redis_foreground &
redis_pid=$!
for _ in $(seq 100); do
    REDISCLI_AUTH=$(<"$health_pass") redis-cli --user health -s "$redis_sock" ping 2>/dev/null | grep -q PONG && break
    kill -0 "$redis_pid" 2>/dev/null || die "redis-server did not start"
    sleep 0.1
done

export REDIS_HOST=$redis_sock REDIS_USERNAME=khalid REDIS_PASSWORD_FILE=$worker_pass \
    TEMPLATE_DIR=${TEMPLATE_DIR:-$repo/templates}
"$KHALID_WORKER" --check >/dev/null || die "the worker's configuration is invalid (see above)"
servers=()
for i in $(seq "$WORKERS"); do
    sock=$run/worker-$i.sock
    rm -f "$sock"
    # -n: spawn-fcgi binds the socket and execs the worker, so $! is the worker.
    # KHALID_WORKER_WRAPPER (e.g. "valgrind -q") runs in the same process as the worker.
    # shellcheck disable=SC2086
    spawn-fcgi -n -s "$sock" -M 0600 -- ${KHALID_WORKER_WRAPPER:-} "$KHALID_WORKER" >&2 &
    worker_pids+=($!)
    echo "$!" >"$run/worker-$i.pid"
    servers+=("unix:$sock")
done
# FastCGI keep-alive saves a connect/accept/close per request, but pins a worker thread to
# each open connection (libfcgi waits for the next request on it): see nginx/keepalive.sh
# and README, Performance.
upstream=$state/nginx/upstream.conf
"$repo/nginx/upstream.sh" "$keepalive" "${servers[@]}" >"$upstream" || die "cannot write $upstream (see above)"

# As root nginx would run its workers as "nobody", who cannot reach our 0600 sockets or
# the repository: this native stack is a development stack and keeps one user. The
# container images run nginx workers and FastCGI workers as unprivileged users.
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root root;"
conf=$state/nginx/nginx.conf
NGINX_USER_LINE=$user_line NGINX_WORKER_PROCESSES=$nginx_processes \
NGINX_PID_FILE=$run/nginx.pid NGINX_MIME_TYPES=/etc/nginx/mime.types \
NGINX_ACCESS_LOG="$state/log/access.log khalid_json buffer=64k flush=1s" NGINX_TEMP_DIR=$state/nginx/temp \
NGINX_UPSTREAM_CONF=$upstream NGINX_LISTEN=127.0.0.1:$PORT NGINX_STATIC_ROOT=$repo/templates/static \
NGINX_STATS_HTPASSWD=$state/nginx/stats.htpasswd \
NGINX_HTTPS_LISTEN=127.0.0.1:$HTTPS_PORT NGINX_HTTPS_PUBLIC_PORT=$HTTPS_PORT NGINX_TLS_DIR=$state/tls \
    "$repo/nginx/render-conf.sh" "$repo/nginx/nginx.conf.in" >"$conf" ||
    die "no nginx configuration, nothing served (see above)"
nginx -q -t -e stderr -p "$state/nginx" -c "$conf" || die "nginx rejected $conf"
nginx -e stderr -p "$state/nginx" -c "$conf" &
nginx_pid=$!

# /health answers over plain HTTP with HTTPS on too; -k: HTTPS is probed for an answer,
# whoever the certificate names. nginx writes its pid file once it holds its ports: until
# then an answer could come from another server already on the port (ours would then fail
# to bind and exit).
healthy=0
for _ in $(seq 100); do
    [ "$(cat "$run/nginx.pid" 2>/dev/null)" = "$nginx_pid" ] &&
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health" 2>/dev/null &&
        { [ -z "$https" ] || curl -fsSk -o /dev/null "https://127.0.0.1:$HTTPS_PORT/health" 2>/dev/null; } &&
        { healthy=1; break; }
    kill -0 "$nginx_pid" 2>/dev/null || die "nginx did not start (are ports $PORT${https:+ and $HTTPS_PORT} free?)"
    sleep 0.1
done
[ "$healthy" = 1 ] || die "http://127.0.0.1:$PORT/health${https:+ or https://127.0.0.1:$HTTPS_PORT/health} did not answer 200 within 10 s (see the messages above)"
echo "stack: Khalid Tracker on http://127.0.0.1:$PORT/${https:+ and https://127.0.0.1:$HTTPS_PORT/} ($WORKERS workers, state in $state); Ctrl-C stops it" >&2
[ "${TLS:-}" = self-signed ] && echo "stack: HTTPS with a private CA: curl --cacert $state/tls/ca.crt https://localhost:$HTTPS_PORT/" >&2
echo "ready" >"$run/ready"

# Supervise: report components that die, restart a Redis that died; the site is gone only
# when nginx is.
declare -A reported=()
redis_delay=0 redis_restart_at= redis_restarted=
while :; do
    kill -0 "$nginx_pid" 2>/dev/null || { echo "stack: nginx exited" >&2; exit 1; }
    if [ -n "$redis_pid" ] && ! kill -0 "$redis_pid" 2>/dev/null; then
        rc=0
        wait "$redis_pid" || rc=$?
        redis_pid=
        if [ "$rc" = 0 ]; then
            echo "stack: Redis exited cleanly (stopped on purpose?); not restarting it" >&2
        else
            # The workers answer 503 meanwhile and reconnect by themselves once it is back.
            if [ -n "$redis_restarted" ] && [ $((SECONDS - redis_restarted)) -lt 10 ]; then
                redis_delay=$((redis_delay * 2)); [ "$redis_delay" -ge 1 ] || redis_delay=1
                [ "$redis_delay" -le 30 ] || redis_delay=30
            else
                redis_delay=0
            fi
            echo "stack: Redis died (exit status $rc); restarting it in $redis_delay s" >&2
            redis_restart_at=$((SECONDS + redis_delay))
        fi
    fi
    if [ -n "$redis_restart_at" ] && [ "$SECONDS" -ge "$redis_restart_at" ]; then
        redis_foreground &
        redis_pid=$! redis_restarted=$SECONDS redis_restart_at=
    fi
    for p in "${worker_pids[@]}"; do
        if [ -z "${reported[$p]:-}" ] && ! kill -0 "$p" 2>/dev/null; then
            echo "stack: worker $p exited" >&2
            reported[$p]=1
        fi
    done
    sleep 1 &
    wait $! || true
done
