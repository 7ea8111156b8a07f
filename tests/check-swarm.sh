#!/usr/bin/env bash
# Checks are strings eval'd by check(): shellcheck cannot see the variables they use.
# shellcheck disable=SC2034
# make check-swarm: compose.yml on Docker Swarm (`docker stack deploy`), on a single-node swarm.
#
# When the engine is in no swarm, it creates one (docker swarm init --advertise-addr
# 127.0.0.1) and leaves it at the end; a swarm that was there before is left alone (then
# this engine must be a manager). It deploys the stack with scripts/swarm.sh (what make
# swarm-deploy runs) under a unique name on a free port with 3 workers and images tagged for
# this run, and checks: docker stack config accepts compose.yml and its image tags default
# to the worker's version; every page through the published port; Redis's passwords are
# Swarm secrets, the workers use theirs (not the volume) and Redis's ACL holds its hash;
# nginx asks tasks.fcgi-app and its upstream holds every task's address; requests reach all
# 3 worker tasks and `visits` rises by exactly the number of /count requests; `docker service
# scale` to 4 then 2 under load with no failed request and nginx using the new set within
# 10 s; a rolling update to a rebuilt worker image with a new tag under load: no failed
# request, the count exact, only new tasks serving; Redis's task replaced (`docker service
# update --force`) with the count kept. Then `docker stack rm` and everything this run made is
# removed (services, networks, secrets, volumes, the images it tagged, the node label it set,
# the base image when it made it, the swarm when it made it), also when a check fails.
#
#   tests/check-swarm.sh           the test; ends with "N passed, N failed"
#   tests/check-swarm.sh --probe   exits 0 when the test can run here (a manager, or swarm
#                                  mode can be initialised: tried, then left), else says why
#
# Only loopback is ever sent traffic: the published port on 127.0.0.1 (Swarm's routing mesh
# publishes on every address; nothing else is aimed at).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}' 2>/dev/null; }
# Joining a swarm makes the bridge network docker_gwbridge, which Docker keeps after the
# node leaves: a swarm this run makes, it leaves with that network gone too, unless the
# network was there before.
gwbridge() { docker network inspect docker_gwbridge >/dev/null 2>&1; }
GWBRIDGE_BEFORE=0
gwbridge && GWBRIDGE_BEFORE=1
swarm_leave() {
    docker swarm leave --force || return 1
    [ "$GWBRIDGE_BEFORE" = 1 ] || docker network rm docker_gwbridge >/dev/null 2>&1 || ! gwbridge
}

if [ "${1:-}" = --probe ]; then
    state=$(swarm_state) || { echo "no Docker engine answers (docker info)"; exit 1; }
    case $state in
        "active true") exit 0 ;;
        "inactive "*)
            out=$(docker swarm init --advertise-addr 127.0.0.1 2>&1) || { echo "docker swarm init failed: $out"; exit 1; }
            swarm_leave >/dev/null 2>&1
            exit 0 ;;
        *) echo "this engine is in a swarm but not a manager (state: $state)"; exit 1 ;;
    esac
fi

# log, ok, bad, check, checkw, summary, wait_until, free_port, free_subnet, fetch,
# served_by, load...: tests/lib/checks.sh, shared with tests/check-compose.sh. Settings
# cleared first: STACK below is one of them.
. "$ROOT/tests/lib/checks.sh"
clear_settings

STACK=ktswarm$$$RANDOM
TAG=test-$STACK          # khalid-tracker/<service>:$TAG, this run's own images
TAG2=$TAG-update         # the rebuilt worker image of the rolling update
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kt-swarm.XXXXXX")
PASS=0 FAIL=0 T0=$SECONDS
TORN_DOWN=0 DEPLOYED=0
SWARM_MADE=0  # 1: this run initialised the swarm
LABEL_SET=    # the node this run labelled khalid.redis=true
BASE_MADE=    # the ID of debian:bookworm-slim when this run made it

# ---------------------------------------------------------------- prerequisites
if ! docker info >/dev/null 2>&1; then
    bad "a Docker engine answers (docker info)" "no Docker engine: nothing tested"
    summary; exit 1
fi
command -v curl >/dev/null || { bad "curl is installed"; summary; exit 1; }
if [ -n "${COMPOSE:-}" ]; then
    :
