#!/usr/bin/env bash
# Fast checks of the role without containers, against this machine as the current user with a
# scratch HOME: every validation failure names the variable (or the host and the user) and
# writes nothing; a present -> idempotent -> absent round trip works; no key in any output.
# Needs ANSIBLE_COLLECTIONS_PATH to include omniroute.opencode (make collection).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
me=$(id -un)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/opencode-role.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# The interpreter is resolved before HOME moves (pyenv shims depend on it).
py=$(python3 -c 'import sys; print(sys.executable)')
export HOME="$scratch/home" ANSIBLE_HOME="$scratch/ansible" ANSIBLE_LOCAL_TEMP="$scratch/tmp" ANSIBLE_REMOTE_TMP="$scratch/tmp"
unset XDG_CONFIG_HOME XDG_DATA_HOME
mkdir -p "$HOME"
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_NOCOLOR=1
fails=0 n=0
KEY=sk-roletest-$$-secret

run() { # run NAME EXTRA_VARS_JSON [ansible-playbook args...] -> output in $scratch/NAME.log, rc in $rc
  local name=$1 vars=$2; shift 2
  printf '%s' "$vars" > "$scratch/$name.json"
  set +e
  ansible-playbook -i localhost, "$here/local.yml" -e "ansible_python_interpreter=$py" -e "@$scratch/$name.json" "$@" > "$scratch/$name.log" 2>&1
  rc=$?
  set -e
}

expect_fail() { # expect_fail NAME VARS TEXT...
  local name=$1 vars=$2; shift 2
  n=$((n + 1))
  run "$name" "$vars"
  local ok=1 t
  [ "$rc" -ne 0 ] || { echo "FAIL $name: playbook succeeded"; ok=0; }
  for t in "$@"; do
    grep -qF -- "$t" "$scratch/$name.log" || { echo "FAIL $name: output lacks: $t"; ok=0; }
  done
  if [ -n "$(find "$HOME" -mindepth 1 -print -quit)" ]; then echo "FAIL $name: files written under HOME"; ok=0; fi
  if [ "$ok" = 1 ]; then echo "ok   $name"; else fails=$((fails + 1)); grep -E 'msg|ERROR' "$scratch/$name.log" | cut -c1-400 | grep -v -- "$KEY" | tail -n 5 || true; fi
}

expect_fail users-not-a-list '{"opencode_users": "alice"}' opencode_users
expect_fail user-without-name "{\"opencode_users\": [{\"api_key\": \"$KEY\"}]}" opencode_users name
expect_fail bad-key-store "{\"opencode_key_store\": \"vault\", \"opencode_users\": [{\"name\": \"$me\", \"api_key\": \"$KEY\"}]}" opencode_key_store
expect_fail bad-user-state "{\"opencode_users\": [{\"name\": \"$me\", \"api_key\": \"$KEY\", \"state\": \"gone\"}]}" opencode_users state
expect_fail duplicate-user "{\"opencode_users\": [{\"name\": \"$me\", \"api_key\": \"$KEY\"}, {\"name\": \"$me\", \"api_key\": \"$KEY-2\"}]}" \
  "host localhost" "user '$me': listed more than once"
expect_fail missing-account "{\"opencode_users\": [{\"name\": \"$me\", \"api_key\": \"$KEY\"}, {\"name\": \"no-such-dev-zz\", \"api_key\": \"$KEY\"}]}" \
  "host localhost" "user 'no-such-dev-zz': no such account"
expect_fail missing-key "{\"opencode_users\": [{\"name\": \"$me\"}]}" "host localhost" "user '$me': no API key"
expect_fail omniroute-without-password "{\"opencode_api_key_source\": \"omniroute\", \"opencode_users\": [{\"name\": \"$me\"}]}" \
  "host localhost" opencode_omniroute_password

# Round trip as the current user: present (auth store), idempotent, then offboarded.
conf="$HOME/.config/opencode/opencode.json" auth="$HOME/.local/share/opencode/auth.json"
present="{\"opencode_key_store\": \"auth\", \"opencode_users\": [{\"name\": \"$me\", \"api_key\": \"$KEY\"}]}"
check() { n=$((n + 1)); if "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
wrote_nothing() { [ "$rc" = 0 ] && [ -z "$(find "$HOME" -mindepth 1 -print -quit)" ]; }
key_in_auth_only() { [ "$rc" = 0 ] && [ -f "$conf" ] && grep -qF "$KEY" "$auth" && ! grep -qF "$KEY" "$conf"; }
private_modes() { [ "$(stat -c %a "$auth")" = 600 ] && [ "$(stat -c %a "$HOME/.config/opencode")" = 700 ]; }
nothing_changed() { [ "$rc" = 0 ] && grep -qE "changed=0 " "$scratch/again.log"; }
key_gone() { [ "$rc" = 0 ] && ! grep -rqF "$KEY" "$HOME"; }
run check-first "$present" --check --diff
check "check mode writes nothing" wrote_nothing
run present "$present" --diff
check "present: config + auth.json written" key_in_auth_only
check "present: auth.json is 0600, directories 0700" private_modes
run again "$present" --diff
check "second run: changed=0" nothing_changed
run absent "{\"opencode_users\": [{\"name\": \"$me\", \"state\": \"absent\"}]}" --diff
check "absent: key gone from every file" key_gone
n=$((n + 1))
if grep -lF -- "$KEY" "$scratch"/*.log; then echo "FAIL key shown in the output above"; fails=$((fails + 1)); else echo "ok   no key in any output"; fi
echo "run_local.sh: $((n - fails))/$n passed"
[ "$fails" = 0 ]
