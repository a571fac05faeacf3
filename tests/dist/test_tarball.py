"""What the tarball ships (make test-galaxy; docs/releasing.md, "What the tarball holds").

It holds what users run and read, from the files git tracks, and nothing that only serves
development: no tests, benchmarks, Molecule scenarios of the role, build files, or local state.
Environment: DIST_TARBALL.
"""
import importlib.util
import json
import os
import subprocess
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARBALL = os.environ.get("DIST_TARBALL", "")
# The collection's own build files, not sources.
GENERATED = {"MANIFEST.json", "FILES.json"}
MUST_SHIP = (
    "README.md", "LICENSE", "meta/runtime.yml", "roles/opencode/README.md",
    "roles/opencode/meta/argument_specs.yml", "playbooks/configure.yml", "changelogs/changelog.yaml",
    "docs/examples/platform-repo/collections/requirements.yml", "docs/examples/platform-repo/site.yml",
)
# Prefixes of what must not ship (development only, or local state).
NEVER = ("tests/", "bench/", "ee/", "mk/", ".ci/", ".venv/", ".build/", "roles/opencode/molecule/",
         "roles/opencode/tests/", "changelogs/fragments/", "Makefile", "requirements-dev.txt")
# A generous bound: about 185 KiB today (docs/releasing.md); a jump means something big slipped in.
MAX_BYTES = 600 * 1024


@pytest.fixture(scope="module")
def files():
    if not TARBALL:
        pytest.fail("DIST_TARBALL must be set (run `make test-galaxy`)")
    with tarfile.open(TARBALL) as tar:
        return dict((m.name, m) for m in tar.getmembers() if m.isfile() or m.issym())


def tracked():
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return set(p for p in out.split("\0") if p)


def test_only_tracked_files_ship(files):
    stray = sorted(set(files) - GENERATED - tracked())
    assert stray == [], "files in the tarball that git does not track: %s" % stray


def test_nothing_for_development_ships(files):
    shipped = sorted(n for n in files if n.startswith(NEVER) or "/node_modules/" in n or "__pycache__" in n
                     or n.startswith(".") or "/." in n)
    assert shipped == []


# The top-level entries a collection tarball holds; anything else (a stray download, a build
# product) is a file that slipped into git, not something users need.
# (CHANGELOG.rst is written by `make release`.)
TOP_LEVEL = {"README.md", "LICENSE", "MANIFEST.json", "FILES.json", "requirements.txt", "CHANGELOG.rst", "meta",
             "plugins", "roles", "playbooks", "docs", "changelogs"}


def test_only_collection_content_at_the_top(files):
    stray = sorted(set(n.split("/", 1)[0] for n in files) - TOP_LEVEL)
    assert stray == [], "unexpected top-level entries in the tarball: %s" % stray


def test_what_users_need_ships(files):
    missing = [n for n in MUST_SHIP if n not in files]
    assert missing == []
    with open(os.path.join(ROOT, "galaxy.yml")) as fh:
        galaxy = yaml.safe_load(fh)
    tracked_plugins = set(p for p in tracked() if p.startswith("plugins/") and p.endswith(".py"))
    assert tracked_plugins and tracked_plugins <= set(files)
    assert "roles/opencode/tasks/main.yml" in files
    assert galaxy["readme"] in files


def test_no_symlink_and_no_path_outside(files):
    for name, member in files.items():
        assert not member.issym(), "%s is a symlink" % name
        assert not name.startswith("/") and ".." not in name.split("/"), name


def test_manifest_is_this_collection(files):
    with tarfile.open(TARBALL) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    info = manifest["collection_info"]
    with open(os.path.join(ROOT, "galaxy.yml")) as fh:
        galaxy = yaml.safe_load(fh)
    assert (info["namespace"], info["name"], info["version"]) == ("omniroute", "opencode", galaxy["version"])
    assert os.path.basename(TARBALL) == "omniroute-opencode-%s.tar.gz" % galaxy["version"]


def test_tarball_stays_lean():
    size = os.path.getsize(TARBALL)
    print("tarball: %s, %d bytes" % (os.path.basename(TARBALL), size))
    assert size < MAX_BYTES


def test_links_in_galaxy_yml_are_the_required_one_only():
    """documentation/issues/homepage may only be set to addresses that exist: they are left out
    until the project publishes them (docs/releasing.md). repository is required by Galaxy."""
    with open(os.path.join(ROOT, "galaxy.yml")) as fh:
        galaxy = yaml.safe_load(fh)
    assert galaxy.get("repository", "").startswith("https://")
    assert not set(("documentation", "issues", "homepage")) & set(galaxy)


def load_release():
    spec = importlib.util.spec_from_file_location("release", os.path.join(ROOT, "mk", "release.py"))
    release = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(release)
    return release


def test_docs_name_the_version_being_built():
    """Every tarball name and pinned version in the docs that name a release is galaxy.yml's
    (make release renames them all)."""
    with open(os.path.join(ROOT, "galaxy.yml")) as fh:
        version = str(yaml.safe_load(fh)["version"])
    release = load_release()
    for rel in release.VERSIONED_DOCS:
        with open(os.path.join(ROOT, rel)) as fh:
            found = release.mentions(fh.read())
        assert found, "%s names no release" % rel
        assert set(found) == set([version]), "%s names %s, galaxy.yml is at %s" % (rel, sorted(set(found)), version)
