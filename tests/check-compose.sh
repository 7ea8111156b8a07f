#!/usr/bin/env bash
# Checks are strings eval'd by check(): shellcheck cannot see the variables they use.
# shellcheck disable=SC2034
# make check-compose: the Docker Compose deployment, tested on a real Docker engine.
#
# Builds the three images, starts the stack with 3 workers on a free loopback port under a
# unique project name, and checks: every page; Redis's users (no credentials: NOAUTH; the
# workers' user khalid: NOPERM for FLUSHALL, CONFIG, KEYS, SHUTDOWN; health: PING only), and
# later the passwords rotated to secret files; requests reach all 3 workers and `visits`
# rises by exactly the number of /count requests; the monitoring profile (Prometheus and
# its exporters healthy and hardened, every target scraped, the /count requests counted
# through nginx, /metrics and /nginx-status still refused to the host); scaling to 5 and
# back to 2 under load fails no request, not even for a keep-alive client that never retries,
# and nginx uses the new set within 10 s without restarting or reloading; an explicit nginx
# reload under load fails no request of clients that retry as browsers do; a worker
# killed under load does not stop / from answering; the count survives `restart redis`,
# `down` + `up`, and a rebuild of the Redis image; then HTTPS with TLS=self-signed (every
# page over HTTP/1.1 and HTTP/2 with the CA copied out of the volume, the redirect, HSTS,
# TLS 1.1 refused, exact counting, the CA kept across a recreate, a wrong or missing key
# stopping the container). Then it removes everything it made
# (containers, networks, volumes, the images it built, and the base image when this run
# made it) - also when a check fails.
#
# Needs: docker (engine + `docker compose` or docker-compose 1.29+), curl. When the base
# image debian:bookworm-slim is missing and no registry is reachable, it is made from
# Debian's packages first (tests/make-base-image.sh; needs root).
#
# Settings: COMPOSE picks the Compose command ("docker-compose" for 1.29, "docker compose" or
# a v2 binary); unset, the whole test runs twice, with Compose v2 (scripts/compose-v2.sh:
# the installed plugin, or built from the Go module proxy and cached; when it cannot be
# had, it says so and 1.29 runs alone) and with docker-compose 1.29, and ends with the sum.
# KT_KEEP_BUILD_CACHE=1 keeps the untagged build-stage images the classic builder leaves,
# and a base image this run made (faster next run).
# Ends with "N passed, N failed"; exits non-zero when a check failed.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
# The classic builder uses the local base image; BuildKit may try to resolve FROM remotely.
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0

if [ -z "${COMPOSE:-}" ]; then
    commands=()
    if v2=$(bash scripts/compose-v2.sh); then
        commands+=("$v2")
    else
        echo "# Compose v2 cannot be had here (see above): testing docker-compose 1.29 alone"
    fi
    commands+=(docker-compose)
    passed=0 failed=0 rc=0
    for c in "${commands[@]}"; do
        echo "# ---- check-compose with COMPOSE=\"$c\""
        COMPOSE=$c bash "$0" | tee "${TMPDIR:-/tmp}/kt-compose-all.$$"
        [ "${PIPESTATUS[0]}" = 0 ] || rc=1
        read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "${TMPDIR:-/tmp}/kt-compose-all.$$" | tail -n 1)
        rm -f "${TMPDIR:-/tmp}/kt-compose-all.$$"
        passed=$((passed + ${p:-0})) failed=$((failed + ${f:-1}))
    done
    echo "# both Compose versions: ${commands[*]}"
    printf '%d passed, %d failed\n' "$passed" "$failed"
    [ "$rc" = 0 ] && [ "$failed" = 0 ]
    exit
fi

PROJECT=ktcheck$$$RANDOM
# The images' tag (compose.yml: khalid-tracker/<service>:$KHALID_VERSION), this run's own:
# runs beside each other never share or remove each other's images.
TAG=test-$PROJECT
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kt-compose.XXXXXX")
PASS=0 FAIL=0 T0=$SECONDS
TORN_DOWN=0 STARTED=0
BASE_MADE=    # the ID of debian:bookworm-slim when this run made it
BASE_SHARED=0 # 1: that image was left at the end because other images or containers use it

# log, ok, bad, check, checkw, summary, wait_until, free_port, free_subnet, fetch,
# served_by, load...: tests/lib/checks.sh, shared with tests/check-swarm.sh.
. "$ROOT/tests/lib/checks.sh"
clear_settings

# ---------------------------------------------------------------- prerequisites
if ! docker info >/dev/null 2>&1; then
    bad "a Docker engine answers (docker info)" "no Docker engine: nothing tested"
    summary; exit 1
fi
if [ -n "${COMPOSE:-}" ]; then
    read -r -a DC <<<"$COMPOSE"
elif docker compose version >/dev/null 2>&1; then
    DC=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    DC=(docker-compose)
else
    bad "Docker Compose is installed" "neither 'docker compose' nor docker-compose found"
    summary; exit 1
fi
command -v curl >/dev/null || { bad "curl is installed"; summary; exit 1; }

ENVF=$TMP/test.env
# Compose runs in the background and is waited for, so that a signal to this script is
# handled at once (the trap stops it) rather than after a build of several minutes.
CHILD=
dc() {
    local rc=0
    "${DC[@]}" --env-file "$ENVF" -p "$PROJECT" -f "$ROOT/compose.yml" "$@" &
    CHILD=$!
    wait "$CHILD" || rc=$?
    CHILD=
    return "$rc"
}
# The original stdout/stderr: a signal may arrive while a command's output is redirected.
exec 7>&1 8>&2

# ---------------------------------------------------------------- teardown (also on failure)
dangling_before=$TMP/dangling.before
docker images -q --filter dangling=true | sort -u >"$dangling_before"
teardown() {
    [ "$TORN_DOWN" = 1 ] && return 0
    TORN_DOWN=1
    if [ "$STARTED" = 1 ]; then
        dc logs --no-color >"$TMP/compose.log" 2>&1 || true
        dc down -v --remove-orphans -t 10 >"$TMP/down.log" 2>&1 || cat "$TMP/down.log" >&2
    fi
    # Anything left with the project's label (a container that `down` missed).
    local left
    left=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")
    [ -n "$left" ] && docker rm -f $left >/dev/null 2>&1
    left=$(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT")
    [ -n "$left" ] && docker volume rm -f $left >/dev/null 2>&1
    left=$(docker network ls -q --filter "label=com.docker.compose.project=$PROJECT")
    [ -n "$left" ] && docker network rm $left >/dev/null 2>&1
    # The images built for this project (this run's tag), also when it never got as far as `up`.
    docker images --format '{{.Repository}}:{{.Tag}}' --filter "reference=khalid-tracker/*:$TAG" |
        xargs -r docker rmi >/dev/null 2>&1
    # Untagged images this run left (build stages, a replaced Redis image).
    if [ "${KT_KEEP_BUILD_CACHE:-0}" != 1 ]; then
        docker images -q --filter dangling=true | sort -u | comm -13 "$dangling_before" - |
            xargs -r docker rmi >/dev/null 2>&1
        # Last, as every image above was built on it; left while others use it.
        if [ -n "$BASE_MADE" ]; then
            bash "$ROOT/tests/make-base-image.sh" --remove "$BASE_MADE" 2>&1 | sed 's/^/# /'
            [ "${PIPESTATUS[0]}" = 3 ] && BASE_SHARED=1
        fi
    fi
    return 0
}
on_exit() {
    local rc=$?
    exec 1>&7 2>&8
    if [ "$TORN_DOWN" = 0 ]; then
        log "tearing down $PROJECT"
        teardown
        if [ -f "$TMP/compose.log" ] && [ "$FAIL" -gt 0 ]; then
            log "last compose log lines (access log left out):"
            grep -vF '{"time":"' "$TMP/compose.log" | tail -n 40 | sed 's/^/#   /'
        fi
        summary
        [ "$rc" = 0 ] && [ "$FAIL" -gt 0 ] && rc=1
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap on_exit EXIT
interrupted() {
    exec 1>&7 2>&8
    [ -n "$CHILD" ] && kill "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null
    # The load generators, if running.
    jobs -p | xargs -r kill 2>/dev/null
    CHILD=
    log "interrupted"
    FAIL=$((FAIL + 1))
    exit 130
}
trap interrupted INT TERM

# ---------------------------------------------------------------- helpers

# absent REGEX FILE: the file was read and has no such line (a `! grep` would also pass
# on a missing file).
absent() {
    local rc=0
    grep -qE "$1" "$2" 2>"$TMP/grep.err" || rc=$?
    case $rc in
        1) return 0 ;;
        0) WHY="found: $(grep -m 1 -E "$1" "$2")" ;;
        *) WHY="could not read $2: $(head -c 200 "$TMP/grep.err")" ;;
    esac
    return 1
}
# in_container STATUS CONTAINER COMMAND...: the command ran in the container and exited
# with STATUS. docker exec answers 125-127 itself when it could not run the command (no
# such container, not running, no such binary): WHY then says so, and the check fails.
WHY=
in_container() {
    local want=$1 c=$2 rc=0; shift 2
    docker exec "$c" "$@" >"$TMP/exec.err" 2>&1 || rc=$?
    [ "$rc" = "$want" ] && return 0
    if [ "$rc" -ge 125 ]; then WHY="could not run '$*' in ${c:0:12} (docker exec: $rc, $(head -c 200 "$TMP/exec.err" | tr '\n' ' '))"
    else WHY="'$*' in ${c:0:12} exited $rc, not $want"; fi
    return 1
}

