#!/usr/bin/env bash
# make test-pull: pull mode as a laptop runs it. `ansible-pull` checks out a bare clone of this
# checkout (HEAD plus the working tree's changes to tracked files) inside a podman laptop with no
# network and systemd as PID 1, and runs playbooks/pull.yml as root. The first run installs the
# pull schedule (opencode_pull_schedule) and starts its systemd timer; the timer then runs the
# pull itself (its service must finish successfully, from its own checkout); a last run by hand
# must change nothing.
#
#   run.sh FLEET_LAPTOP_IMAGE OPENCODE_BIN
#
# The laptop (container pull-laptop, image from tests/ee/laptop-image.sh: git + ansible-core) has
# four accounts; its settings file /etc/omniroute-opencode/pull.yml (what the MDM would drop)
# lists five developers: one listed developer has no account on this laptop and must be skipped,
# one is leaving. Keys are developer-provided (opencode_api_key_source: user): one developer has
# stored her own, one has none and must be reported. Checks: files and key locations, what the
# real OpenCode resolves, the systemd units of opencode_pull_schedule and the run their timer
# started, and no key in any run's output (the timer's run is read from the journal). The caller
# holds the lock.
set -euo pipefail
log() { echo "test-pull: $*" >&2; }
image=${1:?usage: run.sh FLEET_LAPTOP_IMAGE OPENCODE_BIN}
opencode_bin=${2:?}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$root/.build/pull-test
name=pull-laptop

cleanup() { podman rm -f -t 0 "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
rm -rf "$work" && mkdir -p "$work"

# The repository a laptop pulls from: a bare clone holding one commit of this checkout.
rev=$(git -C "$root" stash create 2>/dev/null || true)
rev=${rev:-$(git -C "$root" rev-parse HEAD)}
git init -q --bare "$work/repo.git"
git -C "$root" push -q "$work/repo.git" "$rev:refs/heads/main"
log "bare clone at $work/repo.git, branch main = $rev"

# systemd as PID 1 (podman --systemd=always gives it the tmpfs and cgroup mounts it needs).
pull_image=$("$here/image.sh" "$image")
podman run -d --name "$name" --hostname "$name" --network none --systemd=always \
  -v "$work/repo.git:/srv/omniroute-opencode.git:ro" \
  -v "$opencode_bin:/usr/local/bin/opencode:ro" "$pull_image" /sbin/init >/dev/null
for _ in $(seq 1 120); do
  state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 1
done
case "$state" in running|degraded) log "systemd is up in the laptop ($state)" ;;
  *) podman exec "$name" systemctl --failed --no-pager >&2 || true; log "systemd did not come up ($state)"; exit 1 ;; esac
podman exec -i "$name" bash -euo pipefail -s <"$here/prepare.sh"
# The timer's first tick comes 5 minutes after boot (OnBootSec=5min), and a container boots when
# it starts. A drop-in (the test's only change to the units the role writes) moves that first tick
# to 15 s after the timer starts, so the test need not wait five minutes; the service it starts,
# and the interval and splay, are the role's.
podman exec "$name" sh -c 'mkdir -p /etc/systemd/system/omniroute-opencode-pull.timer.d &&
  printf "[Timer]\nOnBootSec=\nOnActiveSec=15s\n" > /etc/systemd/system/omniroute-opencode-pull.timer.d/10-test-first-tick-soon.conf'
# The same settings under the name the schedule's vars_files gives (what the timer's runs read).
for f in pull.yml fleet.yml; do
  podman cp "$here/pull-vars.yml" "$name:/etc/omniroute-opencode/$f"
  podman exec "$name" sh -c "chown root:root /etc/omniroute-opencode/$f && chmod 0600 /etc/omniroute-opencode/$f"
done
mapfile -t test_keys < <(grep -ohE 'sk-pulltest-[A-Za-z0-9-]+' "$here/pull-vars.yml" "$here/prepare.sh" | sort -u)
[ "${#test_keys[@]}" -ge 3 ] || { log "expected at least 3 test keys"; exit 1; }

