"""Deterministic generator of realistic OpenCode configs (JSONC) for the benchmarks.

A generated file looks like what a developer's ``~/.config/opencode/opencode.json`` grows into:
``$schema``, top-level settings, many providers with model catalogs (``{env:...}`` keys,
limits, options), MCP servers, agents and permissions, with line and block comments in many
places and trailing commas. It has no ``provider.omniroute`` entry (the state of a laptop before
the rollout), unless ``with_entry`` asks for a stale one (the state after an earlier rollout
with an old base URL and catalog).

Same (size, seed) -> same bytes. Usage: gen_config.py SIZE [--seed N] [--with-entry] [-o FILE]
where SIZE is bytes with an optional K/M suffix (5K, 2M, 20M).
"""
import argparse
import random
import sys

WORDS = (
    "alpha beta gamma delta review refactor build test deploy staging prod docs lint format "
    "search index vector cache proxy gateway router mirror internal team platform data infra "
    "security audit billing reports mobile web backend frontend legacy nightly canary"
).split()
VENDORS = ("anthropic", "openai", "google", "mistral", "groq", "deepseek", "xai", "together",
           "fireworks", "ollama", "lmstudio", "openrouter", "bedrock", "azure", "vertex")
FAMILIES = ("sonnet", "opus", "haiku", "gpt", "o-mini", "gemini-pro", "gemini-flash", "large",
            "codestral", "llama", "qwen-coder", "r1", "grok", "mixtral", "phi")
NPMS = ("@ai-sdk/openai-compatible", "@ai-sdk/anthropic", "@ai-sdk/openai", "@ai-sdk/google",
        "@ai-sdk/mistral", "@ai-sdk/groq")
IND = "  "