elif docker compose version >/dev/null 2>&1; then
    COMPOSE="docker compose"
elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=docker-compose
else
    bad "Docker Compose is installed (it builds the images)"; summary; exit 1
fi
export COMPOSE

# The original stdout/stderr: a signal may arrive while a command's output is redirected.
exec 7>&1 8>&2

# ---------------------------------------------------------------- teardown (also on failure)
dangling_before=$TMP/dangling.before
docker images -q --filter dangling=true | sort -u >"$dangling_before"
NS="label=com.docker.stack.namespace=$STACK"
stack_left() { # what of the stack is still there, one line each (a swarm left has no services)
    docker service ls -q --filter "$NS" 2>/dev/null
    docker ps -aq --filter "$NS"
    docker network ls -q --filter "$NS"
    docker volume ls -q --filter "$NS"
    docker secret ls -q --filter "$NS" 2>/dev/null
    docker images -q --filter "reference=khalid-tracker/*:$TAG" --filter "reference=khalid-tracker/*:$TAG2"
}
teardown() {
    [ "$TORN_DOWN" = 1 ] && return 0
    TORN_DOWN=1
    local left i
    if [ "$DEPLOYED" = 1 ]; then
        for s in nginx fcgi-app redis; do
            docker service logs --raw "${STACK}_$s" >"$TMP/$s.log" 2>&1 || true
        done
        docker stack rm "$STACK" >"$TMP/rm.log" 2>&1 || cat "$TMP/rm.log" >&2
    fi
    # docker stack rm returns before the tasks are gone; volumes stay until they are.
    for ((i = 0; i < 120; i++)); do
        [ -z "$(docker ps -aq --filter "$NS")" ] && [ -z "$(docker network ls -q --filter "$NS")" ] && break
        sleep 0.5
    done
    left=$(docker service ls -q --filter "$NS"); [ -n "$left" ] && docker service rm $left >/dev/null 2>&1
    left=$(docker ps -aq --filter "$NS"); [ -n "$left" ] && docker rm -f $left >/dev/null 2>&1
    for ((i = 0; i < 20; i++)); do
        left=$(docker volume ls -q --filter "$NS")
        [ -z "$left" ] && break
        docker volume rm -f $left >/dev/null 2>&1 || sleep 0.5
    done
    left=$(docker network ls -q --filter "$NS"); [ -n "$left" ] && docker network rm $left >/dev/null 2>&1
    left=$(docker secret ls -q --filter "$NS"); [ -n "$left" ] && docker secret rm $left >/dev/null 2>&1
    docker images --format '{{.Repository}}:{{.Tag}}' --filter "reference=khalid-tracker/*:$TAG" \
        --filter "reference=khalid-tracker/*:$TAG2" | xargs -r docker rmi >/dev/null 2>&1
    if [ "${KT_KEEP_BUILD_CACHE:-0}" != 1 ]; then
        docker images -q --filter dangling=true | sort -u | comm -13 "$dangling_before" - |
            xargs -r docker rmi >/dev/null 2>&1
    fi
    [ -n "$LABEL_SET" ] && docker node update --label-rm khalid.redis "$LABEL_SET" >/dev/null 2>&1
    if [ -n "$BASE_MADE" ] && [ "${KT_KEEP_BUILD_CACHE:-0}" != 1 ]; then
        bash "$ROOT/tests/make-base-image.sh" --remove "$BASE_MADE" 2>&1 | sed 's/^/# /'
    fi
    # Last: leaving a swarm removes what it made (ingress network, node) at once.
    if [ "$SWARM_MADE" = 1 ]; then
        swarm_leave >"$TMP/leave.log" 2>&1 || cat "$TMP/leave.log" >&2
    fi
    return 0
}
on_exit() {
    local rc=$?
    exec 1>&7 2>&8
    if [ "$TORN_DOWN" = 0 ]; then
        log "tearing down $STACK"
        teardown
        if [ "$FAIL" -gt 0 ]; then
            for s in nginx fcgi-app redis; do
                [ -s "$TMP/$s.log" ] || continue
                log "last $s log lines (access log left out):"
                grep -vF '{"time":"' "$TMP/$s.log" | tail -n 15 | sed 's/^/#   /'
            done
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
    jobs -p | xargs -r kill 2>/dev/null
    log "interrupted"
    FAIL=$((FAIL + 1))
    exit 130
}
trap interrupted INT TERM

