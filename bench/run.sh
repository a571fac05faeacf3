#!/usr/bin/env bash
# Entry point of the benchmarks (called by make bench / make test-bench-smoke).
#   run.sh full    every comparison, with ratios; updates the tables in docs/performance.md
#   run.sh smoke   tiny sizes, seconds: harness works, both sides produce the same document;
#                  runs as the current user and creates no account
# BENCH_ONLY (comma list of engine,growth,module,users-profile,fleet,fleet-developers,keys,fleet-growth,catalog)
# restricts `full`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-$here/../.venv/bin/python}
mode=${1:-full}
"$here/setup-node.sh" >/dev/null
want() { [ -z "${BENCH_ONLY:-}" ] || [[ ",$BENCH_ONLY," == *",$1,"* ]]; }
step() { local t0=$SECONDS; "$@"; echo "   (${*:2}: $((SECONDS - t0)) s)"; }
case "$mode" in
  smoke)
    # No accounts: the fleet smoke test's developer is the user running it (make test creates
    # none; only `make bench` adds the ocbench accounts).
    export BENCH_ACCOUNTS=current
    BENCH_WRITE_DOC=0 step "$py" "$here/engine.py" smoke
    BENCH_WRITE_DOC=0 step "$py" "$here/module.py" --smoke
    BENCH_WRITE_DOC=0 step "$py" "$here/profile_users.py" --smoke
    BENCH_WRITE_DOC=0 step "$py" "$here/fleet.py" smoke
    ;;
  full)
    "$here/setup-users.sh" >/dev/null
    echo "machine: $("$py" "$here/common.py")"
    if want engine; then step "$py" "$here/engine.py" compare; fi
    if want growth; then step "$py" "$here/engine.py" growth; fi
    if want module; then step "$py" "$here/module.py"; fi
    if want users-profile; then step "$py" "$here/profile_users.py"; fi
    if want fleet; then step "$py" "$here/fleet.py" compare; fi
    if want fleet-developers; then step "$py" "$here/fleet.py" developers; fi
    if want keys; then step "$py" "$here/keys.py"; fi
    if want fleet-growth; then step "$py" "$here/fleet.py" growth; fi
    if want catalog; then step "$py" "$here/catalog.py"; fi
    ;;
  *) echo "usage: $0 full|smoke" >&2; exit 2 ;;
esac
