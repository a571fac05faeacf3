#!/usr/bin/env bash
# A new user's first hour, timed (docs/testing.md, "A new user's first hour"): `make configure` in
# a fresh clone, then the README's first playbook as written - inventory.yml, the vaulted keys,
# site.yml with --check, for real and again - and fleet.yml, against a real OmniRoute 3.7.9 with
# one OpenAI connection and two podman laptops (alice, bob, carol). Only the gateway URL and the
# keys are put in (as make test-docs does); the laptops are reached through podman instead of SSH.
#
#   bench/first_hour.sh        (root, podman and the test setup of make test; run it under
#                               `flock ~/.cache/omniroute-opencode/laptops.lock`, like the
#                               other laptop-container suites)
#
# Scratch in .build/first-hour; OmniRoute on FIRST_HOUR_PORT (default 20198); the laptops are
# named laptop1.example.com and laptop2.example.com, as in the README, and removed at the end.
set -euo pipefail
# The lock fds of a surrounding flock must not reach the daemons started here (OmniRoute, conmon).
exec 3>&- 4>&-
repo=$(cd "$(dirname "$0")/.." && pwd)
export OMNIROUTE_OPENCODE_CACHE=${OMNIROUTE_OPENCODE_CACHE:-$HOME/.cache/omniroute-opencode}
export CONTAINERS_CONF=$repo/tests/setup/containers.conf
export CONTAINERS_STORAGE_CONF=$OMNIROUTE_OPENCODE_CACHE/podman/storage.conf
port=${FIRST_HOUR_PORT:-20198}
state=$repo/.build/first-hour/omniroute
work=$repo/.build/first-hour
laptops=(laptop1.example.com laptop2.example.com)
rm -rf "$work"; mkdir -p "$work/home"
log() { echo "[+$((SECONDS))s] $*"; }
cleanup() {
  for c in "${laptops[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
  OMNIROUTE_PORT=$port OMNIROUTE_STATE=$state "$repo/tests/setup/omniroute.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
log "load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

# The gateway: one OpenAI connection (no network needed), three keys.
eval "$(OMNIROUTE_PORT=$port OMNIROUTE_STATE=$state "$repo/tests/setup/omniroute.sh" start)"
PYTHONPATH=$repo/.build/collections "$repo/.venv/bin/python" - "$OMNIROUTE_URL" "$OMNIROUTE_PASSWORD_FILE" "$work" <<'PY'
import importlib.util, json, os, sys
url, password_file, work = sys.argv[1:]
spec = importlib.util.spec_from_file_location(
    'api', os.path.join(os.path.dirname(work), '..', 'plugins', 'module_utils', '_omniroute_api.py'))
api = importlib.util.module_from_spec(spec)
spec.loader.exec_module(api)
with open(password_file) as f:
    client = api.Client(url, password=f.read().strip())
client.login()
client._call('POST', '/api/providers', body={'provider': 'openai', 'apiKey': 'sk-upstream-unused', 'name': 'first-hour'})
keys = dict((n, client.create_key('first-hour-' + n)['key']) for n in ('alice', 'bob', 'me'))
fd = os.open(os.path.join(work, 'keys.json'), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, 'w') as f:
    json.dump(keys, f)
PY
key() { python3 -c "import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$work/keys.json" "$1"; }
log "OmniRoute ready at $OMNIROUTE_URL"

image=$("$repo/tests/setup/base-image.sh")
opencode=$("$repo/tests/setup/opencode.sh")
for c in "${laptops[@]}"; do
  podman rm -f -t 0 "$c" >/dev/null 2>&1 || true
  podman run -d --name "$c" --hostname "$c" --network host -v "$opencode:/usr/local/bin/opencode:ro" "$image" sleep infinity >/dev/null
  for u in alice bob carol; do podman exec "$c" useradd -m -s /bin/bash "$u"; done
done
podman_collection=$(PYTHON=$repo/.venv/bin/python "$repo/tests/setup/podman-collection.sh")
log "laptops up"

# 1. make configure in a fresh clone (this checkout's HEAD), for the current user, HOME in scratch.
git clone -q "$repo" "$work/clone"
git -C "$work/clone" checkout -q "$(git -C "$repo" rev-parse HEAD)"
cd "$work/clone"
t=$SECONDS
HOME=$work/home OMNIROUTE_BASE_URL=$OMNIROUTE_URL OMNIROUTE_API_KEY=$(key me) make configure > "$work/configure.log" 2>&1
log "make configure, fresh clone: $((SECONDS - t)) s ($(grep -oE 'changed=[0-9]+' "$work/configure.log" | head -n 1))"
t=$SECONDS
HOME=$work/home OMNIROUTE_BASE_URL=$OMNIROUTE_URL OMNIROUTE_API_KEY=$(key me) OMNIROUTE_CATALOG=gateway make configure > "$work/configure-gateway.log" 2>&1
log "make configure, OMNIROUTE_CATALOG=gateway: $((SECONDS - t)) s ($(grep -oE 'changed=[0-9]+' "$work/configure-gateway.log" | head -n 1); $(grep -oE '"ready": [0-9]+' "$work/configure-gateway.log"))"

# 2. The README's first playbook, as written.
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$PWD/.build/collections:$podman_collection"
export ANSIBLE_TRANSPORT=containers.podman.podman ANSIBLE_HOME=$work/ansible-home HOME=$work/home ANSIBLE_NOCOLOR=1
python3 - README.md "$OMNIROUTE_URL" "$(key alice)" "$(key bob)" <<'PY'
import os, re, sys
readme, url, alice, bob = sys.argv[1:]
with open(readme) as f:
    text = f.read()
for m in re.finditer(r'```yaml\n(# (\S+) .*?)```', text, re.S):
    body, name = m.group(1), m.group(2)
    if name in ('inventory.yml', 'group_vars/laptops/vault.yml', 'site.yml', 'fleet.yml'):
        body = body.replace('https://omniroute.example.com', url)
        body = body.replace('alice: sk-...', 'alice: ' + alice).replace('bob: sk-...', 'bob: ' + bob)
        if os.path.dirname(name):
            os.makedirs(os.path.dirname(name), exist_ok=True)
        with open(name, 'w') as f:
            f.write(body)
PY
t=$SECONDS
ansible-vault encrypt --vault-password-file docs/examples/vault-password.example group_vars/laptops/vault.yml >/dev/null 2>&1
log "ansible-vault encrypt: $((SECONDS - t)) s"
summary() { grep -oE '"(ready|not_ready|removed)": [0-9]+' "$1" | tr -d '"' | paste -sd' '; }
recap() { grep -E '^laptop' "$1" | awk '{print $1, $4}' | paste -sd' '; }
for run in check first again; do
  extra=(); [ "$run" = check ] && extra=(--check --diff)
  t=$SECONDS
  ansible-playbook -i inventory.yml site.yml --vault-password-file docs/examples/vault-password.example "${extra[@]}" > "$work/site-$run.log" 2>&1
  log "site.yml $run: $((SECONDS - t)) s; $(recap "$work/site-$run.log"); $(summary "$work/site-$run.log")"
done
for run in first again; do
  t=$SECONDS
  ansible-playbook -i inventory.yml fleet.yml --vault-password-file docs/examples/vault-password.example > "$work/fleet-$run.log" 2>&1
  log "fleet.yml $run: $((SECONDS - t)) s; $(recap "$work/fleet-$run.log"); $(summary "$work/fleet-$run.log")"
done
for k in $(python3 -c "import json, sys; print(' '.join(json.load(open(sys.argv[1])).values()))" "$work/keys.json"); do
  if grep -rlF -- "$k" "$work"/*.log; then log "FAIL: a key is in the logs above"; exit 1; fi
done
log "done; load average $(cut -d' ' -f1-3 /proc/loadavg)"
