#!/usr/bin/env bash
# Build (or reuse) the execution environment image of omniroute.opencode with ansible-builder v3
# and podman.
#
#   ee/build.sh            ensure the image exists and is up to date; print its name
#
# Steps: build the collection tarball from what git knows in this checkout
# (`ansible-galaxy collection build`), download the wheelhouse of ee/wheelhouse.txt on this host
# (cached), let `ansible-builder create` write the build context from ee/execution-environment.yml,
# then `podman build --network host` it with the base image as build argument EE_BASE_IMAGE.
#
# Reuse: the image carries the label omniroute-opencode.ee-inputs, a hash of everything that goes
# into it (definition, collection content, wheel files, base image id, this script). When the
# image with that label exists, nothing is built. Unchanged layers (apt, wheels) come from
# podman's build cache when only the collection changed.
#
# Environment:
#   EE_BASE_IMAGE             base image (default docker.io/library/debian:bookworm-slim)
#   OMNIROUTE_OPENCODE_EE_IMAGE   image name (default localhost/omniroute-opencode-ee:latest)
#   EE_NO_CACHE=1             rebuild every layer (podman build --no-cache), even when up to date
#   ANSIBLE_BUILDER, ANSIBLE_GALAXY, PYTHON   tools (default: from PATH / python3)
#   OMNIROUTE_OPENCODE_CACHE  where ee/wheelhouse.sh keeps the wheelhouse (default ~/.cache/omniroute-opencode)
set -euo pipefail
log() { echo "ee/build.sh: $*" >&2; }

root=$(cd "$(dirname "$0")/.." && pwd)
image=${OMNIROUTE_OPENCODE_EE_IMAGE:-localhost/omniroute-opencode-ee:latest}
base=${EE_BASE_IMAGE:-docker.io/library/debian:bookworm-slim}
builder=${ANSIBLE_BUILDER:-ansible-builder}
galaxy=${ANSIBLE_GALAXY:-ansible-galaxy}
python=${PYTHON:-python3}
work=$root/.build/ee
inputs=$work/context-inputs
t_start=$SECONDS

# 1. The collection tarball, from the files git knows (tracked or new, not ignored), without the
#    test suite (an EE runs the collection, not its tests; and test edits then need no rebuild).
rm -rf "$work/src" && mkdir -p "$work/src" "$inputs"
(cd "$root" && git ls-files -z -co --exclude-standard | grep -zv '^tests/' | tar --null -T - -cf -) | tar -C "$work/src" -xf -
rm -f "$work"/omniroute-opencode-*.tar.gz
"$galaxy" collection build --force --output-path "$work" "$work/src" >/dev/null
tarball=$(ls "$work"/omniroute-opencode-*.tar.gz)
cp "$tarball" "$inputs/omniroute-opencode.tar.gz"
# MANIFEST.json holds the checksum of FILES.json, which lists every file's sha256: a content hash
# of the collection that does not depend on timestamps.
collection_sum=$(tar -xOzf "$tarball" MANIFEST.json | sha256sum | cut -c1-64)

# 2. The wheelhouse (ee/wheelhouse.sh: downloaded once on this host, cached).
wheels=$(PYTHON="$python" "$root/ee/wheelhouse.sh")
rm -rf "$inputs/wheels" && mkdir -p "$inputs/wheels"
cp "$wheels"/*.whl "$inputs/wheels/"
wheels_sum=$(cd "$inputs/wheels" && printf "%s\n" *.whl | sha256sum | cut -c1-64)

# 3. Everything that makes the image; the base image by id when podman has it.
base_id=$(podman image inspect --format '{{.Id}}' "$base" 2>/dev/null || echo "$base")
inputs_sum=$( { echo "$base_id"; echo "$collection_sum"; echo "$wheels_sum";
                cat "$root/ee/execution-environment.yml" "$root/ee/wheelhouse.txt" "$0"; } | sha256sum | cut -c1-24)
if [ "${EE_NO_CACHE:-0}" != 1 ] && podman image exists "$image" && \
   [ "$(podman image inspect --format '{{index .Labels "omniroute-opencode.ee-inputs"}}' "$image" 2>/dev/null || true)" = "$inputs_sum" ]; then
  log "$image is up to date (inputs $inputs_sum), reused in $((SECONDS - t_start)) s"
  echo "$image"
  exit 0
fi

# 4. Build context and image.
rm -rf "$work/context"
"$builder" create -f "$root/ee/execution-environment.yml" -c "$work/context" >/dev/null
t0=$SECONDS
log "building $image from $base (inputs $inputs_sum)"
no_cache=()
[ "${EE_NO_CACHE:-0}" = 1 ] && no_cache=(--no-cache)
podman build "${no_cache[@]}" --network host --build-arg "EE_BASE_IMAGE=$base" \
  --label "omniroute-opencode.ee-inputs=$inputs_sum" \
  -f "$work/context/Containerfile" -t "$image" "$work/context" >"$work/build.log" 2>&1 || {
  tail -n 40 "$work/build.log" >&2; log "podman build failed; full log: $work/build.log"; exit 1; }
size=$(podman image inspect --format '{{.Size}}' "$image")
log "built $image in $((SECONDS - t0)) s (podman build), $((SECONDS - t_start)) s in all; size $((size / 1000000)) MB"
echo "$image"
