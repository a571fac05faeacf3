"""Galaxy's importer on the built tarball (make test-galaxy).

galaxy-importer (the checker Galaxy and Automation Hub run, pinned in galaxy-importer.txt) loads
the tarball, documents every plugin with ansible-doc and lints the collection with ansible-lint.
It exits 0 even when it logged warnings and errors, so its output is read here: any line it
logged at WARNING or above fails the suite.

Environment: DIST_TARBALL (the tarball), GALAXY_IMPORTER_PYTHON (its virtualenv's python).
"""
import json
import os
import re
import subprocess
import tarfile

import pytest

TARBALL = os.environ.get("DIST_TARBALL", "")
IMPORTER_PYTHON = os.environ.get("GALAXY_IMPORTER_PYTHON", "")

# What galaxy-importer 0.4.44 logs: INFO lines bare, every other level as "LEVEL: message"
# (galaxy_importer.main.CustomFormatter); a message may span several lines.
LOGGED = re.compile(r"^(DEBUG|WARNING|ERROR|CRITICAL): ")
DONE = "Importer processing completed successfully"
STEPS = ("Getting doc strings via ansible-doc", "Linting collection via ansible-lint", "...ansible-lint run complete")

CONFIG = """[galaxy-importer]
RUN_ANSIBLE_DOC = True
RUN_ANSIBLE_LINT = True
OFFLINE_ANSIBLE_LINT = True
RUN_ANSIBLE_TEST = False
CHECK_CHANGELOG = True
LOG_LEVEL_MAIN = INFO
ANSIBLE_LOCAL_TMP = {tmp}
TMP_ROOT_DIR = {tmp}
"""


def problems(output, returncode):
    """Every reason to reject an importer run, from its exit status and its output."""
    found = []
    if returncode != 0:
        found.append("galaxy-importer exited %d" % returncode)
    lines = output.splitlines()
    for i, line in enumerate(lines):
        match = LOGGED.match(line)
        if match and match.group(1) != "DEBUG":
            found.append("line %d: %s" % (i + 1, line[:500]))
    for step in STEPS:
        if step not in output:
            found.append("the importer did not log %r: that check did not run" % step)
    if DONE not in output:
        found.append("the importer did not finish (%r missing)" % DONE)
    return found


# Real output of galaxy-importer 0.4.44 (shortened) on a tarball with a module without
# documentation and an unnamed shell task: it exited 0.
BAD_RUN = """Importing with galaxy-importer 0.4.44
Getting doc strings via ansible-doc
ERROR: Error running ansible-doc: cmd="ansible-doc --type module --json omniroute.opencode.broken" returncode="1" b"..."
Finding content inside collection
Loading module broken
Linting collection via ansible-lint 26.10.1...
WARNING: roles/opencode/tasks/pull_schedule.yml:132: name[missing][/]: All tasks should be named.
WARNING: roles/opencode/tasks/pull_schedule.yml:132: no-changed-when: Commands should not change things if nothing needs doing.
...ansible-lint run complete
Collection loading complete
Importer processing completed successfully
"""
GOOD_RUN = """Importing with galaxy-importer 0.4.44
Getting doc strings via ansible-doc
Finding content inside collection
Loading module provider
Loading role opencode
Linting collection via ansible-lint 26.10.1...
...ansible-lint run complete
Collection loading complete
Importer processing completed successfully
"""


def test_problems_reads_the_importer_log():
    assert problems(GOOD_RUN, 0) == []
    bad = problems(BAD_RUN, 0)
    assert len(bad) == 3
    assert "omniroute.opencode.broken" in bad[0]
    assert "name[missing]" in bad[1]


def test_problems_catches_a_failed_or_partial_run():
    refused = "Importing with galaxy-importer 0.4.44\nLoading role opencode\nERROR: The import failed for the following reason: No role readme found.\n"
    found = problems(refused, 1)
    assert "galaxy-importer exited 1" in found
    assert any("No role readme found" in p for p in found)
    assert any("did not finish" in p for p in found)
    no_lint = GOOD_RUN.replace("Linting collection via ansible-lint 26.10.1...\n...ansible-lint run complete\n", "")
    assert any("ansible-lint" in p for p in problems(no_lint, 0))


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """Run galaxy-importer once on the tarball: (output, returncode, importer_result.json)."""
    if not TARBALL or not IMPORTER_PYTHON:
        pytest.fail("DIST_TARBALL and GALAXY_IMPORTER_PYTHON must be set (run `make test-galaxy`)")
    work = tmp_path_factory.mktemp("galaxy-importer")
    tmp = work / "tmp"
    tmp.mkdir()
    (work / "galaxy-importer.cfg").write_text(CONFIG.format(tmp=tmp))
    venv_bin = os.path.dirname(IMPORTER_PYTHON)
    env = {
        # The importer calls ansible-doc and ansible-lint through PATH: its own, pinned ones.
        "PATH": venv_bin + ":/usr/local/bin:/usr/bin:/bin",
        "HOME": str(work / "home"),
        "ANSIBLE_HOME": str(work / "ansible-home"),
        "GALAXY_IMPORTER_CONFIG": str(work / "galaxy-importer.cfg"),
        "LANG": "C.UTF-8",
    }
    proc = subprocess.run([IMPORTER_PYTHON, "-m", "galaxy_importer.main", TARBALL], cwd=str(work),
                          env=env, capture_output=True, text=True, timeout=900, check=False)
    output = proc.stdout + proc.stderr
    print(output)
    result_path = work / "importer_result.json"
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    return output, proc.returncode, result


def test_importer_logs_no_warning_or_error(imported):
    output, returncode, dummy = imported
    assert problems(output, returncode) == []


def tarball_names():
    with tarfile.open(TARBALL) as tar:
        return set(m.name for m in tar.getmembers())


def test_every_module_and_filter_is_documented(imported):
    """ansible-doc gave the importer the documentation of every module and filter in the tarball."""
    result = imported[2]
    names = tarball_names()
    modules = set(n[len("plugins/modules/"):-3] for n in names
                  if n.startswith("plugins/modules/") and n.endswith(".py"))
    assert modules, "no module in the tarball"
    contents = result["docs_blob"]["contents"]
    documented = dict(((c["content_type"], c["content_name"]), c) for c in contents)
    for module in sorted(modules):
        entry = documented.get(("module", module))
        assert entry and entry.get("doc_strings", {}).get("doc"), "module %s has no documentation in the import" % module
    # Filters: galaxy-importer 0.4.44 runs ansible-doc on every filter (a failure is an ERROR line)
    # but files its docs under the plugin file's name, so a file holding several filters shows
    # none here. test_installed.py renders each filter with ansible-doc.
    # A filter documented in its own YAML file (report_rows.yml and the like) is listed under that name.
    filter_files = set(n[len("plugins/filter/"):].rsplit(".", 1)[0] for n in names
                       if n.startswith("plugins/filter/") and n.endswith((".py", ".yml")))
    assert filter_files and filter_files == set(c["content_name"] for c in contents if c["content_type"] == "filter")


def test_the_role_and_its_readme_are_imported(imported):
    result = imported[2]
    roles = [c for c in result["docs_blob"]["contents"] if c["content_type"] == "role"]
    assert [r["content_name"] for r in roles] == ["opencode"]
    readme = roles[0].get("readme_html") or ""
    assert "opencode_base_url" in readme, "the role README Galaxy shows lacks the variable reference"
    assert result["requires_ansible"] == ">=2.16.0"
