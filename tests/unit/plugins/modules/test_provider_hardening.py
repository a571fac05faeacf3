# -*- coding: utf-8 -*-
"""The provider module against hostile files and faults (issue 10), on real files.

Some cases need root (mknod, tmpfs mounts, switching to another uid); the test machine and CI
run the unit tests as root. Without root, a device is still covered through a symlink to
/dev/null and a FIFO through mkfifo.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import signal
import socket
import stat
import subprocess
import time

import pytest

from ansible_collections.omniroute.opencode.plugins.modules import provider
from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfgmod
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import Document, parse
from ansible_collections.omniroute.opencode.tests.support.secrets import assert_no_secret
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import run_module
from ansible_collections.omniroute.opencode.tests.support.files import fmode, write

KEY = 'sk-hard-new-8d7e6f'
NOBODY = 65534

# Secrets a user's files hold; none may appear in any output.
FILE_SECRETS = {
    'own_old': 'sk-hard-own-old-3a4b',
    'own_dup': 'sk-hard-own-dup-5c6d',
    'own_header': 'hdr-hard-own-7e8f',
    'own_basic': 'Basic aGFyZDpwYXNzd29yZA==',
    'mcp_env': 'mcp-env-hard-9a0b',
    'mcp_url_pw': 'urlpw-hard-1c2d',
    'mcp_query': 'qtok-hard-3e4f',
    'other_header': 'hdr-other-hard-5a6b',
    'commented': 'sk-commented-hard-7c8d',
    'escaped': 'sk-escaped-hard-9e0f',
    'oauth_refresh': 'rt-hard-1a2b3c',
    'oauth_access': 'at-hard-4d5e6f',
    'wellknown_key': 'wk-hard-7a8b9c',
    'wellknown_token': 'wt-hard-0d1e2f',
    'auth_own': 'sk-hard-auth-own-3f4e',
}
S = FILE_SECRETS

HOSTILE_CONFIG = (
    '{\n'
    '  "$schema": "https://opencode.ai/config.json",\n'
    '  // old key, kept for reference: "apiKey": "' + S['commented'] + '"\n'
    '  "mcp": {\n'
    '    "tracker": {"type": "local", "command": ["tracker-mcp"], "environment": {"TRACKER_PAT": "' + S['mcp_env'] + '"}},\n'
    '    "wiki": {"type": "remote", "url": "https://bot:' + S['mcp_url_pw'] + '@wiki.corp.test/sse?token=' + S['mcp_query'] + '"}\n'
    '  },\n'
    '  "provider": {\n'
    '    "corp": {"options": {"headers": {"X-Corp-Auth": "' + S['other_header'] + '"}, "\\u0061pi\\u004bey": "' + S['escaped'] + '"}},\n'
    '    "omniroute": {"options": {"apiKey": "' + S['own_dup'] + '"}},\n'
    '    "omniroute": {\n'
    '      "options": {\n'
    '        "baseURL": "http://gw.corp.test/v1",\n'
    '        "api\\u004bey": "' + S['own_old'] + '",\n'
    '        "headers": {"X-Team-Seat": "' + S['own_header'] + '", "Proxy-Authorization": "' + S['own_basic'] + '"}\n'
    '      }\n'
    '    }\n'
    '  },\n'
    '  "disabled_providers": [\n'
    '    "corp", // KEEP corp is off for now\n'
    '    "omniroute" // turned off during the outage\n'
    '  ]\n'
    '}\n'
)
HOSTILE_AUTH = json.dumps({
    'github-copilot': {'type': 'oauth', 'refresh': S['oauth_refresh'], 'access': S['oauth_access'], 'expires': 1790000000},
    'corp-sso': {'type': 'wellknown', 'key': S['wellknown_key'], 'token': S['wellknown_token']},
    'omniroute': {'type': 'api', 'key': S['auth_own']},
}, indent=2)


def run(capsys, args, check=False, diff=False):
    """Run the module like Ansible does; return (rc, result, raw stdout)."""
    return run_module(provider.main, capsys, args, check, diff)


def cfg(home, name='opencode.json'):
    return home / '.config' / 'opencode' / name


def auth(home):
    return home / '.local' / 'share' / 'opencode' / 'auth.json'


def assert_no_file_secret(text):
    """Neither the new key nor any secret of the user's files is in ``text``."""
    assert_no_secret(text, KEY, *FILE_SECRETS.values())


