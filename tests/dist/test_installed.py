"""The installed artifact works (make test-installed).

The tarball is installed with `ansible-galaxy collection install` into a scratch collections
path outside the clone. Every command then runs from a scratch directory outside the clone, in
an environment built from nothing: ANSIBLE_COLLECTIONS_PATH is that scratch path alone, no
PYTHONPATH, no ansible.cfg, a throwaway HOME. Only the controller's own programs (ansible-core
in the development virtualenv) come from the clone's .venv. Then:
- ansible-doc renders every module, filter and the role, and each is documented from the
  installed copy (its file name is under the scratch path);
- the omniroute.opencode.configure playbook runs in check mode and writes nothing;
- the role README's example playbook, taken from the installed README, converges for the
  current user with the throwaway HOME, and a second run changes nothing.
No key appears in any output. Environment: DIST_TARBALL.
"""
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARBALL = os.environ.get("DIST_TARBALL", "")
# The controller's programs: the virtualenv running this test (ansible-core pinned by the project).
VENV_BIN = os.path.dirname(sys.executable)
KEY = "sk-installed-%d-5e3cf1a2b7" % os.getpid()
CONFIG_ENTRY_MODELS = ["auto", "claude-opus-4-7"]


class Installed(object):
    def __init__(self, scratch):
        self.scratch = scratch
        self.collections = os.path.join(scratch, "collections")
        self.home = os.path.join(scratch, "home")
        self.work = os.path.join(scratch, "work")
        for d in (self.collections, self.home, self.work):
            os.makedirs(d)
        self.env = {
            "PATH": VENV_BIN + ":/usr/local/bin:/usr/bin:/bin",
            "HOME": self.home,
            "USER": pwd.getpwuid(os.getuid()).pw_name,
            "LOGNAME": pwd.getpwuid(os.getuid()).pw_name,
            "LANG": "C.UTF-8",
            "ANSIBLE_COLLECTIONS_PATH": self.collections,
            "ANSIBLE_HOME": os.path.join(scratch, "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": os.path.join(scratch, "tmp"),
            "ANSIBLE_REMOTE_TMP": os.path.join(scratch, "remote-tmp"),
            "ANSIBLE_ASYNC_DIR": os.path.join(scratch, "async"),
            "ANSIBLE_NOCOLOR": "1",
            # (the Python warning the venv's cryptography prints at every start is not Ansible's)
            "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore:DSA is deprecated",
        }
        self.outputs = []

    def run(self, *args, **kw):
        return self.run_json(*args, **kw)[::2]

    def run_json(self, *args, **kw):
        """``(rc, stdout, stdout + stderr)``: a JSON answer is read from stdout alone (once, a CI
        run's ansible CLIs printed Python SyntaxWarnings about ``<unknown>`` on stderr, which broke
        parsing the two together); every output still joins the secret greps."""
        env = dict(self.env, **kw.pop("env", {}))
        proc = subprocess.run(list(args), cwd=self.work, env=env, capture_output=True, text=True, timeout=600, check=False)
        out = proc.stdout + proc.stderr
        self.outputs.append((" ".join(args), out))
        return proc.returncode, proc.stdout, out


@pytest.fixture(scope="module")
def installed():
    if not TARBALL:
        pytest.fail("DIST_TARBALL must be set (run `make test-installed`)")
    scratch = os.path.realpath(tempfile.mkdtemp(prefix="omniroute-installed."))
    try:
        inst = Installed(scratch)
        rc, out = inst.run("ansible-galaxy", "collection", "install", TARBALL, "-p", inst.collections)
        inst.install = (rc, out)
        yield inst
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def warnings_in(out):
    return [l for l in out.splitlines() if re.match(r"\s*\[(WARNING|DEPRECATION WARNING|ERROR)\]", l) or l.startswith("ERROR!")]


def test_tarball_installs_cleanly(installed):
    rc, out = installed.install
    assert rc == 0, out
    assert "omniroute.opencode:" in out and "was installed successfully" in out, out
    assert warnings_in(out) == []
    manifest = os.path.join(installed.collections, "ansible_collections", "omniroute", "opencode", "MANIFEST.json")
    assert os.path.isfile(manifest) and not os.path.islink(os.path.dirname(manifest))


def test_the_clone_is_on_no_path(installed):
    """Nothing the commands see leads to the clone, except the controller's own virtualenv."""
    assert not installed.scratch.startswith(ROOT + os.sep)
    assert not installed.work.startswith(ROOT + os.sep)
    for name, value in installed.env.items():
        for part in value.split(":"):
            assert not part.startswith(ROOT) or part == VENV_BIN, "%s=%s leads into the clone" % (name, value)
    assert "PYTHONPATH" not in installed.env and "ANSIBLE_CONFIG" not in installed.env
    assert not os.path.exists(os.path.join(installed.work, "ansible.cfg"))
    # The controller's Python has no path into the clone's sources either (only the venv's own).
    rc, stdout, out = installed.run_json(os.path.join(VENV_BIN, "python"), "-c", "import json, sys; print(json.dumps(sys.path))")
    assert rc == 0, out
    for entry in json.loads(stdout):
        assert not entry.startswith(ROOT) or entry.startswith(os.path.join(ROOT, ".venv") + os.sep), entry


def test_ansible_finds_the_collection_only_in_the_scratch_path(installed):
    rc, stdout, out = installed.run_json("ansible-galaxy", "collection", "list", "omniroute.opencode", "--format", "json")
    assert rc == 0, out
    found = json.loads(stdout[stdout.index("{"):])
    with open(os.path.join(ROOT, "galaxy.yml")) as fh:
        version = str(yaml.safe_load(fh)["version"])
    assert found == {os.path.join(installed.collections, "ansible_collections"): {"omniroute.opencode": {"version": version}}}


def source_list(kind):
    """The plugins of one kind in the source tree (the clone's collection link), for comparison."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               PYTHONWARNINGS="ignore::DeprecationWarning,ignore:DSA is deprecated")
    out = subprocess.run([os.path.join(VENV_BIN, "ansible-doc"), "-t", kind, "-l", "--json", "omniroute.opencode"],
                         env=env, capture_output=True, text=True, check=True).stdout
    return sorted(json.loads(out))


@pytest.mark.parametrize("kind", ["module", "filter"])
def test_ansible_doc_renders_every_plugin_from_the_installed_copy(installed, kind):
    rc, stdout, out = installed.run_json("ansible-doc", "-t", kind, "-l", "--json", "omniroute.opencode")
    assert rc == 0, out
    names = sorted(json.loads(stdout))
    assert names and names == source_list(kind), "the installed collection lists other %ss than the source" % kind
    rc, stdout, out = installed.run_json("ansible-doc", "-t", kind, "--json", *names)
    assert rc == 0, out
    docs = json.loads(stdout)
    prefix = os.path.join(installed.collections, "ansible_collections", "omniroute", "opencode") + os.sep
    for name in names:
        assert docs[name]["doc"]["filename"].startswith(prefix), "%s documented from %s" % (name, docs[name]["doc"]["filename"])
    for name in names:
        rc, out = installed.run("ansible-doc", "-t", kind, name)
        assert rc == 0 and warnings_in(out) == [], out
        assert name in out and "short_description" not in out, out[:2000]


def test_ansible_doc_renders_the_role(installed):
    rc, out = installed.run("ansible-doc", "-t", "role", "omniroute.opencode.opencode")
    assert rc == 0 and warnings_in(out) == [], out
    assert re.search(r"ENTRY POINT: \W*main\b", out) and "opencode_base_url" in out, out[:2000]


def home_files(installed):
    return sorted(os.path.relpath(os.path.join(d, f), installed.home)
                  for d, dummy, fs in os.walk(installed.home) for f in fs)


def test_configure_playbook_check_mode_writes_nothing(installed):
    rc, out = installed.run("ansible-playbook", "-i", "localhost,", "omniroute.opencode.configure", "--check", "--diff",
                            env={"OMNIROUTE_API_KEY": KEY, "OMNIROUTE_BASE_URL": "http://127.0.0.1:9"})
    assert rc == 0, out
    assert warnings_in(out) == [], out
    assert re.search(r"localhost\s+: ok=\d+\s+changed=[1-9]", out), out
    assert "http://127.0.0.1:9/v1" in out, "the diff does not show the entry to be written"
    assert home_files(installed) == []


def readme_playbook(installed):
    path = os.path.join(installed.collections, "ansible_collections", "omniroute", "opencode", "roles", "opencode", "README.md")
    with open(path) as fh:
        blocks = re.findall(r"```yaml\n(.*?)```", fh.read(), re.S)
    plays = [b for b in blocks if isinstance(yaml.safe_load(b), list)]
    assert len(plays) == 1, "the role README should hold exactly one playbook"
    return plays[0]


def test_role_readme_playbook_converges_and_is_idempotent(installed):
    with open(os.path.join(installed.work, "opencode.yml"), "w") as fh:
        fh.write(readme_playbook(installed))
    key_env = {"OMNIROUTE_API_KEY": KEY}
    # -vvv: every module file Ansible uses is named; the collection's must be the installed ones.
    rc, out = installed.run("ansible-playbook", "-i", "localhost,", "opencode.yml", "-vvv", env=key_env)
    assert rc == 0, out[-4000:]
    used = re.findall(r"^Using module file (\S+)", out, re.M)
    ours = [p for p in used if "/omniroute/opencode/" in p]
    assert ours, "no module of the collection ran"
    prefix = os.path.join(installed.collections, "ansible_collections", "omniroute", "opencode") + os.sep
    assert all(p.startswith(prefix) for p in ours), ours
    conf_path = os.path.join(installed.home, ".config", "opencode", "opencode.json")
    with open(conf_path) as fh:
        conf = json.load(fh)
    entry = conf["provider"]["omniroute"]
    assert entry["options"]["baseURL"] == "http://localhost:20128/v1"
    assert entry["options"]["apiKey"] == KEY
    assert entry["npm"] == "@ai-sdk/openai-compatible"
    assert sorted(entry["models"]) == CONFIG_ENTRY_MODELS
    assert oct(os.stat(conf_path).st_mode & 0o777) == "0o600"
    rc, out = installed.run("ansible-playbook", "-i", "localhost,", "opencode.yml", env=key_env)
    assert rc == 0, out[-4000:]
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0 ", out), out[-4000:]
    assert warnings_in(out) == [], out


def test_no_key_and_no_clone_path_in_any_output(installed):
    """Runs last (file order): every command's output is collected by then."""
    assert len(installed.outputs) >= 8
    for cmd, out in installed.outputs:
        assert KEY not in out, "the key appears in the output of: %s" % cmd
        leaks = [l for l in out.splitlines() if ROOT in l.replace(os.path.join(ROOT, ".venv"), "")]
        assert leaks == [], "the clone's path appears in the output of %s: %s" % (cmd, leaks[:3])
