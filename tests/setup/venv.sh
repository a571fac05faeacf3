#!/usr/bin/env bash
# A virtualenv at DEST with the packages of the given requirement files, through the project cache:
#
#   venv.sh DEST REQUIREMENT...      (PYTHON: the interpreter, default python3)
#
# Each REQUIREMENT is a requirements file (pip's -r) or a requirement ('ansible-core==2.16.*').
# The first time, one pip install puts them into a venv in $cache/venvs/<key>, where the key is the
# Python (the interpreter's real path and its version), the requirements and the files' contents; every later call copies that
# venv to DEST and points its scripts at DEST. A fresh clone's make test then spends about 5 s
# here instead of 33 s of pip for the test toolchain, and 1 s instead of 12 s for the oldest
# ansible-core's venv (issue 22). Nothing outside DEST and the cache changes.
#
# A venv is not relocatable as it is: the scripts in bin/ start with `#!<venv>/bin/python`,
# bin/activate* and pyvenv.cfg name the venv. Those are the only files that name it (site-packages
# holds no absolute path; its compiled files keep the cached sources' names for tracebacks), and
# they are rewritten to DEST. Cached venvs not used for 30 days are removed.
set -euo pipefail
[ "$#" -ge 2 ] || { echo "usage: venv.sh DEST REQUIREMENT..." >&2; exit 2; }
dest=$1; shift
python=${PYTHON:-python3}
args=()
for req in "$@"; do
  if [ -f "$req" ]; then args+=(-r "$req"); else args+=("$req"); fi
done

# DEST is replaced only when it is missing or one this project made (the Makefile's stamps, or
# this script's mark). Any other directory (make venv VENV=<your own venv>) gets pip, as before:
# nothing of it is removed.
if [ -e "$dest" ] && [ ! -e "$dest/.stamp-run" ] && [ ! -e "$dest/.stamp" ] && [ ! -e "$dest/.venv-sh" ]; then
  [ -x "$dest/bin/python" ] || "$python" -m venv "$dest"
  "$dest/bin/pip" install -q "${args[@]}"
  exit 0
fi
cache=${OMNIROUTE_OPENCODE_CACHE:-$HOME/.cache/omniroute-opencode}/venvs
mkdir -p "$cache"

# (The interpreter behind the venv it may be run from: make puts .venv/bin first on PATH.)
key=$( {
  echo "venv.sh 1"
  "$python" -c 'import os, sys; print(sys.version); print(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))'
  for req in "$@"; do echo "== $req"; [ ! -f "$req" ] || cat "$req"; done
} | sha256sum | cut -c1-16)
cached=$cache/$key

if [ ! -f "$cached/.complete" ]; then
  build=$(mktemp -d "$cache/.build.XXXXXX")
  trap 'rm -rf "$build"' EXIT
  "$python" -m venv "$build/venv"
  "$build/venv/bin/pip" install -q "${args[@]}"
  printf '%s\n' "$build/venv" > "$build/venv/.built-at"
  touch "$build/venv/.complete"
  # Another clone may have built the same key meanwhile: the first one in stays.
  mv -T "$build/venv" "$cached" 2>/dev/null || true
  rm -rf "$build"
  trap - EXIT
fi
[ -f "$cached/.complete" ] || { echo "venv.sh: $cached is not a complete build; remove it and run again" >&2; exit 1; }
touch "$cached/.complete"

src=$(cat "$cached/.built-at")
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
cp -a "$cached" "$dest"
rm -f "$dest/.complete" "$dest/.built-at"
touch "$dest/.venv-sh"
dest_abs=$(cd "$dest" && pwd)
# The files that name the venv: text files in bin/ (bin/python* are symlinks to the interpreter)
# and pyvenv.cfg.
"$dest_abs/bin/python" - "$src" "$dest_abs" <<'PY'
import os, sys
src, dest = sys.argv[1].encode(), sys.argv[2].encode()
bindir = os.path.join(dest, b'bin')
for path in [os.path.join(bindir, n) for n in os.listdir(bindir)] + [os.path.join(dest, b'pyvenv.cfg')]:
    if os.path.islink(path) or not os.path.isfile(path):
        continue
    with open(path, 'rb') as handle:
        data = handle.read()
    if src in data and b'\0' not in data:
        with open(path, 'wb') as handle:
            handle.write(data.replace(src, dest))
PY
# The copy's Python starts, and takes DEST as its prefix.
"$dest_abs/bin/python" -c 'import sys; assert sys.prefix == sys.argv[1], (sys.prefix, sys.argv[1])' "$dest_abs"

# Cached venvs nobody used for 30 days (and builds left by a killed run) go.
find "$cache" -mindepth 1 -maxdepth 1 -name '.build.*' -mmin +120 -exec rm -rf {} + 2>/dev/null || true
for old in "$cache"/*; do
  [ -f "$old/.complete" ] && [ -z "$(find "$old/.complete" -mtime +30)" ] && continue
  [ -d "$old" ] && [ "$old" != "$cached" ] && rm -rf "$old"
done
exit 0
