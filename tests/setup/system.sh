#!/usr/bin/env bash
# System packages for the tests: podman (with runc) and debootstrap for Molecule, shellcheck for
# ansible-test sanity (without it that sanity test is skipped). Idempotent: when everything is
# in place it only checks and returns. Packages are installed only when missing, and only by
# root; anyone else gets the exact command to run, and the run fails.
# Nothing is fetched from outside Debian's apt.
set -euo pipefail
log() { echo "system.sh: $*" >&2; }

need=()
for pkg in podman runc debootstrap shellcheck; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  cmd="apt-get update && apt-get install -y --no-install-recommends ${need[*]} uidmap slirp4netns fuse-overlayfs"
  if [ "$(id -u)" != 0 ]; then
    log "missing system packages: ${need[*]}. Install them as root, then run this again:"
    log "  sudo sh -c '$cmd'"
    exit 1
  fi
  log "installing ${need[*]} from apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" uidmap slirp4netns fuse-overlayfs >&2
fi

# Podman reads its settings from tests/setup/containers.conf through CONTAINERS_CONF (exported
# by the Makefile); the system's containers.conf is left alone.
export CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$(dirname "$0")" && pwd)/containers.conf}
# Its images, containers and run state live in the project cache, not in /var/lib/containers:
# CONTAINERS_STORAGE_CONF names a storage.conf written here (absolute paths, so it is generated).
cache=${OMNIROUTE_OPENCODE_CACHE:-$HOME/.cache/omniroute-opencode}
export CONTAINERS_STORAGE_CONF=${CONTAINERS_STORAGE_CONF:-$cache/podman/storage.conf}
if [ ! -s "$CONTAINERS_STORAGE_CONF" ]; then
  store=$(dirname "$CONTAINERS_STORAGE_CONF")
  mkdir -p "$store"
  printf '%s\n' '# Written by tests/setup/system.sh: podman storage for the omniroute.opencode tests only.' \
    '[storage]' 'driver = "overlay"' "graphroot = \"$store/graph\"" "runroot = \"$store/run\"" \
    > "$CONTAINERS_STORAGE_CONF.tmp"
  mv "$CONTAINERS_STORAGE_CONF.tmp" "$CONTAINERS_STORAGE_CONF"
  log "podman storage for the tests: $store"
fi

# Smoke check: podman answers (does not pull anything).
podman info --format '{{.Host.OCIRuntime.Name}}' >/dev/null
