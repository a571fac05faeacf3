# -*- coding: utf-8 -*-
"""Module options no test set before (issue 26), each set here and its effect checked.

tests/option_coverage.py (make test-options) lists any documented option that no test sets;
this file holds the module options it found missing. The role's variables are in
tests/unit/roles/test_role_options_processes.py.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import plistlib
import pwd
import socket
import stat

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import parse
from ansible_collections.omniroute.opencode.plugins.modules import managed, provider, user_info, users
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import models_gateway, run_module
from ansible_collections.omniroute.opencode.tests.support.results import warnings_of
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.tls import https_models_gateway

KEY = 'sk-options-unit-3e4f5a6b'
ME = pwd.getpwuid(os.geteuid()).pw_name
MODELS = [{'id': 'team-fast', 'owned_by': 'combo'}, {'id': 'openai/gpt-4o'}, {'id': 'openai/gpt-4o-mini'},
          {'id': 'openai/o3'}]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('XDG_CONFIG_HOME', raising=False)
    monkeypatch.delenv('XDG_DATA_HOME', raising=False)
    monkeypatch.delenv('OPENCODE_CONFIG', raising=False)
    old = os.umask(0o022)
    yield tmp_path
    os.umask(old)


def cfg(home):
    return home / '.config' / 'opencode' / 'opencode.json'


def run_provider(capsys, args, check=False, diff=False):
    return run_module(provider.main, capsys, args, check, diff)


def run_users(capsys, args, check=False, diff=False):
    return run_module(users.main, capsys, args, check, diff)


def run_managed(capsys, args, check=False, diff=False):
    return run_module(managed.main, capsys, args, check, diff)


# --------------------------------------------------------------------------- provider
def test_provider_display_name(home, capsys):
    rc, res, _out = run_provider(capsys, {'api_key': KEY, 'models': ['auto'], 'display_name': 'Team Gateway'})
    assert rc == 0 and res['entry']['name'] == 'Team Gateway'
    assert parse(cfg(home).read_text())['provider']['omniroute']['name'] == 'Team Gateway'
    rc, res, _out = run_provider(capsys, {'api_key': KEY, 'models': ['auto'], 'display_name': 'Team Gateway'})
    assert rc == 0 and not res['changed']


def test_provider_validate_certs(home, capsys, tmp_path):
    """The gateway's self-signed certificate: refused by default (catalog_offline fail says why),
    accepted with validate_certs false."""
    with https_models_gateway(tmp_path, KEY, MODELS) as (url, seen):
        args = {'api_key': KEY, 'base_url': url, 'catalog': 'gateway', 'catalog_offline': 'fail'}
        rc, res, out = run_provider(capsys, dict(args, validate_certs=True))
        assert rc == 1 and 'TLS certificate not accepted' in res['msg'] and not cfg(home).exists()
        assert seen == []
        rc, res, out = run_provider(capsys, dict(args, validate_certs=False))
        assert rc == 0 and res['catalog']['source'] == 'gateway'
        assert res['models'] == ['openai/gpt-4o', 'openai/gpt-4o-mini', 'openai/o3', 'team-fast']
        assert seen == [('/v1/models', 'Bearer ' + KEY)] and KEY not in out


def test_provider_verify_with_validate_certs(home, capsys, tmp_path):
    with https_models_gateway(tmp_path, KEY, MODELS) as (url, _seen):
        args = {'api_key': KEY, 'base_url': url, 'models': ['auto'], 'verify': True}
        rc, res, _out = run_provider(capsys, args, check=True)
        assert rc == 0 and res['verify']['key_accepted'] is None and res['verify']['ready'] is False
        rc, res, _out = run_provider(capsys, dict(args, validate_certs=False), check=True)
        assert rc == 0 and res['verify']['key_accepted'] is True and res['verify']['missing'] == ['auto']


# --------------------------------------------------------------------------- managed
@pytest.fixture
def etc(tmp_path):
    old = os.umask(0o022)
    yield tmp_path / 'etc' / 'opencode'
    os.umask(old)


def test_managed_entry_options(etc, capsys):
    args = {'directory': str(etc), 'base_url': 'http://gw.example.com', 'models': ['auto', 'fast'],
            'display_name': 'Team Gateway', 'model_labels': {'fast': 'Fast lane'}, 'small_model': 'fast'}
    rc, res, _out = run_managed(capsys, args)
    assert rc == 0 and res['changed']
    data = parse((etc / 'opencode.json').read_text())
    entry = data['provider']['omniroute']
    assert entry['name'] == 'Team Gateway'
    assert entry['models'] == {'auto': {'name': 'auto'}, 'fast': {'name': 'Fast lane'}}
    assert data['small_model'] == 'omniroute/fast' and 'model' not in data
    assert not run_managed(capsys, args)[1]['changed']


def test_managed_backup(etc, capsys):
    etc.mkdir(parents=True)
    old = '// fleet policy\n{"share": "disabled"}\n'
    (etc / 'opencode.json').write_text(old)
    rc, res, _out = run_managed(capsys, {'directory': str(etc), 'models': ['auto'], 'backup': True})
    assert rc == 0 and res['changed']
    with open(res['backup_file']) as handle:
        assert handle.read() == old
    assert stat.S_IMODE(os.stat(res['backup_file']).st_mode) == 0o600
    # backup false (the default): no further copy.
    rc, res, _out = run_managed(capsys, {'directory': str(etc), 'models': ['auto', 'x'], 'backup': False})
    assert rc == 0 and res['changed'] and 'backup_file' not in res
    assert len([n for n in os.listdir(str(etc)) if n.endswith('~')]) == 1


def test_managed_profile_identifier(etc, tmp_path, capsys):
    profile = tmp_path / 'omniroute.mobileconfig'
    args = {'directory': str(etc), 'models': ['auto'], 'mobileconfig': str(profile),
            'profile_identifier': 'com.example.fleet.opencode'}
    rc, res, _out = run_managed(capsys, args)
    assert rc == 0
    doc = plistlib.loads(profile.read_bytes())
    assert doc['PayloadIdentifier'] == 'com.example.fleet.opencode'
    assert doc['PayloadContent'][0]['PayloadIdentifier'] == 'com.example.fleet.opencode.payload'
    # Another identifier is another profile for an MDM: the file changes.
    rc, res, _out = run_managed(capsys, dict(args, profile_identifier='com.example.other'))
    assert rc == 0 and str(profile) in res['files']
    assert plistlib.loads(profile.read_bytes())['PayloadIdentifier'] == 'com.example.other'


def test_managed_catalog_include_and_validate_certs(etc, tmp_path, capsys):
    with https_models_gateway(tmp_path, KEY, MODELS) as (url, seen):
        args = {'directory': str(etc), 'base_url': url, 'catalog': 'gateway', 'catalog_key': KEY,
                'catalog_include': ['openai/gpt-4o*'], 'catalog_offline': 'fail'}
        rc, res, out = run_managed(capsys, args)
        assert rc == 1 and 'TLS certificate not accepted' in res['msg'] and not etc.exists()
        rc, res, out = run_managed(capsys, dict(args, validate_certs=False))
        assert rc == 0 and res['models'] == ['openai/gpt-4o', 'openai/gpt-4o-mini']
        text = (etc / 'opencode.json').read_text()
        assert KEY not in text and KEY not in out


# --------------------------------------------------------------------------- user_info
def test_user_info_names(capsys):
    rc, res, _out = run_module(user_info.main, capsys, {'names': [ME, 'no-such-dev-zz', 'root']}, check=True)
    assert rc == 0 and not res['changed'] and res['current_user'] == ME
    mine = pwd.getpwnam(ME)
    assert res['users'][ME] == {'exists': True, 'uid': mine.pw_uid, 'gid': mine.pw_gid,
                                'group': __import__('grp').getgrgid(mine.pw_gid).gr_name,
                                'home': mine.pw_dir, 'shell': mine.pw_shell}
    assert res['users']['no-such-dev-zz'] == {'exists': False}
    assert res['users']['root']['uid'] == 0 and res['users']['root']['exists']
    rc, res, _out = run_module(user_info.main, capsys, {'names': []})
    assert rc == 0 and res['users'] == {}


def test_user_info_needs_names(capsys):
    rc, res, _out = run_module(user_info.main, capsys, {})
    assert rc == 1 and 'names' in res['msg']


def test_user_info_names_are_text_and_ids_without_names_are_given_as_numbers(capsys, monkeypatch):
    rc, res, _out = run_module(user_info.main, capsys, {'names': [4242]}, check=True)
    assert rc == 0 and res['changed'] is False and res['users'] == {'4242': {'exists': False}}
    monkeypatch.setattr(user_info.grp, 'getgrgid', lambda gid: {}[gid])
    monkeypatch.setattr(user_info.pwd, 'getpwuid', lambda uid: {}[uid])
    rc, res, _out = run_module(user_info.main, capsys, {'names': [ME]}, check=True)
    mine = pwd.getpwnam(ME)
    assert rc == 0 and res['current_user'] == str(os.getuid()) and res['users'][ME]['group'] == str(mine.pw_gid)


def test_user_info_refuses_a_host_without_pwd_and_grp(capsys, monkeypatch):
    monkeypatch.setattr(user_info, 'pwd', None)
    rc, res, _out = run_module(user_info.main, capsys, {'names': [ME]}, check=True)
    assert rc == 1 and res['msg'] == 'user_info needs a POSIX host (Python pwd/grp modules)'


# --------------------------------------------------------------------------- users
def test_users_entry_options_and_their_per_user_overrides(home, capsys):
    base = {'host': 'laptop7', 'models': ['auto', 'fast', 'deep'], 'display_name': 'Team Gateway',
            'model_labels': {'auto': 'Auto-Combo'}, 'model': 'auto', 'small_model': 'fast'}
    rc, res, out = run_users(capsys, dict(base, users=[{'name': ME, 'api_key': KEY}]))
    assert rc == 0 and res['host'] == 'laptop7'
    data = parse(cfg(home).read_text())
    entry = data['provider']['omniroute']
    assert entry['name'] == 'Team Gateway' and entry['models']['auto'] == {'name': 'Auto-Combo'}
    assert (data['model'], data['small_model']) == ('omniroute/auto', 'omniroute/fast')
    # The user's own values win over the host's.
    other = home / 'elsewhere' / 'oc.json'
    rc, res, out = run_users(capsys, dict(base, users=[{
        'name': ME, 'api_key': KEY, 'config_path': str(other), 'model': 'deep', 'small_model': 'auto',
        'model_labels': {'deep': 'Deep thought'}}]))
    assert rc == 0 and res['users'][ME]['path'] == str(other)
    data = parse(other.read_text())
    assert (data['model'], data['small_model']) == ('omniroute/deep', 'omniroute/auto')
    assert data['provider']['omniroute']['models']['deep'] == {'name': 'Deep thought'}
    assert data['provider']['omniroute']['models']['auto'] == {'name': 'auto'}
    assert KEY not in out


def test_users_config_path_with_a_tilde_is_the_users_home(home, capsys):
    rc, res, _out = run_users(capsys, {'host': 'laptop7', 'users': [
        {'name': ME, 'api_key': KEY, 'config_path': '~/team/opencode.jsonc'}]})
    assert rc == 0 and res['users'][ME]['path'] == str(home / 'team' / 'opencode.jsonc')
    assert (home / 'team' / 'opencode.jsonc').exists() and not cfg(home).exists()


def test_users_host_names_the_host_in_every_message(home, capsys):
    rc, res, out = run_users(capsys, {'host': 'laptop-42', 'users': [{'name': 'no-such-dev-zz'}]})
    assert rc == 1 and res['msg'].startswith('host laptop-42: ') and res['msg'].endswith('on laptop-42')
    rc, res, out = run_users(capsys, {'users': [{'name': 'no-such-dev-zz'}]})
    assert rc == 1 and res['msg'].startswith('host %s: ' % socket.gethostname())


def test_users_check_keys(home, capsys):
    """check_keys false lets a check-mode preflight pass before the keys exist (the role does this
    while OmniRoute still has to issue them); a real run still needs every key."""
    args = {'host': 'laptop7', 'users': [{'name': ME}]}
    rc, res, _out = run_users(capsys, dict(args, check_keys=True), check=True)
    assert rc == 1 and "user '%s': no API key" % ME in res['msg']
    rc, res, _out = run_users(capsys, dict(args, check_keys=False), check=True)
    assert rc == 0 and res['changed'] and not cfg(home).exists()
    rc, res, _out = run_users(capsys, dict(args, check_keys=False))
    assert rc == 1 and 'no API key' in res['msg'] and not cfg(home).exists()


def test_users_key_requests_carry_rotation_expiry_and_models(home, capsys):
    """installed_keys: each user's key request, host defaults overridden per user."""
    args = {'host': 'laptop7', 'installed_keys': True, 'omniroute_rotate': True,
            'omniroute_expires_at': '2031-01-31T00:00:00Z', 'omniroute_allowed_models': ['auto'],
            'users': [{'name': ME}]}
    rc, res, _out = run_users(capsys, args)
    assert rc == 0 and not res['changed']
    (req,) = res['key_requests']
    assert (req['rotate'], req['expires_at'], req['allowed_models']) == (True, '2031-01-31T00:00:00Z', ['auto'])
    args['users'] = [{'name': ME, 'rotate_key': False, 'omniroute_expires_at': '2030-06-30T00:00:00Z',
                      'omniroute_allowed_models': ['fast']}]
    (req,) = run_users(capsys, args)[1]['key_requests']
    assert (req['rotate'], req['expires_at'], req['allowed_models']) == (False, '2030-06-30T00:00:00Z', ['fast'])
    args.update(omniroute_rotate=False, users=[{'name': ME, 'rotate_key': True}])
    args.pop('omniroute_expires_at')
    (req,) = run_users(capsys, args)[1]['key_requests']
    assert (req['rotate'], req['expires_at']) == (True, None)


