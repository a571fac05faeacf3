#!/usr/bin/env bash
# The suite's clean-up check: run a command (make test, make check) and fail if it left something
# behind outside the clone and the project cache, or in the project's own temporary directories.
#   hygiene.sh COMMAND [ARGS...]
#
# It looks only at what the project could leak into, and at the project's own temporary
# directories, so what other programs do on the contributor's machine meanwhile (another Ansible
# run, above all) does not fail the suite:
#   - system files the suites could change, which must be exactly as before: /etc/passwd and
#     /etc/group (no accounts), /etc/containers/containers.conf (podman's settings come from the
#     project) and OpenCode's managed directory /etc/opencode (tests use their own); and the
#     owner and mode of the shared temporary directories, /tmp, /var/tmp and $TMPDIR (tests that
#     fix modes and owners must never do it there);
#   - the user's own OpenCode files, exactly as before: the global configs in
#     ${XDG_CONFIG_HOME:-~/.config}/opencode and the credential store
#     ${XDG_DATA_HOME:-~/.local/share}/opencode/auth.json (every test uses a scratch home);
#   - the names directly under $HOME and ~/.cache, exactly as before (a new ~/.npm, ~/.cache/pip,
#     ~/.local... shows up there; the project cache in ~/.cache is the project's);
#   - Ansible's per-user state, ~/.ansible and ~/.ansible_async: no entry may be new or changed
#     after the run (a collection, a galaxy cache, an async job file). Inside ~/.ansible/tmp and
#     ~/.ansible/cp nothing is looked at: every Ansible run on the machine creates and removes
#     its task directories and connection sockets there. A leak that creates ~/.ansible/tmp
#     itself is still caught, and the project points Ansible elsewhere (ANSIBLE_HOME,
#     ANSIBLE_REMOTE_TMP, ANSIBLE_ASYNC_DIR in the Makefile). What disappears is not a leak;
#   - the project's own temporary directories, $ANSIBLE_REMOTE_TMP and
#     ${ANSIBLE_LOCAL_TEMP:-$ANSIBLE_HOME/tmp}: no task directory or module payload that Ansible
#     left behind (ansible-tmp-*, ansible-local-*, AnsiballZ_*), which can hold a module's
#     arguments, keys included.
set -uo pipefail
cache=${OMNIROUTE_OPENCODE_CACHE:-$HOME/.cache/omniroute-opencode}
config_dir=${XDG_CONFIG_HOME:-$HOME/.config}/opencode
data_dir=${XDG_DATA_HOME:-$HOME/.local/share}/opencode
project_tmp=()
[ -n "${ANSIBLE_REMOTE_TMP:-}" ] && project_tmp+=("$ANSIBLE_REMOTE_TMP")
local_tmp=${ANSIBLE_LOCAL_TEMP:-${ANSIBLE_HOME:+$ANSIBLE_HOME/tmp}}
[ -n "$local_tmp" ] && project_tmp+=("$local_tmp")

checksum() {
  if [ -f "$1" ]; then echo "$1 $(sha256sum < "$1" | cut -d' ' -f1)"
  elif [ -e "$1" ] || [ -L "$1" ]; then echo "$1 $(stat -c %F "$1")"
  else echo "$1 absent"; fi
}

# What must be exactly as it was.
exact() {
  local f
  for f in /etc/passwd /etc/group /etc/containers/containers.conf \
           "$config_dir/config.json" "$config_dir/opencode.json" "$config_dir/opencode.jsonc" "$data_dir/auth.json"; do
    checksum "$f"
  done
  stat -c '%n %U:%G %a' / /tmp /var/tmp "${TMPDIR:-/tmp}" 2>/dev/null
  if [ -e /etc/opencode ]; then
    find /etc/opencode -printf '%p %y\n' 2>/dev/null | sort
    find /etc/opencode -type f -exec sha256sum {} + 2>/dev/null | sort
  else
    echo "/etc/opencode absent"
  fi
  # ~/.cache itself may appear: it holds the project cache.
  find "$HOME" -mindepth 1 -maxdepth 1 ! -name .cache -printf 'home: %f\n' 2>/dev/null | sort
  find "$HOME/.cache" -mindepth 1 -maxdepth 1 ! -path "$cache" -printf 'cache: %f\n' 2>/dev/null | sort
}

# Where nothing may be new or changed (directories by name only: their times change whenever an
# entry inside comes or goes).
grown() {
  local d
  for d in .ansible .ansible_async; do
    [ -e "$HOME/$d" ] || continue
    find "$HOME/$d" \( -path "$HOME/.ansible/tmp/*" -o -path "$HOME/.ansible/cp/*" \) -prune \
      -o -type d -printf "HOME/$d/%P (directory)\n" \
      -o -printf "HOME/$d/%P (%y, %s bytes, modified %T@)\n" 2>/dev/null
  done | sort
}

# Ansible's task directories and module payloads in the project's own temporary directories.
left() {
  local d
  for d in "${project_tmp[@]}"; do
    [ -d "$d" ] || continue
    find "$d" -mindepth 1 -maxdepth 1 \( -name 'ansible-tmp-*' -o -name 'ansible-local-*' -o -name 'AnsiballZ_*' \) \
      -printf '%p\n' 2>/dev/null
  done | sort
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
exact > "$work/exact.before"; grown > "$work/grown.before"; left > "$work/left.before"
"$@"
rc=$?
exact > "$work/exact.after"; grown > "$work/grown.after"; left > "$work/left.after"

failed=0
if ! diff -u --label before --label after "$work/exact.before" "$work/exact.after"; then
  echo "hygiene.sh: '$*' changed the files above, which must stay as they were" >&2
  failed=1
fi
comm -13 "$work/grown.before" "$work/grown.after" > "$work/grown.new"
if [ -s "$work/grown.new" ]; then
  sed 's/^/  /' "$work/grown.new"
  echo "hygiene.sh: '$*' added or changed the entries of Ansible's own state above (if another Ansible run on this machine made them meanwhile, run again)" >&2
  failed=1
fi
comm -13 "$work/left.before" "$work/left.after" > "$work/left.new"
if [ -s "$work/left.new" ]; then
  sed 's/^/  /' "$work/left.new"
  echo "hygiene.sh: '$*' left the Ansible task directories above in the project's temporary directories (they can hold module arguments, keys included)" >&2
  failed=1
fi
if [ "$failed" = 1 ]; then
  echo "hygiene.sh: '$*' changed the machine outside the clone and $cache" >&2
  exit 1
fi
[ "$rc" = 0 ] || { echo "hygiene.sh: '$*' failed (exit $rc)" >&2; exit "$rc"; }
echo "hygiene.sh: '$*' passed and changed nothing outside the clone and $cache"
