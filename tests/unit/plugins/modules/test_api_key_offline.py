# -*- coding: utf-8 -*-
"""The api_key module against a small local stand-in for OmniRoute's management API.

The stand-in (a route of the routed test server of tests/support, 127.0.0.1, a random port) plays
the calls listed in docs/omniroute-keys.md, with switches for what a live OmniRoute 3.7.9 cannot show: a regenerate
endpoint, management-key (Bearer) login, two keys with one name, and an expiry refused with 400.
The module runs through its main(), with arguments as Ansible hands them in.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import uuid

import pytest

from ansible_collections.omniroute.opencode.plugins.modules import api_key
from ansible_collections.omniroute.opencode.tests.support.http_server import Answer, Server
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.module_args import run_module

PASSWORD = 'admin-pw-7c1e9b'
MGMT_KEY = 'sk-mgmt-0d4f7a2b9e'


def mask(key):
    return key[:8] + '****' + key[-4:]


class FakeOmniRoute(object):
    """Keys kept in memory; every request recorded as (method, path)."""

    def __init__(self, regenerate=False, management_keys=False, reject_expiry=False):
        self.keys = []
        self.calls = []
        self.regenerate = regenerate
        self.management_keys = management_keys
        self.reject_expiry = reject_expiry
        self.sessions = set()
        self.server = Server(default=self._route)
        self.url = self.server.url

    def _route(self, req):
        body = json.loads(req.body.decode('utf-8')) if req.body else {}
        self.calls.append((req.method, req.path))
        status, answer, cookie = self.answer(req.method, req.path, body, req.headers)
        headers = [('Set-Cookie', 'auth_token=%s; Path=/; HttpOnly' % cookie)] if cookie else []
        return Answer(status, json.dumps(answer).encode('utf-8') if answer is not None else b'', headers)

    def close(self):
        self.server.close()

    # -- the API -------------------------------------------------------------------------
    def add(self, name, **fields):
        rec = dict(id=str(uuid.uuid4()), name=name, key='sk-' + uuid.uuid4().hex, allowedModels=[],
                   expiresAt=None)
        rec.update(fields)
        self.keys.append(rec)
        return rec

    def masked(self, rec):
        out = dict(rec)
        out['key'] = mask(rec['key'])
        return out

    def find(self, key_id):
        return next((k for k in self.keys if k['id'] == key_id), None)

    def authorised(self, headers):
        bearer = (headers.get('Authorization') or '')[len('Bearer '):]
        if self.management_keys and bearer == MGMT_KEY:
            return True
        cookie = headers.get('Cookie') or ''
        return any(part.strip() == 'auth_token=%s' % s for s in self.sessions for part in cookie.split(';'))

    def answer(self, method, path, body, headers):
        if (method, path) == ('POST', '/api/auth/login'):
            if body.get('password') != PASSWORD:
                return 401, {'error': 'Invalid password'}, None
            token = uuid.uuid4().hex
            self.sessions.add(token)
            return 200, {'success': True}, token
        if (method, path) == ('GET', '/v1/models'):
            bearer = (headers.get('Authorization') or '')[len('Bearer '):]
            if any(k['key'] == bearer for k in self.keys):
                return 200, {'object': 'list', 'data': []}, None
            return 401, {'error': {'message': 'Invalid API key'}}, None
        if not self.authorised(headers):
            return 401, {'error': 'Unauthorized'}, None
        parts = path.strip('/').split('/')
        if path == '/api/keys' and method == 'GET':
            return 200, {'keys': [self.masked(k) for k in self.keys]}, None
        if path == '/api/keys' and method == 'POST':
            rec = self.add(body['name'], allowedModels=body.get('allowedModels', []), scopes=body.get('scopes'))
            return 201, dict(rec), None
        rec = self.find(parts[2]) if len(parts) >= 3 else None
        if rec is None:
            return 404, {'error': 'Key not found'}, None
        if len(parts) == 4 and parts[3] == 'regenerate' and method == 'POST':
            if not self.regenerate:
                return 404, {'error': 'Not found'}, None
            rec['key'] = 'sk-' + uuid.uuid4().hex
            return 200, dict(rec), None
        if method == 'PATCH':
            if 'expiresAt' in body and self.reject_expiry:
                return 400, {'error': 'Invalid request: unrecognized key "expiresAt"'}, None
            rec.update(body)
            return 200, self.masked(rec), None
        if method == 'DELETE':
            self.keys.remove(rec)
            return 200, {'success': True}, None
        return 405, {'error': 'Method not allowed'}, None


@pytest.fixture
def server():
    srv = FakeOmniRoute()
    yield srv
    srv.close()


def run(capsys, tmp_path, srv, check=False, diff=False, **args):
    args.setdefault('url', srv.url)
    if 'management_key' not in args:
        args.setdefault('password', PASSWORD)
    args.setdefault('name', 'opencode:alice@laptop1')
    args['lock_dir'] = str(tmp_path)
    rc, res, out = run_module(api_key.main, capsys, args, check, diff)
    assert PASSWORD not in out and MGMT_KEY not in out
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


def test_rotation_uses_the_regenerate_endpoint_when_there_is_one(capsys, tmp_path):
    srv = FakeOmniRoute(regenerate=True)
    try:
        old = srv.add('opencode:alice@laptop1')
        old_key = old['key']
        rc, res, out = run(capsys, tmp_path, srv, installed_configs=[config_with('sk-stale-0000aaaa')], diff=True)
        assert rc == 0 and res['rotated'] and not res['created'] and res['revoked'] == []
        assert res['id'] == old['id'] and len(srv.keys) == 1
        assert res['key'] == srv.keys[0]['key'] != old_key
        assert ('POST', '/api/keys/%s/regenerate' % old['id']) in srv.calls
        assert not [c for c in srv.calls if c[0] == 'DELETE']
        assert old_key not in out
    finally:
        srv.close()


def test_rotation_without_regenerate_creates_then_revokes(capsys, tmp_path, server):
    old = server.add('opencode:alice@laptop1', allowedModels=['auto'], expiresAt='2027-01-31T00:00:00Z')
    rc, res, out = run(capsys, tmp_path, server, rotate=True)
    assert rc == 0 and res['rotated'] and res['revoked'] == [old['id']]
    assert [k['name'] for k in server.keys] == ['opencode:alice@laptop1']
    new = server.keys[0]
    assert new['id'] == res['id'] != old['id'] and new['key'] == res['key']
    # The replacement carries the old key's policy.
    assert new['allowedModels'] == ['auto'] and new['expiresAt'] == '2027-01-31T00:00:00Z'
    assert server.calls.index(('POST', '/api/keys')) < server.calls.index(('DELETE', '/api/keys/' + old['id']))


def test_management_key_is_used_instead_of_a_login(capsys, tmp_path):
    srv = FakeOmniRoute(management_keys=True)
    try:
        rc, res, out = run(capsys, tmp_path, srv, management_key=MGMT_KEY)
        assert rc == 0 and res['created']
        assert ('POST', '/api/auth/login') not in srv.calls
        rc, res, out = run(capsys, tmp_path, srv, management_key='sk-mgmt-wrong-1234', name='other')
        assert rc == 1 and res['error_kind'] == 'auth' and 'management key' in res['msg']
        assert 'sk-mgmt-wrong-1234' not in out
    finally:
        srv.close()


def test_wrong_password_fails_as_auth_without_echoing_it(capsys, tmp_path, server):
    rc, res, out = run(capsys, tmp_path, server, password='not-the-pw-55')
    assert rc == 1 and res['error_kind'] == 'auth' and 'wrong admin password' in res['msg']
    assert 'not-the-pw-55' not in out and server.keys == []


def test_two_keys_with_one_name_warn_and_absent_revokes_both(capsys, tmp_path, server):
    first = server.add('opencode:alice@laptop1')
    second = server.add('opencode:alice@laptop1')
    rc, res, out = run(capsys, tmp_path, server, installed_configs=[config_with(first['key'])])
    assert rc == 0 and res['kept'] and res['id'] == first['id']
    assert "2 keys are named 'opencode:alice@laptop1'" in json.dumps(res.get('warnings'))
    rc, res, out = run(capsys, tmp_path, server, state='absent')
    assert rc == 0 and res['changed'] and sorted(res['revoked']) == sorted([first['id'], second['id']])
    assert server.keys == []
    rc, res, out = run(capsys, tmp_path, server, state='absent')
    assert rc == 0 and not res['changed'] and res['revoked'] == []


def test_expiry_refused_with_400_fails_with_a_clear_message(capsys, tmp_path):
    srv = FakeOmniRoute(reject_expiry=True)
    try:
        rec = srv.add('opencode:alice@laptop1')
        rc, res, out = run(capsys, tmp_path, srv, installed_configs=[config_with(rec['key'])],
                           expires_at='2027-06-30T00:00:00Z')
        assert rc == 1 and res['status'] == 400 and res['error_kind'] == 'api'
        assert 'does not accept a key expiry' in res['msg'] and 'omit expires_at' in res['msg']
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
def test_policy_comparison(capsys, tmp_path, server, have, want, changes):
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
