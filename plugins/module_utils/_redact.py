# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one home of secrets: what is one, and what output may show.

Private to the collection; standard library only.  Every module routes its messages, results
and diffs through here:

- :class:`Redactor` scrubs free text and decoded JSON: every known secret and every run of
  :data:`MIN_RUN` or more consecutive characters of one (plain and JSON-escaped), the
  credentials of every URL, and control, ANSI and bidi characters; only then is a text cut;
- :func:`url` shows an address without user info, query or fragment (where tokens hide);
- :func:`mask` copies a decoded JSON value with every credential masked *by position*
  (the caller says which positions hold credentials), whatever the keys are called, plus any
  value under a secret-looking name as a second line of defence;
- :func:`is_reference`, :func:`is_real_key`, :func:`looks_secret_name`,
  :func:`looks_secret_value` and :func:`key_problem` say what a value is;
- :func:`pick_key` is the key precedence of a user (their own ``api_key``, then the key maps).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

MASK = '********'
CHANGED = MASK + ' (changed)'
# Ansible's own stand-in for a no_log value in a module's echoed arguments.
NO_LOG = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
# OmniRoute's documented "no key" placeholder: never a secret, never a real key.
PLACEHOLDER_KEY = 'sk_omniroute'
# A run of this many consecutive characters of a secret is scrubbed wherever it appears.
MIN_RUN = 8
# A secret shorter than MIN_RUN is scrubbed whole, from this length on (shorter ones would
# mask ordinary words).
MIN_WHOLE = 4
# Values OpenCode substitutes itself; they name a variable or a file, not a secret.
_REFERENCE = re.compile(r'^\{(env|file):([^{}]+)\}\Z')
_SCHEME = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*:(?://?)?')
# Something URL-like inside a free text: a scheme and what follows up to a blank or quote.
_URL_IN_TEXT = re.compile(r'''[A-Za-z][A-Za-z0-9+.-]*://[^\s'"<>]*''')
# ``user:password@`` without a recognisable scheme before it (a mistyped one, say).
_USERINFO_IN_TEXT = re.compile(r'''(?<![\w.+-])[^\s'"<>/@:]+:[^\s'"<>@]*@''')
_QUERY = re.compile(r'[?#]')
# Terminal escape sequences: CSI (ESC [ or the C1 byte), OSC (ESC ], to BEL or ST), other ESC pairs.
_ANSI = re.compile(r'(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?'
                   r'|\x1b[@-Z\\-_]?')
# What never reaches a reader: C0 and C1 controls (the blanks below are handled apart), DEL,
# soft hyphen, bidi marks, embeddings, overrides and isolates, zero-width characters, the BOM,
# interlinear annotations, tag characters and lone surrogates.
_INVISIBLE = (u'\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e'
              u'\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff')
_CONTROL = re.compile(u'[%s\U000e0000-\U000e007f]' % _INVISIBLE)
_BLANKS = re.compile(u'[\t\r\n\u2028\u2029]')
_BLANKS_KEEP_LINES = re.compile(u'[\t\r\u2028\u2029]')
# A key may only hold printable ASCII: anything else cannot go into an HTTP header as it is.
_KEY_CHARS = re.compile(r'^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?\Z')
_KEY_CONTROLS = re.compile(u'[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e'
                           u'\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]')
# Words of a setting's name that say it carries a credential (``keybinds`` and ``max_tokens``
# are not such words): any of STRONG, or LAST as the name's last word.
_STRONG_WORDS = frozenset(('secret', 'secrets', 'password', 'passwd', 'passphrase', 'token', 'apikey',
                           'credential', 'credentials', 'authorization', 'bearer', 'cookie'))
_LAST_WORDS = _STRONG_WORDS | frozenset(('key', 'pwd', 'auth', 'session', 'pat', 'pw'))
_WORDS = re.compile(r'[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+')
# Values shaped like a credential whatever their name: API keys (sk-..., key_...), a bearer
# header, GitHub and Slack tokens, AWS access key ids, JSON web tokens.
_SECRET_VALUE = re.compile(
    r'^\s*(?:(?:sk|rk|pk|key)[-_][A-Za-z0-9_\-]{6,}|bearer\s+\S{6,}|(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}'
    r'|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}'
    r'|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)\s*$', re.I)
_MISSING = object()
# Deeper than this, a value is not walked (results and diffs never nest anywhere near it).
MAX_DEPTH = 200


# --------------------------------------------------------------------------- what a value is
def reference(value):
    """``(kind, name)`` of ``{env:VAR}`` (``env``, ``VAR``) or ``{file:path}`` (``file``, ``path``),
    which OpenCode resolves itself; None for anything else."""
    match = _REFERENCE.match(value.strip()) if isinstance(value, str) else None
    return (match.group(1), match.group(2).strip()) if match else None


def is_reference(value):
    """True for ``{env:VAR}`` or ``{file:path}``, which OpenCode resolves itself."""
    return reference(value) is not None


def is_real_key(value):
    """True for a literal key: not empty, not the ``sk_omniroute`` placeholder, not a reference."""
    if not isinstance(value, str):
        return False
    value = value.strip()
    return bool(value) and value != PLACEHOLDER_KEY and not is_reference(value)


def _words(name):
    return [w.lower() for w in _WORDS.findall(name)]


def looks_secret_name(name):
    """True when a setting called ``name`` carries a credential (``apiKey``, ``X-Auth-Token``,
    ``GITHUB_TOKEN``, ``Authorization``, ``password``...), but not ``keybinds`` or ``max_tokens``."""
    if not isinstance(name, str) or not name:
        return False
    words = _words(name)
    return bool(words) and (words[-1] in _LAST_WORDS or any(w in _STRONG_WORDS for w in words))


def looks_secret_value(value):
    """True for a string shaped like a credential (``sk-...``, ``Bearer ...``, ``ghp_...``, a JWT)."""
    return isinstance(value, str) and _SECRET_VALUE.match(value) is not None


def key_problem(key):
    """Why ``key`` cannot be used as it is, in words that never show it; None when it can.

    A key must be printable ASCII with no blank at either end: a line break left at the end
    of a vault value would otherwise go into the ``Authorization`` header (or the config) as it
    is.  ``{env:}``/``{file:}`` references and empty values are not judged here.
    """
    if key is None:
        return None
    if not isinstance(key, str):
        return 'is not a string (it is a %s)' % type(key).__name__
    if not key or is_reference(key):
        return None
    if _KEY_CHARS.match(key):
        return None
    core = key.strip()
    if core and _KEY_CHARS.match(core):
        if _KEY_CONTROLS.search(key):
            return ('ends (or starts) with a line break or another control character, as a value copied '
                    'from a vault or a file often does; remove it (the key is not shown)')
        return 'starts or ends with a blank; remove it (the key is not shown)'
    if _KEY_CONTROLS.search(key):
        return 'has a control character inside it (a line break, a tab or an invisible mark); the key is not shown'
    return ('has characters outside printable ASCII, which cannot be sent in an HTTP header; '
            'the key is not shown')


# --------------------------------------------------------------------------- key precedence
def find_key(entry, key_maps, own_keys=True):
    """``(key, origin)`` of a user: their own ``api_key`` (unless ``own_keys`` is false), then
    the first of ``key_maps`` with a value for their name; ``origin`` names it (``api_key`` or
    ``key_maps[N]``).  Empty values do not count; a value that is not a string does, so that
    the caller refuses it (:func:`key_problem`).  ``(None, None)`` when there is none."""
    entry = entry if isinstance(entry, dict) else {}
    if own_keys and entry.get('api_key'):
        return entry['api_key'], 'api_key'
    for index, mapping in enumerate(key_maps or ()):
        value = mapping.get(entry.get('name')) if isinstance(mapping, dict) else None
        if value:
            return value, 'key_maps[%d]' % index
    return None, None


def pick_key(entry, key_maps, own_keys=True):
    """The user's key by precedence (see :func:`find_key`), or None."""
    return find_key(entry, key_maps, own_keys)[0]


# --------------------------------------------------------------------------- text
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


def clean(text, multiline=False):
    """``text`` without terminal escapes and invisible characters; blanks (tab, CR, LF, the
    Unicode line separators) become spaces, or with ``multiline`` only LF is kept."""
    text = _ANSI.sub('', text)
    text = _CONTROL.sub('', text)
    if multiline:
        return _BLANKS_KEEP_LINES.sub(' ', text.replace('\r\n', '\n'))
    return _BLANKS.sub(' ', text)


def _as_text(value):
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    if isinstance(value, str):
        return value
    try:
        return '%s' % (value,)
    except Exception:  # pylint: disable=broad-except
        # A hostile __str__ must not escape.
        return '(%s)' % type(value).__name__


class Redactor:
    """Scrubs output of a known set of secrets.

    ``secrets``: any iterable; what is not a non-blank string, references (``{env:X}``) and
    the placeholder key are ignored.  A secret is scrubbed whole, and so is every run of
    :data:`MIN_RUN` or more of its consecutive characters, as written and as JSON escapes it.
    Secrets shorter than :data:`MIN_RUN` are scrubbed whole from :data:`MIN_WHOLE` characters.
    """

    def __init__(self, secrets=()):
        self._grams = set()
        self._whole = []
        self._secrets = []
        for secret in secrets or ():
            self.add(secret)

    def add(self, secret):
        """Scrub ``secret`` too (a key issued during the run, a session cookie)."""
        if not isinstance(secret, str) or not secret.strip() or is_reference(secret) or secret == PLACEHOLDER_KEY:
            return
        forms = set([secret, secret.strip()])
        for form in list(forms):
            forms.add(json.dumps(form)[1:-1])
            forms.add(json.dumps(form, ensure_ascii=False)[1:-1])
        for form in forms:
            if form in self._secrets:
                continue
            self._secrets.append(form)
            if len(form) >= MIN_RUN:
                self._grams.update(form[i:i + MIN_RUN] for i in range(len(form) - MIN_RUN + 1))
            elif len(form) >= MIN_WHOLE:
                self._whole.append(form)
        self._whole.sort(key=len, reverse=True)

    def clear(self):
        """Forget every secret (a forked process that must not hold them); scrubs nothing after."""
        self._grams.clear()
        del self._whole[:]
        del self._secrets[:]

    @property
    def empty(self):
        return not self._grams and not self._whole

    def _scrub(self, text):
        if self._grams and len(text) >= MIN_RUN:
            grams = self._grams
            spans = []
            end = -1
            for i in range(len(text) - MIN_RUN + 1):
                if text[i:i + MIN_RUN] in grams:
                    if i <= end:
                        spans[-1][1] = i + MIN_RUN
                    else:
                        spans.append([i, i + MIN_RUN])
                    end = i + MIN_RUN
            if spans:
                out, last = [], 0
                for start, stop in spans:
                    out.append(text[last:start])
                    out.append(MASK)
                    last = stop
                out.append(text[last:])
                text = ''.join(out)
        for secret in self._whole:
            text = text.replace(secret, MASK)
        return text

    def text(self, value, limit=None, multiline=False):
        """``value`` as text fit for output: secrets and URL credentials scrubbed, terminal
        escapes and invisible characters removed (blanks become spaces, or with ``multiline``
        line breaks stay), and only then cut to ``limit`` characters (``...`` marks a cut)."""
        text = self._scrub(_as_text(value))
        cleaned = clean(text, multiline)
        if cleaned != text:
            # Removing a character may have joined the two halves of a secret.
            text = self._scrub(cleaned)
        text = _URL_IN_TEXT.sub(lambda m: url(m.group(0)), text)
        text = _USERINFO_IN_TEXT.sub('', text)
        if limit is not None and len(text) > limit:
            text = text[:max(limit - 3, 0)].rstrip() + '...'
        return text

    def json(self, value, depth=0):
        """A copy of a decoded JSON value (results, diffs) with every string, key or value, as
        :meth:`text` gives it (line breaks kept)."""
        if depth > MAX_DEPTH:
            return '(nested too deeply to show)'
        if isinstance(value, dict):
            return dict((self.text(k, multiline=True) if isinstance(k, str) else k, self.json(v, depth + 1))
                        for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return [self.json(v, depth + 1) for v in value]
        if isinstance(value, (str, bytes)):
            return self.text(value, multiline=True)
        return value

    def args(self, params):
        """Module arguments as a result may echo them: URLs without user info or query, the
        value of every secret-looking option replaced by Ansible's no_log stand-in, every
        model's ``headers`` in ``models`` and every secret-looking setting masked, the rest
        scrubbed like :meth:`json`."""
        shown = {}
        for name, value in (params or {}).items():
            if isinstance(value, str) and value and looks_secret_name(name) and not is_reference(value):
                shown[name] = NO_LOG
            elif name in ('url', 'base_url') and isinstance(value, str):
                shown[name] = self.text(url(value))
            else:
                shown[name] = self.json(mask(value, _models_secret if name == 'models' else _no_position))
        return shown


def message(text, secrets=()):
    """A message fit for output (see :meth:`Redactor.text`)."""
    return Redactor(secrets).text(text)


# --------------------------------------------------------------------------- by position
def mask(value, secret_at, other=_MISSING, path=()):
    """A copy of the decoded JSON ``value`` with credentials masked.

    ``secret_at(path, value)`` says whether the value at ``path`` (a tuple of keys and indexes)
    is a credential; everything below such a position is masked as one.  ``other`` is the same
    document on the other side of a change: a masked value that differs from it is shown as
    ``******** (changed)`` so a diff still tells that a key was replaced.  ``{env:}``/``{file:}``
    references are shown: they name where a key is, not the key.  Strings that look like URLs
    lose their user info and query.
    """
    last = path[-1] if path else None
    named = isinstance(value, str) and looks_secret_name(last)
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
def _headers_secret(rest, value):
    return len(rest) > 0 or not isinstance(value, dict)


def entry_secret(path, value):
    """Credential positions inside one provider entry: ``options.apiKey``, every value of
    ``options.headers`` and every value of a model's ``headers`` (``models.<id>.headers``)."""
    if path == ('options', 'apiKey'):
        return True
    if path[:2] == ('options', 'headers'):
        return _headers_secret(path[2:], value)
    if len(path) >= 3 and path[0] == 'models' and path[2] == 'headers':
        return _headers_secret(path[3:], value)
    return False


def _models_secret(path, value):
    """Credential positions in a ``models`` option (a list of ids and dicts): each ``headers``."""
    return len(path) >= 2 and path[1] == 'headers' and _headers_secret(path[2:], value)


def _no_position(path, value):
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
