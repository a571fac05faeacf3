# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one HTTP client (standard library only, Python 3.8+).

Every request the collection makes to a gateway goes through :func:`request`: the model
catalog, verify, the managed catalog and the OmniRoute management API.  The answer is data
from a party that may be broken or hostile, so:

* **no redirect is followed**: a 3xx answer is the outcome ``bad`` with the cause "the gateway
  redirected to <scheme://host:port>" (no user info, path or query shown); the request's
  headers (``Authorization``, a session cookie) never go anywhere but the URL asked;
* **one deadline**: ``timeout`` seconds bound the whole request - name resolution, connect,
  TLS handshake, sending, status line, headers and body.  Every read gets only the time that
  is left, so a server dripping one byte a second ends at the deadline;
* **bounded size**: at most ``max_body`` bytes of body (:data:`MAX_BODY`), a status or header
  line of at most 65536 bytes and at most 100 header lines (http.client's own limits), JSON
  nested at most :data:`MAX_JSON_DEPTH` levels (:func:`parse_json`);
* **every failure is an outcome**, never an exception: ``offline`` for transport and framing
  faults (refused, reset, timeout, TLS, a status line that is not HTTP, an over-long line, too
  many headers, a body cut short), ``bad`` for an answer or a request that cannot be used
  (a redirect, a body over the cap, an invalid URL, a header value that cannot be sent).  The
  cause is in words, scrubbed of the request's credentials, free of control characters and
  cut to :data:`MAX_CAUSE` characters;
* header values with control characters are refused before anything is sent (http.client
  would otherwise raise an error holding the value, that is the key).

The answer shape, :class:`Reply`, is documented below; :func:`failed` is the one
constructor of a failed one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from collections import namedtuple

try:  # Python 3
    import http.client as httplib
    from urllib.parse import urlsplit
    from urllib.request import getproxies_environment, proxy_bypass_environment
except ImportError:  # pragma: no cover - Python 2 is not supported by the collection
    raise

from ansible_collections.omniroute.opencode.plugins.module_utils import _redact

DEFAULT_TIMEOUT = 10
# The most of a body that is read (``/v1/models`` of thousands of models is far below it).
MAX_BODY = 4 * 1024 * 1024
# JSON nested deeper than this is refused before it is decoded (a model list needs about 5).
MAX_JSON_DEPTH = 64
# A JSON integer with more digits than this is read as infinite (and then refused as a value):
# a 5000-digit number would otherwise cost time to convert, or fail the whole answer.
MAX_INT_DIGITS = 30
# The longest deadline a request may be given (a day): longer is a mistake, not a wish.
MAX_TIMEOUT = 86400
# The longest cause text of a failed request.
MAX_CAUSE = 300

ANSWERED, OFFLINE, BAD = 'answered', 'offline', 'bad'

# The outcome of one request.
#   url      the address asked, as a message may show it (no user info, no query)
#   outcome  ``answered`` (a complete answer with a non-3xx status was read), ``offline`` or ``bad``
#   status   the HTTP status (None when no status line was read)
#   headers  the answer's headers, names in lower case (``set-cookie`` a list), {} when none
#   body     the body (bytes, at most ``max_body``), b'' when none
#   cause    why the outcome is ``offline`` or ``bad``, in words, scrubbed; None when answered
#   seconds  the wall time of the request
Reply = namedtuple('Reply', 'url outcome status headers body cause seconds')

# A header value that can be sent as it is: printable ASCII and blanks, nothing else.
_HEADER_VALUE = re.compile(r'^[\x20-\x7e\t]*\Z')
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(r'[\[\]{}]')


def failed(url, outcome, cause, started=None, status=None, secrets=()):
    """The one constructor of a failed :class:`Reply`: ``outcome`` offline or bad, ``cause``
    scrubbed of ``secrets`` (and of the URL's own credentials), cleaned, cut."""
    red = secrets if isinstance(secrets, _redact.Redactor) else _redact.Redactor(secrets)
    seconds = round(time.monotonic() - started, 4) if started is not None else 0.0
    return Reply(red.text(_redact.url(url)), outcome, status, {}, b'', red.text(cause, MAX_CAUSE), seconds)


def origin(url):
    """``scheme://host:port`` of ``url`` (no user info, path or query), or None when it has no host."""
    try:
        parts = urlsplit(url)
        host, port, scheme = parts.hostname, parts.port, parts.scheme.lower()
    except (ValueError, TypeError, AttributeError):
        return None
    if not host:
        return None
    port = port or {'http': 80, 'https': 443}.get(scheme)
    host = '[%s]' % host if ':' in host else host
    return '%s://%s%s' % (scheme or 'http', host, (':%d' % port) if port else '')


def is_loopback(host):
    """True for ``localhost`` (and ``*.localhost``) and every loopback address."""
    host = (host or '').strip('[]').lower().rstrip('.')
    if host == 'localhost' or host.endswith('.localhost'):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cleartext_warning(url, what='the key'):
    """A warning when ``what`` would travel over plain http to a host that is not this machine;
    None otherwise."""
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
    except (ValueError, AttributeError):
        return None
    if scheme != 'http' or not host or is_loopback(host):
        return None
    return ('%s goes to %s over plain http, unencrypted: anyone on the network path can read it; '
            'use https for a gateway that is not on this machine' % (what, origin(url)))


def parse_json(body, max_depth=MAX_JSON_DEPTH):
    """``(value, problem)`` for a JSON body: ``problem`` (words, no content) when it is not
    UTF-8 JSON, or nests deeper than ``max_depth``.  Integers of more than
    :data:`MAX_INT_DIGITS` digits become infinite, ``NaN`` and ``Infinity`` are kept as floats:
    the caller validates values."""
    try:
        text = body.decode('utf-8') if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        return None, 'not UTF-8 text'
    text = text.lstrip(u'\ufeff')
    if max_depth is not None:
        depth = deepest = 0
        for bracket in _BRACKETS.findall(_STRINGS.sub('', text)):
            if bracket in '[{':
                depth += 1
                if depth > deepest:
                    deepest = depth
                    if deepest > max_depth:
                        return None, 'JSON nested deeper than %d levels' % max_depth
            else:
                depth -= 1
    try:
        return json.loads(text, parse_int=_bounded_int), None
    except RecursionError:
        # Only without the bracket count (max_depth None, or one above Python's recursion limit).
        return None, 'JSON nested too deeply to decode'
    except ValueError as exc:
        # The decoder's message names a position, never the content.
        return None, 'not JSON (%s)' % (getattr(exc, 'msg', None) or 'cannot be decoded')


def _bounded_int(digits):
    if len(digits.lstrip('-')) > MAX_INT_DIGITS:
        return float('-inf') if digits.startswith('-') else float('inf')
    return int(digits)


class _ProxyError(OSError):
    """The proxy named by the environment cannot be used (its text is ours, never the server's)."""


# --------------------------------------------------------------------------- the deadline
class _Deadline:
    """A socket whose every operation gets only the time left before ``deadline``."""

    def __init__(self, sock, deadline, timeout):
        self.sock = sock
        self.deadline = deadline
        self.timeout = timeout

    def arm(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout('deadline')
        self.sock.settimeout(left)

    def sendall(self, data):
        self.arm()
        return self.sock.sendall(data)

    def makefile(self, *_args, **_kwargs):
        # http.client asks for 'rb' only.
        return io.BufferedReader(_DeadlineReader(self))

    def close(self):
        # http.client closes the connection as soon as it knows the server will close it, before
        # the body is read; the socket is closed by request() once it is done with it.
        pass


class _DeadlineReader(io.RawIOBase):
    def __init__(self, timed):
        io.RawIOBase.__init__(self)
        self.timed = timed

    def readable(self):
        return True

    def readinto(self, buf):
        self.timed.arm()
        return self.timed.sock.recv_into(buf)


def _resolve(host, port, deadline):
    """getaddrinfo, bounded by the deadline (a name server that never answers is a timeout)."""
    try:
        ipaddress.ip_address(host)
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except ValueError:
        pass
    found = {}

    def work():
        try:
            found['addresses'] = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except Exception as exc:  # pylint: disable=broad-except
            found['error'] = exc  # raised again by the caller's thread

    worker = threading.Thread(target=work, name='omniroute-opencode-resolve')
    worker.daemon = True
    worker.start()
    worker.join(max(deadline - time.monotonic(), 0))
    if worker.is_alive():
        raise socket.timeout('name resolution')
    if 'error' in found:
        raise found['error']
    return found['addresses']


def _connect(host, port, deadline):
    last = None
    for family, kind, proto, _name, address in _resolve(host, port, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout('connect')
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(left)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError('no address for the host name')


def _context(validate_certs):
    ctx = ssl.create_default_context()
    if not validate_certs:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _proxy_for(scheme, host, environ=None):
    """The proxy URL the environment names for ``scheme`` and ``host`` (as urllib and OpenCode's
    runtime read ``http_proxy``/``https_proxy``/``no_proxy``), or None."""
    proxies = getproxies_environment() if environ is None else dict(
        (k.lower()[:-len('_proxy')], v) for k, v in environ.items() if k.lower().endswith('_proxy') and v)
    proxy = proxies.get(scheme)
    if not proxy:
        return None
    no_proxy = proxies.get('no')
    if no_proxy == '*':
        return None
    if no_proxy and proxy_bypass_environment(host, {'no': no_proxy}):
        return None
    return proxy


# --------------------------------------------------------------------------- one request
def request(method, url, headers=None, body=None, timeout=DEFAULT_TIMEOUT, validate_certs=True,
            max_body=MAX_BODY, secrets=(), proxy_env=None):
    """One HTTP request, never followed to another address; returns a :class:`Reply`.

    ``headers``: a dict of header values (strings).  ``body``: bytes or None.  ``secrets``:
    values to scrub from any cause besides the header values (which always are).  Proxies are
    taken from the environment (``https_proxy``, ``http_proxy``, ``no_proxy``; ``proxy_env``
    replaces ``os.environ`` for tests).  Never raises.
    """
    started = time.monotonic()
    headers = dict(headers or {})
    red = secrets if isinstance(secrets, _redact.Redactor) else _redact.Redactor(secrets)
    for value in headers.values():
        red.add(value)
        if isinstance(value, str) and ' ' in value:
            red.add(value.split(' ', 1)[1])  # the token of "Bearer <token>"
    try:
        return _request(method, url, headers, body, timeout, validate_certs, max_body, red, started, proxy_env)
    except Exception as exc:  # pylint: disable=broad-except
        # The last net: an outcome, never a traceback (nor the exception's text).
        return failed(url, BAD, 'the request failed unexpectedly (%s)' % type(exc).__name__, started, secrets=red)


def _request(method, url, headers, body, timeout, validate_certs, max_body, red, started, proxy_env):
    def fail(outcome, cause, status=None):
        return failed(url, outcome, cause, started, status, red)

    try:
        timeout = float(timeout)
    except (ValueError, TypeError):
        timeout = 0
    if not 0 < timeout <= MAX_TIMEOUT:
        return fail(BAD, 'timeout must be a number of seconds from 1 to %d' % MAX_TIMEOUT)
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except (ValueError, TypeError, AttributeError) as exc:
        return fail(BAD, 'not a valid URL (%s)' % (exc,))
    if scheme not in ('http', 'https') or not host:
        return fail(BAD, 'not an http(s) URL with a host')
    for name, value in headers.items():
        if not isinstance(value, str) or not _HEADER_VALUE.match(value):
            return fail(BAD, 'the %s header holds a line break, a control character or a character outside '
                             'ASCII (a key copied with a trailing newline?); nothing was sent' % name)
    port = port or (443 if scheme == 'https' else 80)
    target = parts.path or '/'
    if parts.query:
        target += '?' + parts.query
    deadline = started + timeout
    proxy = _proxy_for(scheme, host, proxy_env)
    sock = None
    conn = None
    status = None
    try:
        if proxy:
            sock, target = _via_proxy(proxy, scheme, host, port, target, deadline, timeout)
        else:
            sock = _connect(host, port, deadline)
        if scheme == 'https':
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout('handshake')
            sock.settimeout(left)
            sock = _context(validate_certs).wrap_socket(sock, server_hostname=host)
        conn = httplib.HTTPConnection(host, port)
        conn.sock = _Deadline(sock, deadline, timeout)
        conn.request(method, target, body=body, headers=headers)
        resp = conn.getresponse()
        status = resp.status
        answer_headers = _headers(resp)
        if 300 <= status < 400:
            return fail(BAD, 'HTTP %s: %s' % (status, _redirect(url, answer_headers.get('location'))), status)
        if resp.length is not None and resp.length > max_body:
            return fail(BAD, 'HTTP %s with an answer of %d bytes, more than the %d bytes read'
                        % (status, resp.length, max_body), status)
        declared = resp.length
        chunks, size = [], 0
        while True:
            chunk = resp.read(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > max_body:
                return fail(BAD, 'HTTP %s with an answer larger than %d bytes' % (status, max_body), status)
            chunks.append(chunk)
        if declared is not None and size < declared:
            # http.client returns a short body without a word when the server closes early.
            raise httplib.IncompleteRead(b''.join(chunks), declared - size)
        return Reply(red.text(_redact.url(url)), ANSWERED, status, answer_headers, b''.join(chunks), None,
                     round(time.monotonic() - started, 4))
    except socket.timeout:
        return fail(OFFLINE, 'no complete answer within %s s (timeout)' % _seconds(timeout), status)
    except ssl.SSLCertVerificationError as exc:
        return fail(OFFLINE, 'TLS certificate not accepted: %s (validate_certs=false skips the check)'
                    % (getattr(exc, 'verify_message', None) or 'verification failed'), status)
    except ssl.SSLError as exc:
        return fail(OFFLINE, 'TLS error: %s' % (getattr(exc, 'reason', None) or type(exc).__name__), status)
    except httplib.RemoteDisconnected:
        return fail(OFFLINE, 'the gateway closed the connection without an answer', status)
    except httplib.LineTooLong:
        # Before the status was read: the status or a header line; after it, a line of the chunked body.
        return fail(OFFLINE, 'the answer has a %s longer than 65536 bytes'
                    % ('status or header line' if status is None else 'chunk-size or trailer line'), status)
    except httplib.IncompleteRead:
        return fail(OFFLINE, 'the connection closed before the whole answer arrived', status)
    except httplib.BadStatusLine:
        return fail(OFFLINE, 'the answer is not HTTP (its status line cannot be read)', status)
    except httplib.InvalidURL:
        return fail(BAD, 'not a valid URL for a request', status)
    except httplib.HTTPException as exc:
        if 'more than' in str(exc) and 'headers' in str(exc):
            return fail(OFFLINE, 'the answer has more than 100 header lines', status)
        return fail(OFFLINE, 'the answer is not valid HTTP (%s)' % type(exc).__name__, status)
    except _ProxyError as exc:
        return fail(OFFLINE, 'unreachable: %s' % (exc,), status)
    except ConnectionRefusedError:
        return fail(OFFLINE, 'unreachable: connection refused', status)
    except socket.gaierror as exc:
        return fail(OFFLINE, 'unreachable: the host name cannot be resolved (%s)'
                    % (getattr(exc, 'strerror', None) or 'no address'), status)
    except OSError as exc:
        cause = getattr(exc, 'strerror', None) or type(exc).__name__
        if status is not None:
            # The gateway answered, then the connection failed (reset) while its body arrived.
            return fail(OFFLINE, 'the connection failed before the whole answer arrived: %s' % cause, status)
        return fail(OFFLINE, 'unreachable: %s' % cause)
    except UnicodeError:
        return fail(BAD, 'the host name or the request cannot be encoded', status)
    except ValueError as exc:
        return fail(BAD, 'the request cannot be sent (%s)' % (exc,), status)
    finally:
        for closable in (conn, sock):
            try:
                if closable is not None:
                    closable.close()
            except Exception:  # pylint: disable=broad-except
                pass


def _seconds(timeout):
    return ('%g' % timeout) if isinstance(timeout, float) else '%s' % timeout


def _headers(resp):
    out = {}
    for name, value in resp.getheaders():
        name = name.lower()
        if name == 'set-cookie':
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


def _redirect(url, location):
    """``the gateway redirected to <origin>``, or to another path of the same origin."""
    here = origin(url)
    there = origin(location) if isinstance(location, str) and '//' in location else None
    if not isinstance(location, str) or not location.strip():
        return 'the gateway answered with a redirect but no address (redirects are not followed)'
    if there is None or there == here:
        return ('the gateway redirected to another path of %s (redirects are not followed: set the URL '
                'to the address that answers)' % here)
    return ('the gateway redirected to %s (redirects are not followed, so the key never goes elsewhere: '
            'set the URL to the address that answers)' % there)


def _via_proxy(proxy, scheme, host, port, target, deadline, timeout):
    """Connect through an HTTP proxy: a CONNECT tunnel for https, the absolute URL for http."""
    try:
        pparts = urlsplit(proxy if '//' in proxy else 'http://' + proxy)
        phost, pport = pparts.hostname, pparts.port or 80
    except ValueError:
        raise _ProxyError('the proxy address in the environment is not valid')
    if not phost:
        raise _ProxyError('the proxy address in the environment has no host')
    sock = _connect(phost, pport, deadline)
    shown = '[%s]' % host if ':' in host else host
    if scheme == 'http':
        return sock, 'http://%s:%d%s' % (shown, port, target)
    timed = _Deadline(sock, deadline, timeout)
    timed.sendall(('CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n' % (shown, port, shown, port)).encode('ascii'))
    resp = httplib.HTTPResponse(timed, method='CONNECT')
    resp.begin()
    if resp.status != 200:
        sock.close()
        raise _ProxyError('the proxy %s refused the tunnel (HTTP %s)' % (origin(pparts.geturl()), resp.status))
    return sock, target
