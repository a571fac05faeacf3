# -*- coding: utf-8 -*-
"""The users module and its per-user child processes, on real files and real accounts.

Runs as root (as CI and this machine do); the child-process tests drop to the existing ``nobody`` account
(no account is created). Every secret is searched for in every output.
"""
from __future__ import absolute_import, division, print_function

import json
import os
import pathlib
import pwd

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.omniroute.opencode.plugins.modules import users
from ansible_collections.omniroute.opencode.plugins.module_utils import _users as us

KEY = 'sk-unit-users-5c7e21'
OTHER_SECRET = 'sk-ant-other-provider-77aa'
ME = pwd.getpwuid(os.geteuid()).pw_name


def run(capsys, args, check=False, diff=False):
    args = dict(args)
    args.setdefault('host', 'laptop9')
    if check:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            users.main()
    out = capsys.readouterr().out
    return exc.value.code, json.loads(out), out


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('XDG_CONFIG_HOME', raising=False)
    monkeypatch.delenv('XDG_DATA_HOME', raising=False)
    return tmp_path


@pytest.fixture
def nobody_dir():
    """A directory owned by ``nobody`` that ``nobody`` can reach (pytest's tmp_path is 0700 root)."""
    import shutil
    import tempfile
    top = tempfile.mkdtemp(prefix='users-unit-')
    os.chmod(top, 0o755)
    path = os.path.join(top, 'nobody')
    os.mkdir(path, 0o700)
    entry = pwd.getpwnam('nobody')
    os.chown(path, entry.pw_uid, entry.pw_gid)
    yield path
    shutil.rmtree(top)


def files_under(path):
    return sorted(os.path.join(d, f) for d, _s, fs in os.walk(str(path)) for f in fs)


def test_one_run_configures_checks_and_diffs_per_user(home, capsys):
    rc, res, out = run(capsys, {'users': [{'name': ME, 'api_key': KEY}, {'name': 'no-such-dev-zz', 'state': 'absent'}]},
                       check=True, diff=True)
    assert rc == 0 and res['changed'] and files_under(home) == []
    path = str(home / '.config' / 'opencode' / 'opencode.json')
    assert res['users'][ME]['files'] == [path]
    assert res['users']['no-such-dev-zz']['skipped']
    assert [d['before_header'] for d in res['diff']] == ['%s: %s' % (ME, path)]
    assert KEY not in out

    rc, res, out = run(capsys, {'users': [{'name': ME, 'api_key': KEY}]}, diff=True)
    assert rc == 0 and res['changed'] and KEY not in out
    assert KEY in (home / '.config' / 'opencode' / 'opencode.json').read_text()
    rc, res, _out = run(capsys, {'users': [{'name': ME, 'api_key': KEY}]})
    assert rc == 0 and not res['changed']


def test_key_precedence_and_env_store(home, capsys):
    maps = [{ME: 'sk-from-omniroute-1111'}, {ME: 'sk-from-map-2222'}]
    rc, _res, out = run(capsys, {'users': [{'name': ME}], 'key_maps': maps})
    assert rc == 0 and 'sk-from-omniroute-1111' not in out
    text = (home / '.config' / 'opencode' / 'opencode.json').read_text()
    assert 'sk-from-omniroute-1111' in text and 'sk-from-map-2222' not in text
    rc, _res, _out = run(capsys, {'users': [{'name': ME, 'key_store': 'env', 'key_env_var': 'MY_KEY'}], 'key_maps': maps})
    assert rc == 0
    text = (home / '.config' / 'opencode' / 'opencode.json').read_text()
    assert '{env:MY_KEY}' in text and 'sk-from' not in text


def test_every_problem_is_reported_before_anything_is_written(home, capsys):
    rc, res, out = run(capsys, {'users': [
        {'name': ME, 'api_key': KEY}, {'name': ME, 'api_key': KEY},
        {'name': 'no-such-dev-zz', 'api_key': KEY}, {'name': 'daemon'}]})
    assert rc == 1
    msg = res['msg']
    assert msg.startswith('host laptop9: ') and msg.endswith('nothing was changed on laptop9')
    assert "user '%s': listed more than once" % ME in msg
    assert "user 'no-such-dev-zz': no such account" in msg
    assert "user 'daemon': no API key" in msg
    assert files_under(home) == [] and KEY not in out


def test_a_broken_file_of_one_user_stops_every_write(home, nobody_dir, capsys):
    cfg = home / '.config' / 'opencode' / 'opencode.json'
    cfg.parent.mkdir(parents=True)
    cfg.write_text('{"provider": {,}}')
    nobody = pwd.getpwnam('nobody')
    other = pathlib.Path(nobody_dir)
    rc, res, _out = run(capsys, {'users': [
        {'name': 'nobody', 'api_key': KEY, 'config_path': str(other / 'opencode.json'),
         'auth_path': str(other / 'auth.json')},
        {'name': ME, 'api_key': KEY}]})
    assert rc == 1
    assert "user '%s': cannot edit %s (user %s on laptop9)" % (ME, cfg, ME) in res['msg']
    assert 'nothing was changed on laptop9' in res['msg']
    assert os.listdir(str(other)) == [] and cfg.read_text() == '{"provider": {,}}'


