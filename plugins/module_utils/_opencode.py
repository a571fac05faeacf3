# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenCode domain logic: what a correct OmniRoute provider entry is, and how to get there.

Private to the collection; standard library only; no Ansible imports, so tests and benchmarks
call these functions directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from urllib.parse import urlsplit, urlunsplit
except ImportError:  # pragma: no cover - Python 2 is not supported, this keeps sanity quiet
    from urlparse import urlsplit, urlunsplit  # type: ignore

from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import Document

SCHEMA_URL = 'https://opencode.ai/config.json'
SDK_PACKAGE = '@ai-sdk/openai-compatible'
DEFAULT_NAME = 'omniroute'
DEFAULT_DISPLAY_NAME = 'OmniRoute'
DEFAULT_BASE_URL = 'http://localhost:20128'
DEFAULT_API_KEY = _redact.PLACEHOLDER_KEY
DEFAULT_MODELS = (
    'claude-opus-4-5-thinking',
    'claude-sonnet-4-5-thinking',
    'gemini-3.1-pro-high',
    'gemini-3-flash',
)
# The provider entry's options, shared by the modules that write one (provider, users, managed).
ENTRY_ARGUMENT_SPEC = dict(
    name=dict(type='str', default=DEFAULT_NAME),
    display_name=dict(type='str', default=DEFAULT_DISPLAY_NAME),
    base_url=dict(type='str', default=DEFAULT_BASE_URL),
    models=dict(type='list', elements='raw'),
    model_labels=dict(type='dict', default={}),
    model=dict(type='str'),
    small_model=dict(type='str'),
)
REDACTED = _redact.MASK
# Keys inside the managed entry that would hide models the module configures.
HIDING_ENTRY_KEYS = ('whitelist', 'blacklist')
# A provider id (compiled once, in the module process, not in each user's process).
_PROVIDER_ID = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')
_SURROGATE = re.compile(u'[\ud800-\udfff]')
# A model with one of these statuses is dropped by OpenCode (alpha unless experimental is on).
HIDING_STATUSES = ('deprecated', 'alpha')


class PlanError(ValueError):
    """The input cannot be turned into a correct config; the message says why."""


# --------------------------------------------------------------------------- normalisation
def normalize_base_url(url):
    """Return ``url`` as an http(s) URL that ends in exactly one ``/v1``.

    >>> normalize_base_url('http://localhost:20128/v1///')
    'http://localhost:20128/v1'
    """
    if not isinstance(url, str) or not url.strip():
        raise PlanError('base_url must be a non-empty http(s) URL')
    raw = url.strip()
    # Messages show the URL without user info or query: that is where credentials hide.
    shown = _redact.url(raw)
    try:
        parts = urlsplit(raw)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise PlanError('base_url is not a valid URL (%s): %r' % (exc, shown))
    scheme = parts.scheme.lower()
    if scheme not in ('http', 'https') or not parts.netloc:
        raise PlanError('base_url must be an http:// or https:// URL with a host, got %r' % shown)
    if parts.username is not None or parts.password is not None:
        raise PlanError('base_url must not carry a user name or password; '
                        'give the key through api_key instead')
    if parts.query or parts.fragment:
        raise PlanError('base_url must not have a query string or fragment, got %r' % shown)
    try:
        parts.port  # noqa: B018 - validates the port number
    except ValueError:
        raise PlanError('base_url has an invalid port: %r' % shown)
    path = parts.path.rstrip('/')
    while path.lower().endswith('/v1'):
        path = path[:-3].rstrip('/')
    return urlunsplit((scheme, parts.netloc, path + '/v1', '', ''))


def normalize_models(models, labels=None):
    """Return ``[(id, settings), ...]``: ids trimmed, empty ones dropped, first of duplicates kept.

    An entry is an id string or a dict with ``id`` plus OpenCode model settings (``name``,
    ``limit``...).  ``labels`` maps an id to its display name and wins over a dict's ``name``.
    """
    labels = dict(labels or {})
    seen = set()
    result = []
    for index, item in enumerate(models):
        if isinstance(item, dict):
            settings = dict(item)
            model_id = settings.pop('id', None)
            if not isinstance(model_id, str):
                raise PlanError('models[%d] is a dict without a string "id"' % index)
        elif isinstance(item, str):
            model_id, settings = item, {}
        else:
            raise PlanError('models[%d] must be a model id or a dict with "id"' % index)
        model_id = model_id.strip()
        if not model_id or model_id in seen:
            continue
        seen.add(model_id)
        label = labels.get(model_id)
        if label is not None:
            settings['name'] = str(label)
        settings.setdefault('name', model_id)
        result.append((model_id, settings))
    if not result:
        raise PlanError('models must name at least one model id')
    return result


