# Helpers shared by the Docker tests (tests/check-compose.sh, tests/check-swarm.sh), sourced
# by them. They read the caller's PASS, FAIL, TMP (a scratch directory), URL (the site, on
# a loopback address), BODY and HDRS (files fetch writes) and, for load, STOP_FILE (when set, a load stops once it exists).
# shellcheck shell=bash

log()  { printf '# %s\n' "$*"; }
ok()   { PASS=$((PASS + 1)); printf 'ok - %s\n' "$1"; }
bad()  { FAIL=$((FAIL + 1)); printf 'FAIL - %s\n' "$1"; [ -n "${2:-}" ] && printf '#   %s\n' "$2"; return 0; }
check() { # check NAME 'SHELL CONDITION': ok when the condition (eval'd here) holds
    local name=$1; shift
    if eval "$*"; then ok "$name"; else bad "$name"; fi
}
# checkw NAME FUNCTION...: like check, with WHY (set by the function) as the failure's reason.
WHY=
checkw() {
    local name=$1; shift
    WHY=
    if "$@"; then ok "$name"; else bad "$name" "$WHY"; fi
}
summary() { printf '%d passed, %d failed\n' "$PASS" "$FAIL"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }
# wait_until SECONDS COMMAND...: polls every 0.5 s; fails after SECONDS
wait_until() {
    local limit=$1 i; shift
    for ((i = 0; i < limit * 2; i++)); do
        "$@" && return 0
        sleep 0.5
    done
    return 1
}

free_port() {
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + RANDOM % 40000))
        if command -v ss >/dev/null && [ -n "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; then continue; fi
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
        echo "$p"; return 0
    done
    return 1
}
# clear_settings: settings a developer may have exported must not leak into a test stack:
# every variable compose.yml and scripts/swarm.sh read (found in them, so that a new
# setting is covered the day it is added), and compose's own. COMPOSE, which picks the
# compose command for the tests, stays.
clear_settings() {
    local v
    for v in COMPOSE_FILE COMPOSE_PROJECT_NAME $(grep -oh '\${[A-Z_][A-Z0-9_]*' "$ROOT/compose.yml" "$ROOT/scripts/swarm.sh" |
                                                 cut -c3- | sort -u); do
        case $v in COMPOSE | BASH_*) ;; *) unset "$v" ;; esac
    done
}

# free_subnet: a /24 for the monitoring network that nothing here overlaps (see the script).
free_subnet() { python3 "$(dirname "${BASH_SOURCE[0]}")/free_subnet.py"; }

# fetch [curl args] PATH: sets CODE, and writes the body to BODY and the head to HDRS
# (the caller's file names)
fetch() {
    local path=${!#}
    CODE=$(curl -sS --max-time 10 -o "$BODY" -D "$HDRS" -w '%{http_code}' "${@:1:$#-1}" "$URL$path" 2>"$TMP/curl.err") || CODE=000
    tr -d '\r' <"$HDRS" >"$HDRS.n" && mv "$HDRS.n" "$HDRS"
}
header() { awk -v h="$(tr 'A-Z' 'a-z' <<<"$1")" -F': ' 'tolower($1) == h { sub(/^[^:]*: /, ""); print; exit }' "$HDRS"; }

# served_by N: the X-Served-By hosts of N requests to /count (one a line); appends the
# status codes to $TMP/count.codes so the exact-count checks include these requests.
served_by() {
    local n=$1
    curl -s --max-time 10 -o /dev/null -D - -w 'STATUS %{http_code}\n' "$URL/count?[1-$n]" 2>/dev/null |
        tr -d '\r' | awk -v codes="$TMP/count.codes" '
            tolower($1) == "x-served-by:" { split($2, a, "/"); print a[1] }
            $1 == "STATUS" { print $2 >> codes }'
}
count_200() { cat "$TMP"/*count*.codes 2>/dev/null | grep -c '^200$'; }

# load NAME PATH SECONDS [curl args]: bounded load from 8 parallel connections in batches
# of 200 requests, until SECONDS have passed (or STOP_FILE exists); one status code a line in
# $TMP/NAME.codes (000 = no HTTP answer). Keep-alive by default: like browsers, curl retries
# a request once on a fresh connection when the server closed an idle kept-alive one first.
load() {
    local name=$1 path=$2 secs=$3; shift 3
    local end=$((SECONDS + secs)) b=0
    : >"$TMP/$name.codes"
    while [ "$SECONDS" -lt "$end" ] && [ "$b" -lt 1000 ] && { [ -z "${STOP_FILE:-}" ] || [ ! -e "$STOP_FILE" ]; }; do
        curl -s --parallel --parallel-max 8 --max-time 15 -o /dev/null -w '%{http_code}\n' \
             "$@" "$URL$path?b$b=[1-200]" >>"$TMP/$name.codes" 2>/dev/null
        b=$((b + 1))
    done
}
codes_summary() { sort "$TMP/$1.codes" | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }'; }
all_200() { [ -s "$TMP/$1.codes" ] && ! grep -qv '^200$' "$TMP/$1.codes"; }
