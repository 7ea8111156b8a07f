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
keepalive=$1 threads=$2 procs=$3
case $threads in ''|*[!0-9]*) echo "FCGI_THREADS=$threads: expected a number" >&2; exit 2 ;; esac
case $procs in ''|*[!0-9]*|0) echo "NGINX_WORKER_PROCESSES=$procs: expected a positive number" >&2; exit 2 ;; esac
decimal() { echo "$1" | sed 's/^0*\(.\)/\1/'; }   # "08" is not octal here
threads=$(decimal "$threads") procs=$(decimal "$procs")
if [ -z "$keepalive" ]; then
    echo $((threads * 3 / 4 / procs))
    exit 0
fi
case $keepalive in *[!0-9]*) echo "FASTCGI_KEEPALIVE=$keepalive: expected a number (0 turns keep-alive off)" >&2; exit 2 ;; esac
keepalive=$(decimal "$keepalive")
if [ "$keepalive" -gt 0 ] && [ "$threads" -le $((keepalive * procs)) ]; then
    echo "FCGI_THREADS=$threads must exceed FASTCGI_KEEPALIVE x NGINX_WORKER_PROCESSES = $((keepalive * procs)) (idle keep-alive connections pin worker threads); raise FCGI_THREADS, lower FASTCGI_KEEPALIVE, or leave it unset" >&2
    exit 2
fi
echo "$keepalive"
