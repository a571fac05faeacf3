"""make release (make test-release): its refusals, a failed check, and one real release.

Each test works in a scratch repository made from this clone's tracked files (as they are in
the working tree), under .build/release-test/: no commit or tag is ever made in the clone.
The scratch repositories use this clone's virtualenv (VENV) and the project cache.
"""
import os
import re
import shutil
import subprocess
import sys
import tarfile
import json

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.dirname(os.path.dirname(sys.executable))
WORK = os.path.join(ROOT, ".build", "release-test")
IDENTITY = {
    "GIT_AUTHOR_NAME": "release test", "GIT_AUTHOR_EMAIL": "release-test@example.invalid",
    "GIT_COMMITTER_NAME": "release test", "GIT_COMMITTER_EMAIL": "release-test@example.invalid",
}


def git(repo, *args):
    return subprocess.run(("git",) + args, cwd=repo, env=dict(os.environ, **IDENTITY),
                          capture_output=True, text=True, check=True).stdout


def version_of(repo):
    with open(os.path.join(repo, "galaxy.yml")) as fh:
        return str(yaml.safe_load(fh)["version"])


def next_minor(version):
    major, minor = (int(p) for p in version.split(".")[:2])
    return "%d.%d.0" % (major, minor + 1)


@pytest.fixture
def repo(request):
    """A scratch git repository holding this clone's tracked files, in one commit."""
    path = os.path.join(WORK, request.node.name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    files = subprocess.run(["git", "ls-files", "-z", "--cached"], cwd=ROOT, capture_output=True, check=True).stdout
    present = b"\0".join(f for f in files.split(b"\0") if f and os.path.lexists(os.path.join(ROOT.encode(), f)))
    # (tar keeps modification times: the shared virtualenv's stamp stays newer than requirements-dev.txt)
    pack = subprocess.run(["tar", "-C", ROOT, "--null", "-T", "-", "-cf", "-"], input=present, capture_output=True, check=True)
    subprocess.run(["tar", "-C", path, "-xf", "-"], input=pack.stdout, check=True)
    git(path, "init", "-q")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "scratch copy of the clone")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def release(repo, version):
    env = dict(os.environ, VENV=VENV, **IDENTITY)
    # (PYTEST_ADDOPTS too: a contributor's --durations would list the importer test's name in the
    # output this test reads.)
    for name in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    proc = subprocess.run(["make", "-C", repo, "--no-print-directory", "release", "VERSION=%s" % version],
                          env=env, capture_output=True, text=True, timeout=1800, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def state(repo):
    """What a refused or failed release must leave as it was."""
    return (git(repo, "rev-parse", "HEAD"), git(repo, "tag", "--list"), git(repo, "status", "--porcelain"),
            version_of(repo))


def assert_refused(repo, version, reason):
    before = state(repo)
    rc, out = release(repo, version)
    assert rc != 0, out
    assert "release: refused: " in out and reason in out, out
    assert state(repo) == before


def test_refuses_a_version_that_is_not_x_y_z(repo):
    assert_refused(repo, "1.2", "is not a version x.y.z")
    assert_refused(repo, "", "is not a version x.y.z")
    assert_refused(repo, "v1.2.0", "is not a version x.y.z")


def test_refuses_a_dirty_tree(repo):
    with open(os.path.join(repo, "README.md"), "a") as fh:
        fh.write("\nan uncommitted change\n")
    assert_refused(repo, next_minor(version_of(repo)), "uncommitted or untracked changes")
    git(repo, "checkout", "--", "README.md")
    with open(os.path.join(repo, "notes.txt"), "w") as fh:
        fh.write("untracked\n")
    assert_refused(repo, next_minor(version_of(repo)), "notes.txt")


def test_refuses_a_version_lower_than_galaxy_yml(repo):
    current = version_of(repo)
    major, minor, patch = (int(p) for p in current.split("."))
    lower = "%d.%d.%d" % (major, minor, patch - 1) if patch else "%d.%d.9" % (major, minor - 1) if minor else None
    assert lower, "galaxy.yml's version %s has no lower x.y.z to try" % current
    assert_refused(repo, lower, "is lower than %s" % current)


def test_refuses_without_fragments(repo):
    for name in os.listdir(os.path.join(repo, "changelogs", "fragments")):
        if name.endswith((".yml", ".yaml")):
            git(repo, "rm", "-q", os.path.join("changelogs", "fragments", name))
    git(repo, "commit", "-q", "-m", "no fragments")
    assert_refused(repo, next_minor(version_of(repo)), "no changelog fragment")


def test_refuses_fragments_the_linter_rejects(repo):
    with open(os.path.join(repo, "changelogs", "fragments", "zz-broken.yml"), "w") as fh:
        fh.write("minor_changes: not a list\nno_such_section:\n  - x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a broken fragment")
    assert_refused(repo, next_minor(version_of(repo)), "antsibull-changelog lint rejects the fragments")


def test_a_failed_check_leaves_no_commit_and_no_tag(repo):
    """The checks fail (a make that always fails): the tree is put back, fragments and all."""
    before = state(repo)
    proc = subprocess.run([os.path.join(VENV, "bin", "python"), "mk/release.py", next_minor(version_of(repo)),
                           "--make", "false", "--changelog", os.path.join(VENV, "bin", "antsibull-changelog")],
                          cwd=repo, env=dict(os.environ, **IDENTITY), capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "no commit or tag was made" in out
    assert state(repo) == before
    assert not os.path.exists(os.path.join(repo, "CHANGELOG.rst")) or "CHANGELOG.rst" in git(repo, "ls-files")


def test_one_release(repo):
    old = version_of(repo)
    new = next_minor(old)
    head = git(repo, "rev-parse", "HEAD").strip()
    rc, out = release(repo, new)
    assert rc == 0, out[-6000:]
    # The checks ran: galaxy-importer and the installed artifact, on the new version's tarball.
    assert "omniroute-opencode-%s.tar.gz" % new in out
    assert "test_importer_logs_no_warning_or_error" not in out and " passed" in out, out[-3000:]
    # make test runs test-galaxy and test-installed only here: both ran whole, every test passed.
    summaries = [line for line in out.splitlines() if re.search(r"\b\d+ passed\b.* in [0-9.]+s", line)]
    assert len(summaries) == 2, "test-galaxy and test-installed did not both run: %s" % summaries
    for line in summaries:
        assert not re.search(r"failed|error|skipped|deselected|xfail|xpass", line), line
    # One commit on top, tagged, and nothing left over.
    assert git(repo, "rev-parse", "HEAD~1").strip() == head
    assert git(repo, "log", "-1", "--format=%s").strip() == "Release %s" % new
    assert git(repo, "rev-parse", "%s^{commit}" % new).strip() == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "cat-file", "-t", new).strip() == "tag"
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    # galaxy.yml, the changelog, the fragments, the docs naming the release.
    assert version_of(repo) == new
    with open(os.path.join(repo, "changelogs", "changelog.yaml")) as fh:
        assert new in yaml.safe_load(fh)["releases"]
    assert "CHANGELOG.rst" in git(repo, "ls-files")
    with open(os.path.join(repo, "CHANGELOG.rst")) as fh:
        assert "v%s" % new in fh.read()
    assert [f for f in os.listdir(os.path.join(repo, "changelogs", "fragments")) if f.endswith(".yml")] == []
    with open(os.path.join(repo, "docs", "examples", "platform-repo", "collections", "requirements.yml")) as fh:
        requirements = fh.read()
    assert "omniroute-opencode-%s.tar.gz" % new in requirements and old not in requirements
    # The tarball is the release's.
    tarball = os.path.join(repo, ".build", "dist", "omniroute-opencode-%s.tar.gz" % new)
    with tarfile.open(tarball) as tar:
        assert json.load(tar.extractfile("MANIFEST.json"))["collection_info"]["version"] == new
        assert "CHANGELOG.rst" in tar.getnames()
    # The same version again, or a lower one, is refused now.
    assert_refused(repo, new, "is not greater than the last release, %s" % new)
    assert_refused(repo, old if old != new else "0.0.1", "is not greater than the last release")