def require_root():
    assert os.geteuid() == 0, 'this test needs root (the test machine and CI run as root)'


# --------------------------------------------------------------------------- 1. output
@pytest.mark.parametrize('key_store', ['config', 'auth'])
def test_results_and_diffs_show_only_the_managed_parts(home, capsys, key_store):
    write(cfg(home), HOSTILE_CONFIG)
    write(auth(home), HOSTILE_AUTH, 0o600)
    args = {'api_key': KEY, 'key_store': key_store, 'models': ['auto']}
    rc, res, out = run(capsys, dict(args), check=True, diff=True)
    assert rc == 0 and res['changed']
    assert_no_file_secret(out)
    rc, res, out = run(capsys, dict(args), diff=True)
    assert rc == 0 and res['changed']
    assert_no_file_secret(out)
    # The entry result: every header value masked, the key masked.
    options = res['entry']['options']
    assert options['apiKey' if key_store == 'config' else 'baseURL'] in ('********', 'http://localhost:20128/v1')
    assert options['headers'] == {'X-Team-Seat': '********', 'Proxy-Authorization': '********'}
    # The diff carries the entry and the list the module touched, never the rest of the file.
    config_diff = [d for d in res['diff'] if d['after_header'] == str(cfg(home))][0]
    for side in ('before', 'after'):
        view = json.loads(config_diff[side])
        assert set(view) <= {'provider', 'disabled_providers'}
        assert list(view['provider']) == ['omniroute']
    assert 'mcp' not in config_diff['before'] + config_diff['after']
    assert json.loads(config_diff['after'])['disabled_providers'] == ['corp']
    # The file itself: the stale duplicate (and its key) gone, comments in the list kept.
    text = cfg(home).read_text()
    assert S['own_dup'] not in text and S['own_old'] not in text
    assert '"corp" // KEEP corp is off for now' in text
    assert S['mcp_env'] in text and S['other_header'] in text
    # Offboarding shows the credential store entry only as masked fields.
    rc, res, out = run(capsys, {'state': 'absent'}, check=True, diff=True)
    assert rc == 0 and res['changed']
    assert_no_file_secret(out)
    rc, res, out = run(capsys, {'state': 'absent'}, diff=True)
    assert_no_file_secret(out)
    stored = json.loads(auth(home).read_text())
    assert set(stored) == {'github-copilot', 'corp-sso'}
    assert 'omniroute' not in parse(cfg(home).read_text())['provider']


@pytest.mark.parametrize('url, secret, words', [
    ('htps://ops:pw-url-4711@gw.corp.test', 'pw-url-4711', 'http:// or https://'),
    ('ftp://gw.corp.test/v1?token=qt-url-4712', 'qt-url-4712', 'http:// or https://'),
    ('https://gw.corp.test/v1?token=qt-url-4713', 'qt-url-4713', 'query string'),
    ('http://[fd00::1/v1?k=qt-url-4714', 'qt-url-4714', 'not a valid URL'),
    ('http://[::1', None, 'not a valid URL'),
])
def test_refused_base_url_does_not_echo_credentials(home, capsys, url, secret, words):
    rc, res, out = run(capsys, {'api_key': KEY, 'base_url': url})
    assert rc == 1 and words in res['msg'], res['msg']
    assert 'Traceback' not in out and 'exception' not in res
    if secret:
        assert secret not in out
    assert not cfg(home).exists()


def test_api_key_that_is_not_a_string_is_refused_unseen(home, capsys):
    rc, res, out = run(capsys, {'api_key': ['sk-in-a-list-4715', 'x']})
    assert rc == 1 and res['msg'] == 'api_key must be a string, got a list (value not shown)'
    assert 'sk-in-a-list-4715' not in out and not cfg(home).exists()
    rc, res, out = run(capsys, {'api_key': {'alice': 'sk-in-a-dict-4716'}})
    assert rc == 1 and 'got a dict' in res['msg'] and 'sk-in-a-dict-4716' not in out


