#!/bin/bash
# Container entrypoint for nginx: renders nginx.conf.in (the same file the native stack uses)
# and the upstream block (the lua balancer: upstream.sh -b), writes the first list of workers,
# starts nginx in the foreground, and runs the upstream watcher beside it. If either stops,
# the container stops (and its restart policy applies).
#
# Settings (environment):
#   NGINX_WORKER_PROCESSES  default 1 ("auto" counts the host's CPUs, not the container's limit)
#   NGINX_LISTEN            default 8080 (the port inside the container)
#   FASTCGI_KEEPALIVE       idle nginx->worker connections per nginx process (0: off; default
#                           3/4 of FCGI_THREADS / processes); FCGI_THREADS (default 64) is
#                           the workers' setting, which compose.yml passes to both
#   NGINX_ACCESS_LOG        default "/dev/stdout khalid_json buffer=32k flush=1s" (JSON lines;
#                           "off": none)
#   UPSTREAM_SERVICE, UPSTREAM_PORT, UPSTREAM_INTERVAL: see watch-upstream.sh
#   TRUSTED_PROXIES, STATS_PASSWORD, STATS_PASSWORD_FILE: see render-conf.sh
#   HTTPS (render-conf.sh): the Docker secrets tls_cert, tls_key and tls_chain, when not
#   empty (or TLS_CERT, TLS_KEY, TLS_CHAIN naming files), or TLS=self-signed (CA and
#   certificate for SERVER_NAME kept in NGINX_TLS_DIR, a volume), served on
#   NGINX_HTTPS_LISTEN (default 8443); HTTPS_PUBLIC_PORT (default 5443, an address before
#   it allowed) is the host's port, where plain HTTP redirects; HSTS_MAX_AGE
set -euo pipefail

LIB=/usr/local/lib/khalid-tracker/nginx
RUN_DIR=${NGINX_RUN_DIR:-/run/nginx}

say() { echo "nginx-entrypoint: $*" >&2; }

export NGINX_USER_LINE=""
[ "$(id -u)" = 0 ] && NGINX_USER_LINE="user www-data;"
export NGINX_WORKER_PROCESSES=${NGINX_WORKER_PROCESSES:-1}
export NGINX_PID_FILE=$RUN_DIR/nginx.pid
export NGINX_MIME_TYPES=/etc/nginx/mime.types
export NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-/dev/stdout khalid_json buffer=32k flush=1s}
export NGINX_TEMP_DIR=$RUN_DIR/tmp
export NGINX_UPSTREAM_CONF=$RUN_DIR/upstream.conf
# The workers' addresses, which watch-upstream.sh keeps current and nginx's balancer reads.
export NGINX_UPSTREAM_PEERS=$RUN_DIR/peers
export NGINX_MODULES="/usr/lib/nginx/modules/ndk_http_module.so /usr/lib/nginx/modules/ngx_http_lua_module.so"
export NGINX_LISTEN=${NGINX_LISTEN:-8080}
export NGINX_STATIC_ROOT=/usr/share/khalid-tracker/static
export NGINX_STATS_HTPASSWD=$RUN_DIR/stats.htpasswd
export NGINX_CONF=$RUN_DIR/nginx.conf

if ! [[ $NGINX_WORKER_PROCESSES =~ ^([1-9][0-9]{0,2}|auto)$ ]]; then
    say "NGINX_WORKER_PROCESSES=$NGINX_WORKER_PROCESSES: expected a number or auto"; exit 2
fi
if ! [[ $NGINX_LISTEN =~ ^[0-9]{1,5}$ ]]; then
    say "NGINX_LISTEN=$NGINX_LISTEN: expected a port number"; exit 2
fi

# Compose and Swarm mount each TLS secret, blank when it is not configured (one line break:
# Swarm refuses an empty secret).
for v in TLS_CERT TLS_KEY TLS_CHAIN; do
    secret=/run/secrets/$(tr 'A-Z' 'a-z' <<<"$v")
    # An unreadable one counts as given, so that render-conf.sh says why it cannot read it.
    [ -z "${!v:-}" ] && [ -s "$secret" ] && { [ ! -r "$secret" ] || grep -q '[^[:space:]]' "$secret"; } &&
        export "$v=$secret"
done
export NGINX_HTTPS_LISTEN=${NGINX_HTTPS_LISTEN:-8443}
# compose publishes "${HTTPS_PORT}:8443", and HTTPS_PORT may carry a host address.
export NGINX_HTTPS_PUBLIC_PORT=${HTTPS_PUBLIC_PORT:-5443}
NGINX_HTTPS_PUBLIC_PORT=${NGINX_HTTPS_PUBLIC_PORT##*:}
export NGINX_TLS_DIR=${NGINX_TLS_DIR:-/var/lib/khalid-tracker/tls}

# FastCGI keep-alive pins a worker thread to every idle pooled connection (libfcgi reads the
# next request from it): keepalive.sh derives the pool size from the workers' FCGI_THREADS
# or checks the one given. upstream.sh writes it into the upstream block.
# "auto" becomes the CPUs this container may use (nproc honours cpusets; nginx 1.22's own
# auto counts every CPU of the host), so nginx runs as many processes as the pool assumes.
procs=$NGINX_WORKER_PROCESSES
[ "$procs" = auto ] && procs=$(nproc)
export NGINX_WORKER_PROCESSES=$procs
FASTCGI_KEEPALIVE=$("$LIB/keepalive.sh" "${FASTCGI_KEEPALIVE:-}" "${FCGI_THREADS:-64}" "$procs") || exit 2
export FASTCGI_KEEPALIVE
say "FastCGI keep-alive: $FASTCGI_KEEPALIVE idle connections per nginx process (FCGI_THREADS ${FCGI_THREADS:-64}, $procs processes)"

mkdir -p "$RUN_DIR/tmp"
"$LIB/render-conf.sh" "$LIB/nginx.conf.in" >"$NGINX_CONF.tmp"
mv -f "$NGINX_CONF.tmp" "$NGINX_CONF"

# The upstream block, written once; the first list of workers (waits briefly for one); then
# a config test before starting.
"$LIB/upstream.sh" -b "$NGINX_UPSTREAM_PEERS" "$FASTCGI_KEEPALIVE" >"$NGINX_UPSTREAM_CONF"
"$LIB/watch-upstream.sh" --once
nginx -e stderr -c "$NGINX_CONF" -t -q

nginx -e stderr -c "$NGINX_CONF" &
nginx_pid=$!
"$LIB/watch-upstream.sh" &
watcher_pid=$!

stopping=0
forward() { stopping=1; kill "-$1" "$nginx_pid" 2>/dev/null || true; }
trap 'forward QUIT' QUIT    # docker stop (STOPSIGNAL SIGQUIT): graceful
trap 'forward TERM' TERM INT
trap 'kill -HUP "$nginx_pid" 2>/dev/null || true' HUP

while :; do
    wait -n "$nginx_pid" "$watcher_pid" || true
    if ! kill -0 "$nginx_pid" 2>/dev/null; then
        rc=0
        wait "$nginx_pid" || rc=$?
        kill "$watcher_pid" 2>/dev/null || true
        [ "$stopping" = 1 ] || say "nginx exited with status $rc"
        exit "$rc"
    fi
    if ! kill -0 "$watcher_pid" 2>/dev/null && [ "$stopping" = 0 ]; then
        say "the upstream watcher stopped; stopping nginx so the container restarts"
        forward QUIT
    fi
done