def lone_surrogate(value, where):
    """``(where, code point)`` of the first lone surrogate (U+D800 to U+DFFF) in ``value``, a
    string or a list or dict of them (keys included), else None: a string the operator's
    variables or module arguments can hold (JSON's ``"\\ud800"``), which no UTF-8 file can."""
    if isinstance(value, str):
        bad = _SURROGATE.search(value)
        return (where, ord(bad.group())) if bad else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = lone_surrogate(key, '%s key' % where) or lone_surrogate(item, '%s[%r]' % (where, key))
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = lone_surrogate(item, '%s[%d]' % (where, index))
            if found:
                return found
    return None


def is_reference(value):
    """True for a value OpenCode substitutes itself: ``{env:VAR}`` or ``{file:path}``."""
    return _redact.is_reference(value)


def qualify_model(name, model_id, model_ids):
    """``<name>/<id>`` for a top-level ``model``; the id must be in the catalog."""
    if model_id.startswith(name + '/'):
        model_id = model_id[len(name) + 1:]
    model_id = model_id.strip()
    if model_id not in model_ids:
        raise PlanError('model %r is not in the models catalog (%s)' % (model_id, ', '.join(model_ids)))
    return '%s/%s' % (name, model_id)


# --------------------------------------------------------------------------- planning
class Spec:
    """What the managed entry should be."""

    def __init__(self, name=DEFAULT_NAME, display_name=DEFAULT_DISPLAY_NAME,
                 base_url=DEFAULT_BASE_URL, api_key=DEFAULT_API_KEY, models=DEFAULT_MODELS,
                 model_labels=None, model=None, small_model=None, key_in_config=True):
        if not name or not _PROVIDER_ID.match(name):
            raise PlanError('name must be a provider id of letters, digits, ".", "_" or "-", got %r' % (name,))
        for option, value in (('display_name', display_name), ('base_url', base_url), ('api_key', api_key),
                              ('models', models), ('model_labels', model_labels), ('model', model),
                              ('small_model', small_model)):
            found = lone_surrogate(value, option)
            if found:
                # (The value is not shown: it may be a key.)
                raise PlanError('%s holds U+%04X, a lone surrogate: not text that a UTF-8 file can hold '
                                '(an escape such as "\\ud800" in the variable?)' % found)
        self.name = name
        self.display_name = display_name
        self.base_url = normalize_base_url(base_url)
        self.api_key = api_key
        self.key_in_config = key_in_config
        self.models = normalize_models(DEFAULT_MODELS if models is None else models, model_labels)
        ids = [m[0] for m in self.models]
        self.model = qualify_model(name, model, ids) if model else None
        self.small_model = qualify_model(name, small_model, ids) if small_model else None
        # True: leave the entry's current ``models`` exactly as they are (gateway offline).
        self.keep_models = False

    @property
    def model_ids(self):
        return [m[0] for m in self.models]

    def entry(self):
        """The whole entry, in the key order of OmniRoute's OpenCode guide, for a config that has none."""
        options = {'baseURL': self.base_url}
        if self.key_in_config:
            options['apiKey'] = self.api_key
        return {
            'npm': SDK_PACKAGE,
            'name': self.display_name,
            'options': options,
            'models': dict((mid, dict(settings)) for mid, settings in self.models),
        }


class Plan:
    """The result of planning one file: the new text and what changed, in words."""

    def __init__(self, old_text, new_text, changes, entry=None):
        self.old_text = old_text
        self.new_text = new_text
        self.changes = changes
        self.entry = entry

    @property
    def changed(self):
        return self.new_text != self.old_text


