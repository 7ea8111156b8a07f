#!/usr/bin/env bash
# Backup and restore of Khalid Tracker's Redis data: the native stack's ($STATE_DIR/redis)
# or, with --compose, the Docker Compose deployment's (the redis-data volume).
#
#   scripts/backup.sh [--compose] backup          a snapshot of the running stack, into
#                                                 $BACKUP_DIR; prints the file's path
#   scripts/backup.sh [--compose] restore FILE    puts FILE back into the STOPPED stack
#
# backup: BGSAVE, then waits until that save has finished (no save in progress, LASTSAVE
# past its value before, rdb_last_bgsave_status:ok), copies dump.rdb to
# $BACKUP_DIR/khalid-YYYYMMDDTHHMMSSZ.rdb (the snapshot's time, UTC; mode 0600) and checks
# the copy with redis-check-rdb. The stack keeps serving meanwhile.
#
# restore: refuses while any part of the stack runs, and checks FILE with redis-check-rdb
# before it touches anything. Redis runs with appendonly yes, and then loads its AOF on
# start, never dump.rdb (an empty or missing AOF directory gives an empty data set, which
# the next save writes over dump.rdb too). So FILE is not just copied in: in a new
# directory beside the data, a private Redis loads FILE with appendonly off, then
# `CONFIG SET appendonly yes` makes it write an AOF of exactly that data set (the base
# file, an empty incremental file, the manifest), checked with redis-check-aof. Only then
# are the current files moved aside, into $STATE_DIR/redis.before-restore-<time> natively
# or /data/before-restore-<time> in the volume, and the new ones put in their place: a
# failure at any step before leaves the data as it was, and the old files undo a restore.
#
# Settings (environment): STATE_DIR (./var, as scripts/stack.sh), BACKUP_DIR (./backups),
# BACKUP_TIMEOUT (seconds to wait for a save or a rewrite, 600). Natively the script talks
# to Redis on $STATE_DIR/run/redis.sock as the admin: with the password scripts/stack.sh
# keeps in $STATE_DIR/secrets/redis-admin.pass, or, for a stack started before Redis had
# users, REDIS_PASSWORD (the requirepass it was started with), or none.
# --compose: COMPOSE is the Compose command with its options (default `docker compose`, or
# docker-compose when that is missing; e.g. COMPOSE="docker-compose -p kt"), run in the
# repository; the redis container must exist (`docker compose stop` keeps it; `down` does
# not). Redis commands run in it with the admin password it keeps in /run/redis/password;
# redis-check-rdb and the private Redis of a restore run in throwaway containers of the same
# image, without a network, so the host needs no Redis tools.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
me=backup.sh

say() { echo "$me: $*" >&2; }
die() { say "$*"; exit 1; }

# ------------------------------------------------------------------------ shared with
# the throwaway container of a compose restore, which runs them from `declare -f`.

# rdb_check FILE: redis-check-rdb's verdict on FILE; on failure prints its error lines.
rdb_check() {
    local out
    if out=$(redis-check-rdb "$1" 2>&1) && grep -q 'RDB looks OK' <<<"$out"; then
        return 0
    fi
    # What follows its "--- RDB ERROR DETECTED ---" line says what is wrong, and where.
    sed -n '/RDB ERROR DETECTED/,$p' <<<"$out" | grep -v 'RDB ERROR DETECTED\|^\[info\]' | head -n 3 >&2
    return 1
}

