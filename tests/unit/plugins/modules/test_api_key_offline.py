# -*- coding: utf-8 -*-
"""The api_key module against a small local stand-in for OmniRoute's management API.

The stand-in (omniroute_fake.py: stdlib http.server on 127.0.0.1, a random port) answers as
OmniRoute 3.7.9 does - make test-omniroute checks that against the real server - and each
behaviour of a newer server is a named mode that cites the upstream source it models
(``regenerate``, ``management_keys``, ``expiry``). The module runs through its main(), with
arguments as Ansible hands them in.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.omniroute.opencode.plugins.modules import api_key
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import run_module
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.omniroute_fake import (
    PASSWORD, FakeOmniRoute)


def run(capsys, tmp_path, srv, check=False, diff=False, **args):
    args.setdefault('url', srv.url)
    if 'management_key' not in args:
        args.setdefault('password', PASSWORD)
    if 'keys' not in args:
        args.setdefault('name', 'opencode:alice@laptop1')
    args.setdefault('lock_dir', str(tmp_path))
    rc, res, out = run_module(api_key.main, capsys, args, check, diff)
    assert PASSWORD not in out
    if args.get('management_key'):
        assert args['management_key'] not in out
    return rc, res, out


def config_with(key):
    return json.dumps({'provider': {'omniroute': {'options': {'apiKey': key}}}})


def test_create_then_keep_the_installed_key(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server)
    assert rc == 0 and res['created'] and res['changed']
    assert [k['key'] for k in server.keys] == [res['key']]
    rc, res2, out = run(capsys, tmp_path, server, installed_configs=[config_with(res['key'])])
    assert res2['kept'] and not res2['changed'] and res2['key'] == res['key']
    assert ('GET', '/v1/models') in server.calls
    assert [c for c in server.calls if c[0] in ('POST', 'PATCH', 'DELETE') and c[1] != '/api/auth/login'] == \
        [('POST', '/api/keys')]


def test_rotation_never_uses_the_regenerate_endpoint(capsys, tmp_path):
    """Regenerating a key in place would cut off whoever holds it before the new value is
    installed (issue 20: never a gap). A key nobody holds is replaced: made anew, then revoked."""
    srv = FakeOmniRoute(newer=('regenerate',))
    try:
        old = srv.add('opencode:alice@laptop1')
        old_key = old['key']
        rc, res, out = run(capsys, tmp_path, srv, installed_configs=[config_with('sk-stale-0000aaaa')], diff=True)
        assert rc == 0 and res['created'] and res['revoked'] == [old['id']] and res['replaces'] == []
        assert len(srv.keys) == 1 and res['key'] == srv.keys[0]['key'] != old_key
        assert not [c for c in srv.calls if c[1].endswith('/regenerate')]
        assert old_key not in out
    finally:
        srv.close()


def test_rotation_asked_without_installed_files_replaces_at_once(capsys, tmp_path, server):
    """Without the installed files the module cannot tell who holds the key: rotate=true makes
    the new key, then revokes the old one, as asked (single phase). The new key starts its own life (no expiry
    is carried over: an expiring key would otherwise be replaced by one that expires as soon).
    On 3.7.9, which ignores the policy given at creation, the policy comes with one PATCH (the
    known bug issue 26's fidelity probe found, fixed by the key lifecycle)."""
    old = server.add('opencode:alice@laptop1', allowedModels=['auto'], expiresAt='2027-01-31T00:00:00Z')
    rc, res, out = run(capsys, tmp_path, server, rotate=True)
    assert rc == 0 and res['rotated'] and res['revoked'] == [old['id']]
    assert [k['name'] for k in server.keys] == ['opencode:alice@laptop1']
    new = server.keys[0]
    assert new['id'] == res['id'] != old['id'] and new['key'] == res['key']
    # The replacement carries the old key's policy.
    assert new['allowedModels'] == ['auto'] and not new.get('expiresAt')
    assert server.calls.index(('POST', '/api/keys')) < server.calls.index(('DELETE', '/api/keys/' + old['id']))


def test_management_key_is_used_instead_of_a_login(capsys, tmp_path):
    srv = FakeOmniRoute(newer=('management_keys',))
    try:
        mgmt = srv.add('fleet-automation', scopes=['manage'])['key']
        rc, res, out = run(capsys, tmp_path, srv, management_key=mgmt)
        assert rc == 0 and res['created']
        assert ('POST', '/api/auth/login') not in srv.calls
        # Every key of the server shares its first 8 characters with the management key: the key
        # handed back is whole all the same (only the login secrets' runs are scrubbed from texts).
        made = [k for k in srv.keys if k['key'] != mgmt]
        assert mgmt[:8] == made[0]['key'][:8] and res['key'] == made[0]['key']
        rc, res, out = run(capsys, tmp_path, srv, management_key=mgmt, keys=[{'label': 'bob', 'name': 'opencode-bob@laptop1'}])
        assert rc == 0 and res['keys_by_label'] == {'bob': srv.keys[-1]['key']}
        rc, res, out = run(capsys, tmp_path, srv, management_key='sk-mgmt-wrong-1234', name='other')
        assert rc == 1 and res['error_kind'] == 'auth' and 'management key' in res['msg']
        assert 'sk-mgmt-wrong-1234' not in out
    finally:
        srv.close()


def test_a_management_key_on_379_is_refused_with_403(capsys, tmp_path, server):
    """3.7.9 takes no Bearer key on its management API, whatever the key's scopes."""
    mgmt = server.add('fleet-automation', scopes=['manage'])['key']
    rc, res, out = run(capsys, tmp_path, server, management_key=mgmt)
    assert rc == 1 and res['error_kind'] == 'auth' and res['status'] == 403
    assert 'refused the management key' in res['msg'] and mgmt not in out
    assert [k['name'] for k in server.keys] == ['fleet-automation']


def test_wrong_password_fails_as_auth_without_echoing_it(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server, password='not-the-pw-55')
    assert rc == 1 and res['error_kind'] == 'auth' and 'wrong admin password' in res['msg']
    assert 'not-the-pw-55' not in out and server.keys == []


def test_two_keys_with_one_name_the_one_nobody_holds_goes_and_absent_revokes_all(capsys, tmp_path, server):
    """A second, newer key of the name that is not the installed one is a rotation's lost new key:
    it is revoked and the rotation made again (issue 20); state absent then revokes every key.
    (A key made in the same second counts as older: revoked, without a new rotation.)"""
    first = server.add('opencode:alice@laptop1', createdAt='2026-01-01T10:00:00.000Z')
    second = server.add('opencode:alice@laptop1', createdAt='2026-01-01T10:00:01.000Z')
    rc, res, out = run(capsys, tmp_path, server, installed_configs=[config_with(first['key'])])
    assert rc == 0 and res['rotated'] and res['revoked'] == [second['id']] and res['replaces'] == [first['id']]
    assert len(server.keys) == 2 and first in server.keys
    rc, res, out = run(capsys, tmp_path, server, state='absent')
    assert rc == 0 and res['changed'] and len(res['revoked']) == 2 and first['id'] in res['revoked']
    assert server.keys == []
    rc, res, out = run(capsys, tmp_path, server, state='absent')
    assert rc == 0 and not res['changed'] and res['revoked'] == []


def test_expiry_refused_with_400_fails_with_a_clear_message(capsys, tmp_path):
    srv = FakeOmniRoute()  # 3.7.9
    try:
        rec = srv.add('opencode:alice@laptop1')
        rc, res, out = run(capsys, tmp_path, srv, installed_configs=[config_with(rec['key'])],
                           expires_at='2027-06-30T00:00:00Z')
        assert rc == 1 and res['status'] == 400 and res['error_kind'] == 'api'
        # (The whole text after the key's name: this name, with a colon before the @, loses its
        # `opencode:alice@` to the scrubbing of user:password@ in messages.)
        assert res['msg'].startswith('key ') and res['msg'].split(': ', 1)[1] == (
            'this OmniRoute server does not accept a key expiry (PATCH expiresAt '
            'refused with HTTP 400); omit expires_at for it (OmniRoute 3.7.9 has no expiry in its key API - use '
            "ttl, which the module then enforces from each key's createdAt)")
        assert rec['key'] not in out
        assert srv.keys[0]['expiresAt'] is None
    finally:
        srv.close()


@pytest.mark.parametrize('have, want, changes', [
    # Same set of models in another order, with repeats: nothing to do.
    ({'allowedModels': ['b', 'a']}, {'allowed_models': ['a', 'b', 'a']}, None),
    ({'allowedModels': ['a']}, {'allowed_models': ['c', 'a']}, {'allowedModels': ['a', 'c']}),
    ({'allowedModels': ['a']}, {'allowed_models': []}, {'allowedModels': []}),
    # The same instant written two ways is the same expiry.
    ({'expiresAt': '2027-01-31T00:00:00.000Z'}, {'expires_at': '2027-01-31T00:00:00+00:00'}, None),
    ({'expiresAt': '2027-01-31T00:00:00Z'}, {'expires_at': '2027-02-01T00:00:00Z'},
     {'expiresAt': '2027-02-01T00:00:00Z'}),
    ({'expiresAt': '2027-01-31T00:00:00Z'}, {'expires_at': ''}, {'expiresAt': None}),
    # Omitted options leave the policy as it is.
    ({'allowedModels': ['a'], 'expiresAt': '2027-01-31T00:00:00Z'}, {}, None),
])
def test_policy_comparison(capsys, tmp_path, have, want, changes):
    server = FakeOmniRoute(newer=('expiry',))
    try:
        _policy_comparison(capsys, tmp_path, server, have, want, changes)
    finally:
        server.close()


def _policy_comparison(capsys, tmp_path, server, have, want, changes):
    rec = server.add('opencode:alice@laptop1', **have)
    rc, res, out = run(capsys, tmp_path, server, installed_configs=[config_with(rec['key'])], **want)
    assert rc == 0 and res['kept']
    patches = [c for c in server.calls if c[0] == 'PATCH']
    if changes is None:
        assert not res['policy_changed'] and not res['changed'] and patches == []
    else:
        assert res['policy_changed'] and res['changed'] and patches == [('PATCH', '/api/keys/' + rec['id'])]
        for field, value in changes.items():
            assert server.keys[0][field] == value


def test_check_mode_changes_nothing_on_the_server(capsys, tmp_path, server):
    old = server.add('opencode:alice@laptop1')
    rc, res, out = run(capsys, tmp_path, server, check=True, diff=True, rotate=True, allowed_models=['x'])
    assert rc == 0 and res['changed'] and res['rotated'] and res['policy_changed']
    assert [c for c in server.calls if c[0] in ('PATCH', 'DELETE') or c[1].startswith('/api/keys/')] == []
    assert server.keys == [old] and old['key'] not in out
    assert res['diff']['after']['allowedModels'] == ['x']


# --------------------------------------------------------------------------- check mode (issue 26)
def test_create_in_check_mode_calls_nothing_that_changes_the_server(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server, check=True, diff=True, allowed_models=['auto'])
    assert rc == 0 and res['changed'] and res['created'] and 'key' not in res
    assert server.keys == []
    assert [c for c in server.calls if c[0] in ('POST', 'PATCH', 'DELETE') and c[1] != '/api/auth/login'] == []
    assert res['diff']['before'] == {'state': 'absent'} and res['diff']['after']['state'] == 'present'
    assert res['diff']['after']['key'] == '(new key)' and res['diff']['after']['allowedModels'] == ['auto']


def test_revoke_in_check_mode_deletes_nothing(capsys, tmp_path, server):
    rec = server.add('opencode:alice@laptop1')
    rc, res, out = run(capsys, tmp_path, server, check=True, diff=True, state='absent')
    assert rc == 0 and res['changed'] and res['revoked'] == [rec['id']]
    assert server.keys == [rec] and not [c for c in server.calls if c[0] == 'DELETE']
    assert res['diff']['after'] == {'state': 'absent'} and rec['key'] not in out
    rc, res, out = run(capsys, tmp_path, server, state='absent')
    assert rc == 0 and res['changed'] and server.keys == []


def test_many_keys_in_check_mode_create_and_revoke_nothing(capsys, tmp_path, server):
    gone = server.add('opencode:bob@laptop1')
    rc, res, out = run(capsys, tmp_path, server, check=True, keys=[
        {'label': 'alice', 'name': 'opencode:alice@laptop1'},
        {'label': 'bob', 'name': 'opencode:bob@laptop1', 'state': 'absent'}])
    assert rc == 0 and res['changed']
    assert res['keys_by_label'] == {'alice': 'check-mode-key-to-be-created'}
    assert [r['created'] for r in res['results']] == [True, False]
    assert res['results'][1]['revoked'] == [gone['id']]
    assert server.keys == [gone]
    assert [c for c in server.calls if c[0] in ('POST', 'PATCH', 'DELETE') and c[1] != '/api/auth/login'] == []


# --------------------------------------------------------------------------- options (issue 26)
def test_verify_installed_false_trusts_a_masked_match(capsys, tmp_path, server):
    """Without verify_installed, a key whose mask matches is kept without asking /v1/models."""
    rec = server.add('opencode:alice@laptop1')
    installed = [config_with(rec['key'])]
    rc, res, out = run(capsys, tmp_path, server, installed_configs=installed, verify_installed=False)
    assert rc == 0 and res['kept'] and not res['changed'] and ('GET', '/v1/models') not in server.calls
    # With it (the default), the key is asked about; a key the server no longer accepts is rotated.
    rc, res, out = run(capsys, tmp_path, server, installed_configs=installed, verify_installed=True)
    assert rc == 0 and res['kept'] and ('GET', '/v1/models') in server.calls
    rec['key'] = rec['key'][:8] + 'ffff' + rec['key'][12:]  # same mask, another key (revoked meanwhile)
    rc, res, out = run(capsys, tmp_path, server, installed_configs=installed)
    assert rc == 0 and res['rotated'] and not res['kept']
    rc, res, out = run(capsys, tmp_path, server, installed_configs=[config_with(res['key'])], verify_installed=False)
    assert rc == 0 and res['kept']


def test_validate_certs(capsys, tmp_path):
    """A server with a self-signed certificate: refused by default, reached with validate_certs false."""
    from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.tls import self_signed
    srv = FakeOmniRoute(tls=self_signed(tmp_path))
    try:
        assert srv.url.startswith('https://')
        rc, res, out = run(capsys, tmp_path, srv)
        assert rc == 1 and res['error_kind'] == 'unreachable' and 'TLS certificate not accepted' in res['msg']
        assert srv.calls == []
        rc, res, out = run(capsys, tmp_path, srv, validate_certs=True)
        assert rc == 1 and srv.calls == []
        rc, res, out = run(capsys, tmp_path, srv, validate_certs=False)
        assert rc == 0 and res['created'] and [k['name'] for k in srv.keys] == ['opencode:alice@laptop1']
    finally:
        srv.close()


def test_one_failing_key_of_many_is_named_and_the_others_are_done(capsys, tmp_path, server):
    """3.7.9 refuses an expiry: that key's entry fails, by its label; the other key is created."""
    held = server.add('opencode:bob@laptop1')
    rc, res, out = run(capsys, tmp_path, server, keys=[
        {'label': 'alice', 'name': 'opencode:alice@laptop1'},
        {'label': 'bob', 'name': 'opencode:bob@laptop1', 'installed_key': held['key'],
         'expires_at': '2031-01-31T00:00:00Z'}])
    assert rc == 1 and res['error_kind'] == 'api' and res['msg'].startswith('bob: ')
    assert 'does not accept a key expiry' in res['msg'] and 'keys_by_label' not in res
    assert [r['label'] for r in res['results']] == ['alice', 'bob'] and res['results'][1]['failed']
    assert sorted(k['name'] for k in server.keys) == ['opencode:alice@laptop1', 'opencode:bob@laptop1']
    assert held['key'] not in out


# --------------------------------------------------------------------------- the per-key lock
def _module_process(tmp_path, srv, name, tag):
    """The module in its own process, as Ansible starts it (arguments from a file)."""
    import os
    import subprocess
    import sys
    args = tmp_path / ('args-%s.json' % tag)
    args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {'url': srv.url, 'password': PASSWORD, 'name': name,
                                                        'lock_dir': str(tmp_path)}}))
    here = os.path.abspath(api_key.__file__)
    # The collection these tests import, ahead of whatever else the test run has on its path (ansible-test
    # puts ansible-core's own lib there).
    path = [here[:here.rindex(os.sep + 'ansible_collections' + os.sep)]] + os.environ.get('PYTHONPATH', '').split(os.pathsep)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p))
    return subprocess.Popen([sys.executable, '-m', 'ansible_collections.omniroute.opencode.plugins.modules.api_key',
                             str(args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)


def test_two_runs_for_one_key_never_make_two_keys(tmp_path):
    """Two module processes ensure one key name at the same moment. The fake holds each listing
    until both have asked (up to a second), so without the lock both would see no key and both
    would create one; with it, the second waits, sees the first one's key and keeps it."""
    srv = FakeOmniRoute(list_barrier=2)
    try:
        procs = [_module_process(tmp_path, srv, 'opencode:alice@laptop1', n) for n in (1, 2)]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-2000:]
            results.append(json.loads(out))
    finally:
        srv.close()
    assert [k['name'] for k in srv.keys] == ['opencode:alice@laptop1']
    # The second finds the first one's key and, without the installed files, keeps it as it is:
    # only the racer that created the key gets it (as concurrency.yml checks live).
    assert sorted((r['created'], r['rotated']) for r in results) == [(False, False), (True, False)]
    assert [r.get('key') for r in results if r['created']] == [srv.keys[0]['key']]
    assert [r for r in results if not r['created'] and 'key' in r] == []
