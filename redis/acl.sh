#!/bin/sh
# Khalid Tracker's Redis users, the one place their rules live: prints the ACL file that
# Redis loads (--aclfile), for the native stack (scripts/stack.sh) and the container
# (redis/entrypoint.sh) alike.
#
#   redis/acl.sh ADMIN_FILE WORKER_FILE HEALTH_FILE [METRICS_FILE] >users.acl
#
# Each FILE's first line (up to a CR or LF, as the worker reads REDIS_PASSWORD_FILE) is that
# user's password. Only its SHA-256 is printed, so the ACL file holds no password, and no
# password is ever an argument of a command.
#
#   default  the admin, for operators and tests: every command and key, with the admin
#            password. No user is password-less: a client that has not authenticated gets
#            NOAUTH, a wrong password WRONGPASS.
#   khalid   the FastCGI workers: only the commands they send, only their keys.
#   health   healthchecks: PING only.
#   metrics  Prometheus's Redis exporter (monitoring/), only when METRICS_FILE is given: INFO
#            and the few other read-only commands it sends, no key.
set -eu

# What the worker sends: fcgi-app/store.c (INCR, GET, PING), track.c (HINCRBY, ZINCRBY,
# ZREMRANGEBYRANK, INCRBY, EXPIRE, PFADD, the day's salt with SET NX EX then GET), stats.c
# (GET, HGETALL, PFCOUNT, ZRANGE), and the workers' own metrics (SET with EX, GET, MGET,
# SCAN). SCAN is the one that is not bound by the key patterns: it lists every key's name.
WORKER_COMMANDS='+ping +get +set +mget +incr +incrby +expire +hincrby +hgetall +zincrby +zrange +zremrangebyrank +pfadd +pfcount +scan'
# fcgi-app/keys.h, plus metrics:* for the workers' metrics. The integration suite checks
# that every key there is allowed (tests/integration/redis_acl.py).
WORKER_KEYS='~visits ~views:* ~visitors:* ~referrers:* ~browsers:* ~systems:* ~devices:* ~bots:* ~salt:* ~metrics:*'

# What prometheus-redis-exporter 1.45 sends with the flags monitoring/exporter.sh gives it.
METRICS_COMMANDS='+ping +info +config|get +client|setname +slowlog|get +slowlog|len +latency|latest'

die() { echo "redis/acl.sh: $*" >&2; exit 2; }

# sha256 FILE: the SHA-256 of the password in FILE, as the ACL's #<hash> wants it.
sha256() {
    [ -f "$1" ] && [ -r "$1" ] || die "cannot read the password file $1"
    # printf is a shell builtin: the password never appears in a process's arguments.
    pw=$(head -n 1 "$1" | cut -d "$(printf '\r')" -f 1)
    [ -n "$pw" ] || die "$1 holds no password (its first line is empty)"
    printf '%s' "$pw" | sha256sum | cut -d ' ' -f 1
}

[ $# = 3 ] || [ $# = 4 ] || die "usage: redis/acl.sh ADMIN_FILE WORKER_FILE HEALTH_FILE [METRICS_FILE]"
admin=$(sha256 "$1")
worker=$(sha256 "$2")
health=$(sha256 "$3")
echo "user default on #$admin ~* &* +@all"
echo "user khalid on #$worker resetchannels -@all $WORKER_COMMANDS $WORKER_KEYS"
echo "user health on #$health resetchannels -@all +ping"
if [ $# = 4 ]; then
    metrics=$(sha256 "$4")
    echo "user metrics on #$metrics resetchannels -@all $METRICS_COMMANDS"
fi