# ---------------------------------------------------------------- helpers
BODY=$TMP/body HDRS=$TMP/headers CODE=

# cids SERVICE: the containers of the service's tasks that Swarm wants running (not those it
# is stopping), full IDs, sorted.
cids() {
    docker service ps -q --filter desired-state=running "${STACK}_$1" 2>/dev/null |
        xargs -r docker inspect -f '{{.Status.ContainerStatus.ContainerID}}' 2>/dev/null | grep . | sort
}
# containers SERVICE: every container of the service still there, stopping ones included.
containers() { docker ps -q --no-trunc --filter "label=com.docker.swarm.service.name=${STACK}_$1"; }
cid1() { cids "$1" | head -n 1; }
short_ids() { cids fcgi-app | cut -c1-12 | sort; }
sort_ips() { sort -t. -k1,1n -k2,2n -k3,3n -k4,4n; }
task_ips() { # the worker tasks' addresses on the app network
    local c
    for c in $(cids fcgi-app); do
        docker inspect -f "{{(index .NetworkSettings.Networks \"${STACK}_app\").IPAddress}}" "$c"
    done | sort_ips
}
upstream_ips() { # the workers nginx balances over: its peers file, or its upstream block's servers
    docker exec "$(cid1 nginx)" sh -c 'cat /run/nginx/peers 2>/dev/null || cat /run/nginx/upstream.conf' 2>/dev/null |
        awk '$1 == "server" { $1 = $2 } $1 ~ /^[0-9.]+:[0-9]+;?$/ { split($1, a, ":"); print a[1] }' | sort_ips
}
visits() {
    docker exec "$(cid1 redis)" sh -c 'REDISCLI_AUTH="$(cat /run/redis/password)" redis-cli --raw get visits' 2>/dev/null | tr -d '\r'
}
site_up() { [ "$(curl -s -o /dev/null --max-time 3 -w '%{http_code}' "$URL/health")" = 200 ]; }
# converged: every service runs as many tasks as it wants, each healthy, no other container
# of it left (a stopped worker lingers STOP_DRAIN_SECONDS).
converged() {
    local s want
    for s in nginx fcgi-app redis; do
        want=$(docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "${STACK}_$s" 2>/dev/null) || return 1
        [ "$(docker ps -q --filter "label=com.docker.swarm.service.name=${STACK}_$s" --filter health=healthy | wc -l)" = "$want" ] || return 1
        [ "$(containers "$s" | wc -l)" = "$want" ] || return 1
    done
}
STOP_FILE=$TMP/stop-load   # load (tests/lib/checks.sh) stops once it exists
start_load() { # start_load PREFIX: / with Connection: close and /count keep-alive, in the background
    rm -f "$STOP_FILE"
    load "$1_root" / 240 -H 'Connection: close' &
    LOAD_PIDS=$!
    load "$1_count" /count 240 &
    LOAD_PIDS="$LOAD_PIDS $!"
}
stop_load() { touch "$STOP_FILE"; wait $LOAD_PIDS; }
# count_now: one /count, retried while it answers 503 (a worker thread whose Redis connection
# died with the old server answers 503 once, without counting, then reconnects).
count_now() {
    local i
    COUNT=
    for ((i = 0; i < 120; i++)); do
        fetch /count
        [ "$CODE" = 200 ] && break
        sleep 0.25
    done
    COUNT=$(grep -o 'id="visits"[^>]*>[0-9]*' "$BODY" | grep -o '[0-9]*$')
}
all_serve() { [ "$(served_by 20 | sort -u | tr '\n' ' ')" = "$(short_ids | tr '\n' ' ')" ]; }
upstream_is_tasks() { [ -n "$(task_ips)" ] && [ "$(upstream_ips | tr '\n' ' ')" = "$(task_ips | tr '\n' ' ')" ]; }
# uses_set: nginx's upstream is exactly the running tasks, and each of them answers.
uses_set() { upstream_is_tasks && all_serve; }
to_epoch() { date -u -d "$1" +%s.%N; }

