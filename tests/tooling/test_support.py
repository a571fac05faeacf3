"""The shared test helpers (tests/support, tests/opencode/harness.py) do what the suites rely on."""

import json
import os
import re
import subprocess
import sys

import pytest

from ansible_collections.omniroute.opencode.tests.support import files, omniroute as server
from ansible_collections.omniroute.opencode.tests.support.secrets import assert_no_secret

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'opencode'))

import harness  # noqa: E402  pylint: disable=wrong-import-position

SECRET = 'sk-support-7f3a9c/"quoted"'


def test_assert_no_secret_passes_on_clean_outputs():
    assert_no_secret([('a', 'nothing here'), ('b', 'sk-other')], SECRET, None, '')
    assert_no_secret('plain text', SECRET)


@pytest.mark.parametrize('text', [SECRET, json.dumps({'key': SECRET})], ids=['plain', 'json-escaped'])
def test_assert_no_secret_names_the_output_never_the_secret(text):
    with pytest.raises(AssertionError) as caught:
        assert_no_secret([('clean', 'x'), ('module run', 'before ' + text + ' after')], 'sk-unused-1', SECRET)
    message = str(caught.value)
    assert 'secret 2 of 2' in message and 'module run' in message
    assert 'sk-' not in message and 'quoted' not in message


def test_each_xdist_worker_gets_its_own_server(monkeypatch):
    monkeypatch.delenv('SUPPORT_TEST_PORT', raising=False)
    monkeypatch.delenv('PYTEST_XDIST_WORKER', raising=False)
    alone = server.place('suite', 'SUPPORT_TEST_PORT', 20200)
    monkeypatch.setenv('PYTEST_XDIST_WORKER', 'gw1')
    second = server.place('suite', 'SUPPORT_TEST_PORT', 20200)
    monkeypatch.setenv('SUPPORT_TEST_PORT', '30000')
    moved = server.place('suite', 'SUPPORT_TEST_PORT', 20200)
    assert [p for p, _state in (alone, second, moved)] == [20200, 20210, 30010]
    assert len(set(state for _port, state in (alone, second, moved))) == 3
    assert all(os.sep + '.build' + os.sep + 'omniroute-suite-' in state for _port, state in (alone, second, moved))


def test_module_direct_removes_its_arguments_file_whatever_happens(tmp_path, monkeypatch):
    """The arguments file holds the key: it is gone after a run, and after a run that broke."""
    sb = harness.Sandbox(str(tmp_path / 's'), '/bin/false')
    args_file = os.path.join(sb.root, 'tmp', 'module-args.json')
    seen = []

    def finished(cmd, **_kw):
        seen.append(os.path.exists(cmd[-1]))
        return subprocess.CompletedProcess(cmd, 0, '{"changed": false}', '')

    def timed_out(cmd, **_kw):
        seen.append(os.path.exists(cmd[-1]))
        raise subprocess.TimeoutExpired(cmd, 1)

    monkeypatch.setattr(harness.subprocess, 'run', finished)
    assert sb.module_direct({'api_key': SECRET}, 'provider')['_status'] == 'SUCCESS'
    assert not os.path.exists(args_file)
    monkeypatch.setattr(harness.subprocess, 'run', timed_out)
    with pytest.raises(subprocess.TimeoutExpired):
        sb.module_direct({'api_key': SECRET}, 'provider')
    assert not os.path.exists(args_file)
    assert seen == [True, True]  # the module did get its arguments


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _test_files_matching(pattern, home):
    """Python files under tests/ (but ``home``, relative to the repository) where ``pattern``
    matches a line."""
    found = []
    for folder, dirs, files in os.walk(os.path.join(REPO, 'tests')):
        dirs[:] = [d for d in dirs if d not in ('output', '__pycache__') and not d.startswith('.')]
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith('.py') and os.path.relpath(path, REPO) != home:
                with open(path, encoding='utf-8') as handle:
                    if re.search(pattern, handle.read(), re.M):
                        found.append(os.path.relpath(path, REPO))
    return found


def test_the_tests_run_one_http_server():
    """Local HTTP servers in the tests are tests/support/http_server.Server: no other test file
    serves with http.server or socketserver."""
    assert _test_files_matching(r'^\s*(import|from)\s+(http\.server|socketserver)\b',
                                os.path.join('tests', 'support', 'http_server.py')) == []


def test_file_and_fault_helpers_have_one_home():
    """Laying out a file, reading its mode and standing in for a failing call are
    tests/support/files.py's write, fmode, raises and Module: no test file defines its own again (a
    helper of another shape, such as a sandbox's write(sb, rel, data), is another concept)."""
    assert _test_files_matching(r'^\s*def _?(write|fmode|mode_of|mode)\(path\b|^\s*def (fails|failing_\w+)\(|^class _?Module\b',
                                os.path.join('tests', 'support', 'files.py')) == []


def test_write_fmode_and_raises(tmp_path):
    path = tmp_path / 'a' / 'b.json'
    assert files.write(path, u'{"k": "\u00e9"}') == str(path)
    assert path.read_bytes() == b'{"k": "\xc3\xa9"}' and files.fmode(path) == 0o644
    files.write(path, b'\xff', 0o600)
    assert path.read_bytes() == b'\xff' and files.fmode(str(path)) == 0o600
    files.write(path, b'', None)  # the mode is left as it was
    assert files.fmode(path) == 0o600
    with pytest.raises(OSError) as caught:
        files.raises(OSError(13, 'Permission denied'))('/x', mode=1)
    assert caught.value.errno == 13
