#!/usr/bin/env bash
# Khalid Tracker on Docker Swarm, from the same compose.yml (README, Scaling out).
#
#   scripts/swarm.sh deploy [FILE...]  build and tag the images, then `docker stack deploy`
#                             of compose.yml (FILEs: more compose files laid over it)
#   scripts/swarm.sh rm       `docker stack rm`, waiting until its tasks and networks are gone;
#                             volumes (the count) and the images stay
#   scripts/swarm.sh config   prints the stack file it deploys (below)
#
# `docker stack deploy` refuses things compose.yml holds for compose: services with
# `profiles:` (the monitoring profile: compose only, left out here), and the limits
# `mem_limit`, `pids_limit` and `cpus` (compose.yml cannot hold them as Swarm wants them,
# in deploy.resources.limits: docker-compose 1.29 refuses `pids` there, Compose v2 refuses
# pids_limit beside any limit there). So the stack file is compose.yml with those services
# left out and the three limits moved to deploy.resources.limits (memory, pids, cpus);
# everything else is compose.yml as it is.
#
# Run on a manager node. Settings (environment; make swarm-deploy passes them through):
#   STACK           the stack's name (default khalid): services STACK_nginx, STACK_fcgi-app...
#   HTTP_PORT       published by Swarm's routing mesh on every node (default 5000); an address
#                   before it is dropped by Swarm, so this refuses one (README, Scaling out)
#   WORKERS         worker replicas (default 3); later: docker service scale STACK_fcgi-app=N
#   KHALID_VERSION  the images' tag (default: fcgi-app/version.h's KT_VERSION)
#   SECRETS_DIR     where Redis's passwords are made once and kept (default ./secrets):
#                   redis-admin.pass and redis-worker.pass, unless REDIS_ADMIN_PASSWORD_FILE
#                   and REDIS_WORKER_PASSWORD_FILE name files of your own
#   COMPOSE         the Compose command that builds the images (default: `docker compose`,
#                   else docker-compose)
#   PUBLISH_MODE    ingress (default): Swarm's routing mesh publishes the ports on every
#                   node (it needs IPVS, ip_vs, in the nodes' kernel); host: only the node
#                   that runs nginx publishes them, as `docker run -p` (swarm/publish-host.yml)
# Every other compose.yml setting comes from the environment, then from ./.env as compose
# reads it (`docker stack deploy` reads no .env file itself).
#
# The images exist only on this node: every other node that may run a task needs them too,
# from a registry or `docker save ... | ssh NODE docker load`. Redis runs only on the node
# labelled khalid.redis=true, where its volume is: on a swarm of one node this labels it;
# with several, label the node yourself (docker node update --label-add khalid.redis=true NODE).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

say() { echo "swarm: $*" >&2; }
die() { say "$*"; exit 1; }

[ $# -ge 1 ] || die "usage: scripts/swarm.sh deploy [FILE...] | rm"
STACK=${STACK:-khalid}
[[ $STACK =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]] || die "STACK=$STACK: expected letters, digits, _ . -"


# The stack file: compose.yml as `docker stack deploy` takes it (see above).
read -r -d '' RENDER <<'PY' || true  # read ends at end of input with status 1
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
doc["services"] = {n: s for n, s in doc["services"].items() if not s.get("profiles")}
for s in doc["services"].values():
    limits = s.setdefault("deploy", {}).setdefault("resources", {}).setdefault("limits", {})
    if "mem_limit" in s:
        limits["memory"] = s.pop("mem_limit")
    if "pids_limit" in s:
        limits["pids"] = s.pop("pids_limit")
    if "cpus" in s:
        limits["cpus"] = str(s.pop("cpus"))
yaml.safe_dump(doc, sys.stdout, sort_keys=False, default_flow_style=False, width=1000)
PY
stack_file() { /usr/bin/python3 -c "$RENDER" compose.yml; }
if [ "$1" = config ]; then
    stack_file
    exit
fi

state=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}' 2>/dev/null) ||
    die "no Docker engine answers (docker info)"
[ "$state" = "active true" ] ||
    die "this engine is not a Swarm manager (state: $state): docker swarm init, or run this on a manager (README, Scaling out)"

# stack_gone: no task container and no network of the stack is left on this node.
stack_gone() {
    [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$STACK")" ] &&
        [ -z "$(docker network ls -q --filter "label=com.docker.stack.namespace=$STACK")" ]
}

