#!/usr/bin/env bash
# Fast checks of the role without containers, against this machine as the current user with a
# scratch HOME: every validation failure names the variable (or the host and the user) and
# writes nothing; a present -> idempotent -> absent round trip works; no key in any output.
# Needs ANSIBLE_COLLECTIONS_PATH to include omniroute.opencode (make collection).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
me=$(id -un)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/opencode-role.XXXXXX")
trap '[ -n "${KEEP_SCRATCH:-}" ] || rm -rf "$scratch"' EXIT
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
  # The managed config directory is a scratch one: nothing here may touch this machine's /etc/opencode.
  ansible-playbook -i localhost, "$here/local.yml" -e "ansible_python_interpreter=$py" \
    -e "opencode_managed_dir=$scratch/managed" -e "@$scratch/$name.json" "$@" > "$scratch/$name.log" 2>&1
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

# opencode_api_key_var: the named expression, evaluated per user with opencode_user in scope.
run key-var "{\"opencode_api_key_var\": \"my_key\", \"my_key\": \"{{ '$KEY-var-' ~ opencode_user.name }}\", \"opencode_users\": [{\"name\": \"$me\"}]}"
key_from_var() { [ "$rc" = 0 ] && grep -qF "$KEY-var-$me" "$conf"; }
check "opencode_api_key_var: the expression gives each user their key" key_from_var
run present-again "$present"

# --tags opencode_preflight writes nothing, without --check too: a hand-edited baseURL stays.
sed -i 's|"baseURL": "http://localhost:20128/v1"|"baseURL": "http://hand.edited.example/v1"|' "$conf"
edited=$(sha256sum "$conf")
run preflight "$present" --tags opencode_preflight
preflight_wrote_nothing() { [ "$rc" = 0 ] && [ "$(sha256sum "$conf")" = "$edited" ] && grep -qE "changed=0 " "$scratch/preflight.log" \
  && grep -q 'Users | check (writes nothing)' "$scratch/preflight.log" && ! grep -q 'Users | configure' "$scratch/preflight.log"; }
check "--tags opencode_preflight writes nothing (the hand-edited file stays)" preflight_wrote_nothing

# The report: the run after a changing run is changed=0 too (its rows hold no "changed" column);
# an existing report directory keeps its mode (a shared one such as /tmp is not chmodded).
mkdir -p "$scratch/reports" && chmod 1777 "$scratch/reports"
reported="{\"opencode_report_dir\": \"$scratch/reports\", \"opencode_key_store\": \"auth\", \"opencode_users\": [{\"name\": \"$me\", \"api_key\": \"$KEY\"}]}"
run report-changing "$reported"
run report-again "$reported"
report_idempotent() { [ "$rc" = 0 ] && grep -qE "changed=[1-9]" "$scratch/report-changing.log" && grep -qE "changed=0 " "$scratch/report-again.log" \
  && [ -s "$scratch/reports/opencode-report.json" ] && [ "$(stat -c %a "$scratch/reports")" = 1777 ]; }
check "report: the run after a changing run is changed=0; the directory keeps its mode" report_idempotent
run report-new-dir "{\"opencode_report_dir\": \"$scratch/new/reports\", \"opencode_key_store\": \"auth\", \"opencode_users\": [{\"name\": \"$me\", \"api_key\": \"$KEY\"}]}"
report_dir_created() { [ "$rc" = 0 ] && [ "$(stat -c %a "$scratch/new/reports")" = 755 ] && ! grep -q 'item=' "$scratch/report-new-dir.log"; }
check "report: a missing directory is created 0755; no per-item lines" report_dir_created

run absent "{\"opencode_users\": [{\"name\": \"$me\", \"state\": \"absent\"}]}" --diff
check "absent: key gone from every file" key_gone

# A default run prints no per-user no_log line (the opencode_api_key_var loop has no item then).
quiet_default() { ! grep -q 'censored' "$scratch/again.log" && ! grep -q 'item=' "$scratch/again.log"; }
check "a default run has no per-user no_log or item lines" quiet_default

# OmniRoute keys: a failing key step reports its real (secret-free) cause, naming the host.
before=$(find "$HOME" -type f -exec sha256sum {} + | sort)
run omniroute-down "{\"opencode_api_key_source\": \"omniroute\", \"opencode_omniroute_password\": \"$KEY-admin\", \"opencode_base_url\": \"http://127.0.0.1:9\", \"opencode_users\": [{\"name\": \"$me\"}]}"
key_cause_shown() { [ "$rc" != 0 ] && grep -q 'host localhost: OmniRoute server at http://127.0.0.1:9 is unreachable' "$scratch/omniroute-down.log" \
  && grep -q 'no OpenCode file was changed on localhost' "$scratch/omniroute-down.log" \
  && [ "$(find "$HOME" -type f -exec sha256sum {} + | sort)" = "$before" ]; }
check "omniroute keys: the real cause of a failure is reported, nothing written" key_cause_shown

