#!/usr/bin/env bash
# The platform-repo example's Molecule scenario (make test-platform-repo), the way a platform
# team runs it: in a copy of the example (its tracked files only), with the release tarball next
# to its collections/requirements.yml, `molecule test` from the copy's root. The scenario's
# dependency step installs omniroute.opencode from that tarball, through requirements.yml, into
# a collections path of its own; the clone's collection is on no path.
#   platform_repo.sh EXAMPLE_DIR WORK_DIR TARBALL PODMAN_COLLECTIONS OPENCODE_BIN HOME_DIR LOG_DIR
set -euo pipefail
example=$1 work=$2 tarball=$3 podman_collections=$4 opencode_bin=$5 home=$6 logs=$7
root=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "platform_repo.sh: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work/repo" "$work/collections" "$home" "$logs"
(cd "$example" && git ls-files -z .) | tar -C "$example" --null -T - -cf - | tar -C "$work/repo" -xf -

# The tarball requirements.yml names (its active entry) must be the one just built.
wanted=$(sed -n 's/^  - name: \(collections\/[^ ]*\.tar\.gz\)$/\1/p' "$work/repo/collections/requirements.yml")
[ -n "$wanted" ] || fail "collections/requirements.yml has no active tarball entry"
[ "$(basename "$wanted")" = "$(basename "$tarball")" ] ||
  fail "collections/requirements.yml names $wanted, but the build is $(basename "$tarball") (make release keeps them in step)"
cp "$tarball" "$work/repo/$wanted"

# Only the scratch path and containers.podman: the clone's collection must not be found.
[ ! -e "$podman_collections/ansible_collections/omniroute" ] || fail "$podman_collections holds an omniroute collection"
export ANSIBLE_COLLECTIONS_PATH="$work/collections:$podman_collections"
export ANSIBLE_VAULT_PASSWORD_FILE="$root/docs/examples/vault-password.example"
export OPENCODE_BIN="$opencode_bin" HOME="$home" NO_COLOR=1
unset PYTHONPATH ANSIBLE_CONFIG ANSIBLE_ROLES_PATH ANSIBLE_LIBRARY

log="$logs/platform-repo.log"
start=$SECONDS
(cd "$work/repo" && molecule test) 2>&1 | tee "$log"
echo "platform-repo scenario passed in $((SECONDS - start)) s"

# The collection the scenario ran is the tarball's, installed by the dependency step.
installed="$work/collections/ansible_collections/omniroute/opencode"
if [ ! -f "$installed/MANIFEST.json" ] || [ -L "$installed" ]; then
  fail "the dependency step did not install omniroute.opencode into $work/collections"
fi
tar -xOzf "$tarball" MANIFEST.json | cmp -s - "$installed/MANIFEST.json" ||
  fail "the installed omniroute.opencode is not the one in $(basename "$tarball")"
grep -q "omniroute.opencode:.* was installed successfully" "$log" || fail "the log does not show the install from requirements.yml"
# Every step of the sequence ran and succeeded (Molecule exits 0 on a missing one).
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -Eq '^default +: actions=[0-9]+ +successful=[0-9]+ +disabled=0 +skipped=0 +missing=0 +failed=0' ||
  fail "the scenario recap shows a step disabled, skipped, missing or failed"
"$root/tests/molecule_no_keys.sh" "$log"
