#!/bin/sh
# Prints how many idle nginx->worker connections each nginx process keeps (nginx's
# `keepalive N`; 0 turns FastCGI keep-alive off), or fails with the reason.
# Shared by scripts/stack.sh (native) and nginx/entrypoint.sh (container).
#
# Usage: keepalive.sh FASTCGI_KEEPALIVE FCGI_THREADS NGINX_WORKER_PROCESSES
#   FASTCGI_KEEPALIVE empty: three quarters of a worker's threads, shared by the nginx
#   processes. Each idle kept connection pins a worker thread (libfcgi waits for the next
#   request on it), and all of them may land on one worker, so a worker must have threads
#   left over for new connections: FCGI_THREADS > FASTCGI_KEEPALIVE x processes.
set -eu

# number NAME VALUE: VALUE as a plain decimal ("08" is not octal here), at most 5 digits
# so that no product below overflows; fails naming NAME.
number() {
    case $2 in
        ''|*[!0-9]*) echo "$1=$2: expected a number" >&2; return 2 ;;
    esac
    n=$(echo "$2" | sed 's/^0*\(.\)/\1/')
    [ ${#n} -le 5 ] || { echo "$1=$2: too large" >&2; return 2; }
    echo "$n"
}

threads=$(number FCGI_THREADS "$2")
procs=$(number NGINX_WORKER_PROCESSES "$3")
[ "$procs" -ge 1 ] || { echo "NGINX_WORKER_PROCESSES=$3: expected at least 1" >&2; exit 2; }
if [ -z "$1" ]; then
    echo $((threads * 3 / 4 / procs))
    exit 0
fi
keepalive=$(number FASTCGI_KEEPALIVE "$1") ||
    { echo "FASTCGI_KEEPALIVE: 0 turns keep-alive off; unset sizes it from FCGI_THREADS" >&2; exit 2; }
if [ "$keepalive" -gt 0 ] && [ "$threads" -le $((keepalive * procs)) ]; then
    echo "FCGI_THREADS=$threads must exceed FASTCGI_KEEPALIVE x NGINX_WORKER_PROCESSES = $((keepalive * procs)) (idle keep-alive connections pin worker threads); raise FCGI_THREADS, lower FASTCGI_KEEPALIVE, or leave it unset" >&2
    exit 2
fi
echo "$keepalive"
