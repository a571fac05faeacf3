#!/usr/bin/env bash
# System packages for the tests: podman (with runc) and debootstrap for Molecule, shellcheck for
# ansible-test sanity (without it that sanity test is skipped), plus the
# containers.conf that makes rootful podman work on this CI machine (hybrid cgroups, capped
# ulimits). Idempotent: when everything is in place it only checks and returns.
#
# Needs root (CI runs as root). Nothing is fetched from outside Debian's apt.
set -euo pipefail
log() { echo "system.sh: $*" >&2; }
sudo_=""
[ "$(id -u)" = 0 ] || sudo_="sudo"

need=()
for pkg in podman runc debootstrap shellcheck; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]} from apt"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_ apt-get update -qq >&2
  $sudo_ apt-get install -y -qq --no-install-recommends "${need[@]}" uidmap slirp4netns fuse-overlayfs >&2
fi

conf=/etc/containers/containers.conf
want='# Written by omniroute.opencode tests/setup/system.sh
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"'
if [ ! -f "$conf" ] || ! grep -q 'omniroute.opencode tests/setup/system.sh' "$conf"; then
  if [ -f "$conf" ]; then
    $sudo_ cp -p "$conf" "$conf.omniroute-opencode.bak"
    log "saved the existing $conf as $conf.omniroute-opencode.bak"
  fi
  $sudo_ mkdir -p /etc/containers
  printf '%s\n' "$want" | $sudo_ tee "$conf" >/dev/null
  log "wrote $conf"
fi

# Smoke check: podman answers (does not pull anything).
podman info --format '{{.Host.OCIRuntime.Name}}' >/dev/null
