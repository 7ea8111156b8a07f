#!/bin/bash
# The monitoring containers' healthcheck (they have no HTTP client): healthy when
# 127.0.0.1:PORT answers GET PATH with 200.
#
#   http-ok PORT PATH
exec 3<>"/dev/tcp/127.0.0.1/$1" &&
    printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$2" >&3 &&
    timeout 3 head -n 1 <&3 | grep -q ' 200 '
