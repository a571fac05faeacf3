# -*- coding: utf-8 -*-
"""The plan/apply pipeline through the provider and users modules: checks before any write, all or
nothing per user (rollback), an honest result; the model order and the diff view (issue 25).

The faults here are injected into one write of a run (the file system is fine at the checks);
the same faults from a real kernel (a tmpfs filled or remounted read-only between two writes) are
in test_provider_pipeline_faults.py (root tier)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.omniroute.opencode.plugins.modules import provider
from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfgmod
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils import _users as us
from ansible_collections.omniroute.opencode.plugins.module_utils._files import FileError
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import Document, parse
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import run_module
from ansible_collections.omniroute.opencode.tests.support.files import fmode, write

KEY = 'sk-unit-pipeline-7a6b5c4d'
OLD_KEY = 'sk-unit-pipeline-old-3e2f1a'


def run(capsys, args, check=False, diff=False):
    return run_module(provider.main, capsys, args, check, diff)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('XDG_CONFIG_HOME', raising=False)
    monkeypatch.delenv('XDG_DATA_HOME', raising=False)
    old = os.umask(0o022)
    yield tmp_path
    os.umask(old)


def cfg(home):
    return home / '.config' / 'opencode' / 'opencode.json'


def auth(home):
    return home / '.local' / 'share' / 'opencode' / 'auth.json'


def fail_on(monkeypatch, path, text='no space left on device (ENOSPC)'):
    """Make the write of ``path`` fail (the run's other writes go through)."""
    real = cfgmod.write_atomic

    def write_atomic(module, p, *a, **kw):
        if p == str(path) and kw.get('expect') != a[1]:  # not a rollback of that file
            raise FileError(text)
        return real(module, p, *a, **kw)

    monkeypatch.setattr(cfgmod, 'write_atomic', write_atomic)


# --------------------------------------------------------------------------- all or nothing per user
def test_a_failed_write_rolls_back_the_users_files_written_before_it(home, capsys, monkeypatch):
    """Issue 19: auth.json written, the config not, and the result said changed=false."""
    write(cfg(home), '{\n  // mine\n  "provider": {"omniroute": {"options": {"apiKey": "%s"}}}\n}\n' % OLD_KEY)
    write(auth(home), '{"other": {"type": "api", "key": "x"}}', 0o640)
    config_before, auth_before = cfg(home).read_bytes(), auth(home).read_bytes()
    fail_on(monkeypatch, cfg(home))
    rc, res, out = run(capsys, {'api_key': KEY, 'key_store': 'auth', 'backup': True})
    assert rc == 1 and res['changed'] is True
    msg = res['msg']
    assert msg.startswith('cannot write %s (%s): no space left on device (ENOSPC); %s was left as it was.'
                          % (cfg(home), cfgmod.where(), cfg(home)))
    assert 'rolled back %s (earlier content, mode and owner restored)' % auth(home) in msg
    assert 'nothing was changed' not in msg
    assert res['written'] == [str(auth(home))] and res['restored'] == [str(auth(home))]
    assert res['not_restored'] == []
    # The earlier bytes and mode are back (the new auth.json was 0600), the backup stays.
    assert auth(home).read_bytes() == auth_before and fmode(auth(home)) == 0o640
    assert cfg(home).read_bytes() == config_before
    (backup,) = res['backup_files'].values()
    assert open(backup, 'rb').read() == auth_before and 'backups kept: %s' % backup in msg
    assert KEY not in out and OLD_KEY not in out
    assert [n for n in os.listdir(str(auth(home).parent)) if n.endswith('.tmp')] == []


def test_a_file_created_by_the_run_is_removed_again_with_its_directories(home, capsys, monkeypatch):
    write(cfg(home), '{}\n')
    fail_on(monkeypatch, cfg(home), 'read-only file system (EROFS)')
    rc, res, out = run(capsys, {'api_key': KEY, 'key_store': 'auth'})
    assert rc == 1 and res['changed'] is True and res['restored'] == [str(auth(home))]
    assert not (home / '.local').exists() and cfg(home).read_text() == '{}\n'


def test_what_could_not_be_rolled_back_is_said(home, capsys, monkeypatch):
    write(cfg(home), '{}\n')
    write(auth(home), '{}', 0o600)
    real = cfgmod._undo

    def undo(module, change, before, created):
        raise FileError('input/output error (EIO)')

    fail_on(monkeypatch, cfg(home))
    monkeypatch.setattr(cfgmod, '_undo', undo)
    rc, res, out = run(capsys, {'api_key': KEY, 'key_store': 'auth'})
    assert real is not undo and rc == 1 and res['changed'] is True
    assert res['not_restored'] == [str(auth(home))] and res['restored'] == []
    assert 'could not roll back %s (input/output error (EIO)), which holds the new content' % auth(home) in res['msg']
    assert KEY not in out


def test_the_first_write_failing_changes_nothing_and_says_so(home, capsys, monkeypatch):
    write(cfg(home), '{}\n')
    fail_on(monkeypatch, auth(home))
    rc, res, out = run(capsys, {'api_key': KEY, 'key_store': 'auth'})
    assert rc == 1 and res['changed'] is False and res['msg'].endswith('; nothing was changed')
    assert not auth(home).exists() and cfg(home).read_text() == '{}\n'


def test_a_missing_home_is_found_before_anything_is_written(tmp_path, capsys, monkeypatch):
    gone = tmp_path / 'gone'
    monkeypatch.setenv('HOME', str(gone))
    monkeypatch.delenv('XDG_CONFIG_HOME', raising=False)
    monkeypatch.delenv('XDG_DATA_HOME', raising=False)
    for check in (True, False):
        rc, res, out = run(capsys, {'api_key': KEY, 'host': 'inv7'}, check=check)
        assert rc == 1 and not res['changed']
        assert res['msg'] == ('the home directory %s of user %s on inv7 does not exist (or is not a directory); '
                              "create the account's home first; nothing was changed" % (gone, us.current_user()))
    assert os.listdir(str(tmp_path)) == []


def test_a_target_directory_that_is_a_file_is_found_before_anything_is_written(home, capsys):
    write(cfg(home), '{}\n')
    (home / '.local').write_text('not a directory')
    rc, res, out = run(capsys, {'api_key': KEY, 'key_store': 'auth'})
    assert rc == 1 and res['msg'] == ('cannot write %s (%s): %s is not a directory; nothing was changed'
                                      % (auth(home), cfgmod.where(), home / '.local'))
    assert cfg(home).read_text() == '{}\n'


def test_users_module_a_rolled_back_user_is_failed_honestly(home, capsys, monkeypatch):
    from ansible_collections.omniroute.opencode.plugins.modules import users
    write(cfg(home), '{}\n')
    fail_on(monkeypatch, cfg(home))
    me = us.current_user()
    rc, res, out = run_module(users.main, capsys, {'host': 'inv7', 'users': [{'name': me, 'api_key': KEY}],
                                                   'key_store': 'auth'})
    assert rc == 1 and res['changed'] is True
    assert "user '%s': cannot write %s (user %s on inv7)" % (me, cfg(home), me) in res['msg']
    assert 'nothing was changed' not in res['msg'] and res['msg'].endswith('; no other user was written')
    mine = res['users'][me]
    assert mine['failed'] and mine['changed'] and mine['restored'] == [str(auth(home))]
    assert not auth(home).exists() and KEY not in out


# --------------------------------------------------------------------------- issue 25: model order, diff view
def test_the_model_order_does_not_depend_on_the_files_history(home, capsys):
    """An earlier, narrower catalog left its models first; the order is now the catalog's."""
    models = ['auto', 'b-model', 'c-model', 'z-model']
    run(capsys, {'api_key': KEY, 'models': ['z-model', 'c-model']})
    text = cfg(home).read_text().replace('"c-model": {', '// about c\n      "c-model": {\n        // mine\n        "x": 1,', 1)
    cfg(home).write_text(text)
    rc, res, out = run(capsys, {'api_key': KEY, 'models': models})
    assert rc == 0 and res['changed']
    grown = cfg(home).read_text()
    assert list(parse(grown)['provider']['omniroute']['models']) == models
    assert '// about c' in grown and '// mine' in grown and parse(grown)['provider']['omniroute']['models']['c-model']['x'] == 1
    # The same catalog on a fresh file gives the same entry, key for key and in order.
    other = home / 'fresh.json'
    run(capsys, {'api_key': KEY, 'models': models, 'path': str(other)})
    assert list(parse(other.read_text())['provider']['omniroute']['models']) == models
    rc, res, out = run(capsys, {'api_key': KEY, 'models': models})
    assert not res['changed']
    # Only the order differs: said as such.
    rc, res, out = run(capsys, {'api_key': KEY, 'models': list(reversed(models))})
    assert res['changes'][str(cfg(home))] == ['put the models of provider.omniroute in catalog order']
    assert list(parse(cfg(home).read_text())['provider']['omniroute']['models']) == list(reversed(models))


def test_plan_present_orders_models_losslessly():
    text = ('{\n  "provider": {\n    "omniroute": {\n      "models": {\n        "b": {"name": "b"}, // bee\n'
            '        /* a first? */\n        "a": {"name": "a"}\n      }\n    }\n  }\n}\n')
    spec = oc.Spec(models=['a', 'b'])
    plan = oc.plan_present(text, spec)
    models = Document(plan.new_text).get(('provider', 'omniroute', 'models'))
    assert list(models) == ['a', 'b']
    assert '/* a first? */\n        "a": {"name": "a"},' in plan.new_text and '"b": {"name": "b"} // bee' in plan.new_text
    assert not oc.plan_present(plan.new_text, spec).changed


def test_a_new_files_diff_view_puts_schema_first_as_in_the_file(home, capsys):
    rc, res, out = run(capsys, {'api_key': KEY}, check=True, diff=True)
    (d,) = res['diff']
    assert list(json.loads(d['after'])) == ['$schema', 'provider']
    run(capsys, {'api_key': KEY})
    assert list(parse(cfg(home).read_text())) == ['$schema', 'provider']
