#!/usr/bin/env bash
# `make check`: every suite, each against the build it was made for, each under a time
# limit, each required to run the number of checks it is known to have.
#
#   make check             the release build (unit, store, nginx -t, integration, the
#                          worker under valgrind), then the ASan/UBSan build (unit, store,
#                          integration with its logs scanned for reports, memory checks)
#   make SANITIZE=1 check  the ASan/UBSan build only
#   CHECK_FAIL_FAST=1      stop after the first suite that fails (make check-mutants)
#
# Prints each suite's own output and ends with one line, "N passed, N failed", counting the
# checks of all suites. Exits 1 if anything failed.
set -u
cd "$(dirname "$0")/.." || exit 2

# What Check, the sanitizers and make do is decided here, not by the caller's environment:
# CK_RUN_CASE=x, say, would make a suite run no check at all and still pass.
for v in $(compgen -e); do
    case $v in CK_*|ASAN_*|UBSAN_*|LSAN_*|MAKEFLAGS|MFLAGS|MAKELEVEL|MAKEOVERRIDES) unset "$v" ;; esac
done
export CK_FORK=yes CK_DEFAULT_TIMEOUT=60 CK_VERBOSITY=normal
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=report_objects=1

# How many checks each suite has. A suite that runs fewer (or more) fails: update the
# number in the same commit that adds or removes a check.
declare -A EXPECTED=(
    [unit]=87 [store]=14 [nginx]=3 [colour]=22 [integration]=69 [valgrind]=6 [sanitizer]=6 [promtool]=17
)

passed=0
failed=0
log=$(mktemp -d /tmp/kt-check-XXXXXX)
trap 'rm -rf "$log"' EXIT

# suite KEY SECONDS TITLE COMMAND...: runs one suite under a time limit, shows its output,
# and adds its counts. A suite fails as a whole (one more failure) when it dies without
# its summary line, exits non-zero while its summary shows no failure, or ran a number of
# checks other than EXPECTED[KEY].
suite() {
    local key=$1 limit=$2 title=$3; shift 3
    echo "=== $title: $*"
    timeout -k 10 "$limit" "$@" 2>&1 | tee "$log/out"
    local rc=${PIPESTATUS[0]} line n f
    if line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log/out" | tail -1) && [ -n "$line" ]; then
        n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
        f=$(( $(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line") + $(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line") ))
    elif line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log/out" | tail -1) && [ -n "$line" ]; then
        f=$(cut -d' ' -f3 <<<"$line")
        n=$(( $(cut -d' ' -f1 <<<"$line") + f ))
    else
        [ "$rc" = 124 ] && echo "--- $title: stopped after $limit s (time limit)" ||
            echo "--- $title: no summary line (exit status $rc)"
        failed=$((failed + 1)); stop_if_failing; return
    fi
    passed=$((passed + n - f)); failed=$((failed + f))
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "--- $title: exit status $rc although its summary shows no failure"
        failed=$((failed + 1))
    fi
    if [ "$n" != "${EXPECTED[$key]}" ]; then
        echo "--- $title: ran $n checks, expected ${EXPECTED[$key]} (tests/check.sh, EXPECTED)"
        failed=$((failed + 1))
    fi
    stop_if_failing
}

# With CHECK_FAIL_FAST=1, ends the run at the first failure, with the summary line.
stop_if_failing() {
    [ "$failed" != 0 ] && [ "${CHECK_FAIL_FAST:-0}" = 1 ] || return 0
    echo "--- stopping at the first failed suite (CHECK_FAIL_FAST=1)"
    echo "$passed passed, $failed failed"
    exit 1
}