# rebuild_aof DIR CONF TIMEOUT: DIR holds dump.rdb; leaves beside it the AOF that Redis,
# configured by CONF, loads on its next start, holding the same data.
rebuild_aof() {
    local dir=$1 conf=$2 limit=$3 tmp sock pid info i keys manifest
    tmp=$(mktemp -d) || return 1
    sock=$tmp/redis.sock
    # Reachable by this script only: no port, a socket in a private directory. --save "":
    # dump.rdb stays the file given, byte for byte.
    redis-server "$conf" --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$dir" \
        --appendonly no --save "" --daemonize no --logfile "$tmp/redis.log" &
    pid=$!
    TEMP_REDIS=$pid
    r() { redis-cli -s "$sock" "$@" 2>&1; }
    fail() {
        echo "$me: $*; Redis's log ends with:" >&2
        tail -n 5 "$tmp/redis.log" | sed 's/^/    /' >&2
        kill "$pid" 2>/dev/null && wait "$pid"
        rm -rf "$tmp"
        return 1
    }
    # A large file takes a while to load: PING answers LOADING until then.
    for ((i = 0; i < limit * 10; i++)); do
        [ "$(r PING)" = PONG ] && break
        kill -0 "$pid" 2>/dev/null || { fail "Redis could not load the file"; return 1; }
        sleep 0.1
    done
    [ "$(r PING)" = PONG ] || { fail "Redis did not load the file within $limit s"; return 1; }
    keys=$(r DBSIZE)
    [ "$(r CONFIG SET appendonly yes)" = OK ] || { fail "CONFIG SET appendonly yes was refused"; return 1; }
    for ((i = 0; i < limit * 10; i++)); do
        info=$(r INFO persistence | tr -d '\r')
        grep -qx 'aof_rewrite_in_progress:0' <<<"$info" && grep -qx 'aof_rewrite_scheduled:0' <<<"$info" &&
            ! grep -qx 'aof_rewrites:0' <<<"$info" && break
        sleep 0.1
    done
    grep -qx 'aof_last_bgrewrite_status:ok' <<<"$info" && ! grep -qx 'aof_rewrites:0' <<<"$info" &&
        grep -qx 'aof_rewrite_in_progress:0' <<<"$info" ||
        { fail "Redis did not write the AOF within $limit s"; return 1; }
    manifest=$dir/$(r CONFIG GET appenddirname | sed -n 2p)/$(r CONFIG GET appendfilename | sed -n 2p).manifest
    r SHUTDOWN NOSAVE >/dev/null
    wait "$pid" || { fail "Redis did not stop cleanly"; return 1; }
    TEMP_REDIS=
    redis-check-aof "$manifest" >"$tmp/check-aof.log" 2>&1 ||
        { fail "redis-check-aof rejected the new AOF: $(tail -n 1 "$tmp/check-aof.log")"; return 1; }
    rm -rf "$tmp"
    echo "$me: the AOF is rebuilt from it ($keys keys)" >&2
}

# swap_in DATA NEW OLD: DATA's files move into OLD (a new directory), then NEW's into DATA,
# and NEW goes. Renames within one file system; on a failure every file moved goes back.
# Earlier before-restore-* directories and NEW stay where they are, for compose keeps them
# in the volume, inside DATA.
swap_in() {
    local data=$1 new=$2 old=$3 e out=() in=()
    shopt -s dotglob nullglob
    mkdir "$old" || return 1
    # A signal between the two loops would leave DATA half empty: they run to the end.
    trap '' INT TERM
    undo() {
        for e in "${in[@]}"; do mv "$data/$e" "$new/"; done
        for e in "${out[@]}"; do mv "$old/$e" "$data/"; done
        rmdir "$old"
        trap 'exit 130' INT TERM
        echo "$me: could not put the restored files in place; the data is as it was" >&2
        return 1
    }
    for e in "$data"/*; do
        case ${e##*/} in before-restore-*|"${new##*/}"|"${old##*/}") continue ;; esac
        mv "$e" "$old/" || { undo; return 1; }
        out+=("${e##*/}")
    done
    for e in "$new"/*; do
        mv "$e" "$data/" || { undo; return 1; }
        in+=("${e##*/}")
    done
    trap 'exit 130' INT TERM
    rmdir "$new"
}

# restore_into DATA NEW OLD CONF TIMEOUT <FILE: the restore itself, once FILE is checked and
# the stack is known to be stopped.
restore_into() {
    local data=$1 new=$2 old=$3 conf=$4 limit=$5
    mkdir -p "$data" && mkdir "$new" || return 1
    if ! { (umask 0077 && cat >"$new/dump.rdb") && rebuild_aof "$new" "$conf" "$limit" && swap_in "$data" "$new" "$old"; }; then
        rm -rf "$new"
        echo "$me: nothing was changed in $data" >&2
        return 1
    fi
}
SHARED_FUNCTIONS=(rdb_check rebuild_aof swap_in restore_into)

