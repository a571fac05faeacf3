# -*- coding: utf-8 -*-
"""The managed module on real files in temporary directories (run as root, as on a host)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import plistlib
import pwd
import stat
import types

import pytest

from ansible_collections.omniroute.opencode.plugins.modules import managed
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import parse
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import models_gateway, run_module
from ansible_collections.omniroute.opencode.tests.support.results import warnings_of
from ansible_collections.omniroute.opencode.tests.support.http_server import CLOSED

ROOT = os.geteuid() == 0
STATE = 'omniroute-opencode.state.json'
ADMIN = '// fleet policy\n{\n  "share": "disabled",\n  "permission": {"bash": "ask"}\n}\n'


def run(capsys, args, check=False, diff=False):
    """Run the module like Ansible does; return (rc, result, raw stdout)."""
    return run_module(managed.main, capsys, args, check, diff)


@pytest.fixture
def etc(tmp_path):
    old = os.umask(0o077)  # a strict umask must not make the managed file unreadable for users
    yield tmp_path / 'etc' / 'opencode'
    os.umask(old)


def args(etc, **kw):
    a = {'directory': str(etc), 'base_url': 'http://gw.example.com:20128', 'models': ['auto']}
    a.update(kw)
    return a


def owner_mode(path):
    st = os.stat(str(path))
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def test_present_writes_a_root_owned_0644_file_without_a_key(etc, capsys):
    rc, res, out = run(capsys, args(etc, only_gateway=True, settings={'autoupdate': False}))
    assert rc == 0 and res['changed']
    path = etc / 'opencode.json'
    state = etc / 'omniroute-opencode.state.json'
    assert res['path'] == str(path) and res['files'] == [str(path), str(state)]
    assert owner_mode(state)[2] == 0o644 and 'apiKey' not in state.read_text()
    uid, gid, mode = owner_mode(path)
    assert mode == 0o644 and stat.S_IMODE(os.stat(str(etc)).st_mode) == 0o755
    if ROOT:
        assert (uid, gid) == (0, 0)
    data = parse(path.read_text())
    assert data['enabled_providers'] == ['omniroute'] and data['autoupdate'] is False
    assert 'apiKey' not in path.read_text() and 'apiKey' not in out
    assert res['entry']['options'] == {'baseURL': 'http://gw.example.com:20128/v1'}
    # Second run: nothing to do.
    rc, res, dummy = run(capsys, args(etc, only_gateway=True, settings={'autoupdate': False}))
    assert rc == 0 and not res['changed'] and res['files'] == []


def test_check_and_diff_write_nothing(etc, capsys):
    etc.mkdir(parents=True)
    path = etc / 'opencode.json'
    path.write_text(ADMIN)
    before = path.read_bytes()
    rc, res, dummy = run(capsys, args(etc, only_gateway=True), check=True, diff=True)
    assert rc == 0 and res['changed']
    assert path.read_bytes() == before
    (d,) = [x for x in res['diff'] if x['before_header'] == str(path)]
    # The diff shows what the module manages (entry, allow-list), not the admin's other settings.
    assert '"omniroute"' not in d['before'] and '"enabled_providers"' not in d['before']
    assert '"enabled_providers"' in d['after'] and '"omniroute"' in d['after']
    assert 'permission' not in d['before'] + d['after'] and 'share' not in d['before'] + d['after']


def test_ownership_and_mode_are_repaired(etc, capsys):
    run(capsys, args(etc))
    path = etc / 'opencode.json'
    os.chmod(str(path), 0o600)
    if ROOT:
        os.chown(str(path), 65534, 65534)
    rc, res, dummy = run(capsys, args(etc), check=True)
    assert res['changed'] and res['files'] == [str(path)]
    assert owner_mode(path)[2] == 0o600
    rc, res, dummy = run(capsys, args(etc))
    assert res['changed'] and owner_mode(path)[2] == 0o644
    if ROOT:
        assert owner_mode(path)[:2] == (0, 0)
    assert not run(capsys, args(etc))[1]['changed']


def test_existing_key_is_removed_and_never_shown(etc, capsys):
    etc.mkdir(parents=True)
    path = etc / 'opencode.json'
    secret = 'sk-managed-leak-0123456789'
    path.write_text(json.dumps({'provider': {'omniroute': {'options': {'baseURL': 'http://x/v1', 'apiKey': secret}}}}))
    rc, res, out = run(capsys, args(etc), diff=True)
    assert rc == 0 and res['changed']
    assert secret not in path.read_text() and secret not in out


@pytest.mark.parametrize('settings', [{'x': {'apiKey': 'abc123'}}, {'provider': {'a': {}}},
                                      {'note': 'sk-live-abcdef123456'}])
def test_key_looking_settings_are_refused_and_nothing_is_written(etc, capsys, settings):
    rc, res, out = run(capsys, args(etc, settings=settings))
    assert rc == 1 and res['failed']
    assert not etc.exists()
    assert 'abc123' not in out and 'sk-live-abcdef123456' not in out


def test_invalid_managed_file_fails_with_position_and_stays(etc, capsys):
    etc.mkdir(parents=True)
    path = etc / 'opencode.json'
    path.write_text('{\n  "share": "disabled",,\n}\n')
    before = path.read_bytes()
    rc, res, dummy = run(capsys, args(etc))
    assert rc == 1 and res['line'] == 2 and res['path'] == str(path)
    assert path.read_bytes() == before


def test_absent_removes_entry_and_allow_list_and_leaves_other_settings(etc, capsys):
    etc.mkdir(parents=True)
    path = etc / 'opencode.json'
    path.write_text(ADMIN)
    run(capsys, args(etc, only_gateway=True, model='auto', settings={'autoupdate': False}))
    rc, res, dummy = run(capsys, {'directory': str(etc), 'state': 'absent'}, diff=True)
    assert rc == 0 and res['changed']
    text = path.read_text()
    data = parse(text)
    assert 'provider' not in data or 'omniroute' not in data['provider']
    assert 'enabled_providers' not in data and 'model' not in data
    assert data['share'] == 'disabled' and data['autoupdate'] is False and data['permission'] == {'bash': 'ask'}
    assert text.startswith('// fleet policy\n')
    assert not run(capsys, {'directory': str(etc), 'state': 'absent'})[1]['changed']


def test_absent_without_a_file_changes_nothing(etc, capsys):
    rc, res, dummy = run(capsys, {'directory': str(etc), 'state': 'absent'})
    assert rc == 0 and not res['changed'] and not etc.exists()


def test_jsonc_wins_and_a_copy_in_the_lower_file_goes(etc, capsys):
    etc.mkdir(parents=True)
    (etc / 'opencode.json').write_text('{"provider": {"omniroute": {"models": {"stale": {}}}}, "share": "disabled"}')
    (etc / 'opencode.jsonc').write_text('{\n  // policy\n}\n')
    rc, res, dummy = run(capsys, args(etc))
    assert res['path'] == str(etc / 'opencode.jsonc')
    assert res['files'] == [str(etc / 'opencode.json'), str(etc / 'opencode.jsonc'), str(etc / STATE)]
    lower = parse((etc / 'opencode.json').read_text())
    assert 'omniroute' not in lower.get('provider', {}) and lower['share'] == 'disabled'
    assert parse((etc / 'opencode.jsonc').read_text())['provider']['omniroute']['models'] == {'auto': {'name': 'auto'}}
    assert owner_mode(etc / 'opencode.json')[2] == 0o644


def test_mobileconfig_written_idempotently_and_removed_with_absent(etc, tmp_path, capsys):
    profile = tmp_path / 'out' / 'omniroute.mobileconfig'
    a = args(etc, only_gateway=True, settings={'autoupdate': False}, mobileconfig=str(profile),
             profile_organization='Example Corp')
    rc, res, dummy = run(capsys, a)
    assert rc == 0 and str(profile) in res['files']
    assert owner_mode(profile)[2] == 0o644
    doc = plistlib.loads(profile.read_bytes())
    (payload,) = doc['PayloadContent']
    assert payload['PayloadType'] == 'ai.opencode.managed' and payload['enabled_providers'] == ['omniroute']
    assert payload['provider']['omniroute']['options'] == {'baseURL': 'http://gw.example.com:20128/v1'}
    assert payload['autoupdate'] is False and '$schema' not in payload
    assert not run(capsys, a)[1]['changed']
    rc, res, dummy = run(capsys, {'directory': str(etc), 'state': 'absent', 'mobileconfig': str(profile)})
    assert res['changed'] and not profile.exists()


def warnings_about(res, about):
    """This run's warnings that mention ``about`` (warnings of earlier runs in the process linger)."""
    return [w for w in warnings_of(res) if str(about) in w]