# The nginx configuration as the native stack renders it, checked by nginx itself: with
# the defaults, and with every optional setting (trusted proxies, private statistics, the
# rate limit's exemptions and no burst).
nginx_config() {
    local d=$log/nginx ok=0 bad=0 settings
    mkdir -p "$d/temp"
    nginx/upstream.sh "$(nginx/keepalive.sh "" 64 1)" "unix:$d/w.sock" >"$d/upstream.conf" || bad=1
    for settings in "" "TRUSTED_PROXIES=10.0.0.0/8,2001:db8::/32 STATS_PASSWORD=s3cret NGINX_STATUS_ALLOW=172.31.254.0/24 RATE_LIMIT=5 RATE_BURST=0 RATE_LIMIT_EXEMPT=10.0.0.0/8,::1" \
                    "TLS=self-signed NGINX_TLS_DIR=$d/tls NGINX_HTTPS_LISTEN=127.0.0.1:2 NGINX_HTTPS_PUBLIC_PORT=443 HSTS_MAX_AGE=600"; do
        if env -u TRUSTED_PROXIES -u STATS_PASSWORD -u STATS_PASSWORD_FILE -u NGINX_STATUS_ALLOW \
            -u RATE_LIMIT -u RATE_BURST -u RATE_LIMIT_EXEMPT -u TLS -u TLS_CERT -u TLS_KEY -u TLS_CHAIN \
            -u HSTS_MAX_AGE -u SERVER_NAME $settings \
            NGINX_USER_LINE="" NGINX_WORKER_PROCESSES=1 NGINX_PID_FILE="$d/nginx.pid" \
            NGINX_MIME_TYPES=/etc/nginx/mime.types NGINX_ACCESS_LOG=off NGINX_TEMP_DIR="$d/temp" \
            NGINX_UPSTREAM_CONF="$d/upstream.conf" NGINX_LISTEN=127.0.0.1:1 \
            NGINX_STATIC_ROOT="$PWD/templates/static" NGINX_STATS_HTPASSWD="$d/stats.htpasswd" \
            nginx/render-conf.sh nginx/nginx.conf.in >"$d/nginx.conf" &&
            nginx -t -q -e stderr -p "$d" -c "$d/nginx.conf"; then
            ok=$((ok + 1)); echo "ok - nginx -t with settings: ${settings:-(defaults)}"
        else
            bad=$((bad + 1)); echo "FAIL - nginx -t with settings: ${settings:-(defaults)}"
        fi
    done
    echo "$ok passed, $bad failed"
}

# build SANITIZE: builds exactly the binaries the suites below run, in that mode's
# directory (the caller's SANITIZE is not inherited: it is given on the command line).
build() {
    make -s SANITIZE="$1" worker fakeclock-worker "build/$2/unit-tests" "build/$2/store-tests" && return 0
    echo "--- the $2 build failed"; failed=$((failed + 1)); return 1
}

# The suites of one build; the integration suite scans the logs for sanitizer reports
# when the worker is instrumented.
run_build() {
    local dir=build/$1 what=$2
    suite unit 120 "unit tests$what" "$dir/unit-tests"
    suite store 120 "store tests (real redis-server)$what" "$dir/store-tests"
    suite integration 900 "integration tests (native stack)$what" \
        /usr/bin/python3 tests/integration/run.py --worker "$dir/khalid-fcgi"
}

export -f nginx_config
export log
suite nginx 60 "nginx -t" bash -c nginx_config
suite colour 60 "colour and contrast maths (browser tests' helpers)" python3 tests/browser/test_colour.py
suite promtool 60 "promtool: rules and their tests" /usr/bin/python3 tests/promtool.py
if [ "${CHECK_SANITIZE:-0}" != 1 ] && build 0 release; then
    run_build release ""
    suite valgrind 600 "worker under valgrind (native stack)" \
        /usr/bin/python3 tests/memcheck.py --valgrind --worker build/release/khalid-fcgi
fi
if build 1 sanitize; then
    run_build sanitize ", ASan/UBSan"
    suite sanitizer 600 "worker with ASan/UBSan (native stack)" \
        /usr/bin/python3 tests/memcheck.py --sanitizer --worker build/sanitize/khalid-fcgi
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
