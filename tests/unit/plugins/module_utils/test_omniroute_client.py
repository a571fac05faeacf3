# -*- coding: utf-8 -*-
"""``_omniroute_api.Client`` call by call, against the routed local test server.

The api_key module's tests drive the client through whole key lifecycles against the 3.7.9 fake,
and the live suite against a real 3.7.9; this file pins what each call sends and how each answer
(status, body, cookies) is read, so that a changed message, a lost branch or a header sent where it
must not go fails here (issue 26: these were surviving mutants of the unit tier).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _omniroute_api as api
from ansible_collections.omniroute.opencode.tests.support.http_server import Answer, Server, json_answer

PASSWORD = 'Pw4Hq9Lm2Zt7Xa'
MGMT = 'sk-mgmt-8Vc1Rb3Nd6Yq'
COOKIE = 'tok5Xk2Wq9Pe4Gz'
NEW_KEY = 'sk-fresh7Jh3Ty6Ua1Ko'


def logged_in(status=200, cookie=COOKIE, body=None):
    headers = [('Set-Cookie', 'auth_token=%s; Path=/; HttpOnly' % cookie)] if cookie else []
    return lambda req: json_answer(body if body is not None else {'success': True}, status, headers)


@pytest.fixture
def server():
    with Server() as srv:
        srv.route('/api/auth/login', logged_in(), method='POST')
        yield srv


def client(srv, **kwargs):
    kwargs.setdefault('password', PASSWORD)
    return api.Client(srv.url, timeout=5, **kwargs)


def failure(call, *args):
    with pytest.raises(api.OmniRouteError) as info:
        call(*args)
    err = info.value
    for secret in (PASSWORD, MGMT, COOKIE, NEW_KEY):
        assert secret not in str(err) and secret not in err.message
    return err


# --------------------------------------------------------------------------- the error type
def test_an_error_carries_its_kind_message_and_status():
    err = api.OmniRouteError(api.KIND_API, 'boom at https://u:p@h/x?q=1', 502)
    assert (err.kind, err.status) == ('api', 502)
    assert err.message == str(err) and 'u:p' not in err.message and 'q=1' not in err.message
    assert api.OmniRouteError(api.KIND_AUTH, 'no status').status is None


# --------------------------------------------------------------------------- login
def test_login_sends_the_password_once_and_the_cookie_afterwards(server):
    server.route('/api/keys', lambda req: json_answer({'keys': []}), method='GET')
    c = client(server)
    assert c.list_keys() == []
    login, listing = server.requests
    assert (login.method, login.path) == ('POST', '/api/auth/login')
    assert json.loads(login.body.decode()) == {'password': PASSWORD}
    assert login.headers.get('cookie') is None and login.headers.get('authorization') is None
    assert login.headers.get('content-type') == 'application/json'
    assert login.headers.get('user-agent') == 'omniroute.opencode-ansible'
    assert login.headers.get('accept') == 'application/json'
    assert (listing.method, listing.path) == ('GET', '/api/keys')
    assert listing.headers.get('cookie') == 'auth_token=' + COOKIE
    assert listing.headers.get('authorization') is None and listing.body == b''
    # Logged in once: the next call goes straight to the route.
    c.list_keys()
    assert [r.path for r in server.requests] == ['/api/auth/login', '/api/keys', '/api/keys']


@pytest.mark.parametrize('status, cookie, kind, words', [
    (401, None, 'auth', 'OmniRoute login failed: wrong admin password (HTTP 401)'),
    (429, None, 'auth', 'OmniRoute login locked after too many failed attempts (HTTP 429); retry later'),
    (200, None, 'auth', 'OmniRoute login answered 200 but set no session cookie'),
    (400, None, 'auth', 'OmniRoute login failed (HTTP 400): bad request'),
    (403, None, 'auth', 'OmniRoute login failed (HTTP 403): bad request'),
    (500, None, 'api', 'OmniRoute login failed (HTTP 500): bad request'),
])
def test_login_failures_say_why(server, status, cookie, kind, words):
    server.route('/api/auth/login', logged_in(status, cookie, {'error': 'bad request'}), method='POST')
    err = failure(client(server).login)
    assert (err.kind, err.status, err.message) == (kind, status, words)


def test_no_password_and_no_management_key_is_refused_before_any_request(server):
    err = failure(client(server, password=None).login)
    assert (err.kind, err.message) == ('auth', 'no admin password and no management key given')
    assert server.requests == []


def test_a_management_key_is_sent_as_a_bearer_and_never_logs_in(server):
    server.route('/api/keys', lambda req: json_answer([{'id': 1}]), method='GET')
    c = client(server, password=None, management_key=MGMT)
    assert c.list_keys() == [{'id': 1}]
    (req,) = server.requests
    assert req.headers.get('authorization') == 'Bearer ' + MGMT and req.headers.get('cookie') is None


# --------------------------------------------------------------------------- error texts
@pytest.mark.parametrize('body, text', [
    ({'error': 'plain text'}, 'plain text'),
    ({'message': 'from message'}, 'from message'),
    ({'error': {'message': 'nested'}}, 'nested'),
    ({'error': {'type': 'x', 'code': 7}}, '{"code": 7, "type": "x"}'),
    ({'error': ''}, 'no error message'),
    ({'other': 1}, 'no error message'),
    (['a list'], 'no error message'),
    (None, 'no error message'),
    ({'error': 'e' * 500}, None),
    ({'error': 'the password is %s' % PASSWORD}, 'the password is ********'),
])
def test_an_api_error_shows_the_servers_message_scrubbed_and_cut(server, body, text):
    server.route('/api/keys', lambda req: Answer(500, json.dumps(body).encode() if body is not None else b''),
                 method='GET')
    err = failure(client(server).list_keys)
    assert err.kind == 'api' and err.status == 500
    prefix = 'OmniRoute API error on GET /api/keys (HTTP 500): '
    assert err.message.startswith(prefix)
    shown = err.message[len(prefix):]
    if text is None:
        assert shown.startswith('eee') and len(shown) <= 200
    elif '****' in text:
        assert PASSWORD not in shown and shown.startswith('the password is ')
    else:
        assert shown == text


@pytest.mark.parametrize('management_key, how', [(None, 'dashboard session'), (MGMT, 'management key')])
@pytest.mark.parametrize('status', [401, 403])
def test_a_refused_call_names_what_was_refused(server, management_key, how, status):
    server.route('/api/keys', lambda req: json_answer({'error': 'nope'}, status), method='GET')
    err = failure(client(server, management_key=management_key, password=None if management_key else PASSWORD).list_keys)
    assert (err.kind, err.status) == ('auth', status)
    assert err.message == 'OmniRoute refused the %s for GET /api/keys (HTTP %s): nope' % (how, status)


# --------------------------------------------------------------------------- sessions
def test_a_session_travels_to_another_client_and_is_used_without_a_login(server):
    server.route('/api/keys', lambda req: json_answer({'keys': [{'id': 'a'}]}), method='GET')
    first = client(server)
    assert first.session() is None
    first.login()
    text = first.session()
    assert text.startswith(api.SESSION_PREFIX) and COOKIE not in text
    data = json.loads(base64.urlsafe_b64decode(text[len(api.SESSION_PREFIX):].encode()).decode())
    assert data == {'value': COOKIE}
    second = client(server, password=None)
    second.resume(text)
    assert second.list_keys() == [{'id': 'a'}]
    assert server.requests[-1].headers.get('cookie') == 'auth_token=' + COOKIE
    assert [r.path for r in server.requests] == ['/api/auth/login', '/api/keys']
    # The session cookie is a secret of the second client too.
    assert COOKIE not in second.redact('cookie %s' % COOKIE)


def _session(value):
    return api.SESSION_PREFIX + base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize('text', [
    'not-a-session', api.SESSION_PREFIX + '!!!', api.SESSION_PREFIX + base64.urlsafe_b64encode(b'[1]').decode(),
    _session({'other': 'x'}), _session({'value': 7}), _session({'value': ''}), _session({'value': 'a;b'}),
    _session({'value': 'a b'}), _session({'value': 'a,b'}), _session({'value': 'a\tb'}), _session({'value': u'\xe9t\xe9'}),
    _session({'value': 'a\x7fb'}), None,
])
def test_a_session_that_is_not_ours_is_refused(server, text):
    err = failure(client(server).resume, text)
    assert (err.kind, err.message) == ('auth', 'the session handed in is not one this module returned')
    assert server.requests == []


def test_a_session_with_every_printable_cookie_character_is_taken(server):
    value = '!"#$%&()*+-./09:<=>?@AZ[]^_`az{|}~'
    c = client(server)
    c.resume(_session({'value': value}))
    assert c._cookies == {'auth_token': value}


def test_the_login_redactor_masks_the_login_secrets_only(server):
    c = client(server, management_key=MGMT)
    c.resume(_session({'value': COOKIE}))
    c.add_secret(NEW_KEY)
    shown = c.login_redactor().text('%s %s %s %s' % (PASSWORD, MGMT, COOKIE, NEW_KEY))
    assert PASSWORD not in shown and MGMT not in shown and COOKIE not in shown and shown.endswith(NEW_KEY)


def test_a_refused_resumed_session_is_replaced_by_one_login_when_there_is_a_password(server):
    stale = _session({'value': 'stale-cookie-value'})

    def keys(req):
        if req.headers.get('cookie') == 'auth_token=' + COOKIE:
            return json_answer({'keys': []})
        return json_answer({'error': 'expired'}, 401)
    server.route('/api/keys', keys, method='GET')
    c = client(server)
    c.resume(stale)
    assert c.list_keys() == []
    assert [(r.method, r.path) for r in server.requests] == [
        ('GET', '/api/keys'), ('POST', '/api/auth/login'), ('GET', '/api/keys')]
    assert server.requests[0].headers.get('cookie') == 'auth_token=stale-cookie-value'
    # The login replaced the resumed session: a refusal of this one is not answered by another login.
    server.route('/api/keys', lambda req: json_answer({'error': 'expired'}, 401), method='GET')
    before = len(server.requests)
    assert failure(c.list_keys).status == 401
    assert [(r.method, r.path) for r in server.requests[before:]] == [('GET', '/api/keys')]
    # Without a password the refusal stands; a login of this client is never retried.
    for who in (client(server, password=None), client(server)):
        if who._password:
            who.login()
            server.route('/api/keys', lambda req: json_answer({'error': 'expired'}, 401), method='GET')
        else:
            who.resume(stale)
        before = len(server.requests)
        err = failure(who.list_keys)
        assert err.status == 401 and len(server.requests) == before + 1


def test_every_cookie_the_server_set_goes_back_in_one_header(server):
    server.route('/api/auth/login', lambda req: json_answer({}, 200, [
        ('Set-Cookie', 'auth_token=%s; Path=/' % COOKIE), ('Set-Cookie', 'csrf=c5rf7Tk2; Path=/')]), method='POST')
    server.route('/api/keys', lambda req: json_answer({'keys': []}), method='GET')
    client(server).list_keys()
    assert server.requests[-1].headers.get('cookie') == 'auth_token=%s; csrf=c5rf7Tk2' % COOKIE


def test_cookies_the_server_clears_are_dropped_and_odd_lines_ignored(server):
    c = client(server)
    c._keep_cookies(['auth_token=abcd1234; Path=/', 'novalue', '=xyzw9876', ' spaced = v2v2v2v2 ; HttpOnly',
                     'eq=b64val==; Path=/; Secure'])
    assert c._cookies == {'auth_token': 'abcd1234', 'spaced': 'v2v2v2v2', 'eq': 'b64val=='}
    # Cleared (an empty value), also one this client never held.
    c._keep_cookies(['auth_token=; Max-Age=0', 'never_set=; Max-Age=0', 'eq=; Max-Age=0'])
    assert c._cookies == {'spaced': 'v2v2v2v2'}
    assert 'abcd1234' not in c.redact('was abcd1234') and 'v2v2v2v2' not in c.redact('was v2v2v2v2')
    assert 'xyzw9876' in c.redact('was xyzw9876')  # a line with no name was not a cookie


# --------------------------------------------------------------------------- keys
@pytest.mark.parametrize('body', [{'keys': 'no'}, {'items': []}, 'text', 3])
def test_a_listing_without_keys_is_an_api_error(server, body):
    server.route('/api/keys', lambda req: json_answer(body), method='GET')
    err = failure(client(server).list_keys)
    assert (err.kind, err.message) == ('api', "unexpected answer from GET /api/keys (no 'keys' list)")


def test_create_key_sends_the_policy_only_when_given_and_keeps_the_key_secret(server):
    answers = iter([{'id': 'k1', 'key': NEW_KEY}, {'id': 9, 'key': NEW_KEY}])
    server.route('/api/keys', lambda req: json_answer(next(answers), 201), method='POST')
    c = client(server)
    assert c.create_key('dev') == {'id': 'k1', 'key': NEW_KEY}
    assert c.create_key('dev2', allowed_models=('a', 'b'), scopes=('read',))['id'] == 9
    plain, policy = [json.loads(r.body.decode()) for r in server.requests if r.path == '/api/keys']
    assert plain == {'name': 'dev'}
    assert policy == {'name': 'dev2', 'allowedModels': ['a', 'b'], 'modelAccessMode': 'allowlist', 'scopes': ['read']}
    assert NEW_KEY not in c.redact('key %s' % NEW_KEY)
    assert c.login_redactor().text('key %s' % NEW_KEY) == 'key %s' % NEW_KEY


@pytest.mark.parametrize('body', [{'id': 'x'}, {'key': NEW_KEY}, {'id': True, 'key': NEW_KEY}, {'id': 1.5, 'key': NEW_KEY},
                                  {'id': 'x', 'key': 5}, ['x'], None])
def test_create_key_needs_a_key_and_an_id(server, body):
    server.route('/api/keys', lambda req: json_answer(body, 200), method='POST')
    err = failure(client(server).create_key, 'dev')
    assert (err.kind, err.message) == ('api', 'POST /api/keys answered without a key and its id')


def test_update_expiry_and_delete_quote_the_id_and_read_the_status(server):
    seen = []

    def key(status):
        def route(req):
            seen.append((req.method, req.path, json.loads(req.body.decode()) if req.body else None))
            return json_answer({'ok': True} if status < 300 else {'error': 'e%d' % status}, status)
        return route
    odd = 'a/b c'
    path = '/api/keys/a%2Fb%20c'
    c = client(server)
    server.route(path, key(200), method='PATCH')
    assert c.update_key(odd, {'noLog': True}) == {'ok': True}
    assert c.set_expiry(odd, '2030-01-01T00:00:00Z') is True
    server.route(path, key(400), method='PATCH')
    assert c.set_expiry(odd, '2030-01-01T00:00:00Z') is False
    server.route(path, key(500), method='PATCH')
    assert failure(c.set_expiry, odd, 'x').status == 500
    server.route(path, key(200), method='DELETE')
    assert c.delete_key(odd) is True
    server.route(path, key(404), method='DELETE')
    assert c.delete_key(odd) is False
    server.route(path, key(409), method='DELETE')
    err = failure(c.delete_key, odd)
    assert err.status == 409 and err.message == 'OmniRoute API error on DELETE %s (HTTP 409): e409' % path
    assert seen[:3] == [('PATCH', path, {'noLog': True}), ('PATCH', path, {'expiresAt': '2030-01-01T00:00:00Z'}),
                        ('PATCH', path, {'expiresAt': '2030-01-01T00:00:00Z'})]
    assert [m for m, _p, _b in seen[3:]] == ['PATCH', 'DELETE', 'DELETE', 'DELETE']


# --------------------------------------------------------------------------- inference side
@pytest.mark.parametrize('status, accepted', [(200, True), (401, False), (403, False)])
def test_key_accepted_asks_models_with_the_key_alone(server, status, accepted):
    server.route('/v1/models', lambda req: json_answer({'data': []} if status == 200 else {'error': 'no'}, status))
    c = client(server, management_key=MGMT)
    c._cookies['auth_token'] = COOKIE
    assert c.key_accepted(NEW_KEY) is accepted
    (req,) = server.requests
    assert req.headers.get('authorization') == 'Bearer ' + NEW_KEY and req.headers.get('cookie') is None
    assert NEW_KEY not in c.redact(NEW_KEY)


def test_key_accepted_fails_on_any_other_answer(server):
    server.route('/v1/models', lambda req: json_answer({'error': 'down for %s' % NEW_KEY}, 502))
    err = failure(client(server).key_accepted, NEW_KEY)
    assert (err.kind, err.status) == ('api', 502)
    assert err.message.startswith('OmniRoute API error on GET /v1/models (HTTP 502): down')


def test_an_unreachable_server_and_a_bad_answer_are_told_apart():
    with Server() as srv:
        url = srv.url
    err = failure(api.Client(url, password=PASSWORD, timeout=5).login)
    assert err.kind == 'unreachable' and err.status is None
    assert err.message.startswith('OmniRoute server at %s is unreachable (POST /api/auth/login): ' % url)
    with Server({'/api/auth/login': lambda req: Answer(302, b'', headers=[('Location', 'http://evil.test/x')])}) as srv:
        err = failure(api.Client(srv.url, password=PASSWORD, timeout=5).login)
    assert err.kind == 'api' and err.status == 302
    assert err.message.startswith('OmniRoute server at %s: POST /api/auth/login: HTTP 302' % srv.url)


@pytest.mark.parametrize('url, message', [
    ('ftp://h/x', "url must be an http(s) URL of the OmniRoute server, got 'ftp://h/x'"),
    ('http://', "url must be an http(s) URL of the OmniRoute server, got 'http:'"),
    ('http://[fd00::7', "url is not a valid URL (Invalid IPv6 URL): 'http://[fd00::7'"),
])
def test_a_url_that_is_not_a_server_is_refused(url, message):
    err = failure(api.Client, url)
    assert err.kind == 'api' and err.message == message


def test_calls_are_recorded_without_secrets(server):
    server.route('/api/keys', lambda req: json_answer({'keys': []}), method='GET')
    c = client(server)
    c.list_keys()
    assert [(m, p, s) for m, p, s, _t in c.calls] == [('POST', '/api/auth/login', 200), ('GET', '/api/keys', 200)]
    assert all(isinstance(t, float) for _m, _p, _s, t in c.calls)
