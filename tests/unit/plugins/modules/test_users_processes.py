# -*- coding: utf-8 -*-
"""The users module's per-user child processes, dropping to the existing ``nobody`` account (no
account is created; runs as root, as CI does). These run code as another uid, so they need code
every uid can read: ``make test-unit`` runs them; the ansible-test runs of the matrix
(mk/matrix.mk) leave ``test_*_processes.py`` out.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pathlib
import pwd

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _users as us
from ansible_collections.omniroute.opencode.plugins.module_utils._redact import Redactor
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.test_users import (  # noqa: F401 pylint: disable=unused-import
    KEY, ME, run)


# Every test here switches uids or changes ownership: the root tier (make test-unit-root).
pytestmark = pytest.mark.needs_root


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
    assert "no user's file was changed on laptop9" in res['msg']
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
    assert rc == 1 and 'permission denied' in res['msg'].lower() and target.read_text() == '{}'


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

    child = us.UserProcess(us.lookup(ME), plan, redact=Redactor([KEY]).text)
    try:
        reply = child.reply()
    finally:
        child.close()
    assert not reply.ok and 'boom with ******** inside' in reply.msg and KEY not in json.dumps(reply.data)


def test_each_child_holds_only_its_own_users_key_and_is_not_dumpable(home, nobody_dir, capsys, monkeypatch):
    """Issue 19: every child got every user's key (through the secrets list and the module's memory)."""
    from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfgmod
    from ansible_collections.omniroute.opencode.plugins.modules import users
    keys = {ME: 'sk-unit-mine-1a2b3c4d5e', 'nobody': 'sk-unit-nobodys-6f7a8b9c0d'}
    other = pathlib.Path(nobody_dir)
    seen = {}
    real_forget, real_describe = users.forget_others, cfgmod.describe

    def forget(module, keep, works_params, own=None):
        real_forget(module, keep, works_params, own)
        # What this child can still reach: the module's arguments and every user's parameters.
        seen['reachable'] = json.dumps([module.params, works_params, sorted(module.no_log_values)], default=str)

    def describe(user_plan, secrets, diff, diff_label=None):
        data = real_describe(user_plan, secrets, diff, diff_label)
        data['probe'] = dict(dumpable=us.dumpable(), secrets=len(secrets),
                             holds=sorted(n for n, k in keys.items() if k in seen['reachable'] or k in secrets))
        return data

    monkeypatch.setattr(users, 'forget_others', forget)
    monkeypatch.setattr(cfgmod, 'describe', describe)
    rc, res, out = run(capsys, {'users': [
        {'name': 'nobody', 'api_key': keys['nobody'], 'config_path': str(other / 'opencode.json'),
         'auth_path': str(other / 'auth.json')},
        {'name': ME}], 'key_maps': [{ME: keys[ME]}]}, check=True)
    assert rc == 0, res
    assert res['users']['nobody']['probe'] == dict(dumpable=0, secrets=1, holds=['nobody'])
    assert res['users'][ME]['probe'] == dict(dumpable=0, secrets=1, holds=[ME])
    assert not any(k in out for k in keys.values())
