#!/usr/bin/env bash
# Install the real OpenCode CLI (npm opencode-ai, pinned in versions.env) into the cache and
# print the path of its native binary. Idempotent: a second run only prints the path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/versions.env"
cache=${OMNIROUTE_OPENCODE_CACHE:-$HOME/.cache/omniroute-opencode}
dir="$cache/opencode-$OPENCODE_VERSION"
find_bin() {
  find "$dir/node_modules" -path '*opencode-linux-x64*/bin/opencode' -type f 2>/dev/null | head -n 1
}
bin=$(find_bin || true)
if [ -z "$bin" ]; then
  mkdir -p "$dir"
  (cd "$dir" && [ -f package.json ] || echo '{"private": true}' > "$dir/package.json")
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "opencode-ai@$OPENCODE_VERSION" >&2)
  bin=$(find_bin)
fi
[ -x "$bin" ] || { echo "opencode binary not found under $dir" >&2; exit 1; }
echo "$bin"
