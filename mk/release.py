"""Cut a release of omniroute.opencode: `make release VERSION=x.y.z` (docs/releasing.md).

  release.py VERSION [--make MAKE]

In order, and stopping at the first problem:
1. refuse: a VERSION that is not x.y.z, a working tree with uncommitted or untracked changes, a
   VERSION that is not greater than the last release (changelogs/changelog.yaml and the git tags)
   or lower than the version galaxy.yml is preparing, an existing tag, no changelog fragment,
   fragments that `antsibull-changelog lint` rejects;
2. bump the version in galaxy.yml and in the docs that name a release (VERSIONED_DOCS);
3. `antsibull-changelog release` (changelog.yaml, CHANGELOG.rst; the fragments are consumed);
4. build and check the tarball: `make dist test-galaxy test-installed`;
5. commit "Release x.y.z" and tag it x.y.z (annotated). Nothing is pushed or published.
If step 3 or 4 fails, the tree is put back as it was (it was clean at step 1) and no commit or
tag is made.
"""
import argparse
import glob
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GALAXY = "galaxy.yml"
CHANGELOG = os.path.join("changelogs", "changelog.yaml")
FRAGMENTS = os.path.join("changelogs", "fragments")
# Docs that name the current release (the README's install commands, the platform-repo
# example's requirements.yml), and how they name it: each pattern's group 2 is the version.
VERSIONED_DOCS = (
    "README.md",
    "docs/examples/platform-repo/collections/requirements.yml",
)
MENTIONS = (
    re.compile(r"(omniroute-opencode-)([0-9][0-9.]*[0-9])(\.tar\.gz)"),
    re.compile(r"(omniroute\.opencode:)([0-9][0-9.]*[0-9])()"),
    re.compile(r"""(opencode-ansible\.git,)([0-9][0-9.]*[0-9])()"""),
    re.compile(r"""(^ *#? *version: *["']?)([0-9][0-9.]*[0-9])(["']?$)""", re.M),
)
VERSION_RE = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
# The checks of step 4 (Make targets).
CHECKS = ("dist", "test-galaxy", "test-installed")


class Refused(Exception):
    """The release cannot go ahead; nothing has been changed."""


def parse(version):
    """(major, minor, patch) of an x.y.z version, or None."""
    match = VERSION_RE.match(version or "")
    return tuple(int(p) for p in match.groups()) if match else None


def git(*args, check=True):
    proc = subprocess.run(("git",) + args, cwd=ROOT, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise Refused("git %s failed: %s" % (" ".join(args), proc.stderr.strip()))
    return proc.stdout


def galaxy_version():
    with open(os.path.join(ROOT, GALAXY)) as fh:
        return str(yaml.safe_load(fh)["version"])


def released_versions():
    """Every version released so far: the changelog's releases and the x.y.z tags."""
    versions = set()
    path = os.path.join(ROOT, CHANGELOG)
    if os.path.exists(path):
        with open(path) as fh:
            data = yaml.safe_load(fh) or {}
        versions.update(str(v) for v in (data.get("releases") or {}))
    versions.update(t for t in git("tag", "--list").split() if parse(t))
    return sorted((v for v in versions if parse(v)), key=parse)


def fragments():
    return sorted(f for f in glob.glob(os.path.join(ROOT, FRAGMENTS, "*"))
                  if f.endswith((".yml", ".yaml")))


def refusals(version):
    """Every reason not to release `version` now (empty when it may go ahead)."""
    wanted = parse(version)
    if wanted is None:
        return ["VERSION=%r is not a version x.y.z (e.g. make release VERSION=1.2.0)" % (version or "")]
    problems = []
    dirty = git("status", "--porcelain", "--untracked-files=all")
    if dirty.strip():
        problems.append("the working tree has uncommitted or untracked changes (commit or remove them first):\n%s"
                        % "".join("    " + line + "\n" for line in dirty.splitlines()[:20]).rstrip())
    released = released_versions()
    if released and wanted <= parse(released[-1]):
        problems.append("version %s is not greater than the last release, %s" % (version, released[-1]))
    current = galaxy_version()
    if parse(current) and wanted < parse(current):
        problems.append("version %s is lower than %s, the version galaxy.yml is preparing" % (version, current))
    if git("tag", "--list", version).strip():
        problems.append("tag %s already exists" % version)
    if not fragments():
        problems.append("no changelog fragment in %s/: add one that tells users what changed" % FRAGMENTS)
    return problems


def bump(old, new):
    """Set galaxy.yml's version to new and rename the release in VERSIONED_DOCS."""
    path = os.path.join(ROOT, GALAXY)
    with open(path) as fh:
        text = fh.read()
    text, count = re.subn(r"(?m)^version:.*$", "version: %s" % new, text)
    if count != 1:
        raise Refused("galaxy.yml: expected one `version:` line, found %d" % count)
    with open(path, "w") as fh:
        fh.write(text)
    if old == new:
        return
    for rel in VERSIONED_DOCS:
        doc = os.path.join(ROOT, rel)
        with open(doc) as fh:
            text = fh.read()
        for pattern in MENTIONS:
            text = pattern.sub(lambda m: m.group(1) + (new if m.group(2) == old else m.group(2)) + m.group(3), text)
        with open(doc, "w") as fh:
            fh.write(text)


def mentions(text):
    """Every release version the text names, by MENTIONS."""
    return [m.group(2) for pattern in MENTIONS for m in pattern.finditer(text)]


def run(cmd, what):
    print("release: %s" % what, flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (exit %d)" % (what, proc.returncode))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("version")
    ap.add_argument("--make", default="make", help="the make command that runs the checks")
    ap.add_argument("--changelog", default="antsibull-changelog", help="the antsibull-changelog command")
    args = ap.parse_args()
    version = args.version
    problems = refusals(version)
    if not problems:
        proc = subprocess.run([args.changelog, "lint"], cwd=ROOT, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or proc.stdout.strip():
            problems.append("antsibull-changelog lint rejects the fragments:\n%s%s" % (proc.stdout, proc.stderr))
    if problems:
        for p in problems:
            print("release: refused: %s" % p, file=sys.stderr)
        return 2
    old = galaxy_version()
    head = git("rev-parse", "HEAD").strip()
    try:
        bump(old, version)
        run([args.changelog, "release", "--version", version], "antsibull-changelog release %s" % version)
        # The tree was clean: every change now is the release's (antsibull-changelog's plugin
        # cache is ignored by .gitignore).
        git("add", "-A")
        run(args.make.split() + ["--no-print-directory"] + list(CHECKS),
            "building and checking the tarball (make %s)" % " ".join(CHECKS))
        git("commit", "-q", "-m", "Release %s" % version)
        git("tag", "-a", version, "-m", "omniroute.opencode %s" % version)
    except (RuntimeError, Refused) as exc:
        # The tree was clean before: reset puts back the tracked files, clean removes what the
        # release created and had not staged yet (ignored files such as .build/ stay).
        git("reset", "-q", "--hard", head, check=False)
        git("clean", "-fdq", check=False)
        print("release: %s; the working tree is back at %s, no commit or tag was made" % (exc, head[:12]),
              file=sys.stderr)
        return 1
    tarball = os.path.join(".build", "dist", "omniroute-opencode-%s.tar.gz" % version)
    size = os.path.getsize(os.path.join(ROOT, tarball))
    print("release: %s committed (%s) and tagged %s; tarball %s (%d KiB)" % (
        version, git("rev-parse", "--short", "HEAD").strip(), version, tarball, (size + 1023) // 1024))
    print("release: next: git push origin HEAD %s, then publish the tarball (docs/releasing.md)" % version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