class Editor:
    """Applies path-level edits to a Document and records them for verification."""

    def __init__(self, doc):
        self.doc = doc
        self.ops = []
        self.checks = []  # extra checks for verify_edits: callables taking the edited Document
        self.orders = []  # (path, keys): the object at path must list its members in that order

    def set(self, path, value, first=False):
        new = self.doc.set(path, value, first)
        if new is not self.doc:
            self.ops.append((path, value))
            self.doc = new

    def delete(self, path):
        new = self.doc.delete(path)
        if new is not self.doc:
            self.ops.append((path, MISSING))
            self.doc = new

    def drop_shadowed(self, path):
        """Remove earlier duplicates of ``path`` (dead text to OpenCode, maybe an old key)."""
        count = len(self.doc.shadowed(path))
        if count:
            self.doc = self.doc.delete_shadowed(path)
            self.checks.append(lambda doc: not doc.shadowed(path))
        return count

    def append(self, path, value):
        """Add ``value`` at the end of the array at ``path``, writing only that element."""
        wanted = self.doc.get(path) + [value]
        self.doc = self.doc.array_append(path, value)
        self.ops.append((path, wanted))

    def remove_all(self, path, value):
        """Remove every element equal to ``value`` from the array at ``path``; return how many."""
        values = self.doc.array_values(path)
        gone = [i for i, v in enumerate(values) if v == value]
        for index in reversed(gone):
            self.doc = self.doc.array_remove(path, index)
        if gone:
            self.ops.append((path, [v for v in values if v != value]))
        return len(gone)

    def reorder(self, path, keys):
        """List the members of the object at ``path`` in ``keys``' order (each with its comments)."""
        new = self.doc.reorder(path, keys)
        if new is not self.doc:
            self.orders.append((path, list(keys)))
            self.doc = new
            return True
        return False

    @property
    def edited(self):
        return bool(self.ops or self.checks or self.orders)


MISSING = object()


def _entry_edits(ed, spec, current):
    """Bring the managed entry (an object) to ``spec``, keeping what the user added."""
    ed.set(('npm',), SDK_PACKAGE)
    ed.set(('name',), spec.display_name)
    options = current.get('options')
    if not isinstance(options, dict):
        ed.set(('options',), {})
    ed.set(('options', 'baseURL'), spec.base_url)
    if spec.key_in_config:
        ed.set(('options', 'apiKey'), spec.api_key)
    else:
        ed.delete(('options', 'apiKey'))
    for key in HIDING_ENTRY_KEYS:
        ed.delete((key,))
    if spec.keep_models:
        return
    models = current.get('models')
    if not isinstance(models, dict):
        ed.set(('models',), {})
        models = {}
    wanted = dict(spec.models)
    for model_id in list(models):
        if model_id not in wanted:
            ed.delete(('models', model_id))
    for model_id, settings in spec.models:
        existing = models.get(model_id)
        if not isinstance(existing, dict):
            ed.set(('models', model_id), dict(settings))
            continue
        if existing.get('status') in HIDING_STATUSES and 'status' not in settings:
            ed.delete(('models', model_id, 'status'))
        for key, value in settings.items():
            ed.set(('models', model_id, key), value)
    # The catalog's order, whatever the file held before: the same catalog gives the same bytes.
    ed.reorder(('models',), spec.model_ids)


def plan_present(text, spec):
    """Plan the managed entry into ``text`` (a config file's content)."""
    doc = Document(text)
    changes = []
    ed = Editor(doc)
    path = ('provider', spec.name)
    if not doc.empty:
        # Raise on a wrong shape now, while positions still refer to the user's file.
        doc.locate(path)
    if ed.drop_shadowed(path):
        changes.append('removed duplicate copies of provider.%s' % spec.name)
    if not ed.doc.has(('$schema',)):
        ed.set(('$schema',), SCHEMA_URL, first=True)
        changes.append('added $schema')
    current = ed.doc.get(path) if not ed.doc.empty else None
    if isinstance(current, dict):
        start, end, indent = ed.doc.value_span(path)
        sub = Editor(Document(ed.doc.text[start:end], indent, ed.doc.style))
        _entry_edits(sub, spec, current)
        if sub.ops or sub.orders:
            ed.doc = ed.doc.set_value_text(path, sub.doc.text)
            ed.ops.extend((path + p, v) for p, v in sub.ops)
            ed.orders.extend((path + p, k) for p, k in sub.orders)
            changes.append('updated provider.%s' % spec.name if sub.ops else
                           'put the models of provider.%s in catalog order' % spec.name)
    else:
        ed.set(path, spec.entry())
        changes.append('added provider.%s' % spec.name)
    for key, value in (('model', spec.model), ('small_model', spec.small_model)):
        if value is not None and ed.doc.get((key,)) != value:
            ed.set((key,), value)
            changes.append('set %s' % key)
    _unhide(ed, spec.name, changes)
    verify_edits(ed)
    entry = ed.doc.get(path)
    return Plan(text, ed.doc.text, changes if ed.edited else [], entry)


def plan_absent(text, name):
    """Plan the removal of the managed entry and of top-level models that point at it."""
    doc = Document(text)
    ed = Editor(doc)
    changes = []
    if doc.empty:
        return Plan(text, text, [])
    doc.locate(())
    if ed.drop_shadowed(('provider', name)):
        changes.append('removed duplicate copies of provider.%s' % name)
    if ed.doc.has(('provider', name)):
        ed.delete(('provider', name))
        changes.append('removed provider.%s' % name)
    for key in ('model', 'small_model'):
        value = ed.doc.get((key,))
        if isinstance(value, str) and value.startswith(name + '/'):
            ed.delete((key,))
            changes.append('removed %s' % key)
    verify_edits(ed)
    return Plan(text, ed.doc.text, changes)