# raw_head PATH: HEAD over HTTP/1.0 on a fresh connection, read until the server closes it;
# curl -I stops reading after the head, so it cannot see a body sent after one. Sets
# HEAD_STATUS, HEAD_EOF (1: the server closed the connection within 10 s) and HEAD_AFTER
# (bytes after the blank line that ends the head; empty when there was no such line).
raw_head() {
    local f=$TMP/raw_head rc=0 n
    timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 2
        printf "HEAD %s HTTP/1.0\r\nHost: localhost\r\n\r\n" "$2" >&3
        cat <&3' _ "$PORT" "$1" >"$f" 2>/dev/null || rc=$?
    HEAD_EOF=0; [ "$rc" = 0 ] && HEAD_EOF=1
    HEAD_STATUS=$(head -n 1 "$f" | tr -d '\r' | awk '{ print $2 }')
    n=$(grep -n -m 1 -a $'^\r$' "$f" | cut -d: -f1)
    HEAD_AFTER=
    [ -n "$n" ] && HEAD_AFTER=$(( $(wc -c <"$f") - $(head -n "$n" "$f" | wc -c) ))
    return 0
}
head_empty() { [ "$HEAD_STATUS" = 200 ] && [ "$HEAD_EOF" = 1 ] && [ "$HEAD_AFTER" = 0 ]; }

BODY=$TMP/body HDRS=$TMP/headers CODE=

