"""Keep the role's variable reference in step with roles/opencode/meta/argument_specs.yml.

The same generated block goes into every page in DOCS: docs/role.md (the reference in the
repository) and roles/opencode/README.md (the role's README, shipped in the collection tarball
and shown by Galaxy).

  role_docs.py --check   exit 1 (with a diff) when the generated block of any page differs
  role_docs.py --write   regenerate that block in place, in every page
  --root DIR             work on another checkout (tests/dist/test_role_docs.py uses a copy)

Only the text between the BEGIN/END markers is generated; the rest of each page is prose.
It also checks that every variable in defaults/main.yml is in argument_specs and vice versa.
"""
import argparse
import difflib
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = os.path.join("roles", "opencode", "meta", "argument_specs.yml")
DEFAULTS = os.path.join("roles", "opencode", "defaults", "main.yml")
# Every page that carries the generated variable reference (paths relative to ROOT).
DOCS = ("docs/role.md", "roles/opencode/README.md")
BEGIN = "<!-- BEGIN generated from roles/opencode/meta/argument_specs.yml by tests/role_docs.py -->"
END = "<!-- END generated -->"

MARKUP = [
    (re.compile(r"[CVOI]\(([^)]*)\)"), r"`\1`"),
    (re.compile(r"\s+"), " "),
]


def text(value):
    if isinstance(value, list):
        value = " ".join(value)
    value = str(value or "")
    for pattern, repl in MARKUP:
        value = pattern.sub(repl, value)
    return value.strip().replace("|", "\\|")


def fmt_default(opt):
    if "default" not in opt:
        return ""
    value = opt["default"]
    if value in ({}, []):
        return "`%s`" % ("{}" if value == {} else "[]")
    if isinstance(value, list):
        return ", ".join("`%s`" % v for v in value)
    if isinstance(value, bool):
        return "`%s`" % str(value).lower()
    return "`%s`" % value


def fmt_type(opt):
    t = opt.get("type", "str")
    if t == "list" and opt.get("elements"):
        t = "list of %s" % opt["elements"]
    extra = []
    if opt.get("required"):
        extra.append("required")
    if opt.get("no_log"):
        extra.append("secret")
    if opt.get("choices"):
        extra.append("one of " + ", ".join("`%s`" % c for c in opt["choices"]))
    return t + ("" if not extra else " (" + "; ".join(extra) + ")")


def table(options, prefix=""):
    rows = ["| Variable | Type | Default | Description |", "|---|---|---|---|"]
    nested = []
    for name in sorted(options):
        opt = options[name]
        rows.append("| `%s%s` | %s | %s | %s |" % (prefix, name, fmt_type(opt), fmt_default(opt), text(opt.get("description"))))
        if opt.get("options"):
            nested.append((name, opt["options"]))
    out = rows
    for name, sub in nested:
        out += ["", "Keys of each `%s` entry:" % name, ""]
        out += table(sub, prefix="")
    return out


def generate(root=ROOT):
    with open(os.path.join(root, SPECS)) as fh:
        specs = yaml.safe_load(fh)["argument_specs"]
    lines = [BEGIN, ""]
    for entry in sorted(specs):
        spec = specs[entry]
        lines += ["### Entry point `%s`" % entry, "", text(spec.get("short_description")), ""]
        for para in spec.get("description", []):
            lines += ["- " + text(para)]
        lines += [""] + table(spec.get("options", {})) + [""]
    lines += [END]
    return "\n".join(lines) + "\n"


def defaults_mismatch(root=ROOT):
    with open(os.path.join(root, SPECS)) as fh:
        options = yaml.safe_load(fh)["argument_specs"]["main"]["options"]
    with open(os.path.join(root, DEFAULTS)) as fh:
        defaults = yaml.safe_load(fh) or {}
    problems = []
    for name in defaults:
        if name not in options:
            problems.append("defaults/main.yml sets %s, which argument_specs does not describe" % name)
    for name, opt in options.items():
        if not name.startswith("opencode_"):
            problems.append("%s does not start with opencode_" % name)
        if "default" in opt and name not in defaults:
            problems.append("argument_specs gives %s a default that defaults/main.yml does not set" % name)
        if "default" in opt and name in defaults and defaults[name] != opt["default"]:
            problems.append("%s: default %r in argument_specs, %r in defaults/main.yml" % (name, opt["default"], defaults[name]))
    return problems


def splice(path, wanted):
    """Return (current block, page with the wanted block) of the page at path."""
    with open(path) as fh:
        doc = fh.read()
    if BEGIN not in doc or END not in doc:
        raise SystemExit("%s: markers missing (%s ... %s)" % (path, BEGIN, END))
    head, rest = doc.split(BEGIN, 1)
    current, tail = rest.split(END, 1)
    current = BEGIN + current + END + "\n"
    tail = tail[1:] if tail.startswith("\n") else tail
    return current, head + wanted + tail


def main():
    ap = argparse.ArgumentParser()
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", action="store_true")
    group.add_argument("--write", action="store_true")
    ap.add_argument("--root", default=ROOT)
    args = ap.parse_args()
    wanted = generate(args.root)
    problems = defaults_mismatch(args.root)
    for rel in DOCS:
        path = os.path.join(args.root, rel)
        current, page = splice(path, wanted)
        if args.write:
            with open(path, "w") as fh:
                fh.write(page)
            print("role_docs.py: wrote %s" % rel)
        elif current != wanted:
            sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), wanted.splitlines(True), rel, "generated"))
            problems.append("%s is out of date with argument_specs: run `make role-docs`" % rel)
    for p in problems:
        print("role_docs.py: " + p, file=sys.stderr)
    if problems:
        return 1
    if args.check:
        with open(os.path.join(args.root, SPECS)) as fh:
            count = len(yaml.safe_load(fh)["argument_specs"]["main"]["options"])
        print("role_docs.py: %s match argument_specs (%d variables)" % (" and ".join(DOCS), count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
