# -*- coding: utf-8 -*-
"""The safety nets the README and docs/design.md promise, each proven by a test that fails when
the net is taken away (issue 26: every one of these survived a hand-made bug before).

- the write is atomic: the file is replaced by a rename (new inode), and a reader polling the
  file from another process during many writes never sees an empty or partial file;
- ``backup`` is honoured by the ``users`` module too (the role's ``opencode_backup`` is proven in
  tests/unit/roles/test_role_options_processes.py);
- the post-edit re-parse and verification refuse a faulty edit (a fault injected into the JSONC
  engine's ``Document.set``) and leave the file byte for byte as it was;
- the last-moment conflict re-check: a file changed after the up-front check, while the new
  content is being written, is not overwritten;
- a backup made for a write whose rename fails is removed again;
- a 4-space file gets 4-space nested inserts (the indent width is detected, not fixed to 2);
- the ``auth.json`` diff's after side is masked as ``******** (changed)``;
- each of the two masking rules for a credential (by position, by name) on its own.

Everything runs through the modules' main() (tests/unit/plugins/modules/module_args.py), so the
tests hold whatever the module_utils look like inside.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _jsonc
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import parse
from ansible_collections.omniroute.opencode.plugins.modules import provider, users
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import run_module
from ansible_collections.omniroute.opencode.tests.support.files import fmode, write

KEY = 'sk-nets-new-4b5c6d7e'
OLD_KEY = 'sk-nets-old-8f9a0b1c'
ME = __import__('pwd').getpwuid(os.geteuid()).pw_name


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('XDG_CONFIG_HOME', raising=False)
    monkeypatch.delenv('XDG_DATA_HOME', raising=False)
    old = os.umask(0o022)
    yield tmp_path
    os.umask(old)


def cfg(home, name='opencode.json'):
    return home / '.config' / 'opencode' / name


def auth(home):
    return home / '.local' / 'share' / 'opencode' / 'auth.json'


def run(capsys, args, check=False, diff=False):
    return run_module(provider.main, capsys, args, check, diff)


def run_users(capsys, args, check=False, diff=False):
    args = dict(args)
    args.setdefault('host', 'laptop9')
    return run_module(users.main, capsys, args, check, diff)


def leftovers(directory):
    """Temporary files and backups in ``directory`` (what a failed write must not leave)."""
    return sorted(n for n in os.listdir(str(directory)) if n.endswith(('.tmp', '~')))


# --------------------------------------------------------------------------- the atomic write
def test_a_write_replaces_the_file_by_a_rename(home, capsys):
    """A rename gives the path a new inode; a rewrite in place keeps the old one."""
    write(cfg(home), '{"theme": "dusk"}\n')
    write(auth(home), '{"corp": {"type": "api", "key": "x-corp-key"}}\n', 0o600)
    config_before, auth_before = os.stat(str(cfg(home))), os.stat(str(auth(home)))
    rc, res, _out = run(capsys, {'api_key': KEY, 'key_store': 'auth', 'models': ['auto']})
    assert rc == 0 and res['changed'] and res['auth_changed']
    assert os.stat(str(cfg(home))).st_ino != config_before.st_ino
    assert os.stat(str(auth(home))).st_ino != auth_before.st_ino
    # The old inodes were not written to: a reader holding them open still sees the old bytes.


def test_users_module_also_writes_by_a_rename(home, capsys):
    write(cfg(home), '{"theme": "dusk"}\n')
    before = os.stat(str(cfg(home))).st_ino
    rc, res, _out = run_users(capsys, {'users': [{'name': ME, 'api_key': KEY}]})
    assert rc == 0 and res['changed']
    assert os.stat(str(cfg(home))).st_ino != before


READER = r'''
import os, sys, time
path, stop = sys.argv[1], sys.argv[2]
reads = bad = 0
first = None
while not os.path.exists(stop):
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except FileNotFoundError:
        bad += 1
        first = first or 'missing'
        continue
    reads += 1
    if not (data.startswith(b'{') and data.endswith(b'}\n')):
        bad += 1
        first = first or 'a read of %d bytes' % len(data)
    if reads == 1:
        print('ready', flush=True)
print('%d %d %s' % (reads, bad, first or '-'), flush=True)
'''


def test_a_reader_never_sees_an_empty_or_partial_file(home, capsys, tmp_path):
    """Another process reads the config in a tight loop while the module rewrites it (a large
    file, many times); every read it makes is a whole file."""
    pad = ''.join('"pad%05d": "%s",\n  ' % (i, 'x' * 200) for i in range(16000))  # about 3.5 MB
    write(cfg(home), '{\n  %s"theme": "dusk"\n}\n' % pad)
    stop = tmp_path / 'stop'
    reader = subprocess.Popen([sys.executable, '-c', READER, str(cfg(home)), str(stop)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == 'ready'
        for n in range(6):
            url = 'http://gw%d.example.com' % (n % 2)
            rc, res, _out = run(capsys, {'api_key': KEY, 'models': ['auto'], 'base_url': url})
            assert rc == 0 and res['changed'], res.get('msg')
    finally:
        stop.write_text('')
        out, _err = reader.communicate(timeout=120)
    reads, bad, first = out.split(None, 2)
    assert int(reads) > 0
    assert int(bad) == 0, '%s of %s reads saw an incomplete file (first: %s)' % (bad, reads, first.strip())
    assert parse(cfg(home).read_text())['provider']['omniroute']['options']['baseURL'] == 'http://gw1.example.com/v1'


# --------------------------------------------------------------------------- backup
def test_users_module_honours_backup(home, capsys):
    old = '{\n  // mine\n  "provider": {"omniroute": {"options": {"apiKey": "%s"}}}\n}\n' % OLD_KEY
    write(cfg(home), old)
    write(auth(home), '{"omniroute": {"type": "api", "key": "%s"}}\n' % OLD_KEY, 0o600)
    rc, res, out = run_users(capsys, {'users': [{'name': ME, 'api_key': KEY}], 'backup': True})
    assert rc == 0 and res['changed']
    backups = res['users'][ME]['backup_files']
    # Both files it changed (the config, and auth.json losing the stale key) have a backup.
    assert sorted(backups) == sorted([str(cfg(home)), str(auth(home))])
    with open(backups[str(cfg(home))]) as handle:
        assert handle.read() == old
    assert all(fmode(b) == 0o600 for b in backups.values())
    assert OLD_KEY not in out and KEY not in out
    # Without backup (the default), no copy appears.
    write(cfg(home), old)
    rc, res, _out = run_users(capsys, {'users': [{'name': ME, 'api_key': KEY}]})
    assert rc == 0 and 'backup_files' not in res['users'][ME]
    assert len([n for n in os.listdir(str(cfg(home).parent)) if n.endswith('~')]) == 1


def test_a_backup_is_removed_when_the_rename_fails(home, capsys, monkeypatch):
    old = '{"provider": {"omniroute": {"options": {"apiKey": "%s"}}}}\n' % OLD_KEY
    write(cfg(home), old)
    target = os.path.realpath(str(cfg(home)))
    real_rename, real_replace = os.rename, os.replace

    def failing(rename):
        def move(src, dst, *args, **kwargs):
            if os.path.abspath(str(dst)) == target:
                raise OSError(errno.EIO, 'input/output error (injected)')
            return rename(src, dst, *args, **kwargs)
        return move

    monkeypatch.setattr(os, 'rename', failing(real_rename))
    monkeypatch.setattr(os, 'replace', failing(real_replace))
    rc, res, out = run(capsys, {'api_key': KEY, 'backup': True})
    assert rc == 1 and 'nothing was changed' in res['msg'], res
    assert cfg(home).read_text() == old
    # Neither the backup nor the temporary file is left behind.
    assert leftovers(cfg(home).parent) == []
    assert OLD_KEY not in out


# --------------------------------------------------------------------------- the late re-check
def test_a_change_made_while_the_new_content_is_written_is_kept(home, capsys, monkeypatch):
    """The file changes after the module checked it up front, while its temporary file is being
    written: the last check before the rename sees it, and the other writer's bytes stay."""
    write(cfg(home), '{"theme": "dusk"}\n')
    theirs = '{"theme": "dawn"} // saved by the user at the last moment\n'
    directory = os.path.realpath(str(cfg(home).parent))
    real_mkstemp = tempfile.mkstemp
    fired = []

    def mkstemp(*args, **kwargs):
        made = real_mkstemp(*args, **kwargs)
        if not fired and os.path.dirname(made[1]) == directory:
            fired.append(made[1])
            with open(str(cfg(home)), 'w') as handle:
                handle.write(theirs)
        return made

    monkeypatch.setattr(tempfile, 'mkstemp', mkstemp)
    rc, res, out = run(capsys, {'api_key': KEY, 'backup': True})
    assert fired, 'the module wrote no temporary file next to the config'
    assert rc == 1 and res.get('conflict') is True, res
    assert 'it changed while the module was running' in res['msg']
    assert cfg(home).read_text() == theirs
    assert leftovers(cfg(home).parent) == []
    assert KEY not in out


