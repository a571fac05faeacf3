#!/usr/bin/env bash
# make test-ee: the role run the way AWX runs it, through ansible-runner inside the execution
# environment (ee/build.sh), against two podman laptops reached over SSH.
#
#   run.sh EE_IMAGE FLEET_LAPTOP_IMAGE OPENCODE_BIN
#
# Private data directory (.build/ee-test/pdd), as AWX would hand it to ansible-runner:
#   project/    prepare.yml, converge.yml, verify.yml (tests/ee/project)
#   inventory/  hosts and vars (tests/ee/inventory); the keys in a vaulted file
#   env/        ssh_key (machine credential: runner feeds it to ssh-agent inside the EE),
#               passwords (vault credential: the answer to the vault prompt), settings
#               (process isolation with podman and this EE), envvars.
# Steps: prepare, converge, converge again (must change nothing), verify (files, key locations,
# the real OpenCode as each developer), then a plain `ansible-playbook` of the same converge in
# the same EE for comparison. Every runner artifact and log is grepped for every test key.
#
# The laptops and the EE share an internal podman network (no route out). Container names:
# ee-laptop1, ee-laptop2; network omniroute-ee-test. The caller holds the laptop lock.
set -euo pipefail
log() { echo "test-ee: $*" >&2; }
ee_image=${1:?usage: run.sh EE_IMAGE FLEET_LAPTOP_IMAGE OPENCODE_BIN}
laptop_image=${2:?}
opencode_bin=${3:?}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runner=${ANSIBLE_RUNNER:-ansible-runner}
vault=${ANSIBLE_VAULT:-ansible-vault}
work=$root/.build/ee-test
pdd=$work/pdd
net=omniroute-ee-test
subnet=10.89.214.0/24
laptops=(ee-laptop1 ee-laptop2)
ips=(10.89.214.11 10.89.214.12)