pull() {  # pull N: one ansible-pull run; sets $secs and checks the recap
  local n=$1 t0=$SECONDS
  podman exec -e ANSIBLE_COLLECTIONS_PATH=/var/lib/omniroute-opencode -e ANSIBLE_NOCOLOR=1 "$name" \
    ansible-pull -U /srv/omniroute-opencode.git -C main \
      -d /var/lib/omniroute-opencode/ansible_collections/omniroute/opencode playbooks/pull.yml \
    >"$work/pull-$n.log" 2>&1 || { cat "$work/pull-$n.log" >&2; log "ansible-pull run $n failed"; exit 1; }
  secs=$((SECONDS - t0))
  recap=$(grep -E '^localhost +: ok=' "$work/pull-$n.log") || { cat "$work/pull-$n.log" >&2; log "run $n: no recap"; exit 1; }
  echo "$recap" | grep -q 'failed=0' || { cat "$work/pull-$n.log" >&2; exit 1; }
  changed=$(echo "$recap" | sed -E 's/.*changed=([0-9]+).*/\1/')
}
pull 1; log "ansible-pull, first run: ${secs} s, ${changed} changed"
[ "$changed" -gt 0 ] || { cat "$work/pull-1.log" >&2; log "the first run changed nothing"; exit 1; }
grep -q 'zoe' "$work/pull-1.log" || { log "the developer without an account (zoe) is not reported"; exit 1; }
# The role's own report line (stdout). The module's warning says the same on stderr, but it can
# interleave with stdout in the captured log, so the report line is what is checked. Ansible
# wraps long lines: search the log as one line.
flat=$(tr '\n' ' ' <"$work/pull-1.log" | tr -s ' ')
grep -q 'host localhost: no OmniRoute key in auth.json for bob;' <<<"$flat" \
  || { cat "$work/pull-1.log" >&2; log "the developer without a key (bob) is not reported"; exit 1; }

# The first run started the timer. Its first tick comes 15 s later (the drop-in above; splay is 0):
# its service runs ansible-pull from the schedule's own base_dir.
svc=omniroute-opencode-pull.service
t0=$SECONDS
for _ in $(seq 1 600); do
  show=$(podman exec "$name" systemctl show "$svc" -p ActiveState -p Result -p ExecMainExitTimestampMonotonic)
  exited=$(sed -n 's/^ExecMainExitTimestampMonotonic=//p' <<<"$show")
  active=$(sed -n 's/^ActiveState=//p' <<<"$show")
  if [ "${exited:-0}" != 0 ] && [ "$active" != activating ] && [ "$active" != active ]; then break; fi
  sleep 1
done
podman exec "$name" journalctl -u "$svc" --no-pager -o cat >"$work/timer-run.log" 2>&1 || true
result=$(sed -n 's/^Result=//p' <<<"$show")
triggered=$(podman exec "$name" systemctl show omniroute-opencode-pull.timer -p LastTriggerUSecMonotonic --value)
if [ "${exited:-0}" = 0 ] || [ "$result" != success ] || [ "${triggered:-0}" = 0 ]; then
  tail -n 60 "$work/timer-run.log" >&2
  log "the timer did not run the pull successfully (timer last triggered: ${triggered:-never}; service: $show)"
  exit 1
fi
grep -qE '^localhost +: ok=[0-9]+ +changed=[0-9]+ +unreachable=0 +failed=0' "$work/timer-run.log" \
  || { tail -n 60 "$work/timer-run.log" >&2; log "the timer's run has no clean recap in the journal"; exit 1; }
log "the timer ran the pull by itself: service $result after $((SECONDS - t0)) s"

pull 2; log "ansible-pull, run after the timer's: ${secs} s, ${changed} changed"
[ "$changed" -eq 0 ] || { cat "$work/pull-2.log" >&2; log "the run after the timer's changed $changed tasks"; exit 1; }

# What is on the laptop now.
podman exec -i "$name" bash -euo pipefail -s <"$here/verify.sh"

leaks=0
for k in "${test_keys[@]}"; do
  if grep -lF -e "$k" "$work"/pull-*.log "$work/timer-run.log" >/dev/null; then log "a test key (${k:0:6}..., ${#k} characters) appears in the ansible-pull output"; leaks=1; fi
done
[ "$leaks" -eq 0 ] || exit 1
log "no test key in the output of any run (by hand or by the timer); passed"