def plan_other(text, name, present):
    """Another config file OpenCode loads for the user (a lower global file, ``~/.opencode``).

    OpenCode deep-merges it with the file the module manages, so a copy of the entry there
    would add models or override the key, and its provider lists could hide the provider.
    Present: drop the copy and repair the lists.  Absent: what ``plan_absent`` does.
    """
    if not present:
        return plan_absent(text, name)
    doc = Document(text)
    if doc.empty or not doc.root_is_object:
        return Plan(text, text, [])
    ed = Editor(doc)
    changes = []
    ed.drop_shadowed(('provider', name))
    if ed.doc.has(('provider', name)):
        ed.delete(('provider', name))
        changes.append('removed provider.%s (OpenCode would merge it into the managed entry)' % name)
    elif ed.checks:
        changes.append('removed duplicate copies of provider.%s' % name)
    _unhide(ed, name, changes)
    if ed.edited and not doc.has(('$schema',)):
        # OpenCode inserts it into a file it loads without one; do it now, once.
        ed.set(('$schema',), SCHEMA_URL, first=True)
        changes.append('added $schema')
    verify_edits(ed)
    return Plan(text, ed.doc.text, changes)


def _unhide(ed, name, changes):
    """Take ``name`` out of ``disabled_providers`` and into an existing ``enabled_providers``."""
    # Element by element, so comments inside the lists survive.  Earlier duplicate keys of the
    # lists are dead text to OpenCode and left alone; the effective one is edited.
    disabled = ed.doc.get(('disabled_providers',))
    if isinstance(disabled, list) and name in disabled:
        ed.remove_all(('disabled_providers',), name)
        changes.append('removed %s from disabled_providers' % name)
    enabled = ed.doc.get(('enabled_providers',))
    if isinstance(enabled, list) and name not in enabled:
        ed.append(('enabled_providers',), name)
        changes.append('added %s to enabled_providers' % name)


def verify_edits(ed):
    """Check the edited text once: it is valid JSONC and every edited path holds what was asked."""
    if not ed.edited:
        return
    try:
        ed.doc.validate()
    except ValueError as exc:
        raise PlanError('internal check failed: the edited text would not parse (%s); '
                        'the file was left unchanged' % exc)
    for check in ed.checks:
        if not check(ed.doc):
            raise PlanError('internal check failed: a duplicate key is left; the file was left unchanged')
    for path, keys in ed.orders:
        value = ed.doc.get(path)
        if not isinstance(value, dict) or [k for k in value if k in keys] != [k for k in keys if k in value]:
            raise PlanError('internal check failed after ordering %s; the file was left unchanged' % '.'.join(path))
    final = {}
    for path, value in ed.ops:
        final[path] = value
        for other in list(final):
            if other != path and other[:len(path)] == path:
                del final[other]  # a later edit of a parent decides
    for path, value in final.items():
        if any(path[:n] in final and final[path[:n]] is MISSING for n in range(1, len(path))):
            continue
        actual = ed.doc.get(path, MISSING)
        if value is MISSING:
            ok = actual is MISSING
        elif isinstance(value, dict) and isinstance(actual, dict):
            ok = all(actual.get(k) == v for k, v in value.items())
        else:
            ok = actual == value
        if not ok:
            raise PlanError('internal check failed after editing %s; the file was left unchanged'
                            % '.'.join(path))


def plan_auth(text, name, key):
    """Plan OpenCode's credential store: ``key`` stored for ``name``, or removed when None."""
    doc = Document(text or '')
    if not doc.empty:
        doc.locate(())
        doc = doc.delete_shadowed((name,))
    if key is None:
        new = doc.delete((name,))
    else:
        current = doc.get((name,))
        if current == {'type': 'api', 'key': key}:
            new = doc
        else:
            new = doc.set((name,), {'type': 'api', 'key': key})
    new.validate()
    return new.text


# --------------------------------------------------------------------------- installed keys
# Reading what is installed lives here, next to plan_present/plan_auth that write it.
# What a real key is has one home, _redact.
is_real_key = _redact.is_real_key


def _parse_or_none(text):
    from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import parse
    try:
        return parse(text or '')
    except ValueError:
        return None


