# -*- coding: utf-8 -*-
"""One routed local HTTP server for every test tree, with hostile modes.

``Server`` listens on 127.0.0.1 (a free port) and answers from daemon threads, one per
connection, on raw sockets: a route can answer like a well-behaved gateway (:class:`Answer`)
or misbehave in ways ``http.server`` cannot (a redirect, a dripped status line or body, a
status line that echoes the request, 120 headers, a 70 KB header line, a body cut short...).
Every request is recorded (method, path, headers, body) so a test can tell what was sent where.
With ``tls=(certfile, keyfile)`` (:func:`self_signed` makes a pair) it speaks https.

    with Server({'/v1/models': models_route(KEY, MODELS)}) as gw:
        fetch(gw.url + '/v1')

A route is a callable taking a :class:`Request` and returning an :class:`Answer`, a
:class:`Raw` (bytes written as they are, optionally dripped) or None (close without a word).
``modes()`` gives a route for every hostile mode, by name, for the test matrices.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections import namedtuple

try:
    from http.client import responses as REASONS
except ImportError:  # pragma: no cover - Python 3 has it
    raise

__all__ = ['ANSWERED', 'CLOSED', 'SLOW', 'Answer', 'Raw', 'Request', 'Server', 'Tunnel', 'HOSTILE', 'HOSTILE_MODELS',
           'gateway_server', 'json_answer', 'kept_ids', 'leaked', 'models_route', 'mode', 'models_payload',
           'pump', 'redirect_target', 'self_signed']

# An address where nothing listens (the discard port): a connection to it is refused at once.
CLOSED = 'http://127.0.0.1:9'

Request = namedtuple('Request', 'method path headers body')


class Headers(dict):
    """A request's headers: names in lower case, looked up in any case."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)

    def __getitem__(self, name):
        return dict.__getitem__(self, name.lower())

    def __contains__(self, name):
        return dict.__contains__(self, name.lower())


# How long a dripping or stalling answer goes on at most (a client that gives up earlier
# closes the connection and ends it at once).
MAX_STALL = 120


class Answer(object):
    """A well-formed HTTP/1.1 answer; ``headers`` is a list of (name, value)."""

    def __init__(self, status=200, body=b'', headers=None, reason=None, content_type='application/json'):
        self.status = status
        self.body = body.encode('utf-8') if isinstance(body, str) else body
        self.headers = list(headers or [])
        self.reason = reason or REASONS.get(status, 'Status')
        if content_type and not any(n.lower() == 'content-type' for n, _v in self.headers):
            self.headers.append(('Content-Type', content_type))

    def raw(self):
        head = ['HTTP/1.1 %d %s' % (self.status, self.reason)]
        head += ['%s: %s' % (n, v) for n, v in self.headers]
        head += ['Content-Length: %d' % len(self.body), 'Connection: close']
        return ('\r\n'.join(head) + '\r\n\r\n').encode('latin-1') + self.body


class Raw(object):
    """Bytes written as they are: after ``delay`` seconds of silence (if given), ``data`` (bytes,
    or a callable taking the Request), then, with ``drip``, ``tail`` one byte every ``drip``
    seconds (for at most MAX_STALL seconds); with ``stall``, nothing more for that many seconds;
    the connection is then closed (``reset``: reset, with a TCP RST instead of a FIN)."""

    def __init__(self, data=b'', drip=None, tail=b'', stall=None, delay=None, reset=False):
        self.data = data
        self.drip = drip
        self.tail = tail
        self.stall = stall
        self.delay = delay
        self.reset = reset


class Tunnel(object):
    """The answer of a proxy to ``CONNECT host:port``: 200, then bytes piped both ways."""


def json_answer(value, status=200, headers=None):
    return Answer(status, json.dumps(value).encode('utf-8'), headers)


def models_payload(models):
    return {'object': 'list', 'data': list(models)}


def models_route(key, models, reject=None):
    """``/v1/models`` of a gateway: ``Bearer key`` sees ``models``, any other key gets 401
    (``reject``: the error message of that 401, or a function of the Authorization header sent
    that returns it: a gateway that echoes what it was sent)."""
    def route(req):
        sent = req.headers.get('authorization')
        if sent != 'Bearer %s' % key:
            message = reject(sent) if callable(reject) else reject
            return json_answer({'error': {'message': message or 'Invalid API key'}}, 401)
        return json_answer(models_payload(models))
    return route


def self_signed(directory):
    """``(certfile, keyfile)`` of a new self-signed certificate for 127.0.0.1 in ``directory``
    (made with the ``openssl`` command)."""
    certfile, keyfile = os.path.join(str(directory), 'cert.pem'), os.path.join(str(directory), 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                    '-nodes', '-days', '2', '-subj', '/CN=omniroute-opencode test gateway',
                    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyfile, '-out', certfile],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    return certfile, keyfile


