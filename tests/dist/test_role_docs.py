"""tests/role_docs.py keeps both pages with the role's variable reference in step (make test-role-docs).

The generator runs on a copy of the files it reads and writes, so these tests never touch the
checkout.
"""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = ("roles/opencode/meta/argument_specs.yml", "roles/opencode/defaults/main.yml",
         "docs/role.md", "roles/opencode/README.md")
PAGES = ("docs/role.md", "roles/opencode/README.md")


@pytest.fixture
def copy(tmp_path):
    for rel in FILES:
        os.makedirs(os.path.dirname(str(tmp_path / rel)), exist_ok=True)
        shutil.copy(os.path.join(ROOT, rel), str(tmp_path / rel))
    return tmp_path


def role_docs(root, mode):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "role_docs.py"), mode, "--root", str(root)],
                          capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_both_pages_match_in_the_checkout(copy):
    rc, out = role_docs(copy, "--check")
    assert rc == 0, out
    assert "docs/role.md and roles/opencode/README.md match" in out


def test_a_changed_spec_makes_both_pages_stale_and_write_fixes_both(copy):
    prose = dict((rel, (copy / rel).read_text().split("<!-- BEGIN")[0]) for rel in PAGES)
    edit(copy / FILES[0], "Provider name OpenCode shows.", "The provider's name in OpenCode.")
    rc, out = role_docs(copy, "--check")
    assert rc == 1
    for rel in PAGES:
        assert "%s is out of date with argument_specs" % rel in out
    rc, out = role_docs(copy, "--write")
    assert rc == 0, out
    rc, out = role_docs(copy, "--check")
    assert rc == 0, out
    for rel in PAGES:
        text = (copy / rel).read_text()
        assert "The provider's name in OpenCode." in text
        assert text.split("<!-- BEGIN")[0] == prose[rel], "the prose before the generated block changed"


def test_a_hand_edit_of_the_readme_alone_is_caught(copy):
    edit(copy / "roles/opencode/README.md", "| `opencode_display_name` |", "| `opencode_display` |")
    rc, out = role_docs(copy, "--check")
    assert rc == 1
    assert "roles/opencode/README.md is out of date" in out
    assert "docs/role.md is out of date" not in out


def test_a_page_without_markers_is_an_error(copy):
    edit(copy / "roles/opencode/README.md", "<!-- END generated -->", "")
    rc, out = role_docs(copy, "--check")
    assert rc != 0
    assert "roles/opencode/README.md: markers missing" in out
