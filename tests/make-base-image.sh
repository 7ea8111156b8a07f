#!/usr/bin/env bash
# Create the local base image debian:bookworm-slim when it is missing, without a registry.
#
# Every Dockerfile of Khalid Tracker starts FROM debian:bookworm-slim, which a normal machine
# pulls from Docker Hub. Where no image registry is reachable (CI here), this script builds an
# equivalent base from Debian's own packages instead:
#   debootstrap --variant=minbase bookworm  ->  the official image's apt sources  ->  docker import
# The Dockerfiles stay exactly what real users build. Needs root (debootstrap) and a Docker engine.
#
# Usage: bash tests/make-base-image.sh [--force]
#        bash tests/make-base-image.sh --remove ID
#   MIRROR=http://deb.debian.org/debian  (override the Debian mirror)
# Prints the ID of the image it made on stdout, and nothing when the image was already
# there, so that a caller can remove at its end only what it made: --remove ID removes the
# tag while it still names ID and no other image or container stands on it (exit 0; also
# when the tag names another image now), and leaves it, with exit status 3, when something
# else uses it. Everything else goes to stderr.
set -euo pipefail

IMAGE=debian:bookworm-slim
MIRROR=${MIRROR:-http://deb.debian.org/debian}
force=0
[ "${1:-}" = --force ] && force=1

log() { printf 'make-base-image: %s\n' "$*" >&2; }

if [ "${1:-}" = --remove ]; then
    id=${2:?"--remove needs the image ID this script printed"}
    if [ "$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null)" != "$id" ]; then
        log "$IMAGE is not $id (any more): left alone"
        exit 0
    fi
    # docker rmi untags the image even while other images were built on it, and their
    # next build FROM it would then fail (a test running beside this one, say): look first.
    # An imported image is one layer, the first layer of every image built on it.
    layer=$(docker image inspect -f '{{index .RootFS.Layers 0}}' "$id")
    if [ -n "$(docker ps -aq --filter "ancestor=$id")" ] ||
        docker images -aq --no-trunc | grep -vxF "$id" | sort -u |
            xargs -r docker image inspect -f '{{index .RootFS.Layers 0}}' 2>/dev/null | grep -qxF "$layer"; then
        log "$IMAGE is used by other images or containers: left"
        exit 3
    fi
    docker rmi "$IMAGE" >/dev/null
    log "$IMAGE ($id) removed"
    exit 0
fi

if [ "$force" = 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE already present"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    log "debootstrap needs root; run as root or load $IMAGE another way (docker pull/load)"
    exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    # Other sessions may be installing packages at the same moment: wait for dpkg's lock.
    apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq debootstrap >/dev/null
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kt-rootfs.XXXXXX")
cleanup() {
    # debootstrap may leave proc/sys mounted inside the root after a failure.
    for m in proc sys dev/pts dev; do
        mountpoint -q "$tmp/rootfs/$m" 2>/dev/null && umount -l "$tmp/rootfs/$m" || true
    done
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
root=$tmp/rootfs

log "debootstrap --variant=minbase bookworm from $MIRROR (about a minute)"
debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$tmp/debootstrap.log" 2>&1 || {
    tail -n 30 "$tmp/debootstrap.log" >&2
    log "debootstrap failed"
    exit 1
}

# The official image's apt sources (deb822, as in debian:bookworm-slim).
rm -f "$root/etc/apt/sources.list"
mkdir -p "$root/etc/apt/sources.list.d"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
# Keep the official slim image's habits: no apt caches, no docs kept by later installs.
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
cat >"$root/etc/apt/apt.conf.d/docker-no-languages" <<'CONF'
Acquire::Languages "none";
CONF
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CONF
# As the official slim image: no man pages, info, locales, or docs but the copyright files.
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* "$root"/usr/share/lintian/*
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
       "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/debootstrap
: >"$root/etc/hostname"
: >"$root/etc/resolv.conf"
rm -f "$root/etc/machine-id" && : >"$root/etc/machine-id"

old=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
log "docker import -> $IMAGE"
new=$(tar --numeric-owner -C "$root" -c . | docker import \
    -c 'CMD ["bash"]' \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -m "debootstrap --variant=minbase bookworm (tests/make-base-image.sh)" - "$IMAGE")
# With --force, drop the image this one replaced unless something still uses it.
[ -n "$old" ] && docker image rm "$old" >/dev/null 2>&1 || true
log "done: $new $(docker image inspect -f '{{.Size}}' "$new") bytes"
printf '%s\n' "$new"