if [ "$1" = rm ]; then
    docker stack rm "$STACK"
    # docker stack rm returns at once; a deploy under the same name before the networks are
    # gone fails.
    for ((i = 0; i < 120; i++)); do
        stack_gone && { say "stack $STACK removed; its volumes stay (docker volume ls --filter label=com.docker.stack.namespace=$STACK)"; exit 0; }
        sleep 0.5
    done
    die "stack $STACK: tasks or networks still there after 60 s"
fi
[ "$1" = deploy ] || die "usage: scripts/swarm.sh deploy [FILE...] | rm"
shift
files=(-c -)
[ "${PUBLISH_MODE:-ingress}" = host ] && files+=(-c swarm/publish-host.yml)
[ "${PUBLISH_MODE:-ingress}" = host ] || [ "${PUBLISH_MODE:-ingress}" = ingress ] ||
    die "PUBLISH_MODE=$PUBLISH_MODE: expected ingress or host"
for f; do files+=(-c "$f"); done

# compose.yml's settings from .env, unless the environment has them, as compose does.
if [ -f .env ]; then
    while IFS= read -r line || [ -n "$line" ]; do
        [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
        name=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
        [ -n "${!name+set}" ] && continue
        [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]] && value=${BASH_REMATCH[1]}
        export "$name=$value"
    done <.env
fi

export HTTP_PORT=${HTTP_PORT:-5000} WORKERS=${WORKERS:-3}
export KHALID_VERSION=${KHALID_VERSION:-$(sed -n 's/^#define KT_VERSION "\(.*\)"$/\1/p' fcgi-app/version.h)}
[[ $HTTP_PORT =~ ^[0-9]+$ ]] ||
    die "HTTP_PORT=$HTTP_PORT: Swarm publishes on every address of every node; give a port only (README, Scaling out)"
[[ ${HTTPS_PORT:-5443} =~ ^[0-9]+$ ]] || die "HTTPS_PORT=$HTTPS_PORT: give a port only, as for HTTP_PORT"
[[ $WORKERS =~ ^[0-9]+$ ]] || die "WORKERS=$WORKERS: expected a number"
[ -n "$KHALID_VERSION" ] || die "KHALID_VERSION is empty and fcgi-app/version.h names no KT_VERSION"

# Redis's passwords as Swarm secrets: a volume is on one node only, so the workers elsewhere
# could not get a password Redis made. Made once, kept: a stack's secrets cannot change
# (rotation: README, Scaling out).
if [ -z "${REDIS_ADMIN_PASSWORD_FILE:-}" ] || [ -z "${REDIS_WORKER_PASSWORD_FILE:-}" ]; then
    dir=${SECRETS_DIR:-$ROOT/secrets}
    (umask 0077 && mkdir -p "$dir")
    "$ROOT/redis/password.sh" 0444 "$dir/redis-admin.pass" "$dir/redis-worker.pass"
    export REDIS_ADMIN_PASSWORD_FILE=${REDIS_ADMIN_PASSWORD_FILE:-$dir/redis-admin.pass}
    export REDIS_WORKER_PASSWORD_FILE=${REDIS_WORKER_PASSWORD_FILE:-$dir/redis-worker.pass}
fi

# Redis's node.
if [ -z "$(docker node ls -q --filter node.label=khalid.redis=true)" ]; then
    nodes=$(docker node ls -q)
    [ "$(wc -w <<<"$nodes")" = 1 ] ||
        die "no node is labelled for Redis: docker node update --label-add khalid.redis=true NODE (the node that keeps its volume)"
    docker node update --label-add khalid.redis=true "$nodes" >/dev/null
    say "labelled this node, the swarm's only one, khalid.redis=true (Redis and its volume live here)"
fi

if [ -n "${COMPOSE:-}" ]; then
    read -r -a dc <<<"$COMPOSE"
elif docker compose version >/dev/null 2>&1; then
    dc=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    dc=(docker-compose)
else
    die "neither 'docker compose' nor docker-compose is installed to build the images"
fi
tmp_stack=$(mktemp)
trap 'rm -f "$tmp_stack"' EXIT
say "building khalid-tracker/{nginx,fcgi-app,redis}:$KHALID_VERSION with ${dc[*]}"
"${dc[@]}" -p "$STACK" -f compose.yml build

# --resolve-image never: the nodes use the tag as it is here, with no registry to ask.
stack_file >"$tmp_stack" || die "cannot render compose.yml for docker stack deploy (python3-yaml?)"
docker stack deploy --resolve-image never "${files[@]}" "$STACK" <"$tmp_stack"
say "deployed $STACK: http://localhost:$HTTP_PORT once its services are up (docker stack services $STACK)"