# ---------------------------------------------------------------- 0. swarm, static checks
state=$(swarm_state)
case $state in
    "active true") log "the engine is already a swarm manager: using that swarm, left as it is" ;;
    "inactive "*)
        if docker swarm init --advertise-addr 127.0.0.1 >"$TMP/init.log" 2>&1; then
            SWARM_MADE=1
            ok "single-node swarm initialised (docker swarm init --advertise-addr 127.0.0.1; left at the end)"
        else
            bad "docker swarm init" "$(tr '\n' ' ' <"$TMP/init.log")"; exit 1
        fi ;;
    *) bad "this engine can run a stack" "in a swarm but not a manager (state: $state)"; exit 1 ;;
esac
bash "$ROOT/scripts/swarm.sh" config 2>"$TMP/stack-config.err" | docker stack config -c - >"$TMP/stack-config.yml" 2>>"$TMP/stack-config.err"
left_out=$(awk '/^  [a-z][a-z0-9-]*:$/ { svc = $1 } /^    profiles:/ { sub(":", "", svc); printf "%s ", svc }' "$ROOT/compose.yml")
check "docker stack config accepts compose.yml as scripts/swarm.sh hands it over (left out, profiles: ${left_out:-none}) $(head -c 300 "$TMP/stack-config.err" | tr '\n' ' ')" \
    '[ -s "$TMP/stack-config.yml" ] && [ ! -s "$TMP/stack-config.err" ] && grep -q "^  fcgi-app:" "$TMP/stack-config.yml"'
version=$(sed -n 's/^#define KT_VERSION "\(.*\)"$/\1/p' "$ROOT/fcgi-app/version.h")
tags=$(grep -oE 'image: "khalid-tracker/[a-z-]+:\$\{KHALID_VERSION:-[^}]*\}"' "$ROOT/compose.yml" | sed 's/.*:-\(.*\)}"/\1/' | sort -u)
check "compose.yml's three images are tagged khalid-tracker/<service>:\${KHALID_VERSION:-$tags}, the worker's version ($version)" \
    '[ -n "$version" ] && [ "$tags" = "$version" ] && [ "$(grep -cE "image: \"khalid-tracker/(nginx|fcgi-app|redis):" "$ROOT/compose.yml")" = 3 ]'
# What Swarm reads of the workers' deploy: section, as docker stack config renders it.
deploy_ok() {
    WHY=$(grep -A40 '^  fcgi-app:' "$TMP/stack-config.yml" | sed -n '/^    deploy:/,/^    [a-z_]*:$/p' | tr -s ' \n' ' ')
    [[ $WHY == *"order: start-first"* && $WHY == *"failure_action: rollback"* && $WHY == *"rollback_config:"* &&
       $WHY == *"restart_policy:"* && $WHY == *"limits:"* && $WHY == *"reservations:"* ]] &&
        grep -q 'node.labels.khalid.redis == true' "$TMP/stack-config.yml"
}
checkw "the workers' deploy: update start-first with rollback on failure, rollback_config, restart_policy, limits and reservations; Redis placed by node.labels.khalid.redis" deploy_ok

# ---------------------------------------------------------------- 1. base image, deploy
if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    log "debian:bookworm-slim is missing: making it from Debian's packages"
    if BASE_MADE=$(bash "$ROOT/tests/make-base-image.sh" 2>"$TMP/base.log"); then
        ok "base image debian:bookworm-slim made with debootstrap (removed at the end)"
    else
        sed 's/^/# /' "$TMP/base.log"; BASE_MADE=
        bad "base image debian:bookworm-slim made with debootstrap"; exit 1
    fi
fi
NODE=$(docker info --format '{{.Swarm.NodeID}}')
if [ "$(docker node inspect -f '{{index .Spec.Labels "khalid.redis"}}' "$NODE")" != true ]; then
    LABEL_SET=$NODE   # scripts/swarm.sh labels the only node: this run's to remove
