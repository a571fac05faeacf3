#!/usr/bin/env bash
# Runs inside the pull-mode laptop (bash -s, as root): the developer accounts and their own files.
for u in alice bob carol dave; do useradd -m -s /bin/bash "$u"; done
install -d -o alice -g alice -m 0700 /home/alice/.config /home/alice/.config/opencode
cat > /home/alice/.config/opencode/opencode.jsonc <<'JSONC'
{
  // alice's own settings -- must survive every pull
  "theme": "nord",
}
JSONC
chown alice:alice /home/alice/.config/opencode/opencode.jsonc
install -d -o dave -g dave -m 0700 /home/dave/.config /home/dave/.config/opencode
cat > /home/dave/.config/opencode/opencode.json <<'JSON'
{
  // dave is leaving this team
  "provider": {"omniroute": {"npm": "@ai-sdk/openai-compatible", "options": {"baseURL": "http://127.0.0.1:20128/v1", "apiKey": "sk-pulltest-old-dave-0d0d0d"}, "models": {"auto": {}}}}
}
JSON
chown dave:dave /home/dave/.config/opencode/opencode.json
chmod 0600 /home/dave/.config/opencode/opencode.json
# No vault in pull mode: alice stored her own OmniRoute key (what `opencode auth login` writes),
# as alice, next to another provider's key; bob has stored none. dave, who is leaving, has one too.
own_auth() {  # own_auth USER: stdin becomes USER's auth.json, written by USER
  sudo -u "$1" -H sh -euc 'umask 077; mkdir -p "$HOME/.local/share/opencode"; cat > "$HOME/.local/share/opencode/auth.json"'
}
own_auth alice <<'JSON'
{
  "anthropic": {"type": "api", "key": "sk-pulltest-alice-anthropic-7e7e7e"},
  "omniroute":   { "type": "api", "key": "sk-pulltest-alice-own-a11ce0" }
}
JSON
own_auth dave <<'JSON'
{"omniroute": {"type": "api", "key": "sk-pulltest-old-dave-auth-0e0e0e"}, "openai": {"type": "api", "key": "sk-pulltest-dave-openai-0f0f0f"}}
JSON
# Fingerprints only (no key on disk elsewhere): verify.sh checks alice's file is unchanged.
sha256sum /home/alice/.local/share/opencode/auth.json > /root/alice-auth.sha256
install -d -m 0755 /etc/omniroute-opencode
