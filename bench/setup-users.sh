#!/usr/bin/env bash
# Local accounts for the fleet benchmark: every simulated laptop (a local-connection inventory
# host) has the same developers ocbench01..ocbenchNN, each with a per-host config path, and both
# roles become each of them (su, as root) to write that developer's file, like on a real laptop.
# Idempotent; a re-run only checks. Needs root. BENCH_MAX_USERS (default 16).
set -euo pipefail
max=${BENCH_MAX_USERS:-16}
[ "$(id -u)" = 0 ] || { echo "setup-users.sh: needs root (creates local accounts)" >&2; exit 1; }
for i in $(seq -f '%02g' 1 "$max"); do
  u="ocbench$i"
  id -u "$u" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
    --shell /bin/sh --comment "omniroute.opencode bench developer" "$u"
done
echo "ocbench01..ocbench$(printf '%02d' "$max")"
