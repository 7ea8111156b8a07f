#!/usr/bin/env bash
# Prints a Docker Compose v2 command: `docker compose` when that plugin is installed, else
# the standalone docker-compose binary of Compose v2 (the same program) built from its
# source at the pinned version below and cached, so that later runs reuse it.
#
# Debian bookworm packages only docker-compose 1.29; the Go module proxy serves Compose v2's
# source. The first build takes about two minutes and 70 MB in
# ${XDG_CACHE_HOME:-$HOME/.cache}/khalid-tracker/ (Go's module cache keeps the sources too).
# Exits 1, saying why on stderr, when v2 cannot be had: no Go toolchain, the proxy does not
# serve that version, or the build fails.
#
# Usage: scripts/compose-v2.sh         e.g. /root/.cache/khalid-tracker/docker-compose-v2.40.3
#   COMPOSE_V2_VERSION  the version to build (default below; the proxy listed v2.28.1,
#                       v2.35.1, v2.40.2 and v2.40.3 on 2026-12-01)
set -euo pipefail

VERSION=${COMPOSE_V2_VERSION:-v2.40.3}
MODULE=github.com/docker/compose/v2
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/khalid-tracker
BIN=$CACHE/docker-compose-$VERSION

say() { echo "compose-v2: $*" >&2; }

if docker compose version --short 2>/dev/null | grep -q '^v\?2\.'; then
    echo "docker compose"
    exit 0
fi
if [ -x "$BIN" ] && "$BIN" version --short >/dev/null 2>&1; then
    echo "$BIN"
    exit 0
fi

GO=$(command -v go || true)
[ -n "$GO" ] || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; } ||
    { say "no Go toolchain (go on PATH or /usr/local/go/bin/go) to build Compose $VERSION"; exit 1; }
mkdir -p "$CACHE"
# Two runs at once build it once: the second waits for the first.
exec 9>"$CACHE/.compose-v2.lock"
flock 9
if [ -x "$BIN" ] && "$BIN" version --short >/dev/null 2>&1; then
    echo "$BIN"
    exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kt-compose-v2.XXXXXX")
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
say "building Compose $VERSION from the Go module proxy (about two minutes, once)"
# `go install module@version` refuses a module whose go.mod has exclude or replace lines,
# as Compose's has: build it as the main module, from its own go.mod and go.sum.
if ! dir=$("$GO" mod download -json "$MODULE@$VERSION" 2>"$tmp/download.err" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') ||
    [ -z "$dir" ]; then
    say "the Go module proxy did not serve $MODULE@$VERSION: $(tail -n 3 "$tmp/download.err" | tr '\n' ' ')"
    exit 1
fi
cp -r "$dir" "$tmp/src"
chmod -R u+w "$tmp/src"
if ! (cd "$tmp/src" && CGO_ENABLED=0 "$GO" build -trimpath \
        -ldflags "-s -w -X $MODULE/internal.Version=$VERSION" -o "$tmp/docker-compose" ./cmd) >"$tmp/build.log" 2>&1; then
    say "building Compose $VERSION failed: $(tail -n 5 "$tmp/build.log" | tr '\n' ' ')"
    exit 1
fi
"$tmp/docker-compose" version --short >/dev/null || { say "the Compose $VERSION just built does not run"; exit 1; }
mv -f "$tmp/docker-compose" "$BIN"
say "Compose $VERSION cached as $BIN"
echo "$BIN"
