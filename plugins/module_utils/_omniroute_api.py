# -*- coding: utf-8 -*-
# Copyright: contributors to omniroute.opencode
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Minimal client for OmniRoute's management API (stdlib only, Python 3.8+).

Used by the ``omniroute.opencode.api_key`` module on the controller. Only the calls listed in
docs/omniroute-keys.md are used. Every request goes through the collection's one HTTP client
(``_http``): no redirect is followed (the session cookie and the management key never go to
another address), one deadline bounds each request, the body is capped. No secret (admin
password, management key, API key, session cookie) is ever put into an exception message:
every message goes through the client's ``_redact.Redactor``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

try:  # Python 3
    from urllib.parse import quote, urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported by the collection
    raise

from ansible_collections.omniroute.opencode.plugins.module_utils import _http
from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
from ansible_collections.omniroute.opencode.plugins.module_utils._opencode import management_url

KIND_UNREACHABLE = "unreachable"
KIND_AUTH = "auth"
KIND_API = "api"
# The most of a management answer that is read (a listing of thousands of keys is far below it).
MAX_BODY = _http.MAX_BODY
# The session cookie OmniRoute's dashboard login sets.
SESSION_COOKIE = "auth_token"
# What Client.session() text starts with (the rest is base64 of the session cookie).
SESSION_PREFIX = "omniroute-session-v1:"


class OmniRouteError(Exception):
    """A failed management call. ``kind`` is one of unreachable, auth, api."""

    def __init__(self, kind, message, status=None):
        message = _redact.message(message)  # URLs without user info or query
        super(OmniRouteError, self).__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


def mask_key(key):
    """The server's own mask of a stored key: first 8 characters, ****, last 4."""
    if not isinstance(key, str) or not key:
        return None
    return key[:8] + "****" + key[-4:]


def listed_mask(value):
    """``value`` when it has the shape of the server's mask (:func:`mask_key`), else None: what
    the listing says a key is may be shown only when it cannot be more of the key than that."""
    if isinstance(value, str) and len(value) == 16 and value[8:12] == "****" and "*" not in value[:8] + value[12:]:
        return value
    return None


