#!/usr/bin/env bash
# Integration tests of the OmniRoute key lifecycle (issue 6) against a live OmniRoute server.
#
# Needs: OMNIROUTE_URL and OMNIROUTE_PASSWORD_FILE (from tests/setup/omniroute.sh start), the
# collection on ANSIBLE_COLLECTIONS_PATH, podman + base image + containers.podman (the Molecule
# setup scripts) for the two-laptop scenario. Run through `make test-omniroute`.
#
#   runme.sh [module] [concurrency] [lifecycle] [fidelity] [rotation]     (default: all five)
#
# fidelity (fidelity.py): the unit tests' offline fake must answer a probe sequence exactly as this
# live 3.7.9 does, and the api_key paths only seen on the fake so far run here live.
#
# rotation (rotation.py): the key lifecycle of issue 20 through the role on two podman laptops.
#
# All output goes to $OMNIROUTE_TEST_WORK/test.log (shown on failure). Afterwards the log is
# searched for the admin password and for every key the server made while the steps ran (a
# trigger in the server's own database records each one, revoked ones included) and the tests
# saw: one hit fails the run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
: "${OMNIROUTE_URL:?set by tests/setup/omniroute.sh start}"
: "${OMNIROUTE_PASSWORD_FILE:?set by tests/setup/omniroute.sh start}"
work=${OMNIROUTE_TEST_WORK:-$root/.build/omniroute-test}
mkdir -p "$work"
chmod 700 "$work"
export OMNIROUTE_TEST_KEYS_FILE="$work/seen-keys"
export OMNIROUTE_TEST_REPORT="$work/report.json"
export OMNIROUTE_TEST_RUN=${OMNIROUTE_TEST_RUN:-$(date +%s)}
export OMNIROUTE_URL OMNIROUTE_PASSWORD_FILE
export ANSIBLE_FORCE_COLOR=false ANSIBLE_NOCOLOR=true ANSIBLE_PIPELINING=true ANSIBLE_HOST_KEY_CHECKING=false
# The laptops' connection: the podman connection with pipelining (one podman exec a module task).
export ANSIBLE_CONNECTION_PLUGINS="$root/tests/support/connection_plugins"
( umask 077; : > "$OMNIROUTE_TEST_KEYS_FILE" )
log="$work/test.log"
: > "$log"
python=${PYTHON:-$(command -v python3)}
playbook=${ANSIBLE_PLAYBOOK:-ansible-playbook}
steps=("$@")
[ "${#steps[@]}" -gt 0 ] || steps=(module concurrency lifecycle fidelity rotation)
image=${OMNIROUTE_OPENCODE_IMAGE:-localhost/omniroute-opencode-laptop:bookworm}
containers=(omr-keys-laptop1 omr-keys-laptop2)

say() { echo "api_key tests: $*" | tee -a "$log" >&2; }

cleanup() {
  for c in "${containers[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
}

# The server's state directory (where tests/setup/omniroute.sh put its password file).
state=$(dirname "$OMNIROUTE_PASSWORD_FILE")

leak_check() {
  "$python" - "$log" "$OMNIROUTE_PASSWORD_FILE" "$OMNIROUTE_TEST_KEYS_FILE" "$state" "$root/tests/support" <<'PY'
import sys
sys.path.insert(0, sys.argv[5])
import omniroute_db
log = open(sys.argv[1], encoding="utf-8", errors="replace").read()
secrets = [open(sys.argv[2]).read().strip()]
secrets += [l.strip() for l in open(sys.argv[3]) if l.strip()]
# Every key the server made while the steps ran (revoked ones too), also those no test read.
made = omniroute_db.issued(sys.argv[4])
unseen = len(set(made) - set(secrets))
secrets += [k for k in made if k not in secrets]
hits = [i for i, s in enumerate(secrets) if s and s in log]
kinds = ["admin password" if i == 0 else "key #%d" % i for i in hits]
print("leak check: %d secrets (password + %d keys: %d made by the server, %d of them no test saw) searched in %d bytes"
      " of output: %s" % (len(secrets), len(secrets) - 1, len(made), unseen, len(log),
                          "LEAKED " + ", ".join(kinds) if hits else "none found"))
sys.exit(1 if hits or len(secrets) < 2 or not made else 0)
PY
}

