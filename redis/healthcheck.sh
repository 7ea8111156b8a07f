#!/bin/sh
# Healthy only when Redis answers PONG to a PING from the user "health", which may run
# PING and nothing else (redis/acl.sh). redis-cli exits 0 even on a NOAUTH or WRONGPASS
# error, so its exit status alone proves nothing.
pw=$(cat /run/redis/health.pass 2>/dev/null) || exit 1
out=$(REDISCLI_AUTH="$pw" timeout 3 redis-cli --user health -h 127.0.0.1 -p 6379 ping 2>&1) || exit 1
[ "$out" = PONG ]
