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
install -d -m 0755 /etc/omniroute-opencode