@pytest.mark.needs_root  # as another user the module also warns that the file keeps that owner
def test_drift_names_what_another_tool_changed_in_check_mode_and_puts_it_back(etc, capsys):
    import socket
    a = args(etc, only_gateway=True, settings={'autoupdate': False})
    rc, res, dummy = run(capsys, a)
    assert rc == 0 and res['drift'] == [] and warnings_about(res, etc) == []  # a new entry is no drift
    assert run(capsys, a)[1]['drift'] == []
    path = etc / 'opencode.json'
    data = parse(path.read_text())
    secret = 'sk-another-tool-put-this-0123'
    data['provider']['omniroute']['options'].update(baseURL='http://elsewhere/v1', apiKey=secret)
    data['enabled_providers'] = ['omniroute', 'direct']
    data['share'] = 'auto'  # not the module's
    path.write_text(json.dumps(data, indent=2))
    before = path.read_bytes()
    rc, res, out = run(capsys, a, check=True, diff=True)
    wanted = ['enabled_providers', 'provider.omniroute.options.apiKey', 'provider.omniroute.options.baseURL']
    assert rc == 0 and res['changed'] and res['drift'] == wanted and path.read_bytes() == before
    (warning,) = [w for w in warnings_about(res, etc) if 'another tool' in w]
    assert warning.startswith('host %s: %s was changed by another tool' % (socket.gethostname(), path))
    assert 'provider.omniroute.options.baseURL' in warning and 'check mode' in warning
    assert secret not in out
    rc, res, out = run(capsys, a)
    assert rc == 0 and res['drift'] == wanted and secret not in out and secret not in path.read_text()
    data = parse(path.read_text())
    assert data['provider']['omniroute']['options'] == {'baseURL': 'http://gw.example.com:20128/v1'}
    assert data['enabled_providers'] == ['omniroute'] and data['share'] == 'auto'
    rc, res, dummy = run(capsys, a)
    assert not res['changed'] and res['drift'] == [] and warnings_about(res, etc) == []