cids() { docker ps -q --no-trunc --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=$1" "${@:2}" | sort; }
cid1() { cids "$1" | head -n 1; }
short_ids() { cids fcgi-app | cut -c1-12 | sort; }
app_ips() { # app-network addresses of the running workers, sorted
    local c
    for c in $(cids fcgi-app); do
        docker inspect -f "{{(index .NetworkSettings.Networks \"${PROJECT}_app\").IPAddress}}" "$c"
    done | sort -t. -k1,1n -k2,2n -k3,3n -k4,4n
}
upstream_ips() { # the workers nginx's balancer reads (nginx/watch-upstream.sh writes them)
    docker exec "$(cid1 nginx)" cat /run/nginx/peers 2>/dev/null |
        awk -F: 'NF == 2 { print $1 }' | sort -t. -k1,1n -k2,2n -k3,3n -k4,4n
}
# The pids of nginx's worker processes: a reload replaces them.
nginx_workers() { docker top "$NGINX" -eo pid,args 2>/dev/null | awk '/nginx: worker process/ { print $1 }' | sort | tr '\n' ' '; }
visits() {
    docker exec "$(cid1 redis)" sh -c 'REDISCLI_AUTH="$(cat /run/redis/password)" redis-cli --raw get visits' 2>/dev/null | tr -d '\r'
}
health_of() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1" 2>/dev/null; }

all_healthy() {
    local c n=0
    for c in $(docker ps -q --filter "label=com.docker.compose.project=$PROJECT"); do
        [ "$(health_of "$c")" = healthy ] || return 1
        n=$((n + 1))
    done
    [ "$n" -ge "${1:-1}" ]
}
site_up() { [ "$(curl -s -o /dev/null --max-time 3 -w '%{http_code}' "$URL/health")" = 200 ]; }



# ---------------------------------------------------------------- 0. static checks
log "compose: ${DC[*]} ($("${DC[@]}" version --short 2>/dev/null || "${DC[@]}" version | head -n 1)); project $PROJECT"
: >"$ENVF"
check "compose.yml is valid ($("${DC[@]}" version --short 2>/dev/null || echo compose))" dc config -q
checkw "compose.yml has no version: or name: key" absent "^(version|name):" "$ROOT/compose.yml"
checkw "no container_name in compose.yml (the workers are scaled)" absent "^[[:space:]]*container_name:" "$ROOT/compose.yml"

# ---------------------------------------------------------------- 1. base image, build
if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    log "debian:bookworm-slim is missing: making it from Debian's packages"
    if BASE_MADE=$(bash "$ROOT/tests/make-base-image.sh" 2>"$TMP/base.log"); then
        sed 's/^/# /' "$TMP/base.log"
        ok "base image debian:bookworm-slim made with debootstrap (removed at the end)"
    else
        sed 's/^/# /' "$TMP/base.log"; BASE_MADE=
        bad "base image debian:bookworm-slim made with debootstrap"; exit 1
    fi
fi
PORT=$(free_port) || { bad "a free host port"; exit 1; }
TLS_PORT=$PORT
while [ "$TLS_PORT" = "$PORT" ]; do TLS_PORT=$(free_port) || { bad "a second free host port"; exit 1; }; done
URL=http://127.0.0.1:$PORT TLS_URL=https://127.0.0.1:$TLS_PORT
# Published on loopback only: HTTP_PORT and HTTPS_PORT may carry the address. The load
# below comes from one client (Docker's relay makes it the bridge's gateway): no rate limit.
printf 'HTTP_PORT=127.0.0.1:%s\nHTTPS_PORT=127.0.0.1:%s\nRATE_LIMIT=0\nKHALID_VERSION=%s\n' "$PORT" "$TLS_PORT" "$TAG" >"$ENVF"
SUBNET=$(free_subnet)
[ -n "$SUBNET" ] || { bad "a free subnet for the monitoring network"; exit 1; }
printf 'MONITORING_SUBNET=%s\n' "$SUBNET" >>"$ENVF"

t=$(now)
# docker-compose 1.x builds one image after the other unless told otherwise, and keeps the
# container of a failed build step (holding its image) unless told otherwise.
build_args=() rm_args=()
[[ $("${DC[@]}" version --short 2>/dev/null) == 1.* ]] && build_args=(--parallel --force-rm) rm_args=(--force-rm)
if dc build "${build_args[@]}" >"$TMP/build.log" 2>&1; then
    ok "images build ($(elapsed "$t" "$(now)") s)"
else
    bad "images build" "$(tail -n 20 "$TMP/build.log" | tr '\n' ' ')"; exit 1
fi
for svc in nginx fcgi-app redis; do
    img=$(docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' --filter "reference=khalid-tracker/$svc:$TAG")
    log "image ${img:-?}"
done

# ---------------------------------------------------------------- 2. up with 3 workers
t=$(now)
STARTED=1
if dc up -d --scale fcgi-app=3 >"$TMP/up.log" 2>&1 && wait_until 90 site_up; then
    ok "stack up with 3 workers on 127.0.0.1:$PORT ($(elapsed "$t" "$(now)") s)"
else
    bad "stack up with 3 workers" "$(tail -n 5 "$TMP/up.log" | tr '\n' ' ')"; exit 1
fi
check "all 5 containers healthy (healthchecks)" wait_until 60 all_healthy 5
NGINX=$(cid1 nginx) REDIS=$(cid1 redis)
nginx_started=$(docker inspect -f '{{.State.StartedAt}}' "$NGINX")

# ---------------------------------------------------------------- 3. pages
fetch /
check "/ answers 200 with the app name" '[ "$CODE" = 200 ] && grep -q "Khalid Tracker" "$BODY"'
check "security headers on a page (CSP, nosniff, X-Frame-Options)" \
    '[ -n "$(header Content-Security-Policy)" ] && [ "$(header X-Content-Type-Options)" = nosniff ] && [ -n "$(header X-Frame-Options)" ]'
check "Server header carries no version" '[ "$(header Server)" = nginx ]'
raw_head /
check "HEAD / answers 200 and nothing after the head, read until the server closed (status ${HEAD_STATUS:-none}, closed: $HEAD_EOF, ${HEAD_AFTER:-no end of head, ?} bytes after it)" head_empty
fetch /count
v=$(grep -o 'id="visits"[^>]*>[0-9]*' "$BODY" | grep -o '[0-9]*$')
check "/count answers 200 with the count in id=\"visits\" ($v)" '[ "$CODE" = 200 ] && [ -n "$v" ]'
check "/count sends X-Served-By HOST/PID ($(header X-Served-By))" '[[ "$(header X-Served-By)" =~ ^[0-9a-f]{12}/[0-9]+$ ]]'
fetch /about
check "/about answers 200" '[ "$CODE" = 200 ] && grep -qi nginx "$BODY"'
fetch /health
check "/health answers 200 $(cat "$BODY")" '[ "$CODE" = 200 ] && grep -q "\"status\":\"ok\"" "$BODY" && grep -q "\"redis\":\"up\"" "$BODY"'
fetch /no-such-page
check "an unknown path answers 404 with security headers" '[ "$CODE" = 404 ] && [ -n "$(header Content-Security-Policy)" ]'
fetch -X POST /
check "POST / answers 405 with Allow: $(header Allow)" '[ "$CODE" = 405 ] && [ -n "$(header Allow)" ]'
static=
for f in "$ROOT"/templates/static/*.css; do [ -f "$f" ] && static=${f##*/} && break; done
fetch "/static/${static:-style.css}"
check "static file /static/${static:-?} served by nginx with caching headers" '[ "$CODE" = 200 ] && [ -n "$(header Cache-Control)" ]'

# ---------------------------------------------------------------- 4. the deployment's shape
only_nginx_published() {
    local c
    [ -n "$(docker port "$NGINX")" ] || return 1
    for c in $(cids fcgi-app) "$REDIS"; do [ -z "$(docker port "$c")" ] || return 1; done
}
users_ok() {
    local c
    for c in $(cids fcgi-app); do [ "$(docker exec "$c" id -u)" = 10001 ] || return 1; done
    [ "$(docker exec "$NGINX" id -un)" = www-data ] && [ "$(docker exec "$REDIS" id -un)" = redis ]
}
check "only nginx publishes a port ($(docker port "$NGINX" | head -n 1))" only_nginx_published
check "workers run as uid 10001, nginx as www-data, Redis as redis" users_ok
# limits_applied CONTAINER...: each has a memory and a process-count limit (compose.yml's
# mem_limit and pids_limit, applied by this Compose); WHY names the first that has not.
limits_applied() {
    local c l
    for c in "$@"; do
        l=$(docker inspect -f '{{.Name}} {{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}' "$c" 2>&1)
        [[ $l =~ ^/[^\ ]+\ [1-9][0-9]*\ [1-9][0-9]*$ ]] || { WHY="no memory or pids limit: $l"; return 1; }
    done
}
checkw "memory and process-count limits on every container" limits_applied $(cids fcgi-app) "$NGINX" "$REDIS"
# getent exits 2 for a name it cannot find; fcgi-app resolving shows DNS works there.
redis_unknown_to_nginx() { in_container 0 "$NGINX" getent hosts fcgi-app && in_container 2 "$NGINX" getent hosts redis; }
checkw "Redis is not reachable from nginx (back network only: getent finds fcgi-app, not redis)" redis_unknown_to_nginx

# Redis's users (redis/acl.sh), asked with redis-cli inside the Redis container, where the
# passwords are: they never reach this script, an argument or the output.
declare -A REDIS_PW=([default]=/run/redis/password [khalid]=/run/redis-auth/worker.pass [health]=/run/redis/health.pass)
# redis_as USER COMMAND...: the command as USER (none: no credentials); Redis's answer in
# ANSWER. Fails, with WHY, when redis-cli could not be run or could not reach Redis, so
# that a refusal is never mistaken for a command that did not run.
ANSWER=
redis_as() {
    local user=$1 rc=0; shift
    if [ "$user" = none ]; then
        docker exec "$(cid1 redis)" redis-cli "$@" >"$TMP/redis.out" 2>"$TMP/redis.err" || rc=$?
    else
        docker exec "$(cid1 redis)" sh -c 'f=$1 u=$2; shift 2; REDISCLI_AUTH=$(cat "$f") exec redis-cli --user "$u" "$@"' \
            sh "${REDIS_PW[$user]}" "$user" "$@" >"$TMP/redis.out" 2>"$TMP/redis.err" || rc=$?
    fi
    ANSWER=$(tr -d '\r' <"$TMP/redis.out" | grep -v '^$')
    [ "$rc" = 0 ] && return 0
    if [ "$rc" -ge 125 ]; then WHY="could not run redis-cli in the Redis container (docker exec: $rc, $(head -c 200 "$TMP/redis.err" | tr '\n' ' '))"
    else WHY="redis-cli $* as $user could not ask Redis (exit status $rc: $(head -c 200 "$TMP/redis.err" | tr '\n' ' '))"; fi
    return 1
}
# answers WANT USER COMMAND...: Redis answered the command as USER with WANT first.
answers() {
    local want=$1 user=$2; shift 2
    redis_as "$user" "$@" || return 1
    [[ $ANSWER == "$want"* ]] && return 0
    WHY="'$*' as $user answered: ${ANSWER:0:150}"
    return 1
}
refused_anonymous() { answers NOAUTH none ping && answers NOAUTH none get visits && answers WRONGPASS none auth default not-the-password; }
checkw "Redis: no credentials get NOAUTH, a wrong admin password WRONGPASS" refused_anonymous
khalid_limited() {
    # The workers' password is right, so each NOPERM below is the ACL's.
    redis_as khalid get visits || return 1
    is_count "$ANSWER" || { WHY="GET visits as khalid answered: ${ANSWER:0:150}"; return 1; }
    answers NOPERM khalid flushall && answers NOPERM khalid config get maxmemory && answers NOPERM khalid keys '*' &&
        answers NOPERM khalid set elsewhere 1 && answers NOPERM khalid shutdown nosave &&
        # DEBUG is off for everyone (enable-debug-command no), checked before the ACL: the
        # ACL's own verdict is ACL DRYRUN's.
        answers "This user has no permissions to run the 'debug' command" default acl dryrun khalid debug object visits
}
checkw "Redis: the workers' user khalid may GET visits; FLUSHALL, CONFIG, KEYS, other keys, SHUTDOWN get NOPERM; the ACL refuses it DEBUG" khalid_limited
health_ping_only() { answers PONG health ping && answers NOPERM health get visits && answers NOPERM health info; }
checkw "Redis: the healthcheck's user health may PING and nothing else" health_ping_only
# The generated admin password lives in the volume the workers mount, readable by redis only.
admin_hidden() { in_container 1 "$(cid1 fcgi-app)" cat /run/redis-auth/admin.generated; }
checkw "the workers cannot read the admin password" admin_hidden
no_password_in_images() {
    local imgs env
    imgs=$(docker inspect -f '{{.Image}}' "$REDIS" "$(cid1 fcgi-app)" 2>"$TMP/inspect.err") &&
        [ "$(wc -w <<<"$imgs")" = 2 ] || { WHY="could not find the Redis and worker images: $(head -c 200 "$TMP/inspect.err")"; return 1; }
    # shellcheck disable=SC2086 # two image IDs
    env=$(docker image inspect -f '{{json .Config.Env}}' $imgs 2>"$TMP/inspect.err") &&
        grep -q 'PATH=' <<<"$env" || { WHY="could not read the images' environment: $(head -c 200 "$TMP/inspect.err")"; return 1; }
    grep -qi 'PASSWORD=' <<<"$env" && { WHY="found: $(grep -oi '"[^"]*PASSWORD=' <<<"$env" | head -n 3 | tr '\n' ' ')"; return 1; }
    return 0
}
checkw "no password in the images' environment" no_password_in_images
dc logs --no-color nginx >"$TMP/nginx.log" 2>&1
# One JSON object per line, every field (README, Operations); served_by is the worker's
# container and pid, as in X-Served-By.
json_count_line='\{"time":"[^"]+","method":"GET","path":"/count","status":200,"bytes":[0-9]+,"request_time":[0-9.]+,"upstream_addr":"[0-9.]+:9000","upstream_response_time":"[0-9.]+","served_by":"[0-9a-f]{12}/[0-9]+","client":"[0-9.]+"\}$'
check "nginx logs requests to stdout (compose logs) as JSON lines with every field" 'grep -qE "$json_count_line" "$TMP/nginx.log"'
# The defaults (64 threads per worker, 1 nginx process) give a pool of 3/4 x 64 = 48.
keepalive_on() {
    docker exec "$NGINX" cat /run/nginx/upstream.conf >"$TMP/upstream.conf" 2>/dev/null &&
        grep -q "^fastcgi_keep_conn on;" "$TMP/upstream.conf" && grep -qE "^[[:space:]]+keepalive 48;" "$TMP/upstream.conf"
}
check "FastCGI keep-alive to the workers is on by default (keepalive 48 in nginx's upstream block)" keepalive_on

# ---------------------------------------------------------------- 5. spread and exact counting
: >"$TMP/count.codes"
before=$(visits)
mapfile -t hosts < <(served_by 60 | sort | uniq -c | awk '{ print $2 }')
expected=$(short_ids | tr '\n' ' ')
check "requests reach all 3 workers (served-by: ${hosts[*]})" \
    '[ "$(printf "%s\n" "${hosts[@]}" | sort | tr "\n" " ")" = "$expected" ] && [ ${#hosts[@]} = 3 ]'
after=$(visits)
check "visits rose by exactly 60 after 60 requests across workers ($before -> $after)" \
    'is_count "$before" && is_count "$after" && [ $((after - before)) = 60 ] && [ "$(grep -c "^200$" "$TMP/count.codes")" = 60 ]'
before=$(visits)
codes=$(curl -s --parallel --parallel-max 20 --max-time 15 -o /dev/null -w '%{http_code}\n' "$URL/count?c=[1-500]" 2>/dev/null |
        sort | uniq -c | tr -s ' ')
after=$(visits)
check "500 concurrent /count (20 connections): all 200, visits +500 exactly ($before -> $after)" \
    'is_count "$before" && is_count "$after" && [ "$codes" = " 500 200" ] && [ $((after - before)) = 500 ]'

# ---------------------------------------------------------------- 5b. the monitoring profile
# `--profile monitoring` adds Prometheus and its three exporters beside the running stack:
# they build and turn healthy, hardened like the rest; Prometheus scrapes all its targets,
# the workers' /metrics through nginx from the monitoring network, and counts the /count
# requests sent; /metrics and /nginx-status still refuse the host. Then they are removed,
# so that the checks below run on the stack as it is without the profile.
MON=(prometheus nginx-exporter redis-exporter redis-volume)
no_monitoring() { local s; for s in "${MON[@]}"; do [ -z "$(cids "$s")" ] || return 1; done; }
check "without the monitoring profile, no monitoring container runs" no_monitoring
PROM_PORT=$PORT
while [ "$PROM_PORT" = "$PORT" ] || [ "$PROM_PORT" = "$TLS_PORT" ]; do PROM_PORT=$(free_port) || { bad "a free port for Prometheus"; exit 1; }; done
PROM=http://127.0.0.1:$PROM_PORT
printf 'PROMETHEUS_PORT=127.0.0.1:%s\nSCRAPE_INTERVAL=2\n' "$PROM_PORT" >>"$ENVF"
# prom EXPR: the value of a one-series PromQL expression from Prometheus's API ("" for none).
prom() {
    curl -s --max-time 5 --get --data-urlencode "query=$1" "$PROM/api/v1/query" 2>/dev/null |
        python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if len(r) == 1 else "")' 2>/dev/null
}
t=$(now)
if dc --profile monitoring build "${build_args[@]}" "${MON[@]}" >"$TMP/mon-build.log" 2>&1 &&
    dc --profile monitoring up -d --no-recreate --scale fcgi-app=3 >"$TMP/mon-up.log" 2>&1; then
    ok "monitoring profile built and up ($(elapsed "$t" "$(now)") s)"
else
    bad "monitoring profile built and up" "$(tail -n 8 "$TMP/mon-build.log" "$TMP/mon-up.log" | tr '\n' ' ')"
fi
for svc in "${MON[@]}"; do
    log "image $(docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' --filter "reference=khalid-tracker/$svc:$TAG")"
done
mon_healthy() { local s; for s in "${MON[@]}"; do [ "$(health_of "$(cid1 "$s")")" = healthy ] || return 1; done; }
check "the 4 monitoring containers healthy (healthchecks)" wait_until 90 mon_healthy
# What each monitoring container and nginx said, when one is not healthy.
if ! mon_healthy; then
    for svc in nginx "${MON[@]}"; do
        c=$(cid1 "$svc")
        log "$svc: ${c:+$(health_of "$c"), }$(docker logs --tail 4 "$c" 2>&1 | grep -v '"method"' | tr '\n' ' ' | cut -c1-300)"
    done
fi
mon_hardened() {
    local s c
    for s in "${MON[@]}"; do
        c=$(cid1 "$s")
        [ "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}} {{.HostConfig.Init}} {{.HostConfig.RestartPolicy.Name}}' "$c" 2>/dev/null)" = \
          "true [ALL] [no-new-privileges:true] true unless-stopped" ] || { WHY="$s: $(docker inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}} {{.HostConfig.Init}} {{.HostConfig.RestartPolicy.Name}}' "$c" 2>&1)"; return 1; }
    done
    # Only Prometheus publishes a port, on loopback.
    [ "$(docker port "$(cid1 prometheus)")" = "9090/tcp -> 127.0.0.1:$PROM_PORT" ] || { WHY="prometheus publishes: $(docker port "$(cid1 prometheus)")"; return 1; }
    for s in nginx-exporter redis-exporter redis-volume; do
        [ -z "$(docker port "$(cid1 "$s")")" ] || { WHY="$s publishes a port"; return 1; }
    done
}
checkw "monitoring containers read-only, no capability, no-new-privileges, init, restart; only Prometheus published, on 127.0.0.1:$PROM_PORT" mon_hardened
checkw "memory and process-count limits on the monitoring containers" limits_applied $(for s in "${MON[@]}"; do cid1 "$s"; done)
all_targets_up() { [ "$(prom 'count(up == 1)')" = 4 ] && [ "$(prom 'count(up)')" = 4 ]; }
check "Prometheus scrapes its 4 targets: up = 1 for khalid (through nginx), nginx, redis, redis-volume" wait_until 60 all_targets_up
three_workers() { [ "$(prom 'count(khalid_threads)')" = 3 ]; }
check "Prometheus sees the 3 workers: count(khalid_threads) = 3" wait_until 20 three_workers
check "Prometheus sees Redis up and the volume's file system at /data" \
    '[ "$(prom redis_up)" = 1 ] && [ -n "$(prom "node_filesystem_avail_bytes{mountpoint=\"/data\"}")" ]'
COUNT_SUM='sum(khalid_http_requests_total{route="/count",code="200"})'
# No /count series yet is none counted.
before=$(prom "$COUNT_SUM")
before=${before:-0}
codes=$(curl -s --max-time 15 -o /dev/null -w '%{http_code}\n' "$URL/count?m=[1-30]" 2>/dev/null | sort | uniq -c | tr -s ' ')
counted() { [ "$(prom "$COUNT_SUM")" = "$((before + 30))" ]; }
wait_until 20 counted
after=$(prom "$COUNT_SUM")
check "30 more /count: Prometheus's $COUNT_SUM rises by exactly 30 ($before -> $after)" \
    'is_count "$before" && [ "$codes" = " 30 200" ] && [ "$after" = $((before + 30)) ]'
fetch /metrics
m_code=$CODE
fetch /nginx-status
check "from the host, /metrics answers 404 ($m_code) and /nginx-status 403 ($CODE)" '[ "$m_code" = 404 ] && [ "$CODE" = 403 ]'
if dc --profile monitoring rm -s -f "${MON[@]}" >"$TMP/mon-rm.log" 2>&1 && no_monitoring; then
    ok "monitoring containers removed"
else
    bad "monitoring containers removed" "$(tail -n 5 "$TMP/mon-rm.log" | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- 6. live scaling under load
# After a scale command: nginx's upstream set equals the running workers' addresses, and
# every running worker answers requests.
upstream_matches() { [ "$(upstream_ips | tr '\n' ' ')" = "$(app_ips | tr '\n' ' ')" ]; }
all_serve() {
    local seen
    seen=$(served_by 20 | sort -u | tr '\n' ' ')
    [ "$seen" = "$(short_ids | tr '\n' ' ')" ]
}
to_epoch() { date -u -d "$1" +%s.%N; }
newest_start() { cids fcgi-app | xargs docker inspect -f '{{.State.StartedAt}}' | sort | tail -n 1; }
# last_update "IP IP ...": reads `docker logs --timestamps` lines of the nginx container and
# prints the full timestamp (date and time, from Docker) of the last nginx/watch-upstream.sh
# update with exactly these addresses. The script's own log line has the time of day only,
# which no date can be put to safely around midnight.
last_update() {
    grep -oE '^[0-9]{4}-[0-9-]+T[0-9:.]+Z watch-upstream: [0-9:.]+ upstream fcgi-app: [0-9. ]*' |
        awk -v want="$1" '{ t = $1; $1 = $2 = $3 = $4 = $5 = ""; gsub(/^ +| +$/, ""); if ($0 == want) last = t } END { print last }'
}
# update_time "IP IP ...": that update in epoch seconds, or nothing.
update_time() {
    local ts
    ts=$(docker logs --timestamps "$NGINX" 2>&1 | last_update "$1")
    [ -n "$ts" ] && to_epoch "$ts"
}
# event_time SINCE EVENT: the first EVENT (kill, die) of the project's workers since SINCE.
event_time() {
    docker events --since "$1" --until "$(date +%s)" --filter "label=com.docker.compose.project=$PROJECT" \
        --filter "label=com.docker.compose.service=fcgi-app" --filter "event=$2" --format '{{.TimeNano}}' 2>/dev/null |
        sort -n | head -n 1 | awk '{ printf "%.3f", $1 / 1e9 }'
}
# scale_to N PREVIOUS: runs the scale command and waits until nginx uses exactly the running workers.
# Sets CMD_S (compose's time), PICK_S (scale up: from the newest worker's start to the
# watcher's update that added it; scale down: from the SIGTERM to the update that dropped the
# stopping ones), MARGIN_S (scale down: how long before the first stopped container exited).
scale_to() {
    local t0 t1 ips t_update t_ref t_die
    CMD_S='?' PICK_S='?' MARGIN_S='?'
    t0=$(now)
    dc up -d --no-recreate --scale "fcgi-app=$1" >>"$TMP/scale.log" 2>&1 || return 1
    t1=$(now); CMD_S=$(elapsed "$t0" "$t1")
    wait_until 30 upstream_matches || return 1
    wait_until 15 all_serve || return 1
    ips=$(app_ips | tr '\n' ' ' | sed 's/ $//')
    t_update=$(update_time "$ips")
    [ -n "$t_update" ] || return 1
    if [ "$(cids fcgi-app | wc -l)" -gt "${2:-0}" ]; then
        t_ref=$(to_epoch "$(newest_start)")
    else
        t_ref=$(event_time "${t0%.*}" kill)
        t_die=$(event_time "${t0%.*}" die)
        docker events --since "${t0%.*}" --until "$(date +%s)" --filter "label=com.docker.compose.project=$PROJECT" \
            --filter "label=com.docker.compose.service=fcgi-app" --filter event=kill --filter event=die \
            --format '{{.TimeNano}} {{.Action}} {{.Actor.Attributes.name}}' 2>/dev/null >"$TMP/scale-down.events"
        [ -n "$t_die" ] && MARGIN_S=$(elapsed "$t_update" "$t_die")
    fi
    [ -n "$t_ref" ] && PICK_S=$(elapsed "$t_ref" "$t_update")
}

: >"$TMP/count.codes"
before=$(visits)
log "load: / with Connection: close and /count keep-alive, 8 connections each, and / from a keep-alive client that never retries, 32 connections, while scaling 3 -> 5 -> 2"
workers_before=$(nginx_workers)
load scale_root / 45 -H 'Connection: close' &
lr=$!
load scale_count /count 45 &
lc=$!
# No reload closes a kept-alive client connection, so a client that never sends a request
# again (wrk, many HTTP libraries) sees no error either.
/usr/bin/python3 "$ROOT/tests/noretry_load.py" "$PORT" / 45 32 0.05 >"$TMP/noretry.out" 2>"$TMP/noretry.err" &
ln=$!
sleep 4
scale_to 5 3; rc5=$?
n5=$(cids fcgi-app | wc -l)
log "scale 3->5: compose took ${CMD_S}s; nginx's balancer had all 5 workers ${PICK_S}s after the newest one started"
up_pick=$PICK_S
sleep 5
scale_to 2 5; rc2=$?
n2=$(cids fcgi-app | wc -l)
log "scale 5->2: compose took ${CMD_S}s; nginx's balancer dropped the 3 stopping workers ${PICK_S}s after their SIGTERM, ${MARGIN_S}s before the first of them exited"
down_pick=$PICK_S
awk -v r="$(update_time "$(app_ips | tr '\n' ' ' | sed 's/ $//')")" '{ printf "#   %+.1fs %s %s\n", $1 / 1e9 - r, $2, $3 }' "$TMP/scale-down.events" 2>/dev/null
wait "$lr" "$lc" "$ln"
workers_after=$(nginx_workers)
after=$(visits)
dc logs --no-color nginx 2>/dev/null | grep -o 'watch-upstream: .*' | tail -n 4 | cut -c1-160 | sed 's/^/  /' | while IFS= read -r l; do log "$l"; done
within10() { [ "$1" != "?" ] && awk -v t="$1" 'BEGIN { exit !(t <= 10) }'; }
check "scale to 5: 5 workers, nginx uses all 5 within 10 s (${up_pick}s)" '[ $rc5 = 0 ] && [ $n5 = 5 ] && within10 "$up_pick"'
check "scale to 2: 2 workers, nginx uses only those within 10 s (${down_pick}s)" '[ $rc2 = 0 ] && [ $n2 = 2 ] && within10 "$down_pick"'
check "nginx was neither restarted nor reloaded while scaling (worker processes $workers_before)" \
    '[ "$(docker inspect -f "{{.State.StartedAt}} {{.RestartCount}}" "$NGINX")" = "$nginx_started 0" ] && [ -n "$workers_before" ] && [ "$workers_after" = "$workers_before" ]'
check "no failed request during scaling: / with new connections ($(codes_summary scale_root))" all_200 scale_root
check "no failed request during scaling: /count keep-alive ($(codes_summary scale_count))" all_200 scale_count
read -r _ n_req _ n_non2xx _ n_err _ n_reused <"$TMP/noretry.out"
check "no failed request during scaling: / from a keep-alive client that never retries ($n_req requests, $n_non2xx non-2xx, $n_err socket errors $(cat "$TMP/noretry.err"))" \
    'is_count "$n_req" && [ "$n_req" -gt 0 ] && [ "$n_non2xx" = 0 ] && [ "$n_err" = 0 ]'
total=$(count_200)
check "visits rose by exactly the $total answered /count requests while scaling ($before -> $after)" \
    'is_count "$before" && is_count "$after" && [ "$total" -gt 0 ] && [ $((after - before)) = "$total" ]'

# ---------------------------------------------------------------- 6b. an explicit reload under load
# `nginx -s reload` (a new configuration, certificates) still closes idle client connections:
# clients that retry as browsers and curl do see nothing of it, and nothing counts twice.
before=$(visits)
load reload_root / 10 -H 'Connection: close' &
lr=$!
load reload_count /count 10 &
lc=$!
sleep 3
reload_out=$(docker exec "$NGINX" nginx -c /run/nginx/nginx.conf -s reload 2>&1); reload_rc=$?
sleep 3
docker exec "$NGINX" nginx -c /run/nginx/nginx.conf -s reload >/dev/null 2>&1
wait "$lr" "$lc"
after=$(visits)
reload_200=$(grep -c '^200$' "$TMP/reload_count.codes")
check "two 'nginx -s reload' under load: no failed request (/: $(codes_summary reload_root); /count keep-alive: $(codes_summary reload_count)), visits +$reload_200 exactly ($before -> $after)" \
    '[ "$reload_rc" = 0 ] && all_200 reload_root && all_200 reload_count && is_count "$before" && is_count "$after" && [ $((after - before)) = "$reload_200" ]'
[ "$reload_rc" = 0 ] || log "nginx -s reload: $reload_out"

# ---------------------------------------------------------------- 7. a worker killed under load
victim=$(cids fcgi-app | head -n 1)
load kill_root / 10 -H 'Connection: close' &
lr=$!
load kill_keep / 10 &
lk=$!
sleep 2
docker kill "$victim" >/dev/null
wait "$lr" "$lk"
check "one worker killed (docker kill) under load: / keeps answering ($(codes_summary kill_root); keep-alive: $(codes_summary kill_keep))" \
    'all_200 kill_root && all_200 kill_keep'
log "the killed worker's container: $(docker inspect -f '{{.State.Status}}, restarts: {{.RestartCount}}' "$victim" 2>/dev/null || echo removed)"
dc up -d --no-recreate --scale fcgi-app=2 >>"$TMP/scale.log" 2>&1
two_healthy() { [ "$(cids fcgi-app --filter health=healthy | wc -l)" = 2 ]; }
wait_until 30 two_healthy

# ---------------------------------------------------------------- 8. persistence
# count_now: one /count, retried while it answers 503 (a worker thread whose Redis connection
# died with the old server answers 503 once, without counting, then reconnects).
RETRIED=0
count_now() {
    local i
    for ((i = 0; i < 40; i++)); do
        fetch /count
        [ "$CODE" = 200 ] && break
        RETRIED=$((RETRIED + 1))
        sleep 0.1
    done
    COUNT=$(grep -o 'id="visits"[^>]*>[0-9]*' "$BODY" | grep -o '[0-9]*$')
}
retried() { [ "$RETRIED" = 0 ] || log "$RETRIED x /count answered 503 (stale Redis connection) before a 200"; RETRIED=0; }
count_now; c0=$COUNT
dc restart redis >"$TMP/restart.log" 2>&1
redis_healthy() { [ "$(health_of "$(cid1 redis)")" = healthy ]; }
wait_until 30 redis_healthy
wait_until 20 site_up
count_now; c1=$COUNT; retried
check "count kept across 'restart redis' ($c0 -> $c1)" '[ -n "$c0" ] && [ "$c1" = $((c0 + 1)) ]'
# Redis killed (SIGKILL to redis-server itself, as a crash or the OOM killer would: `docker
# kill` counts as stopping it by hand, which the restart policy leaves stopped) is started
# again by its restart policy and loads its AOF, which holds every visit it acknowledged.
redis_c=$(cid1 redis)
kill -KILL "$(docker top "$redis_c" -eo pid,comm 2>/dev/null | awk '$2 == "redis-server" { print $1 }')" 2>/dev/null
redis_restarted() { [[ $(docker inspect -f '{{.State.Running}} {{.RestartCount}}' "$redis_c" 2>/dev/null) == "true "[1-9]* ]] && redis_healthy; }
wait_until 30 redis_restarted
wait_until 20 site_up
count_now; c_killed=$COUNT; retried
check "Redis killed (SIGKILL): back by its restart policy ($(docker inspect -f 'restarts: {{.RestartCount}}' "$redis_c" 2>/dev/null)), count kept ($c1 -> $c_killed)" \
    'redis_restarted && [ -n "$c1" ] && [ "$c_killed" = $((c1 + 1)) ]'
c1=$c_killed
# Redis stopped (`stop redis`, say for maintenance): its name leaves Docker's DNS, where a
# lookup then waits on the upstream resolvers for 10-20 s. The workers keep the last
# address and look the name up again in the background, so /count still answers 503 within
# about the Redis timeout (500 ms) on new connections, / answers 200, and /count counts
# again once Redis is started.
dc stop redis >"$TMP/stop.log" 2>&1
: >"$TMP/stopped.codes"
for i in 1 2 3 4 5 6; do
    curl -s --max-time 30 -o /dev/null -w '%{http_code} %{time_total}\n' "$URL/count" >>"$TMP/stopped.codes" 2>/dev/null
    fetch /
    echo "root $CODE" >>"$TMP/stopped.codes"
done
stopped_ok() { ! grep -v '^root 200$' "$TMP/stopped.codes" | awk '$1 != 503 || $2 >= 3 { bad = 1 } END { exit !bad }'; }
check "Redis stopped: each /count 503 within 3 s, / 200 ($(grep -v '^root' "$TMP/stopped.codes" | tr '\n' ' '))" stopped_ok
dc start redis >>"$TMP/stop.log" 2>&1
wait_until 30 redis_healthy
wait_until 20 site_up
count_now; c_started=$COUNT; retried
check "Redis started again: /count counts ($c1 -> $c_started)" '[ -n "$c1" ] && [ "$c_started" = $((c1 + 1)) ]'
c1=$c_started

dc down -t 10 >"$TMP/down1.log" 2>&1
check "'down' without -v keeps the data volume" 'docker volume inspect "${PROJECT}_redis-data" >/dev/null 2>&1'
# Up again with the passwords as secret files (as README says to make them): a rotation
# away from the generated ones.
mkdir -m 0700 "$TMP/secrets"
"$ROOT/redis/password.sh" 0444 "$TMP/secrets/redis-admin.pass" "$TMP/secrets/redis-worker.pass"
printf 'REDIS_ADMIN_PASSWORD_FILE=%s\nREDIS_WORKER_PASSWORD_FILE=%s\n' "$TMP/secrets/redis-admin.pass" "$TMP/secrets/redis-worker.pass" >>"$ENVF"
dc up -d --scale fcgi-app=2 >"$TMP/up2.log" 2>&1
wait_until 90 site_up
count_now; c2=$COUNT; retried
check "count kept across 'down' and 'up' with new passwords from secret files ($c1 -> $c2)" '[ -n "$c1" ] && [ "$c2" = $((c1 + 1)) ]'
# accepts USER FILE: Redis takes the password in FILE (on this host) for USER; sent on
# redis-cli's stdin, so that it is no argument of any process.
accepts() {
    local out rc=0
    out=$(printf 'AUTH %s %s\nPING\n' "$1" "$(head -n 1 "$2")" | docker exec -i "$(cid1 redis)" redis-cli 2>"$TMP/redis.err") || rc=$?
    out=$(tr -d '\r' <<<"$out" | grep -v '^$' | tr '\n' ' ')
    WHY="AUTH $1 <${2##*/}>: exit status $rc, answered: $out $(head -c 200 "$TMP/redis.err")"
    [ "$rc" = 0 ] && [ "$out" = "OK PONG " ]
}
# The generated admin password is still in the volume, unused: Redis must refuse it now.
generated_refused() {
    docker exec "$(cid1 redis)" sh -c 'printf "AUTH default %s\nPING\n" "$(cat /run/redis-auth/admin.generated)" | redis-cli' \
        >"$TMP/redis.out" 2>&1
    WHY="the generated admin password after the rotation: $(tr -d '\r' <"$TMP/redis.out" | grep -v '^$' | tr '\n' ' ')"
    grep -q '^WRONGPASS' "$TMP/redis.out"
}
secrets_used() { accepts default "$TMP/secrets/redis-admin.pass" && accepts khalid "$TMP/secrets/redis-worker.pass" && generated_refused; }
checkw "the secret files' passwords are the admin's and the workers' (the workers count with theirs); the generated admin password is refused" secrets_used

# redis_image: the ID of the image compose tags for the redis service.
redis_image() { docker image inspect -f '{{.Id}}' "khalid-tracker/redis:$TAG"; }
t=$(now)
img_before=$(docker inspect -f '{{.Image}}' "$(cid1 redis)" 2>/dev/null)
rebuilt=0 img_after= img_running=
if dc build "${rm_args[@]}" --no-cache redis >"$TMP/rebuild.log" 2>&1; then
    img_after=$(redis_image)
    dc up -d --no-deps --force-recreate redis >>"$TMP/rebuild.log" 2>&1 && rebuilt=1
fi
sleep 1
wait_until 30 redis_healthy
wait_until 20 site_up
img_running=$(docker inspect -f '{{.Image}}' "$(cid1 redis)" 2>/dev/null)
new_image() { [ "$rebuilt" = 1 ] && [ -n "$img_before" ] && [ -n "$img_after" ] && [ "$img_after" != "$img_before" ] && [ "$img_running" = "$img_after" ]; }
check "Redis image rebuilt with a new ID and running in a new container (${img_before:7:12} -> ${img_after:7:12}, running ${img_running:7:12})" new_image
[ "$rebuilt" = 1 ] || log "rebuild: $(tail -n 5 "$TMP/rebuild.log" | tr '\n' ' ')"
count_now; c3=$COUNT; retried
check "count kept across the rebuilt Redis image ($c2 -> $c3, $(elapsed "$t" "$(now)") s)" \
    'new_image && [ -n "$c2" ] && [ "$c3" = $((c2 + 1)) ]'

# ---------------------------------------------------------------- 8b. backup and restore
# scripts/backup.sh --compose as README (Operations) documents it, with this run's options.
backup_sh() {
    COMPOSE="${DC[*]} --env-file $ENVF -p $PROJECT -f $ROOT/compose.yml" BACKUP_DIR="$TMP/backups" \
        bash "$ROOT/scripts/backup.sh" --compose "$@"
}
# restarted_around FUNCTION: `stop`, FUNCTION, `start`, and the site answering again.
restarted_around() {
    dc stop -t 10 >>"$TMP/stop.log" 2>&1
    "$@"
    dc start >>"$TMP/stop.log" 2>&1
    wait_until 30 redis_healthy
    wait_until 60 site_up
}
count_now; cb=$COUNT; retried
backup_file=$(backup_sh backup 2>"$TMP/backup.err"); rc=$?
check "backup of the running deployment: a checked snapshot in khalid-<UTC time>.rdb ($(basename "${backup_file:-none}"))" \
    '[ "$rc" = 0 ] && [[ "$(basename "$backup_file")" =~ ^khalid-[0-9]{8}T[0-9]{6}Z\.rdb$ ]] && [ -s "$backup_file" ]'
[ "$rc" = 0 ] || log "backup: $(tr '\n' ' ' <"$TMP/backup.err")"
count_now; count_now; c_more=$COUNT
rc=0; backup_sh restore "$backup_file" 2>"$TMP/restore-running.err" || rc=$?
check "restore refused while the deployment runs: $(head -n 1 "$TMP/restore-running.err")" \
    '[ "$rc" != 0 ] && grep -q "running" "$TMP/restore-running.err"'
head -c "$(( $(wc -c <"$backup_file") / 2 ))" "$backup_file" >"$TMP/truncated.rdb"
restore_truncated() { rc=0; backup_sh restore "$TMP/truncated.rdb" 2>"$TMP/restore-bad.err" || rc=$?; }
restarted_around restore_truncated
count_now; c_kept=$COUNT; retried
check "restore refuses a truncated file, the data untouched ($c_more -> $c_kept): $(head -n 1 "$TMP/restore-bad.err")" \
    '[ "$rc" != 0 ] && grep -q "not a valid Redis snapshot" "$TMP/restore-bad.err" && [ -n "$c_more" ] && [ "$c_kept" = $((c_more + 1)) ]'
restore_backup() { rc=0; backup_sh restore "$backup_file" 2>"$TMP/restore.err" || rc=$?; }
restarted_around restore_backup
[ "$rc" = 0 ] || log "restore: $(tr '\n' ' ' <"$TMP/restore.err")"
count_now; c_restored=$COUNT; retried
check "restore into the stopped deployment: the count is the backup's again ($cb, then $c_kept; now $c_restored)" \
    '[ "$rc" = 0 ] && [ -n "$cb" ] && [ "$c_restored" = $((cb + 1)) ]'
dc restart redis >>"$TMP/restart.log" 2>&1
wait_until 30 redis_healthy
wait_until 20 site_up
count_now; c_after=$COUNT; retried
check "the restored count goes on across 'restart redis' (from the rebuilt AOF: $c_restored -> $c_after)" \
    '[ -n "$cb" ] && [ "$c_after" = $((cb + 2)) ]'

# ---------------------------------------------------------------- 9. HTTPS (TLS=self-signed)
# Until now no TLS setting: the HTTPS port is published, but nothing in nginx speaks TLS.
no_tls_yet() { ! curl -sk --max-time 5 -o /dev/null "$TLS_URL/health" 2>/dev/null; }
check "without a TLS setting nothing answers HTTPS on the published port ${TLS_PORT}" no_tls_yet
printf 'TLS=self-signed\n' >>"$ENVF"
t=$(now)
nginx_up_tls() { [ "$(curl -s -o /dev/null --max-time 3 --cacert "$TMP/ca.crt" -w '%{http_code}' "$TLS_URL/health")" = 200 ]; }
ca_from_volume() { docker cp "$(cid1 nginx):/var/lib/khalid-tracker/tls/ca.crt" "$1" >/dev/null 2>&1; }
# tls_up [compose up args]: nginx (re)created with the settings in $ENVF, its CA copied out
# of the volume to $TMP/ca.crt, and HTTPS answering with a certificate that CA verifies.
tls_up() {
    WHY=
    dc up -d --no-deps "$@" nginx >>"$TMP/tls-up.log" 2>&1 && wait_until 60 site_up &&
        wait_until 30 ca_from_volume "$TMP/ca.crt" && wait_until 30 nginx_up_tls && return 0
    WHY=$(tail -n 5 "$TMP/tls-up.log" | tr '\n' ' ')
    return 1
}
checkw "TLS=self-signed: nginx recreated with a private CA and certificate in the tls volume, HTTPS verifies with that CA" tls_up
log "nginx with HTTPS up in $(elapsed "$t" "$(now)") s"
NGINX=$(cid1 nginx)
nginx_healthy() { [ "$(health_of "$(cid1 nginx)")" = healthy ]; }
check "nginx healthy with HTTPS on (the healthcheck asks /health over plain HTTP)" 'wait_until 60 nginx_healthy'

# tls_fetch VERSION PATH: like fetch, over HTTPS with the CA from the volume; VERSION is
# curl's option (--http1.1, --http2). Sets CODE, VERSION, BODY, HDRS.
tls_fetch() {
    local out
    out=$(curl -sS --max-time 10 --cacert "$TMP/ca.crt" "$1" -o "$BODY" -D "$HDRS" -w '%{http_code} %{http_version}' \
          "$TLS_URL$2" 2>"$TMP/curl.err") || out="000 none"
    read -r CODE VERSION <<<"$out"
    tr -d '\r' <"$HDRS" >"$HDRS.n" && mv "$HDRS.n" "$HDRS"
}
https_pages() {
    local v path want bad=""
    for v in --http1.1 --http2; do
        for path in /:200 /count:200 /about:200 /stats:200 /health:200 /static/style.css:200 /no-such-page:404; do
            want=${path##*:} path=${path%:*}
            tls_fetch "$v" "$path"
            [ "$CODE" = "$want" ] && [ "$VERSION" = "${v#--http}" ] && [ "$(header Strict-Transport-Security)" = "max-age=31536000" ] &&
                [ -n "$(header Content-Security-Policy)" ] && [ "$(header X-Content-Type-Options)" = nosniff ] ||
                bad="$bad $v $path: $CODE HTTP/$VERSION hsts '$(header Strict-Transport-Security)';"
        done
    done
    WHY=$bad
    [ -z "$bad" ]
}
checkw "every page over HTTPS, HTTP/1.1 and HTTP/2 (curl --cacert), with HSTS and the security headers" https_pages
redirects() {
    fetch "/count?a=1&b=%20x"
    WHY="HTTP /count?a=1&b=%20x: $CODE, Location '$(header Location)', HSTS '$(header Strict-Transport-Security)'"
    [ "$CODE" = 308 ] && [ "$(header Location)" = "https://127.0.0.1:$TLS_PORT/count?a=1&b=%20x" ] &&
        [ -z "$(header Strict-Transport-Security)" ] && [ -n "$(header Content-Security-Policy)" ]
}
checkw "plain HTTP answers 308 to the published HTTPS port, path and query kept, no HSTS" redirects
fetch /health
check "plain HTTP /health still answers 200 (probes), without HSTS" '[ "$CODE" = 200 ] && [ -z "$(header Strict-Transport-Security)" ]'
# SECLEVEL=0: this client's OpenSSL would not offer TLS 1.1 otherwise; the refusal must be
# the server's alert.
old_tls_refused() {
    timeout 10 openssl s_client -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' -connect "127.0.0.1:$TLS_PORT" </dev/null >"$TMP/s_client" 2>&1
    WHY="openssl s_client -tls1_1: $(grep -m 1 -iE 'alert|error|Protocol  :' "$TMP/s_client")"
    grep -q 'alert protocol version' "$TMP/s_client"
}
checkw "TLS 1.1 refused with a protocol version alert" old_tls_refused
tls12_spoken() {
    timeout 10 openssl s_client -tls1_2 -CAfile "$TMP/ca.crt" -verify_return_error -verify_hostname localhost \
        -connect "127.0.0.1:$TLS_PORT" </dev/null >"$TMP/s_client" 2>&1 && grep -q 'Protocol  : TLSv1.2' "$TMP/s_client"
}
check "TLS 1.2 spoken, the certificate verifying for localhost" tls12_spoken
tls_count() { # N CURL-ARGS...: N /count over HTTPS; prints the status codes and HTTP versions
    local n=$1; shift
    curl -s --max-time 30 --cacert "$TMP/ca.crt" -o /dev/null -w '%{http_code} %{http_version}\n' "$@" "$TLS_URL/count?t=[1-$n]" 2>/dev/null
}
before=$(visits)
h1=$(tls_count 100 --http1.1 | sort | uniq -c | tr -s ' ')
h2=$(tls_count 100 --http2 --parallel --parallel-max 20 | sort | uniq -c | tr -s ' ')
after=$(visits)
check "visits rose by exactly 200 after 100 HTTPS/1.1 keep-alive and 100 multiplexed HTTP/2 /count ($before -> $after)" \
    'is_count "$before" && is_count "$after" && [ $((after - before)) = 200 ] && [ "$h1" = " 100 200 1.1" ] && [ "$h2" = " 100 200 2" ]'
cp "$TMP/ca.crt" "$TMP/ca.first"
same_ca() {
    tls_up --force-recreate || return 1
    WHY="the CA in the volume changed"
    cmp -s "$TMP/ca.first" "$TMP/ca.crt"
}
checkw "a recreated nginx container keeps the CA from the volume, and HTTPS verifies with it" same_ca

# A wrong or missing key stops the container before nginx serves: the image as compose
# runs it, with the files as the secrets would be.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/site.key" -out "$TMP/site.crt" \
    -days 2 -subj /CN=localhost >/dev/null 2>&1
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/other.key" >/dev/null 2>&1
chmod 0644 "$TMP/site.key" "$TMP/other.key"
nginx_image=$(docker inspect -f '{{.Image}}' "$(cid1 nginx)")
# refuses WHAT REGEX DOCKER-RUN-ARGS...: the container exits non-zero within 60 s, a line of
# its output matching REGEX.
refuses() {
    local what=$1 re=$2 rc=0; shift 2
    timeout 60 docker run --rm --network none --read-only --tmpfs /run/nginx:uid=33,gid=33 "$@" "$nginx_image" \
        >"$TMP/refused.log" 2>&1 || rc=$?
    WHY="$what: exit status $rc; $(grep -v '^+' "$TMP/refused.log" | tail -n 2 | tr '\n' ' ')"
    [ "$rc" != 0 ] && [ "$rc" -lt 124 ] && grep -qE "$re" "$TMP/refused.log"
}
checkw "the tls_key secret holding another certificate's key stops the container, naming the file" \
    refuses "wrong key" 'TLS_KEY=/run/secrets/tls_key is not the key' \
    -v "$TMP/site.crt:/run/secrets/tls_cert:ro" -v "$TMP/other.key:/run/secrets/tls_key:ro"
checkw "a missing key file stops the container, naming the file" \
    refuses "missing key" 'TLS_KEY=/run/secrets/tls_key: no such file' \
    -v "$TMP/site.crt:/run/secrets/tls_cert:ro" -e TLS_KEY=/run/secrets/tls_key

# ---------------------------------------------------------------- 9b. the rate limit
# compose hands RATE_LIMIT and RATE_BURST to nginx as the native stack does; every request
# here comes from one client (Docker's relay: the bridge's gateway).
sed -i 's/^RATE_LIMIT=0$/RATE_LIMIT=1/' "$ENVF"
printf 'RATE_BURST=3\n' >>"$ENVF"
rate_limited() {
    local t0 t1 before after codes n200 n429
    tls_up || return 1
    before=$(visits)
    t0=$(now)
    codes=$(tls_count 20 --http1.1 | awk '{ print $1 }')
    t1=$(now)
    after=$(visits)
    n200=$(grep -c '^200$' <<<"$codes") n429=$(grep -c '^429$' <<<"$codes")
    tls_fetch --http1.1 /count
    WHY="20 /count in $(elapsed "$t0" "$t1") s: $n200 x 200, $n429 x 429; visits $before -> $after; then $CODE with Retry-After '$(header Retry-After)'"
    is_count "$before" && is_count "$after" && [ $((n200 + n429)) = 20 ] && [ $((after - before)) = "$n200" ] &&
        awk -v n="$n200" -v t="$(elapsed "$t0" "$t1")" 'BEGIN { exit !(n <= 1 + 3 + 1 * t) }' &&
        [ "$CODE" = 429 ] && [[ $(header Retry-After) =~ ^[1-9][0-9]*$ ]] && grep -q "Khalid Tracker" "$BODY"
}
checkw "RATE_LIMIT=1 RATE_BURST=3 in .env: 20 /count at once from one client raise visits by at most 1 + 3 + 1/s, the rest 429 with Retry-After and the site's page" rate_limited

# ---------------------------------------------------------------- 10. teardown
teardown
left=$( { docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"
          docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT"
          docker network ls -q --filter "label=com.docker.compose.project=$PROJECT"
          docker images -q --filter "reference=khalid-tracker/*:$TAG"; } | wc -l)
base_left=0
if [ -n "$BASE_MADE" ] && [ "${KT_KEEP_BUILD_CACHE:-0}" != 1 ] && [ "$BASE_SHARED" = 0 ] &&
    docker image inspect "$BASE_MADE" >/dev/null 2>&1; then base_left=1; fi
[ "$BASE_SHARED" = 1 ] && log "the base image this run made is in use by others: left to them"
check "teardown left no container, network, volume or image of $PROJECT${BASE_MADE:+, nor the base image this run made}" \
    '[ "$left" = 0 ] && [ "$base_left" = 0 ]'
log "total $((SECONDS - T0)) s"
summary
[ "$FAIL" = 0 ]
