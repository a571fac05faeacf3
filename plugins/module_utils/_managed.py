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

Private to the collection; standard library only.  The planning engine is ``_opencode``'s
(:func:`plan_present` with a key-less :class:`Spec`); this module adds the allow-list, the extra
managed settings, the key checks and the macOS profile.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import plistlib
import uuid

from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import Document

LINUX_DIR = '/etc/opencode'
MACOS_DIR = '/Library/Application Support/opencode'
# In increasing precedence, as OpenCode loads them from the managed directory.
MANAGED_NAMES = ('opencode.json', 'opencode.jsonc')
# The macOS managed-preferences domain OpenCode reads (the payload type of the profile).
PLIST_DOMAIN = 'ai.opencode.managed'
DEFAULT_PROFILE_ID = 'ai.opencode.managed.omniroute'
# Settings the planner owns; extra managed settings may not set them.
_OWNED = ('$schema', 'provider')


def default_directory(system=None):
    """The managed config directory OpenCode reads on this OS."""
    system = system or os.uname()[0]
    return MACOS_DIR if system == 'Darwin' else LINUX_DIR


def discover(directory, exists=os.path.lexists):
    """``(target, lower)``: the managed file to edit (the one that wins) and the one below it."""
    present = [os.path.join(directory, n) for n in MANAGED_NAMES if exists(os.path.join(directory, n))]
    if not present:
        return os.path.join(directory, 'opencode.json'), []
    return present[-1], present[:-1]


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
    current = ed.doc.get(path, oc._MISSING) if not ed.doc.empty else oc._MISSING
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
    ed = oc._Editor(doc)
    _allow_list(ed, spec.name, spec.only_gateway, changes)
    for key, value in spec.settings.items():
        before = len(ed.ops)
        _merge_setting(ed, (key,), value)
        if len(ed.ops) != before:
            changes.append('set %s' % key)
    oc._verify(ed)
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


def drift(old_text, new_text, name):
    """What another tool changed in the managed file's owned parts, as sorted dotted paths.

    Empty when the file has no ``provider.<name>`` yet (a new entry is not drift) or when the
    plan leaves it as it is.  Otherwise every path at which the planned text differs from the
    current one: the entry (``npm``, ``name``, ``options.baseURL``, an ``options.apiKey`` that
    goes, the catalog), the allow-list, ``model``/``small_model`` and the extra settings - the
    parts the module owns, since it changes nothing else.  ``$schema`` is not counted.
    """
    if not old_text or old_text == new_text:
        return []
    try:
        old_doc, new_doc = Document(old_text), Document(new_text)
        old = old_doc.get(()) if not old_doc.empty else None
        new = new_doc.get(()) if not new_doc.empty else None
    except ValueError:
        return []
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    provider = old.get('provider')
    if not isinstance(provider, dict) or name not in provider:
        return []
    paths = [p for p in _changed_paths(old, new) if p and p[0] != '$schema']
    return sorted('.'.join('%s' % part for part in p) for p in paths)


def plan_managed_absent(text, name):
    """Remove the entry, the top-level models that use it and the allow-list; keep the rest."""
    base = oc.plan_absent(text, name)
    changes = list(base.changes)
    if not base.new_text.strip():
        return base
    ed = oc._Editor(Document(base.new_text))
    enabled = ed.doc.get(('enabled_providers',))
    if enabled == [name]:
        ed.delete(('enabled_providers',))
        changes.append('removed enabled_providers')
    elif isinstance(enabled, list) and name in enabled:
        ed.set(('enabled_providers',), [p for p in enabled if p != name])
        changes.append('removed %s from enabled_providers' % name)
    oc._verify(ed)
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


def plan_user(environ, name, api_key=None, present=True, auth_path=None, who=None, keep_key=False):
    """One user's side of managed scope, as a list of ``_configure.Change`` (nothing written).

    Every global config the user's OpenCode loads (and ``~/.opencode``) loses its
    ``provider.<name>`` copy (:func:`plan_user_stale`); the user's key goes into their
    credential store (0600, other entries kept) when ``present``, and is removed from it when
    not.  With ``keep_key`` (the developer stores their own key) a present user's
    credential store is left as it is.  Run it in a process of that user: ``environ`` is theirs.
    """
    from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
    who = who or cfg.where()
    home = environ.get('HOME') or None
    directory = oc.config_dir(environ, home)
    files = [os.path.join(directory, n) for n in oc.CONFIG_FILES] + oc.dot_opencode_files(environ)
    changes = []
    key = api_key if present else None
    if present and not keep_key and (not isinstance(api_key, str) or not api_key.strip() or oc.is_reference(api_key)):
        raise cfg.Failure('managed scope needs each user\'s literal key for their credential store (%s)' % who)
    auth_path = auth_path or os.path.join(oc.data_dir(environ, home), 'auth.json')
    atext, areal = cfg._read(auth_path, who)
    if present and keep_key:
        atext = key = None
    if atext is not None or key is not None:
        new_auth = cfg._plan(auth_path, atext, lambda t: oc.plan_auth(t, name, key), who)
        if new_auth != (atext or ''):
            words = ['stored the key for %s' % name] if key else ['removed the key for %s' % name]
            changes.append(cfg.Change(auth_path, areal, atext, new_auth, True, words, 'auth', name))
    for path in files:
        text, real = cfg._read(path, who)
        if text is None:
            continue
        plan = cfg._plan(path, text, lambda t: plan_user_stale(t, name), who)
        if plan.changed:
            changes.append(cfg.Change(path, real, text, plan.new_text, False, plan.changes, 'config', name))
    return changes


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
    target, lower = discover(directory, exists)
    out = dict(directory=directory, path=target, found=False, entry=False, base_url=None,
               expected_base_url=expected_base_url, matches=False, models=[], problems=[])
    merged = {}
    for path in lower + [target]:
        text = gw._layer_text(path, {})
        if text is None:
            continue
        out['found'] = True
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
    expected_dir = os.path.abspath(directory or default_directory())
    result = gw.probe_result(gw.models_url(base_url), scope='managed', key=key_state, auth_path=auth_path,
                             managed=None, problems=[])
    problems = result['problems']
    if key_state != 'present':
        problems.append('no key for provider %s in %s' % (name, auth_path))
    literal = key if key_state == 'present' and oc.is_real_key(key) else None
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

    used_dir = environ.get('OPENCODE_TEST_MANAGED_CONFIG_DIR')
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

    result['layers'] = gw.user_layers(name, environ, home, pending)
    for layer in result['layers']:
        problems.append('%s (%s) still %s' % (layer['path'], layer['kind'], ', '.join(layer['effects'])))

    binary = gw.find_opencode(environ, home)
    if binary:
        result['opencode'] = binary
        version, why = gw.opencode_version(binary)
        result['opencode_version'] = version
        if why:
            result['opencode_error'] = why
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