GW_KEY = 'sk-unit-managed-catalog-9f8e7d'
GW_MODELS = [{'id': 'team-fast', 'owned_by': 'combo', 'max_output_tokens': 4096},
             {'id': 'openai/gpt-4o', 'context_length': 128000, 'max_output_tokens': 16384},
             {'id': 'openai/whisper-1', 'type': 'audio'}]


def test_gateway_catalog_uses_the_key_only_for_the_request(etc, capsys):
    with models_gateway(GW_KEY, GW_MODELS) as (url, seen):
        a = {'directory': str(etc), 'base_url': url, 'catalog': 'gateway', 'catalog_key': GW_KEY,
             'models': ['auto'], 'catalog_exclude': ['team-*']}
        rc, res, out = run(capsys, a, check=True, diff=True)
        assert rc == 0 and res['changed'] and not etc.exists()
        assert res['models'] == ['auto', 'openai/gpt-4o'] and res['catalog']['source'] == 'gateway'
        assert res['catalog']['status'] == 200 and GW_KEY not in out
        assert res['invocation']['module_args']['catalog_key'] != GW_KEY
        rc, res, out = run(capsys, a)
        assert rc == 0 and res['changed'] and GW_KEY not in out
        path = etc / 'opencode.json'
        assert GW_KEY not in path.read_text()
        models = parse(path.read_text())['provider']['omniroute']['models']
        assert models['openai/gpt-4o']['limit'] == {'context': 128000, 'output': 16384}
        assert sorted(models) == ['auto', 'openai/gpt-4o']
        assert seen and all(h == 'Bearer ' + GW_KEY for _p, h in seen)
        assert not run(capsys, a)[1]['changed']
        # A key the gateway rejects: failure naming the host, nothing written, no key shown.
        before = path.read_bytes()
        rc, res, out = run(capsys, dict(a, catalog_key='sk-wrong-key-0000000', catalog_exclude=[]))
        assert rc == 1 and 'rejected the key' in res['msg'] and path.read_bytes() == before
        assert 'sk-wrong-key' not in out
    # Gateway gone: catalog_offline=keep keeps the current catalog and warns, fail fails.
    rc, res, out = run(capsys, dict(a, timeout=2))
    assert rc == 0 and not res['changed'] and res['catalog']['source'] == 'kept'
    assert any('kept the current catalog' in w for w in warnings_about(res, etc)) and path.read_bytes() == before
    rc, res, out = run(capsys, dict(a, timeout=2, catalog_offline='fail'))
    assert rc == 1 and 'catalog_offline=fail' in res['msg'] and path.read_bytes() == before
    assert GW_KEY not in out