# ------------------------------------------------------------------------ settings
compose=0
[ "${1:-}" = --compose ] && { compose=1; shift; }
cmd=${1:-}
usage="usage: scripts/backup.sh [--compose] backup | scripts/backup.sh [--compose] restore FILE"
case $cmd in
    backup) [ $# = 1 ] || die "$usage" ;;
    restore) [ $# = 2 ] && [ -n "$2" ] || die "$usage (make restore FILE=backups/khalid-....rdb)" ;;
    *) die "$usage" ;;
esac
LIMIT=${BACKUP_TIMEOUT:-600}
[[ $LIMIT =~ ^[1-9][0-9]*$ ]] || die "BACKUP_TIMEOUT=$LIMIT: expected whole seconds"
stamp() { date -u +%Y%m%dT%H%M%SZ; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kt-backup.XXXXXX") || die "cannot make a temporary directory"
# Removed on every way out: a running throwaway container (its name), the private Redis of
# a native restore (its pid), and the new data directory a restore did not finish.
THROWAWAY='' TEMP_REDIS='' STAGING=''
cleanup() {
    [ -n "$THROWAWAY" ] && docker rm -f "$THROWAWAY" >/dev/null 2>&1
    [ -n "$TEMP_REDIS" ] && kill "$TEMP_REDIS" 2>/dev/null && wait "$TEMP_REDIS" 2>/dev/null
    [ -n "$STAGING" ] && rm -rf "$STAGING"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$compose" = 1 ]; then
    if [ -n "${COMPOSE:-}" ]; then
        read -r -a DC <<<"$COMPOSE"
    elif docker compose version >/dev/null 2>&1; then
        DC=(docker compose)
    else
        DC=(docker-compose)
    fi
    dc() { (cd "$repo" && "${DC[@]}" "$@"); }
    REDIS=$(dc ps -a -q redis 2>"$TMP/dc.err") ||
        die "${DC[*]} ps failed: $(head -c 300 "$TMP/dc.err")"
    [ -n "$REDIS" ] || die "this compose project has no redis container (${DC[*]} up -d makes it; stop it with '${DC[*]} stop', not down)"
    IMAGE=$(docker inspect -f '{{.Image}}' "$REDIS") || die "cannot inspect the redis container $REDIS"
    where="the compose project's redis container ${REDIS:0:12}"
    auth_from="the password in its /run/redis/password"
    start_hint="${DC[*]} up -d"
    # rcli ARGS...: redis-cli ARGS as the admin, in the running redis container.
    rcli() {
        docker exec "$REDIS" sh -c 'REDISCLI_AUTH="$(cat /run/redis/password)" exec redis-cli "$@"' redis-cli "$@" 2>&1
    }
    redis_up() { [ "$(docker inspect -f '{{.State.Running}}' "$REDIS" 2>/dev/null)" = true ]; }
    # in_image ARGS...: a throwaway container of the redis image, no network, no
    # privileges, stdin attached.
    in_image() {
        THROWAWAY=kt-backup-$$-$RANDOM
        docker run --rm -i --name "$THROWAWAY" --network none --cap-drop ALL \
            --security-opt no-new-privileges --entrypoint bash "$@"
        local rc=$?
        THROWAWAY=
        return "$rc"
    }
    check_file() {
        in_image "$IMAGE" -c "me=$me; $(declare -f rdb_check)"'; f=$(mktemp) && cat >"$f" && rdb_check "$f"' <"$1"
    }
else
    STATE_DIR=${STATE_DIR:-./var}
    [ -d "$STATE_DIR" ] || die "STATE_DIR=$STATE_DIR: no such directory (the stack's state; make run makes it)"
    state=$(cd "$STATE_DIR" && pwd)
    sock=$state/run/redis.sock
    where="Redis at $sock"
    start_hint="make run"
    # The admin's password: scripts/stack.sh keeps it in secrets/ (Redis with users);
    # before that, the stack's REDIS_PASSWORD was its requirepass.
    admin_pass=$state/secrets/redis-admin.pass
    auth=() auth_from="no password"
    if [ -e "$admin_pass" ]; then
        [ -r "$admin_pass" ] || die "cannot read the Redis admin password in $admin_pass as $(id -un): run this as the stack's user"
        auth=(REDISCLI_AUTH="$(head -n 1 "$admin_pass" | cut -d $'\r' -f 1)") auth_from="the password in $admin_pass"
    elif [ -n "${REDIS_PASSWORD:-}" ]; then
        auth=(REDISCLI_AUTH="$REDIS_PASSWORD") auth_from="REDIS_PASSWORD"
    fi
    rcli() { env "${auth[@]}" timeout 10 redis-cli -s "$sock" "$@" 2>&1; }
    # Any answer, NOAUTH too, means a Redis listens; a stopped (SIGSTOP) one answers nothing.
    redis_up() { [ -S "$sock" ] && timeout 5 redis-cli -s "$sock" ping >/dev/null 2>&1; }
    check_file() { rdb_check "$1"; }
fi

# ------------------------------------------------------------------------ backup
# info FIELD: that field of INFO persistence ("" when Redis did not answer with it).
info() { rcli INFO persistence | tr -d '\r' | sed -n "s/^$1://p"; }
# is_number TEXT: what Redis answered is an integer, and not an error such as NOAUTH.
is_number() { [[ $1 =~ ^[0-9]+$ ]]; }

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s; dies after SECONDS.
wait_for() {
    local limit=$1 what=$2 i
    shift 2
    for ((i = 0; i < limit * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    die "$what within $limit s"
}
no_child() { [ "$(info rdb_bgsave_in_progress)" = 0 ] && [ "$(info aof_rewrite_in_progress)" = 0 ]; }
saved() { [ "$(info rdb_bgsave_in_progress)" = 0 ]; }
# second_after T: Redis's clock is past second T.
second_after() { local now; now=$(rcli TIME | head -n 1); is_number "$now" && [ "$now" -gt "$1" ]; }

backup() {
    local dir=${BACKUP_DIR:-./backups} reply before last name tmp
    redis_up || die "$where does not answer: backup needs the stack running ($start_hint)"
    reply=$(rcli PING)
    [ "$reply" = PONG ] || die "$where refused the admin with $auth_from: $(paste -sd ' ' <<<"$reply")"
    mkdir -p "$dir" || die "cannot make the backup directory $dir"
    dir=$(cd "$dir" && pwd)
    while :; do
        # One save or rewrite at a time: BGSAVE is refused while another is running.
        wait_for "$LIMIT" "a save or AOF rewrite already running did not finish" no_child
        before=$(rcli LASTSAVE)
        is_number "$before" || die "LASTSAVE answered: $before"
        # LASTSAVE counts whole seconds: ours must end in a later second than the last
        # save did, or its end could not be told from it.
        wait_for 5 "Redis's clock did not pass LASTSAVE" second_after "$before"
        reply=$(rcli BGSAVE)
        case $reply in
            "Background saving started") break ;;
            *"in progress"*|*"child process"*) continue ;;  # another save started meanwhile
            *) die "BGSAVE answered: $reply" ;;
        esac
    done
    wait_for "$LIMIT" "the snapshot (BGSAVE) did not finish" saved
    last=$(rcli LASTSAVE)
    [ "$(info rdb_last_bgsave_status)" = ok ] && is_number "$last" && [ "$last" -gt "$before" ] ||
        die "the snapshot (BGSAVE) failed: rdb_last_bgsave_status:$(info rdb_last_bgsave_status) (Redis's log says why)"
    # dump.rdb is now our snapshot or a later one: Redis replaces it by a rename, so a copy
    # is always one whole file.
    tmp=$dir/.khalid-backup.$$
    if [ "$compose" = 1 ]; then
        (umask 0077 && docker exec "$REDIS" cat /data/dump.rdb >"$tmp") || { rm -f "$tmp"; die "cannot copy /data/dump.rdb out of $where"; }
    else
        (umask 0077 && cp "$state/redis/dump.rdb" "$tmp") || { rm -f "$tmp"; die "cannot copy $state/redis/dump.rdb"; }
    fi
    if ! check_file "$tmp" 2>"$TMP/check.err"; then
        rm -f "$tmp"
        die "the copy of the snapshot does not pass redis-check-rdb: $(paste -sd ' ' "$TMP/check.err")"
    fi
    name=$dir/khalid-$(date -u -d "@$last" +%Y%m%dT%H%M%SZ).rdb
    # A hard link never replaces an existing backup.
    ln "$tmp" "$name" 2>/dev/null || { rm -f "$tmp"; die "$name already exists; nothing written"; }
    rm -f "$tmp"
    say "snapshot of $(date -u -d "@$last" +'%F %T UTC') checked (redis-check-rdb)"
    echo "$name"
}

# ------------------------------------------------------------------------ restore
restore() {
    local file=$1 t rc
    [ -e "$file" ] || die "$file: no such file; nothing was changed"
    [ -f "$file" ] && [ -r "$file" ] || die "$file: not a readable file; nothing was changed"
    if [ "$compose" = 1 ]; then
        local c running=()
        for c in $(dc ps -a -q); do
            [ "$(docker inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" = true ] &&
                running+=("$(docker inspect -f '{{.Name}}' "$c")")
        done
        [ ${#running[@]} = 0 ] || die "the stack is running (${running[*]}): stop it first with '${DC[*]} stop'; nothing was changed"
    else
        local f pid
        for f in "$state"/run/*.pid; do
            [ -f "$f" ] || continue
            pid=$(cat "$f" 2>/dev/null)
            [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
                die "the stack is running ($(basename "$f" .pid), pid $pid): stop it first (Ctrl-C in make run); nothing was changed"
        done
        redis_up && die "a Redis answers on $sock: stop the stack first; nothing was changed"
    fi
    check_file "$file" 2>"$TMP/check.err" ||
        die "$file is not a valid Redis snapshot (redis-check-rdb: $(paste -sd ' ' "$TMP/check.err")); nothing was changed"
    say "$file checked (redis-check-rdb)"
    t=$(stamp)
    if [ "$compose" = 1 ]; then
        local vol
        vol=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/data"}}{{.Name}}{{end}}{{end}}' "$REDIS")
        [ -n "$vol" ] || die "the redis container has no volume on /data"
        in_image -v "$vol:/data" "$IMAGE" -c "me=$me; $(declare -f "${SHARED_FUNCTIONS[@]}"); restore_into \"\$@\"" \
            restore /data "/data/.restoring-$t" "/data/before-restore-$t" /etc/khalid-tracker/redis.conf "$LIMIT" <"$file"
        rc=$?
        [ "$rc" = 0 ] || die "restore failed (see above)"
        say "restored into the volume $vol; its previous files are in before-restore-$t/ there; start with '${DC[*]} start'"
        say "to undo, with the stack stopped: docker run --rm -v $vol:/data --entrypoint sh ${IMAGE#sha256:} -c 'cd /data && rm -r appendonlydir dump.rdb && mv before-restore-$t/* . && rmdir before-restore-$t'"
    else
        STAGING=$state/redis.restoring-$t
        restore_into "$state/redis" "$STAGING" "$state/redis.before-restore-$t" \
            "$repo/redis/redis.conf" "$LIMIT" <"$file" || die "restore failed (see above)"
        STAGING=
        say "restored into $state/redis; the previous data is in $state/redis.before-restore-$t"
        say "to undo, with the stack stopped: rm -r $state/redis && mv $state/redis.before-restore-$t $state/redis"
    fi
}

case $cmd in
    backup) backup ;;
    restore) restore "$2" ;;
esac
