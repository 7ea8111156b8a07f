#!/bin/sh
# Healthy only when Redis answers PONG to an authenticated PING. (redis-cli exits 0 even
# on a NOAUTH error, so its exit status alone proves nothing.)
pw=$(cat "${REDIS_RUNTIME_DIR:-/run/redis}/password" 2>/dev/null) || exit 1
out=$(REDISCLI_AUTH="$pw" timeout 3 redis-cli -h 127.0.0.1 -p 6379 ping 2>&1) || exit 1
[ "$out" = PONG ]