def test_gateway_catalog_without_a_key_fails_before_anything_changes(etc, capsys):
    import socket
    rc, res, out = run(capsys, {'directory': str(etc), 'base_url': CLOSED, 'catalog': 'gateway'})
    assert rc == 1 and 'catalog=gateway needs catalog_key' in res['msg']
    assert socket.gethostname() in res['msg'] and str(etc / 'opencode.json') in res['msg']
    assert not etc.exists()


# --------------------------------------------------------------------------- issue 25: the examples in order
def test_the_documented_examples_run_in_order_give_no_false_drift_and_name_the_inventory_host(etc, tmp_path, capsys):
    import socket
    build = tmp_path / 'build'
    with models_gateway(GW_KEY, GW_MODELS) as (url, _seen):
        steps = [
            {'base_url': url, 'models': ['auto', 'claude-opus-4-7'], 'only_gateway': True,
             'settings': {'autoupdate': False}},
            {'directory': str(build / 'managed'), 'mobileconfig': str(build / 'opencode-omniroute.mobileconfig'),
             'base_url': url, 'models': ['auto'], 'only_gateway': True},
            {'base_url': url, 'catalog': 'gateway', 'catalog_key': GW_KEY, 'catalog_exclude': ['*-preview'],
             'models': ['auto']},
            {'state': 'absent'},
        ]
        for step in steps:
            a = dict({'directory': str(etc), 'host': 'inv7'}, **step)
            rc, res, out = run(capsys, a)
            assert rc == 0 and res['changed'], res
            assert res['drift'] == [] and warnings_about(res, 'another tool') == [], res.get('warnings')
            # The documented examples, run in order, have nothing to warn about.
            assert warnings_about(res, '') == [], res.get('warnings')
            assert GW_KEY not in out
        # A warning names the inventory host, not the machine's own name: another tool's edit.
        a = dict({'directory': str(etc), 'host': 'inv7'}, **steps[0])
        assert run(capsys, a)[0] == 0
        data = parse((etc / 'opencode.json').read_text())
        data['provider']['omniroute']['options']['baseURL'] = 'http://elsewhere/v1'
        (etc / 'opencode.json').write_text(json.dumps(data, indent=2))
        rc, res, out = run(capsys, a)
        [warning] = warnings_about(res, '')
        assert rc == 0 and res['drift'] == ['provider.omniroute.options.baseURL'], res
        assert warning.startswith('host inv7: %s was changed by another tool' % (etc / 'opencode.json')), warning
        assert socket.gethostname() + ':' not in warning
        assert run(capsys, dict(a, state='absent'))[0] == 0
    assert 'omniroute' not in parse((etc / 'opencode.json').read_text()).get('provider', {})
    assert not (etc / STATE).exists()  # the record goes with the entry
    # A failure names the inventory host too.
    rc, res, out = run(capsys, {'directory': str(etc), 'host': 'inv7', 'base_url': CLOSED,
                                'catalog': 'gateway'})
    assert rc == 1 and 'user %s on inv7' % ME in res['msg']


