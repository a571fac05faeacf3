# -*- coding: utf-8 -*-
"""_http, the one HTTP client, against the routed local gateway_server in every hostile mode.

Every request must end by its deadline whatever the gateway_server does, never follow a redirect,
never raise, and never put a run of 8 characters of the key into what it returns."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import socket
import ssl
import threading
import time

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _http
from ansible_collections.omniroute.opencode.tests.support.files import raises
from ansible_collections.omniroute.opencode.tests.support.http_server import (
    ANSWERED, HOSTILE, SLOW, Answer, Raw, Server, Tunnel, json_answer, leaked, mode, self_signed)
from ansible_collections.omniroute.opencode.tests.support.http_server import (  # noqa: F401 pylint: disable=unused-import
    gateway_server, redirect_target)

KEY = 'sk-http-unit-7a1b2c3d4e5f6a7b8c9d'
# Generous: CI machines are busy; the deadline is 2 s.
BOUND = 30
# The deadline of a request whose fault ends it before any deadline (an answer, a closed or reset
# connection, a limit passed): long, so a busy machine that stalls the test's own server for a
# second cannot turn such a fault into a timeout. That no such request waits for its deadline is
# checked on the cause, which never names a timeout.
NO_WAIT = 10


def leaks(text, *secrets):
    return leaked(text, secrets)


def ask(gateway_server, timeout=2, key=KEY, **kw):
    headers = {'Authorization': 'Bearer ' + key} if key is not None else {}
    return _http.request('GET', gateway_server.url + '/v1/models', headers, timeout=timeout, **kw)


EXPECTED = {'offline': _http.OFFLINE, 'bad': _http.BAD}


@pytest.mark.parametrize('name', sorted(set(HOSTILE) - set(SLOW)))
def test_every_hostile_mode_ends_in_time_with_its_outcome_and_no_key(gateway_server, redirect_target, name):
    # (The modes that wait for the deadline have their own test below.)
    gateway_server.route('/v1/models', mode(name, KEY, target=redirect_target.url))
    started = time.monotonic()
    reply = ask(gateway_server, timeout=NO_WAIT)
    assert time.monotonic() - started < BOUND
    assert '(timeout)' not in (reply.cause or ''), reply
    # Transport and framing faults are offline, unusable answers bad; the rest are answers whose
    # content the caller judges (a 401, a 500, a model list).
    assert reply.outcome == (_http.ANSWERED if name in ANSWERED else EXPECTED[HOSTILE[name]]), reply
    if reply.outcome != _http.ANSWERED:
        assert reply.cause and len(reply.cause) <= _http.MAX_CAUSE and reply.body == b''
    shown = json.dumps([reply.url, reply.cause, reply.status, reply.headers])
    assert not leaks(shown, KEY)
    assert redirect_target.requests == []


def test_a_dripping_server_ends_at_the_deadline_not_per_read():
    # A per-read timeout would wait for ever: the servers send a byte every second.  The three
    # modes run side by side (each request has its own deadline).
    servers = [Server({'/v1/models': mode(name, KEY)}) for name in SLOW]
    replies = [None] * len(servers)

    def one(index):
        started = time.monotonic()
        reply = ask(servers[index], timeout=2)
        replies[index] = (reply, time.monotonic() - started)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(servers))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(BOUND)
    finally:
        for srv in servers:
            srv.close()
    for name, (reply, took) in zip(SLOW, replies):
        assert reply.outcome == _http.OFFLINE and 'within 2 s' in reply.cause, name
        assert 1.5 < took < BOUND and not leaks(repr(reply), KEY), name


@pytest.mark.parametrize('location, shown', [
    ('http://127.0.0.1:{port}/v1/models?token=leak-q-7', 'http://127.0.0.1:{port}'),
    ('http://evil.invalid:8080/x', 'http://evil.invalid:8080'),
    ('https://user:pw-leak-5@evil.invalid/v1', 'https://evil.invalid:443'),
    ('/v1/other?token=leak-q-7', 'another path of http://127.0.0.1:{here}'),
])
def test_a_redirect_is_an_outcome_naming_the_origin_only(gateway_server, redirect_target, location, shown):
    location = location.format(port=redirect_target.port)
    for status in (301, 302, 303, 307, 308):
        gateway_server.route('/v1/models', lambda req, status=status: Answer(status, b'', [('Location', location)]))
        reply = ask(gateway_server)
        assert reply.outcome == _http.BAD and reply.status == status
        assert shown.format(port=redirect_target.port, here=gateway_server.port) in reply.cause
        for hidden in ('leak-q-7', 'pw-leak-5', 'user:'):
            assert hidden not in reply.cause
    assert redirect_target.requests == []


def test_a_key_with_a_line_break_is_never_sent(gateway_server):
    before = len(gateway_server.requests)
    reply = ask(gateway_server, key=KEY + '\r\n')
    assert (reply.outcome, reply.cause) == (_http.BAD, 'the Authorization header holds a line break, a control character '
                                            'or a character outside ASCII (a key copied with a trailing newline?); '
                                            'nothing was sent')
    assert not leaks(repr(reply), KEY)
    assert len(gateway_server.requests) == before


def test_the_body_cap_holds_for_any_framing(gateway_server):
    big = b'{"data": [' + b' ' * 5000 + b']}'
    gateway_server.route('/v1/models', lambda req: Answer(200, big))
    assert ask(gateway_server, max_body=4096).outcome == _http.BAD
    chunked = (b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
               + b'1000\r\n' + b' ' * 4096 + b'\r\n' + b'1000\r\n' + b' ' * 4096 + b'\r\n0\r\n\r\n')
    gateway_server.route('/v1/models', lambda req: Raw(chunked))
    reply = ask(gateway_server, max_body=4096)
    assert reply.outcome == _http.BAD and 'larger than 4096 bytes' in reply.cause
    gateway_server.route('/v1/models', lambda req: Answer(200, big))
    reply = ask(gateway_server)
    assert reply.outcome == _http.ANSWERED and reply.body == big


def test_connection_refused_and_unresolvable_are_offline():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    reply = _http.request('GET', 'http://127.0.0.1:%d/v1/models' % port, timeout=2)
    assert reply.outcome == _http.OFFLINE and 'refused' in reply.cause
    reply = _http.request('GET', 'http://no-such-host.invalid/v1/models', timeout=5)
    assert reply.outcome == _http.OFFLINE and reply.status is None


@pytest.mark.parametrize('url', ['ftp://h/x', 'http://', 'http://[::1', 'http://h:99999/x', 'http://h/x y\r\nX: 1'])
def test_invalid_urls_are_bad_and_shown_without_credentials(url):
    reply = _http.request('GET', url.replace('//', '//u:pw-in-url-9@', 1) if '//' in url else url, timeout=2)
    assert reply.outcome in (_http.BAD, _http.OFFLINE) and 'pw-in-url-9' not in repr(reply)


@pytest.mark.parametrize('timeout', [0, -1, None, 'soon', 10 ** 12, float('nan')])
def test_a_timeout_that_is_not_a_sane_number_of_seconds_is_bad_before_anything_is_sent(gateway_server, timeout):
    before = len(gateway_server.requests)
    reply = _http.request('GET', gateway_server.url + '/v1/models', timeout=timeout)
    assert reply.outcome == _http.BAD and 'timeout must be' in reply.cause
    assert len(gateway_server.requests) == before


def test_a_tls_handshake_that_never_ends_is_bounded():
    # A listener that accepts and then says nothing: the TLS handshake waits for the deadline.
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    held = []
    thread = threading.Thread(target=lambda: held.append(listener.accept()))
    thread.daemon = True
    thread.start()
    try:
        started = time.monotonic()
        reply = _http.request('GET', 'https://127.0.0.1:%d/v1/models' % listener.getsockname()[1], timeout=1)
        assert reply.outcome == _http.OFFLINE and 'timeout' in reply.cause
        assert time.monotonic() - started < BOUND
    finally:
        listener.close()
        for conn, _addr in held:
            conn.close()


def test_session_cookies_and_headers_are_returned(gateway_server):
    cookies = [('Set-Cookie', 'auth_token=tok-123456789; Path=/'), ('Set-Cookie', 'other=1')]
    gateway_server.route('/api/auth/login', lambda req: Answer(200, b'{}', cookies))
    reply = _http.request('POST', gateway_server.url + '/api/auth/login', {'Content-Type': 'application/json'},
                          b'{"password": "x"}', timeout=2)
    assert reply.outcome == _http.ANSWERED and reply.status == 200
    assert reply.headers['set-cookie'] == ['auth_token=tok-123456789; Path=/', 'other=1']
    assert gateway_server.requests[-1].body == b'{"password": "x"}'


def test_a_proxy_from_the_environment_is_used_for_plain_http(gateway_server):
    # The routed gateway_server plays the proxy: the request line holds the absolute URL.
    gateway_server.route('/v1/models', lambda req: json_answer({'data': [], 'via': 'proxy'}))
    reply = _http.request('GET', 'http://gateway.invalid:20128/v1/models', timeout=2,
                          proxy_env={'http_proxy': gateway_server.url})
    assert reply.outcome == _http.ANSWERED and b'proxy' in reply.body
    assert gateway_server.requests[-1].headers['host'] == 'gateway.invalid:20128'
    reply = _http.request('GET', 'http://127.0.0.1:9/v1/models', timeout=2,
                          proxy_env={'http_proxy': gateway_server.url, 'no_proxy': '127.0.0.1'})
    assert reply.outcome == _http.OFFLINE and 'refused' in reply.cause


def test_https_goes_through_a_connect_tunnel_of_the_proxy(gateway_server, redirect_target):
    # The proxy refuses the tunnel: offline, naming the proxy, never the target's credentials.
    gateway_server.route('CONNECT', lambda req: Answer(407, b''))
    reply = _http.request('GET', 'https://u:pw-tunnel-6@gateway.invalid/v1/models', {'Authorization': 'Bearer ' + KEY},
                          timeout=2, proxy_env={'https_proxy': gateway_server.url})
    assert reply.outcome == _http.OFFLINE and 'refused the tunnel (HTTP 407)' in reply.cause
    assert gateway_server.requests[-1].method == 'CONNECT' and gateway_server.requests[-1].path == 'gateway.invalid:443'
    assert 'authorization' not in gateway_server.requests[-1].headers and not leaks(repr(reply), KEY)
    # The proxy opens the tunnel to a plain-HTTP gateway_server: the TLS handshake through it fails.
    gateway_server.route('CONNECT', lambda req: Tunnel())
    reply = _http.request('GET', 'https://127.0.0.1:%d/v1/models' % redirect_target.port, timeout=2,
                          proxy_env={'https_proxy': gateway_server.url})
    assert reply.outcome == _http.OFFLINE and 'TLS' in reply.cause
    assert gateway_server.requests[-1].method == 'CONNECT'


@pytest.mark.parametrize('body, problem', [
    (b'[' * 65 + b']' * 65, 'nested deeper than 64'),
    (b'{"a": "' + b'[' * 100 + b'"}', None),
    (b'\xff\xfe', 'not UTF-8'),
    (b'{"a": 1,}', 'not JSON'),
    (b'\xef\xbb\xbf{"a": 1}', None),
])
def test_parse_json_bounds_nesting_and_never_raises(body, problem):
    value, found = _http.parse_json(body)
    if problem:
        assert value is None and problem in found
    else:
        assert found is None and isinstance(value, dict)


def test_parse_json_keeps_huge_and_non_finite_numbers_as_floats_for_the_caller():
    value, problem = _http.parse_json(b'{"a": ' + b'9' * 5000 + b', "b": -' + b'9' * 40 + b', "c": NaN, "d": 1e999, "e": 7}')
    assert problem is None
    assert value['a'] == float('inf') and value['b'] == float('-inf') and value['c'] != value['c']
    assert value['d'] == float('inf') and value['e'] == 7


@pytest.mark.parametrize('url, warned', [
    ('http://gw.corp.test:20128/v1', True), ('https://gw.corp.test/v1', False), ('http://localhost:20128/v1', False),
    ('http://127.0.0.1:1/v1', False), ('http://[::1]:1/v1', False), ('http://dev.localhost/v1', False),
    ('http://10.0.0.5/v1', True), ('not a url', False),
])
def test_cleartext_warning_only_for_plain_http_off_this_machine(url, warned):
    warning = _http.cleartext_warning(url)
    assert bool(warning) is warned
    if warned:
        assert 'plain http' in warning and '/v1' not in warning


def test_failed_is_the_one_constructor_of_a_failed_reply():
    reply = _http.failed('https://u:pw-7777777777@h/x?t=q-88888888', _http.OFFLINE,
                         'echo %s \x1b[31mred\x1b[0m ' % KEY + 'x' * 1000, secrets=[KEY])
    assert reply.outcome == _http.OFFLINE and reply.url == 'https://h/x' and reply.body == b''
    assert len(reply.cause) <= _http.MAX_CAUSE and '\x1b' not in reply.cause and not leaks(reply.cause, KEY)
    assert 'pw-7777777777' not in repr(reply) and 'q-88888888' not in repr(reply)


# ------------------------------------------------------------------ exact texts and limits
# (issue 26: mutmut's survivors of _http.py; each message and value compared whole.)
@pytest.mark.parametrize('url, expected', [
    ('http://h/x', 'http://h:80'), ('https://h/x', 'https://h:443'), ('HTTPS://h:8443/x', 'https://h:8443'),
    ('http://[::1]/x', 'http://[::1]:80'), ('//h/x', 'http://h'), ('ftp://h/x', 'ftp://h'), ('/path', None),
])
def test_origin(url, expected):
    assert _http.origin(url) == expected


def test_integers_up_to_30_digits_are_kept():
    assert _http.parse_json(b'[' + b'9' * 30 + b', -' + b'9' * 30 + b']')[0] == [10 ** 30 - 1, -(10 ** 30 - 1)]
    assert _http.parse_json(b'[' + b'9' * 31 + b']')[0] == [float('inf')]


def test_seconds_as_shown():
    assert [_http._seconds(v) for v in (2.0, 0.5, 1e-05, 3, 10 ** 7)] == ['2', '0.5', '1e-05', '3', '10000000']


@pytest.mark.parametrize('location, expected', [
    (None, 'the gateway answered with a redirect but no address (redirects are not followed)'),
    ('  ', 'the gateway answered with a redirect but no address (redirects are not followed)'),
    ('/v2/models', 'the gateway redirected to another path of http://gw:80 (redirects are not followed: set the URL '
                   'to the address that answers)'),
    ('http://gw/v2', 'the gateway redirected to another path of http://gw:80 (redirects are not followed: set the '
                     'URL to the address that answers)'),
    ('https://other:8443/v1?k=1', 'the gateway redirected to https://other:8443 (redirects are not followed, so the '
                                  'key never goes elsewhere: set the URL to the address that answers)'),
])
def test_redirect_texts(location, expected):
    assert _http._redirect('http://gw/v1/models', location) == expected


def test_a_redirect_without_a_location_is_bad_not_an_error(gateway_server):
    gateway_server.route('/v1/models', lambda req: Answer(302, b''))
    reply = ask(gateway_server)
    assert (reply.outcome, reply.status, reply.cause) == (
        _http.BAD, 302, 'HTTP 302: the gateway answered with a redirect but no address (redirects are not followed)')


@pytest.mark.parametrize('proxy, cause', [
    ('http://[::1', 'unreachable: the proxy address in the environment is not valid'),
    ('http://:8080', 'unreachable: the proxy address in the environment has no host'),
])
def test_an_unusable_proxy_is_named(proxy, cause):
    reply = _http.request('GET', 'http://gateway.invalid/v1/models', timeout=2, proxy_env={'http_proxy': proxy})
    assert (reply.outcome, reply.cause) == (_http.OFFLINE, cause)


def test_a_proxy_without_a_scheme_and_an_ipv6_target(gateway_server):
    gateway_server.route('/v1/models', lambda req: json_answer({'data': []}))
    proxy = gateway_server.url.replace('http://', '')
    reply = _http.request('GET', 'http://[::1]:20128/v1/models', timeout=2, proxy_env={'http_proxy': proxy})
    assert reply.outcome == _http.ANSWERED
    assert gateway_server.requests[-1].headers['host'] == '[::1]:20128'


def test_the_tunnel_asked_for_an_ipv6_target_and_its_refusal(gateway_server):
    gateway_server.route('CONNECT', lambda req: Answer(403, b''))
    reply = _http.request('GET', 'https://[::1]:8443/v1/models', timeout=2, proxy_env={'https_proxy': gateway_server.url})
    assert (reply.outcome, reply.cause) == (
        _http.OFFLINE, 'unreachable: the proxy http://127.0.0.1:%d refused the tunnel (HTTP 403)' % gateway_server.port)
    assert gateway_server.requests[-1].path == '[::1]:8443'


def test_parse_json_limits_and_texts():
    assert _http.parse_json(b'[' * 64 + b']' * 64) == (_nested(64), None)
    assert _http.parse_json(b'[' * 65 + b']' * 65) == (None, 'JSON nested deeper than 64 levels')
    assert _http.parse_json(b'{"a": [1]}', max_depth=1) == (None, 'JSON nested deeper than 1 levels')
    # The depth goes down by one at each closing bracket: 4 levels after a closed list at 3.
    assert _http.parse_json(b'[[[],[[]]]]', max_depth=3) == (None, 'JSON nested deeper than 3 levels')
    assert _http.parse_json(b'\xff') == (None, 'not UTF-8 text')
    assert _http.parse_json('{"a": 1}') == ({'a': 1}, None)  # text is taken as it is
    assert _http.parse_json(b'{"a": 1') == (None, "not JSON (Expecting ',' delimiter)")


def _nested(levels):
    value = []
    for _level in range(levels - 1):
        value = [value]
    return value


def test_failed_reply_fields():
    reply = _http.failed('http://gw/v1/models', _http.BAD, 'why')
    assert reply == _http.Reply('http://gw/v1/models', _http.BAD, None, {}, b'', 'why', 0.0)
    reply = _http.failed('http://gw/v1/models', _http.OFFLINE, 'why', started=time.monotonic() - 1.5, status=502)
    assert (reply.status, reply.headers) == (502, {})
    assert isinstance(reply.seconds, float) and 1.5 <= reply.seconds < 60


def test_parse_json_depth_and_recursion():
    assert _http.parse_json(b'[[],[[]]]', max_depth=2) == (None, 'JSON nested deeper than 2 levels')
    assert _http.parse_json(b'[[],[]]', max_depth=2) == ([[], []], None)
    # Without the bracket count, Python's own recursion limit still ends in an outcome.
    deep = b'[' * 100000 + b']' * 100000
    assert _http.parse_json(deep, max_depth=None) == (None, 'JSON nested too deeply to decode')


def test_host_names_and_addresses_are_asked_as_given(gateway_server):
    """A name is resolved (in its own thread, bounded by the deadline) and its port kept; an
    address is used as it is: 127.0.0.2 is not where the server listens (127.0.0.1), directly or
    as the proxy."""
    gateway_server.route('/v1/models', lambda req: json_answer({'data': []}))
    reply = _http.request('GET', 'http://localhost:%d/v1/models' % gateway_server.port, timeout=5)
    assert (reply.outcome, reply.status) == (_http.ANSWERED, 200)
    reply = _http.request('GET', 'http://127.0.0.2:%d/v1/models' % gateway_server.port, timeout=5)
    assert (reply.outcome, reply.cause) == (_http.OFFLINE, 'unreachable: connection refused')
    reply = _http.request('GET', 'http://gateway.invalid/v1/models', timeout=5,
                          proxy_env={'http_proxy': 'http://127.0.0.2:%d' % gateway_server.port})
    assert (reply.outcome, reply.cause) == (_http.OFFLINE, 'unreachable: connection refused')


def test_a_name_server_that_does_not_answer_ends_at_the_deadline(monkeypatch):
    """Name resolution has no timeout of its own: it runs in a daemon thread that the request
    leaves behind at the deadline (the process can still exit), and a deadline already passed
    waits for nothing. (The stand-in name server answers after 5 s, so a wait for it shows as an
    answer, not as a hung test.)"""
    release = threading.Event()
    real = socket.getaddrinfo
    answer_after = {}

    def slow(host, *args):
        if host == 'gateway.invalid':
            release.wait(answer_after['s'])
            return real('127.0.0.1', *args)
        return real(host, *args)

    monkeypatch.setattr(socket, 'getaddrinfo', slow)
    try:
        # 0.3 s left, an answer after 5 s; no time left, an answer after 0.5 s.
        for left, answer_after['s'] in ((0.3, 5), (-1, 0.5)):
            with pytest.raises(socket.timeout):
                _http._resolve('gateway.invalid', 80, time.monotonic() + left)
            stuck = [t for t in threading.enumerate() if t.name == 'omniroute-opencode-resolve']
            assert stuck and all(t.daemon for t in stuck)
        answer_after['s'] = 5
        reply = _http.request('GET', 'http://gateway.invalid/v1/models', timeout=1)
        assert (reply.outcome, reply.cause) == (_http.OFFLINE, 'no complete answer within 1 s (timeout)')
    finally:
        release.set()


def test_an_unexpected_fault_is_the_last_nets_outcome_scrubbed(monkeypatch):
    """Whatever goes wrong inside, the caller gets a failed Reply: the fault's type in words (never
    its text, which may hold anything), the URL scrubbed of the request's credentials, the time."""
    def broken(*args):
        time.sleep(0.01)
        raise KeyError(KEY)

    monkeypatch.setattr(_http, '_request', broken)
    reply = _http.request('GET', 'http://gateway.invalid/%s/v1/models' % KEY, headers={'Authorization': 'Bearer ' + KEY})
    assert reply[:6] == ('http://gateway.invalid/********/v1/models', _http.BAD, None, {}, b'',
                         'the request failed unexpectedly (KeyError)')
    assert reply.seconds >= 0.01


