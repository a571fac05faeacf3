#!/usr/bin/env bash
# The Molecule "laptop" base image, built locally (the CI machine has no image registry):
# a Debian bookworm minbase root filesystem with python3 and sudo, imported into podman as
# localhost/omniroute-opencode-laptop:bookworm.
#
#   base-image.sh            ensure the image exists; print its name
#
# Cached: when podman already has the image this returns at once. The root filesystem is kept as
# a tarball in $OMNIROUTE_OPENCODE_CACHE/images, so a fresh podman store re-imports it in
# seconds without running debootstrap again (~40 s).
#
# Environment: OMNIROUTE_OPENCODE_CACHE, OMNIROUTE_OPENCODE_IMAGE (image name),
# DEBIAN_MIRROR (default: the first deb.debian.org-style URI of this machine's apt sources).
set -euo pipefail
log() { echo "base-image.sh: $*" >&2; }
image=${OMNIROUTE_OPENCODE_IMAGE:-localhost/omniroute-opencode-laptop:bookworm}
cache=${OMNIROUTE_OPENCODE_CACHE:-$HOME/.cache/omniroute-opencode}
# Bump when the package list below changes, so stale tarballs are not reused.
recipe=v1
tarball="$cache/images/laptop-bookworm-$recipe.tar"

if podman image exists "$image" && \
   [ "$(podman image inspect --format '{{index .Labels "omniroute-opencode.recipe"}}' "$image" 2>/dev/null || true)" = "$recipe" ]; then
  echo "$image"
  exit 0
fi

if [ ! -s "$tarball" ]; then
  mirror=${DEBIAN_MIRROR:-}
  if [ -z "$mirror" ]; then
    mirror=$(grep -hoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
      | head -n 1 | tr -d ' ' || true)
    mirror=${mirror:-http://deb.debian.org/debian}
  fi
  command -v debootstrap >/dev/null || { log "debootstrap missing: run tests/setup/system.sh"; exit 1; }
  work=$(mktemp -d "${TMPDIR:-/tmp}/laptop-rootfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  log "debootstrap bookworm minbase from $mirror (~40 s)"
  t0=$SECONDS
  debootstrap --variant=minbase --include=python3,sudo bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
  # Smaller image: no apt lists or package cache.
  rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin "$work/rootfs/var/cache/apt/archives/"*.deb
  mkdir -p "$(dirname "$tarball")"
  tar -C "$work/rootfs" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  log "root filesystem cached at $tarball ($((SECONDS - t0)) s)"
fi

t0=$SECONDS
podman import --change 'CMD ["/bin/sleep", "infinity"]' \
  --change "LABEL omniroute-opencode.recipe=$recipe" "$tarball" "$image" >/dev/null
log "imported $image ($((SECONDS - t0)) s)"
echo "$image"