ME = __import__('pwd').getpwuid(os.geteuid()).pw_name


def test_an_entry_without_a_record_is_taken_over_with_its_own_warning(etc, capsys):
    etc.mkdir(parents=True)
    path = etc / 'opencode.json'
    path.write_text(json.dumps({'provider': {'omniroute': {'npm': '@ai-sdk/openai-compatible',
                                                           'options': {'baseURL': 'http://old/v1'}}}}))
    rc, res, out = run(capsys, args(etc, host='inv7'))
    assert rc == 0 and res['drift'] == ['provider.omniroute.models', 'provider.omniroute.name',
                                        'provider.omniroute.options.baseURL']
    (warning,) = warnings_about(res, 'no record')
    assert warning.startswith('host inv7: %s has a provider.omniroute this collection has no record of writing' % path)
    assert (etc / STATE).exists()
    rc, res, out = run(capsys, args(etc, host='inv7', models=['auto', 'b']))
    assert rc == 0 and res['changed'] and res['drift'] == [] and warnings_about(res, 'inv7') == []


# --------------------------------------------------------------------------- owned_only (the role's switch back)
def owned_absent(etc, **kw):
    a = {'directory': str(etc), 'state': 'absent', 'owned_only': True, 'host': 'inv7'}
    a.update(kw)
    return a


def test_owned_only_is_a_quiet_no_op_without_a_file_or_an_entry(etc, capsys):
    rc, res, out = run(capsys, owned_absent(etc))
    assert rc == 0 and not res['changed'] and res['foreign_entries'] == [] and warnings_about(res, '') == []
    assert not etc.exists()
    etc.mkdir(parents=True)
    (etc / 'opencode.json').write_text(ADMIN)
    os.chmod(str(etc / 'opencode.json'), 0o600)  # the admin's file: not ours to touch either
    rc, res, out = run(capsys, owned_absent(etc), check=True, diff=True)
    assert rc == 0 and not res['changed'] and res['files'] == [] and warnings_about(res, '') == []
    rc, res, out = run(capsys, owned_absent(etc))
    assert rc == 0 and not res['changed'] and (etc / 'opencode.json').read_text() == ADMIN
    assert owner_mode(etc / 'opencode.json')[2] == 0o600


def test_owned_only_removes_the_entry_this_collection_wrote_with_its_allow_list_and_settings(etc, capsys):
    etc.mkdir(parents=True)
    (etc / 'opencode.json').write_text(ADMIN)
    run(capsys, args(etc, only_gateway=True, model='auto', settings={'autoupdate': False}))
    rc, res, out = run(capsys, owned_absent(etc), check=True)
    assert rc == 0 and res['changed'] and res['foreign_entries'] == [] and warnings_about(res, '') == []
    rc, res, out = run(capsys, owned_absent(etc))
    assert rc == 0 and res['changed'] and res['files'] == [str(etc / 'opencode.json'), str(etc / STATE)]
    assert parse((etc / 'opencode.json').read_text()) == dict(parse(ADMIN), provider={},
                                                              **{'$schema': 'https://opencode.ai/config.json'})
    assert not (etc / STATE).exists() and warnings_about(res, '') == []
    rc, res, out = run(capsys, owned_absent(etc))
    assert rc == 0 and not res['changed']


