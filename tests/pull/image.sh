#!/usr/bin/env bash
# The pull-mode laptop with systemd as PID 1, so that the pull schedule's timer really fires:
# the fleet laptop image (tests/ee/laptop-image.sh) plus systemd and systemd-sysv.
#
#   image.sh FLEET_LAPTOP_IMAGE     ensure the image exists; print its name
#
# apt runs inside `podman build --network host` (Debian's http mirror, as laptop-image.sh does).
# Cached: rebuilt only when the fleet image or this script change (label).
set -euo pipefail
log() { echo "pull image.sh: $*" >&2; }
base=${1:?usage: image.sh FLEET_LAPTOP_IMAGE}
image=${OMNIROUTE_OPENCODE_PULL_IMAGE:-localhost/omniroute-opencode-pull-laptop:bookworm}
sum=$( { podman image inspect --format '{{.Id}}' "$base"; cat "$0"; } | sha256sum | cut -c1-24)
if [ "$(podman image inspect --format '{{index .Labels "omniroute-opencode.pull-inputs"}}' "$image" 2>/dev/null || true)" = "$sum" ]; then
  echo "$image"; exit 0
fi
ctx=$(mktemp -d "${TMPDIR:-/tmp}/pull-laptop.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
cat >"$ctx/Containerfile" <<'CONTAINERFILE'
ARG BASE
FROM $BASE
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd systemd-sysv \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \
 && systemctl mask getty.target console-getty.service systemd-logind.service ssh.service \
 && systemctl set-default multi-user.target
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
CONTAINERFILE
t0=$SECONDS
podman build --network host --build-arg "BASE=$base" --label "omniroute-opencode.pull-inputs=$sum" \
  -t "$image" "$ctx" >"$ctx/build.log" 2>&1 || { tail -n 30 "$ctx/build.log" >&2; exit 1; }
log "built $image in $((SECONDS - t0)) s"
echo "$image"