# Managed scope: every check of the users comes before the managed write (a user without a key
# fails the host and the managed config is not written); then a switch back to user scope.
managed="$scratch/managed/opencode.json"
managed_args="\"opencode_scope\": \"managed\", \"opencode_only_gateway\": true, \"opencode_become\": false"
run managed-no-key "{$managed_args, \"opencode_users\": [{\"name\": \"$me\"}]}"
managed_not_written() { [ "$rc" != 0 ] && grep -q "user '$me': no API key" "$scratch/managed-no-key.log" && [ ! -e "$managed" ]; }
check "managed scope: a user without a key fails the host before the managed write" managed_not_written
run managed "{$managed_args, \"opencode_users\": [{\"name\": \"$me\", \"api_key\": \"$KEY\"}]}"
# The recap counts the two writes (managed config, the user's files), not the read-only plan and check.
managed_written() { [ "$rc" = 0 ] && grep -q '"omniroute"' "$managed" && grep -q 'enabled_providers' "$managed" && grep -qF "$KEY" "$auth" \
  && grep -qE "changed=2 " "$scratch/managed.log"; }
check "managed scope: the managed entry is written, the key is in auth.json" managed_written
pinned=$(sha256sum "$managed")
run back-without-users "{\"opencode_become\": false, \"opencode_users\": []}"
refused_back() { [ "$rc" != 0 ] && grep -q 'opencode_users lists no developer to configure on' "$scratch/back-without-users.log" \
  && [ "$(sha256sum "$managed")" = "$pinned" ] && grep -qE 'localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=1 ' "$scratch/back-without-users.log" \
  && ! grep -q 'Error while evaluating' "$scratch/back-without-users.log"; }
check "switching back without users is refused, the managed config stays" refused_back
run back "{\"opencode_become\": false, \"opencode_users\": [{\"name\": \"$me\", \"api_key\": \"$KEY\"}]}"
switched_back() { [ "$rc" = 0 ] && ! grep -q '"omniroute"' "$managed" && ! grep -q 'enabled_providers' "$managed" \
  && grep -q '"omniroute"' "$conf" && grep -qF "$KEY" "$conf"; }
check "switching back with users: the managed entry goes, each user has their entry, in one run" switched_back
run back-again "{\"opencode_become\": false, \"opencode_users\": [{\"name\": \"$me\", \"api_key\": \"$KEY\"}]}"
back_idempotent() { [ "$rc" = 0 ] && grep -qE "changed=0 " "$scratch/back-again.log"; }
check "user scope after the switch: changed=0" back_idempotent

# The main job (make configure's playbook) against a gateway that does not answer ends with one
# sentence: what was configured, and what to start or check.
n=$((n + 1))
set +e
OMNIROUTE_BASE_URL=http://127.0.0.1:9 OMNIROUTE_API_KEY=$KEY ansible-playbook -i localhost, omniroute.opencode.configure \
  -e "opencode_managed_dir=$scratch/managed" > "$scratch/configure.log" 2>&1
rc=$?
set -e
if [ "$rc" = 0 ] && grep -qF "\"msg\": \"OpenCode for $me is configured for OmniRoute at http://127.0.0.1:9 ($conf, key in config), but nothing answered there" "$scratch/configure.log" \
  && grep -q 'start OmniRoute, or point at yours with OMNIROUTE_BASE_URL=' "$scratch/configure.log"; then echo "ok   configure: a gateway that does not answer gets one sentence"
else echo "FAIL configure: a gateway that does not answer gets one sentence"; fails=$((fails + 1)); tail -n 8 "$scratch/configure.log" | grep -vF "$KEY"; fi
# ... and no deprecation warning on the way (the CryptographyDeprecationWarning of cryptography 51).
n=$((n + 1))
if grep -qi 'DeprecationWarning\|DEPRECATION' "$scratch/configure.log"; then echo "FAIL configure: a deprecation warning"; fails=$((fails + 1))
else echo "ok   configure: no deprecation warning"; fi

# pull_schedule refuses a repo_url that carries a credential, without showing it (check mode:
# were the refusal missing, nothing would be written to /etc/systemd either).
TOKEN=ghp_roletest$$secrettoken
printf -- '- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - ansible.builtin.include_role:\n        name: omniroute.opencode.opencode\n        tasks_from: pull_schedule\n' > "$scratch/schedule.yml"
n=$((n + 1))
set +e
ansible-playbook -i localhost, "$scratch/schedule.yml" --check --diff -e "ansible_python_interpreter=$py" \
  -e "{\"opencode_pull_schedule\": {\"repo_url\": \"https://x-access-token:$TOKEN@git.example.com/platform/oc.git\"}}" > "$scratch/schedule.log" 2>&1
rc=$?
set -e
if [ "$rc" != 0 ] && grep -q 'repo_url carries a credential' "$scratch/schedule.log" && ! grep -qF "$TOKEN" "$scratch/schedule.log" \
  && ! grep -q 'Write the service' "$scratch/schedule.log"; then echo "ok   pull schedule: a credential in repo_url is refused unseen"
else echo "FAIL pull schedule: a credential in repo_url is refused unseen"; fails=$((fails + 1)); grep -E 'msg|ERROR' "$scratch/schedule.log" | grep -vF "$TOKEN" | tail -n 5; fi
n=$((n + 1))
if grep -lF -e "$KEY" -e "${TOKEN:-no-token}" "$scratch"/*.log "$scratch"/reports/*; then echo "FAIL key shown in the output above"; fails=$((fails + 1)); else echo "ok   no key in any output"; fi
echo "run_local.sh: $((n - fails))/$n passed"
[ "$fails" = 0 ]