# --------------------------------------------------------------------------- 2. special files
def _untouched(path, before):
    st = os.lstat(str(path))
    assert (st.st_mode, st.st_ino, st.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)


def test_symlink_to_dev_null_is_refused(home, capsys):
    cfg(home).parent.mkdir(parents=True)
    os.symlink('/dev/null', str(cfg(home)))
    null_before = os.stat('/dev/null')
    link_before = os.lstat(str(cfg(home)))
    rc, res, out = run(capsys, {'api_key': KEY})
    assert rc == 1
    assert res['msg'] == ('cannot edit %s (%s): it is a character device (/dev/null), not a regular file; '
                          'only regular files are edited, nothing was changed' % (cfg(home), cfgmod.where()))
    _untouched(cfg(home), link_before)
    after = os.stat('/dev/null')
    assert (after.st_mode, after.st_rdev, after.st_ino) == (null_before.st_mode, null_before.st_rdev, null_before.st_ino)
    assert os.listdir(str(cfg(home).parent)) == ['opencode.json']


@pytest.mark.needs_root
def test_character_device_made_with_mknod_is_refused(home, capsys):
    require_root()
    cfg(home).parent.mkdir(parents=True)
    os.mknod(str(cfg(home)), 0o644 | stat.S_IFCHR, os.makedev(1, 5))  # like /dev/zero
    before = os.lstat(str(cfg(home)))
    rc, res, out = run(capsys, {'api_key': KEY})
    assert rc == 1 and 'it is a character device' in res['msg']
    _untouched(cfg(home), before)
    assert fmode(cfg(home)) == 0o644


def test_fifo_is_refused_without_hanging(home, capsys):
    cfg(home).parent.mkdir(parents=True)
    os.mkfifo(str(cfg(home)), 0o644)
    before = os.lstat(str(cfg(home)))

    def hung(*_args):
        raise AssertionError('the module hung on the FIFO')

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        rc, res, out = run(capsys, {'api_key': KEY})
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert rc == 1 and 'it is a FIFO (named pipe)' in res['msg']
    _untouched(cfg(home), before)


def test_socket_and_fifo_credential_store_are_refused(home, capsys):
    write(cfg(home), '{}\n')
    auth(home).parent.mkdir(parents=True)
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(auth(home)))
        rc, res, out = run(capsys, {'api_key': KEY, 'key_store': 'auth'})
        assert rc == 1 and 'it is a socket' in res['msg'] and str(auth(home)) in res['msg']
    finally:
        sock.close()
    os.unlink(str(auth(home)))
    os.mkfifo(str(auth(home)))
    rc, res, out = run(capsys, {'api_key': KEY})
    assert rc == 1 and 'FIFO' in res['msg']
    assert cfg(home).read_text() == '{}\n'


# --------------------------------------------------------------------------- 3. crashes
def test_deep_nesting_that_opencode_loads_is_edited(home, capsys):
    depth = 4000
    deep = '{"n": ' * depth + '1' + '}' * depth
    text = '{\n  "mcp": {"deep": {"type": "local", "command": ["x"], "environment": ' + deep + '}}\n}\n'
    write(cfg(home), text)
    rc, res, out = run(capsys, {'api_key': KEY, 'models': ['auto']}, diff=True)
    assert rc == 0 and res['changed'], res.get('msg')
    new = cfg(home).read_text()
    assert text[:-3].replace('{\n', '', 1) in new
    assert Document(new).get(('provider', 'omniroute', 'options', 'apiKey')) == KEY
    rc, res, out = run(capsys, {'state': 'absent'}, diff=True)
    assert rc == 0 and res['changed']


def test_deep_nesting_inside_the_entry_fails_cleanly(home, capsys):
    deep = '[' * 5000 + ']' * 5000
    write(cfg(home), '{"provider": {"omniroute": {"options": {"x": ' + deep + '}}}}')
    before = cfg(home).read_bytes()
    rc, res, out = run(capsys, {'api_key': KEY})
    assert rc == 1 and 'nested too deeply' in res['msg'] and res['line'] == 1
    assert cfg(home).read_bytes() == before