timing_report() {
  [ -s "$OMNIROUTE_TEST_REPORT" ] || return 0
  "$python" - "$OMNIROUTE_TEST_REPORT" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))
def op(r):
    if r.get("created"): return "create"
    if r.get("rotated"): return "rotate"
    if r.get("kept"): return "keep (installed key checked)"
    if r.get("revoked"): return "revoke"
    return "no-op"
rows = {}
for phase, results in rep.items():
    for r in results:
        rows.setdefault(op(r), []).append(r.get("elapsed", 0.0))
for name, xs in sorted(rows.items()):
    print("key operation %-30s n=%d  mean %.3f s  max %.3f s (module run time on the controller)"
          % (name, len(xs), sum(xs) / len(xs), max(xs)))
PY
}

run_playbook() {
  local name=$1; shift
  local t0=$SECONDS
  say "running $name"
  if ! "$playbook" -v "$@" >>"$log" 2>&1; then
    say "$name FAILED after $((SECONDS - t0)) s; last lines of $log:"
    tail -n 60 "$log" >&2
    leak_check >&2 || true
    return 1
  fi
  say "$name passed in $((SECONDS - t0)) s"
}

local_inv="$work/local.ini"
printf 'localhost ansible_connection=local ansible_python_interpreter=%s\n' "$python" > "$local_inv"

"$python" "$root/tests/support/omniroute_db.py" track "$state"
for step in "${steps[@]}"; do
  case "$step" in
    module)
      run_playbook module.yml -i "$local_inv" "$here/module.yml" ;;
    concurrency)
      run_playbook concurrency.yml -f 8 -i "$local_inv" "$here/concurrency.yml" ;;
    lifecycle)
      trap cleanup EXIT
      cleanup
      for c in "${containers[@]}"; do
        podman run -d --name "$c" --network none "$image" sleep infinity >/dev/null
      done
      inv="$work/laptops.ini"
      {
        echo "[laptops]"
        echo "laptop1 ansible_host=${containers[0]}"
        echo "laptop2 ansible_host=${containers[1]}"
        echo "[laptops:vars]"
        echo "ansible_connection=podman_pipelined"
        echo "ansible_python_interpreter=/usr/bin/python3"
      } > "$inv"
      run_playbook lifecycle.yml -f 4 --diff -i "$inv" -i "$local_inv" "$here/lifecycle.yml"
      cleanup
      trap - EXIT
      ;;
    fidelity)
      t0=$SECONDS
      say "running fidelity.py"
      if ! "$python" "$here/fidelity.py" >>"$log" 2>&1; then
        say "fidelity.py FAILED after $((SECONDS - t0)) s; its lines of $log:"
        grep '^fidelity: ' "$log" | tail -n 60 >&2
        leak_check >&2 || true
        exit 1
      fi
      say "fidelity.py passed in $((SECONDS - t0)) s" ;;
    rotation)
      # The key lifecycle of issue 20 through the role: two laptops that reach the gateway, runs
      # cut between the phases of a rotation, TTL and renewal, the orphan sweep (rotation.py).
      t0=$SECONDS
      say "running rotation.py"
      if ! OMNIROUTE_TEST_WORK="$work" ANSIBLE_PLAYBOOK="$playbook" OMNIROUTE_OPENCODE_IMAGE="$image" \
          "$python" "$here/rotation.py" >>"$log" 2>&1; then
        say "rotation.py FAILED after $((SECONDS - t0)) s; last lines of $log:"
        tail -n 60 "$log" >&2
        leak_check >&2 || true
        exit 1
      fi
      say "rotation.py passed in $((SECONDS - t0)) s"
      ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done

leak_check | tee -a "$log" >&2
timing_report | tee -a "$log" >&2
