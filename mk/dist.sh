#!/usr/bin/env bash
# Build the collection tarball from the files git tracks, never from whatever else lies in the
# working tree (.venv, .build, node_modules, test output, a stray tarball):
#   dist.sh OUTPUT_DIR        prints the tarball's path
# The tracked files (as they are in the working tree, so an uncommitted edit is in the build)
# are copied to a scratch tree, `ansible-galaxy collection build` runs there, and galaxy.yml's
# build_ignore drops the tracked files that only serve development (docs/releasing.md says what
# ships and why). The tarball is renamed into place at the end, so a reader never sees half of
# it, and two builds at once (the two lanes of make test) do not disturb each other.
set -euo pipefail
out=${1:?usage: dist.sh OUTPUT_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
galaxy=${ANSIBLE_GALAXY:-ansible-galaxy}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/tree" "$work/out"
# Tracked files that still exist (a file deleted but not yet committed is not shipped).
(cd "$root" && git ls-files -z --cached | while IFS= read -r -d '' f; do
   [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done) |
  tar -C "$root" --null -T - -cf - | tar -C "$work/tree" -xf -
"$galaxy" collection build "$work/tree" --output-path "$work/out" >/dev/null
built=$(ls "$work/out"/*.tar.gz)
mv -f "$built" "$out/$(basename "$built")"
echo "$out/$(basename "$built")"
