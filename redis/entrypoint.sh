#!/bin/sh
# Start Redis for Khalid Tracker in a container (runs as the unprivileged user "redis").
#
# Redis has three users (redis/acl.sh holds their rules): default, the admin, with every
# command; khalid, the workers, with only their commands and keys; health, PING only. No
# user is password-less and no password is part of the image, an argument or the log.
#
# The admin password comes from, first to last: the secret /run/secrets/redis_admin_password
# if not empty; REDIS_PASSWORD if not empty; the one generated on the first start
# ($AUTH_DIR/admin.generated, readable by redis only). The workers' password: the secret
# /run/secrets/redis_worker_password if not empty, else the one generated on the first start
# ($AUTH_DIR/worker.generated). The health password is new on every start.
#
# The workers read theirs from $AUTH_DIR/worker.pass: a small volume that only Redis
# (read-write) and the workers (read-only, group 10001) mount. The admin password is
# in $RUNTIME/password, on a tmpfs only redis can read (operators: docker compose exec redis
# sh -c 'REDISCLI_AUTH="$(cat /run/redis/password)" redis-cli'). Redis itself is reachable
# only on the internal "back" network; see compose.yml.
set -eu

CONF=/etc/khalid-tracker/redis.conf
ADMIN_SECRET=/run/secrets/redis_admin_password
WORKER_SECRET=/run/secrets/redis_worker_password
AUTH_DIR=/run/redis-auth
AUTH_GID=10001
RUNTIME=/run/redis
METRICS_DIR=/run/redis-metrics

say() { echo "redis-entrypoint: $*" >&2; }
die() { say "$*"; exit 1; }

# given FILE: true when the secret FILE holds a password (a missing one, or one whose first
# line is empty, means "none given": Swarm refuses an empty secret, so the default
# redis/empty.secret is one line break).
given() {
    [ -d "$1" ] && die "the secret $1 is a directory: the file named for it in .env does not exist on the host"
    [ -e "$1" ] || return 1
    [ -r "$1" ] || die "cannot read the secret $1 as uid $(id -u): compose file secrets keep the host file's owner and mode, so make it readable by uid $(id -u) (chmod 0444 FILE, in a directory only you can enter)"
    [ -n "$(head -n 1 "$1" | tr -d '\r')" ]
}
# copy SOURCE DEST MODE: DEST becomes a copy of SOURCE with MODE, never readable by others
# on the way.
copy() {
    (umask 0077 && cat "$1" >"$2.new")
    chmod "$3" "$2.new"
    mv -f "$2.new" "$2"
}

[ -d "$AUTH_DIR" ] && [ -w "$AUTH_DIR" ] || die "$AUTH_DIR is not a writable directory (the redis-auth volume)"
# The single password of earlier versions, which the workers could read: never used again.
rm -f "$AUTH_DIR/password" "$AUTH_DIR/.generated"

if given "$ADMIN_SECRET"; then
    copy "$ADMIN_SECRET" "$RUNTIME/password" 0400
    admin_from="the secret $ADMIN_SECRET"
elif [ -n "${REDIS_PASSWORD:-}" ]; then
    # A password file holds one line (the worker and redis/acl.sh read the first only).
    case $REDIS_PASSWORD in *[[:cntrl:]]*) die "REDIS_PASSWORD contains a control character (a line break?)" ;; esac
    (umask 0277 && printf '%s\n' "$REDIS_PASSWORD" >"$RUNTIME/password.new") && mv -f "$RUNTIME/password.new" "$RUNTIME/password"
    admin_from=REDIS_PASSWORD
else
    redis-password 0400 "$AUTH_DIR/admin.generated"
    copy "$AUTH_DIR/admin.generated" "$RUNTIME/password" 0400
    admin_from="generated on the first start"
fi
unset REDIS_PASSWORD

worker_source=$AUTH_DIR/worker.generated worker_from="generated on the first start"
if given "$WORKER_SECRET"; then
    worker_source=$WORKER_SECRET worker_from="the secret $WORKER_SECRET"
else
    redis-password 0400 "$worker_source"
fi
copy "$worker_source" "$AUTH_DIR/worker.pass" 0440
chgrp "$AUTH_GID" "$AUTH_DIR/worker.pass" || die "cannot give $AUTH_DIR/worker.pass to the workers' group $AUTH_GID"

rm -f "$RUNTIME/health.pass"
redis-password 0400 "$RUNTIME/health.pass"
# The user metrics, for Prometheus's Redis exporter (compose's monitoring profile): its
# password, made on the first start, in a volume that only Redis and the exporter mount.
redis-password 0444 "$METRICS_DIR/metrics.pass"
(umask 0077 && redis-acl "$RUNTIME/password" "$AUTH_DIR/worker.pass" "$RUNTIME/health.pass" \
    "$METRICS_DIR/metrics.pass" >"$RUNTIME/users.acl")
say "admin password: $admin_from; workers' password: $worker_from"

# Container overrides of the shared redis.conf; extra arguments (compose "command:") go last.
exec redis-server "$CONF" --aclfile "$RUNTIME/users.acl" --dir /data --bind 0.0.0.0 --port 6379 "$@"