class Client:
    """One management session against one OmniRoute server.

    Authentication: ``password`` (dashboard login, session cookie ``auth_token``) or
    ``management_key`` (an API key with the ``manage`` scope, sent as a Bearer token) where the
    server supports it.
    """

    def __init__(self, url, password=None, management_key=None, timeout=30, validate_certs=True):
        url = management_url(url)
        try:
            parts = urlsplit(url)
        except ValueError as e:  # e.g. an unclosed IPv6 bracket
            raise OmniRouteError(KIND_API, "url is not a valid URL (%s): %r" % (e, _redact.url(url)))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise OmniRouteError(
                KIND_API, "url must be an http(s) URL of the OmniRoute server, got %r" % _redact.url(url))
        self.url = url
        self._password = password
        self._management_key = management_key
        self._redactor = _redact.Redactor([password, management_key])
        self.timeout = timeout
        self.validate_certs = validate_certs
        self._cookies = {}
        self._logged_in = False
        self._resumed = False  # the session came from resume(), not from a login of this client
        self.calls = []  # (method, path, status, seconds) for timing reports; no secrets

    # -- secrets hygiene -------------------------------------------------------------------
    def add_secret(self, value):
        self._redactor.add(value)

    def login_redactor(self):
        """A redactor of the login secrets only (password, management key, session cookies), for
        output that carries issued keys on purpose."""
        return _redact.Redactor([self._password, self._management_key] + list(self._cookies.values()))

    def redact(self, text, limit=None):
        """``text`` with this client's secrets scrubbed and every URL shown without user info
        or query (through the collection's one redaction helper), then cut to ``limit``."""
        return self._redactor.text(text, limit)

    # -- transport -------------------------------------------------------------------------
    def _request(self, method, path, body=None, bearer=None, auth=True):
        headers = {"Accept": "application/json", "User-Agent": "omniroute.opencode-ansible"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if bearer is not None:
            headers["Authorization"] = "Bearer " + bearer
        elif auth and self._management_key:
            headers["Authorization"] = "Bearer " + self._management_key
        if auth and self._cookies and bearer is None:
            headers["Cookie"] = "; ".join("%s=%s" % item for item in sorted(self._cookies.items()))
        reply = _http.request(method, self.url + path, headers, data, timeout=self.timeout,
                              validate_certs=self.validate_certs, max_body=MAX_BODY, secrets=self._redactor)
        self.calls.append((method, path, reply.status, reply.seconds))
        if reply.outcome == _http.OFFLINE:
            raise OmniRouteError(
                KIND_UNREACHABLE,
                self.redact("OmniRoute server at %s is unreachable (%s %s): %s" % (self.url, method, path, reply.cause)),
                reply.status,
            )
        if reply.outcome != _http.ANSWERED:
            raise OmniRouteError(
                KIND_API, self.redact("OmniRoute server at %s: %s %s: %s" % (self.url, method, path, reply.cause)),
                reply.status)
        self._keep_cookies(reply.headers.get("set-cookie") or [])
        payload, _problem = _http.parse_json(reply.body) if reply.body else (None, None)
        return reply.status, payload

    def _keep_cookies(self, lines):
        """The session cookies the server sets (name=value only; they go back to this server alone)."""
        for line in lines:
            pair = line.split(";", 1)[0]
            name, sep, value = pair.partition("=")
            name, value = name.strip(), value.strip()
            if not sep or not name:
                continue
            self._redactor.add(value)
            if value:
                self._cookies[name] = value
            else:
                self._cookies.pop(name, None)

    def _error_text(self, payload):
        if isinstance(payload, dict):
            err = payload.get("error", payload.get("message"))
            if isinstance(err, dict):
                err = err.get("message") or json.dumps(err, sort_keys=True)
            if err:
                return self.redact(err, 200)
        return "no error message"

    def _call(self, method, path, body=None, ok=(200, 201)):
        if not self._management_key and not self._logged_in:
            self.login()
        status, payload = self._request(method, path, body=body)
        if status in ok:
            return status, payload
        if status in (401, 403):
            how = "management key" if self._management_key else "dashboard session"
            raise OmniRouteError(
                KIND_AUTH,
                "OmniRoute refused the %s for %s %s (HTTP %s): %s"
                % (how, method, path, status, self._error_text(payload)),
                status,
            )
        raise OmniRouteError(
            KIND_API,
            "OmniRoute API error on %s %s (HTTP %s): %s" % (method, path, status, self._error_text(payload)),
            status,
        )

    # -- authentication --------------------------------------------------------------------
    def login(self):
        """POST /api/auth/login {password} -> session cookie auth_token."""
        if not self._password:
            raise OmniRouteError(KIND_AUTH, "no admin password and no management key given")
        status, payload = self._request("POST", "/api/auth/login", body={"password": self._password}, auth=False)
        if status == 200 and self._cookies.get(SESSION_COOKIE):
            self._logged_in = True
            return
        if status == 401:
            raise OmniRouteError(KIND_AUTH, "OmniRoute login failed: wrong admin password (HTTP 401)", status)
        if status == 429:
            raise OmniRouteError(
                KIND_AUTH, "OmniRoute login locked after too many failed attempts (HTTP 429); retry later", status
            )
        if status == 200:
            raise OmniRouteError(KIND_AUTH, "OmniRoute login answered 200 but set no session cookie", status)
        raise OmniRouteError(
            KIND_AUTH if status in (400, 403) else KIND_API,
            "OmniRoute login failed (HTTP %s): %s" % (status, self._error_text(payload)),
            status,
        )

    # -- the session, shared by the module runs of one play -----------------------------------
    def session(self):
        """The dashboard session this client holds, as text for O(session) of a later module run
        of the same play (a secret: the admin's session cookie), or None."""
        value = self._cookies.get(SESSION_COOKIE)
        if not value:
            return None
        data = json.dumps({'value': value}, sort_keys=True)
        # Opaque text: a JSON-looking string would come back from Ansible's templating as a dict.
        return SESSION_PREFIX + base64.urlsafe_b64encode(data.encode('utf-8')).decode('ascii')

    def resume(self, session):
        """Use a session from :meth:`session` instead of logging in; a session the server refuses
        is replaced by a login (when there is a password) on the first call. The cookie goes back
        to this client's server only (``_http`` follows no redirect)."""
        try:
            if not session.startswith(SESSION_PREFIX):
                raise ValueError(session)
            data = json.loads(base64.urlsafe_b64decode(session[len(SESSION_PREFIX):].encode('ascii')).decode('utf-8'))
            value = data['value']
        except (TypeError, ValueError, KeyError, AttributeError, UnicodeError):
            raise OmniRouteError(KIND_AUTH, 'the session handed in is not one this module returned')
        # A cookie value goes into a header: printable, no separator of its own.
        if not isinstance(value, str) or not value or any(c in value for c in ';, \t') \
                or any(ord(c) < 0x21 or ord(c) > 0x7e for c in value):
            raise OmniRouteError(KIND_AUTH, 'the session handed in is not one this module returned')
        self._redactor.add(value)
        self._cookies[SESSION_COOKIE] = value
        self._logged_in = True
        self._resumed = True

    def _keys_call(self, method, path, body=None):
        """``_call`` for the key routes; a resumed session the server refuses is replaced once."""
        try:
            return self._call(method, path, body=body)
        except OmniRouteError as e:
            if not self._resumed or e.status != 401 or not self._password:
                raise
            self._resumed = False
            self._cookies.clear()
            self.login()
            return self._call(method, path, body=body)

    # -- keys ------------------------------------------------------------------------------
    def list_keys(self):
        """GET /api/keys -> list of key records (key values masked by the server)."""
        payload = self._keys_call("GET", "/api/keys")[1]
        if isinstance(payload, dict) and isinstance(payload.get("keys"), list):
            return payload["keys"]
        if isinstance(payload, list):
            return payload
        raise OmniRouteError(KIND_API, "unexpected answer from GET /api/keys (no 'keys' list)")

    def create_key(self, name, allowed_models=None, scopes=None):
        """POST /api/keys {name[, allowedModels, modelAccessMode, scopes]} -> record with full key.

        OmniRoute 3.7.9 ignores allowedModels here; callers set the policy with :meth:`update_key`.
        """
        body = {"name": name}
        if allowed_models:
            body["allowedModels"] = list(allowed_models)
            body["modelAccessMode"] = "allowlist"
        if scopes:
            body["scopes"] = list(scopes)
        payload = self._keys_call("POST", "/api/keys", body=body)[1]
        if (not isinstance(payload, dict) or not isinstance(payload.get("key"), str)
                or not isinstance(payload.get("id"), (str, int)) or isinstance(payload.get("id"), bool)):
            raise OmniRouteError(KIND_API, "POST /api/keys answered without a key and its id")
        self.add_secret(payload["key"])
        return payload

    def update_key(self, key_id, changes):
        """PATCH /api/keys/{id} with policy fields (allowedModels, noLog, maxSessions, ...)."""
        payload = self._keys_call("PATCH", "/api/keys/" + quote(str(key_id), safe=""), body=changes)[1]
        return payload

    def set_expiry(self, key_id, when):
        """PATCH /api/keys/{id} {expiresAt} alone: True when the server took it, False when it
        refuses the field (HTTP 400, OmniRoute 3.7.9). Sent alone because 3.7.9 silently drops
        an expiresAt that comes with a field it accepts."""
        try:
            self._keys_call("PATCH", "/api/keys/" + quote(str(key_id), safe=""), body={"expiresAt": when})
        except OmniRouteError as e:
            if e.status == 400:
                return False
            raise
        return True

    def delete_key(self, key_id):
        """DELETE /api/keys/{id}; True when deleted, False when it was already gone."""
        try:
            self._keys_call("DELETE", "/api/keys/" + quote(str(key_id), safe=""))
        except OmniRouteError as e:
            if e.status == 404:
                return False
            raise
        return True

    # -- inference side --------------------------------------------------------------------
    def key_accepted(self, key):
        """GET /v1/models with ``Authorization: Bearer <key>``: True on 200, False on 401/403.

        With REQUIRE_API_KEY=false every key is accepted; callers must not rely on this alone.
        """
        self.add_secret(key)
        status, payload = self._request("GET", "/v1/models", bearer=key, auth=False)
        if status == 200:
            return True
        if status in (401, 403):
            return False
        raise OmniRouteError(
            KIND_API, "OmniRoute API error on GET /v1/models (HTTP %s): %s" % (status, self._error_text(payload)), status
        )
