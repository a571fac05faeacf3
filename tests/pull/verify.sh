#!/usr/bin/env bash
# Runs inside the pull-mode laptop (bash -s, as root) after the two ansible-pull runs.
fail() { echo "test-pull verify: $*" >&2; exit 1; }
owner_mode() { stat -c '%U %a' "$1"; }
cfg_a=/home/alice/.config/opencode/opencode.jsonc
# No key goes into the config (key source user), so its mode stays the one alice gave it.
[ "$(owner_mode $cfg_a)" = "alice 644" ] || fail "$cfg_a: $(owner_mode $cfg_a)"
grep -qF "// alice's own settings -- must survive every pull" $cfg_a || fail "alice's comment lost"
grep -qF '"theme": "nord"' $cfg_a || fail "alice's theme lost"
auth_a=/home/alice/.local/share/opencode/auth.json
sha256sum -c --quiet /root/alice-auth.sha256 || fail "$auth_a (alice's own key) changed"
[ "$(owner_mode $auth_a)" = "alice 600" ] || fail "$auth_a: $(owner_mode $auth_a)"
for c in $cfg_a /home/bob/.config/opencode/opencode.json; do
  grep -q '"baseURL"' "$c" || fail "$c has no provider entry"
  ! grep -q apiKey "$c" || fail "$c carries an apiKey (key source user: none from the controller)"
done
auth_b=/home/bob/.local/share/opencode/auth.json
[ ! -e $auth_b ] || fail "$auth_b was created; bob has not stored a key himself"
auth_d=/home/dave/.local/share/opencode/auth.json
grep -qF sk-pulltest-dave-openai-0f0f0f $auth_d || fail "dave's other provider key was lost"
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
[ "$(where sk-pulltest-alice-own-a11ce0)" = "$auth_a " ] || fail "alice's key is in: $(where sk-pulltest-alice-own-a11ce0)"
[ -z "$(where sk-pulltest-old-dave-0d0d0d)" ] || fail "dave's old config key is still in: $(where sk-pulltest-old-dave-0d0d0d)"
[ -z "$(where sk-pulltest-old-dave-auth-0e0e0e)" ] || fail "dave's stored key is still in: $(where sk-pulltest-old-dave-auth-0e0e0e)"
# The real OpenCode, as each developer.
export OPENCODE_DISABLE_AUTOUPDATE=1 OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_DEFAULT_PLUGINS=1 \
       OPENCODE_DISABLE_LSP_DOWNLOAD=1 OPENCODE_DISABLE_PROJECT_CONFIG=1
for u in alice bob carol dave; do
  out=$(cd /tmp && sudo -u "$u" -H --preserve-env=OPENCODE_DISABLE_AUTOUPDATE,OPENCODE_DISABLE_MODELS_FETCH,OPENCODE_DISABLE_DEFAULT_PLUGINS,OPENCODE_DISABLE_LSP_DOWNLOAD,OPENCODE_DISABLE_PROJECT_CONFIG opencode debug config) || fail "opencode debug config as $u failed"
  base=$(printf '%s' "$out" | python3 -c 'import json,sys; p=json.load(sys.stdin).get("provider",{}).get("omniroute"); print(p["options"]["baseURL"] if p else "none")')
  want=http://127.0.0.1:20128/v1; [ "$u" = dave ] && want=none
  [ "$base" = "$want" ] || fail "OpenCode as $u: omniroute baseURL $base, expected $want"
done
# The schedule: the units as opencode_pull_schedule asked (run.sh checked that the timer fired).
svc=/etc/systemd/system/omniroute-opencode-pull.service
tmr=/etc/systemd/system/omniroute-opencode-pull.timer
grep -qxF "ExecStart=/usr/local/bin/ansible-pull -U /srv/omniroute-opencode.git -C main -d /opt/omniroute-opencode-pull/ansible_collections/omniroute/opencode -e '{\"opencode_pull_vars_files\": [\"/etc/omniroute-opencode/fleet.yml\"]}' playbooks/pull.yml" $svc \
  || fail "$svc: $(grep ExecStart $svc)"
grep -qx 'OnUnitActiveSec=30min' $tmr || fail "$tmr: no 30 min interval"
grep -qx 'RandomizedDelaySec=0min' $tmr || fail "$tmr: splay 0 not applied"
grep -qx 'Environment=ANSIBLE_COLLECTIONS_PATH=/opt/omniroute-opencode-pull' $svc || fail "$svc: no collections path"
[ "$(systemctl is-enabled omniroute-opencode-pull.timer)" = enabled ] || fail "the timer is not enabled"
[ "$(systemctl is-active omniroute-opencode-pull.timer)" = active ] || fail "the timer is not active"
# The timer's run used its own base_dir: a checkout of the repository there.
[ "$(git -C /opt/omniroute-opencode-pull/ansible_collections/omniroute/opencode rev-parse --is-inside-work-tree)" = true ] \
  || fail "no checkout in the schedule's base_dir"
# What OpenCode itself lists as alice's stored credentials.
creds=$(cd /tmp && sudo -u alice -H --preserve-env=OPENCODE_DISABLE_AUTOUPDATE opencode auth list 2>&1) || fail "opencode auth list as alice failed"
printf '%s' "$creds" | grep -qi omniroute || fail "OpenCode does not list alice's omniroute credential: $creds"
echo "test-pull verify: files, keys, OpenCode's view and the schedule are right"