def test_users_catalog_filters_per_user_and_validate_certs(home, capsys, tmp_path):
    with https_models_gateway(tmp_path, KEY, MODELS) as (url, seen):
        args = {'host': 'laptop7', 'base_url': url, 'catalog': 'gateway', 'catalog_offline': 'fail',
                'catalog_exclude': ['openai/o3'],
                'users': [{'name': ME, 'api_key': KEY, 'catalog_include': ['openai/*'],
                           'catalog_exclude': ['*-mini']}]}
        rc, res, out = run_users(capsys, dict(args, validate_certs=True), check=True)
        assert rc == 1 and 'TLS certificate not accepted' in res['msg']
        rc, res, out = run_users(capsys, dict(args, validate_certs=False), check=True)
        assert rc == 0 and res['users'][ME]['models'] == ['openai/gpt-4o', 'openai/o3']
        # Without the user's own filters, the host's exclude applies.
        args['users'] = [{'name': ME, 'api_key': KEY}]
        rc, res, out = run_users(capsys, dict(args, validate_certs=False), check=True)
        assert rc == 0 and res['users'][ME]['models'] == ['openai/gpt-4o', 'openai/gpt-4o-mini', 'team-fast']
        assert KEY not in out


def test_users_catalog_offline_fail_and_keep(home, capsys):
    import socket as sk
    sock = sk.socket()
    sock.bind(('127.0.0.1', 0))
    url = 'http://127.0.0.1:%d' % sock.getsockname()[1]
    sock.close()
    args = {'host': 'laptop7', 'base_url': url, 'catalog': 'gateway', 'timeout': 2, 'models': ['auto'],
            'users': [{'name': ME, 'api_key': KEY}]}
    rc, res, _out = run_users(capsys, dict(args, catalog_offline='fail'))
    assert rc == 1 and 'catalog_offline=fail' in res['msg'] and not cfg(home).exists()
    rc, res, _out = run_users(capsys, dict(args, catalog_offline='keep'))
    assert rc == 0 and res['users'][ME]['catalog']['source'] == 'models'
    assert any('wrote the ids given in models' in w for w in warnings_of(res))


