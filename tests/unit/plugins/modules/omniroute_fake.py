# -*- coding: utf-8 -*-
"""An offline stand-in for OmniRoute's management API that answers as OmniRoute 3.7.9 does.

By default every answer is the one the real 3.7.9 gives (tests/setup/omniroute.sh starts it;
make test-omniroute runs omniroute_probe.py against both and fails on any difference):

- ``/api/*`` without a dashboard session: 401; a Bearer key instead of a session: 403, whether
  the key is unknown, an inference key or one created with ``scopes: [manage]``;
- ``POST /api/auth/login``: 401 for a wrong password, 200 and the cookie ``auth_token``;
- ``POST /api/keys {name}``: 201 with ``id``, ``key`` (the full key, once), ``machineId``, ``name``
  and ``noLog``; ``allowedModels``/``modelAccessMode`` and ``expiresAt`` in the body are ignored
  (the key is created unrestricted); two keys may share a name;
- ``GET /api/keys``: ``{keys, total, allowKeyReveal}``, every key masked as its first 8 and last 4
  characters (``sk-b1490****af60``), with ``keyPrefix``, ``createdAt``, ``lastUsedAt``,
  ``expiresAt`` (always null), ``isActive``, ``revokedAt``, ``scopes``...;
- ``PATCH /api/keys/{id}``: name, allowedModels, allowedConnections, noLog, autoResolve, isActive,
  maxSessions and accessSchedule are taken; any other field is dropped, and a body with none of
  them is refused with 400 ``No valid fields to update`` (so ``expiresAt`` alone gets 400, and
  ``expiresAt`` next to ``noLog`` is silently ignored; omniroute_probe.py checks both);
- ``POST /api/keys/{id}/regenerate``: 404 (no such route);
- ``DELETE /api/keys/{id}``: 200, then 404;
- ``GET /v1/models`` with ``Authorization: Bearer <key>``: 200 for an active key of this server
  (its ``lastUsedAt`` is set), 401 otherwise (an ``isActive: false`` key too).

Each difference from 3.7.9 is a named "newer server" mode (``FakeOmniRoute(newer=(...))``), and
cites the upstream source it models:

- ``regenerate``: ``POST /api/keys/{id}/regenerate`` answers 200 ``{message, key, id}`` with a new
  key for the same id (github.com/kromodiwiryo-ctrl/OmniRoute, an OmniRoute fork,
  src/app/api/keys/[id]/regenerate/route.ts at 7a8995c7);
- ``management_keys``: a Bearer key with the ``manage`` (or ``admin``) scope may call the
  management API; another valid key gets 403, an unknown one 401 (github.com/diegosouzapw/OmniRoute,
  src/lib/api/requireManagementAuth.ts at f5f69bd4);
- ``expiry``: ``PATCH /api/keys/{id}`` accepts ``expiresAt`` and the listing returns it
  (github.com/diegosouzapw/OmniRoute, src/app/api/keys/[id]/route.ts at 0cab26d8);
- ``create_policy``: ``POST /api/keys`` keeps the ``allowedModels`` it is given
  (github.com/diegosouzapw/OmniRoute, src/app/api/keys/route.ts at 16f46970: createApiKey gets
  ``modelAccessMode`` and ``allowedModels``);
- ``no_key_dates``: a server whose listing carries neither ``createdAt`` nor ``expiresAt`` (no
  known version has this; it is the one case where a TTL is refused before any change).

Other switches are not server behaviour but test instruments: ``list_barrier`` holds each
``GET /api/keys`` until that many have arrived (or a second has passed), so two concurrent
module runs really race (the routed test server, tests/support/http_server.py, answers each
connection in its own thread); ``tls`` (``(certfile, keyfile)``) serves https.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import threading
import time
import uuid

from ansible_collections.omniroute.opencode.tests.support.http_server import Answer, Server

PASSWORD = 'admin-pw-7c1e9b'
MACHINE = 'b1490c2d'
NEWER = ('regenerate', 'management_keys', 'expiry', 'create_policy', 'no_key_dates')
# What PATCH /api/keys/{id} takes on 3.7.9 (its schema; each field checked on the real server).
PATCHABLE = ('name', 'allowedModels', 'allowedConnections', 'noLog', 'autoResolve', 'isActive', 'maxSessions',
             'accessSchedule')


def mask(key):
    return key[:8] + '****' + key[-4:]


def now():
    return time.strftime('%Y-%m-%dT%H:%M:%S.000Z', time.gmtime())


class FakeOmniRoute(object):
    """Keys kept in memory; every request recorded as (method, path)."""

    def __init__(self, newer=(), list_barrier=0, tls=None):
        unknown = set(newer) - set(NEWER)
        assert not unknown, 'no such newer-server mode: %s' % ', '.join(sorted(unknown))
        self.newer = frozenset(newer)
        self.keys = []
        # Every key this server ever gave out, revoked ones too: the tests' secret greps search them all.
        self.issued = []
        self.calls = []
        self.sessions = set()
        self.list_barrier = list_barrier
        self._lists = 0
        self._arrived = threading.Condition()
        self.server = Server(default=self._route, tls=tls)
        self.url = self.server.url

    def close(self):
        self.server.close()

    def _route(self, req):
        """The HTTP side: the JSON body read, the call recorded, :meth:`answer` sent."""
        if req.method not in ('GET', 'POST', 'PATCH', 'DELETE'):
            return Answer(501, b'', content_type=None)
        body = {}
        if req.body:
            try:
                body = json.loads(req.body.decode('utf-8'))
            except ValueError:
                body = None
        self.calls.append((req.method, req.path))
        status, answer, cookie = self.answer(req.method, req.path, body, req.headers)
        if isinstance(answer, str):  # Next.js's own HTML page (an unknown route)
            raw, kind = answer.encode('utf-8'), 'text/html; charset=utf-8'
        else:
            raw, kind = (json.dumps(answer).encode('utf-8') if answer is not None else b''), 'application/json'
        headers = [('Content-Type', kind)]
        if cookie:
            headers.append(('Set-Cookie', 'auth_token=%s; Path=/; HttpOnly; SameSite=Lax' % cookie))
        return Answer(status, raw, headers)

    # -- the keys ------------------------------------------------------------------------
    def add(self, name, **fields):
        key = 'sk-%s-%s' % (MACHINE, uuid.uuid4().hex[:24])
        rec = dict(id=str(uuid.uuid4()), name=name, key=key, machineId=MACHINE, allowedModels=[],
                   allowedConnections=[], noLog=False, autoResolve=False, isActive=True, expiresAt=None,
                   revokedAt=None, createdAt=now(), lastUsedAt=None, scopes=[], accessSchedule=None,
                   ipAllowlist=[], maxRequestsPerDay=None, maxRequestsPerMinute=None, maxSessions=None)
        rec.update(fields)
        self.keys.append(rec)
        self.issued.append(rec['key'])
        return rec

    def masked(self, rec):
        out = dict(rec)
        out['key'] = mask(rec['key'])
        out['keyPrefix'] = rec['key'][:8]
        if 'no_key_dates' in self.newer:
            del out['createdAt'], out['expiresAt']
        return out

    def find(self, key_id):
        return next((k for k in self.keys if k['id'] == key_id), None)

    def by_key(self, key):
        return next((k for k in self.keys if k['key'] == key), None)

    # -- authentication ------------------------------------------------------------------
    def authorised(self, headers):
        """``None`` when the call may go on, else the ``(status, body)`` refusal."""
        cookie = headers.get('Cookie') or ''
        if any(part.strip() == 'auth_token=%s' % s for s in self.sessions for part in cookie.split(';')):
            return None
        auth = headers.get('Authorization') or ''
        if auth.startswith('Bearer '):
            if 'management_keys' not in self.newer:
                # 3.7.9: no Bearer key at all on the management API, known or not.
                return 403, {'error': {'message': 'Forbidden', 'type': 'invalid_request'}}
            rec = self.by_key(auth[len('Bearer '):])
            if rec is None:
                return 401, {'error': {'message': 'Invalid API key', 'type': 'invalid_request'}}
            if set(rec.get('scopes') or ()) & {'manage', 'admin'}:
                return None
            return 403, {'error': {'message': "API key lacks 'manage' scope.", 'type': 'invalid_request'}}
        return 401, {'error': {'message': 'Authentication required', 'type': 'invalid_request'}}

    def _wait_for_lists(self):
        with self._arrived:
            self._lists += 1
            self._arrived.notify_all()
            deadline = time.time() + 1.0
            while self._lists < self.list_barrier and time.time() < deadline:
                self._arrived.wait(deadline - time.time())

    # -- the API -------------------------------------------------------------------------
    def answer(self, method, path, body, headers):
        if (method, path) == ('POST', '/api/auth/login'):
            if not isinstance(body, dict) or body.get('password') != PASSWORD:
                return 401, {'error': 'Invalid password'}, None
            token = uuid.uuid4().hex
            self.sessions.add(token)
            return 200, {'success': True}, token
        if (method, path) == ('GET', '/v1/models'):
            auth = headers.get('Authorization') or ''
            rec = self.by_key(auth[len('Bearer '):]) if auth.startswith('Bearer ') else None
            if rec is not None and rec.get('isActive', True):
                rec['lastUsedAt'] = now()
                return 200, {'object': 'list', 'data': []}, None
            return 401, {'error': {'message': 'Invalid API key', 'type': 'invalid_request_error'}}, None
        refused = self.authorised(headers)
        if refused:
            return refused[0], refused[1], None
        parts = path.strip('/').split('/')
        if path == '/api/keys' and method == 'GET':
            if self.list_barrier:
                self._wait_for_lists()
            return 200, {'keys': [self.masked(k) for k in self.keys], 'total': len(self.keys),
                         'allowKeyReveal': False}, None
        if path == '/api/keys' and method == 'POST':
            if not isinstance(body, dict) or not isinstance(body.get('name'), str) or not body['name']:
                return 400, {'error': {'message': 'Invalid request', 'details': [{'field': 'name'}]}}, None
            policy = list(body.get('allowedModels') or []) if 'create_policy' in self.newer else []
            rec = self.add(body['name'], allowedModels=policy, scopes=list(body.get('scopes') or []))
            # The full key, once; not the policy (a caller must not take it as confirmed).
            return 201, dict((k, rec[k]) for k in ('key', 'name', 'id', 'machineId', 'noLog')), None
        if len(parts) == 4 and parts[3] == 'regenerate' and method == 'POST' and 'regenerate' not in self.newer:
            return 404, '<!DOCTYPE html><html><body>404: This page could not be found.</body></html>', None
        rec = self.find(parts[2]) if len(parts) >= 3 else None
        if rec is None:
            return 404, {'error': 'Key not found'}, None
        if len(parts) == 4 and parts[3] == 'regenerate' and method == 'POST':
            rec['key'] = 'sk-%s-%s' % (MACHINE, uuid.uuid4().hex[:24])
            self.issued.append(rec['key'])
            return 200, {'message': 'API key regenerated successfully', 'key': rec['key'], 'id': rec['id']}, None
        if len(parts) == 3 and method == 'GET':
            return 200, self.masked(rec), None
        if len(parts) == 3 and method == 'PATCH':
            if not isinstance(body, dict):
                return 400, {'error': {'message': 'Invalid request'}}, None
            taken = dict((k, v) for k, v in body.items()
                         if k in PATCHABLE or (k == 'expiresAt' and 'expiry' in self.newer))
            if not taken:
                return 400, {'error': {'message': 'Invalid request',
                                       'details': [{'field': '', 'message': 'No valid fields to update'}]}}, None
            rec.update(taken)
            return 200, dict({'message': 'API key settings updated successfully'}, **taken), None
        if len(parts) == 3 and method == 'DELETE':
            self.keys.remove(rec)
            return 200, {'message': 'Key deleted successfully'}, None
        return 405, {'error': 'Method not allowed'}, None
