#!/usr/bin/env bash
# Print the absolute path of a CPython X.Y interpreter for the target-Python tests (3.8 and 3.13,
# the oldest and newest target Python the collection supports).
#   python.sh 3.8
# Looked up, in order: $PYTHON<X><Y> (e.g. PYTHON38=/opt/py/bin/python3.8), pyenv's versions
# (`pyenv root`/versions/X.Y.*), then pythonX.Y on PATH. Nothing is installed: when none is
# found, the exact command to get one is printed and the run fails.
set -euo pipefail
want=${1:?usage: python.sh X.Y}
var="PYTHON${want//./}"
check() { # check PATH -> true when PATH runs and is Python $want
  [ -x "$1" ] && [ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]
}
if [ -n "${!var:-}" ]; then
  check "${!var}" && { echo "${!var}"; exit 0; }
  echo "python.sh: $var=${!var} is not a Python $want interpreter" >&2; exit 1
fi
root=${PYENV_ROOT:-}
[ -n "$root" ] || root=$(pyenv root 2>/dev/null || true)
[ -n "$root" ] || root="$HOME/.pyenv"
best=
for dir in "$root/versions/$want".*; do  # the newest patch release wins
  check "$dir/bin/python$want" || continue
  if [ -z "$best" ] || [ "${dir##*.}" -gt "${best##*.}" ] 2>/dev/null; then best=$dir; fi
done
[ -z "$best" ] || { echo "$best/bin/python$want"; exit 0; }
found=$(command -v "python$want" 2>/dev/null || true)
if [ -n "$found" ] && check "$found"; then
  # A pyenv shim depends on HOME and PYENV_VERSION: hand out the real interpreter.
  real=$("$found" -c 'import sys; print(sys.executable)')
  echo "$real"; exit 0
fi
echo "python.sh: no Python $want interpreter found (looked at \$$var, $root/versions/$want.*, python$want on PATH)." >&2
echo "python.sh: install one, then run make again:  pyenv install $want   (or set $var=/path/to/python$want)" >&2
exit 1
