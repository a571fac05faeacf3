# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The managed (administrator) tier of OpenCode: plan the system-wide config and its profile.

OpenCode 1.18.33 loads, after every user-level source, ``opencode.json`` then ``opencode.jsonc``
from a managed directory (``/etc/opencode`` on Linux, ``/Library/Application Support/opencode``
on macOS) and, on macOS only, the managed-preferences domain ``ai.opencode.managed`` (an MDM
profile).  Layers deep-merge, so what the managed layer sets wins over a user's own files.

The managed file is world-readable and shared by every user of a host: it never holds a key.
Each user's key stays in that user's own credential store (``auth.json``), which OpenCode reads
for the managed entry as long as no layer sets ``options.apiKey``.

Which entry is this collection's: the managed directory holds a record of what the
``managed`` module last wrote there (:data:`STATE_FILE`, JSON, 0644 like the managed file, never
a key; OpenCode reads only ``opencode.json``/``opencode.jsonc`` there).  Per provider it keeps
the file, the entry as written and the top-level settings the module set.  :func:`drift` compares
the file with it (what another tool changed since), and :func:`plan_owned_absent` removes only an
entry that is still exactly what was recorded.

Private to the collection; standard library only; pure (texts in, texts out: the reading and
writing is ``_configure``'s).  The planning engine is ``_opencode``'s (:func:`plan_present` with
a key-less :class:`Spec`); this module adds the allow-list, the extra managed settings, the key
checks, the record and the macOS profile.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import plistlib
import uuid

from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils import _layout
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import Document

# The managed files (and the record) are read by every user: root's, 0644, in a 0755 directory.
FILE_MODE = 0o644
DIR_MODE = 0o755
# The record of what the managed module wrote, next to the managed files (OpenCode ignores it).
STATE_FILE = 'omniroute-opencode.state.json'
STATE_VERSION = 1
# The macOS managed-preferences domain OpenCode reads (the payload type of the profile).
PLIST_DOMAIN = 'ai.opencode.managed'
DEFAULT_PROFILE_ID = 'ai.opencode.managed.omniroute'
# Settings the planner owns; extra managed settings may not set them.
_OWNED = ('$schema', 'provider')


# --------------------------------------------------------------------------- key checks
def find_secrets(value, path=()):
    """Dotted paths in ``value`` whose value is, or looks like, a credential.

    A string under a credential-like name (``apiKey``, ``token``, ``Authorization``...) counts
    unless it is empty; so does any string shaped like an API key (``sk-...``).  OpenCode's own
    references count too: ``{env:}`` in a shared file reads each user's environment, but
    ``{file:}`` is fatal for every user who lacks the file, and neither belongs in the managed
    layer, whose whole point is that keys stay per user.
    """
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            sub = path + (str(key),)
            if isinstance(item, str) and item.strip() and _redact.looks_secret_name(str(key)):
                found.append('.'.join(sub))
            else:
                found.extend(find_secrets(item, sub))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(find_secrets(item, path + ('[%d]' % index,)))
    elif _redact.looks_secret_value(value):
        found.append('.'.join(path) or '(value)')
    return found


# --------------------------------------------------------------------------- planning
class ManagedSpec:
    """What the managed layer should hold for one gateway provider."""

    def __init__(self, name=oc.DEFAULT_NAME, display_name=oc.DEFAULT_DISPLAY_NAME,
                 base_url=oc.DEFAULT_BASE_URL, models=oc.DEFAULT_MODELS, model_labels=None,
                 model=None, small_model=None, only_gateway=False, settings=None, keep_models=False):
        self.entry_spec = oc.Spec(name=name, display_name=display_name, base_url=base_url,
                                  api_key=None, models=models, model_labels=model_labels,
                                  model=model, small_model=small_model, key_in_config=False)
        # True: the entry's current catalog stays byte for byte (gateway offline, catalog_offline=keep).
        self.entry_spec.keep_models = bool(keep_models)
        self.name = self.entry_spec.name
        self.only_gateway = bool(only_gateway)
        settings = dict(settings or {})
        for key in settings:
            if not isinstance(key, str) or not key:
                raise oc.PlanError('managed settings must be named by non-empty strings, got %r' % (key,))
            if key in _OWNED:
                raise oc.PlanError('managed settings may not set %r: the provider entry and $schema '
                                   'are planned from the other options' % key)
        if self.only_gateway and 'enabled_providers' in settings:
            raise oc.PlanError('managed settings may not set enabled_providers together with '
                               'only_gateway, which sets it to [%s]' % self.name)
        # The entry is built key-less; these are the values an administrator hands in.
        leaks = find_secrets(settings) + find_secrets(self.entry_spec.entry(), ('provider', self.name))
        if leaks:
            raise oc.PlanError('the managed config is readable by every user and never holds a key; '
                               'refusing %s' % ', '.join(leaks))
        self.settings = settings

    @property
    def base_url(self):
        return self.entry_spec.base_url

    @property
    def model_ids(self):
        return self.entry_spec.model_ids


def _merge_setting(ed, path, value):
    """Set ``value`` at ``path``; objects merge key by key, like OpenCode's layers do."""
    current = ed.doc.get(path, oc.MISSING) if not ed.doc.empty else oc.MISSING
    if isinstance(value, dict) and isinstance(current, dict) and value:
        for key, item in value.items():
            _merge_setting(ed, path + (key,), item)
    else:
        ed.set(path, value)


def _allow_list(ed, name, only_gateway, changes):
    enabled = ed.doc.get(('enabled_providers',)) if not ed.doc.empty else None
    if only_gateway:
        if enabled != [name]:
            ed.set(('enabled_providers',), [name])
            changes.append('set enabled_providers to [%s]' % name)
    elif enabled == [name]:
        # The allow-list only_gateway writes; a longer list is the administrator's own.
        ed.delete(('enabled_providers',))
        changes.append('removed enabled_providers (only_gateway is off)')


def plan_managed(text, spec):
    """Plan the managed file: the key-less entry, the allow-list and the extra settings.

    Everything else in the file (comments, other providers, other settings) is kept byte for
    byte.  Raises PlanError (or JSONCError for invalid text) and then nothing is written.
    """
    base = oc.plan_present(text, spec.entry_spec)
    changes = list(base.changes)
    doc = Document(base.new_text)
    ed = oc.Editor(doc)
    _allow_list(ed, spec.name, spec.only_gateway, changes)
    for key, value in spec.settings.items():
        before = len(ed.ops)
        _merge_setting(ed, (key,), value)
        if len(ed.ops) != before:
            changes.append('set %s' % key)
    oc.verify_edits(ed)
    entry = ed.doc.get(('provider', spec.name))
    leaks = find_secrets(entry, ('provider', spec.name))
    if leaks:
        raise oc.PlanError('the managed entry already holds a credential at %s; the managed config is '
                           'readable by every user: move it out, then run again' % ', '.join(leaks))
    return oc.Plan(text, ed.doc.text, changes if ed.doc.text != text else [], entry)


def _changed_paths(old, new, path=()):
    """Dotted paths at which ``old`` and ``new`` (decoded JSON) differ; values are never shown."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in list(old) + [k for k in new if k not in old]:
            if key not in old or key not in new:
                found.append(path + (key,))
            else:
                found.extend(_changed_paths(old[key], new[key], path + (key,)))
        return found
    return [] if old == new else [path]


def _data(text):
    """The decoded top level of ``text`` when it is an object, else None."""
    if not text:
        return None
    try:
        doc = Document(text)
        data = doc.get(()) if not doc.empty else None
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def has_entry(text, name):
    """True when ``text`` has ``provider.<name>``."""
    data = _data(text)
    provider = data.get('provider') if data else None
    return isinstance(provider, dict) and name in provider


def _owned_view(data, name, keys):
    """``{"provider": {name: entry}, key: value...}`` of ``data``: the parts the record covers."""
    data = data or {}
    provider = data.get('provider') if isinstance(data.get('provider'), dict) else {}
    view = {'provider': {name: provider[name]} if name in provider else {}}
    for key in keys:
        if key in data:
            view[key] = data[key]
    return view


def _dotted(paths):
    return sorted('.'.join('%s' % part for part in p) for p in paths)


def drift(old_text, new_text, name, record=None):
    """What another tool changed in the managed file's owned parts, as sorted dotted paths.

    With the ``record`` of what this collection last wrote there (see :func:`record`): every
    path at which the file now differs from the record and that the plan (``new_text``) changes
    back - so a change of the module's own options is not drift, and neither is a key another
    tool added that the plan keeps.  A recorded entry that is gone is ``provider.<name>``.

    Without a record (an entry this collection has no record of writing): every path at which
    the planned text differs from the current one in the entry, the allow-list,
    ``model``/``small_model`` and the extra settings; empty when the file has no entry yet (a
    new entry is not drift).  ``$schema`` is never counted, and values are never shown.
    """
    if not old_text or old_text == new_text:
        return []
    old, new = _data(old_text), _data(new_text)
    if old is None or new is None:
        return []
    if record is None:
        if not has_entry(old_text, name):
            return []
        return _dotted(p for p in _changed_paths(old, new) if p and p[0] != '$schema')
    keys = [k for k in record.get('settings', {}) if k != '$schema']
    recorded = {'provider': {name: record.get('entry')}}
    recorded.update(record.get('settings', {}))
    current, planned = _owned_view(old, name, keys), _owned_view(new, name, keys)
    since = _changed_paths(recorded, current)
    back = _changed_paths(current, planned)
    related = [p for p in since if any(p[:len(q)] == q or q[:len(p)] == p for q in back)]
    return _dotted(related)


def record(text, name, file, spec):
    """What the managed module wrote for provider ``name`` in ``text`` (the managed file ``file``
    after the plan): the entry, and the top-level settings it set (the allow-list with
    ``only_gateway``, ``model``/``small_model``, the extra settings, as given)."""
    data = _data(text) or {}
    entry = (data.get('provider') or {}).get(name)
    settings = {}
    if spec.only_gateway:
        settings['enabled_providers'] = [name]
    for key in ('model', 'small_model'):
        value = getattr(spec.entry_spec, key)
        if value is not None:
            settings[key] = value
    settings.update(spec.settings)
    return {'file': file, 'entry': entry, 'settings': settings}


def read_state(text):
    """The records of :data:`STATE_FILE` by provider name; ``{}`` when there is none or it cannot
    be read as one (then no entry counts as this collection's)."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    providers = data.get('providers') if isinstance(data, dict) else None
    if not isinstance(providers, dict):
        return {}
    return dict((k, v) for k, v in providers.items()
                if isinstance(v, dict) and isinstance(v.get('file'), str) and isinstance(v.get('settings', {}), dict))


def render_state(records, name, new):
    """The text of :data:`STATE_FILE` with provider ``name``'s record set to ``new`` (None:
    dropped), or None when no record is left (the file goes)."""
    records = dict(records)
    if new is None:
        records.pop(name, None)
    else:
        records[name] = new
    if not records:
        return None
    return json.dumps({
        'about': 'What omniroute.opencode (the managed module) last wrote in this directory, so that it can '
                 'tell its own entries from those of other tools. Holds no key. Deleting it makes the module '
                 'treat every entry here as not its own.',
        'version': STATE_VERSION,
        'providers': records,
    }, indent=2, sort_keys=True, ensure_ascii=False) + '\n'


class OwnedPlan(oc.Plan):
    """:func:`plan_owned_absent`'s result: a Plan, plus ``foreign`` (``[{reason}]``, the entry
    left alone) and ``removed`` (True when this collection's entry goes)."""

    def __init__(self, old_text, new_text, changes, foreign=(), removed=False):
        super(OwnedPlan, self).__init__(old_text, new_text, changes)
        self.foreign = list(foreign)
        self.removed = removed


def ownership(text, name, record, file):
    """``None`` when ``text`` (the managed file ``file``) has no ``provider.<name>`` or it is
    exactly what this collection recorded writing there; otherwise why it is not its own."""
    data = _data(text)
    provider = data.get('provider') if data else None
    if not isinstance(provider, dict) or name not in provider:
        return None
    if record is None:
        return ('this collection has no record of writing it (it was written by another tool or by hand, '
                'or by a release of omniroute.opencode before the record was kept)')
    if record.get('file') != file:
        return 'this collection recorded its entry in %s, not in this file' % record.get('file')
    paths = _changed_paths(record.get('entry'), provider[name])
    if paths:
        return 'it was changed since this collection wrote it, at %s' % ', '.join(
            _dotted((('provider', name) + tuple(p)) for p in paths))
    return None


def plan_owned_absent(text, name, record, file):
    """Remove ``provider.<name>`` only when it is this collection's (see :func:`ownership`),
    with what :func:`plan_managed_absent` removes and the recorded extra settings that still hold
    the recorded value; an entry that is not its own is left alone and returned in ``foreign``.
    No file or no entry: nothing to do."""
    reason = ownership(text, name, record, file)
    if reason is not None:
        return OwnedPlan(text, text, [], foreign=[dict(provider=name, reason=reason)])
    if not has_entry(text, name):
        return OwnedPlan(text, text, [])
    base = plan_managed_absent(text, name)
    changes = list(base.changes)
    ed = oc.Editor(Document(base.new_text))
    if not ed.doc.empty:
        current = ed.doc.get(())
        for key, value in sorted(record.get('settings', {}).items()):
            if key in ('enabled_providers', 'model', 'small_model', 'provider', '$schema'):
                continue  # handled with the entry
            if isinstance(current, dict) and key in current and current[key] == value:
                ed.delete((key,))
                changes.append('removed %s (set by this collection)' % key)
        oc.verify_edits(ed)
    return OwnedPlan(text, ed.doc.text, changes if ed.doc.text != text else [], removed=True)


def plan_managed_absent(text, name):
    """Remove the entry, the top-level models that use it and the allow-list; keep the rest."""
    base = oc.plan_absent(text, name)
    changes = list(base.changes)
    if not base.new_text.strip():
        return base
    ed = oc.Editor(Document(base.new_text))
    enabled = ed.doc.get(('enabled_providers',))
    if enabled == [name]:
        ed.delete(('enabled_providers',))
        changes.append('removed enabled_providers')
    elif isinstance(enabled, list) and name in enabled:
        ed.set(('enabled_providers',), [p for p in enabled if p != name])
        changes.append('removed %s from enabled_providers' % name)
    oc.verify_edits(ed)
    return oc.Plan(text, ed.doc.text, changes if ed.doc.text != text else [])


def plan_lower(text, name, present):
    """The managed file OpenCode loads before the target (``opencode.json`` under a
    ``opencode.jsonc``): a copy of the entry there would be merged in, so it goes."""
    return oc.plan_other(text, name, present)


def plan_user_stale(text, name):
    """A user's own config in managed scope: drop their ``provider.<name>`` copy.

    OpenCode deep-merges a user's entry under the managed one, so a stale copy would add its
    models and options to the gateway entry.  The user's top-level ``model`` is kept (the
    managed entry still offers those models) and lists that would hide the provider are
    repaired: this is :func:`_opencode.plan_other` for a file the module does not own.
    """
    return oc.plan_other(text, name, True)


# --------------------------------------------------------------------------- verify (managed scope)
def _merge(base, top):
    """OpenCode's layer merge: objects key by key, everything else replaced."""
    if isinstance(base, dict) and isinstance(top, dict):
        out = dict(base)
        for key, value in top.items():
            out[key] = _merge(base.get(key), value)
        return out
    return top


def managed_layer(directory, name, expected_base_url, exists=os.path.lexists):
    """What the managed files in ``directory`` set for provider ``name``; a dict with no key.

    ``path`` is the file that wins (as :func:`discover` picks it), ``found`` whether any managed
    file exists, ``entry`` whether the merged files have ``provider.<name>``, ``base_url`` its
    ``options.baseURL`` (user info and query removed), ``models`` its catalog ids and
    ``problems`` what keeps OpenCode from using it as the role wrote it, in words naming the file.
    """
    target, lower = _layout.discover(directory, _layout.DIR_FILES, exists)
    out = dict(directory=directory, path=target, found=False, entry=False, base_url=None,
               expected_base_url=expected_base_url, matches=False, models=[], problems=[])
    merged = {}
    for path in lower + [target]:
        text = _layout.layer_text(path)
        if text is None:
            continue
        out['found'] = True
        if text is _layout.TOO_LARGE:
            out['problems'].append('%s is larger than %d MiB and was not read' % (path, _layout.MAX_LAYER_BYTES >> 20))
            return out
        try:
            doc = Document(text)
            data = doc.get(()) if not doc.empty else {}
        except ValueError as exc:
            out['problems'].append('%s cannot be parsed (%s); OpenCode refuses to start with it' % (path, exc))
            return out
        if isinstance(data, dict):
            merged = _merge(merged, data)
    if not out['found']:
        out['problems'].append('there is no managed config in %s (%s is missing); the managed module '
                               'writes it' % (directory, target))
        return out
    provider = merged.get('provider')
    entry = provider.get(name) if isinstance(provider, dict) else None
    if not isinstance(entry, dict):
        out['problems'].append('%s has no provider.%s (removed by another tool?)' % (target, name))
        return out
    out['entry'] = True
    options = entry.get('options') if isinstance(entry.get('options'), dict) else {}
    base_url = options.get('baseURL')
    out['base_url'] = _redact.url(base_url) if isinstance(base_url, str) else None
    models = entry.get('models')
    out['models'] = sorted(models) if isinstance(models, dict) else []
    if not isinstance(base_url, str) or base_url.rstrip('/') != expected_base_url.rstrip('/'):
        out['problems'].append('%s sends provider.%s to %s, not to %s (changed by another tool?)'
                               % (target, name, out['base_url'] or 'no baseURL', expected_base_url))
    if 'apiKey' in options:
        out['problems'].append('%s sets provider.%s.options.apiKey, which hides every user\'s auth.json'
                               % (target, name))
    if entry.get('npm') != oc.SDK_PACKAGE:
        out['problems'].append('%s has provider.%s.npm other than %s' % (target, name, oc.SDK_PACKAGE))
    disabled = merged.get('disabled_providers')
    if isinstance(disabled, list) and name in disabled:
        out['problems'].append('%s lists %s in disabled_providers' % (target, name))
    enabled = merged.get('enabled_providers')
    if isinstance(enabled, list) and name not in enabled:
        out['problems'].append('%s has enabled_providers without %s' % (target, name))
    out['matches'] = not out['problems']
    return out


def verify_user(params, key, environ, home, key_state, auth_path, who, pending=None, directory=None):
    """Managed scope: what OpenCode will meet for one user, after the planned changes; no key in it.

    ``params``: ``name``, ``base_url`` (normalised), ``timeout``, ``validate_certs``.  ``key``: the
    literal key the user's OpenCode sends (from auth.json after the plan), or None.  ``key_state``:
    ``present`` or ``missing`` (auth.json after the plan).  ``pending`` maps a path to the text the
    plan gives it.  ``directory``: the managed directory the role writes (default the OS's).

    Reports the key state, the gateway's answer to that key (``GET <base_url>/models``), the
    managed file and whether its entry is the role's, the user-level layers that still change
    the provider, the managed catalog's models the key is not offered, and ``ready`` with a
    ``cause`` naming the user and the files.  A gateway that cannot be asked is reported, never
    raised.
    """
    name = params.get('name') or oc.DEFAULT_NAME
    base_url = params['base_url']
    layout = _layout.Layout(environ, home)
    expected_dir = os.path.abspath(directory or layout.os_managed_dir)
    result = gw.probe_result(gw.models_url(base_url), scope='managed', key=key_state, auth_path=auth_path,
                             managed=None, problems=[])
    problems = result['problems']
    if key_state != 'present':
        problems.append('no key for provider %s in %s' % (name, auth_path))
    literal = key if key_state == 'present' and oc.is_real_key(key) and key != gw.CHECK_MODE_KEY else None
    if key == gw.CHECK_MODE_KEY:
        problems.append(gw.KEY_TO_BE_MADE)
    answer = gw.fetch_models(base_url, literal, params.get('timeout') or gw.DEFAULT_TIMEOUT,
                             params.get('validate_certs', True))
    result.update(status=answer.status, models_endpoint=answer.summary, reachable=answer.status is not None,
                  seconds=answer.seconds)
    if answer.outcome == gw.OK:
        result['key_accepted'] = True if literal else None
        result['offered'] = [m['id'] for m in answer.models]
        result['offered_chat'] = [m['id'] for m in answer.models if gw.is_chat(m)]
    elif answer.outcome == gw.REJECTED:
        result['key_accepted'] = False if literal else None
        if literal:
            problems.append('the gateway at %s rejects the key in %s (%s)' % (result['url'], auth_path, answer.cause))
    else:
        problems.append('the gateway at %s gives no model list (%s)' % (result['url'], answer.cause))

    used_dir = environ.get(_layout.MANAGED_OVERRIDE)
    if used_dir and os.path.abspath(used_dir) != expected_dir:
        problems.append('OPENCODE_TEST_MANAGED_CONFIG_DIR=%s in the environment moves OpenCode\'s managed '
                        'layer away from %s' % (used_dir, expected_dir))
    managed = managed_layer(expected_dir, name, base_url)
    result['managed'] = dict((k, v) for k, v in managed.items() if k != 'problems')
    problems.extend(managed['problems'])
    if result['key_accepted']:
        result['missing'] = [m for m in managed['models'] if m not in result['offered']]
        if result['missing']:
            problems.append('the managed catalog in %s has models the gateway does not offer to the key in %s: %s'
                            % (managed['path'], auth_path, ', '.join(result['missing'])))

    result['layers'] = _layout.user_layers(name, layout, pending)
    for layer in result['layers']:
        problems.append('%s (%s) still %s' % (layer['path'], layer['kind'], ', '.join(layer['effects'])))

    result.update(_layout.opencode_info(layout))
    result['ready'] = not problems
    if problems:
        result['cause'] = '%s: %s' % (who, '; '.join(problems))
    # Whatever the gateway or a file said, the key does not come back.
    return _redact.Redactor([key]).json(result)


# --------------------------------------------------------------------------- macOS profile
def _plist_safe(value, path=()):
    if value is None:
        raise oc.PlanError('%s is null, which a macOS profile cannot carry' % ('.'.join(path) or 'the config'))
    if isinstance(value, dict):
        for key, item in value.items():
            _plist_safe(item, path + (str(key),))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _plist_safe(item, path + ('[%d]' % index,))


def mobileconfig(settings, identifier=DEFAULT_PROFILE_ID, display_name='OpenCode: OmniRoute gateway',
                 organization=None, description=None):
    """A macOS configuration profile (XML plist bytes) for the ``ai.opencode.managed`` domain.

    ``settings`` is the managed config as a mapping (``$schema`` is dropped).  The profile has
    one payload whose type is the preference domain; macOS writes its keys to
    ``/Library/Managed Preferences/ai.opencode.managed.plist`` and OpenCode strips the
    ``Payload*`` keys before merging the rest above every other layer.  UUIDs derive from
    ``identifier``, so the same input gives the same bytes (an MDM sees an update, not a new
    profile).
    """
    if not isinstance(settings, dict):
        raise oc.PlanError('the managed config must be an object to become a profile')
    config = dict((k, v) for k, v in settings.items() if k != '$schema')
    _plist_safe(config)
    leaks = find_secrets(config)
    if leaks:
        raise oc.PlanError('refusing to put a credential into a profile: %s' % ', '.join(leaks))
    reserved = [k for k in config if k.startswith('Payload')]
    if reserved:
        raise oc.PlanError('%s would collide with profile metadata' % ', '.join(reserved))
    payload = dict(config)
    payload.update({
        'PayloadType': PLIST_DOMAIN,
        'PayloadIdentifier': identifier + '.payload',
        'PayloadUUID': str(uuid.uuid5(uuid.NAMESPACE_DNS, identifier + '.payload')).upper(),
        'PayloadVersion': 1,
        'PayloadDisplayName': display_name,
    })
    profile = {
        'PayloadContent': [payload],
        'PayloadDisplayName': display_name,
        'PayloadIdentifier': identifier,
        'PayloadType': 'Configuration',
        'PayloadUUID': str(uuid.uuid5(uuid.NAMESPACE_DNS, identifier)).upper(),
        'PayloadVersion': 1,
        'PayloadScope': 'System',
        'PayloadRemovalDisallowed': True,
    }
    if organization:
        profile['PayloadOrganization'] = organization
    if description:
        profile['PayloadDescription'] = description
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)