@pytest.mark.parametrize('how', ['by hand', 'changed since'])
def test_owned_only_leaves_an_entry_it_did_not_write_and_reports_it(etc, capsys, how):
    etc.mkdir(parents=True)
    path = etc / 'opencode.json'
    if how == 'by hand':
        path.write_text(json.dumps({'provider': {'omniroute': {'options': {'baseURL': 'http://mine/v1'}}},
                                    'enabled_providers': ['omniroute']}))
    else:
        run(capsys, args(etc, only_gateway=True))
        path.write_text(path.read_text().replace('http://gw.example.com:20128/v1', 'http://mine/v1'))
    before = path.read_bytes()
    rc, res, out = run(capsys, owned_absent(etc))
    assert rc == 0 and not res['changed'] and path.read_bytes() == before
    (item,) = res['foreign_entries']
    assert item['path'] == str(path) and item['provider'] == 'omniroute'
    assert ('no record' in item['reason']) == (how == 'by hand')
    (warning,) = warnings_about(res, '')
    assert warning.startswith('host inv7: left alone, since this collection did not write it: provider.omniroute '
                              'in %s (' % path)
    assert 'state=absent (without owned_only)' in warning
    # Explicit removal still works as before.
    rc, res, out = run(capsys, {'directory': str(etc), 'state': 'absent'})
    assert rc == 0 and res['changed'] and 'omniroute' not in parse(path.read_text()).get('provider', {})


# --------------------------------------------------------------------------- the pipeline: conflicts, rollback
def test_the_managed_file_gets_the_conflict_check(etc, capsys, monkeypatch):
    from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
    run(capsys, args(etc))
    path = etc / 'opencode.json'
    real_plan = cfg.plan_managed

    def plan_then_admin_saves(*a, **kw):
        planned = real_plan(*a, **kw)
        path.write_text(path.read_text().replace('{', '{\n  "share": "manual",', 1))
        return planned

    monkeypatch.setattr(cfg, 'plan_managed', plan_then_admin_saves)
    rc, res, out = run(capsys, args(etc, models=['auto', 'new']))
    assert rc == 1 and res['conflict'] and 'it changed while the module was running' in res['msg']
    assert parse(path.read_text())['share'] == 'manual' and not res['changed']
    assert 'new' not in path.read_text()


def test_a_failed_write_rolls_back_the_managed_files_written_before_it(etc, capsys, monkeypatch):
    from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
    from ansible_collections.omniroute.opencode.plugins.module_utils._files import FileError
    run(capsys, args(etc))
    path, state = etc / 'opencode.json', etc / STATE
    before, state_before = path.read_bytes(), state.read_bytes()
    os.chmod(str(path), 0o640)  # a mode to restore as it was
    real = cfg.write_atomic

    def state_fails(module, p, *a, **kw):
        if p == str(state) and kw.get('expect') != a[1]:
            raise FileError('no space left on device (ENOSPC)')
        return real(module, p, *a, **kw)

    monkeypatch.setattr(cfg, 'write_atomic', state_fails)
    rc, res, out = run(capsys, args(etc, models=['auto', 'new'], backup=True))
    assert rc == 1 and res['changed'] is True
    assert 'nothing was changed' not in res['msg']
    assert res['msg'].startswith('cannot write %s (' % state) and 'rolled back %s' % path in res['msg']
    assert res['restored'] == [str(path)] and res['not_restored'] == []
    assert path.read_bytes() == before and owner_mode(path)[2] == 0o640 and state.read_bytes() == state_before
    (backup,) = res['backup_files'].values()
    assert open(backup, 'rb').read() == before  # the backup is kept


@pytest.mark.needs_root
@pytest.mark.parametrize('how', ['user-owned', 'group-writable', 'world-writable', 'symlink into a user dir',
                                 'user-owned parent'])
def test_root_refuses_a_managed_directory_another_account_could_swap(tmp_path, capsys, how):
    import pwd
    nobody = pwd.getpwnam('nobody')
    top = tmp_path / 'top'
    top.mkdir(mode=0o755)
    etc = top / 'opencode'
    if how == 'user-owned':
        etc.mkdir()
        os.chown(str(etc), nobody.pw_uid, nobody.pw_gid)
    elif how in ('group-writable', 'world-writable'):
        etc.mkdir()
        os.chmod(str(etc), 0o775 if how == 'group-writable' else 0o757)
    elif how == 'symlink into a user dir':
        theirs = tmp_path / 'theirs'
        theirs.mkdir()
        os.chown(str(theirs), nobody.pw_uid, nobody.pw_gid)
        os.symlink(str(theirs), str(etc))
    else:
        os.chown(str(top), nobody.pw_uid, nobody.pw_gid)
    listing = sorted(os.listdir(str(tmp_path)))
    for check in (True, False):
        rc, res, out = run(capsys, args(etc, host='inv7'), check=check)
        assert rc == 1 and res['msg'].startswith('refusing to write the managed config in %s as root (user root on '
                                                 'inv7): ' % etc), res['msg']
        assert 'nothing was changed' in res['msg'] and not res['changed']
        assert ('belongs to nobody' in res['msg']) == (how in ('user-owned', 'symlink into a user dir',
                                                               'user-owned parent'))
    assert sorted(os.listdir(str(tmp_path))) == listing
    assert not os.path.exists(str(etc / 'opencode.json'))


