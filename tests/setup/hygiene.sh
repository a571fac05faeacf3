#!/usr/bin/env bash
# A test of the suite itself: run a command (normally `make check`) and fail if it changed the
# machine outside the clone and the project cache. Compared before and after:
#   /etc/containers/containers.conf (checksum, or absent), /etc/passwd and /etc/group (checksums:
#   no accounts), ~/.ansible and ~/.ansible_async (every path, size and mtime, or absent), and the names directly
#   under $HOME and ~/.cache (a new ~/.npm, ~/.cache/pip, ~/.local... shows up there).
#   hygiene.sh COMMAND [ARGS...]
set -uo pipefail
cache=${OMNIROUTE_OPENCODE_CACHE:-$HOME/.cache/omniroute-opencode}
snapshot() {
  for f in /etc/containers/containers.conf /etc/passwd /etc/group; do
    if [ -e "$f" ]; then echo "$f $(sha256sum < "$f" | cut -d' ' -f1)"; else echo "$f absent"; fi
  done
  for d in .ansible .ansible_async; do
    if [ -e "$HOME/$d" ]; then
      find "$HOME/$d" -printf "HOME/$d/%P %y %s %T@\n" 2>/dev/null | sort
    else
      echo "HOME/$d absent"
    fi
  done
  # ~/.cache itself may appear: it holds the project cache.
  find "$HOME" -mindepth 1 -maxdepth 1 ! -name .cache -printf 'home: %f\n' 2>/dev/null | sort
  find "$HOME/.cache" -mindepth 1 -maxdepth 1 ! -path "$cache" -printf 'cache: %f\n' 2>/dev/null | sort
}
before=$(mktemp) after=$(mktemp)
trap 'rm -f "$before" "$after"' EXIT
snapshot > "$before"
"$@"
rc=$?
snapshot > "$after"
if ! diff -u --label before --label after "$before" "$after"; then
  echo "hygiene.sh: '$*' changed the machine outside the clone and $cache (diff above)" >&2
  exit 1
fi
[ "$rc" = 0 ] || { echo "hygiene.sh: '$*' failed (exit $rc)" >&2; exit "$rc"; }
echo "hygiene.sh: '$*' passed and changed nothing outside the clone and $cache"