@pytest.mark.parametrize('token', ['tok3n12', 'ab cd12'])
def test_a_short_bearer_token_is_scrubbed_whole(token):
    """A token shorter than the redactor's runs (8 characters) is known by itself, blanks and all:
    the header's value alone would not mask it where it stands without "Bearer "."""
    port = socket.socket()
    port.bind(('127.0.0.1', 0))
    port_number = port.getsockname()[1]
    try:
        reply = _http.request('GET', 'http://127.0.0.1:%d/%s/v1' % (port_number, token),
                              headers={'Authorization': 'Bearer ' + token}, timeout=5)
    finally:
        port.close()
    assert reply.outcome == _http.OFFLINE and token not in reply.url and reply.url.endswith(':%d/********/v1' % port_number)


def test_a_redirects_target_is_scrubbed_and_the_time_kept(gateway_server):
    """A cause built from the gateway's answer (here the redirect's host) is scrubbed of the key."""
    gateway_server.route('/v1/models', lambda req: Answer(302, b'', [('Location', 'http://%s.example:8080/v1' % KEY.lower())]))
    reply = _http.request('GET', gateway_server.url + '/v1/models', headers={'Authorization': 'Bearer ' + KEY.lower()},
                          timeout=5)
    assert (reply.outcome, reply.status, reply.cause) == (
        _http.BAD, 302, 'HTTP 302: the gateway redirected to http://********.example:8080 (redirects are not '
        'followed, so the key never goes elsewhere: set the URL to the address that answers)')
    assert reply.seconds > 0