fi
PORT=$(free_port) || { bad "a free host port"; exit 1; }
TLS_PORT=$PORT
while [ "$TLS_PORT" = "$PORT" ]; do TLS_PORT=$(free_port) || { bad "a second free host port"; exit 1; }; done
URL=http://127.0.0.1:$PORT
SUBNET=$(free_subnet)
[ -n "$SUBNET" ] || { bad "a free /24 in 172.16.0.0/16 for the monitoring network"; exit 1; }
t=$(now)
DEPLOYED=1
# Swarm's routing mesh needs IPVS in the kernel; without it (as in some VMs) nginx publishes
# on this node only (PUBLISH_MODE=host), and the port is still 127.0.0.1's.
PUBLISH_MODE=ingress
[ -e /proc/net/ip_vs ] || { PUBLISH_MODE=host; log "this kernel has no IPVS (/proc/net/ip_vs): PUBLISH_MODE=host"; }
# The load below comes from one client (one address to nginx): no rate limit.
if MONITORING_SUBNET=$SUBNET PUBLISH_MODE=$PUBLISH_MODE STACK=$STACK HTTP_PORT=$PORT HTTPS_PORT=$TLS_PORT WORKERS=3 KHALID_VERSION=$TAG SECRETS_DIR=$TMP/secrets RATE_LIMIT=0 \
        bash "$ROOT/scripts/swarm.sh" deploy >"$TMP/deploy.log" 2>&1; then
    ok "scripts/swarm.sh deploy (make swarm-deploy): images built and tagged :$TAG, stack $STACK deployed ($(elapsed "$t" "$(now)") s)"
else
    bad "scripts/swarm.sh deploy (make swarm-deploy)" "$(tail -n 8 "$TMP/deploy.log" | tr '\n' ' ')"; exit 1
fi
t=$(now)
if wait_until 180 converged && wait_until 60 site_up; then
    ok "stack up: nginx, 3 workers and Redis running and healthy, /health 200 on 127.0.0.1:$PORT ($(elapsed "$t" "$(now)") s)"
else
    bad "stack up within 4 minutes" "$(docker stack ps --no-trunc --format '{{.Name}} {{.CurrentState}} {{.Error}}' "$STACK" 2>&1 | head -n 8 | tr '\n' ';')"
    exit 1
fi
label_ok() { [ "$(docker node inspect -f '{{index .Spec.Labels "khalid.redis"}}' "$NODE")" = true ]; }
check "the node carries khalid.redis=true and Redis's task runs there" \
    'label_ok && [ "$(docker service ps -q --filter desired-state=running "${STACK}_redis" | xargs docker inspect -f "{{.NodeID}}")" = "$NODE" ]'

# ---------------------------------------------------------------- 2. pages
fetch /
check "/ answers 200 with the app name" '[ "$CODE" = 200 ] && grep -q "Khalid Tracker" "$BODY"'
check "security headers on a page (CSP, nosniff, X-Frame-Options)" \
    '[ -n "$(header Content-Security-Policy)" ] && [ "$(header X-Content-Type-Options)" = nosniff ] && [ -n "$(header X-Frame-Options)" ]'
fetch /count
check "/count answers 200 with the count and X-Served-By ($(header X-Served-By))" \
    '[ "$CODE" = 200 ] && grep -q "id=\"visits\"" "$BODY" && [[ "$(header X-Served-By)" =~ ^[0-9a-f]{12}/[0-9]+$ ]]'
fetch /about
check "/about answers 200" '[ "$CODE" = 200 ]'
fetch /health
check "/health answers 200 with Redis up: $(cat "$BODY")" '[ "$CODE" = 200 ] && grep -q "\"redis\":\"up\"" "$BODY"'
fetch /stats
check "/stats answers 200" '[ "$CODE" = 200 ]'
fetch /no-such-page
check "an unknown path answers 404" '[ "$CODE" = 404 ]'
fetch /static/style.css
check "a static file is served by nginx with caching headers" '[ "$CODE" = 200 ] && [ -n "$(header Cache-Control)" ]'

