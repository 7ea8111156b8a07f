#!/bin/sh
# Start Redis for Khalid Tracker in a container (runs as the unprivileged user "redis").
#
# Redis always runs with a password. It comes from, first to last:
#   1. the Docker secret file $REDIS_PASSWORD_SECRET (default /run/secrets/redis_password), if not empty;
#   2. the environment variable REDIS_PASSWORD, if not empty;
#   3. a random password this script generated on an earlier start (kept in $REDIS_AUTH_DIR);
#   4. a new random password.
# The password reaches redis-server through a config file on a tmpfs (never argv, never the
# image) and the workers through $REDIS_AUTH_DIR/password: a small volume that only Redis
# (read-write) and the workers (read-only, group 10001) mount.
# Redis itself is reachable only on the internal "back" network; see compose.yml.
set -eu

CONF=${REDIS_CONF:-/etc/khalid-tracker/redis.conf}
SECRET=${REDIS_PASSWORD_SECRET:-/run/secrets/redis_password}
AUTH_DIR=${REDIS_AUTH_DIR:-/run/redis-auth}
AUTH_GID=${REDIS_AUTH_GID:-10001}
RUNTIME=${REDIS_RUNTIME_DIR:-/run/redis}

say() { echo "redis-entrypoint: $*" >&2; }
die() { say "$*"; exit 1; }

pw='' source=''
if [ -d "$SECRET" ]; then
    die "the secret $SECRET is a directory: the file named by REDIS_PASSWORD_SECRET_FILE does not exist on the host"
fi
if [ -e "$SECRET" ]; then
    [ -r "$SECRET" ] || die "cannot read the secret $SECRET as uid $(id -u): compose file secrets keep the host file's owner and mode, so make it readable by uid $(id -u) (chown $(id -u) FILE, or chmod 0444 FILE)"
    pw=$(cat "$SECRET")
    [ -n "$pw" ] && source="the secret $SECRET"
fi
if [ -n "${REDIS_PASSWORD:-}" ]; then
    if [ -n "$pw" ]; then
        say "both the secret and REDIS_PASSWORD are set; using the secret"
    else
        pw=$REDIS_PASSWORD source=REDIS_PASSWORD
    fi
fi
generated=0
if [ -z "$pw" ] && [ -f "$AUTH_DIR/.generated" ] && [ -s "$AUTH_DIR/password" ]; then
    pw=$(cat "$AUTH_DIR/password") source="the password generated on the first start"
    generated=1
fi
if [ -z "$pw" ]; then
    pw=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    source="a newly generated random password" generated=1
fi
case $pw in
    *[[:cntrl:]]*) die "the Redis password contains a control character (a line break?); use printable characters only" ;;
esac

# The password for the workers, readable by their group only.
if [ -d "$AUTH_DIR" ] && [ -w "$AUTH_DIR" ]; then
    tmp="$AUTH_DIR/.password.$$"
    (umask 0277 && printf '%s' "$pw" >"$tmp")
    chgrp "$AUTH_GID" "$tmp" 2>/dev/null || say "cannot give $AUTH_DIR/password to group $AUTH_GID"
    chmod 0440 "$tmp"
    mv -f "$tmp" "$AUTH_DIR/password"
    if [ "$generated" = 1 ]; then : >"$AUTH_DIR/.generated"; else rm -f "$AUTH_DIR/.generated"; fi
else
    say "warning: $AUTH_DIR is not a writable directory; workers cannot read the password from it"
fi

# redis-server reads the password from a config file that includes the shared one.
if ! { [ -d "$RUNTIME" ] && [ -w "$RUNTIME" ]; }; then
    RUNTIME=$(mktemp -d)
fi
esc=$(printf '%s' "$pw" | sed 's/[\\"]/\\&/g')
(
    umask 0077
    printf '%s' "$pw" >"$RUNTIME/password"
    printf 'include %s\nrequirepass "%s"\n' "$CONF" "$esc" >"$RUNTIME/redis.conf"
)
unset pw esc REDIS_PASSWORD
say "password from $source"

# Container overrides of the shared redis.conf; extra arguments (compose "command:") go last.
exec redis-server "$RUNTIME/redis.conf" --dir /data --bind 0.0.0.0 --port 6379 "$@"