# --------------------------------------------------------------------------- re-parse and verify
REAL_SET = _jsonc.Document.set


def _fault(monkeypatch, corrupt):
    """Make the JSONC engine's ``Document.set`` produce ``corrupt(path, value, doc)`` instead."""
    def faulty_set(self, path, value, first=False):
        return corrupt(path, value, REAL_SET(self, path, value, first))

    monkeypatch.setattr(_jsonc.Document, 'set', faulty_set)


def _stray_brace(path, value, doc):
    return _jsonc.Document(doc.text + '}', doc.base_indent, doc.style, validate=False)


def test_an_edit_that_breaks_the_syntax_is_refused(home, capsys, monkeypatch):
    original = '{\n  "theme": "dusk"\n}\n'
    write(cfg(home), original)
    before = os.stat(str(cfg(home)))

    # Every edit leaves a stray "}" at the end: the text no longer parses.
    _fault(monkeypatch, _stray_brace)
    rc, res, out = run(capsys, {'api_key': KEY, 'models': ['auto']})
    assert rc == 1 and 'internal check failed' in res['msg'] and 'would not parse' in res['msg'], res
    assert str(cfg(home)) in res['msg'] and 'Traceback' not in out
    assert cfg(home).read_text() == original
    after = os.stat(str(cfg(home)))
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert leftovers(cfg(home).parent) == [] and KEY not in out