def pump(src, dst):
    """Copy bytes from socket ``src`` to ``dst`` until either end closes, then shut both down
    (a tunnel's or a relay's one direction)."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Server(object):
    """The routed server.  ``routes`` maps a path (``/v1/models``) or ``(METHOD, path)`` to a
    route; ``default`` answers the rest (404 by default).  ``url`` is ``http://127.0.0.1:PORT``,
    or ``https://`` with ``tls=(certfile, keyfile)``: each accepted connection is then wrapped
    server-side, its handshake done in its own thread (a client that refuses the certificate
    ends its connection before a request is read, so none is recorded)."""

    def __init__(self, routes=None, default=None, tls=None):
        self._tls = None
        if tls:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(*tls)
        self.routes = dict(routes or {})
        self.default = default or (lambda req: json_answer({'error': 'not found: %s' % req.path}, 404))
        self.requests = []
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(('127.0.0.1', 0))
        self._listener.listen(64)
        # (Set before the thread starts: a server closed at once must not race its first call.)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.url = '%s://127.0.0.1:%d' % ('https' if self._tls else 'http', self.port)
        self._thread = threading.Thread(target=self._serve, name='test-http-%d' % self.port)
        self._thread.daemon = True
        self._thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def route(self, path, handler, method=None):
        self.routes[(method, path) if method else path] = handler

    def close(self):
        self._stop.set()
        try:
            self._listener.close()
        except OSError:
            pass
        self._thread.join(5)

    @property
    def authorizations(self):
        return [r.headers.get('authorization') for r in self.requests]

    # -- the loop ----------------------------------------------------------------------------
    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _addr = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            worker = threading.Thread(target=self._handle, args=(conn,))
            worker.daemon = True
            worker.start()

    def _read_request(self, conn):
        conn.settimeout(30)
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None, data
            data += chunk
            if data.startswith(b'\x16\x03'):
                # A TLS client hello at a plain-HTTP port: answer in plain HTTP, as a web server does.
                conn.sendall(b'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
                return None, data
            if len(data) > 1 << 20:
                return None, data
        head, _sep, rest = data.partition(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        parts = lines[0].split(' ')
        method, target = parts[0], parts[1] if len(parts) > 1 else '/'
        headers = Headers()
        for line in lines[1:]:
            name, _c, value = line.partition(':')
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get('content-length') or 0)
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
        path = target
        if '://' in target:  # absolute form (a client that takes this server for a proxy)
            path = '/' + target.split('://', 1)[1].partition('/')[2]
        return Request(method, path, headers, rest[:length]), head + b'\r\n\r\n' + rest

    def _handle(self, conn):
        try:
            if self._tls:
                conn.settimeout(30)
                conn = self._tls.wrap_socket(conn, server_side=True)
            req, raw = self._read_request(conn)
            if req is None:
                return
            self.requests.append(req)
            bare = req.path.split('?', 1)[0]
            if req.method == 'CONNECT':  # this server plays an HTTP proxy: route 'CONNECT'
                route = self.routes.get('CONNECT') or (lambda r: Answer(405, b''))
            else:
                route = self.routes.get((req.method, bare)) or self.routes.get(bare) or self.default
            answer = route(req)
            if isinstance(answer, Tunnel):
                self._tunnel(conn, req)
            elif isinstance(answer, Answer):
                conn.sendall(answer.raw())
            elif isinstance(answer, Raw):
                self._raw(conn, answer, req, raw)
        except (OSError, ValueError):
            pass
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def _tunnel(self, conn, req):
        host, _sep, port = req.path.rpartition(':')
        upstream = socket.create_connection((host.strip('[]'), int(port)), timeout=10)
        conn.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')

        back = threading.Thread(target=pump, args=(upstream, conn))
        back.daemon = True
        back.start()
        pump(conn, upstream)
        back.join(10)
        upstream.close()

    def _raw(self, conn, answer, req, raw):
        if answer.delay and self._stop.wait(min(answer.delay, MAX_STALL)):
            return
        data = answer.data(req, raw) if callable(answer.data) else answer.data
        if data:
            conn.sendall(data)
        ends = time.monotonic() + MAX_STALL
        if answer.drip is not None:
            tail = answer.tail or b'x'
            index = 0
            while not self._stop.is_set() and time.monotonic() < ends:
                conn.sendall(tail[index % len(tail):index % len(tail) + 1])
                index += 1
                if self._stop.wait(answer.drip):
                    return
        elif answer.stall:
            self._stop.wait(min(answer.stall, MAX_STALL))
        if answer.reset:
            # No linger: close() sends a RST, the peer's next read fails with ECONNRESET.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            conn.close()


# --------------------------------------------------------------------------- hostile modes
def _redirect(location, status=302):
    return lambda req: Answer(status, b'', [('Location', location)])


def _status_line(line):
    return lambda req: Raw(line + b'\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}')


def _echo(req, raw):
    # The request (Authorization header included) as the "status line" and headers of the answer.
    return raw + b'\r\n{}'


def mode(name, key='', models=(), target=None):
    """The route of the hostile mode ``name`` (see HOSTILE).  ``key`` is the key the test sends
    (echoed by the modes that echo), ``models`` a well-formed model list some modes start from,
    ``target`` the address a redirect points to."""
    models = list(models) or [{'id': 'team-fast'}]
    # Long enough that a text cut at 200 characters before scrubbing would show part of the key.
    long_error = 'x' * 190 + ' the key ' + key + ' was refused'
    ok_head = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
    routes = {
        'redirect-port': _redirect((target or CLOSED) + '/v1/models?token=leak-q-1', 307),
        'redirect-http': _redirect('http://evil.invalid:8080/v1/models', 301),
        'redirect-relative': _redirect('/elsewhere/v1/models', 308),
        'drip-headers': lambda req: Raw(b'HTTP/1.1 200 OK\r\n', drip=1.0, tail=b'X-Slow: a\r\n'),
        'drip-body': lambda req: Raw(ok_head + b'Content-Length: 100000\r\n\r\n{"data": [', drip=1.0, tail=b' '),
        'stall': lambda req: Raw(b'', stall=60),
        'huge-body': lambda req: Raw(ok_head + b'Connection: close\r\n\r\n{"data": ['
                                     + b' ' * (9 * 1024 * 1024) + b']}'),
        'huge-length': lambda req: Raw(ok_head + b'Content-Length: 99999999999\r\n\r\n{"data": []}'),
        'status-echo': lambda req: Raw(_echo),
        'status-2OO': _status_line(b'HTTP/1.1 2OO OK'),
        'not-http': lambda req: Raw(b'SSH-2.0-OpenSSH_9.6\r\n'),
        'close-early': lambda req: None,
        'cut-body': lambda req: Raw(ok_head + b'Content-Length: 1000\r\n\r\n{"data": [{"id": "a"}'),
        'many-headers': lambda req: Raw(ok_head + b''.join(b'X-H%d: v\r\n' % i for i in range(120))
                                        + b'Content-Length: 12\r\n\r\n{"data": []}'),
        'huge-header-line': lambda req: Raw(ok_head + b'X-Big: ' + b'a' * 70000
                                            + b'\r\nContent-Length: 12\r\n\r\n{"data": []}'),
        'bad-chunks': lambda req: Raw(ok_head + b'Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'),
        # A 200, then a chunk-size line of 70000 bytes (http.client reads at most 65536).
        'huge-chunk-line': lambda req: Raw(ok_head + b'Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n'
                                           + b'0' * 70000 + b'2\r\n{}\r\n0\r\n\r\n'),
        # A 200 and part of the body, then the connection reset. (The bytes already received stay
        # readable before the reset's error; the pause only makes that order plain.)
        'reset-body': lambda req: Raw(ok_head + b'Content-Length: 1000\r\n\r\n{"data": [{"id": "a"}', stall=0.3,
                                      reset=True),
        'not-json': lambda req: Answer(200, b'<html><body>login ' + key.encode() + b'</body></html>',
                                       content_type='text/html'),
        'error-echo': lambda req: json_answer({'error': {'message': long_error}}, 401),
        'error-markup': lambda req: json_answer({'error': {'message': '\x1b[31m<script>alert(1)</script> | '
                                                           '[click](http://evil.invalid) \r\n`x` \u202egnp ' + key}},
                                                500),
        'deep-nesting': lambda req: Answer(200, b'{"data": ' + b'[' * 100000 + b']' * 100000 + b'}'),
        'deep-in-model': lambda req: Answer(200, json.dumps(models_payload(models)).encode()[:-2]
                                            + b', {"id": "deep", "x": ' + b'[' * 5000 + b']' * 5000 + b'}]}'),
        'huge-numbers': lambda req: Answer(200, _huge_numbers(models)),
        'non-finite': lambda req: Answer(200, _non_finite(models)),
        'hostile-ids': lambda req: json_answer(models_payload(list(models) + HOSTILE_MODELS)),
    }
    return routes[name]


def _huge_numbers(models):
    """A 400-digit context_length on every model, 1e999 output tokens on one more, a 5000-digit
    number on another: the models stay, their limits go."""
    body = json.dumps(models_payload(
        [dict(m, context_length=10 ** 400, max_output_tokens=4096) for m in models]
        + [{'id': 'inf-model', 'context_length': 8192, 'max_output_tokens': 111},
           {'id': 'big-int', 'context_length': 222, 'max_output_tokens': 8192}]))
    body = body.replace('"max_output_tokens": 111', '"max_output_tokens": 1e999')
    return body.replace('"context_length": 222', '"context_length": ' + '9' * 5000).encode()


def _non_finite(models):
    """NaN, Infinity, -Infinity, a negative, a fraction and a boolean as limits."""
    body = json.dumps(models_payload(
        [dict(m, context_length=111, max_output_tokens=222) for m in models]
        + [{'id': 'neg', 'context_length': -5, 'max_output_tokens': 8192},
           {'id': 'frac', 'context_length': 1000.5, 'max_output_tokens': True},
           {'id': 'nan-model', 'context_length': 333, 'max_output_tokens': 444}]))
    body = body.replace('"context_length": 333, "max_output_tokens": 444',
                        '"context_length": NaN, "max_output_tokens": Infinity')
    body = body.replace('"context_length": 111, "max_output_tokens": 222',
                        '"context_length": -Infinity, "max_output_tokens": 1e999')
    return body.encode()


# Model entries whose ids carry control characters, terminal escapes, bidi overrides and
# markup: what a broken or hostile gateway could put in front of a reader.  Markup is text to
# OpenCode and stays (escaped where people read it); the rest cannot be shown or sent as it is.
HOSTILE_KEPT = ['<script>alert(1)</script>', '[click](http://evil.invalid)|pipe`tick`']
HOSTILE_DROPPED = ['ctl\x1b[2J\x07model', 'bidi-\u202egpj.exe', 'nul\x00model', 'line\r\nbreak', 'x' * 5000,
                   'zero\u200bwidth']
HOSTILE_MODELS = [{'id': i} for i in HOSTILE_DROPPED[:4] + HOSTILE_KEPT + HOSTILE_DROPPED[4:]]


def kept_ids(name, models):
    """The ids a catalog keeps from the answer of the ok mode ``name`` (the ``models`` it was
    given first), sorted."""
    extra = {'huge-numbers': ['inf-model', 'big-int'], 'non-finite': ['neg', 'frac', 'nan-model'],
             'hostile-ids': HOSTILE_KEPT}.get(name, [])
    return sorted([m['id'] for m in models] + extra)


def leaked(text, secrets, size=8):
    """Every run of ``size`` consecutive characters of a secret that ``text`` holds."""
    return sorted(set(s[i:i + size] for s in secrets if s for i in range(len(s) - size + 1)
                      if s[i:i + size] in text))


try:  # the fixtures of the test trees (pytest is there; the module also imports without it)
    import pytest
except ImportError:  # pragma: no cover
    pytest = None

if pytest is not None:
    @pytest.fixture(scope='module')
    def gateway_server():
        """A routed server for a test module; tests set its routes."""
        with Server() as srv:
            yield srv

    @pytest.fixture(scope='module')
    def redirect_target():
        """A second server, where the redirects point: it must never be asked."""
        with Server() as srv:
            yield srv

# Every hostile mode, for the test matrices; each name maps to what the catalog client must
# make of it (offline: gateway unreachable, the catalog kept; bad: not a model list; rejected:
# the key refused; ok: a model list, its bad values dropped).
HOSTILE = {
    'redirect-port': 'bad', 'redirect-http': 'bad', 'redirect-relative': 'bad',
    'drip-headers': 'offline', 'drip-body': 'offline', 'stall': 'offline',
    'huge-body': 'bad', 'huge-length': 'bad',
    'status-echo': 'offline', 'status-2OO': 'offline', 'not-http': 'offline', 'close-early': 'offline',
    'cut-body': 'offline', 'many-headers': 'offline', 'huge-header-line': 'offline', 'bad-chunks': 'offline',
    'huge-chunk-line': 'offline', 'reset-body': 'offline',
    'not-json': 'bad', 'error-echo': 'rejected', 'error-markup': 'offline',
    'deep-nesting': 'bad', 'deep-in-model': 'bad', 'huge-numbers': 'ok', 'non-finite': 'ok', 'hostile-ids': 'ok',
}
# The modes whose HTTP exchange completes: what is wrong is the content (judged by the caller).
ANSWERED = frozenset(('not-json', 'error-echo', 'error-markup', 'deep-nesting', 'deep-in-model', 'huge-numbers',
                      'non-finite', 'hostile-ids'))
# The modes that hold the client until its deadline (the tests run them side by side).
SLOW = ('drip-body', 'drip-headers', 'stall')
