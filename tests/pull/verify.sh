#!/usr/bin/env bash
# Runs inside the pull-mode laptop (bash -s, as root) after the two ansible-pull runs.
fail() { echo "test-pull verify: $*" >&2; exit 1; }
owner_mode() { stat -c '%U %a' "$1"; }
cfg_a=/home/alice/.config/opencode/opencode.jsonc
[ "$(owner_mode $cfg_a)" = "alice 600" ] || fail "$cfg_a: $(owner_mode $cfg_a)"
grep -qF "// alice's own settings -- must survive every pull" $cfg_a || fail "alice's comment lost"
grep -qF '"theme": "nord"' $cfg_a || fail "alice's theme lost"
auth_b=/home/bob/.local/share/opencode/auth.json
[ "$(owner_mode $auth_b)" = "bob 600" ] || fail "$auth_b: $(owner_mode $auth_b)"
grep -qF '{env:OMNIROUTE_API_KEY}' /home/carol/.config/opencode/opencode.json || fail "carol has no {env:} reference"
grep -qF "// dave is leaving this team" /home/dave/.config/opencode/opencode.json || fail "dave's comment lost"
[ ! -e /home/zoe ] || fail "zoe's home exists"
# Every key is where its key store puts it, and nowhere else (aside from the settings file and
# the checkout, which holds this test's own fixtures).
where() {
  grep -rlF -e "$1" /home /root /tmp /var /etc 2>/dev/null \
    | grep -v -e '^/etc/omniroute-opencode/pull.yml$' -e '^/var/lib/omniroute-opencode/ansible_collections/' \
    | sort | tr '\n' ' '
}
[ "$(where sk-pulltest-alice-a11ce0)" = "$cfg_a " ] || fail "alice's key is in: $(where sk-pulltest-alice-a11ce0)"
[ "$(where sk-pulltest-bob-b0b0b0)" = "$auth_b " ] || fail "bob's key is in: $(where sk-pulltest-bob-b0b0b0)"
[ -z "$(where sk-pulltest-carol-ca401e)" ] || fail "carol's key is on disk: $(where sk-pulltest-carol-ca401e)"
[ -z "$(where sk-pulltest-zoe-20e20e)" ] || fail "zoe's key is on disk: $(where sk-pulltest-zoe-20e20e)"
[ -z "$(where sk-pulltest-old-dave-0d0d0d)" ] || fail "dave's old key is still in: $(where sk-pulltest-old-dave-0d0d0d)"
# The real OpenCode, as each developer.
export OPENCODE_DISABLE_AUTOUPDATE=1 OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_DEFAULT_PLUGINS=1 \
       OPENCODE_DISABLE_LSP_DOWNLOAD=1 OPENCODE_DISABLE_PROJECT_CONFIG=1
for u in alice bob carol dave; do
  out=$(cd /tmp && sudo -u "$u" -H --preserve-env=OPENCODE_DISABLE_AUTOUPDATE,OPENCODE_DISABLE_MODELS_FETCH,OPENCODE_DISABLE_DEFAULT_PLUGINS,OPENCODE_DISABLE_LSP_DOWNLOAD,OPENCODE_DISABLE_PROJECT_CONFIG opencode debug config) || fail "opencode debug config as $u failed"
  base=$(printf '%s' "$out" | python3 -c 'import json,sys; p=json.load(sys.stdin).get("provider",{}).get("omniroute"); print(p["options"]["baseURL"] if p else "none")')
  want=http://127.0.0.1:20128/v1; [ "$u" = dave ] && want=none
  [ "$base" = "$want" ] || fail "OpenCode as $u: omniroute baseURL $base, expected $want"
done
# The schedule (no systemd runs in the container: files only).
svc=/etc/systemd/system/omniroute-opencode-pull.service
tmr=/etc/systemd/system/omniroute-opencode-pull.timer
grep -qE "^ExecStart=.*/ansible-pull -U https://git.example.com/platform/omniroute-opencode.git -C main -d /var/lib/omniroute-opencode/ansible_collections/omniroute/opencode -e .*playbooks/pull.yml$" $svc || fail "$svc: $(grep ExecStart $svc)"
ap=$(sed -nE 's/^ExecStart=([^ ]+) .*/\1/p' $svc); [ -x "$ap" ] || fail "$svc runs $ap, which is not executable"
grep -qx 'OnUnitActiveSec=30min' $tmr || fail "$tmr: no 30 min interval"
grep -qx 'Environment=ANSIBLE_COLLECTIONS_PATH=/var/lib/omniroute-opencode' $svc || fail "$svc: no collections path"
echo "test-pull verify: files, keys, OpenCode's view and the schedule are right"
