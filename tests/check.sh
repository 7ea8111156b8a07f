#!/usr/bin/env bash
# `make check`: every suite on the release build, the worker under valgrind, then the
# pure and Redis suites and the worker again built with ASan/UBSan. Prints each suite's own output and ends with one line,
# "N passed, N failed", counting the checks of all suites. Exits 1 if anything failed.
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
log=$(mktemp -d /tmp/kt-check-XXXXXX)
trap 'rm -rf "$log"' EXIT

# Runs one suite, shows its output, and adds its counts. A suite that dies without its
# summary line counts as one failure.
suite() {
    local name=$1; shift
    echo "=== $name: $*"
    "$@" 2>&1 | tee "$log/out"
    local rc=${PIPESTATUS[0]} line n f e
    if line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log/out" | tail -1) && [ -n "$line" ]; then
        n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
        f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
        e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
        passed=$((passed + n - f - e)); failed=$((failed + f + e))
    elif line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log/out" | tail -1) && [ -n "$line" ]; then
        passed=$((passed + $(cut -d' ' -f1 <<<"$line"))); failed=$((failed + $(cut -d' ' -f3 <<<"$line")))
    else
        echo "--- $name: no summary line (exit status $rc)"
        failed=$((failed + 1)); return
    fi
    if [ "$rc" != 0 ] && ! grep -qE 'Failures: [1-9]|Errors: [1-9]|[1-9][0-9]* failed' <<<"$line"; then
        echo "--- $name: exit status $rc although its summary shows no failure"
        failed=$((failed + 1))
    fi
}

# The nginx configuration as the native stack renders it, checked by nginx itself.
nginx_config() {
    local d=$log/nginx
    mkdir -p "$d/temp"
    echo "upstream khalid_workers { server unix:$d/w.sock; }" >"$d/upstream.conf"
    NGINX_USER_LINE="" NGINX_WORKER_PROCESSES=1 NGINX_PID_FILE=$d/nginx.pid \
    NGINX_MIME_TYPES=/etc/nginx/mime.types NGINX_ACCESS_LOG=off NGINX_TEMP_DIR=$d/temp \
    NGINX_UPSTREAM_CONF=$d/upstream.conf NGINX_LISTEN=127.0.0.1:1 NGINX_STATIC_ROOT=$PWD/templates/static \
        nginx/render-conf.sh nginx/nginx.conf.in >"$d/nginx.conf" &&
    nginx -t -q -e stderr -p "$d" -c "$d/nginx.conf" && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
}

make -s worker build/release/unit-tests build/release/store-tests || { echo "0 passed, 1 failed"; exit 1; }
suite "unit tests" build/release/unit-tests
suite "store tests (real redis-server)" build/release/store-tests
suite "nginx -t" nginx_config
suite "integration tests (native stack)" /usr/bin/python3 tests/integration.py --worker build/release/khalid-fcgi
suite "worker under valgrind (native stack)" /usr/bin/python3 tests/memcheck.py --valgrind --worker build/release/khalid-fcgi
if make -s SANITIZE=1 worker build/sanitize/unit-tests build/sanitize/store-tests; then
    suite "unit tests, ASan/UBSan" build/sanitize/unit-tests
    suite "store tests, ASan/UBSan" build/sanitize/store-tests
    suite "worker with ASan/UBSan (native stack)" /usr/bin/python3 tests/memcheck.py --sanitizer --worker build/sanitize/khalid-fcgi
else
    echo "--- the sanitizer build failed"; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
