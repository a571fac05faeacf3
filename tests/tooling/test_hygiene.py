"""The clean-up check of `make test` (tests/setup/hygiene.sh), run against a scratch HOME.

It must catch a real leak (something the project could leave in the user's home, in Ansible's
per-user state or in its own temporary directories) and must ignore what any other Ansible run
on the machine does in ~/.ansible/tmp and ~/.ansible/cp meanwhile. Every path here is under the
test's tmp_path; the script only reads the system files it watches.
"""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, 'tests', 'setup', 'hygiene.sh')


@pytest.fixture
def machine(tmp_path):
    """A contributor's machine in miniature: a home that has used Ansible and OpenCode before,
    the project cache, and the project's own Ansible directories."""
    home = tmp_path / 'home'
    for d in ('.ansible/tmp/ansible-local-4242abcd', '.ansible/cp', '.ansible_async',
              '.cache/omniroute-opencode', '.config/opencode', '.local/share/opencode'):
        (home / d).mkdir(parents=True)
    (home / '.ansible' / 'galaxy_token').write_text('token: placeholder\n')
    (home / '.ansible_async' / '111.222').write_text('{"finished": 1}\n')
    (home / '.config' / 'opencode' / 'opencode.json').write_text('{"theme": "system"}\n')
    project = tmp_path / 'clone' / '.build'
    for d in ('ansible-remote-tmp', 'ansible-home/tmp'):
        (project / d).mkdir(parents=True)
    env = dict(os.environ, HOME=str(home), OMNIROUTE_OPENCODE_CACHE=str(home / '.cache' / 'omniroute-opencode'),
               ANSIBLE_HOME=str(project / 'ansible-home'), ANSIBLE_REMOTE_TMP=str(project / 'ansible-remote-tmp'))
    for var in ('XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'ANSIBLE_LOCAL_TEMP'):
        env.pop(var, None)
    return home, project, env


def check(env, script):
    """hygiene.sh around ``bash -c script``: (exit code, everything it printed)."""
    proc = subprocess.run(['bash', SCRIPT, 'bash', '-c', script], env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=120, check=False)
    return proc.returncode, proc.stdout


def test_a_clean_run_passes(machine):
    home, _project, env = machine
    rc, out = check(env, 'mkdir -p "$OMNIROUTE_OPENCODE_CACHE/npm-cache" && echo cached > "$OMNIROUTE_OPENCODE_CACHE/x"')
    assert rc == 0, out
    assert 'passed and changed nothing' in out


def test_another_ansible_run_in_ansible_tmp_is_ignored(machine):
    """Another run's task directories come and go in ~/.ansible/tmp (one even stays), and its
    connection sockets in ~/.ansible/cp: none of that is the project's."""
    home, _project, env = machine
    rc, out = check(env, 'set -e; cd "$HOME/.ansible"; '
                         'mkdir -p tmp/ansible-tmp-1733-999-123/; echo payload > tmp/ansible-tmp-1733-999-123/AnsiballZ_ping.py; '
                         'mkdir tmp/ansible-local-999xyz; rmdir tmp/ansible-local-4242abcd; '
                         'echo socket > cp/0123456789')
    assert rc == 0, out
    assert os.path.exists(str(home / '.ansible' / 'tmp' / 'ansible-tmp-1733-999-123'))


@pytest.mark.parametrize('leak, shown', [
    ('mkdir "$HOME/.npm"', 'home: .npm'),
    ('mkdir -p "$HOME/.cache/pip"', 'cache: pip'),
    ('mkdir -p "$HOME/.ansible/collections/ansible_collections/containers"', 'HOME/.ansible/collections'),
    ('echo "{}" > "$HOME/.ansible_async/333.444"', 'HOME/.ansible_async/333.444'),
    ('echo "token: other" > "$HOME/.ansible/galaxy_token"', 'HOME/.ansible/galaxy_token'),
    ('echo "{}" > "$HOME/.config/opencode/opencode.json"', '.config/opencode/opencode.json'),
    ('echo "{}" > "$HOME/.local/share/opencode/auth.json"', '.local/share/opencode/auth.json'),
    ('mkdir "$ANSIBLE_REMOTE_TMP/ansible-tmp-1733-1-2"', 'ansible-remote-tmp/ansible-tmp-1733-1-2'),
    ('mkdir "$ANSIBLE_HOME/tmp/ansible-local-77abc"', 'ansible-home/tmp/ansible-local-77abc'),
], ids=['npm', 'pip-cache', 'collection', 'async-job', 'galaxy-token', 'opencode-config', 'auth-store',
        'remote-tmp', 'local-tmp'])
def test_a_leak_is_caught(machine, leak, shown):
    _home, _project, env = machine
    rc, out = check(env, leak)
    assert rc == 1, out
    assert shown in out and 'changed the machine outside the clone' in out, out


def test_a_changed_mode_of_the_temporary_directory_is_caught(machine, tmp_path):
    """Tests that set modes must never set them on the shared temporary directory (here a scratch
    one stands in for it through TMPDIR)."""
    _home, _project, env = machine
    shared = tmp_path / 'shared-tmp'
    shared.mkdir()
    shared.chmod(0o1777)
    rc, out = check(dict(env, TMPDIR=str(shared)), 'chmod 700 "$TMPDIR"')
    assert rc == 1 and str(shared) in out and '700' in out, out


def test_creating_ansible_tmp_itself_is_caught(machine):
    """On a machine where Ansible never ran, ~/.ansible/tmp appearing is the project's doing (a play
    on localhost that expanded ~ as the account's home, as happened once)."""
    home, _project, env = machine
    subprocess.run(['rm', '-rf', str(home / '.ansible')], check=True)
    rc, out = check(env, 'mkdir -p "$HOME/.ansible/tmp/ansible-tmp-1-2-3"')
    assert rc == 1 and 'home: .ansible' in out, out


def test_a_failing_command_fails_with_its_own_exit_code(machine):
    _home, _project, env = machine
    rc, out = check(env, 'exit 3')
    assert rc == 3 and 'failed (exit 3)' in out, out


def test_tests_run_by_hand_keep_ansible_state_in_the_clone_as_make_does(tmp_path):
    """tests/conftest.py gives Ansible the directories the Makefile exports, so a test run by hand,
    outside make, leaves the contributor's home alone (importing ansible made ~/.ansible/tmp)."""
    spec = importlib.util.spec_from_file_location('omr_tests_conftest', os.path.join(REPO, 'tests', 'conftest.py'))
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    with open(os.path.join(REPO, 'Makefile')) as handle:
        exported = dict(re.findall(r'^export (ANSIBLE_(?:HOME|ASYNC_DIR|REMOTE_TMP)) := \$\(CURDIR\)/(\S+)$',
                                   handle.read(), re.M))
    assert dict((k, os.path.join(REPO, v)) for k, v in exported.items()) == conftest.ANSIBLE_STATE

    home = tmp_path / 'home'
    home.mkdir()
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('ANSIBLE_'))
    env['HOME'] = str(home)
    proc = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                           os.path.join(REPO, 'tests', 'unit', 'docs', 'test_substitute.py')],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert sorted(os.listdir(str(home))) == []
