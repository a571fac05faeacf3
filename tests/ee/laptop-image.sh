#!/usr/bin/env bash
# The "fleet laptop" image of the EE and pull-mode tests: the Molecule base image
# (tests/setup/base-image.sh) plus
#   - openssh-server: the EE reaches laptops over SSH, as AWX does;
#   - git and ansible-core: what a laptop needs for `ansible-pull` (ansible-core from a wheelhouse
#     made on this host and installed with --no-index, so no TLS inside the build).
#
#   laptop-image.sh WHEELHOUSE     ensure the image exists; print its name
#
# apt runs inside `podman build --network host` (Debian's http mirror, no CA bundle needed).
# Cached: rebuilt only when the base image, this script or the wheel files change (label).
set -euo pipefail
log() { echo "laptop-image.sh: $*" >&2; }
wheels=${1:?usage: laptop-image.sh WHEELHOUSE}
here=$(cd "$(dirname "$0")" && pwd)
base=$("$here/../setup/base-image.sh")
image=${OMNIROUTE_OPENCODE_FLEET_IMAGE:-localhost/omniroute-opencode-laptop-fleet:bookworm}
sum=$( { podman image inspect --format '{{.Id}}' "$base"; cat "$0"; ls -1 "$wheels"; } | sha256sum | cut -c1-24)
if [ "$(podman image inspect --format '{{index .Labels "omniroute-opencode.fleet-inputs"}}' "$image" 2>/dev/null || true)" = "$sum" ]; then
  echo "$image"; exit 0
fi
ctx=$(mktemp -d "${TMPDIR:-/tmp}/fleet-laptop.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
mkdir "$ctx/wheels" && cp "$wheels"/*.whl "$ctx/wheels/"
cat >"$ctx/Containerfile" <<'CONTAINERFILE'
ARG BASE
FROM $BASE
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server git python3-pip \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \
 && mkdir -p /run/sshd && chmod 0755 /run/sshd
RUN --mount=type=bind,source=wheels,target=/tmp/wheels \
    python3 -m pip install --no-cache-dir --break-system-packages --no-index --find-links /tmp/wheels ansible-core \
 && ansible-pull --version >/dev/null
CMD ["/usr/sbin/sshd", "-D", "-e"]
CONTAINERFILE
t0=$SECONDS
podman build --network host --build-arg "BASE=$base" --label "omniroute-opencode.fleet-inputs=$sum" \
  -t "$image" "$ctx" >"$ctx/build.log" 2>&1 || { tail -n 30 "$ctx/build.log" >&2; exit 1; }
log "built $image in $((SECONDS - t0)) s"
echo "$image"