# --------------------------------------------------------------------------- faults on write
@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs mounted for the test (root only), unmounted afterwards."""
    require_root()
    mounted = []

    def mount(size='256k'):
        point = tmp_path / ('mnt%d' % len(mounted))
        point.mkdir()
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%s,mode=0755' % size, 'tmpfs', str(point)], check=True)
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(['umount', '-l', str(point)], check=False)


def _fill(directory, leave_pages):
    """Fill the file system of ``directory`` until ``leave_pages`` blocks remain free."""
    filler = os.path.join(str(directory), 'filler')
    with open(filler, 'ab') as handle:
        while True:
            st = os.statvfs(str(directory))
            if st.f_bavail <= leave_pages:
                break
            try:
                handle.write(b'\0' * st.f_bsize)
                handle.flush()
            except OSError:
                break


def _config_on(mount, home):
    directory = mount / 'opencode'
    directory.mkdir()
    path = directory / 'opencode.json'
    # About two pages, so that room for one copy is not room for two.
    text = '{\n  "provider": {"omniroute": {"options": {"apiKey": "%s"}}},\n  "pad": "%s"\n}\n' % (
        S['own_old'], 'p' * 6000)
    write(path, text, 0o644)
    return path, text


@pytest.mark.needs_root
@pytest.mark.parametrize('leave_pages, backup', [(0, False), (0, True), (2, True), (3, True)])
def test_a_full_disk_is_found_before_anything_is_written(home, capsys, tmpfs, leave_pages, backup):
    mount = tmpfs('64k')
    path, text = _config_on(mount, home)
    _fill(mount, leave_pages)
    rc, res, out = run(capsys, {'api_key': KEY, 'path': str(path), 'backup': backup}, check=True)
    assert rc == 1 and res['msg'] == run(capsys, {'api_key': KEY, 'path': str(path), 'backup': backup})[1]['msg']
    msg = res['msg']
    assert msg.startswith('cannot write %s (%s): not enough free space in %s: ' % (path, cfgmod.where(), path.parent))
    assert msg.endswith('no space left on device (ENOSPC); nothing was changed')
    assert ('(the new file, its backup)' in msg) == backup and not res['changed']
    assert path.read_text() == text and fmode(path) == 0o644
    assert sorted(os.listdir(str(path.parent))) == ['opencode.json']


@pytest.mark.needs_root
@pytest.mark.parametrize('leave_pages, backup', [(0, False), (0, True), (2, True)])
def test_full_disk_changes_nothing_and_leaves_no_partial_backup(home, capsys, tmpfs, leave_pages, backup, monkeypatch):
    # A file system whose free space statvfs does not tell: the write itself meets the full disk.
    monkeypatch.setattr(cfgmod, 'free_space', lambda path: None)
    mount = tmpfs('64k')
    path, text = _config_on(mount, home)
    _fill(mount, leave_pages)
    rc, res, out = run(capsys, {'api_key': KEY, 'path': str(path), 'backup': backup})
    assert rc == 1, res
    assert 'no space left on device (ENOSPC)' in res['msg'] and 'nothing was changed' in res['msg']
    # With room for one copy only, it is the backup that cannot be written.
    assert ('cannot write the backup' in res['msg']) == (leave_pages > 0), res['msg']
    assert res['msg'].startswith('cannot write %s (%s): ' % (path, cfgmod.where()))
    assert path.read_text() == text and fmode(path) == 0o644
    assert sorted(os.listdir(str(path.parent))) == ['opencode.json']


@pytest.mark.needs_root
def test_read_only_file_system_changes_nothing(home, capsys, tmpfs):
    mount = tmpfs()
    path, text = _config_on(mount, home)
    subprocess.run(['mount', '-o', 'remount,ro', str(mount)], check=True)
    rc, res, out = run(capsys, {'api_key': KEY, 'path': str(path), 'backup': True})
    assert rc == 1 and 'read-only file system (EROFS)' in res['msg'] and str(path) in res['msg']
    assert 'Traceback' not in out
    assert path.read_text() == text and fmode(path) == 0o644


def test_backup_is_written_privately_and_whole(home, capsys):
    write(cfg(home), '{"provider": {"omniroute": {"options": {"apiKey": "%s"}}}}\n' % S['own_old'], 0o644)
    old = cfg(home).read_bytes()
    rc, res, out = run(capsys, {'api_key': KEY, 'backup': True})
    assert rc == 0
    with open(res['backup_file'], 'rb') as handle:
        assert handle.read() == old
    assert fmode(res['backup_file']) == 0o600 and fmode(cfg(home)) == 0o600
    assert [n for n in os.listdir(str(cfg(home).parent)) if n.endswith('.tmp')] == []


# --------------------------------------------------------------------------- 5. edits
def test_provider_lists_are_edited_element_by_element(home, capsys):
    text = ('{\n'
            '  "enabled_providers": [\n'
            '    "corp", // KEEP the only one allowed so far\n'
            '    /* KEEP more after review */\n'
            '  ],\n'
            '  "disabled_providers": ["omniroute", /* KEEP inline */ "legacy", "omniroute"]\n'
            '}\n')
    write(cfg(home), text)
    rc, res, out = run(capsys, {'api_key': KEY, 'models': ['auto']})
    new = cfg(home).read_text()
    assert '"corp", // KEEP the only one allowed so far' in new
    assert '/* KEEP more after review */' in new and '/* KEEP inline */' in new
    data = parse(new)
    assert data['enabled_providers'] == ['corp', 'omniroute'] and data['disabled_providers'] == ['legacy']
    rc, res, out = run(capsys, {'api_key': KEY, 'models': ['auto']})
    assert not res['changed']


def test_duplicate_entries_leave_no_key_behind(home, capsys):
    text = ('{\n  "provider": {"omniroute": {"options": {"apiKey": "%s"}}},\n'
            '  "provider": {\n    "omniroute": {"options": {"apiKey": "%s"}},\n    "corp": {},\n'
            '    "omniroute": {"options": {"apiKey": "%s"}}\n  }\n}\n') % (S['own_dup'], S['own_old'], S['escaped'])
    write(cfg(home), text)
    rc, res, out = run(capsys, {'api_key': KEY, 'models': ['auto']})
    assert rc == 0 and 'removed duplicate copies of provider.omniroute' in res['changes'][str(cfg(home))]
    new = cfg(home).read_text()
    for old in (S['own_dup'], S['own_old'], S['escaped']):
        assert old not in new
    assert parse(new)['provider']['omniroute']['options']['apiKey'] == KEY
    write(cfg(home), text)
    rc, res, out = run(capsys, {'state': 'absent'})
    assert rc == 0 and res['changed'], res.get('msg')
    new = cfg(home).read_text()
    assert 'omniroute' not in new and '"corp": {}' in new
    rc, res, out = run(capsys, {'state': 'absent'})
    assert rc == 0 and not res['changed']


def test_duplicate_credentials_in_the_store_all_go(home, capsys):
    write(cfg(home), '{}\n')
    write(auth(home), '{"omniroute": {"type": "api", "key": "%s"}, "corp": {"type": "api", "key": "x"},'
                      ' "omniroute": {"type": "api", "key": "%s"}}' % (S['own_dup'], S['auth_own']), 0o600)
    rc, res, out = run(capsys, {'state': 'absent'})
    assert rc == 0
    assert json.loads(auth(home).read_text()) == {'corp': {'type': 'api', 'key': 'x'}}


def test_byte_order_mark_is_kept(home, capsys):
    write(cfg(home), b'\xef\xbb\xbf{\n  "theme": "dusk"\n}\n')
    rc, res, out = run(capsys, {'api_key': KEY, 'models': ['auto']})
    assert rc == 0 and res['changed'], res.get('msg')
    data = cfg(home).read_bytes()
    assert data.startswith(b'\xef\xbb\xbf{') and data.count(b'\xef\xbb\xbf') == 1
    rc, res, out = run(capsys, {'state': 'absent'})
    assert cfg(home).read_bytes().startswith(b'\xef\xbb\xbf{')


def test_stale_temp_files_of_our_own_are_removed_next_run(home, capsys):
    write(cfg(home), '{}\n')
    folder = cfg(home).parent
    dead = folder / '.opencode.json.omniroute-999999999-k3y4x8z1.tmp'
    legacy = folder / '.opencode.json.ab12cd34.tmp'
    fresh_legacy = folder / '.opencode.json.ef56gh78.tmp'
    alive = folder / ('.opencode.json.omniroute-%d-zz99yy88.tmp' % os.getppid())
    unrelated = folder / '.opencode.json.swp'
    for path in (dead, legacy, fresh_legacy, alive, unrelated):
        write(path, '{"apiKey": "%s"}' % S['own_old'], 0o600)
    os.utime(str(legacy), (time.time() - 3600, time.time() - 3600))
    keep = [fresh_legacy, alive, unrelated]
    if os.geteuid() == 0:
        foreign = folder / '.opencode.json.omniroute-999999998-q1w2e3r4.tmp'
        write(foreign, 'x', 0o600)
        os.chown(str(foreign), NOBODY, NOBODY)
        keep.append(foreign)
    rc, res, out = run(capsys, {'api_key': KEY}, check=True)
    assert res['changed'] and sorted(res['stale_temp_files']) == sorted([str(dead), str(legacy)])
    assert dead.exists() and legacy.exists()
    rc, res, out = run(capsys, {'api_key': KEY})
    assert rc == 0 and not dead.exists() and not legacy.exists()
    assert all(p.exists() for p in keep)
    rc, res, out = run(capsys, {'api_key': KEY})
    assert not res['changed']


def test_a_change_saved_during_the_run_is_never_overwritten(home, capsys, monkeypatch):
    write(cfg(home), '{"theme": "dusk"}\n')
    real_plan = cfgmod.plan

    def plan_then_user_saves(*args, **kwargs):
        planned = real_plan(*args, **kwargs)
        cfg(home).write_text('{"theme": "dawn"} // saved by the user meanwhile\n')
        return planned

    monkeypatch.setattr(cfgmod, 'plan', plan_then_user_saves)
    rc, res, out = run(capsys, {'api_key': KEY, 'key_store': 'auth'})
    assert rc == 1 and res['conflict'] and 'it changed while the module was running' in res['msg']
    assert cfg(home).read_text() == '{"theme": "dawn"} // saved by the user meanwhile\n'
    # Checked before anything is written: the credential store was not touched either.
    assert not auth(home).exists()
    monkeypatch.setattr(cfgmod, 'plan', real_plan)
    rc, res, out = run(capsys, {'api_key': KEY, 'key_store': 'auth'})
    assert rc == 0 and parse(cfg(home).read_text())['theme'] == 'dawn'


# --------------------------------------------------------------------------- 6. environment
@pytest.mark.needs_root
def test_xdg_directories_of_another_user_are_ignored(home, capsys, monkeypatch, tmp_path):
    require_root()
    foreign = tmp_path / 'someone-elses'
    (foreign / 'opencode').mkdir(parents=True)
    os.chown(str(foreign), NOBODY, NOBODY)
    monkeypatch.setenv('XDG_CONFIG_HOME', str(foreign))
    monkeypatch.setenv('XDG_DATA_HOME', str(foreign))
    rc, res, out = run(capsys, {'api_key': KEY, 'key_store': 'auth'})
    assert rc == 0
    assert res['path'] == str(cfg(home)) and res['auth_path'] == str(auth(home))
    assert os.listdir(str(foreign / 'opencode')) == []
    assert 'XDG_CONFIG_HOME=%s is ignored' % foreign in json.dumps(res['warnings'])
    assert 'XDG_DATA_HOME=%s is ignored' % foreign in json.dumps(res['warnings'])
    # The user's own XDG directory is used as before.
    own = tmp_path / 'mine'
    own.mkdir()
    monkeypatch.setenv('XDG_CONFIG_HOME', str(own))
    rc, res, out = run(capsys, {'api_key': KEY, 'key_store': 'auth'})
    assert res['path'] == str(own / 'opencode' / 'opencode.json')
