# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place the collection decides what output may show.

Private to the collection; standard library only.  Every module routes its messages, results
and diffs through these functions:

- :func:`url` shows an address without user info, query or fragment (where tokens hide);
- :func:`message` masks known secrets and the credentials of every URL in a free text;
- :func:`mask` copies a decoded JSON value with every credential masked *by position*
  (the caller says which positions hold credentials), whatever the keys are called, plus any
  value under a secret-looking name as a second line of defence.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

MASK = '********'
CHANGED = MASK + ' (changed)'
# Values OpenCode substitutes itself; they name a variable or a file, not a secret.
_REFERENCE = re.compile(r'^\{(env|file):[^{}]+\}$')
# A second line of defence only: positions decide first.
_SECRET_NAME = re.compile(r'key|token|secret|passw|auth|credential|cookie|session|bearer', re.I)
_SCHEME = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*:(?://?)?')
# Something URL-like inside a free text: a scheme and what follows up to a blank or quote.
_URL_IN_TEXT = re.compile(r'''[A-Za-z][A-Za-z0-9+.-]*://[^\s'"<>]*''')
# ``user:password@`` without a recognisable scheme before it (a mistyped one, say).
_USERINFO_IN_TEXT = re.compile(r'''(?<![\w.+-])[^\s'"<>/@:]+:[^\s'"<>@]*@''')
_QUERY = re.compile(r'[?#]')
_MISSING = object()


def is_reference(value):
    """True for ``{env:VAR}`` or ``{file:path}``, which OpenCode resolves itself."""
    return isinstance(value, str) and _REFERENCE.match(value.strip()) is not None


def url(value):
    """``value`` as an address fit for a message: no user info, no query, no fragment.

    Works on anything, including text that is not a valid URL (``http://[::1``, a mistyped
    scheme), and never raises.

    >>> url('https://ops:s3cret@gw.example.com:8443/v1?token=abc#x')
    'https://gw.example.com:8443/v1'
    """
    text = '%s' % (value,)
    text = text.strip()
    prefix = _SCHEME.match(text)
    prefix = prefix.group(0) if prefix else ''
    rest = text[len(prefix):]
    # The last '@' ends the user info even when a password holds '/', '?' or '#'.
    at = rest.rfind('@')
    if at >= 0:
        rest = rest[at + 1:]
    rest = _QUERY.split(rest, 1)[0]
    return prefix + rest


def known(text, secrets=()):
    """``text`` with every known secret (at least 4 characters long) masked."""
    text = '%s' % (text,)
    for secret in sorted((s for s in secrets if isinstance(s, str) and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def message(text, secrets=()):
    """A message fit for output: known secrets masked, every URL shown by :func:`url`."""
    text = known(text, secrets)
    text = _URL_IN_TEXT.sub(lambda m: url(m.group(0)), text)
    return _USERINFO_IN_TEXT.sub('', text)


def mask(value, secret_at, other=_MISSING, path=()):
    """A copy of the decoded JSON ``value`` with credentials masked.

    ``secret_at(path, value)`` says whether the value at ``path`` (a tuple of keys and indexes)
    is a credential; everything below such a position is masked as one.  ``other`` is the same
    document on the other side of a change: a masked value that differs from it is shown as
    ``******** (changed)`` so a diff still tells that a key was replaced.  Strings that look
    like URLs lose their user info and query.
    """
    last = path[-1] if path else None
    named = isinstance(last, str) and isinstance(value, str) and _SECRET_NAME.search(last)
    if named or secret_at(path, value):
        if is_reference(value):
            return value
        if other is not _MISSING and other != value:
            return CHANGED
        return MASK
    if isinstance(value, dict):
        return dict((k, mask(v, secret_at, _child(other, k), path + (k,))) for k, v in value.items())
    if isinstance(value, list):
        return [mask(v, secret_at, _child(other, i), path + (i,)) for i, v in enumerate(value)]
    if isinstance(value, str) and _URL_IN_TEXT.search(value):
        return message(value)
    return value


def _child(other, key):
    if isinstance(other, dict):
        return other.get(key, _MISSING)
    if isinstance(other, list) and isinstance(key, int) and key < len(other):
        return other[key]
    return _MISSING


# --------------------------------------------------------------------------- OpenCode positions
def entry_secret(path, value):
    """Credential positions inside one provider entry: ``options.apiKey`` and every header."""
    if path == ('options', 'apiKey'):
        return True
    if path[:2] == ('options', 'headers'):
        return len(path) > 2 or not isinstance(value, dict)
    return False


def config_secret(name):
    """Credential positions in a config view ``{"provider": {name: entry}, ...}``."""
    def secret_at(path, value):
        if path[:2] == ('provider', name):
            return entry_secret(path[2:], value)
        return False
    return secret_at


def auth_secret(path, value):
    """Credential positions in OpenCode's ``auth.json``: every field of every credential but
    its ``type`` (api, oauth, wellknown or any other), whatever the fields are called."""
    if len(path) == 1:
        return not isinstance(value, dict)
    return len(path) >= 2 and path[1] != 'type'