def managed_plan(**fields):
    """What ``managed.warnings`` reads of a plan (``_configure.plan_managed``)."""
    plan = dict(warnings=[], spec=None, drift=[], adopted=False, target='/etc/opencode/opencode.json', foreign=[])
    plan.update(fields)
    return types.SimpleNamespace(**plan)


@pytest.mark.parametrize('check_mode, put', [(True, 'they would be put back (check mode)'), (False, 'they are put back')])
def test_drift_warnings_in_words(check_mode, put):
    """Word for word, without root (the drift test above needs it for the files): changed by
    another tool, taken over without a record, and nothing to say."""
    params = {'name': 'team-gw'}
    drift = ['enabled_providers', 'provider.team-gw.options.baseURL']
    assert managed.warnings(managed_plan(drift=drift), params, 'laptop1', check_mode) == [
        'host laptop1: /etc/opencode/opencode.json was changed by another tool in the parts this module owns '
        '(provider.team-gw, the allow-list, the managed settings) since this collection wrote it, at '
        'enabled_providers, provider.team-gw.options.baseURL; %s' % put]
    assert managed.warnings(managed_plan(drift=drift, adopted=True), params, 'laptop1', check_mode) == [
        'host laptop1: /etc/opencode/opencode.json has a provider.team-gw this collection has no record of writing '
        '(another tool, or a release of omniroute.opencode before the record was kept); this module manages it '
        'from now on, and it differs at enabled_providers, provider.team-gw.options.baseURL: %s'
        % put.replace('put back', 'set')]
    assert managed.warnings(managed_plan(adopted=True), params, 'laptop1', check_mode) == []


def test_foreign_entries_and_plain_http_in_words():
    one = [dict(provider='omniroute', path='/etc/opencode/opencode.json', reason='no record')]
    two = one + [dict(provider='omniroute', path='/etc/opencode/config.json', reason='another file')]
    params = {'name': 'omniroute'}
    assert managed.warnings(managed_plan(foreign=one, warnings=['first']), params, 'laptop1', False) == [
        'first',
        'host laptop1: left alone, since this collection did not write it: provider.omniroute in '
        '/etc/opencode/opencode.json (no record). It still applies to every user of the host; if it should go, '
        'remove it with omniroute.opencode.managed state=absent (without owned_only)']
    assert managed.warnings(managed_plan(foreign=two), params, 'laptop1', False) == [
        'host laptop1: left alone, since this collection did not write them: provider.omniroute in '
        '/etc/opencode/opencode.json (no record); provider.omniroute in /etc/opencode/config.json (another file). '
        'They still apply to every user of the host; if they should go, remove them with '
        'omniroute.opencode.managed state=absent (without owned_only)']
    spec = types.SimpleNamespace(base_url='http://gw.example.com:20128/v1')
    assert managed.warnings(managed_plan(spec=spec), params, 'laptop1', False) == [
        "every user's key goes to http://gw.example.com:20128 over plain http, unencrypted: anyone on the network "
        'path can read it; use https for a gateway that is not on this machine']
    local = types.SimpleNamespace(base_url='http://127.0.0.1:20128/v1')
    assert managed.warnings(managed_plan(spec=local), params, 'laptop1', False) == []


INVOCATION_KEY = 'sk-unit-invocation-5e6f7a8b'