def test_an_edit_that_writes_the_wrong_value_is_refused(home, capsys, monkeypatch):
    original = ('{\n  // mine\n  "provider": {\n    "omniroute": {\n      "options": {"baseURL": "http://old/v1"}\n'
                '    }\n  }\n}\n')
    write(cfg(home), original)

    # Valid JSONC, but not what was asked: the base URL comes out wrong.
    def tamper(path, value, doc):
        if path and path[-1] == 'baseURL':
            return REAL_SET(doc, path, 'http://tampered.invalid/v1')
        return doc

    _fault(monkeypatch, tamper)
    rc, res, out = run(capsys, {'api_key': KEY, 'models': ['auto'], 'base_url': 'http://gw.example.com'})
    assert rc == 1 and 'internal check failed after editing' in res['msg'] and 'baseURL' in res['msg'], res
    assert cfg(home).read_text() == original
    assert leftovers(cfg(home).parent) == [] and KEY not in out


def test_a_faulty_edit_in_one_users_file_writes_nothing_on_the_host(home, capsys, monkeypatch):
    original = '{\n  "theme": "dusk"\n}\n'
    write(cfg(home), original)
    _fault(monkeypatch, _stray_brace)
    rc, res, out = run_users(capsys, {'users': [{'name': ME, 'api_key': KEY}]})
    assert rc == 1 and 'internal check failed' in res['msg'] and "no user's file was changed on laptop9" in res['msg']
    assert cfg(home).read_text() == original and not auth(home).exists()


# --------------------------------------------------------------------------- layout
FOUR = ('{\n'
        '    "provider": {\n'
        '        "anthropic": {\n'
        '            "options": {}\n'
        '        }\n'
        '    }\n'
        '}\n')