def test_users_verify_with_validate_certs(home, capsys, tmp_path):
    with https_models_gateway(tmp_path, KEY, MODELS) as (url, _seen):
        args = {'host': 'laptop7', 'base_url': url, 'models': ['auto'], 'verify': True,
                'users': [{'name': ME, 'api_key': KEY}]}
        v = run_users(capsys, args, check=True)[1]['users'][ME]['verify']
        assert v['key_accepted'] is None and not v['ready']
        v = run_users(capsys, dict(args, validate_certs=False), check=True)[1]['users'][ME]['verify']
        assert v['key_accepted'] is True and v['missing'] == ['auto']


def test_users_gateway_plain_http(home, capsys):
    """(The same catalog over plain http, for comparison: validate_certs changes nothing there.)"""
    with models_gateway(KEY, MODELS) as (url, _seen):
        res = run_users(capsys, {'host': 'laptop7', 'base_url': url, 'catalog': 'gateway', 'validate_certs': True,
                                 'users': [{'name': ME, 'api_key': KEY}]}, check=True)[1]
        assert res['users'][ME]['catalog']['source'] == 'gateway'
    assert json.dumps(res).count(KEY) == 0


def test_provider_verify_resolves_references_in_the_users_environment_and_home(home, capsys, monkeypatch):
    (home / '.omni-key').write_text(KEY + '\n')
    monkeypatch.setenv('OMNI_TEST_KEY', KEY)
    with models_gateway(KEY, MODELS) as (url, seen):
        for key in ('{file:~/.omni-key}', '{env:OMNI_TEST_KEY}'):
            args = {'api_key': key, 'base_url': url, 'models': ['auto', 'team-fast'], 'verify': True}
            rc, res, out = run_provider(capsys, args, check=True)
            v = res['verify']
            assert rc == 0 and (v['key_accepted'], v['missing'], v['ready']) == (True, ['auto'], False)
        assert [auth for _path, auth in seen] == ['Bearer ' + KEY] * 2


def test_provider_names_the_inventory_host_in_its_messages(home, capsys):
    rc, res, out = run_provider(capsys, {'api_key': KEY, 'create': False, 'host': 'laptop7'})
    assert rc == 1 and res['msg'] == '%s does not exist and create=false (user %s on laptop7)' % (cfg(home), ME)


def test_provider_echoes_its_arguments_without_the_key_when_the_write_is_refused(home, capsys, monkeypatch):
    gone = home / 'gone'  # (the home fixture also unsets the XDG variables)
    monkeypatch.setenv('HOME', str(gone))
    models = [{'id': 'auto', 'headers': {'X-Team-Token': 'team-token-5a6b7c8d'}}]
    rc, res, out = run_provider(capsys, {'api_key': KEY, 'models': models}, check=True)
    assert rc == 1 and res['msg'].startswith('the home directory %s of ' % gone)
    assert res['invocation']['module_args']['models'] == [{'id': 'auto', 'headers': {'X-Team-Token': '********'}}]
    assert 'team-token-5a6b7c8d' not in out
    assert res['invocation']['module_args']['api_key'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' and KEY not in out
