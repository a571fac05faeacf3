#!/usr/bin/env bash
# How many module executions does the role cost a host? Counted from ansible-playbook -vvv
# output ("Using module file ..." is printed once per module execution), against one podman
# laptop with 1 and then 3 developers, first run and re-run. Fails unless every run costs the
# host exactly one execution - the omniroute.opencode.users module, which in user scope also
# finds a managed entry this collection wrote (issue 22; it was a second, read-only
# omniroute.opencode.managed run) - whatever the number of developers, and unless a re-run runs
# at most 7 tasks on the host (the recap's ok + skipped: the argument check, the users run, the
# summary, three skipped includes - keys and managed scope, after the users run, after the run
# (the second phase of key rotations, the managed-scope failure note) - and the skipped report;
# every task costs the controller time per host, even a skipped one), and unless each execution
# is one podman command (the laptop's connection pipelines: tests/support/connection_plugins).
# Needs podman, the base image and containers.podman (the Molecule setup);
# run it under `flock ~/.cache/omniroute-opencode/laptops.lock` like every laptop-container test.
set -euo pipefail
image=${OMNIROUTE_OPENCODE_IMAGE:-localhost/omniroute-opencode-laptop:bookworm}
c=omr-exec-laptop
work=$(mktemp -d "${TMPDIR:-/tmp}/role-exec.XXXXXX")
cleanup() { podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
cleanup; mkdir -p "$work"
podman run -d --name "$c" --network none "$image" sleep infinity >/dev/null
for u in dev1 dev2 dev3; do podman exec "$c" useradd -m -s /bin/bash "$u"; done
# The podman connection with pipelining (tests/support/connection_plugins): one podman exec a task.
plugins="$(cd "$(dirname "$0")" && pwd)/support/connection_plugins"
export ANSIBLE_FORCE_COLOR=false ANSIBLE_NOCOLOR=true ANSIBLE_PIPELINING=true ANSIBLE_HOME="$work/ansible" \
  ANSIBLE_CONNECTION_PLUGINS="$plugins"
printf 'laptop ansible_host=%s ansible_connection=podman_pipelined ansible_python_interpreter=/usr/bin/python3\n' "$c" > "$work/inv"
cat > "$work/play.yml" <<'YML'
- hosts: laptop
  gather_facts: false
  roles:
    - role: omniroute.opencode.opencode
YML
fails=0
declare -A seen
for n in 1 3; do
  users=$(python3 -c "import json,sys; print(json.dumps({'opencode_users': [{'name': 'dev%d' % i, 'api_key': 'sk-exec-test-%d' % i} for i in range(1, $n + 1)]}))")
  for pass in first rerun; do
    log="$work/$n-$pass.log"
    ansible-playbook -vvv -i "$work/inv" "$work/play.yml" -e "$users" > "$log" 2>&1 || { tail -n 40 "$log"; exit 1; }
    count=$(grep -c '^Using module file' "$log" || true)
    modules=$(grep '^Using module file' "$log" | sed 's|.*/||' | sort | uniq -c | tr -s ' ' | paste -sd, -)
    echo "role_executions: $n developer(s), $pass run: $count module execution(s) on the host ($modules)"
    seen[$n-$pass]=$count
    if ! { [ "$count" = 1 ] && grep -q 'users.py' <<<"$modules"; }; then
      echo "FAIL: expected exactly 1 (users)"; fails=$((fails + 1))
    fi
    # The test laptops' connection pipelines: one podman command a module execution (without
    # pipelining: six, a mount, then execs for the home, a temporary directory, a chmod, the run
    # and a clean-up).
    podman_runs=$(grep -c "^<[^>]*> RUN \[b'[^']*podman'" "$log" || true)
    echo "role_executions: $n developer(s), $pass run: $podman_runs podman command(s) for the host"
    [ "$podman_runs" = "$count" ] || { echo "FAIL: expected one podman command a module execution"; fails=$((fails + 1)); }
    if [ "$pass" = rerun ]; then
      recap=$(grep -E '^laptop +: ok=' "$log")
      tasks=$(( $(sed -E 's/.* ok=([0-9]+).*/\1/' <<<"$recap") + $(sed -E 's/.* skipped=([0-9]+).*/\1/' <<<"$recap") ))
      echo "role_executions: $n developer(s), re-run: $tasks tasks on the host ($recap)"
      [ "$tasks" -le 7 ] || { echo "FAIL: expected at most 7 tasks on the host"; fails=$((fails + 1)); }
    fi
    if grep -q 'sk-exec-test' "$log"; then echo "FAIL: a key is in the -vvv output"; fails=$((fails + 1)); fi
  done
done
for pass in first rerun; do
  if [ "${seen[3-$pass]}" -gt "${seen[1-$pass]}" ]; then
    echo "FAIL: 3 developers cost more executions than 1 ($pass run)"; fails=$((fails + 1))
  fi
done
[ "$fails" = 0 ] && echo "role_executions: passed (1 execution per host whatever the number of developers)"
[ "$fails" = 0 ]
