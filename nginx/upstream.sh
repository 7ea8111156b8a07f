#!/bin/sh
# Prints nginx's `upstream khalid_workers` block, preceded by `fastcgi_keep_conn on;` when
# nginx keeps idle connections to the workers. The one rendering of it: scripts/stack.sh
# (unix sockets), nginx/watch-upstream.sh (the container's worker addresses) and
# tests/check.sh use it.
#
# Usage: upstream.sh [-z] [-p PARAMS] KEEPALIVE [SERVER...]
#        upstream.sh -b PEERS_FILE KEEPALIVE
#   KEEPALIVE  idle connections each nginx process keeps (nginx/keepalive.sh's answer);
#              0: none, and no fastcgi_keep_conn
#   SERVER     unix:/path/to/socket or address:port; with none, a placeholder server
#              marked down, so that nginx starts and answers 502 until a worker appears
#   -p PARAMS  the parameters of every server (default "max_fails=1 fail_timeout=2s": a
#              worker that refused a connection gets no requests for 2 s)
#   -z         a shared memory zone, so nginx's worker processes share what they learn
#              about failed servers (the container; the native stack runs without)
#   -b PEERS_FILE  no server list: khalid_balancer.lua (beside this script; nginx must load
#              the lua module) picks each request's worker from the addresses in PEERS_FILE,
#              "ADDRESS:PORT" a line, which nginx re-reads every half second, so the
#              container's watcher changes the workers without reloading nginx
# Exits 2, naming the bad argument, when a value could break out of its line.
set -eu

zone=0
params="max_fails=1 fail_timeout=2s"
peers=
while getopts zp:b: opt; do
    case $opt in
        z) zone=1 ;;
        p) params=$OPTARG ;;
        b) peers=$OPTARG ;;
        *) echo "usage: upstream.sh [-z] [-p PARAMS] KEEPALIVE [SERVER...] | -b PEERS_FILE KEEPALIVE" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: upstream.sh [-z] [-p PARAMS] KEEPALIVE [SERVER...]" >&2; exit 2; }
keepalive=$1
shift

case $keepalive in ''|*[!0-9]*) echo "upstream.sh: KEEPALIVE=$keepalive: expected a number" >&2; exit 2 ;; esac
[ ${#keepalive} -le 5 ] || { echo "upstream.sh: KEEPALIVE=$keepalive: too large" >&2; exit 2; }
case $params in *[!A-Za-z0-9_=.\ ]*) echo "upstream.sh: -p $params: expected name=value parameters" >&2; exit 2 ;; esac
for server in "$@"; do
    # A path or address only: a space, semicolon, brace or quote would write directives.
    case $server in
        ''|*[!A-Za-z0-9_./:@%+=-]*) echo "upstream.sh: server $server: expected unix:PATH or ADDRESS:PORT" >&2; exit 2 ;;
    esac
done

[ "$keepalive" -gt 0 ] && echo "fastcgi_keep_conn on;"
if [ -n "$peers" ]; then
    lib=$(cd "$(dirname "$0")" && pwd)
    for path in "$peers" "$lib"; do
        case $path in /*) ;; *) echo "upstream.sh: $path: expected an absolute path" >&2; exit 2 ;; esac
        case $path in *[!A-Za-z0-9_./@%+=-]*) echo "upstream.sh: $path: a path of letters, digits and _./@%+=- only" >&2; exit 2 ;; esac
    done
    # The workers that refused a connection lately, shared by nginx's processes; 2 s, the
    # fail_timeout of the static block's servers.
    cat <<EOF
lua_package_path "$lib/?.lua;;";
lua_shared_dict khalid_failed 1m;
init_worker_by_lua_block { require("khalid_balancer").init_worker("$peers", 0.5) }
log_by_lua_block { require("khalid_balancer").log(2) }
upstream khalid_workers {
    # Never used: the balancer sets each request's worker. Not marked down: nginx gives a
    # request one try per usable server here, and the balancer one more per other worker.
    server 127.0.0.1:9;
    balancer_by_lua_block { require("khalid_balancer").balance(2) }
EOF
    # After balancer_by_lua, so that the pool wraps the balancer.
    [ "$keepalive" -gt 0 ] && echo "    keepalive $keepalive;"
    echo "}"
    exit 0
fi
echo "upstream khalid_workers {"
[ "$zone" = 1 ] && echo "    zone khalid_workers 64k;  # failure state shared by nginx's worker processes"
[ "$keepalive" -gt 0 ] && echo "    keepalive $keepalive;"
[ $# -gt 0 ] || echo "    server 127.0.0.1:9 down;  # no worker yet: 502 until one appears"
for server in "$@"; do
    echo "    server $server${params:+ $params};"
done
echo "}"
