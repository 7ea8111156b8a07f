#!/bin/sh
# Makes each FILE hold a Redis password, with MODE: a FILE that is missing or empty gets a
# new random one (32 bytes from /dev/urandom, as 64 hex digits); one that holds a password
# keeps it. Prints no password.
#
#   redis/password.sh MODE FILE...
#
# Used by scripts/stack.sh and redis/entrypoint.sh on every start, and to make the files
# of compose's secrets (README, Redis with least privilege):
#   mkdir -p -m 0700 secrets && redis/password.sh 0444 secrets/redis-admin.pass secrets/redis-worker.pass
set -eu

[ $# -ge 2 ] || { echo "usage: redis/password.sh MODE FILE..." >&2; exit 2; }
mode=$1
shift
for f; do
    if [ ! -s "$f" ]; then
        # Written aside and renamed: a reader never sees half a password, nor one readable
        # by others before the chmod.
        tmp=$(dirname "$f")/.$(basename "$f").$$
        (umask 0077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp")
        chmod "$mode" "$tmp"
        mv -f "$tmp" "$f"
    fi
    chmod "$mode" "$f"
done