def installed_key_from_config(text, name=DEFAULT_NAME):
    """``provider.<name>.options.apiKey`` from config text (any string), or None."""
    data = _parse_or_none(text)
    try:
        value = data['provider'][name]['options']['apiKey']
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def installed_key_from_auth(text, name=DEFAULT_NAME):
    """``<name>.key`` of an ``api`` entry in auth.json text, or None."""
    data = _parse_or_none(text)
    try:
        entry = data[name]
    except (KeyError, TypeError):
        return None
    if isinstance(entry, dict) and entry.get('type', 'api') == 'api':
        value = entry.get('key')
        return value if isinstance(value, str) else None
    return None


def installed_key(config_texts, auth_text, name=DEFAULT_NAME):
    """The literal key OpenCode would use, or None.

    ``config_texts`` are highest precedence first: the first that sets ``options.apiKey`` wins
    (even a placeholder or reference, which yields None); only without one does auth.json count.
    """
    for text in config_texts:
        value = installed_key_from_config(text, name)
        if value is not None:
            return value if is_real_key(value) else None
    value = installed_key_from_auth(auth_text, name) if auth_text else None
    return value if is_real_key(value) else None


def management_url(url):
    """OmniRoute's management root: ``url`` without trailing slashes and every trailing ``/v1``."""
    url = (url or '').strip().rstrip('/')
    while url.lower().endswith('/v1'):
        url = url[:-3].rstrip('/')
    return url


# --------------------------------------------------------------------------- output
# Top-level settings the module may touch; a diff shows those whose value changed.
MANAGED_TOP_KEYS = ('$schema', 'model', 'small_model', 'enabled_providers', 'disabled_providers')


def _view_doc(text):
    if text is None:
        return None
    doc = Document(text)
    return doc if doc.root_is_object else None


def config_views(old_text, new_text, name, extra_keys=()):
    """``(before, after)``: what a diff may show of one config change.

    Only the managed entry and the top-level settings whose value changed, as decoded JSON,
    never the rest of the file (other providers, MCP environments, comments...).  ``extra_keys``
    names further top-level settings the caller manages (the managed tier's settings).  Credentials
    in the entry are masked by position (``options.apiKey``, every header value); a masked
    value that changed reads ``******** (changed)``.
    """
    docs = [_view_doc(old_text), _view_doc(new_text)]
    raw = [{}, {}]
    for side, doc in enumerate(docs):
        if doc is None:
            continue
        provider = doc.get(('provider',))
        if isinstance(provider, dict) and name in provider:
            raw[side]['provider'] = {name: doc.get(('provider', name))}
    for key in MANAGED_TOP_KEYS + tuple(extra_keys):
        values = [doc.get((key,), MISSING) if doc is not None else MISSING for doc in docs]
        if values[0] != values[1]:
            for side, value in enumerate(values):
                if value is not MISSING:
                    raw[side][key] = value
    # In the file's own order (a new file has $schema first, and so does its view).
    raw = [_in_file_order(view, doc) for view, doc in zip(raw, docs)]
    secret_at = _redact.config_secret(name)
    before = _redact.mask(raw[0], secret_at)
    after = _redact.mask(raw[1], secret_at, raw[0])
    return before, after


def _in_file_order(view, doc):
    if doc is None or doc.empty or len(view) < 2:
        return view
    order = [m.key for m in doc.locate(())[0][0].members]
    position = dict((key, index) for index, key in enumerate(order))
    return dict(sorted(view.items(), key=lambda item: position.get(item[0], len(order))))


def auth_views(old_text, new_text, name):
    """``(before, after)`` of a credential store change: only ``name``'s credential, with every
    field but its ``type`` masked."""
    raw = []
    for text in (old_text, new_text):
        doc = _view_doc(text)
        value = doc.get((name,), MISSING) if doc is not None else MISSING
        raw.append({} if value is MISSING else {name: value})
    return (_redact.mask(raw[0], _redact.auth_secret),
            _redact.mask(raw[1], _redact.auth_secret, raw[0]))


def redact_entry(entry):
    """A copy of the entry with its credentials masked by position (``options.apiKey`` and
    every ``options.headers`` value), and URLs without user info or query."""
    if not isinstance(entry, dict):
        return entry
    return _redact.mask(entry, _redact.entry_secret)


def merge_text(text, name=DEFAULT_NAME, display_name=DEFAULT_DISPLAY_NAME,
               base_url=DEFAULT_BASE_URL, api_key=DEFAULT_API_KEY, models=DEFAULT_MODELS):
    """Convenience for benchmarks and scripts: the merged text of one config."""
    spec = Spec(name=name, display_name=display_name, base_url=base_url, api_key=api_key, models=models)
    return plan_present(text, spec).new_text