@pytest.mark.parametrize('url, cause', [
    ('http://[::1/v1', 'not a valid URL (Invalid IPv6 URL)'),
    ('ftp://h/v1', 'not an http(s) URL with a host'),
])
def test_a_url_that_cannot_be_asked_is_refused_in_words(url, cause):
    assert _http.request('GET', url)[1:6] == (_http.BAD, None, {}, b'', cause)


@pytest.mark.parametrize('timeout, cause', [
    (0, 'timeout must be a number of seconds from 1 to 86400'),
    (86401, 'timeout must be a number of seconds from 1 to 86400'),
    (86400, 'unreachable: connection refused'),  # a day is the longest, and allowed
])
def test_the_longest_deadline_is_a_day(timeout, cause):
    port = socket.socket()
    port.bind(('127.0.0.1', 0))
    try:
        reply = _http.request('GET', 'http://127.0.0.1:%d/v1' % port.getsockname()[1], timeout=timeout)
    finally:
        port.close()
    assert reply.cause == cause


def test_a_connect_that_is_never_answered_ends_at_the_deadline():
    """A listener whose queue is full drops the handshake (what a firewall that drops packets
    does): the connect gets only the time left, not the system's minutes of retries."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(0)
    waiting = []
    try:
        for _fill in range(4):
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(listener.getsockname())
            waiting.append(client)
        reply = _http.request('GET', 'http://127.0.0.1:%d/v1' % listener.getsockname()[1], timeout=1)
    finally:
        for client in waiting + [listener]:
            client.close()
    assert (reply.outcome, reply.cause) == (_http.OFFLINE, 'no complete answer within 1 s (timeout)')
    # It ends at the deadline (give or take a timer tick), far from the system's two minutes of
    # retries, which end in the same "timed out" error.
    assert 0.9 <= reply.seconds < BOUND


def test_through_a_proxy_the_request_names_the_default_port_path_and_query(gateway_server):
    """The routed gateway_server plays the proxy: what it is asked for is the target's address as
    given, with the port it implies (80), "/" for no path, the query kept."""
    gateway_server.route('/v1/models', lambda req: json_answer({'data': []}))
    for url, path in (('http://gateway.invalid/v1/models?x=1', '/v1/models?x=1'), ('http://gateway.invalid', '/')):
        reply = _http.request('GET', url, timeout=5, proxy_env={'http_proxy': gateway_server.url})
        assert reply.outcome == _http.ANSWERED
        assert (gateway_server.requests[-1].headers['host'], gateway_server.requests[-1].path) == ('gateway.invalid:80', path)


def test_https_checks_the_certificate_unless_told_not_to_and_the_handshake_gets_the_time_left(tmp_path):
    server = Server(tls=self_signed(tmp_path))
    try:
        server.route('/v1/models', lambda req: json_answer({'data': []}))
        reply = _http.request('GET', server.url + '/v1/models', timeout=5)
        assert (reply.outcome, reply.cause) == (_http.OFFLINE, 'TLS certificate not accepted: self-signed certificate '
                                                               '(validate_certs=false skips the check)')
        # Under a second left when the handshake starts: it still gets that time. (Up to three
        # tries: a busy machine may stall this process's own server for a second, which code that
        # refuses a handshake with under a second left would do every time.)
        replies = []
        while len(replies) < 3 and not any(r.outcome == _http.ANSWERED for r in replies):
            replies.append(_http.request('GET', server.url + '/v1/models', timeout=1, validate_certs=False))
        assert (replies[-1].outcome, replies[-1].status) == (_http.ANSWERED, 200), replies
    finally:
        server.close()


@pytest.mark.parametrize('name, status, cause', [
    ('bad-chunks', 200, 'the connection closed before the whole answer arrived'),
    ('close-early', None, 'the gateway closed the connection without an answer'),
    ('cut-body', 200, 'the connection closed before the whole answer arrived'),
    ('drip-body', 200, 'no complete answer within 1 s (timeout)'),
    ('huge-body', 200, 'HTTP 200 with an answer larger than 4194304 bytes'),
    ('huge-chunk-line', 200, 'the answer has a chunk-size or trailer line longer than 65536 bytes'),
    ('huge-header-line', None, 'the answer has a status or header line longer than 65536 bytes'),
    ('huge-length', 200, 'HTTP 200 with an answer of 99999999999 bytes, more than the 4194304 bytes read'),
    ('many-headers', None, 'the answer has more than 100 header lines'),
    ('not-http', None, 'the answer is not HTTP (its status line cannot be read)'),
    ('status-2OO', None, 'the answer is not HTTP (its status line cannot be read)'),
    ('reset-body', 200, 'the connection failed before the whole answer arrived: Connection reset by peer'),
    ('redirect-http', 301, 'HTTP 301: the gateway redirected to http://evil.invalid:8080 (redirects are not followed, '
                           'so the key never goes elsewhere: set the URL to the address that answers)'),
])
def test_each_hostile_answer_in_words_with_the_status_read_first(gateway_server, redirect_target, name, status, cause):
    """What the caller is told, whole: the cause, and the status when the status line was read
    before the fault (a body cut short or dripped past the deadline still came with a 200)."""
    gateway_server.route('/v1/models', mode(name, KEY, target=redirect_target.url))
    # (drip-body is the one that waits for its deadline, 1 s, which its cause names.)
    reply = ask(gateway_server, timeout=1 if name in SLOW else NO_WAIT)
    assert reply[1:6] == (HOSTILE[name], status, {}, b'', cause)
    assert 0 < reply.seconds < BOUND


def test_tls_to_a_plain_http_port_names_the_tls_fault(gateway_server):
    gateway_server.route('/v1/models', lambda req: json_answer({'data': []}))
    reply = _http.request('GET', gateway_server.url.replace('http:', 'https:') + '/v1/models', timeout=2)
    # OpenSSL's reason (WRONG_VERSION_NUMBER, or another name in other OpenSSL versions), never a type name.
    assert reply[1:5] == (_http.OFFLINE, None, {}, b'') and re.match(r'^TLS error: [A-Z0-9_]+$', reply.cause), reply


def test_the_body_cap_is_the_largest_body_read_whatever_the_framing(gateway_server):
    """A body of exactly ``max_body`` bytes is read, one byte more is not: with a length given,
    and chunked."""
    exact = b'[' + b' ' * 4094 + b']'
    gateway_server.route('/v1/models', lambda req: Answer(200, exact))
    reply = ask(gateway_server, max_body=4096)
    assert (reply.outcome, reply.body) == (_http.ANSWERED, exact) and 0 < reply.seconds < BOUND
    gateway_server.route('/v1/models', lambda req: Answer(200, exact + b' '))
    assert ask(gateway_server, max_body=4096).cause == 'HTTP 200 with an answer of 4097 bytes, more than the 4096 bytes read'
    for size in (4096, 4097):
        chunked = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n' % (size, b' ' * size)
        gateway_server.route('/v1/models', lambda req, chunked=chunked: Raw(chunked))
        reply = ask(gateway_server, max_body=4096)
        assert reply[1:6] == ((_http.ANSWERED, 200, {'transfer-encoding': 'chunked'}, b' ' * 4096, None) if size == 4096
                              else (_http.BAD, 200, {}, b'', 'HTTP 200 with an answer larger than 4096 bytes'))


def test_a_300_answer_is_a_redirect_and_the_host_header_names_the_port(gateway_server):
    gateway_server.route('/v1/models', lambda req: Answer(300, b'', [('Location', '/v1/elsewhere')]))
    reply = ask(gateway_server)
    assert (reply.outcome, reply.status) == (_http.BAD, 300)
    assert gateway_server.requests[-1].headers['host'] == '127.0.0.1:%d' % gateway_server.port


@pytest.mark.parametrize('host, loopback', [
    ('localhost', True), ('LOCALHOST.', True), ('dev.localhost.', True), ('[::1]', True), ('127.0.0.2', True),
    ('XLOCALHOST', False), ('localhost.example', False), ('[::2]', False), ('10.0.0.1', False), ('', False),
    (None, False),
])
def test_this_machine_by_name_or_address(host, loopback):
    assert _http.is_loopback(host) is loopback


def test_the_cleartext_warning_in_words():
    assert _http.cleartext_warning('http://GW.example:8080/v1?x=1') == (
        'the key goes to http://gw.example:8080 over plain http, unencrypted: anyone on the network path can read it; '
        'use https for a gateway that is not on this machine')
    assert _http.cleartext_warning('http://gw.example/v1', 'every key of host laptop1').startswith(
        'every key of host laptop1 goes to http://gw.example:80 over plain http')


@pytest.mark.parametrize('exc, cause', [
    (socket.gaierror(socket.EAI_NONAME, 'Name or service not known'),
     'unreachable: the host name cannot be resolved (Name or service not known)'),
    (socket.gaierror(), 'unreachable: the host name cannot be resolved (no address)'),
    (OSError(101, 'Network is unreachable'), 'unreachable: Network is unreachable'),
    (OSError(), 'unreachable: OSError'),
    # (OpenSSL gives a certificate error its verify_message and a TLS error its reason; the texts
    # without them are the fallbacks.)
    (ssl.SSLCertVerificationError(), 'TLS certificate not accepted: verification failed (validate_certs=false skips the check)'),
    (ssl.SSLError(), 'TLS error: SSLError'),
])
def test_each_way_of_not_reaching_the_gateway_in_words(monkeypatch, exc, cause):
    monkeypatch.setattr(_http, '_connect', raises(exc))
    assert _http.request('GET', 'http://gw.example/v1', timeout=5)[1:6] == (_http.OFFLINE, None, {}, b'', cause)


def test_a_host_name_that_cannot_be_encoded_and_a_method_that_cannot_be_sent(gateway_server):
    reply = _http.request('GET', 'http://%s.invalid/v1' % ('a' * 64), timeout=5)
    assert reply[1:6] == (_http.BAD, None, {}, b'', 'the host name or the request cannot be encoded')
    gateway_server.route('/v1/models', lambda req: json_answer({'data': []}))
    reply = _http.request('GE\x01T', gateway_server.url + '/v1/models', timeout=5)
    assert reply[1:5] == (_http.BAD, None, {}, b'') and reply.cause.startswith(
        "the request cannot be sent (method can't contain control characters.")


def test_an_answer_of_another_http_version_is_not_valid_http(gateway_server):
    gateway_server.route('/v1/models', lambda req: Raw(b'HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\n{}'))
    assert ask(gateway_server)[1:6] == (_http.OFFLINE, None, {}, b'', 'the answer is not valid HTTP (UnknownProtocol)')


def test_a_path_http_cannot_send_is_refused_before_anything_is_sent(gateway_server):
    before = len(gateway_server.requests)
    reply = _http.request('GET', gateway_server.url + '/v1/my models', timeout=5)
    assert reply[1:6] == (_http.BAD, None, {}, b'', 'not a valid URL for a request')
    assert len(gateway_server.requests) == before


def test_the_time_taken_is_given_to_a_tenth_of_a_millisecond(gateway_server):
    """``seconds``, answered or failed, is rounded to 4 digits (as results show it). Eight
    requests: a figure rounded to 5 digits instead matches its 4-digit rounding one time in ten,
    so all eight would, about once in 10**8 runs."""
    gateway_server.route('/v1/models', lambda req: json_answer({'data': []}))
    replies = [ask(gateway_server) for _attempt in range(4)]
    replies += [_http.request('GET', 'http://127.0.0.1:9/v1/models', timeout=2) for _attempt in range(4)]
    assert [r.outcome for r in replies] == [_http.ANSWERED] * 4 + [_http.OFFLINE] * 4
    assert all(0 <= r.seconds < BOUND and r.seconds == round(r.seconds, 4) for r in replies), replies
