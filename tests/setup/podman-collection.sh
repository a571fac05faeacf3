#!/usr/bin/env bash
# The containers.podman collection that Molecule's podman driver needs. Galaxy is unreachable
# from CI, but the community `ansible` package on PyPI bundles it: download that one wheel
# (no dependencies, nothing installed), extract only ansible_collections/containers/podman into
# $OMNIROUTE_OPENCODE_CACHE/collections, and print that collections path (for
# ANSIBLE_COLLECTIONS_PATH). Idempotent: a second run only prints the path.
set -euo pipefail
log() { echo "podman-collection.sh: $*" >&2; }
ANSIBLE_BUNDLE_VERSION=${ANSIBLE_BUNDLE_VERSION:-12.3.0}
cache=${OMNIROUTE_OPENCODE_CACHE:-$HOME/.cache/omniroute-opencode}
dest="$cache/collections"
stamp="$dest/.containers-podman-from-ansible-$ANSIBLE_BUNDLE_VERSION"
python=${PYTHON:-python3}

if [ -f "$stamp" ] && [ -f "$dest/ansible_collections/containers/podman/MANIFEST.json" ]; then
  echo "$dest"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/podman-coll.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "downloading ansible==$ANSIBLE_BUNDLE_VERSION from PyPI (wheel only, not installed)"
"$python" -m pip download -q --no-deps --only-binary=:all: -d "$work" "ansible==$ANSIBLE_BUNDLE_VERSION" >&2
wheel=$(ls "$work"/ansible-*.whl)
"$python" - "$wheel" "$work/out" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
prefix = "ansible_collections/containers/podman/"
with zipfile.ZipFile(wheel) as zf:
    members = [m for m in zf.namelist() if m.startswith(prefix)]
    if not members:
        sys.exit("containers.podman not found in " + wheel)
    zf.extractall(out, members)
PY
mkdir -p "$dest/ansible_collections/containers"
rm -rf "$dest/ansible_collections/containers/podman"
mv "$work/out/ansible_collections/containers/podman" "$dest/ansible_collections/containers/podman"
rm -f "$dest"/.containers-podman-from-ansible-*
touch "$stamp"
log "containers.podman $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$dest/ansible_collections/containers/podman/MANIFEST.json" | head -n1) in $dest"
echo "$dest"