cleanup() {
  podman rm -f -t 0 "${laptops[@]}" >/dev/null 2>&1 || true
  podman network rm -f "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

# --- the private data directory ---------------------------------------------------------------
rm -rf "$work" && mkdir -p "$pdd/env" "$pdd/artifacts"
cp -r "$here/project" "$here/inventory" "$pdd/"
vault_pass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$vault_pass" >"$work/vault-pass" && chmod 0600 "$work/vault-pass"
mv "$pdd/inventory/group_vars/developers/vault.yml.plain" "$pdd/inventory/group_vars/developers/vault.yml"
"$vault" encrypt --vault-password-file "$work/vault-pass" "$pdd/inventory/group_vars/developers/vault.yml" >/dev/null
mapfile -t test_keys < <(grep -ohE 'sk-eetest-[A-Za-z0-9-]+' "$here/inventory/group_vars/developers/vault.yml.plain" | sort -u)
[ "${#test_keys[@]}" -ge 5 ] || { log "expected at least 5 test keys, found ${#test_keys[@]}"; exit 1; }

ssh-keygen -q -t ed25519 -N '' -C ee-test -f "$work/id_ed25519"
cp "$work/id_ed25519" "$pdd/env/ssh_key"
python3 - "$pdd/env" "$ee_image" "$net" "$vault_pass" <<'PY'
import json, sys
env, image, net, vault_pass = sys.argv[1:]
# JSON is YAML: ansible-runner reads these files with its YAML loader.
json.dump({
    "process_isolation": True,
    "process_isolation_executable": "podman",
    "container_image": image,
    # The EE joins the laptops' internal network. Root in the container: this podman is rootful
    # and the private data directory belongs to root (AWX's rootless podman maps this for it).
    "container_options": [f"--network={net}", "--user=root"],
    "suppress_ansible_output": True,
    # A job that hangs fails the test (runner ends it) instead of holding the laptop lock.
    "job_timeout": 600,
}, open(f"{env}/settings", "w"))
json.dump({
    "ANSIBLE_HOST_KEY_CHECKING": "False",
    "ANSIBLE_PIPELINING": "True",
    "ANSIBLE_FORCE_COLOR": "False",
    "ANSIBLE_NOCOLOR": "True",
    # No SSH connection sharing: once (1 of the first 5 runs, load average about 10) a task's
    # session over the ControlMaster socket never returned, although the laptop had ended it.
    # One handshake per task costs little here and cannot hang that way.
    "ANSIBLE_SSH_ARGS": "-o ControlMaster=no -o ControlPersist=no",
    "ANSIBLE_TASK_TIMEOUT": "300",
}, open(f"{env}/envvars", "w"))
json.dump({r"^Vault password:\s*?$": vault_pass}, open(f"{env}/passwords", "w"))
open(f"{env}/cmdline", "w").write("--ask-vault-pass")
PY
chmod 0600 "$pdd/env/"*

# --- laptops ----------------------------------------------------------------------------------
podman network create --internal --subnet "$subnet" "$net" >/dev/null
for i in 0 1; do
  podman run -d --name "${laptops[$i]}" --hostname "${laptops[$i]}" --network "$net" --ip "${ips[$i]}" \
    -v "$opencode_bin:/usr/local/bin/opencode:ro" "$laptop_image" >/dev/null
  podman exec -i "${laptops[$i]}" sh -c 'umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys' <"$work/id_ed25519.pub"
done

# --- runs -------------------------------------------------------------------------------------
# run IDENT PLAYBOOK: one ansible-runner job; sets $secs (wall time) and $changed (changed tasks).
# Called directly (not in a subshell) so that a failure ends the whole test.
run() {
  local ident=$1 playbook=$2 t0 rc
  t0=$(date +%s.%N)
  rc=0
  "$runner" run "$pdd" --ident "$ident" -p "$playbook" >"$work/$ident.log" 2>&1 || rc=$?
  secs=$(python3 -c "import sys,time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$t0")
  if [ "$rc" -ne 0 ] || [ "$(cat "$pdd/artifacts/$ident/rc" 2>/dev/null)" != 0 ]; then
    log "$ident ($playbook) failed (runner rc $rc); its output:"
    cat "$pdd/artifacts/$ident/stdout" >&2 2>/dev/null || cat "$work/$ident.log" >&2
    exit 1
  fi
  changed=$(python3 - "$pdd/artifacts/$ident/job_events" <<'PY'
import glob, json, sys
stats = [json.load(open(f)) for f in glob.glob(sys.argv[1] + "/*.json")]
stats = [e for e in stats if e.get("event") == "playbook_on_stats"]
assert len(stats) == 1, "no playbook_on_stats event"
data = stats[0]["event_data"]
assert not data.get("failures") and not data.get("dark"), data
print(sum(data.get("changed", {}).values()))
PY
) || { log "$ident: could not read the play's stats"; exit 1; }
}

run prepare prepare.yml; log "prepare through ansible-runner: ${secs} s, ${changed} changed"
run converge-1 converge.yml; s1=$secs; log "converge through ansible-runner (first run): ${secs} s, ${changed} changed"
[ "$changed" -gt 0 ] || { log "the first converge changed nothing"; exit 1; }
run converge-2 converge.yml; s2=$secs; log "converge through ansible-runner (re-run): ${secs} s, ${changed} changed"
[ "$changed" -eq 0 ] || { log "the second converge changed $changed tasks (not idempotent)"; cat "$pdd/artifacts/converge-2/stdout" >&2; exit 1; }
run verify verify.yml; log "verify through ansible-runner: ${secs} s"

# The same converge with plain ansible-playbook in the same EE and network (no runner), re-run.
# EE_TEST_ROUNDS=N (default 1) repeats the pair "runner re-run, plain re-run" N times, interleaved,
# for a fairer comparison on a loaded machine.
plain() {
  local t0
  t0=$(date +%s.%N)
  timeout 600 podman run --rm --network "$net" --user root -v "$pdd:/runner:Z" -v "$work:/secrets:ro,Z" --workdir /runner/project \
    -e ANSIBLE_HOST_KEY_CHECKING=False -e ANSIBLE_PIPELINING=True -e ANSIBLE_NOCOLOR=True \
    -e "ANSIBLE_SSH_ARGS=-o ControlMaster=no -o ControlPersist=no" -e ANSIBLE_TASK_TIMEOUT=300 \
    "$ee_image" ssh-agent sh -c 'ssh-add -q /secrets/id_ed25519 && ansible-playbook -i /runner/inventory \
      --vault-password-file /secrets/vault-pass converge.yml' >"$work/plain-converge.log" 2>&1 || {
    cat "$work/plain-converge.log" >&2; log "plain ansible-playbook converge failed"; exit 1; }
  secs=$(python3 -c "import sys,time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$t0")
  for h in "${laptops[@]}"; do
    if ! grep -qE "^$h +: ok=[0-9]+ +changed=0 .*unreachable=0 +failed=0" "$work/plain-converge.log"; then
      cat "$work/plain-converge.log" >&2; log "plain ansible-playbook re-run: $h changed something or failed"; exit 1
    fi
  done
}
runner_times=("$s2")
plain
plain_times=("$secs")
log "converge with plain ansible-playbook in the EE (re-run): ${secs} s"
for ((r = 2; r <= ${EE_TEST_ROUNDS:-1}; r++)); do
  run "converge-r$r" converge.yml
  [ "$changed" -eq 0 ] || { log "re-run $r changed $changed tasks"; exit 1; }
  runner_times+=("$secs")
  plain
  plain_times+=("$secs")
  log "round $r: runner ${runner_times[-1]} s, plain ${plain_times[-1]} s"
done

# --- no key in any artifact or log ----------------------------------------------------------
leaks=0
for k in "${test_keys[@]}"; do
  if grep -rlF -e "$k" "$pdd/artifacts" "$work"/*.log >/dev/null 2>&1; then
    log "a test key (${k:0:12}...) appears in: $(grep -rlF -e "$k" "$pdd/artifacts" "$work"/*.log | tr '\n' ' ')"
    leaks=1
  fi
done
[ "$leaks" -eq 0 ] || exit 1
log "no test key in $(find "$pdd/artifacts" -type f | wc -l) runner artifact files or the logs"
printf 'ee-test: runner first %s s; re-runs: runner %s s, plain ansible-playbook %s s\n' \
  "$s1" "${runner_times[*]}" "${plain_times[*]}" | tee "$work/timings.txt" >&2
log "passed"