def test_the_echoed_arguments_hide_the_catalog_key_wherever_it_is_and_settings_with_a_credential(etc, capsys):
    assert managed._invocation({'catalog_key': INVOCATION_KEY, 'base_url': 'https://u:p@gw.example/v1',
                                'display_name': 'Team ' + INVOCATION_KEY, 'settings': {'share': 'disabled'}}) == {
        'module_args': {'catalog_key': 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER', 'base_url': 'https://gw.example/v1',
                        'display_name': 'Team ********', 'settings': {'share': 'disabled'}}}
    hidden = 'NOT_LOGGING_PARAMETER (it holds a credential-like value)'
    assert managed._invocation({'settings': {'note': INVOCATION_KEY}}) == {'module_args': {'settings': hidden}}
    # A refused run echoes its arguments the same way.
    rc, res, out = run(capsys, args(etc, settings={'note': INVOCATION_KEY}))
    assert rc == 1 and res['invocation']['module_args']['settings'] == hidden and INVOCATION_KEY not in out


def test_the_result_names_files_changes_entry_and_stale_temporary_files(etc, tmp_path, capsys):
    path, state = str(etc / 'opencode.json'), str(etc / STATE)
    rc, res, dummy = run(capsys, args(etc))
    assert rc == 0 and res['changed'] is True
    assert (res['path'], res['files'], res['changes'], res['drift'], res['base_url'], res['models']) == (
        path, [path, state], {path: ['added $schema', 'added provider.omniroute'],
                              state: ['recorded what this module wrote (provider.omniroute)']},
        [], 'http://gw.example.com:20128/v1', ['auto'])
    assert 'stale_temp_files' not in res and 'mobileconfig' not in res
    stale = etc / '.opencode.json.omniroute-999999999-x1.tmp'
    stale.write_text('half')
    rc, res, dummy = run(capsys, args(etc))
    assert rc == 0 and res['changed'] is True and res['files'] == [] and res['stale_temp_files'] == [str(stale)]
    assert not stale.exists()
    profile = tmp_path / 'omniroute.mobileconfig'
    rc, res, dummy = run(capsys, args(etc, mobileconfig=str(profile)))
    assert rc == 0 and res['mobileconfig'] == str(profile) and str(profile) in res['files']


def test_a_run_that_is_not_root_warns_that_the_file_keeps_the_running_users_owner(etc, capsys, monkeypatch):
    monkeypatch.setattr(os, 'geteuid', lambda: 4242)
    rc, res, dummy = run(capsys, args(etc, base_url='http://127.0.0.1:20128', host='laptop1'))
    path = etc / 'opencode.json'
    assert rc == 0 and res['changed'] is True and path.exists()
    assert warnings_about(res, 'not running as root') == [
        'host laptop1: not running as root: %s keeps the running user as owner' % path]
    rc, res, dummy = run(capsys, args(etc, base_url='http://127.0.0.1:20128', host='laptop1'))
    assert rc == 0 and res['changed'] is False and warnings_about(res, 'not running as root') == []


def test_the_diff_shows_the_managed_settings_too(etc, capsys):
    rc, res, dummy = run(capsys, args(etc, settings={'autoupdate': False}), diff=True)
    (diff,) = res['diff']
    after = json.loads(diff['after'])
    assert rc == 0 and diff['before'] == '' and after['autoupdate'] is False and 'omniroute' in after['provider']


def test_a_refused_write_names_the_inventory_host(etc, capsys, monkeypatch):
    from ansible_collections.omniroute.opencode.plugins.module_utils import _configure
    monkeypatch.setattr(_configure, 'free_space', lambda directory: (7, 0, 4096, None))
    rc, res, dummy = run(capsys, args(etc, host='laptop1'), check=True)
    assert rc == 1 and res['msg'].startswith('cannot write %s (user %s on laptop1): not enough free space in '
                                             % (etc / 'opencode.json', pwd.getpwuid(os.geteuid()).pw_name))
    assert res['invocation']['module_args']['host'] == 'laptop1' and not etc.exists()
    # What the run would have done comes with the refusal.
    assert (res['drift'], res['base_url'], res['models']) == ([], 'http://gw.example.com:20128/v1', ['auto'])
