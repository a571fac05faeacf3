# -*- coding: utf-8 -*-
"""The provider module seen from other processes (issue 10): real ``ansible -vvv`` runs grepped
for every secret of the files, and the module run as another uid (EACCES).

These start the controller CLI of the checkout's venv and switch uids, so they need that venv
and code every uid can read: ``make test-unit`` runs them. The ansible-test runs of the matrix
(mk/matrix.mk) leave this file out, since their trees live in root's cache and their unit venvs
carry no ``ansible`` CLI.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
import tempfile

import pytest

from ansible_collections.omniroute.opencode.plugins.modules import provider
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.test_provider_hardening import (  # noqa: F401 pylint: disable=unused-import
    HOSTILE_AUTH, HOSTILE_CONFIG, KEY, NOBODY, assert_no_file_secret, auth, cfg, fmode,
    require_root, write)
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import patch_module_args


# Every test here switches uids or changes ownership: the root tier (make test-unit-root).
pytestmark = pytest.mark.needs_root


def test_vvv_runs_leak_no_secret_of_the_files(home):
    """ansible -vvv (module arguments, results, diffs) for present, check, absent."""
    write(cfg(home), HOSTILE_CONFIG)
    write(auth(home), HOSTILE_AUTH, 0o600)
    env = dict(os.environ, HOME=str(home), ANSIBLE_NOCOLOR='1', ANSIBLE_LOCAL_TEMP=str(home / 'tmp'),
               ANSIBLE_REMOTE_TMP=str(home / 'tmp'), ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_HOME=str(home / '.ansible-home'))
    env.pop('XDG_CONFIG_HOME', None)
    env.pop('XDG_DATA_HOME', None)
    # The collection this test imports is the one ansible runs.
    here = os.path.abspath(provider.__file__)
    env['ANSIBLE_COLLECTIONS_PATH'] = here[:here.rindex(os.sep + 'ansible_collections' + os.sep)]
    ansible = os.path.join(os.path.dirname(sys.executable), 'ansible')
    runs = [({'api_key': KEY, 'models': ['auto']}, ['--check', '--diff']),
            ({'api_key': KEY, 'models': ['auto'], 'key_store': 'auth'}, ['--diff']),
            ({'api_key': KEY, 'models': ['auto']}, ['--diff']),
            ({'state': 'absent'}, ['--diff'])]
    for args, flags in runs:
        proc = subprocess.run([ansible, 'localhost', '-c', 'local', '-i', 'localhost,', '-vvv',
                               '-m', 'omniroute.opencode.provider', '-a', json.dumps(args)] + flags,
                              env=env, capture_output=True, text=True, timeout=180, check=False)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-2000:]
        assert 'CHANGED' in output or 'SUCCESS' in output
        assert_no_file_secret(output)


def _as_user(uid, fn):
    """Run ``fn`` in a child process with ``uid``; return what it printed to stdout."""
    require_root()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.dup2(write_end, 1)
            fn()
        except SystemExit:
            pass
        finally:
            sys.stdout.flush()
            os._exit(0)
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return b''.join(chunks).decode('utf-8')


def _run_main(args, home):
    def main():
        os.environ['HOME'] = home
        sys.stdout = os.fdopen(1, 'w')
        with patch_module_args(args):
            provider.main()
    return main


def test_permission_denied_leaves_mode_and_content(tmp_path):
    """The directory is not the user's (EACCES on the temporary file); before the fix the mode
    of the user's own file was tightened anyway."""
    top = tempfile.mkdtemp(prefix='omniroute-eacces-')
    try:
        os.chmod(top, 0o755)
        path = os.path.join(top, 'opencode.json')
        with open(path, 'w') as handle:
            handle.write('{"theme": "dusk"}\n')
        os.chown(path, NOBODY, NOBODY)
        os.chmod(path, 0o644)
        out = _as_user(NOBODY, _run_main({'api_key': KEY, 'path': path, 'auth_path': path + '.auth',
                                          '_ansible_tmpdir': top}, home=top))
        res = json.loads(out[out.index('{'):])
        assert res['failed'] and 'permission denied (EACCES)' in res['msg'], res
        assert res['msg'].startswith('cannot write %s (user ' % path)
        with open(path) as handle:
            assert handle.read() == '{"theme": "dusk"}\n'
        assert fmode(path) == 0o644 and os.stat(path).st_uid == NOBODY
        assert os.listdir(top) == ['opencode.json']
    finally:
        subprocess.run(['rm', '-rf', top], check=True)
