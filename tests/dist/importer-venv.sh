#!/usr/bin/env bash
# galaxy-importer (tests/dist/galaxy-importer.txt) in its own virtualenv in the project cache,
# made once per set of pins and shared by every clone; prints that virtualenv's python.
# Several clones may ask at once: the first one builds, under a lock, the others wait.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
reqs="$here/galaxy-importer.txt"
cache=${OMNIROUTE_OPENCODE_CACHE:-$HOME/.cache/omniroute-opencode}
python=${PYTHON:-python3}
pins=$(sha256sum < "$reqs" | cut -c1-12)
venv="$cache/galaxy-importer/$pins"
mkdir -p "$cache/galaxy-importer"
exec 9> "$cache/galaxy-importer/.lock"
flock 9
if [ ! -f "$venv/.stamp" ]; then
  echo "importer-venv.sh: installing $(grep -o '^galaxy-importer==[^ ]*' "$reqs") into $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q -r "$reqs" >&2
  # Virtualenvs of older pins are no longer used.
  find "$cache/galaxy-importer" -mindepth 1 -maxdepth 1 -type d ! -path "$venv" -exec rm -rf {} +
  touch "$venv/.stamp"
fi
echo "$venv/bin/python"
