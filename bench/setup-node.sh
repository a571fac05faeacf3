#!/usr/bin/env bash
# Install the Node side of the benchmarks (jsonc-parser, pinned in bench/node/package.json) into
# the cache and print the directory holding its node_modules. Idempotent: a re-run only prints.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${OMNIROUTE_OPENCODE_CACHE:-$HOME/.cache/omniroute-opencode}
dir="$cache/bench-node"
want=$(sed -n 's/.*"jsonc-parser": *"\([^"]*\)".*/\1/p' "$here/node/package.json")
have=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$dir/node_modules/jsonc-parser/package.json" 2>/dev/null || true)
if [ "$have" != "$want" ]; then
  mkdir -p "$dir"
  cp "$here/node/package.json" "$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >&2)
fi
echo "$dir"
