#!/usr/bin/env bash
# Download (once) the wheels of ee/wheelhouse.txt for Debian 12's CPython 3.11 on x86-64, with this
# host's pip and so its index and CA settings; print the directory. Used by ee/build.sh (the EE
# build installs from it with --no-index) and by tests/ee/laptop-image.sh (ansible-core on the
# test laptops). Cached in $OMNIROUTE_OPENCODE_CACHE/ee-wheels/<hash of wheelhouse.txt>.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
cache=${OMNIROUTE_OPENCODE_CACHE:-$HOME/.cache/omniroute-opencode}
wheels=$cache/ee-wheels/$(sha256sum "$root/ee/wheelhouse.txt" | cut -c1-16)
if [ ! -f "$wheels/.complete" ]; then
  echo "ee/wheelhouse.sh: downloading the wheelhouse into $wheels" >&2
  rm -rf "$wheels" && mkdir -p "$wheels"
  "$python" -m pip download -q --dest "$wheels" --only-binary=:all: \
    --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_34_x86_64 --platform any \
    -r "$root/ee/wheelhouse.txt" 2>"$wheels.log" || { cat "$wheels.log" >&2; exit 1; }
  touch "$wheels/.complete"
fi
echo "$wheels"
