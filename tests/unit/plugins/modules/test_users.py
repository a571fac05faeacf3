# -*- coding: utf-8 -*-
"""The users module and its per-user child processes, on real files and real accounts.

Runs as root (as CI and this machine do); the child-process tests drop to the existing ``nobody`` account
(no account is created). Every secret is searched for in every output.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd

import pytest

from ansible_collections.omniroute.opencode.plugins.modules import users
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import models_gateway, run_module
from ansible_collections.omniroute.opencode.tests.support.results import warnings_of

KEY = 'sk-unit-users-5c7e21'
OTHER_SECRET = 'sk-ant-other-provider-77aa'
ME = pwd.getpwuid(os.geteuid()).pw_name


def run(capsys, args, check=False, diff=False):
    """Run the module like Ansible does; return (rc, result, raw stdout)."""
    args = dict(args)
    args.setdefault('host', 'laptop9')
    return run_module(users.main, capsys, args, check, diff)


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
    assert msg.startswith('host laptop9: ') and msg.endswith("no user's file was changed on laptop9")
    assert "user '%s': listed more than once" % ME in msg
    assert "user 'no-such-dev-zz': no such account" in msg
    assert "user 'daemon': no API key" in msg
    assert files_under(home) == [] and KEY not in out


@pytest.mark.needs_root
def test_installed_keys_mode_returns_only_this_providers_key(home, capsys):
    cfg = home / '.config' / 'opencode' / 'opencode.jsonc'
    cfg.parent.mkdir(parents=True)
    cfg.write_text('{\n // mine\n "provider": {"anthropic": {"options": {"apiKey": "%s"}},\n'
                   '  "omniroute": {"options": {"apiKey": "%s"}}}\n}\n' % (OTHER_SECRET, KEY))
    auth = home / '.local' / 'share' / 'opencode' / 'auth.json'
    auth.parent.mkdir(parents=True)
    auth.write_text('{"openai": {"type": "api", "key": "%s-auth"}}' % OTHER_SECRET)
    before = cfg.read_text()
    rc, res, out = run(capsys, {'users': [{'name': ME, 'key_policy': {'maxSessions': 2}},
                                          {'name': 'gone-dev-zz', 'state': 'absent'},
                                          {'name': 'daemon', 'key_store': 'env'}],
                                'installed_keys': True, 'omniroute_key_name': 'oc-{user}@{host}',
                                'omniroute_allowed_models': ['auto']}, check=True)
    assert rc == 0 and not res['changed'] and OTHER_SECRET not in out
    assert res['key_requests'] == [
        dict(label=ME, name='oc-%s@laptop9' % ME, state='present', rotate=False, installed_key=KEY,
             allowed_models=['auto'], expires_at=None, policy={'maxSessions': 2}),
        dict(label='gone-dev-zz', name='oc-gone-dev-zz@laptop9', state='absent')]
    assert cfg.read_text() == before


def test_a_key_that_is_not_a_string_is_refused_unseen(home, capsys):
    rc, res, out = run(capsys, {'users': [{'name': ME, 'api_key': [KEY, 'sk-second-9d1f']}]})
    assert rc == 1 and 'api_key must be a string' in res['msg'] and 'value not shown' in res['msg']
    assert KEY not in out and 'sk-second-9d1f' not in out and files_under(home) == []


# --------------------------------------------------------------------------- key_source=user
USER_KEY = 'sk-unit-own-login-4d2e90'


def _own_auth(home, text):
    auth = home / '.local' / 'share' / 'opencode' / 'auth.json'
    auth.parent.mkdir(parents=True, exist_ok=True)
    auth.write_text(text)
    os.chmod(str(auth), 0o600)
    return auth


def test_user_key_source_keeps_the_developers_own_key_byte_for_byte(home, capsys):
    # Odd spacing, a second provider and a trailing newline-less end: all must survive unchanged.
    auth = _own_auth(home, '{ "anthropic":{"type":"api","key":"%s"},\n  "omniroute": {"type": "api", "key": "%s"}}'
                     % (OTHER_SECRET, USER_KEY))
    before = auth.read_bytes()
    args = {'users': [{'name': ME, 'api_key': None}], 'key_store': 'auth', 'key_source': 'user',
            'key_maps': [{ME: KEY}]}
    rc, res, out = run(capsys, args, diff=True)
    assert rc == 0 and res['changed'], res
    cfg = (home / '.config' / 'opencode' / 'opencode.json').read_text()
    assert 'apiKey' not in cfg and KEY not in cfg and '"baseURL"' in cfg
    assert auth.read_bytes() == before
    assert res['users'][ME]['key'] == 'present' and res['keys_missing'] == []
    assert res['users'][ME]['files'] == [str(home / '.config' / 'opencode' / 'opencode.json')]
    assert not res['users'][ME]['auth_changed']
    for secret in (USER_KEY, OTHER_SECRET, KEY):
        assert secret not in out
    rc, res, out = run(capsys, args)
    assert rc == 0 and not res['changed'] and auth.read_bytes() == before and USER_KEY not in out


def test_user_key_source_reports_a_developer_without_a_key(home, capsys):
    auth = _own_auth(home, '{"omniroute": {"type": "api", "key": "sk_omniroute"}}')  # the placeholder is no key
    before = auth.read_bytes()
    rc, res, out = run(capsys, {'users': [{'name': ME}], 'key_store': 'auth', 'key_source': 'user'})
    assert rc == 0 and res['changed']
    assert res['users'][ME]['key'] == 'missing' and res['keys_missing'] == [ME]
    warnings = warnings_of(res)
    assert any(w.startswith('host laptop9, user %s: no key for provider omniroute' % ME) for w in warnings), warnings
    assert auth.read_bytes() == before
    auth.unlink()
    rc, res, out = run(capsys, {'users': [{'name': ME}], 'key_store': 'auth', 'key_source': 'user'}, check=True)
    assert rc == 0 and res['users'][ME]['key'] == 'missing' and not auth.exists()


def test_user_key_source_refuses_the_config_store_and_a_given_key(home, capsys):
    rc, res, out = run(capsys, {'users': [{'name': ME, 'key_store': 'config'}], 'key_source': 'user'})
    assert rc == 1 and 'use key_store auth (or env), not config' in res['msg'] and files_under(home) == []
    rc, res, out = run(capsys, {'users': [{'name': ME, 'api_key': KEY}], 'key_store': 'auth', 'key_source': 'user'})
    assert rc == 1 and 'api_key is given but key_source is user' in res['msg'] and KEY not in out
    assert files_under(home) == []


def test_user_key_source_absent_removes_the_entry_and_the_stored_key(home, capsys):
    args = {'users': [{'name': ME}], 'key_store': 'auth', 'key_source': 'user'}
    auth = _own_auth(home, '{"anthropic": {"type": "api", "key": "%s"}, "omniroute": {"type": "api", "key": "%s"}}'
                     % (OTHER_SECRET, USER_KEY))
    assert run(capsys, args)[0] == 0
    rc, res, out = run(capsys, {'users': [{'name': ME, 'state': 'absent'}], 'key_store': 'auth', 'key_source': 'user'})
    assert rc == 0 and res['changed'] and USER_KEY not in out and OTHER_SECRET not in out
    assert 'key' not in res['users'][ME] and res['keys_missing'] == []
    text = auth.read_text()
    assert USER_KEY not in text and 'omniroute' not in text and OTHER_SECRET in text
    assert 'omniroute' not in (home / '.config' / 'opencode' / 'opencode.json').read_text()


@pytest.fixture
def models_server():
    """A small /v1/models server: the key KEY sees two chat models and an audio one; others get 401."""
    with models_gateway(KEY, [
            {'id': 'team-fast', 'owned_by': 'combo', 'max_output_tokens': 4096},
            {'id': 'openai/gpt-4o', 'context_length': 128000, 'max_output_tokens': 16384},
            {'id': 'openai/whisper-1', 'type': 'audio'}]) as served:
        yield served


def test_gateway_catalog_and_verify_per_user_in_the_users_process(home, capsys, models_server):
    url, seen = models_server
    args = {'users': [{'name': ME, 'api_key': KEY}], 'base_url': url, 'catalog': 'gateway',
            'models': ['auto'], 'verify': True}
    rc, res, out = run(capsys, args, check=True)
    assert rc == 0 and files_under(home) == [] and KEY not in out
    mine = res['users'][ME]
    assert mine['models'] == ['auto', 'openai/gpt-4o', 'team-fast']
    assert mine['catalog']['source'] == 'gateway' and mine['state'] == 'present' and mine['key_store'] == 'config'
    v = mine['verify']
    assert v['url'] == url + '/v1/models' and v['key_accepted'] is True and v['status'] == 200
    assert v['missing'] == ['auto'] and v['ready'] is False and v['layers'] == []
    assert seen and all(h == 'Bearer ' + KEY for _p, h in seen)
    # Per-user overrides: a static catalog and no probe for this user.
    args['users'] = [{'name': ME, 'api_key': KEY, 'catalog': 'static', 'verify': False}]
    rc, res, out = run(capsys, args, check=True)
    assert rc == 0 and 'verify' not in res['users'][ME] and res['users'][ME]['models'] == ['auto']


def test_verify_of_an_unreachable_gateway_is_reported_not_failed(home, capsys):
    import socket
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    rc, res, out = run(capsys, {'users': [{'name': ME, 'api_key': KEY}], 'verify': True, 'timeout': 3,
                                'base_url': 'http://127.0.0.1:%d' % port})
    assert rc == 0 and res['changed'] and KEY not in out
    v = res['users'][ME]['verify']
    assert v['reachable'] is False and v['key_accepted'] is None and v['ready'] is False and v['cause']
    # The default catalog is the seed's with catalog=static.
    assert res['users'][ME]['models'] == ['claude-opus-4-5-thinking', 'claude-sonnet-4-5-thinking',
                                          'gemini-3.1-pro-high', 'gemini-3-flash']


def test_managed_scope_stores_the_key_removes_the_users_entry_and_offboards(home, capsys):
    conf = home / '.config' / 'opencode' / 'opencode.json'
    conf.parent.mkdir(parents=True)
    conf.write_text('{\n  // mine\n  "provider": {"omniroute": {"options": {"baseURL": "http://x/v1"}},'
                    ' "lmstudio": {"models": {"q": {}}}}\n}\n')
    auth = _own_auth(home, '{"anthropic": {"type": "api", "key": "%s"}}' % OTHER_SECRET)
    args = {'users': [{'name': ME}], 'key_maps': [{ME: KEY}], 'key_store': 'auth', 'scope': 'managed'}
    rc, res, out = run(capsys, args, check=True, diff=True)
    assert rc == 0 and res['changed'] and KEY not in out and OTHER_SECRET not in out
    assert sorted(res['users'][ME]['files']) == sorted([str(auth), str(conf)])
    assert 'omniroute' in conf.read_text() and KEY not in auth.read_text()

    rc, res, out = run(capsys, args, diff=True)
    assert rc == 0 and res['changed'] and KEY not in out and OTHER_SECRET not in out
    text = conf.read_text()
    assert '// mine' in text and 'lmstudio' in text and 'omniroute' not in text
    stored = json.loads(auth.read_text())
    assert stored['omniroute']['key'] == KEY and stored['anthropic']['key'] == OTHER_SECRET
    assert oct(os.stat(str(auth)).st_mode & 0o777) == '0o600'
    rc, res, _out = run(capsys, args)
    assert rc == 0 and not res['changed']

    rc, res, out = run(capsys, dict(args, users=[{'name': ME, 'state': 'absent'}]))
    assert rc == 0 and res['changed'] and KEY not in out
    assert 'omniroute' not in auth.read_text() and OTHER_SECRET in auth.read_text()


def test_the_default_key_store_follows_the_scope_and_the_key_source(home, capsys):
    """The key store policy lives in the module (issue 21): a user without a key_store of their
    own keeps the key in auth.json in managed scope (whatever the fleet-wide key_store) and with
    key_source=user (the fleet-wide default config becomes auth; env stays env)."""
    auth = home / '.local' / 'share' / 'opencode' / 'auth.json'
    conf = home / '.config' / 'opencode' / 'opencode.json'
    for store in ('config', 'env'):
        rc, res, out = run(capsys, {'users': [{'name': ME}], 'key_maps': [{ME: KEY}], 'key_store': store,
                                    'scope': 'managed'}, check=True)
        assert rc == 0 and res['users'][ME]['key_store'] == 'auth' and KEY not in out, res
    rc, res, out = run(capsys, {'users': [{'name': ME}], 'key_source': 'user'})
    assert rc == 0 and res['users'][ME]['key_store'] == 'auth' and res['keys_missing'] == [ME], res
    assert 'apiKey' not in conf.read_text() and not auth.exists()
    rc, res, out = run(capsys, {'users': [{'name': ME}], 'key_source': 'user', 'key_store': 'env'})
    assert rc == 0 and res['users'][ME]['key_store'] == 'env' and '{env:OMNIROUTE_API_KEY}' in conf.read_text()


def test_managed_scope_refuses_a_store_other_than_auth(home, capsys):
    rc, res, out = run(capsys, {'users': [{'name': ME, 'key_store': 'env'}], 'scope': 'managed', 'key_store': 'auth'})
    assert rc == 1 and 'managed scope keeps each key in auth.json; use key_store auth, not env' in res['msg']
    assert files_under(home) == []


def test_managed_scope_with_the_developers_own_key_only_reads_it(home, capsys):
    auth = _own_auth(home, '{"omniroute": {"type": "api", "key": "%s"}}' % USER_KEY)
    before = auth.read_bytes()
    rc, res, out = run(capsys, {'users': [{'name': ME}], 'key_store': 'auth', 'key_source': 'user', 'scope': 'managed'})
    assert rc == 0 and not res['changed'] and res['users'][ME]['key'] == 'present' and USER_KEY not in out
    assert auth.read_bytes() == before


GATEWAY_MODELS = [{'id': 'team-fast'}, {'id': 'openai/gpt-4o'}]


def _managed_file(tmp_path, base_url, models=('team-fast',)):
    from ansible_collections.omniroute.opencode.plugins.module_utils import _managed as mg
    directory = tmp_path / 'etc-opencode'
    directory.mkdir(exist_ok=True)
    spec = mg.ManagedSpec(base_url=base_url, models=list(models))
    (directory / 'opencode.json').write_text(mg.plan_managed('', spec).new_text)
    return directory


def test_managed_scope_verify_reports_user_layers_key_and_managed_file(home, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv('OPENCODE_TEST_MANAGED_CONFIG_DIR', raising=False)
    with models_gateway(KEY, GATEWAY_MODELS) as (url, seen):
        managed_dir = _managed_file(tmp_path, url)
        conf = home / '.config' / 'opencode' / 'opencode.json'
        conf.parent.mkdir(parents=True)
        conf.write_text('{"provider": {"omniroute": {"options": {"baseURL": "http://direct/v1"}}}}')
        extra = tmp_path / 'mine.json'  # OPENCODE_CONFIG: loaded by OpenCode, not edited by the module
        extra.write_text('{"provider": {"omniroute": {"models": {"direct-model": {}}}}}')
        monkeypatch.setenv('OPENCODE_CONFIG', str(extra))
        args = {'users': [{'name': ME}], 'key_maps': [{ME: KEY}], 'key_store': 'auth', 'scope': 'managed',
                'base_url': url, 'verify': True, 'managed_dir': str(managed_dir)}
        rc, res, out = run(capsys, args, check=True, diff=True)
        assert rc == 0 and res['changed'] and KEY not in out
        assert 'omniroute' in conf.read_text()  # check mode
        v = res['users'][ME]['verify']
        assert v['scope'] == 'managed' and v['key'] == 'present' and v['key_accepted'] is True
        assert v['managed']['path'] == str(managed_dir / 'opencode.json') and v['managed']['matches'] is True
        # The global file loses its copy in this run; OPENCODE_CONFIG keeps it.
        assert [layer['path'] for layer in v['layers']] == [str(extra)]
        assert v['ready'] is False and v['cause'].startswith('user %s on laptop9: ' % ME) and str(extra) in v['cause']
        assert seen[-1] == ('/v1/models', 'Bearer ' + KEY)

        monkeypatch.delenv('OPENCODE_CONFIG')
        rc, res, out = run(capsys, args)
        v = res['users'][ME]['verify']
        assert rc == 0 and v['ready'] is True and v['cause'] is None and v['layers'] == [] and KEY not in out

        # The managed file changed by another tool: not ready, naming the file.
        path = managed_dir / 'opencode.json'
        path.write_text(path.read_text().replace(url, 'http://elsewhere:1'))
        rc, res, out = run(capsys, args)
        v = res['users'][ME]['verify']
        assert rc == 0 and not v['ready'] and not v['managed']['matches']
        assert '%s sends provider.omniroute to http://elsewhere:1/v1' % path in v['cause']


def test_managed_scope_verify_with_the_developers_own_key(home, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv('OPENCODE_TEST_MANAGED_CONFIG_DIR', raising=False)
    monkeypatch.delenv('OPENCODE_CONFIG', raising=False)
    with models_gateway(USER_KEY, GATEWAY_MODELS) as (url, seen):
        managed_dir = _managed_file(tmp_path, url, models=('team-fast', 'openai/o3'))
        args = {'users': [{'name': ME}], 'key_store': 'auth', 'key_source': 'user', 'scope': 'managed',
                'base_url': url, 'verify': True, 'managed_dir': str(managed_dir)}
        rc, res, out = run(capsys, args)
        v = res['users'][ME]['verify']
        auth = str(home / '.local' / 'share' / 'opencode' / 'auth.json')
        assert rc == 0 and v['key'] == 'missing' and v['key_accepted'] is None and not v['ready']
        assert 'no key for provider omniroute in %s' % auth in v['cause'] and seen[-1][1] is None
        _own_auth(home, '{"omniroute": {"type": "api", "key": "%s"}}' % USER_KEY)
        rc, res, out = run(capsys, args)
        v = res['users'][ME]['verify']
        assert rc == 0 and v['key'] == 'present' and v['key_accepted'] is True and USER_KEY not in out
        assert v['missing'] == ['openai/o3'] and not v['ready'] and 'openai/o3' in v['cause']
        assert seen[-1][1] == 'Bearer ' + USER_KEY


def test_a_users_child_process_is_not_dumpable():
    from ansible_collections.omniroute.opencode.plugins.module_utils import _users as us
    assert us.dumpable() == 1  # this test process: the default

    def plan(environ):
        return {'dumpable': us.dumpable()}, None

    child = us.UserProcess(us.lookup(ME), plan)
    try:
        reply = child.reply()
        child.stop()
    finally:
        child.close()
    assert reply.ok and reply.data == {'dumpable': 0}


def test_forget_others_keeps_only_the_users_own_key():
    class Module:
        pass

    module = Module()
    mine, theirs = {'api_key': 'sk-mine-0000000000'}, {'api_key': 'sk-theirs-111111111'}
    module.params = {'key_maps': [{'a': 'sk-mine-0000000000', 'b': 'sk-theirs-111111111'}],
                     'users': [{'name': 'a'}, {'name': 'b', 'api_key': 'sk-theirs-111111111'}]}
    module.no_log_values = set(['sk-mine-0000000000', 'sk-theirs-111111111'])
    users.forget_others(module, 'sk-mine-0000000000', [mine, theirs], own=mine)
    text = json.dumps([module.params, mine, theirs, sorted(module.no_log_values)])
    assert 'sk-theirs' not in text and mine == {'api_key': 'sk-mine-0000000000'}
    assert module.no_log_values == set(['sk-mine-0000000000'])