# ---------------------------------------------------------------- 3. secrets, nginx's view of the workers
secrets_ok() {
    local s
    for s in redis_admin_password redis_worker_password; do
        docker secret inspect "${STACK}_$s" >/dev/null 2>&1 || { WHY="no Swarm secret ${STACK}_$s"; return 1; }
    done
    WHY="the workers' secrets: $(docker service inspect -f '{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}} {{end}}' "${STACK}_fcgi-app")"
    [[ $WHY == *"${STACK}_redis_worker_password"* ]]
}
checkw "Redis's passwords are Swarm secrets (${STACK}_redis_admin_password, ${STACK}_redis_worker_password), the workers' given to the worker service" secrets_ok
# Every worker's khalid-fcgi process reads the secret, not the volume Redis fills on its
# node only; and Redis's ACL holds the hash of that very secret. No password leaves a container.
worker_uses_secret() {
    local c env acl sum
    acl=$(docker exec "$(cid1 redis)" sh -c 'REDISCLI_AUTH="$(cat /run/redis/password)" redis-cli --raw acl getuser khalid' 2>&1)
    for c in $(cids fcgi-app); do
        env=$(docker exec "$c" bash -c 'for d in /proc/[0-9]*; do [ "$(cat "$d/comm" 2>/dev/null)" = khalid-fcgi ] && tr "\0" "\n" <"$d/environ"; done' 2>&1)
        [[ $env == *"REDIS_PASSWORD_FILE=/run/secrets/redis_worker_password"* ]] ||
            { WHY="worker ${c:0:12}: $(grep REDIS_PASSWORD <<<"$env" | head -n 2 | tr '\n' ' ')"; return 1; }
        sum=$(docker exec "$c" sh -c 'head -n 1 /run/secrets/redis_worker_password | tr -d "\r\n" | sha256sum | cut -d " " -f 1')
        grep -qx "$sum" <<<"$acl" || { WHY="Redis's ACL for khalid holds no hash of worker ${c:0:12}'s secret"; return 1; }
    done
}
checkw "every worker reads its Redis password from the Swarm secret, and Redis's ACL user khalid holds that secret's hash" worker_uses_secret
nginx_has_tasks() {
    WHY="upstream: $(upstream_ips | tr '\n' ' '); tasks: $(task_ips | tr '\n' ' ')"
    upstream_is_tasks && [ "$(upstream_ips | wc -l)" = 3 ]
}
checkw "nginx balances over the 3 tasks' own addresses" nginx_has_tasks

# ---------------------------------------------------------------- 4. spread and exact counting
: >"$TMP/count.codes"
before=$(visits)
mapfile -t hosts < <(served_by 60 | sort -u)
expected=$(short_ids | tr '\n' ' ')
after=$(visits)
check "requests reach all 3 worker tasks (X-Served-By: ${hosts[*]})" \
    '[ "$(printf "%s\n" "${hosts[@]}" | tr "\n" " ")" = "$expected" ] && [ ${#hosts[@]} = 3 ]'
check "visits rose by exactly 60 after 60 /count requests ($before -> $after)" \
    'is_count "$before" && is_count "$after" && [ $((after - before)) = 60 ] && [ "$(grep -c "^200$" "$TMP/count.codes")" = 60 ]'