def test_four_space_file_gets_four_space_nested_inserts(home, capsys):
    write(cfg(home), FOUR)
    rc, res, _out = run(capsys, {'api_key': '{env:OMNIROUTE_API_KEY}', 'models': ['auto']})
    assert rc == 0
    assert cfg(home).read_text() == (
        '{\n'
        '    "$schema": "https://opencode.ai/config.json",\n'
        '    "provider": {\n'
        '        "anthropic": {\n'
        '            "options": {}\n'
        '        },\n'
        '        "omniroute": {\n'
        '            "npm": "@ai-sdk/openai-compatible",\n'
        '            "name": "OmniRoute",\n'
        '            "options": {\n'
        '                "baseURL": "http://localhost:20128/v1",\n'
        '                "apiKey": "{env:OMNIROUTE_API_KEY}"\n'
        '            },\n'
        '            "models": {\n'
        '                "auto": {\n'
        '                    "name": "auto"\n'
        '                }\n'
        '            }\n'
        '        }\n'
        '    }\n'
        '}\n')


def test_four_space_entry_gets_a_four_space_catalog(home, capsys):
    write(cfg(home), ('{\n'
                      '    "provider": {\n'
                      '        "omniroute": {\n'
                      '            "options": {\n'
                      '                "baseURL": "http://localhost:20128/v1"\n'
                      '            }\n'
                      '        }\n'
                      '    }\n'
                      '}\n'))
    rc, res, _out = run(capsys, {'api_key': '{env:OMNIROUTE_API_KEY}', 'models': [{'id': 'auto', 'limit': {
        'context': 200000, 'output': 32000}}]})
    assert rc == 0
    text = cfg(home).read_text()
    assert ('            "models": {\n'
            '                "auto": {\n'
            '                    "limit": {\n'
            '                        "context": 200000,\n'
            '                        "output": 32000\n'
            '                    },\n'
            '                    "name": "auto"\n'
            '                }\n'
            '            }\n') in text, text
    # Every line of the file is indented by a multiple of 4 spaces.
    assert all((len(line) - len(line.lstrip(' '))) % 4 == 0 for line in text.splitlines())


# --------------------------------------------------------------------------- what a diff shows
def test_auth_diff_masks_the_new_key_as_changed(home, capsys):
    write(cfg(home), '{}\n')
    write(auth(home), '{"omniroute": {"type": "api", "key": "%s"}}\n' % OLD_KEY, 0o600)
    rc, res, out = run(capsys, {'api_key': KEY, 'key_store': 'auth', 'models': ['auto']}, diff=True)
    assert rc == 0 and res['auth_changed']
    (d,) = [x for x in res['diff'] if x['after_header'] == str(auth(home))]
    assert json.loads(d['before']) == {'omniroute': {'type': 'api', 'key': '********'}}
    assert json.loads(d['after']) == {'omniroute': {'type': 'api', 'key': '******** (changed)'}}
    assert KEY not in out and OLD_KEY not in out
    # A fresh store: the after side alone, masked.
    auth(home).unlink()
    rc, res, out = run(capsys, {'api_key': OLD_KEY, 'key_store': 'auth', 'models': ['auto']}, diff=True)
    (d,) = [x for x in res['diff'] if x['after_header'] == str(auth(home))]
    assert d['before'] == '' and json.loads(d['after']) == {'omniroute': {'type': 'api', 'key': '********'}}
    assert OLD_KEY not in out


def test_a_credential_at_the_key_position_is_masked_whatever_its_shape(home, capsys):
    """By position alone: ``options.apiKey`` holding a list (no secret-looking name inside it)."""
    listed = 'sk-nets-listed-2c3d4e5f'
    write(cfg(home), json.dumps({'provider': {'omniroute': {'options': {'apiKey': [listed]}}}}))
    rc, res, out = run(capsys, {'api_key': '{env:OMNIROUTE_API_KEY}', 'models': ['auto']}, check=True, diff=True)
    assert rc == 0 and res['changed']
    (d,) = res['diff']
    assert json.loads(d['before'])['provider']['omniroute']['options']['apiKey'] == '********'
    assert listed not in out