def q(s):
    """JSON string literal (ASCII-safe plus a few UTF-8 names)."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def words(self, lo, hi):
        return " ".join(self.r.choice(WORDS) for _word in range(self.r.randint(lo, hi)))

    def line_comment(self, depth):
        return IND * depth + "// " + self.words(3, 10).capitalize() + "."

    def block_comment(self, depth):
        lines = [IND * depth + "/* " + self.words(4, 9)]
        for _line in range(self.r.randint(0, 2)):
            lines.append(IND * depth + " * " + self.words(4, 9))
        lines[-1] += " */"
        return "\n".join(lines)

    def members(self, items, depth, comments=True, trailing=None):
        """Render (key, rendered_value) pairs as object body lines at `depth`.

        Sprinkles comments before members and after commas; the last member gets a trailing
        comma with some probability (OpenCode/jsonc-parser accept it)."""
        r = self.r
        if trailing is None:
            trailing = r.random() < 0.4
        lines = []
        for i, (k, v) in enumerate(items):
            last = i == len(items) - 1
            if comments:
                x = r.random()
                if x < 0.08:
                    lines.append(self.line_comment(depth))
                elif x < 0.11:
                    lines.append(self.block_comment(depth))
            sep = "" if (last and not trailing) else ","
            line = IND * depth + q(k) + ": " + v + sep
            if comments and r.random() < 0.06:
                line += " // " + self.words(1, 5)
            lines.append(line)
        return lines

    def obj(self, items, depth, comments=True, trailing=None):
        if not items:
            return "{}"
        body = self.members(items, depth + 1, comments, trailing)
        return "{\n" + "\n".join(body) + "\n" + IND * depth + "}"

    def inline_obj(self, items):
        return "{ " + ", ".join(q(k) + ": " + v for k, v in items) + " }"

    def arr(self, values, depth, inline=True):
        if inline:
            return "[" + ", ".join(values) + "]"
        body = [IND * (depth + 1) + v + "," for v in values]
        if not self.r.random() < 0.5 and body:
            body[-1] = body[-1][:-1]
        return "[\n" + "\n".join(body) + "\n" + IND * depth + "]"

    # ---- sections -------------------------------------------------------------------------
    def model(self, depth, idx):
        r = self.r
        fam = r.choice(FAMILIES)
        mid = "%s-%d.%d-%s" % (fam, r.randint(1, 5), r.randint(0, 9), r.choice(WORDS))
        if idx % 2:
            mid += "-%d" % idx
        items = [("name", q("%s %s" % (fam.capitalize(), r.choice(WORDS))))]
        if r.random() < 0.7:
            items.append(("limit", self.inline_obj([
                ("context", str(r.choice((32000, 128000, 200000, 1000000)))),
                ("output", str(r.choice((4096, 8192, 16384, 64000))))])))
        if r.random() < 0.3:
            items.append(("reasoning", "true"))
        if r.random() < 0.3:
            items.append(("tool_call", r.choice(("true", "false"))))
        if r.random() < 0.2:
            items.append(("options", self.obj([
                ("temperature", "%.1f" % r.random()),
                ("headers", self.inline_obj([("X-Team", q(r.choice(WORDS)))]))], depth + 1)))
        if len(items) < 4 and not any(item[0] == "options" for item in items) and r.random() < 0.5:
            return mid, self.inline_obj(items)
        return mid, self.obj(items, depth)

    def provider(self, depth, n):
        r = self.r
        vendor = r.choice(VENDORS)
        pid = "%s-%s-%d" % (vendor, r.choice(WORDS), n)
        opts = [("baseURL", q("https://%s.%s.internal.example/v1" % (r.choice(WORDS), vendor)))]
        x = r.random()
        if x < 0.5:
            opts.append(("apiKey", q("{env:%s_API_KEY}" % pid.upper().replace("-", "_"))))
        elif x < 0.7:
            opts.append(("apiKey", q("{file:~/.secrets/%s.key}" % pid)))
        if r.random() < 0.3:
            opts.append(("timeout", str(r.choice((30000, 60000, 300000)))))
        if r.random() < 0.2:
            opts.append(("headers", self.obj([("X-Org", q(r.choice(WORDS))),
                                              ("X-Cost-Center", q(str(r.randint(1000, 9999))))],
                                             depth + 2)))
        models = [self.model(depth + 2, i) for i in range(r.randint(3, 14))]
        items = [("npm", q(r.choice(NPMS))),
                 ("name", q("%s (%s) — %s" % (vendor.capitalize(), r.choice(WORDS), n))),
                 ("options", self.obj(opts, depth + 1)),
                 ("models", self.obj(models, depth + 1))]
        if r.random() < 0.15:
            items.append(("whitelist", self.arr([q(m[0]) for m in models[:3]], depth + 1)))
        return pid, self.obj(items, depth)

    def mcp(self, depth, n):
        r = self.r
        name = "%s-%s-%d" % (r.choice(WORDS), r.choice(("mcp", "tools", "search")), n)
        if r.random() < 0.5:
            items = [("type", q("local")),
                     ("command", self.arr([q("npx"), q("-y"), q("@acme/%s-server" % name),
                                           q("--root"), q("~/src")], depth + 1)),
                     ("environment", self.obj([("LOG_LEVEL", q("info")),
                                               ("TOKEN", q("{env:%s_TOKEN}" % name.upper().replace("-", "_")))],
                                              depth + 1)),
                     ("enabled", r.choice(("true", "false")))]
        else:
            items = [("type", q("remote")),
                     ("url", q("https://%s.tools.internal.example/mcp" % name)),
                     ("headers", self.obj([("Authorization", q("Bearer {env:MCP_TOKEN}"))], depth + 1)),
                     ("enabled", "true")]
        return name, self.obj(items, depth)

    def agent(self, depth, n):
        r = self.r
        name = "%s-%s-%d" % (r.choice(WORDS), r.choice(("agent", "bot", "helper")), n)
        prompt = " ".join(self.words(6, 14) for _part in range(r.randint(1, 4)))
        items = [("description", q(self.words(5, 12).capitalize())),
                 ("mode", q(r.choice(("primary", "subagent", "all")))),
                 ("model", q("%s/%s" % (r.choice(VENDORS), r.choice(FAMILIES)))),
                 ("prompt", q(prompt)),
                 ("temperature", "%.2f" % r.random()),
                 ("tools", self.obj([("write", r.choice(("true", "false"))),
                                     ("edit", r.choice(("true", "false"))),
                                     ("bash", r.choice(("true", "false")))], depth + 1))]
        return name, self.obj(items, depth)


def parse_size(s):
    s = s.strip().upper()
    mult = 1
    if s.endswith("K"):
        mult, s = 1024, s[:-1]
    elif s.endswith("M"):
        mult, s = 1024 * 1024, s[:-1]
    return int(float(s) * mult)


STALE_ENTRY = """{
      // Written by an earlier rollout.
      "npm": "@ai-sdk/openai-compatible",
      "name": "OmniRoute (old)",
      "options": {
        "baseURL": "http://old-gateway.internal.example:20128/v1/v1",
        "apiKey": "sk-stale-0000",
      },
      "models": {
        "gpt-4o": { "name": "gpt-4o" },
      },
    }"""


def generate(size, seed=1, with_entry=False):
    """Return a JSONC document of about `size` bytes (never less, at most a few KB more)."""
    g = Gen(seed * 1000003 + size)
    r = g.r
    head = [
        "{",
        "  // OpenCode configuration for %s. Managed partly by hand, partly by tools." % g.words(1, 2),
        "  /* Providers below are shared by the %s team;" % r.choice(WORDS),
        "     ask in #%s before changing the catalogs. */" % r.choice(WORDS),
        '  "$schema": "https://opencode.ai/config.json",',
        '  "theme": "%s",' % r.choice(("opencode", "tokyonight", "gruvbox")),
        '  "model": "anthropic/claude-sonnet-4-5", // default for chats',
        '  "small_model": "anthropic/claude-haiku-4-5",',
        '  "autoupdate": false,',
        '  "share": "manual",',
        '  "instructions": ["CONTRIBUTING.md", "docs/guidelines.md", ".cursor/rules/*.md",],',
        '  "provider": {',
    ]
    fixed_tail = 600  # permission block and closing braces, roughly
    budget = size - sum(len(x) + 1 for x in head) - fixed_tail
    providers, mcps, agents = [], [], []
    if with_entry:
        providers.append(("omniroute", STALE_ENTRY))
        budget -= len(STALE_ENTRY) + 20
    n = 0
    # Grow providers, MCP servers and agents in fixed proportions until the budget is spent.
    # A typical (5 KB) file gets 2 providers, 1 MCP server and 1 agent.
    while budget > 0 or n < 2:
        n += 1
        k, v = g.provider(2, n)
        providers.append((k, v))
        budget -= len(k) + len(v) + 10
        if n % 3 == 1 and budget > 0:
            k, v = g.mcp(2, n)
            mcps.append((k, v))
            budget -= len(k) + len(v) + 10
        if n % 4 == 1 and budget > 0:
            k, v = g.agent(2, n)
            agents.append((k, v))
            budget -= len(k) + len(v) + 10
    if with_entry and len(providers) > 2:
        # Put the stale entry in the middle, as if other providers were added around it later.
        entry = providers.pop(0)
        providers.insert(len(providers) // 2, entry)
    lines = list(head)
    lines += g.members(providers, 2, trailing=True)
    lines.append("  },")
    if mcps:
        lines.append("  // MCP servers")
        lines.append('  "mcp": ' + g.obj(mcps, 1) + ",")
    if agents:
        lines.append('  "agent": ' + g.obj(agents, 1) + ",")
    lines += [
        '  "permission": {',
        '    "edit": "ask",',
        '    "bash": {',
        '      "git push": "ask", // never push without asking',
        '      "rm -rf *": "deny",',
        '      "*": "allow",',
        "    },",
        '    "webfetch": "allow"',
        "  },",
        '  "formatter": { "prettier": { "disabled": false } },',
        '  "watcher": { "ignore": ["node_modules/**", "dist/**", ".git/**"] }',
        "}",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("size")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--with-entry", action="store_true")
    ap.add_argument("-o", "--output")
    a = ap.parse_args(argv)
    text = generate(parse_size(a.size), a.seed, a.with_entry)
    if a.output:
        with open(a.output, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
