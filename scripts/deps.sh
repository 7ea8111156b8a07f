#!/bin/sh
# Makes sure the Debian packages that `make run` and `make check` need are installed.
# As root on Debian/Ubuntu it installs what is missing; otherwise it prints the one
# apt-get command to run and fails, so a fresh machine needs a single command either way.
set -eu
packages="gcc make pkg-config libc6-dev libfcgi-dev libhiredis-dev check spawn-fcgi nginx redis-server redis-tools curl openssl python3 procps valgrind libxml2-utils prometheus prometheus-nginx-exporter prometheus-redis-exporter prometheus-node-exporter python3-yaml"
[ $# -gt 0 ] && packages="$packages $*"

missing=""
for p in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case $status in *" installed") ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: missing packages:$missing (install their equivalents for your system)" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages:$missing" >&2
    echo "deps: run:  sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# The package lists may be missing on a fresh machine or container; refresh them once.
apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends $missing >/dev/null
}
# Debian's packages start system-wide nginx/redis where an init system runs; the project
# starts its own on its own ports and never needs those.