def test_each_users_files_are_written_by_that_user(home, nobody_dir, capsys):
    nobody = pwd.getpwnam('nobody')
    other = pathlib.Path(nobody_dir)
    rc, _res, _out = run(capsys, {'users': [
        {'name': 'nobody', 'api_key': KEY, 'config_path': str(other / 'opencode.json')}]})
    assert rc == 0
    st = os.stat(str(other / 'opencode.json'))
    assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    # A symlink nobody planted towards a root-only file is followed as nobody: refused, unchanged.
    target = home / 'root-only.json'
    target.write_text('{}')
    os.chmod(str(target), 0o600)
    os.unlink(str(other / 'opencode.json'))
    os.symlink(str(target), str(other / 'opencode.json'))
    rc, res, _out = run(capsys, {'users': [
        {'name': 'nobody', 'api_key': KEY, 'config_path': str(other / 'opencode.json')}]})
    assert rc == 1 and 'Permission denied' in res['msg'] and target.read_text() == '{}'


def test_child_drops_uid_gid_groups_and_environment(tmp_path):
    nobody = us.lookup('nobody')
    secret_dir = tmp_path / 'root-only'
    secret_dir.mkdir(mode=0o700)
    (secret_dir / 'secret').write_text('root secret')

    def plan(environ):
        data = dict(uid=os.getuid(), euid=os.geteuid(), gid=os.getgid(), groups=sorted(os.getgroups()),
                    home=environ['HOME'], env_home=os.environ['HOME'], cwd=os.getcwd())
        try:
            open(str(secret_dir / 'secret')).read()
            data['read_root_file'] = True
        except (IOError, OSError):
            data['read_root_file'] = False
        return data, None

    child = us.UserProcess(nobody, plan)
    try:
        reply = child.reply()
        child.stop()
    finally:
        child.close()
    assert reply.ok, reply.msg
    data = reply.data
    assert (data['uid'], data['euid'], data['gid']) == (nobody.uid, nobody.uid, nobody.gid)
    assert 0 not in data['groups']
    assert data['home'] == data['env_home'] == nobody.home
    assert data['read_root_file'] is False


def test_without_root_only_the_running_account_is_allowed():
    def plan(environ):
        users_ = us.effective_users([{'name': 'nobody'}, {'name': 'root'}], 'config')
        return us.account_problems(users_), None

    child = us.UserProcess(us.lookup('nobody'), plan)
    try:
        reply = child.reply()
        child.stop()
    finally:
        child.close()
    assert reply.ok and len(reply.data) == 1
    assert reply.data[0].startswith("user 'root': only root can configure another account, and this module runs as nobody")


def test_a_failing_child_reports_without_secrets():
    def plan(environ):
        raise ValueError('boom with %s inside' % KEY)

    child = us.UserProcess(us.lookup(ME), plan, redact=us.redactor([KEY]))
    try:
        reply = child.reply()
    finally:
        child.close()
    assert not reply.ok and 'boom with ******** inside' in reply.msg and KEY not in json.dumps(reply.data)


def test_installed_keys_mode_returns_only_this_providers_key(home, capsys):
    cfg = home / '.config' / 'opencode' / 'opencode.jsonc'
    cfg.parent.mkdir(parents=True)
    cfg.write_text('{\n // mine\n "provider": {"anthropic": {"options": {"apiKey": "%s"}},\n'
                   '  "omniroute": {"options": {"apiKey": "%s"}}}\n}\n' % (OTHER_SECRET, KEY))
    auth = home / '.local' / 'share' / 'opencode' / 'auth.json'
    auth.parent.mkdir(parents=True)
    auth.write_text('{"openai": {"type": "api", "key": "%s-auth"}}' % OTHER_SECRET)
    before = cfg.read_text()
    rc, res, out = run(capsys, {'users': [{'name': ME}, {'name': 'gone-dev-zz', 'state': 'absent'},
                                          {'name': 'daemon', 'key_store': 'env'}],
                                'installed_keys': True, 'omniroute_key_name': 'oc-{user}@{host}',
                                'omniroute_allowed_models': ['auto']}, check=True)
    assert rc == 0 and not res['changed'] and OTHER_SECRET not in out
    assert res['key_requests'] == [
        dict(label=ME, name='oc-%s@laptop9' % ME, state='present', rotate=False, installed_key=KEY,
             allowed_models=['auto'], expires_at=None),
        dict(label='gone-dev-zz', name='oc-gone-dev-zz@laptop9', state='absent')]
    assert cfg.read_text() == before