def test_a_header_value_is_masked_by_position(home, capsys):
    """By position alone: a header whose name looks like nothing secret."""
    seat = 'seat-nets-9d8c7b6a'
    write(cfg(home), json.dumps({'provider': {'omniroute': {'options': {'headers': {'X-Team-Seat': seat}}}}}))
    rc, res, out = run(capsys, {'api_key': KEY, 'models': ['auto']}, check=True, diff=True)
    assert rc == 0 and res['entry']['options']['headers'] == {'X-Team-Seat': '********'}
    assert seat not in out


def test_a_misplaced_key_is_masked_by_its_name(home, capsys):
    """By name alone: an ``apiKey`` where no credential position is (the entry's top level), and
    a ``sessionToken`` a user added to the options."""
    misplaced, token = 'sk-nets-misplaced-6e7f8a9b', 'tok-nets-session-1a2b3c4d'
    write(cfg(home), json.dumps({'provider': {'omniroute': {
        'apiKey': misplaced, 'options': {'baseURL': 'http://old/v1', 'sessionToken': token}}}}))
    rc, res, out = run(capsys, {'api_key': KEY, 'models': ['auto']}, diff=True)
    assert rc == 0 and res['changed']
    assert res['entry']['apiKey'] == '********' and res['entry']['options']['sessionToken'] == '********'
    (d,) = res['diff']
    for side in ('before', 'after'):
        entry = json.loads(d[side])['provider']['omniroute']
        assert entry['apiKey'] == '********' and entry['options']['sessionToken'] == '********'
    assert misplaced not in out and token not in out and KEY not in out


# --------------------------------------------------------------------------- modes (fast tier)
@pytest.mark.parametrize('existing', [None, 0o644, 0o666])
def test_auth_json_is_written_0600(home, capsys, existing):
    write(cfg(home), '{}\n')
    if existing is not None:
        write(auth(home), '{"corp": {"type": "api", "key": "x-corp-key"}}\n', existing)
    rc, res, _out = run(capsys, {'api_key': KEY, 'key_store': 'auth', 'models': ['auto']})
    assert rc == 0 and res['auth_changed']
    assert fmode(auth(home)) == 0o600
    if existing is None:
        assert fmode(auth(home).parent) == 0o700
    # The config holds no key and keeps its mode.
    assert fmode(cfg(home)) == 0o644


@pytest.mark.parametrize('existing', [None, 0o644])
def test_users_module_writes_auth_json_0600(home, capsys, existing):
    if existing is not None:
        write(auth(home), '{"corp": {"type": "api", "key": "x-corp-key"}}\n', existing)
    rc, res, _out = run_users(capsys, {'users': [{'name': ME, 'api_key': KEY, 'key_store': 'auth'}]})
    assert rc == 0 and res['users'][ME]['auth_changed']
    assert fmode(auth(home)) == 0o600


def test_a_config_with_a_key_is_private_fresh_or_existing(home, capsys):
    rc, _res, _out = run(capsys, {'api_key': KEY})
    assert rc == 0 and fmode(cfg(home)) == 0o600
    write(cfg(home), '{}\n', 0o664)
    rc, _res, _out = run(capsys, {'api_key': KEY})
    assert rc == 0 and fmode(cfg(home)) == 0o600


def test_reader_helper_is_timed_out_not_hung():
    """(The reader of the atomic-write test stops when told, well within its bound.)"""
    with tempfile.TemporaryDirectory() as d:
        path, stop = os.path.join(d, 'f'), os.path.join(d, 'stop')
        with open(path, 'w') as handle:
            handle.write('{}\n')
        proc = subprocess.Popen([sys.executable, '-c', READER, path, stop], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == 'ready'
        time.sleep(0.2)
        with open(stop, 'w'):
            pass
        out, _err = proc.communicate(timeout=60)
        reads, bad, _first = out.split(None, 2)
        assert int(reads) > 0 and int(bad) == 0