# ---------------------------------------------------------------- 5. docker service scale under load
# reload_time "IP IP ...": when nginx/watch-upstream.sh last switched nginx to exactly these
# workers, in epoch seconds, from Docker's timestamps of the nginx task's log.
reload_time() {
    local ts
    # The watcher writes to stderr, which docker service logs keeps as its own stderr.
    ts=$(docker service logs --timestamps --raw "${STACK}_nginx" 2>&1 |
        grep -oE '^[0-9]{4}-[0-9-]+T[0-9:.]+Z watch-upstream: [0-9:.]+ upstream fcgi-app: [0-9. ]*' |
        awk -v want="$1" '{ t = $1; $1 = $2 = $3 = $4 = $5 = ""; gsub(/^ +| +$/, ""); if ($0 == want) last = t } END { print last }')
    [ -n "$ts" ] && to_epoch "$ts"
}
# scale_to N PREVIOUS: scales the workers, waits until nginx uses exactly the tasks Swarm
# wants running, each answering, then until the service has converged. PICK_S: seconds from
# the change (the newest task's start when scaling up, the scale command when scaling down)
# to the watcher switching nginx to the new set.
scale_to() {
    local t0 t_ref t_reload ips
    PICK_S='?'
    t0=$(now)
    docker service scale --detach "${STACK}_fcgi-app=$1" >>"$TMP/scale.log" 2>&1 || return 1
    wait_until 90 uses_set_of "$1" || return 1
    ips=$(task_ips | tr '\n' ' ' | sed 's/ $//')
    t_reload=$(reload_time "$ips")
    if [ -z "$t_reload" ]; then
        log "no switch to [$ips] in nginx's log; its last ones:"
        docker service logs --timestamps --raw "${STACK}_nginx" 2>&1 | grep -F 'watch-upstream:' | tail -n 3 | sed 's/^/#   /'
        return 1
    fi
    t_ref=$t0
    if [ "$1" -gt "$2" ]; then
        t_ref=$(to_epoch "$(cids fcgi-app | xargs docker inspect -f '{{.State.StartedAt}}' | sort | tail -n 1)")
    fi
    PICK_S=$(elapsed "$t_ref" "$t_reload")
    wait_until 90 converged
}
uses_set_of() { [ "$(cids fcgi-app | wc -l)" = "$1" ] && uses_set; }
within10() { [ "$1" != "?" ] && awk -v t="$1" 'BEGIN { exit !(t <= 10) }'; }
: >"$TMP/count.codes"
before=$(visits)
log "load: / with Connection: close and /count keep-alive, 8 connections each, while scaling 3 -> 4 -> 2"
nginx_task=$(cid1 nginx)
start_load scale
sleep 3
scale_to 4 3; rc4=$?; n4=$(cids fcgi-app | wc -l); up_pick=$PICK_S
sleep 3
scale_to 2 4; rc2=$?; n2=$(cids fcgi-app | wc -l); down_pick=$PICK_S
sleep 2
stop_load
after=$(visits)
docker service logs --raw "${STACK}_nginx" 2>&1 | grep -o 'watch-upstream: .*' | tail -n 3 | cut -c1-160 |
    while IFS= read -r l; do log "  $l"; done
asked_tasks() {
    docker service logs --raw "${STACK}_nginx" >"$TMP/nginx-now.log" 2>&1
    grep -q 'upstream fcgi-app: .*; tasks\.fcgi-app: ' "$TMP/nginx-now.log"
}
check "nginx/watch-upstream.sh followed the scaling through tasks.fcgi-app (Swarm's name for every task)" asked_tasks
check "docker service scale to 4: 4 tasks, nginx uses all 4 within 10 s of the newest one's start (${up_pick}s)" \
    '[ $rc4 = 0 ] && [ $n4 = 4 ] && within10 "$up_pick"'
check "docker service scale to 2: 2 tasks, nginx uses only those within 10 s of the command (${down_pick}s)" \
    '[ $rc2 = 0 ] && [ $n2 = 2 ] && within10 "$down_pick"'
check "nginx's task kept running while scaling (${nginx_task:0:12} -> $(cid1 nginx | cut -c1-12))" '[ "$(cid1 nginx)" = "$nginx_task" ]'
check "no failed request while scaling: / with new connections ($(codes_summary scale_root))" all_200 scale_root
check "no failed request while scaling: /count keep-alive ($(codes_summary scale_count))" all_200 scale_count
total=$(count_200)
check "visits rose by exactly the $total answered /count requests while scaling ($before -> $after)" \
    'is_count "$before" && is_count "$after" && [ "$total" -gt 0 ] && [ $((after - before)) = "$total" ]'

# ---------------------------------------------------------------- 6. rolling update of the worker image
# A rebuilt image: the same Dockerfile with a label more, so a new image ID, under a new tag.
t=$(now)
old_tasks=$(cids fcgi-app | cut -c1-12 | tr '\n' ' ')
if docker build --label "khalid.test.rebuild=$TAG2" -t "khalid-tracker/fcgi-app:$TAG2" -f "$ROOT/fcgi-app/Dockerfile" "$ROOT" \
        >"$TMP/rebuild.log" 2>&1; then
    new_image=$(docker image inspect -f '{{.Id}}' "khalid-tracker/fcgi-app:$TAG2")
    old_image=$(docker image inspect -f '{{.Id}}' "khalid-tracker/fcgi-app:$TAG")
    check "the worker image rebuilt under the tag :$TAG2 with a new ID (${old_image:7:12} -> ${new_image:7:12}, $(elapsed "$t" "$(now)") s)" \
        '[ -n "$new_image" ] && [ "$new_image" != "$old_image" ]'
else
    bad "the worker image rebuilt" "$(tail -n 5 "$TMP/rebuild.log" | tr '\n' ' ')"; new_image=
