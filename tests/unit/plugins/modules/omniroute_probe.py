# -*- coding: utf-8 -*-
"""One sequence of management-API calls, observed the same way on any server (issue 26).

Run against the real OmniRoute 3.7.9 (tests/integration/targets/api_key/fidelity.py, in make
test-omniroute) and against the offline fake (omniroute_fake.py) in its 3.7.9 mode: the two
observation lists must be equal, so the fake can be no kinder than the server it stands in for.
An observation keeps what the api_key module relies on - the status, the shape of the JSON body
(its keys, the type of ``error``), the cookie a login sets, the fields of a listed key and the
form of its mask - and leaves out what differs between any two runs (ids, keys, times).
Standard library only; no secret is ever part of an observation.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

try:
    from http.cookiejar import CookieJar
    from urllib.error import HTTPError
    from urllib.request import HTTPCookieProcessor, Request, build_opener
except ImportError:  # pragma: no cover - Python 3 only
    raise

MASK = re.compile(r'^.{8}\*{4}.{4}$')


def _shape(payload):
    if isinstance(payload, dict):
        shape = {'keys': sorted(payload)}
        if 'error' in payload:
            shape['error'] = type(payload['error']).__name__
        return shape
    if isinstance(payload, list):
        return {'list': len(payload)}
    return {'body': type(payload).__name__}


class Session(object):
    def __init__(self, url, timeout=30):
        self.url = url.rstrip('/')
        self.jar = CookieJar()
        self.opener = build_opener(HTTPCookieProcessor(self.jar))
        self.timeout = timeout

    def call(self, method, path, body=None, bearer=None, cookies=True):
        headers = {'Accept': 'application/json'}
        data = None
        if body is not None:
            data = json.dumps(body).encode('utf-8')
            headers['Content-Type'] = 'application/json'
        if bearer is not None:
            headers['Authorization'] = 'Bearer ' + bearer
        req = Request(self.url + path, data=data, headers=headers, method=method)
        opener = self.opener if cookies else build_opener()
        try:
            resp = opener.open(req, timeout=self.timeout)
            status, raw = resp.getcode(), resp.read()
        except HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            payload = json.loads(raw.decode('utf-8')) if raw else None
        except ValueError:
            payload = '(not JSON)'
        return status, payload


def probe(url, password, prefix='fidelity'):
    """``[(step, observation)]`` for one run of the sequence against the server at ``url``.

    Creates keys named ``<prefix>-...`` and deletes them again.
    """
    out = []
    s = Session(url)

    def see(step, status, payload, **extra):
        obs = dict(status=status)
        obs.update(_shape(payload))
        obs.update(extra)
        out.append((step, obs))

    status, payload = s.call('GET', '/api/keys', cookies=False)
    see('list without a session', status, payload)
    status, payload = s.call('POST', '/api/auth/login', {'password': password + '-wrong'})
    see('login with a wrong password', status, payload, cookies=sorted(c.name for c in s.jar))
    status, payload = s.call('POST', '/api/auth/login', {'password': password})
    see('login', status, payload, cookies=sorted(c.name for c in s.jar))

    status, payload = s.call('POST', '/api/keys', {'name': prefix + '-a', 'expiresAt': '2031-01-31T00:00:00Z'})
    created = payload if isinstance(payload, dict) else {}
    key = created.get('key') if isinstance(created.get('key'), str) else ''
    see('create (expiresAt given)', status, payload, key_form='sk-' if key.startswith('sk-') else 'other')
    key_id = str(created.get('id'))

    status, payload = s.call('GET', '/api/keys')
    records = [k for k in (payload or {}).get('keys', []) if isinstance(k, dict) and k.get('name') == prefix + '-a']
    rec = records[0] if records else {}
    see('list', status, payload, record_fields=sorted(rec),
        mask=bool(MASK.match(str(rec.get('key')))) and rec.get('key') == key[:8] + '****' + key[-4:],
        expires_at_kept=rec.get('expiresAt') is not None)

    status, payload = s.call('GET', '/api/keys/' + key_id)
    see('get one', status, payload)
    status, payload = s.call('PATCH', '/api/keys/' + key_id, {'allowedModels': ['auto']})
    see('patch allowedModels', status, payload)
    status, payload = s.call('GET', '/api/keys')
    rec = [k for k in payload.get('keys', []) if k.get('name') == prefix + '-a'][0]
    see('list after patch', status, None, allowed_models=rec.get('allowedModels'))
    status, payload = s.call('PATCH', '/api/keys/' + key_id, {'expiresAt': '2031-01-31T00:00:00Z'})
    see('patch expiresAt', status, payload)
    status, payload = s.call('PATCH', '/api/keys/' + key_id, {'expiresAt': '2031-01-31T00:00:00Z', 'noLog': False})
    see('patch expiresAt with noLog', status, payload)
    status, payload = s.call('GET', '/api/keys')
    rec = [k for k in payload.get('keys', []) if k.get('name') == prefix + '-a'][0]
    see('list after patch expiresAt with noLog', status, None, expires_at_kept=rec.get('expiresAt') is not None)
    status, payload = s.call('PATCH', '/api/keys/no-such-key-id', {'allowedModels': []})
    see('patch a missing key', status, payload)
    status, payload = s.call('POST', '/api/keys/%s/regenerate' % key_id, {})
    see('regenerate', status, payload)

    status, payload = s.call('GET', '/v1/models', bearer=key, cookies=False)
    see('models with the key', status, None)
    status, payload = s.call('GET', '/v1/models', bearer='sk-not-a-key-0000000000', cookies=False)
    see('models with an unknown key', status, payload)
    status, payload = s.call('GET', '/api/keys', bearer=key, cookies=False)
    see('list with an inference key as Bearer', status, payload)
    status, payload = s.call('GET', '/api/keys', bearer='sk-not-a-key-0000000000', cookies=False)
    see('list with an unknown Bearer', status, payload)

    status, payload = s.call('POST', '/api/keys', {'name': prefix + '-m', 'scopes': ['manage']})
    manage = payload.get('key') if isinstance(payload, dict) and isinstance(payload.get('key'), str) else ''
    see('create with scopes manage', status, payload)
    status, payload = s.call('GET', '/api/keys', bearer=manage, cookies=False)
    see('list with a manage-scoped Bearer', status, payload)

    status, payload = s.call('POST', '/api/keys', {'name': prefix + '-p', 'allowedModels': ['auto'],
                                                   'modelAccessMode': 'allowlist'})
    see('create with allowedModels', status, payload)
    status, payload = s.call('GET', '/api/keys')
    rec = [k for k in payload.get('keys', []) if k.get('name') == prefix + '-p']
    see('list a key created with allowedModels', status, None,
        allowed_models=rec[0].get('allowedModels') if rec else 'missing')
    status, payload = s.call('POST', '/api/keys', {'name': prefix + '-a'})
    see('create a second key of one name', status, payload)
    status, payload = s.call('GET', '/api/keys')
    ours = [k for k in payload.get('keys', []) if str(k.get('name', '')).startswith(prefix + '-')]
    see('list both', status, None, named_a=len([k for k in ours if k.get('name') == prefix + '-a']))

    for rec in ours:
        status, payload = s.call('DELETE', '/api/keys/' + str(rec.get('id')))
        see('delete', status, payload)
    status, payload = s.call('DELETE', '/api/keys/' + key_id)
    see('delete again', status, payload)
    status, payload = s.call('GET', '/api/keys')
    see('list after delete', status, None,
        left=len([k for k in payload.get('keys', []) if str(k.get('name', '')).startswith(prefix + '-')]))
    return out


def differences(real, fake):
    """Lines naming each step where the fake answered otherwise than the real server."""
    lines = []
    for (step, want), (fstep, got) in zip(real, fake):
        if step != fstep:
            return lines + ['the sequences differ at %r / %r' % (step, fstep)]
        if want != got:
            lines.append('%s: the server gives %s, the fake %s'
                         % (step, json.dumps(want, sort_keys=True), json.dumps(got, sort_keys=True)))
    if len(real) != len(fake):
        lines.append('the server made %d observations, the fake %d' % (len(real), len(fake)))
    return lines