fi
rm -f "$TMP"/*count*.codes
: >"$TMP/count.codes"
before=$(visits)
start_load update
sleep 3
t=$(now)
rc=0
timeout 300 docker service update --detach=false --no-resolve-image --image "khalid-tracker/fcgi-app:$TAG2" "${STACK}_fcgi-app" \
    >"$TMP/update.log" 2>&1 || rc=$?
update_state() { docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "${STACK}_fcgi-app"; }
# The CLI returns once the new tasks run; Swarm calls the update completed after `monitor`.
update_done() { [ "$(update_state)" != updating ]; }
wait_until 60 update_done
update_s=$(elapsed "$t" "$(now)")
update_state=$(update_state)
wait_until 60 converged
wait_until 30 uses_set
sleep 2
stop_load
after=$(visits)
total=$(count_200)
log "rolling update: ${update_s}s, state $update_state; tasks before: $old_tasks; now: $(short_ids | tr '\n' ' ')"
new_serving() {
    local c
    WHY="update state '$update_state' (exit status $rc)"
    [ "$rc" = 0 ] && [ "$update_state" = completed ] && [ -n "$new_image" ] || return 1
    for c in $(cids fcgi-app); do
        [ "$(docker inspect -f '{{.Image}}' "$c")" = "$new_image" ] || { WHY="task ${c:0:12} runs another image"; return 1; }
        [[ " $old_tasks " != *" ${c:0:12} "* ]] || { WHY="task ${c:0:12} is an old one"; return 1; }
    done
    WHY="upstream $(upstream_ips | tr '\n' ' ') vs tasks $(task_ips | tr '\n' ' ')"
    [ "$(cids fcgi-app | wc -l)" = 2 ] && uses_set
}
checkw "rolling update (docker service update --image :$TAG2) completed: 2 new tasks on the new image, both serving, nginx on exactly them" new_serving
check "no failed request during the rolling update: / with new connections ($(codes_summary update_root))" all_200 update_root
check "no failed request during the rolling update: /count keep-alive ($(codes_summary update_count))" all_200 update_count
check "visits rose by exactly the $total answered /count requests during the update ($before -> $after)" \
    'is_count "$before" && is_count "$after" && [ "$total" -gt 0 ] && [ $((after - before)) = "$total" ]'

# ---------------------------------------------------------------- 7. Redis's task replaced
count_now; c0=$COUNT
redis_before=$(cid1 redis)
t=$(now)
rc=0
timeout 180 docker service update --detach=false --force "${STACK}_redis" >"$TMP/redis-update.log" 2>&1 || rc=$?
redis_up() { [ -n "$(cid1 redis)" ] && [ "$(cid1 redis)" != "$redis_before" ] && converged; }
wait_until 90 redis_up
count_now; c1=$COUNT
check "Redis's task replaced (docker service update --force: ${redis_before:0:12} -> $(cid1 redis | cut -c1-12), $(elapsed "$t" "$(now)") s) and the count kept ($c0 -> $c1)" \
    '[ "$rc" = 0 ] && redis_up && is_count "$c0" && [ "$c1" = $((c0 + 1)) ]'

# ---------------------------------------------------------------- 8. teardown
teardown
left=$(stack_left | wc -l)
label_left=0
[ -n "$LABEL_SET" ] && [ "$SWARM_MADE" = 0 ] && [ -n "$(docker node inspect -f '{{index .Spec.Labels "khalid.redis"}}' "$LABEL_SET" 2>/dev/null)" ] && label_left=1
swarm_left=0
[ "$SWARM_MADE" = 1 ] && { [ "$(swarm_state)" != "inactive false" ] || { [ "$GWBRIDGE_BEFORE" = 0 ] && gwbridge; }; } && swarm_left=1
check "teardown left no service, container, network, volume, secret or image of $STACK, no node label it set${BASE_MADE:+, not the base image it made}$([ "$SWARM_MADE" = 1 ] && echo ', and the swarm it made is gone, docker_gwbridge with it')" \
    '[ "$left" = 0 ] && [ "$label_left" = 0 ] && [ "$swarm_left" = 0 ]'
log "total $((SECONDS - T0)) s"
summary
[ "$FAIL" = 0 ]
